"""Evaluation on a test set following the published super-resolution protocol.

Per image: the HR image is cropped to a multiple of the scale (top-left
corner kept, as the SelfExSR release does); the LR image is the set's own
MATLAB-made one where the folder has it (SelfExSR layout, `image_SRF_{s}/`),
else made from the cropped HR with the package's MATLAB-compatible bicubic
`resize`; each method's output is rounded and clamped to 8 bits; PSNR and
SSIM are taken on the BT.601 luma with `scale` pixels shaved from each border
(`metrics`); gray images are compared on their gray values, which is
what reproduces the published Set14 numbers (bridge is gray).

Baselines are upscalings of the same LR image with `resize`: nearest,
bicubic and lanczos3, as the published tables list them.

With `degrade` (a spec such as "jpeg=40,noise=5", sr_native.degradations),
every LR image (the set's own or the bicubic one) is degraded by those steps
in the order written before any method sees it, to score real-photo models;
the noise of each image is drawn from a Generator seeded by `degrade_seed`
and the image's name, so a score does not depend on the other images.
"""

import csv
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import metrics
from .argcheck import require_bool
from .imagefiles import IMAGE_SUFFIXES, images_in

BASELINES = ("nearest", "bicubic", "lanczos3")


@dataclass
class EvalPair:
    name: str
    hr: np.ndarray  # cropped to a multiple of the scale, uint8 HxW or HxWx3
    lr: np.ndarray
    lr_source: str  # "given" (the set's own LR) or "bicubic" (made here)


@dataclass
class EvalResult:
    scale: int
    rows: list = field(default_factory=list)  # dicts: image, method, psnr, ssim, lr
    degrade: str = ""  # the degradation spec applied to the LR images ("" = none)
    degrade_seed: int = 0

    def methods(self):
        return list(dict.fromkeys(r["method"] for r in self.rows))

    def mean(self, method, metric="psnr"):
        values = [r[metric] for r in self.rows if r["method"] == method]
        return float(np.mean(values)) if values else float("nan")

    def write_csv(self, path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["image", "method", "scale", "psnr", "ssim", "lr"])
            w.writeheader()
            for r in self.rows:
                w.writerow({**r, "scale": self.scale, "psnr": f"{r['psnr']:.4f}", "ssim": f"{r['ssim']:.5f}"})
            for m in self.methods():
                w.writerow({"image": "MEAN", "method": m, "scale": self.scale, "psnr": f"{self.mean(m):.4f}",
                            "ssim": f"{self.mean(m, 'ssim'):.5f}", "lr": ""})


def _read(path):
    """HxW (gray) or HxWx3 uint8, as training reads its images."""
    from .training.data import read_uint8

    return read_uint8(path)


def mod_crop(img, scale):
    """The top-left part whose height and width are multiples of scale."""
    h, w = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
    if h == 0 or w == 0:
        raise ValueError(f"image of shape {img.shape} is smaller than the scale {scale}")
    return img[:h, :w]


def min_hr_side(scale):
    """The smallest HR side the protocol can score: `scale` pixels shaved from
    each border must leave SSIM's 11x11 window."""
    return 11 + 2 * scale


_MISSING = object()  # an LR image that lr_folder should hold and does not


