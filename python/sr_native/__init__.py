"""sr_native: single-image super-resolution on the CPU with hand-written C++ kernels.

Public entry points:
  sr_native.resize(image, scale, ...)   MATLAB/Pillow-compatible image resizing
  sr_native.ops                          the float32 NCHW kernels (conv2d, pixel shuffle, ...)
  sr_native.ref                          the same ops through the plain reference kernels
  sr_native.build_info()                 how the extension was built and which code path runs
  sr_native.cuda                         the optional GPU path (device arrays, DLPack)
"""

from importlib.metadata import PackageNotFoundError, version as _dist_version

from . import _core, cuda, metrics, models, ops, ref
from .cuda import cuda_available, cuda_unavailable_reason
from .resize import resize
from .training import train
from .upscaling import upscale
from .weights import load_model, shipped_models

try:
    __version__ = _dist_version("sr_native")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"


def build_info():
    """How the compiled core was built and what it runs on this machine.

    Keys: version, compiler, isa_compiled (bodies built in), isa_detected (best the
    CPU supports), isa_active (what the fast kernels use now), openmp, num_threads,
    march_native, cuda (whether this build has the CUDA module; cuda_available()
    says whether it can run here).
    """
    info = dict(_core.build_info())
    info["cuda"] = cuda._cuda is not None  # the CUDA module was built (SR_NATIVE_CUDA=ON)
    return info


def get_num_threads():
    """Threads each kernel uses. Starts at OpenMP's default, which honours OMP_NUM_THREADS."""
    return _core.get_num_threads()


def set_num_threads(n):
    """Set the threads every kernel uses, process-wide (n >= 1). No effect without OpenMP."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    _core.set_num_threads(n)


def get_isa():
    """The instruction set the fast kernels use now: 'generic', 'avx2' or 'avx512'."""
    return _core.get_isa()


def set_isa(name):
    """Lower (or restore) the instruction set of the fast kernels, for testing and timing.

    The environment variable SR_NATIVE_ISA sets the same at import. ValueError if the
    CPU does not support `name`.
    """
    _core.set_isa(name)


def supported_isas():
    """The instruction sets this CPU can run, from 'generic' up to the detected one."""
    order = ["generic", "avx2", "avx512"]
    compiled = _core.build_info()["isa_compiled"]
    return [n for n in order[: order.index(_core.detected_isa()) + 1] if n in compiled]


__all__ = [
    "build_info", "cuda", "cuda_available", "cuda_unavailable_reason", "get_isa", "get_num_threads",
    "load_model", "metrics", "models", "ops", "ref", "resize", "set_isa", "set_num_threads",
    "shipped_models", "supported_isas", "train", "upscale", "__version__",
]
