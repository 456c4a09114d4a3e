"""RCAN (Zhang et al., "Image Super-Resolution Using Very Deep Residual
Channel Attention Networks", ECCV 2018), defined by its forward alone.

head conv 3x3 -> n_resgroups residual groups -> conv 3x3, + the head's
output -> EDSR's upsampler (conv + pixel shuffle per x2, one x3) -> conv 3x3.
A residual group: n_resblocks channel-attention blocks (RCAB) -> conv 3x3,
+ the group's input. An RCAB: conv 3x3 + ReLU -> conv 3x3 -> channel
attention -> + the block's input. Channel attention: global average pool ->
conv 1x1 (C / reduction) + ReLU -> conv 1x1 (C) -> sigmoid -> each channel
scaled by its gate. The paper's preset: 10 groups of 20 blocks, 64
features, reduction 16 (about 15.6 M parameters); "rcan-small" trains on a
CPU. EDSR-PyTorch's normalisation (pixels 0-255, DIV2K mean subtracted).
Training gradients come from the tape (sr_native.autograd).
"""

from .. import autograd
from ..layers import Conv2d, Module
from . import foreign
from .base import (MAX_BLOCKS, MAX_COLORS, MAX_FEATURES, Normalization, SRNetwork, check_int,
                   check_parameter_memory, conv_shapes)
from .edsr import upsample_factors

PRESETS = {
    "rcan": dict(n_feats=64, n_resgroups=10, n_resblocks=20, reduction=16),
    "rcan-small": dict(n_feats=32, n_resgroups=3, n_resblocks=4, reduction=8),
}


