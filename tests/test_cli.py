"""The sr-native command line: upscale files and folders, info."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sr_native
from conftest import subprocess_env
from sr_native.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "astronaut_256.png"


def read(path):
    with Image.open(path) as im:
        return np.asarray(im)


def test_upscale_one_file_matches_resize(tmp_path):
    src = tmp_path / "in.png"
    img = np.random.default_rng(0).integers(0, 256, (21, 34, 3), dtype=np.uint8)
    Image.fromarray(img).save(src)
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--scale", "2", "--method", "bicubic",
                 "-q"]) == 0
    out = read(tmp_path / "out.png")
    np.testing.assert_array_equal(out, sr_native.resize(img, 2))


def tiny_model_file(tmp_path, scale):
    from sr_native.models import EDSR

    model = EDSR(scale, n_feats=8, n_resblocks=1)
    rng = np.random.default_rng(scale)
    for _, p in model.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.05
    path = tmp_path / f"tiny_x{scale}.safetensors"
    model.save(path)
    return path, model


def test_upscale_with_a_model_file_matches_the_api(tmp_path):
    path, model = tiny_model_file(tmp_path, 2)
    src = tmp_path / "in.png"
    img = np.random.default_rng(1).integers(0, 256, (19, 23, 3), dtype=np.uint8)
    Image.fromarray(img).save(src)
    for extra in ([], ["--tile", "16"], ["--tile", "0"], ["--self-ensemble"]):  # 16: upscale's smallest tile
        out = tmp_path / "out.png"
        assert main(["upscale", str(src), "-o", str(out), "--scale", "2", "--model", str(path), "-q"] + extra) == 0
        want = sr_native.upscale(img, 2, model=model, self_ensemble="--self-ensemble" in extra,
                                 tile=16 if "16" in extra else (None if "0" in extra else "auto"))
        np.testing.assert_array_equal(read(out), want, err_msg=str(extra))


def test_upscale_reports_a_missing_model_and_a_fractional_scale(tmp_path, capsys):
    src = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src)
    assert main(["upscale", str(src), "-o", str(tmp_path / "o.png"), "--model", str(tmp_path / "nope.safetensors")]) == 2
    assert "nope.safetensors" in capsys.readouterr().err
    assert main(["upscale", str(src), "-o", str(tmp_path / "o.png"), "--scale", "1.5"]) == 2
    assert "--method" in capsys.readouterr().err


def test_upscale_folder_keeps_names_and_reports_bad_files(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 9), np.uint8)).save(folder / "gray.png")
    Image.fromarray(np.zeros((8, 9, 4), np.uint8)).save(folder / "rgba.png")
    (folder / "broken.png").write_bytes(b"not a png")
    path, _ = tiny_model_file(tmp_path, 3)
    code = main(["upscale", str(folder), "-o", str(tmp_path / "out"), "--scale", "3", "--model", str(path)])
    assert code == 1  # one file failed, the others were written
    assert "broken.png" in capsys.readouterr().err
    assert read(tmp_path / "out" / "gray.png").shape == (24, 27)
    assert read(tmp_path / "out" / "rgba.png").shape == (24, 27, 4)


def test_readme_example_and_info_run_as_commands(tmp_path):
    out = tmp_path / "astronaut_x2.png"
    env = subprocess_env()
    subprocess.run([sys.executable, "-m", "sr_native", "upscale", str(EXAMPLE), "-o", str(out),
                    "--scale", "2"], check=True, env=env, capture_output=True)
    assert read(out).shape == (512, 512, 3)
    info = subprocess.run([sys.executable, "-m", "sr_native", "info"], check=True, env=env,
                          capture_output=True, text=True).stdout
    assert "isa_active" in info and sr_native.get_isa() in info
    for key in ("package", "cpu", "num_threads", "cuda_available", "shipped_models"):
        assert key in info, key
    if not sr_native.cuda_available():
        assert sr_native.cuda_unavailable_reason() in info
    version = subprocess.run([sys.executable, "-m", "sr_native", "--version"], check=True, env=env,
                             capture_output=True, text=True).stdout
    assert version.strip() == f"sr-native {sr_native.__version__}"


def test_train_command_runs_and_resumes(tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 44, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    args = ["train", str(folder), "--out", str(tmp_path / "run"), "--iterations", "4", "--batch-size", "2",
            "--patch-size", "8", "--checkpoint-every", "2", "--val", str(folder), "--val-every", "2", "-q"]
    assert main(args + ["--model", "wdsr-b", "--skip-init", "bicubic"]) == 0
    assert main(args[:5] + ["6"] + args[6:] + ["--model", "wdsr-b", "--resume"]) == 0
    lines = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert lines[-1].startswith("6,")
    trained = sr_native.load_model(tmp_path / "run" / "model.safetensors")
    assert trained.architecture == "wdsr"
    assert trained.info().provenance["config"]["skip_init"] == "bicubic"  # kept across the resume


def test_folder_job_skips_done_images_and_resumes(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for name in ("a", "b", "c"):
        Image.fromarray(rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)).save(folder / f"{name}.png")
    out = tmp_path / "out"
    args = ["upscale", str(folder), "-o", str(out), "--method", "bicubic", "--scale", "2"]
    assert main(args) == 0
    (out / "b.png").unlink()  # "interrupted" before b was written
    stamp = (out / "a.png").stat().st_mtime_ns
    assert main(args) == 0
    assert "2 image(s) already done" in capsys.readouterr().out
    assert (out / "b.png").exists() and (out / "a.png").stat().st_mtime_ns == stamp
    assert main(args + ["--overwrite"]) == 0
    assert (out / "a.png").stat().st_mtime_ns != stamp
    assert not list(out.glob("*.part"))


def test_format_exif_icc_and_16_bit(tmp_path, capsys):
    from PIL import ImageCms

    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(3)
    # EXIF orientation 6 (rotate 90 degrees clockwise to view): a 10x16 stored image is 16x10 upright.
    stored = rng.integers(0, 256, (10, 16, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(stored).save(folder / "photo.jpg", exif=exif, icc_profile=icc, quality=95)
    deep = (rng.integers(0, 65536, (7, 9))).astype(np.uint16)
    Image.fromarray(deep).save(folder / "deep.png")
    rgba = rng.integers(0, 256, (6, 6, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(folder / "alpha.png")
    out = tmp_path / "out"
    code = main(["upscale", str(folder), "-o", str(out), "--method", "bicubic", "--scale", "2", "--format", "jpg"])
    assert code == 1  # alpha and 16 bits cannot go to JPEG: reported, the photo written
    err = capsys.readouterr().err
    assert "alpha channel" in err and "16 bits" in err and "2 of 3" in err
    with Image.open(out / "photo.jpg") as im:
        assert im.size == (20, 32)  # upright, then x2
        assert im.info.get("icc_profile") == icc
    assert main(["upscale", str(folder / "deep.png"), "-o", str(tmp_path / "deep_x2.png"), "--method", "bicubic",
                 "--scale", "2"]) == 0
    with Image.open(tmp_path / "deep_x2.png") as im:
        got = np.asarray(im)
    assert got.dtype == np.uint16 and got.shape == (14, 18)
    np.testing.assert_array_equal(got, sr_native.resize(deep, 2))
    assert main(["upscale", str(folder / "alpha.png"), "-o", str(tmp_path / "alpha_x2.png"), "--method",
                 "bicubic", "--scale", "2"]) == 0
    assert read(tmp_path / "alpha_x2.png").shape == (12, 12, 4)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [3, 4])
def test_16_bit_colour_files_stay_16_bit(tmp_path, suffix, channels):
    """Pillow reads 16-bit RGB(A) as 8 bits; these go through pypng / tifffile."""
    import png
    import tifffile

    from sr_native.imagefiles import write_16bit_colour

    rng = np.random.default_rng(5)
    deep = rng.integers(0, 65536, (7, 9, channels)).astype(np.uint16)
    src = tmp_path / f"deep{suffix}"
    write_16bit_colour(deep, src, "PNG" if suffix == ".png" else "TIFF")
    # Written by the libraries' own readers as what we meant:
    def read_png(path, h, w):
        with open(path, "rb") as f:
            _, _, rows, info = png.Reader(file=f).asDirect()
            assert info["bitdepth"] == 16
            return np.vstack(list(rows)).reshape(h, w, channels)

    if suffix == ".png":
        assert np.array_equal(read_png(src, 7, 9), deep)
    else:
        assert np.array_equal(tifffile.imread(src), deep)
    dst = tmp_path / f"deep_x2{suffix}"
    assert main(["upscale", str(src), "-o", str(dst), "--method", "bicubic", "--scale", "2", "-q"]) == 0
    got = tifffile.imread(dst) if suffix == ".tif" else read_png(dst, 14, 18)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, sr_native.resize(deep, 2))
    # The ICC profile travels with the pixels.
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged = tmp_path / f"tagged{suffix}"
    write_16bit_colour(deep, tagged, "PNG" if suffix == ".png" else "TIFF", icc)
    out = tmp_path / f"tagged_x2{suffix}"
    assert main(["upscale", str(tagged), "-o", str(out), "--method", "bicubic", "-q"]) == 0
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == icc
    # 16-bit colour cannot go to an 8-bit format: a clear error, no file.
    assert main(["upscale", str(src), "-o", str(tmp_path / "deep.webp"), "--method", "bicubic", "-q"]) == 1
    assert not (tmp_path / "deep.webp").exists()


def test_16_bit_png_exif_orientation(tmp_path):
    from sr_native.imagefiles import _ORIENT

    a = np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3)
    for k, fn in _ORIENT.items():  # each matches Pillow's own transpose on an 8-bit copy
        ref = Image.fromarray(a.astype(np.uint8))
        ex = Image.Exif()
        ex[0x0112] = k
        ref.info["exif"] = ex.tobytes()
        ref.getexif()[0x0112] = k
        from PIL import ImageOps

        want = np.asarray(ImageOps.exif_transpose(ref))
        assert np.array_equal(fn(a).astype(np.uint8), want), k


def test_bench_command(tmp_path, capsys):
    path, _ = tiny_model_file(tmp_path, 2)
    assert main(["bench", "--model", str(path), "--size", "24x17", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    assert "24x17" in out and "GFLOP/s" in out and "median" in out
    assert main(["bench", "--model", str(path), "--size", "big"]) == 2
    assert "WxH" in capsys.readouterr().err


def test_glob_patterns_and_duplicates(tmp_path):
    for sub_dir in ("a", "b"):
        (tmp_path / sub_dir).mkdir()
        Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(tmp_path / sub_dir / f"{sub_dir}.png")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    pattern = str(tmp_path / "**" / "*.png")
    assert main(["upscale", pattern, str(tmp_path / "a" / "a.png"), "-o", str(out), "--method", "bicubic",
                 "-q"]) == 0
    # Each image once; the outputs mirror the inputs' tree under their common folder (issue 17).
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["a/a.png", "b/b.png"]
