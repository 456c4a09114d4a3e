"""FSRCNN (Dong, Loy and Tang, "Accelerating the Super-Resolution
Convolutional Neural Network", ECCV 2016), defined by its forward alone.

On the LR image: feature extraction conv 5x5 (d maps) + PReLU -> shrinking
conv 1x1 (s maps) + PReLU -> m x [mapping conv 3x3 (s maps) + PReLU] ->
expanding conv 1x1 (d maps) + PReLU -> deconvolution 9x9 with stride =
scale, padding 4 and output_padding scale - 1 (PyTorch's ConvTranspose2d
semantics), so the output is exactly scale times the input. The paper's
FSRCNN is d=56, s=12, m=4; FSRCNN-s is d=32, s=5, m=1. PReLUs have one slope
per channel (nn.PReLU(channels), as the common PyTorch re-implementations).
Training gradients come from the tape (sr_native.autograd).
"""

import math

from .. import autograd
from ..layers import Conv2d, ConvTranspose2d, PReLU
from . import foreign
from .base import (MAX_BLOCKS, MAX_COLORS, MAX_FEATURES, SRNetwork, check_int, check_parameter_memory,
                   conv_shapes, reach)
from .foreign import scale_option
from .srcnn import plain_normalization

PRESETS = {
    "fsrcnn": dict(d=56, s=12, m=4),
    "fsrcnn-s": dict(d=32, s=5, m=1),
}

DECONV_KERNEL = 9
DECONV_PADDING = 4


def deconv_reach(kernel, padding, stride):
    """LR pixels a transposed convolution reaches beyond an output pixel's LR
    cell: output row o = i * stride - padding + k takes input rows i from
    (o + padding - kernel + 1) / stride to (o + padding) / stride."""
    worst = 0
    for offset in range(stride):  # where the output row sits in its LR cell
        low = math.ceil((offset + padding - kernel + 1) / stride)
        high = (offset + padding) // stride
        worst = max(worst, -low, high)
    return worst


class FSRCNN(SRNetwork):
    """FSRCNN(scale, d=56, s=12, m=4, n_colors=3).

    Args:
        scale: 2, 3 or 4 (the deconvolution's stride).
        d: feature maps of the extraction and expanding layers.
        s: feature maps of the shrunk mapping layers.
        m: mapping layers (0 or more).
        n_colors: image channels.
        normalization: input normalisation; images in [0, 1] as they are by default.
    """

    architecture = "fsrcnn"
    presets = PRESETS

    def __init__(self, scale, d=56, s=12, m=4, n_colors=3, normalization=None):
        shapes = self.parameter_shapes(scale, d=d, s=s, m=m, n_colors=n_colors)
        check_parameter_memory("FSRCNN", shapes)
        super().__init__(scale, n_colors, normalization or plain_normalization(int(n_colors)))
        self.d, self.s, self.m = int(d), int(s), int(m)
        c = self.n_colors
        self.feature, self.feature_act = Conv2d(c, self.d, 5), PReLU(self.d)
        self.shrink, self.shrink_act = Conv2d(self.d, self.s, 1), PReLU(self.s)
        self.mapping = [Conv2d(self.s, self.s, 3) for _ in range(self.m)]
        self.mapping_act = [PReLU(self.s) for _ in range(self.m)]
        self.expand, self.expand_act = Conv2d(self.s, self.d, 1), PReLU(self.d)
        self.deconv = ConvTranspose2d(self.d, c, DECONV_KERNEL, stride=self.scale, padding=DECONV_PADDING,
                                      output_padding=self.scale - 1)

    @classmethod
    def parameter_shapes(cls, scale, d=56, s=12, m=4, n_colors=3):
        cls.check_scale(scale)
        d = check_int("FSRCNN", "d", d, 1, MAX_FEATURES)
        s = check_int("FSRCNN", "s", s, 1, MAX_FEATURES)
        m = check_int("FSRCNN", "m", m, 0, MAX_BLOCKS)
        c = check_int("FSRCNN", "n_colors", n_colors, 1, MAX_COLORS)
        shapes = {}
        conv_shapes(shapes, "feature", d, c, 5)
        shapes["feature_act.weight"] = (d,)
        conv_shapes(shapes, "shrink", s, d, 1)
        shapes["shrink_act.weight"] = (s,)
        for i in range(m):
            conv_shapes(shapes, f"mapping.{i}", s, s, 3)
        for i in range(m):
            shapes[f"mapping_act.{i}.weight"] = (s,)
        conv_shapes(shapes, "expand", d, s, 1)
        shapes["expand_act.weight"] = (d,)
        shapes["deconv.weight"], shapes["deconv.bias"] = (d, c, DECONV_KERNEL, DECONV_KERNEL), (c,)
        return shapes


    def forward_raw(self, x):
        h = self.feature_act(self.feature(x))
        h = self.shrink_act(self.shrink(h))
        for conv, act in zip(self.mapping, self.mapping_act):
            h = act(conv(h))
        h = self.expand_act(self.expand(h))
        return self.deconv(h)

    @property
    def receptive_radius(self):
        return reach(5) + self.m * reach(3) + deconv_reach(DECONV_KERNEL, DECONV_PADDING, self.scale)

    def activation_floats_per_pixel(self):
        c, s2 = self.n_colors, self.scale ** 2
        # input copies + the widest layer's input and output (a PReLU makes a
        # second copy), then the deconvolution's output and the output copies
        return 2 * c + max(3 * self.d, 2 * self.s + self.d, self.d + 3 * c * s2)

    def arch_args(self):
        return dict(d=self.d, s=self.s, m=self.m, n_colors=self.n_colors)


