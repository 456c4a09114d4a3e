"""Which files are images: one list for the command line, training and evaluation."""

import io
import struct
import zlib
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def is_image(path):
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def images_in(folder, *, recursive=False):
    """The image files of a folder (and its subfolders when recursive), sorted."""
    folder = Path(folder)
    return sorted(p for p in (folder.rglob("*") if recursive else folder.iterdir()) if is_image(p))


# ------------------------------------------------- 16-bit colour image files
# Pillow reads 16-bit RGB(A) PNG and TIFF as 8 bits. Those files go through
# pypng (PNG) and tifffile (TIFF) instead, so a 16-bit photo stays 16-bit.

# EXIF orientation -> the numpy steps that make the image upright (Pillow's exif_transpose).
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a.swapaxes(0, 1), 2),
    8: lambda a: np.rot90(a, 1),
}


def _rawmode(im):
    """The decoder's raw mode of an opened Pillow image ("RGB;16B", ...), or ""."""
    if not im.tile:
        return ""
    args = im.tile[0].args if hasattr(im.tile[0], "args") else im.tile[0][3]
    return args if isinstance(args, str) else (args[0] if args and isinstance(args[0], str) else "")


def is_16bit_colour(im):
    """Whether a just-opened Pillow image is 16-bit RGB or RGBA (which Pillow would cut to 8 bits)."""
    return im.mode in ("RGB", "RGBA") and ";16" in _rawmode(im) and im.format in ("PNG", "TIFF")


def read_16bit_colour(path, im):
    """HxWx3 or HxWx4 uint16 pixels of a 16-bit colour PNG or TIFF, upright."""
    if im.format == "PNG":
        import png

        with open(path, "rb") as f:
            width, height, rows, info = png.Reader(file=f).asDirect()
            arr = np.vstack([np.asarray(row, np.uint16) for row in rows]).reshape(height, width, info["planes"])
    else:
        import tifffile

        with tifffile.TiffFile(str(path)) as tif:
            series = tif.series[0]
            arr = series.asarray()
            axes = series.axes
            if "S" in axes and axes.index("S") != len(axes) - 1:  # planar: samples first
                arr = np.moveaxis(arr, axes.index("S"), -1)
            arr = arr.reshape(arr.shape[-3:])
        arr = arr.astype(np.uint16, copy=False)
    orientation = im.getexif().get(0x0112, 1)
    return np.ascontiguousarray(_ORIENT.get(orientation, lambda a: a)(arr))


def _png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def write_16bit_colour(arr, path, fmt, icc_profile=None):
    """Write HxWx3/4 uint16 as a 16-bit PNG (pypng) or TIFF (tifffile), with the ICC profile."""
    if fmt == "PNG":
        import png

        h, w, c = arr.shape
        writer = png.Writer(width=w, height=h, greyscale=False, alpha=c == 4, bitdepth=16)
        buf = io.BytesIO()
        writer.write(buf, arr.reshape(h, w * c))
        data = buf.getvalue()
        if icc_profile:  # pypng writes no iCCP chunk: put one right after IHDR (signature 8 + IHDR 25 bytes)
            data = data[:33] + _png_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc_profile)) + data[33:]
        with open(path, "wb") as f:
            f.write(data)
    elif fmt == "TIFF":
        import tifffile

        tifffile.imwrite(str(path), arr, photometric="rgb", iccprofile=icc_profile,
                         extrasamples=["unassalpha"] if arr.shape[2] == 4 else None)
    else:
        raise ValueError(f"{fmt} holds 8 bits per channel; write PNG or TIFF to keep 16 bits")
