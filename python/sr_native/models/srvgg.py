"""SRVGGNetCompact (Real-ESRGAN's compact network, Wang et al.: the
realesr-general-x4v3 and realesr-animevideov3 models), defined by its
forward alone.

body.0 conv 3x3 (num_feat) -> body.1 activation -> num_conv x [conv 3x3
(num_feat), activation] -> conv 3x3 (n_colors * scale^2) -> pixel shuffle
(PyTorch's order), + the input upscaled by nearest neighbour. The
activation is a PReLU with one slope per channel (Real-ESRGAN's published
models), ReLU, or LeakyReLU 0.1. Everything runs at the input's
resolution, which is what makes it cheap. Images in [0, 1] as they are; the
output is not clamped. Key names are Real-ESRGAN's: the layers are one list,
`body.{2i}` the convolutions and `body.{2i+1}` the activations (PReLU
slopes are `body.{2i+1}.weight`; ReLU and LeakyReLU have no keys).
Training gradients come from the tape (sr_native.autograd).
"""

import re

import numpy as np

from .. import autograd
from ..layers import Conv2d, PReLU
from . import foreign
from .base import MAX_BLOCKS, MAX_COLORS, MAX_FEATURES, SRNetwork, check_int, check_parameter_memory, conv_shapes
from .srcnn import plain_normalization

PRESETS = {
    "realesr-general-x4v3": dict(num_feat=64, num_conv=32, act_type="prelu"),
    "realesr-animevideov3": dict(num_feat=64, num_conv=16, act_type="prelu"),
}
PRESET_SCALES = {"realesr-general-x4v3": 4, "realesr-animevideov3": 4}

ACT_TYPES = ("prelu", "relu", "lrelu")
LRELU_SLOPE = 0.1  # Real-ESRGAN's "lrelu" choice


class FixedActivation:
    """ReLU (slope 0) or LeakyReLU: no parameters, so no state-dict keys (as nn.ReLU / nn.LeakyReLU)."""

    def __init__(self, slope):
        self.slope = float(slope)

    def __call__(self, x):
        return autograd.relu(x) if self.slope == 0 else autograd.leaky_relu(x, self.slope)


class SRVGGNetCompact(SRNetwork):
    """SRVGGNetCompact(scale, num_feat=64, num_conv=16, act_type="prelu", n_colors=3).

    Args:
        scale: 1, 2, 3 or 4 (the last convolution's n_colors * scale^2 maps are pixel-shuffled).
        num_feat: feature channels.
        num_conv: convolutions between the first and the last.
        act_type: "prelu" (one slope per feature channel), "relu" or "lrelu" (LeakyReLU 0.1).
        n_colors: image channels (input and output).
        normalization: input normalisation; images in [0, 1] as they are by default.
    """

    architecture = "srvgg-compact"
    scales = (1, 2, 3, 4)
    presets = PRESETS

    def __init__(self, scale, num_feat=64, num_conv=16, act_type="prelu", n_colors=3, normalization=None):
        shapes = self.parameter_shapes(scale, num_feat=num_feat, num_conv=num_conv, act_type=act_type,
                                       n_colors=n_colors)
        check_parameter_memory("SRVGGNetCompact", shapes)
        super().__init__(scale, n_colors, normalization or plain_normalization(int(n_colors)))
        f, c, s = int(num_feat), self.n_colors, self.scale
        self.num_feat, self.num_conv, self.act_type = f, int(num_conv), act_type

        def activation():
            if act_type == "prelu":
                return PReLU(f)
            return FixedActivation(0.0 if act_type == "relu" else LRELU_SLOPE)

        self.body = [Conv2d(c, f, 3), activation()]
        for _ in range(self.num_conv):
            self.body += [Conv2d(f, f, 3), activation()]
        self.body.append(Conv2d(f, c * s * s, 3))

    def refuse_cpu_only_layers(self):
        # The skip (the input repeated per colour) is built in numpy.
        raise TypeError("SRVGGNetCompact.to: SRVGGNetCompact has no CUDA path yet (its input skip is built in "
                        "numpy); the network stays on the CPU")

    @classmethod
    def parameter_shapes(cls, scale, num_feat=64, num_conv=16, act_type="prelu", n_colors=3):
        s = cls.check_scale(scale)
        f = check_int("SRVGGNetCompact", "num_feat", num_feat, 1, MAX_FEATURES)
        n = check_int("SRVGGNetCompact", "num_conv", num_conv, 0, MAX_BLOCKS)
        c = check_int("SRVGGNetCompact", "n_colors", n_colors, 1, MAX_COLORS)
        if not isinstance(act_type, str):
            raise TypeError(f"SRVGGNetCompact: act_type must be a str {ACT_TYPES}, got {type(act_type).__name__}")
        if act_type not in ACT_TYPES:
            raise ValueError(f"SRVGGNetCompact: act_type must be one of {ACT_TYPES}, got {act_type!r}")
        shapes = {}
        for i in range(n + 1):
            conv_shapes(shapes, f"body.{2 * i}", f, c if i == 0 else f, 3)
            if act_type == "prelu":
                shapes[f"body.{2 * i + 1}.weight"] = (f,)
        conv_shapes(shapes, f"body.{2 * (n + 1)}", c * s * s, f, 3)
        return shapes

    def forward_raw(self, x):
        s = self.scale
        r = x
        for layer in self.body[:-1]:
            r = layer(r)
        # The nearest-upsampled input, pixel-unshuffled, is the input
        # repeated s^2 times per colour (PyTorch's channel order): added in
        # the last convolution's store, before the shuffle. A constant: the
        # network's input needs no gradient.
        skip = x if s == 1 else np.repeat(x, s * s, axis=1)
        r = self.body[-1](r, residual=skip)
        return r if s == 1 else autograd.pixel_shuffle(r, s)

    @property
    def receptive_radius(self):
        # num_conv + 2 3x3 convolutions on the input grid; the shuffle and
        # the nearest skip reach nothing further.
        return self.num_conv + 2

    def activation_floats_per_pixel(self):
        f, c, s = self.num_feat, self.n_colors, self.scale
        # input and its normalised copy; a layer's input and output; the
        # skip, the last convolution's output, the shuffled and de-normalised output
        return 2 * c + 2 * f + 4 * c * s * s

    def arch_args(self):
        return dict(num_feat=self.num_feat, num_conv=self.num_conv, act_type=self.act_type, n_colors=self.n_colors)


