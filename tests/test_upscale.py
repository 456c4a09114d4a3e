"""sr_native.upscale: tiling equals the whole image, every input kind and dtype
round-trips, gray/alpha/uint16 handling, self-ensemble, value ranges, the
memory check, and clear errors. Exact tiling across the Winograd path, in
depth: test_tiling_exact.py."""

import numpy as np
import pytest
from PIL import Image

import sr_native
from sr_native.models import EDSR, WDSR


def randomize(model, seed=0, std=0.05):
    rng = np.random.default_rng(seed)
    for _, p in model.named_parameters():
        p[...] = rng.standard_normal(p.shape) * std
    return model


@pytest.fixture(scope="module")
def edsr2():
    return randomize(EDSR(2, n_feats=8, n_resblocks=2))


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:29, 0:41]
    base = 128 + 80 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    rgb = np.stack([base, base[::-1], np.roll(base, 9, axis=1)], axis=-1) + rng.normal(0, 6, (29, 41, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("model", [
    EDSR(2, n_feats=8, n_resblocks=2), EDSR(3, n_feats=8, n_resblocks=1), EDSR(4, n_feats=8, n_resblocks=1),
    WDSR(2, "a", n_feats=4, n_resblocks=2), WDSR(3, "b", n_feats=8, n_resblocks=2),
], ids=["edsr2", "edsr3", "edsr4", "wdsr-a2", "wdsr-b3"])
@pytest.mark.parametrize("tile", [16, 17, 23])
def test_tiled_equals_untiled(model, tile, image):
    randomize(model, seed=tile)
    s = model.scale
    image = np.tile(image, (3, 3, 1))  # 87x123: several tiles despite the overlap
    whole = sr_native.upscale(image, s, model=model, tile=None)
    tiled = sr_native.upscale(image, s, model=model, tile=tile)
    assert tiled.shape == (87 * s, 123 * s, 3)
    np.testing.assert_array_equal(tiled, whole)
    f = image.astype(np.float32) / 255
    np.testing.assert_array_equal(sr_native.upscale(f, s, model=model, tile=tile),
                                  sr_native.upscale(f, s, model=model, tile=None))


def test_auto_tile_equals_whole_image(edsr2, image):
    np.testing.assert_array_equal(sr_native.upscale(image, 2, model=edsr2),
                                  sr_native.upscale(image, 2, model=edsr2, tile=None))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("layout", ["hw", "hw1", "hw3", "hw4"])
def test_every_kind_round_trips(dtype, layout, edsr2, image):
    peak = {np.uint8: 255, np.uint16: 65535}.get(dtype, 1.0)
    rgba = np.concatenate([image, image[..., :1]], axis=-1).astype(np.float64) / 255.0
    src = {"hw": rgba[..., 0], "hw1": rgba[..., :1], "hw3": rgba[..., :3], "hw4": rgba}[layout]
    src = (np.rint(src * peak) if peak != 1.0 else src).astype(dtype)
    out = sr_native.upscale(src, 2, model=edsr2, tile=16)
    assert out.dtype == src.dtype
    assert out.shape == (src.shape[0] * 2, src.shape[1] * 2) + src.shape[2:]
    if peak == 1.0:
        assert out.min() >= 0.0 and out.max() <= 1.0


def test_gray_goes_through_the_rgb_network(edsr2, image):
    gray = image[..., 1]
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    through_rgb = sr_native.upscale(rgb.astype(np.float32) / 255, 2, model=edsr2)
    want = np.rint(np.clip(through_rgb.mean(axis=-1), 0, 1) * 255)
    got = sr_native.upscale(gray, 2, model=edsr2)
    assert np.abs(got.astype(int) - want).max() <= 1  # float32 rounding at .5


def test_alpha_is_resized_separately(edsr2, image):
    alpha = image[..., 2]
    rgba = np.concatenate([image, alpha[..., None]], axis=-1)
    out = sr_native.upscale(rgba, 2, model=edsr2)
    np.testing.assert_array_equal(out[..., 3], sr_native.resize(alpha, size=(58, 82), method="bicubic"))
    np.testing.assert_array_equal(out[..., :3], sr_native.upscale(image, 2, model=edsr2))


def test_uint16_keeps_16_bit_precision(edsr2, image):
    src16 = image.astype(np.uint16) * 257 + 100  # values between 8-bit levels
    out16 = sr_native.upscale(src16, 2, model=edsr2)
    outf = sr_native.upscale(src16.astype(np.float32) / 65535, 2, model=edsr2)
    assert np.abs(out16.astype(np.int64) - np.rint(outf * 65535)).max() <= 1
    assert np.count_nonzero(out16 % 257) > out16.size // 2  # not 8-bit values scaled up


def test_pil_images_round_trip(edsr2, image):
    for mode, arr in [("RGB", image), ("L", image[..., 0]), ("RGBA", np.dstack([image, image[..., 0]]))]:
        out = sr_native.upscale(Image.fromarray(arr, mode), 2, model=edsr2)
        assert isinstance(out, Image.Image) and out.mode == mode and out.size == (82, 58)
        np.testing.assert_array_equal(np.asarray(out), sr_native.upscale(arr, 2, model=edsr2))


def test_self_ensemble_is_the_mean_of_eight_transforms(edsr2, image):
    x = image.astype(np.float32) / 255
    got = sr_native.upscale(x, 2, model=edsr2, self_ensemble=True, tile=None)
    net_in = np.ascontiguousarray(x.transpose(2, 0, 1))[None]
    outs = []
    for t in (False, True):
        for fy in (False, True):
            for fx in (False, True):
                v = net_in[:, :, ::-1] if fy else net_in
                v = v[:, :, :, ::-1] if fx else v
                v = v.transpose(0, 1, 3, 2) if t else v
                y = edsr2(np.ascontiguousarray(v))
                y = y.transpose(0, 1, 3, 2) if t else y
                y = y[:, :, :, ::-1] if fx else y
                outs.append(y[:, :, ::-1] if fy else y)
    want = np.clip(np.mean(outs, axis=0)[0].transpose(1, 2, 0), 0, 1)
    np.testing.assert_allclose(got, want, atol=1e-6)
    tiled = sr_native.upscale(x, 2, model=edsr2, self_ensemble=True, tile=16)
    np.testing.assert_array_equal(tiled, got)


def test_model_from_path(edsr2, image, tmp_path):
    edsr2.save(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(sr_native.upscale(image, 2, model=str(tmp_path / "m.safetensors")),
                                  sr_native.upscale(image, 2, model=edsr2))


def test_progress_bar_runs(edsr2, image, capsys):
    sr_native.upscale(image, 2, model=edsr2, tile=16, progress=True)
    assert "tile" in capsys.readouterr().err


@pytest.mark.parametrize("bad,exc,needle", [
    (np.zeros((4, 4, 2), np.uint8), ValueError, "1, 3 or 4 channels"),
    (np.zeros((4, 4, 5), np.uint8), ValueError, "1, 3 or 4 channels"),
    (np.zeros((1, 4, 4, 3), np.uint8), ValueError, "HxW or HxWxC"),
    (np.zeros((4,), np.uint8), ValueError, "HxW or HxWxC"),
    (np.zeros((0, 4, 3), np.uint8), ValueError, "empty"),
    (np.zeros((4, 4, 3), np.int32), TypeError, "uint8, uint16, float32 or float64"),
    (np.zeros((4, 4, 3), bool), TypeError, "uint8, uint16, float32 or float64"),
    ([[1, 2], [3, 4]], TypeError, "numpy array or a PIL image"),
    (np.full((4, 4, 3), np.nan, np.float32), ValueError, "NaN or infinity"),
    (np.array([[0.5, np.inf], [0.1, 0.2]]), ValueError, "NaN or infinity"),
])
def test_bad_images(bad, exc, needle, edsr2):
    with pytest.raises(exc, match=needle):
        sr_native.upscale(bad, 2, model=edsr2)


def test_bad_arguments(edsr2, image, monkeypatch, tmp_path):
    from sr_native import weights

    with pytest.raises(ValueError, match="does not match the model's scale 2"):
        sr_native.upscale(image, 3, model=edsr2)
    monkeypatch.setattr(weights, "PACKAGE_WEIGHTS", tmp_path)  # as if no weights shipped
    with pytest.raises(ValueError, match="model= is required"):
        sr_native.upscale(image, 2)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="tile must be"):
        sr_native.upscale(image, 2, model=edsr2, tile=0)
    if not sr_native.cuda_available():
        with pytest.raises(sr_native.cuda.CudaUnavailableError, match="not available"):
            sr_native.upscale(image, 2, model=edsr2, device="cuda")
    with pytest.raises(TypeError, match="model must be"):
        sr_native.upscale(image, 2, model=42)


def test_auto_tiles_bound_memory(monkeypatch):
    # numpy reports its allocations to tracemalloc, so the traced peak is the
    # activations' footprint. With a 16 MB budget, a 240x240 image through a
    # 64-feature EDSR (about 2 KB of activations per pixel, 130 MB untiled)
    # must stay near input + output + budget.
    import importlib
    import tracemalloc

    upscaling = importlib.import_module("sr_native.upscaling")
    budget = 16 * 1024 * 1024
    monkeypatch.setattr(upscaling, "AUTO_TILE_BUDGET_BYTES", budget)
    model = randomize(EDSR(2, n_feats=64, n_resblocks=1))
    img = np.random.default_rng(0).integers(0, 256, (240, 240, 3), dtype=np.uint8)
    whole = 4 * model.activation_floats_per_pixel() * 240 * 240
    assert whole > 6 * budget  # the check means something
    tracemalloc.start()
    try:
        out = sr_native.upscale(img, 2, model=model)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < img.nbytes + out.nbytes + 1.5 * budget, f"peak {peak / 2**20:.1f} MiB"


def test_auto_tile_budget_follows_available_memory(monkeypatch):
    # A quarter of what the system has left, clamped to [512 MiB, 4 GiB]; the
    # floor when the system does not say.
    import importlib

    upscaling = importlib.import_module("sr_native.upscaling")
    low, high = upscaling.AUTO_TILE_BUDGET_MIN_BYTES, upscaling.AUTO_TILE_BUDGET_MAX_BYTES
    for avail, expected in [(-1, low), (1 << 30, low), (8 << 30, 2 << 30), (64 << 30, high)]:
        monkeypatch.setattr(upscaling._core, "available_memory", lambda a=avail: a)
        assert upscaling._cpu_tile_budget() == expected, avail
    monkeypatch.setattr(upscaling, "AUTO_TILE_BUDGET_BYTES", 12345)
    assert upscaling._cpu_tile_budget() == 12345


def test_shipped_models_load_by_name_and_serve_as_default(monkeypatch, tmp_path, edsr2, image):
    import sr_native.weights as weights

    monkeypatch.setattr(weights, "PACKAGE_WEIGHTS", tmp_path)
    assert sr_native.shipped_models() == []
    edsr2.save(tmp_path / "edsr-baseline-x2.safetensors")
    assert sr_native.shipped_models() == ["edsr-baseline-x2"]
    by_name = sr_native.upscale(image, 2, model="edsr-baseline-x2")
    np.testing.assert_array_equal(by_name, sr_native.upscale(image, 2, model=edsr2))
    np.testing.assert_array_equal(sr_native.upscale(image, 2), by_name)  # the default for x2
    with pytest.raises(ValueError, match="model= is required"):
        sr_native.upscale(image, 3)  # nothing ships for x3 here


def test_tiling_with_winograd_layers(image):
    # 64-feature layers take the Winograd path, whose rounding depends on a
    # pixel's 4x4 tile-mates: windows aligned to the whole image's Winograd
    # grid, with 4 x the receptive radius of overlap, give the same bits.
    model = randomize(EDSR(2, n_feats=64, n_resblocks=2), seed=5, std=0.02)
    assert sr_native.build_info()["conv_algo"] in ("auto", "winograd")
    big = np.tile(image, (3, 3, 1))  # 87x123
    f = big.astype(np.float32) / 255
    np.testing.assert_array_equal(sr_native.upscale(f, 2, model=model, tile=23),
                                  sr_native.upscale(f, 2, model=model, tile=None))
    np.testing.assert_array_equal(sr_native.upscale(big, 2, model=model, tile=23),
                                  sr_native.upscale(big, 2, model=model, tile=None))


def test_views_and_tiny_images_equal_their_copies(edsr2, image):
    # Non-contiguous, negative-stride and read-only inputs give the result of
    # their contiguous copy; 1x1 and 1xN images work.
    ro = image.copy()
    ro.flags.writeable = False
    for view in (image[::-1], image[:, ::2], image.transpose(1, 0, 2), ro, image[3:4, 5:6], image[2:3]):
        np.testing.assert_array_equal(sr_native.upscale(view, 2, model=edsr2),
                                      sr_native.upscale(np.ascontiguousarray(view), 2, model=edsr2))
    assert sr_native.upscale(image[:1, :1], 2, model=edsr2).shape == (2, 2, 3)


def test_threads_and_thread_counts_give_the_same_bits(edsr2, image):
    # Several Python threads calling upscale at once on one model get the
    # serial results; 1 and 2 kernel threads give bit-identical output.
    import threading

    inputs = [np.roll(image, 3 * i, axis=1) for i in range(4)]
    serial = [sr_native.upscale(x, 2, model=edsr2, tile=16) for x in inputs]
    results = [None] * 4

    def work(i):
        results[i] = sr_native.upscale(inputs[i], 2, model=edsr2, tile=16)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, serial):
        np.testing.assert_array_equal(got, want)
    before = sr_native.get_num_threads()
    try:
        sr_native.set_num_threads(1)
        one = sr_native.upscale(image, 2, model=edsr2)
    finally:
        sr_native.set_num_threads(before)
    np.testing.assert_array_equal(one, sr_native.upscale(image, 2, model=edsr2))


def test_float_images_outside_0_1_are_refused_not_clipped(edsr2, image):
    # A float image in 0..255 used to come back almost white (clipped at 1).
    f255 = image.astype(np.float32)
    with pytest.raises(ValueError, match=r"upscale: float image values must lie in \[0, 1\].*max 2\d\d.*value_range"):
        sr_native.upscale(f255, 2, model=edsr2)
    with pytest.raises(ValueError, match=r"found min -0\.37"):
        sr_native.upscale(f255 / 255 - 0.5, 2, model=edsr2)
    # Rounding left by earlier processing (within 0.1% of the range) passes.
    f = f255 / 255
    nudged = f.copy()
    nudged[0, 0, 0], nudged[1, 1, 1] = -1e-6, 1 + 1e-6
    assert sr_native.upscale(nudged, 2, model=edsr2).shape == (58, 82, 3)


@pytest.mark.parametrize("value_range", [255, 255.0, (0, 255), [0.0, 255.0]])
def test_value_range_for_float_images_in_0_255(edsr2, image, value_range):
    got = sr_native.upscale(image.astype(np.float32), 2, model=edsr2, value_range=value_range)
    assert got.dtype == np.float32 and 0 <= got.min() and got.max() <= 255 and got.max() > 2
    # The same numbers as the uint8 image, before rounding to integers.
    assert np.abs(got - sr_native.upscale(image, 2, model=edsr2)).max() <= 0.5 + 1e-3
    # An offset range: the output comes back in it.
    shifted = sr_native.upscale(image.astype(np.float64) - 100, 2, model=edsr2, value_range=(-100, 155))
    assert shifted.dtype == np.float64 and np.abs(shifted + 100 - got).max() < 1e-3


def test_value_range_1_is_the_default(edsr2, image):
    f = image.astype(np.float32) / 255
    np.testing.assert_array_equal(sr_native.upscale(f, 2, model=edsr2, value_range=(0, 1)),
                                  sr_native.upscale(f, 2, model=edsr2))


@pytest.mark.parametrize("value_range,exc,needle", [
    (0, ValueError, "finite with lo < hi"),
    (-255, ValueError, "finite with lo < hi"),
    ((10, 5), ValueError, "finite with lo < hi"),
    (float("nan"), ValueError, "finite"),
    ((0, float("inf")), ValueError, "finite"),
    ("255", TypeError, "value_range must be a positive number"),
    ((0, 1, 2), TypeError, "value_range must be"),
    (True, TypeError, "value_range must be"),
])
def test_bad_value_ranges(edsr2, image, value_range, exc, needle):
    with pytest.raises(exc, match=needle):
        sr_native.upscale(image.astype(np.float32), 2, model=edsr2, value_range=value_range)


def test_value_range_is_for_float_images(edsr2, image):
    with pytest.raises(ValueError, match="value_range= applies to float images; uint8 images"):
        sr_native.upscale(image, 2, model=edsr2, value_range=255)


@pytest.mark.parametrize("kwargs,exc,needle", [
    (dict(tile=1), ValueError, r"tile must be at least 16 input pixels, got 1: .*multiply the work"),
    (dict(tile=15), ValueError, "at least 16"),
    (dict(tile=True), TypeError, "tile must be 'auto', None or an int"),
    (dict(tile=32.0), TypeError, "got float 32.0"),
    (dict(tile="big"), ValueError, "tile must be 'auto', None or an int >= 16, got 'big'"),
    (dict(self_ensemble="False"), TypeError, r"self_ensemble must be a bool \(True or False\), got str 'False'"),
    (dict(self_ensemble=1), TypeError, r"self_ensemble must be a bool \(True or False\)"),
    (dict(progress="no"), TypeError, r"progress must be a bool \(True or False\)"),
    (dict(scale=2.0), TypeError, "scale must be an int"),
    (dict(scale=True), TypeError, "scale must be an int"),
    (dict(scale=0), ValueError, r"scale must be one of \(2, 3, 4\), got 0"),
    (dict(scale=-1), ValueError, "scale must be one of"),
    (dict(device=0), TypeError, "device must be 'cpu', 'cuda' or None, got int 0"),
])
def test_bad_keywords(edsr2, image, kwargs, exc, needle):
    kwargs = {"scale": 2, **kwargs}
    with pytest.raises(exc, match=needle):
        sr_native.upscale(image, model=edsr2, **kwargs)


def test_smallest_tile_works(edsr2, image):
    big = np.tile(image, (2, 2, 1))
    np.testing.assert_array_equal(sr_native.upscale(big, 2, model=edsr2, tile=16),
                                  sr_native.upscale(big, 2, model=edsr2, tile=None))


def test_repeat_whole_image_calls_pass_the_memory_check(image, monkeypatch):
    # A simulated machine: what is available drops by what the network keeps.
    # The first call's buffers are reused by the second, so they must not be
    # counted as still to allocate.
    import importlib

    upscaling = importlib.import_module("sr_native.upscaling")
    net = randomize(EDSR(2, n_feats=16, n_resblocks=1))
    net.release_buffers()
    h, w = image.shape[:2]
    need = image.nbytes * 4 + upscaling.tile_bytes(net, h, w)
    total = need + 1024
    monkeypatch.setattr(sr_native._core, "available_memory", lambda: total - net._buffers().nbytes())
    first = sr_native.upscale(image, 2, model=net, tile=None)
    assert net._buffers().nbytes() > total - need  # the second call's room is less than its bare need
    np.testing.assert_array_equal(sr_native.upscale(image, 2, model=net, tile=None), first)
    # A request truly past memory still raises.
    monkeypatch.setattr(sr_native._core, "available_memory", lambda: 1024)
    with pytest.raises(MemoryError, match=r"upscale: a 41x29 image at x2 needs about"):
        sr_native.upscale(image, 2, model=net, tile=None)
