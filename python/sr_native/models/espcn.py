"""ESPCN (Shi et al., "Real-Time Single Image and Video Super-Resolution
Using an Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016),
defined by its forward alone.

On the LR image: conv k1 (n1 maps) + tanh -> conv k2 (n2 maps) + tanh ->
conv k3 (n_colors * scale^2) -> pixel shuffle (PyTorch's channel order).
The paper's 5-3-3 with 64/32 maps by default. Training gradients come from
the tape (sr_native.autograd).
"""

from .. import autograd
from ..layers import Conv2d
from . import foreign
from .base import MAX_COLORS, MAX_FEATURES, SRNetwork, check_int, check_parameter_memory
from .srcnn import check_kernel, plain_normalization

PRESETS = {"espcn": dict(n1=64, n2=32, k1=5, k2=3, k3=3)}


class ESPCN(SRNetwork):
    """ESPCN(scale, n1=64, n2=32, k1=5, k2=3, k3=3, n_colors=3).

    Args:
        scale: 2, 3 or 4 (the pixel shuffle's factor).
        n1, n2: feature maps of the first two layers.
        k1, k2, k3: kernel sizes (odd, 1 to 9).
        n_colors: image channels.
        normalization: input normalisation; images in [0, 1] as they are by default.
    """

    architecture = "espcn"
    presets = PRESETS

    def __init__(self, scale, n1=64, n2=32, k1=5, k2=3, k3=3, n_colors=3, normalization=None):
        shapes = self.parameter_shapes(scale, n1=n1, n2=n2, k1=k1, k2=k2, k3=k3, n_colors=n_colors)
        check_parameter_memory("ESPCN", shapes)
        super().__init__(scale, n_colors, normalization or plain_normalization(int(n_colors)))
        self.n1, self.n2, self.k1, self.k2, self.k3 = int(n1), int(n2), int(k1), int(k2), int(k3)
        self.conv1 = Conv2d(self.n_colors, self.n1, self.k1)
        self.conv2 = Conv2d(self.n1, self.n2, self.k2)
        self.conv3 = Conv2d(self.n2, self.n_colors * self.scale ** 2, self.k3)

    @classmethod
    def parameter_shapes(cls, scale, n1=64, n2=32, k1=5, k2=3, k3=3, n_colors=3):
        scale = cls.check_scale(scale)
        n1 = check_int("ESPCN", "n1", n1, 1, MAX_FEATURES)
        n2 = check_int("ESPCN", "n2", n2, 1, MAX_FEATURES)
        c = check_int("ESPCN", "n_colors", n_colors, 1, MAX_COLORS)
        k1, k2, k3 = (check_kernel("ESPCN", name, k) for name, k in (("k1", k1), ("k2", k2), ("k3", k3)))
        out = c * scale * scale
        return {"conv1.weight": (n1, c, k1, k1), "conv1.bias": (n1,),
                "conv2.weight": (n2, n1, k2, k2), "conv2.bias": (n2,),
                "conv3.weight": (out, n2, k3, k3), "conv3.bias": (out,)}


    def forward_raw(self, x):
        x = autograd.tanh(self.conv1(x))
        x = autograd.tanh(self.conv2(x))
        return autograd.pixel_shuffle(self.conv3(x), self.scale)

    @property
    def receptive_radius(self):
        # All three convs on the LR grid; a 3x3 counts 1 (tiling_overlap's 4x
        # covers its Winograd rounding), a larger one its half width.
        return sum(max(k // 2, 1 if k == 3 else 0) for k in (self.k1, self.k2, self.k3))

    def activation_floats_per_pixel(self):
        c, s2 = self.n_colors, self.scale ** 2
        # input copies + conv1 out (+ its tanh), conv2 out + tanh, conv3 out + shuffle + output copies
        return 2 * c + max(2 * self.n1, self.n1 + 2 * self.n2, self.n2 + 4 * c * s2)

    def arch_args(self):
        return dict(n1=self.n1, n2=self.n2, k1=self.k1, k2=self.k2, k3=self.k3, n_colors=self.n_colors)


# ------------------------------------------------------------ foreign layouts

def _plan_espcn_pytorch(shapes, source, options):
    """yjn870's ESPCN-pytorch: first_part.{0 conv 5x5 (64), 1 tanh, 2 conv 3x3 (32), 3 tanh},
    last_part.{0 conv 3x3 to n_colors * scale^2, 1 pixel shuffle}; Y channel in [0, 1].
    The scale from last_part.0's output channels."""
    n1, n_colors, k1 = foreign.shape(shapes, "first_part.0.weight", 4, source)[:3]
    n2, _, k2 = foreign.shape(shapes, "first_part.2.weight", 4, source)[:3]
    out, _, k3 = foreign.shape(shapes, "last_part.0.weight", 4, source)[:3]
    scale = foreign.scale_from_channels(out, n_colors, source, "last_part.0")
    mapping = {"conv1": "first_part.0", "conv2": "first_part.2", "conv3": "last_part.0"}
    return foreign.Plan(scale, dict(n1=n1, n2=n2, k1=k1, k2=k2, k3=k3, n_colors=n_colors), mapping,
                        normalization=lambda sd: plain_normalization(n_colors))


ESPCN.foreign_layouts = (
    foreign.ForeignLayout(
        "espcn-pytorch", "ESPCN-pytorch (yjn870): first_part.{0,2}, last_part.0",
        lambda s: "first_part.0.weight" in s and "first_part.2.weight" in s and "last_part.0.weight" in s,
        _plan_espcn_pytorch),
)


__all__ = ["ESPCN", "PRESETS"]
