"""Which files are images: one list for the command line, training and evaluation."""

from pathlib import Path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def is_image(path):
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def images_in(folder, *, recursive=False):
    """The image files of a folder (and its subfolders when recursive), sorted."""
    folder = Path(folder)
    return sorted(p for p in (folder.rglob("*") if recursive else folder.iterdir()) if is_image(p))
