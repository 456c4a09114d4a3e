"""Real-ESRGAN's networks (RRDBNet, SRVGGNetCompact) and their published
checkpoints, read without PyTorch; upscale's outscale=.

Each network is built in torch with the published key layout
(tests/torch_realesrgan.py), given random non-zero weights, saved with
torch.save({"params_ema": state_dict}) and loaded with sr_native.load_model.
Tolerances: forward outputs within atol 2e-5 + rtol 1e-4 of torch's (float32,
different summation orders and Winograd; outputs are O(1)); for the
published sizes (23 RRDBs, 32 SRVGG convolutions) atol 2e-4 + rtol 1e-3.
Parameter gradients against torch's autograd within 1e-3 of each gradient's
largest magnitude (plus 1e-6); central finite differences of single entries
within 2% of the tape's (plus 1% of the largest gradient). Tiling and the
inference forms (dense-block buffers, banded tail) are compared bit for bit.
"""

import math

import numpy as np
import pytest

import sr_native
from sr_native import autograd, upscaling
from sr_native.models import RRDBNet, SRVGGNetCompact
from sr_native.models import rrdbnet as rrdbnet_module
from sr_native.resize import resize

import torch_realesrgan as twins

ATOL, RTOL = 2e-5, 1e-4
BIG_ATOL, BIG_RTOL = 2e-4, 1e-3


def _save(torch, path, **entries):
    """torch.save of {key: state dict} (params_ema= / params=) at path."""
    torch.save({k: v.state_dict() for k, v in entries.items()}, str(path))
    return path


def _torch_out(torch, net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def _reflect_padded_twin_out(torch, net, x, fold, scale):
    """Real-ESRGAN's pre-processing for x2/x1: reflect-pad to multiples of the fold, run, crop."""
    h, w = x.shape[2:]
    t = torch.from_numpy(x)
    t = torch.nn.functional.pad(t, (0, -w % fold, 0, -h % fold), mode="reflect")
    with torch.no_grad():
        return net(t).numpy()[:, :, :h * scale, :w * scale]


def _image(rng, h, w, n=1):
    return rng.random((n, 3, h, w), dtype=np.float32)


# ------------------------------------------------------------ forward against torch

@pytest.mark.parametrize("scale, size", [(4, (13, 17)), (2, (16, 22)), (2, (15, 21)), (1, (20, 24)), (1, (18, 23))])
def test_rrdbnet_checkpoint_matches_torch(torch, rng, tmp_path, scale, size):
    twin = twins.randomize(twins.rrdbnet(torch, scale=scale, num_feat=16, num_block=2, num_grow_ch=8), torch, 3)
    net = sr_native.load_model(_save(torch, tmp_path / "r.pth", params_ema=twin))
    assert isinstance(net, RRDBNet) and net.scale == scale
    assert net.arch_args() == dict(num_feat=16, num_block=2, num_grow_ch=8, n_colors=3)
    assert net.provenance["source_layout"] == "rrdbnet-basicsr"
    x = _image(rng, *size)
    got = net(x)
    want = _reflect_padded_twin_out(torch, twin, x, 4 // scale, scale)
    assert got.shape == (1, 3, size[0] * scale, size[1] * scale)
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL)
    assert np.abs(want).max() > 0.1  # the comparison is not between zeros


@pytest.mark.parametrize("scale", [1, 2])
@pytest.mark.parametrize("size", [(1, 1), (1, 3), (3, 1), (2, 5)])
def test_rrdbnet_folds_images_smaller_than_the_fold(torch, rng, scale, size):
    """Sides below the fold: numpy's reflection repeats a 1-pixel side (PyTorch's reflect pad refuses it)."""
    twin = twins.randomize(twins.rrdbnet(torch, scale=scale, num_feat=8, num_block=1, num_grow_ch=4), torch, 13)
    net = RRDBNet(scale, num_feat=8, num_block=1, num_grow_ch=4)
    net.load_state_dict(twins.numpy_state(twin))
    x = _image(rng, *size)
    fold = 4 // scale
    padded = np.pad(x, ((0, 0), (0, 0), (0, -size[0] % fold), (0, -size[1] % fold)), mode="reflect")
    want = _torch_out(torch, twin, np.ascontiguousarray(padded))[:, :, :size[0] * scale, :size[1] * scale]
    got = net(x)
    assert got.shape == (1, 3, size[0] * scale, size[1] * scale)
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL)