class ChannelAttentionBlock(Module):
    """RCAB: x + CA(conv2(relu(conv1(x))))."""

    def __init__(self, n_feats, reduction):
        self.conv1 = Conv2d(n_feats, n_feats, 3)
        self.conv2 = Conv2d(n_feats, n_feats, 3)
        self.attention_down = Conv2d(n_feats, n_feats // reduction, 1)
        self.attention_up = Conv2d(n_feats // reduction, n_feats, 1)

    def __call__(self, x):
        t = self.conv2(self.conv1(x, relu=True))
        s = autograd.global_avg_pool(t)
        s = autograd.sigmoid(self.attention_up(self.attention_down(s, relu=True)))
        return autograd.add(x, autograd.channel_gate(t, s))


class ResidualGroup(Module):
    def __init__(self, n_feats, n_resblocks, reduction):
        self.blocks = [ChannelAttentionBlock(n_feats, reduction) for _ in range(n_resblocks)]
        self.conv = Conv2d(n_feats, n_feats, 3)

    def __call__(self, x):
        r = x
        for block in self.blocks:
            r = block(r)
        return self.conv(r, residual=x)


class RCAN(SRNetwork):
    """RCAN(scale, n_feats=64, n_resgroups=10, n_resblocks=20, reduction=16, n_colors=3).

    Args:
        scale: 2, 3 or 4.
        n_feats: feature channels.
        n_resgroups: residual groups; n_resblocks: channel-attention blocks per group.
        reduction: the attention's channel reduction (n_feats // reduction >= 1).
        n_colors: image channels.
        normalization: input normalisation; EDSR-PyTorch's by default.
    """

    architecture = "rcan"
    presets = PRESETS
    inexact_tiling = "channel attention averages whole feature maps"

    def __init__(self, scale, n_feats=64, n_resgroups=10, n_resblocks=20, reduction=16, n_colors=3,
                 normalization=None):
        args = dict(n_feats=n_feats, n_resgroups=n_resgroups, n_resblocks=n_resblocks, reduction=reduction)
        shapes = self.parameter_shapes(scale, n_colors=n_colors, **args)
        check_parameter_memory("RCAN", shapes)
        super().__init__(scale, n_colors, normalization or Normalization(255.0, std=1.0))
        f, c = int(n_feats), self.n_colors
        self.n_feats, self.n_resgroups, self.n_resblocks, self.reduction = (f, int(n_resgroups), int(n_resblocks),
                                                                            int(reduction))
        self.head = Conv2d(c, f, 3)
        self.groups = [ResidualGroup(f, self.n_resblocks, self.reduction) for _ in range(self.n_resgroups)]
        self.body_conv = Conv2d(f, f, 3)
        self.upsample = [Conv2d(f, r * r * f, 3) for r in upsample_factors(self.scale)]
        self.tail = Conv2d(f, c, 3)

    @classmethod
    def parameter_shapes(cls, scale, n_feats=64, n_resgroups=10, n_resblocks=20, reduction=16, n_colors=3):
        scale = cls.check_scale(scale)
        f = check_int("RCAN", "n_feats", n_feats, 1, MAX_FEATURES)
        groups = check_int("RCAN", "n_resgroups", n_resgroups, 0, MAX_BLOCKS)
        blocks = check_int("RCAN", "n_resblocks", n_resblocks, 0, MAX_BLOCKS)
        reduction = check_int("RCAN", "reduction", reduction, 1, f)
        c = check_int("RCAN", "n_colors", n_colors, 1, MAX_COLORS)
        if groups * blocks > MAX_BLOCKS:
            raise ValueError(f"RCAN: n_resgroups * n_resblocks must be at most {MAX_BLOCKS}, got {groups * blocks}")
        shapes = {}
        conv_shapes(shapes, "head", f, c, 3)
        for g in range(groups):
            for b in range(blocks):
                name = f"groups.{g}.blocks.{b}"
                conv_shapes(shapes, name + ".conv1", f, f, 3)
                conv_shapes(shapes, name + ".conv2", f, f, 3)
                conv_shapes(shapes, name + ".attention_down", f // reduction, f, 1)
                conv_shapes(shapes, name + ".attention_up", f, f // reduction, 1)
            conv_shapes(shapes, f"groups.{g}.conv", f, f, 3)
        conv_shapes(shapes, "body_conv", f, f, 3)
        for j, r in enumerate(upsample_factors(scale)):
            conv_shapes(shapes, f"upsample.{j}", r * r * f, f, 3)
        conv_shapes(shapes, "tail", c, f, 3)
        return shapes


    def forward_raw(self, x):
        h = self.head(x)
        r = h
        for group in self.groups:
            r = group(r)
        r = self.body_conv(r, residual=h)
        for conv, factor in zip(self.upsample, upsample_factors(self.scale)):
            r = autograd.pixel_shuffle(conv(r), factor)
        return self.tail(r)

    @property
    def receptive_radius(self):
        """Tiles cannot equal the whole image exactly: the channel attention
        averages each whole feature map. This counts the convolutions' reach
        (what tiling's overlap covers); tiled output differs from the whole
        image's only through the attention gates' global means."""
        return 1 + self.n_resgroups * (2 * self.n_resblocks + 1) + 1 + len(self.upsample) + 1

    def activation_floats_per_pixel(self):
        f, c = self.n_feats, self.n_colors
        peak = 6 * f + 2 * c  # head output, group input, block input, conv1, conv2, gated + sum
        density = 1
        for r in upsample_factors(self.scale):
            peak = max(peak, density * (f + 2 * r * r * f))
            density *= r * r
        return max(peak, density * (f + 3 * c))

    def arch_args(self):
        return dict(n_feats=self.n_feats, n_resgroups=self.n_resgroups, n_resblocks=self.n_resblocks,
                    reduction=self.reduction, n_colors=self.n_colors)


# ------------------------------------------------------------ foreign layouts

def _rcan_plan(shapes, source, first, group, block, conv1, conv2, down, up, group_conv, body_conv, upsample,
               tail):
    """(scale, args, mapping) for both layouts: each argument after source is
    that layout's key prefix of the layer, a str.format pattern over g (group),
    b (block), n (a count) or j (upsampler index); group and block have one {}
    that is counted. The sizes come from the shapes: groups and blocks by
    counting, the reduction from the attention's squeeze width, the scale from
    the upsampler."""
    n_feats, n_colors = foreign.shape(shapes, first + ".weight", 4, source)[:2]
    n_groups = foreign.count(shapes, group + ".weight")
    n_blocks = foreign.count(shapes, block.replace("{g}", "0") + ".weight") if n_groups else 0
    reduction = 16
    if n_groups and n_blocks:
        squeeze = foreign.shape(shapes, down.format(g=0, b=0) + ".weight", 4, source)[0]
        if squeeze < 1 or n_feats % squeeze:
            raise ValueError(f"{source}: {down.format(g=0, b=0)!r} squeezes {n_feats} channels to {squeeze}, "
                             "not a whole reduction factor")
        reduction = n_feats // squeeze
    ups = [upsample.format(j=j) + ".weight" for j in (0, 2) if upsample.format(j=j) + ".weight" in shapes]
    scale = foreign.shuffle_scale(shapes, ups, n_feats, source, f"upsampler {upsample.format(j='*')!r}")
    mapping = {"head": first, "body_conv": body_conv.format(n=n_groups), "tail": tail}
    for g in range(n_groups):
        for b in range(n_blocks):
            ours = f"groups.{g}.blocks.{b}"
            for name, theirs in (("conv1", conv1), ("conv2", conv2), ("attention_down", down),
                                 ("attention_up", up)):
                mapping[f"{ours}.{name}"] = theirs.format(g=g, b=b)
        mapping[f"groups.{g}.conv"] = group_conv.format(g=g, n=n_blocks)
    for j in range(len(ups)):
        mapping[f"upsample.{j}"] = upsample.format(j=2 * j)
    args = dict(n_feats=n_feats, n_resgroups=n_groups, n_resblocks=n_blocks, reduction=reduction,
                n_colors=n_colors)
    return scale, args, mapping


def _plan_rcan_edsr_pytorch(shapes, source, options):
    """EDSR-PyTorch's RCAN (src/model/rcan.py): head.0, body.{g}.body.{b}.body.{0,2} and
    .body.3.conv_du.{0,2}, body.{g}.body.{n_resblocks}, body.{n_resgroups}, tail.0.{0,2}, tail.1;
    sub_mean/add_mean with rgb_range 255."""
    scale, args, mapping = _rcan_plan(
        shapes, source, first="head.0", group="body.{}.body.0.body.0", block="body.{g}.body.{}.body.0",
        conv1="body.{g}.body.{b}.body.0", conv2="body.{g}.body.{b}.body.2",
        down="body.{g}.body.{b}.body.3.conv_du.0", up="body.{g}.body.{b}.body.3.conv_du.2",
        group_conv="body.{g}.body.{n}", body_conv="body.{n}", upsample="tail.0.{j}", tail="tail.1")
    foreign.check_mean_shift_shapes(shapes, args["n_colors"], source)
    return foreign.Plan(scale, args, mapping, foreign.MEAN_SHIFT_KEYS,
                        lambda sd: foreign.mean_from_add_mean(sd, source))


def _plan_rcan_basicsr(shapes, source, options):
    """BasicSR's RCAN (basicsr/archs/rcan_arch.py): conv_first, body.{g}.residual_group.{b}.rcab.{0,2}
    and .rcab.3.attention.{1,3}, body.{g}.conv, conv_after_body, upsample.{0,2}, conv_last;
    img_range 255 and the DIV2K mean (our default)."""
    scale, args, mapping = _rcan_plan(
        shapes, source, first="conv_first", group="body.{}.residual_group.0.rcab.0",
        block="body.{g}.residual_group.{}.rcab.0", conv1="body.{g}.residual_group.{b}.rcab.0",
        conv2="body.{g}.residual_group.{b}.rcab.2", down="body.{g}.residual_group.{b}.rcab.3.attention.1",
        up="body.{g}.residual_group.{b}.rcab.3.attention.3", group_conv="body.{g}.conv",
        body_conv="conv_after_body", upsample="upsample.{j}", tail="conv_last")
    return foreign.Plan(scale, args, mapping)


RCAN.foreign_layouts = (
    foreign.ForeignLayout(
        "rcan-edsr-pytorch",
        "EDSR-PyTorch RCAN: head.0, body.G.body.B.body.{0,2,3.conv_du.*}, body.N, tail.0.*, tail.1",
        lambda s: "head.0.weight" in s and "body.0.body.0.body.3.conv_du.0.weight" in s,
        _plan_rcan_edsr_pytorch),
    foreign.ForeignLayout(
        "rcan-basicsr", "BasicSR RCAN: conv_first, body.G.residual_group.B.rcab.*, body.G.conv, conv_after_body, "
        "upsample.*, conv_last; under params(_ema)",
        lambda s: "conv_first.weight" in s and "body.0.residual_group.0.rcab.0.weight" in s,
        _plan_rcan_basicsr),
)


__all__ = ["PRESETS", "RCAN"]
