"""Whole networks: sr_native beside PyTorch, onnxruntime and OpenVINO on the same weights.

    python bench/networks.py [--width 510 --height 339] [--repeat 3] [--threads 2]
                             [--models edsr-baseline-x2,edsr-baseline-x4,wdsr-a-x2,wdsr-b-x2]

Each network is built in PyTorch with random weights (tests/torch_reference_models.py,
laid out like the upstream projects), saved as a checkpoint, loaded by sr_native
through its foreign-checkpoint reader, and exported to ONNX for onnxruntime and
OpenVINO (the same file; OpenVINO on the CPU with INFERENCE_NUM_THREADS = --threads,
the LATENCY hint and fp32), so all four run the same weights on the same input.
Outputs are compared before timing (max difference relative to the output's
range); a peer that is not installed, or disagrees, gets a line saying so instead
of a row. GFLOP counts every conv2d call sr_native makes (2 * O * C * K * K * H * W
each); '% peak' is against the FMA peak measured at the start. Charts: one per
network (results/networks_NAME.png) and one of every ratio (--chart).
"""

import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))  # torch_reference_models
from common import (  # noqa: E402
    Timing,
    export_onnx,
    measured_peak_gflops,
    onnxruntime_runner,
    openvino_runner,
    optional,
    print_table,
    save_ratio_chart,
)

import sr_native  # noqa: E402
from sr_native import ops  # noqa: E402
from sr_native.models.base import count_conv_flops  # noqa: E402

CONFIGS = {
    "edsr-baseline-x2": ("edsr", 2, {}),
    "edsr-baseline-x4": ("edsr", 4, {}),
    "wdsr-a-x2": ("wdsr", 2, {"variant": "a"}),
    "wdsr-b-x2": ("wdsr", 2, {"variant": "b"}),
}


def count_conv_gflop(model, x):
    return count_conv_flops(model, x) / 1e9


def torch_network(name):
    """The PyTorch network of CONFIGS[name] with random weights, and its scale."""
    import torch_reference_models as T

    arch, scale, extra = CONFIGS[name]
    net = T.EdsrPytorch(scale) if arch == "edsr" else T.Wdsr(scale, **extra)
    return T.randomize(net, seed=0, std=0.02), scale


# Display name -> (import name, run(x) -> y factory for an ONNX file); both optional.
ONNX_PEERS = {"onnxruntime": ("onnxruntime", onnxruntime_runner), "OpenVINO": ("openvino", openvino_runner)}


def bench_network(name, torch, args, workdir, peak):
    net = torch_network(name)[0].eval()
    path = os.path.join(workdir, f"{name}.pt")
    torch.save(net.state_dict(), path)
    model = sr_native.load_model(path)

    x01 = np.random.default_rng(1).random((1, 3, args.height, args.width)).astype(np.float32)
    x255 = torch.from_numpy(x01 * 255)
    with torch.no_grad():
        want = net(x255).numpy() / 255
    got = model(x01)
    err = np.abs(got - want).max() / np.abs(want).max()
    gflop = count_conv_gflop(model, x01)
    print(f"\n{name}: check vs PyTorch max rel diff {err:.1e}" + ("" if err < 1e-4 else "  <-- TOO LARGE"))

    rows = [Timing.of("sr_native", lambda: model(x01), repeat=args.repeat, warmup=1)]
    with torch.no_grad():
        rows.append(Timing.of("PyTorch", lambda: net(x255), repeat=args.repeat, warmup=1))
    onnx_path = os.path.join(workdir, f"{name}.onnx")
    feed = x01 * 255
    absent = []
    for peer, (module_name, make_runner) in ONNX_PEERS.items():
        if optional(module_name) is None:
            absent.append(f"  {peer}: not installed (pip install {module_name})")
            continue
        if not os.path.exists(onnx_path):
            export_onnx(torch, net, x255, onnx_path)
        run = make_runner(onnx_path, args.threads)
        err_peer = np.abs(run(feed) / 255 - want).max() / np.abs(want).max()
        print(f"  {peer} check vs PyTorch max rel diff {err_peer:.1e}")
        if err_peer < 1e-4:
            rows.append(Timing.of(peer, lambda run=run: run(feed), repeat=args.repeat, warmup=1))
        else:
            absent.append(f"  {peer}: output differs from PyTorch's by {err_peer:.1e}: not timed")
    print_table(f"{name} on 1x3x{args.height}x{args.width} ({gflop:.1f} GFLOP of convolutions)",
                rows, "GFLOP", gflop, peak)
    for line in absent:
        print(line)
    if args.chart:
        chart = os.path.join(os.path.dirname(args.chart), f"networks_{name}.png")
        os.makedirs(os.path.dirname(chart) or ".", exist_ok=True)
        save_ratio_chart(chart, f"{name}, {args.width}x{args.height}, {args.threads} threads "
                                f"(sr_native at {100 * gflop / rows[0].median / peak:.0f}% of the measured peak)",
                         [(f"vs {peer.name}", peer.median / rows[0].median) for peer in rows[1:]])
    return rows


TRAIN_CONFIGS = ("edsr-baseline-x2", "wdsr-b-x2")


