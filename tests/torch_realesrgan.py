"""Real-ESRGAN's networks written in torch with the published key layout
(BasicSR's RRDBNet, Real-ESRGAN's SRVGGNetCompact, and the original ESRGAN
repository's RRDBNet names), for test_realesrgan.py and bench/realesrgan.py.
Written from the papers' and repositories' descriptions; state dicts saved
from these have the keys of the published .pth files. torch is passed in,
so importing this module does not need it."""


def rrdbnet(torch, *, scale=4, num_feat=64, num_block=23, num_grow_ch=32, n_colors=3, esrgan_names=False):
    """BasicSR's RRDBNet (keys conv_first, body.N.rdb{1,2,3}.conv{1..5}, conv_body,
    conv_up1, conv_up2, conv_hr, conv_last), or with esrgan_names the original
    repository's (RRDB_trunk.N.RDB{1,2,3}.conv{1..5}, trunk_conv, upconv1,
    upconv2, HRconv; x4 only there, kept general here)."""
    nn, F = torch.nn, torch.nn.functional
    names = dict(body="RRDB_trunk", rdb="RDB", conv_body="trunk_conv", up1="upconv1", up2="upconv2",
                 hr="HRconv") if esrgan_names else dict(body="body", rdb="rdb", conv_body="conv_body",
                                                         up1="conv_up1", up2="conv_up2", hr="conv_hr")
    fold = {4: 1, 2: 2, 1: 4}[scale]

    def lrelu(x):
        return F.leaky_relu(x, 0.2)

    class DenseBlock(nn.Module):
        def __init__(self):
            super().__init__()
            f, g = num_feat, num_grow_ch
            self.conv1 = nn.Conv2d(f, g, 3, 1, 1)
            self.conv2 = nn.Conv2d(f + g, g, 3, 1, 1)
            self.conv3 = nn.Conv2d(f + 2 * g, g, 3, 1, 1)
            self.conv4 = nn.Conv2d(f + 3 * g, g, 3, 1, 1)
            self.conv5 = nn.Conv2d(f + 4 * g, f, 3, 1, 1)

        def forward(self, x):
            x1 = lrelu(self.conv1(x))
            x2 = lrelu(self.conv2(torch.cat((x, x1), 1)))
            x3 = lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
            x4 = lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
            return self.conv5(torch.cat((x, x1, x2, x3, x4), 1)) * 0.2 + x

    class RRDB(nn.Module):
        def __init__(self):
            super().__init__()
            for k in (1, 2, 3):
                setattr(self, f"{names['rdb']}{k}", DenseBlock())

        def forward(self, x):
            r = x
            for k in (1, 2, 3):
                r = getattr(self, f"{names['rdb']}{k}")(r)
            return r * 0.2 + x

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            f = num_feat
            self.conv_first = nn.Conv2d(n_colors * fold * fold, f, 3, 1, 1)
            setattr(self, names["body"], nn.Sequential(*[RRDB() for _ in range(num_block)]))
            for key in ("conv_body", "up1", "up2", "hr"):
                setattr(self, names[key], nn.Conv2d(f, f, 3, 1, 1))
            self.conv_last = nn.Conv2d(f, n_colors, 3, 1, 1)

        def forward(self, x):
            if fold > 1:
                x = F.pixel_unshuffle(x, fold)
            feat = self.conv_first(x)
            feat = feat + getattr(self, names["conv_body"])(getattr(self, names["body"])(feat))
            feat = lrelu(getattr(self, names["up1"])(F.interpolate(feat, scale_factor=2, mode="nearest")))
            feat = lrelu(getattr(self, names["up2"])(F.interpolate(feat, scale_factor=2, mode="nearest")))
            return self.conv_last(lrelu(getattr(self, names["hr"])(feat)))

    return Net()


def srvgg_compact(torch, *, scale=4, num_feat=64, num_conv=16, act_type="prelu", n_colors=3):
    """Real-ESRGAN's SRVGGNetCompact: one ModuleList `body` of convolutions
    and activations, pixel shuffle, + the nearest-upsampled input."""
    nn, F = torch.nn, torch.nn.functional

    def activation():
        return {"prelu": lambda: nn.PReLU(num_parameters=num_feat), "relu": lambda: nn.ReLU(),
                "lrelu": lambda: nn.LeakyReLU(0.1)}[act_type]()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            layers = [nn.Conv2d(n_colors, num_feat, 3, 1, 1), activation()]
            for _ in range(num_conv):
                layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), activation()]
            layers.append(nn.Conv2d(num_feat, n_colors * scale * scale, 3, 1, 1))
            self.body = nn.ModuleList(layers)
            self.upsampler = nn.PixelShuffle(scale)

        def forward(self, x):
            out = x
            for layer in self.body:
                out = layer(out)
            return self.upsampler(out) + F.interpolate(x, scale_factor=scale, mode="nearest")

    return Net()


def randomize(net, torch, seed, *, spread=1.0):
    """Random non-zero weights: each convolution's weight uniform in +-spread *
    sqrt(3 / fan_in) (unit gain: activations neither vanish nor explode through
    dozens of layers), biases uniform in +-0.1, PReLU slopes in [0.05, 0.45]."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() == 4:
                bound = spread * (3.0 / (p.shape[1] * p.shape[2] * p.shape[3])) ** 0.5
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * bound)
            elif p.dim() == 1 and name.endswith("bias"):
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * 0.1)
            else:  # PReLU slopes
                p.copy_(0.05 + 0.4 * torch.rand(p.shape, generator=g))
    return net


def numpy_state(net):
    """The twin's state dict as float32 numpy arrays."""
    return {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
