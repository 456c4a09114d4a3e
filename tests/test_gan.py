"""Adversarial training: GAN losses, spectral norm, the two discriminators
(forward and every gradient against PyTorch twins written here), one whole
generator + discriminator iteration against the same iteration in PyTorch,
exact resume, and the options that are refused."""

import csv

import numpy as np
import pytest

import sr_native
from sr_native.autograd import Tape
from sr_native.layers import Module
from sr_native.training import discriminators as D
from sr_native.training import gan, loop


def assert_close(ours, theirs, rel, what):
    """max |ours - theirs| <= rel * max |theirs| (float32 sums in different orders)."""
    theirs = np.asarray(theirs, np.float64)
    err = np.abs(np.asarray(ours, np.float64) - theirs).max()
    scale = max(np.abs(theirs).max(), 1e-12)
    assert err <= rel * scale, f"{what}: max error {err:.3g} vs max |value| {scale:.3g}"


# ------------------------------------------------------------------- losses

def _torch_d_loss(torch, kind, real, fake):
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    if kind == "vanilla":
        return bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
    return 0.5 * (bce(real - fake.mean(), torch.ones_like(real)) + bce(fake - real.mean(), torch.zeros_like(fake)))


def _torch_g_loss(torch, kind, real, fake):
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    if kind == "vanilla":
        return bce(fake, torch.ones_like(fake))
    return 0.5 * (bce(real - fake.mean(), torch.zeros_like(real)) + bce(fake - real.mean(), torch.ones_like(fake)))


@pytest.mark.parametrize("kind", ["vanilla", "ragan"])
@pytest.mark.parametrize("shape", [(5, 1, 1, 1), (2, 1, 6, 7)])
def test_gan_losses_match_torch(torch, rng, kind, shape):
    real = (rng.standard_normal(shape) * 3).astype(np.float32)
    fake = (rng.standard_normal(shape) * 3 - 1).astype(np.float32)
    real.flat[0], fake.flat[-1] = 60.0, -80.0  # far in the tails: the stable form must not overflow
    r, f = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (real, fake))
    expected = _torch_d_loss(torch, kind, r, f)
    expected.backward()
    value, d_real, d_fake = gan.discriminator_loss(kind, real, fake)
    assert value == pytest.approx(expected.item(), rel=1e-6)
    assert_close(d_real, r.grad.numpy(), 1e-5, "d_real")
    assert_close(d_fake, f.grad.numpy(), 1e-5, "d_fake")

    r2 = torch.tensor(real, dtype=torch.float64)  # a constant in the generator's loss
    f2 = torch.tensor(fake, dtype=torch.float64, requires_grad=True)
    expected = _torch_g_loss(torch, kind, r2, f2)
    expected.backward()
    value, d_fake = gan.generator_loss(kind, fake, real if kind == "ragan" else None)
    assert value == pytest.approx(expected.item(), rel=1e-6)
    assert_close(d_fake, f2.grad.numpy(), 1e-5, "generator d_fake")


def test_bce_with_logits_matches_torch(torch, rng):
    x = (rng.standard_normal((3, 4)) * 20).astype(np.float32)
    for target in (0.0, 1.0, 0.3):
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        expected = torch.nn.functional.binary_cross_entropy_with_logits(t, torch.full_like(t, target))
        expected.backward()
        value, grad = gan.bce_with_logits(x, target)
        assert value == pytest.approx(expected.item(), rel=1e-6)
        assert_close(grad, t.grad.numpy(), 1e-5, f"target {target}")


