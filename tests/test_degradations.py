"""The degradation model (sr_native.degradations): kernels against their
formulas, noise statistics, JPEG, output sizes, determinism, the config,
training on degraded patches (exact resume) and `eval --degrade`."""

import json
import math

import numpy as np
import pytest
from PIL import Image

import sr_native
from sr_native import degradations as D
from sr_native.cli import main
from sr_native.training import data, loop


LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def photo(h=96, w=96):
    """A crop of skimage's astronaut as float32 in [0, 1]."""
    from skimage import data as skdata

    return np.ascontiguousarray(skdata.astronaut()[100:100 + h, 150:150 + w]).astype(np.float32) / 255


def kernel_moments(k):
    """The second moments [[E xx, E xy], [E xy, E yy]] of a kernel (x: columns, y: rows)."""
    half = k.shape[0] // 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1]
    return np.array([[(k * x * x).sum(), (k * x * y).sum()], [(k * x * y).sum(), (k * y * y).sum()]])


# ------------------------------------------------------------------ kernels

KERNELS = {
    "iso": lambda: D.gaussian_kernel(15, 1.7),
    "aniso": lambda: D.gaussian_kernel(21, 2.5, 0.7, 0.6),
    "generalized_iso": lambda: D.generalized_gaussian_kernel(13, 1.3, beta=0.6),
    "generalized_aniso": lambda: D.generalized_gaussian_kernel(17, 2.0, 1.0, -1.1, beta=3.0),
    "plateau_iso": lambda: D.plateau_kernel(11, 1.5, beta=1.4),
    "plateau_aniso": lambda: D.plateau_kernel(19, 2.2, 0.9, 2.0, beta=1.8),
    "sinc": lambda: D.sinc_kernel(21, 1.3),
}


@pytest.mark.parametrize("kind", sorted(KERNELS))
def test_kernels_sum_to_one_and_are_point_symmetric(kind):
    k = KERNELS[kind]()
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)  # k(-x) = k(x): correlation = convolution
    if kind.endswith("iso") and not kind.endswith("aniso") or kind == "sinc":  # radial: every mirror and transpose
        np.testing.assert_allclose(k, k.T, atol=1e-15)
        np.testing.assert_allclose(k, k[::-1], atol=1e-15)
    else:  # a rotated anisotropic kernel is not mirror-symmetric
        assert np.abs(k - k[::-1]).max() > 1e-3


@pytest.mark.parametrize("theta", [0.0, 0.4, math.pi / 2, -2.3])
def test_anisotropic_gaussian_has_the_rotated_covariance(theta):
    # Sigmas of 1.2..2.2 px in a 25-tap window: neither sampling on the grid nor
    # truncation moves the moments by 1e-6 (sigma 0.8 would, by 1e-4).
    sx, sy = 2.2, 1.2
    k = D.gaussian_kernel(25, sx, sy, theta)
    c, s = math.cos(theta), math.sin(theta)
    analytic = np.array([[c * c * sx ** 2 + s * s * sy ** 2, c * s * (sx ** 2 - sy ** 2)],
                         [c * s * (sx ** 2 - sy ** 2), s * s * sx ** 2 + c * c * sy ** 2]])
    np.testing.assert_allclose(kernel_moments(k), analytic, atol=1e-5)
    np.testing.assert_allclose(D.covariance(sx, sy, theta), analytic, atol=1e-12)


def test_generalised_and_plateau_kernels_follow_their_formulas():
    sx, sy, theta, beta = 1.6, 0.9, 0.7, 1.7
    q = np.einsum("...i,ij,...j->...", np.stack(np.meshgrid(np.arange(-5, 6), np.arange(-5, 6)), -1),
                  np.linalg.inv(D.covariance(sx, sy, theta)),
                  np.stack(np.meshgrid(np.arange(-5, 6), np.arange(-5, 6)), -1))
    g = D.generalized_gaussian_kernel(11, sx, sy, theta, beta)
    np.testing.assert_allclose(g / g[5, 5], np.exp(-0.5 * q ** beta), rtol=1e-12)
    p = D.plateau_kernel(11, sx, sy, theta, beta)
    np.testing.assert_allclose(p[5, 5] / p, 1 + q ** beta, rtol=1e-12)
    # beta = 1 is the Gaussian itself.
    np.testing.assert_allclose(D.generalized_gaussian_kernel(11, sx, sy, theta, 1.0),
                               D.gaussian_kernel(11, sx, sy, theta), atol=1e-15)


