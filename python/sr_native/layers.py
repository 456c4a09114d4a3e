"""Layers as plain classes holding numpy arrays, and the Module walk that
builds state dicts from attribute names.

A Module's parameters are found by walking its attributes in definition
order: a Conv2d contributes `<name>.weight` and `<name>.bias`, a nested
Module or a list of Modules contributes its own names under `<name>.` /
`<name>.<index>.`.
"""

import sys

import numpy as np

from . import autograd, cuda, ops


def _move(array, device):
    """array as a numpy array (device "cpu") or a DeviceArray ("cuda")."""
    if array is None:
        return None
    return cuda.to_device(array) if device == "cuda" else cuda.to_host(array)


class _WeightAndBias:
    """A layer holding `weight` and an optional `bias` (None): their moves and state-dict names."""

    def to(self, device):
        """Move the weight and bias to "cpu" (numpy) or "cuda" (DeviceArrays), in place."""
        self.weight, self.bias = _move(self.weight, device), _move(self.bias, device)
        return self

    def named_parameters(self, prefix):
        yield prefix + "weight", self.weight
        if self.bias is not None:
            yield prefix + "bias", self.bias


class Conv2d(_WeightAndBias):
    """Weight (O, C, K, K) and optional bias (O,), float32; stride 1, "same" padding."""

    def __init__(self, in_channels, out_channels, kernel_size, bias=True):
        self.weight = np.zeros((out_channels, in_channels, kernel_size, kernel_size), np.float32)
        self.bias = np.zeros(out_channels, np.float32) if bias else None

    @property
    def in_channels(self):
        return self.weight.shape[1]

    @property
    def out_channels(self):
        return self.weight.shape[0]

    @property
    def kernel_size(self):
        return self.weight.shape[2]

    def __call__(self, x, *, relu=False, residual=None, res_scale=1.0, out=None):
        if autograd.current_tape() is not None:  # training through the tape: recorded, never in place
            if out is not None:
                raise ValueError("Conv2d: out= (writing in place) is not allowed while a Tape records")
            return autograd.conv2d(self, x, relu=relu, residual=residual, res_scale=res_scale)
        if out is None:  # inside a network's __call__: memory recycled from earlier layers
            out = autograd.recycled(self.output_shape(x))
        return ops.conv2d(x, self.weight, self.bias, relu=relu, residual=residual, res_scale=res_scale,
                          out=out)

    def backward(self, x, dy, grads, prefix, *, dx_residual=None, dx_out=None, need_dx=True):
        """Gradients of y = conv(x) + b given dy: stores dw and db in grads under
        prefix + 'weight' / 'bias' and returns dx (+ dx_residual, written into
        dx_out when given; None with need_dx=False; see ops.conv2d_backward)."""
        dx, dw, db = ops.conv2d_backward(x, self.weight, dy, dx_residual=dx_residual, dx_out=dx_out,
                                         need_dx=need_dx)
        grads[prefix + "weight"] = dw
        if self.bias is not None:
            grads[prefix + "bias"] = db
        return dx

    def output_shape(self, x):
        return (x.shape[0], self.out_channels, x.shape[2], x.shape[3])


class ConvTranspose2d(_WeightAndBias):
    """Transposed convolution (PyTorch's ConvTranspose2d, groups 1): weight
    (C, O, K, K), optional bias (O,); output (H - 1) * stride - 2 * padding +
    K + output_padding high (and wide)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, bias=True):
        self.weight = np.zeros((in_channels, out_channels, kernel_size, kernel_size), np.float32)
        self.bias = np.zeros(out_channels, np.float32) if bias else None
        self.stride, self.padding, self.output_padding = int(stride), int(padding), int(output_padding)

    @property
    def fan_in(self):
        # PyTorch's init reads dim 1 of the weight (here the outputs) as the fan-in.
        return self.weight.shape[1] * self.weight.shape[2] * self.weight.shape[3]

    def output_shape(self, x):
        k = self.weight.shape[2]

        def size(n):
            return (n - 1) * self.stride - 2 * self.padding + k + self.output_padding

        return (x.shape[0], self.weight.shape[1], size(x.shape[2]), size(x.shape[3]))

    def __call__(self, x):
        return autograd.conv_transpose2d(self, x)


class BatchNorm2d:
    """Batch normalisation (PyTorch's BatchNorm2d, affine, tracking running
    statistics): parameters weight (gamma) and bias (beta), buffers
    running_mean and running_var (in the state dict, not trained by Adam).

    While a Tape records (training) it normalises with the batch's statistics
    and updates the running ones; otherwise it uses the running statistics,
    and a network can fold it into the convolution before it
    (autograd.conv_batch_norm)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        self.weight = np.ones(num_features, np.float32)
        self.bias = np.zeros(num_features, np.float32)
        self.running_mean = np.zeros(num_features, np.float32)
        self.running_var = np.ones(num_features, np.float32)
        self.eps, self.momentum = float(eps), float(momentum)

    def __call__(self, x):
        return autograd.batch_norm(self, x)

    def to(self, device):
        if device != "cpu":
            raise TypeError("BatchNorm2d: batch norm has no CUDA kernel yet; the network stays on the CPU")
        return self

    def named_parameters(self, prefix):
        yield prefix + "weight", self.weight
        yield prefix + "bias", self.bias

    def named_buffers(self, prefix):
        yield prefix + "running_mean", self.running_mean
        yield prefix + "running_var", self.running_var


