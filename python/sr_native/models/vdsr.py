"""VDSR (Kim et al., "Accurate Image Super-Resolution Using Very Deep
Convolutional Networks", CVPR 2016), defined by its forward alone.

bicubic x scale -> conv 3x3 (n_feats) + ReLU -> (n_layers - 2) x [conv 3x3
(n_feats) + ReLU] -> conv 3x3 (n_colors), added to the bicubic image (the
network learns the residual). The paper's 20 layers of 64 maps by default,
with biases (the paper's Caffe model has them; some PyTorch re-implementations
drop them). Training gradients come from the tape (sr_native.autograd).
"""

import math
import re

from .. import autograd
from ..layers import Conv2d
from . import foreign
from .base import MAX_BLOCKS, MAX_COLORS, MAX_FEATURES, SRNetwork, check_int, check_parameter_memory
from .foreign import scale_option
from .srcnn import BICUBIC_REACH, plain_normalization

PRESETS = {"vdsr": dict(n_feats=64, n_layers=20)}


class VDSR(SRNetwork):
    """VDSR(scale, n_feats=64, n_layers=20, n_colors=3).

    Args:
        scale: 2, 3 or 4 (the bicubic pre-upsampling's factor).
        n_feats: feature maps of the hidden layers.
        n_layers: convolutions in all, at least 2.
        n_colors: image channels.
        normalization: input normalisation; images in [0, 1] as they are by default.
    """

    architecture = "vdsr"
    presets = PRESETS

    def __init__(self, scale, n_feats=64, n_layers=20, n_colors=3, normalization=None):
        shapes = self.parameter_shapes(scale, n_feats=n_feats, n_layers=n_layers, n_colors=n_colors)
        check_parameter_memory("VDSR", shapes)
        super().__init__(scale, n_colors, normalization or plain_normalization(int(n_colors)))
        self.n_feats, self.n_layers = int(n_feats), int(n_layers)
        self.head = Conv2d(self.n_colors, self.n_feats, 3)
        self.body = [Conv2d(self.n_feats, self.n_feats, 3) for _ in range(self.n_layers - 2)]
        self.tail = Conv2d(self.n_feats, self.n_colors, 3)

    @classmethod
    def parameter_shapes(cls, scale, n_feats=64, n_layers=20, n_colors=3):
        cls.check_scale(scale)
        f = check_int("VDSR", "n_feats", n_feats, 1, MAX_FEATURES)
        n = check_int("VDSR", "n_layers", n_layers, 2, MAX_BLOCKS)
        c = check_int("VDSR", "n_colors", n_colors, 1, MAX_COLORS)
        shapes = {"head.weight": (f, c, 3, 3), "head.bias": (f,)}
        for i in range(n - 2):
            shapes[f"body.{i}.weight"], shapes[f"body.{i}.bias"] = (f, f, 3, 3), (f,)
        shapes["tail.weight"], shapes["tail.bias"] = (c, f, 3, 3), (c,)
        return shapes


    def forward_raw(self, x):
        up = autograd.upsample_bicubic(x, self.scale)
        h = self.head(up, relu=True)
        for conv in self.body:
            h = conv(h, relu=True)
        return self.tail(h, residual=up)

    @property
    def receptive_radius(self):
        # Bicubic reaches 2 LR pixels; each 3x3 conv one HR pixel, 1/scale of
        # an LR pixel (tiling_overlap's 4x covers their Winograd rounding).
        return BICUBIC_REACH + math.ceil(self.n_layers / self.scale)

    def activation_floats_per_pixel(self):
        c, f = self.n_colors, self.n_feats
        # LR input copies; on the HR grid: the bicubic image (kept for the
        # residual), one layer's input and output, the output and its copy.
        return 2 * c + self.scale ** 2 * (c + max(2 * f, f + 3 * c))

    def arch_args(self):
        return dict(n_feats=self.n_feats, n_layers=self.n_layers, n_colors=self.n_colors)


# ------------------------------------------------------------ foreign layouts

# Its only keys: the BasicBlocks' convs and the two mean shifts.
_VDSR_EDSR_PYTORCH_KEY = re.compile(r"body\.\d+\.0\.(weight|bias)|(sub|add)_mean\.(weight|bias)")


def _plan_vdsr_edsr_pytorch(shapes, source, options):
    """EDSR-PyTorch's VDSR (src/model/vdsr.py): every conv in `body`, each a BasicBlock
    (conv with bias, ReLU but the last): body.0.0 (n_colors -> n_feats), body.{i}.0,
    body.{n-1}.0 (n_feats -> n_colors); n_layers = the body's length. It runs on the
    bicubic-upsampled image at rgb_range 255 with the mean shifted out and adds that
    input back: ours adds its own bicubic image, so the mean shift is the normalisation."""
    n_layers = foreign.count(shapes, "body.{}.0.weight")
    n_feats, n_colors = foreign.shape(shapes, "body.0.0.weight", 4, source)[:2]
    foreign.check_mean_shift_shapes(shapes, n_colors, source)
    scale = scale_option(options, source, "EDSR-PyTorch VDSR")  # it runs on pre-upsampled images
    mapping = {"head": "body.0.0", "tail": f"body.{n_layers - 1}.0"}
    for i in range(n_layers - 2):
        mapping[f"body.{i}"] = f"body.{i + 1}.0"
    return foreign.Plan(scale, dict(n_feats=n_feats, n_layers=n_layers, n_colors=n_colors), mapping,
                        foreign.MEAN_SHIFT_KEYS, lambda sd: foreign.mean_from_add_mean(sd, source))


VDSR.foreign_layouts = (
    foreign.ForeignLayout(
        "vdsr-edsr-pytorch", "EDSR-PyTorch VDSR: body.N.0 only (+ sub_mean/add_mean); needs scale=",
        lambda s: "body.0.0.weight" in s and all(_VDSR_EDSR_PYTORCH_KEY.fullmatch(k) for k in s),
        _plan_vdsr_edsr_pytorch),
)


__all__ = ["PRESETS", "VDSR"]
