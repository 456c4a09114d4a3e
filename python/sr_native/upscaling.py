"""sr_native.upscale: any everyday image through a network, in bounded memory.

Tiling: the image is cut into tiles whose padding covers the network's
receptive field (model.receptive_radius); each padded tile runs through the
network and only its core is kept, so the tiled result equals running the
network on the whole image (the image border is zero-padded in both cases):
bit for bit on the direct convolution path. Layers on the Winograd path
(3x3 with >= 16 channels) round each pixel with its 4x4 tile-mates, so there
tiled and whole agree within 1e-5 in float and, for integer output, within
1 level on rare pixels (about 1 in 30,000 in the tests).
Each tile's output is converted to the output dtype as it is written, so the
full-resolution image exists only once, in the output dtype.
"""

from pathlib import Path

import numpy as np

from . import _core, cuda
from .models import SRNetwork

# tile="auto" keeps one tile's activations under this many bytes. Peak memory of
# upscale is then about: input + output (in their dtypes) + this budget + the
# weights. For a 3840x2160 RGB uint8 image at x2 through EDSR-baseline: 25 MB in,
# 100 MB out, 512 MB of activations.
AUTO_TILE_BUDGET_BYTES = 512 * 1024 * 1024

# On the GPU tiles are far larger: a 1920x1080 input through EDSR-baseline x2 in one tile.
GPU_TILE_BUDGET_MAX_BYTES = 16 * 1024**3

_DTYPE_MAX = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


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
        return load_model(model)
    raise TypeError(f"upscale: model must be a network, a path or a model name, got {type(model).__name__}")


def _to_array(image):
    """numpy view of the input, and a function that turns the result back into its kind."""
    try:
        from PIL import Image
    except ImportError:  # Pillow is a dependency, but keep numpy-only use working
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        mode = image.mode
        if mode not in ("L", "RGB", "RGBA", "I;16"):
            raise ValueError(f"upscale: PIL images of mode {mode!r} are not supported; convert to RGB or RGBA")
        arr = np.asarray(image)
        return arr, lambda out: Image.fromarray(out, mode=mode if mode != "I;16" else None)
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


