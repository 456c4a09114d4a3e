"""PAN (Zhao et al., "Efficient Image Super-Resolution Using Pixel
Attention", ECCV 2020 workshops), defined by its forward alone.

conv 3x3 (nf) -> n_blocks SC-PA blocks -> conv 3x3, + the first conv's
output -> per x2 (one x3) [nearest upsampling, conv 3x3 (unf), pixel
attention, LeakyReLU 0.2, conv 3x3 (unf), LeakyReLU 0.2] -> conv 3x3
(n_colors), + the input upscaled bilinearly (PyTorch's align_corners=False).

SC-PA block (self-calibrated convolution with pixel attention), with
half-width branches g = nf // 2, all convolutions without bias:
  a = lrelu(conv3x3(lrelu(conv1x1_a(x))))
  b = lrelu(PAConv(lrelu(conv1x1_b(x)))),  PAConv(t) = conv3x3(conv3x3(t) * sigmoid(conv1x1(t)))
  out = conv1x1(concat(a, b)) + x        (PAConv's 1x1 gate has a bias)
Pixel attention: x * sigmoid(conv1x1(x)). The paper's x2/x3/x4 model: nf 40,
unf 24, 16 blocks (about 0.26 M parameters). Images in [0, 1] as they are.
Training gradients come from the tape (sr_native.autograd).
"""

import math

from .. import autograd
from ..layers import Conv2d, Module
from .base import (MAX_BLOCKS, MAX_COLORS, MAX_FEATURES, SRNetwork, check_int, check_parameter_memory,
                   conv_shapes)
from .edsr import upsample_factors
from .srcnn import plain_normalization

PRESETS = {"pan": dict(nf=40, unf=24, n_blocks=16)}

SLOPE = 0.2  # LeakyReLU's negative slope throughout


def lrelu(x):
    return autograd.leaky_relu(x, SLOPE)


class SCPA(Module):
    def __init__(self, nf):
        g = nf // 2
        self.conv1_a = Conv2d(nf, g, 1, bias=False)
        self.conv1_b = Conv2d(nf, g, 1, bias=False)
        self.k1 = Conv2d(g, g, 3, bias=False)
        self.pa_gate = Conv2d(g, g, 1)
        self.pa_conv = Conv2d(g, g, 3, bias=False)
        self.pa_out = Conv2d(g, g, 3, bias=False)
        self.conv3 = Conv2d(2 * g, nf, 1, bias=False)

    def __call__(self, x):
        a = lrelu(self.k1(lrelu(self.conv1_a(x))))
        b = lrelu(self.conv1_b(x))
        b = self.pa_out(autograd.pixel_gate(self.pa_conv(b), autograd.sigmoid(self.pa_gate(b))))
        return self.conv3(autograd.concat(a, lrelu(b)), residual=x)


class PixelAttention(Module):
    def __init__(self, n):
        self.conv = Conv2d(n, n, 1)

    def __call__(self, x):
        return autograd.pixel_gate(x, autograd.sigmoid(self.conv(x)))


class Upsampler(Module):
    """nearest x factor -> conv 3x3 -> pixel attention -> lrelu -> conv 3x3 -> lrelu."""

    def __init__(self, n_in, unf):
        self.conv = Conv2d(n_in, unf, 3)
        self.attention = PixelAttention(unf)
        self.hr_conv = Conv2d(unf, unf, 3)

    def __call__(self, x, factor):
        h = self.conv(autograd.upsample_nearest(x, factor))
        return lrelu(self.hr_conv(lrelu(self.attention(h))))


