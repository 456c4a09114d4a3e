"""Image files: folder walks and globs that end, non-regular files refused, every
Pillow mode through one conversion (the API and the command line alike), 16-bit
PNGs with sBIT read at full value, ICC profiles only where they fit."""

import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import sr_native
from sr_native.imagefiles import glob_images, icc_profile_fits, images_in, is_image, pil_to_array


def tiny_net():
    from sr_native.models import EDSR

    net = EDSR(2, n_feats=4, n_resblocks=1)
    rng = np.random.default_rng(7)
    for _, p in net.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.1
    return net


def save(path, arr):
    Image.fromarray(arr).save(path)
    return path


# ------------------------------------------------------------- walking folders
def test_folder_walk_and_glob_end_on_a_symlink_loop(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    save(tmp_path / "a" / "x.png", np.zeros((2, 2), np.uint8))
    save(tmp_path / "a" / "b" / "y.png", np.zeros((2, 2), np.uint8))
    os.symlink(tmp_path / "a", tmp_path / "a" / "b" / "loop")  # a/b/loop -> a
    os.symlink(tmp_path / "a" / "b", tmp_path / "a" / "b" / "self")  # a/b/self -> a/b
    os.symlink(tmp_path / "a", tmp_path / "again")  # a second name for a
    names = sorted(p.name for p in images_in(tmp_path, recursive=True))
    assert names == ["x.png", "y.png"]  # each real folder once
    assert [p.name for p in images_in(tmp_path / "a")] == ["x.png"]  # not recursive: its own images
    found = glob_images(str(tmp_path / "**" / "*.png"))
    assert sorted(p.name for p in found) == ["x.png", "y.png"]
    assert [p.name for p in glob_images(str(tmp_path / "a" / "*" / "*.png"))] == ["y.png"]


def test_non_regular_files_are_set_aside(tmp_path):
    save(tmp_path / "ok.png", np.zeros((2, 2), np.uint8))
    os.mkfifo(tmp_path / "fifo.png")
    os.symlink(tmp_path / "gone.png", tmp_path / "dangling.png")
    odd = []
    assert [p.name for p in images_in(tmp_path, not_regular=odd)] == ["ok.png"]
    assert sorted(p.name for p in odd) == ["dangling.png", "fifo.png"]
    odd = []
    assert [p.name for p in glob_images(str(tmp_path / "*.png"), not_regular=odd)] == ["ok.png"]
    assert len(odd) == 2


def test_gif_is_an_image_suffix():
    assert is_image("a.gif") and is_image("B.GIF") and not is_image("a.txt")


# ------------------------------------------------------------- Pillow modes
MODES = {
    # mode: (how to make it, the array the network gets: dtype, channels)
    "L": (lambda a: Image.fromarray(a[..., 0]), np.uint8, 1),
    "LA": (lambda a: Image.fromarray(a[..., :2]), np.uint8, 4),
    "P": (lambda a: Image.fromarray(a[..., :3]).convert("P"), np.uint8, 3),
    "1": (lambda a: Image.fromarray(a[..., 0]).convert("1"), np.uint8, 1),
    "CMYK": (lambda a: Image.fromarray(a[..., :3]).convert("CMYK"), np.uint8, 3),
    "I": (lambda a: Image.fromarray(a[..., 0].astype(np.int32) * 200), np.uint16, 1),
    "I;16": (lambda a: Image.fromarray(a[..., 0].astype(np.uint16) * 200), np.uint16, 1),
    "I;16B": (lambda a: Image.fromarray(a[..., 0].astype(np.uint16) * 200).convert("I;16B"), np.uint16, 1),
    "RGBA": (lambda a: Image.fromarray(a), np.uint8, 4),
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_api_accepts_the_modes_the_cli_converts(mode):
    """upscale(PIL image) and pil_to_array agree: the network's result on the
    converted array, turned back into the input's mode."""
    make, dtype, channels = MODES[mode]
    rng = np.random.default_rng(1)
    im = make(rng.integers(0, 256, (6, 7, 4), dtype=np.uint8))
    assert im.mode == mode
    arr, back = pil_to_array(im)
    assert arr.dtype == dtype and (1 if arr.ndim == 2 else arr.shape[2]) == channels
    net = tiny_net()
    got = sr_native.upscale(im, 2, model=net)
    assert isinstance(got, Image.Image) and got.size == (14, 12)
    want = back(sr_native.upscale(arr, 2, model=net))
    np.testing.assert_array_equal(np.asarray(got), want)
    if mode == "LA":
        assert got.mode == "LA"
        # gray+alpha: the gray is the network's gray result, the alpha the bicubic alpha
        gray = sr_native.upscale(arr[..., 0], 2, model=net)
        assert np.abs(np.asarray(got)[..., 0].astype(int) - gray).max() <= 1
    if mode in ("I;16", "I;16B"):
        assert got.mode == "I;16"
    if mode == "I":
        assert got.mode == "I"


def test_api_refuses_mode_i_outside_16_bits():
    im = Image.fromarray(np.full((4, 4), 70000, np.int32))
    with pytest.raises(ValueError, match="upscale: .*mode 'I'.*0..65535"):
        sr_native.upscale(im, 2, model=tiny_net())


# ------------------------------------------------------------- 16-bit PNG with sBIT
def _chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_16bit_with_sbit(arr, significant_bits):
    """A 16-bit RGB PNG (written by hand) with an sBIT chunk."""
    h, w, _ = arr.shape
    raw = b"".join(b"\0" + arr[y].astype(">u2").tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + _chunk(b"sBIT", bytes([significant_bits] * 3)) + _chunk(b"IDAT", zlib.compress(raw))
            + _chunk(b"IEND", b""))


def test_16_bit_png_with_sbit_reads_its_stored_values(tmp_path):
    from sr_native.imagefiles import read_16bit_colour

    # 12 significant bits, stored scaled to 16 bits as the PNG spec says (v << 4 | v >> 8)
    v12 = np.random.default_rng(2).integers(0, 4096, (5, 6, 3)).astype(np.uint16)
    stored = (v12 << 4) | (v12 >> 8)
    path = tmp_path / "sbit.png"
    path.write_bytes(png_16bit_with_sbit(stored, 12))
    with Image.open(path) as im:
        got = read_16bit_colour(path, im)
    np.testing.assert_array_equal(got, stored)  # not stored >> 4 (16x darker)


# ------------------------------------------------------------- ICC profiles
def test_icc_profile_fits_by_its_colour_space():
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert srgb[16:20] == b"RGB "
    assert icc_profile_fits(srgb, 3) and icc_profile_fits(srgb, 4)
    assert not icc_profile_fits(srgb, 1) and not icc_profile_fits(srgb, 2)
    cmyk = srgb[:16] + b"CMYK" + srgb[20:]
    gray = srgb[:16] + b"GRAY" + srgb[20:]
    assert not icc_profile_fits(cmyk, 3)
    assert icc_profile_fits(gray, 1) and icc_profile_fits(gray, 2) and not icc_profile_fits(gray, 3)
    assert not icc_profile_fits(b"short", 3) and not icc_profile_fits(None, 3)


def test_la_16_bit_png_round_trip(tmp_path):
    """16-bit gray+alpha PNG (Pillow opens it as 8-bit RGBA) is read at 16 bits, two channels."""
    import png

    from sr_native.imagefiles import read_16bit_colour

    a = np.random.default_rng(3).integers(0, 65536, (4, 5, 2)).astype(np.uint16)
    buf = io.BytesIO()
    png.Writer(5, 4, greyscale=True, alpha=True, bitdepth=16).write(buf, a.reshape(4, 10))
    path = tmp_path / "la16.png"
    path.write_bytes(buf.getvalue())
    with Image.open(path) as im:
        np.testing.assert_array_equal(read_16bit_colour(path, im), a)
