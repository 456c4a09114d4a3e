"""Foreign checkpoint layouts of RCAN, VDSR, SRCNN, FSRCNN, ESPCN and BasicSR's
MSRResNet (models/*.py, "foreign layouts" sections), loaded without PyTorch
and run against a PyTorch network written here with exactly that project's
key names (random non-zero weights, saved with torch.save).

Each torch network gets its input in the domain its project uses: EDSR-PyTorch's
take 0-255 images and shift the mean themselves, BasicSR's take [0, 1] and
normalise inside, the yjn870 re-implementations take the Y channel in [0, 1]
(SRCNN and VDSR on the bicubic image: ours upsamples internally, torch gets our
autograd.upsample_bicubic of the same input).

Tolerance: within 1e-4 of the output's largest magnitude (float32 sums in
another order), as in test_models.py.
"""

import numpy as np
import pytest

import sr_native
from sr_native import autograd, weights
from sr_native.models import ARCHITECTURES, MSRResNet, foreign_layouts
from sr_native.training import loop

REL_TOL = 1e-4
MEAN = (0.41, 0.52, 0.37)  # not DIV2K's: shows the mean is read from add_mean


# ------------------------------------------------------------ torch networks in the upstream layouts

def torch_modules(torch):
    """Classes of PyTorch networks with the upstream key names, built on first use."""
    import torch_reference_models as T

    nn, F = torch.nn, torch.nn.functional
    conv = T._conv

    class MeanShift(nn.Conv2d):  # EDSR-PyTorch's common.MeanShift with std 1
        def __init__(self, sign, mean=MEAN):
            super().__init__(3, 3, 1)
            self.weight.data = torch.eye(3).view(3, 3, 1, 1)
            self.bias.data = sign * 255.0 * torch.tensor(mean)
            for p in self.parameters():
                p.requires_grad = False

    class CALayer(nn.Module):
        def __init__(self, n, reduction):
            super().__init__()
            self.conv_du = nn.Sequential(nn.Conv2d(n, n // reduction, 1), nn.ReLU(True),
                                         nn.Conv2d(n // reduction, n, 1), nn.Sigmoid())

        def forward(self, x):
            return x * self.conv_du(x.mean(dim=(2, 3), keepdim=True))

    class EdsrRcab(nn.Module):
        def __init__(self, n, reduction):
            super().__init__()
            self.body = nn.Sequential(conv(n, n, 3), nn.ReLU(True), conv(n, n, 3), CALayer(n, reduction))

        def forward(self, x):
            return self.body(x) + x

    class EdsrGroup(nn.Module):
        def __init__(self, n, reduction, n_resblocks):
            super().__init__()
            self.body = nn.Sequential(*[EdsrRcab(n, reduction) for _ in range(n_resblocks)], conv(n, n, 3))

        def forward(self, x):
            return self.body(x) + x

    class RcanEdsrPytorch(nn.Module):
        """src/model/rcan.py; input in [0, 255]."""

        def __init__(self, scale, n_feats, n_resgroups, n_resblocks, reduction):
            super().__init__()
            self.sub_mean = MeanShift(-1)
            self.head = nn.Sequential(conv(3, n_feats, 3))
            self.body = nn.Sequential(*[EdsrGroup(n_feats, reduction, n_resblocks) for _ in range(n_resgroups)],
                                      conv(n_feats, n_feats, 3))
            self.tail = nn.Sequential(T._upsampler(scale, n_feats), conv(n_feats, 3, 3))
            self.add_mean = MeanShift(1)

        def forward(self, x):
            x = self.head(self.sub_mean(x))
            return self.add_mean(self.tail(self.body(x) + x))

    class ChannelAttention(nn.Module):
        def __init__(self, n, squeeze):
            super().__init__()
            self.attention = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(n, n // squeeze, 1), nn.ReLU(True),
                                           nn.Conv2d(n // squeeze, n, 1), nn.Sigmoid())

        def forward(self, x):
            return x * self.attention(x)

    class BasicsrRcab(nn.Module):
        def __init__(self, n, squeeze):
            super().__init__()
            self.rcab = nn.Sequential(conv(n, n, 3), nn.ReLU(True), conv(n, n, 3), ChannelAttention(n, squeeze))

        def forward(self, x):
            return self.rcab(x) + x

    class BasicsrGroup(nn.Module):
        def __init__(self, n, n_blocks, squeeze):
            super().__init__()
            self.residual_group = nn.Sequential(*[BasicsrRcab(n, squeeze) for _ in range(n_blocks)])
            self.conv = conv(n, n, 3)

        def forward(self, x):
            return self.conv(self.residual_group(x)) + x

    class RcanBasicsr(nn.Module):
        """basicsr/archs/rcan_arch.py; input in [0, 1], img_range 255, DIV2K mean."""

        def __init__(self, scale, num_feat, num_group, num_block, squeeze_factor):
            super().__init__()
            self.mean = torch.tensor(T.DIV2K_MEAN).view(1, 3, 1, 1)
            self.conv_first = conv(3, num_feat, 3)
            self.body = nn.Sequential(*[BasicsrGroup(num_feat, num_block, squeeze_factor) for _ in range(num_group)])
            self.conv_after_body = conv(num_feat, num_feat, 3)
            self.upsample = T._upsampler(scale, num_feat)
            self.conv_last = conv(num_feat, 3, 3)

        def forward(self, x):
            x = self.conv_first((x - self.mean) * 255.0)
            res = self.conv_after_body(self.body(x)) + x
            return self.conv_last(self.upsample(res)) / 255.0 + self.mean

    class VdsrEdsrPytorch(nn.Module):
        """src/model/vdsr.py: n_resblocks BasicBlocks (conv with bias + ReLU, the last
        without), all in body; input the bicubic image in [0, 255]."""

        def __init__(self, n_feats, n_resblocks):
            super().__init__()
            self.sub_mean, self.add_mean = MeanShift(-1), MeanShift(1)
            blocks = [nn.Sequential(conv(3, n_feats, 3), nn.ReLU(True))]
            blocks += [nn.Sequential(conv(n_feats, n_feats, 3), nn.ReLU(True)) for _ in range(n_resblocks - 2)]
            blocks += [nn.Sequential(conv(n_feats, 3, 3))]
            self.body = nn.Sequential(*blocks)

        def forward(self, x):
            x = self.sub_mean(x)
            return self.add_mean(self.body(x) + x)

    class SrcnnPytorch(nn.Module):
        """yjn870 SRCNN-pytorch; the bicubic Y image in [0, 1]."""

        def __init__(self, n1=64, n2=32):
            super().__init__()
            self.conv1, self.conv2, self.conv3 = conv(1, n1, 9), conv(n1, n2, 5), conv(n2, 1, 5)

        def forward(self, x):
            return self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(x)))))

    class FsrcnnPytorch(nn.Module):
        """yjn870 FSRCNN-pytorch; the LR Y image in [0, 1]."""

        def __init__(self, scale, d=56, s=12, m=4):
            super().__init__()
            self.first_part = nn.Sequential(conv(1, d, 5), nn.PReLU(d))
            mid = [conv(d, s, 1), nn.PReLU(s)]
            for _ in range(m):
                mid += [conv(s, s, 3), nn.PReLU(s)]
            self.mid_part = nn.Sequential(*mid, conv(s, d, 1), nn.PReLU(d))
            self.last_part = nn.ConvTranspose2d(d, 1, 9, stride=scale, padding=4, output_padding=scale - 1)

        def forward(self, x):
            return self.last_part(self.mid_part(self.first_part(x)))

    class EspcnPytorch(nn.Module):
        """yjn870 ESPCN-pytorch (64 and 32 maps there; narrower here); the LR Y image in [0, 1]."""

        def __init__(self, scale, n1=64, n2=32):
            super().__init__()
            self.first_part = nn.Sequential(conv(1, n1, 5), nn.Tanh(), conv(n1, n2, 3), nn.Tanh())
            self.last_part = nn.Sequential(conv(n2, scale * scale, 3), nn.PixelShuffle(scale))

        def forward(self, x):
            return self.last_part(self.first_part(x))

    class ResidualBlockNoBN(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.conv1, self.conv2 = conv(n, n, 3), conv(n, n, 3)

        def forward(self, x):
            return x + self.conv2(torch.relu(self.conv1(x)))

    class MsrresnetBasicsr(nn.Module):
        """basicsr/archs/srresnet_arch.py; input in [0, 1]."""

        def __init__(self, scale, num_feat=64, num_block=16):
            super().__init__()
            self.scale = scale
            self.conv_first = conv(3, num_feat, 3)
            self.body = nn.Sequential(*[ResidualBlockNoBN(num_feat) for _ in range(num_block)])
            if scale == 4:
                self.upconv1, self.upconv2 = conv(num_feat, 4 * num_feat, 3), conv(num_feat, 4 * num_feat, 3)
            else:
                self.upconv1 = conv(num_feat, scale * scale * num_feat, 3)
            self.conv_hr = conv(num_feat, num_feat, 3)
            self.conv_last = conv(num_feat, 3, 3)

        def forward(self, x):
            lrelu = lambda t: F.leaky_relu(t, 0.1)  # noqa: E731
            out = self.body(lrelu(self.conv_first(x)))
            if self.scale == 4:
                out = lrelu(F.pixel_shuffle(self.upconv1(out), 2))
                out = lrelu(F.pixel_shuffle(self.upconv2(out), 2))
            else:
                out = lrelu(F.pixel_shuffle(self.upconv1(out), self.scale))
            out = self.conv_last(lrelu(self.conv_hr(out)))
            return out + F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)

    return dict(rcan_edsr=RcanEdsrPytorch, rcan_basicsr=RcanBasicsr, vdsr=VdsrEdsrPytorch, srcnn=SrcnnPytorch,
                fsrcnn=FsrcnnPytorch, espcn=EspcnPytorch, msrresnet=MsrresnetBasicsr, T=T)


def upstream(layout, scale, torch):
    """(torch network with random weights, checkpoint object, input -> torch input,
    torch output -> ours, n_colors, scale= for load_model) for one layout."""
    M = torch_modules(torch)
    T = M["T"]
    y_only = dict(to_torch=lambda x: x, from_torch=lambda y: y, n_colors=1)
    bicubic = lambda x: autograd.upsample_bicubic(x, scale)  # noqa: E731
    if layout == "rcan-edsr-pytorch":
        net = M["rcan_edsr"](scale, n_feats=8, n_resgroups=2, n_resblocks=2, reduction=4)
        spec = dict(to_torch=lambda x: x * 255.0, from_torch=lambda y: y / 255.0, n_colors=3)
    elif layout == "rcan-basicsr":
        net = M["rcan_basicsr"](scale, num_feat=8, num_group=2, num_block=2, squeeze_factor=2)
        spec = dict(to_torch=lambda x: x, from_torch=lambda y: y, n_colors=3, wrap="params_ema")
    elif layout == "vdsr-edsr-pytorch":
        net = M["vdsr"](n_feats=8, n_resblocks=5)
        spec = dict(to_torch=lambda x: bicubic(x) * 255.0, from_torch=lambda y: y / 255.0, n_colors=3,
                    needs_scale=True)
    elif layout == "srcnn-pytorch":
        net = M["srcnn"](n1=16, n2=8)
        spec = dict(y_only, to_torch=bicubic, needs_scale=True)
    elif layout == "fsrcnn-pytorch":
        net = M["fsrcnn"](scale, d=10, s=4, m=2)
        spec = dict(y_only, needs_scale=True)
    elif layout == "espcn-pytorch":
        net = M["espcn"](scale, n1=12, n2=6)
        spec = dict(y_only)
    elif layout == "msrresnet-basicsr":
        net = M["msrresnet"](scale, num_feat=8, num_block=2)
        spec = dict(to_torch=lambda x: x, from_torch=lambda y: y, n_colors=3, wrap="params_ema")
    elif layout == "edsr-pytorch":
        net = T.EdsrPytorch(scale, n_feats=8, n_resblocks=2)
        spec = dict(to_torch=lambda x: x * 255.0, from_torch=lambda y: y / 255.0, n_colors=3)
    elif layout == "basicsr":
        net = T.BasicsrEdsr(scale, n_feats=8, n_blocks=2)
        spec = dict(to_torch=lambda x: x, from_torch=lambda y: y, n_colors=3, wrap="params")
    elif layout == "wdsr":
        net = T.Wdsr(scale, "b", n_feats=8, n_resblocks=2)
        spec = dict(to_torch=lambda x: x * 255.0, from_torch=lambda y: y / 255.0, n_colors=3)
    else:
        raise AssertionError(f"no test network for layout {layout!r}")
    T.randomize(net, seed=scale)
    net.eval()
    return net, spec


NEW_LAYOUTS = ["rcan-edsr-pytorch", "rcan-basicsr", "vdsr-edsr-pytorch", "srcnn-pytorch", "fsrcnn-pytorch",
               "espcn-pytorch", "msrresnet-basicsr"]
ALL_LAYOUTS = ["edsr-pytorch", "basicsr", "wdsr"] + NEW_LAYOUTS
ARCHITECTURE_OF = {"rcan-edsr-pytorch": "rcan", "rcan-basicsr": "rcan", "vdsr-edsr-pytorch": "vdsr",
                   "srcnn-pytorch": "srcnn", "fsrcnn-pytorch": "fsrcnn", "espcn-pytorch": "espcn",
                   "msrresnet-basicsr": "msrresnet", "edsr-pytorch": "edsr", "basicsr": "edsr", "wdsr": "wdsr"}


def save_checkpoint(net, spec, path, torch):
    sd = net.state_dict()
    torch.save({spec["wrap"]: sd} if "wrap" in spec else sd, path)


def compare(model, net, spec, x, torch):
    with torch.no_grad():
        want = spec["from_torch"](net(torch.from_numpy(np.ascontiguousarray(spec["to_torch"](x)))).numpy())
    got = model(x)
    assert got.shape == want.shape
    assert np.abs(want).max() > 1e-3  # the comparison has something to compare
    np.testing.assert_allclose(got, want, rtol=0, atol=REL_TOL * np.abs(want).max())


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("layout", NEW_LAYOUTS)
def test_foreign_layout_matches_pytorch(layout, scale, tmp_path, torch, rng):
    net, spec = upstream(layout, scale, torch)
    path = tmp_path / "model.pth"
    save_checkpoint(net, spec, path, torch)
    model = sr_native.load_model(path, scale=scale if spec.get("needs_scale") else None)
    assert model.architecture == ARCHITECTURE_OF[layout]
    assert model.scale == scale and model.n_colors == spec["n_colors"]
    assert model.provenance["source_layout"] == layout
    x = rng.random((2, spec["n_colors"], 9, 11)).astype(np.float32)
    compare(model, net, spec, x, torch)
    # Our format keeps what the layout implied (normalisation included).
    model.save(tmp_path / "ours.safetensors")
    np.testing.assert_array_equal(sr_native.load_model(tmp_path / "ours.safetensors")(x), model(x))


@pytest.mark.parametrize("layout", ["rcan-basicsr", "msrresnet-basicsr"])
def test_basicsr_files_plain_or_under_params(layout, tmp_path, torch, rng):
    net, spec = upstream(layout, 2, torch)
    other = type(net)(2, 8, 2, 2, 2) if layout == "rcan-basicsr" else type(net)(2, 8, 2)
    torch_modules(torch)["T"].randomize(other, seed=11)  # other weights, the same shapes
    torch.save(net.state_dict(), tmp_path / "plain.pth")
    torch.save({"params": other.state_dict(), "params_ema": net.state_dict()}, tmp_path / "both.pth")
    x = rng.random((1, 3, 8, 9)).astype(np.float32)
    compare(sr_native.load_model(tmp_path / "plain.pth"), net, spec, x, torch)
    compare(sr_native.load_model(tmp_path / "both.pth"), net, spec, x, torch)  # params_ema by default
    compare(sr_native.load_model(tmp_path / "both.pth", param_key="params"), other.eval(), spec, x, torch)


def test_hyper_parameters_are_read_from_the_shapes(tmp_path, torch):
    cases = [("rcan-edsr-pytorch", 4, dict(n_feats=8, n_resgroups=2, n_resblocks=2, reduction=4, n_colors=3)),
             ("rcan-basicsr", 3, dict(n_feats=8, n_resgroups=2, n_resblocks=2, reduction=2, n_colors=3)),
             ("vdsr-edsr-pytorch", 2, dict(n_feats=8, n_layers=5, n_colors=3)),
             ("srcnn-pytorch", 3, dict(n1=16, n2=8, k1=9, k2=5, k3=5, n_colors=1)),
             ("fsrcnn-pytorch", 4, dict(d=10, s=4, m=2, n_colors=1)),
             ("espcn-pytorch", 3, dict(n1=12, n2=6, k1=5, k2=3, k3=3, n_colors=1)),
             ("msrresnet-basicsr", 4, dict(num_feat=8, num_block=2, n_colors=3))]
    for layout, scale, args in cases:
        net, spec = upstream(layout, scale, torch)
        save_checkpoint(net, spec, tmp_path / f"{layout}.pth", torch)
        model = sr_native.load_model(tmp_path / f"{layout}.pth", scale=scale)
        assert model.arch_args() == args, layout


def test_mean_comes_from_add_mean(tmp_path, torch):
    for layout in ("rcan-edsr-pytorch", "vdsr-edsr-pytorch"):
        net, spec = upstream(layout, 2, torch)
        save_checkpoint(net, spec, tmp_path / "m.pth", torch)
        norm = sr_native.load_model(tmp_path / "m.pth", scale=2).normalization
        assert norm.pixel_range == 255.0 and norm.std == 1.0
        np.testing.assert_allclose(norm.mean, MEAN, rtol=1e-6)


def test_wdsr_b_with_module_block_keys_loads(tmp_path, torch, rng):
    """Some WDSR-B files name the blocks body.N.module.M (a renamed copy of body.N.body.M)."""
    import torch_reference_models as T

    net = T.randomize(T.Wdsr(3, "b", n_feats=8, n_resblocks=3), seed=5).eval()
    original = net.state_dict()
    renamed = {k.replace(".body.", ".module.", 1) if k.startswith("body.") else k: v for k, v in original.items()}
    assert "body.2.module.3.weight_v" in renamed and not any(".body." in k for k in renamed)
    torch.save(original, tmp_path / "original.pth")
    torch.save(renamed, tmp_path / "renamed.pth")
    x = rng.random((1, 3, 10, 7)).astype(np.float32)
    got = sr_native.load_model(tmp_path / "renamed.pth")
    assert got.arch_args() == sr_native.load_model(tmp_path / "original.pth").arch_args()
    assert got.variant == "b" and got.n_resblocks == 3
    compare(got, net, dict(to_torch=lambda v: v * 255.0, from_torch=lambda y: y / 255.0), x, torch)
    np.testing.assert_array_equal(got(x), sr_native.load_model(tmp_path / "original.pth")(x))


# ------------------------------------------------------------ detection

def numpy_state(net):
    return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


REALESRGAN_LAYOUTS = ["rrdbnet-basicsr", "rrdbnet-esrgan", "srvgg-realesrgan"]  # tested in test_realesrgan.py


def test_every_registered_layout_is_tested_here():
    assert sorted(layout.name for _, layout in foreign_layouts()) == sorted(ALL_LAYOUTS + REALESRGAN_LAYOUTS)


@pytest.mark.parametrize("layout", ALL_LAYOUTS)
def test_detection_does_not_confuse_layouts(layout, torch):
    scale = 3
    net, spec = upstream(layout, scale, torch)
    shapes = weights._folded_shapes(numpy_state(net), "test")
    matching = [found.name for _, found in foreign_layouts() if found.detect(shapes)]
    assert matching == [layout]
    model, _ = weights.from_foreign_state_dict(numpy_state(net), scale=scale)
    assert model.architecture == ARCHITECTURE_OF[layout] and model.provenance["source_layout"] == layout
    assert type(model) is ARCHITECTURES[ARCHITECTURE_OF[layout]]


def test_unknown_layout_lists_every_layout(tmp_path, torch):
    torch.save({"encoder.conv.weight": torch.ones(4, 3, 3, 3)}, tmp_path / "odd.pth")
    with pytest.raises(ValueError, match="unknown checkpoint layout") as info:
        sr_native.load_model(tmp_path / "odd.pth")
    assert str(tmp_path / "odd.pth") in str(info.value)
    for name in ALL_LAYOUTS:
        assert f"{name} (" in str(info.value)


@pytest.mark.parametrize("layout", ["srcnn-pytorch", "fsrcnn-pytorch", "vdsr-edsr-pytorch"])
def test_files_without_a_scale_ask_for_scale(layout, tmp_path, torch):
    net, spec = upstream(layout, 2, torch)
    save_checkpoint(net, spec, tmp_path / "m.pth", torch)
    with pytest.raises(ValueError, match=r"checkpoints do not record their scale; pass scale= \(2, 3 or 4\)"):
        sr_native.load_model(tmp_path / "m.pth")
    with pytest.raises(ValueError, match="do not record their scale"):
        weights.from_foreign_state_dict(numpy_state(net))


def test_scale_option_is_checked(tmp_path, torch):
    net, spec = upstream("espcn-pytorch", 3, torch)
    save_checkpoint(net, spec, tmp_path / "x3.pth", torch)
    assert sr_native.load_model(tmp_path / "x3.pth", scale=3).scale == 3
    with pytest.raises(ValueError, match=r"scale=2 was asked for, but this espcn-pytorch checkpoint is x3"):
        sr_native.load_model(tmp_path / "x3.pth", scale=2)
    sr_native.load_model(tmp_path / "x3.pth", scale=3).save(tmp_path / "x3.safetensors")
    with pytest.raises(ValueError, match=r"scale=4 was asked for, but the model in this file is x3"):
        sr_native.load_model(tmp_path / "x3.safetensors", scale=4)
    with pytest.raises(TypeError, match=r"load_model: scale must be an int \(2, 3 or 4\) or None, got float 2.0"):
        sr_native.load_model(tmp_path / "x3.pth", scale=2.0)
    with pytest.raises(TypeError, match="load_model: scale must be an int"):
        sr_native.load_model(tmp_path / "x3.pth", scale=True)
    with pytest.raises(ValueError, match="load_model: scale must be 2, 3 or 4, got 5"):
        sr_native.load_model(tmp_path / "x3.pth", scale=5)
    with pytest.raises(ValueError, match="from_foreign_state_dict: scale must be 2, 3 or 4, got 1"):
        weights.from_foreign_state_dict(numpy_state(net), scale=1)


def test_malformed_layouts_are_named_errors(torch):
    net, spec = upstream("fsrcnn-pytorch", 2, torch)
    sd = numpy_state(net)
    del sd["mid_part.7.weight"]  # the expanding conv's PReLU
    with pytest.raises(ValueError, match="mid_part of an FSRCNN-pytorch checkpoint must alternate"):
        weights.from_foreign_state_dict(sd, scale=2)
    net, spec = upstream("rcan-basicsr", 2, torch)
    sd = numpy_state(net)
    sd["body.0.residual_group.0.rcab.3.attention.1.weight"] = np.ones((3, 8, 1, 1), np.float32)
    with pytest.raises(ValueError, match="squeezes 8 channels to 3"):
        weights.from_foreign_state_dict(sd)
    net, spec = upstream("vdsr-edsr-pytorch", 2, torch)
    sd = numpy_state(net)
    sd["body.2.0.weight"] = np.ones((8, 8, 5, 5), np.float32)
    with pytest.raises(ValueError, match=r"'body.2.0.weight' has shape \(8, 8, 5, 5\)"):
        weights.from_foreign_state_dict(sd, scale=2)


# ------------------------------------------------------------ MSRResNet as one of our networks

def random_msrresnet(scale, rng, **args):
    net = MSRResNet(scale, **{"num_feat": 8, "num_block": 2, **args})
    for _, p in net.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.1
    return net


def test_msrresnet_published_size_and_preset(torch):
    M = torch_modules(torch)
    arch, args = loop.PRESETS["msrresnet"]
    net = ARCHITECTURES[arch](4, **args)
    assert type(net) is MSRResNet
    # BasicSR's MSRResNet x4 (64 features, 16 blocks): 1,517,571 parameters.
    assert net.num_parameters() == 1_517_571
    for scale in (2, 3, 4):
        theirs = M["msrresnet"](scale)
        assert MSRResNet(scale).num_parameters() == sum(p.numel() for p in theirs.parameters())
        assert MSRResNet.parameter_shapes(scale) == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_msrresnet_parameter_shapes_and_round_trip(scale, tmp_path, rng):
    net = random_msrresnet(scale, rng)
    assert {k: v.shape for k, v in net.state_dict().items()} == MSRResNet.parameter_shapes(scale, num_feat=8,
                                                                                              num_block=2)
    assert net.arch_args() == dict(num_feat=8, num_block=2, n_colors=3)
    net.save(tmp_path / "m.safetensors")
    back = sr_native.load_model(tmp_path / "m.safetensors")
    assert type(back) is MSRResNet and back.arch_args() == net.arch_args()
    x = rng.random((1, 3, 7, 6)).astype(np.float32)
    np.testing.assert_array_equal(back(x), net(x))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_msrresnet_tiled_upscale_equals_whole(scale, rng):
    net = random_msrresnet(scale, rng)
    img = rng.random((58, 45, 3)).astype(np.float32)
    whole = sr_native.upscale(img, scale, model=net, tile=None)
    assert whole.shape == (58 * scale, 45 * scale, 3)
    np.testing.assert_array_equal(sr_native.upscale(img, scale, model=net, tile=16), whole)


def test_msrresnet_gradients_match_pytorch(torch, rng):
    from sr_native import ops

    net = random_msrresnet(3, rng)
    theirs = torch_modules(torch)["msrresnet"](3, num_feat=8, num_block=2)
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in net.state_dict().items()})
    x = rng.random((2, 3, 8, 7)).astype(np.float32)
    target = rng.random((2, 3, 24, 21)).astype(np.float32)
    y, cache = net.forward_raw_train(x)
    grads = {}
    net.backward_raw(ops.l1_loss_backward(y, target), cache, grads)
    yt = theirs(torch.from_numpy(x))
    torch.nn.functional.l1_loss(yt, torch.from_numpy(target)).backward()
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-4 * float(np.abs(y).max()))
    params = dict(theirs.named_parameters())
    assert set(grads) == set(params)
    for key, p in params.items():
        want = p.grad.numpy()
        tol = 1e-4 * np.abs(want).max() + 1e-3 * np.abs(want) + 1e-7
        assert np.all(np.abs(grads[key] - want) <= tol), key