def test_rrdbnet_batch_matches_torch(torch, rng, tmp_path):
    """Two images at once take the concatenating form of the dense blocks."""
    twin = twins.randomize(twins.rrdbnet(torch, scale=4, num_feat=16, num_block=1, num_grow_ch=8), torch, 4)
    net = sr_native.load_model(_save(torch, tmp_path / "r.pth", params_ema=twin))
    x = _image(rng, 12, 10, n=2)
    np.testing.assert_allclose(net(x), _torch_out(torch, twin, x), atol=ATOL, rtol=RTOL)


def test_esrgan_original_key_names_load(torch, rng, tmp_path):
    twin = twins.randomize(twins.rrdbnet(torch, scale=4, num_feat=16, num_block=2, num_grow_ch=8,
                                         esrgan_names=True), torch, 5)
    assert "RRDB_trunk.1.RDB3.conv5.weight" in twin.state_dict() and "HRconv.bias" in twin.state_dict()
    torch.save(twin.state_dict(), str(tmp_path / "RRDB_ESRGAN_x4.pth"))  # that repository saves the bare dict
    net = sr_native.load_model(tmp_path / "RRDB_ESRGAN_x4.pth")
    assert net.provenance["source_layout"] == "rrdbnet-esrgan" and net.scale == 4
    x = _image(rng, 11, 14)
    np.testing.assert_allclose(net(x), _torch_out(torch, twin, x), atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_srvgg_checkpoint_matches_torch(torch, rng, tmp_path, scale):
    twin = twins.randomize(twins.srvgg_compact(torch, scale=scale, num_feat=16, num_conv=4), torch, 6)
    net = sr_native.load_model(_save(torch, tmp_path / "s.pth", params=twin))
    assert isinstance(net, SRVGGNetCompact) and net.scale == scale
    assert net.arch_args() == dict(num_feat=16, num_conv=4, act_type="prelu", n_colors=3)
    x = _image(rng, 13, 11)
    want = _torch_out(torch, twin, x)
    np.testing.assert_allclose(net(x), want, atol=ATOL, rtol=RTOL)
    assert np.abs(want).max() > 0.1


@pytest.mark.parametrize("act_type", ["relu", "lrelu"])
def test_srvgg_fixed_activations_match_torch(torch, rng, act_type):
    """ReLU and LeakyReLU 0.1 have no keys: built by hand, the torch state dict loads by name."""
    twin = twins.randomize(twins.srvgg_compact(torch, scale=2, num_feat=8, num_conv=3, act_type=act_type), torch, 7)
    net = SRVGGNetCompact(2, num_feat=8, num_conv=3, act_type=act_type)
    net.load_state_dict(twins.numpy_state(twin))
    x = _image(rng, 9, 12)
    np.testing.assert_allclose(net(x), _torch_out(torch, twin, x), atol=ATOL, rtol=RTOL)


def test_published_sizes_match_torch(torch, rng, tmp_path):
    """The real presets (RealESRGAN_x4plus: 23 RRDBs; realesr-general-x4v3: 32
    convolutions) on a tiny image, through files in the published layout."""
    x = _image(rng, 10, 9)
    r = twins.randomize(twins.rrdbnet(torch, scale=4, **RRDBNet.presets["realesrgan-x4plus"]), torch, 8, spread=0.9)
    net = sr_native.load_model(_save(torch, tmp_path / "RealESRGAN_x4plus.pth", params_ema=r))
    assert net.arch_args() == dict(RRDBNet.presets["realesrgan-x4plus"], n_colors=3)
    want = _torch_out(torch, r, x)
    np.testing.assert_allclose(net(x), want, atol=BIG_ATOL, rtol=BIG_RTOL)
    assert np.abs(want).max() > 0.1
    s = twins.randomize(twins.srvgg_compact(torch, scale=4, **SRVGGNetCompact.presets["realesr-general-x4v3"]),
                        torch, 9)
    net = sr_native.load_model(_save(torch, tmp_path / "realesr-general-x4v3.pth", params=s, params_ema=s))
    assert net.arch_args() == dict(SRVGGNetCompact.presets["realesr-general-x4v3"], n_colors=3)
    np.testing.assert_allclose(net(x), _torch_out(torch, s, x), atol=BIG_ATOL, rtol=BIG_RTOL)


def test_presets_build_the_published_sizes():
    for name, scale in rrdbnet_module.PRESET_SCALES.items():
        net = RRDBNet.from_preset(name, scale)
        assert net.conv_first.in_channels == 3 * (4 // scale) ** 2
    # RealESRGAN_x4plus's published parameter count
    assert RRDBNet.from_preset("realesrgan-x4plus", 4).num_parameters() == 16_697_987
    # realesr-general-x4v3: first conv 1,792 + 32 x 36,928 + last conv (48 maps) 27,696 + 33 x 64 PReLU slopes
    assert SRVGGNetCompact.from_preset("realesr-general-x4v3", 4).num_parameters() == 1_213_296
    assert RRDBNet.from_preset("realesrgan-anime-6b", 4).num_block == 6


# ------------------------------------------------------------ params / params_ema and bad files

def test_params_ema_is_preferred_over_params(torch, rng, tmp_path):
    ema = twins.randomize(twins.srvgg_compact(torch, scale=2, num_feat=8, num_conv=2), torch, 10)
    raw = twins.randomize(twins.srvgg_compact(torch, scale=2, num_feat=8, num_conv=2), torch, 11)
    path = _save(torch, tmp_path / "both.pth", params=raw, params_ema=ema)
    x = _image(rng, 8, 8)
    np.testing.assert_allclose(sr_native.load_model(path)(x), _torch_out(torch, ema, x), atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(sr_native.load_model(path, param_key="params")(x), _torch_out(torch, raw, x),
                               atol=ATOL, rtol=RTOL)
    only = _save(torch, tmp_path / "params.pth", params=raw)
    np.testing.assert_allclose(sr_native.load_model(only)(x), _torch_out(torch, raw, x), atol=ATOL, rtol=RTOL)
    with pytest.raises(ValueError, match="params_ema"):
        sr_native.load_model(only, param_key="params_ema")


REALESRGAN_LAYOUTS = ["rrdbnet-basicsr", "rrdbnet-esrgan", "srvgg-realesrgan"]


@pytest.mark.parametrize("layout", REALESRGAN_LAYOUTS)
def test_detection_picks_only_its_own_layout(torch, layout):
    """Only the layout's own detect() accepts its keys (test_foreign_layouts.py
    checks the other way: these do not claim the other layouts' files)."""
    from sr_native.models import foreign_layouts
    from sr_native import weights

    twin = {"rrdbnet-basicsr": lambda: twins.rrdbnet(torch, scale=2, num_feat=8, num_block=2, num_grow_ch=4),
            "rrdbnet-esrgan": lambda: twins.rrdbnet(torch, num_feat=8, num_block=2, num_grow_ch=4,
                                                    esrgan_names=True),
            "srvgg-realesrgan": lambda: twins.srvgg_compact(torch, num_feat=8, num_conv=2)}[layout]()
    shapes = weights._folded_shapes(twins.numpy_state(twin), "test")
    assert [found.name for _, found in foreign_layouts() if found.detect(shapes)] == [layout]


def test_unknown_layout_lists_the_known_ones(torch, tmp_path):
    torch.save({"params_ema": {"trunk.0.weight": torch.zeros(4, 3, 3, 3)}}, str(tmp_path / "odd.pth"))
    with pytest.raises(ValueError, match="unknown checkpoint layout") as info:
        sr_native.load_model(tmp_path / "odd.pth")
    for layout in REALESRGAN_LAYOUTS:
        assert f"{layout} (" in str(info.value)


def test_corrupt_rrdbnet_files_are_refused_by_name(torch, tmp_path):
    twin = twins.rrdbnet(torch, scale=4, num_feat=8, num_block=2, num_grow_ch=4)
    sd = twin.state_dict()
    missing = {k: v for k, v in sd.items() if not k.startswith("conv_hr.")}
    torch.save({"params_ema": missing}, str(tmp_path / "missing.pth"))
    with pytest.raises(ValueError, match="conv_hr"):
        sr_native.load_model(tmp_path / "missing.pth")
    bad = dict(sd, **{"body.1.rdb2.conv3.weight": torch.zeros(4, 15, 3, 3)})
    torch.save({"params_ema": bad}, str(tmp_path / "shape.pth"))
    with pytest.raises(ValueError, match=r"body\.1\.rdb2\.conv3\.weight"):
        sr_native.load_model(tmp_path / "shape.pth")
    five = dict(sd, **{"conv_first.weight": torch.zeros(8, 5, 3, 3)})  # 5 channels for 3 colours
    torch.save({"params_ema": five}, str(tmp_path / "fold.pth"))
    with pytest.raises(ValueError, match="not 1, 4 or 16"):
        sr_native.load_model(tmp_path / "fold.pth")
    nan = dict(sd, **{"conv_last.bias": torch.full((3,), float("nan"))})
    torch.save({"params_ema": nan}, str(tmp_path / "nan.pth"))
    with pytest.raises(ValueError, match="NaN"):
        sr_native.load_model(tmp_path / "nan.pth")


def test_srvgg_without_prelu_weights_is_refused(torch, tmp_path):
    twin = twins.srvgg_compact(torch, scale=4, num_feat=8, num_conv=2, act_type="relu")
    _save(torch, tmp_path / "relu.pth", params=twin)
    with pytest.raises(ValueError, match="activation .* not recorded"):
        sr_native.load_model(tmp_path / "relu.pth")
    sd = twins.srvgg_compact(torch, scale=4, num_feat=8, num_conv=2).state_dict()
    sd["body.6.weight"] = torch.zeros(40, 8, 3, 3)  # 40 = not n^2 x 3
    torch.save({"params": sd}, str(tmp_path / "odd_out.pth"))
    with pytest.raises(ValueError, match="40 output channels"):
        sr_native.load_model(tmp_path / "odd_out.pth")


def test_scale_option_must_match_the_file(torch, tmp_path):
    twin = twins.rrdbnet(torch, scale=2, num_feat=8, num_block=1, num_grow_ch=4)
    path = _save(torch, tmp_path / "x2.pth", params_ema=twin)
    assert sr_native.load_model(path, scale=2).scale == 2
    with pytest.raises(ValueError, match="x2"):
        sr_native.load_model(path, scale=4)


def test_constructor_arguments_are_checked():
    with pytest.raises(ValueError, match="RRDBNet: scale must be one of"):
        RRDBNet(3)
    with pytest.raises(TypeError, match="num_grow_ch"):
        RRDBNet(4, num_grow_ch=2.5)
    with pytest.raises(ValueError, match="act_type"):
        SRVGGNetCompact(4, act_type="gelu")
    with pytest.raises(TypeError, match="act_type"):
        SRVGGNetCompact(4, act_type=None)


def test_gpu_is_refused_before_anything_moves():
    """No CUDA path yet: a clear TypeError whether or not this machine has a GPU."""
    for net in (RRDBNet(4, num_feat=4, num_block=1, num_grow_ch=2), SRVGGNetCompact(4, num_feat=4, num_conv=1)):
        with pytest.raises(TypeError, match="no CUDA path yet"):
            net.to("cuda")
        assert net.on_device == "cpu" and all(isinstance(p, np.ndarray) for _, p in net.named_parameters())


# ------------------------------------------------------------ training gradients

def _random_weights(net, rng):
    for _, p in net.named_parameters():
        if p.ndim == 4:
            p[...] = rng.uniform(-1, 1, p.shape) * math.sqrt(3 / (p.shape[1] * p.shape[2] * p.shape[3]))
        elif p.ndim == 1:
            p[...] = rng.uniform(0.05, 0.3, p.shape)
    return net


def _twin_of(torch, net):
    if isinstance(net, RRDBNet):
        twin = twins.rrdbnet(torch, scale=net.scale, num_feat=net.num_feat, num_block=net.num_block,
                             num_grow_ch=net.num_grow_ch)
    else:
        twin = twins.srvgg_compact(torch, scale=net.scale, num_feat=net.num_feat, num_conv=net.num_conv,
                                   act_type=net.act_type)
    twin.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in net.state_dict().items()})
    return twin


@pytest.mark.parametrize("make", [lambda: RRDBNet(4, num_feat=8, num_block=2, num_grow_ch=4),
                                  lambda: RRDBNet(2, num_feat=8, num_block=1, num_grow_ch=4),
                                  lambda: SRVGGNetCompact(4, num_feat=8, num_conv=3),
                                  lambda: SRVGGNetCompact(3, num_feat=8, num_conv=2, act_type="lrelu")],
                         ids=["rrdbnet-x4", "rrdbnet-x2", "srvgg-x4-prelu", "srvgg-x3-lrelu"])
def test_training_gradients_match_torch(torch, rng, make):
    net = _random_weights(make(), rng)
    x = _image(rng, 8, 12, n=2)
    y, cache = net.forward_train(x)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    grads = net.backward(dy, cache)
    twin = _twin_of(torch, net)
    yt = twin(torch.from_numpy(x))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=ATOL, rtol=RTOL)
    yt.backward(torch.from_numpy(dy))
    theirs = {k: p.grad.numpy() for k, p in twin.named_parameters()}
    assert set(grads) == set(theirs)
    for key, g in grads.items():
        want = theirs[key]
        np.testing.assert_allclose(g, want, atol=1e-3 * np.abs(want).max() + 1e-6, rtol=0, err_msg=key)
    assert max(np.abs(g).max() for g in grads.values()) > 1e-2


