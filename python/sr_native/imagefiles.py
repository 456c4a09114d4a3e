"""Which files are images, how folders and glob patterns are walked, and how
a Pillow image becomes an array the network takes: one place for the command
line, the Python API, training and evaluation."""

import fnmatch
import io
import os
import stat
import struct
import zlib
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"}


def is_image(path):
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_regular_file(path):
    """Whether path (after symlinks) is a regular file: a FIFO, socket or
    device named x.png would block or never end when read."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _walk(folder, max_depth=None):
    """(path, is_regular_file) of every non-folder entry under folder, each
    real folder visited once (a symlink loop or two links to one folder do
    not repeat it), depth-first in name order; max_depth=1: the folder's own
    entries only. Unreadable folders are passed over."""
    seen = set()

    def visit(path, depth):
        try:
            st = os.stat(path)
        except OSError:
            return
        if (st.st_dev, st.st_ino) in seen:
            return
        seen.add((st.st_dev, st.st_ino))
        try:
            names = sorted(os.listdir(path))
        except OSError:
            return
        for name in names:
            entry = Path(path) / name
            try:
                mode = os.stat(entry).st_mode
            except OSError:  # a dangling symlink: not a folder, not readable
                yield entry, False
                continue
            if stat.S_ISDIR(mode):
                if max_depth is None or depth < max_depth:
                    yield from visit(entry, depth + 1)
            else:
                yield entry, stat.S_ISREG(mode)

    yield from visit(Path(folder), 1)


def images_in(folder, *, recursive=False, not_regular=None):
    """The image files of a folder (and its subfolders when recursive), sorted.

    Only regular files are returned; entries with an image name that are not
    (FIFOs, sockets, devices, dangling links) are appended to the list
    `not_regular` when one is given, so a caller can report them.
    """
    return _sorted_images(_walk(folder, None if recursive else 1), not_regular)


def _sorted_images(entries, not_regular, wanted=lambda path: True):
    """The regular image files of (path, is_regular) entries that are wanted,
    sorted; the image names that are not regular files go to not_regular."""
    found = []
    for path, regular in entries:
        if is_image(path) and wanted(path):
            if regular:
                found.append(path)
            elif not_regular is not None:
                not_regular.append(path)
    return sorted(found)


def glob_root(pattern):
    """The folder a glob pattern starts from: its leading components without wildcards."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if any(c in part for c in "*?["):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path("."), parts[len(fixed):]


def _match_parts(pattern_parts, path_parts):
    """Glob matching of path components: ** matches zero or more folders; * and
    ? do not match a leading dot (as the shell and the glob module)."""
    if not pattern_parts:
        return not path_parts
    head, rest = pattern_parts[0], pattern_parts[1:]
    if head == "**":
        return any(_match_parts(rest, path_parts[i:]) for i in range(len(path_parts) + 1)
                   if all(not p.startswith(".") for p in path_parts[:i]))
    if not path_parts:
        return False
    name = path_parts[0]
    if name.startswith(".") and not head.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, head) and _match_parts(rest, path_parts[1:])


def glob_images(pattern, *, not_regular=None):
    """Image files matching a glob pattern (** across folders), sorted; each
    real folder is walked once, so a symlink loop ends. Matches that are not
    regular files go to `not_regular` as in images_in."""
    root, pattern_parts = glob_root(pattern)
    depth = None if "**" in pattern_parts else len(pattern_parts)
    return _sorted_images(_walk(root, depth), not_regular,
                          lambda path: _match_parts(pattern_parts, path.relative_to(root).parts))


# ------------------------------------------------- Pillow images as arrays
def _gray_alpha_as_rgba(arr):
    """HxWx2 gray+alpha as HxWx4 (gray repeated) for the RGB network, and the
    way back: the mean of the three colour channels, and the alpha."""
    rgba = np.concatenate([np.repeat(arr[..., :1], 3, axis=2), arr[..., 1:]], axis=2)

    def back(out):
        gray = out[..., :3].astype(np.float64).mean(axis=2)
        if out.dtype.kind in "ui":
            gray = np.rint(gray)
        return np.stack([gray.astype(out.dtype), out[..., 3]], axis=2)

    return rgba, back


def network_layout(arr):
    """(pixels, back): pixels in a layout sr_native.upscale and resize take
    (HxW, HxWx3 or HxWx4), and the function that turns a result back into
    arr's own layout. Only gray+alpha (HxWx2) needs converting."""
    if arr.ndim == 3 and arr.shape[2] == 2:
        return _gray_alpha_as_rgba(arr)
    return arr, lambda out: out


