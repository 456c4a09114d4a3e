"""SRCNN (Dong et al., "Image Super-Resolution Using Deep Convolutional
Networks", ECCV 2014 / TPAMI 2016), defined by its forward alone.

bicubic x scale -> conv k1 (n1 maps) + ReLU -> conv k2 (n2 maps) + ReLU ->
conv k3 (n_colors). The paper's 9-1-5 with 64/32 maps by default; zero
"same" padding, so the output keeps the bicubic image's size (the variant
of the common PyTorch re-implementations, not the paper's valid
convolutions). Training gradients come from the tape (sr_native.autograd).
"""

import math


from .. import autograd
from ..layers import Conv2d
from . import foreign
from .base import (MAX_COLORS, MAX_FEATURES, Normalization, SRNetwork, check_int, check_parameter_memory)

PRESETS = {
    "srcnn": dict(n1=64, n2=32, k1=9, k2=1, k3=5),
    "srcnn-955": dict(n1=64, n2=32, k1=9, k2=5, k3=5),
}

# Taps of the bicubic pre-upsampling beyond an output pixel's LR cell.
BICUBIC_REACH = 2


def check_kernel(owner, name, k):
    """An odd kernel size from 1 to 9 (what conv2d takes)."""
    k = check_int(owner, name, k, 1, 9)
    if k % 2 == 0:
        raise ValueError(f"{owner}: {name} must be odd, got {k}")
    return k


def plain_normalization(n_colors):
    """Images in [0, 1] as they are (the convention of the PyTorch SRCNN/ESPCN/VDSR repositories)."""
    return Normalization(pixel_range=1.0, mean=(0.0,) * n_colors, std=1.0)


class SRCNN(SRNetwork):
    """SRCNN(scale, n1=64, n2=32, k1=9, k2=1, k3=5, n_colors=3).

    Args:
        scale: 2, 3 or 4 (the bicubic pre-upsampling's factor).
        n1, n2: feature maps of the first two layers.
        k1, k2, k3: their kernel sizes (odd, 1 to 9).
        n_colors: image channels.
        normalization: input normalisation; images in [0, 1] as they are by default.
    """

    architecture = "srcnn"
    presets = PRESETS

    def __init__(self, scale, n1=64, n2=32, k1=9, k2=1, k3=5, n_colors=3, normalization=None):
        shapes = self.parameter_shapes(scale, n1=n1, n2=n2, k1=k1, k2=k2, k3=k3, n_colors=n_colors)
        check_parameter_memory("SRCNN", shapes)
        super().__init__(scale, n_colors, normalization or plain_normalization(int(n_colors)))
        self.n1, self.n2, self.k1, self.k2, self.k3 = int(n1), int(n2), int(k1), int(k2), int(k3)
        self.conv1 = Conv2d(self.n_colors, self.n1, self.k1)
        self.conv2 = Conv2d(self.n1, self.n2, self.k2)
        self.conv3 = Conv2d(self.n2, self.n_colors, self.k3)

    @classmethod
    def parameter_shapes(cls, scale, n1=64, n2=32, k1=9, k2=1, k3=5, n_colors=3):
        cls.check_scale(scale)
        n1 = check_int("SRCNN", "n1", n1, 1, MAX_FEATURES)
        n2 = check_int("SRCNN", "n2", n2, 1, MAX_FEATURES)
        c = check_int("SRCNN", "n_colors", n_colors, 1, MAX_COLORS)
        k1, k2, k3 = (check_kernel("SRCNN", name, k) for name, k in (("k1", k1), ("k2", k2), ("k3", k3)))
        return {"conv1.weight": (n1, c, k1, k1), "conv1.bias": (n1,),
                "conv2.weight": (n2, n1, k2, k2), "conv2.bias": (n2,),
                "conv3.weight": (c, n2, k3, k3), "conv3.bias": (c,)}


    def forward_raw(self, x):
        x = autograd.upsample_bicubic(x, self.scale)
        x = self.conv1(x, relu=True)
        x = self.conv2(x, relu=True)
        return self.conv3(x)

    @property
    def receptive_radius(self):
        # Bicubic reaches 2 LR pixels; the convs run on the HR grid, where
        # their reach counts 1/scale LR pixel per HR pixel. No layer is 3x3 by
        # default (no Winograd rounding spread); a 3x3 one counts 1, as in EDSR.
        hr_reach = sum(max(k // 2, 1 if k == 3 else 0) for k in (self.k1, self.k2, self.k3))
        return BICUBIC_REACH + math.ceil(hr_reach / self.scale)

    def activation_floats_per_pixel(self):
        c, s2 = self.n_colors, self.scale ** 2
        # upsampled input + conv1 out, conv1 out + conv2 out, conv2 out + output and its copies
        return 2 * c + s2 * (max(c + self.n1, self.n1 + self.n2, self.n2 + 3 * c) + c)

    def arch_args(self):
        return dict(n1=self.n1, n2=self.n2, k1=self.k1, k2=self.k2, k3=self.k3, n_colors=self.n_colors)


# ------------------------------------------------------------ foreign layouts

def _plan_srcnn_pytorch(shapes, source, options):
    """yjn870's SRCNN-pytorch: conv1 (9x9, 64), conv2 (5x5, 32), conv3 (5x5), "same"
    padding, ReLUs, on the bicubic-upsampled Y channel in [0, 1]: our key names; the
    widths and kernel sizes are read from the shapes, the scale is not in the file."""
    n1, n_colors, k1 = foreign.shape(shapes, "conv1.weight", 4, source)[:3]
    n2, _, k2 = foreign.shape(shapes, "conv2.weight", 4, source)[:3]
    k3 = foreign.shape(shapes, "conv3.weight", 4, source)[2]
    args = dict(n1=n1, n2=n2, k1=k1, k2=k2, k3=k3, n_colors=n_colors)
    return foreign.Plan(foreign.scale_option(options, source, "SRCNN-pytorch"), args,
                        {name: name for name in ("conv1", "conv2", "conv3")},
                        normalization=lambda sd: plain_normalization(n_colors))


SRCNN.foreign_layouts = (
    foreign.ForeignLayout(
        "srcnn-pytorch", "SRCNN-pytorch (yjn870): exactly conv1, conv2, conv3; needs scale=",
        lambda s: set(s) == {f"conv{i}.{leaf}" for i in (1, 2, 3) for leaf in ("weight", "bias")},
        _plan_srcnn_pytorch),
)


__all__ = ["PRESETS", "SRCNN"]