@pytest.mark.parametrize("make", [lambda: RRDBNet(4, num_feat=4, num_block=1, num_grow_ch=2),
                                  lambda: RRDBNet(2, num_feat=4, num_block=1, num_grow_ch=2),
                                  lambda: SRVGGNetCompact(2, num_feat=4, num_conv=1)],
                         ids=["rrdbnet-x4", "rrdbnet-x2", "srvgg"])
def test_training_gradient_finite_difference(rng, make):
    """For each parameter tensor, its entry with the largest gradient moved
    alone: (L(w + eps) - L(w - eps)) / 2 eps for L = sum(y * dy), within 2% of
    the tape's gradient plus 1% of the largest. (Moving every parameter at
    once, or by 1e-3, crosses LeakyReLU kinks in the x4 tail.)"""
    net = _random_weights(make(), rng)
    x = _image(rng, 8, 8)
    y, cache = net.forward_train(x)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    grads = net.backward(dy, cache)
    largest = max(float(np.abs(g).max()) for g in grads.values())
    eps = 1e-4  # float64 torch needs eps <= 1e-4 here too: larger steps cross LeakyReLU kinks in the tail
    for key, p in net.named_parameters():
        i = np.unravel_index(np.argmax(np.abs(grads[key])), p.shape)
        old = p[i]
        losses = []
        for sign in (1, -1):
            p[i] = old + sign * eps
            losses.append(float(np.vdot(net(x).astype(np.float64), dy)))
        p[i] = old
        numeric = (losses[0] - losses[1]) / (2 * eps)
        assert abs(numeric - grads[key][i]) <= 0.02 * abs(grads[key][i]) + 0.01 * largest, (key, numeric,
                                                                                           grads[key][i])


