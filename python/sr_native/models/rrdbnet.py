"""RRDBNet (Wang et al., "ESRGAN: Enhanced Super-Resolution Generative
Adversarial Networks", ECCV 2018 workshops), the generator of ESRGAN and of
Real-ESRGAN (Wang et al., ICCV 2021 workshops), defined by its forward alone.

conv 3x3 (num_feat, conv_first) -> num_block RRDBs -> conv 3x3 (conv_body),
+ conv_first's output -> two [nearest x2, conv 3x3, LeakyReLU 0.2]
(conv_up1, conv_up2) -> conv 3x3 + LeakyReLU 0.2 (conv_hr) -> conv 3x3
(n_colors, conv_last).
RRDB: three residual dense blocks in a row, output 0.2 * rdb3 + input.
Residual dense block, growth g = num_grow_ch, [..] a channel concatenation:
  x1 = lrelu(conv1(x)), x2 = lrelu(conv2([x, x1])), x3 = lrelu(conv3([x, x1, x2])),
  x4 = lrelu(conv4([x, x1, x2, x3])), out = 0.2 * conv5([x, x1, x2, x3, x4]) + x.
The upsampling is always x4: scale 4 runs the trunk on the image itself;
scale 2 and 1 first fold 2x2 / 4x4 pixel blocks into channels
(pixel_unshuffle, PyTorch's channel order; 4 / 16 x n_colors input
channels), as Real-ESRGAN does. An image whose sides are not a multiple of
that fold is reflect-padded at the bottom and right and the output cropped
(Real-ESRGAN's pre-processing); in training patch sides must be multiples.
Images in [0, 1] as they are (no mean); the output is not clamped.

Inference (no tape) differs from the recorded definition only in memory,
not in arithmetic: each dense block of a single image writes x1..x4 into
channel slices of one buffer instead of concatenating (a batch concatenates),
and the x2 and x4 tail runs in bands of rows (see _tail): the tail holds 32x
the trunk's activations per feature at a quarter of the work, so banding it
bounds memory at the trunk's size. Training gradients come from the tape
(sr_native.autograd). Key names are BasicSR's / Real-ESRGAN's (conv_first,
body.N.rdb{1,2,3}.conv{1..5}, conv_body, conv_up1, conv_up2, conv_hr,
conv_last); the original ESRGAN names load through a foreign layout too.
"""

import math

import numpy as np

from .. import autograd, ops
from ..layers import Conv2d, Module
from . import foreign
from .base import MAX_BLOCKS, MAX_COLORS, MAX_FEATURES, SRNetwork, check_int, check_parameter_memory, conv_shapes
from .srcnn import plain_normalization

SLOPE = 0.2  # LeakyReLU's negative slope throughout
DENSE_SCALE = 0.2  # residual scaling of each dense block's and each RRDB's output
_SLOPE_ALPHA = np.full(1, SLOPE, np.float32)

PRESETS = {
    "realesrgan-x4plus": dict(num_feat=64, num_block=23, num_grow_ch=32),  # also RealESRNet_x4plus, ESRGAN
    "realesrgan-x2plus": dict(num_feat=64, num_block=23, num_grow_ch=32),
    "realesrgan-anime-6b": dict(num_feat=64, num_block=6, num_grow_ch=32),
}
# The scale each published preset was trained for (from_preset still takes any).
PRESET_SCALES = {"realesrgan-x4plus": 4, "realesrgan-x2plus": 2, "realesrgan-anime-6b": 4}

# The tail's bands: at least 1/TAIL_BANDS of the rows each (and at least
# 4 x TAIL_HALO), plus TAIL_HALO rows of the trunk's grid on either side.
TAIL_BANDS = 8
# Trunk rows a tail output row can depend on, Winograd rounding included: a
# Winograd 3x3 output reaches 4 of its grid's rows (upscaling.py), conv_up1
# on the x2 grid (2 trunk rows), conv_up2, conv_hr and conv_last on the x4
# grid (1 each), and one for nearest upsampling's rounding down.
TAIL_HALO = 6
# TAIL_BANDS and the halo above make each band at most this fraction of the
# rows of a window of 192 trunk rows or more (what RRDBNet's tiling overlap
# gives unless the image is smaller); a smaller window holds up to all of
# its rows at once, then the count in activation_floats_per_pixel is low by
# up to 2x (measured: 1.6x for x2 on 192x160), on images that small.
TAIL_FRACTION = 0.25


def lrelu(x):
    return autograd.leaky_relu(x, SLOPE)