def load_pairs(data, scale, *, lr_folder=None, make_lr=False):
    """The (HR, LR) pairs of a test set.

    data: a set root holding `image_SRF_{scale}/` (SelfExSR layout, its own
    MATLAB-made LR images; with `HR/` for names), that `image_SRF_{scale}`
    folder itself, or a plain folder of HR images (a set root's `HR/` is used
    when there are no SRF pairs). lr_folder: LR images for a plain HR folder,
    named as the HR (optionally with an x{scale} suffix: 0001x2.png).
    make_lr: ignore given LR images and make them with bicubic `resize`.

    FileNotFoundError / NotADirectoryError for a missing data or lr_folder;
    ValueError when no image is usable. Files that cannot be read, images
    smaller than min_hr_side(scale) and pairs whose LR is missing or of the
    wrong size are skipped with one training.data.DataWarning per kind
    naming them (the means then cover fewer images than the folder holds).
    """
    from .resize import resize
    from .training.data import check_folder, why_unreadable, warn_skipped
    from .upscaling import _check_scale

    scale = _check_scale(scale, "eval")
    data = check_folder(data, "data folder", "eval")
    if lr_folder is not None:
        lr_folder = check_folder(lr_folder, "lr_folder", "eval")
    srf = data / f"image_SRF_{scale}"
    if not srf.is_dir() and re.fullmatch(r"image_SRF_\d", data.name):
        if data.name != f"image_SRF_{scale}":
            raise ValueError(f"eval: {str(data)!r} holds another scale than x{scale}")
        srf = data
    jobs = []  # (name, HR path, LR path or None)
    if srf.is_dir() and not lr_folder:
        names = _srf_names(srf.parent)
        for hr_path in sorted(p for p in srf.glob(f"*_SRF_{scale}_HR.*") if p.is_file()):
            index = hr_path.name.split("_")[1]
            lr_path = hr_path.with_name(hr_path.name.replace("_HR.", "_LR."))
            jobs.append((names.get(index, hr_path.stem), hr_path,
                         None if make_lr or not lr_path.is_file() else lr_path))
        where = srf
    else:
        where = data / "HR" if (data / "HR").is_dir() else data
        for hr_path in images_in(where):
            lr_path = None  # made here with bicubic resize
            if lr_folder and not make_lr:
                lr_path = _find_lr(lr_folder, hr_path, scale) or _MISSING
            jobs.append((hr_path.stem, hr_path, lr_path))
    if not jobs:
        raise ValueError(f"eval: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {str(where)!r}")
    pairs, unusable, too_small = [], [], []
    smallest = min_hr_side(scale)
    for name, hr_path, lr_path in jobs:
        try:
            if lr_path is _MISSING:
                raise FileNotFoundError(f"no LR image for {hr_path.name} in {lr_folder}")
            hr = _read(hr_path)
            if min(hr.shape[:2]) < smallest:
                too_small.append((hr_path, f"{hr.shape[1]}x{hr.shape[0]}"))
                continue
            hr = mod_crop(hr, scale)
            if lr_path is None:
                lr, source = resize(hr, 1.0 / scale, method="bicubic"), "bicubic"
            else:
                lr, source = _read(lr_path), "given"
            want = (hr.shape[0] // scale, hr.shape[1] // scale)
            if lr.shape[:2] != want:
                raise ValueError(f"its LR image is {lr.shape[1]}x{lr.shape[0]}, expected {want[1]}x{want[0]} "
                                 f"for x{scale}")
        except MemoryError:
            raise
        except Exception as exc:  # whatever a decoder raises on a bad file: skip the image, not the set
            unusable.append((hr_path, why_unreadable(exc)))
            continue
        pairs.append(EvalPair(name, hr, lr, source))
    warn_skipped(unusable, len(jobs), f"eval: {where}", "unreadable, or without a fitting LR image")
    warn_skipped(too_small, len(jobs), f"eval: {where}",
                 f"smaller than {smallest}x{smallest}, the least that x{scale}'s shaved border leaves SSIM")
    if not pairs:
        raise ValueError(f"eval: no usable image in {str(where)!r}: {len(jobs)} image files, {len(unusable)} "
                         f"unreadable or without a fitting LR image, {len(too_small)} smaller than "
                         f"{smallest}x{smallest}")
    return pairs


def _srf_names(root):
    """SelfExSR numbers (001, ...) -> the usual names, from the HR/ folder when
    its images are in the same (alphabetical) order."""
    hr_dir = root / "HR"
    if not hr_dir.is_dir():
        return {}
    return {f"{i + 1:03d}": p.stem for i, p in enumerate(images_in(hr_dir))}


def _find_lr(folder, hr_path, scale):
    for stem in (hr_path.stem, f"{hr_path.stem}x{scale}"):
        for suffix in [hr_path.suffix] + sorted(IMAGE_SUFFIXES):
            candidate = folder / f"{stem}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def evaluate(data, scale, *, model=None, baselines=BASELINES, lr_folder=None, make_lr=False,
             self_ensemble=False, tile="auto", progress=False, degrade=None, degrade_seed=0):
    """PSNR/SSIM of a model and the resize baselines on a test set.

    model: a loaded network, a weight file, a shipped model's name, or None
    for the baselines only. degrade: None, or a spec such as
    "jpeg=40,noise=5" (noise=S Gaussian sigma on 0-255, jpeg=Q quality,
    blur=S Gaussian sigma in px) applied in that order to every LR image;
    degrade_seed: an int >= 0 seeding its noise (with each image's name).
    Returns an EvalResult (rows per image and method, their "lr" naming the
    spec; .mean(method), .write_csv(path)).

    Everything is checked before any image is scored: TypeError for a wrong
    type (scale not an int, baselines a string, flags not bool), ValueError
    for a bad value (scale not 2, 3 or 4, an unknown baseline, nothing to
    evaluate, a model of another scale, a bad tile), FileNotFoundError /
    NotADirectoryError for a missing data folder or lr_folder; load_pairs
    says which image files are skipped.
    """
    from .resize import resize
    from .upscaling import _check_scale, resolve_model, upscale

    scale = _check_scale(scale, "eval")
    for name, value in (("make_lr", make_lr), ("self_ensemble", self_ensemble), ("progress", progress)):
        require_bool(value, "eval", name)
    if isinstance(baselines, (str, bytes)) or not isinstance(baselines, (list, tuple)):
        raise TypeError(f"eval: baselines must be a list of method names from {BASELINES}, got {baselines!r}")
    unknown = [b for b in baselines if not isinstance(b, str) or b not in BASELINES]
    if unknown:
        raise ValueError(f"eval: baselines must be among {BASELINES}, got {unknown!r}")
    if model is None and not baselines:
        raise ValueError("eval: nothing to evaluate: no model and no baselines")
    from .upscaling import _check_tile

    tile = _check_tile(tile, "eval")  # upscale's own rule (at least MIN_TILE), before any work
    steps = _check_degrade(degrade, degrade_seed)
    net = resolve_model(model, scale) if model is not None else None
    if net is not None and net.scale != scale:
        raise ValueError(f"eval: the model {_model_label(net, model)!r} upscales x{net.scale}, but scale is {scale}")
    pairs = load_pairs(data, scale, lr_folder=lr_folder, make_lr=make_lr)
    result = EvalResult(scale)
    if steps:
        from .degradations import apply_spec, format_spec

        result.degrade, result.degrade_seed = format_spec(steps), int(degrade_seed)
        for p in pairs:
            rng = np.random.default_rng([result.degrade_seed, zlib.crc32(p.name.encode("utf-8"))])
            p.lr = apply_spec(p.lr, steps, rng)
            p.lr_source = f"{p.lr_source}+{result.degrade}"
    methods = list(dict.fromkeys(baselines))
    if net is not None:
        label = _model_label(net, model)
        methods.append(f"{label} (model)" if label in BASELINES else label)  # a file named bicubic.safetensors
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pairs) * len(methods), unit="run", desc=f"eval x{scale}")
    for p in pairs:
        for method in methods:
            if method in BASELINES:
                out = resize(p.lr, scale, method=method)
            else:
                # Gray goes through the network as three equal channels and
                # comes back as their mean (upscale's rule).
                out = upscale(p.lr, scale, model=net, tile=tile, self_ensemble=self_ensemble)
            out = out[:p.hr.shape[0], :p.hr.shape[1]]
            result.rows.append({
                "image": p.name, "method": method, "lr": p.lr_source,
                "psnr": metrics.psnr(out, p.hr, crop_border=scale, y_channel=True),
                "ssim": metrics.ssim(out, p.hr, crop_border=scale, y_channel=True),
            })
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    return result


def _check_degrade(degrade, seed):
    """The parsed steps of a degrade spec ([] for None); TypeError / ValueError
    for a bad spec or seed."""
    from .degradations import parse_spec

    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"eval: degrade_seed must be an int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"eval: degrade_seed must be >= 0, got {seed!r}")
    if degrade is None:
        return []
    try:
        return parse_spec(degrade)
    except (TypeError, ValueError) as exc:
        message = str(exc).replace("degrade: ", "", 1)
        raise type(exc)(f"eval: degrade: {message}") from exc


def _model_label(net, model):
    """A shipped model's name, a weight file's stem, or the architecture."""
    if isinstance(model, (str, Path)):
        return Path(model).stem
    info = net.info()
    return f"{info.architecture}-x{info.scale}"
