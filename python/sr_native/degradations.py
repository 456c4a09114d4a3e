"""Synthetic degradations of real photos: Real-ESRGAN's second-order model
for training, and fixed degradation specs for evaluation.

Training (`degrade`): an HR crop goes through two rounds of
blur -> random resize -> Gaussian or Poisson noise -> JPEG (the second
round's JPEG is the final one), then a resize to the LR size, a 2-D sinc
filter (ringing and overshoot) and the final JPEG, the last two in either
order. Every random choice comes from the numpy Generator passed in, so one
seed gives one result, bit for bit. The defaults and the names of the
parameters are those of Real-ESRGAN's published training configuration
(Wang et al. 2021, `train_realesrgan_x4plus.yml`); the code is our own.

Where this differs from Real-ESRGAN's PyTorch code:
- Resizes use the package's `resize` (MATLAB's pixel mapping, bicubic with
  a = -0.5 where PyTorch uses -0.75). Bilinear and bicubic shrink without
  antialiasing by default (`resize_antialias=False`), as PyTorch's
  `interpolate` does, so the aliasing of real cameras stays in the data.
- JPEG is Pillow's (libjpeg, 4:2:0 chroma subsampling, integer quality)
  instead of a differentiable JPEG; its input is rounded to 8 bits, as a
  real encoder's is.
- Blur is a 2-D correlation by FFT with reflect padding (the kernels are
  point-symmetric, so it equals convolution); a kernel is applied at its own
  size rather than zero-padded to 21, which gives the same image.
- The HR crop is not sharpened (Real-ESRGAN's USM on the ground truth).

Evaluation (`parse_spec`, `apply_spec`): a spec such as "jpeg=40,noise=5"
lists fixed steps applied in the order written to an LR image:
`noise=S` Gaussian noise of sigma S on the 0-255 scale (independent per
channel), `jpeg=Q` JPEG at quality Q (1..100), `blur=S` Gaussian blur of
sigma S pixels (a kernel of 2*ceil(3S)+1 taps, reflect padding).

Images are float arrays in [0, 1], (H, W, 3) or (H, W); kernels are
(K, K) float64 arrays that sum to 1, indexed [row, column], and a
covariance's x axis is the column axis (Real-ESRGAN's convention).
"""

import io
import json
import math
import numbers
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESIZE_MODES = ("area", "bilinear", "bicubic")
SPEC_STEPS = ("noise", "jpeg", "blur")

# BT.601 luma weights (OpenCV's RGB2GRAY), for gray Poisson noise as Real-ESRGAN makes it.
_LUMA = np.array([0.299, 0.587, 0.114])


# ------------------------------------------------------------------- kernels

def _grid(size):
    """(x, y) offsets from the centre of a size x size kernel: x along columns, y along rows."""
    half = size // 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    return x, y


