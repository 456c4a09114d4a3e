"""add_scaled, channel_affine, channel_sum and the Adam step: fast vs reference
vs float64 NumPy, and Adam against torch.optim.Adam over several steps.

Tolerances: elementwise rtol 1e-6; channel_sum rtol 1e-6 (double accumulation);
Adam after 5 steps: rtol 1e-5 against the float64 formula and PyTorch.
"""

import numpy as np
import pytest

import sr_native
from sr_native import ops, ref


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 5, 7), (1, 64, 33, 65)])
def test_elementwise(shape, rng):
    a = rng.standard_normal(shape).astype(np.float32)
    b = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    scale = rng.uniform(0.5, 2, c).astype(np.float32)
    shift = rng.standard_normal(c).astype(np.float32)
    for mod in (ops, ref):
        np.testing.assert_allclose(mod.add_scaled(a, b, 0.25), a + np.float32(0.25) * b, rtol=1e-6)
        np.testing.assert_allclose(mod.channel_affine(a, scale, shift),
                                   a * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1),
                                   rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(mod.channel_sum(a), a.astype(np.float64).sum(axis=(0, 2, 3)),
                                   rtol=1e-6, atol=1e-5)


def adam_numpy(p, grads, lr, b1, b2, eps, wd):
    p = p.astype(np.float64)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


@pytest.mark.parametrize("wd", [0.0, 1e-2])
def test_adam_matches_formula(wd, rng):
    p0 = rng.standard_normal(1001).astype(np.float32)
    grads = [rng.standard_normal(1001).astype(np.float32) for _ in range(5)]
    want = adam_numpy(p0, grads, 1e-2, 0.9, 0.999, 1e-8, wd)
    for mod in (ops, ref):
        p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
        for t, g in enumerate(grads, start=1):
            mod.adam_step(p, g, m, v, lr=1e-2, step=t, weight_decay=wd)
        np.testing.assert_allclose(p, want, rtol=1e-5, atol=1e-6)


def test_adam_matches_pytorch(rng, torch):
    p0 = rng.standard_normal((64, 3, 3, 3)).astype(np.float32)
    grads = [rng.standard_normal(p0.shape).astype(np.float32) for _ in range(5)]
    pt = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = torch.optim.Adam([pt], lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        pt.grad = torch.from_numpy(g)
        opt.step()
        ops.adam_step(p, g, m, v, lr=1e-3, step=t)
    np.testing.assert_allclose(p, pt.detach().numpy(), rtol=1e-5, atol=1e-7)


def test_adam_rejects_bad_buffers():
    p = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="param is updated in place"):
        ops.adam_step(np.zeros(20, np.float32)[::2], p, p.copy(), p.copy(), lr=1e-3, step=1)
    ro = np.zeros(10, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="m is updated in place and must be writeable"):
        ops.adam_step(p, p, ro, p.copy(), lr=1e-3, step=1)
    with pytest.raises(ValueError, match="step counts from 1"):
        ops.adam_step(p, p, p.copy(), p.copy(), lr=1e-3, step=0)
    with pytest.raises(ValueError, match="grad must have the shape of param"):
        ops.adam_step(p, np.zeros(9, np.float32), p.copy(), p.copy(), lr=1e-3, step=1)
    with pytest.raises(TypeError, match="v must be float32"):
        ops.adam_step(p, p, p.copy(), np.zeros(10), lr=1e-3, step=1)


def test_channel_ops_bad_input():
    x = np.zeros((1, 3, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"scale must have shape \(3,\)"):
        ops.channel_affine(x, np.ones(2, np.float32), np.ones(3, np.float32))
    with pytest.raises(ValueError, match="4-D"):
        ops.channel_sum(x[0])
    with pytest.raises(ValueError, match="b must have the shape of a"):
        ops.add_scaled(x, x[0])


def test_channel_sum_deterministic_across_threads(rng):
    x = rng.standard_normal((16, 64, 48, 48)).astype(np.float32)
    before = sr_native.get_num_threads()
    try:
        sr_native.set_num_threads(1)
        one = ops.channel_sum(x)
        sr_native.set_num_threads(2)
        two = ops.channel_sum(x)
    finally:
        sr_native.set_num_threads(before)
    np.testing.assert_array_equal(one, two)
