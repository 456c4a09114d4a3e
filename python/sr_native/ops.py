"""The compiled kernels on numpy arrays: float32, NCHW, batch N >= 1.

Every function validates its input and raises TypeError (wrong type or dtype;
flags must be bools, scalars real numbers: ``relu="False"`` is refused, not
taken as true),
ValueError (wrong ndim, mismatched shapes, zero-sized dimensions, bad factors)
or MemoryError (a result too large to address), naming the argument and the
shape it got. Non-contiguous input is copied. The GIL is released while a
kernel runs. `reference=True` runs the plain reference kernel instead of the
fast one (``sr_native.ref`` has the same functions with that default);
``reference=None`` (the default) follows ``reference_mode()``, which lets a
whole network run on the reference kernels.

Gradient convention: backward functions return fresh arrays; dx is the
gradient of the input, dw/db/dalpha those of the parameters.

GPU: every op also takes sr_native.cuda.DeviceArrays (the CUDA build) and then
runs its CUDA kernel, with the same checks and results within the tolerances
stated in tests/test_cuda_ops.py. All array arguments must then be on the GPU
(channel_affine's per-channel scale and shift may stay numpy). The reference
kernels are CPU-only: reference=True with DeviceArrays raises ValueError.
"""

import contextlib
import numbers
import threading

from . import _core
from . import cuda as _cuda_path

_state = threading.local()


@contextlib.contextmanager
def reference_mode(enabled=True):
    """Within the block, ops called with reference=None (every model layer) run
    the reference kernels on this thread: a whole network through the plain
    kernels, to check the fast path against it."""
    enabled = _flag(enabled, "reference_mode", "enabled")
    before = getattr(_state, "reference", False)
    _state.reference = enabled
    try:
        yield
    finally:
        _state.reference = before


def _ref(reference, op):
    if reference is None:
        return getattr(_state, "reference", False)
    return _flag(reference, op, "reference")


def _flag(value, op, name):
    """value as a bool; TypeError for anything else (bool('False') is True)."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":  # numpy.bool_ too
        return bool(value)
    raise TypeError(f"{op}: {name} must be a bool, got {type(value).__name__} {value!r}")


def _real(value, op, name):
    """value as a float; TypeError for str, None, bool and other non-numbers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def _on_gpu(*arrays):
    """True when any argument is a DeviceArray: the op then runs on the GPU."""
    return any(_cuda_path.is_device_array(a) for a in arrays)


def _gpu(op, reference):
    """The CUDA module's `op` (reference kernels exist only on the CPU)."""
    if reference:
        raise ValueError(f"{op}: the reference kernels run on the CPU; pass numpy arrays for reference=True")
    return getattr(_cuda_path._cuda, op)


def conv2d(x, w, b=None, *, relu=False, residual=None, res_scale=1.0, out=None, reference=None):
    """2-D convolution, stride 1, zero "same" padding, with a fused epilogue.

    Args:
        x: (N, C, H, W) float32.
        w: (O, C, K, K) float32, K odd from 1 to 9.
        b: optional (O,) bias.
        relu: apply ReLU to conv(x) + b.
        residual: optional (N, O, H, W); the result is residual + res_scale * t.
        res_scale: scale of t = act(conv(x) + b) (applies with or without residual).
        out: optional C-contiguous, writeable (N, O, H, W) float32 array to write
            the result into (returned). It may be residual itself (an in-place
            residual add) but must not share memory with x, w or b.

    Returns:
        y (N, O, H, W) = residual + res_scale * act(conv(x, w) + b).
    """
    relu, res_scale = _flag(relu, "conv2d", "relu"), _real(res_scale, "conv2d", "res_scale")
    reference = _ref(reference, "conv2d")
    if _on_gpu(x, w, b, residual, out):
        return _gpu("conv2d", reference)(x, w, b, relu=relu, residual=residual, res_scale=res_scale, out=out)
    return _core.conv2d(x, w, b, relu=relu, residual=residual, res_scale=res_scale, out=out,
                        reference=reference)


