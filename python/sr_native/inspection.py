"""What a network is: its layers, parameter count, arithmetic per output
pixel, receptive radius, and a picture of its first layer's filters
(`sr-native inspect MODEL`)."""

import math
from dataclasses import dataclass, field

import numpy as np

from .layers import BatchNorm2d, Conv2d, ConvTranspose2d, PReLU, walk_layers


@dataclass
class LayerRow:
    name: str  # state-dict prefix, e.g. "body.0.conv1"
    kind: str  # "conv 3x3", "deconv 9x9 /2", "prelu", "batch norm"
    shape: tuple  # the weight's shape
    parameters: int


@dataclass
class Description:
    architecture: str
    scale: int
    arch_args: dict
    parameters: int
    flops_per_output_pixel: float  # multiply-adds count 2, every convolution as it runs
    receptive_radius: int  # input pixels beyond a tile that can change it (what tiling overlaps)
    layers: list = field(default_factory=list)


def _kind(layer):
    if isinstance(layer, Conv2d):
        return f"conv {layer.kernel_size}x{layer.kernel_size}"
    if isinstance(layer, ConvTranspose2d):
        k = layer.weight.shape[2]
        return f"deconv {k}x{k} stride {layer.stride}"
    if isinstance(layer, BatchNorm2d):
        return "batch norm"
    if isinstance(layer, PReLU):
        return "prelu"
    return type(layer).__name__


def describe(model, probe_size=32):
    """A Description of model. FLOPs are counted by running it once on a
    probe_size x probe_size input (count_conv_flops) and dividing by the
    output pixels: exact for these all-convolutional networks."""
    from .models.base import count_conv_flops

    rows = []
    for prefix, layer in walk_layers(model):
        n = sum(p.size for _, p in layer.named_parameters(""))
        rows.append(LayerRow(prefix.rstrip("."), _kind(layer), tuple(layer.weight.shape), int(n)))
    x = np.random.default_rng(0).random((1, model.n_colors, probe_size, probe_size), dtype=np.float32)
    flops = count_conv_flops(model, x)
    return Description(model.architecture, model.scale, model.arch_args(), model.num_parameters(),
                       flops / (probe_size * model.scale) ** 2, model.receptive_radius, rows)


def first_layer_filters(model, *, cell=8, gap=2):
    """The first convolution's filters as one uint8 image: a grid of tiles,
    one per output channel, each filter scaled to its own min..max and
    enlarged `cell` times; RGB when the layer reads 3 channels, else the
    first input channel in gray. Returns (image HxWx3 or HxW, layer name)."""
    found = next(((p, l) for p, l in walk_layers(model) if isinstance(l, (Conv2d, ConvTranspose2d))), None)
    if found is None:
        raise ValueError(f"{type(model).__name__} has no convolution")
    prefix, layer = found
    w = np.asarray(layer.weight, np.float32)
    if isinstance(layer, ConvTranspose2d):
        w = w.transpose(1, 0, 2, 3)  # (O, C, K, K) like a convolution
    o, c, k, _ = w.shape
    colour = c == 3
    tiles = w if colour else w[:, :1]
    cols = math.ceil(math.sqrt(o))
    rows = math.ceil(o / cols)
    side = k * cell
    canvas = np.full((rows * (side + gap) + gap, cols * (side + gap) + gap, 3 if colour else 1), 255, np.uint8)
    for i in range(o):
        t = tiles[i].transpose(1, 2, 0)
        lo, hi = float(t.min()), float(t.max())
        t = (t - lo) / (hi - lo) if hi > lo else np.full_like(t, 0.5)
        t = np.kron(t, np.ones((cell, cell, 1), np.float32))
        y, x = gap + (i // cols) * (side + gap), gap + (i % cols) * (side + gap)
        canvas[y:y + side, x:x + side] = np.rint(t * 255).astype(np.uint8)
    return (canvas if colour else canvas[..., 0]), prefix.rstrip(".")


__all__ = ["Description", "LayerRow", "describe", "first_layer_filters"]
