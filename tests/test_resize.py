"""sr_native.resize: MATLAB imresize reproduction, Pillow agreement, fast vs
reference, invariants and bad input."""

import math

import numpy as np
import pytest

import sr_native

METHODS = ["nearest", "bilinear", "bicubic", "lanczos3", "area"]
DTYPES = [np.uint8, np.uint16, np.float32]


def _random_image(rng, shape, dtype):
    if dtype == np.float32:
        return rng.standard_normal(shape).astype(np.float32)
    return rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


# ---------------------------------------------------------------- MATLAB
def _load(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.array(im)


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "ref"])
@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("dataset", ["set5", "set14"])
def test_matlab_lr_reproduction(shared_data, dataset, scale, reference):
    """resize(HR, 1/s) reproduces the MATLAB-made LR images (imresize bicubic,
    antialias on). Misses sit on the image border (checked in development)."""
    folder = shared_data / dataset / f"image_SRF_{scale}"
    hr_files = sorted(folder.glob("*_HR.png"))
    assert hr_files, f"no HR images in {folder}"
    total = within1 = exact = 0
    max_diff = 0
    for hr_path in hr_files:
        hr = _load(hr_path)
        lr = _load(hr_path.with_name(hr_path.name.replace("_HR", "_LR")))
        out = sr_native.resize(hr, 1 / scale, reference=reference)
        assert out.shape == lr.shape, hr_path.name  # the ceil rule, 1/3 included
        by_size = sr_native.resize(hr, size=lr.shape[:2], reference=reference)
        np.testing.assert_array_equal(by_size, out)
        d = np.abs(out.astype(np.int32) - lr)
        total += d.size
        within1 += int((d <= 1).sum())
        exact += int((d == 0).sum())
        max_diff = max(max_diff, int(d.max()))
    pct1, pct0 = 100 * within1 / total, 100 * exact / total
    print(f"\nMATLAB {dataset} x{scale} {'ref' if reference else 'fast'}: "
          f"within 1 level {pct1:.3f}%, exact {pct0:.3f}%, max diff {max_diff}")
    assert pct1 >= 99.0
    assert pct0 >= 98.0  # rounding the intermediate image as MATLAB does gives ~99%


# ---------------------------------------------------------------- Pillow
# Pillow uses the same filters and pixel mapping (bicubic a = -0.5, support
# widened when shrinking) but (1) renormalises the truncated kernel at the
# border where MATLAB mirrors, (2) resizes width first where MATLAB resizes
# the smaller scale first, rows on a tie, with the clamped uint8 intermediate
# depending on the order, (3) its box filter is (-0.5, 0.5], MATLAB's
# [-0.5, 0.5), which matters when a box edge lands exactly on a pixel centre.
# So we compare the interior (a margin of the filter's support, in output
# pixels), with Pillow's two 1-D passes run in MATLAB's order, and "area" only
# at integer shrink factors (no box edge on a pixel centre).
_PIL = {"bicubic": ("BICUBIC", 2.0), "bilinear": ("BILINEAR", 1.0),
        "lanczos3": ("LANCZOS", 3.0), "area": ("BOX", 0.5)}


def _pillow_matlab_order(img, oh, ow, method):
    from PIL import Image
    flt = getattr(Image.Resampling, _PIL[method][0])
    pim = Image.fromarray(img)
    ih, iw = img.shape[:2]
    if ow / iw < oh / ih:  # width first
        return np.array(pim.resize((ow, ih), flt).resize((ow, oh), flt))
    return np.array(pim.resize((iw, oh), flt).resize((ow, oh), flt))


def _margin(method, scale):
    return math.ceil(_PIL[method][1] * max(scale, 1.0)) + 1


_PILLOW_FACTORS = [2, 2.5, 3, 0.5, 0.37, 1 / 3, 0.25]
_PILLOW_SIZE = (60, 84)


def _integer_shrink(factor):
    ih, iw = _PILLOW_SIZE
    return factor >= 1 or (ih % round(ih * factor) == 0 and iw % round(iw * factor) == 0)


