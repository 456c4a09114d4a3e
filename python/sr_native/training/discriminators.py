"""Discriminators for adversarial training, built from the package's kernels
and tape ops, and spectral normalisation.

Both networks take RGB images in [0, 1], (N, 3, H, W) float32, and return
logits (no sigmoid: the GAN losses in training.gan take logits).

Strided downsampling is written as space to depth followed by a stride-1
convolution: ``pixel_unshuffle(x, 2)`` then a 3x3 convolution on the 4*C
channels. That is exactly a 6x6 convolution with stride 2 and padding 2 on x
(input rows 2i-2 .. 2i+3 for output row i), which contains SRGAN's 3x3 and
Real-ESRGAN's 4x4 stride-2 windows as special cases (zeros elsewhere), so the
networks can represent the published ones; their downsampling weights are
(O, 4*C, 3, 3) instead of (O, C, 4, 4), so published discriminator weights do
not load as they are.

- VGGDiscriminator: SRGAN's (Ledig et al. 2017) conv blocks 64..512 channels,
  LeakyReLU 0.2, batch norm after every convolution but the first, a
  downsampling by 2 after each pair. The dense head is global average pooling
  then two 1x1 convolutions (1024 features, LeakyReLU, 1 logit) instead of
  flatten + dense, so any patch size divisible by 2**len(channels) works.
  Output (N, 1, 1, 1).
- UNetDiscriminatorSN: Real-ESRGAN's U-Net (three downsamplings, three
  bilinear x2 upsamplings with skip connections, spectral norm on every inner
  convolution), one logit per pixel: output (N, 1, H, W); H, W divisible by 8.

Spectral norm (SNConv2d) follows torch.nn.utils.spectral_norm: the weight
reshaped to (O, C*K*K) is divided by sigma = u^T W v, where u and v come from
one power iteration each time the layer runs in training (under a Tape, as
PyTorch's training mode does on every forward); u and v are buffers
(``weight_u``, ``weight_v``: in the state dict and the checkpoint). Without a
tape (evaluation) the stored u and v are used unchanged, as PyTorch's eval
mode. The gradient treats u and v as constants, as PyTorch's does.
"""

import numpy as np

from .. import autograd, ops
from ..layers import BatchNorm2d, Conv2d, Module, walk_layers

LEAKY_SLOPE = 0.2


