"""The optional CUDA path: device arrays and what runs on the GPU.

Built only with ``pip install . -Ccmake.define.SR_NATIVE_CUDA=ON`` (a CUDA
toolkit is needed at build time, a driver and an NVIDIA GPU at run time).
Everything here works in any build: without the CUDA module, or without a
GPU, cuda_available() is False and cuda_unavailable_reason() says why;
asking for the GPU then raises CudaUnavailableError with that reason.

    from sr_native import cuda
    x = cuda.to_device(np_array)          # float32 (or uint8/uint16) on the GPU
    y = sr_native.ops.conv2d(x, w, b)     # every op takes DeviceArrays too
    y.to_numpy(); torch.from_dlpack(y)    # back, or to PyTorch/CuPy without a copy

DeviceArrays are C-contiguous. The kernels run asynchronously on the legacy
default stream; to_numpy(), the losses and sum_squares wait for them.
"""

import importlib.util

try:
    from . import _cuda
    _IMPORT_ERROR = None
except ImportError as exc:  # absent in CPU-only builds; any other import failure is reported as such
    _cuda = None
    _IMPORT_ERROR = exc


class CudaUnavailableError(RuntimeError):
    """The GPU was asked for where none can be used; the message says why."""


if _cuda is not None:
    CudaError = _cuda.CudaError
    DeviceArray = _cuda.DeviceArray
else:
    class CudaError(RuntimeError):
        """A failed CUDA call (only raised by builds with the CUDA module)."""

    class DeviceArray:  # placeholder type: isinstance() checks work in CPU-only builds
        """A GPU array (needs the CUDA build; see sr_native.cuda)."""

        def __init__(self, *args, **kwargs):
            raise CudaUnavailableError(cuda_unavailable_reason())


def cuda_unavailable_reason():
    """"" when the CUDA kernels can run here, else why not, in words."""
    if _cuda is None:
        if importlib.util.find_spec(__package__ + "._cuda") is None:
            return ("this build of sr_native has no CUDA module (it was built without SR_NATIVE_CUDA=ON; "
                    "rebuild with pip install . -Ccmake.define.SR_NATIVE_CUDA=ON and a CUDA toolkit)")
        return f"the CUDA module of this build failed to import: {_IMPORT_ERROR}"
    return _cuda.unavailable_reason()


def cuda_available():
    """Whether the CUDA kernels can run here (a CUDA build, a driver and a GPU)."""
    return cuda_unavailable_reason() == ""


def require(what="the GPU"):
    """Raise CudaUnavailableError, saying why, unless CUDA can be used."""
    reason = cuda_unavailable_reason()
    if reason:
        raise CudaUnavailableError(f"{what} needs CUDA, which is not available: {reason}")


def is_device_array(x):
    return _cuda is not None and isinstance(x, _cuda.DeviceArray)


def to_device(array):
    """A numpy array (float32, uint8 or uint16) copied to the GPU; a DeviceArray is returned as is."""
    if is_device_array(array):
        return array
    require("to_device")
    import numpy as np

    return _cuda.from_numpy(np.asarray(array))


def to_host(x):
    """A numpy array: a DeviceArray copied back, anything else through np.asarray."""
    import numpy as np

    return x.to_numpy() if is_device_array(x) else np.asarray(x)


def from_dlpack(tensor):
    """A CUDA tensor of another library (PyTorch, CuPy, ...) as a DeviceArray, sharing its memory."""
    require("from_dlpack")
    return _cuda.from_dlpack(tensor)


def empty(shape, dtype="float32"):
    require("empty")
    return _cuda.empty(shape, dtype)


def zeros(shape):
    require("zeros")
    return _cuda.zeros(shape)


def synchronize():
    """Wait for all queued GPU work (for timing)."""
    require("synchronize")
    _cuda.synchronize()


def device_info():
    """Name, compute capability, multiprocessors, memory and versions of the GPU in use."""
    require("device_info")
    return dict(_cuda.device_info())


def check_device(device, what):
    """Normalise a device argument ("cpu", "cuda", "cuda:0"); raise for anything else or an unusable GPU."""
    if device is None or device == "cpu":
        return "cpu"
    if device in ("cuda", "cuda:0", "gpu"):
        require(what)
        return "cuda"
    raise ValueError(f"{what}: device must be 'cpu' or 'cuda', got {device!r}")


__all__ = ["CudaError", "CudaUnavailableError", "DeviceArray", "check_device", "cuda_available",
           "cuda_unavailable_reason", "device_info", "empty", "from_dlpack", "is_device_array", "require",
           "synchronize", "to_device", "to_host", "zeros"]
