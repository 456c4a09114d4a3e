"""Global average pooling, sigmoid, the channel-attention multiply (RCAN) and
the pixel-attention multiply (PAN): fast vs reference on awkward shapes, the
reference vs float64 NumPy, every backward by central finite differences on
the reference kernel (the loss summed in float64), fast vs reference
backward, and against PyTorch's forward and autograd when installed. Also
PReLU's backward against PyTorch for per-channel and shared alpha.

Tolerances (float32 kernels):
  global_avg_pool        fast vs ref rtol 1e-6; backward bit-exact
  sigmoid                fast vs ref rtol 3e-7, atol 2e-45 (2 ulp; one subnormal step), on every ISA
  sigmoid_backward       fast vs ref rtol 3e-7
  channel/pixel gate     forward and dx, full dg bit-exact (one float multiply);
                         summed ds/dg rtol 1e-6, atol 1e-6 (both in double)
  finite differences     rel 2e-3 on a directional derivative, step 1e-2
  against PyTorch        rtol 1e-5 (forward), 1e-4 + atol 1e-5 (gradients)
"""

import numpy as np
import pytest

import sr_native
from sr_native import ops, ref

SHAPES = [(1, 1, 1, 1), (3, 1, 5, 7), (1, 3, 9, 11), (3, 17, 13, 5), (1, 64, 1, 1), (3, 64, 12, 13),
          (3, 5, 47, 53)]  # the last: more than one thread and several pixel spans per image


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def directional_fd(loss, arrays, index, direction, step=1e-2):
    """Central difference of loss(*arrays) along `direction` in arrays[index]."""
    def at(sign):
        moved = list(arrays)
        moved[index] = (arrays[index].astype(np.float64) + sign * step * direction).astype(np.float32)
        return loss(*moved)
    return (at(1) - at(-1)) / (2 * step)


def weighted(y, r):
    return float(np.sum(y.astype(np.float64) * r))


# ------------------------------------------------------ global_avg_pool
@pytest.mark.parametrize("shape", SHAPES)
def test_global_avg_pool_fast_vs_reference(shape, rng):
    x = f32(rng, *shape)
    want = x.astype(np.float64).mean(axis=(2, 3))
    y_ref = ref.global_avg_pool(x)
    assert y_ref.shape == shape[:2] and y_ref.dtype == np.float32
    np.testing.assert_allclose(y_ref, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ops.global_avg_pool(x), y_ref, rtol=1e-6, atol=1e-7)
    offset = (x * 0.01 + 100).astype(np.float32)  # a large mean: the fast sum's float lanes must not drift
    np.testing.assert_allclose(ops.global_avg_pool(offset), offset.astype(np.float64).mean(axis=(2, 3)), rtol=1e-7)
    dy = f32(rng, *shape[:2])
    dx_ref = ref.global_avg_pool_backward(dy, shape[2], shape[3])
    np.testing.assert_allclose(dx_ref, np.broadcast_to((dy / (shape[2] * shape[3]))[:, :, None, None], shape),
                               rtol=1e-7)
    np.testing.assert_array_equal(ops.global_avg_pool_backward(dy, shape[2], shape[3]), dx_ref)


def test_global_avg_pool_finite_differences(rng):
    x = f32(rng, 3, 5, 7, 9)
    r = rng.standard_normal((3, 5))
    v = rng.standard_normal(x.shape)
    dx = ref.global_avg_pool_backward(r.astype(np.float32), 7, 9)
    fd = directional_fd(lambda a: weighted(ref.global_avg_pool(a), r), [x], 0, v)
    assert float(np.sum(dx * v)) == pytest.approx(fd, rel=2e-3)


# -------------------------------------------------------------- sigmoid
@pytest.mark.parametrize("shape", SHAPES)
def test_sigmoid_fast_vs_reference(shape, isa, rng):  # the fast body is compiled per instruction set
    x = f32(rng, *shape) * 8
    want = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    y_ref = ref.sigmoid(x)
    np.testing.assert_allclose(y_ref, want, rtol=1e-7)
    np.testing.assert_allclose(ops.sigmoid(x), y_ref, rtol=3e-7, atol=2e-45)
    dy = f32(rng, *shape)
    dx_ref = ref.sigmoid_backward(y_ref, dy)
    y64 = y_ref.astype(np.float64)
    np.testing.assert_allclose(dx_ref, dy * y64 * (1 - y64), rtol=1e-7, atol=1e-45)
    np.testing.assert_allclose(ops.sigmoid_backward(y_ref, dy), dx_ref, rtol=3e-7, atol=1e-45)


