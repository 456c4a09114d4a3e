"""Training data: high-resolution images, their low-resolution versions, and
random aligned patch pairs with flips and 90-degree rotations.

LR images are made once per image with the package's MATLAB-compatible
bicubic resize (the HR image first cropped to a multiple of the scale, as the
published protocol does), unless a folder of LR images is given (DIV2K's
`DIV2K_train_LR_bicubic/X{s}/` layout: `0001x2.png` beside `0001.png`).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..imagefiles import IMAGE_SUFFIXES, images_in
from ..resize import resize

def list_images(folder):
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no image folder at {folder}")
    files = images_in(folder, recursive=True)
    if not files:
        raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    return files


def read_rgb(path):
    """HxWx3 uint8 (gray images are repeated to three channels)."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def make_pair(hr, scale, lr=None):
    """HR cropped to a multiple of scale, and its LR (MATLAB bicubic unless given)."""
    h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
    hr = np.ascontiguousarray(hr[:h, :w])
    if lr is None:
        lr = resize(hr, size=(h // scale, w // scale), method="bicubic")
    elif lr.shape[:2] != (h // scale, w // scale):
        raise ValueError(f"LR image of shape {lr.shape} does not match HR {hr.shape} at x{scale}")
    return hr, lr


def _div2k_lr_path(hr_path, lr_dir, scale):
    return Path(lr_dir) / f"{hr_path.stem}x{scale}{hr_path.suffix}"


@dataclass
class PairSet:
    """HR/LR uint8 image pairs held in memory."""

    hr: list
    lr: list
    names: list
    scale: int

    @classmethod
    def from_folder(cls, folder, scale, lr_folder=None, min_lr_size=1):
        """Every image under folder (recursively). DIV2K layout: a folder with
        DIV2K_train_HR/ (and optionally DIV2K_train_LR_bicubic/X{scale}/) works too."""
        folder = Path(folder)
        if (folder / "DIV2K_train_HR").is_dir():
            if lr_folder is None and (folder / "DIV2K_train_LR_bicubic" / f"X{scale}").is_dir():
                lr_folder = folder / "DIV2K_train_LR_bicubic" / f"X{scale}"
            folder = folder / "DIV2K_train_HR"
        hr_list, lr_list, names = [], [], []
        for path in list_images(folder):
            given = read_rgb(_div2k_lr_path(path, lr_folder, scale)) if lr_folder else None
            hr, lr = make_pair(read_rgb(path), scale, given)
            if min(lr.shape[:2]) < min_lr_size:
                continue  # too small for one patch
            hr_list.append(hr)
            lr_list.append(lr)
            names.append(path.name)
        if not hr_list:
            raise ValueError(f"no image in {folder} is large enough for LR patches of {min_lr_size}")
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

    def batch_arrays(self, rng):
        """(lr, hr) float32 NCHW in [0, 1]: (B, 3, p, p) and (B, 3, p*s, p*s)."""
        p, s = self.patch, self.pairs.scale
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