@pytest.mark.parametrize("kind", ["vanilla", "ragan"])
def test_gan_loss_gradients_by_finite_differences(rng, kind):
    real = rng.standard_normal((3, 1, 2, 2)).astype(np.float32)
    fake = rng.standard_normal((3, 1, 2, 2)).astype(np.float32)
    _, d_real, d_fake = gan.discriminator_loss(kind, real, fake)
    _, g_fake = gan.generator_loss(kind, fake, real)
    h = 1e-2
    for i in range(real.size):
        for which, analytic in (("real", d_real), ("fake", d_fake), ("g", g_fake)):
            up, down = real.copy(), real.copy()
            f_up, f_down = fake.copy(), fake.copy()
            if which == "real":
                up.flat[i] += h
                down.flat[i] -= h
                numeric = (gan.discriminator_loss(kind, up, fake)[0] - gan.discriminator_loss(kind, down, fake)[0])
            else:
                f_up.flat[i] += h
                f_down.flat[i] -= h
                loss = gan.discriminator_loss if which == "fake" else (lambda k, r, f: gan.generator_loss(k, f, r))
                numeric = loss(kind, real, f_up)[0] - loss(kind, real, f_down)[0]
            assert numeric / (2 * h) == pytest.approx(float(analytic.flat[i]), abs=2e-4), (which, i)


def test_gan_losses_refuse_bad_input():
    x = np.zeros((2, 1), np.float32)
    with pytest.raises(ValueError, match="discriminator_loss: kind"):
        gan.discriminator_loss("wgan", x, x)
    with pytest.raises(ValueError, match="same shape"):
        gan.discriminator_loss("ragan", x, np.zeros((3, 1), np.float32))
    with pytest.raises(TypeError, match="float32"):
        gan.generator_loss("vanilla", x.astype(np.float64))
    with pytest.raises(ValueError, match="real logits"):
        gan.generator_loss("ragan", x)
    with pytest.raises(ValueError, match=r"target must be in \[0, 1\]"):
        gan.bce_with_logits(x, 2.0)


# ------------------------------------------------------------ spectral norm

