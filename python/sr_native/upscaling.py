"""sr_native.upscale: any everyday image through a network, in bounded memory.

Tiling is exact: upscale(image, tile=t) equals upscale(image, tile=None) bit
for bit, in every output dtype (the image border is zero-padded in both
cases). Two things make it so:
- Overlap. A 3x3 layer on the Winograd path (cpp/cpu/conv2d_winograd.cpp)
  computes 4x4 output tiles from 6x6 input patches, so each output's
  rounding depends on inputs up to 4 pixels away (the direct path: 1). A
  tile's window therefore reaches tiling_overlap(model) = 4 x
  model.receptive_radius input pixels beyond its core on each side (the
  radius counts one pixel per 3x3 layer, also for layers after an
  upsampling): everything a kept pixel depends on, rounding included, then
  holds whole-image values, and the zero padding at the window's edges
  stays outside the kept core.
- Alignment. Each window starts on a multiple of 4 (WINOGRAD_TILE) from the
  image's top-left, and ends on the image's edge or a multiple of 4 from its
  bottom-right, so at every layer (also at 2x and 3x after an upsampler)
  the window's Winograd tiles are the whole image's, also under
  self-ensemble's flips and transposes. A network that folds f x f pixel
  blocks into channels before its trunk (model.input_fold: RRDBNet x2 and
  x1) runs its trunk at 1/f of the resolution: there the grid is 4 f.
  Windows are widened where needed so a layer takes the Winograd path in a
  window exactly when it does on the whole image (conv2d.cpp: at least 64
  4x4 tiles).
The rest of the arithmetic does not depend on the image size (direct
convolutions compute each output in a fixed order; thread counts only
change who computes what).
Tiles are at least MIN_TILE input pixels a side; where one tile and its
overlap already cover an axis, that axis is not split.
Each tile's output is converted to the output dtype as it is written, so the
full-resolution image exists only once, in the output dtype.
"""

import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import _core, cuda
from .argcheck import require_bool
from .models import SRNetwork

# tile="auto" keeps one window's activations under a budget: a quarter of the
# memory the system has left, clamped to [AUTO_TILE_BUDGET_MIN_BYTES,
# AUTO_TILE_BUDGET_MAX_BYTES] (an int in AUTO_TILE_BUDGET_BYTES fixes it instead).
# Peak memory of upscale is then about: input + output (in their dtypes) + the
# budget + the weights. Exact tiling needs an overlap of 4 x the receptive
# radius (144 pixels for EDSR-baseline), which is why the budget grows with the
# memory there is: EDSR-baseline x2 runs the network over 1.15x the pixels of a
# 1920x1080 image with 4 GiB (8.5x with 512 MiB), 1.47x of a 3840x2160 one
# (9.1x); x4 over 3.5x of 3840x2160 (8.5x). Streaming the image through the
# network in bands, with no recomputed overlap, is the planned replacement.
# Where not even tiles as large as the overlap fit the budget, those are used
# over it.
AUTO_TILE_BUDGET_MIN_BYTES = 512 * 1024 * 1024
AUTO_TILE_BUDGET_MAX_BYTES = 4 * 1024**3
AUTO_TILE_BUDGET_BYTES = None

# On the GPU tiles are far larger: a 1920x1080 input through EDSR-baseline x2 in one tile.
GPU_TILE_BUDGET_MAX_BYTES = 16 * 1024**3

_DTYPE_MAX = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}

# The Winograd path's output tile side (kWinoM in cpp/cpu/conv2d_winograd_kernels.h)
# and the fewest 4x4 tiles for which conv2d takes it (use_winograd in conv2d.cpp).
WINOGRAD_TILE = 4
WINOGRAD_MIN_TILES = 64

# The smallest tile= accepted, in input pixels: each tile also runs the network
# over tiling_overlap(model) pixels on every side (144 for EDSR-baseline), so
# smaller tiles multiply the work without saving memory worth having.
MIN_TILE = 16

# Float images without value_range= are in [0, 1]; values this far outside
# (rounding left by earlier processing) are accepted as they are.
FLOAT_RANGE_TOLERANCE = 1e-3


