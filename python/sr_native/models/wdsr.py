"""WDSR (Yu et al., "Wide Activation for Efficient and Accurate Image
Super-Resolution", 2018), defined by its forward; trained through the tape.

head conv -> residual blocks with wide activation -> tail conv (to
scale*scale*n_colors channels) + pixel shuffle, summed with a skip branch
(5x5 conv on the input + pixel shuffle). Blocks:
  A: 3x3 expand to `expansion` x width (4 by default), ReLU, 3x3 back.
  B: 1x1 expand to `expansion` x width (6), ReLU, 1x1 linear low-rank to
     `linear` x width (0.8), 3x3 back.
Weight normalisation is a training-time reparameterisation: checkpoints that
carry weight_g / weight_v are folded into plain weights at load.
"""

import numpy as np

from .. import autograd, ops
from ..layers import Buffers, Conv2d, Module
from . import foreign
from .base import (DIV2K_MEAN, MAX_BLOCKS, MAX_COLORS, MAX_EXPANSION, MAX_FEATURES, Normalization, SRNetwork,
                   check_float, check_int, check_parameter_memory)


class BlockA(Module):
    def __init__(self, n_feats, expansion, res_scale):
        wide = n_feats * expansion
        self.conv1 = Conv2d(n_feats, wide, 3)
        self.conv2 = Conv2d(wide, n_feats, 3)
        self.res_scale = res_scale

    def __call__(self, x, buffers=None, out=None):
        buffers = buffers or Buffers.like(x)
        wide = self.conv1(x, relu=True, out=buffers.get("wide", self.conv1.output_shape(x)))
        return self.conv2(wide, residual=x, res_scale=self.res_scale, out=out)

    def definition(self, x):
        """x + res_scale * conv2(relu(conv1(x))) over the tape's layers."""
        return self.conv2(self.conv1(x, relu=True), residual=x, res_scale=self.res_scale)


class BlockB(Module):
    def __init__(self, n_feats, expansion, linear, res_scale):
        wide, low = n_feats * expansion, int(n_feats * linear)
        self.conv1 = Conv2d(n_feats, wide, 1)
        self.conv2 = Conv2d(wide, low, 1)
        self.conv3 = Conv2d(low, n_feats, 3)
        self.res_scale = res_scale

    def __call__(self, x, buffers=None, out=None):
        buffers = buffers or Buffers.like(x)
        # The 1x1 pair in one pass: the wide middle stays in cache (same bits
        # as conv2(relu(conv1(x)))).
        low = ops.conv1x1_pair(x, self.conv1.weight, self.conv1.bias, self.conv2.weight, self.conv2.bias,
                               out=buffers.get("low", (x.shape[0], self.conv2.out_channels) + x.shape[2:]))
        return self.conv3(low, residual=x, res_scale=self.res_scale, out=out)

    def definition(self, x):
        """x + res_scale * conv3(conv2(relu(conv1(x)))) over the tape's layers
        (__call__ computes the 1x1 pair fused, to the same bits)."""
        low = self.conv2(self.conv1(x, relu=True))
        return self.conv3(low, residual=x, res_scale=self.res_scale)


