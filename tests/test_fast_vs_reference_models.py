"""Whole networks: the fast kernels against the reference kernels.

Every fast path (direct, Winograd, ...) must keep each model within 1e-4 of
the output's range of the reference path (double accumulation), and uint8
images from upscale must differ by at most 1 level on under 0.1% of pixels.
"""

import numpy as np
import pytest

import sr_native
from sr_native.models import EDSR, WDSR
from sr_native.ops import reference_mode

MODELS = {
    "edsr-baseline-x2": lambda: EDSR.from_preset("edsr-baseline", 2),
    "edsr-baseline-x3": lambda: EDSR.from_preset("edsr-baseline", 3),
    "edsr-baseline-x4": lambda: EDSR.from_preset("edsr-baseline", 4),
    "edsr-256x4-x2": lambda: EDSR(2, n_feats=256, n_resblocks=4, res_scale=0.1),
    "wdsr-a-x2": lambda: WDSR(2, "a"),
    "wdsr-b-x3": lambda: WDSR(3, "b"),
}


def he_init(model, seed, x):
    """He-initialised weights, scaled down in residual branches as trained
    networks are, then the output layers (tail, skip; the output is linear in
    them) scaled so the output on x spreads with std 0.2 around the mean:
    most pixels land inside [0, 1] and the uint8 comparison spans many levels."""
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            p[...] = rng.normal(0, 0.01, p.shape)
            continue
        fan_in = p.shape[1] * p.shape[2] * p.shape[3]
        gain = 0.2 if name.startswith("body.") else 1.0
        p[...] = rng.normal(0, gain * np.sqrt(2.0 / fan_in), p.shape)
    mean = np.asarray(model.normalization.mean, np.float32).reshape(1, -1, 1, 1)
    k = 0.2 / float((model(x) - mean).std())
    for name, p in model.named_parameters():
        if name.startswith(("tail.", "skip.")):
            p *= k
    return model


def as_batch(photo):
    return np.ascontiguousarray(photo.transpose(2, 0, 1)[None], dtype=np.float32) / 255


@pytest.fixture(scope="module")
def photo():
    from skimage import data

    return data.astronaut()[180:221, 200:247]  # 41x47: odd sizes, real texture


@pytest.mark.parametrize("name", list(MODELS))
def test_model_fast_matches_reference(name, photo):
    x = as_batch(photo)
    model = he_init(MODELS[name](), len(name), x)
    fast = model(x)
    with reference_mode():
        ref = model(x)
    err = np.abs(fast - ref).max() / (np.abs(ref).max() + 1e-12)
    assert err < 1e-4, f"{name}: max |fast - ref| / max |ref| = {err:.2e}"


@pytest.mark.parametrize("name", ["edsr-baseline-x2", "wdsr-b-x3"])
def test_uint8_output_within_one_level(name, photo):
    model = he_init(MODELS[name](), 3, as_batch(photo))
    fast = sr_native.upscale(photo, model.scale, model=model).astype(np.int32)
    with reference_mode():
        ref = sr_native.upscale(photo, model.scale, model=model).astype(np.int32)
    diff = np.abs(fast - ref)
    assert diff.max() <= 1
    assert (diff > 0).mean() < 1e-3


def test_reference_mode_is_scoped_and_per_thread():
    import threading

    from sr_native import ops

    x = np.ones((1, 1, 3, 3), np.float32)
    seen = {}
    real = sr_native._core.relu

    def spy(x_, reference, out=None):
        seen[threading.current_thread().name] = reference
        return real(x_, reference=reference, out=out)

    sr_native._core.relu, saved = spy, real
    try:
        with reference_mode():
            ops.relu(x)
            t = threading.Thread(target=ops.relu, args=(x,), name="other")
            t.start()
            t.join()
        main = threading.current_thread().name
        assert seen == {main: True, "other": False}
        ops.relu(x)
        assert seen[main] is False
    finally:
        sr_native._core.relu = saved
