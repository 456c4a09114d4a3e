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
from .argcheck import require_bool
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
    return require_bool(value, op, name)


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


def conv2d_rows(x, w, b=None, *, out, pad_top, whole_h, relu=False, residual=None, res_scale=1.0, reference=None):
    """conv2d over a band of rows of a taller image, into out (CPU; what
    sr_native.streaming runs networks with).

    x, out and residual are (N, C, rows, W) row bands: C-contiguous arrays or
    row slices a[:, :, i:j] of them (planes further apart than their rows).
    Output row i reads x's rows i - pad_top .. i - pad_top + K - 1, zeros
    outside x: pad_top = K // 2 and as many rows as out is conv2d's "same"
    padding; pad_top = 0 and K - 1 more rows than out reads real rows on
    both sides. Winograd's 4x4 tiles start at out's first row, so a band
    starting on a multiple of 4 of the whole image computes the whole
    image's bits there; whole_h (the whole image's rows) makes conv2d's
    Winograd-or-direct choice the whole image's. The epilogue is conv2d's.
    """
    relu, res_scale = _flag(relu, "conv2d_rows", "relu"), _real(res_scale, "conv2d_rows", "res_scale")
    reference = _ref(reference, "conv2d_rows")
    pad_top, whole_h = _int(pad_top, "conv2d_rows", "pad_top"), _int(whole_h, "conv2d_rows", "whole_h")
    _core.conv2d_rows(x, w, b, out=out, pad_top=pad_top, whole_h=whole_h, relu=relu, residual=residual,
                      res_scale=res_scale, reference=reference)
    return out


def conv2d_backward(x, w, dy, *, dx_residual=None, dx_out=None, need_dx=True, reference=None):
    """Gradients of y = conv2d(x, w, b) (no epilogue) given dy = dL/dy.

    Args:
        dx_residual: optional (N, C, H, W) added to dx (a skip connection's
            gradient, added as dx is written instead of in a second pass).
        dx_out: optional C-contiguous, writeable (N, C, H, W) float32 array to
            write dx into. It may be dx_residual itself but must not share
            memory with x, w or dy.
        need_dx: False skips dx (returned as None): a network's first layer,
            whose input needs no gradient. Not with dx_residual or dx_out.

    Returns:
        (dx, dw, db) with the shapes of x (N, C, H, W), w (O, C, K, K) and b (O,).
    """
    reference = _ref(reference, "conv2d_backward")
    need_dx = _flag(need_dx, "conv2d_backward", "need_dx")
    if _on_gpu(x, w, dy, dx_residual, dx_out):
        dx, dw, db = _gpu("conv2d_backward", reference)(x, w, dy, dx_residual=dx_residual, dx_out=dx_out)
        return (dx if need_dx else None), dw, db
    return _core.conv2d_backward(x, w, dy, dx_residual=dx_residual, dx_out=dx_out, need_dx=need_dx,
                                 reference=reference)


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


def conv_transpose2d(x, w, b=None, *, stride=1, padding=0, output_padding=0, out=None, reference=None):
    """Transposed convolution with PyTorch's ConvTranspose2d semantics (groups 1, dilation 1).

    Input pixel (iy, ix) of channel c adds x * w[c, o, ky, kx] to output pixel
    (iy * stride - padding + ky, ix * stride - padding + kx); taps that land
    outside the output are dropped. FSRCNN's upsampler is K = 9, stride = scale,
    padding 4, output_padding scale - 1 (the output is exactly scale times x).

    Args:
        x: (N, C, H, W) float32.
        w: (C, O, K, K) float32, PyTorch's ConvTranspose2d layout, K from 1 to 9.
        b: optional (O,) bias.
        stride: 1 to 8. padding: >= 0. output_padding: 0 <= output_padding < stride
            (extra rows and columns at the bottom and right, as in PyTorch).
        out: optional C-contiguous, writeable float32 array of the output's shape
            to write into (returned); must not share memory with x, w or b.

    Returns:
        y (N, O, HO, WO), HO = (H - 1) * stride - 2 * padding + K + output_padding
        (WO likewise), which must be at least 1. CPU only (no CUDA kernel yet).
    """
    op = "conv_transpose2d"
    reference = _ref(reference, op)
    if _on_gpu(x, w, b, out):
        raise TypeError(f"{op}: arrays must be numpy arrays ({op} has no CUDA kernel yet)")
    return _core.conv_transpose2d(x, w, b, stride=_int(stride, op, "stride"), padding=_int(padding, op, "padding"),
                                  output_padding=_int(output_padding, op, "output_padding"), out=out,
                                  reference=reference)


