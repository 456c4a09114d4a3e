"""Image resizing with MATLAB ``imresize``'s algorithm: ``sr_native.resize``.

The training pipeline makes its low-resolution images with this function, so
bicubic shrinking reproduces MATLAB's ``imresize(I, 1/s)`` (the Set5/Set14 LR
images within 1 grey level on >= 99% of pixels; the misses sit on the border).
"""

import math
import numbers

from . import _core
from .argcheck import require_bool
from . import cuda as _cuda_path
from .cuda import is_device_array

# Codes of sr_native::ResizeMethod (cpp/include/sr_native/resize.h).
_METHODS = {"nearest": 0, "bilinear": 1, "bicubic": 2, "lanczos3": 3, "lanczos": 3, "area": 4}

# Output sizes this close to an integer count as that integer: scale 1/3 is not
# exact in binary, and in * (1/3) may land a hair above in / 3.
_SIZE_TOL = 1e-9


def resize(image, scale=None, *, size=None, method="bicubic", antialias=True, reference=False):
    """Resize an HxW or HxWxC image the way MATLAB's ``imresize`` does.

    Args:
        image: numpy array (H, W) or (H, W, C), any C >= 1, dtype uint8, uint16
            or float32. Non-contiguous arrays are copied. A DeviceArray of the
            same (sr_native.cuda) is resized on the GPU, with the same result
            (within 1e-5 relative for float32, one level for integers).
        scale: positive scale factor (int or float). The output size is MATLAB's
            ``ceil(in * scale)`` per axis (values within 1e-9 of an integer count
            as that integer, so ``1/3`` of 255 is 85), and the filter uses
            ``scale`` itself.
        size: ``(height, width)`` instead of scale; the per-axis scale is then
            ``out / in`` (as in MATLAB). Give exactly one of scale and size.
        method: "nearest", "bilinear", "bicubic" (Keys cubic with a = -0.5, the
            convention of MATLAB imresize and Pillow; OpenCV and PyTorch use
            a = -0.75), "lanczos3" (alias "lanczos"), or "area" (box filter:
            averaging when shrinking, nearest when enlarging).
        antialias: when shrinking, widen the filter by 1/scale (kernel
            ``h(scale*x)*scale``), as MATLAB and Pillow do. "nearest" is never
            antialiased; "area" without antialias is "nearest".
        reference: run the plain reference kernel (double accumulation) instead
            of the fast one (float, SIMD, threads). They agree within 1e-5
            relative for float32; integer results are equal (near-ties are
            re-summed in double), with rare exceptions of 1 level.

    Returns:
        The resized image, same dtype and layout. Integer results are rounded
        half away from zero and clamped to the dtype's range (MATLAB's
        conversion); float32 is neither rounded nor clamped.

    Algorithm (MATLAB's): separable, the axis with the smaller scale first (rows
    on a tie), the intermediate image kept in the input's dtype (rounded for
    integers, as MATLAB does); pixel centres aligned (input position
    ``u = x/scale + 0.5*(1 - 1/scale)``, 1-based); weights normalised to sum 1;
    taps beyond the border mirrored (edge pixel repeated). Pillow uses the same
    filters and pixel mapping but renormalises truncated kernels at the border
    instead of mirroring, resizes width first, and its box filter is
    (-0.5, 0.5] rather than [-0.5, 0.5); uint8 results agree within 1 level
    away from the border (see tests/test_resize.py for what is compared).

    Raises:
        TypeError: image is not a numpy array of uint8, uint16 or float32, or
            scale/size/method/antialias have the wrong type.
        ValueError: image not 2-D or 3-D, a zero-sized dimension, scale not
            positive and finite, size entries not positive, both or neither of
            scale and size, unknown method, or an antialiased shrink so strong
            that the filter would need more than 2**22 taps per pixel.
        MemoryError: the result would be too large to address, or it, its
            filter tap tables and the intermediate image would not fit in
            the memory left (cgroup limits included).
    """
    if not isinstance(method, str):
        raise TypeError(f"resize: method must be a str, got {type(method).__name__}")
    code = _METHODS.get(method.lower())
    if code is None:
        raise ValueError(f"resize: method must be one of {sorted(_METHODS)}, got {method!r}")
    antialias = require_bool(antialias, "resize", "antialias")
    reference = require_bool(reference, "resize", "reference")
    shape = getattr(image, "shape", None)
    if shape is None or getattr(image, "ndim", 0) not in (2, 3) or 0 in shape:
        # Let the binding raise its typed error (TypeError / ValueError) with the shape.
        return _core.resize(image, 1, 1, 1.0, 1.0, code, bool(antialias), bool(reference))
    in_h, in_w = int(shape[0]), int(shape[1])

    if (scale is None) == (size is None):
        raise ValueError("resize: give exactly one of scale and size, got "
                         + ("both" if scale is not None else "neither"))
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
            raise TypeError(f"resize: scale must be an int or float, got {type(scale).__name__}")
        s = float(scale)
        if not (math.isfinite(s) and s > 0):
            raise ValueError(f"resize: scale must be positive and finite, got {scale!r}")
        out_h, out_w = _out_len(in_h, s), _out_len(in_w, s)
        scale_h = scale_w = s
    else:
        try:
            out_h, out_w = size
        except (TypeError, ValueError):
            raise ValueError(f"resize: size must be a pair (height, width), got {size!r}") from None
        for v in (out_h, out_w):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"resize: size entries must be ints, got {size!r}")
        out_h, out_w = int(out_h), int(out_w)
        if out_h < 1 or out_w < 1:
            raise ValueError(f"resize: size entries must be positive, got {size!r}")
        scale_h, scale_w = out_h / in_h, out_w / in_w

    channels = int(shape[2]) if len(shape) == 3 else 1
    itemsize = getattr(getattr(image, "dtype", None), "itemsize", 1)
    if out_h * out_w * channels * itemsize >= 2**62:  # before the int64 binding
        raise MemoryError(f"resize: an output of {out_h} x {out_w} x {channels} would need "
                          "more memory than can be addressed")
    if is_device_array(image):  # the CUDA kernel: same taps, passes and rounding
        if reference:
            raise ValueError("resize: the reference kernel runs on the CPU; pass a numpy array for reference=True")
        return _cuda_path._cuda.resize(image, out_h, out_w, scale_h, scale_w, code, bool(antialias))
    return _core.resize(image, out_h, out_w, scale_h, scale_w, code, bool(antialias),
                        bool(reference))


def _out_len(n, scale):
    """MATLAB's ceil(n * scale), with near-integers snapped (see _SIZE_TOL)."""
    v = n * scale
    if not v < 2**62:  # inf (scale 1e308) would raise OverflowError in round()
        raise MemoryError(f"resize: scale {scale!r} makes an output side of {v:.3g} pixels "
                          f"(from {n}), more memory than can be addressed")
    r = round(v)
    if abs(v - r) <= _SIZE_TOL * max(1.0, abs(v)):
        return max(int(r), 1)
    return max(math.ceil(v), 1)
