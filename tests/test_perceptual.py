"""The VGG19 perceptual loss (sr_native.perceptual) against PyTorch on a
randomly initialised VGG19 built with torchvision's indices (no torchvision
needed), saved by torch.save and read back by our torch-free reader; finite
differences on a shallow configuration; the weight files (torchvision's zip
and legacy formats, our safetensors export); and typed errors.

Tolerances (float32 throughout, 16 convolutions deep):
  features              rtol 1e-4 of the largest |value| of the layer
  loss value            rel 1e-5
  d_sr (L1 and MSE)     1e-4 of the largest |gradient|, with the direct
                        convolution. The gradient of a ReLU network jumps
                        where a pre-activation crosses 0 or a pooling window's
                        two largest values swap, and L1's gradient is a sign:
                        on the default (Winograd) path, whose rounding is
                        ~1e-5 per layer, a few pixels flip (see
                        test_mse_gradient_on_the_default_convolution_path:
                        fewer than 1% of values off, 2e-2 in L2).
  finite differences    rel 2e-3 on a directional derivative, step 1e-3 (measured
                        within 6e-4; larger steps cross ReLU kinks and pooling
                        switches)
"""

import numpy as np
import pytest

from sr_native import _core, perceptual
from sr_native.perceptual import (REAL_ESRGAN_LAYER_WEIGHTS, VGG19_LAYERS, VGG19_URL, PerceptualLoss,
                                  VGG19Features, export_vgg19_features, load_vgg19_state)

CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]


def torch_vgg19(torch, seed=0, last=None):
    """torchvision's vgg19().features layout: conv/ReLU pairs, a max pooling after
    each block, random non-zero weights (He-scaled, so deep features stay O(1))
    and non-zero biases. `last`: stop after that features index."""
    nn = torch.nn
    torch.manual_seed(seed)
    mods, c = [], 3
    for width, convs in [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)]:
        for _ in range(convs):
            conv = nn.Conv2d(c, width, 3, padding=1)
            nn.init.normal_(conv.weight, 0.0, (2.0 / (9 * c)) ** 0.5)
            nn.init.normal_(conv.bias, 0.0, 0.1)
            mods += [conv, nn.ReLU()]
            c = width
        mods.append(nn.MaxPool2d(2, 2))
    features = nn.Sequential(*mods[:None if last is None else last + 1])
    model = nn.Module()
    model.features = features
    return model


def torch_features(torch, model, images, names):
    """Each named conv's output before its ReLU, on ImageNet-normalised input."""
    mean = torch.tensor(perceptual.IMAGENET_MEAN, dtype=images.dtype).view(1, 3, 1, 1)
    std = torch.tensor(perceptual.IMAGENET_STD, dtype=images.dtype).view(1, 3, 1, 1)
    by_index = {VGG19_LAYERS[n][0]: n for n in names}
    x, out = (images - mean) / std, {}
    for i, layer in enumerate(model.features):
        x = layer(x)
        if i in by_index:
            out[by_index[i]] = x
        if len(out) == len(by_index):
            return out
    return out


def torch_loss(torch, model, sr, hr, weights, criterion):
    fn = torch.nn.functional.l1_loss if criterion == "l1" else torch.nn.functional.mse_loss
    srt = torch.tensor(sr, requires_grad=True)
    fs = torch_features(torch, model, srt, list(weights))
    with torch.no_grad():
        fh = torch_features(torch, model, torch.tensor(hr), list(weights))
    value = sum(w * fn(fs[n], fh[n]) for n, w in weights.items())
    value.backward()
    return float(value.detach()), srt.grad.numpy()


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """(torch model, path of its torch.save'd state dict with a small stand-in classifier)."""
    try:
        import torch
    except ImportError:
        pytest.skip("PyTorch is not installed; this cross-check needs it (.ci/run installs torch==2.13.0)")
    torch.set_num_threads(2)
    model = torch_vgg19(torch)
    state = model.state_dict()
    state["classifier.0.weight"] = torch.ones(10, 7)  # torchvision's file has a classifier; it is skipped
    state["classifier.0.bias"] = torch.ones(10)
    path = tmp_path_factory.mktemp("vgg") / "vgg19-random.pth"
    torch.save(state, path)
    return model, path