def tiling_overlap(model):
    """Input pixels each tile's window reaches beyond its core, on every side,
    for tiled output to equal the whole image's bit for bit (module docstring)."""
    return WINOGRAD_TILE * model.receptive_radius


def _grid(fold):
    """Input pixels per Winograd tile of the network's coarsest feature map:
    4, times the pixel blocks a network folds into channels before its
    trunk (model.input_fold: RRDBNet x2 and x1), so windows align at every layer."""
    return WINOGRAD_TILE * fold


def _window_span(lo, hi, n, overlap, fold=1):
    """[start, end) of a window around the core [lo, hi) of an axis of n pixels:
    start on the Winograd grid from the image's start, end on the image's end
    or on the grid counted from the end (for flipped tiles)."""
    grid = _grid(fold)
    start = max(lo - overlap, 0) // grid * grid
    end = min(hi + overlap, n)
    end = n - (n - end) // grid * grid
    return start, end


def _winograd_tiles(h, w, factor):
    return -(-h * factor // WINOGRAD_TILE) * -(-w * factor // WINOGRAD_TILE)


def _window(h, w, scale, core, overlap, fold=1):
    """The window (y0, y1, x0, x1) that tile core (y0, y1, x0, x1) runs through
    the network in. Widened (in whole grid steps) until every layer resolution
    (from 1 / fold of the input's to scale times it) that gives the whole image
    enough Winograd tiles for conv2d's Winograd path gives the window enough
    too: the same path, the same rounding."""
    y0, y1 = _window_span(core[0], core[1], h, overlap, fold)
    x0, x1 = _window_span(core[2], core[3], w, overlap, fold)
    step = _grid(fold)
    factors = [Fraction(k, fold) for k in range(1, scale * fold + 1)]
    factors = [f for f in factors if _winograd_tiles(h, w, f) >= WINOGRAD_MIN_TILES]
    while any(_winograd_tiles(y1 - y0, x1 - x0, f) < WINOGRAD_MIN_TILES for f in factors):
        if x1 < w:
            x1 = min(x1 + step, w)
        elif x0 > 0:
            x0 -= step
        elif y1 < h:
            y1 = min(y1 + step, h)
        else:
            y0 -= step
    return y0, y1, x0, x1


def resolve_model(model, scale):
    """A loaded network from a network, a path or a shipped model's name."""
    from .weights import DEFAULT_MODEL, load_model, shipped_models

    if model is None:
        default = DEFAULT_MODEL.format(scale=scale)
        if default in shipped_models():
            return load_model(default)
        shipped = shipped_models()
        raise ValueError(f"upscale: model= is required: no trained x{scale} weights ship with this version "
                         f"(shipped: {', '.join(shipped) or 'none'}). Pass a loaded model, a path to a weight "
                         "file (ours or a foreign checkpoint), or the name of a shipped model")
    if isinstance(model, SRNetwork):
        return model
    if isinstance(model, (str, Path)):
        from .models.foreign import ScaleNotRecorded

        try:
            return load_model(model)
        except ScaleNotRecorded:  # SRCNN-, FSRCNN-pytorch, EDSR-PyTorch's VDSR files: the scale asked for
            if scale is None:
                raise
            return load_model(model, scale=scale)
    raise TypeError(f"upscale: model must be a network, a path or a model name, got {type(model).__name__}")


def _to_array(image):
    """numpy view of the input, and a function that turns the result back into its kind."""
    try:
        from PIL import Image
    except ImportError:  # Pillow is a dependency, but keep numpy-only use working
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        from .imagefiles import pil_to_array

        # The command line reads files through the same conversion, so both accept the same modes.
        try:
            arr, back = pil_to_array(image)
        except ValueError as exc:
            raise ValueError(f"upscale: image: {exc}") from None
        return arr, lambda out: Image.fromarray(back(out))
    if not isinstance(image, np.ndarray):
        raise TypeError(f"upscale: image must be a numpy array or a PIL image, got {type(image).__name__}")
    return image, lambda out: out


def _copy_to(net, device):
    """A copy of a network on `device` (same architecture, weights and provenance)."""
    from .models import build

    info = net.info()
    clone = build(info.architecture, info.scale, normalization=info.normalization, **info.arch_args)
    clone.load_state_dict(net.state_dict(), source="the network to copy")
    clone.provenance = dict(net.provenance)
    return clone.to(device)


def _check_scale(scale, what):
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (int, np.integer)):
        raise TypeError(f"{what}: scale must be an int ({', '.join(map(str, SRNetwork.scales))}), "
                        f"got {type(scale).__name__} {scale!r}")
    if scale not in SRNetwork.scales:
        raise ValueError(f"{what}: scale must be one of {SRNetwork.scales}, got {scale}")
    return int(scale)


