"""EDSR (Lim et al., CVPR 2017 workshops), defined by its forward; trained through the tape.

head conv -> residual blocks (conv-ReLU-conv, scaled by res_scale, added)
-> body conv with the global skip from the head -> upsampler (conv + pixel
shuffle; x4 as two x2 stages) -> tail conv. All convs 3x3.
"""

from .. import autograd, ops
from ..layers import Buffers, Conv2d, Module
from . import foreign
from .base import (MAX_BLOCKS, MAX_COLORS, MAX_FEATURES, Normalization, SRNetwork, check_float, check_int,
                   check_parameter_memory)

PRESETS = {
    "edsr-baseline": dict(n_feats=64, n_resblocks=16, res_scale=1.0),
    "edsr": dict(n_feats=256, n_resblocks=32, res_scale=0.1),
}


class ResBlock(Module):
    def __init__(self, n_feats, res_scale):
        self.conv1 = Conv2d(n_feats, n_feats, 3)
        self.conv2 = Conv2d(n_feats, n_feats, 3)
        self.res_scale = res_scale

    def __call__(self, x, buffers=None, out=None):
        """x + res_scale * conv2(relu(conv1(x))); out may be x itself (in place)."""
        buffers = buffers or Buffers.like(x)
        t = self.conv1(x, relu=True, out=buffers.get("block", self.conv1.output_shape(x)))
        return self.conv2(t, residual=x, res_scale=self.res_scale, out=out)



def upsample_factors(scale):
    """x2 -> [2], x3 -> [3], x4 -> [2, 2]: one conv + pixel shuffle per factor."""
    return [2, 2] if scale == 4 else [scale]


class EDSR(SRNetwork):
    """EDSR(scale, n_feats=64, n_resblocks=16, res_scale=1.0, n_colors=3).

    Args:
        scale: 2, 3 or 4.
        n_feats: feature channels.
        n_resblocks: residual blocks.
        res_scale: residual scaling inside each block (0.1 for the full EDSR).
        n_colors: image channels.
        normalization: input normalisation; EDSR-PyTorch's by default.
    """

    architecture = "edsr"
    presets = PRESETS

    def __init__(self, scale, n_feats=64, n_resblocks=16, res_scale=1.0, n_colors=3, normalization=None):
        shapes = self.parameter_shapes(scale, n_feats=n_feats, n_resblocks=n_resblocks, res_scale=res_scale,
                                       n_colors=n_colors)
        check_parameter_memory("EDSR", shapes)
        super().__init__(scale, n_colors, normalization or Normalization(255.0, std=1.0))
        n_feats, n_colors = int(n_feats), self.n_colors
        self.n_feats, self.n_resblocks, self.res_scale = n_feats, int(n_resblocks), float(res_scale)
        self.head = Conv2d(n_colors, n_feats, 3)
        self.body = [ResBlock(n_feats, self.res_scale) for _ in range(self.n_resblocks)]
        self.body_conv = Conv2d(n_feats, n_feats, 3)
        self.upsample = [Conv2d(n_feats, r * r * n_feats, 3) for r in upsample_factors(self.scale)]
        self.tail = Conv2d(n_feats, n_colors, 3)

    @classmethod
    def parameter_shapes(cls, scale, n_feats=64, n_resblocks=16, res_scale=1.0, n_colors=3):
        scale = cls.check_scale(scale)
        f = check_int("EDSR", "n_feats", n_feats, 1, MAX_FEATURES)
        n = check_int("EDSR", "n_resblocks", n_resblocks, 0, MAX_BLOCKS)
        c = check_int("EDSR", "n_colors", n_colors, 1, MAX_COLORS)
        check_float("EDSR", "res_scale", res_scale)
        shapes = {}

        def conv(name, out, inp):
            shapes[name + ".weight"], shapes[name + ".bias"] = (out, inp, 3, 3), (out,)

        conv("head", f, c)
        for i in range(n):
            conv(f"body.{i}.conv1", f, f)
            conv(f"body.{i}.conv2", f, f)
        conv("body_conv", f, f)
        for j, r in enumerate(upsample_factors(scale)):
            conv(f"upsample.{j}", r * r * f, f)
        conv("tail", c, f)
        return shapes


    def forward_raw(self, x):
        # Every activation lives in this thread's kept buffers; only the
        # output is a new array.
        buffers = self._buffers()
        h = self.head(x, out=buffers.get("head", self.head.output_shape(x)))
        if self.body:
            # First block writes the body buffer (h is kept for the global skip),
            # the rest update it in place; the body conv adds into h.
            r = self.body[0](h, buffers, out=buffers.get("body", h.shape))
            for block in self.body[1:]:
                block(r, buffers, out=r)
            r = self.body_conv(r, residual=h, out=h)
        else:
            r = self.body_conv(h, residual=h, out=buffers.get("body", h.shape))
        for i, (conv, factor) in enumerate(zip(self.upsample, upsample_factors(self.scale))):
            t = conv(r, out=buffers.get(f"upsample.{i}", conv.output_shape(r)))
            n, c, hh, ww = t.shape
            r = ops.pixel_shuffle(t, factor, out=buffers.get(f"shuffled.{i}", (n, c // factor**2, hh * factor,
                                                                                  ww * factor)))
        return self.tail(r)

    def forward_definition(self, x):
        """The network, over the tape's layers: what training records
        (gradients from the kernels' backward functions, sr_native.autograd).
        forward_raw above computes exactly this (the same kernels in the same
        order, bit for bit) with in-place buffers: about a fifth less memory
        in inference."""
        h = self.head(x)
        r = h
        for block in self.body:
            t = block.conv1(r, relu=True)
            r = block.conv2(t, residual=r, res_scale=block.res_scale)
        r = self.body_conv(r, residual=h)
        for conv, factor in zip(self.upsample, upsample_factors(self.scale)):
            r = autograd.pixel_shuffle(conv(r), factor)
        return self.tail(r)

    @property
    def receptive_radius(self):
        # Each 3x3 conv reaches one pixel further: head, two per block, body conv,
        # each upsampler conv and the tail. Convs after an upsampling reach one
        # pixel of a finer grid, at most one LR pixel, so counting 1 is safe.
        return 1 + 2 * self.n_resblocks + 1 + len(self.upsample) + 1

    def activation_floats_per_pixel(self):
        f, c = self.n_feats, self.n_colors
        peak = 4 * f + 2 * c  # in a block: head output, block input, conv1 output, conv2 output
        density = 1  # output pixels per input pixel before this stage
        for r in upsample_factors(self.scale):
            peak = max(peak, density * (f + 2 * r * r * f))  # stage input, conv output, shuffled copy
            density *= r * r
        return max(peak, density * (f + 3 * c))  # tail input, output, normalised copies

    def arch_args(self):
        return dict(n_feats=self.n_feats, n_resblocks=self.n_resblocks, res_scale=self.res_scale,
                    n_colors=self.n_colors)