class PReLU:
    """Parametric ReLU: weight (num_parameters,) float32, 1 (shared) or one per
    channel, initialised to `init` (PyTorch's nn.PReLU, key `<name>.weight`)."""

    def __init__(self, num_parameters=1, init=0.25):
        self.weight = np.full(num_parameters, init, np.float32)

    def __call__(self, x):
        return autograd.prelu(x, self.weight)

    def to(self, device):
        self.weight = _move(self.weight, device)
        return self

    def named_parameters(self, prefix):
        yield prefix + "weight", self.weight


_LONE = [np.empty(0, np.float32)]  # Buffers.recycled's yardstick: an array held only by a list


class Buffers:
    """Named float32 scratch arrays, reused from layer to layer and, when kept
    by a network (SRNetwork._buffers), from call to call.

    A fresh array costs its page faults every time: about 8 ms per 44 MB here,
    and on virtual machines whose host reclaims freed memory, up to 10x that
    for memory the process has just given back. get() hands out a view of a
    flat array that only grows, so tiles of changing sizes share it too.
    Two names never share memory; one name's arrays do (the previous one is
    overwritten).
    """

    def __init__(self, device="cpu"):
        self._arrays = {}
        self._recycled = []  # flat arrays handed out by recycled()
        self.device = device  # "cpu": numpy arrays; "cuda": DeviceArrays

    @classmethod
    def like(cls, array):
        """Empty buffers on the device of `array` (numpy: "cpu", DeviceArray: "cuda")."""
        return cls("cuda" if cuda.is_device_array(array) else "cpu")

    def get(self, name, shape):
        shape = tuple(int(d) for d in shape)
        size = int(np.prod(shape))
        flat = self._arrays.get(name)
        if flat is None or flat.size < size:
            self._arrays.pop(name, None)  # release before allocating the bigger one
            flat = self._arrays[name] = cuda.empty((size,)) if self.device == "cuda" else np.empty(size, np.float32)
        return flat.prefix(shape) if self.device == "cuda" else flat[:size].reshape(shape)

    def recycled(self, shape):
        """A float32 numpy array of `shape` that no one else holds: memory of an
        earlier array whose every view has since been dropped (reference
        counts tell), or new memory. How networks defined by their forward
        (autograd.py) reuse activation memory from layer to layer and call to
        call without naming buffers: only as many arrays as are alive at once
        are kept. CPU only (None on the GPU: the caller allocates)."""
        if self.device != "cpu":
            return None
        shape = tuple(int(d) for d in shape)
        size = int(np.prod(shape))
        # Held by nothing but the list: as many references as an array no one
        # else knows (measured, since interpreters count call arguments differently).
        alone = sys.getrefcount(_LONE[0])
        free = [i for i in range(len(self._recycled)) if sys.getrefcount(self._recycled[i]) == alone]
        fitting = [i for i in free if self._recycled[i].size >= size]
        if fitting:
            flat = self._recycled[min(fitting, key=lambda i: self._recycled[i].size)]
        else:
            if free:  # the largest free one is too small: give it back before growing
                self._recycled.pop(max(free, key=lambda i: self._recycled[i].size))
            flat = np.empty(size, np.float32)
            self._recycled.append(flat)
        return flat[:size].reshape(shape)

    def nbytes(self):
        return sum(a.nbytes for a in self._arrays.values()) + sum(a.nbytes for a in self._recycled)

    def clear(self):
        self._arrays.clear()
        self._recycled.clear()


