"""The GPU path end to end: device arrays and DLPack, networks moved to the
GPU, upscale(device="cuda"), and training on the GPU, each against the CPU.

Skips (with the reason) where the CUDA kernels cannot run; the behaviour
without them is tested in test_cuda_unavailable.py.
"""

import numpy as np
import pytest

import sr_native
from sr_native import cuda, ops
from sr_native.models import EDSR, WDSR
from sr_native.training.loop import Adam, init_like_pytorch, training_step, TrainConfig

pytestmark = pytest.mark.skipif(not cuda.cuda_available(),
                                reason=f"CUDA kernels cannot run here: {cuda.cuda_unavailable_reason()}")

RNG = np.random.default_rng(7)


def small_models():
    yield EDSR(2, n_feats=16, n_resblocks=2)
    yield EDSR(4, n_feats=16, n_resblocks=1, res_scale=0.1)
    yield WDSR(3, variant="a", n_feats=8, n_resblocks=2)
    yield WDSR(2, variant="b", n_feats=8, n_resblocks=2)


def initialised(model, seed=0):
    init_like_pytorch(model, np.random.default_rng(seed))
    return model


# ------------------------------------------------------------ device arrays

@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.uint16])
def test_device_array_round_trip(dtype):
    a = (RNG.uniform(0, 200, (3, 5, 7))).astype(dtype)
    d = cuda.to_device(a)
    assert d.shape == a.shape and d.dtype == a.dtype and d.size == a.size and d.nbytes == a.nbytes
    assert d.device == "cuda:0"
    assert np.array_equal(d.to_numpy(), a)
    assert np.array_equal(np.asarray(d), a)
    assert "DeviceArray(shape=(3, 5, 7)" in repr(d)


def test_views_share_memory():
    a = RNG.uniform(-1, 1, 24).astype(np.float32)
    d = cuda.to_device(a)
    v = d.reshape(2, -1, 4)
    assert v.shape == (2, 3, 4) and v.data_ptr == d.data_ptr
    p = d.prefix((2, 5))
    assert np.array_equal(p.to_numpy(), a[:10].reshape(2, 5))
    p.zero_()
    assert np.all(d.to_numpy()[:10] == 0) and np.array_equal(d.to_numpy()[10:], a[10:])
    d.copy_(a)
    assert np.array_equal(d.to_numpy(), a)
    c = d.copy()
    assert c.data_ptr != d.data_ptr and np.array_equal(c.to_numpy(), a)
    with pytest.raises(ValueError, match="reshape"):
        d.reshape(5, 5)
    with pytest.raises(ValueError, match="larger"):
        d.prefix((5, 5))
    with pytest.raises(ValueError, match="copy_"):
        d.copy_(np.zeros(3, np.float32))