@pytest.mark.parametrize("cutoff", [math.pi / 3, 2.5])
def test_sinc_spectrum_is_flat_below_its_cutoff_and_small_above(cutoff):
    k = D.sinc_kernel(21, cutoff)
    spectrum = np.abs(np.fft.fft2(k, s=(128, 128)))
    freq = np.fft.fftfreq(128) * 2 * np.pi
    radius = np.hypot(*np.meshgrid(freq, freq))
    passband, stopband = spectrum[radius < 0.6 * cutoff], spectrum[radius > 1.5 * cutoff]
    assert 0.85 < passband.min() and passband.max() < 1.15  # the truncation's ripple, no more
    assert stopband.max() < 0.1


def test_bessel_j1_matches_scipy():
    special = pytest.importorskip("scipy.special", reason="scipy is the reference for J1")
    x = np.linspace(0, 60, 2001)
    np.testing.assert_allclose(D.bessel_j1(x), special.j1(x), atol=1e-13)


def test_blur_is_a_reflect_padded_correlation(rng):
    kernel = rng.random((5, 5))
    kernel /= kernel.sum()
    for shape in [(9, 14, 3), (6, 5), (1, 7, 3)]:
        image = rng.random(shape).astype(np.float32)
        planes = image[..., None] if image.ndim == 2 else image
        padded = np.pad(planes.astype(np.float64), ((2, 2), (2, 2), (0, 0)),
                        mode="reflect" if min(shape[:2]) > 1 else "edge")
        want = sum(kernel[dy, dx] * padded[dy:dy + shape[0], dx:dx + shape[1]]
                   for dy in range(5) for dx in range(5))
        got = D.blur(image, kernel)
        assert got.dtype == np.float32 and got.shape == shape
        np.testing.assert_allclose(got, want.reshape(shape), atol=1e-6)
    flat = np.full((20, 20, 3), 0.3, np.float32)
    np.testing.assert_allclose(D.blur(flat, D.sinc_kernel(21, 1.0)), flat, atol=1e-6)


@pytest.mark.parametrize("bad, err", [(lambda: D.gaussian_kernel(8, 1.0), ValueError),
                                      (lambda: D.gaussian_kernel(7, 0.0), ValueError),
                                      (lambda: D.gaussian_kernel(7.0, 1.0), TypeError),
                                      (lambda: D.sinc_kernel(7, 4.0), ValueError),
                                      (lambda: D.plateau_kernel(7, 1.0, beta=-1), ValueError),
                                      (lambda: D.blur(np.zeros((4, 4)), np.ones((4, 4))), ValueError)])
def test_kernel_arguments_are_checked(bad, err):
    with pytest.raises(err):
        bad()


# -------------------------------------------------------------------- noise

def test_gaussian_noise_has_the_asked_sigma_per_channel_or_gray():
    image = np.full((256, 256, 3), 0.5, np.float32)
    colour = (D.add_gaussian_noise(image, 10.0, np.random.default_rng(1)) - 0.5) * 255
    assert colour.std() == pytest.approx(10.0, rel=0.02) and abs(colour.mean()) < 0.1
    assert abs(np.corrcoef(colour[..., 0].ravel(), colour[..., 1].ravel())[0, 1]) < 0.02  # independent
    gray = D.add_gaussian_noise(image, 10.0, np.random.default_rng(1), gray=True)
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])
    assert ((gray - 0.5) * 255).std() == pytest.approx(10.0, rel=0.02)


def test_poisson_noise_variance_is_the_level_over_the_count():
    # Every 8-bit level appears, so counts are over 256 levels; sample the middle levels, far from clipping.
    ramp = np.tile(np.arange(256, dtype=np.float32) / 255, (64, 1))
    image = np.repeat(ramp[..., None], 3, axis=2)
    scale = 2.0
    noise = D.add_poisson_noise(image, scale, np.random.default_rng(2)) - image
    middle = noise[:, 40:160]
    want = scale ** 2 * (ramp[:, 40:160] / 256).mean()
    assert (middle.astype(np.float64) ** 2).mean() == pytest.approx(want, rel=0.03)
    assert abs(middle.mean()) < 0.05 * math.sqrt(want)
    gray = D.add_poisson_noise(image, scale, np.random.default_rng(2), gray=True)
    np.testing.assert_array_equal(gray[..., 0], gray[..., 1])