class WDSR(SRNetwork):
    """WDSR(scale, variant="a", n_feats=32, n_resblocks=16, expansion=None, linear=0.8,
    res_scale=1.0, n_colors=3).

    Args:
        scale: 2, 3 or 4.
        variant: "a" or "b" (block type, see the module docstring).
        n_feats: feature channels.
        n_resblocks: residual blocks.
        expansion: width multiplier inside a block; 4 for A, 6 for B by default.
        linear: low-rank width multiplier of B blocks.
        res_scale: residual scaling inside each block.
        n_colors: image channels.
        normalization: input normalisation; the WDSR authors' (x - mean) / 127.5 by default.
    """

    architecture = "wdsr"

    def __init__(self, scale, variant="a", n_feats=32, n_resblocks=16, expansion=None, linear=0.8,
                 res_scale=1.0, n_colors=3, normalization=None):
        shapes = self.parameter_shapes(scale, variant, n_feats=n_feats, n_resblocks=n_resblocks,
                                       expansion=expansion, linear=linear, res_scale=res_scale, n_colors=n_colors)
        check_parameter_memory("WDSR", shapes)
        super().__init__(scale, n_colors, normalization or Normalization(255.0, std=127.5))
        variant = variant.lower()
        self.variant = variant
        self.n_feats, self.n_resblocks = n_feats, n_resblocks = int(n_feats), int(n_resblocks)
        self.expansion = int(expansion if expansion is not None else (4 if variant == "a" else 6))
        self.linear, self.res_scale = float(linear), float(res_scale)
        n_colors = self.n_colors
        out = self.scale * self.scale * n_colors
        self.head = Conv2d(n_colors, n_feats, 3)
        if variant == "a":
            self.body = [BlockA(n_feats, self.expansion, self.res_scale) for _ in range(n_resblocks)]
        else:
            self.body = [BlockB(n_feats, self.expansion, self.linear, self.res_scale) for _ in range(n_resblocks)]
        self.tail = Conv2d(n_feats, out, 3)
        self.skip = Conv2d(n_colors, out, 5)

    @classmethod
    def parameter_shapes(cls, scale, variant="a", n_feats=32, n_resblocks=16, expansion=None, linear=0.8,
                         res_scale=1.0, n_colors=3):
        scale = cls.check_scale(scale)
        if not isinstance(variant, str):
            raise TypeError(f"WDSR: variant must be 'a' or 'b', got {type(variant).__name__} {variant!r}")
        variant = variant.lower()
        if variant not in ("a", "b"):
            raise ValueError(f"WDSR: variant must be 'a' or 'b', got {variant!r}")
        f = check_int("WDSR", "n_feats", n_feats, 1, MAX_FEATURES)
        n = check_int("WDSR", "n_resblocks", n_resblocks, 0, MAX_BLOCKS)
        c = check_int("WDSR", "n_colors", n_colors, 1, MAX_COLORS)
        e = 4 if variant == "a" else 6
        if expansion is not None:
            e = check_int("WDSR", "expansion", expansion, 1, MAX_EXPANSION)
        linear = check_float("WDSR", "linear", linear, positive=True)
        check_float("WDSR", "res_scale", res_scale)
        low = int(f * linear)
        if variant == "b" and not 1 <= low <= MAX_FEATURES:
            raise ValueError(f"WDSR: the low-rank width int(n_feats * linear) = int({f} * {linear!r}) = {low} "
                             f"must be from 1 to {MAX_FEATURES}")
        shapes = {}

        def conv(name, out, inp, k):
            shapes[name + ".weight"], shapes[name + ".bias"] = (out, inp, k, k), (out,)

        conv("head", f, c, 3)
        for i in range(n):
            if variant == "a":
                conv(f"body.{i}.conv1", f * e, f, 3)
                conv(f"body.{i}.conv2", f, f * e, 3)
            else:
                conv(f"body.{i}.conv1", f * e, f, 1)
                conv(f"body.{i}.conv2", low, f * e, 1)
                conv(f"body.{i}.conv3", f, low, 3)
        conv("tail", scale * scale * c, f, 3)
        conv("skip", scale * scale * c, c, 5)
        return shapes

    def init_skip_as_bicubic(self):
        """Start the network at bicubic upscaling: the 5x5 skip convolution
        becomes bicubic interpolation (Keys, a = -0.5) of each colour channel
        onto its scale x scale sub-pixel phases, and the tail is zeroed, so
        training only has to learn the residual. With a fresh tail and skip (an
        x3/x4 network started from an x2 body) the default initialisation
        starts from noise and spends its first thousand steps relearning
        interpolation. The normalisation is affine and the weights sum to 1,
        so the output equals bicubic's away from the borders (the convolution
        pads with zeros where resize repeats the edge). Call it on the CPU,
        before .to("cuda")."""
        if self.on_device != "cpu":
            raise ValueError("WDSR.init_skip_as_bicubic: call it before moving the network to the GPU")
        s, c = self.scale, self.n_colors
        w = np.zeros(self.skip.weight.shape, np.float32)
        taps = np.arange(5) - 2  # LR offsets the 5x5 window covers
        for i in range(s):
            # HR row y*s + i sits at LR row y + d (pixel centres aligned).
            d = (i + 0.5) / s - 0.5
            wi = _keys_cubic(d - taps)
            for j in range(s):
                wj = _keys_cubic((j + 0.5) / s - 0.5 - taps)
                for ch in range(c):
                    w[ch * s * s + i * s + j, ch] = np.outer(wi, wj)  # pixel shuffle's channel order
        self.skip.weight[...] = w
        self.skip.bias[...] = 0.0
        self.tail.weight[...] = 0.0
        self.tail.bias[...] = 0.0

    def forward_raw(self, x):
        buffers = self._buffers()  # kept between calls; only the output is a new array
        r = self.head(x, out=buffers.get("head", self.head.output_shape(x)))
        for block in self.body:
            block(r, buffers, out=r)  # in place: the head's output is not needed again
        # shuffle(a) + shuffle(b) == shuffle(a + b): add the skip branch in the
        # tail conv's epilogue and shuffle once.
        skip = self.skip(x, out=buffers.get("skip", self.skip.output_shape(x)))
        return ops.pixel_shuffle(self.tail(r, residual=skip, out=skip), self.scale)

    def forward_definition(self, x):
        """The network over the tape's layers: what training records (gradients
        from the kernels' backward functions, sr_native.autograd). forward_raw
        computes the same bits in place, with the B blocks' 1x1 pair fused."""
        r = self.head(x)
        for block in self.body:
            r = block.definition(r)
        return autograd.pixel_shuffle(self.tail(r, residual=self.skip(x)), self.scale)

    @property
    def receptive_radius(self):
        per_block = 2 if self.variant == "a" else 1  # B: two 1x1 convs and one 3x3
        return max(1 + per_block * self.n_resblocks + 1, 2)  # head, blocks, tail; the skip's 5x5 reaches 2

    def activation_floats_per_pixel(self):
        f, c, s2 = self.n_feats, self.n_colors, self.scale * self.scale
        block = f * (3 + self.expansion)  # block input, wide activation, low-rank/out, head copy
        tail = f + 4 * s2 * c  # tail input, skip output, tail output, shuffled, normalised
        return max(block, tail) + s2 * c  # the skip branch's output is computed once alongside

    def arch_args(self):
        return dict(variant=self.variant, n_feats=self.n_feats, n_resblocks=self.n_resblocks,
                    expansion=self.expansion, linear=self.linear, res_scale=self.res_scale,
                    n_colors=self.n_colors)