class Module:
    """Base of every network: parameter walk, state dicts, parameter count.

    Parameters are what training updates; buffers (batch norm's running
    statistics) are saved and loaded with them but not trained."""

    def named_parameters(self, prefix=""):
        for name, value in vars(self).items():
            yield from _walk(value, f"{prefix}{name}.", buffers=False)

    def named_tensors(self, prefix=""):
        """Parameters and buffers, each layer's together, in definition order."""
        for name, value in vars(self).items():
            yield from _walk(value, f"{prefix}{name}.", buffers=True)

    def state_dict(self):
        """Name -> array for every parameter and buffer (the arrays themselves, not copies)."""
        return dict(self.named_tensors())

    def trainable(self):
        """Name -> array of the parameters only (what the optimiser updates)."""
        return dict(self.named_parameters())

    def load_state_dict(self, state, *, source="state dict"):
        """Copy arrays into the parameters. Every key must match in name and shape.

        Raises ValueError, naming the key (and both shapes), for missing or
        unexpected keys, a shape mismatch, a value that is not a float array
        (int64, object, a list of strings), or a NaN or infinity (also one
        that appears when a float64 value is rounded to float32); TypeError
        when state is not a dict. Nothing is loaded on error.
        """
        if not isinstance(state, dict):
            raise TypeError(f"{source}: load_state_dict expects a dict of arrays, got {type(state).__name__}")
        own = self.state_dict()
        mismatch = key_mismatch(own, state, "keys")
        if mismatch:
            raise ValueError(f"{source} does not fit {type(self).__name__}: {mismatch}")
        values = {}
        for key, param in own.items():
            value = cuda.to_host(state[key])
            if not isinstance(value, np.ndarray):
                raise ValueError(f"{source}: tensor {key!r} is a {type(value).__name__}, not an array")
            if value.dtype.kind != "f":
                raise ValueError(f"{source}: tensor {key!r} has dtype {value.dtype}, expected a float dtype")
            if value.shape != param.shape:
                raise ValueError(f"{source}: {key} has shape {value.shape}, the model expects {param.shape}")
            with np.errstate(over="ignore", invalid="ignore"):  # float64 past float32's range becomes inf
                value = value.astype(np.float32, copy=False)
            if not np.isfinite(value).all():
                what = "NaN" if np.isnan(value).any() else "infinity"
                raise ValueError(f"{source}: tensor {key!r} contains {what} "
                                 f"({int((~np.isfinite(value)).sum())} of {value.size} values)")
            values[key] = value
        for key, param in own.items():
            if cuda.is_device_array(param):
                param.copy_(values[key])
            else:
                param[...] = values[key]

    def to(self, device):
        """Move every parameter to "cpu" (numpy arrays) or "cuda" (DeviceArrays), in place; returns self.
        A layer with no CUDA kernel (batch norm) is refused before anything moves."""
        device = cuda.check_device(device, f"{type(self).__name__}.to")
        if device == "cuda":
            self.refuse_cpu_only_layers()
        for value in vars(self).values():
            _to(value, device)
        return self

    def refuse_cpu_only_layers(self):
        """TypeError naming the first layer that has no CUDA kernel (batch norm)."""
        for prefix, layer in walk_layers(self):
            if isinstance(layer, BatchNorm2d):
                raise TypeError(f"{type(self).__name__}.to: {prefix.rstrip('.')} is a batch norm, which has no "
                                "CUDA kernel yet; the network stays on the CPU")

    def num_parameters(self):
        return int(sum(p.size for _, p in self.named_parameters()))


def key_mismatch(expected, found, noun):
    """'missing NOUN [...]; unexpected NOUN [...]' (at most 8 names each) for
    the keys of expected absent from found and the other way round, or ''."""
    def listed(keys, what):
        more = " ..." if len(keys) > 8 else ""
        return [f"{what} {noun} {keys[:8]}{more}"] if keys else []

    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    return "; ".join(listed(missing, "missing") + listed(unexpected, "unexpected"))


LAYERS = (Conv2d, ConvTranspose2d, BatchNorm2d, PReLU)


def _to(value, device):
    if isinstance(value, LAYERS + (Module,)):
        value.to(device)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _to(item, device)


def _walk(value, prefix, buffers):
    if isinstance(value, Module):
        yield from (value.named_tensors if buffers else value.named_parameters)(prefix)
    elif isinstance(value, LAYERS):
        yield from value.named_parameters(prefix)
        if buffers and hasattr(value, "named_buffers"):
            yield from value.named_buffers(prefix)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(item, f"{prefix}{i}.", buffers)


def walk_layers(value, prefix=""):
    """(state-dict prefix, layer) for every layer under value, in definition order."""
    if isinstance(value, LAYERS):
        yield prefix, value
    elif isinstance(value, Module):
        for name, item in vars(value).items():
            yield from walk_layers(item, f"{prefix}{name}.")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from walk_layers(item, f"{prefix}{i}.")
