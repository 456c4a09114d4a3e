"""PSNR and SSIM: the protocol's Y channel and border crop, cross-checked
against scikit-image on the same inputs (agreement to 1e-10)."""

import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sr_native.metrics import psnr, ssim


@pytest.fixture(scope="module")
def pair():
    a = data.astronaut()[:200, :240]
    noise = np.random.default_rng(0).normal(0, 12, a.shape)
    return a, np.clip(a + noise, 0, 255).astype(np.uint8)


def skimage_ssim(a, b, **kw):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, **kw)


def test_rgb_against_skimage(pair):
    a, b = pair
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-10)
    assert ssim(a, b) == pytest.approx(skimage_ssim(a, b, channel_axis=2, data_range=255), abs=1e-10)


def test_y_channel_and_crop_against_skimage(pair):
    a, b = pair
    weights = np.array([65.481, 128.553, 24.966])
    ya = 16 + (a / 255.0) @ weights
    yb = 16 + (b / 255.0) @ weights
    c = 4
    ya, yb = ya[c:-c, c:-c], yb[c:-c, c:-c]
    assert psnr(a, b, crop_border=c, y_channel=True) == pytest.approx(
        peak_signal_noise_ratio(ya, yb, data_range=255), abs=1e-10)
    assert ssim(a, b, crop_border=c, y_channel=True) == pytest.approx(skimage_ssim(ya, yb, data_range=255), abs=1e-10)


def test_dtypes_and_identity(pair):
    a, b = pair
    assert psnr(a, a) == float("inf")
    assert ssim(a, a) == pytest.approx(1.0)
    # float in [0, 1] and uint16 give the same figures as uint8 on the same values
    assert psnr(a / 255.0, b / 255.0) == pytest.approx(psnr(a, b), abs=1e-9)
    a16, b16 = a.astype(np.uint16) * 257, b.astype(np.uint16) * 257
    assert psnr(a16, b16) == pytest.approx(psnr(a, b), abs=1e-9)
    assert ssim(a16, b16) == pytest.approx(ssim(a, b), abs=1e-9)


def test_bad_input(pair):
    a, b = pair
    with pytest.raises(ValueError, match="same shape"):
        psnr(a, b[:-1])
    with pytest.raises(TypeError, match="same dtype"):
        psnr(a, b.astype(np.float32))
    with pytest.raises(ValueError, match="crop_border"):
        psnr(a, b, crop_border=-1)
    with pytest.raises(ValueError, match="leaves nothing"):
        ssim(a, b, crop_border=200)
    with pytest.raises(TypeError, match="uint8, uint16, float32 or float64"):
        psnr(a.astype(np.int32), b.astype(np.int32))


def test_options_are_not_coerced(pair):
    a, b = pair
    # numpy scalars are real ints and bools; strings, None and floats are refused (test_bad_input.py)
    assert psnr(a, b, crop_border=np.int64(4), y_channel=np.True_) == psnr(a, b, crop_border=4, y_channel=True)
    with pytest.raises(TypeError, match=r"y_channel must be a bool \(True or False\), got str 'False'"):
        psnr(a, b, y_channel="False")  # truthy: it used to compare on Y
    with pytest.raises(TypeError, match="crop_border must be an int, got NoneType"):
        ssim(a, b, crop_border=None)
    # A float image in 0..255 is not in [0, 1]: an error, not a PSNR against the wrong peak.
    with pytest.raises(ValueError, match=r"float images must be in \[0, 1\], a holds"):
        psnr(a.astype(np.float32), b.astype(np.float32))
