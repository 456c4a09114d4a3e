"""SRResNet (Ledig et al., "Photo-Realistic Single Image Super-Resolution
Using a Generative Adversarial Network", CVPR 2017: the generator of SRGAN,
trained alone with a pixel loss), defined by its forward alone.

conv 9x9 (64) + PReLU -> 16 residual blocks [conv 3x3, BN, PReLU, conv 3x3,
BN, + input] -> conv 3x3 + BN, + the first conv's output -> per x2 (one x3)
[conv 3x3 to 4 x 64 (9 x 64) maps, pixel shuffle, PReLU] -> conv 9x9
(n_colors). `batch_norm=False` drops every BN (as EDSR found better for
PSNR). PReLUs have one shared slope each (nn.PReLU()). Images in [0, 1],
no output tanh. In inference each BN is folded into its convolution.
Training gradients come from the tape (sr_native.autograd).
"""

import math

from .. import autograd
from ..layers import BatchNorm2d, Conv2d, Module, PReLU
from . import foreign
from .base import (MAX_BLOCKS, MAX_COLORS, MAX_FEATURES, SRNetwork, batch_norm_shapes, check_int,
                   check_parameter_memory, conv_shapes, reach)
from .edsr import upsample_factors
from .srcnn import plain_normalization

PRESETS = {
    "srresnet": dict(n_feats=64, n_blocks=16, batch_norm=True),
    "srresnet-nobn": dict(n_feats=64, n_blocks=16, batch_norm=False),
}


def conv_bn(conv, bn, x, *, residual=None):
    """bn(conv(x)) (+ residual), or conv(x) (+ residual) without batch norm."""
    if bn is None:
        return conv(x, residual=residual)
    return autograd.conv_batch_norm(conv, bn, x, residual=residual)


class ResidualBlock(Module):
    def __init__(self, n_feats, batch_norm):
        self.conv1 = Conv2d(n_feats, n_feats, 3)
        self.bn1 = BatchNorm2d(n_feats) if batch_norm else None
        self.act = PReLU(1)
        self.conv2 = Conv2d(n_feats, n_feats, 3)
        self.bn2 = BatchNorm2d(n_feats) if batch_norm else None

    def __call__(self, x):
        return conv_bn(self.conv2, self.bn2, self.act(conv_bn(self.conv1, self.bn1, x)), residual=x)


class SRResNet(SRNetwork):
    """SRResNet(scale, n_feats=64, n_blocks=16, batch_norm=True, n_colors=3).

    Args:
        scale: 2, 3 or 4 (x4: two x2 upsamplers, as the paper).
        n_feats: feature channels.
        n_blocks: residual blocks.
        batch_norm: batch norm after every body convolution (the paper's) or none.
        n_colors: image channels.
        normalization: input normalisation; images in [0, 1] as they are by default.
    """

    architecture = "srresnet"
    presets = PRESETS

    def __init__(self, scale, n_feats=64, n_blocks=16, batch_norm=True, n_colors=3, normalization=None):
        shapes = self.parameter_shapes(scale, n_feats=n_feats, n_blocks=n_blocks, batch_norm=batch_norm,
                                       n_colors=n_colors)
        check_parameter_memory("SRResNet", shapes)
        super().__init__(scale, n_colors, normalization or plain_normalization(int(n_colors)))
        f, c = int(n_feats), self.n_colors
        self.n_feats, self.n_blocks, self.batch_norm = f, int(n_blocks), bool(batch_norm)
        self.head, self.head_act = Conv2d(c, f, 9), PReLU(1)
        self.body = [ResidualBlock(f, self.batch_norm) for _ in range(self.n_blocks)]
        self.body_conv = Conv2d(f, f, 3)
        self.body_bn = BatchNorm2d(f) if self.batch_norm else None
        self.upsample = [Conv2d(f, r * r * f, 3) for r in upsample_factors(self.scale)]
        self.upsample_act = [PReLU(1) for _ in self.upsample]
        self.tail = Conv2d(f, c, 9)

    @classmethod
    def parameter_shapes(cls, scale, n_feats=64, n_blocks=16, batch_norm=True, n_colors=3):
        scale = cls.check_scale(scale)
        f = check_int("SRResNet", "n_feats", n_feats, 1, MAX_FEATURES)
        n = check_int("SRResNet", "n_blocks", n_blocks, 0, MAX_BLOCKS)
        c = check_int("SRResNet", "n_colors", n_colors, 1, MAX_COLORS)
        if not isinstance(batch_norm, bool):
            raise TypeError(f"SRResNet: batch_norm must be a bool (True or False), got {batch_norm!r}")
        shapes = {}
        conv_shapes(shapes, "head", f, c, 9)
        shapes["head_act.weight"] = (1,)
        for i in range(n):
            conv_shapes(shapes, f"body.{i}.conv1", f, f, 3)
            if batch_norm:
                batch_norm_shapes(shapes, f"body.{i}.bn1", f)
            shapes[f"body.{i}.act.weight"] = (1,)
            conv_shapes(shapes, f"body.{i}.conv2", f, f, 3)
            if batch_norm:
                batch_norm_shapes(shapes, f"body.{i}.bn2", f)
        conv_shapes(shapes, "body_conv", f, f, 3)
        if batch_norm:
            batch_norm_shapes(shapes, "body_bn", f)
        factors = upsample_factors(scale)
        for j, r in enumerate(factors):
            conv_shapes(shapes, f"upsample.{j}", r * r * f, f, 3)
        for j in range(len(factors)):
            shapes[f"upsample_act.{j}.weight"] = (1,)
        conv_shapes(shapes, "tail", c, f, 9)
        return shapes


    def forward_raw(self, x):
        h = self.head_act(self.head(x))
        r = h
        for block in self.body:
            r = block(r)
        r = conv_bn(self.body_conv, self.body_bn, r, residual=h)
        for conv, act, factor in zip(self.upsample, self.upsample_act, upsample_factors(self.scale)):
            r = act(autograd.pixel_shuffle(conv(r), factor))
        return self.tail(r)

    @property
    def receptive_radius(self):
        # head 9x9 and body on the LR grid; each upsampler conv and the 9x9
        # tail reach at most their width in LR pixels of a finer grid.
        return reach(9) + 2 * self.n_blocks + 1 + len(self.upsample) + math.ceil(reach(9) / self.scale)

    def activation_floats_per_pixel(self):
        f, c = self.n_feats, self.n_colors
        peak = 5 * f + 2 * c  # head output, block input, conv output, its PReLU copy, block output
        density = 1
        for r in upsample_factors(self.scale):
            peak = max(peak, density * (f + 3 * r * r * f))  # stage input, conv output, shuffled, PReLU
            density *= r * r
        return max(peak, density * (f + 3 * c))

    def arch_args(self):
        return dict(n_feats=self.n_feats, n_blocks=self.n_blocks, batch_norm=self.batch_norm,
                    n_colors=self.n_colors)


