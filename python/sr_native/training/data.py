"""Training data: high-resolution images, their low-resolution versions, and
random aligned patch pairs with flips and 90-degree rotations.

LR images are made once per image with the package's MATLAB-compatible
bicubic resize (the HR image first cropped to a multiple of the scale, as the
published protocol does), unless a folder of LR images is given (DIV2K's
`DIV2K_train_LR_bicubic/X{s}/` layout: `0001x2.png` beside `0001.png`).
With a degradation config (training on real photos), DegradingSampler makes
each LR patch from its HR crop at every draw instead
(sr_native.degradations).

Files that cannot be used are skipped before any training starts, with one
DataWarning per kind that names them (`upscale` skips bad files the same
way): files that cannot be read or decoded (not an image, truncated,
a decompression bomb, an animated image), a missing or mis-sized given LR image, and images too
small for one LR patch. When no image is left, ValueError.
"""

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..imagefiles import IMAGE_SUFFIXES, images_in, pil_to_array
from ..resize import resize


class DataWarning(UserWarning):
    """Image files of a training, validation or evaluation folder were skipped."""


def check_folder(folder, what, fn="train"):
    """folder as a Path; FileNotFoundError when it does not exist, NotADirectoryError when it is a file."""
    if not isinstance(folder, (str, os.PathLike)) or isinstance(folder, bytes):
        raise TypeError(f"{fn}: {what} must be a path (str or os.PathLike), got {type(folder).__name__}")
    if os.fspath(folder) == "":  # Path("") would be the current folder
        raise ValueError(f"{fn}: {what} is an empty path")
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"{fn}: {what} {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"{fn}: {what} {str(folder)!r} is not a folder")
    return folder


def list_images(folder, what="image folder", fn="train"):
    folder = check_folder(folder, what, fn)
    files = images_in(folder, recursive=True)
    if not files:
        raise ValueError(f"{fn}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {what} {str(folder)!r}")
    return files


def open_image(path):
    """A Pillow image opened lazily (header read, pixels not yet decoded).

    Pillow's DecompressionBombWarning (images past Image.MAX_IMAGE_PIXELS)
    is not raised here: such images are read like any other (an error under
    `-W error` would be a traceback); its DecompressionBombError (past twice
    the limit) is, and callers count it as an unreadable file.
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(path)


def read_uint8(path):
    """HxW (gray) or HxWx3 uint8 pixels of an image file. 16-bit and float
    images are rounded to 8 bits (Pillow's convert("RGB") would clip 16-bit
    gray at 255); alpha is dropped; palette, CMYK and other modes become RGB.
    ValueError for an animated image (GIF, APNG, multi-page TIFF)."""
    from PIL import Image

    with open_image(path) as im, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if getattr(im, "is_animated", False):  # its first frame alone would stand for it silently
            raise ValueError(f"animated image of {im.n_frames} frames; only still images are used")
        if im.mode in ("LA", "La", "PA") or (im.mode == "P" and "transparency" in im.info):
            arr = np.asarray(im.convert("L" if im.mode in ("LA", "La") else "RGB"))  # alpha is not trained on
        else:
            arr, _ = pil_to_array(im)
    if arr.dtype == np.uint16:
        arr = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif arr.dtype != np.uint8:  # F: float gray in [0, 1]
        arr = np.rint(np.clip(np.nan_to_num(arr, nan=0.0), 0.0, 1.0) * 255).astype(np.uint8)
    if arr.ndim == 3:
        arr = arr[..., :3]  # RGBA: the colour channels
    return np.ascontiguousarray(arr)


def read_rgb(path):
    """HxWx3 uint8 (gray images are repeated to three channels)."""
    arr = read_uint8(path)
    return np.repeat(arr[..., None], 3, axis=2) if arr.ndim == 2 else arr


def image_size(path):
    """(height, width) from the file's header, without decoding the pixels."""
    with open_image(path) as im:
        return im.size[1], im.size[0]