# "area" only where no box edge lands on a pixel centre (see above).
@pytest.mark.parametrize("method,factor", [
    (m, f) for m in ["bicubic", "bilinear", "lanczos3", "area"] for f in _PILLOW_FACTORS
    if m != "area" or _integer_shrink(f)])
def test_pillow_interior(rng, method, factor):
    """One axis at a time (one pass each, so the order of passes plays no part):
    the interior is within 1 level everywhere (the last bit is Pillow's 22-bit
    fixed-point weights). Both axes, Pillow's passes run in MATLAB's order: a
    1-level difference in the uint8 intermediate can carry through the second
    pass, so within 1 on >= 99.9% and never more than 2."""
    ih, iw = _PILLOW_SIZE
    oh, ow = round(ih * factor), round(iw * factor)
    img = rng.integers(0, 256, (ih, iw, 3), dtype=np.uint8)  # noise: the hardest case
    mh, mw = _margin(method, oh / ih), _margin(method, ow / iw)
    figures = []
    for size, crop in [((oh, iw), np.s_[mh:oh - mh, :]), ((ih, ow), np.s_[:, mw:ow - mw]),
                       ((oh, ow), np.s_[mh:oh - mh, mw:ow - mw])]:
        ours = sr_native.resize(img, size=size, method=method).astype(np.int32)
        theirs = _pillow_matlab_order(img, *size, method).astype(np.int32)
        d = np.abs(ours - theirs)[crop]
        assert d.size > 0
        figures.append(f"{size}: interior within 1 {100 * (d <= 1).mean():.3f}% "
                       f"exact {100 * (d == 0).mean():.2f}% max {d.max()}; whole image within 1 "
                       f"{100 * (np.abs(ours - theirs) <= 1).mean():.2f}%")
        if size == (oh, ow) and oh != ih and ow != iw:
            assert (d <= 1).mean() >= 0.999 and d.max() <= 2
        else:
            assert d.max() <= 1
    print(f"\nPillow {method} x{factor:.3g}: " + " | ".join(figures))


@pytest.mark.parametrize("method", ["bicubic", "bilinear", "lanczos3", "area"])
@pytest.mark.parametrize("size", [(1020, 1360), (128, 170)])  # x2 up, x0.25 down
def test_pillow_2d_natural_image(shared_data, method, size):
    """Pillow's own 2-D resize (width first) on a photo: interior within 1 level
    on >= 99.5% of values; the order of the passes and the clamping of the
    uint8 intermediate account for the rest."""
    from PIL import Image
    img = _load(shared_data / "set14" / "image_SRF_4" / "img_009_SRF_4_HR.png")[:510, :680]
    oh, ow = size
    ours = sr_native.resize(img, size=size, method=method).astype(np.int32)
    flt = getattr(Image.Resampling, _PIL[method][0])
    theirs = np.array(Image.fromarray(img).resize((ow, oh), flt)).astype(np.int32)
    m = _margin(method, oh / img.shape[0])
    d = np.abs(ours - theirs)[m:-m, m:-m]
    print(f"\nPillow 2-D {method} {size}: interior within 1 {100 * (d <= 1).mean():.4f}%, "
          f"max {d.max()}")
    assert (d <= 1).mean() >= 0.995


# ------------------------------------------------------- fast vs reference
_SHAPES = [(1, 1), (1, 7), (7, 1), (5, 9), (13, 8), (31, 17)]


