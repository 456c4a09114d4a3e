"""Issue 17, training and evaluation: the run folder (no silent overwrite,
resume needs its checkpoint, damaged checkpoints, file modes, an interrupt
leaves it consistent), and image folders with files that cannot be used
(unreadable, decompression bombs, too small for a patch, 16-bit gray), in
training, validation and evaluation. Bad option values are in
test_bad_input.py. Every run here is a tiny EDSR for a few iterations."""

import os
import stat

import numpy as np
import pytest
from PIL import Image

import sr_native
from sr_native import evaluation
from sr_native.training import data, loop
from sr_native.training.data import DataWarning


def _photo(rng, h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 70 * np.sin(xx / 5.0 + rng.random()) * np.cos(yy / 7.0)
    img = np.stack([base, base[::-1], np.roll(base, 5, axis=1)], -1) + rng.normal(0, 5, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def make_folder(folder, sizes, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(_photo(rng, h, w)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def images(tmp_path):
    return make_folder(tmp_path / "hr", [(40, 48), (44, 40)])


def tiny_run(folder, out, **kw):
    opts = dict(scale=2, model="edsr-baseline", model_args=dict(n_feats=4, n_resblocks=1), batch_size=2,
                patch_size=8, lr=1e-3, checkpoint_every=2, val_every=2, iterations=2, seed=3, progress=False)
    opts.update(kw)
    return loop.train(folder, out_dir=out, **opts)


# ----------------------------------------------------------------- run folder

def test_new_run_refuses_a_used_folder(images, tmp_path):
    run = tmp_path / "run"
    tiny_run(images, run)
    log = (run / "log.csv").read_text()
    ckpt = (run / "checkpoint.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match=r"run folder .*run' is not empty .*checkpoint.safetensors.*resume=True"):
        tiny_run(images, run, seed=4)
    assert (run / "log.csv").read_text() == log  # no second header, nothing overwritten
    assert (run / "checkpoint.safetensors").read_bytes() == ckpt
    empty = tmp_path / "empty"
    empty.mkdir()
    tiny_run(images, empty)  # an empty folder is a new run's folder
    assert (empty / "model.safetensors").is_file()


def test_resume_needs_a_checkpoint(images, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at .*new.checkpoint.safetensors"):
        tiny_run(images, tmp_path / "new", resume=True)
    assert not (tmp_path / "new").exists()
    stopped = tmp_path / "stopped"  # a run killed before its first checkpoint
    stopped.mkdir()
    (stopped / "log.csv").write_text(loop.LOG_HEADER)
    with pytest.raises(FileNotFoundError, match="before its first checkpoint"):
        tiny_run(images, stopped, resume=True)


def test_damaged_checkpoint_is_a_value_error_naming_it(images, tmp_path):
    run = tmp_path / "run"
    tiny_run(images, run)
    path = run / "checkpoint.safetensors"
    good = path.read_bytes()
    header_len = int.from_bytes(good[:8], "little")
    damaged = {"truncated": good[: len(good) // 2], "empty": b"", "garbage": b"\x00" * 64,
               "header flipped": good[:8 + header_len // 2] + bytes([good[8 + header_len // 2] ^ 0xFF])
               + good[9 + header_len // 2:]}
    for what, content in damaged.items():
        path.write_bytes(content)
        with pytest.raises(ValueError, match="checkpoint.safetensors"):
            tiny_run(images, run, iterations=4, resume=True)
    # A model file is not a checkpoint.
    sr_native.models.EDSR(2, n_feats=4, n_resblocks=1).save(path)
    with pytest.raises(ValueError, match="not an sr_native training checkpoint"):
        tiny_run(images, run, iterations=4, resume=True)


def test_nan_in_the_checkpoint_moments_is_refused(images, tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    run = tmp_path / "run"
    tiny_run(images, run)
    path = run / "checkpoint.safetensors"
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    key = next(k for k in tensors if k.startswith("adam_v/"))
    tensors[key][...] = np.nan
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ValueError, match=r"checkpoint.safetensors.*NaN"):
        tiny_run(images, run, iterations=4, resume=True)


def test_run_files_get_the_umask_mode(images, tmp_path):
    old = os.umask(0o022)
    try:
        tiny_run(images, tmp_path / "run")
    finally:
        os.umask(old)
    for name in ("checkpoint.safetensors", "model.safetensors", "log.csv"):
        assert stat.S_IMODE((tmp_path / "run" / name).stat().st_mode) == 0o644, name


def test_interrupted_checkpoint_write_leaves_no_temporary_file(images, tmp_path, monkeypatch):
    run = tmp_path / "run"
    tiny_run(images, run)
    before = (run / "checkpoint.safetensors").read_bytes()

    def killed_midway(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr("safetensors.numpy.save_file", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        tiny_run(images, run, iterations=4, resume=True)
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.safetensors", "curves.png", "log.csv",
                                                     "model.safetensors"]
    assert (run / "checkpoint.safetensors").read_bytes() == before


def test_interrupt_then_resume_logs_each_iteration_once(images, tmp_path, monkeypatch):
    whole = tiny_run(images, tmp_path / "whole", iterations=12, checkpoint_every=4, val_every=100)
    real_step, calls = loop.training_step, []

    def interrupted_at_the_eleventh(*args, **kwargs):
        calls.append(1)
        if len(calls) == 11:  # after the log row of iteration 10, before any checkpoint past 8
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop, "training_step", interrupted_at_the_eleventh)
    run = tmp_path / "split"
    with pytest.raises(KeyboardInterrupt):
        tiny_run(images, run, iterations=12, checkpoint_every=4, val_every=100)
    assert loop.load_checkpoint(run / "checkpoint.safetensors")[3] == 8
    monkeypatch.setattr(loop, "training_step", real_step)
    resumed = tiny_run(images, run, iterations=12, checkpoint_every=4, val_every=100, resume=True)
    lines = (run / "log.csv").read_text().splitlines()
    assert lines[0] == loop.LOG_HEADER.strip() and lines.count(lines[0]) == 1
    assert [int(line.split(",")[0]) for line in lines[1:]] == [10, 12]
    for k, v in whole.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)


# -------------------------------------------------------------- image folders

def test_unreadable_files_are_skipped_with_one_warning(images, tmp_path):
    (images / "notes.png").write_text("not an image")
    good = (images / "img0.png").read_bytes()
    (images / "cut.png").write_bytes(good[: len(good) // 3])  # a header, then truncated pixel data
    with pytest.warns(DataWarning, match=r"skipped 2 of 4 image files \(unreadable\): cut.png .*notes.png"):
        net = tiny_run(images, tmp_path / "run", val_dir=str(images))
    assert (tmp_path / "run" / "model.safetensors").is_file() and net.scale == 2


def test_folder_of_only_unreadable_files(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_text("text")
    (bad / "b.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.warns(DataWarning, match="skipped 2 of 2"):
        with pytest.raises(ValueError, match=r"no usable image in training folder .*bad'.*2 unreadable"):
            tiny_run(bad, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_decompression_bombs_are_unreadable_files_and_large_images_are_read(images, tmp_path, monkeypatch):
    import PIL.Image

    # Pillow's limits scaled down: past 1600 pixels a warning, past twice that an error.
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 1600)
    # img0 (1920 px) and img1 (1760 px) only warn, and are read; the bomb (4096 px) is skipped.
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(images / "bomb.png")
    with pytest.warns(DataWarning, match=r"skipped 1 of 3 .*bomb.png \(DecompressionBombError"):
        pairs = data.PairSet.from_folder(images, 2, min_lr_size=8)
    assert pairs.names == ["img0.png", "img1.png"]
    with pytest.warns(DataWarning, match=r"bomb.png \(DecompressionBombError"):
        result = evaluation.evaluate(images, 2, baselines=["bicubic"])
    assert {r["image"] for r in result.rows} == {"img0", "img1"}


def test_patch_size_against_the_image_sizes(tmp_path):
    folder = make_folder(tmp_path / "hr", [(40, 48), (20, 60), (64, 64)])
    # Patches of 12 LR px need 24x24 HR at x2: the 20x60 image cannot give one.
    with pytest.warns(DataWarning, match=r"skipped 1 of 3 .*smaller than one LR patch of 12 px.*img1.png \(60x20\)"):
        tiny_run(folder, tmp_path / "run", patch_size=12)
    with pytest.warns(DataWarning, match="skipped 3 of 3"):
        with pytest.raises(ValueError, match=r"3 smaller than 2000x2000 \(an LR patch of 1000 px at x2\)"):
            tiny_run(folder, tmp_path / "big", patch_size=1000)
    assert not (tmp_path / "big").exists()


def test_sixteen_bit_gray_is_scaled_not_clipped(tmp_path):
    ramp = (np.arange(24 * 32, dtype=np.uint32).reshape(24, 32) * 85).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    got = data.read_rgb(tmp_path / "g16.png")
    want = np.rint(ramp / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(got, np.repeat(want[..., None], 3, axis=2))
    assert got.max() > 200 and got[0, 4, 0] == 1  # spread over 0..255, not clipped at 255


def test_eval_checks_before_work(tmp_path):
    folder = make_folder(tmp_path / "hr", [(40, 48)])
    x3 = sr_native.models.EDSR(3, n_feats=4, n_resblocks=1)
    with pytest.raises(ValueError, match=r"upscales x3, but scale is 2"):
        evaluation.evaluate(folder, 2, model=x3)
    with pytest.raises(FileNotFoundError, match=r"lr_folder .*missing' does not exist"):
        evaluation.evaluate(folder, 2, lr_folder=tmp_path / "missing")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        evaluation.evaluate(folder / "img0.png", 2)
    tiny = make_folder(tmp_path / "tiny", [(12, 12)])
    with pytest.warns(DataWarning, match=r"skipped 1 of 1 .*smaller than 15x15.*img0.png \(12x12\)"):
        with pytest.raises(ValueError, match="no usable image"):
            evaluation.evaluate(tiny, 2)


def test_animated_images_are_skipped_not_cut_to_their_first_frame(images):
    frames = [Image.fromarray(np.full((40, 48, 3), v, np.uint8)) for v in (0, 255)]
    frames[0].save(images / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.warns(DataWarning, match=r"skipped 1 of 3 .*anim.gif \(ValueError: animated image of 2 frames"):
        pairs = data.PairSet.from_folder(images, 2, min_lr_size=8)
    assert pairs.names == ["img0.png", "img1.png"]


# ----------------------------------------------------------------- progressive patch sizes

def test_patch_schedule_sets_each_batch_size_and_resumes_exactly(images, tmp_path, monkeypatch):
    sizes = []
    step = loop.training_step

    def recording(model, adam, lr_batch, hr_batch, cfg, lr):
        sizes.append((lr_batch.shape[2], hr_batch.shape[2]))
        return step(model, adam, lr_batch, hr_batch, cfg, lr)

    monkeypatch.setattr(loop, "training_step", recording)
    schedule = [[0, 6], [2, 8], [4, 10]]
    whole = tiny_run(images, tmp_path / "whole", iterations=6, patch_size=12, patch_schedule=schedule)
    assert sizes == [(6, 12)] * 2 + [(8, 16)] * 2 + [(10, 20)] * 2
    tiny_run(images, tmp_path / "split", iterations=3, patch_size=12, patch_schedule=schedule)
    resumed = tiny_run(images, tmp_path / "split", iterations=6, patch_size=12, patch_schedule=schedule,
                       resume=True)
    for k, v in whole.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)
    assert whole.provenance["config"]["patch_schedule"] == schedule


@pytest.mark.parametrize("schedule,error,message", [
    ([[0, 8], [0, 10]], ValueError, "starts must increase"),
    ([[5, 0]], ValueError, "patch size must be >= 1"),
    ([[0, 8, 1]], TypeError, "pairs"),
    ("0:8", TypeError, "list"),
    ([[0.5, 8]], TypeError, "must be an int"),
])
def test_bad_patch_schedules_are_refused(schedule, error, message, images, tmp_path):
    with pytest.raises(error, match=message):
        tiny_run(images, tmp_path / "run", patch_schedule=schedule)
    assert not (tmp_path / "run").exists()


def test_patch_schedule_on_the_command_line(images, tmp_path, capsys):
    from sr_native.cli import main

    out = tmp_path / "cli"
    assert main(["train", str(images), "--out", str(out), "--model", "espcn", "--iterations", "2", "--batch-size",
                 "1", "--patch-size", "8", "--patch-schedule", "0:6,1:8", "-q"]) == 0
    assert sr_native.load_model(out / "model.safetensors").provenance["config"]["patch_schedule"] == [[0, 6], [1, 8]]
    assert main(["train", str(images), "--out", str(tmp_path / "bad"), "--patch-schedule", "5:8,2:9"]) == 2
    assert "starts must increase" in capsys.readouterr().err


def test_luma_training_learns_y_and_upscales_colour(images, tmp_path):
    from sr_native.cli import main
    from sr_native.colour import luma_nchw, rgb_to_ycbcr

    x = np.random.default_rng(0).random((2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(luma_nchw(x)[:, 0], rgb_to_ycbcr(x.transpose(0, 2, 3, 1))[..., 0], atol=1e-6)
    out = tmp_path / "run"
    assert main(["train", str(images), "--out", str(out), "--model", "espcn", "--luma", "--iterations", "2",
                 "--batch-size", "2", "--patch-size", "8", "--val", str(images), "--val-every", "1", "-q"]) == 0
    net = sr_native.load_model(out / "model.safetensors")
    assert net.n_colors == 1 and net.provenance["config"]["model_args"] == {"n_colors": 1}
    img = np.random.default_rng(1).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    assert sr_native.upscale(img, 2, model=net).shape == (24, 20, 3)