# --------------------------------------------------------------------- JPEG

def test_jpeg_quality_40_changes_a_photo_plausibly_and_deterministically():
    image = photo()
    q40, again, q90 = D.jpeg(image, 40), D.jpeg(image, 40), D.jpeg(image, 90)
    np.testing.assert_array_equal(q40, again)
    assert q40.dtype == np.float32 and q40.shape == image.shape
    np.testing.assert_allclose(q40 * 255, np.rint(q40 * 255), atol=1e-4)  # on the 8-bit levels
    error = np.abs(q40 - image).mean() * 255
    assert 1.5 < error < 12  # visible blocking, not a broken codec
    psnr = 10 * math.log10(1 / np.mean((q40.astype(np.float64) - image) ** 2))
    assert 24 < psnr < 38
    assert np.abs(q90 - image).mean() * 255 < 0.6 * error
    with pytest.raises(ValueError, match="quality"):
        D.jpeg(image, 0)


# ------------------------------------------------------------------- config

def test_defaults_are_real_esrgans_and_presets_validate():
    cfg = D.preset("realesrgan")
    assert cfg.kernel_prob == pytest.approx([0.45, 0.25, 0.12, 0.03, 0.12, 0.03])
    assert cfg.blur_sigma == [0.2, 3.0] and cfg.blur_sigma2 == [0.2, 1.5] and cfg.final_sinc_prob == 0.8
    assert cfg.resize_prob == pytest.approx([0.2, 0.7, 0.1]) and cfg.resize_range == [0.15, 1.5]
    assert cfg.noise_range == [1.0, 30.0] and cfg.noise_range2 == [1.0, 25.0] and cfg.jpeg_range == [30.0, 95.0]
    light = D.preset("light")
    assert light.noise_range[1] < cfg.noise_range[1] and light.blur_sigma[1] < cfg.blur_sigma[1]
    assert json.loads(json.dumps(light.to_dict())) == light.to_dict()
    with pytest.raises(ValueError, match="unknown preset 'heavy'"):
        D.preset("heavy")


def test_config_from_a_json_file_keeps_defaults_for_missing_fields(tmp_path):
    path = tmp_path / "deg.json"
    path.write_text(json.dumps({"noise_range": [2, 8], "jpeg_range2": [60, 90]}))
    cfg = D.load_config(path)
    assert cfg.noise_range == [2.0, 8.0] and cfg.jpeg_range2 == [60.0, 90.0] and cfg.blur_sigma == [0.2, 3.0]
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        D.load_config(path)
    with pytest.raises(FileNotFoundError, match="neither a preset"):
        D.load_config(tmp_path / "missing.json")


@pytest.mark.parametrize("fields, err, words", [
    ({"nosie_range": [1, 2]}, ValueError, "nosie_range"),
    ({"noise_range": [5, 1]}, ValueError, r"noise_range.*\[5, 1\]"),
    ({"jpeg_range": [0, 50]}, ValueError, "jpeg_range"),
    ({"kernel_prob": [0.5, 0.5]}, ValueError, "kernel_prob"),
    ({"resize_prob": [0.5, 0.4, 0.4]}, ValueError, "resize_prob.*sum to 1"),
    ({"resize_range": [1.2, 1.5]}, ValueError, "resize_range"),
    ({"kernel_size_max": 20}, ValueError, "kernel_size_max.*20"),
    ({"kernel_list": ["iso", "box"]}, ValueError, "box"),
    ({"sinc_prob": 1.5}, ValueError, "sinc_prob.*1.5"),
    ({"sinc_prob": float("nan")}, ValueError, "sinc_prob"),
    ({"sinc_prob": "0.1"}, TypeError, "sinc_prob"),
    ({"blur_sigma": 2.0}, TypeError, "blur_sigma"),
    ({"resize_antialias": 1}, TypeError, "resize_antialias"),
])
def test_bad_config_fields_are_named(fields, err, words):
    with pytest.raises(err, match=words):
        D.DegradationConfig.from_dict(fields)


# ------------------------------------------------------------------ degrade

