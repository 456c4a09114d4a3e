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


def print_table(title, rows, work_unit, work_amount):
    """rows: Timings, the first being sr_native. work_unit 'GFLOP' or 'GB'."""
    print(f"\n{title}")
    print(f"  {'implementation':<28}{'median ms':>11}{'min ms':>10}{work_unit + '/s':>10}{'ours faster by':>16}")
    ours = rows[0]
    for r in rows:
        rate = work_amount / r.median
        ratio = r.median / ours.median
        mark = "" if r is ours else f"{ratio:>15.2f}x"
        print(f"  {r.name:<28}{r.median * 1e3:>11.2f}{r.best * 1e3:>10.2f}{rate:>10.1f}{mark}")
