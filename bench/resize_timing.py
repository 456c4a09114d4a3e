"""Time sr_native.resize x2 (bicubic, uint8 RGB 1920x1080) against OpenCV
INTER_CUBIC and Pillow BICUBIC, on a fixed number of threads.

Usage: PYTHONPATH=python python bench/resize_timing.py [--threads 2] [--repeat 20]
Validates before timing (fast vs reference on a crop, and vs Pillow's interior).
"""

import argparse
import time

import numpy as np

import sr_native


def timeit(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times))


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

    results = {}
    results["sr_native"] = timeit(lambda: sr_native.resize(img, args.scale), args.repeat)
    try:
        import cv2
        cv2.setNumThreads(args.threads)
        results["opencv INTER_CUBIC"] = timeit(
            lambda: cv2.resize(img, None, fx=args.scale, fy=args.scale,
                               interpolation=cv2.INTER_CUBIC), args.repeat)
    except ImportError:
        pass
    try:
        from PIL import Image
        pim = Image.fromarray(img)
        ow, oh = round(w * args.scale), round(h * args.scale)
        results["pillow BICUBIC"] = timeit(lambda: pim.resize((ow, oh), Image.Resampling.BICUBIC),
                                           max(3, args.repeat // 5))
    except ImportError:
        pass
    mpx = w * h * args.scale ** 2 / 1e6
    base = results["sr_native"][1]
    print(f"{w}x{h}x3 uint8, x{args.scale:g}, {args.threads} threads, isa {sr_native.get_isa()}")
    for name, (tmin, tmed) in results.items():
        print(f"  {name:20s} min {tmin * 1e3:7.2f} ms  median {tmed * 1e3:7.2f} ms  "
              f"{mpx / tmed:7.1f} Mpx/s  time / sr_native {tmed / base:5.2f}")


if __name__ == "__main__":
    main()