def why_unreadable(exc):
    """A short reason for a file that could not be read, for the warning."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def warn_skipped(skipped, total, where, what):
    """One DataWarning naming the skipped files (the first ten) and the reasons."""
    if not skipped:
        return
    skipped = sorted(skipped, key=lambda item: str(item[0]))
    shown = "; ".join(f"{Path(p).name} ({why.replace(str(p), Path(p).name)})" for p, why in skipped[:10])
    more = f"; and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    warnings.warn(f"{where}: skipped {len(skipped)} of {total} image files ({what}): {shown}{more}",
                  DataWarning, stacklevel=3)


def make_pair(hr, scale, lr=None):
    """HR cropped to a multiple of scale, and its LR (MATLAB bicubic unless given)."""
    h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
    if h == 0 or w == 0:
        raise ValueError(f"HR image of shape {hr.shape} is smaller than the scale {scale}")
    hr = np.ascontiguousarray(hr[:h, :w])
    if lr is None:
        lr = resize(hr, size=(h // scale, w // scale), method="bicubic")
    elif lr.shape[:2] != (h // scale, w // scale):
        raise ValueError(f"LR image of shape {lr.shape} does not match HR {hr.shape} at x{scale}")
    return hr, lr


def _div2k_lr_path(hr_path, lr_dir, scale):
    return Path(lr_dir) / f"{hr_path.stem}x{scale}{hr_path.suffix}"


def resolve_folders(folder, scale, lr_folder=None, fn="train", what="training folder"):
    """(HR folder, LR folder or None) after the DIV2K layout is recognised;
    both checked to exist (FileNotFoundError / NotADirectoryError)."""
    folder = check_folder(folder, what, fn)
    if (folder / "DIV2K_train_HR").is_dir():
        if lr_folder is None and (folder / "DIV2K_train_LR_bicubic" / f"X{scale}").is_dir():
            lr_folder = folder / "DIV2K_train_LR_bicubic" / f"X{scale}"
        folder = folder / "DIV2K_train_HR"
    if lr_folder is not None:
        lr_folder = check_folder(lr_folder, "lr_folder", fn)
    return folder, lr_folder


@dataclass
class PairSet:
    """HR/LR uint8 image pairs held in memory."""

    hr: list
    lr: list
    names: list
    scale: int

    @classmethod
    def from_folder(cls, folder, scale, lr_folder=None, min_lr_size=1, what="training folder"):
        """Every image under folder (recursively). DIV2K layout: a folder with
        DIV2K_train_HR/ (and optionally DIV2K_train_LR_bicubic/X{scale}/) works too.

        Files that cannot be read, and images whose LR side would be below
        min_lr_size, are skipped with one DataWarning each (checked from the
        headers before any image is decoded); ValueError when none is left.
        """
        folder, lr_folder = resolve_folders(folder, scale, lr_folder, what=what)
        paths = list_images(folder, what)
        unreadable, too_small, usable = [], [], []
        for path in paths:  # headers only: cheap, and a too-large patch is found before any decoding
            try:
                h, w = image_size(path)
            except MemoryError:
                raise
            except Exception as exc:  # whatever a decoder raises on a bad file, the file is skipped
                unreadable.append((path, why_unreadable(exc)))
                continue
            if min(h // scale, w // scale) < min_lr_size:
                too_small.append((path, f"{w}x{h}"))
            else:
                usable.append(path)
        hr_list, lr_list, names = [], [], []
        for path in usable:
            try:
                given = None
                if lr_folder is not None:
                    lr_path = _div2k_lr_path(path, lr_folder, scale)
                    if not lr_path.is_file():
                        raise FileNotFoundError(f"no LR image {lr_path.name} in {lr_folder}")
                    given = read_rgb(lr_path)
                hr, lr = make_pair(read_rgb(path), scale, given)
            except MemoryError:
                raise
            except Exception as exc:  # truncated data, a bad given LR: skip this image, not the run
                unreadable.append((path, why_unreadable(exc)))
                continue
            hr_list.append(hr)
            lr_list.append(lr)
            names.append(path.name)
        warn_skipped(unreadable, len(paths), f"{what} {folder}", "unreadable")
        warn_skipped(too_small, len(paths), f"{what} {folder}",
                     f"smaller than one LR patch of {min_lr_size} px at x{scale}, i.e. "
                     f"{min_lr_size * scale}x{min_lr_size * scale} HR")
        if not hr_list:
            raise ValueError(
                f"train: no usable image in {what} {str(folder)!r}: {len(paths)} image files, "
                f"{len(unreadable)} unreadable, {len(too_small)} smaller than {min_lr_size * scale}x"
                f"{min_lr_size * scale} (an LR patch of {min_lr_size} px at x{scale})")
        return cls(hr_list, lr_list, names, scale)


def augment(patch, k):
    """One of the 8 flips/rotations of an HxWxC patch (k in 0..7)."""
    if k & 4:
        patch = patch[:, ::-1]
    return np.rot90(patch, k & 3)


class PatchSampler:
    """Random aligned LR/HR patch batches from a PairSet, driven by one numpy
    Generator so a run (and a resumed run) is reproducible."""

    def __init__(self, pairs, patch_size=48, batch_size=16, augment_data=True):
        self.pairs, self.patch, self.batch, self.augment = pairs, int(patch_size), int(batch_size), augment_data
        # Sample images in proportion to the patches they hold, so large images are not under-used.
        sizes = np.array([(lr.shape[0] - self.patch + 1) * (lr.shape[1] - self.patch + 1)
                          for lr in pairs.lr], np.float64)
        self.weights = sizes / sizes.sum()

    def batch_arrays(self, rng, patch=None):
        """(lr, hr) float32 NCHW in [0, 1]: (B, 3, p, p) and (B, 3, p*s, p*s), with
        p the sampler's patch size or a smaller one (progressive patch sizes;
        images are still picked by their room for the sampler's size)."""
        p, s = self.patch if patch is None else min(int(patch), self.patch), self.pairs.scale
        lr_batch = np.empty((self.batch, 3, p, p), np.float32)
        hr_batch = np.empty((self.batch, 3, p * s, p * s), np.float32)
        for i, idx in enumerate(rng.choice(len(self.weights), size=self.batch, p=self.weights)):
            lr_img, hr_img = self.pairs.lr[idx], self.pairs.hr[idx]
            y = int(rng.integers(0, lr_img.shape[0] - p + 1))
            x = int(rng.integers(0, lr_img.shape[1] - p + 1))
            lr_patch = lr_img[y:y + p, x:x + p]
            hr_patch = hr_img[y * s:(y + p) * s, x * s:(x + p) * s]
            if self.augment:
                k = int(rng.integers(0, 8))
                lr_patch, hr_patch = augment(lr_patch, k), augment(hr_patch, k)
            lr_batch[i] = lr_patch.transpose(2, 0, 1)
            hr_batch[i] = hr_patch.transpose(2, 0, 1)
        lr_batch *= np.float32(1 / 255)
        hr_batch *= np.float32(1 / 255)
        return lr_batch, hr_batch


