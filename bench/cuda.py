"""The CUDA path beside PyTorch (cuDNN) on the same GPU, fp32 with TF32 off on both sides.

    python bench/cuda.py [--repeat 20] [--width 1920 --height 1080] [--skip-train]

Needs the CUDA build of sr_native and PyTorch with CUDA. Times (CUDA events,
median of --repeat after warm-up):
  - conv2d 3x3 64->64 on 1x64xHxW, forward and backward (dx, dw, db);
  - EDSR-baseline x2 on a 1920x1080 input (the whole network, one tile, same weights);
  - one EDSR-baseline x2 training step, batch 16 of 48x48, L1 + Adam.
Outputs are compared before timing. Ratios are PyTorch's time over ours (>1: we are faster).
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))  # torch_reference_models

import sr_native  # noqa: E402
from sr_native import cuda, ops  # noqa: E402


def event_time(torch, fn, repeat, warmup=3):
    """Median and min milliseconds of fn() on the GPU (CUDA events around each call)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return float(np.median(times)), float(np.min(times))


def row(name, ours, theirs, flop=None):
    ratio = theirs[0] / ours[0]
    extra = ""
    if flop:
        extra = f"  {flop / ours[0] / 1e9:7.1f} vs {flop / theirs[0] / 1e9:7.1f} TFLOP/s"
    print(f"{name:48s} ours {ours[0]:9.3f} ms (min {ours[1]:.3f})  PyTorch {theirs[0]:9.3f} ms  "
          f"ratio {ratio:5.2f}x{extra}")
    return dict(name=name, ours_ms=ours[0], torch_ms=theirs[0], ratio=ratio)


def bench_conv(torch, args):
    h, w = args.height, args.width
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (1, 64, h, w)).astype(np.float32)
    wt = rng.uniform(-0.05, 0.05, (64, 64, 3, 3)).astype(np.float32)
    b = rng.uniform(-0.1, 0.1, 64).astype(np.float32)
    xg, wg, bg = cuda.to_device(x), cuda.to_device(wt), cuda.to_device(b)
    out = cuda.empty((1, 64, h, w))
    xt, wtt, bt = (torch.from_numpy(a).cuda() for a in (x, wt, b))
    ours_y = ops.conv2d(xg, wg, bg, out=out).to_numpy()
    theirs_y = torch.nn.functional.conv2d(xt, wtt, bt, padding=1).cpu().numpy()
    print(f"conv2d check: max abs diff {np.abs(ours_y - theirs_y).max():.2e}")
    flop = 2 * 64 * 64 * 9 * h * w
    rows = [row(f"conv2d 3x3 64->64 1x64x{h}x{w} forward",
                event_time(torch, lambda: ops.conv2d(xg, wg, bg, out=out), args.repeat),
                event_time(torch, lambda: torch.nn.functional.conv2d(xt, wtt, bt, padding=1), args.repeat), flop)]
    dy = cuda.to_device(rng.uniform(-1, 1, (1, 64, h, w)).astype(np.float32))
    dyt = torch.from_dlpack(dy)
    xt.requires_grad_(True)
    wtt.requires_grad_(True)
    bt.requires_grad_(True)

    def theirs_bwd():
        return torch.autograd.grad(torch.nn.functional.conv2d(xt, wtt, bt, padding=1), (xt, wtt, bt), dyt)

    def ours_bwd():
        return ops.conv2d_backward(xg, wg, dy)

    dx, dw_, db = (a.to_numpy() for a in ours_bwd())
    tdx, tdw, tdb = (a.detach().cpu().numpy() for a in theirs_bwd())
    print(f"conv2d backward check: dx {np.abs(dx - tdx).max() / np.abs(tdx).max():.1e}, "
          f"dw {np.abs(dw_ - tdw).max() / np.abs(tdw).max():.1e} (relative to max)")
    # PyTorch's timing includes its forward (autograd needs it): subtract it for a fair backward figure.
    fwd_t = event_time(torch, lambda: torch.nn.functional.conv2d(xt, wtt, bt, padding=1), args.repeat)
    bwd_t = event_time(torch, theirs_bwd, args.repeat)
    theirs_only = (bwd_t[0] - fwd_t[0], bwd_t[1] - fwd_t[1])
    rows.append(row(f"conv2d 3x3 64->64 1x64x{h}x{w} backward", event_time(torch, ours_bwd, args.repeat),
                    theirs_only, 2 * flop))
    return rows


def bench_edsr(torch, args):
    import torch_reference_models as T
    from sr_native import weights

    net = T.randomize(T.EdsrPytorch(2), seed=0, std=0.02).eval().cuda()
    sd = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
    model, _ = weights.from_foreign_state_dict(sd, source="bench")
    model.to("cuda")
    x01 = np.random.default_rng(1).random((1, 3, args.height, args.width), dtype=np.float32)
    xg = cuda.to_device(x01)
    xt = torch.from_numpy(x01 * 255).cuda()
    with torch.no_grad():
        want = (net(xt) / 255).cpu().numpy()
    got = model(xg).to_numpy()
    print(f"EDSR check: max abs diff {np.abs(got - want).max():.2e} (images in [0, 1])")
    flop = sr_native.models.base.count_conv_flops(model, xg)

    def theirs():
        with torch.no_grad():
            return net(xt)

    return [row(f"EDSR-baseline x2 {args.width}x{args.height} -> x2", event_time(torch, lambda: model(xg), args.repeat),
                event_time(torch, theirs, args.repeat), flop)]


def bench_train(torch, args):
    import torch_reference_models as T
    from sr_native import weights
    from sr_native.training.loop import Adam

    net = T.randomize(T.EdsrPytorch(2), seed=0, std=0.02).cuda()
    sd = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
    model, _ = weights.from_foreign_state_dict(sd, source="bench")
    model.to("cuda")
    rng = np.random.default_rng(0)
    x = rng.random((16, 3, 48, 48), dtype=np.float32)
    target = rng.random((16, 3, 96, 96), dtype=np.float32)
    xg, tg = cuda.to_device(x), cuda.to_device(target)
    params = model.state_dict()
    adam = Adam(params)

    def ours():
        y, cache = model.forward_train(xg)
        grads = model.backward(ops.l1_loss_backward(y, tg), cache)
        adam.update(params, grads, 1e-4)

    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-4)
    xt, tt = torch.from_numpy(x * 255).cuda(), torch.from_numpy(target).cuda()

    def theirs():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.l1_loss(net(xt) / 255, tt)
        loss.backward()
        opt.step()

    flop = 3 * sr_native.models.base.count_conv_flops(model, xg)
    return [row("training step EDSR-baseline x2 16x3x48x48 L1+Adam", event_time(torch, ours, args.repeat),
                event_time(torch, theirs, args.repeat), flop)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--width", type=int, default=1920)
    p.add_argument("--height", type=int, default=1080)
    p.add_argument("--skip-train", action="store_true")
    args = p.parse_args(argv)
    cuda.require("bench/cuda.py")
    import torch

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True  # cuDNN picks its fastest algorithm: the strongest peer
    info = cuda.device_info()
    print(f"GPU: {info['name']} ({info['multiprocessors']} SMs), PyTorch {torch.__version__}, "
          f"cuDNN {torch.backends.cudnn.version()}, fp32, TF32 off")
    rows = bench_conv(torch, args) + bench_edsr(torch, args)
    if not args.skip_train:
        rows += bench_train(torch, args)
    print("\nsummary (PyTorch time / ours):")
    for r in rows:
        print(f"  {r['name']:52s} {r['ratio']:5.2f}x")


if __name__ == "__main__":
    main()
