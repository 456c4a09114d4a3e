"""A BTSRN-style network (Fan et al., "Balanced Two-Stage Residual Networks
for Image Super-Resolution", CVPR 2017 workshops), defined by its forward
alone.

Two stages of residual blocks, most of the work at low resolution:
conv 3x3 (n_feats) -> n_lr blocks on the LR grid -> per x2 (one x3)
upsampling = nearest-neighbour upsampling + a transposed convolution
(kernel = stride = factor), summed -> n_hr blocks on the HR grid -> ReLU ->
conv 3x3 (n_colors). Each block is the paper's two-layer projected
convolution, pre-activated: x + conv3x3(relu(conv1x1(relu(x)))), the 1x1
projecting n_feats to n_proj maps and the 3x3 back. The paper's balance,
6 LR and 4 HR blocks, by default. No batch norm (the paper drops it).
EDSR-PyTorch's normalisation (pixels 0-255, DIV2K mean subtracted).
Training gradients come from the tape (sr_native.autograd).
"""

from .. import autograd
from ..layers import Conv2d, ConvTranspose2d, Module
from .base import (MAX_BLOCKS, MAX_COLORS, MAX_FEATURES, Normalization, SRNetwork, check_int,
                   check_parameter_memory, conv_shapes)
from .edsr import upsample_factors

PRESETS = {"btsrn": dict(n_feats=64, n_proj=64, n_lr=6, n_hr=4)}


class ProjectedBlock(Module):
    """x + conv3x3(relu(conv1x1(relu(x))))."""

    def __init__(self, n_feats, n_proj):
        self.project = Conv2d(n_feats, n_proj, 1)
        self.filter = Conv2d(n_proj, n_feats, 3)

    def __call__(self, x):
        return self.filter(self.project(autograd.relu(x), relu=True), residual=x)


class BTSRN(SRNetwork):
    """BTSRN(scale, n_feats=64, n_proj=64, n_lr=6, n_hr=4, n_colors=3).

    Args:
        scale: 2, 3 or 4 (x4: two x2 upsamplings).
        n_feats: feature channels; n_proj: the blocks' projected channels.
        n_lr, n_hr: blocks before and after the upsampling.
        n_colors: image channels.
        normalization: input normalisation; EDSR-PyTorch's by default.
    """

    architecture = "btsrn"
    presets = PRESETS

    def __init__(self, scale, n_feats=64, n_proj=64, n_lr=6, n_hr=4, n_colors=3, normalization=None):
        shapes = self.parameter_shapes(scale, n_feats=n_feats, n_proj=n_proj, n_lr=n_lr, n_hr=n_hr,
                                       n_colors=n_colors)
        check_parameter_memory("BTSRN", shapes)
        super().__init__(scale, n_colors, normalization or Normalization(255.0, std=1.0))
        f, c = int(n_feats), self.n_colors
        self.n_feats, self.n_proj, self.n_lr, self.n_hr = f, int(n_proj), int(n_lr), int(n_hr)
        self.head = Conv2d(c, f, 3)
        self.lr_blocks = [ProjectedBlock(f, self.n_proj) for _ in range(self.n_lr)]
        self.upsample = [ConvTranspose2d(f, f, r, stride=r) for r in upsample_factors(self.scale)]
        self.hr_blocks = [ProjectedBlock(f, self.n_proj) for _ in range(self.n_hr)]
        self.tail = Conv2d(f, c, 3)

    @classmethod
    def parameter_shapes(cls, scale, n_feats=64, n_proj=64, n_lr=6, n_hr=4, n_colors=3):
        scale = cls.check_scale(scale)
        f = check_int("BTSRN", "n_feats", n_feats, 1, MAX_FEATURES)
        p = check_int("BTSRN", "n_proj", n_proj, 1, MAX_FEATURES)
        n_lr = check_int("BTSRN", "n_lr", n_lr, 0, MAX_BLOCKS)
        n_hr = check_int("BTSRN", "n_hr", n_hr, 0, MAX_BLOCKS)
        c = check_int("BTSRN", "n_colors", n_colors, 1, MAX_COLORS)
        shapes = {}
        conv_shapes(shapes, "head", f, c, 3)
        for i in range(n_lr):
            conv_shapes(shapes, f"lr_blocks.{i}.project", p, f, 1)
            conv_shapes(shapes, f"lr_blocks.{i}.filter", f, p, 3)
        for j, r in enumerate(upsample_factors(scale)):
            shapes[f"upsample.{j}.weight"], shapes[f"upsample.{j}.bias"] = (f, f, r, r), (f,)
        for i in range(n_hr):
            conv_shapes(shapes, f"hr_blocks.{i}.project", p, f, 1)
            conv_shapes(shapes, f"hr_blocks.{i}.filter", f, p, 3)
        conv_shapes(shapes, "tail", c, f, 3)
        return shapes


    def forward_raw(self, x):
        h = self.head(x)
        for block in self.lr_blocks:
            h = block(h)
        for deconv, factor in zip(self.upsample, upsample_factors(self.scale)):
            h = autograd.add(autograd.upsample_nearest(h, factor), deconv(h))
        for block in self.hr_blocks:
            h = block(h)
        return self.tail(autograd.relu(h))

    @property
    def receptive_radius(self):
        # head and one 3x3 per LR block; the upsampling reaches no neighbour;
        # the HR blocks' and the tail's 3x3s, on a finer grid, at most one LR
        # pixel each (counted in full: safe and simple).
        return 1 + self.n_lr + self.n_hr + 1

    def activation_floats_per_pixel(self):
        f, p, c, s2 = self.n_feats, self.n_proj, self.n_colors, self.scale ** 2
        # an HR block: input, its ReLU, the projection, the output; the
        # upsampling: nearest copy, deconvolution output, the sum
        return 2 * c + s2 * max(3 * f + p, 3 * f + 3 * c)

    def arch_args(self):
        return dict(n_feats=self.n_feats, n_proj=self.n_proj, n_lr=self.n_lr, n_hr=self.n_hr,
                    n_colors=self.n_colors)


__all__ = ["BTSRN", "PRESETS"]