def _torch_sn_conv(torch, ours):
    """torch.nn.utils.spectral_norm around a Conv2d holding our weight, u and v."""
    o, c, k, _ = ours.weight.shape
    conv = torch.nn.Conv2d(c, o, k, padding=k // 2, bias=ours.bias is not None)
    conv = torch.nn.utils.spectral_norm(conv)
    with torch.no_grad():
        conv.weight_orig.copy_(torch.from_numpy(ours.weight))
        conv.weight_u.copy_(torch.from_numpy(ours.weight_u))
        conv.weight_v.copy_(torch.from_numpy(ours.weight_v))
        if ours.bias is not None:
            conv.bias.copy_(torch.from_numpy(ours.bias))
    return conv


def _holding(layer):
    """A Module holding one layer as `conv` (the tape reports gradients per module)."""
    holder = Module()
    holder.conv = layer
    return holder


def test_spectral_norm_matches_torch(torch, rng):
    ours = D.SNConv2d(5, 6, 3, bias=True)
    ours.weight[...] = rng.standard_normal(ours.weight.shape) * 0.3
    ours.bias[...] = rng.standard_normal(6) * 0.1
    ours.init_vectors(rng)
    theirs = _torch_sn_conv(torch, ours)
    for step in range(3):  # each training forward moves u and v once, in both
        x = rng.standard_normal((2, 5, 7, 6)).astype(np.float32)
        dy = rng.standard_normal((2, 6, 7, 6)).astype(np.float32)
        with Tape() as tape:
            tape.watch(x)
            y = ours(x)
        tape.backward(y, dy)
        grads = tape.parameter_grads(_holding(ours))
        xt = torch.from_numpy(x).requires_grad_(True)
        theirs.zero_grad()
        yt = theirs(xt)
        yt.backward(torch.from_numpy(dy))
        assert_close(ours.weight_u, theirs.weight_u.numpy(), 1e-5, f"u after step {step}")
        assert_close(ours.weight_v, theirs.weight_v.numpy(), 1e-5, f"v after step {step}")
        assert_close(y, yt.detach().numpy(), 1e-5, "output")
        assert_close(grads["conv.weight"], theirs.weight_orig.grad.numpy(), 1e-4, "dW through the normalisation")
        assert_close(grads["conv.bias"], theirs.bias.grad.numpy(), 1e-5, "db")
        assert_close(tape.input_grad(x), xt.grad.numpy(), 1e-5, "dx")
    # sigma estimates the largest singular value; the power iteration converges to it
    for _ in range(200):
        ours.power_iteration()
    assert ours.sigma() == pytest.approx(np.linalg.svd(ours.weight.reshape(6, -1), compute_uv=False)[0], rel=1e-4)
    # evaluation (no tape) uses the stored u, v as PyTorch's eval mode
    theirs.eval()
    x = rng.standard_normal((1, 5, 4, 4)).astype(np.float32)
    u_before = ours.weight_u.copy()
    _torch_sn_conv(torch, ours).eval()
    theirs = _torch_sn_conv(torch, ours).eval()
    assert_close(ours(x), theirs(torch.from_numpy(x)).detach().numpy(), 1e-5, "eval output")
    np.testing.assert_array_equal(ours.weight_u, u_before)


def test_spectral_norm_gradient_by_finite_differences(rng):
    ours = D.SNConv2d(2, 3, 3, bias=False)
    ours.weight[...] = rng.standard_normal(ours.weight.shape)
    ours.init_vectors(rng)
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    dy = rng.standard_normal((1, 3, 4, 4)).astype(np.float32)
    u, v = ours.weight_u.copy(), ours.weight_v.copy()
    with Tape() as tape:
        y = ours(x)
    tape.backward(y, dy)
    dw = tape.parameter_grads(_holding(ours))["conv.weight"]
    u1, v1 = ours.weight_u.copy(), ours.weight_v.copy()  # the vectors this forward used

    def loss(w):  # u and v fixed, as the gradient assumes
        w64 = w.astype(np.float64)
        sigma = u1.astype(np.float64) @ w64.reshape(3, -1) @ v1.astype(np.float64)
        return float((sr_native.ops.conv2d(x, (w64 / sigma).astype(np.float32)) * dy).sum(dtype=np.float64))

    h = 1e-2
    w0 = ours.weight.copy()
    for i in rng.choice(w0.size, 8, replace=False):
        up, down = w0.copy(), w0.copy()
        up.flat[i] += h
        down.flat[i] -= h
        assert (loss(up) - loss(down)) / (2 * h) == pytest.approx(float(dw.flat[i]), rel=2e-2, abs=2e-3)
    assert not np.array_equal(u, u1) and not np.array_equal(v, v1)


# ------------------------------------------------------------ discriminators

def _random_weights(net, rng, std=0.2):
    for name, p in net.trainable().items():
        p[...] = rng.standard_normal(p.shape) * std
        if name.startswith("norms.") and name.endswith("weight"):
            p[...] = 1.0 + rng.standard_normal(p.shape) * 0.1


def _torch_twin(torch, ours):
    """The same discriminator in PyTorch: pixel_unshuffle + conv for the
    downsampling, torch's BatchNorm2d in training mode, spectral_norm, bilinear
    interpolate; weights copied from ours."""
    nn, F = torch.nn, torch.nn.functional

    def conv(layer):
        if isinstance(layer, D.SNConv2d):
            return _torch_sn_conv(torch, layer)
        o, c, k, _ = layer.weight.shape
        m = nn.Conv2d(c, o, k, padding=k // 2, bias=layer.bias is not None)
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(layer.weight))
            if layer.bias is not None:
                m.bias.copy_(torch.from_numpy(layer.bias))
        return m

    def lrelu(t):
        return F.leaky_relu(t, 0.2)

    if isinstance(ours, D.VGGDiscriminator):
        class Twin(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv_first = conv(ours.conv_first)
                self.convs = nn.ModuleList(conv(c) for c in ours.convs)
                self.norms = nn.ModuleList(nn.BatchNorm2d(bn.weight.size) for bn in ours.norms)
                with torch.no_grad():
                    for bn, mine in zip(self.norms, ours.norms):
                        bn.weight.copy_(torch.from_numpy(mine.weight))
                        bn.bias.copy_(torch.from_numpy(mine.bias))
                self.dense1, self.dense2 = conv(ours.dense1), conv(ours.dense2)

            def forward(self, x):
                x = lrelu(self.conv_first(x))
                for j, (c, bn) in enumerate(zip(self.convs, self.norms)):
                    if j % 2 == 0:
                        x = F.pixel_unshuffle(x, 2)
                    x = lrelu(bn(c(x)))
                x = x.mean(dim=(2, 3), keepdim=True)
                return self.dense2(lrelu(self.dense1(x)))
        return Twin()

    class TwinUNet(nn.Module):
        def __init__(self):
            super().__init__()
            for i in range(10):
                setattr(self, f"conv{i}", conv(getattr(ours, f"conv{i}")))

        def forward(self, x):
            def up(t):
                return F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)

            x0 = lrelu(self.conv0(x))
            x1 = lrelu(self.conv1(F.pixel_unshuffle(x0, 2)))
            x2 = lrelu(self.conv2(F.pixel_unshuffle(x1, 2)))
            x3 = lrelu(self.conv3(F.pixel_unshuffle(x2, 2)))
            x4 = lrelu(self.conv4(up(x3))) + x2
            x5 = lrelu(self.conv5(up(x4))) + x1
            x6 = lrelu(self.conv6(up(x5))) + x0
            return self.conv9(lrelu(self.conv8(lrelu(self.conv7(x6)))))
    return TwinUNet()


def _twin_params(torch, twin):
    """Our state-dict names -> the twin's tensors (spectral norm's weight_orig is our weight)."""
    return {k.replace("weight_orig", "weight"): v for k, v in twin.named_parameters()}


def _twin_state(twin):
    return {k.replace("weight_orig", "weight"): v for k, v in twin.state_dict().items()
            if not k.endswith("num_batches_tracked")}


DISCS = [("vgg", dict(channels=[4, 8, 6], dense=12), 16), ("unet", dict(num_feat=4), 16)]


@pytest.mark.parametrize("kind,args,size", DISCS)
def test_discriminator_forward_and_gradients_match_torch(torch, rng, kind, args, size):
    ours = D.build_discriminator(kind, rng, **args)
    _random_weights(ours, rng)
    twin = _torch_twin(torch, ours)
    x = rng.random((3, 3, size, size + 8)).astype(np.float32)
    with Tape() as tape:
        tape.watch(x)
        y = ours(x)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    tape.backward(y, dy)
    grads = tape.parameter_grads(ours)
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = twin(xt)
    yt.backward(torch.from_numpy(dy))
    assert y.shape == tuple(yt.shape) == ((3, 1, 1, 1) if kind == "vgg" else (3, 1, size, size + 8))
    assert_close(y, yt.detach().numpy(), 1e-4, "logits")
    assert_close(tape.input_grad(x), xt.grad.numpy(), 1e-4, "d input")
    theirs = _twin_params(torch, twin)
    assert set(grads) == set(theirs)
    for name, g in grads.items():
        assert np.abs(theirs[name].grad.numpy()).max() > 0, name  # every parameter matters
        assert_close(g, theirs[name].grad.numpy(), 2e-4, name)
    # buffers moved as in torch's training mode: running statistics, u and v
    state = _twin_state(twin)
    for name, value in ours.state_dict().items():
        assert_close(value, state[name].detach().numpy(), 1e-4, name)


def test_bilinear_upsample_matches_torch_and_its_adjoint(torch, rng):
    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    y = D.upsample_bilinear2x(x)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=2, mode="bilinear",
                                               align_corners=False)
    assert_close(y, expected.numpy(), 1e-6, "upsample")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    with Tape() as tape:
        tape.watch(x)
        out = D.upsample_bilinear2x(x)
    tape.backward(out, dy)
    # <up(x), dy> == <x, up^T(dy)>
    assert float((y * dy).sum(dtype=np.float64)) == pytest.approx(
        float((x * tape.input_grad(x)).sum(dtype=np.float64)), rel=1e-5)


