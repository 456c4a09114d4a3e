"""The weight files that ship with the package (weights/*.safetensors): each
loads by name, records that sr_native's own training loop made it, upscales an
image the project can always use (skimage.data) better than bicubic does, and,
with ../shared/data, scores the Set5 / Set14 PSNR that README.md and
weights/README.md state for it (so the documented table cannot drift from the
files)."""

import numpy as np
import pytest

import sr_native
from sr_native import evaluation, metrics

# name: (Set5, Set14) mean PSNR in dB from `sr-native eval --data ../shared/data/SET
# --scale S --model NAME`, as weights/README.md and the README's quality table state.
DOCUMENTED_PSNR = {
    "edsr-baseline-x2": (37.626, 33.027),
    "edsr-baseline-x3": (33.949, 29.814),
    "edsr-baseline-x4": (31.604, 28.101),
    "wdsr-b-x2": (36.846, 32.499),
    "wdsr-b-x3": (33.166, 29.501),
    "wdsr-b-x4": (30.905, 27.746),
    "espcn-x2": (36.278, 32.108),
    "espcn-x3": (32.202, 28.851),
    "espcn-x4": (29.628, 26.831),
    "fsrcnn-x2": (36.573, 32.329),
    "fsrcnn-x3": (32.508, 29.112),
    "fsrcnn-x4": (29.994, 27.078),
    "srcnn-x2": (35.314, 31.512),
    "srcnn-x3": (31.374, 28.317),
    "srcnn-x4": (29.146, 26.535),
    "photo-x2": (36.577, 32.094),
    "photo-x4": (30.798, 27.542),
}
DOCUMENTED_TOL = 0.01  # the tables give two or three decimals

# Least gain over bicubic (dB, Y channel) on the astronaut crop below, per
# scale, for the large networks and for the small fast ones (SRCNN, FSRCNN,
# ESPCN: a few tens of thousands of parameters); what the shipped files reach
# there is printed by the test.
MIN_GAIN_OVER_BICUBIC = {2: 1.5, 3: 1.0, 4: 0.7}
MIN_GAIN_SMALL = {2: 0.8, 3: 0.5, 4: 0.3}
SMALL_NETWORKS = ("srcnn", "fsrcnn", "espcn")

# The file name's stem -> the architecture and the training preset it records.
ARCHITECTURE_OF = {"edsr-baseline": "edsr", "wdsr-b": "wdsr", "srcnn": "srcnn", "fsrcnn": "fsrcnn", "espcn": "espcn",
                   "photo": "edsr"}
PRESET_OF = {"photo": "edsr-baseline"}  # where the stem is not the training preset's name

# The real-photo models (issue 19): Set14 PSNR (Y) with its LR images JPEG-compressed at
# quality 40 and given Gaussian noise of sigma 5 (`sr-native eval --degrade jpeg=40,noise=5
# --degrade-seed 0`), for bicubic, the clean network of the same scale and the photo model,
# as weights/README.md states them; and each photo model's degradation preset.
DEGRADE_SPEC = "jpeg=40,noise=5"
DOCUMENTED_DEGRADED_PSNR = {  # name: (bicubic, edsr-baseline-xS, photo-xS)
    "photo-x2": (27.632, 27.108, 27.763),
    "photo-x4": (24.455, 24.223, 24.813),
}
PHOTO_PRESET = {"photo-x2": "photo-mild", "photo-x4": "photo"}


def scale_of(name):
    return int(name.rsplit("-x", 1)[1])


def stem_of(name):
    return name.rsplit("-x", 1)[0]


def test_every_shipped_file_is_documented():
    assert sorted(sr_native.shipped_models()) == sorted(DOCUMENTED_PSNR)


def test_upscale_defaults_to_a_shipped_network_at_every_scale():
    shipped = set(sr_native.shipped_models())
    for scale in (2, 3, 4):
        assert f"edsr-baseline-x{scale}" in shipped