def _check_size(size, where):
    if isinstance(size, bool) or not isinstance(size, numbers.Integral):
        raise TypeError(f"{where}: size must be an int, got {type(size).__name__} {size!r}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"{where}: size must be a positive odd int, got {size!r}")
    return int(size)


def _check_positive(value, where, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{where}: {name} must be positive and finite, got {value!r}")
    return float(value)


def covariance(sigma_x, sigma_y, theta):
    """The 2x2 covariance R diag(sigma_x^2, sigma_y^2) R^T, R the rotation by theta (radians)."""
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    return rot @ np.diag([sigma_x ** 2, sigma_y ** 2]) @ rot.T


def _quadratic_form(size, sigma_x, sigma_y, theta, where):
    """q = [x y] Sigma^-1 [x y]^T on the kernel grid."""
    size = _check_size(size, where)
    sigma_x = _check_positive(sigma_x, where, "sigma_x")
    sigma_y = sigma_x if sigma_y is None else _check_positive(sigma_y, where, "sigma_y")
    inv = np.linalg.inv(covariance(sigma_x, sigma_y, float(theta)))
    x, y = _grid(size)
    return inv[0, 0] * x * x + (inv[0, 1] + inv[1, 0]) * x * y + inv[1, 1] * y * y


def gaussian_kernel(size, sigma_x, sigma_y=None, theta=0.0):
    """A (size, size) Gaussian kernel, isotropic (sigma_y None) or anisotropic
    with the covariance `covariance(sigma_x, sigma_y, theta)`; sums to 1."""
    q = _quadratic_form(size, sigma_x, sigma_y, theta, "gaussian_kernel")
    k = np.exp(-0.5 * q)
    return k / k.sum()


def generalized_gaussian_kernel(size, sigma_x, sigma_y=None, theta=0.0, beta=1.0):
    """exp(-0.5 q^beta): beta 1 is the Gaussian, beta < 1 a sharper peak with
    heavier tails, beta > 1 a flatter top (Liu et al., generalised Gaussian)."""
    beta = _check_positive(beta, "generalized_gaussian_kernel", "beta")
    q = _quadratic_form(size, sigma_x, sigma_y, theta, "generalized_gaussian_kernel")
    k = np.exp(-0.5 * q ** beta)
    return k / k.sum()


def plateau_kernel(size, sigma_x, sigma_y=None, theta=0.0, beta=1.0):
    """1 / (1 + q^beta): a flat top with slowly decaying tails (Real-ESRGAN's plateau kernel)."""
    beta = _check_positive(beta, "plateau_kernel", "beta")
    q = _quadratic_form(size, sigma_x, sigma_y, theta, "plateau_kernel")
    k = 1.0 / (1.0 + q ** beta)
    return k / k.sum()


def bessel_j1(x):
    """The Bessel function J1, from Bessel's integral J1(x) = (1/2pi) int cos(t - x sin t) dt
    over one period, by the trapezoid rule: exact to rounding for |x| < ~100
    with 256 nodes (the integrand is periodic and analytic). numpy has no J1,
    and scipy is not a dependency."""
    x = np.asarray(x, np.float64)
    t = np.arange(256) * (2 * np.pi / 256)
    return np.cos(t - x[..., None] * np.sin(t)).mean(axis=-1)


def sinc_kernel(size, cutoff):
    """A (size, size) circular low-pass filter: the ideal 2-D filter passing
    spatial frequencies below `cutoff` (radians per pixel, in (0, pi]),
    omega J1(omega r) / (2 pi r), truncated to the window and normalised to
    sum 1 (its spectrum ripples around 1 below the cutoff)."""
    size = _check_size(size, "sinc_kernel")
    cutoff = _check_positive(cutoff, "sinc_kernel", "cutoff")
    if cutoff > math.pi:
        raise ValueError(f"sinc_kernel: cutoff must be in (0, pi], got {cutoff!r}")
    x, y = _grid(size)
    r = np.hypot(x, y)
    safe = np.where(r == 0, 1.0, r)
    k = np.where(r == 0, cutoff ** 2 / (4 * np.pi), cutoff * bessel_j1(cutoff * safe) / (2 * np.pi * safe))
    return k / k.sum()


# --------------------------------------------------------------- the config

def _pair(lo, hi):
    return field(default_factory=lambda: [lo, hi])


def _kernel_probs():
    return [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]


@dataclass
class DegradationConfig:
    """Parameters of the second-order model; the defaults are Real-ESRGAN's
    (train_realesrgan_x4plus.yml). Ranges are [low, high] drawn uniformly;
    `*2` fields belong to the second round. Noise sigmas are on the 0-255
    scale; resize ranges are scale factors; probabilities of a list (kernel
    types, resize up/down/keep, resize modes) sum to 1."""

    # Blur kernels: odd sizes from kernel_size_min to kernel_size_max, a type from
    # KERNEL_TYPES (or, with sinc_prob, a 2-D sinc instead).
    kernel_size_min: int = 7
    kernel_size_max: int = 21
    kernel_list: list = field(default_factory=lambda: list(KERNEL_TYPES))
    kernel_prob: list = field(default_factory=_kernel_probs)
    sinc_prob: float = 0.1
    blur_sigma: list = _pair(0.2, 3.0)
    betag_range: list = _pair(0.5, 4.0)  # generalised Gaussian's shape
    betap_range: list = _pair(1.0, 2.0)  # plateau's shape
    kernel_prob2: list = field(default_factory=_kernel_probs)
    sinc_prob2: float = 0.1
    blur_sigma2: list = _pair(0.2, 1.5)
    betag_range2: list = _pair(0.5, 4.0)
    betap_range2: list = _pair(1.0, 2.0)
    final_sinc_prob: float = 0.8
    # The first round: resize [up, down, keep], noise, JPEG.
    resize_prob: list = field(default_factory=lambda: [0.2, 0.7, 0.1])
    resize_range: list = _pair(0.15, 1.5)
    gaussian_noise_prob: float = 0.5  # else Poisson
    noise_range: list = _pair(1.0, 30.0)
    poisson_scale_range: list = _pair(0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_range: list = _pair(30.0, 95.0)
    # The second round (its JPEG is the final one).
    second_round_prob: float = 1.0  # < 1: some samples see one round only
    second_blur_prob: float = 0.8
    resize_prob2: list = field(default_factory=lambda: [0.3, 0.4, 0.3])
    resize_range2: list = _pair(0.3, 1.2)
    gaussian_noise_prob2: float = 0.5
    noise_range2: list = _pair(1.0, 25.0)
    poisson_scale_range2: list = _pair(0.05, 2.5)
    gray_noise_prob2: float = 0.4
    jpeg_range2: list = _pair(30.0, 95.0)
    # Resizes: modes and their probabilities; antialias for bilinear/bicubic
    # shrinks (area always averages).
    resize_modes: list = field(default_factory=lambda: list(RESIZE_MODES))
    resize_mode_prob: list = field(default_factory=lambda: [1 / 3, 1 / 3, 1 / 3])
    resize_antialias: bool = False
    # The fraction of samples that skip every step above and get the clean
    # bicubic LR (MATLAB's antialiased imresize, as the clean models train on),
    # so a photo model still restores detail in clean input.
    clean_prob: float = 0.0

    def validate(self):
        """Check every field (TypeError for a wrong type, ValueError for a bad
        value, each naming the field and the value) and normalise numbers to
        plain floats and ints, so the config serialises to JSON. Returns self."""
        for name in ("kernel_size_min", "kernel_size_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"degradation: {name} must be an int, got {type(value).__name__} {value!r}")
            if value < 3 or value % 2 == 0:
                raise ValueError(f"degradation: {name} must be an odd int >= 3, got {value!r}")
            setattr(self, name, int(value))
        if self.kernel_size_min > self.kernel_size_max:
            raise ValueError(f"degradation: kernel_size_min ({self.kernel_size_min}) must not exceed "
                             f"kernel_size_max ({self.kernel_size_max})")
        self.kernel_list = _names("kernel_list", self.kernel_list, KERNEL_TYPES)
        self.resize_modes = _names("resize_modes", self.resize_modes, RESIZE_MODES)
        for name, n in (("kernel_prob", len(self.kernel_list)), ("kernel_prob2", len(self.kernel_list)),
                        ("resize_prob", 3), ("resize_prob2", 3), ("resize_mode_prob", len(self.resize_modes))):
            setattr(self, name, _distribution(name, getattr(self, name), n))
        for name in ("sinc_prob", "sinc_prob2", "final_sinc_prob", "gaussian_noise_prob", "gray_noise_prob",
                     "second_round_prob", "second_blur_prob", "gaussian_noise_prob2", "gray_noise_prob2",
                     "clean_prob"):
            setattr(self, name, _number(name, getattr(self, name), 0.0, 1.0))
        for name, lo, hi in (("blur_sigma", 1e-3, 100.0), ("blur_sigma2", 1e-3, 100.0),
                             ("betag_range", 1e-3, 100.0), ("betag_range2", 1e-3, 100.0),
                             ("betap_range", 1e-3, 100.0), ("betap_range2", 1e-3, 100.0),
                             ("resize_range", 0.01, 100.0), ("resize_range2", 0.01, 100.0),
                             ("noise_range", 0.0, 255.0), ("noise_range2", 0.0, 255.0),
                             ("poisson_scale_range", 0.0, 100.0), ("poisson_scale_range2", 0.0, 100.0),
                             ("jpeg_range", 1.0, 100.0), ("jpeg_range2", 1.0, 100.0)):
            setattr(self, name, _range(name, getattr(self, name), lo, hi))
        for name in ("resize_range", "resize_range2"):
            lo, hi = getattr(self, name)
            if lo > 1 or hi < 1:
                raise ValueError(f"degradation: {name} must hold 1 (downscales are drawn from [low, 1], "
                                 f"upscales from [1, high]), got {[lo, hi]!r}")
        if not isinstance(self.resize_antialias, (bool, np.bool_)):
            raise TypeError(f"degradation: resize_antialias must be a bool, got "
                            f"{type(self.resize_antialias).__name__} {self.resize_antialias!r}")
        self.resize_antialias = bool(self.resize_antialias)
        return self

    def to_dict(self):
        """A plain dict of every field (JSON-serialisable once validated)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values):
        """A validated config from a dict of fields; fields not given keep
        their defaults; an unknown field is a ValueError naming it."""
        if not isinstance(values, dict):
            raise TypeError(f"degradation: a config must be a dict of fields, got {type(values).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in values if k not in known)
        if unknown:
            raise ValueError(f"degradation: unknown field(s) {', '.join(unknown)}; the fields are "
                             f"{', '.join(sorted(known))}")
        return cls(**values).validate()


def _names(name, value, allowed):
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f"degradation: {name} must be a non-empty list of names from {allowed}, got {value!r}")
    bad = [v for v in value if v not in allowed]
    if bad:
        raise ValueError(f"degradation: {name} holds {bad!r}; allowed are {allowed}")
    if len(set(value)) != len(value):
        raise ValueError(f"degradation: {name} names an entry twice: {value!r}")
    return list(value)


def _number(name, value, lo, hi):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"degradation: {name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not (lo <= value <= hi):  # NaN fails too
        raise ValueError(f"degradation: {name} must be in [{lo:g}, {hi:g}], got {value!r}")
    return value


def _range(name, value, lo, hi):
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise TypeError(f"degradation: {name} must be a [low, high] pair, got {value!r}")
    low, high = (_number(name, v, lo, hi) for v in value)
    if low > high:
        raise ValueError(f"degradation: {name} must be [low, high] with low <= high, got {list(value)!r}")
    return [low, high]


def _distribution(name, value, n):
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"degradation: {name} must be a list of {n} probabilities, got {value!r}")
    if len(value) != n:
        raise ValueError(f"degradation: {name} must hold {n} probabilities (one per entry), got {list(value)!r}")
    probs = [_number(name, v, 0.0, 1.0) for v in value]
    # Generator.choice's own tolerance; not renormalised, so validation is idempotent.
    if abs(math.fsum(probs) - 1.0) > 1e-8:
        raise ValueError(f"degradation: {name} must sum to 1, got {list(value)!r} (sum {math.fsum(probs):.10g})")
    return probs


# Our lighter model for x2 (Real-ESRGAN trains x2 with the x4 settings): half the
# blur and noise, milder JPEG and resizes, a second round on half the samples.
PRESETS = {
    "realesrgan": {},
    "light": dict(blur_sigma=[0.2, 1.5], blur_sigma2=[0.2, 1.0], sinc_prob=0.05, sinc_prob2=0.05,
                  final_sinc_prob=0.5, resize_range=[0.5, 1.5], resize_range2=[0.7, 1.2],
                  noise_range=[1.0, 15.0], noise_range2=[1.0, 10.0], poisson_scale_range=[0.05, 1.5],
                  poisson_scale_range2=[0.05, 1.0], jpeg_range=[50.0, 95.0], jpeg_range2=[60.0, 95.0],
                  second_round_prob=0.5, second_blur_prob=0.5),
}
# The shipped photo models' recipes. "photo" (photo-x4): "light" on three samples in
# four, clean bicubic on the rest. "photo-mild" (photo-x2): at x2 the light blur taught
# the network to sharpen clean input too much (Set5 2 dB below edsr-baseline-x2 at 400
# iterations), so the blur is gentler, JPEG reaches quality 35 and 40% of samples are clean.
PRESETS["photo"] = dict(PRESETS["light"], clean_prob=0.25)
PRESETS["photo-mild"] = dict(PRESETS["light"], blur_sigma=[0.2, 0.8], blur_sigma2=[0.2, 0.6], sinc_prob=0.02,
                             sinc_prob2=0.02, final_sinc_prob=0.3, jpeg_range=[35.0, 95.0],
                             jpeg_range2=[35.0, 95.0], clean_prob=0.4)


def preset(name):
    """The named config: "realesrgan" (Real-ESRGAN's defaults), "light", "photo" or "photo-mild"."""
    if not isinstance(name, str):
        raise TypeError(f"degradation: a preset name must be a str, got {type(name).__name__}")
    if name not in PRESETS:
        raise ValueError(f"degradation: unknown preset {name!r}; the presets are {sorted(PRESETS)}")
    return DegradationConfig.from_dict(dict(PRESETS[name]))


def load_config(source):
    """A validated DegradationConfig from a preset name, a JSON file (an
    object of fields; missing fields keep Real-ESRGAN's defaults), a dict of
    fields, or a DegradationConfig. FileNotFoundError for a missing file,
    ValueError for a file that is not a JSON object or a bad field."""
    if isinstance(source, DegradationConfig):
        return DegradationConfig.from_dict(source.to_dict())  # a checked copy
    if isinstance(source, dict):
        return DegradationConfig.from_dict(dict(source))
    if isinstance(source, str) and source in PRESETS:
        return preset(source)
    if not isinstance(source, (str, os.PathLike)) or isinstance(source, bytes):
        raise TypeError(f"degradation: expected a preset name, a JSON file, a dict or a DegradationConfig, "
                        f"got {type(source).__name__}")
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"degradation: {str(source)!r} is neither a preset ({', '.join(sorted(PRESETS))}) "
                                "nor an existing JSON file")
    try:
        values = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"degradation: {str(source)!r} is not a JSON file ({exc})") from exc
    if not isinstance(values, dict):
        raise ValueError(f"degradation: {str(source)!r} must hold a JSON object of fields, got "
                         f"{type(values).__name__}")
    return DegradationConfig.from_dict(values)


# ---------------------------------------------------------- the image steps

def blur(image, kernel):
    """Correlate each channel of an (H, W, C) or (H, W) float image with a
    (K, K) kernel, K odd, by FFT; reflect padding (the edge pixel not repeated,
    as PyTorch's); same size and dtype out."""
    image, kernel = np.asarray(image), np.asarray(kernel, np.float64)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
        raise ValueError(f"blur: kernel must be (K, K) with K odd, got shape {kernel.shape}")
    if image.ndim not in (2, 3) or 0 in image.shape:
        raise ValueError(f"blur: image must be (H, W) or (H, W, C), got shape {image.shape}")
    if kernel.shape[0] == 1:
        return image * image.dtype.type(kernel[0, 0])
    planes = image[..., None] if image.ndim == 2 else image
    h, w = planes.shape[:2]
    half = kernel.shape[0] // 2
    # A side of one pixel has nothing to mirror: repeat it.
    mode = "reflect" if min(h, w) > 1 else "edge"
    padded = np.pad(planes.astype(np.float64), ((half, half), (half, half), (0, 0)), mode=mode)
    # A circular correlation as long as the padded image leaves the kept
    # centre untouched by wrap-around; 2-3-5-smooth lengths keep the FFT fast.
    shape = (_fft_length(padded.shape[0]), _fft_length(padded.shape[1]))
    spectrum = np.fft.rfft2(padded, s=shape, axes=(0, 1))
    kernel_spectrum = np.fft.rfft2(kernel[::-1, ::-1], s=shape)  # flipped: correlation, as conv2d
    full = np.fft.irfft2(spectrum * kernel_spectrum[..., None], s=shape, axes=(0, 1))
    # Output pixel (i, j) lands at (i + 2*half, j + 2*half): half from the
    # padding, half from the flipped kernel's centre.
    out = full[2 * half:2 * half + h, 2 * half:2 * half + w].astype(image.dtype)
    return out[..., 0] if image.ndim == 2 else out


def _fft_length(n):
    """The least 2-3-5-smooth integer >= n."""
    best = 2 ** math.ceil(math.log2(max(n, 2)))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            length = p35
            while length < n:
                length *= 2
            best = min(best, length)
            p35 *= 3
        p5 *= 5
    return best


def resize_to(image, size, mode, antialias=False):
    """A float32 (H, W, C) image resized to size (h, w) with sr_native.resize;
    "area" always averages (it is nearest when enlarging)."""
    from .resize import resize

    if tuple(size) == image.shape[:2]:
        return image
    return resize(np.ascontiguousarray(image, np.float32), size=tuple(size), method=mode,
                  antialias=True if mode == "area" else antialias)


def add_gaussian_noise(image, sigma, rng, gray=False):
    """image + N(0, (sigma/255)^2), the same draw on every channel when gray;
    clipped to [0, 1]."""
    shape = image.shape[:2] if gray else image.shape
    noise = rng.standard_normal(shape) * (sigma / 255.0)
    if gray and image.ndim == 3:
        noise = noise[..., None]
    return np.clip(image + noise, 0.0, 1.0).astype(np.float32)


def add_poisson_noise(image, scale, rng, gray=False):
    """Shot noise as Real-ESRGAN makes it: the image at 8 bits, counts
    Poisson(v * L) / L with L the power of two at or above its number of
    distinct levels, the difference to the image scaled by `scale`; from the
    luma, the same on every channel, when gray. Clipped to [0, 1]."""
    source = image @ _LUMA if (gray and image.ndim == 3) else image
    levels = np.clip(np.rint(source * 255.0), 0, 255) / 255.0
    count = 2.0 ** math.ceil(math.log2(max(len(np.unique(levels)), 1)))
    noise = (rng.poisson(levels * count) / count - levels) * scale
    if gray and image.ndim == 3:
        noise = noise[..., None]
    return np.clip(image + noise, 0.0, 1.0).astype(np.float32)


def jpeg(image, quality):
    """JPEG-compress a float image in [0, 1] (H, W, 3) or (H, W) in memory
    with Pillow at an integer quality 1..100 (4:2:0 chroma); float32 out,
    on the 8-bit levels."""
    from PIL import Image

    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral) or not 1 <= quality <= 100:
        raise ValueError(f"jpeg: quality must be an int in 1..100, got {quality!r}")
    pixels = np.clip(np.rint(np.asarray(image, np.float64) * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        out = np.asarray(decoded, dtype=np.uint8)
    return out.astype(np.float32) * np.float32(1 / 255)


# ------------------------------------------------------- the random model

def _uniform(rng, pair):
    return float(rng.uniform(pair[0], pair[1]))


def _random_size(rng, sizes_min, sizes_max):
    return int(rng.choice(np.arange(sizes_min, sizes_max + 1, 2)))


def random_kernel(rng, config, second=False):
    """A blur kernel drawn as Real-ESRGAN draws its kernel1 (second=False) or
    kernel2 (second=True): an odd size, then with sinc_prob a sinc of cutoff
    in [pi/3, pi] (down to pi/5 for sizes >= 13), else a type from
    kernel_list with sigmas, a rotation in [-pi, pi) for the anisotropic
    ones, and a shape beta: half the time below 1, half above."""
    suffix = "2" if second else ""
    size = _random_size(rng, config.kernel_size_min, config.kernel_size_max)
    if rng.random() < getattr(config, "sinc_prob" + suffix):
        low = math.pi / 3 if size < 13 else math.pi / 5
        return sinc_kernel(size, float(rng.uniform(low, math.pi)))
    probs = getattr(config, "kernel_prob" + suffix)
    kind = config.kernel_list[int(rng.choice(len(probs), p=probs))]
    sigma_range = getattr(config, "blur_sigma" + suffix)
    sigma_x = _uniform(rng, sigma_range)
    if kind.endswith("_iso") or kind == "iso":
        sigma_y, theta = sigma_x, 0.0
    else:
        sigma_y, theta = _uniform(rng, sigma_range), float(rng.uniform(-math.pi, math.pi))
    if kind in ("iso", "aniso"):
        return gaussian_kernel(size, sigma_x, sigma_y, theta)
    beta_range = getattr(config, ("betag_range" if kind.startswith("generalized") else "betap_range") + suffix)
    # Real-ESRGAN's rule: beta below or above 1 with equal chance.
    if rng.random() < 0.5:
        beta = float(rng.uniform(beta_range[0], min(1.0, beta_range[1])))
    else:
        beta = float(rng.uniform(max(1.0, beta_range[0]), beta_range[1]))
    if kind.startswith("generalized"):
        return generalized_gaussian_kernel(size, sigma_x, sigma_y, theta, beta)
    return plateau_kernel(size, sigma_x, sigma_y, theta, beta)


def _random_mode(rng, config):
    return config.resize_modes[int(rng.choice(len(config.resize_modes), p=config.resize_mode_prob))]


def _random_scale(rng, probs, scale_range):
    direction = int(rng.choice(3, p=probs))  # up, down, keep
    if direction == 0:
        return float(rng.uniform(1.0, scale_range[1]))
    if direction == 1:
        return float(rng.uniform(scale_range[0], 1.0))
    return 1.0


def _random_noise(rng, image, config, second):
    suffix = "2" if second else ""
    if rng.random() < getattr(config, "gaussian_noise_prob" + suffix):
        sigma = _uniform(rng, getattr(config, "noise_range" + suffix))
        gray = rng.random() < getattr(config, "gray_noise_prob" + suffix)
        return add_gaussian_noise(image, sigma, rng, gray)
    scale = _uniform(rng, getattr(config, "poisson_scale_range" + suffix))
    gray = rng.random() < getattr(config, "gray_noise_prob" + suffix)
    return add_poisson_noise(image, scale, rng, gray)


def _random_jpeg(rng, image, quality_range):
    return jpeg(image, int(round(_uniform(rng, quality_range))))


def degrade(hr, scale, config="realesrgan", rng=None):
    """An LR image made from an HR image by the second-order model.

    Args:
        hr: (H, W, 3) float32 in [0, 1].
        scale: int >= 1; the LR is (H // scale, W // scale) and covers the
            whole HR image (crop the HR to a multiple of scale first for an
            exact pixel grid, as training does).
        config: a DegradationConfig, a preset name, a dict of fields or a
            JSON file (load_config).
        rng: a numpy Generator: every random choice is drawn from it, so
            the same state gives a bit-identical result.

    Returns:
        (H // scale, W // scale, 3) float32 in [0, 1] on the 8-bit levels.

    Raises:
        TypeError: hr not a float32 numpy array, scale not an int, rng not a
            numpy Generator.
        ValueError: hr not (H, W, 3), smaller than the scale, not finite or
            outside [0, 1]; a bad config.
    """
    where = "degrade"
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{where}: rng must be a numpy Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    if not isinstance(hr, np.ndarray) or hr.dtype != np.float32:
        raise TypeError(f"{where}: hr must be a float32 numpy array in [0, 1], got "
                        f"{type(hr).__name__}{'' if not isinstance(hr, np.ndarray) else ' of ' + str(hr.dtype)}")
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral):
        raise TypeError(f"{where}: scale must be an int, got {type(scale).__name__} {scale!r}")
    if scale < 1:
        raise ValueError(f"{where}: scale must be >= 1, got {scale!r}")
    if hr.ndim != 3 or hr.shape[2] != 3:
        raise ValueError(f"{where}: hr must be (H, W, 3), got shape {hr.shape}")
    h, w = hr.shape[:2]
    out_h, out_w = h // scale, w // scale
    if out_h < 1 or out_w < 1:
        raise ValueError(f"{where}: hr of shape {hr.shape} is smaller than the scale {scale}")
    if not np.isfinite(hr).all() or hr.min() < 0 or hr.max() > 1:
        raise ValueError(f"{where}: hr must hold values in [0, 1], got [{hr.min()!r}, {hr.max()!r}]")
    config = load_config(config)
    aa = config.resize_antialias
    # Drawn only when asked for, so configs without clean samples keep their streams.
    if config.clean_prob > 0 and rng.random() < config.clean_prob:
        return resize_to(hr, (out_h, out_w), "bicubic", antialias=True)

    # The first round: blur, resize, noise, JPEG.
    x = blur(hr, random_kernel(rng, config))
    s1 = _random_scale(rng, config.resize_prob, config.resize_range)
    x = resize_to(x, (max(1, round(h * s1)), max(1, round(w * s1))), _random_mode(rng, config), aa)
    x = _random_noise(rng, x, config, second=False)
    x = _random_jpeg(rng, x, config.jpeg_range)
    # The second round, sized from the target LR (as Real-ESRGAN does): blur, resize, noise.
    if rng.random() < config.second_round_prob:
        if rng.random() < config.second_blur_prob:
            x = blur(x, random_kernel(rng, config, second=True))
        s2 = _random_scale(rng, config.resize_prob2, config.resize_range2)
        x = resize_to(x, (max(1, int(out_h * s2)), max(1, int(out_w * s2))), _random_mode(rng, config), aa)
        x = _random_noise(rng, x, config, second=True)
    # The final resize to the LR size with the sinc filter, and JPEG, in either order.
    sinc_first = rng.random() < 0.5
    mode = _random_mode(rng, config)
    sinc = None
    if rng.random() < config.final_sinc_prob:
        sinc = sinc_kernel(_random_size(rng, config.kernel_size_min, config.kernel_size_max),
                           float(rng.uniform(math.pi / 3, math.pi)))
    quality = int(round(_uniform(rng, config.jpeg_range2)))
    if not sinc_first:
        x = jpeg(x, quality)
    x = resize_to(x, (out_h, out_w), mode, aa)
    if sinc is not None:
        x = blur(x, sinc)
    if sinc_first:
        x = jpeg(x, quality)
    # JPEG output is already on 8-bit levels; a last resize or sinc is not.
    return (np.clip(np.rint(x * 255.0), 0, 255) * (1 / 255.0)).astype(np.float32)


# --------------------------------------------------- evaluation specs

def parse_spec(spec):
    """[(step, value), ...] from a spec such as "jpeg=40,noise=5": steps in
    the order written; noise (sigma >= 0 on 0-255), jpeg (int 1..100), blur
    (sigma > 0 px). ValueError naming the bad part."""
    if not isinstance(spec, str):
        raise TypeError(f"degrade: the spec must be a str such as 'jpeg=40,noise=5', got {type(spec).__name__}")
    parts = [p.strip() for p in spec.split(",")]
    if not spec.strip():
        raise ValueError("degrade: the spec is empty; give steps such as 'jpeg=40,noise=5'")
    steps = []
    for part in parts:
        name, eq, text = part.partition("=")
        name, text = name.strip().lower(), text.strip()
        if not eq or name not in SPEC_STEPS or not text:
            raise ValueError(f"degrade: bad step {part!r} in {spec!r}: each step is NAME=VALUE with NAME one of "
                             f"{', '.join(SPEC_STEPS)}")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"degrade: bad value in step {part!r} of {spec!r}: {text!r} is not a number") from None
        if name == "jpeg":
            if not math.isfinite(value) or value != int(value):
                raise ValueError(f"degrade: step {part!r} of {spec!r}: jpeg quality must be an int in 1..100")
            if not 1 <= value <= 100:
                raise ValueError(f"degrade: step {part!r} of {spec!r}: jpeg quality must be in 1..100")
            value = int(value)
        elif name == "noise" and not (math.isfinite(value) and 0 <= value <= 255):
            raise ValueError(f"degrade: step {part!r} of {spec!r}: noise sigma must be in [0, 255] (0-255 scale)")
        elif name == "blur" and not (math.isfinite(value) and 0 < value <= 50):
            raise ValueError(f"degrade: step {part!r} of {spec!r}: blur sigma must be in (0, 50] pixels")
        steps.append((name, value))
    return steps


def format_spec(steps):
    """The canonical text of parsed steps: "jpeg=40,noise=5"."""
    return ",".join(f"{name}={value:g}" for name, value in steps)


def apply_spec(image, steps, rng):
    """Apply parsed steps (parse_spec) to a uint8 (H, W) or (H, W, 3) image;
    uint8 out, same shape. Noise draws from rng."""
    x = image.astype(np.float32) * np.float32(1 / 255)
    for name, value in steps:
        if name == "noise":
            x = add_gaussian_noise(x, value, rng)
        elif name == "jpeg":
            x = jpeg(x, value)
        else:  # blur
            x = blur(x, gaussian_kernel(2 * math.ceil(3 * value) + 1, value))
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def training_config(value, where="train"):
    """The degradation option of a training run as the dict a checkpoint
    records: {} (None, "" or {}) for the bicubic path, else every field of a
    validated config. value: a preset name, a dict of fields or a
    DegradationConfig (a JSON file is read by the caller: validation reads
    nothing from disk). Errors are re-raised naming `where`."""
    if value is None or (isinstance(value, (str, dict)) and not value):
        return {}
    if isinstance(value, str) and value not in PRESETS:
        raise ValueError(f"{where}: degradation must be a preset ({', '.join(sorted(PRESETS))}), a dict of "
                         f"fields or a DegradationConfig, got {value!r} (read a JSON file with "
                         "sr_native.degradations.load_config)")
    if not isinstance(value, (str, dict, DegradationConfig)):
        raise TypeError(f"{where}: degradation must be a preset name, a dict of fields or a DegradationConfig, "
                        f"got {type(value).__name__} {value!r}")
    try:
        return load_config(value).to_dict()
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: {exc}") from exc


__all__ = ["DegradationConfig", "PRESETS", "preset", "load_config", "degrade", "gaussian_kernel",
           "generalized_gaussian_kernel", "plateau_kernel", "sinc_kernel", "covariance", "blur", "jpeg",
           "add_gaussian_noise", "add_poisson_noise", "random_kernel", "parse_spec", "format_spec", "apply_spec",
           "training_config"]