@pytest.fixture
def direct_conv():
    before = _core.get_conv_algo()
    _core.set_conv_algo("direct")
    yield
    _core.set_conv_algo(before)


def images(rng, n, size):
    return rng.random((n, 3, size, size), dtype=np.float32), rng.random((n, 3, size, size), dtype=np.float32)


def test_layer_table_is_torchvisions():
    assert list(VGG19_LAYERS) == [f"conv{b}_{i}" for b, n in [(1, 2), (2, 2), (3, 4), (4, 4), (5, 4)]
                                  for i in range(1, n + 1)]
    assert [v[0] for v in VGG19_LAYERS.values()] == CONV_INDICES
    assert VGG19_LAYERS["conv3_1"][1:] == (128, 256, 2) and VGG19_LAYERS["conv5_4"][1:] == (512, 512, 4)
    # Only the layers up to the deepest asked for are built.
    assert sorted(VGG19Features("conv2_2").state_dict()) == sorted(
        f"features.{i}.{p}" for i in (0, 2, 5, 7) for p in ("weight", "bias"))
    assert len(VGG19Features().state_dict()) == 32


def test_features_against_torch(vgg_file, rng, torch):
    model, path = vgg_file
    state = load_vgg19_state(path)
    assert sorted(state) == sorted(f"features.{i}.{p}" for i in CONV_INDICES for p in ("weight", "bias"))
    vgg = VGG19Features.from_state_dict(state)
    x = rng.random((2, 3, 16, 19), dtype=np.float32)  # 19 floors to 9, 4, 2, 1
    names = list(VGG19_LAYERS)
    ours = vgg(x, names)
    with torch.no_grad():
        want = torch_features(torch, model, torch.tensor(x), names)
    for name in names:
        w = want[name].numpy()
        assert ours[name].shape == w.shape, name
        np.testing.assert_allclose(ours[name], w, rtol=0, atol=1e-4 * np.abs(w).max(), err_msg=name)
    assert (ours["conv5_4"] < 0).any()  # taken before the ReLU


@pytest.mark.parametrize("criterion", ["l1", "mse"])
def test_loss_and_gradient_against_torch(criterion, vgg_file, rng, torch, direct_conv):
    model, path = vgg_file
    loss = PerceptualLoss(path, layer_weights=REAL_ESRGAN_LAYER_WEIGHTS, criterion=criterion)
    sr, hr = images(rng, 2, 16)
    value, d_sr = loss(sr, hr)
    want_value, want_grad = torch_loss(torch, model, sr, hr, REAL_ESRGAN_LAYER_WEIGHTS, criterion)
    assert isinstance(value, float) and value == pytest.approx(want_value, rel=1e-5)
    assert d_sr.shape == sr.shape and d_sr.dtype == np.float32
    np.testing.assert_allclose(d_sr, want_grad, rtol=0, atol=1e-4 * np.abs(want_grad).max())


def test_mse_gradient_on_the_default_convolution_path(vgg_file, rng, torch):
    """The default (Winograd) path, whose per-layer rounding (~1e-5) can flip a
    ReLU or a pooling argmax where two values nearly tie: the gradient then
    differs at those few pixels (as it does on the direct path when the input
    moves by 1e-5: measured 5% of the largest gradient, 1% in L2 on a 2 x 96 x 96
    pair). Elsewhere it agrees to 1e-4 of the largest gradient."""
    model, path = vgg_file
    weights = {"conv2_2": 0.5, "conv4_4": 1.0}
    loss = PerceptualLoss(path, weights, "mse")
    sr, hr = images(rng, 2, 24)
    value, d_sr = loss(sr, hr)
    want_value, want_grad = torch_loss(torch, model, sr, hr, weights, "mse")
    assert value == pytest.approx(want_value, rel=1e-5)
    off = np.abs(d_sr - want_grad) > 1e-4 * np.abs(want_grad).max()
    assert off.mean() < 0.01
    assert np.linalg.norm(d_sr - want_grad) < 2e-2 * np.linalg.norm(want_grad)