def test_training_needs_patches_that_fold_evenly(rng):
    net = RRDBNet(2, num_feat=4, num_block=1, num_grow_ch=2)
    with pytest.raises(ValueError, match=r"multiples of 2, got input shape \(1, 3, 7, 8\)"):
        net.forward_train(_image(rng, 7, 8))


# ------------------------------------------------------------ inference forms and tiling

def test_inference_forms_equal_the_recorded_definition(rng):
    """Dense blocks written into one buffer and the tail in bands of rows
    (tall enough to be banded) give the tape's result bit for bit."""
    net = _random_weights(RRDBNet(4, num_feat=16, num_block=1, num_grow_ch=8), rng)
    x = _image(rng, 70, 20)
    h = x.shape[2]
    core = max(-(-h // rrdbnet_module.TAIL_BANDS), 4 * rrdbnet_module.TAIL_HALO)
    assert core < h  # the tail does run in bands here
    with autograd.Tape():
        recorded = net._from_net(net.forward_raw(net._to_net(x)))
    np.testing.assert_array_equal(net(x), recorded)


@pytest.mark.parametrize("make, size", [
    (lambda: RRDBNet(4, num_feat=16, num_block=1, num_grow_ch=8), (121, 37)),
    (lambda: RRDBNet(2, num_feat=16, num_block=1, num_grow_ch=8), (189, 29)),
    (lambda: SRVGGNetCompact(4, num_feat=16, num_conv=3), (47, 38)),
], ids=["rrdbnet-x4", "rrdbnet-x2-odd", "srvgg-x4"])
def test_tiled_equals_whole(rng, make, size):
    net = _random_weights(make(), rng)
    image = rng.random(size + (3,), dtype=np.float32)  # float output shows every bit (uint8 rounds them away)
    whole = sr_native.upscale(image, net.scale, model=net, tile=None)
    tiled = sr_native.upscale(image, net.scale, model=net, tile=16)
    overlap = upscaling.tiling_overlap(net)
    assert len(list(upscaling._tile_cores(*size, 16, 16, overlap, getattr(net, "input_fold", 1)))) > 1
    np.testing.assert_array_equal(tiled, whole)
    assert whole.std() > 0.01  # not a flat image


@pytest.mark.parametrize("scale", [2, 4])
def test_tiled_equals_whole_with_self_ensemble(rng, scale):
    """Flipped and transposed tiles of an odd-sized image: the fold's padding
    moves to the other side, the windows stay aligned from both ends."""
    net = _random_weights(RRDBNet(scale, num_feat=8, num_block=0, num_grow_ch=4), rng)
    image = rng.random((83, 45, 3), dtype=np.float32)
    whole = sr_native.upscale(image, scale, model=net, tile=None, self_ensemble=True)
    tiled = sr_native.upscale(image, scale, model=net, tile=16, self_ensemble=True)
    np.testing.assert_array_equal(tiled, whole)


def test_x2_windows_align_to_the_fold():
    """RRDBNet x2 folds 2x2 blocks: windows start on multiples of 8 input pixels."""
    for core in [(0, 16, 16, 32), (32, 48, 48, 64)]:
        y0, y1, x0, x1 = upscaling._window(200, 150, 2, core, 12, fold=2)
        assert y0 % 8 == 0 and x0 % 8 == 0 and (200 - y1) % 8 == 0 and (150 - x1) % 8 == 0


def test_activation_bound_holds(rng):
    """tile="auto" sizes windows by activation_floats_per_pixel: the memory the
    network allocates for one image stays under tile_bytes (tracemalloc sees numpy's arrays)."""
    import tracemalloc

    net = _random_weights(RRDBNet(4, num_feat=16, num_block=1, num_grow_ch=8), rng)
    x = _image(rng, 200, 40)
    net(x)  # the kept buffers exist now, as for every tile after the first
    net.release_buffers()
    tracemalloc.start()
    try:
        net(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= upscaling.tile_bytes(net, 200, 40), (peak, upscaling.tile_bytes(net, 200, 40))


def test_published_size_receptive_radius_and_auto_tiles():
    """RealESRGAN_x4plus reaches 352 input pixels (4 x that with Winograd
    rounding, 1408): a 1000x750 photo runs as one window (about 6.4 KB of
    activations per input pixel counted; 4.9 KB measured on 192x160)."""
    net = RRDBNet.from_preset("realesrgan-x4plus", 4)
    assert net.receptive_radius == 2 + 15 * 23 + 5
    overlap = upscaling.tiling_overlap(net)
    max_pixels = upscaling.AUTO_TILE_BUDGET_MAX_BYTES // upscaling.tile_bytes(net, 1, 1)
    tile_h, tile_w = upscaling._auto_tiles(750, 1000, overlap, max_pixels)
    assert list(upscaling._tile_cores(750, 1000, tile_h, tile_w, overlap)) == [(0, 750, 0, 1000)]
    # per input pixel under 1300 floats: the banded tail holds a quarter of the unbanded tail's 2100
    assert net.activation_floats_per_pixel() < 1300


# ------------------------------------------------------------ outscale

def test_outscale_resizes_the_network_output(rng):
    net = _random_weights(SRVGGNetCompact(4, num_feat=8, num_conv=2), rng)
    image = (rng.random((13, 10, 3)) * 255).astype(np.uint8)
    at_scale = sr_native.upscale(image, 4, model=net)
    for outscale in (2.5, 3, 1.0, 0.5, 4.6):
        out = sr_native.upscale(image, 4, model=net, outscale=outscale)
        size = (round(13 * outscale), round(10 * outscale))
        assert out.shape == size + (3,), outscale
        np.testing.assert_array_equal(out, resize(at_scale, size=size, method="lanczos3"))
    np.testing.assert_array_equal(sr_native.upscale(image, 4, model=net, outscale=4), at_scale)


def test_outscale_float_output_stays_in_range(rng):
    net = _random_weights(SRVGGNetCompact(2, num_feat=8, num_conv=2), rng)
    image = (rng.random((12, 12)) > 0.5).astype(np.float64)  # hard edges: Lanczos rings
    out = sr_native.upscale(image, 2, model=net, outscale=3.3)
    assert out.dtype == np.float64 and out.shape == (40, 40)
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2.0, ValueError), (float("nan"), ValueError),
                                        (float("inf"), ValueError), ("2", TypeError), (True, TypeError)])
