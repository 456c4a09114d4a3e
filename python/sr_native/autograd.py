"""Reverse-mode gradients over the kernels: a tape.

A network is written once, as its forward over the layers (Conv2d,
ConvTranspose2d, BatchNorm2d, PReLU) and the functions here (relu, tanh,
sigmoid, leaky_relu, prelu, pixel_shuffle, pixel_unshuffle, add, scale, concat,
upsample_nearest, global_avg_pool, channel_gate, pixel_gate, max_pool2d, and
upsample_input / upsample_bicubic for the network's input). Each op runs its kernel; while a Tape records on this
thread (``with Tape() as tape:``) the op also appends (its backward, its
inputs, its output) to the tape. ``tape.backward(output, dy)`` walks the
records in reverse: each backward gets the gradient of its op's output and
returns those of its inputs, which are summed per input array (a skip
connection's two uses add up). Arrays are identified by id(); the tape holds
every recorded array, so ids stay unique while it lives. Parameter gradients
are summed per parameter array; ``tape.parameter_grads(module)`` returns them
by state-dict name (zeros for a parameter the forward did not use).

Only arrays produced by recorded ops (or passed through ``tape.watch``) get
gradients: the network's input is a constant, so an op on it alone that has
no parameters (the bicubic pre-upsampling) is not recorded at all.

Without a tape (inference) every op is its kernel call after one
thread-local check; inside SRNetwork.__call__ convolutions and shuffles
write into memory recycled from arrays no longer referenced (the network's
kept per-thread buffers, layers.Buffers.recycled), so repeated calls and
tiles do not allocate per layer. Under a tape ops never write in place (out= is refused):
a recorded array must keep its value until backward. Gradient contract:
activation gradients are arrays that are never modified after they are
handed over (a backward may return its dy as an input's gradient);
parameter gradients are fresh arrays summed over every use of the parameter.
"""

import contextlib
import threading

import numpy as np

from . import cuda, ops

_state = threading.local()


def current_tape():
    """The Tape recording on this thread, or None (inference)."""
    return getattr(_state, "tape", None)


@contextlib.contextmanager
def recycling(buffers):
    """Within the block (a network's inference call), layers take their
    outputs from buffers.recycled() instead of new memory."""
    before = getattr(_state, "buffers", None)
    _state.buffers = buffers
    try:
        yield
    finally:
        _state.buffers = before


def recycled(shape):
    """An output array for an op in inference, from the recycling buffers
    (None, so the op allocates, outside recycling() or on the GPU)."""
    buffers = getattr(_state, "buffers", None)
    return buffers.recycled(shape) if buffers is not None else None


class Tape:
    """Records ops while active (a context manager); backward() runs them in reverse."""

    def __init__(self):
        self._records = []  # (backward, inputs, output)
        self._produced = set()  # ids of arrays that carry a gradient
        self._param_grads = {}  # id(parameter) -> (parameter, gradient)
        self._outer = None

    def __enter__(self):
        self._outer = current_tape()
        _state.tape = self
        return self

    def __exit__(self, *exc):
        _state.tape = self._outer
        self._outer = None
        return False

    def watch(self, x):
        """Ask for the gradient of x (an input): tape.input_grad(x) after backward."""
        self._produced.add(id(x))
        self._records.append((None, (), x))  # keeps x alive, so its id stays unique
        return x

    def requires_grad(self, x):
        return x is not None and id(x) in self._produced

    def record(self, backward, inputs, output):
        """backward(dy) -> one gradient (or None) per entry of inputs."""
        self._records.append((backward, tuple(inputs), output))
        self._produced.add(id(output))

    def add_param_grad(self, param, grad):
        key = id(param)
        if key in self._param_grads:
            grad = _add(self._param_grads[key][1], grad)
        self._param_grads[key] = (param, grad)

    def backward(self, output, dy):
        """Run every recorded backward, last first, from dy = dL/d(output)."""
        if id(output) not in self._produced:
            raise ValueError("Tape.backward: output was not produced by an op recorded on this tape")
        grads = {id(output): dy}
        self._input_grads = {}
        for backward, inputs, out in reversed(self._records):
            g = grads.pop(id(out), None)
            if g is None:
                continue
            if backward is None:  # a watched input
                self._input_grads[id(out)] = g
                continue
            for x, gx in zip(inputs, backward(g)):
                if gx is None or not self.requires_grad(x):
                    continue
                key = id(x)
                grads[key] = _add(grads[key], gx) if key in grads else gx
        self._records.clear()  # the activations go as soon as they are no longer needed
        self._produced.clear()

    def input_grad(self, x):
        """The gradient of a watched input after backward (None if it got none)."""
        return self._input_grads.get(id(x))

    def parameter_grads(self, module):
        """{state-dict name: gradient} for every parameter of module."""
        grads = {}
        for name, p in module.named_parameters():
            entry = self._param_grads.get(id(p))
            grads[name] = entry[1] if entry is not None else _zeros_like(p)
        return grads