def pil_to_array(im):
    """(pixels, back): a Pillow image of any common mode as an array the
    network takes, and the function that turns the result array back into an
    array of the input's mode where one exists (for Image.fromarray).

    L, RGB, RGBA, I;16: as they are. LA, La: gray + alpha (through the network
    as RGBA with the gray repeated; back to LA). P, PA: RGB or RGBA (RGBA when
    the palette has transparency); the result stays RGB(A), since a new
    palette would lose colours. 1: L (the result is gray, not thresholded).
    CMYK, YCbCr, LAB, HSV, RGBX: RGB. RGBa: RGBA. I;16B/L/N: 16-bit gray
    (the result is I;16). I (32-bit): 16-bit gray when its values fit 0..65535
    (the result is I again). F: float32 gray, taken as 0..1 like float arrays.
    """
    mode = im.mode
    if mode in ("L", "RGB", "RGBA", "I;16", "F"):
        return np.asarray(im), lambda out: out
    if mode in ("LA", "La"):
        return _gray_alpha_as_rgba(np.asarray(im.convert("LA") if mode == "La" else im))
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16), lambda out: out
    if mode == "I":
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ValueError(f"PIL image of mode 'I' with values {arr.min()}..{arr.max()}: only 0..65535 "
                             "(16-bit gray) can be upscaled")
        return arr.astype(np.uint16), lambda out: out.astype(np.int32)
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        return np.asarray(im.convert("RGBA" if has_alpha else "RGB")), lambda out: out
    if mode == "1":
        return np.asarray(im.convert("L")), lambda out: out
    if mode == "RGBa":
        return np.asarray(im.convert("RGBA")), lambda out: out
    try:
        return np.asarray(im.convert("RGB")), lambda out: out
    except ValueError as exc:
        raise ValueError(f"PIL images of mode {mode!r} cannot be converted to RGB: {exc}") from None


def icc_profile_fits(icc, channels):
    """Whether an ICC profile describes the output's colour space: its header's
    data colour space (bytes 16..20) must be 'RGB ' for RGB/RGBA output and
    'GRAY' for gray (+ alpha); a CMYK or Lab profile on RGB pixels would make
    viewers show wrong colours."""
    if not icc or len(icc) < 20:
        return False
    space = bytes(icc[16:20])
    return space == (b"GRAY" if channels in (1, 2) else b"RGB ")


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
    """Whether a just-opened Pillow image is 16-bit RGB, RGBA or gray+alpha (which Pillow would cut to 8 bits)."""
    return im.mode in ("RGB", "RGBA") and ";16" in _rawmode(im) and im.format in ("PNG", "TIFF")


def read_16bit_colour(path, im):
    """HxWx3, HxWx4 or HxWx2 (gray+alpha) uint16 pixels of a 16-bit PNG or TIFF, upright."""
    if im.format == "PNG":
        import png

        with open(path, "rb") as f:
            reader = png.Reader(file=f)
            reader.preamble()
            # asDirect shifts samples down to the sBIT chunk's significant bits
            # (16x darker for sBIT 12); other readers give the stored 16 bits.
            reader.sbit = None
            width, height, rows, info = reader.asDirect()
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
    """Write HxWx2/3/4 uint16 as a 16-bit PNG (pypng) or TIFF (tifffile), with the ICC profile."""
    if fmt == "PNG":
        import png

        h, w, c = arr.shape
        writer = png.Writer(width=w, height=h, greyscale=c <= 2, alpha=c in (2, 4), bitdepth=16)
        buf = io.BytesIO()
        writer.write(buf, arr.reshape(h, w * c))
        data = buf.getvalue()
        if icc_profile:  # pypng writes no iCCP chunk: put one right after IHDR (signature 8 + IHDR 25 bytes)
            data = data[:33] + _png_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc_profile)) + data[33:]
        with open(path, "wb") as f:
            f.write(data)
    elif fmt == "TIFF":
        import tifffile

        tifffile.imwrite(str(path), arr, photometric="rgb" if arr.shape[2] >= 3 else "minisblack",
                         iccprofile=icc_profile, extrasamples=["unassalpha"] if arr.shape[2] in (2, 4) else None)
    else:
        raise ValueError(f"{fmt} holds 8 bits per channel; write PNG or TIFF to keep 16 bits")