@pytest.mark.parametrize("criterion", ["l1", "mse"])
def test_finite_differences_shallow(criterion, rng):
    """conv1_2 and conv2_2 on a 12 x 12 pair, through our kernels only."""
    state = {}
    for name in ("conv1_1", "conv1_2", "conv2_1", "conv2_2"):
        index, cin, cout, _ = VGG19_LAYERS[name]
        state[f"features.{index}.weight"] = (rng.standard_normal((cout, cin, 3, 3)) *
                                            np.sqrt(2 / (9 * cin))).astype(np.float32)
        state[f"features.{index}.bias"] = (rng.standard_normal(cout) * 0.1).astype(np.float32)
    loss = PerceptualLoss.from_weights(state, {"conv1_2": 0.3, "conv2_2": 1.0}, criterion)
    sr, hr = images(rng, 2, 12)
    _, d_sr = loss(sr, hr)
    step = 1e-3
    for _ in range(2):
        # Partly along the gradient: a random direction alone gives a derivative so small
        # that the ReLU kinks and pooling switches a step crosses dominate it.
        v = rng.standard_normal(sr.shape)
        v = v / np.linalg.norm(v) + d_sr / np.linalg.norm(d_sr)
        up = loss((sr + step * v).astype(np.float32), hr)[0]
        down = loss((sr - step * v).astype(np.float32), hr)[0]
        fd = (up - down) / (2 * step)
        assert float(np.sum(d_sr.astype(np.float64) * v)) == pytest.approx(fd, rel=2e-3)


def test_weights_stay_frozen_and_hr_is_not_needed_twice(rng):
    state = {k: v.copy() for k, v in random_state(rng, "conv2_2").items()}
    loss = PerceptualLoss.from_weights(state, {"conv2_2": 1.0})
    before = {k: v.copy() for k, v in loss.vgg.state_dict().items()}
    sr, hr = images(rng, 1, 8)
    first = loss(sr, hr)
    second = loss(sr, hr)
    assert first[0] == second[0] and np.array_equal(first[1], second[1])
    for k, v in loss.vgg.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert loss(hr, hr)[0] == 0.0 and not loss(hr, hr)[1].any()  # identical images: zero loss and gradient


def random_state(rng, deepest):
    state = {}
    for name, (index, cin, cout, _) in VGG19_LAYERS.items():
        if index > VGG19_LAYERS[deepest][0]:
            break
        state[f"features.{index}.weight"] = (rng.standard_normal((cout, cin, 3, 3)) * 0.1).astype(np.float32)
        state[f"features.{index}.bias"] = (rng.standard_normal(cout) * 0.1).astype(np.float32)
    return state


def test_only_the_layers_needed_are_required(rng, tmp_path, torch):
    """A file holding only conv1_1..conv2_2 serves conv2_2 (the reader needs
    nothing deeper) and is refused for conv3_1 with the missing keys named."""
    model = torch_vgg19(torch, last=7)
    path = tmp_path / "shallow.pth"
    torch.save(model.state_dict(), path)
    loss = PerceptualLoss(path, {"conv1_2": 1.0, "conv2_2": 1.0})
    sr, hr = images(rng, 1, 4)
    value, _ = loss(sr, hr)
    assert value == pytest.approx(torch_loss(torch, model, sr, hr, {"conv1_2": 1.0, "conv2_2": 1.0}, "l1")[0],
                                  rel=1e-5)
    with pytest.raises(ValueError, match=r"missing tensors \['features.10.weight'"):
        PerceptualLoss(path, {"conv3_1": 1.0})


def test_legacy_torch_format(rng, tmp_path, torch):
    """torchvision's vgg19-dcbb9e9d.pth predates PyTorch 1.6: the legacy (non-zip) stream."""
    model = torch_vgg19(torch, last=7)
    state = model.state_dict()
    state["classifier.6.weight"] = torch.ones(3, 4)
    path = tmp_path / "legacy.pth"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:2] != b"PK"
    loaded = load_vgg19_state(path, "conv2_2")
    assert sorted(loaded) == sorted(f"features.{i}.{p}" for i in (0, 2, 5, 7) for p in ("weight", "bias"))
    for key, value in loaded.items():
        np.testing.assert_array_equal(value, state[key].numpy())