def conv2d_backward(x, w, dy, *, dx_residual=None, dx_out=None, reference=None):
    """Gradients of y = conv2d(x, w, b) (no epilogue) given dy = dL/dy.

    Args:
        dx_residual: optional (N, C, H, W) added to dx (a skip connection's
            gradient, added as dx is written instead of in a second pass).
        dx_out: optional C-contiguous, writeable (N, C, H, W) float32 array to
            write dx into. It may be dx_residual itself but must not share
            memory with x, w or dy.

    Returns:
        (dx, dw, db) with the shapes of x (N, C, H, W), w (O, C, K, K) and b (O,).
    """
    reference = _ref(reference, "conv2d_backward")
    if _on_gpu(x, w, dy, dx_residual, dx_out):
        return _gpu("conv2d_backward", reference)(x, w, dy, dx_residual=dx_residual, dx_out=dx_out)
    return _core.conv2d_backward(x, w, dy, dx_residual=dx_residual, dx_out=dx_out, reference=reference)


def conv1x1_pair(x, w1, b1, w2, b2, *, residual=None, out=None, reference=None):
    """Two 1x1 convolutions with a ReLU between, in one pass over the pixels:
    y = residual + conv2d(relu(conv2d(x, w1, b1)), w2, b2).

    Bit-identical to the two conv2d calls, but the middle (w1's M channels)
    never goes to memory, which is what limits those layers (WDSR-B).

    Args:
        x: (N, C, H, W) float32; w1: (M, C, 1, 1); w2: (O, M, 1, 1);
        b1: (M,) or None; b2: (O,) or None.
        residual, out: as for conv2d (out may be residual itself).
    """
    reference = _ref(reference, "conv1x1_pair")
    if _on_gpu(x, w1, b1, w2, b2, residual, out):
        return _gpu("conv1x1_pair", reference)(x, w1, b1, w2, b2, residual=residual, out=out)
    return _core.conv1x1_pair(x, w1, b1, w2, b2, residual=residual, out=out, reference=reference)


def pixel_shuffle(x, r, *, out=None, reference=None):
    """(N, C*r*r, H, W) -> (N, C, H*r, W*r) in PyTorch's channel order:
    out[n, c, h*r+i, w*r+j] = x[n, c*r*r + i*r + j, h, w]. Bit-exact.
    out: optional C-contiguous, writeable result array (not sharing memory with x)."""
    reference = _ref(reference, "pixel_shuffle")
    if _on_gpu(x, out):
        return _gpu("pixel_shuffle", reference)(x, _factor(r, "pixel_shuffle"), out=out)
    return _core.pixel_shuffle(x, _factor(r, "pixel_shuffle"), out=out, reference=reference)


def pixel_unshuffle(x, r, *, out=None, reference=None):
    """(N, C, H*r, W*r) -> (N, C*r*r, H, W), the inverse of pixel_shuffle. Bit-exact.
    out: as for pixel_shuffle."""
    reference = _ref(reference, "pixel_unshuffle")
    if _on_gpu(x, out):
        return _gpu("pixel_unshuffle", reference)(x, _factor(r, "pixel_unshuffle"), out=out)
    return _core.pixel_unshuffle(x, _factor(r, "pixel_unshuffle"), out=out, reference=reference)


def relu(x, *, reference=None):
    """x < 0 ? 0 : x, any shape: NaN passes through (IEEE propagation)."""
    reference = _ref(reference, "relu")
    if _on_gpu(x):
        return _gpu("relu", reference)(x)
    return _core.relu(x, reference=reference)


def relu_backward(x, dy, *, out=None, reference=None):
    """dx = 0 where x <= 0, else dy (the gradient at 0 is taken as 0; where x is
    NaN, dy, the branch relu took, as in PyTorch).

    out: optional C-contiguous, aligned, writeable array of x's shape to write
    dx into; it may be x or dy itself (in place)."""
    reference = _ref(reference, "relu_backward")
    if _on_gpu(x, dy, out):
        return _gpu("relu_backward", reference)(x, dy, out=out)
    return _core.relu_backward(x, dy, out=out, reference=reference)


def prelu(x, alpha, *, reference=None):
    """x where x > 0, else alpha[c] * x; x is (N, C, ...), alpha (1,) or (C,)."""
    reference = _ref(reference, "prelu")
    if _on_gpu(x, alpha):
        return _gpu("prelu", reference)(x, alpha)
    return _core.prelu(x, alpha, reference=reference)


def prelu_backward(x, alpha, dy, *, reference=None):
    """(dx, dalpha) of prelu."""
    reference = _ref(reference, "prelu_backward")
    if _on_gpu(x, alpha, dy):
        return _gpu("prelu_backward", reference)(x, alpha, dy)
    return _core.prelu_backward(x, alpha, dy, reference=reference)


def l1_loss(pred, target, *, reference=None):
    """mean(|pred - target|) as a Python float (accumulated in double)."""
    reference = _ref(reference, "l1_loss")
    if _on_gpu(pred, target):
        return _gpu("l1_loss", reference)(pred, target)
    return _core.l1_loss(pred, target, reference=reference)


