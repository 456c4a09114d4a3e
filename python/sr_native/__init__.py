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
    """Set the threads every kernel uses, process-wide. No effect without OpenMP.

    n must be from 1 to 4x the CPUs (``std::thread::hardware_concurrency()``;
    ValueError past that: more threads only add overhead, and OpenMP kills the
    process when it cannot create them). The n - 1 helper threads are tried
    first, with OpenMP's stack size: where fewer can be created (a low
    ``ulimit -v``), the kernels use as many as could be, with a RuntimeWarning.
    Returns the count now in use.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    limit = _core.max_num_threads()
    if not 1 <= n <= limit:  # here too: past int64 the binding would raise TypeError
        raise ValueError(f"set_num_threads: n must be >= 1 and at most {limit} (4x the {limit // 4} CPUs "
                         f"std::thread::hardware_concurrency() reports), got {n}")
    used = _core.set_num_threads(n)
    if used < n:
        import warnings

        warnings.warn(f"set_num_threads: only {used} of {n} threads could be created "
                      f"(memory or process limits); using {used}", RuntimeWarning, stacklevel=2)
    return used


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