class PAN(SRNetwork):
    """PAN(scale, nf=40, unf=24, n_blocks=16, n_colors=3).

    Args:
        scale: 2, 3 or 4 (x4: two x2 upsamplers).
        nf: feature channels of the trunk (even: the SC-PA branches take half each).
        unf: feature channels of the upsamplers.
        n_blocks: SC-PA blocks.
        n_colors: image channels.
        normalization: input normalisation; images in [0, 1] as they are by default.
    """

    architecture = "pan"
    presets = PRESETS

    def __init__(self, scale, nf=40, unf=24, n_blocks=16, n_colors=3, normalization=None):
        shapes = self.parameter_shapes(scale, nf=nf, unf=unf, n_blocks=n_blocks, n_colors=n_colors)
        check_parameter_memory("PAN", shapes)
        super().__init__(scale, n_colors, normalization or plain_normalization(int(n_colors)))
        self.nf, self.unf, self.n_blocks = int(nf), int(unf), int(n_blocks)
        c = self.n_colors
        self.head = Conv2d(c, self.nf, 3)
        self.body = [SCPA(self.nf) for _ in range(self.n_blocks)]
        self.body_conv = Conv2d(self.nf, self.nf, 3)
        factors = upsample_factors(self.scale)
        self.upsample = [Upsampler(self.nf if j == 0 else self.unf, self.unf) for j in range(len(factors))]
        self.tail = Conv2d(self.unf, c, 3)

    @classmethod
    def parameter_shapes(cls, scale, nf=40, unf=24, n_blocks=16, n_colors=3):
        scale = cls.check_scale(scale)
        nf = check_int("PAN", "nf", nf, 2, MAX_FEATURES)
        if nf % 2:
            raise ValueError(f"PAN: nf must be even (the SC-PA branches take half each), got {nf}")
        unf = check_int("PAN", "unf", unf, 1, MAX_FEATURES)
        n = check_int("PAN", "n_blocks", n_blocks, 0, MAX_BLOCKS)
        c = check_int("PAN", "n_colors", n_colors, 1, MAX_COLORS)
        g = nf // 2
        shapes = {}
        conv_shapes(shapes, "head", nf, c, 3)
        for i in range(n):
            name = f"body.{i}."
            conv_shapes(shapes, name + "conv1_a", g, nf, 1, bias=False)
            conv_shapes(shapes, name + "conv1_b", g, nf, 1, bias=False)
            conv_shapes(shapes, name + "k1", g, g, 3, bias=False)
            conv_shapes(shapes, name + "pa_gate", g, g, 1)
            conv_shapes(shapes, name + "pa_conv", g, g, 3, bias=False)
            conv_shapes(shapes, name + "pa_out", g, g, 3, bias=False)
            conv_shapes(shapes, name + "conv3", nf, 2 * g, 1, bias=False)
        conv_shapes(shapes, "body_conv", nf, nf, 3)
        for j in range(len(upsample_factors(scale))):
            conv_shapes(shapes, f"upsample.{j}.conv", unf, nf if j == 0 else unf, 3)
            conv_shapes(shapes, f"upsample.{j}.attention.conv", unf, unf, 1)
            conv_shapes(shapes, f"upsample.{j}.hr_conv", unf, unf, 3)
        conv_shapes(shapes, "tail", c, unf, 3)
        return shapes


    def forward_raw(self, x):
        h = self.head(x)
        r = h
        for block in self.body:
            r = block(r)
        r = self.body_conv(r, residual=h)
        for up, factor in zip(self.upsample, upsample_factors(self.scale)):
            r = up(r, factor)
        # The bilinear skip works on [0, 1] pixels; with the default plain
        # normalisation the network's domain is exactly that.
        return self.tail(r, residual=autograd.upsample_input(x, self.scale, "bilinear"))

    @property
    def receptive_radius(self):
        # head, two 3x3 per block (k1 / pa_conv + pa_out), body conv on the LR
        # grid; two 3x3 per upsampler and the tail on finer grids (1 LR pixel
        # each at most); bilinear reaches 1 LR pixel.
        return 1 + 2 * self.n_blocks + 1 + 2 * len(self.upsample) + 1 + 1

    def activation_floats_per_pixel(self):
        nf, unf, c = self.nf, self.unf, self.n_colors
        peak = 6 * nf + 2 * c  # head output, block input, branch activations and the concatenation
        density = 1
        for r in upsample_factors(self.scale):
            density *= r * r
            peak = max(peak, density * 5 * unf)  # upsampled input, conv, gate, gated, activation
        return max(peak, density * (unf + 4 * c))

    def arch_args(self):
        return dict(nf=self.nf, unf=self.unf, n_blocks=self.n_blocks, n_colors=self.n_colors)


__all__ = ["PAN", "PRESETS"]
