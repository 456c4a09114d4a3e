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


def torch_network(name, net, torch):
    """The same network in torch, with our attribute names (so state dicts match)."""
    nn, F = torch.nn, torch.nn.functional

    def conv(layer):
        k = layer.kernel_size
        return nn.Conv2d(layer.in_channels, layer.out_channels, k, padding=k // 2, bias=layer.bias is not None)

    def bn(layer):
        return None if layer is None else nn.BatchNorm2d(layer.weight.shape[0])

    def prelu(layer):
        return nn.PReLU(layer.weight.shape[0])

    def factors(scale):
        return [2, 2] if scale == 4 else [scale]

    class Fsrcnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.feature, self.feature_act = conv(net.feature), prelu(net.feature_act)
            self.shrink, self.shrink_act = conv(net.shrink), prelu(net.shrink_act)
            self.mapping = nn.ModuleList(conv(c) for c in net.mapping)
            self.mapping_act = nn.ModuleList(prelu(a) for a in net.mapping_act)
            self.expand, self.expand_act = conv(net.expand), prelu(net.expand_act)
            d = net.deconv
            self.deconv = nn.ConvTranspose2d(d.weight.shape[0], d.weight.shape[1], d.weight.shape[2],
                                             stride=d.stride, padding=d.padding, output_padding=d.output_padding)

        def forward(self, x):
            h = self.shrink_act(self.shrink(self.feature_act(self.feature(x))))
            for c, a in zip(self.mapping, self.mapping_act):
                h = a(c(h))
            return self.deconv(self.expand_act(self.expand(h)))

    class SrresBlock(nn.Module):
        def __init__(self, block):
            super().__init__()
            self.conv1, self.bn1, self.act = conv(block.conv1), bn(block.bn1), prelu(block.act)
            self.conv2, self.bn2 = conv(block.conv2), bn(block.bn2)

        def forward(self, x):
            h = self.conv1(x)
            h = self.act(self.bn1(h) if self.bn1 is not None else h)
            h = self.conv2(h)
            return x + (self.bn2(h) if self.bn2 is not None else h)

    class Srresnet(nn.Module):
        def __init__(self):
            super().__init__()
            self.head, self.head_act = conv(net.head), prelu(net.head_act)
            self.body = nn.ModuleList(SrresBlock(b) for b in net.body)
            self.body_conv, self.body_bn = conv(net.body_conv), bn(net.body_bn)
            self.upsample = nn.ModuleList(conv(c) for c in net.upsample)
            self.upsample_act = nn.ModuleList(prelu(a) for a in net.upsample_act)
            self.tail = conv(net.tail)

        def forward(self, x):
            h = self.head_act(self.head(x))
            r = h
            for b in self.body:
                r = b(r)
            r = self.body_conv(r)
            r = h + (self.body_bn(r) if self.body_bn is not None else r)
            for c, a, f in zip(self.upsample, self.upsample_act, factors(net.scale)):
                r = a(F.pixel_shuffle(c(r), f))
            return self.tail(r)

    class Projected(nn.Module):
        def __init__(self, block):
            super().__init__()
            self.project, self.filter = conv(block.project), conv(block.filter)

        def forward(self, x):
            return x + self.filter(torch.relu(self.project(torch.relu(x))))

    class Btsrn(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = conv(net.head)
            self.lr_blocks = nn.ModuleList(Projected(b) for b in net.lr_blocks)
            self.upsample = nn.ModuleList(nn.ConvTranspose2d(u.weight.shape[0], u.weight.shape[1], u.stride,
                                                             stride=u.stride) for u in net.upsample)
            self.hr_blocks = nn.ModuleList(Projected(b) for b in net.hr_blocks)
            self.tail = conv(net.tail)

        def forward(self, x):
            h = self.head(x)
            for b in self.lr_blocks:
                h = b(h)
            for u, f in zip(self.upsample, factors(net.scale)):
                h = F.interpolate(h, scale_factor=f, mode="nearest") + u(h)
            for b in self.hr_blocks:
                h = b(h)
            return self.tail(torch.relu(h))

    class Rcab(nn.Module):
        def __init__(self, block):
            super().__init__()
            self.conv1, self.conv2 = conv(block.conv1), conv(block.conv2)
            self.attention_down, self.attention_up = conv(block.attention_down), conv(block.attention_up)

        def forward(self, x):
            t = self.conv2(torch.relu(self.conv1(x)))
            s = torch.sigmoid(self.attention_up(torch.relu(self.attention_down(t.mean(dim=(2, 3), keepdim=True)))))
            return x + t * s

    class Group(nn.Module):
        def __init__(self, group):
            super().__init__()
            self.blocks = nn.ModuleList(Rcab(b) for b in group.blocks)
            self.conv = conv(group.conv)

        def forward(self, x):
            r = x
            for b in self.blocks:
                r = b(r)
            return x + self.conv(r)

    class Rcan(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = conv(net.head)
            self.groups = nn.ModuleList(Group(g) for g in net.groups)
            self.body_conv = conv(net.body_conv)
            self.upsample = nn.ModuleList(conv(c) for c in net.upsample)
            self.tail = conv(net.tail)

        def forward(self, x):
            h = self.head(x)
            r = h
            for g in self.groups:
                r = g(r)
            r = h + self.body_conv(r)
            for c, f in zip(self.upsample, factors(net.scale)):
                r = F.pixel_shuffle(c(r), f)
            return self.tail(r)

    class Scpa(nn.Module):
        def __init__(self, b):
            super().__init__()
            for name in ("conv1_a", "conv1_b", "k1", "pa_gate", "pa_conv", "pa_out", "conv3"):
                setattr(self, name, conv(getattr(b, name)))

        def forward(self, x):
            lrelu = nn.functional.leaky_relu
            a = lrelu(self.k1(lrelu(self.conv1_a(x), 0.2)), 0.2)
            b = lrelu(self.conv1_b(x), 0.2)
            b = self.pa_out(self.pa_conv(b) * torch.sigmoid(self.pa_gate(b)))
            return x + self.conv3(torch.cat([a, lrelu(b, 0.2)], 1))

    class Attention(nn.Module):
        def __init__(self, a):
            super().__init__()
            self.conv = conv(a.conv)

    class Up(nn.Module):
        def __init__(self, u):
            super().__init__()
            self.conv, self.hr_conv, self.attention = conv(u.conv), conv(u.hr_conv), Attention(u.attention)

        def forward(self, x, f):
            h = self.conv(F.interpolate(x, scale_factor=f, mode="nearest"))
            h = F.leaky_relu(h * torch.sigmoid(self.attention.conv(h)), 0.2)
            return F.leaky_relu(self.hr_conv(h), 0.2)

    class Pan(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = conv(net.head)
            self.body = nn.ModuleList(Scpa(b) for b in net.body)
            self.body_conv = conv(net.body_conv)
            self.upsample = nn.ModuleList(Up(u) for u in net.upsample)
            self.tail = conv(net.tail)

        def forward(self, x):
            h = self.head(x)
            r = h
            for b in self.body:
                r = b(r)
            r = h + self.body_conv(r)
            for u, f in zip(self.upsample, factors(net.scale)):
                r = u(r, f)
            ilr = F.interpolate(x, scale_factor=net.scale, mode="bilinear", align_corners=False)
            return self.tail(r) + ilr

    model = {"fsrcnn": Fsrcnn, "srresnet": Srresnet, "btsrn": Btsrn, "rcan": Rcan, "pan": Pan}[net.architecture]()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in net.state_dict().items()}, strict=False)
    theirs = set(model.state_dict()) - {k for k in model.state_dict() if k.endswith("num_batches_tracked")}
    assert theirs == set(net.state_dict())
    return model


CASES = [("fsrcnn", 2), ("fsrcnn", 3), ("fsrcnn", 4), ("srresnet", 2), ("srresnet", 4), ("srresnet-nobn", 3),
         ("btsrn", 2), ("btsrn", 3), ("btsrn", 4), ("rcan", 2), ("rcan", 4), ("pan", 2), ("pan", 3), ("pan", 4)]


@pytest.mark.parametrize("name,scale", CASES)
def test_forward_and_gradients_match_pytorch(name, scale, torch, rng):
    net = random_network(name, scale, rng)
    theirs = torch_network(name, net, torch)
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
