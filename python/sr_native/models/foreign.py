"""Checkpoints of other projects: how an architecture says which foreign key
layouts it accepts and how to read its hyper-parameters from their shapes.

Each architecture class lists its layouts in `foreign_layouts` (beside its
definition). A layout has a `detect(shapes)` test on the state dict's keys
and shapes (no values: it runs before any tensor is read) and a
`plan(shapes, source, options)` that returns a Plan: the scale, the
constructor arguments, and for each of our layer prefixes the foreign one.
weights.load_model tries every registered layout in order and loads the first
that matches (models.FOREIGN_LAYOUTS); an unknown layout gets an error that
lists them all.
"""

from dataclasses import dataclass
from typing import Callable


@dataclass
class Plan:
    """How a foreign state dict becomes one of our networks.

    mapping: our layer prefix (e.g. 'body.0.conv1') -> theirs ('body.0.body.0');
        a parameter's leaf ('weight', 'bias', 'running_mean', ...) is kept.
    ignored: key prefixes or suffixes of theirs that carry nothing we load
        (EDSR-PyTorch's mean shifts, batch norm's num_batches_tracked).
    normalization: a function of the state dict's values giving our
        Normalization, or None for the architecture's default.
    """

    scale: int
    args: dict
    mapping: dict
    ignored: tuple = ()
    normalization: Callable = None


@dataclass(frozen=True)
class ForeignLayout:
    name: str  # a short id, e.g. "edsr-pytorch" (in messages and provenance)
    keys: str  # whose layout it is and what its keys look like, for the error listing the layouts
    detect: Callable  # shapes -> bool
    plan: Callable  # (shapes, source, options) -> Plan


def count(shapes, pattern):
    """How many consecutive i from 0 have pattern.format(i) among the keys."""
    i = 0
    while pattern.format(i) in shapes:
        i += 1
    return i


def shape(shapes, key, ndim, source):
    """The shape of tensor key, which must exist and have ndim dimensions, none zero."""
    if key not in shapes:
        raise ValueError(f"{source}: the checkpoint has no {key!r}")
    found = tuple(shapes[key])
    if len(found) != ndim or 0 in found:
        raise ValueError(f"{source}: {key!r} has shape {found}, expected {ndim} non-zero dimensions")
    return found


def shuffle_scale(shapes, convs, n_feats, source, what):
    """The scale of an EDSR-style upsampler from its convolutions' weight
    keys: one conv to 4n channels is x2, two are x4, one to 9n is x3."""
    first = shape(shapes, convs[0], 4, source)[0] // n_feats if convs else 0
    scale = {4: 2 if len(convs) == 1 else 4, 9: 3}.get(first)
    if scale is None or len(convs) > 2 or (len(convs) == 2 and first != 4):
        raise ValueError(f"{source}: {what} is not an x2, x3 or x4 pixel-shuffle upsampler")
    return scale


def scale_from_channels(out_channels, n_colors, source, what):
    """s from a layer that outputs n_colors * s * s channels (ESPCN's last conv)."""
    s = int(round((out_channels / n_colors) ** 0.5))
    if s * s * n_colors != out_channels or s not in (2, 3, 4):
        raise ValueError(f"{source}: {what} has {out_channels} output channels, not 4, 9 or 16 x {n_colors} colours")
    return s


def mean_from_add_mean(sd, source, pixel_range=255.0):
    """EDSR-PyTorch's add_mean 1x1 conv: bias = rgb_range * mean (std 1)."""
    from .base import DIV2K_MEAN, Normalization

    if "add_mean.bias" not in sd:
        return Normalization(pixel_range, DIV2K_MEAN, 1.0)
    import numpy as np

    try:
        return Normalization(pixel_range, [float(b) / pixel_range for b in np.asarray(sd["add_mean.bias"])], 1.0)
    except ValueError as exc:
        raise ValueError(f"{source}: tensor 'add_mean.bias' gives no usable mean ({exc})") from None


class ScaleNotRecorded(ValueError):
    """The checkpoint's layout does not record its scale and none was given."""


def scale_option(options, source, layout):
    """The scale= given to load_model, for layouts whose files do not record it
    (ScaleNotRecorded without it: upscale then retries with its own scale)."""
    scale = options.get("scale")
    if scale is None:
        raise ScaleNotRecorded(f"{source}: {layout} checkpoints do not record their scale; "
                               "pass scale= (2, 3 or 4) to load_model")
    return scale


MEAN_SHIFT_KEYS = ("sub_mean.", "add_mean.")


def check_mean_shift_shapes(shapes, n_colors, source):
    """EDSR-PyTorch's sub_mean/add_mean are 1x1 convs over the colours."""
    for mean_shift in ("sub_mean", "add_mean"):
        for leaf, want in (("weight", (n_colors, n_colors, 1, 1)), ("bias", (n_colors,))):
            key = f"{mean_shift}.{leaf}"
            if key in shapes and tuple(shapes[key]) != want:
                raise ValueError(f"{source}: {key!r} has shape {tuple(shapes[key])}, expected {want}")


__all__ = ["ForeignLayout", "MEAN_SHIFT_KEYS", "Plan", "ScaleNotRecorded", "check_mean_shift_shapes", "count",
           "mean_from_add_mean", "scale_from_channels", "scale_option", "shape", "shuffle_scale"]
