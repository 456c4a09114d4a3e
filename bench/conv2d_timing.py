"""Quick timing of sr_native's conv2d forward/backward against PyTorch.

Validates each result against PyTorch before timing, then reports min and
median of several runs and GFLOP/s (2 * N*O*C*K*K*H*W per conv; the backward
counts dx and dw; Winograd's are counted as direct convolution's, so its
GFLOP/s are "effective"). sr_native and PyTorch calls alternate, so load from
other processes affects both alike. --algo forces the forward algorithm for
3x3 layers (default: auto, as the library picks).
Run: PYTHONPATH=python python bench/conv2d_timing.py [--threads 2] [--isa avx512] [--algo direct]
"""

import argparse
import time

import numpy as np

import sr_native
from sr_native import _core, ops

# (label, N, C, H, W, O, K): shapes of the EDSR/WDSR layers and the training batch.
FORWARD_SHAPES = [
    ("edsr body 3x3 64->64", 1, 64, 339, 510, 64, 3),
    ("head 3x3 3->64", 1, 3, 339, 510, 64, 3),
    ("upsampler 3x3 64->256", 1, 64, 339, 510, 256, 3),
    ("tail 3x3 64->12", 1, 64, 339, 510, 12, 3),
    ("tail 3x3 64->3", 1, 64, 339, 510, 3, 3),
    ("wdsr 1x1 64->256", 1, 64, 339, 510, 256, 1),
    ("wdsr 5x5 64->12", 1, 64, 339, 510, 12, 5),
    ("train batch 3x3 64->64", 16, 64, 48, 48, 64, 3),
]
BACKWARD_SHAPES = [
    ("train batch 3x3 64->64", 16, 64, 48, 48, 64, 3),
    ("train batch 3x3 3->64", 16, 3, 48, 48, 64, 3),
    ("train batch 3x3 64->256", 16, 64, 48, 48, 256, 3),
]


def timeit(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times))


def timeit_pair(fn_a, fn_b, repeat):
    """Times a and b alternately, so load from other processes hits both alike."""
    fn_a()
    fn_b()
    ta, tb = [], []
    for _ in range(repeat):
        for fn, times in ((fn_a, ta), (fn_b, tb)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return (min(ta), float(np.median(ta))), (min(tb), float(np.median(tb)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--isa", default=None)
    ap.add_argument("--algo", default="auto", choices=["auto", "direct", "winograd"])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--only", default=None, help="substring of the labels to run")
    ap.add_argument("--no-backward", action="store_true")
    args = ap.parse_args()
    sr_native.set_num_threads(args.threads)
    if args.isa:
        sr_native.set_isa(args.isa)
    _core.set_conv_algo(args.algo)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    print(f"isa={sr_native.get_isa()} threads={args.threads} conv_algo={args.algo} "
          f"torch={'yes' if torch else 'no'}")
    rng = np.random.default_rng(0)

    for label, n, c, h, w, o, k in FORWARD_SHAPES:
        if args.only and args.only not in label:
            continue
        x = rng.standard_normal((n, c, h, w), dtype=np.float32)
        wt = (rng.standard_normal((o, c, k, k), dtype=np.float32) / np.sqrt(c * k * k)).astype(np.float32)
        b = rng.standard_normal(o, dtype=np.float32)
        flop = 2.0 * n * o * c * k * k * h * w
        y = ops.conv2d(x, wt, b)
        line = f"fwd {label:26s} {n}x{c}x{h}x{w}"
        mine = lambda: ops.conv2d(x, wt, b)  # noqa: E731
        if torch is None:
            t_min, t_med = timeit(mine, args.repeat)
        else:
            tx, tw, tb = torch.from_numpy(x), torch.from_numpy(wt), torch.from_numpy(b)
            with torch.no_grad():
                yt = torch.nn.functional.conv2d(tx, tw, tb, padding=k // 2).numpy()
                err = np.abs(y - yt).max() / (np.abs(yt).max() + 1e-30)
                assert err < 1e-4, f"mismatch vs torch: {err}"
                (t_min, t_med), (p_min, p_med) = timeit_pair(
                    mine, lambda: torch.nn.functional.conv2d(tx, tw, tb, padding=k // 2), args.repeat)
        line += f"  sr {t_med * 1e3:8.2f} ms (min {t_min * 1e3:7.2f}) {flop / t_med / 1e9:6.1f} GFLOP/s"
        if torch is not None:
            line += f" | torch {p_med * 1e3:8.2f} ms {flop / p_med / 1e9:6.1f} GFLOP/s | x{p_med / t_med:4.2f}"
        print(line, flush=True)

    if args.no_backward:
        return
    for label, n, c, h, w, o, k in BACKWARD_SHAPES:
        if args.only and args.only not in label:
            continue
        x = rng.standard_normal((n, c, h, w), dtype=np.float32)
        wt = (rng.standard_normal((o, c, k, k), dtype=np.float32) / np.sqrt(c * k * k)).astype(np.float32)
        dy = rng.standard_normal((n, o, h, w), dtype=np.float32)
        flop = 2 * 2.0 * n * o * c * k * k * h * w  # dx and dw
        dx, dw, db = ops.conv2d_backward(x, wt, dy)
        line = f"bwd {label:26s} {n}x{c}x{h}x{w}"
        mine = lambda: ops.conv2d_backward(x, wt, dy)  # noqa: E731
        if torch is None:
            t_min, t_med = timeit(mine, args.repeat)
            line += f"  sr {t_med * 1e3:8.2f} ms (min {t_min * 1e3:7.2f}) {flop / t_med / 1e9:6.1f} GFLOP/s"
        else:
            tx = torch.from_numpy(x).requires_grad_()
            tw = torch.from_numpy(wt).requires_grad_()
            tb = torch.zeros(o, requires_grad=True)
            tdy = torch.from_numpy(dy)

            def torch_bwd():
                tx.grad = tw.grad = tb.grad = None
                yt = torch.nn.functional.conv2d(tx, tw, tb, padding=k // 2)
                yt.backward(tdy)

            torch_bwd()
            for got, theirs in ((dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
                t = theirs.numpy()
                assert np.abs(got - t).max() <= 1e-4 * (np.abs(t).max() + 1e-30) * 10
            # torch's time includes its forward; time the forward alone and subtract it.
            with torch.no_grad():
                f_min, f_med = timeit(lambda: torch.nn.functional.conv2d(tx, tw, tb, padding=k // 2),
                                      args.repeat)
            (t_min, t_med), (p_min, p_med) = timeit_pair(mine, torch_bwd, args.repeat)
            pb = p_med - f_med
            line += f"  sr {t_med * 1e3:8.2f} ms (min {t_min * 1e3:7.2f}) {flop / t_med / 1e9:6.1f} GFLOP/s"
            line += f" | torch bwd {pb * 1e3:8.2f} ms {flop / pb / 1e9:6.1f} GFLOP/s | x{pb / t_med:4.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