class ResidualBlockNoBN(Module):
    """MSRResNet's (and EDSR's) block: x + conv2(relu(conv1(x)))."""

    def __init__(self, n_feats):
        self.conv1 = Conv2d(n_feats, n_feats, 3)
        self.conv2 = Conv2d(n_feats, n_feats, 3)

    def __call__(self, x):
        return self.conv2(self.conv1(x, relu=True), residual=x)


MSRRESNET_SLOPE = 0.1  # LeakyReLU's negative slope throughout


class MSRResNet(SRNetwork):
    """MSRResNet(scale, num_feat=64, num_block=16, n_colors=3): BasicSR's modified
    SRResNet (basicsr/archs/srresnet_arch.py), a different network from SRResNet above.

    conv 3x3 (num_feat) + LeakyReLU 0.1 -> num_block residual blocks without batch
    norm [conv 3x3, ReLU, conv 3x3, + input] (no global skip) -> x2/x3: one
    [conv 3x3 to scale^2 x num_feat, pixel shuffle, LeakyReLU 0.1], x4: two x2 ones ->
    conv 3x3 + LeakyReLU 0.1 -> conv 3x3 (n_colors), + the input upscaled bilinearly
    (PyTorch's align_corners=False). Images in [0, 1] as they are. Key names are
    BasicSR's (conv_first, body.N.conv1, upconv1, upconv2, conv_hr, conv_last).
    Training gradients come from the tape (sr_native.autograd).

    Args:
        scale: 2, 3 or 4.
        num_feat: feature channels.
        num_block: residual blocks.
        n_colors: image channels.
        normalization: input normalisation; images in [0, 1] as they are by default.
    """

    architecture = "msrresnet"
    presets = {"msrresnet": dict(num_feat=64, num_block=16)}  # BasicSR's MSRResNet

    def __init__(self, scale, num_feat=64, num_block=16, n_colors=3, normalization=None):
        shapes = self.parameter_shapes(scale, num_feat=num_feat, num_block=num_block, n_colors=n_colors)
        check_parameter_memory("MSRResNet", shapes)
        super().__init__(scale, n_colors, normalization or plain_normalization(int(n_colors)))
        f, c = int(num_feat), self.n_colors
        self.num_feat, self.num_block = f, int(num_block)
        self.conv_first = Conv2d(c, f, 3)
        self.body = [ResidualBlockNoBN(f) for _ in range(self.num_block)]
        factors = upsample_factors(self.scale)
        self.upconv1 = Conv2d(f, factors[0] ** 2 * f, 3)
        self.upconv2 = Conv2d(f, 4 * f, 3) if len(factors) == 2 else None
        self.conv_hr = Conv2d(f, f, 3)
        self.conv_last = Conv2d(f, c, 3)

    @classmethod
    def parameter_shapes(cls, scale, num_feat=64, num_block=16, n_colors=3):
        scale = cls.check_scale(scale)
        f = check_int("MSRResNet", "num_feat", num_feat, 1, MAX_FEATURES)
        n = check_int("MSRResNet", "num_block", num_block, 0, MAX_BLOCKS)
        c = check_int("MSRResNet", "n_colors", n_colors, 1, MAX_COLORS)
        shapes = {}
        conv_shapes(shapes, "conv_first", f, c, 3)
        for i in range(n):
            conv_shapes(shapes, f"body.{i}.conv1", f, f, 3)
            conv_shapes(shapes, f"body.{i}.conv2", f, f, 3)
        factors = upsample_factors(scale)
        conv_shapes(shapes, "upconv1", factors[0] ** 2 * f, f, 3)
        if len(factors) == 2:
            conv_shapes(shapes, "upconv2", 4 * f, f, 3)
        conv_shapes(shapes, "conv_hr", f, f, 3)
        conv_shapes(shapes, "conv_last", c, f, 3)
        return shapes

    def forward_raw(self, x):
        r = autograd.leaky_relu(self.conv_first(x), MSRRESNET_SLOPE)
        for block in self.body:
            r = block(r)
        for conv, factor in zip((self.upconv1, self.upconv2), upsample_factors(self.scale)):
            r = autograd.leaky_relu(autograd.pixel_shuffle(conv(r), factor), MSRRESNET_SLOPE)
        r = autograd.leaky_relu(self.conv_hr(r), MSRRESNET_SLOPE)
        # Bilinear interpolation is affine, so the skip is the same in any
        # normalisation's domain.
        return self.conv_last(r, residual=autograd.upsample_input(x, self.scale, "bilinear"))

    @property
    def receptive_radius(self):
        # conv_first and the blocks on the LR grid; each upconv, conv_hr and
        # conv_last reach at most one LR pixel of a finer grid; bilinear one.
        return 1 + 2 * self.num_block + len(upsample_factors(self.scale)) + 2

    def activation_floats_per_pixel(self):
        f, c = self.num_feat, self.n_colors
        peak = 5 * f + 2 * c  # first conv output, its LeakyReLU, block input, conv1 output, block output
        density = 1
        for r in upsample_factors(self.scale):
            peak = max(peak, density * (f + 3 * r * r * f))  # stage input, conv output, shuffled, LeakyReLU
            density *= r * r
        return max(peak, density * (3 * f + 4 * c))  # conv_hr in/out/LeakyReLU, skip, output and its copies

    def arch_args(self):
        return dict(num_feat=self.num_feat, num_block=self.num_block, n_colors=self.n_colors)


