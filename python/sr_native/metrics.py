"""PSNR and SSIM following the published super-resolution protocol.

- Integer images are compared on their own range (uint8: 255, uint16: 65535);
  float images must be in [0, 1] (ValueError otherwise, and for NaN/infinity).
- y_channel=True compares the luma of ITU-R BT.601 as MATLAB's rgb2ycbcr
  computes it, Y = 16 + 65.481 R + 128.553 G + 24.966 B for RGB in [0, 1]
  (Y in [16, 235]), kept in floating point, on a 0-255 scale.
- crop_border shaves that many pixels from every side first.
- SSIM (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
  the mean of the SSIM map over the positions where the window fits (no padding);
  colour images without y_channel: the mean over channels.
"""

import numpy as np

from .argcheck import require_bool

_Y_WEIGHTS = np.array([65.481, 128.553, 24.966])


def _as_unit_float(img, name):
    img = np.asarray(img)
    if img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    if img.dtype == np.uint16:
        return img.astype(np.float64) / 65535.0
    if img.dtype in (np.float32, np.float64):
        return img.astype(np.float64)
    raise TypeError(f"{name} must be uint8, uint16, float32 or float64, got {img.dtype}")


def _check_dtype(arr, name, fn):
    if arr.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise TypeError(f"{fn}: {name} must be uint8, uint16, float32 or float64, got {arr.dtype}")


def _check_values(arr, name, fn):
    if arr.dtype.kind == "f" and arr.size:
        if not np.isfinite(arr).all():
            raise ValueError(f"{fn}: {name} holds NaN or infinity")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            # A float image in 0..255 would be scored against a peak of 1: a wrong number, not an error.
            raise ValueError(f"{fn}: float images must be in [0, 1], {name} holds {lo:g}..{hi:g} "
                             "(divide 8-bit values by 255, or pass uint8)")


def _prepare(a, b, crop_border, y_channel, fn):
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    _check_dtype(a_arr, "a", fn)
    _check_dtype(b_arr, "b", fn)
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"{fn}: a and b must have the same shape, got {a_arr.shape} and {b_arr.shape}")
    if a_arr.ndim not in (2, 3):
        raise ValueError(f"{fn}: images must be HxW or HxWxC, got shape {a_arr.shape}")
    if a_arr.dtype != b_arr.dtype:
        raise TypeError(f"{fn}: a and b must have the same dtype, got {a_arr.dtype} and {b_arr.dtype}")
    if isinstance(crop_border, (bool, np.bool_)) or not isinstance(crop_border, (int, np.integer)):
        raise TypeError(f"{fn}: crop_border must be an int, got {type(crop_border).__name__} {crop_border!r}")
    if crop_border < 0:
        raise ValueError(f"{fn}: crop_border must be a non-negative int, got {crop_border!r}")
    require_bool(y_channel, fn, "y_channel")  # y_channel='False' is truthy: it would convert
    if a_arr.size == 0:
        raise ValueError(f"{fn}: images are empty (shape {a_arr.shape})")
    _check_values(a_arr, "a", fn)
    _check_values(b_arr, "b", fn)
    peak = 65535.0 if a_arr.dtype == np.uint16 else 255.0
    x, y = _as_unit_float(a_arr, "a"), _as_unit_float(b_arr, "b")
    if y_channel:
        if x.ndim != 3 or x.shape[2] not in (3, 4):
            if x.ndim == 2 or x.shape[2] == 1:  # already one channel: nothing to convert
                x, y = x.reshape(x.shape[:2]) * 255.0, y.reshape(y.shape[:2]) * 255.0
            else:
                raise ValueError(f"{fn}: y_channel needs RGB images, got shape {a_arr.shape}")
        else:
            x = 16.0 + x[..., :3] @ _Y_WEIGHTS
            y = 16.0 + y[..., :3] @ _Y_WEIGHTS
        peak = 255.0
    else:
        x, y = x * peak, y * peak
    if crop_border:
        if 2 * crop_border >= min(x.shape[0], x.shape[1]):
            raise ValueError(f"{fn}: crop_border {crop_border} leaves nothing of shape {a_arr.shape}")
        x = x[crop_border:-crop_border, crop_border:-crop_border]
        y = y[crop_border:-crop_border, crop_border:-crop_border]
    return x, y, peak


def psnr(a, b, *, crop_border=0, y_channel=False):
    """Peak signal-to-noise ratio in dB (inf for identical images)."""
    x, y, peak = _prepare(a, b, crop_border, y_channel, "psnr")
    mse = np.mean((x - y) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak * peak / mse))


def _gaussian_window(size=11, sigma=1.5):
    r = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(r * r) / (2 * sigma * sigma))
    return g / g.sum()


def _filter_valid(img, g):
    """Separable 'valid' correlation of a 2-D image with the 1-D window g on both axes."""
    from numpy.lib.stride_tricks import sliding_window_view

    rows = sliding_window_view(img, g.size, axis=0) @ g
    return sliding_window_view(rows, g.size, axis=1) @ g


def _ssim_plane(x, y, peak):
    g = _gaussian_window()
    if min(x.shape) < g.size:
        raise ValueError(f"ssim: images must be at least {g.size}x{g.size} after cropping, got {x.shape}")
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mx, my = _filter_valid(x, g), _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mx * mx
    syy = _filter_valid(y * y, g) - my * my
    sxy = _filter_valid(x * y, g) - mx * my
    ssim_map = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(ssim_map.mean())


def ssim(a, b, *, crop_border=0, y_channel=False):
    """Structural similarity (mean SSIM), in [-1, 1]."""
    x, y, peak = _prepare(a, b, crop_border, y_channel, "ssim")
    if x.ndim == 2:
        return _ssim_plane(x, y, peak)
    return float(np.mean([_ssim_plane(x[..., c], y[..., c], peak) for c in range(x.shape[2])]))