def test_discriminators_refuse_bad_input(rng):
    vgg = D.build_discriminator("vgg", rng, channels=[4, 8], dense=8)
    with pytest.raises(ValueError, match=r"multiples of 4.*\(1, 3, 6, 8\)"):
        vgg(np.zeros((1, 3, 6, 8), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        vgg(np.zeros((1, 1, 8, 8), np.float32))
    with pytest.raises(TypeError, match="float32"):
        vgg(np.zeros((1, 3, 8, 8)))
    with pytest.raises(ValueError, match="kind must be one of"):
        D.build_discriminator("patchgan", rng)
    with pytest.raises(ValueError, match="num_feat must be >= 1"):
        D.UNetDiscriminatorSN(num_feat=0)
    with pytest.raises(TypeError, match="CPU only"):
        D.build_discriminator("unet", rng, num_feat=2).to("cuda")


# ------------------------------------------------ one iteration against torch

class StandInPerceptual:
    """A stand-in with PerceptualLoss's interface: mean |(sr - hr) * w_c| with
    fixed per-channel weights (the real one is tested in test_perceptual.py)."""

    W = np.array([0.5, 2.0, 1.0], np.float32).reshape(1, 3, 1, 1)

    def __call__(self, sr, hr):
        d = (sr - hr) * self.W
        return float(np.abs(d).mean(dtype=np.float64)), (np.sign(d) * self.W / d.size).astype(np.float32)

    @classmethod
    def torch(cls, torch, sr, hr):
        return ((sr - hr) * torch.from_numpy(cls.W)).abs().mean()


VGG_LAYERS = {"conv1_2": 0.1, "conv2_2": 1.0}


def random_vgg_state(torch, seed):
    """torchvision vgg19 `features.*` tensors up to conv2_2, random (torch tensors)."""
    g = torch.Generator().manual_seed(seed)
    shapes = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128)}
    state = {}
    for i, (o, c) in shapes.items():
        state[f"features.{i}.weight"] = torch.randn((o, c, 3, 3), generator=g) * (2.0 / (9 * c)) ** 0.5
        state[f"features.{i}.bias"] = torch.randn(o, generator=g) * 0.05
    return state