def _fills_in_place(x):
    """Inference on one image in host memory: channel slices of a
    (1, C, H, W) array are contiguous, so a dense block can write into them."""
    return autograd.current_tape() is None and isinstance(x, np.ndarray) and x.shape[0] == 1


class ResidualDenseBlock(Module):
    """Five 3x3 convolutions, each on the concatenation of the block's input and every earlier output."""

    def __init__(self, num_feat, num_grow_ch):
        f, g = num_feat, num_grow_ch
        self.conv1 = Conv2d(f, g, 3)
        self.conv2 = Conv2d(f + g, g, 3)
        self.conv3 = Conv2d(f + 2 * g, g, 3)
        self.conv4 = Conv2d(f + 3 * g, g, 3)
        self.conv5 = Conv2d(f + 4 * g, f, 3)

    def __call__(self, x):
        growing = (self.conv1, self.conv2, self.conv3, self.conv4)
        if _fills_in_place(x):
            n, f, h, w = x.shape
            g = self.conv1.out_channels
            features = autograd.recycled((n, f + 4 * g, h, w))
            if features is None:
                features = np.empty((n, f + 4 * g, h, w), np.float32)
            features[:, :f] = x
            for i, conv in enumerate(growing):
                c = f + i * g
                ops.prelu(conv(features[:, :c]), _SLOPE_ALPHA, out=features[:, c:c + g])
        else:
            features = x
            for conv in growing:
                features = autograd.concat(features, lrelu(conv(features)))
        return self.conv5(features, residual=x, res_scale=DENSE_SCALE)


class RRDB(Module):
    """Residual in residual dense block: three dense blocks, 0.2 x their output + the input."""

    def __init__(self, num_feat, num_grow_ch):
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def __call__(self, x):
        return autograd.add(x, self.rdb3(self.rdb2(self.rdb1(x))), DENSE_SCALE)


