"""What every super-resolution network shares: input normalisation, the
receptive field used for tiling, and its description for weight files."""

import math
import numbers
import threading
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import cuda, ops
from ..argcheck import float32_finite
from ..layers import Buffers, Module

# Mean RGB of DIV2K's training images, the convention of EDSR-PyTorch, BasicSR and WDSR.
DIV2K_MEAN = (0.4488, 0.4371, 0.4040)

# Sane bounds for constructor arguments: far beyond every published model
# (EDSR: 256 features, 32 blocks; WDSR: expansion 4-6), close enough that a
# typo or a hostile weight file is refused before anything is allocated.
MAX_FEATURES = 4096
MAX_COLORS = 64
MAX_BLOCKS = 1024
MAX_EXPANSION = 64


def check_int(owner, name, value, low, high):
    """value as an int in [low, high]: TypeError for non-integers (bool, str, float,
    None), ValueError outside the range; the message names owner and argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{owner}: {name} must be from {low} to {high}, got {value}")
    return int(value)


def check_float(owner, name, value, *, positive=False):
    """value as a float that stays finite (and > 0 if positive) once rounded to
    float32, as the kernels use it: 1e39 is refused, not turned into inf."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a float, got {type(value).__name__} {value!r}")
    value = float32_finite(value, owner, name)
    if positive and not np.float32(value) > 0:
        raise ValueError(f"{owner}: {name} must be > 0, got {value!r}")
    return value


def check_parameter_memory(owner, shapes):
    """MemoryError before allocating parameters that cannot fit in memory."""
    from .. import _core

    nbytes = 4 * sum(math.prod(shape) for shape in shapes.values())
    available = _core.available_memory()
    if nbytes > available:
        raise MemoryError(f"{owner}: the parameters need {nbytes / 2**30:.1f} GiB, "
                          f"{available / 2**30:.1f} GiB of memory is available")


def conv_shapes(shapes, name, out, inp, k, bias=True):
    """Add a convolution's weight (and bias) shapes to a parameter_shapes dict."""
    shapes[name + ".weight"] = (out, inp, k, k)
    if bias:
        shapes[name + ".bias"] = (out,)


def batch_norm_shapes(shapes, name, n):
    """Add a BatchNorm2d's parameters and running statistics to a parameter_shapes dict."""
    for part in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"{name}.{part}"] = (n,)