def test_outscale_is_checked(rng, bad, error):
    net = SRVGGNetCompact(2, num_feat=4, num_conv=1)
    with pytest.raises(error, match="upscale: outscale"):
        sr_native.upscale(np.zeros((4, 4, 3), np.uint8), 2, model=net, outscale=bad)


# ------------------------------------------------------------ the command line

def test_cli_upscale_with_a_pth_uses_its_scale(torch, rng, tmp_path):
    from PIL import Image

    from sr_native.cli import main

    twin = twins.randomize(twins.srvgg_compact(torch, scale=4, num_feat=8, num_conv=2), torch, 12)
    path = _save(torch, tmp_path / "realesr-tiny-x4.pth", params_ema=twin)
    src = tmp_path / "in.png"
    Image.fromarray((rng.random((9, 7, 3)) * 255).astype(np.uint8)).save(src)
    out = tmp_path / "out.png"
    assert main(["upscale", str(src), "-o", str(out), "--model", str(path), "-q"]) == 0
    with Image.open(out) as written, Image.open(src) as given:
        assert written.size == (28, 36)
        expected = sr_native.upscale(np.asarray(given), 4, model=str(path))  # a path loads as --model does
        np.testing.assert_array_equal(np.asarray(written), expected)
    assert main(["upscale", str(src), "-o", str(out), "--model", str(path), "--outscale", "2.5", "-q",
                 "--overwrite"]) == 0
    with Image.open(out) as written:
        assert written.size == (18, 22)
    assert main(["upscale", str(src), "-o", str(out), "--model", str(path), "--scale", "2"]) == 2
    assert main(["upscale", str(src), "-o", str(out), "--method", "bicubic", "--outscale", "2"]) == 2
    assert main(["upscale", str(src), "-o", str(out), "--model", str(path), "--outscale", "0"]) == 2


