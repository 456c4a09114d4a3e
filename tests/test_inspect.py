"""sr-native inspect / sr_native.inspection: layers, parameter count, FLOPs
per output pixel (against the closed form), receptive radius, first-layer
filter picture; the CLI's exit codes."""

import numpy as np
import pytest
from PIL import Image

from sr_native.cli import main
from sr_native.inspection import describe, first_layer_filters
from sr_native.models import build


def test_espcn_flops_and_layers_match_the_closed_form():
    net = build("espcn", 2)  # 64 maps 5x5, 32 maps 3x3, 12 maps 3x3, all on the LR grid
    d = describe(net)
    macs_per_lr_pixel = 3 * 64 * 25 + 64 * 32 * 9 + 32 * 12 * 9
    assert d.flops_per_output_pixel == pytest.approx(2 * macs_per_lr_pixel / 4)
    assert d.parameters == net.num_parameters() == sum(r.parameters for r in d.layers)
    assert [r.name for r in d.layers] == ["conv1", "conv2", "conv3"]
    assert d.layers[0].kind == "conv 5x5" and d.layers[0].shape == (64, 3, 5, 5)
    assert d.receptive_radius == net.receptive_radius == 4


def test_fsrcnn_counts_its_transposed_convolution():
    d = describe(build("fsrcnn", 3, d=8, s=4, m=1))
    kinds = {r.name: r.kind for r in d.layers}
    assert kinds["deconv"] == "deconv 9x9 stride 3" and kinds["feature_act"] == "prelu"
    assert d.flops_per_output_pixel > 2 * 8 * 3 * 81 / 9  # at least the deconvolution's taps


def test_first_layer_filters_picture(rng):
    net = build("srcnn", 2, n1=5, n2=4)
    for _, p in net.named_parameters():
        p[...] = rng.standard_normal(p.shape)
    image, layer = first_layer_filters(net, cell=2, gap=1)
    assert layer == "conv1" and image.dtype == np.uint8 and image.ndim == 3  # RGB: the layer reads 3 channels
    # 5 filters of 9x9 in a 3x2 grid of 18-pixel tiles with 1-pixel gaps
    assert image.shape == (2 * 19 + 1, 3 * 19 + 1, 3)
    tile = image[1:19, 1:19]
    assert tile.min() == 0 and tile.max() == 255  # each filter spans its own range


def test_cli_inspect_prints_and_writes_the_png(tmp_path, rng, capsys):
    net = build("fsrcnn", 2, d=8, s=4, m=1)
    for _, p in net.named_parameters():
        p[...] = rng.standard_normal(p.shape)
    net.save(tmp_path / "m.safetensors")
    png = tmp_path / "filters.png"
    assert main(["inspect", "--model", str(tmp_path / "m.safetensors"), "--filters", str(png)]) == 0
    out = capsys.readouterr().out
    assert "fsrcnn x2" in out and f"{net.num_parameters():,}" in out and "deconv 9x9 stride 2" in out
    with Image.open(png) as im:
        assert im.size[0] > 0 and im.mode == "RGB"


@pytest.mark.parametrize("extra,message", [(["--filters", "x.jpg"], "must be a .png"),
                                           (["--filters", "no/such/folder/x.png"], "does not exist"),
                                           (["--model", "no-such-model"], "--model no-such-model")])
def test_cli_inspect_usage_errors(extra, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    net = build("espcn", 2, n1=4, n2=4)
    net.save(tmp_path / "m.safetensors")
    args = ["inspect", "--model", "m.safetensors"] + extra if extra[0] != "--model" else ["inspect"] + extra
    assert main(args) == 2
    assert message in capsys.readouterr().err