# ------------------------------------------------------------ foreign layouts

def _plan_fsrcnn_pytorch(shapes, source, options):
    """yjn870's FSRCNN-pytorch: first_part.{0 conv 5x5, 1 PReLU(d)}, mid_part.{0 conv 1x1,
    1 PReLU(s)}, then per mapping layer mid_part.{2+2i conv 3x3, 3+2i PReLU(s)}, the
    expanding conv 1x1 and its PReLU(d) as the last two of mid_part, last_part the
    ConvTranspose2d (9x9, stride scale, padding 4, output_padding scale - 1). Y channel
    in [0, 1]. The deconvolution's shape does not depend on the stride: the scale is
    not in the file."""
    d, n_colors = foreign.shape(shapes, "first_part.0.weight", 4, source)[:2]
    s = foreign.shape(shapes, "mid_part.0.weight", 4, source)[0]
    entries = foreign.count(shapes, "mid_part.{}.weight")  # convolutions and PReLUs alike
    n_mid = 0
    while f"mid_part.{2 * n_mid}.weight" in shapes:
        n_mid += 1
    m = n_mid - 2  # less the shrinking and the expanding convs
    if entries != 2 * n_mid or m < 0:
        raise ValueError(f"{source}: mid_part of an FSRCNN-pytorch checkpoint must alternate convolution and "
                         f"PReLU from mid_part.0, with at least the shrinking and expanding pairs; found "
                         f"{entries} consecutive entries")
    mapping = {"feature": "first_part.0", "feature_act": "first_part.1", "shrink": "mid_part.0",
               "shrink_act": "mid_part.1", "expand": f"mid_part.{2 * m + 2}",
               "expand_act": f"mid_part.{2 * m + 3}", "deconv": "last_part"}
    for i in range(m):
        mapping[f"mapping.{i}"], mapping[f"mapping_act.{i}"] = f"mid_part.{2 + 2 * i}", f"mid_part.{3 + 2 * i}"
    return foreign.Plan(scale_option(options, source, "FSRCNN-pytorch"), dict(d=d, s=s, m=m, n_colors=n_colors),
                        mapping, normalization=lambda sd: plain_normalization(n_colors))


FSRCNN.foreign_layouts = (
    foreign.ForeignLayout(
        "fsrcnn-pytorch", "FSRCNN-pytorch (yjn870): first_part.{0,1}, mid_part.N (conv, PReLU pairs), last_part; "
        "needs scale=",
        lambda s: "first_part.1.weight" in s and "mid_part.0.weight" in s and "last_part.weight" in s,
        _plan_fsrcnn_pytorch),
)


__all__ = ["FSRCNN", "PRESETS"]