class TorchVGGPerceptual:
    """BasicSR's perceptual loss (L1, features before their ReLU) over VGG19 up to conv2_2, in torch."""

    def __init__(self, torch, state):
        self.torch, self.state = torch, state

    def features(self, x):
        F = self.torch.nn.functional
        mean = self.torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = self.torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        x = (x - mean) / std

        def conv(t, i):
            return F.conv2d(t, self.state[f"features.{i}.weight"], self.state[f"features.{i}.bias"], padding=1)

        c12 = conv(F.relu(conv(x, 0)), 2)
        c22 = conv(F.relu(conv(F.max_pool2d(F.relu(c12), 2), 5)), 7)
        return {"conv1_2": c12, "conv2_2": c22}

    def __call__(self, sr, hr):
        a, b = self.features(sr), self.features(hr)
        return sum(w * (a[k] - b[k].detach()).abs().mean() for k, w in VGG_LAYERS.items())


@pytest.mark.parametrize("kind,disc,args,perceptual", [
    ("ragan", "vgg", dict(channels=[4, 8], dense=8), "stand-in"),
    ("vanilla", "unet", dict(num_feat=4), "stand-in"),
    ("ragan", "unet", dict(num_feat=4), "vgg19")])
def test_one_gan_iteration_matches_torch(torch, rng, kind, disc, args, perceptual):
    import torch_reference_models as T

    gen_t = T.randomize(T.EdsrPytorch(2, n_feats=8, n_resblocks=1), seed=3, std=0.1)
    model, mapping = sr_native.weights.from_foreign_state_dict(
        {k: v.detach().numpy().copy() for k, v in gen_t.state_dict().items()})
    cfg = loop.TrainConfig("x", scale=2, patch_size=8, pixel_weight=0.01, perceptual="stand-in",
                           perceptual_weight=1.0, gan=kind, gan_weight=0.5, discriminator=disc,
                           discriminator_args=args, d_lr=2e-3)
    cfg.validate()
    disc_ours = D.build_discriminator(disc, np.random.default_rng(5), **args)
    _random_weights(disc_ours, rng)
    disc_t = _torch_twin(torch, disc_ours)
    if perceptual == "vgg19":  # the package's PerceptualLoss on random VGG19 weights
        from sr_native.perceptual import PerceptualLoss

        vgg_state = random_vgg_state(torch, 11)
        ours_perceptual = PerceptualLoss.from_weights({k: v.numpy() for k, v in vgg_state.items()}, VGG_LAYERS)
        torch_perceptual = TorchVGGPerceptual(torch, vgg_state)
    else:
        ours_perceptual = StandInPerceptual()
        torch_perceptual = lambda sr, hr: StandInPerceptual.torch(torch, sr, hr)  # noqa: E731
    tuner = gan.AdversarialTraining(cfg, ours_perceptual, disc_ours)
    adam = loop.Adam(model.trainable())
    opt_g = torch.optim.Adam([p for p in gen_t.parameters() if p.requires_grad], lr=1e-3)
    opt_d = torch.optim.Adam(disc_t.parameters(), lr=2e-3)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    flat = {}  # per discriminator parameter: where the gradient was 0 but for rounding
    for _ in range(2):
        lr_b = rng.random((4, 3, 8, 8)).astype(np.float32)
        hr_b = rng.random((4, 3, 16, 16)).astype(np.float32)
        loss, terms = tuner.step(model, adam, lr_b, hr_b, 1e-3, 2e-3)

        # the same iteration in torch
        lr_t, hr_t = torch.from_numpy(lr_b), torch.from_numpy(hr_b)
        for p in disc_t.parameters():
            p.requires_grad_(False)
        sr_t = gen_t(lr_t * 255) / 255
        pixel = torch.nn.functional.l1_loss(sr_t, hr_t)
        perceptual = torch_perceptual(sr_t, hr_t)
        real_g = disc_t(hr_t).detach() if kind == "ragan" else None
        fake_g = disc_t(sr_t)
        adv = (bce(fake_g, torch.ones_like(fake_g)) if kind == "vanilla"
               else _torch_g_loss(torch, kind, real_g, fake_g))
        total = 0.01 * pixel + perceptual + 0.5 * adv
        opt_g.zero_grad()
        total.backward()
        opt_g.step()
        for p in disc_t.parameters():
            p.requires_grad_(True)
        opt_d.zero_grad()
        d_loss = _torch_d_loss(torch, kind, disc_t(hr_t), disc_t(sr_t.detach()))
        d_loss.backward()
        opt_d.step()
        for name, t in _twin_params(torch, disc_t).items():
            # RaGAN is blind to a shift of every logit: the last bias's gradient (and a dense unit's
            # that is on one side of its LeakyReLU for the whole batch) is 0 up to rounding, and
            # Adam turns rounding noise of either library into steps of up to lr
            flat[name] = flat.get(name, False) | (t.grad.abs() < 1e-5 * t.grad.abs().max() + 1e-9).numpy()

        assert loss == pytest.approx(total.item(), rel=1e-4)
        assert terms["gan_g"] == pytest.approx(adv.item(), rel=1e-4)
        assert terms["gan_d"] == pytest.approx(d_loss.item(), rel=1e-4)
        assert terms["perceptual"] == pytest.approx(perceptual.item(), rel=1e-4)
    theirs = dict(gen_t.named_parameters())
    ours = model.state_dict()
    for o, t in mapping.items():
        for leaf in ("weight", "bias"):
            # two Adam steps move each weight by about 2 lr whatever the gradient's size
            np.testing.assert_allclose(ours[f"{o}.{leaf}"], theirs[f"{t}.{leaf}"].detach().numpy(), atol=2e-5,
                                       err_msg=f"generator {o}.{leaf}")
    state = _twin_state(disc_t)
    for name, value in disc_ours.state_dict().items():
        tol = np.where(flat[name], 2 * 2e-3, 3e-5) if name in flat else 3e-5
        assert (np.abs(value - state[name].detach().numpy()) <= tol).all(), f"discriminator {name}"
    # the exemption covers a few values, not the network
    assert sum(int(m.sum()) for m in flat.values()) <= 0.01 * disc_ours.num_parameters()


