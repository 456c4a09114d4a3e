"""Whole networks beside their peers on this machine: sr_native, PyTorch,
onnxruntime and OpenVINO on the same weights and the same input.

This is `sr-native bench --compare`, and the timing helpers and peer runners
that the repository's bench/ scripts share (bench/ is not in the wheel).

The peers' network is built in PyTorch (EDSR laid out like EDSR-PyTorch, with
random non-zero weights), saved as a checkpoint that sr_native loads through its
foreign-checkpoint reader, and exported to ONNX, the file onnxruntime and
OpenVINO both run. So PyTorch is needed to build the peers' networks; the
onnxruntime and OpenVINO columns are optional and, when absent, say why. Every
peer's output is compared with PyTorch's before anything is timed. Ratios are
peer time / sr_native time: above 1 means sr_native is faster.
"""

import importlib
import os
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

# Largest max |peer - PyTorch| / max |PyTorch| accepted before timing (fp32 paths).
MAX_REL_DIFF = 1e-4

# name -> (scale, EDSR width, residual blocks): the networks --compare can build.
COMPARE_NETWORKS = {
    "edsr-baseline-x2": (2, 64, 16),
    "edsr-baseline-x4": (4, 64, 16),
}

# Display name -> import name of the optional peers.
PEERS = {"PyTorch": "torch", "onnxruntime": "onnxruntime", "OpenVINO": "openvino"}


@dataclass
class Timing:
    name: str
    median: float  # seconds
    best: float

    @staticmethod
    def of(name, fn, *, repeat=7, warmup=2, min_time=0.0):
        """Median and min of `repeat` calls of fn() (more while under min_time
        seconds), after `warmup` untimed calls."""
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
    """The module, or None when it is not installed (or fails to import)."""
    try:
        return importlib.import_module(module_name)
    except ImportError:
        return None


def peer_versions():
    """{display name: version string, or 'not installed'} for PEERS."""
    versions = {}
    for name, module_name in PEERS.items():
        module = optional(module_name)
        # OpenVINO's version carries its build id after a '-'
        versions[name] = ("not installed" if module is None
                          else str(getattr(module, "__version__", "?")).split("-")[0])
    return versions


def measured_peak_gflops(seconds=0.5):
    """fp32 FMA GFLOP/s of this machine at the current ISA and thread count, measured now."""
    from . import _core

    return _core.measure_fma_peak(seconds)


def print_table(title, rows, work_unit, work_amount, peak_gflops=None, out=print):
    """rows: Timings, the first being sr_native. work_unit 'GFLOP' or 'GB'.
    With peak_gflops, GFLOP rows also show the percent of that peak; the last
    column is each peer's median over ours (above 1: sr_native is faster)."""
    show_peak = bool(peak_gflops) and work_unit == "GFLOP"
    out(f"\n{title}")
    out(f"  {'implementation':<28}{'median ms':>11}{'min ms':>10}{work_unit + '/s':>10}"
        + (f"{'% peak':>8}" if show_peak else "") + f"{'ours faster by':>16}")
    ours = rows[0]
    for r in rows:
        rate = work_amount / r.median
        mark = "" if r is ours else f"{r.median / ours.median:>15.2f}x"
        peak = f"{100 * rate / peak_gflops:>7.0f}%" if show_peak else ""
        out(f"  {r.name:<28}{r.median * 1e3:>11.2f}{r.best * 1e3:>10.2f}{rate:>10.1f}{peak}{mark}")


def _threads_or_default(threads):
    if threads:
        return int(threads)
    import sr_native

    return sr_native.get_num_threads()


def export_onnx(torch, net, example, path):
    """Write net (a torch module) traced on `example` (N, C, H, W) to `path` as
    ONNX opset 17 with input 'x' and output 'y'."""
    # The TorchScript exporter is the one that needs no onnxscript; torch warns
    # that it is deprecated (and so do its helpers), which is not ours to fix.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (example,), path, input_names=["x"], output_names=["y"],
                          opset_version=17, dynamo=False)


def onnxruntime_runner(onnx_path, threads=0):
    """run(x) -> y for the ONNX file on onnxruntime's CPU provider with
    `threads` intra-op threads (0: sr_native's thread count). x: (N, C, H, W)
    float32 fed to the input 'x'."""
    ort = importlib.import_module("onnxruntime")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = _threads_or_default(threads)
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])

    def run(x):
        return session.run(None, {"x": x})[0]

    return run