def _zeros_like(p):
    return cuda.zeros(p.shape) if cuda.is_device_array(p) else np.zeros_like(p)


def _add(a, b):
    """a + b as a new array (never in place: either may be held elsewhere)."""
    return ops.add_scaled(a, b, 1.0)


def _scaled(g, s):
    """s * g as a new array (g itself when s == 1)."""
    if s == 1.0:
        return g
    if cuda.is_device_array(g):  # (N, C, H, W) on the GPU: a per-channel affine with one scale
        c = g.shape[1]
        return ops.channel_affine(g, np.full(c, s, np.float32), np.zeros(c, np.float32))
    return g * np.float32(s)


# ------------------------------------------------------------------ the ops

def conv2d(layer, x, *, relu=False, residual=None, res_scale=1.0):
    """layer (a layers.Conv2d) on x: residual + res_scale * act(conv(x) + b), recorded."""
    tape = current_tape()
    w, b = layer.weight, layer.bias
    if tape is None:
        return ops.conv2d(x, w, b, relu=relu, residual=residual, res_scale=res_scale)
    if relu and (residual is not None or res_scale != 1.0):
        # relu's backward needs relu's own output: keep it apart from the epilogue.
        t = conv2d(layer, x, relu=True)
        return add(residual, t, res_scale) if residual is not None else scale(t, res_scale)
    y = ops.conv2d(x, w, b, relu=relu, residual=residual, res_scale=res_scale)

    def backward(dy):
        dt = _scaled(dy, res_scale)
        if relu:
            dt = ops.relu_backward(y, dt)  # y > 0 exactly where the pre-activation was
        # The network's input (the first layer's x) needs no gradient: skip dx's work.
        dx, dw, db = ops.conv2d_backward(x, w, dt, need_dx=tape.requires_grad(x))
        tape.add_param_grad(w, dw)
        if b is not None:
            tape.add_param_grad(b, db)
        return dx, dy

    tape.record(backward, (x, residual), y)
    return y


def _elementwise(y, x, backward):
    tape = current_tape()
    if tape is not None and tape.requires_grad(x):
        tape.record(backward, (x,), y)
    return y


def _recycled_like(x):
    """Inference: an output for an elementwise op from the recycling buffers
    (None on the GPU, under a tape, or outside a network's call)."""
    if current_tape() is not None or cuda.is_device_array(x):
        return None
    return recycled(x.shape)


def relu(x):
    y = ops.relu(x, out=_recycled_like(x))
    return _elementwise(y, x, lambda dy: (ops.relu_backward(y, dy),))


def tanh(x):
    y = ops.tanh(x, out=_recycled_like(x))
    return _elementwise(y, x, lambda dy: (ops.tanh_backward(y, dy),))


def scale(x, s):
    """s * x."""
    s = float(s)
    y = _scaled(x, s)
    if y is x:
        return x
    return _elementwise(y, x, lambda dy: (_scaled(dy, s),))