# ------------------------------------------------------------ foreign layouts

def _plan_msrresnet_basicsr(shapes, source, options):
    """BasicSR's MSRResNet: our key names are its own; the sizes from the shapes and
    the scale from upconv1 (4 x num_feat: x2, or x4 with an upconv2; 9 x num_feat: x3)."""
    num_feat, n_colors = foreign.shape(shapes, "conv_first.weight", 4, source)[:2]
    num_block = foreign.count(shapes, "body.{}.conv1.weight")
    ups = [key for key in ("upconv1.weight", "upconv2.weight") if key in shapes]
    scale = foreign.shuffle_scale(shapes, ups, num_feat, source, "the upconv1/upconv2 upsampler")
    args = dict(num_feat=num_feat, num_block=num_block, n_colors=n_colors)
    layers = ["conv_first", "conv_hr", "conv_last"] + [key[:-len(".weight")] for key in ups]
    layers += [f"body.{i}.conv{j}" for i in range(num_block) for j in (1, 2)]
    mapping = {layer: layer for layer in layers}
    return foreign.Plan(scale, args, mapping)


MSRResNet.foreign_layouts = (
    foreign.ForeignLayout(
        "msrresnet-basicsr", "BasicSR MSRResNet: conv_first, body.N.conv{1,2}, upconv1 (upconv2), conv_hr, "
        "conv_last; under params(_ema)",
        lambda s: "conv_first.weight" in s and "upconv1.weight" in s and "conv_hr.weight" in s,
        _plan_msrresnet_basicsr),
)


__all__ = ["MSRResNet", "PRESETS", "SRResNet"]
