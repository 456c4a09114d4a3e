"""Timing helpers shared by the benchmarks: warm-up, repeated runs, a table.

Benchmarks validate every fast path against a reference before timing it and
report median and min of several runs; peers (PyTorch, OpenCV, Pillow,
onnxruntime) are optional and reported as 'not installed' when absent.
"""

import importlib
import statistics
import time
from dataclasses import dataclass


@dataclass
class Timing:
    name: str
    median: float  # seconds
    best: float

    @staticmethod
    def of(name, fn, *, repeat=7, warmup=2, min_time=0.0):
        for _ in range(warmup):
            fn()
        runs = []
        start = time.perf_counter()
        while len(runs) < repeat or time.perf_counter() - start < min_time:
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        return Timing(name, statistics.median(runs), min(runs))


def optional(module_name):
    """The module, or None when it is not installed."""
    try:
        return importlib.import_module(module_name)
    except ImportError:
        return None


def measured_peak_gflops():
    """fp32 FMA GFLOP/s of this machine at the current ISA and thread count, measured now."""
    import sr_native

    return sr_native._core.measure_fma_peak(0.5)


def print_table(title, rows, work_unit, work_amount, peak_gflops=None):
    """rows: Timings, the first being sr_native. work_unit 'GFLOP' or 'GB'.
    With peak_gflops, GFLOP rows also show the percent of that peak."""
    show_peak = peak_gflops and work_unit == "GFLOP"
    print(f"\n{title}")
    print(f"  {'implementation':<28}{'median ms':>11}{'min ms':>10}{work_unit + '/s':>10}"
          + (f"{'% peak':>8}" if show_peak else "") + f"{'ours faster by':>16}")
    ours = rows[0]
    for r in rows:
        rate = work_amount / r.median
        ratio = r.median / ours.median
        mark = "" if r is ours else f"{ratio:>15.2f}x"
        peak = f"{100 * rate / peak_gflops:>7.0f}%" if show_peak else ""
        print(f"  {r.name:<28}{r.median * 1e3:>11.2f}{r.best * 1e3:>10.2f}{rate:>10.1f}{peak}{mark}")


def save_ratio_chart(path, title, comparisons):
    """Horizontal bars of 'ours faster by' (peer median / our median), one per
    (label, ratio) in comparisons; a line at 1 marks parity. Needs matplotlib."""
    mpl = optional("matplotlib")
    if mpl is None:
        print(f"(matplotlib not installed: no chart at {path})")
        return
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    labels = [c[0] for c in comparisons]
    ratios = [c[1] for c in comparisons]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) + 1.2))
    bars = ax.barh(range(len(labels)), ratios, color=["#2a7" if r >= 1 else "#c44" for r in ratios])
    ax.axvline(1.0, color="k", lw=1)
    ax.set_xlim(0, max(ratios + [1.0]) * 1.15)  # room for the labels
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("sr_native faster by (peer time / sr_native time)")
    ax.set_title(title, fontsize=10)
    for bar, r in zip(bars, ratios):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {r:.2f}x", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"chart written to {path}")
