"""What every super-resolution network shares: input normalisation, the
receptive field used for tiling, and its description for weight files."""

import threading
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import cuda, ops
from ..layers import Buffers, Module

# Mean RGB of DIV2K's training images, the convention of EDSR-PyTorch, BasicSR and WDSR.
DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


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

    def to_dict(self):
        d = asdict(self)
        d["mean"] = [float(m) for m in self.mean]
        return d

    @classmethod
    def from_dict(cls, d):
        return cls(pixel_range=float(d["pixel_range"]), mean=tuple(float(m) for m in d["mean"]),
                   std=float(d["std"]))


@dataclass
class ModelInfo:
    """What a weight file says about its network beyond the arrays."""

    architecture: str
    arch_args: dict
    scale: int
    normalization: Normalization = field(default_factory=Normalization)
    provenance: dict = field(default_factory=dict)


class SRNetwork(Module):
    """Base of EDSR and WDSR. Subclasses define forward_raw, receptive_radius,
    architecture and arch_args()."""

    architecture = ""
    scales = (2, 3, 4)

    def __init__(self, scale, n_colors, normalization):
        if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale not in self.scales:
            raise ValueError(f"{type(self).__name__}: scale must be one of {self.scales}, got {scale!r}")
        self.scale = int(scale)
        self.n_colors = int(n_colors)
        self.normalization = normalization or Normalization()
        self.provenance = {}
        self.device = "cpu"  # where the parameters are: "cpu" (numpy) or "cuda" (DeviceArrays)
        self._local = threading.local()  # per-thread activation buffers (_buffers)

    def __call__(self, x):
        """Run the network on (N, n_colors, H, W) float32 images in [0, 1].

        Returns (N, n_colors, H*scale, W*scale), not clamped.
        """
        return self._from_net(self.forward_raw(self._to_net(x)))

    def to(self, device):
        """Move the parameters to "cpu" or "cuda", in place (like torch's Module.to); returns self.

        On "cuda" the network takes and returns sr_native.cuda.DeviceArrays,
        and sr_native.upscale(..., model=net) runs it on the GPU.
        """
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

    def forward_raw_train(self, x):
        raise NotImplementedError

    def backward_raw(self, dy, cache, grads):
        raise NotImplementedError

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
    each; a fused 1x1 pair counts both halves), by running it once with
    ops.conv2d and ops.conv1x1_pair wrapped. Not thread-safe: for benchmarks."""
    total = [0]
    conv, pair = ops.conv2d, ops.conv1x1_pair

    def counting(x_, w, *args, **kwargs):
        n, c, h, wd = x_.shape
        total[0] += 2 * n * w.shape[0] * c * w.shape[2] * w.shape[3] * h * wd
        return conv(x_, w, *args, **kwargs)

    def counting_pair(x_, w1, b1, w2, b2, **kwargs):
        n, c, h, wd = x_.shape
        total[0] += 2 * n * h * wd * (w1.shape[0] * c + w2.shape[0] * w1.shape[0])
        return pair(x_, w1, b1, w2, b2, **kwargs)

    ops.conv2d, ops.conv1x1_pair = counting, counting_pair
    try:
        model(x)
    finally:
        ops.conv2d, ops.conv1x1_pair = conv, pair
    return total[0]
