"""sr_native.dask.upscale: lazy, chunked, equal to the in-memory upscale, and
unchanged on a dask.distributed cluster of 2 worker processes."""

import pickle

import numpy as np
import pytest

import sr_native
from sr_native.models import EDSR, WDSR

da = pytest.importorskip("dask.array", reason="dask is not installed (pip install 'sr_native[dask]')")
import sr_native.dask as srd  # noqa: E402


def randomize(model, seed=0, std=0.05):
    rng = np.random.default_rng(seed)
    for _, p in model.named_parameters():
        p[...] = rng.standard_normal(p.shape) * std
    return model


def image(rng, h, w, c=3, dtype=np.uint8):
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 90 * np.sin(xx / 4.0) * np.cos(yy / 6.0)
    planes = [np.roll(base, 5 * i, axis=1) for i in range(c)]
    arr = np.clip(np.stack(planes, axis=-1) + rng.normal(0, 8, (h, w, c)), 0, 255)
    arr = arr.astype(dtype) if dtype != np.float32 else (arr / 255).astype(np.float32)
    return arr[..., 0] if c == 0 else arr


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    # 16 features: the Winograd path, whose rounding depends on 4x4 tile-mates.
    path = tmp_path_factory.mktemp("m") / "tiny_x2.safetensors"
    randomize(EDSR(2, n_feats=16, n_resblocks=1)).save(path)
    return path


@pytest.mark.parametrize("chunks", [(17, 23), (40, 101), (75, 30)], ids=["small", "rows", "cols"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32], ids=["uint8", "float32"])
def test_equals_in_memory_upscale(rng, model_file, chunks, dtype):
    # Bit for bit, also against the whole image in one piece (tile=None).
    img = image(rng, 75, 101, 3, dtype)
    arr = da.from_array(img, chunks=chunks + (3,))
    lazy = srd.upscale(arr, 2, model=str(model_file))
    assert lazy.shape == (150, 202, 3) and lazy.dtype == img.dtype
    assert lazy.chunks[:2] == tuple(tuple(2 * c for c in axis) for axis in arr.chunks[:2])
    got = lazy.compute(scheduler="threads")
    np.testing.assert_array_equal(got, sr_native.upscale(img, 2, model=str(model_file), tile=None))


def test_tiles_inside_chunks_stay_exact(rng, model_file):
    img = image(rng, 75, 101, 3, np.float32)
    lazy = srd.upscale(da.from_array(img, chunks=(40, 60, 3)), 2, model=str(model_file), tile=16)
    np.testing.assert_array_equal(lazy.compute(scheduler="threads"),
                                  sr_native.upscale(img, 2, model=str(model_file), tile=None))
    scaled = srd.upscale(da.from_array(img * 255, chunks=(40, 60, 3)), 2, model=str(model_file),
                         value_range=255).compute(scheduler="threads")
    np.testing.assert_allclose(scaled, sr_native.upscale(img * 255, 2, model=str(model_file), value_range=255))


def test_gray_rgba_and_loaded_models(rng):
    net = randomize(WDSR(3, variant="b", n_feats=8, n_resblocks=1), seed=3)
    gray = image(rng, 20, 26, 1)[..., 0]
    got = srd.upscale(da.from_array(gray, chunks=(8, 9)), 3, model=net).compute(scheduler="threads")
    np.testing.assert_array_equal(got, sr_native.upscale(gray, 3, model=net))
    rgba = image(rng, 20, 26, 4)
    got = srd.upscale(da.from_array(rgba, chunks=(8, 9, 4)), 3, model=net).compute(scheduler="threads")
    want = sr_native.upscale(rgba, 3, model=net)
    np.testing.assert_array_equal(got[..., :3], want[..., :3])
    # Alpha goes through bicubic resize: block edges may round its coefficients differently.
    assert np.abs(got[..., 3].astype(int) - want[..., 3]).max() <= 1


def test_networks_pickle_without_their_buffers(rng):
    net = randomize(EDSR(2, n_feats=8, n_resblocks=1))
    x = rng.random((1, 3, 9, 9), dtype=np.float32)
    y = net(x)  # creates this thread's buffers
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(again(x), y)


def test_bad_input(model_file):
    with pytest.raises(TypeError, match="dask or numpy array"):
        srd.upscale([[1, 2]], 2, model=str(model_file))
    with pytest.raises(ValueError, match="channel axis must be one chunk"):
        srd.upscale(da.zeros((8, 8, 3), chunks=(4, 4, 1), dtype=np.uint8), 2, model=str(model_file))
    with pytest.raises(TypeError, match="dtype"):
        srd.upscale(da.zeros((8, 8), dtype=np.int32), 2, model=str(model_file))
    with pytest.raises(FileNotFoundError):
        srd.upscale(da.zeros((8, 8), dtype=np.uint8), 2, model="/nonexistent/model.safetensors")


def test_runs_unchanged_on_a_local_cluster(rng, model_file):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    img = image(rng, 30, 41, 3)
    want = sr_native.upscale(img, 2, model=str(model_file))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        lazy = srd.upscale(da.from_array(img, chunks=(10, 14, 3)), 2, model=str(model_file))
        got = client.compute(lazy).result()
        # Both worker processes took part.
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kwargs,exc,needle", [
    (dict(scale=3), ValueError, r"sr_native.dask.upscale: scale 3 does not match the model's scale 2"),
    (dict(scale=2.0), TypeError, "scale must be an int"),
    (dict(scale=0), ValueError, "scale must be one of"),
    (dict(tile=1), ValueError, "tile must be at least 16"),
    (dict(tile="big"), ValueError, "tile must be 'auto', None or an int"),
    (dict(tile=2.5), TypeError, "tile must be"),
    (dict(self_ensemble="False"), TypeError, r"self_ensemble must be a bool \(True or False\)"),
    (dict(value_range=0, dtype=np.float32), ValueError, "value_range must be finite with lo < hi"),
    (dict(value_range=255), ValueError, "value_range= applies to float images"),
    (dict(model=42), TypeError, "model must be a network"),
    (dict(model="/nonexistent/model.safetensors"), FileNotFoundError, "nonexistent"),
])
def test_bad_arguments_fail_when_the_graph_is_built(model_file, kwargs, exc, needle):
    # Raised by upscale() itself, before anything is computed.
    kwargs = {"scale": 2, "model": str(model_file), **kwargs}
    dtype = kwargs.pop("dtype", np.uint8)
    with pytest.raises(exc, match=needle):
        srd.upscale(da.zeros((40, 40, 3), chunks=(20, 20, 3), dtype=dtype), **kwargs)


@pytest.mark.parametrize("array,exc,needle", [
    (da.zeros((8, 8, 2), dtype=np.uint8), ValueError, "1, 3 or 4 channels"),
    (da.zeros((2, 8, 8, 3), dtype=np.uint8), ValueError, "HxW or HxWxC"),
    (da.zeros((0, 8, 3), dtype=np.uint8), ValueError, "image is empty"),
    (da.zeros((8, 8), dtype=bool), TypeError, "dtype must be uint8, uint16, float32 or float64"),
    (np.full((8, 8, 3), 200.0, np.float32), ValueError, r"float image values must lie in \[0, 1\].*max 200"),
    (np.full((8, 8, 3), np.nan, np.float32), ValueError, "NaN or infinity"),
])
def test_bad_images_fail_when_the_graph_is_built(model_file, array, exc, needle):
    with pytest.raises(exc, match="sr_native.dask.upscale: .*" + needle):
        srd.upscale(array, 2, model=str(model_file))
