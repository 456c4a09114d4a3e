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
"""

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import metrics
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
    from PIL import Image

    with Image.open(path) as im:
        if im.mode not in ("L", "RGB"):
            im = im.convert("RGB")
        return np.asarray(im)


def mod_crop(img, scale):
    """The top-left part whose height and width are multiples of scale."""
    h, w = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
    if h == 0 or w == 0:
        raise ValueError(f"image of shape {img.shape} is smaller than the scale {scale}")
    return img[:h, :w]


def load_pairs(data, scale, *, lr_folder=None, make_lr=False):
    """The (HR, LR) pairs of a test set.

    data: a set root holding `image_SRF_{scale}/` (SelfExSR layout, its own
    MATLAB-made LR images; with `HR/` for names), that `image_SRF_{scale}`
    folder itself, or a plain folder of HR images (a set root's `HR/` is used
    when there are no SRF pairs). lr_folder: LR images for a plain HR folder,
    named as the HR (optionally with an x{scale} suffix: 0001x2.png).
    make_lr: ignore given LR images and make them with bicubic `resize`.
    """
    from .resize import resize

    data = Path(data)
    if not data.is_dir():
        raise ValueError(f"eval: data folder {str(data)!r} does not exist")
    srf = data / f"image_SRF_{scale}"
    if not srf.is_dir() and re.fullmatch(r"image_SRF_\d", data.name):
        if data.name != f"image_SRF_{scale}":
            raise ValueError(f"eval: {str(data)!r} holds another scale than x{scale}")
        srf = data
    pairs = []
    if srf.is_dir() and not lr_folder:
        names = _srf_names(srf.parent)
        for hr_path in sorted(srf.glob(f"*_SRF_{scale}_HR.*")):
            index = hr_path.name.split("_")[1]
            hr = mod_crop(_read(hr_path), scale)
            lr_path = hr_path.with_name(hr_path.name.replace("_HR.", "_LR."))
            if make_lr or not lr_path.exists():
                lr, source = resize(hr, 1.0 / scale, method="bicubic"), "bicubic"
            else:
                lr, source = _read(lr_path), "given"
            pairs.append(EvalPair(names.get(index, hr_path.stem), hr, lr, source))
    else:
        hr_dir = data / "HR" if (data / "HR").is_dir() else data
        for hr_path in images_in(hr_dir):
            hr = mod_crop(_read(hr_path), scale)
            lr_path = _find_lr(Path(lr_folder), hr_path, scale) if lr_folder and not make_lr else None
            if lr_path is None:
                if lr_folder and not make_lr:
                    raise ValueError(f"eval: no LR image for {hr_path.name} in {lr_folder}")
                lr, source = resize(hr, 1.0 / scale, method="bicubic"), "bicubic"
            else:
                lr, source = _read(lr_path), "given"
            pairs.append(EvalPair(hr_path.stem, hr, lr, source))
    if not pairs:
        raise ValueError(f"eval: no images found in {str(data)!r}")
    for p in pairs:
        want = (p.hr.shape[0] // scale, p.hr.shape[1] // scale)
        if p.lr.shape[:2] != want:
            raise ValueError(f"eval: LR image of {p.name} is {p.lr.shape[1]}x{p.lr.shape[0]}, "
                             f"expected {want[1]}x{want[0]} for x{scale}")
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
            if candidate.exists():
                return candidate
    return None


def evaluate(data, scale, *, model=None, baselines=BASELINES, lr_folder=None, make_lr=False,
             self_ensemble=False, tile="auto", progress=False):
    """PSNR/SSIM of a model and the resize baselines on a test set.

    model: a loaded network, a weight file, a shipped model's name, or None
    for the baselines only. Returns an EvalResult (rows per image and
    method; .mean(method), .write_csv(path)).
    """
    from .resize import resize
    from .upscaling import resolve_model, upscale

    if isinstance(scale, bool) or scale not in (2, 3, 4):
        raise ValueError(f"eval: scale must be 2, 3 or 4, got {scale!r}")
    net = resolve_model(model, scale) if model is not None else None
    pairs = load_pairs(data, scale, lr_folder=lr_folder, make_lr=make_lr)
    result = EvalResult(scale)
    methods = list(baselines) + ([_model_label(net, model)] if net is not None else [])
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


def _model_label(net, model):
    """A shipped model's name, a weight file's stem, or the architecture."""
    if isinstance(model, (str, Path)):
        return Path(model).stem
    info = net.info()
    return f"{info.architecture}-x{info.scale}"