class DegradingSampler:
    """Random HR patches whose LR side is made at every draw by the
    second-order degradation model (sr_native.degradations.degrade) from the
    HR crop of (p*scale)^2, so every batch sees fresh degradations. One numpy
    Generator drives the crops, flips and degradations, so a run (and a
    resumed run) is reproducible; the PairSet's own LR images are not used."""

    def __init__(self, pairs, patch_size, batch_size, config, augment_data=True):
        from ..degradations import load_config

        self.pairs, self.patch, self.batch, self.augment = pairs, int(patch_size), int(batch_size), augment_data
        self.config = load_config(config)
        side = self.patch * pairs.scale
        # As PatchSampler: images in proportion to the HR crops they hold.
        sizes = np.array([(hr.shape[0] - side + 1) * (hr.shape[1] - side + 1) for hr in pairs.hr], np.float64)
        if (sizes <= 0).any():
            raise ValueError(f"train: an HR image is smaller than one HR patch of {side} px")
        self.weights = sizes / sizes.sum()

    def batch_arrays(self, rng, patch=None):
        """(lr, hr) float32 NCHW in [0, 1]: (B, 3, p, p) and (B, 3, p*s, p*s);
        patch as PatchSampler's. The LR is on the 8-bit levels (it went
        through JPEG and a final rounding)."""
        from ..degradations import degrade

        p, s = self.patch if patch is None else min(int(patch), self.patch), self.pairs.scale
        side = p * s
        lr_batch = np.empty((self.batch, 3, p, p), np.float32)
        hr_batch = np.empty((self.batch, 3, side, side), np.float32)
        for i, idx in enumerate(rng.choice(len(self.weights), size=self.batch, p=self.weights)):
            hr_img = self.pairs.hr[idx]
            y = int(rng.integers(0, hr_img.shape[0] - side + 1))
            x = int(rng.integers(0, hr_img.shape[1] - side + 1))
            hr_patch = hr_img[y:y + side, x:x + side]
            if self.augment:
                hr_patch = augment(hr_patch, int(rng.integers(0, 8)))
            hr_float = hr_patch.astype(np.float32) * np.float32(1 / 255)
            lr_batch[i] = degrade(hr_float, s, self.config, rng).transpose(2, 0, 1)
            hr_batch[i] = hr_float.transpose(2, 0, 1)
        return lr_batch, hr_batch