def _check_close(fast, ref, x, max_frac=1.0):
    """Fast (float accumulation) vs reference (double, as MATLAB).

    float32: 1e-5 relative to the input's magnitude. Integers: the fast path
    re-sums in double, with the reference's own taps, every value within float
    error of a .5 tie (unless its float sums are provably exact), so the two
    are equal but for rare values whose float sum strays outside that band:
    at most 1 level, on a tiny fraction (13 in 1.7e9 values in a fuzz run)."""
    assert fast.shape == ref.shape and fast.dtype == ref.dtype
    if fast.dtype == np.float32:
        tol = 1e-5 * max(1.0, float(np.abs(x).max()))
        np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=tol)
    else:
        d = np.abs(fast.astype(np.int64) - ref.astype(np.int64))
        assert d.max(initial=0) <= 1
        assert (d != 0).mean() <= max_frac


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4, 5])
def test_fast_matches_reference(isa, rng, dtype, channels):
    for shape in _SHAPES:
        full = shape if channels is None else shape + (channels,)
        x = _random_image(rng, full, dtype)
        for method in METHODS:
            for scale in (0.37, 0.5, 1, 2, 2.5, 3):
                for antialias in (True, False):
                    fast = sr_native.resize(x, scale, method=method, antialias=antialias)
                    ref = sr_native.resize(x, scale, method=method, antialias=antialias,
                                           reference=True)
                    _check_close(fast, ref, x)
        # unequal axes, both orders of the passes
        for size in [(shape[0] * 3, max(1, shape[1] // 2)), (max(1, shape[0] // 3), shape[1] * 2 + 1)]:
            for method in METHODS:
                _check_close(sr_native.resize(x, size=size, method=method),
                             sr_native.resize(x, size=size, method=method, reference=True), x)


def test_fast_matches_reference_large_rows(isa, rng):
    """The vectorised row kernels on full-width rows: C = 3 and 4 (the fast
    cases), integer enlargements (the polyphase path, r * C <= 64) and
    non-integer scales (bilinear x2.5 has exact ties on ~10% of values);
    off by one on at most 0.1% of values (in practice none)."""
    for c in (1, 2, 3, 4, 5):
        x = rng.integers(0, 256, (37, 301, c), dtype=np.uint8)
        for method in METHODS:
            for scale in (2, 3, 4, 0.37, 2.5):
                fast = sr_native.resize(x, scale, method=method)
                ref = sr_native.resize(x, scale, method=method, reference=True)
                _check_close(fast, ref, x, max_frac=0.001)
    x = rng.integers(0, 256, (40, 90, 3), dtype=np.uint8)
    for size in [(80, 180), (80, 181), (120, 270), (20, 360)]:  # x2 both, x2 + 1 column, ...
        _check_close(sr_native.resize(x, size=size), sr_native.resize(x, size=size, reference=True),
                     x, max_frac=0.001)


# -------------------------------------------------------------- invariants
@pytest.mark.parametrize("reference", [False, True], ids=["fast", "ref"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("method", METHODS)
def test_constant_stays_constant(method, dtype, reference):
    value = {np.uint8: 200, np.uint16: 51234, np.float32: -3.25}[dtype]
    x = np.full((19, 23, 3), value, dtype=dtype)
    for scale in (0.37, 0.5, 2, 2.5):
        y = sr_native.resize(x, scale, method=method, reference=reference)
        if dtype == np.float32:
            np.testing.assert_allclose(y, value, rtol=1e-6)
        else:
            assert (y == value).all()


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "ref"])
@pytest.mark.parametrize("method", METHODS)
def test_scale_one_is_identity(rng, method, reference):
    for dtype in DTYPES:
        x = _random_image(rng, (17, 12, 3), dtype)
        y = sr_native.resize(x, 1, method=method, reference=reference)
        np.testing.assert_array_equal(y, x)
        np.testing.assert_array_equal(sr_native.resize(x, size=(17, 12), method=method), x)


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "ref"])
def test_nearest_integer_upscale_repeats(rng, reference):
    x = rng.integers(0, 256, (9, 14, 3), dtype=np.uint8)
    for k in (2, 3, 4):
        y = sr_native.resize(x, k, method="nearest", reference=reference)
        np.testing.assert_array_equal(y, np.repeat(np.repeat(x, k, 0), k, 1))
        # and area shrinking by k averages k x k blocks back to x
        back = sr_native.resize(y, 1 / k, method="area", reference=reference)
        np.testing.assert_array_equal(back, x)


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "ref"])
def test_uint16_keeps_precision(reference):
    ramp = (np.arange(40, dtype=np.uint16) * 1000 + 7).reshape(5, 8)
    y = sr_native.resize(ramp, 2, method="bilinear", reference=reference)
    assert y.dtype == np.uint16
    assert (y % 256 != 0).any() and len(np.unique(y)) > 40
    # an exact linear ramp along a row stays linear inside (not 8-bit steps)
    x = np.tile(np.arange(0, 64000, 1000, dtype=np.uint16), (3, 1))
    y = sr_native.resize(x, size=(3, 128), method="bilinear", reference=reference)
    np.testing.assert_array_equal(y[:, 1:-1], np.tile(np.arange(250, 63000, 500), (3, 1)))


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "ref"])
def test_float32_not_clamped(reference):
    x = np.zeros((8, 8), np.float32)
    x[:, 4:] = 1.0
    y = sr_native.resize(x, 2, method="bicubic", reference=reference)
    assert y.dtype == np.float32
    assert y.min() < 0 and y.max() > 1  # bicubic overshoot survives
    x16 = (x * 65535).astype(np.uint16)
    y16 = sr_native.resize(x16, 2, method="bicubic", reference=reference)
    assert y16.min() == 0 and y16.max() == 65535  # integers clamp