def reach(kernel_size):
    """Pixels a square kernel reaches beyond its centre, for receptive_radius:
    a 3x3 counts 1 (tiling_overlap's 4x covers its Winograd rounding), a
    larger one its half width, a 1x1 nothing."""
    return max(kernel_size // 2, 1 if kernel_size == 3 else 0)


def check_preset(cls, presets, preset):
    """presets[preset], or ValueError listing the known presets."""
    if preset not in presets:
        raise ValueError(f"unknown {cls.__name__} preset {preset!r}; choose from {sorted(presets)}")
    return presets[preset]


@dataclass
class Normalization:
    """How images in [0, 1] become the network's input and back.

    net_in = (x * pixel_range - mean * pixel_range) / std
    x_out  = (net_out * std + mean * pixel_range) / pixel_range
    EDSR-PyTorch and BasicSR: pixel_range 255, DIV2K mean, std 1.
    WDSR (its authors' code): pixel_range 255, DIV2K mean, std 127.5.
    """

    pixel_range: float = 255.0
    mean: tuple = DIV2K_MEAN
    std: float = 1.0

    def __post_init__(self):
        # A NaN or zero here turns every output pixel into NaN or inf: refuse it.
        self.pixel_range = check_float("Normalization", "pixel_range", self.pixel_range, positive=True)
        self.std = check_float("Normalization", "std", self.std, positive=True)
        if isinstance(self.mean, (str, bytes)) or not hasattr(self.mean, "__len__"):
            raise TypeError(f"Normalization: mean must be a sequence of floats, got {type(self.mean).__name__}")
        if not 1 <= len(self.mean) <= MAX_COLORS:
            raise ValueError(f"Normalization: mean must have 1 to {MAX_COLORS} values, got {len(self.mean)}")
        self.mean = tuple(check_float("Normalization", f"mean[{i}]", m) for i, m in enumerate(self.mean))
        with np.errstate(over="ignore"):
            gain = np.float32(self.pixel_range) / np.float32(self.std)
        if not np.isfinite(gain):
            raise ValueError(f"Normalization: pixel_range / std = {self.pixel_range!r} / {self.std!r} "
                             "is not finite in float32")

    def to_dict(self):
        d = asdict(self)
        d["mean"] = [float(m) for m in self.mean]
        return d

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise ValueError(f"Normalization: expected a dict, got {type(d).__name__}")
        if set(d) != {"pixel_range", "mean", "std"}:
            raise ValueError(f"Normalization: expected the keys pixel_range, mean, std, got {sorted(map(str, d))}")
        return cls(pixel_range=d["pixel_range"], mean=d["mean"], std=d["std"])


@dataclass
class ModelInfo:
    """What a weight file says about its network beyond the arrays."""

    architecture: str
    arch_args: dict
    scale: int
    normalization: Normalization = field(default_factory=Normalization)
    provenance: dict = field(default_factory=dict)


class SRNetwork(Module):
    """Base of every network.

    A new architecture (one file in models/, see srcnn.py for a short one)
    defines: the class attributes `architecture` (the name in weight files and
    models.ARCHITECTURES) and `scales`; __init__(scale, <its arguments>,
    n_colors=3, normalization=None) that checks its arguments through
    parameter_shapes, calls check_parameter_memory and super().__init__, and
    builds its layers as attributes (state-dict names follow attribute names);
    the classmethod parameter_shapes(scale, **args) (validates like the
    constructor, allocates nothing; weights.py checks files with it);
    forward_raw(x) over layers and sr_native.autograd's ops (training
    gradients then come from the tape: forward_raw_train/backward_raw below);
    receptive_radius; activation_floats_per_pixel(); arch_args(). Optional:
    `presets` (named constructor arguments for from_preset), plus a training
    preset line in training/loop.py.
    """

    architecture = ""
    scales = (2, 3, 4)
    # Why tiled output differs from the whole image's, for networks whose
    # output depends on more than receptive_radius (RCAN's channel
    # attention averages whole feature maps); "" where tiles are exact.
    inexact_tiling = ""
    # Other projects' checkpoint layouts this architecture loads (models.foreign).
    foreign_layouts = ()
    # f where the network folds f x f pixel blocks into channels before its
    # trunk (RRDBNet x2 and x1): tiles align to 4 x f input pixels.
    input_fold = 1

    def __init__(self, scale, n_colors, normalization):
        owner = type(self).__name__
        self.scale = self.check_scale(scale)
        self.n_colors = check_int(owner, "n_colors", n_colors, 1, MAX_COLORS)
        normalization = normalization or Normalization()
        if not isinstance(normalization, Normalization):
            raise TypeError(f"{owner}: normalization must be a Normalization, got {type(normalization).__name__}")
        if len(normalization.mean) != self.n_colors:
            raise ValueError(f"{owner}: normalization mean has {len(normalization.mean)} values for "
                             f"{self.n_colors} colours")
        self.normalization = normalization
        self.provenance = {}
        self.device = "cpu"  # where the parameters are: "cpu" (numpy) or "cuda" (DeviceArrays)
        self._local = threading.local()  # per-thread activation buffers (_buffers)

    @classmethod
    def check_scale(cls, scale):
        if isinstance(scale, bool) or not isinstance(scale, numbers.Integral):
            raise TypeError(f"{cls.__name__}: scale must be an int, got {type(scale).__name__} {scale!r}")
        if scale not in cls.scales:
            raise ValueError(f"{cls.__name__}: scale must be one of {cls.scales}, got {scale!r}")
        return int(scale)

    presets = {}  # preset name -> constructor arguments (from_preset)

    @classmethod
    def from_preset(cls, preset, scale, **overrides):
        """A network of a named preset (cls.presets), arguments overridden by keyword."""
        return cls(scale, **{**check_preset(cls, cls.presets, preset), **overrides})

    @classmethod
    def parameter_shapes(cls, scale, **arch_args):
        """The state dict's keys and shapes for these constructor arguments,
        checked as the constructor checks them, without allocating anything."""
        raise NotImplementedError

    def __call__(self, x):
        """Run the network on (N, n_colors, H, W) float32 images in [0, 1].

        Returns (N, n_colors, H*scale, W*scale), not clamped.
        """
        from ..autograd import recycling

        with recycling(self._buffers()):  # a definition's layers reuse memory (autograd.recycled)
            return self._from_net(self.forward_raw(self._to_net(x)))

    def to(self, device):
        """Move the parameters to "cpu" or "cuda", in place (like torch's Module.to); returns self.

        On "cuda" the network takes and returns sr_native.cuda.DeviceArrays,
        and sr_native.upscale(..., model=net) runs it on the GPU.
        """
        if device in ("cuda", "cuda:0", "gpu"):
            self.refuse_cpu_only_layers()  # before the machine is checked: the answer does not depend on it
        device = cuda.check_device(device, f"{type(self).__name__}.to")
        if device != self.on_device:
            super().to(device)
            self.device = device
            self._local = threading.local()  # buffers of the old device are dropped
        return self

    @property
    def on_device(self):
        return self.__dict__.get("device", "cpu")

    def new_buffers(self):
        """Empty scratch buffers on this network's device."""
        return Buffers(self.on_device)

    def __getstate__(self):
        # Pickled (to another process, a dask worker): weights and settings,
        # not this process's activation buffers. GPU memory does not travel:
        # a network on the GPU is refused (move it to the CPU first).
        state = dict(self.__dict__)
        state.pop("_local", None)
        if self.on_device != "cpu":
            raise TypeError(f"{type(self).__name__}: move the network to the CPU (net.to('cpu')) before pickling")
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def _buffers(self):
        """This thread's activation buffers, kept from call to call: repeated
        calls and tiles reuse memory that is already mapped (layers.Buffers).
        Each thread has its own, so threads may share a network."""
        local = self.__dict__.get("_local")
        if local is None:  # a network built without SRNetwork.__init__ (copied, unpickled)
            local = self._local = threading.local()
        if not hasattr(local, "buffers"):
            local.buffers = self.new_buffers()
        return local.buffers

    def release_buffers(self):
        """Free the calling thread's kept activation buffers (they come back,
        at the size of the next call, when the network runs again)."""
        self._buffers().clear()

    def _gain_and_mean(self):
        n = self.normalization
        mean = np.asarray(n.mean, np.float32)
        if mean.size != self.n_colors:
            raise ValueError(f"normalization mean has {mean.size} values for {self.n_colors} colours")
        return np.float32(n.pixel_range / n.std), mean

    def _to_net(self, x):
        """[0, 1] images -> the network's input: (x - mean) * gain."""
        gain, mean = self._gain_and_mean()
        return ops.channel_affine(x, np.full(self.n_colors, gain, np.float32), -mean * gain)

    def _from_net(self, y):
        """The network's output -> [0, 1] images: y / gain + mean."""
        gain, mean = self._gain_and_mean()
        return ops.channel_affine(y, np.full(self.n_colors, 1 / gain, np.float32), mean)

    def forward_raw(self, x):
        """The network in its own normalised domain."""
        raise NotImplementedError

    def forward_train(self, x):
        """Like __call__, but also returns what backward() needs (the activations)."""
        y_net, cache = self.forward_raw_train(self._to_net(x))
        return self._from_net(y_net), cache

    def backward(self, dy, cache):
        """Gradients of every parameter given dy = dL/d(output of forward_train):
        a dict with the keys of state_dict()."""
        gain, _ = self._gain_and_mean()
        c = self.n_colors
        # output = y_net / gain + mean, so dL/dy_net = dL/doutput / gain
        dy_net = ops.channel_affine(dy, np.full(c, 1 / gain, np.float32), np.zeros(c, np.float32))
        grads = {}
        self.backward_raw(dy_net, cache, grads)
        return grads

    def forward_definition(self, x):
        """The network as training records it on the tape: forward_raw, unless
        a subclass keeps an inference-only form with in-place buffers (EDSR)."""
        return self.forward_raw(x)

    def forward_raw_train(self, x):
        """forward_definition recorded on a Tape (sr_native.autograd): what
        training uses."""
        from ..autograd import Tape

        with Tape() as tape:
            y = self.forward_definition(x)
        return y, (tape, y)

    def backward_raw(self, dy, cache, grads):
        """The tape's backward: parameter gradients by state-dict name into grads."""
        tape, y = cache
        tape.backward(y, dy)
        grads.update(tape.parameter_grads(self))

    @property
    def receptive_radius(self):
        """How many input pixels beyond a tile's edge can change its output:
        the overlap tiling needs for tiled output to equal untiled output."""
        raise NotImplementedError

    def activation_floats_per_pixel(self):
        """A bound on the float32 activations alive at once, per input pixel,
        while the network runs: what tile="auto" sizes tiles by."""
        raise NotImplementedError

    def arch_args(self):
        raise NotImplementedError

    def info(self):
        return ModelInfo(self.architecture, self.arch_args(), self.scale, self.normalization,
                         dict(self.provenance))

    def save(self, path, *, provenance=None):
        """Write the weights and everything needed to run them to a safetensors file."""
        from ..weights import save_model

        save_model(self, path, provenance=provenance)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.arch_args().items())
        return f"{type(self).__name__}({args}) with {self.num_parameters():,} parameters"


