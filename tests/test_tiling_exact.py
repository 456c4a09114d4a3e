"""Exact tiling: upscale(..., tile=t) equals the whole image bit for bit in
every output dtype, also where 3x3 layers take the Winograd path (>= 16
channels), whose outputs round together with their 4x4 tile-mates. Random,
non-zero, He-scaled weights: a zero network would agree trivially."""

import numpy as np
import pytest

import sr_native
from sr_native import upscaling
from sr_native.models import EDSR, WDSR


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for _, p in model.named_parameters():
        fan_in = int(np.prod(p.shape[1:])) if p.ndim > 1 else 1
        p[...] = rng.standard_normal(p.shape) * (0.02 if p.ndim == 1 else 0.7 * np.sqrt(2 / fan_in))
    return model


@pytest.fixture(scope="module")
def image():
    # Odd sizes, so the image's right and bottom Winograd tiles are partial.
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:75, 0:149]
    base = 128 + 90 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    rgb = np.stack([base, base[::-1], np.roll(base, 17, axis=1)], axis=-1) + rng.normal(0, 20, (75, 149, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


MODELS = {
    "edsr-x2": lambda: EDSR(2, n_feats=16, n_resblocks=2),
    "edsr-x3": lambda: EDSR(3, n_feats=16, n_resblocks=1, res_scale=0.1),
    "edsr-x4": lambda: EDSR(4, n_feats=16, n_resblocks=1),
    "wdsr-a-x2": lambda: WDSR(2, "a", n_feats=16, n_resblocks=2, expansion=2),
    "wdsr-b-x3": lambda: WDSR(3, "b", n_feats=16, n_resblocks=2, res_scale=0.5),
    "wdsr-a-x4": lambda: WDSR(4, "a", n_feats=16, n_resblocks=1, expansion=2),
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def net_and_whole(request, image):
    net = randomize(MODELS[request.param](), seed=len(request.param))
    s = net.scale
    whole = {np.uint8: sr_native.upscale(image, s, model=net, tile=None)}
    inputs = {np.uint8: image, np.uint16: image.astype(np.uint16) * 257 + 77,
              np.float32: image.astype(np.float32) / 255}
    for dtype in (np.uint16, np.float32):
        whole[dtype] = sr_native.upscale(inputs[dtype], s, model=net, tile=None)
    return net, inputs, whole


def test_the_networks_take_the_winograd_path(image):
    # The cases below mean something only if some layers go through Winograd
    # on the whole image: >= 16 input and >= 8 output channels, >= 64 4x4 tiles.
    assert sr_native.build_info()["conv_algo"] == "auto"
    assert np.ceil(75 / 4) * np.ceil(149 / 4) >= upscaling.WINOGRAD_MIN_TILES


@pytest.mark.parametrize("tile", [17, 32, 64, 100])
def test_tiled_equals_whole_bit_for_bit(net_and_whole, tile):
    net, inputs, whole = net_and_whole
    for dtype, src in inputs.items():
        tiled = sr_native.upscale(src, net.scale, model=net, tile=tile)
        assert tiled.dtype == src.dtype
        assert np.array_equal(tiled, whole[dtype]), (
            f"{dtype.__name__}: {np.count_nonzero(tiled != whole[dtype])} values differ at tile={tile}")


def test_the_whole_image_differs_from_a_crop_near_its_edges(net_and_whole):
    # The overlap matters: the same network on a bare crop (zero-padded at
    # the crop's edges) differs from the whole image's values.
    net, inputs, whole = net_and_whole
    s = net.scale
    crop = sr_native.upscale(inputs[np.float32][:, :40], s, model=net, tile=None)
    assert not np.array_equal(crop, whole[np.float32][:, :40 * s])


def test_self_ensemble_and_gray_tile_exactly(image):
    net = randomize(EDSR(2, n_feats=16, n_resblocks=1), seed=3)
    f = image[:41, :97].astype(np.float32) / 255  # flips put the partial Winograd tiles top-left
    np.testing.assert_array_equal(sr_native.upscale(f, 2, model=net, tile=23, self_ensemble=True),
                                  sr_native.upscale(f, 2, model=net, tile=None, self_ensemble=True))
    gray = image[..., 1]
    np.testing.assert_array_equal(sr_native.upscale(gray, 2, model=net, tile=29),
                                  sr_native.upscale(gray, 2, model=net, tile=None))


def test_thin_images_keep_the_whole_images_kernel_path():
    # 9 x 301: the whole image has 3 x 76 Winograd tiles (Winograd path), a
    # bare window around a 17-pixel tile fewer than 64 (direct path) unless
    # it is widened; either path alone would round differently.
    net = randomize(EDSR(2, n_feats=16, n_resblocks=1), seed=4)
    img = np.random.default_rng(5).random((9, 301, 3), dtype=np.float32)
    np.testing.assert_array_equal(sr_native.upscale(img, 2, model=net, tile=17),
                                  sr_native.upscale(img, 2, model=net, tile=None))
    h, w = img.shape[:2]
    for core in upscaling._tile_cores(h, w, 17, 17, upscaling.tiling_overlap(net)):
        y0, y1, x0, x1 = upscaling._window(h, w, 2, core, upscaling.tiling_overlap(net))
        assert np.ceil((y1 - y0) / 4) * np.ceil((x1 - x0) / 4) >= upscaling.WINOGRAD_MIN_TILES


@pytest.mark.parametrize("isa", ["generic", "avx2"])
def test_exact_under_every_instruction_set(image, isa):
    if isa not in sr_native.build_info()["isa_compiled"]:
        pytest.skip(f"{isa} is not compiled in")
    net = randomize(EDSR(2, n_feats=16, n_resblocks=1), seed=6)
    before = sr_native.get_isa()
    try:
        sr_native.set_isa(isa)
        whole = sr_native.upscale(image, 2, model=net, tile=None)
        tiled = sr_native.upscale(image, 2, model=net, tile=32)
    finally:
        sr_native.set_isa(before)
    np.testing.assert_array_equal(tiled, whole)


def test_auto_tiles_are_exact(image, monkeypatch):
    net = randomize(EDSR(2, n_feats=16, n_resblocks=1), seed=7)
    # A budget small enough that "auto" splits this image into several tiles.
    monkeypatch.setattr(upscaling, "AUTO_TILE_BUDGET_BYTES", upscaling.tile_bytes(net, 80, 80))
    h, w = image.shape[:2]
    tile_h, tile_w = upscaling._auto_tiles(h, w, upscaling.tiling_overlap(net), 80 * 80)
    assert len(list(upscaling._tile_cores(h, w, tile_h, tile_w, upscaling.tiling_overlap(net)))) > 1
    np.testing.assert_array_equal(sr_native.upscale(image, 2, model=net),
                                  sr_native.upscale(image, 2, model=net, tile=None))


@pytest.mark.parametrize("h,w", [(75, 149), (64, 64), (5, 400), (130, 17)])
def test_windows_follow_the_tiling_rule(h, w):
    # Every window starts on the 4-pixel grid, ends on the image's edge or on
    # the grid counted from the far edge, and reaches the overlap beyond its core.
    overlap = 24
    for core in upscaling._tile_cores(h, w, 16, 16, overlap):
        y0, y1, x0, x1 = upscaling._window(h, w, 2, core, overlap)
        for lo, hi, c0, c1, n in ((y0, y1, core[0], core[1], h), (x0, x1, core[2], core[3], w)):
            assert lo % 4 == 0 and (hi == n or (n - hi) % 4 == 0)
            assert lo <= max(c0 - overlap, 0) and hi >= min(c1 + overlap, n)


def test_auto_split_respects_the_budget_and_avoids_tiny_tiles():
    # Fits: the windows hold at most max_pixels.
    tile_h, tile_w = upscaling._auto_tiles(2160, 3840, 144, 186_000)
    for core in upscaling._tile_cores(2160, 3840, tile_h, tile_w, 144):
        y0, y1, x0, x1 = upscaling._window(2160, 3840, 2, core, 144)
        assert (y1 - y0) * (x1 - x0) <= 186_000
    # Nothing fits: cores as large as the overlap, never MIN_TILE slivers.
    assert upscaling._auto_tiles(2160, 3840, 148, 40_000) == (148, 148)
    # Fits whole: one tile.
    assert upscaling._auto_tiles(100, 120, 144, 100 * 120) == (100, 120)