def conv_transpose2d_backward(x, w, dy, *, stride=1, padding=0, output_padding=0, dx_out=None, reference=None):
    """Gradients of y = conv_transpose2d(x, w, b, stride=..., padding=..., output_padding=...)
    given dy = dL/dy (N, O, HO, WO).

    dx is the ordinary strided correlation of dy with w (conv2d's forward), dw
    the correlation of x with dy, db the sum of dy over N, HO and WO.

    Args:
        dx_out: optional C-contiguous, writeable (N, C, H, W) float32 array to
            write dx into; must not share memory with x, w or dy.

    Returns:
        (dx, dw, db): new arrays (dx the given dx_out) with the shapes of
        x (N, C, H, W), w (C, O, K, K) and b (O,).
    """
    op = "conv_transpose2d_backward"
    reference = _ref(reference, op)
    if _on_gpu(x, w, dy, dx_out):
        raise TypeError(f"{op}: arrays must be numpy arrays (conv_transpose2d has no CUDA kernel yet)")
    return _core.conv_transpose2d_backward(x, w, dy, stride=_int(stride, op, "stride"),
                                           padding=_int(padding, op, "padding"),
                                           output_padding=_int(output_padding, op, "output_padding"),
                                           dx_out=dx_out, reference=reference)


def pixel_shuffle(x, r, *, out=None, reference=None):
    """(N, C*r*r, H, W) -> (N, C, H*r, W*r) in PyTorch's channel order:
    out[n, c, h*r+i, w*r+j] = x[n, c*r*r + i*r + j, h, w]. Bit-exact.
    out: optional C-contiguous, writeable result array (not sharing memory with x)."""
    reference = _ref(reference, "pixel_shuffle")
    if _on_gpu(x, out):
        return _gpu("pixel_shuffle", reference)(x, _factor(r, "pixel_shuffle"), out=out)
    return _core.pixel_shuffle(x, _factor(r, "pixel_shuffle"), out=out, reference=reference)


def pixel_shuffle_rows(x, r, *, out):
    """pixel_shuffle from a row band into a row band (see conv2d_rows); CPU."""
    _core.pixel_shuffle_rows(x, _factor(r, "pixel_shuffle_rows"), out=out)
    return out


def pixel_unshuffle(x, r, *, out=None, reference=None):
    """(N, C, H*r, W*r) -> (N, C*r*r, H, W), the inverse of pixel_shuffle. Bit-exact.
    out: as for pixel_shuffle."""
    reference = _ref(reference, "pixel_unshuffle")
    if _on_gpu(x, out):
        return _gpu("pixel_unshuffle", reference)(x, _factor(r, "pixel_unshuffle"), out=out)
    return _core.pixel_unshuffle(x, _factor(r, "pixel_unshuffle"), out=out, reference=reference)


def relu(x, *, out=None, reference=None):
    """x < 0 ? 0 : x, any shape: NaN passes through (IEEE propagation).
    out: optional C-contiguous, writeable float32 array of x's shape to write
    into (returned); must not share memory with x. CPU only."""
    reference = _ref(reference, "relu")
    if _on_gpu(x, out):
        if out is not None:
            raise TypeError("relu: out= is for numpy arrays (the CUDA relu returns a new array)")
        return _gpu("relu", reference)(x)
    return _core.relu(x, out=out, reference=reference)