# ------------------------------------------------------------ foreign layouts

def _edsr_res_scale(options, n_feats):
    res_scale = options.get("res_scale")
    return (0.1 if n_feats == 256 else 1.0) if res_scale is None else res_scale  # EDSR's published choice


def _plan_edsr_pytorch(shapes, source, options):
    """EDSR-PyTorch (thstkdgus35): head.0, body.{i}.body.{0,2}, body.{n}, tail.0.{0,2}, tail.1,
    sub_mean/add_mean 1x1 convs with rgb_range 255."""
    n_blocks = foreign.count(shapes, "body.{}.body.0.weight")
    n_feats, n_colors = foreign.shape(shapes, "head.0.weight", 4, source)[:2]
    ups = [k for k in sorted(shapes) if k.startswith("tail.0.") and k.endswith(".weight")]
    scale = foreign.shuffle_scale(shapes, ups, n_feats, source, "upsampler 'tail.0.'")
    foreign.check_mean_shift_shapes(shapes, n_colors, source)
    mapping = {"head": "head.0", "body_conv": f"body.{n_blocks}", "tail": "tail.1"}
    for i in range(n_blocks):
        mapping[f"body.{i}.conv1"], mapping[f"body.{i}.conv2"] = f"body.{i}.body.0", f"body.{i}.body.2"
    for j in range(len(ups)):
        mapping[f"upsample.{j}"] = f"tail.0.{2 * j}"
    args = dict(n_feats=n_feats, n_resblocks=n_blocks, res_scale=_edsr_res_scale(options, n_feats), n_colors=n_colors)
    return foreign.Plan(scale, args, mapping, foreign.MEAN_SHIFT_KEYS,
                        lambda sd: foreign.mean_from_add_mean(sd, source))


def _plan_basicsr_edsr(shapes, source, options):
    """BasicSR EDSR: conv_first, body.{i}.conv{1,2}, conv_after_body, upsample.{0,2}, conv_last;
    img_range 255 and DIV2K mean, EDSR-PyTorch's normalisation."""
    n_blocks = foreign.count(shapes, "body.{}.conv1.weight")
    n_feats, n_colors = foreign.shape(shapes, "conv_first.weight", 4, source)[:2]
    ups = [k for k in sorted(shapes) if k.startswith("upsample.") and k.endswith(".weight")]
    scale = foreign.shuffle_scale(shapes, ups, n_feats, source, "upsampler 'upsample.'")
    mapping = {"head": "conv_first", "body_conv": "conv_after_body", "tail": "conv_last"}
    for i in range(n_blocks):
        mapping[f"body.{i}.conv1"], mapping[f"body.{i}.conv2"] = f"body.{i}.conv1", f"body.{i}.conv2"
    for j in range(len(ups)):
        mapping[f"upsample.{j}"] = f"upsample.{2 * j}"
    args = dict(n_feats=n_feats, n_resblocks=n_blocks, res_scale=_edsr_res_scale(options, n_feats), n_colors=n_colors)
    return foreign.Plan(scale, args, mapping)


EDSR.foreign_layouts = (
    foreign.ForeignLayout(
        "edsr-pytorch", "EDSR-PyTorch EDSR: head.0, body.N.body.{0,2}, tail.0.*, tail.1",
        lambda s: "head.0.weight" in s and "body.0.body.0.weight" in s and "body.0.body.0.body.0.weight" not in s
        and "skip.0.weight" not in s and "body.0.body.3.weight" not in s,
        _plan_edsr_pytorch),
    foreign.ForeignLayout(
        "basicsr", "BasicSR EDSR: conv_first, body.N.conv{1,2}, conv_after_body, upsample.*, conv_last; under params(_ema)",
        lambda s: "conv_first.weight" in s and "conv_after_body.weight" in s and "body.0.conv1.weight" in s
        and "upsample.0.weight" in s,
        _plan_basicsr_edsr),
)