class SNConv2d(Conv2d):
    """A Conv2d with spectral normalisation (PyTorch's spectral_norm, one
    power iteration per training forward, eps 1e-12).

    Parameters: weight (O, C, K, K) (PyTorch's ``weight_orig``), optional bias;
    buffers: weight_u (O,), weight_v (C*K*K,), unit vectors (init_vectors)."""

    def __init__(self, in_channels, out_channels, kernel_size, bias=True, eps=1e-12):
        super().__init__(in_channels, out_channels, kernel_size, bias=bias)
        self.weight_u = np.zeros(out_channels, np.float32)
        self.weight_v = np.zeros(in_channels * kernel_size * kernel_size, np.float32)
        self.eps = float(eps)

    def init_vectors(self, rng):
        """u and v as random unit vectors (PyTorch: normal(0, 1), normalised)."""
        self.weight_u[...] = _normalized(rng.standard_normal(self.weight_u.shape), self.eps)
        self.weight_v[...] = _normalized(rng.standard_normal(self.weight_v.shape), self.eps)

    def named_buffers(self, prefix):
        yield prefix + "weight_u", self.weight_u
        yield prefix + "weight_v", self.weight_v

    def to(self, device):
        if device != "cpu":
            raise TypeError("SNConv2d: the discriminators run on the CPU only")
        return self

    def power_iteration(self):
        """One step: v = normalize(W^T u), u = normalize(W v), in place."""
        w = self.weight.reshape(self.weight.shape[0], -1)
        self.weight_v[...] = _normalized(w.T @ self.weight_u, self.eps)
        self.weight_u[...] = _normalized(w @ self.weight_v, self.eps)

    def sigma(self):
        """u^T W v with the current vectors: the estimate of W's largest singular value."""
        w = self.weight.reshape(self.weight.shape[0], -1)
        return float(self.weight_u.astype(np.float64) @ (w.astype(np.float64) @ self.weight_v.astype(np.float64)))

    def normalized_weight(self):
        return (self.weight / np.float32(self.sigma())).astype(np.float32)

    def __call__(self, x, **kwargs):
        if kwargs:
            raise TypeError(f"SNConv2d: no fused epilogue ({', '.join(kwargs)}); apply activations separately")
        tape = autograd.current_tape()
        if tape is None:
            return ops.conv2d(x, self.normalized_weight(), self.bias)
        self.power_iteration()
        sigma = self.sigma()
        w, b = self.weight, self.bias
        w_sn = (w / np.float32(sigma)).astype(np.float32)
        # A later forward (the same discriminator on the other batch) moves u and
        # v again before this backward runs: keep this forward's vectors.
        u, v = self.weight_u.copy(), self.weight_v.copy()
        y = ops.conv2d(x, w_sn, b)

        def backward(dy):
            dx, dw_sn, db = ops.conv2d_backward(x, w_sn, dy, need_dx=tape.requires_grad(x))
            # W_sn = W / sigma, sigma = u^T W v with u, v constant:
            # dL/dW = G / sigma - <G, W> / sigma^2 * u v^T  (G = dL/dW_sn)
            g = dw_sn.astype(np.float64)
            inner = float((g * w.astype(np.float64)).sum())
            dw = g / sigma - (inner / sigma ** 2) * np.outer(u, v).reshape(w.shape)
            tape.add_param_grad(w, dw.astype(np.float32))
            if b is not None:
                tape.add_param_grad(b, db)
            return (dx,)

        tape.record(backward, (x,), y)
        return y


def _normalized(x, eps):
    x = np.asarray(x, np.float64)
    return (x / max(float(np.sqrt((x * x).sum())), eps)).astype(np.float32)


def upsample_bilinear2x(x):
    """(N, C, H, W) -> (N, C, 2H, 2W): PyTorch's interpolate(scale_factor=2,
    mode="bilinear", align_corners=False), recorded on the tape. Along each
    axis output 2i is 0.75 x[i] + 0.25 x[i-1] and 2i+1 is 0.75 x[i] + 0.25
    x[i+1], indices clamped at the borders; the backward is its transpose."""
    y = _up2_axis(_up2_axis(x, 2), 3)
    tape = autograd.current_tape()
    if tape is not None and tape.requires_grad(x):
        tape.record(lambda dy: (_up2_axis_backward(_up2_axis_backward(dy, 3), 2),), (x,), y)
    return y


def _up2_indices(n):
    i = np.arange(n)
    return np.maximum(i - 1, 0), np.minimum(i + 1, n - 1)


def _up2_axis(x, axis):
    n = x.shape[axis]
    prev, nxt = _up2_indices(n)
    even = 0.75 * x + 0.25 * np.take(x, prev, axis=axis)
    odd = 0.75 * x + 0.25 * np.take(x, nxt, axis=axis)
    y = np.stack((even, odd), axis=axis + 1)
    shape = list(x.shape)
    shape[axis] = 2 * n
    return np.ascontiguousarray(y.reshape(shape), dtype=np.float32)


def _up2_axis_backward(dy, axis):
    n = dy.shape[axis] // 2
    shape = list(dy.shape)
    shape[axis:axis + 1] = [n, 2]
    parts = dy.reshape(shape).astype(np.float64)
    d_even, d_odd = np.take(parts, 0, axis=axis + 1), np.take(parts, 1, axis=axis + 1)
    dx = 0.75 * (d_even + d_odd)
    prev, nxt = _up2_indices(n)
    moved = np.moveaxis(dx, axis, 0)  # a view: np.add.at along the first axis writes into dx
    np.add.at(moved, prev, 0.25 * np.moveaxis(d_even, axis, 0))
    np.add.at(moved, nxt, 0.25 * np.moveaxis(d_odd, axis, 0))
    return np.ascontiguousarray(dx, dtype=np.float32)