def test_bicubic_convention_a_minus_half():
    """Keys a = -0.5: upscaling x2 puts weights (-3, 29, 111, -9)/128 on the taps."""
    x = np.zeros((1, 9), np.float32)
    x[0, 4] = 128.0
    y = sr_native.resize(x, size=(1, 18), method="bicubic", reference=True)
    np.testing.assert_allclose(y[0, 5:13], [-3, -9, 29, 111, 111, 29, -9, -3], atol=1e-5)


def test_output_shape_rule():
    x = np.zeros((255, 254, 3), np.uint8)
    assert sr_native.resize(x, 1 / 3).shape == (85, 85, 3)   # ceil(254/3) = 85
    assert sr_native.resize(x, 0.5).shape == (128, 127, 3)
    assert sr_native.resize(x, 1.5).shape == (383, 381, 3)
    assert sr_native.resize(x, 2).shape == (510, 508, 3)
    assert sr_native.resize(x[:, :, 0], 0.001).shape == (1, 1)
    for n in range(3, 2000, 3):  # 1/3 never gives one too many
        assert sr_native.resize(np.zeros((n, 1), np.uint8), 1 / 3).shape == (n // 3, 1)
    assert sr_native.resize(np.zeros((10, 10), np.uint8), 0.7).shape == (7, 7)  # 10*0.7 = 7.000000000000001
    assert sr_native.resize(x, size=(7, 300)).shape == (7, 300, 3)


def test_grey_and_noncontiguous(rng):
    x = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    view = x[::2, ::-1, 1]
    np.testing.assert_array_equal(sr_native.resize(view, 0.5),
                                  sr_native.resize(np.ascontiguousarray(view), 0.5))
    y = sr_native.resize(x[:, :, 1], 0.5)
    assert y.shape == (20, 30)
    np.testing.assert_array_equal(y, sr_native.resize(x, 0.5)[:, :, 1])


def test_lanczos_alias(rng):
    x = rng.integers(0, 256, (10, 11), dtype=np.uint8)
    np.testing.assert_array_equal(sr_native.resize(x, 1.7, method="lanczos"),
                                  sr_native.resize(x, 1.7, method="lanczos3"))


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.bool_, np.int8, np.float16])
def test_bad_dtype(dtype):
    with pytest.raises(TypeError, match="image"):
        sr_native.resize(np.zeros((4, 4), dtype), 2)


def test_not_an_array():
    with pytest.raises(TypeError, match="image"):
        sr_native.resize([[1, 2], [3, 4]], 2)


@pytest.mark.parametrize("shape", [(4,), (2, 2, 2, 2), (0, 4), (4, 0, 3), (4, 4, 0)])
def test_bad_shape(shape):
    with pytest.raises(ValueError, match=r"image.*\(|\(.*image"):
        sr_native.resize(np.zeros(shape, np.uint8), 2)


@pytest.mark.parametrize("scale", [0, -1, -0.5, float("nan"), float("inf")])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match="scale"):
        sr_native.resize(np.zeros((4, 4), np.uint8), scale)


@pytest.mark.parametrize("size", [(0, 4), (4, -1), (-2, -2)])
def test_bad_size(size):
    with pytest.raises(ValueError, match="size"):
        sr_native.resize(np.zeros((4, 4), np.uint8), size=size)