# ------------------------------------------------------------ the training loop

def log_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def gan_run(folder, out, **kw):
    opts = dict(scale=2, model="edsr-baseline", model_args=dict(n_feats=8, n_resblocks=1), batch_size=3,
                patch_size=8, lr=1e-3, checkpoint_every=3, val_every=3, seed=7, progress=False,
                pixel_weight=0.01, gan="ragan", gan_weight=0.1, discriminator="unet",
                discriminator_args=dict(num_feat=4), d_lr=1e-3)
    opts.update(kw)
    return loop.train(folder, out_dir=out, **opts)


@pytest.mark.parametrize("kind,disc,args", [("ragan", "unet", dict(num_feat=4)),
                                            ("vanilla", "vgg", dict(channels=[4, 8], dense=8))])
def test_gan_resume_reaches_the_same_weights(textured_hr_folder, tmp_path, kind, disc, args):
    opts = dict(gan=kind, discriminator=disc, discriminator_args=args)
    whole = gan_run(textured_hr_folder, tmp_path / "whole", iterations=7, **opts)
    gan_run(textured_hr_folder, tmp_path / "split", iterations=3, **opts)  # "interrupted" after 3
    resumed = gan_run(textured_hr_folder, tmp_path / "split", iterations=7, resume=True, **opts)
    for k, v in whole.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)
    # the discriminator, its Adam moments, u and v, the batch norm statistics: all equal
    from safetensors.numpy import load_file

    a = load_file(str(tmp_path / "whole" / "checkpoint.safetensors"))
    b = load_file(str(tmp_path / "split" / "checkpoint.safetensors"))
    disc_keys = [k for k in a if k.startswith("disc/")]
    assert any(k.endswith("weight_u") or k.endswith("running_var") for k in disc_keys)
    assert any(k.startswith("disc/adam_v/") for k in disc_keys)
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    rows = log_rows(tmp_path / "split" / "log.csv")
    assert [int(r["iteration"]) for r in rows] == [3, 7]  # each run's last iteration (no validation here)
    assert all(float(r["gan_d"]) > 0 and float(r["pixel"]) > 0 for r in rows)