@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("hw", [(37, 51), (48, 48), (13, 9)])
def test_lr_has_exactly_the_expected_size(scale, hw):
    hr = np.random.default_rng(hw[0]).random(hw + (3,), dtype=np.float32)
    for seed in range(3):  # different paths through the model
        lr = D.degrade(hr, scale, "realesrgan", np.random.default_rng(seed))
        assert lr.shape == (hw[0] // scale, hw[1] // scale, 3) and lr.dtype == np.float32
        assert 0 <= lr.min() and lr.max() <= 1
        np.testing.assert_allclose(lr * 255, np.rint(lr * 255), atol=1e-4)  # rounded to 8 bits at the end


def test_one_seed_gives_one_result():
    hr = photo(64, 64)
    cfg = D.preset("realesrgan")
    a = D.degrade(hr, 4, cfg, np.random.default_rng(11))
    b = D.degrade(hr, 4, cfg, np.random.default_rng(11))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, D.degrade(hr, 4, cfg, np.random.default_rng(12)))


def near_identity():
    """A config whose every step is (almost) the identity: an area shrink and JPEG at 100."""
    return D.DegradationConfig.from_dict(dict(
        blur_sigma=[1e-3, 1e-3], blur_sigma2=[1e-3, 1e-3], sinc_prob=0.0, sinc_prob2=0.0, final_sinc_prob=0.0,
        resize_prob=[0, 0, 1], gaussian_noise_prob=1.0, noise_range=[0, 0], jpeg_range=[100, 100],
        second_round_prob=0.0, jpeg_range2=[100, 100], resize_modes=["area"], resize_mode_prob=[1.0]))


def test_with_every_step_near_identity_the_lr_is_the_area_shrink():
    # Checks the composition: nothing shifted, flipped or mis-sized on the way.
    hr = photo(60, 72)
    lr = D.degrade(hr, 3, near_identity(), np.random.default_rng(0))
    want = sr_native.resize(hr, size=(20, 24), method="area")
    # On the luma (JPEG's 4:2:0 chroma costs ~2 levels even at quality 100); a
    # shift by one LR pixel costs ~14 levels here.
    assert np.abs((lr - want) @ LUMA).mean() * 255 < 1.0


def test_degrade_checks_its_arguments():
    hr = photo(16, 16)
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="float32"):
        D.degrade((hr * 255).astype(np.uint8), 2, "realesrgan", rng)
    with pytest.raises(TypeError, match="Generator"):
        D.degrade(hr, 2, "realesrgan", 0)
    with pytest.raises(TypeError, match="scale"):
        D.degrade(hr, 2.0, "realesrgan", rng)
    with pytest.raises(ValueError, match=r"\(16, 16\)"):
        D.degrade(hr[..., 0], 2, "realesrgan", rng)
    with pytest.raises(ValueError, match="smaller than the scale"):
        D.degrade(hr[:3], 4, "realesrgan", rng)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        D.degrade(hr * 2, 2, "realesrgan", rng)


# ----------------------------------------------------------------- training

def test_degrading_sampler_same_seed_same_batch(textured_hr_folder):
    pairs = data.PairSet.from_folder(textured_hr_folder, 2, min_lr_size=12)
    sampler = data.DegradingSampler(pairs, 12, 3, "light")
    lr_a, hr_a = sampler.batch_arrays(np.random.default_rng(5))
    lr_b, hr_b = sampler.batch_arrays(np.random.default_rng(5))
    assert lr_a.shape == (3, 3, 12, 12) and hr_a.shape == (3, 3, 24, 24)
    np.testing.assert_array_equal(lr_a, lr_b)
    np.testing.assert_array_equal(hr_a, hr_b)
    lr_c, _ = sampler.batch_arrays(np.random.default_rng(5), patch=8)  # progressive patch sizes
    assert lr_c.shape == (3, 3, 8, 8)


def test_degraded_patches_line_up_with_their_hr_under_augmentation(textured_hr_folder):
    pairs = data.PairSet.from_folder(textured_hr_folder, 2, min_lr_size=12)
    lr, hr = data.DegradingSampler(pairs, 12, 8, near_identity()).batch_arrays(np.random.default_rng(1))
    shrunk = hr.reshape(8, 3, 12, 2, 12, 2).mean(axis=(3, 5))  # area x2 = 2x2 means
    assert np.abs(np.einsum("bchw,c->bhw", lr - shrunk, LUMA)).mean() * 255 < 1.0


def tiny_run(folder, out, **kw):
    opts = dict(scale=2, model="edsr-baseline", model_args=dict(n_feats=8, n_resblocks=1), batch_size=3,
                patch_size=12, lr=1e-3, checkpoint_every=3, val_every=100, seed=7, progress=False,
                degradation="light")
    opts.update(kw)
    return loop.train(folder, out_dir=out, **opts)