def pixel_shuffle(x, r):
    """(N, C*r*r, H, W) -> (N, C, H*r, W*r) (PyTorch's order); its backward is pixel_unshuffle."""
    if current_tape() is None:
        n, c, h, w = x.shape
        return ops.pixel_shuffle(x, r, out=recycled((n, c // (r * r), h * r, w * r)))
    y = ops.pixel_shuffle(x, r)
    return _elementwise(y, x, lambda dy: (ops.pixel_unshuffle(dy, r),))


def pixel_unshuffle(x, r):
    """(N, C, H*r, W*r) -> (N, C*r*r, H, W) (PyTorch's order): space to depth,
    as Real-ESRGAN's x2 and x1 inputs and a stride-r convolution written as
    unshuffle + stride-1 convolution; its backward is pixel_shuffle."""
    if current_tape() is None:
        n, c, h, w = x.shape
        return ops.pixel_unshuffle(x, r, out=recycled((n, c * r * r, h // r, w // r)))
    y = ops.pixel_unshuffle(x, r)
    return _elementwise(y, x, lambda dy: (ops.pixel_shuffle(dy, r),))


def add(a, b, alpha=1.0):
    """a + alpha * b."""
    y = ops.add_scaled(a, b, alpha)
    tape = current_tape()
    if tape is not None and (tape.requires_grad(a) or tape.requires_grad(b)):
        tape.record(lambda dy: (dy, _scaled(dy, alpha)), (a, b), y)
    return y


def prelu(x, alpha):
    """x > 0 ? x : alpha[c] * x; alpha (1,) or (C,) is a parameter (its gradient is recorded)."""
    y = ops.prelu(x, alpha, out=_recycled_like(x))
    tape = current_tape()
    if tape is not None:
        def backward(dy):
            dx, dalpha = ops.prelu_backward(x, alpha, dy)
            tape.add_param_grad(alpha, dalpha)
            return (dx,)

        tape.record(backward, (x,), y)
    return y


def upsample_bicubic(x, s):
    """upsample_input(x, s, "bicubic"): SRCNN's and VDSR's pre-upsampling."""
    return upsample_input(x, s, "bicubic")


def subpixel_layout(kernel, stride, padding):
    """Where a transposed convolution's taps go in the equivalent stride-1
    convolution on the input grid followed by a pixel shuffle (the sub-pixel
    form): (radius, index) with radius the "same" convolution's half width and
    index, for each tap (ky, kx), its flat position in the (O * stride^2, C,
    2 * radius + 1, 2 * radius + 1) weight of that convolution, per output
    channel o. None when the two are not equivalent: that needs the output to
    be exactly stride times the input, kernel + output_padding - 2 * padding
    == stride (FSRCNN's 9x9 with padding 4, BTSRN's kernel = stride).

    Output row o = q * stride + r (phase r) takes input row q + d with
    d = (r + padding - k) / stride for the taps k of its phase."""
    rows = []  # per tap k: (phase r, offset d)
    for k in range(kernel):
        r = (k - padding) % stride
        rows.append((r, (r + padding - k) // stride))
    radius = max(abs(d) for _, d in rows)
    size = 2 * radius + 1
    index = np.empty((kernel, kernel), np.int64)  # flat index within one output channel's block
    for ky, (ry, dy) in enumerate(rows):
        for kx, (rx, dx) in enumerate(rows):
            index[ky, kx] = ((ry * stride + rx) * size + (dy + radius)) * size + (dx + radius)
    return radius, index


def _subpixel_form(layer):
    """The layer's weight and bias as the equivalent convolution's (see
    subpixel_layout), with the layout; None where the forms differ or the
    convolution would be wider than 9x9 (conv2d's limit)."""
    c, o, k, _ = layer.weight.shape
    s = layer.stride
    if k + layer.output_padding - 2 * layer.padding != s or s == 1:
        return None
    radius, index = subpixel_layout(k, s, layer.padding)
    size = 2 * radius + 1
    if size > 9:
        return None
    w = np.zeros((o, s * s, c, size, size), np.float32)
    # w[o, r, c, y, x] holds layer.weight[c, o, ky, kx] at index[ky, kx] of the (r, y, x) block
    blocks = w.transpose(0, 2, 1, 3, 4).reshape(o, c, s * s * size * size)
    blocks[:, :, index.ravel()] = layer.weight.transpose(1, 0, 2, 3).reshape(o, c, k * k)
    w = blocks.reshape(o, c, s * s, size, size).transpose(0, 2, 1, 3, 4).reshape(o * s * s, c, size, size)
    w = np.ascontiguousarray(w)
    b = None if layer.bias is None else np.repeat(layer.bias, s * s)
    return w, b, index


def conv_transpose2d(layer, x):
    """layer (a layers.ConvTranspose2d) on x, recorded.

    Where the output is exactly stride times the input (FSRCNN, BTSRN), it
    runs as a stride-1 convolution on the input grid and a pixel shuffle
    (the sub-pixel form: the fast conv2d kernel instead of the scatter of
    ops.conv_transpose2d, same result to float32 rounding); the parameter
    gradients are gathered back into the transposed layout."""
    w, b = layer.weight, layer.bias
    geometry = dict(stride=layer.stride, padding=layer.padding, output_padding=layer.output_padding)
    tape = current_tape()
    form = None if cuda.is_device_array(x) else _subpixel_form(layer)
    if form is not None:
        w2, b2, index = form
        s = layer.stride
        if tape is None:
            n, _, h, wd = x.shape
            t = ops.conv2d(x, w2, b2)
            return ops.pixel_shuffle(t, s, out=recycled((n, w.shape[1], h * s, wd * s)))
        y = ops.pixel_shuffle(ops.conv2d(x, w2, b2), s)

        def backward(dy):
            dx, dw2, db2 = ops.conv2d_backward(x, w2, ops.pixel_unshuffle(dy, s))
            c, o, k, _ = w.shape
            size = w2.shape[2]
            blocks = dw2.reshape(o, s * s, c, size, size).transpose(0, 2, 1, 3, 4).reshape(o, c, -1)
            tape.add_param_grad(w, np.ascontiguousarray(
                blocks[:, :, index.ravel()].reshape(o, c, k, k).transpose(1, 0, 2, 3)))
            if b is not None:
                tape.add_param_grad(b, db2.reshape(o, s * s).sum(axis=1, dtype=np.float32))
            return (dx,)

        tape.record(backward, (x,), y)
        return y
    if tape is None:
        return ops.conv_transpose2d(x, w, b, out=recycled(layer.output_shape(x)), **geometry)
    y = ops.conv_transpose2d(x, w, b, **geometry)

    def backward(dy):
        dx, dw, db = ops.conv_transpose2d_backward(x, w, dy, **geometry)
        tape.add_param_grad(w, dw)
        if b is not None:
            tape.add_param_grad(b, db)
        return (dx,)

    tape.record(backward, (x,), y)
    return y


def _batch_norm_affine(bn):
    """Inference batch norm as a per-channel scale and shift (float64, then float32)."""
    scale = bn.weight.astype(np.float64) / np.sqrt(bn.running_var.astype(np.float64) + bn.eps)
    shift = bn.bias.astype(np.float64) - bn.running_mean.astype(np.float64) * scale
    return scale.astype(np.float32), shift.astype(np.float32)


def batch_norm(bn, x):
    """bn (a layers.BatchNorm2d) on x. Recorded (training): the batch's
    statistics, and the running ones updated as PyTorch does; otherwise the
    running statistics as one per-channel affine."""
    tape = current_tape()
    if tape is None:
        return ops.channel_affine(x, *_batch_norm_affine(bn))
    y, mean, invstd = ops.batch_norm_train(x, bn.weight, bn.bias, eps=bn.eps)
    n, _, h, w = x.shape
    ops.batch_norm_running_update(bn.running_mean, bn.running_var, mean, invstd, count=n * h * w,
                                  momentum=bn.momentum, eps=bn.eps)

    def backward(dy):
        dx, dgamma, dbeta = ops.batch_norm_backward(x, bn.weight, mean, invstd, dy)
        tape.add_param_grad(bn.weight, dgamma)
        tape.add_param_grad(bn.bias, dbeta)
        return (dx,)

    tape.record(backward, (x,), y)
    return y


def conv_batch_norm(conv, bn, x, *, residual=None):
    """bn(conv(x)) (+ residual). In inference the batch norm is folded into the
    convolution's weights and bias (ops.fold_batch_norm: one convolution, the
    residual fused into its store); recorded, the two ops as they are."""
    if current_tape() is None:
        w, b = ops.fold_batch_norm(conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var,
                                   eps=bn.eps)
        return ops.conv2d(x, w, b, residual=residual, out=recycled(conv.output_shape(x)))
    y = batch_norm(bn, conv(x))
    return add(residual, y) if residual is not None else y


def leaky_relu(x, slope):
    """x > 0 ? x : slope * x with a fixed slope (not a parameter)."""
    alpha = np.full(1, slope, np.float32)
    y = ops.prelu(x, alpha, out=_recycled_like(x))
    return _elementwise(y, x, lambda dy: (ops.prelu_backward(x, alpha, dy)[0],))


def sigmoid(x):
    y = ops.sigmoid(x, out=_recycled_like(x))
    return _elementwise(y, x, lambda dy: (ops.sigmoid_backward(y, dy),))


def global_avg_pool(x):
    """(N, C, H, W) -> (N, C, 1, 1), the mean of each plane."""
    n, c, h, w = x.shape
    y = ops.global_avg_pool(x).reshape(n, c, 1, 1)
    return _elementwise(y, x, lambda dy: (ops.global_avg_pool_backward(dy.reshape(n, c), h, w),))


def channel_gate(x, s):
    """x * s per channel: s (N, C, 1, 1), already through its sigmoid (RCAN's channel attention)."""
    n, c = s.shape[:2]
    s2 = s.reshape(n, c)
    y = ops.channel_gate(x, s2)
    tape = current_tape()
    if tape is not None and (tape.requires_grad(x) or tape.requires_grad(s)):
        def backward(dy):
            dx, ds = ops.channel_gate_backward(x, s2, dy)
            return dx, ds.reshape(n, c, 1, 1)

        tape.record(backward, (x, s), y)
    return y


def pixel_gate(x, g):
    """x * g per pixel: g (N, C, H, W) or (N, 1, H, W), already through its sigmoid (PAN's pixel attention)."""
    y = ops.pixel_gate(x, g)
    tape = current_tape()
    if tape is not None and (tape.requires_grad(x) or tape.requires_grad(g)):
        tape.record(lambda dy: ops.pixel_gate_backward(x, g, dy), (x, g), y)
    return y


def concat(a, b):
    """(N, Ca, H, W), (N, Cb, H, W) -> (N, Ca + Cb, H, W), a's channels first."""
    y = np.concatenate((a, b), axis=1)
    tape = current_tape()
    if tape is not None and (tape.requires_grad(a) or tape.requires_grad(b)):
        ca = a.shape[1]
        tape.record(lambda dy: (np.ascontiguousarray(dy[:, :ca]), np.ascontiguousarray(dy[:, ca:])), (a, b), y)
    return y


def upsample_nearest(x, r):
    """(N, C, H, W) -> (N, C, H*r, W*r), each pixel repeated r x r times
    (PyTorch's interpolate(mode="nearest") at an integer factor); its
    backward sums each r x r block."""
    n, c, h, w = x.shape
    y = np.broadcast_to(x[:, :, :, None, :, None], (n, c, h, r, w, r)).reshape(n, c, h * r, w * r)
    return _elementwise(y, x, lambda dy: (dy.reshape(n, c, h, r, w, r).sum(axis=(3, 5), dtype=np.float32),))


def upsample_input(x, s, method):
    """The network's input upscaled by s with sr_native.resize (method
    "bicubic": MATLAB's imresize, a = -0.5; "bilinear": PyTorch's
    interpolate(align_corners=False)); edge pixels repeat beyond the border.

    A constant for the tape: networks apply it to their input, whose gradient
    is not needed (ValueError if asked to differentiate through it)."""
    from .resize import resize

    tape = current_tape()
    if tape is not None and tape.requires_grad(x):
        raise ValueError(f"upsample_input: no gradient with respect to its input (it is the network's input)")
    on_gpu = cuda.is_device_array(x)
    host = cuda.to_host(x) if on_gpu else x
    n, c, h, w = host.shape
    y = np.empty((n, c, h * s, w * s), np.float32)
    for i in range(n):
        for j in range(c):
            y[i, j] = resize(np.ascontiguousarray(host[i, j]), size=(h * s, w * s), method=method)
    return cuda.to_device(y) if on_gpu else y


def max_pool2d(x, k=2, s=None):
    """(N, C, H, W) -> (N, C, (H - k) // s + 1, (W - k) // s + 1), the maximum of
    each k x k window at stride s (default k; VGG's is k = s = 2). Its backward
    sends dy to each window's argmax, recomputed from x (ties: the first)."""
    y = ops.max_pool2d(x, k, s)
    return _elementwise(y, x, lambda dy: (ops.max_pool2d_backward(x, dy, k, s),))