def _check_input(owner, x, multiple, in_channels):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{owner}: x must be a numpy array, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{owner}: x must be float32, got {x.dtype}")
    if x.ndim != 4 or x.shape[0] < 1 or x.shape[1] != in_channels:
        raise ValueError(f"{owner}: x must be (N, {in_channels}, H, W), got shape {x.shape}")
    if x.shape[2] < multiple or x.shape[3] < multiple or x.shape[2] % multiple or x.shape[3] % multiple:
        raise ValueError(f"{owner}: H and W must be positive multiples of {multiple} (the downsamplings), "
                         f"got shape {x.shape}")


def _channel_count(owner, name, value, low=1):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value!r}")
    return int(value)


class _Discriminator(Module):
    def to(self, device):
        """Only "cpu": the spectral norm and the training step run on numpy arrays."""
        if device != "cpu":
            raise TypeError(f"{type(self).__name__}.to: the discriminators run on the CPU only, got {device!r}")
        return self


class VGGDiscriminator(_Discriminator):
    """SRGAN's VGG-style discriminator (see the module docstring).

    Args:
        in_channels: colours of the input (3).
        channels: features of each stage; each stage is a 3x3 convolution
            (the first without batch norm) and a downsampling convolution
            (unshuffle + 3x3 on 4*C channels), each followed by batch norm
            and LeakyReLU 0.2. SRGAN: (64, 128, 256, 512).
        dense: features of the head's hidden layer (SRGAN: 1024).
    Shapes: x (N, in_channels, H, W), H and W multiples of 2**len(channels);
    returns logits (N, 1, 1, 1).
    """

    kind = "vgg"

    def __init__(self, in_channels=3, channels=(64, 128, 256, 512), dense=1024):
        owner = "VGGDiscriminator"
        if not isinstance(channels, (list, tuple)) or not channels:
            raise TypeError(f"{owner}: channels must be a non-empty list of ints, got {channels!r}")
        self.in_channels = _channel_count(owner, "in_channels", in_channels)
        channels = [_channel_count(owner, "channels", c) for c in channels]
        dense = _channel_count(owner, "dense", dense)
        self.args = dict(in_channels=self.in_channels, channels=channels, dense=dense)
        self.conv_first = Conv2d(self.in_channels, channels[0], 3)
        self.convs, self.norms = [], []
        previous = channels[0]
        for i, c in enumerate(channels):
            if i > 0:
                self.convs.append(Conv2d(previous, c, 3, bias=False))
                self.norms.append(BatchNorm2d(c))
            self.convs.append(Conv2d(4 * c, c, 3, bias=False))  # after the unshuffle: the stride-2 convolution
            self.norms.append(BatchNorm2d(c))
            previous = c
        self.dense1 = Conv2d(previous, dense, 1)
        self.dense2 = Conv2d(dense, 1, 1)

    @property
    def multiple(self):
        return 2 ** len(self.args["channels"])

    def __call__(self, x):
        _check_input("VGGDiscriminator", x, self.multiple, self.in_channels)
        x = autograd.leaky_relu(self.conv_first(x), LEAKY_SLOPE)
        for j, (conv, bn) in enumerate(zip(self.convs, self.norms)):
            if j % 2 == 0:  # convs alternate: downsampling (stage i's), then stage i+1's 3x3
                x = autograd.pixel_unshuffle(x, 2)
            x = autograd.leaky_relu(bn(conv(x)), LEAKY_SLOPE)
        x = autograd.global_avg_pool(x)
        return self.dense2(autograd.leaky_relu(self.dense1(x), LEAKY_SLOPE))


