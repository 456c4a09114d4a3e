"""Time sr_native.resize x2 (bicubic, uint8 RGB 1920x1080) against OpenCV
INTER_CUBIC and Pillow BICUBIC, on a fixed number of threads.

Usage: PYTHONPATH=python python bench/resize_timing.py [--threads 2] [--repeat 20]
Validates before timing (fast vs reference on a crop). The candidates run in
turn, round after round, so a busy machine slows them alike. On a shared,
oversubscribed machine also try OMP_WAIT_POLICY=passive: libgomp's spinning
workers otherwise take CPU from whatever runs next (OpenCV included).
"""

import argparse
import time

import numpy as np

import sr_native


def timeit_interleaved(fns, repeat):
    """Runs the candidates in turn, round after round, so that a busy machine
    slows them alike; returns {name: (min, median)} and the per-round ratios."""
    for fn in fns.values():
        fn()  # warm-up
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    stats = {name: (min(t), float(np.median(t))) for name, t in times.items()}
    return stats, times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--scale", type=float, default=2)
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    rng = np.random.default_rng(0)
    # smooth-ish content: upsampled noise (timing does not depend on content)
    img = np.ascontiguousarray(np.repeat(np.repeat(
        rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8), 8, 0), 8, 1)[:h, :w])
    sr_native.set_num_threads(args.threads)

    crop = img[:97, :131]
    a = sr_native.resize(crop, args.scale).astype(int)
    b = sr_native.resize(crop, args.scale, reference=True).astype(int)
    assert np.abs(a - b).max() <= 1, "fast != reference"

    fns = {"sr_native": lambda: sr_native.resize(img, args.scale)}
    try:
        import cv2
        cv2.setNumThreads(args.threads)
        fns["opencv INTER_CUBIC"] = lambda: cv2.resize(img, None, fx=args.scale, fy=args.scale,
                                                       interpolation=cv2.INTER_CUBIC)
    except ImportError:
        pass
    stats, times = timeit_interleaved(fns, args.repeat)
    try:  # Pillow is ~10x slower: fewer rounds, timed on its own
        from PIL import Image
        pim = Image.fromarray(img)
        ow, oh = round(w * args.scale), round(h * args.scale)
        pstats, _ = timeit_interleaved(
            {"pillow BICUBIC": lambda: pim.resize((ow, oh), Image.Resampling.BICUBIC)},
            max(3, args.repeat // 5))
        stats.update(pstats)
    except ImportError:
        pass
    mpx = w * h * args.scale ** 2 / 1e6
    base_min, base_med = stats["sr_native"]
    print(f"{w}x{h}x3 uint8, x{args.scale:g}, {args.threads} threads, isa {sr_native.get_isa()}")
    for name, (tmin, tmed) in stats.items():
        print(f"  {name:20s} min {tmin * 1e3:7.2f} ms  median {tmed * 1e3:7.2f} ms  "
              f"{mpx / tmed:7.1f} Mpx/s  time / sr_native: min {tmin / base_min:5.2f} "
              f"median {tmed / base_med:5.2f}")
    if "opencv INTER_CUBIC" in times:
        ratio = np.array(times["opencv INTER_CUBIC"]) / np.array(times["sr_native"])
        print(f"  per-round opencv/sr_native time: median {np.median(ratio):.2f} "
              f"(>1: sr_native faster), rounds where sr_native is faster: "
              f"{100 * (ratio > 1).mean():.0f}%")


if __name__ == "__main__":
    main()
