"""PyTorch networks laid out like the upstream projects, so their state dicts
have the upstream checkpoint keys. Written for these tests from the published
architecture descriptions; imported only when PyTorch is installed.

- EDSR-PyTorch (thstkdgus35): sub_mean, head.0, body.{i}.body.{0,2}, body.{n},
  tail.0.{0,2,...}, tail.1, add_mean; input in [0, 255].
- BasicSR EDSR: conv_first, body.{i}.conv{1,2}, conv_after_body, upsample.{0,2},
  conv_last; input in [0, 1], normalised as (x - mean) * 255.
- WDSR (the authors' EDSR-PyTorch-based code): head.0, body.{i}.body.{0,2}
  (A) or {0,2,3} (B), tail.0, skip.0, all weight-normalised; input in [0, 255],
  normalised as (x - 255 * mean) / 127.5.
"""

import warnings

import torch
from torch import nn

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def _conv(cin, cout, k):
    return nn.Conv2d(cin, cout, k, padding=k // 2)


def _upsampler(scale, n):
    layers = []
    for r in ([2, 2] if scale == 4 else [scale]):
        layers += [_conv(n, r * r * n, 3), nn.PixelShuffle(r)]
    return nn.Sequential(*layers)


class MeanShift(nn.Conv2d):
    def __init__(self, rgb_range, sign):
        super().__init__(3, 3, 1)
        self.weight.data = torch.eye(3).view(3, 3, 1, 1)
        self.bias.data = sign * rgb_range * torch.tensor(DIV2K_MEAN)
        for p in self.parameters():
            p.requires_grad = False


class EdsrPytorchBlock(nn.Module):
    def __init__(self, n, res_scale):
        super().__init__()
        self.body = nn.Sequential(_conv(n, n, 3), nn.ReLU(True), _conv(n, n, 3))
        self.res_scale = res_scale

    def forward(self, x):
        return self.body(x).mul(self.res_scale) + x


class EdsrPytorch(nn.Module):
    def __init__(self, scale, n_feats=64, n_resblocks=16, res_scale=1.0):
        super().__init__()
        self.sub_mean = MeanShift(255, -1)
        self.head = nn.Sequential(_conv(3, n_feats, 3))
        self.body = nn.Sequential(*[EdsrPytorchBlock(n_feats, res_scale) for _ in range(n_resblocks)],
                                  _conv(n_feats, n_feats, 3))
        self.tail = nn.Sequential(_upsampler(scale, n_feats), _conv(n_feats, 3, 3))
        self.add_mean = MeanShift(255, 1)

    def forward(self, x):
        x = self.head(self.sub_mean(x))
        return self.add_mean(self.tail(self.body(x) + x))


class BasicsrBlock(nn.Module):
    def __init__(self, n, res_scale):
        super().__init__()
        self.conv1, self.conv2, self.relu = _conv(n, n, 3), _conv(n, n, 3), nn.ReLU(True)
        self.res_scale = res_scale

    def forward(self, x):
        return x + self.conv2(self.relu(self.conv1(x))) * self.res_scale


class BasicsrEdsr(nn.Module):
    def __init__(self, scale, n_feats=64, n_blocks=16, res_scale=1.0):
        super().__init__()
        self.mean = torch.tensor(DIV2K_MEAN).view(1, 3, 1, 1)
        self.conv_first = _conv(3, n_feats, 3)
        self.body = nn.Sequential(*[BasicsrBlock(n_feats, res_scale) for _ in range(n_blocks)])
        self.conv_after_body = _conv(n_feats, n_feats, 3)
        self.upsample = _upsampler(scale, n_feats)
        self.conv_last = _conv(n_feats, 3, 3)

    def forward(self, x):
        x = (x - self.mean) * 255.0
        x = self.conv_first(x)
        res = self.conv_after_body(self.body(x)) + x
        return self.conv_last(self.upsample(res)) / 255.0 + self.mean


def _wn(module):
    with warnings.catch_warnings():  # the old API gives the upstream key names weight_g / weight_v
        warnings.simplefilter("ignore")
        return nn.utils.weight_norm(module)


class WdsrBlock(nn.Module):
    def __init__(self, n, variant, expansion, linear, res_scale):
        super().__init__()
        if variant == "a":
            self.body = nn.Sequential(_wn(_conv(n, n * expansion, 3)), nn.ReLU(True),
                                      _wn(_conv(n * expansion, n, 3)))
        else:
            low = int(n * linear)
            self.body = nn.Sequential(_wn(_conv(n, n * expansion, 1)), nn.ReLU(True),
                                      _wn(_conv(n * expansion, low, 1)), _wn(_conv(low, n, 3)))
        self.res_scale = res_scale

    def forward(self, x):
        return self.body(x) * self.res_scale + x


class Wdsr(nn.Module):
    def __init__(self, scale, variant="a", n_feats=32, n_resblocks=16, expansion=None, linear=0.8, res_scale=1.0):
        super().__init__()
        expansion = expansion or (4 if variant == "a" else 6)
        out = scale * scale * 3
        self.rgb_mean = torch.tensor(DIV2K_MEAN).view(1, 3, 1, 1)
        self.head = nn.Sequential(_wn(_conv(3, n_feats, 3)))
        self.body = nn.Sequential(*[WdsrBlock(n_feats, variant, expansion, linear, res_scale)
                                    for _ in range(n_resblocks)])
        self.tail = nn.Sequential(_wn(_conv(n_feats, out, 3)), nn.PixelShuffle(scale))
        self.skip = nn.Sequential(_wn(_conv(3, out, 5)), nn.PixelShuffle(scale))

    def forward(self, x):
        x = (x - self.rgb_mean * 255) / 127.5
        s = self.skip(x)
        x = self.tail(self.body(self.head(x))) + s
        return x * 127.5 + self.rgb_mean * 255


def randomize(model, seed, std=0.05):
    """Random weights (and weight-norm g/v) so every parameter matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if name.endswith("weight_g"):
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return model