@pytest.mark.parametrize("model, scale, args", [("rrdbnet", 4, dict(num_feat=8, num_block=1, num_grow_ch=4)),
                                                ("rrdbnet", 2, dict(num_feat=8, num_block=1, num_grow_ch=4)),
                                                ("srvgg-compact", 4, dict(num_feat=8, num_conv=2))])
def test_train_runs_and_resumes_the_realesrgan_networks(model, scale, args, tmp_path, rng):
    """`sr-native train --model rrdbnet|srvgg-compact` (the generic tape path):
    a resumed run ends where an uninterrupted one does, bit for bit."""
    from PIL import Image

    from sr_native.cli import main

    folder = tmp_path / "hr"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    opts = dict(scale=scale, model=model, model_args=args, batch_size=2, patch_size=6, progress=False,
                checkpoint_every=1)
    whole = sr_native.train(folder, out_dir=tmp_path / "whole", iterations=3, **opts)
    sr_native.train(folder, out_dir=tmp_path / "split", iterations=2, **opts)
    resumed = sr_native.train(folder, out_dir=tmp_path / "split", iterations=3, resume=True, **opts)
    assert resumed.architecture == whole.architecture == model
    for name, value in whole.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], value, err_msg=name)
    assert main(["train", str(folder), "--out", str(tmp_path / "cli"), "--model", model, "--scale", str(scale),
                 "--iterations", "1", "--batch-size", "1", "--patch-size", "4", "-q"]) == 0
    loaded = sr_native.load_model(tmp_path / "cli" / "model.safetensors")
    assert loaded.architecture == model and loaded.scale == scale
