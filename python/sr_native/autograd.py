"""Reverse-mode gradients over the kernels: a tape.

A network is written once, as its forward over layers.Conv2d / layers.PReLU
and the functions here (relu, tanh, prelu, pixel_shuffle, add,
upsample_bicubic). Each op runs its kernel; while a Tape records on this
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
        dx, dw, db = ops.conv2d_backward(x, w, dt)
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


def relu(x):
    y = ops.relu(x)
    return _elementwise(y, x, lambda dy: (ops.relu_backward(y, dy),))


def tanh(x):
    y = ops.tanh(x)
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


def add(a, b, alpha=1.0):
    """a + alpha * b."""
    y = ops.add_scaled(a, b, alpha)
    tape = current_tape()
    if tape is not None and (tape.requires_grad(a) or tape.requires_grad(b)):
        tape.record(lambda dy: (dy, _scaled(dy, alpha)), (a, b), y)
    return y


def prelu(x, alpha):
    """x > 0 ? x : alpha[c] * x; alpha (1,) or (C,) is a parameter (its gradient is recorded)."""
    y = ops.prelu(x, alpha)
    tape = current_tape()
    if tape is not None:
        def backward(dy):
            dx, dalpha = ops.prelu_backward(x, alpha, dy)
            tape.add_param_grad(alpha, dalpha)
            return (dx,)

        tape.record(backward, (x,), y)
    return y


def upsample_bicubic(x, s):
    """(N, C, H, W) -> (N, C, H*s, W*s) with sr_native.resize's bicubic (MATLAB's
    imresize, a = -0.5, edge pixels repeated beyond the border), plane by plane.

    A constant for the tape: networks apply it to their input, whose gradient
    is not needed (ValueError if asked to differentiate through it)."""
    from .resize import resize

    tape = current_tape()
    if tape is not None and tape.requires_grad(x):
        raise ValueError("upsample_bicubic: no gradient with respect to its input (it is the network's input)")
    on_gpu = cuda.is_device_array(x)
    host = cuda.to_host(x) if on_gpu else x
    n, c, h, w = host.shape
    y = np.empty((n, c, h * s, w * s), np.float32)
    for i in range(n):
        for j in range(c):
            y[i, j] = resize(np.ascontiguousarray(host[i, j]), size=(h * s, w * s), method="bicubic")
    return cuda.to_device(y) if on_gpu else y