@pytest.mark.parametrize("name", sorted(DOCUMENTED_PSNR))
def test_shipped_file_provenance(name):
    info = sr_native.load_model(name).info()
    assert info.scale == scale_of(name)
    assert info.architecture == ARCHITECTURE_OF[stem_of(name)]
    prov = info.provenance
    assert prov["trained_by"] == "sr_native.train"
    assert prov["config"]["scale"] == scale_of(name)
    assert prov["config"]["model"] == PRESET_OF.get(stem_of(name), stem_of(name))
    assert prov["iterations"] > 0 and prov["command"]


@pytest.fixture(scope="module")
def astronaut_hr():
    data = pytest.importorskip("skimage.data")
    # Face, helmet and flag: edges and texture. 240 is a multiple of 2, 3 and 4.
    return np.ascontiguousarray(data.astronaut()[20:260, 140:380])


@pytest.mark.parametrize("name", sorted(DOCUMENTED_PSNR))
def test_shipped_network_beats_bicubic(name, astronaut_hr):
    scale = scale_of(name)
    lr = sr_native.resize(astronaut_hr, 1 / scale)
    ours = sr_native.upscale(lr, scale, model=name)
    bicubic = sr_native.resize(lr, scale)
    assert ours.shape == bicubic.shape == astronaut_hr.shape and ours.dtype == np.uint8
    p_ours = metrics.psnr(ours, astronaut_hr, crop_border=scale, y_channel=True)
    p_bic = metrics.psnr(bicubic, astronaut_hr, crop_border=scale, y_channel=True)
    print(f"{name}: {p_ours:.2f} dB vs bicubic {p_bic:.2f} dB")
    gain = (MIN_GAIN_SMALL if stem_of(name) in SMALL_NETWORKS else MIN_GAIN_OVER_BICUBIC)[scale]
    assert p_ours > p_bic + gain, (p_ours, p_bic)


@pytest.mark.parametrize("name", sorted(DOCUMENTED_PSNR))
def test_shipped_network_scores_its_documented_psnr(shared_data, name):
    scale = scale_of(name)
    for set_name, want in zip(("set5", "set14"), DOCUMENTED_PSNR[name]):
        result = evaluation.evaluate(shared_data / set_name, scale, model=name, baselines=())
        got = result.mean(result.methods()[0])
        assert abs(got - want) <= DOCUMENTED_TOL, (set_name, got, want)


@pytest.mark.parametrize("name", sorted(DOCUMENTED_DEGRADED_PSNR))
def test_photo_model_records_its_degradations(name):
    from sr_native import degradations

    prov = sr_native.load_model(name).info().provenance
    assert prov["degradation"] == degradations.preset(PHOTO_PRESET[name]).to_dict()


@pytest.mark.parametrize("name", sorted(DOCUMENTED_DEGRADED_PSNR))
def test_photo_model_beats_bicubic_and_the_clean_network_on_degraded_input(shared_data, name):
    """On Set14 with JPEG (quality 40) and noise (sigma 5) in its LR images the
    photo model scores its documented PSNR, above bicubic (by 0.13 dB at x2,
    0.36 at x4: short of the issue's "clear margin") and well above the clean
    network, which does worse than bicubic there."""
    scale = scale_of(name)
    want_bicubic, want_clean, want_photo = DOCUMENTED_DEGRADED_PSNR[name]
    got = {}
    for model in (f"edsr-baseline-x{scale}", name):
        result = evaluation.evaluate(shared_data / "set14", scale, model=model, baselines=("bicubic",),
                                     degrade=DEGRADE_SPEC, degrade_seed=0)
        got["bicubic"], got[model] = result.mean("bicubic"), result.mean(result.methods()[-1])
    for method, want in (("bicubic", want_bicubic), (f"edsr-baseline-x{scale}", want_clean), (name, want_photo)):
        assert abs(got[method] - want) <= DOCUMENTED_TOL, (method, got[method], want)
    assert got[name] > got["bicubic"] + 0.1 and got[name] > got[f"edsr-baseline-x{scale}"] + 0.5, got
