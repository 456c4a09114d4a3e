"""Issue 17, the command line: usage errors are exit 2 before any work, one line
on stderr, never a traceback; nothing is reported done that was not; every
frame, bit and profile of an image goes where it belongs."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sr_native
from conftest import subprocess_env
from sr_native.cli import main
from test_cli import tiny_model_file


def image(path, shape=(6, 7, 3), seed=0, **save):
    arr = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **save)
    return arr


def read(path):
    with Image.open(path) as im:
        return np.asarray(im)


def run_main(argv, capsys):
    """(exit status, stdout, stderr) of main(argv); main itself must not raise."""
    try:
        code = main([str(a) for a in argv])
    except BaseException as exc:  # a KeyboardInterrupt escaping would stop pytest itself
        pytest.fail(f"main({argv}) raised {type(exc).__name__}: {exc}")
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def one_error_line(err, start):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(start), err
    return lines[0]


BICUBIC = ["--method", "bicubic", "-q"]


# ------------------------------------------------------------- exit status 2, before any work
def test_bad_arguments_are_usage_errors(tmp_path, capsys):
    src = tmp_path / "in.png"
    image(src)
    out = tmp_path / "o.png"
    cases = [
        (["upscale", tmp_path / "missing.png", "-o", out] + BICUBIC, "no such file"),
        (["upscale", src, "-o", tmp_path / "o.xyz"] + BICUBIC, "cannot write .xyz"),
        (["upscale", src, "-o", tmp_path / "dir", "--format", "xyz"] + BICUBIC, "cannot write .xyz"),
        (["upscale", src, "-o", out, "--scale", "0"] + BICUBIC, "argument --scale"),
        (["upscale", src, "-o", out, "--scale", "-1"] + BICUBIC, "argument --scale"),
        (["upscale", src, "-o", out, "--scale", "nan"] + BICUBIC, "argument --scale"),
        (["upscale", src, "-o", out, "--scale", "inf"] + BICUBIC, "argument --scale"),
        (["upscale", src, "-o", out, "--tile", "-1"], "argument --tile"),
        (["upscale", src, "-o", out, "--threads", "-1"] + BICUBIC, "argument --threads"),
        (["upscale", src, "-o", out, "--threads", "100000"] + BICUBIC, "argument --threads"),
        (["upscale", src, "-o", out, "--quality", "0"], "argument --quality"),
        (["upscale", src, "-o", out, "--quality", "80"] + BICUBIC, "--quality applies"),
        (["upscale", src, "-o", out, "--lossless"] + BICUBIC, "--lossless applies"),
        (["upscale", tmp_path, "-o", tmp_path / "empty_out"] + BICUBIC, None),  # ok: in.png
        (["upscale", tmp_path / "nothing", "-o", out] + BICUBIC, "no such file"),
        (["upscale", str(tmp_path / "*.jpg"), "-o", tmp_path / "g"] + BICUBIC, "no images match"),
        (["bench", "--size", "0x0"], "argument --size"),
        (["bench", "--repeat", "0"], "argument --repeat"),
        (["bench", "--scale", "nan"], "argument --scale"),
        (["bench", "--threads", "-3"], "argument --threads"),
        (["eval", "--data", tmp_path / "nothere"], "--data: no such folder"),
        (["train", tmp_path / "nothere", "--out", tmp_path / "run"], "DATA: no such folder"),
        (["train", tmp_path, "--out", tmp_path / "run", "--val", tmp_path / "nope"], "--val: no such folder"),
        (["train", tmp_path, "--out", tmp_path / "run", "--iterations", "0"], "argument --iterations"),
        (["train", tmp_path, "--out", tmp_path / "run", "--lr", "-1"], "argument --lr"),
        (["train", tmp_path, "--out", tmp_path / "run", "--lr-step", "0"], "argument --lr-step"),
        (["train", tmp_path, "--out", tmp_path / "run", "--patch-size", "0"], "argument --patch-size"),
    ]
    for argv, message in cases:
        code, _, err = run_main(argv, capsys)
        if message is None:
            assert code == 0, (argv, err)
            continue
        assert code == 2, (argv, err)
        line = one_error_line(err, f"sr-native {argv[0]}: ")
        assert message in line, (argv, line)
    assert not out.exists()


def test_missing_shared_data_folder_says_where_it_comes_from(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # beside a "fresh clone": no ../shared/data
    for argv in (["eval", "--data", "../shared/data/set5", "--scale", "2"],
                 ["train", "../shared/data/train", "--out", "runs/x"]):
        code, _, err = run_main(argv, capsys)
        assert code == 2
        line = one_error_line(err, f"sr-native {argv[0]}: ")
        assert "SR_NATIVE_SHARED_DATA" in line and "fresh clone" in line


def test_empty_folders_and_non_images_in_train_and_eval(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    for argv in (["eval", "--data", empty], ["train", empty, "--out", tmp_path / "run"],
                 ["upscale", empty, "-o", tmp_path / "out"]):
        code, _, err = run_main(argv, capsys)
        assert code == 2, (argv, err)
        assert "no images" in one_error_line(err, f"sr-native {argv[0]}: ")
    # One file with an image name that is not an image: a clean message, not a traceback.
    data = tmp_path / "data"
    for i in range(2):
        image(data / f"{i}.png", (24, 24, 3), seed=i)
    (data / "notes.png").write_text("not an image")
    code, _, err = run_main(["train", data, "--out", tmp_path / "run", "--iterations", "2", "--batch-size", "1",
                             "--patch-size", "8", "-q"], capsys)
    assert code in (0, 1, 2), err
    if code:
        one_error_line(err, "sr-native train: ")
    code, _, err = run_main(["eval", "--data", data, "-q"], capsys)
    assert code in (0, 1, 2)
    if code:
        one_error_line(err, "sr-native eval: ")


def test_train_run_folder_rules(tmp_path, capsys):
    data = tmp_path / "data"
    for i in range(2):
        image(data / f"{i}.png", (20, 20, 3), seed=i)
    run = tmp_path / "run"
    base = ["train", data, "--out", run, "--iterations", "2", "--batch-size", "1", "--patch-size", "6", "-q",
            "--checkpoint-every", "2", "--val-every", "2"]
    code, _, err = run_main(base + ["--resume"], capsys)  # nothing to resume
    assert code == 2 and "no checkpoint" in one_error_line(err, "sr-native train: --resume")
    assert not (run / "log.csv").exists()
    assert run_main(base, capsys)[0] == 0
    log = (run / "log.csv").read_text()
    code, _, err = run_main(base, capsys)  # again, without --resume: refused, the run kept
    assert code == 2 and "already holds a run" in one_error_line(err, "sr-native train: --out")
    assert (run / "log.csv").read_text() == log
    assert run_main(base[:5] + ["4"] + base[6:] + ["--resume"], capsys)[0] == 0
    assert (run / "log.csv").read_text().splitlines()[-1].startswith("4,")


def test_ctrl_c_is_exit_130_with_one_line(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    data = tmp_path / "data"
    image(data / "a.png", (20, 20, 3))
    monkeypatch.setattr(sr_native, "train", interrupted)
    code, _, err = run_main(["train", data, "--out", tmp_path / "run"], capsys)
    assert code == 130
    assert "resume with --resume" in one_error_line(err, "sr-native train: interrupted")
    monkeypatch.setattr(sr_native, "resize", interrupted)
    code, _, err = run_main(["upscale", data, "-o", tmp_path / "out", "--method", "bicubic"], capsys)
    assert code == 130
    one_error_line(err, "sr-native upscale: interrupted")
    assert not list((tmp_path / "out").rglob("*")) if (tmp_path / "out").exists() else True


def test_unexpected_errors_are_one_line_exit_1(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(sr_native, "build_info", broken)
    code, _, err = run_main(["info"], capsys)
    assert code == 1
    assert one_error_line(err, "sr-native info: RuntimeError: disk on fire second line")


# ------------------------------------------------------------- scale and model
def test_scale_must_match_the_model(tmp_path, capsys):
    path, model = tiny_model_file(tmp_path, 2)
    src = tmp_path / "in.png"
    img = image(src)
    out = tmp_path / "o.png"
    code, _, err = run_main(["upscale", src, "-o", out, "--scale", "3", "--model", path], capsys)
    assert code == 2 and not out.exists()
    line = one_error_line(err, "sr-native upscale: --scale 3")
    assert "tiny_x2" in line and "x2" in line
    code, _, err = run_main(["bench", "--scale", "3", "--model", path, "--size", "8x8", "--repeat", "1"], capsys)
    assert code == 2 and "does not match" in one_error_line(err, "sr-native bench: --scale 3")
    # Without --scale, the model's own scale.
    path3, model3 = tiny_model_file(tmp_path, 3)
    code, stdout, _ = run_main(["upscale", src, "-o", out, "--model", path3], capsys)
    assert code == 0
    assert f"model: {path3}" in stdout  # says which model it used
    np.testing.assert_array_equal(read(out), sr_native.upscale(img, 3, model=model3))
    code, stdout, _ = run_main(["bench", "--model", path3, "--size", "8x8", "--repeat", "1"], capsys)
    assert code == 0 and "x3 on 8x8" in stdout
    data = tmp_path / "set"
    image(data / "a.png", (24, 24, 3))
    code, _, err = run_main(["eval", "--data", data, "--model", path3, "--scale", "2"], capsys)
    assert code == 2 and "tiny_x3" in one_error_line(err, "sr-native eval: --scale 2 does not match")
    code, stdout, _ = run_main(["eval", "--data", data, "--model", path3, "-q"], capsys)
    assert code == 0 and "x3" in stdout.splitlines()[0]


def test_method_conflicts_with_network_options(tmp_path, capsys):
    path, _ = tiny_model_file(tmp_path, 2)
    src = tmp_path / "in.png"
    image(src)
    for extra, name in ((["--model", path], "--model"), (["--self-ensemble"], "--self-ensemble"),
                        (["--tile", "16"], "--tile"), (["--device", "cpu"], "--device")):
        code, _, err = run_main(["upscale", src, "-o", tmp_path / "o.png", "--method", "bicubic"] + extra, capsys)
        assert code == 2
        assert "--method" in one_error_line(err, f"sr-native upscale: {name}")
    code, _, err = run_main(["upscale", src, "-o", tmp_path / "o.png", "--format", "png"] + BICUBIC, capsys)
    assert code == 2 and "--format" in one_error_line(err, "sr-native upscale: --format")


def test_tiny_tile_is_refused_before_reading(tmp_path, capsys):
    path, _ = tiny_model_file(tmp_path, 2)
    src = tmp_path / "in.png"
    image(src)
    code, _, err = run_main(["upscale", src, "-o", tmp_path / "o.png", "--model", path, "--tile", "1"], capsys)
    assert code == 2
    one_error_line(err, "sr-native upscale: --tile 1")
    assert not (tmp_path / "o.png").exists()


# ------------------------------------------------------------- where outputs go
def test_same_names_in_two_folders_are_both_written(tmp_path, capsys):
    a = image(tmp_path / "a" / "x.png", seed=1)
    b = image(tmp_path / "b" / "x.png", seed=2)
    out = tmp_path / "out"
    code, stdout, err = run_main(["upscale", tmp_path / "a" / "x.png", tmp_path / "b" / "x.png", "-o", out,
                                  "--method", "bicubic"], capsys)
    assert code == 0, err
    assert "already done" not in stdout + err
    np.testing.assert_array_equal(read(out / "a" / "x.png"), sr_native.resize(a, 2))
    np.testing.assert_array_equal(read(out / "b" / "x.png"), sr_native.resize(b, 2))
    # Through a glob: the same tree.
    out2 = tmp_path / "out2"
    assert run_main(["upscale", str(tmp_path / "*" / "x.png"), "-o", out2] + BICUBIC, capsys)[0] == 0
    assert sorted(str(p.relative_to(out2)) for p in out2.rglob("*.png")) == ["a/x.png", "b/x.png"]
    # Two inputs that --format would send to one file: refused up front.
    image(tmp_path / "a" / "x.jpg", seed=3)
    code, _, err = run_main(["upscale", tmp_path / "a", "-o", tmp_path / "out3", "--format", "png"] + BICUBIC,
                            capsys)
    assert code == 2 and "would both be written" in one_error_line(err, "sr-native upscale: ")
    assert not (tmp_path / "out3").exists()


def test_output_onto_an_input_needs_overwrite(tmp_path, capsys):
    folder = tmp_path / "in"
    img = image(folder / "p.png")
    before = (folder / "p.png").read_bytes()
    for argv in (["upscale", folder, "-o", folder], ["upscale", folder / "p.png", "-o", folder / "p.png"]):
        code, _, err = run_main(argv + BICUBIC, capsys)
        assert code == 2 and "--overwrite" in one_error_line(err, "sr-native upscale: the output")
        assert (folder / "p.png").read_bytes() == before
    assert run_main(["upscale", folder / "p.png", "-o", folder / "p.png", "--overwrite"] + BICUBIC, capsys)[0] == 0
    np.testing.assert_array_equal(read(folder / "p.png"), sr_native.resize(img, 2))


def test_output_names_without_extension_and_dash(tmp_path, capsys):
    src = tmp_path / "in.png"
    image(src)
    code, _, err = run_main(["upscale", src, "-o", "-"] + BICUBIC, capsys)
    assert code == 2 and "standard output" in one_error_line(err, "sr-native upscale: ")
    assert not Path("-").exists()
    # A name without an extension is a folder (documented): the image goes inside it.
    assert run_main(["upscale", src, "-o", tmp_path / "noext"] + BICUBIC, capsys)[0] == 0
    assert (tmp_path / "noext" / "in.png").is_file()
    # Several inputs and a file name: refused, no folder called x.png.
    image(tmp_path / "two.png")
    code, _, err = run_main(["upscale", src, tmp_path / "two.png", "-o", tmp_path / "x.png"] + BICUBIC, capsys)
    assert code == 2 and "output folder" in one_error_line(err, "sr-native upscale: ")
    assert not (tmp_path / "x.png").exists()


def test_recursive_folders_mirror_the_tree(tmp_path, capsys):
    image(tmp_path / "in" / "top.png")
    image(tmp_path / "in" / "sub" / "top.png", seed=1)
    out = tmp_path / "out"
    assert run_main(["upscale", tmp_path / "in", "-o", out] + BICUBIC, capsys)[0] == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["top.png"]
    assert run_main(["upscale", tmp_path / "in", "-o", out, "--recursive"] + BICUBIC, capsys)[0] == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["sub/top.png", "top.png"]


def test_long_file_name_and_file_mode(tmp_path, capsys):
    src = tmp_path / "in.png"
    image(src)
    long_name = tmp_path / ("n" * 250 + ".png")  # 254 bytes: <name>.part would be too long
    old = os.umask(0o027)
    try:
        assert run_main(["upscale", src, "-o", long_name] + BICUBIC, capsys)[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(long_name.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.png", long_name.name])


# ------------------------------------------------------------- non-regular files, loops (subprocesses: a hang must end)
def cli(args, timeout=60):
    return subprocess.run([sys.executable, "-m", "sr_native"] + [str(a) for a in args], env=subprocess_env(),
                          capture_output=True, text=True, timeout=timeout)


def test_fifo_inputs_do_not_block(tmp_path):
    os.mkfifo(tmp_path / "x.png")
    image(tmp_path / "ok.png")
    r = cli(["upscale", tmp_path / "x.png", "-o", tmp_path / "o.png", "--method", "bicubic"])
    assert r.returncode == 2 and "not a regular file" in r.stderr and "Traceback" not in r.stderr
    r = cli(["upscale", tmp_path, "-o", tmp_path / "out", "--method", "bicubic"])
    assert r.returncode == 1, r.stderr  # the FIFO reported as a bad file, the image written
    assert "x.png: not a regular file" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "out" / "ok.png").is_file()


def test_glob_through_a_symlink_loop_ends(tmp_path):
    image(tmp_path / "d" / "a.png")
    for name in ("loop1", "loop2"):  # two links to the folder itself: 2**depth paths for a naive walk
        os.symlink(tmp_path / "d", tmp_path / "d" / name)
    r = cli(["upscale", str(tmp_path / "d" / "**" / "*.png"), "-o", tmp_path / "out", "--method", "bicubic", "-q"])
    assert r.returncode == 0, r.stderr
    assert [p.name for p in (tmp_path / "out").rglob("*.png")] == ["a.png"]


# ------------------------------------------------------------- pixels, frames, profiles
def test_gray_alpha_pngs_go_through_the_network(tmp_path, capsys):
    import png

    path, model = tiny_model_file(tmp_path, 2)
    la8 = np.random.default_rng(4).integers(0, 256, (6, 7, 2), dtype=np.uint8)
    Image.fromarray(la8).save(tmp_path / "la8.png")
    la16 = np.random.default_rng(5).integers(0, 65536, (6, 7, 2)).astype(np.uint16)
    with open(tmp_path / "la16.png", "wb") as f:
        png.Writer(7, 6, greyscale=True, alpha=True, bitdepth=16).write(f, la16.reshape(6, 14))
    for name, arr in (("la8", la8), ("la16", la16)):
        out = tmp_path / f"{name}_x2.png"
        code, _, err = run_main(["upscale", tmp_path / f"{name}.png", "-o", out, "--model", path, "-q"], capsys)
        assert code == 0, err
        with open(out, "rb") as f:
            w, h, rows, info = png.Reader(file=f).asDirect()
            got = np.vstack(list(rows)).reshape(h, w, info["planes"])
        assert info["planes"] == 2 and info["bitdepth"] == arr.itemsize * 8 and (h, w) == (12, 14)
        rgba = np.concatenate([np.repeat(arr[..., :1], 3, axis=2), arr[..., 1:]], axis=2)
        want = sr_native.upscale(rgba, 2, model=model)
        np.testing.assert_array_equal(got[..., 1], want[..., 3])
        np.testing.assert_array_equal(got[..., 0], np.rint(want[..., :3].mean(axis=2)))


def test_16_bit_png_with_sbit_is_not_darkened(tmp_path, capsys):
    from test_image_files import png_16bit_with_sbit

    v12 = np.random.default_rng(2).integers(0, 4096, (5, 6, 3)).astype(np.uint16)
    stored = (v12 << 4) | (v12 >> 8)
    (tmp_path / "sbit.png").write_bytes(png_16bit_with_sbit(stored, 12))
    out = tmp_path / "out.png"
    assert run_main(["upscale", tmp_path / "sbit.png", "-o", out] + BICUBIC, capsys)[0] == 0
    import png

    with open(out, "rb") as f:
        w, h, rows, _ = png.Reader(file=f).read()
        got = np.vstack(list(rows)).reshape(h, w, 3)
    np.testing.assert_array_equal(got, sr_native.resize(stored, 2))


def test_icc_profile_kept_only_when_its_colour_space_fits(tmp_path, capsys):
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    cmyk = srgb[:16] + b"CMYK" + srgb[20:]
    image(tmp_path / "rgb_srgb.png", icc_profile=srgb)
    image(tmp_path / "rgb_cmyk.png", icc_profile=cmyk)
    image(tmp_path / "gray_srgb.png", (6, 7), icc_profile=srgb)
    out = tmp_path / "out"
    assert run_main(["upscale", tmp_path, "-o", out] + BICUBIC, capsys)[0] == 0
    profiles = {}
    for name in ("rgb_srgb", "rgb_cmyk", "gray_srgb"):
        with Image.open(out / f"{name}.png") as im:
            profiles[name] = im.info.get("icc_profile")
    assert profiles == {"rgb_srgb": srgb, "rgb_cmyk": None, "gray_srgb": None}


def test_animations_keep_every_frame(tmp_path, capsys):
    rng = np.random.default_rng(6)
    frames = [rng.integers(0, 256, (6, 8, 3), dtype=np.uint8) for _ in range(3)]
    ims = [Image.fromarray(f) for f in frames]
    ims[0].save(tmp_path / "anim.png", save_all=True, append_images=ims[1:], duration=[40, 80, 120], loop=3)
    ims[0].save(tmp_path / "anim.gif", save_all=True, append_images=ims[1:], duration=[40, 80, 120], loop=0)
    out = tmp_path / "out"
    code, stdout, err = run_main(["upscale", tmp_path, "-o", out, "--method", "bicubic"], capsys)
    assert code == 0, err
    assert "3 frames" in stdout
    with Image.open(out / "anim.png") as im:
        assert im.n_frames == 3 and im.info.get("loop") == 3
        got = []
        for i in range(3):
            im.seek(i)
            got.append((np.asarray(im.convert("RGB")), im.info.get("duration")))
    for (arr, duration), frame, want_duration in zip(got, frames, (40, 80, 120)):
        np.testing.assert_array_equal(arr, sr_native.resize(frame, 2))
        assert duration == want_duration
    with Image.open(out / "anim.gif") as im:  # .gif is an image suffix now
        assert im.n_frames == 3 and im.size == (16, 12) and im.info.get("loop") == 0
    # An animation to a single-frame format: said clearly, exit 1.
    code, _, err = run_main(["upscale", tmp_path / "anim.png", "-o", tmp_path / "a.jpg"] + BICUBIC, capsys)
    assert code == 1 and "3 frames" in err and not (tmp_path / "a.jpg").exists()



def test_animation_frames_are_counted_before_decoding(tmp_path, capsys, monkeypatch):
    # Frames a small GIF declares are decoded only when they fit the memory left.
    ims = [Image.fromarray(np.full((40, 50, 3), i * 60, np.uint8)) for i in range(3)]
    ims[0].save(tmp_path / "anim.gif", save_all=True, append_images=ims[1:], duration=40)
    monkeypatch.setattr(sr_native._core, "available_memory", lambda: 3 * 40 * 50 * 4 - 1)
    code, _, err = run_main(["upscale", tmp_path / "anim.gif", "-o", tmp_path / "big.gif"] + BICUBIC, capsys)
    assert code == 1 and "its 3 frames of 50x40 need 23.4 KiB decoded" in err.splitlines()[0]
    assert not (tmp_path / "big.gif").exists()


def test_quality_lossless_and_exif(tmp_path, capsys):
    img = np.random.default_rng(8).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x0112] = 6  # rotate 90 degrees to view
    Image.fromarray(img).save(tmp_path / "photo.jpg", exif=exif, quality=95)
    sizes = {}
    for q in ("10", "95"):
        out = tmp_path / f"q{q}.jpg"
        assert run_main(["upscale", tmp_path / "photo.jpg", "-o", out, "--quality", q] + BICUBIC, capsys)[0] == 0
        sizes[q] = out.stat().st_size
        with Image.open(out) as im:
            kept = im.getexif()
            assert kept.get(0x010F) == "CameraMaker" and kept.get(0x0112) == 1  # stored upright now
            assert im.size == (32, 32)
    assert sizes["10"] < sizes["95"]
    Image.fromarray(img).save(tmp_path / "p.png")
    out = tmp_path / "p.webp"
    assert run_main(["upscale", tmp_path / "p.png", "-o", out, "--lossless"] + BICUBIC, capsys)[0] == 0
    np.testing.assert_array_equal(read(out), sr_native.resize(img, 2))


# ------------------------------------------------------------- help and polish
def test_help_shows_every_option_with_defaults(capsys):
    for command in ("upscale", "train", "eval", "bench", "info"):
        assert main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert "-q, --quiet" in text, command
        if command != "info":
            assert "--threads" in text and "CPU threads" in text, command
    main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Adam learning rate (default: 0.0001)" in text
    assert "(default: 300000)" in text and "(default: 48)" in text
    main(["upscale", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in sr_native.shipped_models():
        assert name in text
    assert "--quality" in text and "--lossless" in text and "--recursive" in text


def test_a_line_per_image_when_stderr_is_not_a_terminal(tmp_path, capsys):
    for name in ("a", "b", "c"):
        image(tmp_path / "in" / f"{name}.png")
    code, stdout, _ = run_main(["upscale", tmp_path / "in", "-o", tmp_path / "out", "--method", "bicubic"], capsys)
    assert code == 0
    assert len([line for line in stdout.splitlines() if " -> " in line]) == 3


def test_real_entry_point_matches_main(tmp_path):
    src = tmp_path / "in.png"
    image(src)
    for args, code in ((["upscale", src, "-o", tmp_path / "o.png", "--scale", "nan", "--method", "bicubic"], 2),
                       (["bench", "--size", "0x0"], 2),
                       (["eval", "--data", tmp_path / "none"], 2),
                       (["upscale", src, "-o", tmp_path / "o.png", "--method", "bicubic"], 0),
                       (["nonsense"], 2)):
        r = cli(args)
        assert r.returncode == code, (args, r.stderr)
        assert "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == (1 if code else 0), r.stderr


def test_output_folder_inside_the_input_folder(tmp_path, capsys):
    img = image(tmp_path / "in" / "a.png")
    args = ["upscale", tmp_path / "in", "-o", tmp_path / "in" / "out", "--recursive"] + BICUBIC
    assert run_main(args, capsys)[0] == 0
    assert run_main(args + ["--overwrite"], capsys)[0] == 0  # the results are not taken as new inputs
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.png")) == ["in/a.png", "in/out/a.png"]
    np.testing.assert_array_equal(read(tmp_path / "in" / "out" / "a.png"), sr_native.resize(img, 2))


def test_exif_pixel_size_tags_follow_the_new_size(tmp_path, capsys):
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8769)[0xA002] = 16
    exif.get_ifd(0x8769)[0xA003] = 12
    image(tmp_path / "p.jpg", (12, 16, 3), exif=exif.tobytes())
    assert run_main(["upscale", tmp_path / "p.jpg", "-o", tmp_path / "o.jpg"] + BICUBIC, capsys)[0] == 0
    with Image.open(tmp_path / "o.jpg") as im:
        sub = im.getexif().get_ifd(0x8769)
        assert (sub.get(0xA002), sub.get(0xA003)) == (32, 24)


def test_write_errors_name_the_output_not_a_temporary_file(tmp_path, capsys, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".x.part"))

    image(tmp_path / "in.png")
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    code, _, err = run_main(["upscale", tmp_path / "in.png", "-o", tmp_path / "o.png"] + BICUBIC, capsys)
    assert code == 1
    first = err.splitlines()[0]
    assert f"cannot write {tmp_path / 'o.png'}: Permission denied" in first and ".part" not in first


def test_a_result_too_large_to_write_fails_before_the_work(tmp_path, capsys, monkeypatch):
    # 8x8 at x9999 is a 19 GB result, and Pillow's copy for the encoder
    # doubles it: the library's own check alone would let that through on a
    # machine with 20 GB left, and the encoder would get the process killed.
    src = tmp_path / "in.png"
    image(src, (8, 8, 3))
    monkeypatch.setattr(sr_native._core, "available_memory", lambda: 30 << 30)
    code, _, err = run_main(["upscale", src, "-o", tmp_path / "out.png", "--method", "bicubic",
                             "--scale", 9999], capsys)
    assert code == 1
    assert "79992x79992 result and its copy for the encoder need about" in err
    assert not (tmp_path / "out.png").exists()


def test_warnings_are_one_line_each(tmp_path, capsys):
    # A corrupt file in a training folder is skipped with a warning: one line
    # in the command's voice, not Python's two-line warning with a source line.
    data = tmp_path / "data"
    for i in range(2):
        image(data / f"{i}.png", (20, 20, 3), seed=i)
    (data / "broken.png").write_bytes(b"\x89PNG not really")
    code, _, err = run_main(["train", data, "--out", tmp_path / "run", "--iterations", "1", "--batch-size", "1",
                             "--patch-size", "6", "-q", "--checkpoint-every", "1", "--val-every", "1"], capsys)
    assert code == 0, err
    line = one_error_line(err, "sr-native train: warning: ")
    assert "broken.png" in line