class UNetDiscriminatorSN(_Discriminator):
    """Real-ESRGAN's U-Net discriminator with spectral norm (see the module docstring).

    Args:
        in_channels: colours of the input (3).
        num_feat: features of the first level (Real-ESRGAN: 64); the levels
            have num_feat, 2x, 4x, 8x.
        skip_connection: add each encoder level to the decoder level of the same size.
    Shapes: x (N, in_channels, H, W), H and W multiples of 8; returns logits (N, 1, H, W).
    """

    kind = "unet"
    multiple = 8

    def __init__(self, in_channels=3, num_feat=64, skip_connection=True):
        owner = "UNetDiscriminatorSN"
        self.in_channels = _channel_count(owner, "in_channels", in_channels)
        nf = _channel_count(owner, "num_feat", num_feat)
        if not isinstance(skip_connection, (bool, np.bool_)):
            raise TypeError(f"{owner}: skip_connection must be a bool, got {type(skip_connection).__name__}")
        self.skip_connection = bool(skip_connection)
        self.args = dict(in_channels=self.in_channels, num_feat=nf, skip_connection=self.skip_connection)
        self.conv0 = Conv2d(self.in_channels, nf, 3)
        # downsampling: unshuffle + 3x3 on 4*C channels
        self.conv1 = SNConv2d(4 * nf, 2 * nf, 3, bias=False)
        self.conv2 = SNConv2d(8 * nf, 4 * nf, 3, bias=False)
        self.conv3 = SNConv2d(16 * nf, 8 * nf, 3, bias=False)
        # upsampling: bilinear x2, then 3x3
        self.conv4 = SNConv2d(8 * nf, 4 * nf, 3, bias=False)
        self.conv5 = SNConv2d(4 * nf, 2 * nf, 3, bias=False)
        self.conv6 = SNConv2d(2 * nf, nf, 3, bias=False)
        self.conv7 = SNConv2d(nf, nf, 3, bias=False)
        self.conv8 = SNConv2d(nf, nf, 3, bias=False)
        self.conv9 = Conv2d(nf, 1, 3)

    def __call__(self, x):
        _check_input("UNetDiscriminatorSN", x, self.multiple, self.in_channels)

        def act(t):
            return autograd.leaky_relu(t, LEAKY_SLOPE)

        x0 = act(self.conv0(x))
        x1 = act(self.conv1(autograd.pixel_unshuffle(x0, 2)))
        x2 = act(self.conv2(autograd.pixel_unshuffle(x1, 2)))
        x3 = act(self.conv3(autograd.pixel_unshuffle(x2, 2)))
        x4 = act(self.conv4(upsample_bilinear2x(x3)))
        if self.skip_connection:
            x4 = autograd.add(x4, x2)
        x5 = act(self.conv5(upsample_bilinear2x(x4)))
        if self.skip_connection:
            x5 = autograd.add(x5, x1)
        x6 = act(self.conv6(upsample_bilinear2x(x5)))
        if self.skip_connection:
            x6 = autograd.add(x6, x0)
        out = act(self.conv7(x6))
        out = act(self.conv8(out))
        return self.conv9(out)


DISCRIMINATORS = {"vgg": VGGDiscriminator, "unet": UNetDiscriminatorSN}


def build_discriminator(kind, rng, **args):
    """A discriminator of `kind` ("vgg" or "unet") initialised as PyTorch's
    defaults (training.loop.init_like_pytorch) and, for spectral norm, random
    unit u and v, all drawn from rng (a numpy Generator)."""
    from .loop import init_like_pytorch

    if kind not in DISCRIMINATORS:
        raise ValueError(f"build_discriminator: kind must be one of {sorted(DISCRIMINATORS)}, got {kind!r}")
    net = DISCRIMINATORS[kind](**args)
    init_like_pytorch(net, rng)
    for _, layer in walk_layers(net):
        if isinstance(layer, SNConv2d):
            layer.init_vectors(rng)
    return net


__all__ = ["SNConv2d", "VGGDiscriminator", "UNetDiscriminatorSN", "build_discriminator", "upsample_bilinear2x",
           "DISCRIMINATORS"]