# ------------------------------------------------------------ foreign layouts

_BODY_KEY = re.compile(r"body\.\d+\.(weight|bias)")


def _plan_realesrgan(shapes, source, options):
    """Real-ESRGAN's SRVGGNetCompact: convolutions at the even body indices,
    PReLU slopes (if any) at the odd ones; the scale from the last
    convolution's output channels over the first one's input channels."""
    if "body.1.weight" not in shapes:
        # ReLU and LeakyReLU 0.1 leave no keys: the file does not say which.
        raise ValueError(f"{source}: an SRVGGNetCompact checkpoint without PReLU weights (body.1.weight): its "
                         "activation (relu or lrelu) is not recorded; build SRVGGNetCompact(scale, act_type=...) "
                         "and load the state dict (checkpoints.read_torch_checkpoint) into it")
    n_layers = foreign.count(shapes, "body.{}.weight")  # convolutions and PReLUs alternate
    if n_layers < 3 or n_layers % 2 == 0:
        raise ValueError(f"{source}: an SRVGGNetCompact checkpoint has convolutions and PReLUs alternating from "
                         f"body.0 to a last convolution; found {n_layers} consecutive body.N.weight keys")
    num_feat, n_colors = foreign.shape(shapes, "body.0.weight", 4, source)[:2]
    last = n_layers - 1
    if len(shapes.get(f"body.{last}.weight", ())) != 4:
        raise ValueError(f"{source}: the last SRVGGNetCompact layer body.{last} is not a convolution "
                         f"(shape {tuple(shapes.get(f'body.{last}.weight', ()))})")
    out_channels = foreign.shape(shapes, f"body.{last}.weight", 4, source)[0]
    scale = int(round((out_channels / n_colors) ** 0.5))
    if scale * scale * n_colors != out_channels or scale not in SRVGGNetCompact.scales:
        raise ValueError(f"{source}: the last convolution body.{last} has {out_channels} output channels, not "
                         f"1, 4, 9 or 16 x {n_colors} colours")
    num_conv = last // 2 - 1
    args = dict(num_feat=num_feat, num_conv=num_conv, act_type="prelu", n_colors=n_colors)
    mapping = {f"body.{i}": f"body.{i}" for i in range(last + 1)}
    return foreign.Plan(scale, args, mapping)


SRVGGNetCompact.foreign_layouts = (
    foreign.ForeignLayout(
        "srvgg-realesrgan", "Real-ESRGAN SRVGGNetCompact (realesr-general-x4v3, realesr-animevideov3): only "
        "body.N (convolutions at even N, PReLU slopes at odd N); under params_ema / params",
        lambda s: "body.0.weight" in s and "body.0.bias" in s and all(_BODY_KEY.fullmatch(k) for k in s),
        _plan_realesrgan),
)


__all__ = ["ACT_TYPES", "PRESETS", "PRESET_SCALES", "SRVGGNetCompact"]
