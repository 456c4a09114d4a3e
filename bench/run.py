"""Every benchmark in one run: kernels beside PyTorch, OpenCV and Pillow, then
whole networks beside PyTorch, onnxruntime and OpenVINO (bench/networks.py:
one table and one chart per network, with the share of the measured FMA peak),
a training step, and how the cost scales with pixels and threads.

    python bench/run.py [--threads 2] [--repeat 7] [--kernels-only | --quick]

Shapes come from the real models (EDSR-baseline x2 on a 510x339 image):
conv2d 3x3 64->64 on 1x64x339x510, pixel_shuffle r=2 on 1x256x339x510,
resize x2 of a 1920x1080 uint8 RGB image. Every fast path is checked against
its reference (or the peer) before it is timed. Ratios are peer time / ours:
above 1 means sr_native is faster. The charts go beside --chart (kernels.png,
networks.png, networks_NAME.png). --quick runs the networks on a 96x64 input,
without the training step and the scaling table: a smoke run, not figures.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Timing, measured_peak_gflops, optional, print_table, save_ratio_chart  # noqa: E402

import sr_native  # noqa: E402
from sr_native import ops  # noqa: E402


def bench_conv2d(torch, repeat, peak):
    n, c, h, w, o, k = 1, 64, 339, 510, 64, 3
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = (rng.standard_normal((o, c, k, k), dtype=np.float32) * 0.05).astype(np.float32)
    b = rng.standard_normal(o, dtype=np.float32)
    y = ops.conv2d(x, wt, b)
    # Validate on a crop against the reference (the full-size reference is slow).
    xs = np.ascontiguousarray(x[:, :, :40, :50])
    np.testing.assert_allclose(ops.conv2d(xs, wt, b), sr_native.ref.conv2d(xs, wt, b), rtol=1e-4, atol=1e-4)
    rows = [Timing.of("sr_native conv2d", lambda: ops.conv2d(x, wt, b), repeat=repeat)]
    if torch is not None:
        xt, wtt, bt = (torch.from_numpy(a) for a in (x, wt, b))
        with torch.no_grad():
            yt = torch.nn.functional.conv2d(xt, wtt, bt, padding=k // 2).numpy()
            np.testing.assert_allclose(y, yt, rtol=1e-4, atol=1e-4)
            rows.append(Timing.of("PyTorch conv2d", lambda: torch.nn.functional.conv2d(xt, wtt, bt, padding=1),
                                  repeat=repeat))
    gflop = 2.0 * n * o * c * k * k * h * w / 1e9
    print_table(f"conv2d 3x3 {c}->{o} on {n}x{c}x{h}x{w} ({gflop:.2f} GFLOP)", rows, "GFLOP", gflop, peak)
    return rows


def bench_pixel_shuffle(torch, repeat):
    x = np.random.default_rng(1).standard_normal((1, 256, 339, 510), dtype=np.float32)
    y = ops.pixel_shuffle(x, 2)
    rows = [Timing.of("sr_native pixel_shuffle", lambda: ops.pixel_shuffle(x, 2), repeat=repeat)]
    if torch is not None:
        xt = torch.from_numpy(x)
        np.testing.assert_array_equal(y, torch.nn.functional.pixel_shuffle(xt, 2).numpy())
        # .contiguous() is not needed: PyTorch's pixel_shuffle returns a new contiguous tensor.
        rows.append(Timing.of("PyTorch pixel_shuffle", lambda: torch.nn.functional.pixel_shuffle(xt, 2),
                              repeat=repeat))
    gb = 2.0 * x.nbytes / 1e9  # read once, write once
    print_table("pixel_shuffle r=2 on 1x256x339x510 (memory traffic 2 x 177 MB)", rows, "GB", gb)
    return rows


def bench_resize(cv2, pil_image, repeat):
    rng = np.random.default_rng(2)
    # A smooth image with texture, not noise, so rounding comparisons mean something.
    yy, xx = np.mgrid[0:1080, 0:1920]
    img = (127 + 60 * np.sin(xx / 37.0) * np.cos(yy / 23.0)
           + rng.normal(0, 8, (1080, 1920))).clip(0, 255).astype(np.uint8)
    img = np.stack([img, img[::-1], np.roll(img, 100, axis=1)], axis=-1).copy()
    try:
        out = sr_native.resize(img, 2)
    except NotImplementedError:
        print("\nresize: not built yet")
        return []
    rows = [Timing.of("sr_native resize bicubic", lambda: sr_native.resize(img, 2), repeat=repeat)]
    if pil_image is not None:
        pil = pil_image.fromarray(img)
        size = (img.shape[1] * 2, img.shape[0] * 2)
        theirs = np.asarray(pil.resize(size, pil_image.BICUBIC))
        interior = (slice(8, -8), slice(8, -8))
        diff = np.abs(out[interior].astype(int) - theirs[interior])
        print(f"\n  check vs Pillow (interior): max diff {diff.max()}, within 1 level {100 * (diff <= 1).mean():.3f}%")
        rows.append(Timing.of("Pillow BICUBIC", lambda: pil.resize(size, pil_image.BICUBIC), repeat=repeat))
    if cv2 is not None:
        rows.append(Timing.of("OpenCV INTER_CUBIC (a=-0.75)",
                              lambda: cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC),
                              repeat=repeat))
    gb = (img.nbytes + out.nbytes) / 1e9
    print_table("resize x2 of 1920x1080 uint8 RGB", rows, "GB", gb)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--kernels-only", action="store_true", help="skip the network benchmarks")
    parser.add_argument("--quick", action="store_true",
                        help="networks on 96x64 only, no training step or scaling table (a smoke run)")
    parser.add_argument("--chart", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                        "kernels.png"), help="PNG chart path ('' for none)")
    args = parser.parse_args(argv)

    torch = optional("torch")
    cv2 = optional("cv2")
    pil = optional("PIL.Image")
    sr_native.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    if cv2 is not None:
        cv2.setNumThreads(args.threads)
    info = sr_native.build_info()
    print(f"sr_native {info['version']} isa={info['isa_active']} threads={args.threads} "
          f"| torch {getattr(torch, '__version__', 'not installed')} "
          f"| opencv {getattr(cv2, '__version__', 'not installed')} "
          f"| pillow {optional('PIL').__version__ if pil else 'not installed'} "
          f"| onnxruntime {getattr(optional('onnxruntime'), '__version__', 'not installed')} "
          f"| OpenVINO {getattr(optional('openvino'), '__version__', 'not installed').split('-')[0]}")
    peak = measured_peak_gflops()
    print(f"measured fp32 FMA peak: {peak:.0f} GFLOP/s ({args.threads} threads, {info['isa_active']})")
    sections = {
        "conv2d 3x3 64->64": bench_conv2d(torch, args.repeat, peak),
        "pixel_shuffle r=2": bench_pixel_shuffle(torch, args.repeat),
        "resize x2 1920x1080": bench_resize(cv2, pil, args.repeat),
    }
    comparisons = [(f"{name} vs {peer.name.split()[0]}", peer.median / rows[0].median)
                   for name, rows in sections.items() for peer in rows[1:]]
    if comparisons and args.chart:
        os.makedirs(os.path.dirname(args.chart), exist_ok=True)
        save_ratio_chart(args.chart, f"Kernels, {args.threads} threads, {info['isa_active']}", comparisons)
    if not args.kernels_only:
        import networks

        chart = os.path.join(os.path.dirname(args.chart), "networks.png") if args.chart else ""
        extra = ["--width", "96", "--height", "64", "--repeat", "2"] if args.quick else \
            ["--repeat", "3", "--train", "--scaling"]
        networks.main(["--threads", str(args.threads), "--chart", chart] + extra)


if __name__ == "__main__":
    main()