def l1_loss_backward(pred, target, grad_scale=1.0, *, reference=None):
    """grad_scale * d l1_loss / d pred = grad_scale * sign(pred - target) / count."""
    reference = _ref(reference, "l1_loss_backward")
    grad_scale = _real(grad_scale, "l1_loss_backward", "grad_scale")
    if _on_gpu(pred, target):
        return _gpu("l1_loss_backward", reference)(pred, target, grad_scale)
    return _core.l1_loss_backward(pred, target, grad_scale, reference=reference)


def mse_loss(pred, target, *, reference=None):
    """mean((pred - target)**2) as a Python float (accumulated in double)."""
    reference = _ref(reference, "mse_loss")
    if _on_gpu(pred, target):
        return _gpu("mse_loss", reference)(pred, target)
    return _core.mse_loss(pred, target, reference=reference)


def mse_loss_backward(pred, target, grad_scale=1.0, *, reference=None):
    """grad_scale * 2 * (pred - target) / count."""
    reference = _ref(reference, "mse_loss_backward")
    grad_scale = _real(grad_scale, "mse_loss_backward", "grad_scale")
    if _on_gpu(pred, target):
        return _gpu("mse_loss_backward", reference)(pred, target, grad_scale)
    return _core.mse_loss_backward(pred, target, grad_scale, reference=reference)


def add_scaled(a, b, alpha=1.0, *, reference=None):
    """a + alpha * b, same shapes."""
    reference, alpha = _ref(reference, "add_scaled"), _real(alpha, "add_scaled", "alpha")
    if _on_gpu(a, b):
        return _gpu("add_scaled", reference)(a, b, alpha)
    return _core.add_scaled(a, b, alpha, reference=reference)


def channel_affine(x, scale, shift, *, reference=None):
    """x * scale[c] + shift[c] on (N, C, H, W): input normalisation (mean shift)."""
    reference = _ref(reference, "channel_affine")
    if _on_gpu(x):
        return _gpu("channel_affine", reference)(x, scale, shift)
    return _core.channel_affine(x, scale, shift, reference=reference)


def channel_sum(x, *, reference=None):
    """Sum over N, H and W of (N, C, H, W): (C,). Bias gradients."""
    reference = _ref(reference, "channel_sum")
    if _on_gpu(x):
        return _gpu("channel_sum", reference)(x)
    return _core.channel_sum(x, reference=reference)


def adam_step(param, grad, m, v, *, lr, step, beta1=0.9, beta2=0.999, eps=1e-8,
              weight_decay=0.0, reference=None):
    """One Adam step (PyTorch's update, with bias correction), in place on param, m, v.

    param, m and v must be C-contiguous, aligned, writeable float32 arrays of one
    shape (ValueError naming the one that is not); step counts from 1. The
    hyperparameters are checked as the float32 values the kernel uses: lr,
    eps and weight_decay finite (eps > 0), beta1 and beta2 in [0, 1) after
    rounding (1 - 1e-10 rounds to 1.0).
    """
    op = "adam_step"
    reference = _ref(reference, op)
    hp = {name: _real(value, op, name) for name, value in
          (("lr", lr), ("beta1", beta1), ("beta2", beta2), ("eps", eps), ("weight_decay", weight_decay))}
    step = _int(step, op, "step")
    if _on_gpu(param, grad, m, v):
        return _gpu("adam_step", reference)(param, grad, m, v, step=step, **hp)
    _core.adam_step(param, grad, m, v, step=step, reference=reference, **hp)


def sum_squares(x):
    """sum(x * x) of a float32 array as a Python float, accumulated in double
    (gradient clipping's norm). TypeError for anything but a float32 array."""
    if _on_gpu(x):
        return _gpu("sum_squares", False)(x)
    import numpy as np

    if not isinstance(x, np.ndarray):
        raise TypeError(f"sum_squares: x must be a numpy.ndarray of float32, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"sum_squares: x must be float32, got {x.dtype} with shape {x.shape}")
    flat = x.ravel()
    return float(np.dot(flat.astype(np.float64), flat))


def _int(value, op, name):
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{op}: {name} must be an int, got {type(value).__name__}")
    return int(value.__index__())


def _factor(r, op):
    r = _int(r, op, "r")
    if r < 1:
        raise ValueError(f"{op}: r must be a positive integer, got {r}")
    return r
