"""Timing helpers shared by the benchmarks: warm-up, repeated runs, a table.

Benchmarks validate every fast path against a reference before timing it and
report median and min of several runs; peers (PyTorch, OpenCV, Pillow,
onnxruntime, OpenVINO, ncnn) are optional and reported as 'not installed' when
absent. Timing, the table and the peer runners live in the package
(sr_native.benchmarks, which `sr-native bench --compare` uses); this module
re-exports them for the scripts and adds the charts.
"""

from sr_native.benchmarks import (  # noqa: F401  (re-exported for the bench scripts)
    Timing,
    export_onnx,
    measured_peak_gflops,
    onnxruntime_runner,
    openvino_runner,
    optional,
    print_table,
)


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