def test_bad_size_shape_and_types():
    x = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match="size"):
        sr_native.resize(x, size=(4, 4, 4))
    with pytest.raises(TypeError, match="size"):
        sr_native.resize(x, size=(4.5, 4))
    with pytest.raises(TypeError, match="scale"):
        sr_native.resize(x, "2")


def test_scale_and_size_exclusive():
    x = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match="scale and size.*both"):
        sr_native.resize(x, 2, size=(8, 8))
    with pytest.raises(ValueError, match="scale and size.*neither"):
        sr_native.resize(x)


def test_unknown_method():
    with pytest.raises(ValueError, match="method.*'cubic'"):
        sr_native.resize(np.zeros((4, 4), np.uint8), 2, method="cubic")
    with pytest.raises(TypeError, match="method"):
        sr_native.resize(np.zeros((4, 4), np.uint8), 2, method=3)


def test_scale_too_small_for_antialias():
    x = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match="scale .* too small"):
        sr_native.resize(x, 1e-9)
    assert sr_native.resize(x, 1e-9, antialias=False).shape == (1, 1)


def test_overflow_is_memory_error():
    x = np.zeros((2, 2, 3), np.uint8)
    with pytest.raises(MemoryError, match="resize"):
        sr_native.resize(x, 1e300)
    with pytest.raises(MemoryError, match="resize"):
        sr_native.resize(x, size=(2**31, 2**31))
    with pytest.raises(MemoryError, match="resize"):  # the binding's own check
        sr_native._core.resize(x, 2**40, 2**22, 1.0, 1.0, 2, True, False)


# ------------------------------------------------------------ NaN and infinity
# The rule (cpp/include/sr_native/resize.h), the same for fast and reference:
# per pass, an input value reaches exactly the outputs that have it as a tap
# of non-zero weight; zero-weight taps (padding of short rows, kernel zeros)
# are skipped, never multiplied (0 * NaN would be NaN).

@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic", "lanczos3", "area"])
@pytest.mark.parametrize("hw", [(5, 7), (1, 6), (9, 4)])
def test_nan_reaches_exactly_its_nonzero_taps(isa, method, hw, rng):
    h, w = hw
    for scale in (0.5, 1 / 3, 0.7, 1.5, 2, 3):
        for pos in np.ndindex(h, w):
            img = rng.random((h, w, 2)).astype(np.float32)
            img[pos[0], pos[1], 1] = np.nan
            fast = sr_native.resize(img, scale, method=method)
            slow = sr_native.resize(img, scale, method=method, reference=True)
            np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow), err_msg=f"{scale} {pos}")
            assert not np.isnan(slow[..., 0]).any()  # the other channel never sees it
            # Independent of the NaN path: the outputs a one-hot image reaches
            # (non-zero taps).
            onehot = np.zeros((h, w), np.float32)
            onehot[pos] = 1.0
            reached = sr_native.resize(onehot, scale, method=method, reference=True) != 0
            if method == "lanczos3":  # mirrored lobes can cancel exactly in the one-hot image
                assert (reached <= np.isnan(slow[..., 1])).all(), (scale, pos)
            else:
                np.testing.assert_array_equal(np.isnan(slow[..., 1]), reached, err_msg=f"{scale} {pos}")


def test_inf_follows_the_same_rule(isa, rng):
    img = rng.random((24, 30)).astype(np.float32)
    img[0, 29] = np.inf
    img[13, 0] = -np.inf
    for method in ("bilinear", "bicubic", "lanczos3"):
        for scale in (0.5, 2, 1.3):
            fast = sr_native.resize(img, scale, method=method)
            slow = sr_native.resize(img, scale, method=method, reference=True)
            np.testing.assert_array_equal(fast, slow)  # the same kernel for non-finite images
            finite = img.copy()
            finite[~np.isfinite(finite)] = 0
            # Outputs that do not take an infinite pixel stay finite and agree with the finite image's.
            ok = np.isfinite(slow)
            assert ok.any() and not ok.all()
            np.testing.assert_allclose(slow[ok], sr_native.resize(finite, scale, method=method,
                                                                   reference=True)[ok], rtol=1e-6)