class RRDBNet(SRNetwork):
    """RRDBNet(scale, num_feat=64, num_block=23, num_grow_ch=32, n_colors=3).

    Args:
        scale: 4 (the image itself), 2 (2x2 pixel blocks folded into
            channels first) or 1 (4x4 blocks); the trunk runs at a quarter of
            the output's resolution in each case. (sr_native.upscale takes
            scales 2 to 4: an x1 network runs through net(x).)
        num_feat: feature channels of the trunk and the tail.
        num_block: RRDBs (23 in Real-ESRGAN's x4plus / x2plus, 6 in anime_6B).
        num_grow_ch: channels each dense-block convolution adds (growth).
        n_colors: image channels (input and output).
        normalization: input normalisation; images in [0, 1] as they are by default.
    """

    architecture = "rrdbnet"
    scales = (1, 2, 4)
    presets = PRESETS

    def __init__(self, scale, num_feat=64, num_block=23, num_grow_ch=32, n_colors=3, normalization=None):
        shapes = self.parameter_shapes(scale, num_feat=num_feat, num_block=num_block, num_grow_ch=num_grow_ch,
                                       n_colors=n_colors)
        check_parameter_memory("RRDBNet", shapes)
        super().__init__(scale, n_colors, normalization or plain_normalization(int(n_colors)))
        f, g, c = int(num_feat), int(num_grow_ch), self.n_colors
        self.num_feat, self.num_block, self.num_grow_ch = f, int(num_block), g
        self.conv_first = Conv2d(c * self.input_fold ** 2, f, 3)
        self.body = [RRDB(f, g) for _ in range(self.num_block)]
        self.conv_body = Conv2d(f, f, 3)
        self.conv_up1 = Conv2d(f, f, 3)
        self.conv_up2 = Conv2d(f, f, 3)
        self.conv_hr = Conv2d(f, f, 3)
        self.conv_last = Conv2d(f, c, 3)

    def refuse_cpu_only_layers(self):
        # The dense blocks' concatenation and the nearest upsampling run in numpy.
        raise TypeError("RRDBNet.to: RRDBNet has no CUDA path yet (its concatenations and nearest upsampling "
                        "run in numpy); the network stays on the CPU")

    @property
    def input_fold(self):
        """Side of the pixel blocks folded into channels before the trunk (4 // scale):
        upscale aligns tiles to it (a multiple of 4 x input_fold)."""
        return 4 // self.scale

    @classmethod
    def parameter_shapes(cls, scale, num_feat=64, num_block=23, num_grow_ch=32, n_colors=3):
        scale = cls.check_scale(scale)
        f = check_int("RRDBNet", "num_feat", num_feat, 1, MAX_FEATURES)
        n = check_int("RRDBNet", "num_block", num_block, 0, MAX_BLOCKS)
        g = check_int("RRDBNet", "num_grow_ch", num_grow_ch, 1, MAX_FEATURES)
        c = check_int("RRDBNet", "n_colors", n_colors, 1, MAX_COLORS)
        fold = 4 // scale
        shapes = {}
        conv_shapes(shapes, "conv_first", f, c * fold * fold, 3)
        for i in range(n):
            for k in (1, 2, 3):
                for j in range(1, 5):
                    conv_shapes(shapes, f"body.{i}.rdb{k}.conv{j}", g, f + (j - 1) * g, 3)
                conv_shapes(shapes, f"body.{i}.rdb{k}.conv5", f, f + 4 * g, 3)
        for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
            conv_shapes(shapes, name, f, f, 3)
        conv_shapes(shapes, "conv_last", c, f, 3)
        return shapes

    def _fold_input(self, x):
        """x reflect-padded at the bottom and right to multiples of the fold, then unshuffled."""
        fold = self.input_fold
        n, c, h, w = x.shape
        pad_h, pad_w = -h % fold, -w % fold
        if pad_h or pad_w:
            if autograd.current_tape() is not None:
                raise ValueError(f"RRDBNet x{self.scale}: training patches must have sides that are multiples of "
                                 f"{fold}, got input shape {tuple(x.shape)}")
            # numpy's "reflect" is PyTorch's (the edge pixel is not repeated).
            x = np.ascontiguousarray(np.pad(x, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), mode="reflect"))
        return autograd.pixel_unshuffle(x, fold)

    def _tail_rows(self, feat):
        r = lrelu(self.conv_up1(autograd.upsample_nearest(feat, 2)))
        r = lrelu(self.conv_up2(autograd.upsample_nearest(r, 2)))
        return self.conv_last(lrelu(self.conv_hr(r)))

    def _tail(self, feat):
        """The x4 tail; in inference in bands of trunk rows, each run with
        TAIL_HALO rows of context on either side and starting on an even row
        (so every layer's Winograd 4x4 tiles are the whole map's): the kept
        rows equal the unbanded tail's bit for bit. Bands are used only when
        every band gives conv_up1 as many Winograd tiles as conv2d needs to
        take that path (then it takes it in the whole map and every band)."""
        if autograd.current_tape() is not None or not isinstance(feat, np.ndarray):
            return self._tail_rows(feat)
        n, f, h, w = feat.shape
        core = max(-(-h // TAIL_BANDS), 4 * TAIL_HALO)
        core += core % 2
        if core >= h:
            return self._tail_rows(feat)
        bands = []
        for y0 in range(0, h, core):
            y1 = min(y0 + core, h)
            b0 = max(y0 - TAIL_HALO, 0) // 2 * 2
            b1 = min(y1 + TAIL_HALO, h)
            # conv_up1 runs on the x2 grid: (2 * rows / 4) x (2 * w / 4) tiles per image
            if n * -(-(2 * (b1 - b0)) // 4) * -(-(2 * w) // 4) < 64:
                return self._tail_rows(feat)
            bands.append((y0, y1, b0, b1))
        out = np.empty((n, self.n_colors, 4 * h, 4 * w), np.float32)
        for y0, y1, b0, b1 in bands:
            y = self._tail_rows(np.ascontiguousarray(feat[:, :, b0:b1]))
            out[:, :, 4 * y0:4 * y1] = y[:, :, 4 * (y0 - b0):4 * (y1 - b0)]
        return out

    def forward_raw(self, x):
        n, c, h, w = x.shape
        if self.input_fold > 1:
            x = self._fold_input(x)
        feat = self.conv_first(x)
        body = feat
        for block in self.body:
            body = block(body)
        out = self._tail(self.conv_body(body, residual=feat))
        if out.shape[2:] != (h * self.scale, w * self.scale):  # the fold's padding
            out = np.ascontiguousarray(out[:, :, :h * self.scale, :w * self.scale])
        return out

    @property
    def receptive_radius(self):
        # In input pixels: the trunk's 3x3 convolutions (conv_first, 15 per
        # RRDB, conv_body) reach input_fold pixels each; conv_up1 on the
        # x2 grid and conv_up2, conv_hr, conv_last on the x4 grid reach
        # ceil(fold / 2) and ceil(fold / 4) (at least one each, as the
        # package counts a layer after an upsampling); one for nearest
        # upsampling's and the fold's rounding.
        fold = self.input_fold
        return fold * (2 + 15 * self.num_block) + math.ceil(fold / 2) + 3 * math.ceil(fold / 4) + 1

    def activation_floats_per_pixel(self):
        f, g, c, fold = self.num_feat, self.num_grow_ch, self.n_colors, self.input_fold
        density = 1 / fold ** 2  # trunk pixels per input pixel
        # input, its normalised and padded copies; the output and its copy (de-normalised, cropped)
        images = 3 * c + 3 * 16 * density * c
        # conv_first's output (kept for the skip), an RRDB's input, a dense
        # block's input and its buffer (f + 4g), a growth convolution's
        # output, the block's output and the RRDB's sum
        trunk = density * (6 * f + 5 * g + c * fold * fold)
        # a band of the tail: the x4 map and the convolution's output (or the
        # x2 ones, a quarter), plus the trunk output the tail reads
        tail = density * (f + TAIL_FRACTION * 16 * (2 * f + c))
        # Summed, not the larger of the two: the trunk's arrays stay in the
        # network's kept buffers (layers.Buffers) while the tail runs.
        return math.ceil(images + trunk + tail)

    def arch_args(self):
        return dict(num_feat=self.num_feat, num_block=self.num_block, num_grow_ch=self.num_grow_ch,
                    n_colors=self.n_colors)


# ------------------------------------------------------------ foreign layouts

def _esrgan_names(num_block):
    """Our layer prefix -> the original ESRGAN repository's (RRDBNet_arch.py)."""
    mapping = {"conv_first": "conv_first", "conv_body": "trunk_conv", "conv_up1": "upconv1",
               "conv_up2": "upconv2", "conv_hr": "HRconv", "conv_last": "conv_last"}
    for i in range(num_block):
        for k in (1, 2, 3):
            for j in range(1, 6):
                mapping[f"body.{i}.rdb{k}.conv{j}"] = f"RRDB_trunk.{i}.RDB{k}.conv{j}"
    return mapping


def _basicsr_names(num_block):
    """Our layer prefix -> BasicSR's / Real-ESRGAN's: the same names."""
    return {ours: ours for ours in
            ["conv_first", "conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]
            + [f"body.{i}.rdb{k}.conv{j}" for i in range(num_block) for k in (1, 2, 3) for j in range(1, 6)]}


def _planner(names, block_pattern):
    """A plan function for an RRDBNet layout: the sizes from the shapes, the
    scale from conv_first's input channels over conv_last's output channels
    (1: x4, 4: x2 with a 2x2 fold, 16: x1 with a 4x4 fold)."""

    def plan(shapes, source, options):
        num_block = foreign.count(shapes, block_pattern)
        first = names(0)["conv_first"] + ".weight"
        last = names(0)["conv_last"] + ".weight"
        num_feat, in_channels = foreign.shape(shapes, first, 4, source)[:2]
        n_colors = foreign.shape(shapes, last, 4, source)[0]
        num_grow_ch = (foreign.shape(shapes, block_pattern.format(0), 4, source)[0] if num_block
                       else PRESETS["realesrgan-x4plus"]["num_grow_ch"])  # no block: growth unused
        folds = {1: 4, 4: 2, 16: 1}
        if in_channels % n_colors or in_channels // n_colors not in folds:
            raise ValueError(f"{source}: {first!r} takes {in_channels} channels for {n_colors} output colours: "
                             "not 1, 4 or 16 x the colours (RRDBNet x4, x2 or x1)")
        scale = folds[in_channels // n_colors]
        args = dict(num_feat=num_feat, num_block=num_block, num_grow_ch=num_grow_ch, n_colors=n_colors)
        return foreign.Plan(scale, args, names(num_block))

    return plan


RRDBNet.foreign_layouts = (
    foreign.ForeignLayout(
        "rrdbnet-basicsr", "BasicSR / Real-ESRGAN RRDBNet (RealESRGAN_x4plus, _x2plus, RealESRNet, anime_6B): "
        "conv_first, body.N.rdb{1,2,3}.conv{1..5}, conv_body, conv_up1, conv_up2, conv_hr, conv_last; "
        "under params_ema / params",
        lambda s: "conv_first.weight" in s and "conv_up1.weight" in s and "conv_body.weight" in s,
        _planner(_basicsr_names, "body.{}.rdb1.conv1.weight")),
    foreign.ForeignLayout(
        "rrdbnet-esrgan", "ESRGAN (original repository) RRDBNet: conv_first, RRDB_trunk.N.RDB{1,2,3}.conv{1..5}, "
        "trunk_conv, upconv1, upconv2, HRconv, conv_last",
        lambda s: "conv_first.weight" in s and "trunk_conv.weight" in s and "HRconv.weight" in s,
        _planner(_esrgan_names, "RRDB_trunk.{}.RDB1.conv1.weight")),
)


__all__ = ["PRESETS", "PRESET_SCALES", "RRDB", "RRDBNet", "ResidualDenseBlock"]
