"""FSRCNN, SRResNet (with and without batch norm), BTSRN, RCAN and PAN:
networks declared by their forward alone, trained through the tape.

Against PyTorch (same random, non-zero weights; torch modules built here
with our state-dict names): the training forward within 1e-4 absolute, the
inference forward likewise, every parameter gradient of an L1 loss within
1e-4 * max|torch| + 1e-3 * |torch| (float32 sums in another order), batch
norm's running statistics after the step within 1e-5. Also: parameter
shapes, save/load, exact tiling, training, and the sub-pixel form of the
transposed convolution against the conv_transpose2d kernel.
"""

import numpy as np
import pytest

import sr_native
from sr_native import autograd, ops, weights
from sr_native.layers import ConvTranspose2d
from sr_native.models import ARCHITECTURES, build
from sr_native.training import loop
from torch_twins import twin

SMALL = {  # fast variants that keep each architecture's structure
    "fsrcnn": dict(d=12, s=5, m=2),
    "srresnet": dict(n_feats=8, n_blocks=2, batch_norm=True),
    "srresnet-nobn": dict(n_feats=8, n_blocks=2, batch_norm=False),
    "btsrn": dict(n_feats=8, n_proj=6, n_lr=2, n_hr=1),
    "rcan": dict(n_feats=8, n_resgroups=2, n_resblocks=2, reduction=4),
    "pan": dict(nf=8, unf=6, n_blocks=2),
}
ARCH = {"srresnet-nobn": "srresnet"}


def random_network(name, scale, rng):
    net = build(ARCH.get(name, name), scale, **SMALL[name])
    for key, p in net.state_dict().items():
        if key.endswith("running_var"):
            p[...] = rng.uniform(0.5, 2.0, p.shape)
        elif key.endswith(("bn1.weight", "bn2.weight", "body_bn.weight")):
            p[...] = rng.uniform(0.5, 1.5, p.shape)
        else:
            p[...] = rng.standard_normal(p.shape) * 0.2
    return net





CASES = [("fsrcnn", 2), ("fsrcnn", 3), ("fsrcnn", 4), ("srresnet", 2), ("srresnet", 4), ("srresnet-nobn", 3),
         ("btsrn", 2), ("btsrn", 3), ("btsrn", 4), ("rcan", 2), ("rcan", 4), ("pan", 2), ("pan", 3), ("pan", 4)]


@pytest.mark.parametrize("name,scale", CASES)
def test_forward_and_gradients_match_pytorch(name, scale, torch, rng):
    net = random_network(name, scale, rng)
    theirs = twin(net, torch)
    x = rng.random((2, 3, 11, 9)).astype(np.float32)
    target = rng.random((2, 3, 11 * scale, 9 * scale)).astype(np.float32)
    gain, mean = net._gain_and_mean()  # the torch modules work in the network's own domain
    x_net = (x - mean[:, None, None]) * gain
    t_net = (target - mean[:, None, None]) * gain

    y, cache = net.forward_raw_train(x_net)
    dy = ops.l1_loss_backward(y, t_net)
    grads = {}
    net.backward_raw(dy, cache, grads)
    theirs.train()
    yt = theirs(torch.from_numpy(x_net))
    torch.nn.functional.l1_loss(yt, torch.from_numpy(t_net)).backward()
    scale_y = max(1.0, float(np.abs(yt.detach().numpy()).max()))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-4 * scale_y)
    params = dict(theirs.named_parameters())
    assert set(grads) == set(params)
    for key, p in params.items():
        want = p.grad.numpy()
        tol = 1e-4 * np.abs(want).max() + 1e-3 * np.abs(want) + 1e-7
        assert np.all(np.abs(grads[key] - want) <= tol), key
    ours = net.state_dict()
    for key, value in theirs.state_dict().items():  # batch norm's running statistics, updated alike
        if key.endswith(("running_mean", "running_var")):
            np.testing.assert_allclose(ours[key], value.numpy(), atol=1e-5, err_msg=key)

    theirs.eval()  # inference: running statistics (folded into the convolutions)
    with torch.no_grad():
        want = theirs(torch.from_numpy(x_net)).numpy()
    np.testing.assert_allclose(net.forward_raw(x_net), want, atol=1e-4 * scale_y)
    np.testing.assert_allclose(net(x), (want / gain) + mean[:, None, None], atol=1e-4 * scale_y / gain)


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_parameter_shapes_match_the_built_network(name, scale):
    arch = ARCH.get(name, name)
    cls = ARCHITECTURES[arch]
    shapes = cls.parameter_shapes(scale, **SMALL[name])
    net = cls(scale, **SMALL[name])
    assert {k: v.shape for k, v in net.state_dict().items()} == shapes
    assert net.arch_args() == {**SMALL[name], "n_colors": 3}