def relu_backward(x, dy, *, out=None, reference=None):
    """dx = 0 where x <= 0, else dy (the gradient at 0 is taken as 0; where x is
    NaN, dy, the branch relu took, as in PyTorch).

    out: optional C-contiguous, aligned, writeable array of x's shape to write
    dx into; it may be x or dy itself (in place)."""
    reference = _ref(reference, "relu_backward")
    if _on_gpu(x, dy, out):
        return _gpu("relu_backward", reference)(x, dy, out=out)
    return _core.relu_backward(x, dy, out=out, reference=reference)


def tanh(x, *, out=None, reference=None):
    """tanh(x), any shape (NaN propagates). CPU only: there is no CUDA kernel yet.
    out: optional array to write into, as relu's."""
    reference = _ref(reference, "tanh")
    if _on_gpu(x, out):
        raise TypeError("tanh: x must be a numpy array (tanh has no CUDA kernel yet)")
    return _core.tanh(x, out=out, reference=reference)


def tanh_backward(y, dy, *, reference=None):
    """dx = dy * (1 - y*y) given the forward's OUTPUT y = tanh(x) (PyTorch's convention)."""
    reference = _ref(reference, "tanh_backward")
    if _on_gpu(y, dy):
        raise TypeError("tanh_backward: y and dy must be numpy arrays (tanh has no CUDA kernel yet)")
    return _core.tanh_backward(y, dy, reference=reference)


def prelu(x, alpha, *, out=None, reference=None):
    """x where x > 0, else alpha[c] * x; x is (N, C, ...), alpha (1,) or (C,).
    out: optional array to write into (numpy only), as relu's."""
    reference = _ref(reference, "prelu")
    if _on_gpu(x, alpha, out):
        if out is not None:
            raise TypeError("prelu: out= is for numpy arrays (the CUDA prelu returns a new array)")
        return _gpu("prelu", reference)(x, alpha)
    return _core.prelu(x, alpha, out=out, reference=reference)


def prelu_backward(x, alpha, dy, *, reference=None):
    """(dx, dalpha) of prelu."""
    reference = _ref(reference, "prelu_backward")
    if _on_gpu(x, alpha, dy):
        return _gpu("prelu_backward", reference)(x, alpha, dy)
    return _core.prelu_backward(x, alpha, dy, reference=reference)


def _numpy_only(op, *arrays):
    """TypeError for GPU arrays: these ops have CPU kernels only."""
    if _on_gpu(*arrays):
        raise TypeError(f"{op}: arrays must be numpy arrays ({op} has no CUDA kernel yet)")


def batch_norm_train(x, gamma, beta, *, eps=1e-5, reference=None):
    """Batch norm with the batch's statistics (PyTorch's training mode).

    Args:
        x: (N, C, H, W) float32 with N * H * W > 1 (one value per channel has no variance).
        gamma, beta: (C,) float32, the affine scale and shift.
        eps: finite, >= 0, added to the variance.

    Returns:
        (y, mean, invstd): y = (x - mean) * invstd * gamma + beta of x's shape;
        mean (C,) and invstd = 1 / sqrt(var + eps) (C,) with var the biased
        variance over N, H and W. Keep mean and invstd for batch_norm_backward
        (and batch_norm_running_update).
    """
    op = "batch_norm_train"
    reference = _ref(reference, op)
    _numpy_only(op, x, gamma, beta)
    return _core.batch_norm_train(x, gamma, beta, eps=_real(eps, op, "eps"), reference=reference)


def batch_norm_backward(x, gamma, mean, invstd, dy, *, reference=None):
    """Gradients of batch_norm_train (the statistics are functions of x, as in training).

    Returns:
        (dx, dgamma, dbeta), fresh arrays: dbeta = sum(dy), dgamma = sum(dy * xhat)
        over N, H, W, and dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
        with xhat = (x - mean) * invstd (PyTorch's formula).
    """
    op = "batch_norm_backward"
    reference = _ref(reference, op)
    _numpy_only(op, x, gamma, mean, invstd, dy)
    return _core.batch_norm_backward(x, gamma, mean, invstd, dy, reference=reference)