def test_ops_refuse_mixed_devices_and_reference():
    x = cuda.to_device(np.ones((1, 2, 3, 3), np.float32))
    with pytest.raises(TypeError, match="w is a numpy array"):
        ops.conv2d(x, np.ones((2, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="reference"):
        ops.relu(x, reference=True)
    with pytest.raises(TypeError, match="float32"):
        ops.relu(cuda.to_device(np.ones(3, np.uint8)))
    with pytest.raises(ValueError, match=r"w has 5 input channels but x has 2"):
        ops.conv2d(x, cuda.to_device(np.ones((2, 5, 3, 3), np.float32)))
    with pytest.raises(ValueError, match=r"zero-sized"):
        ops.conv2d(cuda.to_device(np.ones((1, 2, 0, 3), np.float32)), cuda.to_device(np.ones((2, 2, 3, 3), np.float32)))
    # The kernels' grid limit on output channels (H * W < 2^31 is checked the
    # same way but would need an 8 GiB plane to test).
    with pytest.raises(ValueError, match=r"at most 65535 output channels"):
        ops.conv2d(cuda.to_device(np.ones((1, 1, 1, 1), np.float32)),
                   cuda.to_device(np.ones((65536, 1, 1, 1), np.float32)))


def test_out_of_memory_is_a_cuda_error():
    with pytest.raises(cuda.CudaError, match="out of GPU memory"):
        cuda.empty((1 << 50,))  # a petabyte of float32
    # The device is still usable afterwards.
    assert np.array_equal(cuda.to_device(np.arange(3, dtype=np.float32)).to_numpy(), [0, 1, 2])


def test_dlpack_with_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch has no CUDA")
    a = RNG.uniform(-1, 1, (2, 3, 4)).astype(np.float32)
    d = cuda.to_device(a)
    t = torch.from_dlpack(d)  # no copy: the same memory
    assert t.is_cuda and t.data_ptr() == d.data_ptr and tuple(t.shape) == a.shape
    t.mul_(2)
    torch.cuda.synchronize()
    assert np.array_equal(d.to_numpy(), a * 2)
    src = torch.arange(12, dtype=torch.float32, device="cuda").reshape(3, 4)
    back = cuda.from_dlpack(src)
    assert back.data_ptr == src.data_ptr() and back.shape == (3, 4)
    y = ops.relu(back)
    assert np.array_equal(y.to_numpy(), np.arange(12, dtype=np.float32).reshape(3, 4))
    with pytest.raises(ValueError, match="contiguous"):
        cuda.from_dlpack(src.t())
    with pytest.raises(ValueError, match="not in CUDA device memory"):
        cuda.from_dlpack(torch.ones(3))


# ---------------------------------------------------------------- networks

@pytest.mark.parametrize("model", list(small_models()), ids=repr)
def test_network_on_gpu_matches_cpu(model):
    initialised(model)
    x = RNG.uniform(0, 1, (2, 3, 13, 11)).astype(np.float32)
    want = model(x)
    model.to("cuda")
    assert model.on_device == "cuda"
    got = model(cuda.to_device(x))
    assert cuda.is_device_array(got)
    assert np.abs(got.to_numpy() - want).max() < 1e-4
    got2 = model(cuda.to_device(x)).to_numpy()  # kept buffers reused
    assert np.array_equal(got.to_numpy(), got2)
    model.to("cpu")
    assert model.on_device == "cpu" and isinstance(model.head.weight, np.ndarray)
    assert np.array_equal(model(x), want)


def test_upscale_on_gpu_matches_cpu_and_tiles_stream():
    net = initialised(EDSR(2, n_feats=16, n_resblocks=2))
    img = RNG.integers(0, 256, (37, 29, 3)).astype(np.uint8)
    want = sr_native.upscale(img, 2, model=net, tile=None)
    got = sr_native.upscale(img, 2, model=net, tile=None, device="cuda")
    assert net.on_device == "cpu"  # the caller's network stays where it was
    assert got.dtype == np.uint8 and got.shape == want.shape
    assert np.abs(got.astype(int) - want).max() <= 1
    tiled = sr_native.upscale(img, 2, model=net, tile=8, device="cuda")
    assert np.abs(tiled.astype(int) - want).max() <= 1
    gpu_net = initialised(EDSR(2, n_feats=16, n_resblocks=2)).to("cuda")
    again = sr_native.upscale(img, 2, model=gpu_net)  # device follows the model
    assert np.abs(again.astype(int) - want).max() <= 1
    rgba = RNG.integers(0, 256, (9, 10, 4)).astype(np.uint8)
    assert sr_native.upscale(rgba, 2, model=gpu_net).shape == (18, 20, 4)


# Every upsampler the shipped files use: EDSR's x2 and two-stage x4, WDSR's one-stage x3.
@pytest.mark.parametrize("make", [
    lambda: EDSR(2, n_feats=16, n_resblocks=2),
    lambda: EDSR(4, n_feats=16, n_resblocks=1),
    lambda: WDSR(3, variant="b", n_feats=8, n_resblocks=2),
], ids=["edsr-x2", "edsr-x4", "wdsr-b-x3"])
def test_training_steps_on_gpu_match_cpu(make):
    cfg = TrainConfig(train_dir="-", loss="l1", clip_grad=0.5)
    cpu = initialised(make())
    gpu = initialised(make()).to("cuda")
    s = cpu.info().scale
    adam_cpu = Adam(cpu.state_dict())
    adam_gpu = Adam(gpu.state_dict())
    for step in range(5):
        lr_b = RNG.uniform(0, 1, (4, 3, 12, 12)).astype(np.float32)
        hr_b = RNG.uniform(0, 1, (4, 3, 12 * s, 12 * s)).astype(np.float32)
        loss_c = training_step(cpu, adam_cpu, lr_b, hr_b, cfg, 1e-3)
        loss_g = training_step(gpu, adam_gpu, lr_b, hr_b, cfg, 1e-3)
        assert abs(loss_c - loss_g) <= 1e-4 * abs(loss_c)
    for (name, pc), (_, pg) in zip(cpu.named_parameters(), gpu.named_parameters()):
        pg = pg.to_numpy()
        # 5 Adam steps of lr 1e-3: each moves a parameter by about 1e-3; sign
        # flips of tiny gradients can differ, so compare with that step size.
        assert np.abs(pg - pc).max() <= 2e-4, name


def test_train_on_gpu_writes_and_resumes(tmp_path):
    from PIL import Image

    data = tmp_path / "hr"
    data.mkdir()
    for i in range(3):
        Image.fromarray(RNG.integers(0, 256, (40, 44, 3)).astype(np.uint8)).save(data / f"{i}.png")
    run = tmp_path / "run"
    opts = dict(iterations=4, batch_size=2, patch_size=8, val_dir=str(data), val_every=2, checkpoint_every=2,
                model_args=dict(n_feats=8, n_resblocks=1))
    net = sr_native.train(data, out_dir=run, progress=False, device="cuda", **opts)
    assert net.on_device == "cuda"
    assert (run / "model.safetensors").exists() and (run / "checkpoint.safetensors").exists()
    loaded = sr_native.load_model(run / "model.safetensors")
    for (name, a), (_, b) in zip(loaded.named_parameters(), net.named_parameters()):
        assert np.array_equal(a, b.to_numpy()), name
    resumed = sr_native.train(data, out_dir=run, progress=False, device="cuda", resume=True,
                              **{**opts, "iterations": 6})
    assert resumed.on_device == "cuda"