def test_the_classifier_is_never_read(rng, tmp_path, torch):
    """torchvision's file is mostly its classifier (471 of 548 MiB): only the
    features.* storages are read. Here the classifier's storage record is
    removed from the zip: our loader does not notice, a full read fails."""
    import zipfile

    from sr_native.checkpoints import CheckpointError, read_torch_checkpoint

    model = torch_vgg19(torch, last=2)
    state = model.state_dict()
    state["classifier.0.weight"] = torch.ones(500, 500)  # 1 MB: the largest record by far
    full = tmp_path / "full.pth"
    torch.save(state, full)
    cut = tmp_path / "cut.pth"
    with zipfile.ZipFile(full) as src, zipfile.ZipFile(cut, "w") as dst:
        largest = max(src.infolist(), key=lambda info: info.file_size)
        assert largest.file_size == 500 * 500 * 4
        for info in src.infolist():
            if info.filename != largest.filename:
                dst.writestr(info, src.read(info))
    loaded = load_vgg19_state(cut, "conv1_2")
    np.testing.assert_array_equal(loaded["features.2.weight"], state["features.2.weight"].numpy())
    with pytest.raises(CheckpointError, match="missing"):
        read_torch_checkpoint(cut)


def test_safetensors_export_round_trip(vgg_file, rng, tmp_path):
    _, path = vgg_file
    out = tmp_path / "vgg19-features.safetensors"
    export_vgg19_features(path, out)
    assert out.stat().st_size < 81_000_000  # the 16 convolutions only: 20.0 M floats
    assert not (tmp_path / "vgg19-features.safetensors.tmp").exists()
    a, b = load_vgg19_state(path), load_vgg19_state(out)
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert sorted(load_vgg19_state(out, "conv1_2")) == ["features.0.bias", "features.0.weight",
                                                        "features.2.bias", "features.2.weight"]
    sr, hr = images(rng, 1, 16)
    first = PerceptualLoss(path, REAL_ESRGAN_LAYER_WEIGHTS)(sr, hr)
    second = PerceptualLoss(out, REAL_ESRGAN_LAYER_WEIGHTS)(sr, hr)
    assert first[0] == second[0] and np.array_equal(first[1], second[1])


