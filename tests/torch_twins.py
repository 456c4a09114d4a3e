"""Torch twins of sr_native's forward-defined networks (SRCNN, FSRCNN, ESPCN,
VDSR, SRResNet, BTSRN, RCAN, PAN): the same computation written in torch with
our state-dict names, for the tests' comparisons and bench/'s training-step
timings. torch is passed in, so importing this module does not need it."""


def twin(net, torch):
    """The same network as `net` (one of sr_native's forward definitions) in
    torch, with our attribute names, so the state dicts match; weights copied.
    SRCNN and VDSR take the bicubic-upsampled image (torch has no MATLAB
    bicubic); the others the network's own input."""
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

    class Srcnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2, self.conv3 = conv(net.conv1), conv(net.conv2), conv(net.conv3)

        def forward(self, up):
            return self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(up)))))

    class Espcn(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2, self.conv3 = conv(net.conv1), conv(net.conv2), conv(net.conv3)

        def forward(self, x):
            h = torch.tanh(self.conv2(torch.tanh(self.conv1(x))))
            return nn.functional.pixel_shuffle(self.conv3(h), net.scale)

    class Vdsr(nn.Module):
        def __init__(self):
            super().__init__()
            self.head, self.tail = conv(net.head), conv(net.tail)
            self.body = nn.ModuleList(conv(c) for c in net.body)

        def forward(self, up):
            h = torch.relu(self.head(up))
            for c in self.body:
                h = torch.relu(c(h))
            return self.tail(h) + up

    model = {"fsrcnn": Fsrcnn, "srresnet": Srresnet, "btsrn": Btsrn, "rcan": Rcan, "pan": Pan, "srcnn": Srcnn,
             "espcn": Espcn, "vdsr": Vdsr}[net.architecture]()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in net.state_dict().items()}, strict=False)
    theirs = set(model.state_dict()) - {k for k in model.state_dict() if k.endswith("num_batches_tracked")}
    assert theirs == set(net.state_dict())
    return model
