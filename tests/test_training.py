"""The training loop: patch pairs, schedules, one step against PyTorch,
checkpoints that resume exactly, and a short end-to-end run."""

import math

import numpy as np
import pytest
from PIL import Image

import sr_native
from sr_native import ops
from sr_native.training import data, loop


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """A few generated photos-like images (smooth shapes plus texture)."""
    folder = tmp_path_factory.mktemp("hr")
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(64, 80), (75, 61), (90, 90)]):
        yy, xx = np.mgrid[0:h, 0:w]
        base = 128 + 70 * np.sin(xx / (5 + i)) * np.cos(yy / (7 - i))
        img = np.stack([base, base[::-1], np.roll(base, 5, axis=1)], -1) + rng.normal(0, 5, (h, w, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


def test_patches_are_aligned_under_every_augmentation(rng):
    # HR repeats each LR pixel 2x2, a relation every flip and rotation keeps.
    lr_img = rng.integers(0, 256, (20, 25, 3), dtype=np.uint8)
    hr = np.repeat(np.repeat(lr_img, 2, axis=0), 2, axis=1)
    pairs = data.PairSet([hr], [lr_img], ["x"], 2)
    sampler = data.PatchSampler(pairs, patch_size=8, batch_size=32)
    lr, hr_b = sampler.batch_arrays(np.random.default_rng(3))
    assert lr.shape == (32, 3, 8, 8) and hr_b.shape == (32, 3, 16, 16)
    np.testing.assert_array_equal(lr, hr_b[:, :, ::2, ::2])  # holds only if crops and flips line up
    assert 0.0 <= lr.min() and lr.max() <= 1.0


def test_lr_images_are_matlab_bicubic(image_folder):
    pairs = data.PairSet.from_folder(image_folder, 3)
    for hr, lr in zip(pairs.hr, pairs.lr):
        assert hr.shape[0] % 3 == 0 and hr.shape[1] % 3 == 0
        np.testing.assert_array_equal(lr, sr_native.resize(hr, size=(hr.shape[0] // 3, hr.shape[1] // 3)))


def test_learning_rate_schedules():
    cfg = loop.TrainConfig("x", lr=1e-4, lr_step=10, lr_gamma=0.5, iterations=40)
    assert [loop.learning_rate(cfg, i) for i in (0, 9, 10, 25)] == [1e-4, 1e-4, 5e-5, 2.5e-5]
    cfg = loop.TrainConfig("x", lr=1e-4, lr_schedule="cosine", lr_min=1e-6, iterations=40)
    assert loop.learning_rate(cfg, 0) == pytest.approx(1e-4)
    assert loop.learning_rate(cfg, 20) == pytest.approx(0.5 * (1e-4 + 1e-6))
    assert loop.learning_rate(cfg, 40) == pytest.approx(1e-6)


def test_gradient_clipping_caps_the_global_norm():
    grads = {"a": np.full(4, 3.0, np.float32), "b": np.full(9, 4.0, np.float32)}
    norm = loop.clip_gradients(grads, 1.0)
    assert norm == pytest.approx(math.sqrt(4 * 9 + 9 * 16))
    assert math.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads.values())) == pytest.approx(1.0, rel=1e-5)


def test_five_adam_steps_match_pytorch(torch, rng):
    import torch_reference_models as T

    net = T.randomize(T.EdsrPytorch(2, n_feats=8, n_resblocks=2), seed=0, std=0.1)
    sd = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    model, mapping = sr_native.weights.from_foreign_state_dict(sd)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-3)
    adam = loop.Adam(model.state_dict())
    cfg = loop.TrainConfig("x")
    for _ in range(5):
        lr_b = rng.random((4, 3, 12, 12)).astype(np.float32)
        hr_b = rng.random((4, 3, 24, 24)).astype(np.float32)
        loop.training_step(model, adam, lr_b, hr_b, cfg, 1e-3)
        opt.zero_grad()
        torch.nn.functional.l1_loss(net(torch.from_numpy(lr_b * 255)) / 255, torch.from_numpy(hr_b)).backward()
        opt.step()
    theirs = dict(net.named_parameters())
    ours = model.state_dict()
    for o, t in mapping.items():
        for leaf in ("weight", "bias"):
            # Adam's first steps move each weight by about lr whatever the gradient's size,
            # so float32 differences in tiny gradients show as up to ~1e-5 absolute here.
            np.testing.assert_allclose(ours[f"{o}.{leaf}"], theirs[f"{t}.{leaf}"].detach().numpy(),
                                       atol=2e-5, err_msg=f"{o}.{leaf}")


def tiny_run(folder, out, **kw):
    opts = dict(scale=2, model="edsr-baseline", model_args=dict(n_feats=8, n_resblocks=1), batch_size=4,
                patch_size=12, lr=1e-3, checkpoint_every=3, val_every=3, seed=7, progress=False)
    opts.update(kw)
    return loop.train(folder, out_dir=out, **opts)


def test_resume_reaches_the_same_parameters(image_folder, tmp_path):
    whole = tiny_run(image_folder, tmp_path / "whole", iterations=7)
    tiny_run(image_folder, tmp_path / "split", iterations=3)  # "interrupted" after 3
    resumed = tiny_run(image_folder, tmp_path / "split", iterations=7, resume=True)
    for k, v in whole.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)


def test_init_from_copies_the_x2_body_into_an_x3_run(image_folder, tmp_path, capsys):
    x2 = tiny_run(image_folder, tmp_path / "x2", iterations=3)
    x2_file = tmp_path / "x2" / "model.safetensors"
    # iterations=0 is not allowed; one step at lr 0 leaves the copied tensors as they were.
    x3 = tiny_run(image_folder, tmp_path / "x3", scale=3, iterations=1, lr=0.0, init_from=str(x2_file))
    assert "initialised" in capsys.readouterr().out
    theirs, ours = x2.state_dict(), x3.state_dict()
    shared = [k for k in ours if k in theirs and theirs[k].shape == ours[k].shape]
    # head, body and body conv carry over; the x3 upsampler (576 channels, not 256) cannot.
    assert any(k.startswith("head.") for k in shared) and any(k.startswith("body.") for k in shared)
    assert not any(k.startswith("upsample.") for k in shared)
    for k in shared:
        np.testing.assert_array_equal(ours[k], theirs[k], err_msg=k)
    fresh = tiny_run(image_folder, tmp_path / "fresh", scale=3, iterations=1, lr=0.0)
    assert not np.array_equal(fresh.state_dict()["body.0.conv1.weight"], ours["body.0.conv1.weight"])


@pytest.mark.parametrize("variant", ["a", "b"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_wdsr_bicubic_skip_init_starts_at_bicubic(variant, scale, rng):
    from sr_native.models import WDSR

    net = WDSR(scale, variant=variant, n_feats=8, n_resblocks=2)
    loop.init_like_pytorch(net, rng)
    net.init_skip_as_bicubic()
    lr = rng.random((1, 3, 13, 17), dtype=np.float32)
    want = sr_native.resize(lr[0].transpose(1, 2, 0), scale).transpose(2, 0, 1)
    got = net(lr)[0]
    # The skip conv pads with zeros where resize repeats the edge: compare
    # away from the two LR pixels at each border that the 5x5 window reaches.
    b = 2 * scale
    np.testing.assert_allclose(got[:, b:-b, b:-b], want[:, b:-b, b:-b], atol=2e-6)
    assert not np.allclose(got, want, atol=1e-3)  # and the border differs, so the test can fail


def test_skip_init_option(image_folder, tmp_path):
    tiny = dict(model="wdsr-b", model_args=dict(n_feats=8, n_resblocks=1))
    net = tiny_run(image_folder, tmp_path / "w", scale=3, iterations=1, lr=0.0, skip_init="bicubic", **tiny)
    assert not net.tail.weight.any() and net.skip.weight.sum() == pytest.approx(9 * 3, rel=1e-5)
    cfg = loop.load_checkpoint(tmp_path / "w" / "checkpoint.safetensors")[4]
    assert cfg["skip_init"] == "bicubic"
    with pytest.raises(ValueError, match="skip_init='bicubic' needs a WDSR model"):
        tiny_run(image_folder, tmp_path / "e", iterations=1, skip_init="bicubic")
    with pytest.raises(ValueError, match="skip_init must be 'default' or 'bicubic', got 'zero'"):
        tiny_run(image_folder, tmp_path / "e", iterations=1, skip_init="zero", **tiny)


def test_checkpoint_write_is_atomic(image_folder, tmp_path, monkeypatch):
    tiny_run(image_folder, tmp_path, iterations=3)
    before = (tmp_path / "checkpoint.safetensors").read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr("safetensors.numpy.save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        tiny_run(image_folder, tmp_path, iterations=6, resume=True)
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == before
    assert loop.load_checkpoint(tmp_path / "checkpoint.safetensors")[3] == 3


def test_end_to_end_run_learns_and_writes_its_files(image_folder, tmp_path):
    model = tiny_run(image_folder, tmp_path, iterations=40, val_dir=str(image_folder), val_every=20,
                     checkpoint_every=20)
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0] == "iteration,loss,lr,val_psnr,seconds"
    losses = [float(line.split(",")[1]) for line in lines[1:]]
    assert losses[-1] < losses[0]
    psnrs = [float(line.split(",")[3]) for line in lines[1:] if line.split(",")[3]]
    assert len(psnrs) == 2 and psnrs[-1] > 10
    again = sr_native.load_model(tmp_path / "model.safetensors")
    assert again.info().provenance["iterations"] == 40
    x = np.random.default_rng(0).random((1, 3, 10, 10)).astype(np.float32)
    np.testing.assert_array_equal(again(x), model(x))
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert ops.l1_loss(model(x), model(x)) == 0.0
