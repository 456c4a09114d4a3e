"""Upscale images larger than memory, on one machine or a dask.distributed cluster.

    import dask.array as da
    import sr_native.dask

    image = da.from_zarr("huge.zarr")                      # (H, W, 3) uint8, chunked
    big = sr_native.dask.upscale(image, 2, model="edsr-baseline-x2")
    big.to_zarr("huge_x2.zarr")                            # computed chunk by chunk

Each output chunk is the upscaling of one input chunk read together with the
window sr_native.upscale would run a tile of the same place through: a border
of tiling_overlap(model) pixels (4 x the receptive radius), aligned to the
Winograd grid of the whole image and clipped at its edges (see
sr_native.upscaling). So the result equals `sr_native.upscale` of the whole
image bit for bit, whatever the chunks and the tile= inside them.

Arguments are checked when the graph is built, with upscale's exceptions:
dtype, shape and channels, scale against the model, tile, self_ensemble,
value_range, and the model itself (loaded once here). A numpy array's values
are checked too; a dask array's only when its chunks are computed.

The model travels to the workers as a name or a path, which each worker
process loads once, or as a loaded network (pickled into the graph). dask is
an optional dependency (`pip install "sr_native[dask]"`); importing
sr_native does not import it.
"""

import threading

import numpy as np

from .argcheck import require_bool
from .upscaling import (_check_image, _check_layout, _check_scale, _check_tile, _check_value_range,
                        _window, resolve_model, tiling_overlap, upscale as _upscale)

# Models loaded by this process, by name or path: a worker loads each once.
_MODELS = {}
_MODELS_LOCK = threading.Lock()


def _model_for(spec, scale):
    if not isinstance(spec, str):
        return spec  # a network that came pickled with the task
    key = (spec, scale)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = resolve_model(spec, scale)
        return _MODELS[key]


def _upscale_block(block, scale, spec, core, options):
    """Upscale one input block (with its border) and keep its core's output."""
    top, left, height, width = core
    net = _model_for(spec, scale)
    out = _upscale(np.asarray(block), scale, model=net, **options)
    return out[top * scale:(top + height) * scale, left * scale:(left + width) * scale]


def _spans(chunks):
    start = 0
    for size in chunks:
        yield start, start + size
        start += size


def upscale(array, scale=2, *, model=None, tile="auto", self_ensemble=False, value_range=None):
    """A lazy dask array of `array` upscaled by `scale`.

    Args:
        array: a dask array (H, W) or (H, W, C) with C in 1, 3, 4 and a dtype
            `sr_native.upscale` takes; chunk it along H and W only (one chunk
            along C). A numpy array is wrapped in one chunk.
        scale, self_ensemble, value_range: as for sr_native.upscale.
        model: a shipped model's name or a weight file's path (each worker
            loads it once), a loaded network, or None for the shipped default.
        tile: how each chunk is tiled in memory, as for sr_native.upscale.

    Returns:
        A dask array (H*scale, W*scale[, C]) of the input's dtype, chunked as
        the input times the scale. Nothing runs until it is computed.
    """
    import dask.array as da
    from dask import delayed

    what = "sr_native.dask.upscale"
    numpy_input = isinstance(array, np.ndarray)
    if numpy_input:
        array_np = array
        array = da.from_array(array, chunks=array.shape)
    if not isinstance(array, da.Array):
        raise TypeError(f"{what}: array must be a dask or numpy array, got {type(array).__name__}")
    if any(np.isnan(d) for d in array.shape):
        raise ValueError(f"{what}: the array's shape must be known (call compute_chunk_sizes()), "
                         f"got shape {array.shape}")
    _check_layout(array.dtype, array.shape, what)
    if array.ndim == 3 and len(array.chunks[2]) != 1:
        raise ValueError(f"{what}: chunk along H and W only; the channel axis must be one chunk, "
                         f"got chunks {array.chunks[2]}")
    scale = _check_scale(scale, what)
    tile = _check_tile(tile, what)
    self_ensemble = require_bool(self_ensemble, what, "self_ensemble")
    value_range = _check_value_range(value_range, array.dtype, what)
    if numpy_input:  # its values are at hand: NaN and range now, not on a worker
        _check_image(array_np, value_range, what)
    net = resolve_model(model, scale)  # fails here, not on a worker, when the model is wrong
    if scale != net.scale:
        raise ValueError(f"{what}: scale {scale} does not match the model's scale {net.scale}")
    if net.n_colors != 3:
        raise ValueError(f"{what}: the model takes {net.n_colors} colour channels; RGB models only")
    spec = str(model) if isinstance(model, str) or hasattr(model, "__fspath__") else net
    if spec is net and model is None:
        from .weights import DEFAULT_MODEL

        spec = DEFAULT_MODEL.format(scale=scale)
    overlap = tiling_overlap(net)
    options = {"tile": tile, "self_ensemble": self_ensemble,
               "value_range": value_range if array.dtype.kind == "f" else None}
    h, w = array.shape[:2]
    rest = array.shape[2:]
    rows = []
    for r0, r1 in _spans(array.chunks[0]):
        row = []
        for c0, c1 in _spans(array.chunks[1]):
            # The window upscale would run a tile with this core through.
            a0, a1, b0, b1 = _window(h, w, scale, (r0, r1, c0, c1), overlap, net.input_fold)
            piece = array[a0:a1, b0:b1]
            task = delayed(_upscale_block, pure=True)(piece, scale, spec, (r0 - a0, c0 - b0, r1 - r0, c1 - c0),
                                                      options)
            block = da.from_delayed(task, shape=((r1 - r0) * scale, (c1 - c0) * scale) + rest, dtype=array.dtype)
            # da.block joins along as many trailing axes as the lists nest: one more for C.
            row.append([block] if rest else block)
        rows.append(row)
    return da.block(rows)