def batch_norm_running_update(running_mean, running_var, mean, invstd, *, count, momentum=0.1, eps=1e-5):
    """PyTorch's running-statistics update after a training step, in place:
    running = (1 - momentum) * running + momentum * batch, where the batch
    variance is the unbiased one, var * count / (count - 1), var recovered
    from invstd as 1 / invstd**2 - eps. count = N * H * W of the batch (> 1);
    eps must be the one given to batch_norm_train. Computed in float64."""
    import numpy as np

    op = "batch_norm_running_update"
    momentum, eps = _real(momentum, op, "momentum"), _real(eps, op, "eps")
    count = _int(count, op, "count")
    if count < 2:
        raise ValueError(f"{op}: count (N * H * W of the batch) must be > 1, got {count}")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"{op}: momentum must be in [0, 1], got {momentum}")
    arrays = {"running_mean": running_mean, "running_var": running_var, "mean": mean, "invstd": invstd}
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{op}: {name} must be a numpy.ndarray of float32, got {type(a).__name__}")
        if a.dtype != np.float32:
            raise TypeError(f"{op}: {name} must be float32, got {a.dtype}")
        if a.shape != running_mean.shape or a.ndim != 1:
            raise ValueError(f"{op}: {name} must have shape (C,) like running_mean {running_mean.shape}, "
                             f"got {a.shape}")
    var = 1.0 / np.square(invstd.astype(np.float64)) - eps
    unbiased = var * (count / (count - 1))
    running_mean[...] = (1.0 - momentum) * running_mean.astype(np.float64) + momentum * mean.astype(np.float64)
    running_var[...] = (1.0 - momentum) * running_var.astype(np.float64) + momentum * unbiased


def fold_batch_norm(w, b, gamma, beta, running_mean, running_var, eps=1e-5):
    """Inference batch norm folded into the convolution before it, in float64.

    BN(conv(x, w) + b) = conv(x, w') + b' with scale = gamma / sqrt(running_var + eps),
    w' = w * scale[o] and b' = (b - running_mean) * scale + beta.

    Args:
        w: (O, C, K, K) weights; b: (O,) bias or None (no bias: zeros).
        gamma, beta, running_mean, running_var: (O,). Any float dtype.
        eps: finite, >= 0.

    Returns:
        (w', b') as float32 arrays (b' always present).
    """
    import numpy as np

    op = "fold_batch_norm"
    eps = _real(eps, op, "eps")
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"{op}: eps must be finite and >= 0, got {eps}")

    def floats(a, name):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(a).__name__}")
        if a.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be a float array, got {a.dtype}")
        return a.astype(np.float64)

    w64 = floats(w, "w")
    if w64.ndim != 4:
        raise ValueError(f"{op}: w must be 4-D (O, C, K, K), got shape {w64.shape}")
    o = w64.shape[0]
    per_channel = {"gamma": gamma, "beta": beta, "running_mean": running_mean, "running_var": running_var}
    if b is not None:
        per_channel["b"] = b
    v = {}
    for name, a in per_channel.items():
        v[name] = floats(a, name)
        if v[name].shape != (o,):
            raise ValueError(f"{op}: {name} must have shape ({o},) (one per output channel of w), "
                             f"got {v[name].shape}")
    if np.any(v["running_var"] + eps <= 0):
        raise ValueError(f"{op}: running_var + eps must be > 0 in every channel")
    scale = v["gamma"] / np.sqrt(v["running_var"] + eps)
    bias = v.get("b", np.zeros(o))
    w_folded = (w64 * scale[:, None, None, None]).astype(np.float32)
    b_folded = ((bias - v["running_mean"]) * scale + v["beta"]).astype(np.float32)
    return w_folded, b_folded


def global_avg_pool(x, *, reference=None):
    """Mean over H and W: (N, C, H, W) -> (N, C) (accumulated in double)."""
    op = "global_avg_pool"
    reference = _ref(reference, op)
    _numpy_only(op, x)
    return _core.global_avg_pool(x, reference=reference)