def test_paper_sizes():
    # FSRCNN's paper counts 12,464 weights on one (Y) channel, biases and
    # PReLU slopes (56 + 12 + 4 * 12 + 56 of each, + the deconvolution's bias) aside.
    y_only = build("fsrcnn", 2, n_colors=1)
    assert y_only.num_parameters() == 12464 + 2 * (56 + 12 + 4 * 12 + 56) + 1
    assert build("fsrcnn", 3, d=32, s=5, m=1).d == 32
    assert 15.5e6 < ARCHITECTURES["rcan"].from_preset("rcan", 4).num_parameters() < 15.7e6  # paper: 15.6 M
    assert 0.26e6 < ARCHITECTURES["pan"].from_preset("pan", 4).num_parameters() < 0.28e6  # paper: 272 K
    srres = ARCHITECTURES["srresnet"].from_preset("srresnet", 4)
    assert len(srres.body) == 16 and len(srres.upsample) == 2 and srres.head.kernel_size == 9


@pytest.mark.parametrize("name", sorted(SMALL))
def test_save_load_round_trip(name, tmp_path, rng):
    net = random_network(name, 3, rng)
    net.save(tmp_path / "m.safetensors", provenance={"note": "test"})
    back = weights.load_model(tmp_path / "m.safetensors")
    assert type(back) is type(net) and back.scale == 3 and back.arch_args() == net.arch_args()
    x = rng.random((1, 3, 8, 10)).astype(np.float32)
    np.testing.assert_array_equal(back(x), net(x))


@pytest.mark.parametrize("name,scale", [("fsrcnn", 2), ("fsrcnn", 3), ("fsrcnn", 4), ("srresnet", 4),
                                        ("btsrn", 3), ("btsrn", 4), ("pan", 2), ("pan", 4)])
def test_tiled_upscale_equals_whole(name, scale, rng):
    net = random_network(name, scale, rng)
    img = rng.random((58, 45, 3)).astype(np.float32)
    whole = sr_native.upscale(img, scale, model=net, tile=None)
    assert whole.shape == (58 * scale, 45 * scale, 3)
    np.testing.assert_array_equal(sr_native.upscale(img, scale, model=net, tile=16), whole)


def test_rcan_tiles_differ_only_through_the_attention_means(rng):
    """Channel attention averages whole feature maps: tiles are close to the
    whole image, not equal, and upscale says so."""
    net = build("rcan", 2, n_feats=8, n_resgroups=1, n_resblocks=1, reduction=4)
    for _, p in net.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.2
    img = rng.random((100, 90, 3)).astype(np.float32)
    whole = sr_native.upscale(img, 2, model=net, tile=None)
    with pytest.warns(UserWarning, match="channel attention averages whole feature maps"):
        tiled = sr_native.upscale(img, 2, model=net, tile=16)
    assert 0 < np.abs(tiled - whole).max() < 0.1


@pytest.mark.parametrize("name", sorted(SMALL))
def test_training_steps_reduce_the_loss(name, rng):
    net = build(ARCH.get(name, name), 2, **SMALL[name])
    loop.init_like_pytorch(net, rng)
    hr = rng.random((4, 3, 16, 16)).astype(np.float32)
    hr = (hr + np.roll(hr, 1, axis=3) + np.roll(hr, 1, axis=2)) / 3  # some spatial correlation
    lr = hr.reshape(4, 3, 8, 2, 8, 2).mean(axis=(3, 5)).astype(np.float32)
    cfg = loop.TrainConfig(train_dir="unused", loss="mse")
    adam = loop.Adam(net.trainable())
    losses = [loop.training_step(net, adam, lr, hr, cfg, 2e-3) for _ in range(30)]
    assert losses[-1] < 0.7 * losses[0], losses


def test_batch_norm_statistics_are_saved_not_trained(tmp_path, rng):
    net = random_network("srresnet", 2, rng)
    assert "body.0.bn1.running_var" in net.state_dict()
    assert "body.0.bn1.running_var" not in net.trainable()
    assert "body.0.bn1.weight" in net.trainable()
    fresh = build("srresnet", 2, **SMALL["srresnet"])
    loop.init_like_pytorch(fresh, rng)
    assert (fresh.body[0].bn1.running_var == 1).all() and (fresh.body[0].bn1.weight == 1).all()


@pytest.mark.parametrize("model", ["fsrcnn", "srresnet", "pan"])
def test_train_cli_runs_the_new_networks(model, tmp_path, rng):
    from PIL import Image

    from sr_native.cli import main

    folder = tmp_path / "hr"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    trained = sr_native.train(folder, out_dir=tmp_path / "api", model=model, model_args=SMALL[model], iterations=2,
                              batch_size=2, patch_size=8, progress=False, checkpoint_every=1)
    assert trained.architecture == model
    resumed = sr_native.train(folder, out_dir=tmp_path / "api", model=model, model_args=SMALL[model], iterations=3,
                              batch_size=2, patch_size=8, progress=False, resume=True)
    assert resumed.architecture == model
    assert main(["train", str(folder), "--out", str(tmp_path / "cli"), "--model", model, "--iterations", "1",
                 "--batch-size", "2", "--patch-size", "6", "-q"]) == 0
    assert sr_native.load_model(tmp_path / "cli" / "model.safetensors").architecture == model


# ----------------------------------------------- the transposed convolution's sub-pixel form

