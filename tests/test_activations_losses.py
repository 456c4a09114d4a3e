"""ReLU, PReLU, L1 and MSE: fast vs reference, vs float64 NumPy, gradients by
central finite differences (away from the kinks), and vs PyTorch when installed.

Tolerances (float32 results against float64 formulas):
  elementwise forward/backward   exact for ReLU, rtol 1e-6 for PReLU
  loss forward                   rtol 1e-6 (both accumulate in double)
  loss backward                  rtol 1e-6
  finite differences (float64)   rtol 1e-4 on the reduced scalar, step 1e-3
"""

import numpy as np
import pytest

import sr_native
from sr_native import ops, ref

SHAPES = [(1, 1, 1, 1), (2, 3, 5, 7), (1, 17, 9, 31), (3, 64, 12, 13), (1, 3, 300, 301)]


@pytest.mark.parametrize("shape", SHAPES)
def test_relu_forward_backward(shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[0] = 0.0  # the kink: gradient taken as 0
    dy = rng.standard_normal(shape).astype(np.float32)
    for mod in (ops, ref):
        np.testing.assert_array_equal(mod.relu(x), np.maximum(x, 0))
        np.testing.assert_array_equal(mod.relu_backward(x, dy), np.where(x > 0, dy, 0))
        # out=: a separate array, or in place over dy or over x.
        want = np.where(x > 0, dy, 0)
        out = np.full(shape, np.nan, np.float32)
        assert mod.relu_backward(x, dy, out=out) is out
        np.testing.assert_array_equal(out, want)
        d2 = dy.copy()
        mod.relu_backward(x, d2, out=d2)
        np.testing.assert_array_equal(d2, want)
        x2 = x.copy()
        mod.relu_backward(x2, dy, out=x2)
        np.testing.assert_array_equal(x2, want)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("per_channel", [False, True])
def test_prelu_forward_backward(shape, per_channel, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    alpha = rng.uniform(0.05, 0.5, size=c if per_channel else 1).astype(np.float32)
    a = alpha.reshape(1, -1, 1, 1)
    want_y = np.where(x > 0, x, a * x)
    want_dx = np.where(x > 0, dy, a * dy)
    neg = np.where(x <= 0, x.astype(np.float64) * dy, 0.0)
    want_da = neg.sum(axis=(0, 2, 3)) if per_channel else np.array([neg.sum()])
    for mod in (ops, ref):
        np.testing.assert_allclose(mod.prelu(x, alpha), want_y, rtol=1e-6)
        dx, da = mod.prelu_backward(x, alpha, dy)
        np.testing.assert_allclose(dx, want_dx, rtol=1e-6)
        np.testing.assert_allclose(da, want_da, rtol=1e-5, atol=1e-5)


def test_prelu_gradient_finite_differences(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    x[np.abs(x) < 0.05] = 0.3  # keep away from the kink
    alpha = np.array([0.1, 0.2, 0.3], np.float32)
    dy = rng.standard_normal(x.shape)
    _, da = ops.prelu_backward(x, alpha, dy.astype(np.float32))

    def loss(al):
        a = al.reshape(1, -1, 1, 1)
        return float((np.where(x > 0, x, a * x.astype(np.float64)) * dy).sum())

    eps = 1e-3
    for c in range(3):
        plus, minus = alpha.astype(np.float64), alpha.astype(np.float64)
        plus[c] += eps
        minus[c] -= eps
        fd = (loss(plus) - loss(minus)) / (2 * eps)
        assert da[c] == pytest.approx(fd, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
def test_losses_forward_backward(shape, rng):
    p = rng.standard_normal(shape).astype(np.float32)
    t = rng.standard_normal(shape).astype(np.float32)
    t.flat[0] = p.flat[0]  # sign(0) = 0 for L1
    d = p.astype(np.float64) - t
    n = p.size
    for mod in (ops, ref):
        assert mod.l1_loss(p, t) == pytest.approx(np.abs(d).mean(), rel=1e-6)
        assert mod.mse_loss(p, t) == pytest.approx((d * d).mean(), rel=1e-6)
        np.testing.assert_allclose(mod.l1_loss_backward(p, t, 0.5), 0.5 * np.sign(d) / n, rtol=1e-6)
        np.testing.assert_allclose(mod.mse_loss_backward(p, t, 2.0), 2.0 * 2 * d / n, rtol=1e-5, atol=1e-12)


def test_loss_gradients_finite_differences(rng):
    p = rng.standard_normal((1, 2, 3, 4))
    t = rng.standard_normal((1, 2, 3, 4))
    p[np.abs(p - t) < 0.05] += 0.2  # away from L1's kink
    eps = 1e-3
    for fwd, bwd, f64 in [
        (ops.l1_loss, ops.l1_loss_backward, lambda a: np.abs(a - t).mean()),
        (ops.mse_loss, ops.mse_loss_backward, lambda a: ((a - t) ** 2).mean()),
    ]:
        g = bwd(p.astype(np.float32), t.astype(np.float32))
        for idx in [(0, 0, 0, 0), (0, 1, 2, 3), (0, 1, 0, 2)]:
            hi, lo = p.copy(), p.copy()
            hi[idx] += eps
            lo[idx] -= eps
            assert g[idx] == pytest.approx((f64(hi) - f64(lo)) / (2 * eps), rel=1e-4)


def test_loss_is_deterministic_across_threads(rng):
    p = rng.standard_normal((4, 3, 200, 200)).astype(np.float32)
    t = rng.standard_normal((4, 3, 200, 200)).astype(np.float32)
    before = sr_native.get_num_threads()
    try:
        sr_native.set_num_threads(1)
        one = (ops.l1_loss(p, t), ops.mse_loss(p, t))
        sr_native.set_num_threads(2)
        two = (ops.l1_loss(p, t), ops.mse_loss(p, t))
    finally:
        sr_native.set_num_threads(before)
    assert one == two


def test_against_pytorch(rng, torch):
    x = rng.standard_normal((2, 5, 7, 9)).astype(np.float32)
    t = rng.standard_normal(x.shape).astype(np.float32)
    alpha = rng.uniform(0.1, 0.3, 5).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)

    xt = torch.from_numpy(x).requires_grad_()
    at = torch.from_numpy(alpha).requires_grad_()
    yt = torch.nn.functional.prelu(xt, at)
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(ops.prelu(x, alpha), yt.detach().numpy(), rtol=1e-6)
    dx, da = ops.prelu_backward(x, alpha, dy)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(da, at.grad.numpy(), rtol=1e-4, atol=1e-5)

    for ours, ours_bwd, theirs in [
        (ops.l1_loss, ops.l1_loss_backward, torch.nn.functional.l1_loss),
        (ops.mse_loss, ops.mse_loss_backward, torch.nn.functional.mse_loss),
    ]:
        pt = torch.from_numpy(x).requires_grad_()
        loss = theirs(pt, torch.from_numpy(t))
        loss.backward()
        assert ours(x, t) == pytest.approx(loss.item(), rel=1e-6)
        np.testing.assert_allclose(ours_bwd(x, t), pt.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_bad_input():
    x = np.zeros((1, 3, 4, 4), np.float32)
    with pytest.raises(TypeError, match="relu: x must be float32"):
        ops.relu(x.astype(np.float16))
    with pytest.raises(ValueError, match="dy must have the shape of x"):
        ops.relu_backward(x, x[:, :2])
    with pytest.raises(ValueError, match="out must have the shape of x"):
        ops.relu_backward(x, x, out=np.zeros((1, 3, 4, 5), np.float32))
    with pytest.raises(TypeError, match="out"):
        ops.relu_backward(x, x, out=np.zeros((1, 3, 4, 4)))
    flat = np.zeros(2 * 48, np.float32)
    with pytest.raises(ValueError, match="partly overlap"):
        ops.relu_backward(flat[:48].reshape(1, 3, 4, 4), x, out=flat[1:49].reshape(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"alpha must have shape \(1,\) or \(3,\)"):
        ops.prelu(x, np.ones(2, np.float32))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        ops.prelu(np.zeros(3, np.float32), np.ones(1, np.float32))
    with pytest.raises(ValueError, match="target must have the shape of pred"):
        ops.l1_loss(x, x[0])
    with pytest.raises(ValueError, match="zero-sized"):
        ops.mse_loss(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    with pytest.raises(TypeError, match="target must be float32"):
        ops.mse_loss(x, x.astype(np.float64))
    with pytest.raises(ValueError, match="grad_scale must be finite"):
        ops.l1_loss_backward(x, x, float("nan"))


# ------------------------------------------------------------ NaN propagation
# The kernels follow IEEE semantics: NaN in, NaN out. relu(NaN) = NaN
# (y = x < 0 ? 0 : x), fast and reference alike; relu_backward passes dy where
# x is NaN (the branch the forward took, as PyTorch does); prelu(NaN) =
# alpha * NaN = NaN; the losses of a NaN are NaN.

def test_relu_propagates_nan(isa):
    x = np.array([np.nan, -1.0, 0.0, 2.0, -np.inf, np.inf] * 7000, np.float32)  # > one-thread cut-off
    dy = np.arange(x.size, dtype=np.float32) + 1
    for mod in (ops, ref):
        y = mod.relu(x)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(x))
        finite = ~np.isnan(x)
        np.testing.assert_array_equal(y[finite], np.maximum(x[finite], 0))
        np.testing.assert_array_equal(mod.relu_backward(x, dy), np.where(np.isnan(x) | (x > 0), dy, 0))
        assert np.isnan(mod.prelu(x.reshape(1, 1, -1), np.array([0.25], np.float32))[0, 0, 0])
        assert np.isnan(mod.l1_loss(x, np.zeros_like(x))) and np.isnan(mod.mse_loss(x, np.zeros_like(x)))


def test_conv1x1_pair_relu_propagates_nan(isa, rng):
    x = rng.standard_normal((1, 4, 5, 6)).astype(np.float32)
    x[0, 2, 3, 4] = np.nan
    w1 = rng.standard_normal((8, 4, 1, 1)).astype(np.float32)
    w2 = rng.standard_normal((3, 8, 1, 1)).astype(np.float32)
    b1 = np.full(8, -100.0, np.float32)  # ReLU clamps every finite middle value to 0
    for mod in (ops, ref):
        y = mod.conv1x1_pair(x, w1, b1, w2, None)
        assert np.isnan(y[0, :, 3, 4]).all()
        assert np.isnan(y).sum() == 3 and (y[~np.isnan(y)] == 0).all()


# ------------------------------------------------------------ out= (networks' recycled buffers)

@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "prelu"])
def test_elementwise_out_writes_in_place_and_checks_it(name, rng):
    x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    args = (x, np.array([0.1, 0.2, 0.3], np.float32)) if name == "prelu" else (x,)
    fn = getattr(ops, name)
    want = fn(*args)
    out = np.full_like(x, np.nan)
    assert fn(*args, out=out) is out
    np.testing.assert_array_equal(out, want)
    with pytest.raises(ValueError, match="out"):
        fn(*args, out=np.empty((2, 3, 5, 6), np.float32))
    with pytest.raises(ValueError, match="share memory|overlap"):
        fn(*args, out=x)
    with pytest.raises(TypeError):
        fn(*args, out=np.empty(x.shape, np.float64))