def global_avg_pool_backward(dy, h, w, *, reference=None):
    """dx (N, C, h, w) = dy[n, c] / (h * w) broadcast over each plane; dy is (N, C)
    and (h, w) the forward input's height and width."""
    op = "global_avg_pool_backward"
    reference = _ref(reference, op)
    _numpy_only(op, dy)
    return _core.global_avg_pool_backward(dy, _int(h, op, "h"), _int(w, op, "w"), reference=reference)


def _pool_window(k, s, op):
    """(k, s) as ints, s defaulting to k (PyTorch's default stride)."""
    k = _int(k, op, "k")
    s = k if s is None else _int(s, op, "s")
    return k, s


def max_pool2d(x, k=2, s=None, *, reference=None):
    """Maximum over each k x k window at stride s (default k), no padding:
    (N, C, H, W) -> (N, C, (H - k) // s + 1, (W - k) // s + 1), PyTorch's floor
    sizes; H and W must be >= k. A window holding a NaN gives NaN (PyTorch's
    CPU rule). VGG pools with k = s = 2."""
    op = "max_pool2d"
    reference = _ref(reference, op)
    _numpy_only(op, x)
    k, s = _pool_window(k, s, op)
    return _core.max_pool2d(x, k, s, reference=reference)


def max_pool2d_backward(x, dy, k=2, s=None, *, reference=None):
    """dx of x's shape: each dy value added at its window's argmax in x (the
    first maximum in row-major order, as PyTorch; of several NaNs the last),
    zero elsewhere. dy has max_pool2d(x, k, s)'s shape."""
    op = "max_pool2d_backward"
    reference = _ref(reference, op)
    _numpy_only(op, x, dy)
    k, s = _pool_window(k, s, op)
    return _core.max_pool2d_backward(x, dy, k, s, reference=reference)


def sigmoid(x, *, out=None, reference=None):
    """1 / (1 + exp(-x)), any shape, computed from exp(-|x|) so large |x| never
    overflows (sigmoid(-100) is the float32 subnormal 3.8e-44); NaN propagates.
    out: optional array to write into, as relu's."""
    op = "sigmoid"
    reference = _ref(reference, op)
    _numpy_only(op, x, out)
    return _core.sigmoid(x, out=out, reference=reference)


def sigmoid_backward(y, dy, *, reference=None):
    """dx = dy * y * (1 - y) given the forward's OUTPUT y = sigmoid(x)."""
    op = "sigmoid_backward"
    reference = _ref(reference, op)
    _numpy_only(op, y, dy)
    return _core.sigmoid_backward(y, dy, reference=reference)


def channel_gate(x, s, *, reference=None):
    """RCAN's channel attention multiply: x (N, C, H, W) * s (N, C)[:, :, None, None]
    (s already through the sigmoid)."""
    op = "channel_gate"
    reference = _ref(reference, op)
    _numpy_only(op, x, s)
    return _core.channel_gate(x, s, reference=reference)


def channel_gate_backward(x, s, dy, *, reference=None):
    """(dx, ds) of channel_gate, fresh arrays: dx = dy * s, ds[n, c] = sum over H, W of dy * x."""
    op = "channel_gate_backward"
    reference = _ref(reference, op)
    _numpy_only(op, x, s, dy)
    return _core.channel_gate_backward(x, s, dy, reference=reference)


def pixel_gate(x, g, *, reference=None):
    """PAN's pixel attention multiply: x (N, C, H, W) * g, g (N, C, H, W) or
    (N, 1, H, W) broadcast over channels (g already through the sigmoid)."""
    op = "pixel_gate"
    reference = _ref(reference, op)
    _numpy_only(op, x, g)
    return _core.pixel_gate(x, g, reference=reference)


def pixel_gate_backward(x, g, dy, *, reference=None):
    """(dx, dg) of pixel_gate, fresh arrays: dx = dy * g; dg = dy * x, summed
    over channels when g has one channel (dg then has g's shape)."""
    op = "pixel_gate_backward"
    reference = _ref(reference, op)
    _numpy_only(op, x, g, dy)
    return _core.pixel_gate_backward(x, g, dy, reference=reference)


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