def test_sigmoid_whole_range_and_edges(isa):
    # Every float32 exponent the polynomial meets, from where sigmoid is 1 to
    # where it underflows to 0, plus infinities, signed zeros and NaN.
    x = np.concatenate([np.linspace(-120, 120, 200_001, dtype=np.float32),
                        np.array([-100, 100, -np.inf, np.inf, -0.0, 0.0, np.nan, -104, -103.9, 88.8], np.float32)])
    fast, slow = ops.sigmoid(x), ref.sigmoid(x)
    np.testing.assert_allclose(fast, slow, rtol=3e-7, atol=2e-45)  # NaN where NaN
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(slow[:-10], 1 / (1 + np.exp(-x[:-10].astype(np.float64))), rtol=1e-7, atol=1e-45)
    for mod in (ops, ref):
        y = mod.sigmoid(np.array([100, -100, np.nan, np.inf, -np.inf], np.float32))
        assert y[0] == 1.0
        assert y[1] == pytest.approx(3.7835e-44, rel=1e-3) and y[1] > 0  # a subnormal, not 0
        assert np.isnan(y[2]) and y[3] == 1.0 and y[4] == 0.0
        dx = mod.sigmoid_backward(y, np.ones(5, np.float32))
        assert dx[0] == 0.0 and dx[1] == pytest.approx(3.7835e-44, rel=1e-3) and np.isnan(dx[2])
        assert np.isnan(mod.sigmoid_backward(np.float32([0.5]), np.float32([np.nan]))[0])


def test_sigmoid_finite_differences(rng):
    x = f32(rng, 2, 3, 5, 7) * 3
    r = rng.standard_normal(x.shape)
    v = rng.standard_normal(x.shape)
    dx = ref.sigmoid_backward(ref.sigmoid(x), r.astype(np.float32))
    fd = directional_fd(lambda a: weighted(ref.sigmoid(a), r), [x], 0, v)
    assert float(np.sum(dx * v)) == pytest.approx(fd, rel=2e-3)


def test_sigmoid_any_shape():
    for shape in [(), (5,), (2, 3), (0, 4)]:
        x = np.full(shape, 0.0, np.float32)
        assert ops.sigmoid(x).shape == shape
        np.testing.assert_array_equal(ops.sigmoid(x), np.full(shape, 0.5, np.float32))


# ------------------------------------------------------- channel_gate
@pytest.mark.parametrize("shape", SHAPES)
def test_channel_gate_fast_vs_reference(shape, rng):
    x, dy = f32(rng, *shape), f32(rng, *shape)
    s = rng.uniform(0, 1, shape[:2]).astype(np.float32)
    y_ref = ref.channel_gate(x, s)
    np.testing.assert_array_equal(y_ref, x * s[:, :, None, None])
    np.testing.assert_array_equal(ops.channel_gate(x, s), y_ref)
    dx_ref, ds_ref = ref.channel_gate_backward(x, s, dy)
    np.testing.assert_array_equal(dx_ref, dy * s[:, :, None, None])
    np.testing.assert_allclose(ds_ref, (dy.astype(np.float64) * x).sum(axis=(2, 3)), rtol=1e-6, atol=1e-6)
    dx, ds = ops.channel_gate_backward(x, s, dy)
    np.testing.assert_array_equal(dx, dx_ref)
    np.testing.assert_allclose(ds, ds_ref, rtol=1e-6, atol=1e-6)


def test_channel_gate_finite_differences(rng):
    x = f32(rng, 3, 5, 4, 7)
    s = rng.uniform(0, 1, (3, 5)).astype(np.float32)
    r = rng.standard_normal(x.shape)
    dx, ds = ref.channel_gate_backward(x, s, r.astype(np.float32))
    loss = lambda a, b: weighted(ref.channel_gate(a, b), r)  # noqa: E731
    vx, vs = rng.standard_normal(x.shape), rng.standard_normal(s.shape)
    assert float(np.sum(dx * vx)) == pytest.approx(directional_fd(loss, [x, s], 0, vx), rel=2e-3)
    assert float(np.sum(ds * vs)) == pytest.approx(directional_fd(loss, [x, s], 1, vs), rel=2e-3)