def test_discriminator_learns_on_a_short_run(textured_hr_folder, tmp_path):
    # the generator frozen (lr 0): the discriminator alone learns to tell HR from its output
    gan_run(textured_hr_folder, tmp_path / "run", iterations=40, lr=0.0, d_lr=1e-2, gan="vanilla", discriminator="vgg",
            discriminator_args=dict(channels=[4, 8], dense=8), checkpoint_every=40, val_every=40)
    rows = log_rows(tmp_path / "run" / "log.csv")
    first, last = float(rows[0]["gan_d"]), float(rows[-1]["gan_d"])
    assert last < 0.8 * first, (first, last)


def test_fine_tuning_options_are_checked(textured_hr_folder, tmp_path):
    with pytest.raises(ValueError, match="RGB network.*1 channel"):
        gan_run(textured_hr_folder, tmp_path / "luma", iterations=1, model="srresnet-nobn",
                model_args=dict(n_feats=8, n_blocks=1, n_colors=1))
    assert not (tmp_path / "luma").exists()
    with pytest.raises(ValueError, match="multiples of 8 px.*\\[5\\]"):
        gan_run(textured_hr_folder, tmp_path / "a", iterations=1, patch_size=5)
    with pytest.raises(ValueError, match="gan must be"):
        gan_run(textured_hr_folder, tmp_path / "b", iterations=1, gan="wgan")
    with pytest.raises(ValueError, match="discriminator must be one of"):
        gan_run(textured_hr_folder, tmp_path / "c", iterations=1, discriminator="patch")
    with pytest.raises(ValueError, match="perceptual_layers is set but perceptual"):
        gan_run(textured_hr_folder, tmp_path / "d", iterations=1, perceptual_layers={"conv5_4": 1.0})
    with pytest.raises(ValueError, match="gan_weight must be >= 0"):
        gan_run(textured_hr_folder, tmp_path / "e", iterations=1, gan_weight=-1.0)
    with pytest.raises(TypeError, match="discriminator_args"):
        gan_run(textured_hr_folder, tmp_path / "f", iterations=1, discriminator_args=dict(bogus=1))
    # --gan with --init-from is the recipe: fine
    first = gan_run(textured_hr_folder, tmp_path / "mse", iterations=1, gan="", pixel_weight=1.0)
    assert first is not None
    gan_run(textured_hr_folder, tmp_path / "gan", iterations=1, init_from=str(tmp_path / "mse" / "model.safetensors"))