def bench_training_step(torch, args, name):
    """One training step of network `name` (a CONFIGS key) on a batch of 16 LR
    patches of 48x48 with L1 loss and Adam: forward, backward and the optimizer
    update, sr_native beside PyTorch on the same weights and batch."""
    from sr_native import weights

    net, scale = torch_network(name)
    sd = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    model, _ = weights.from_foreign_state_dict(sd, source="bench")
    # sr_native trains WDSR's plain convolutions (weight norm folded at load),
    # so PyTorch trains the same plain network.
    for module in net.modules():
        if hasattr(module, "weight_g"):
            torch.nn.utils.remove_weight_norm(module)
    rng = np.random.default_rng(0)
    x = rng.random((16, 3, 48, 48), dtype=np.float32)
    target = rng.random((16, 3, 48 * scale, 48 * scale), dtype=np.float32)
    params = model.state_dict()
    moments = {k: (np.zeros_like(p), np.zeros_like(p)) for k, p in params.items()}
    step = [0]

    def ours():
        y, cache = model.forward_train(x)
        grads = model.backward(ops.l1_loss_backward(y, target), cache)
        step[0] += 1
        for k, p in params.items():
            m, v = moments[k]
            ops.adam_step(p, grads[k], m, v, lr=1e-4, step=step[0])

    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-4)
    xt, tt = torch.from_numpy(x * 255), torch.from_numpy(target)

    def theirs():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.l1_loss(net(xt) / 255, tt)
        loss.backward()
        opt.step()

    # forward + backward is about 3x the forward's convolution work
    gflop = 3 * count_conv_gflop(model, x)
    rows = [Timing.of("sr_native", ours, repeat=args.repeat, warmup=1),
            Timing.of("PyTorch", theirs, repeat=args.repeat, warmup=1)]
    print_table(f"training step, {name}, 16x3x48x48, L1 + Adam (~{gflop:.0f} GFLOP)",
                rows, "GFLOP", gflop)
    return rows


SCALING_SIZES = [(128, 128), (510, 339), (960, 540), (1920, 1080)]  # (width, height), LR


def bench_scaling(args):
    """EDSR-baseline x2: time per megapixel at four sizes (linear cost means a
    flat column) and the speed-up of 2 threads over 1 at 510x339."""
    from sr_native.models import EDSR

    model = EDSR.from_preset("edsr-baseline", 2)
    rng = np.random.default_rng(0)
    for _, p in model.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.02
    print("\nEDSR-baseline x2, cost against pixel count "
          f"({args.threads} threads; whole image at once, tile=None)")
    print(f"  {'input':<12}{'median s':>10}{'s per Mpx':>12}{'GFLOP/s':>10}")
    # Every conv is "same"-padded, so the work is exactly proportional to the pixel count.
    w0, h0 = SCALING_SIZES[0]
    gflop_per_px = count_conv_gflop(model, rng.random((1, 3, h0, w0), dtype=np.float32)) / (w0 * h0)
    for w, h in SCALING_SIZES:
        x = rng.random((1, 3, h, w), dtype=np.float32)
        big = w * h > 1e6  # two runs of the largest are enough
        # The warm-up call maps the network's activation buffers, which it keeps
        # (a process's first touch of fresh memory costs up to 10x on a VM).
        t = Timing.of("", lambda: model(x), repeat=2 if big else args.repeat, warmup=1)
        print(f"  {f'{w}x{h}':<12}{t.median:>10.3f}{t.median / (w * h / 1e6):>12.2f}"
              f"{gflop_per_px * w * h / t.median:>10.1f}")
    x = rng.random((1, 3, 339, 510), dtype=np.float32)
    times = {}
    for n in (1, 2):
        sr_native.set_num_threads(n)
        times[n] = Timing.of("", lambda: model(x), repeat=args.repeat, warmup=1).median
    sr_native.set_num_threads(args.threads)
    print(f"  510x339: 1 thread {times[1]:.2f} s, 2 threads {times[2]:.2f} s: "
          f"speed-up {times[1] / times[2]:.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=510)
    parser.add_argument("--height", type=int, default=339)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--models", default=",".join(CONFIGS),
                        help="comma-separated; empty ('--models=') for none")
    parser.add_argument("--train", action="store_true",
                        help="also time one training step of EDSR-baseline x2 and WDSR-B x2 against PyTorch")
    parser.add_argument("--scaling", action="store_true",
                        help="also time EDSR-baseline x2 at four sizes and with 1 and 2 threads")
    parser.add_argument("--chart", default=os.path.join(HERE, "results", "networks.png"),
                        help="PNG chart path ('' for none)")
    args = parser.parse_args(argv)

    torch = optional("torch")
    if args.scaling:
        sr_native.set_num_threads(args.threads)
        bench_scaling(args)
    if torch is None:
        print("networks bench: PyTorch is not installed (it builds the reference networks); skipped")
        return
    torch.set_num_threads(args.threads)
    sr_native.set_num_threads(args.threads)
    info = sr_native.build_info()
    versions = " | ".join(f"{peer} {getattr(optional(module), '__version__', 'not installed').split('-')[0]}"
                          for peer, (module, _) in ONNX_PEERS.items())
    print(f"sr_native {info['version']} isa={info['isa_active']} threads={args.threads} | torch {torch.__version__}"
          f" | {versions}")
    peak = measured_peak_gflops()
    print(f"measured fp32 FMA peak: {peak:.0f} GFLOP/s ({args.threads} threads, {info['isa_active']})")
    comparisons = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in filter(None, args.models.split(",")):
            rows = bench_network(name, torch, args, workdir, peak)
            comparisons += [(f"{name} vs {peer.name}", peer.median / rows[0].median) for peer in rows[1:]]
    if args.train:
        for name in TRAIN_CONFIGS:
            rows = bench_training_step(torch, args, name)
            comparisons.append((f"{name} training step vs PyTorch", rows[1].median / rows[0].median))
    if args.chart:
        os.makedirs(os.path.dirname(args.chart), exist_ok=True)
        save_ratio_chart(args.chart, f"Networks on a {args.width}x{args.height} input, {args.threads} threads",
                         comparisons)


if __name__ == "__main__":
    main()