# --------------------------------------------------------- pixel_gate
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("one_channel", [False, True])
def test_pixel_gate_fast_vs_reference(shape, one_channel, rng):
    n, c, h, w = shape
    x, dy = f32(rng, *shape), f32(rng, *shape)
    g = rng.uniform(0, 1, (n, 1 if one_channel else c, h, w)).astype(np.float32)
    y_ref = ref.pixel_gate(x, g)
    np.testing.assert_array_equal(y_ref, x * g)
    np.testing.assert_array_equal(ops.pixel_gate(x, g), y_ref)
    dx_ref, dg_ref = ref.pixel_gate_backward(x, g, dy)
    assert dg_ref.shape == g.shape
    np.testing.assert_array_equal(dx_ref, dy * g)
    dx, dg = ops.pixel_gate_backward(x, g, dy)
    np.testing.assert_array_equal(dx, dx_ref)
    if one_channel:
        np.testing.assert_allclose(dg_ref, (dy.astype(np.float64) * x).sum(axis=1, keepdims=True),
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(dg, dg_ref, rtol=1e-6, atol=1e-6)
    else:
        np.testing.assert_array_equal(dg_ref, dy * x)
        np.testing.assert_array_equal(dg, dg_ref)


@pytest.mark.parametrize("one_channel", [False, True])
def test_pixel_gate_finite_differences(one_channel, rng):
    x = f32(rng, 2, 3, 5, 7)
    g = rng.uniform(0, 1, (2, 1 if one_channel else 3, 5, 7)).astype(np.float32)
    r = rng.standard_normal(x.shape)
    dx, dg = ref.pixel_gate_backward(x, g, r.astype(np.float32))
    loss = lambda a, b: weighted(ref.pixel_gate(a, b), r)  # noqa: E731
    vx, vg = rng.standard_normal(x.shape), rng.standard_normal(g.shape)
    assert float(np.sum(dx * vx)) == pytest.approx(directional_fd(loss, [x, g], 0, vx), rel=2e-3)
    assert float(np.sum(dg * vg)) == pytest.approx(directional_fd(loss, [x, g], 1, vg), rel=2e-3)


# ------------------------------------------------------------- NaN, threads
def test_nan_propagates_fast_and_reference_alike():
    x = np.ones((2, 3, 4, 5), np.float32)
    x[1, 2, 3, 4] = np.nan
    s = np.full((2, 3), 0.5, np.float32)
    g = np.full((2, 1, 4, 5), 0.5, np.float32)
    for mod in (ops, ref):
        pooled = mod.global_avg_pool(x)
        assert np.isnan(pooled[1, 2]) and np.isfinite(np.delete(pooled.ravel(), 5)).all()
        assert np.array_equal(np.isnan(mod.channel_gate(x, s)), np.isnan(x))
        _, ds = mod.channel_gate_backward(x, s, np.ones_like(x))
        assert np.isnan(ds[1, 2]) and np.isnan(ds).sum() == 1
        _, dg = mod.pixel_gate_backward(x, g, np.ones_like(x))
        assert np.isnan(dg[1, 0, 3, 4]) and np.isnan(dg).sum() == 1


def test_results_do_not_depend_on_thread_count(rng):
    x = f32(rng, 3, 5, 47, 53)
    g = rng.uniform(0, 1, (3, 1, 47, 53)).astype(np.float32)
    s = rng.uniform(0, 1, (3, 5)).astype(np.float32)
    before = sr_native.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            sr_native.set_num_threads(threads)
            results.append([ops.global_avg_pool(x), ops.sigmoid(x), *ops.channel_gate_backward(x, s, x),
                            *ops.pixel_gate_backward(x, g, x)])
    finally:
        sr_native.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# -------------------------------------------------------------- PyTorch
def _torch_grads(torch, fn, arrays, dy):
    ts = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
    y = fn(*ts)
    y.backward(torch.from_numpy(dy))
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


def test_against_pytorch(rng, torch):
    F = torch.nn.functional
    x = f32(rng, 3, 17, 9, 11)
    dpool = f32(rng, 3, 17)
    y, (dx,) = _torch_grads(torch, lambda t: F.adaptive_avg_pool2d(t, 1).flatten(1), [x], dpool)
    np.testing.assert_allclose(ops.global_avg_pool(x), y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ops.global_avg_pool_backward(dpool, 9, 11), dx, rtol=1e-6, atol=1e-9)

    z = f32(rng, 3, 17, 9, 11) * 6
    z.flat[:4] = [100, -100, 30, -30]
    dy = f32(rng, *z.shape)
    y, (dz,) = _torch_grads(torch, torch.sigmoid, [z], dy)
    # PyTorch's vectorised sigmoid gives 0 at -100 where the exact value is the subnormal 3.8e-44.
    np.testing.assert_allclose(ops.sigmoid(z), y, rtol=1e-5, atol=1e-38)
    np.testing.assert_allclose(ops.sigmoid_backward(ops.sigmoid(z), dy), dz, rtol=1e-4, atol=1e-5)

    s = rng.uniform(0, 1, (3, 17)).astype(np.float32)
    y, (dx, ds) = _torch_grads(torch, lambda a, b: a * b[:, :, None, None], [x, s], dy)
    np.testing.assert_allclose(ops.channel_gate(x, s), y, rtol=1e-6)
    got_dx, got_ds = ops.channel_gate_backward(x, s, dy)
    np.testing.assert_allclose(got_dx, dx, rtol=1e-6)
    np.testing.assert_allclose(got_ds, ds, rtol=1e-4, atol=1e-5)

    for gc in (17, 1):
        g = rng.uniform(0, 1, (3, gc, 9, 11)).astype(np.float32)
        y, (dx, dg) = _torch_grads(torch, lambda a, b: a * b, [x, g], dy)
        np.testing.assert_allclose(ops.pixel_gate(x, g), y, rtol=1e-6)
        got_dx, got_dg = ops.pixel_gate_backward(x, g, dy)
        np.testing.assert_allclose(got_dx, dx, rtol=1e-6)
        np.testing.assert_allclose(got_dg, dg, rtol=1e-4, atol=1e-5)


def test_pan_gate_and_rcan_attention_against_pytorch(rng, torch):
    """The blocks these ops exist for, composed from them: RCAN's channel
    attention (pool, 1x1 convs with ReLU, sigmoid, multiply) and PAN's pixel
    attention (1x1 conv, sigmoid, multiply), forward and input gradient."""
    F = torch.nn.functional
    n, c, h, w, red = 2, 16, 7, 9, 4
    x, dy = f32(rng, n, c, h, w), f32(rng, n, c, h, w)
    w1, w2 = f32(rng, red, c, 1, 1) * 0.3, f32(rng, c, red, 1, 1) * 0.3
    b1, b2 = f32(rng, red) * 0.1, f32(rng, c) * 0.1

    def rcan(t):
        s = torch.sigmoid(F.conv2d(F.relu(F.conv2d(F.adaptive_avg_pool2d(t, 1), torch.from_numpy(w1),
                                                     torch.from_numpy(b1))), torch.from_numpy(w2), torch.from_numpy(b2)))
        return t * s

    want, (want_dx,) = _torch_grads(torch, rcan, [x], dy)
    pooled = ops.global_avg_pool(x)[:, :, None, None]
    hidden = ops.conv2d(pooled, w1, b1, relu=True)
    s = ops.sigmoid(ops.conv2d(hidden, w2, b2))[:, :, 0, 0]
    np.testing.assert_allclose(ops.channel_gate(x, s), want, rtol=1e-5, atol=1e-6)
    dx_direct, ds = ops.channel_gate_backward(x, s, dy)
    dpre = ops.sigmoid_backward(s, ds)[:, :, None, None]
    dhidden, _, _ = ops.conv2d_backward(hidden, w2, dpre)
    dhidden = ops.relu_backward(hidden, dhidden)
    dpooled, _, _ = ops.conv2d_backward(pooled, w1, dhidden)
    dx = dx_direct + ops.global_avg_pool_backward(dpooled[:, :, 0, 0], h, w)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4, atol=1e-5)

    wp, bp = f32(rng, c, c, 1, 1) * 0.3, f32(rng, c) * 0.1
    want, (want_dx,) = _torch_grads(
        torch, lambda t: t * torch.sigmoid(F.conv2d(t, torch.from_numpy(wp), torch.from_numpy(bp))), [x], dy)
    g = ops.sigmoid(ops.conv2d(x, wp, bp))
    np.testing.assert_allclose(ops.pixel_gate(x, g), want, rtol=1e-5, atol=1e-6)
    dx_direct, dg = ops.pixel_gate_backward(x, g, dy)
    dconv, _, _ = ops.conv2d_backward(x, wp, ops.sigmoid_backward(g, dg))
    np.testing.assert_allclose(dx_direct + dconv, want_dx, rtol=1e-4, atol=1e-5)


# PReLU's backward existed before this file; here it is checked against
# PyTorch for both alpha layouts (test_activations_losses.py has the rest).
@pytest.mark.parametrize("shared", [False, True])
def test_prelu_backward_against_pytorch(shared, rng, torch):
    x = f32(rng, 3, 17, 9, 11)
    dy = f32(rng, *x.shape)
    alpha = rng.uniform(0.05, 0.4, 1 if shared else 17).astype(np.float32)
    y, (dx, dalpha) = _torch_grads(torch, torch.nn.functional.prelu, [x, alpha], dy)
    np.testing.assert_allclose(ops.prelu(x, alpha), y, rtol=1e-6)
    for mod in (ops, ref):
        got_dx, got_da = mod.prelu_backward(x, alpha, dy)
        assert got_da.shape == alpha.shape
        np.testing.assert_allclose(got_dx, dx, rtol=1e-6)
        np.testing.assert_allclose(got_da, dalpha, rtol=1e-4, atol=1e-4)