def _check_tile(tile, what):
    """'auto', None or an int >= MIN_TILE."""
    if tile is None or (isinstance(tile, str) and tile == "auto"):
        return tile
    if isinstance(tile, str):
        raise ValueError(f"{what}: tile must be 'auto', None or an int >= {MIN_TILE}, got {tile!r}")
    if isinstance(tile, (bool, np.bool_)) or not isinstance(tile, (int, np.integer)):
        raise TypeError(f"{what}: tile must be 'auto', None or an int >= {MIN_TILE}, "
                        f"got {type(tile).__name__} {tile!r}")
    if tile < MIN_TILE:
        raise ValueError(f"{what}: tile must be at least {MIN_TILE} input pixels, got {tile}: every tile also "
                         "runs the network over an overlap of 4 x its receptive radius on each side, so smaller "
                         "tiles multiply the work; use tile='auto' to bound memory")
    return int(tile)


def _check_device(device, what):
    if device is not None and not isinstance(device, str):
        raise TypeError(f"{what}: device must be 'cpu', 'cuda' or None, got {type(device).__name__} {device!r}")
    return None if device is None else cuda.check_device(device, what)


def _check_value_range(value_range, dtype, what):
    """(lo, hi) of a float image's values: value_range, or (0, 1) when None."""
    if value_range is None:
        return (0.0, 1.0)
    if dtype.kind != "f":
        raise ValueError(f"{what}: value_range= applies to float images; {dtype} images are read as "
                         f"0..{int(_DTYPE_MAX[dtype])}, got value_range={value_range!r}")
    real = (int, float, np.integer, np.floating)
    if isinstance(value_range, real) and not isinstance(value_range, (bool, np.bool_)):
        value_range = (0.0, value_range)
    if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2
            or not all(isinstance(v, real) and not isinstance(v, (bool, np.bool_)) for v in value_range)):
        raise TypeError(f"{what}: value_range must be a positive number (the image is in 0..value_range) or "
                        f"a pair (lo, hi), got {value_range!r}")
    lo, hi = float(value_range[0]), float(value_range[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"{what}: value_range must be finite with lo < hi (a single number: positive), "
                         f"got {value_range!r}")
    return lo, hi


def _check_layout(dtype, shape, what):
    """The image's dtype and shape (also a lazy array's, before its data exists)."""
    if dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise TypeError(f"{what}: image dtype must be uint8, uint16, float32 or float64, got {dtype}")
    if len(shape) not in (2, 3):
        raise ValueError(f"{what}: image must be HxW or HxWxC, got shape {shape}")
    if len(shape) == 3 and shape[2] not in (1, 3, 4):
        raise ValueError(f"{what}: image must have 1, 3 or 4 channels (gray, RGB, RGBA), got shape {shape}")
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{what}: image is empty, got shape {shape}")


def _check_image(arr, value_range=(0.0, 1.0), what="upscale"):
    _check_layout(arr.dtype, arr.shape, what)
    if arr.dtype.kind != "f":
        return
    # Rejected rather than propagated: a NaN would spread over its tile's
    # receptive field and become arbitrary integers in 8/16-bit output.
    if not np.isfinite(arr).all():
        raise ValueError(f"{what}: image contains NaN or infinity (shape {arr.shape}, dtype {arr.dtype})")
    # Out-of-range values would be clipped at the output: a 0..255 image
    # comes back almost white. Refused instead, beyond a small tolerance.
    lo, hi = value_range
    tol = FLOAT_RANGE_TOLERANCE * (hi - lo)
    found_lo, found_hi = float(arr.min()), float(arr.max())
    if found_lo < lo - tol or found_hi > hi + tol:
        raise ValueError(f"{what}: float image values must lie in [{lo:g}, {hi:g}] (within {tol:g}), found min "
                         f"{found_lo:g} and max {found_hi:g}; pass value_range=(lo, hi) for another range "
                         "(value_range=255 for 0..255)")


def tile_bytes(model, window_h, window_w):
    """Rough peak bytes of the activations of one window (a tile with its overlap)."""
    return int(4 * 1.25 * model.activation_floats_per_pixel() * window_h * window_w)


def _held_bytes(net):
    """Bytes of activation buffers the calling thread's network already holds
    in host memory: the next call reuses them before allocating more."""
    return net._buffers().nbytes() if net.on_device == "cpu" else 0


def _check_memory(net, arr, scale, window_h, window_w):
    """MemoryError before allocating, when the output and one window's
    activations would not fit the memory the system has left (on Linux an
    oversized request would otherwise be granted, and the process killed
    while filling it). Buffers the network kept from an earlier call are
    already out of the available memory and are reused, so they count once."""
    h, w = arr.shape[:2]
    out_bytes = h * scale * w * scale * (arr.shape[2] if arr.ndim == 3 else 1) * arr.itemsize
    activations = max(tile_bytes(net, window_h, window_w) - _held_bytes(net), 0)
    need = out_bytes + activations
    avail = _core.available_memory()
    if 0 <= avail < need:
        def size(n):
            return f"{n / (1 << 30):.2f} GiB" if n >= 1 << 28 else f"{n / (1 << 20):.1f} MiB"

        raise MemoryError(f"upscale: a {w}x{h} image at x{scale} needs about {size(need)} "
                          f"(output {size(out_bytes)} plus one tile's activations, less the "
                          f"{size(_held_bytes(net))} of buffers the network already holds) but only "
                          f"{size(avail)} are available; use a smaller tile= or sr_native.dask")


def _axis_extent(n_tiles, length, overlap, fold=1):
    """(widest window, core) along an axis of `length` cut into n_tiles equal tiles."""
    core = -(-length // n_tiles)
    if n_tiles == 1:
        return length, core
    sides = 2 if n_tiles > 2 else 1  # the first and last tiles have overlap on one side only
    return min(length, core + sides * overlap + 2 * (_grid(fold) - 1)), core


def _auto_tiles(h, w, overlap, max_pixels, fold=1):
    """(tile_h, tile_w) for tile="auto". Of the splits into equal tiles whose
    windows hold at most max_pixels, the one that runs the network over the
    fewest pixels. When nothing fits, or the best that fits costs more than
    twice the work of tiles as large as the overlap, those (over the budget):
    exactness needs the overlap, and smaller cores would spend nearly all the
    time on it."""
    fallback = max(overlap, MIN_TILE)
    best, best_cost = (fallback, fallback), None
    ey, _ = _axis_extent(-(-h // fallback), h, overlap, fold)
    ex, _ = _axis_extent(-(-w // fallback), w, overlap, fold)
    fallback_cost = -(-h // fallback) * -(-w // fallback) * ey * ex
    for ny in range(1, -(-h // MIN_TILE) + 1):
        eh, ch = _axis_extent(ny, h, overlap, fold)
        allowed = max_pixels // eh
        options = [1, 2]
        widest_core = allowed - 2 * overlap - 2 * (_grid(fold) - 1)
        if widest_core >= 1:
            options.append(max(3, -(-w // widest_core)))
        for nx in options:
            ew, cw = _axis_extent(nx, w, overlap, fold)
            if ew > allowed:
                continue
            cost = ny * nx * eh * ew
            if best_cost is None or cost < best_cost:
                best, best_cost = (ch, cw), cost
    if best_cost is None or best_cost > 2 * fallback_cost:
        return fallback, fallback
    return best


def _cpu_tile_budget():
    """Activation bytes for one window on the CPU (see AUTO_TILE_BUDGET_BYTES)."""
    if AUTO_TILE_BUDGET_BYTES is not None:
        return AUTO_TILE_BUDGET_BYTES
    avail = _core.available_memory()
    if avail < 0:  # the system does not say
        return AUTO_TILE_BUDGET_MIN_BYTES
    return min(max(avail // 4, AUTO_TILE_BUDGET_MIN_BYTES), AUTO_TILE_BUDGET_MAX_BYTES)


def _gpu_tile_budget():
    """Activation bytes for one tile on the GPU: half of its free memory (the
    rest left to the allocator's slack and to other processes), at most
    GPU_TILE_BUDGET_MAX_BYTES: past that, bigger tiles gain nothing."""
    free = cuda.device_info()["memory_free"]
    return max(min(free // 2, GPU_TILE_BUDGET_MAX_BYTES), 64 << 20)


def _tile_cores(h, w, tile_h, tile_w, overlap, fold=1):
    """Tile cores (y0, y1, x0, x1). An axis whose first window already spans
    it is not split: one tile gives the same window and less work."""
    if _window_span(0, tile_h, h, overlap, fold)[1] == h:
        tile_h = h
    if _window_span(0, tile_w, w, overlap, fold)[1] == w:
        tile_w = w
    for y0 in range(0, h, tile_h):
        for x0 in range(0, w, tile_w):
            yield y0, min(y0 + tile_h, h), x0, min(x0 + tile_w, w)

_ENSEMBLE = [(t, fy, fx) for t in (False, True) for fy in (False, True) for fx in (False, True)]


def _transform(x, transpose, flip_y, flip_x):
    if flip_y:
        x = x[:, :, ::-1, :]
    if flip_x:
        x = x[:, :, :, ::-1]
    if transpose:
        x = x.transpose(0, 1, 3, 2)
    return np.ascontiguousarray(x)


def _untransform(y, transpose, flip_y, flip_x):
    if transpose:
        y = y.transpose(0, 1, 3, 2)
    if flip_x:
        y = y[:, :, :, ::-1]
    if flip_y:
        y = y[:, :, ::-1, :]
    return y


def _run(model, x, self_ensemble, device="cpu"):
    def net(x):
        if device == "cuda":  # the tile goes up, its output comes back
            return model(cuda.to_device(x)).to_numpy()
        return model(x)

    if not self_ensemble:
        return net(x)
    acc = None
    for t in _ENSEMBLE:
        y = _untransform(net(_transform(x, *t)), *t)
        acc = y.astype(np.float64) if acc is None else acc + y
    return (acc / len(_ENSEMBLE)).astype(np.float32)


def _run_on_luma(net, x, scale, self_ensemble, device):
    """A luma (1-channel) network on an (h, w, c) window in [0, 1]: gray as it
    is; colour through YCbCr (MATLAB's BT.601, as those networks were
    trained), the network on Y and bicubic resize on Cb and Cr, back to RGB.
    Returns (c, h*scale, w*scale)."""
    from .colour import rgb_to_ycbcr, ycbcr_to_rgb
    from .resize import resize

    if x.shape[2] == 1:
        return _run(net, np.ascontiguousarray(x.transpose(2, 0, 1))[None], self_ensemble, device)[0]
    ycc = rgb_to_ycbcr(x)
    luma = _run(net, np.ascontiguousarray(ycc[None, None, :, :, 0]), self_ensemble, device)[0, 0]
    h, w = x.shape[:2]
    big = np.empty((h * scale, w * scale, 3), np.float32)
    big[..., 0] = luma
    for c in (1, 2):
        big[..., c] = resize(np.ascontiguousarray(ycc[..., c]), size=(h * scale, w * scale), method="bicubic")
    return ycbcr_to_rgb(big).transpose(2, 0, 1)


def _check_outscale(outscale, what):
    """None, or a positive finite number (the output's size factor)."""
    if outscale is None:
        return None
    if isinstance(outscale, (bool, np.bool_)) or not isinstance(outscale, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what}: outscale must be a positive number or None, got {type(outscale).__name__} "
                        f"{outscale!r}")
    value = float(outscale)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{what}: outscale must be positive and finite, got {outscale!r}")
    return value


def _to_outscale(out, h, w, outscale, value_range):
    """The network's output resized to round(h * outscale) x round(w * outscale)
    (at least 1 pixel) with sr_native.resize's Lanczos-3, antialiased when
    shrinking; floats clipped back into value_range (Lanczos rings past it)."""
    from .resize import resize

    size = (max(int(round(h * outscale)), 1), max(int(round(w * outscale)), 1))
    if size == out.shape[:2]:
        return out
    if out.dtype == np.float64:  # resize takes float32
        resized = resize(out.astype(np.float32), size=size, method="lanczos3").astype(np.float64)
    else:
        resized = resize(out, size=size, method="lanczos3")
    if resized.dtype.kind == "f":
        np.clip(resized, value_range[0], value_range[1], out=resized)
    return resized


def upscale(image, scale=2, *, model=None, tile="auto", device=None, self_ensemble=False, progress=False,
            value_range=None, outscale=None):
    """Upscale an image with a super-resolution network.

    Args:
        image: numpy array HxW, HxWx1, HxWx3 or HxWx4 in uint8, uint16, float32 or
            float64 (floats in [0, 1], or see value_range), or a PIL image.
        scale: the model's scale factor, an int (2, 3 or 4; 2.0 is refused).
        model: a loaded network, a path to a weight file (ours or a foreign
            checkpoint), or the name of a shipped model.
        tile: "auto" (bounded memory: a quarter of the available memory, 512 MiB
            to 4 GiB, see AUTO_TILE_BUDGET_BYTES), None (whole
            image at once), or the tile core size in input pixels, at least
            MIN_TILE (16): each tile also runs the network over
            tiling_overlap(model) pixels around it. Tiled output equals the
            whole image's bit for bit (see the module docstring).
        device: "cpu" or "cuda" (the optional CUDA build and an NVIDIA GPU);
            None: where `model` is (a network moved with .to("cuda") runs
            on the GPU), else the CPU. On the GPU the image stays in host
            memory and tiles stream through the GPU, so its size is limited
            by host memory; tile="auto" sizes tiles by the GPU's free memory.
        self_ensemble: True or False: average the 8 flips and transposes
            (EDSR's "+" results).
        progress: True or False: show a progress bar over tiles.
        value_range: float images only: the range of their values, (lo, hi)
            or a number v for (0, v), e.g. 255 for a float image in 0..255;
            the output is in the same range. None: [0, 1]. Values more than
            FLOAT_RANGE_TOLERANCE (0.1%) of the range outside it are a
            ValueError (never clipped silently); values within it pass.
        outscale: None (the output is scale times the input), or any
            positive factor, as Real-ESRGAN's --outscale: the network runs at
            its own scale, then its output is resized to round(h * outscale)
            x round(w * outscale) with sr_native.resize's Lanczos-3
            (antialiased when shrinking; float output clipped to the value
            range). The network-scale output and the resized one both exist
            for a moment.

    Returns:
        The same kind, dtype and channel layout as the input, scale times
        larger (outscale times with outscale=).
        Gray goes through the RGB network (channels averaged on the way out);
        alpha is upscaled separately with bicubic resize and reattached. A
        luma (1-channel) model runs on a colour image's Y (MATLAB's BT.601
        YCbCr), Cb and Cr upscaled with bicubic resize.
    """
    arr, wrap = _to_array(image)
    _check_layout(arr.dtype, arr.shape, "upscale")
    scale = _check_scale(scale, "upscale")
    tile = _check_tile(tile, "upscale")
    self_ensemble = require_bool(self_ensemble, "upscale", "self_ensemble")
    progress = require_bool(progress, "upscale", "progress")
    value_range = _check_value_range(value_range, arr.dtype, "upscale")
    outscale = _check_outscale(outscale, "upscale")
    _check_image(arr, value_range)
    device = _check_device(device, "upscale")
    net = resolve_model(model, scale)
    if device is None:
        device = net.on_device
    if net.on_device != device:
        # The caller's network stays where it is; a copy runs on the other
        # device. One loaded here from a name or path simply moves.
        net = _copy_to(net, device) if net is model else net.to(device)
    if scale != net.scale:
        raise ValueError(f"upscale: scale {scale!r} does not match the model's scale {net.scale}")
    if net.n_colors not in (1, 3):
        raise ValueError(f"upscale: the model takes {net.n_colors} colour channels; RGB (3) or luma (1) "
                         "models only")

    h, w = arr.shape[:2]
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    colour = arr if arr.ndim == 2 else arr[..., : 1 if channels == 1 else 3]
    alpha = arr[..., 3] if channels == 4 else None
    peak = _DTYPE_MAX.get(arr.dtype, 1.0)
    lo, hi = value_range if arr.dtype.kind == "f" else (0.0, 1.0)

    overlap = tiling_overlap(net)
    fold = net.input_fold  # RRDBNet x2 / x1 fold pixel blocks into channels first
    if tile == "auto":
        budget = _gpu_tile_budget() if device == "cuda" else _cpu_tile_budget()
        max_pixels = budget // tile_bytes(net, 1, 1)
        tile_h, tile_w = _auto_tiles(h, w, overlap, max_pixels, fold)
    elif tile is None:
        tile_h, tile_w = h, w
    else:
        tile_h = tile_w = tile
    cores = list(_tile_cores(h, w, tile_h, tile_w, overlap, fold))
    if len(cores) > 1 and getattr(net, "inexact_tiling", ""):
        warnings.warn(f"upscale: {type(net).__name__}'s {net.inexact_tiling}, so tiled output differs slightly "
                      "from the whole image's (tile=None runs it whole)", stacklevel=2)
    windows = [_window(h, w, scale, core, overlap, fold) for core in cores]
    _check_memory(net, arr, scale, max(y1 - y0 for y0, y1, _, _ in windows),
                  max(x1 - x0 for _, _, x0, x1 in windows))
    out = np.empty((h * scale, w * scale) + arr.shape[2:], arr.dtype)

    bar = _progress(len(cores), progress)
    for (y0, y1, x0, x1), (py0, py1, px0, px1) in zip(cores, windows):
        crop = colour[py0:py1, px0:px1]
        x = crop.astype(np.float32).reshape(py1 - py0, px1 - px0, -1)
        if peak != 1.0:
            x /= np.float32(peak)
        elif (lo, hi) != (0.0, 1.0):
            x -= np.float32(lo)
            x /= np.float32(hi - lo)
        if net.n_colors == 1:  # a luma model
            y = _run_on_luma(net, x, scale, self_ensemble, device)
        else:
            x = np.ascontiguousarray(np.broadcast_to(x, x.shape[:2] + (3,)).transpose(2, 0, 1))[None]
            y = _run(net, x, self_ensemble, device)[0]
        y = y[:, (y0 - py0) * scale:(y1 - py0) * scale, (x0 - px0) * scale:(x1 - px0) * scale]
        if (colour.ndim == 2 or colour.shape[2] == 1) and y.shape[0] == 3:
            y = y.mean(axis=0, keepdims=True)
        y = np.clip(y.transpose(1, 2, 0), 0.0, 1.0)
        region = out[y0 * scale:y1 * scale, x0 * scale:x1 * scale]
        if peak != 1.0:
            y = np.rint(y * peak)
        elif (lo, hi) != (0.0, 1.0):
            y = y * np.float32(hi - lo) + np.float32(lo)
        if out.ndim == 2:
            region[...] = y[..., 0]
        else:
            region[..., : y.shape[2]] = y
        bar.update(1)
    bar.close()

    if alpha is not None:
        from .resize import resize

        if alpha.dtype == np.float64:  # resize takes float32; float64 output keeps float32 precision here
            alpha = alpha.astype(np.float32)
        big_alpha = resize(alpha, size=(h * scale, w * scale), method="bicubic")
        out[..., 3] = np.clip(big_alpha, lo, hi) if big_alpha.dtype == np.float32 else big_alpha
    if outscale is not None:
        out = _to_outscale(out, h, w, outscale, (lo, hi))
    return wrap(out)


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total, enabled):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="tile", desc="upscale")