@pytest.mark.parametrize("kernel,stride,padding,output_padding", [(9, 2, 4, 1), (9, 3, 4, 2), (9, 4, 4, 3),
                                                                  (2, 2, 0, 0), (3, 3, 0, 0), (4, 2, 1, 0),
                                                                  (5, 3, 1, 0)])
@pytest.mark.parametrize("bias", [True, False])
def test_subpixel_form_equals_the_transposed_convolution(kernel, stride, padding, output_padding, bias, rng):
    """The layer runs as conv2d + pixel shuffle where the output is exactly
    stride times the input; the result, dx, dw and db equal the
    conv_transpose2d kernel's within float32 rounding (5 x 7 inputs, 5 -> 3
    channels, batch 2)."""
    layer = ConvTranspose2d(5, 3, kernel, stride=stride, padding=padding, output_padding=output_padding, bias=bias)
    assert (autograd._subpixel_form(layer) is not None) == (kernel + output_padding - 2 * padding == stride)
    layer.weight[...] = rng.standard_normal(layer.weight.shape)
    if bias:
        layer.bias[...] = rng.standard_normal(3)
    geometry = dict(stride=stride, padding=padding, output_padding=output_padding)
    x = rng.standard_normal((2, 5, 5, 7)).astype(np.float32)
    want = ops.conv_transpose2d(x, layer.weight, layer.bias, **geometry)
    np.testing.assert_allclose(autograd.conv_transpose2d(layer, x), want, atol=2e-5)
    with autograd.Tape() as tape:
        xx = tape.watch(x.copy())
        y = autograd.conv_transpose2d(layer, xx)
    np.testing.assert_allclose(y, want, atol=2e-5)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    tape.backward(y, dy)
    dx, dw, db = ops.conv_transpose2d_backward(x, layer.weight, dy, **geometry)
    np.testing.assert_allclose(tape.input_grad(xx), dx, atol=3e-5)

    class Holder(sr_native.layers.Module):
        pass

    holder = Holder()
    holder.layer = layer
    grads = tape.parameter_grads(holder)
    np.testing.assert_allclose(grads["layer.weight"], dw, atol=3e-5)
    if bias:
        np.testing.assert_allclose(grads["layer.bias"], db, atol=3e-5)


# ----------------------------------------------------------------- luma (1-channel) models

def test_ycbcr_round_trip_and_matlab_luma(rng):
    from sr_native import metrics
    from sr_native.colour import rgb_to_ycbcr, ycbcr_to_rgb

    rgb = rng.random((7, 5, 3)).astype(np.float32)
    ycc = rgb_to_ycbcr(rgb)
    np.testing.assert_allclose(ycbcr_to_rgb(ycc), rgb, atol=2e-6)
    np.testing.assert_allclose(ycc[..., 0] * 255, 16 + rgb @ np.array([65.481, 128.553, 24.966]), rtol=1e-5)
    assert rgb_to_ycbcr(np.ones(3))[1] == pytest.approx(128 / 255)  # white has no chroma
    assert metrics is not None


def luma_network(rng, scale=2):
    net = build("srcnn", scale, n1=8, n2=4, k1=5, k2=1, k3=3, n_colors=1)
    for _, p in net.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.05
    return net


@pytest.mark.parametrize("channels", [0, 1, 3, 4])
def test_luma_model_tiles_equal_the_whole_image(channels, rng):
    net = luma_network(rng, 3)
    shape = (40, 37) + ((channels,) if channels else ())
    img = (rng.random(shape) * 0.6 + 0.2).astype(np.float32)
    whole = sr_native.upscale(img, 3, model=net, tile=None)
    assert whole.shape == (120, 111) + shape[2:]
    np.testing.assert_array_equal(sr_native.upscale(img, 3, model=net, tile=16), whole)


def test_luma_model_runs_on_y_and_leaves_chroma_to_bicubic(rng):
    from sr_native.colour import rgb_to_ycbcr
    from sr_native.resize import resize

    from sr_native.upscaling import _run_on_luma

    net = luma_network(rng)
    img = (rng.random((20, 18, 3)) * 0.6 + 0.2).astype(np.float32)
    out = _run_on_luma(net, img, 2, False, "cpu").transpose(1, 2, 0)  # before upscale's clipping
    assert out.shape == (40, 36, 3)
    ycc_in, ycc_out = rgb_to_ycbcr(img), rgb_to_ycbcr(out)
    want_y = net(np.ascontiguousarray(ycc_in[None, None, :, :, 0]))[0, 0]
    np.testing.assert_allclose(ycc_out[..., 0], want_y, atol=1e-5)
    np.testing.assert_allclose(ycc_out[..., 1], resize(np.ascontiguousarray(ycc_in[..., 1]), size=(40, 36),
                                                       method="bicubic"), atol=1e-5)


def test_batch_norm_network_is_refused_on_the_gpu_before_anything_moves(rng):
    net = random_network("srresnet", 2, rng)
    with pytest.raises(TypeError, match="batch norm, which has no CUDA kernel"):
        net.to("cuda")
    assert all(isinstance(p, np.ndarray) for p in net.state_dict().values())