def test_degraded_training_resumes_exactly_and_records_its_config(textured_hr_folder, tmp_path):
    whole = tiny_run(textured_hr_folder, tmp_path / "whole", iterations=5)
    tiny_run(textured_hr_folder, tmp_path / "split", iterations=3)
    resumed = tiny_run(textured_hr_folder, tmp_path / "split", iterations=5, resume=True)
    for k, v in whole.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)
    saved = sr_native.load_model(tmp_path / "split" / "model.safetensors").info().provenance
    assert saved["degradation"] == D.preset("light").to_dict()
    assert saved["config"]["degradation"]["second_round_prob"] == 0.5
    _, _, _, _, config, _ = loop.load_checkpoint(tmp_path / "split" / "checkpoint.safetensors")
    assert config["degradation"] == D.preset("light").to_dict()
    # Without the option the bicubic path runs, recorded as such.
    plain = tiny_run(textured_hr_folder, tmp_path / "plain", iterations=1, degradation={})
    assert plain.info().provenance["degradation"] == "bicubic"


def test_training_options_for_degradation_are_checked(textured_hr_folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="'heavy' is neither a preset"):
        tiny_run(textured_hr_folder, tmp_path / "a", iterations=1, degradation="heavy")
    with pytest.raises(ValueError, match="train: degradation must be a preset.*'heavy'"):
        loop.TrainConfig("x", degradation="heavy").validate()  # validation reads no file
    with pytest.raises(ValueError, match="noise_range"):
        tiny_run(textured_hr_folder, tmp_path / "b", iterations=1, degradation={"noise_range": [3, 1]})
    with pytest.raises(ValueError, match="lr_folder"):
        tiny_run(textured_hr_folder, tmp_path / "c", iterations=1, lr_folder=str(textured_hr_folder))
    with pytest.raises(TypeError, match="degradation"):
        tiny_run(textured_hr_folder, tmp_path / "d", iterations=1, degradation=3)


def test_train_command_takes_a_preset_or_a_json_file(textured_hr_folder, tmp_path, capsys):
    spec = tmp_path / "deg.json"
    spec.write_text(json.dumps({"noise_range": [1, 5], "second_round_prob": 0.0}))
    args = ["train", str(textured_hr_folder), "--iterations", "2", "--batch-size", "2", "--patch-size", "8",
            "--model", "fsrcnn-s", "-q", "--degradation"]
    assert main(args + [str(spec), "--out", str(tmp_path / "file")]) == 0
    prov = sr_native.load_model(tmp_path / "file" / "model.safetensors").info().provenance
    assert prov["degradation"]["noise_range"] == [1.0, 5.0] and prov["degradation"]["second_round_prob"] == 0.0
    assert main(args + ["nothing-such", "--out", str(tmp_path / "bad")]) == 2
    assert "neither a preset" in capsys.readouterr().err


# --------------------------------------------------------------- evaluation

def test_spec_parsing_keeps_the_order_and_names_bad_parts():
    assert D.parse_spec("jpeg=40, noise=5,blur=1.2") == [("jpeg", 40), ("noise", 5.0), ("blur", 1.2)]
    assert D.format_spec(D.parse_spec("noise=5,jpeg=40")) == "noise=5,jpeg=40"
    for bad, part in [("jpeg=40,nois=5", "nois=5"), ("jpeg=0", "jpeg=0"), ("jpeg=40.5", "jpeg=40.5"),
                      ("noise=abc", "noise=abc"), ("blur=-1", "blur=-1"), ("noise=300", "noise=300"),
                      ("jpeg", "jpeg"), ("jpeg=40,", "''")]:
        with pytest.raises(ValueError, match=part):
            D.parse_spec(bad)
    with pytest.raises(ValueError, match="empty"):
        D.parse_spec(" ")
    with pytest.raises(TypeError):
        D.parse_spec(40)