def test_cli_refuses_gan_on_a_luma_model(textured_hr_folder, tmp_path, capsys):
    from sr_native.cli import main

    code = main(["train", str(textured_hr_folder), "--out", str(tmp_path / "r"), "--model", "srresnet-nobn", "--luma",
                 "--gan", "ragan",
                 "--discriminator", "unet", "--patch-size", "8", "--iterations", "1", "-q"])
    assert code == 2
    assert "RGB network" in capsys.readouterr().err
    code = main(["train", str(textured_hr_folder), "--out", str(tmp_path / "r2"), "--perceptual-layers", "conv5_4:1",
                 "--iterations", "1", "-q"])
    assert code == 2
    assert "--perceptual-layers: needs --perceptual" in capsys.readouterr().err
    code = main(["train", str(textured_hr_folder), "--out", str(tmp_path / "r3"), "--perceptual-layers", "conv5_4:x",
                 "--perceptual", "vgg.pth", "--iterations", "1", "-q"])
    assert code == 2


def test_perceptual_and_gan_run_from_a_vgg19_file(torch, textured_hr_folder, tmp_path):
    vgg_file = tmp_path / "vgg19-random.pth"
    torch.save(random_vgg_state(torch, 2), vgg_file)
    net = gan_run(textured_hr_folder, tmp_path / "run", iterations=2, perceptual=str(vgg_file), perceptual_layers=VGG_LAYERS,
                  perceptual_weight=1.0)
    rows = log_rows(tmp_path / "run" / "log.csv")
    assert float(rows[-1]["perceptual"]) > 0 and float(rows[-1]["gan_g"]) > 0
    assert net.info().architecture == "edsr"
    with pytest.raises(FileNotFoundError, match="vgg19-dcbb9e9d.pth"):
        gan_run(textured_hr_folder, tmp_path / "missing", iterations=1, perceptual=str(tmp_path / "nope.pth"))
    assert not (tmp_path / "missing").exists()


def test_srgan_recipe_through_the_cli(textured_hr_folder, tmp_path):
    # phase 1: pixel loss; phase 2: adversarial fine-tuning from the phase-1 weights
    from sr_native.cli import main

    common = ["--model", "srresnet-nobn", "--scale", "2", "--patch-size", "8", "--batch-size", "2", "-q",
              "--threads", "1"]
    assert main(["train", str(textured_hr_folder), "--out", str(tmp_path / "p1"), "--loss", "mse", "--iterations", "2",
                 *common]) == 0
    phase1 = tmp_path / "p1" / "model.safetensors"
    assert main(["train", str(textured_hr_folder), "--out", str(tmp_path / "p2"), "--init-from", str(phase1),
                 "--iterations", "2", "--gan", "ragan", "--discriminator", "unet", "--pixel-weight", "0.01",
                 "--gan-weight", "5e-3", "--d-lr", "1e-4", "--lr", "1e-4", *common]) == 0
    model = sr_native.weights.load_model(tmp_path / "p2" / "model.safetensors")
    config = model.provenance["config"]
    assert (config["gan"], config["discriminator"], config["pixel_weight"]) == ("ragan", "unet", 0.01)
    assert config["init_from"] == str(phase1)
    header = (tmp_path / "p2" / "log.csv").read_text().splitlines()[0]
    assert header == "iteration,loss,lr,val_psnr,seconds,pixel,perceptual,gan_g,gan_d"
    # resume continues the fine-tuning run (its discriminator comes from the checkpoint)
    assert main(["train", str(textured_hr_folder), "--out", str(tmp_path / "p2"), "--iterations", "3", "--resume",
                 *common]) == 0


def test_resume_refuses_a_checkpoint_without_the_discriminator(textured_hr_folder, tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    gan_run(textured_hr_folder, tmp_path / "run", iterations=3)
    ckpt = tmp_path / "run" / "checkpoint.safetensors"
    with safe_open(str(ckpt), framework="np") as f:
        meta = f.metadata()
        kept = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("disc/adam_v/")}
    save_file(kept, str(ckpt), metadata=meta)
    with pytest.raises(ValueError, match="lacks a usable discriminator state.*adam_v"):
        gan_run(textured_hr_folder, tmp_path / "run", iterations=6, resume=True)