def count_conv_flops(model, x):
    """FLOPs of every convolution `model(x)` runs (2 * O * C * K * K * H * W
    each; a fused 1x1 pair counts both halves; a transposed convolution its
    taps, 2 * C * O * K * K per input pixel, or its sub-pixel form as run),
    by running it once with ops.conv2d, ops.conv1x1_pair and
    ops.conv_transpose2d wrapped. Not thread-safe: for benchmarks."""
    total = [0]
    conv, pair, deconv = ops.conv2d, ops.conv1x1_pair, ops.conv_transpose2d

    def counting(x_, w, *args, **kwargs):
        n, c, h, wd = x_.shape
        total[0] += 2 * n * w.shape[0] * c * w.shape[2] * w.shape[3] * h * wd
        return conv(x_, w, *args, **kwargs)

    def counting_pair(x_, w1, b1, w2, b2, **kwargs):
        n, c, h, wd = x_.shape
        total[0] += 2 * n * h * wd * (w1.shape[0] * c + w2.shape[0] * w1.shape[0])
        return pair(x_, w1, b1, w2, b2, **kwargs)

    def counting_deconv(x_, w, *args, **kwargs):
        n, c, h, wd = x_.shape
        total[0] += 2 * n * c * w.shape[1] * w.shape[2] * w.shape[3] * h * wd
        return deconv(x_, w, *args, **kwargs)

    ops.conv2d, ops.conv1x1_pair, ops.conv_transpose2d = counting, counting_pair, counting_deconv
    try:
        model(x)
    finally:
        ops.conv2d, ops.conv1x1_pair, ops.conv_transpose2d = conv, pair, deconv
    return total[0]