def test_other_safetensors_files_are_refused(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "other.safetensors"
    save_file({"features.0.weight": np.zeros((64, 3, 3, 3), np.float32)}, str(path), metadata={"format": "x"})
    with pytest.raises(ValueError, match="not sr_native's VGG19 features export"):
        load_vgg19_state(path)


def test_missing_file_says_where_to_get_it(tmp_path):
    for path in (None, tmp_path / "vgg19-dcbb9e9d.pth", str(tmp_path / "nowhere.pth")):
        with pytest.raises(FileNotFoundError, match="download it yourself from " + VGG19_URL.replace(".", r"\.")):
            PerceptualLoss(path)
    assert VGG19_URL == "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
    with pytest.raises(FileNotFoundError, match="no path was given"):
        load_vgg19_state(None)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        load_vgg19_state(3)


def test_wrong_networks_are_refused(rng, torch, tmp_path):
    state = random_state(rng, "conv5_4")
    del state["features.16.weight"]  # vgg16's features.16 is a pooling
    with pytest.raises(ValueError, match=r"not torchvision's VGG19 .*features\.16\.weight"):
        PerceptualLoss.from_weights(state)
    state = random_state(rng, "conv2_2")
    state["features.5.weight"] = state["features.5.weight"][:, :32]
    with pytest.raises(ValueError,
                       match=r"'features.5.weight' has shape \(128, 32, 3, 3\), VGG19 has \(128, 64, 3, 3\)"):
        PerceptualLoss.from_weights(state, {"conv2_1": 1.0})
    ints = torch_vgg19(torch, last=0).state_dict()
    ints["features.0.bias"] = torch.zeros(64, dtype=torch.int64)
    torch.save(ints, tmp_path / "ints.pth")
    with pytest.raises(ValueError, match="'features.0.bias' has dtype int64, expected a float dtype"):
        load_vgg19_state(tmp_path / "ints.pth", "conv1_1")
    path = tmp_path / "list.pth"
    torch.save([torch.ones(2)], path)
    with pytest.raises(ValueError, match="expected torchvision's VGG19 state dict, got a list"):
        load_vgg19_state(path)
    state = random_state(rng, "conv1_1")
    state["features.0.bias"][0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PerceptualLoss.from_weights(state, {"conv1_1": 1.0})


def test_layer_weights_and_criterion_validation(rng):
    state = random_state(rng, "conv2_2")
    with pytest.raises(ValueError, match="unknown VGG19 layer 'relu2_2'; the layers are conv1_1, conv1_2, .*conv5_4"):
        PerceptualLoss.from_weights(state, {"relu2_2": 1.0})
    with pytest.raises(ValueError, match="layer_weights is empty"):
        PerceptualLoss.from_weights(state, {})
    with pytest.raises(TypeError, match="layer_weights must be a dict"):
        PerceptualLoss.from_weights(state, [("conv1_2", 1.0)])
    with pytest.raises(ValueError, match="weight of conv1_2 must be finite and >= 0, got -1"):
        PerceptualLoss.from_weights(state, {"conv1_2": -1})
    with pytest.raises(ValueError, match="weight of conv1_2 must be finite and >= 0, got nan"):
        PerceptualLoss.from_weights(state, {"conv1_2": float("nan")})
    with pytest.raises(TypeError, match="weight of conv1_2 must be a real number, got str"):
        PerceptualLoss.from_weights(state, {"conv1_2": "1"})
    with pytest.raises(ValueError, match="criterion must be 'l1' or 'mse', got 'fro'"):
        PerceptualLoss.from_weights(state, {"conv1_2": 1.0}, "fro")
    with pytest.raises(TypeError, match="criterion must be 'l1' or 'mse', got NoneType"):
        PerceptualLoss.from_weights(state, {"conv1_2": 1.0}, None)
    with pytest.raises(ValueError, match="up to conv5_4"):  # the default asks for conv5_4, which this state lacks
        PerceptualLoss.from_weights(state)


def test_image_validation(rng):
    loss = PerceptualLoss.from_weights(random_state(rng, "conv2_2"), {"conv2_2": 1.0})
    sr, hr = images(rng, 2, 6)
    with pytest.raises(TypeError, match="sr must be a float32 numpy array .*got float64 array"):
        loss(sr.astype(np.float64), hr)
    with pytest.raises(TypeError, match="hr must be a float32 numpy array .*got list"):
        loss(sr, hr.tolist())
    with pytest.raises(ValueError, match=r"sr must be \(N, 3, H, W\) RGB .*got shape \(2, 1, 6, 6\)"):
        loss(sr[:, :1], hr[:, :1])
    with pytest.raises(ValueError, match=r"same shape, got \(2, 3, 6, 6\) and \(1, 3, 6, 6\)"):
        loss(sr, hr[:1])
    with pytest.raises(ValueError, match=r"at least 2 x 2 .*got shape \(2, 3, 1, 6\)"):
        loss(sr[:, :, :1], hr[:, :, :1])
    deep = PerceptualLoss.from_weights(random_state(rng, "conv5_4"), {"conv5_4": 1.0})
    with pytest.raises(ValueError, match=r"at least 16 x 16 .*got shape \(2, 3, 6, 6\)"):
        deep(sr, hr)
    value, _ = loss(np.ascontiguousarray(sr[:, ::-1]), hr)  # any C-contiguous float32 input works
    assert np.isfinite(value)
    vgg = VGG19Features.from_state_dict(random_state(rng, "conv2_2"), "conv2_2")
    with pytest.raises(ValueError, match="conv3_1 is deeper than conv2_2"):
        vgg(sr, ["conv3_1"])
    with pytest.raises(ValueError, match="unknown VGG19 layer 'pool1'"):
        vgg(sr, ["pool1"])
    with pytest.raises(ValueError, match="non-empty list of layer names, got 'conv1_1'"):
        vgg(sr, "conv1_1")
    with pytest.raises(TypeError, match="images must be a float32 numpy array .*float64"):
        vgg(sr.astype(np.float64), ["conv1_1"])
    with pytest.raises(ValueError, match=r"images must be \(N, 3, H, W\) RGB, got shape \(3, 6, 6\)"):
        vgg(sr[0], ["conv1_1"])
    sr_nan = sr.copy()
    sr_nan[0, 0, 0, 0] = np.nan
    assert np.isnan(loss(sr_nan, hr)[0])  # NaN is not hidden
