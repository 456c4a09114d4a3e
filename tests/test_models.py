"""EDSR and WDSR: parameter counts, foreign checkpoints loaded without PyTorch
and run against the PyTorch original, our weight format, state-dict errors.

Tolerance: sr_native vs PyTorch outputs agree within 1e-4 of the output's
largest magnitude (float32 through up to ~40 layers).
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sr_native
from conftest import subprocess_env
from sr_native.models import EDSR, WDSR

REL_TOL = 1e-4


def randomize(model, seed=0, std=0.05):
    rng = np.random.default_rng(seed)
    for _, p in model.named_parameters():
        p[...] = rng.standard_normal(p.shape) * std
    return model


def test_published_parameter_counts():
    # EDSR-baseline x2 without the mean-shift layers (EDSR paper / EDSR-PyTorch).
    assert EDSR.from_preset("edsr-baseline", 2).num_parameters() == 1_369_859
    # The full EDSR (256 features, 32 blocks): the paper's "43M" is the x4 model.
    assert 40e6 < EDSR.from_preset("edsr", 2).num_parameters() < 41e6
    assert 43.0e6 < EDSR.from_preset("edsr", 4).num_parameters() < 43.2e6


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_parameter_counts_match_pytorch_layouts(scale, torch):
    import torch_reference_models as T

    def torch_count(model):  # weight-norm's g and v are one weight once folded
        n = 0
        for name, p in model.named_parameters():
            if name.endswith("weight_g") or not p.requires_grad:
                continue
            n += p.numel()
        return n

    assert EDSR(scale).num_parameters() == torch_count(T.EdsrPytorch(scale))
    assert EDSR(scale).num_parameters() == torch_count(T.BasicsrEdsr(scale))
    for variant in "ab":
        assert WDSR(scale, variant).num_parameters() == torch_count(T.Wdsr(scale, variant))


def run_without_torch(tmp_path, code):
    """Run code in a fresh interpreter where `import torch` raises ImportError."""
    script = "import sys\nsys.modules['torch'] = None\n" + textwrap.dedent(code)
    env = subprocess_env()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


CASES = [
    ("edsr-pytorch", 2, {}), ("edsr-pytorch", 3, {}), ("edsr-pytorch", 4, {"res_scale": 0.1}),
    ("basicsr", 2, {}), ("basicsr", 4, {}),
    ("wdsr", 2, {"variant": "a"}), ("wdsr", 3, {"variant": "b"}), ("wdsr", 4, {"variant": "a"}),
]


@pytest.mark.parametrize("layout,scale,extra", CASES)
def test_foreign_checkpoint_matches_pytorch(layout, scale, extra, tmp_path, torch):
    import torch_reference_models as T

    rng = np.random.default_rng(scale)
    x01 = rng.random((1, 3, 13, 17)).astype(np.float32)
    if layout == "edsr-pytorch":
        net = T.randomize(T.EdsrPytorch(scale, n_feats=16, n_resblocks=3, **extra), seed=1)
        obj, to_torch, from_torch = net.state_dict(), 255.0, 1 / 255.0
    elif layout == "basicsr":
        net = T.randomize(T.BasicsrEdsr(scale, n_feats=16, n_blocks=3, **extra), seed=2)
        obj, to_torch, from_torch = {"params": net.state_dict()}, 1.0, 1.0
    else:
        net = T.randomize(T.Wdsr(scale, n_feats=8, n_resblocks=3, **extra), seed=3)
        obj, to_torch, from_torch = net.state_dict(), 255.0, 1 / 255.0
    path = tmp_path / "model.pth"
    torch.save(obj, path)
    with torch.no_grad():
        want = net(torch.from_numpy(x01 * to_torch)).numpy() * from_torch
    np.save(tmp_path / "x.npy", x01)

    res_scale = extra.get("res_scale")
    run_without_torch(tmp_path, f"""
        import numpy as np, sr_native
        model = sr_native.load_model("model.pth", res_scale={res_scale!r})
        assert model.scale == {scale}, model
        np.save("y.npy", model(np.load("x.npy")))
        model.save("ours.safetensors")
        again = sr_native.load_model("ours.safetensors")
        assert np.array_equal(again(np.load("x.npy")), np.load("y.npy"))
        print(again.info().provenance)
    """)
    got = np.load(tmp_path / "y.npy")
    assert got.shape == want.shape == (1, 3, 13 * scale, 17 * scale)
    np.testing.assert_allclose(got, want, rtol=0, atol=REL_TOL * np.abs(want).max())


def test_weight_file_metadata(tmp_path):
    model = randomize(WDSR(3, "b", n_feats=8, n_resblocks=2))
    model.save(tmp_path / "w.safetensors", provenance={"data": "unit test", "iterations": 0})
    from safetensors import safe_open

    with safe_open(str(tmp_path / "w.safetensors"), framework="np") as f:
        meta = f.metadata()
    assert meta["format"] == "sr_native/1"
    assert meta["architecture"] == "wdsr" and meta["scale"] == "3"
    assert json.loads(meta["arch_args"])["variant"] == "b"
    assert json.loads(meta["normalization"]) == {"pixel_range": 255.0, "mean": [0.4488, 0.4371, 0.404], "std": 127.5}
    assert meta["pixel_shuffle_order"] == "CRD"
    assert json.loads(meta["provenance"]) == {"data": "unit test", "iterations": 0}
    loaded = sr_native.load_model(tmp_path / "w.safetensors")
    x = np.random.default_rng(0).random((1, 3, 9, 11)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x), model(x))


def test_state_dict_errors_name_the_key_and_shapes():
    model = EDSR(2, n_feats=8, n_resblocks=1)
    state = {k: v.copy() for k, v in model.state_dict().items()}
    bad = dict(state)
    bad["head.weight"] = np.zeros((8, 3, 5, 5), np.float32)
    with pytest.raises(ValueError, match=r"head.weight has shape \(8, 3, 5, 5\), the model expects \(8, 3, 3, 3\)"):
        model.load_state_dict(bad)
    missing = dict(state)
    del missing["tail.bias"]
    with pytest.raises(ValueError, match="missing keys \\['tail.bias'\\]"):
        model.load_state_dict(missing)
    extra = dict(state, **{"body.7.conv1.weight": np.zeros(1, np.float32)})
    with pytest.raises(ValueError, match="unexpected keys \\['body.7.conv1.weight'\\]"):
        model.load_state_dict(extra)


def test_truncated_and_foreign_files_are_clear_errors(tmp_path):
    model = randomize(EDSR(2, n_feats=8, n_resblocks=1))
    model.save(tmp_path / "m.safetensors")
    data = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.safetensors"):
        sr_native.load_model(tmp_path / "cut.safetensors")
    with pytest.raises(FileNotFoundError, match="no model file"):
        sr_native.load_model(tmp_path / "absent.safetensors")


def test_bad_architecture_arguments():
    with pytest.raises(ValueError, match="scale must be one of"):
        EDSR(5)
    with pytest.raises(ValueError, match="variant must be 'a' or 'b'"):
        WDSR(2, "c")
    with pytest.raises(ValueError, match="unknown EDSR preset"):
        EDSR.from_preset("edsr-huge", 2)


@pytest.mark.parametrize("cls,scale,args", [
    (EDSR, 2, dict(n_feats=8, n_resblocks=2)), (EDSR, 4, dict(n_feats=4, n_resblocks=0, n_colors=1)),
    (EDSR, 3, dict(n_feats=6, n_resblocks=1, res_scale=0.1)),
    (WDSR, 2, dict(variant="a", n_feats=8, n_resblocks=1, expansion=3)),
    (WDSR, 3, dict(variant="b", n_feats=8, n_resblocks=2, linear=0.55)), (WDSR, 4, dict(variant="B", n_resblocks=0)),
])
def test_parameter_shapes_match_the_built_network(cls, scale, args):
    """Weight files are checked against parameter_shapes before a network is built:
    it must list exactly the keys and shapes of the network's state dict."""
    from sr_native.models import Normalization

    if args.get("n_colors") == 1:
        args = dict(args, normalization=Normalization(mean=(0.5,)))
    model = cls(scale, **args)
    shapes = cls.parameter_shapes(scale, **model.arch_args())
    assert list(shapes) == list(model.state_dict())
    assert shapes == {k: v.shape for k, v in model.state_dict().items()}