def openvino_runner(onnx_path, threads=0):
    """run(x) -> y for the ONNX file compiled by OpenVINO for the CPU with
    `threads` inference threads (0: sr_native's thread count), the LATENCY
    hint and fp32 precision (it would pick bf16 on CPUs with AMX: not the same
    arithmetic). y is a view of the request's output buffer, overwritten by the
    next call: copy it to keep it."""
    ov = importlib.import_module("openvino")
    core = ov.Core()
    compiled = core.compile_model(core.read_model(onnx_path), "CPU", {
        "INFERENCE_NUM_THREADS": _threads_or_default(threads),
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32",
    })
    request = compiled.create_infer_request()

    def run(x):
        request.infer({0: x})
        return request.get_output_tensor(0).data

    return run


def edsr_torch(torch, scale, *, n_feats=64, n_resblocks=16, seed=0, std=0.02):
    """EDSR in PyTorch with EDSR-PyTorch's checkpoint keys (sub_mean, head.0,
    body.{i}.body.{0,2}, body.{n}, tail.0.*, tail.1, add_mean) and random
    N(0, std) weights; input and output in [0, 255]. torch is passed in so that
    importing this module does not need it."""
    nn = torch.nn
    div2k_mean = torch.tensor((0.4488, 0.4371, 0.4040))

    def conv(cin, cout):
        return nn.Conv2d(cin, cout, 3, padding=1)

    def mean_shift(sign):
        shift = nn.Conv2d(3, 3, 1)
        shift.weight.data = torch.eye(3).view(3, 3, 1, 1)
        shift.bias.data = sign * 255 * div2k_mean
        shift.requires_grad_(False)
        return shift

    class ResBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(conv(n_feats, n_feats), nn.ReLU(True), conv(n_feats, n_feats))

        def forward(self, x):
            return self.body(x) + x

    class Edsr(nn.Module):
        def __init__(self):
            super().__init__()
            self.sub_mean = mean_shift(-1)
            self.head = nn.Sequential(conv(3, n_feats))
            self.body = nn.Sequential(*[ResBlock() for _ in range(n_resblocks)], conv(n_feats, n_feats))
            upsampler = []
            for r in ([2, 2] if scale == 4 else [scale]):
                upsampler += [conv(n_feats, r * r * n_feats), nn.PixelShuffle(r)]
            self.tail = nn.Sequential(nn.Sequential(*upsampler), conv(n_feats, 3))
            self.add_mean = mean_shift(1)

        def forward(self, x):
            x = self.head(self.sub_mean(x))
            return self.add_mean(self.tail(self.body(x) + x))

    net = Edsr().eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return net


@dataclass
class Comparison:
    """One network's row set: timings (sr_native first), each peer's max
    relative difference from PyTorch, and why each absent peer is absent."""
    network: str
    gflop: float
    rows: list
    max_rel_diff: dict = field(default_factory=dict)
    missing: dict = field(default_factory=dict)

    def ratio(self, peer):
        """Peer median / sr_native median, or None when the peer was not timed."""
        for r in self.rows[1:]:
            if r.name == peer:
                return r.median / self.rows[0].median
        return None


def _rel_diff(got, want):
    return float(np.abs(np.asarray(got) - want).max() / np.abs(want).max())