def _check_image(arr):
    if arr.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise TypeError(f"upscale: image dtype must be uint8, uint16, float32 or float64, got {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise ValueError(f"upscale: image must be HxW or HxWxC, got shape {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"upscale: image must have 1, 3 or 4 channels (gray, RGB, RGBA), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"upscale: image is empty, got shape {arr.shape}")
    # Rejected rather than propagated: a NaN would spread over its tile's
    # receptive field and become arbitrary integers in 8/16-bit output.
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"upscale: image contains NaN or infinity (shape {arr.shape}, dtype {arr.dtype})")


def tile_bytes(model, tile_h, tile_w):
    """Rough peak bytes of one tile's activations (with the receptive border)."""
    r = model.receptive_radius
    return int(4 * 1.25 * model.activation_floats_per_pixel() * (tile_h + 2 * r) * (tile_w + 2 * r))


def _check_memory(net, arr, scale, tile_size):
    """MemoryError before allocating, when the output and one tile's
    activations would not fit the memory the system has left (on Linux an
    oversized request would otherwise be granted, and the process killed
    while filling it)."""
    h, w = arr.shape[:2]
    out_bytes = h * scale * w * scale * (arr.shape[2] if arr.ndim == 3 else 1) * arr.itemsize
    need = out_bytes + tile_bytes(net, min(tile_size, h), min(tile_size, w))
    avail = _core.available_memory()
    if 0 <= avail < need:
        gib = float(1 << 30)
        raise MemoryError(f"upscale: a {w}x{h} image at x{scale} needs about {need / gib:.2f} GiB "
                          f"(output {out_bytes / gib:.2f} GiB plus one tile's activations) but only "
                          f"{avail / gib:.2f} GiB are available; use a smaller tile= or sr_native.dask")


def _auto_tile(model, budget=AUTO_TILE_BUDGET_BYTES):
    """Largest square tile core whose padded activations fit the budget."""
    per_pixel = 4 * 1.25 * model.activation_floats_per_pixel()  # margin for numpy temporaries
    side = int((budget / per_pixel) ** 0.5)
    core = side - 2 * model.receptive_radius
    core = max(core, model.receptive_radius)  # never all overlap
    return core


def _gpu_tile_budget():
    """Activation bytes for one tile on the GPU: half of its free memory (the
    rest left to the allocator's slack and to other processes), at most
    GPU_TILE_BUDGET_MAX_BYTES: past that, bigger tiles gain nothing."""
    free = cuda.device_info()["memory_free"]
    return max(min(free // 2, GPU_TILE_BUDGET_MAX_BYTES), 64 << 20)


def _tiles(h, w, tile):
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            yield y0, x0, min(y0 + tile, h), min(x0 + tile, w)


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


def upscale(image, scale=2, *, model=None, tile="auto", device=None, self_ensemble=False, progress=False):
    """Upscale an image with a super-resolution network.

    Args:
        image: numpy array HxW, HxWx1, HxWx3 or HxWx4 in uint8, uint16, float32 or
            float64 (floats in [0, 1]), or a PIL image (L, RGB, RGBA, I;16).
        scale: the model's scale factor (2, 3 or 4).
        model: a loaded network, a path to a weight file (ours or a foreign
            checkpoint), or the name of a shipped model.
        tile: "auto" (bounded memory, see AUTO_TILE_BUDGET_BYTES), None (whole
            image at once), or the tile core size in input pixels.
        device: "cpu" or "cuda" (the optional CUDA build and an NVIDIA GPU);
            None: where `model` is (a network moved with .to("cuda") runs
            on the GPU), else the CPU. On the GPU the image stays in host
            memory and tiles stream through the GPU, so its size is limited
            by host memory; tile="auto" sizes tiles by the GPU's free memory.
        self_ensemble: average the 8 flips and transposes (EDSR's "+" results).
        progress: show a progress bar over tiles.

    Returns:
        The same kind, dtype and channel layout as the input, scale times larger.
        Gray goes through the RGB network (channels averaged on the way out);
        alpha is upscaled separately with bicubic resize and reattached.
    """
    arr, wrap = _to_array(image)
    _check_image(arr)
    if device is not None:
        device = cuda.check_device(device, "upscale")
    net = resolve_model(model, scale)
    if device is None:
        device = net.on_device
    if net.on_device != device:
        # The caller's network stays where it is; a copy runs on the other
        # device. One loaded here from a name or path simply moves.
        net = _copy_to(net, device) if net is model else net.to(device)
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale != net.scale:
        raise ValueError(f"upscale: scale {scale!r} does not match the model's scale {net.scale}")
    if net.n_colors != 3:
        raise ValueError(f"upscale: the model takes {net.n_colors} colour channels; RGB models only")

    h, w = arr.shape[:2]
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    colour = arr if arr.ndim == 2 else arr[..., : 1 if channels == 1 else 3]
    alpha = arr[..., 3] if channels == 4 else None
    peak = _DTYPE_MAX.get(arr.dtype, 1.0)

    if tile == "auto":
        tile_size = _auto_tile(net, _gpu_tile_budget() if device == "cuda" else AUTO_TILE_BUDGET_BYTES)
    elif tile is None:
        tile_size = max(h, w)
    elif isinstance(tile, (int, np.integer)) and not isinstance(tile, bool) and tile >= 1:
        tile_size = int(tile)
    else:
        raise ValueError(f"upscale: tile must be 'auto', None or a positive int, got {tile!r}")
    _check_memory(net, arr, scale, tile_size)
    out = np.empty((h * scale, w * scale) + arr.shape[2:], arr.dtype)

    pad = net.receptive_radius
    tiles = list(_tiles(h, w, tile_size))
    bar = _progress(len(tiles), progress)
    for y0, x0, y1, x1 in tiles:
        py0, px0, py1, px1 = max(y0 - pad, 0), max(x0 - pad, 0), min(y1 + pad, h), min(x1 + pad, w)
        crop = colour[py0:py1, px0:px1]
        x = crop.astype(np.float32).reshape(py1 - py0, px1 - px0, -1)
        if peak != 1.0:
            x /= np.float32(peak)
        x = np.ascontiguousarray(np.broadcast_to(x, x.shape[:2] + (3,)).transpose(2, 0, 1))[None]
        y = _run(net, x, self_ensemble, device)[0]
        y = y[:, (y0 - py0) * scale:(y1 - py0) * scale, (x0 - px0) * scale:(x1 - px0) * scale]
        if colour.ndim == 2 or colour.shape[2] == 1:
            y = y.mean(axis=0, keepdims=True)
        y = np.clip(y.transpose(1, 2, 0), 0.0, 1.0)
        region = out[y0 * scale:y1 * scale, x0 * scale:x1 * scale]
        if peak != 1.0:
            y = np.rint(y * peak)
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
        out[..., 3] = np.clip(big_alpha, 0.0, 1.0) if big_alpha.dtype == np.float32 else big_alpha
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