def _keys_cubic(t):
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's and our resize's bicubic)."""
    t = np.abs(np.asarray(t, np.float64))
    near = 1.5 * t**3 - 2.5 * t**2 + 1.0
    far = -0.5 * t**3 + 2.5 * t**2 - 4.0 * t + 2.0
    return np.where(t <= 1.0, near, np.where(t < 2.0, far, 0.0))


# ------------------------------------------------------------ foreign layouts

def _wdsr_block_key(shapes):
    """'body' in the authors' layout (body.N.body.M); 'module' in a renamed copy
    of it that some WDSR-B files use (body.N.module.M)."""
    return "module" if "body.0.module.0.weight" in shapes else "body"


def _plan_wdsr(shapes, source, options):
    """WDSR authors' code: head.0, body.{i}.body.{0,2} (A) or {0,2,3} (B), tail.0, skip.0,
    weight-normalised (folded before this sees the shapes); input (x - 255 * mean) / 127.5."""
    inner = _wdsr_block_key(shapes)
    n_blocks = foreign.count(shapes, "body.{}." + inner + ".0.weight")
    variant = "b" if f"body.0.{inner}.3.weight" in shapes else "a"
    n_feats, n_colors = foreign.shape(shapes, "head.0.weight", 4, source)[:2]
    expansion = foreign.shape(shapes, f"body.0.{inner}.0.weight", 4, source)[0] // n_feats if n_blocks else None
    linear = 0.8
    if variant == "b":  # the low-rank width is int(n_feats * linear); recover a linear that gives it
        low = foreign.shape(shapes, f"body.0.{inner}.2.weight", 4, source)[0]
        linear = 0.8 if int(n_feats * 0.8) == low else (low + 0.5) / n_feats
    out = foreign.shape(shapes, "skip.0.weight", 4, source)[0]
    scale = foreign.scale_from_channels(out, n_colors, source, "skip.0")
    res_scale = options.get("res_scale")
    args = dict(variant=variant, n_feats=n_feats, n_resblocks=n_blocks, expansion=expansion, linear=linear,
                res_scale=1.0 if res_scale is None else res_scale, n_colors=n_colors)
    mapping = {"head": "head.0", "tail": "tail.0", "skip": "skip.0"}
    convs = ["conv1", "conv2"] if variant == "a" else ["conv1", "conv2", "conv3"]
    for i in range(n_blocks):
        for ours, theirs in zip(convs, [0, 2] if variant == "a" else [0, 2, 3]):
            mapping[f"body.{i}.{ours}"] = f"body.{i}.{inner}.{theirs}"
    return foreign.Plan(scale, args, mapping,
                        normalization=lambda sd: Normalization(255.0, DIV2K_MEAN, 127.5))


WDSR.foreign_layouts = (
    foreign.ForeignLayout(
        "wdsr", "the WDSR authors': head.0, body.N.body.* (or body.N.module.*), tail.0, skip.0; weight-normalised or plain",
        lambda s: "skip.0.weight" in s and "head.0.weight" in s and "tail.0.weight" in s,
        _plan_wdsr),
)