def compare_network(name, *, width=510, height=339, threads=0, repeat=3, workdir, peak=None, out=print):
    """Time network `name` (a COMPARE_NETWORKS key) on a 1x3xheight x width
    input with sr_native, PyTorch, and onnxruntime and OpenVINO when installed,
    after checking each peer's output against PyTorch's; print the table."""
    import sr_native
    from sr_native.models.base import count_conv_flops

    torch = importlib.import_module("torch")
    scale, n_feats, n_resblocks = COMPARE_NETWORKS[name]
    net = edsr_torch(torch, scale, n_feats=n_feats, n_resblocks=n_resblocks)
    checkpoint = os.path.join(workdir, f"{name}.pt")
    torch.save(net.state_dict(), checkpoint)
    model = sr_native.load_model(checkpoint)

    x01 = np.random.default_rng(1).random((1, 3, height, width), dtype=np.float32)
    x255 = x01 * 255
    x255_t = torch.from_numpy(x255)
    with torch.no_grad():
        want = net(x255_t).numpy() / 255
    result = Comparison(name, count_conv_flops(model, x01) / 1e9, [])
    result.max_rel_diff["sr_native"] = _rel_diff(model(x01), want)

    def inference():
        with torch.no_grad():
            net(x255_t)

    runners = {}
    onnx_path = os.path.join(workdir, f"{name}.onnx")
    for peer, make in (("onnxruntime", onnxruntime_runner), ("OpenVINO", openvino_runner)):
        if optional(PEERS[peer]) is None:
            result.missing[peer] = f"not installed (pip install {PEERS[peer]})"
            continue
        try:
            if not os.path.exists(onnx_path):
                export_onnx(torch, net, x255_t, onnx_path)
            runners[peer] = make(onnx_path, threads)
        except Exception as exc:  # a peer that cannot run is a missing column, not a failed comparison
            result.missing[peer] = f"failed: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
            continue
        result.max_rel_diff[peer] = _rel_diff(runners[peer](x255) / 255, want)

    for who, diff in result.max_rel_diff.items():
        out(f"{name}: {who} vs PyTorch max rel diff {diff:.1e}" + ("" if diff < MAX_REL_DIFF else
                                                                   "  <-- TOO LARGE: not timed"))
    if result.max_rel_diff["sr_native"] >= MAX_REL_DIFF:
        raise RuntimeError(f"compare_network: sr_native's {name} differs from PyTorch's by "
                           f"{result.max_rel_diff['sr_native']:.1e} of the output's range")
    result.rows.append(Timing.of("sr_native", lambda: model(x01), repeat=repeat, warmup=1))
    result.rows.append(Timing.of("PyTorch", inference, repeat=repeat, warmup=1))
    for peer, run in runners.items():
        if result.max_rel_diff[peer] < MAX_REL_DIFF:
            result.rows.append(Timing.of(peer, lambda run=run: run(x255), repeat=repeat, warmup=1))
        else:
            result.missing[peer] = f"output differs from PyTorch's by {result.max_rel_diff[peer]:.1e}"
    print_table(f"{name} on 1x3x{height}x{width} ({result.gflop:.1f} GFLOP of convolutions)",
                result.rows, "GFLOP", result.gflop, peak, out=out)
    for peer, why in result.missing.items():
        out(f"  {peer:<28}{why}")
    return result


def compare_networks(names=("edsr-baseline-x2",), *, width=510, height=339, threads=0, repeat=3, out=print):
    """`sr-native bench --compare`: compare_network for each name, with the
    machine's measured fp32 FMA peak; returns the Comparisons.

    Args:
        names: keys of COMPARE_NETWORKS.
        width, height: the input's size in pixels.
        threads: threads for sr_native and every peer (0: sr_native's current count).
        repeat: timed runs per implementation (after one warm-up run).
        out: where the lines go (print).
    Raises:
        ModuleNotFoundError: PyTorch is not installed (it builds the peers' networks).
    """
    import sr_native

    for n in names:
        if n not in COMPARE_NETWORKS:
            raise ValueError(f"compare_networks: names has {n!r}; choose from {', '.join(COMPARE_NETWORKS)}")
    for arg, value in (("width", width), ("height", height), ("repeat", repeat)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"compare_networks: {arg} must be an int, got {type(value).__name__}")
        if value < 1:
            raise ValueError(f"compare_networks: {arg} must be >= 1, got {value}")
    torch = optional("torch")
    if torch is None:
        raise ModuleNotFoundError("compare_networks: PyTorch is not installed; it builds the peers' networks "
                                  "(pip install torch; onnxruntime and openvino add their columns)")
    threads = _threads_or_default(threads)
    torch_threads, our_threads = torch.get_num_threads(), sr_native.get_num_threads()
    torch.set_num_threads(threads)
    sr_native.set_num_threads(threads)
    try:
        info = sr_native.build_info()
        versions = peer_versions()
        out(f"sr_native {info['version']} isa={info['isa_active']} threads={threads} | "
            + " | ".join(f"{k} {v}" for k, v in versions.items()))
        peak = measured_peak_gflops()
        out(f"measured fp32 FMA peak: {peak:.0f} GFLOP/s ({threads} threads, {info['isa_active']})")
        with tempfile.TemporaryDirectory() as workdir:
            return [compare_network(n, width=width, height=height, threads=threads, repeat=repeat,
                                    workdir=workdir, peak=peak, out=out) for n in names]
    finally:
        torch.set_num_threads(torch_threads)
        sr_native.set_num_threads(our_threads)