def test_spec_noise_matches_its_sigma_and_steps_are_seeded():
    flat = np.full((200, 200, 3), 128, np.uint8)
    noisy = D.apply_spec(flat, D.parse_spec("noise=5"), np.random.default_rng(0)).astype(np.float64) - 128
    assert noisy.std() == pytest.approx(math.sqrt(25 + 1 / 12), rel=0.02)  # plus 8-bit rounding
    image = (photo(64, 64) * 255).astype(np.uint8)
    steps = D.parse_spec("blur=1.2,jpeg=40,noise=5")
    a = D.apply_spec(image, steps, np.random.default_rng(3))
    np.testing.assert_array_equal(a, D.apply_spec(image, steps, np.random.default_rng(3)))
    assert not np.array_equal(a, D.apply_spec(image, steps, np.random.default_rng(4)))
    gray = D.apply_spec(image[..., 0], steps, np.random.default_rng(3))
    assert gray.shape == image.shape[:2] and gray.dtype == np.uint8


@pytest.fixture(scope="module")
def eval_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("set")
    from skimage import data as skdata

    Image.fromarray(skdata.astronaut()[::4, ::4]).save(folder / "astronaut.png")
    Image.fromarray(skdata.chelsea()[:120, :160]).save(folder / "chelsea.png")
    Image.fromarray(skdata.camera()[::4, ::4]).save(folder / "camera.png")  # gray
    return folder


def test_evaluate_degrades_the_lr_reproducibly(eval_set):
    from sr_native import evaluation

    clean = evaluation.evaluate(eval_set, 2, baselines=["bicubic"])
    hurt = evaluation.evaluate(eval_set, 2, baselines=["bicubic"], degrade="jpeg=40,noise=5", degrade_seed=1)
    again = evaluation.evaluate(eval_set, 2, baselines=["bicubic"], degrade="jpeg=40,noise=5", degrade_seed=1)
    assert hurt.degrade == "jpeg=40,noise=5" and {r["lr"] for r in hurt.rows} == {"bicubic+jpeg=40,noise=5"}
    assert hurt.mean("bicubic") == again.mean("bicubic")
    assert clean.mean("bicubic") - 6 < hurt.mean("bicubic") < clean.mean("bicubic") - 0.3
    with pytest.raises(ValueError, match="eval: degrade: bad step 'jpg=40'"):
        evaluation.evaluate(eval_set, 2, baselines=["bicubic"], degrade="jpg=40")
    with pytest.raises(TypeError, match="degrade_seed"):
        evaluation.evaluate(eval_set, 2, baselines=["bicubic"], degrade="jpeg=40", degrade_seed=1.0)


def test_eval_command_prints_the_spec(eval_set, capsys):
    assert main(["eval", "--data", str(eval_set), "--scale", "2", "--degrade", "jpeg=40,noise=5",
                 "--degrade-seed", "3", "-q"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "bicubic+jpeg=40,noise=5 (degrade seed 3)" in header
    assert main(["eval", "--data", str(eval_set), "--degrade", "jpeg=40,blur=x"]) == 2
    assert "'blur=x'" in capsys.readouterr().err


def test_clean_samples_are_the_bicubic_lr_and_their_share_follows_clean_prob(rng):
    """clean_prob: that share of samples skips every step and gets MATLAB's
    antialiased bicubic LR (what the clean models train on); the others are
    degraded. clean_prob 0 draws nothing extra, so other configs keep their streams."""
    from sr_native.resize import resize

    hr = rng.random((48, 40, 3)).astype(np.float32)
    bicubic = resize(hr, size=(12, 10), method="bicubic", antialias=True)
    clean = D.DegradationConfig(clean_prob=1.0).validate()
    np.testing.assert_array_equal(D.degrade(hr, 4, clean, np.random.default_rng(3)), bicubic)
    photo = D.preset("photo")
    assert photo.clean_prob == 0.25 and photo.noise_range == D.preset("light").noise_range
    mild = D.preset("photo-mild")
    assert mild.clean_prob == 0.4 and mild.blur_sigma[1] < photo.blur_sigma[1] and mild.jpeg_range[0] == 35
    draws = [D.degrade(hr, 4, photo, np.random.default_rng(seed)) for seed in range(40)]
    share = np.mean([np.array_equal(lr, bicubic) for lr in draws])
    assert 0.1 <= share <= 0.45, share
    light = D.preset("light")
    np.testing.assert_array_equal(D.degrade(hr, 4, D.DegradationConfig.from_dict(dict(light.to_dict(), clean_prob=0.0)),
                                            np.random.default_rng(5)),
                                  D.degrade(hr, 4, light, np.random.default_rng(5)))
    with pytest.raises(ValueError, match="clean_prob"):
        D.DegradationConfig(clean_prob=1.5).validate()
