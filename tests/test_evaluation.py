"""sr_native.evaluation and `sr-native eval`: the published protocol (checked
against the published bicubic numbers on Set5/Set14 when ../shared/data is
there), the folder layouts, gray images, the CSV, and clear errors."""

import csv

import numpy as np
import pytest
from PIL import Image

import sr_native
from sr_native import evaluation, metrics
from sr_native.cli import main
from sr_native.models import EDSR
from sr_native.training.data import DataWarning

# Bicubic x2 / x3 / x4 as published (e.g. the SRCNN, VDSR and EDSR papers' tables),
# and how close the protocol must land: 0.05 dB on Set5, 0.1 dB on Set14.
PUBLISHED_BICUBIC = {
    "set5": ({2: 33.66, 3: 30.39, 4: 28.42}, 0.05),
    "set14": ({2: 30.24, 3: 27.55, 4: 26.00}, 0.1),
}


@pytest.mark.parametrize("name", ["set5", "set14"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_reproduces_published_numbers(shared_data, name, scale):
    want, tol = PUBLISHED_BICUBIC[name]
    for make_lr in (False, True):  # the set's MATLAB-made LR, and ours
        result = evaluation.evaluate(shared_data / name, scale, make_lr=make_lr)
        got = result.mean("bicubic")
        assert abs(got - want[scale]) <= tol, (name, scale, make_lr, got, want[scale])
        # The baselines are ordered as in every published table.
        assert result.mean("nearest") < got < result.mean("lanczos3")
        assert {r["lr"] for r in result.rows} == {"bicubic" if make_lr else "given"}


def _smooth_image(rng, h, w, gray=False):
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 70 * np.sin(xx / 6.0 + rng.random()) * np.cos(yy / 9.0)
    if gray:
        return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
    rgb = np.stack([base, base[::-1], np.roll(base, 7, axis=1)], axis=-1) + rng.normal(0, 3, (h, w, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


@pytest.fixture
def hr_folder(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "hr"
    folder.mkdir()
    Image.fromarray(_smooth_image(rng, 37, 50)).save(folder / "a.png")  # not a multiple of 2, 3 or 4
    Image.fromarray(_smooth_image(rng, 48, 40, gray=True)).save(folder / "b.png")
    return folder


def test_plain_folder_matches_the_protocol_by_hand(hr_folder):
    result = evaluation.evaluate(hr_folder, 3)
    assert result.methods() == list(evaluation.BASELINES)
    assert len(result.rows) == 2 * 3
    for name in ("a", "b"):
        with Image.open(hr_folder / f"{name}.png") as im:
            hr = np.asarray(im)
        hr = hr[:hr.shape[0] // 3 * 3, :hr.shape[1] // 3 * 3]
        lr = sr_native.resize(hr, 1 / 3)
        out = sr_native.resize(lr, 3)
        row = next(r for r in result.rows if r["image"] == name and r["method"] == "bicubic")
        assert row["psnr"] == pytest.approx(metrics.psnr(out, hr, crop_border=3, y_channel=True), abs=1e-9)
        assert row["ssim"] == pytest.approx(metrics.ssim(out, hr, crop_border=3, y_channel=True), abs=1e-9)
        assert row["lr"] == "bicubic"


def test_given_lr_folder_is_used(hr_folder, tmp_path):
    lr_dir = tmp_path / "lr"
    lr_dir.mkdir()
    for name in ("a", "b"):
        with Image.open(hr_folder / f"{name}.png") as im:
            hr = evaluation.mod_crop(np.asarray(im), 2)
        # A different (nearest) downscale under the DIV2K name: the result must follow it.
        Image.fromarray(np.ascontiguousarray(hr[::2, ::2])).save(lr_dir / f"{name}x2.png")
    given = evaluation.evaluate(hr_folder, 2, lr_folder=lr_dir)
    made = evaluation.evaluate(hr_folder, 2)
    assert {r["lr"] for r in given.rows} == {"given"}
    assert given.mean("bicubic") != pytest.approx(made.mean("bicubic"), abs=1e-3)
    forced = evaluation.evaluate(hr_folder, 2, lr_folder=lr_dir, make_lr=True)
    assert forced.mean("bicubic") == pytest.approx(made.mean("bicubic"), abs=1e-12)


def test_selfexsr_layout_pairs_and_names(tmp_path):
    rng = np.random.default_rng(4)
    root = tmp_path / "myset"
    (root / "HR").mkdir(parents=True)
    srf = root / "image_SRF_2"
    srf.mkdir()
    for i, name in enumerate(["zeta", "alpha"]):
        hr = _smooth_image(rng, 30, 26)
        Image.fromarray(hr).save(root / "HR" / f"{name}.png")
    for i, name in enumerate(["alpha", "zeta"]):  # numbered in name order, as SelfExSR's are
        with Image.open(root / "HR" / f"{name}.png") as im:
            hr = np.asarray(im)
        Image.fromarray(hr).save(srf / f"img_{i + 1:03d}_SRF_2_HR.png")
        Image.fromarray(sr_native.resize(hr, 0.5)).save(srf / f"img_{i + 1:03d}_SRF_2_LR.png")
    for data in (root, srf):
        result = evaluation.evaluate(data, 2)
        assert sorted({r["image"] for r in result.rows}) == ["alpha", "zeta"]
        assert {r["lr"] for r in result.rows} == {"given"}
    with pytest.raises(ValueError, match="another scale"):
        evaluation.evaluate(srf, 3)


def test_model_row_gray_images_and_csv(hr_folder, tmp_path):
    rng = np.random.default_rng(0)
    model = EDSR(2, n_feats=8, n_resblocks=1)
    for _, p in model.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.02
    path = tmp_path / "tiny.safetensors"
    model.save(path)
    result = evaluation.evaluate(hr_folder, 2, model=str(path))
    assert result.methods() == list(evaluation.BASELINES) + ["tiny"]
    assert all(np.isfinite(r["psnr"]) and -1 <= r["ssim"] <= 1 for r in result.rows)
    gray = next(r for r in result.rows if r["image"] == "b" and r["method"] == "tiny")
    with Image.open(hr_folder / "b.png") as im:
        hr = evaluation.mod_crop(np.asarray(im), 2)
    out = sr_native.upscale(sr_native.resize(hr, 0.5), 2, model=model)
    assert out.ndim == 2  # gray in, gray out: compared on the gray values
    assert gray["psnr"] == pytest.approx(metrics.psnr(out, hr, crop_border=2, y_channel=True), abs=1e-9)

    csv_path = tmp_path / "out" / "res.csv"
    result.write_csv(csv_path)
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(result.rows) + len(result.methods())
    mean_row = next(r for r in rows if r["image"] == "MEAN" and r["method"] == "bicubic")
    assert float(mean_row["psnr"]) == pytest.approx(result.mean("bicubic"), abs=1e-4)


def test_eval_command(hr_folder, tmp_path, capsys):
    csv_path = tmp_path / "r.csv"
    assert main(["eval", "--data", str(hr_folder), "--scale", "2", "--csv", str(csv_path), "-q"]) == 0
    printed = capsys.readouterr().out
    for method in evaluation.BASELINES:
        assert method in printed
    assert csv_path.exists()


def test_eval_errors(hr_folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="data folder .*nope' does not exist"):
        evaluation.evaluate(tmp_path / "nope", 2)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no images"):
        evaluation.evaluate(empty, 2)
    with pytest.raises(ValueError, match=r"scale must be one of \(2, 3, 4\)"):
        evaluation.evaluate(hr_folder, 5)
    lr_dir = tmp_path / "lr"
    lr_dir.mkdir()
    # A pair whose given LR is missing or of the wrong size is skipped with a warning naming it;
    # when none is left, ValueError.
    with pytest.warns(DataWarning, match=r"skipped 2 of 2 .*a.png \(FileNotFoundError: no LR image for a.png"):
        with pytest.raises(ValueError, match="no usable image"):
            evaluation.evaluate(hr_folder, 2, lr_folder=lr_dir)
    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(lr_dir / "a.png")
    Image.fromarray(np.zeros((24, 20), np.uint8)).save(lr_dir / "b.png")
    with pytest.warns(DataWarning, match=r"skipped 1 of 2 .*a.png \(ValueError: its LR image is 5x5, expected 25x18"):
        result = evaluation.evaluate(hr_folder, 2, lr_folder=lr_dir)
    assert {r["image"] for r in result.rows} == {"b"}
