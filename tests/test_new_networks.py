"""SRCNN, ESPCN and VDSR: networks declared by their forward alone, trained
through the tape (sr_native.autograd).

Against PyTorch (same weights, random and non-zero): the forward within 1e-5
absolute, every parameter gradient of an L1 loss per tensor within
1e-4 * max|torch| + 1e-3 * |torch| (float32 sums in another order), as in
test_model_gradients.py. SRCNN and VDSR start from sr_native.resize's bicubic
(MATLAB's, a = -0.5), which torch lacks: the torch networks get our
bicubic-upscaled image as their input (no gradient flows into it).
Also: parameter_shapes, save/load, exact tiling, training.
"""

import numpy as np
import pytest

import sr_native
from sr_native import autograd, ops, weights
from sr_native.models import ARCHITECTURES, ESPCN, SRCNN, VDSR, build
from sr_native.models import espcn as espcn_module
from sr_native.models import srcnn as srcnn_module
from sr_native.models import vdsr as vdsr_module
from sr_native.training import loop
from torch_twins import twin

SMALL = {  # fast variants that keep each architecture's structure
    "srcnn": dict(n1=16, n2=8),
    "espcn": dict(n1=16, n2=8),
    "vdsr": dict(n_feats=16, n_layers=5),
}


def random_network(arch, scale, rng, **args):
    net = build(arch, scale, **{**SMALL[arch], **args})
    for _, p in net.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.1
    return net





@pytest.mark.parametrize("arch,scale", [("srcnn", 2), ("srcnn", 3), ("espcn", 2), ("espcn", 3), ("espcn", 4),
                                        ("vdsr", 2), ("vdsr", 4)])
def test_forward_and_gradients_match_pytorch(arch, scale, torch, rng):
    net = random_network(arch, scale, rng)
    x = rng.random((2, 3, 11, 9)).astype(np.float32)
    target = rng.random((2, 3, 11 * scale, 9 * scale)).astype(np.float32)
    y, cache = net.forward_train(x)
    loss = ops.l1_loss(y, target)
    grads = net.backward(ops.l1_loss_backward(y, target), cache)

    theirs = twin(net, torch)
    t_in = x if arch == "espcn" else autograd.upsample_bicubic(x, scale)
    yt = theirs(torch.from_numpy(t_in))
    lt = torch.nn.functional.l1_loss(yt, torch.from_numpy(target))
    lt.backward()
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(net(x), y, atol=1e-5)  # inference runs the same definition
    assert loss == pytest.approx(lt.item(), rel=1e-5)
    params = dict(theirs.named_parameters())
    assert set(grads) == set(params) == set(net.state_dict())
    for name, p in params.items():
        want = p.grad.numpy()
        tol = 1e-4 * np.abs(want).max() + 1e-3 * np.abs(want)
        assert np.all(np.abs(grads[name] - want) <= tol), name


@pytest.mark.parametrize("arch", ["srcnn", "espcn", "vdsr"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_parameter_shapes_match_the_built_network(arch, scale):
    cls = ARCHITECTURES[arch]
    preset = {"srcnn": srcnn_module, "espcn": espcn_module, "vdsr": vdsr_module}[arch].PRESETS[arch]
    shapes = cls.parameter_shapes(scale, **preset)
    net = cls.from_preset(arch, scale)
    assert {k: v.shape for k, v in net.state_dict().items()} == shapes
    assert net.arch_args() == {**preset, "n_colors": 3}


def test_paper_sizes():
    assert SRCNN(2).num_parameters() == 64 * 3 * 81 + 64 + 32 * 64 + 32 + 3 * 32 * 25 + 3
    assert ESPCN(3).conv3.weight.shape == (27, 32, 3, 3)
    assert len(VDSR(2).body) == 18


@pytest.mark.parametrize("arch", ["srcnn", "espcn", "vdsr"])
def test_save_load_round_trip(arch, tmp_path, rng):
    net = random_network(arch, 3, rng)
    net.save(tmp_path / "m.safetensors", provenance={"note": "test"})
    back = weights.load_model(tmp_path / "m.safetensors")
    assert type(back) is type(net) and back.scale == 3 and back.arch_args() == net.arch_args()
    assert back.normalization == net.normalization and back.provenance["note"] == "test"
    x = rng.random((1, 3, 8, 10)).astype(np.float32)
    np.testing.assert_array_equal(back(x), net(x))


@pytest.mark.parametrize("arch,scale", [("srcnn", 2), ("srcnn", 3), ("espcn", 2), ("espcn", 4), ("vdsr", 2),
                                        ("vdsr", 3)])
def test_tiled_upscale_equals_whole(arch, scale, rng):
    """The bicubic pre-upsampling mirrors the window's edge: receptive_radius
    counts its 2 LR pixels, so tiles still equal the whole image bit for bit."""
    net = random_network(arch, scale, rng)
    img = rng.random((58, 45, 3)).astype(np.float32)
    whole = sr_native.upscale(img, scale, model=net, tile=None)
    assert whole.shape == (58 * scale, 45 * scale, 3)
    np.testing.assert_array_equal(sr_native.upscale(img, scale, model=net, tile=16), whole)
    if (arch, scale) == ("vdsr", 2):  # flips and transposes of the mirrored border too
        np.testing.assert_array_equal(sr_native.upscale(img, scale, model=net, tile=16, self_ensemble=True),
                                      sr_native.upscale(img, scale, model=net, tile=None, self_ensemble=True))


@pytest.mark.parametrize("arch", ["srcnn", "espcn", "vdsr"])
def test_training_steps_reduce_the_loss(arch, rng):
    net = build(arch, 2, **SMALL[arch])
    loop.init_like_pytorch(net, rng)
    hr = rng.random((4, 3, 8, 8)).astype(np.float32)
    hr = (hr + np.roll(hr, 1, axis=3) + np.roll(hr, 1, axis=2)) / 3  # some spatial correlation
    lr = hr.reshape(4, 3, 4, 2, 4, 2).mean(axis=(3, 5)).astype(np.float32)
    cfg = loop.TrainConfig(train_dir="unused", loss="mse")
    adam = loop.Adam(net.state_dict())
    losses = [loop.training_step(net, adam, lr, hr, cfg, 3e-3) for _ in range(25)]
    # VDSR starts at the bicubic image (its residual is small), near what
    # random textures allow: a smaller drop is asked of it.
    assert losses[-1] < (0.9 if arch == "vdsr" else 0.7) * losses[0], losses


@pytest.mark.parametrize("model", ["srcnn", "espcn", "vdsr"])
def test_train_api_and_cli_run_the_new_networks(model, tmp_path, rng):
    from PIL import Image

    from sr_native.cli import main

    folder = tmp_path / "hr"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    trained = sr_native.train(folder, out_dir=tmp_path / "api", model=model, model_args=SMALL[model], iterations=2,
                              batch_size=2, patch_size=8, progress=False)
    assert trained.architecture == model
    assert main(["train", str(folder), "--out", str(tmp_path / "cli"), "--model", model, "--iterations", "1",
                 "--batch-size", "1", "--patch-size", "6", "-q"]) == 0
    assert sr_native.load_model(tmp_path / "cli" / "model.safetensors").architecture == model
