"""Training-mode batch norm (batch statistics) and its backward, the
running-statistics update, and inference batch norm folded into the
convolution before it.

Checked: the reference against float64 NumPy; fast vs reference on awkward
shapes; the backward by central finite differences on the reference kernel
(loss summed in float64) for x, gamma and beta; fast vs reference backward;
PyTorch's F.batch_norm(training=True) forward, batch statistics and autograd
backward, BatchNorm2d's running statistics, and conv + BatchNorm2d in eval
mode against the folded convolution (PyTorch when installed, float64 NumPy
always).

Tolerances (float32 kernels):
  reference vs float64 NumPy   y rtol 1e-5 atol 1e-6; mean, invstd rtol 1e-6
  fast vs reference            y, dx rtol 1e-4 atol 2e-5; mean, invstd, dgamma, dbeta rtol 1e-5 atol 1e-5
  finite differences           rel 2e-3 on a directional derivative, step 1e-2
  against PyTorch              y atol 1e-5; gradients rtol 1e-4 atol 2e-5
  folded conv vs conv + BN     rtol 1e-5 atol 2e-5
"""

import numpy as np
import pytest

import sr_native
from sr_native import ops, ref

SHAPES = [(3, 1, 1, 1), (1, 3, 5, 7), (3, 17, 9, 11), (1, 64, 13, 1), (3, 64, 1, 1), (2, 3, 31, 33),
          (3, 5, 47, 53)]  # the last runs on more than one thread


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def params(rng, c):
    return rng.uniform(0.5, 1.5, c).astype(np.float32), f32(rng, c) * 0.3


def numpy_bn(x, gamma, beta, eps):
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(0, 2, 3))
    var = x64.var(axis=(0, 2, 3))
    invstd = 1 / np.sqrt(var + eps)
    xhat = (x64 - mean[:, None, None]) * invstd[:, None, None]
    return xhat * gamma[:, None, None] + beta[:, None, None], mean, invstd


def numpy_bn_backward(x, gamma, dy, eps):
    _, mean, invstd = numpy_bn(x, gamma, np.zeros_like(gamma), eps)
    xhat = (x.astype(np.float64) - mean[:, None, None]) * invstd[:, None, None]
    dy64 = dy.astype(np.float64)
    dbeta = dy64.sum(axis=(0, 2, 3))
    dgamma = (dy64 * xhat).sum(axis=(0, 2, 3))
    m = x.size / x.shape[1]
    dx = (gamma * invstd)[:, None, None] * (dy64 - dbeta[:, None, None] / m - xhat * dgamma[:, None, None] / m)
    return dx, dgamma, dbeta


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_fast_vs_reference(shape, rng):
    x = f32(rng, *shape) * 2 + 0.5
    gamma, beta = params(rng, shape[1])
    want_y, want_mean, want_invstd = numpy_bn(x, gamma, beta, 1e-5)
    y_ref, mean_ref, invstd_ref = ref.batch_norm_train(x, gamma, beta, eps=1e-5)
    np.testing.assert_allclose(y_ref, want_y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean_ref, want_mean, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(invstd_ref, want_invstd, rtol=1e-6)
    y, mean, invstd = ops.batch_norm_train(x, gamma, beta, eps=1e-5)
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(invstd, invstd_ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
def test_backward_fast_vs_reference(shape, rng):
    x, dy = f32(rng, *shape), f32(rng, *shape)
    gamma, beta = params(rng, shape[1])
    _, mean, invstd = ref.batch_norm_train(x, gamma, beta)
    want_dx, want_dgamma, want_dbeta = numpy_bn_backward(x, gamma, dy, 1e-5)
    dx_ref, dgamma_ref, dbeta_ref = ref.batch_norm_backward(x, gamma, mean, invstd, dy)
    np.testing.assert_allclose(dx_ref, want_dx, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(dgamma_ref, want_dgamma, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dbeta_ref, want_dbeta, rtol=1e-5, atol=1e-5)
    dx, dgamma, dbeta = ops.batch_norm_backward(x, gamma, mean, invstd, dy)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(dgamma, dgamma_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dbeta, dbeta_ref, rtol=1e-5, atol=1e-5)


def test_large_mean_keeps_the_variance(rng):
    # mean / std = 1e4: a one-pass sum of squares without a shift loses the variance.
    x = (f32(rng, 2, 3, 16, 16) + np.float32(1e4)).astype(np.float32)
    gamma, beta = np.ones(3, np.float32), np.zeros(3, np.float32)
    _, want_mean, want_invstd = numpy_bn(x, gamma, beta, 1e-5)
    for mod in (ops, ref):
        y, mean, invstd = mod.batch_norm_train(x, gamma, beta)
        np.testing.assert_allclose(invstd, want_invstd, rtol=1e-5)
        np.testing.assert_allclose(mean, want_mean, rtol=1e-7)
        np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1.0, rtol=1e-2)


def test_constant_channel_and_eps_zero():
    x = np.full((2, 2, 3, 3), 7.0, np.float32)
    gamma, beta = np.ones(2, np.float32), np.array([0.5, -1.0], np.float32)
    for mod in (ops, ref):
        y, mean, invstd = mod.batch_norm_train(x, gamma, beta)
        np.testing.assert_allclose(y, np.broadcast_to(beta[:, None, None], x.shape))
        np.testing.assert_allclose(invstd, 1 / np.sqrt(1e-5), rtol=1e-6)
        _, _, invstd = mod.batch_norm_train(x, gamma, beta, eps=0.0)
        assert np.isinf(invstd).all()  # zero variance and eps 0: 1/0, as in PyTorch


def test_nan_spreads_over_its_channel_only():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5) / 10
    x[1, 1, 2, 2] = np.nan
    gamma, beta = np.ones(3, np.float32), np.zeros(3, np.float32)
    for mod in (ops, ref):
        y, mean, invstd = mod.batch_norm_train(x, gamma, beta)
        assert np.isnan(y[:, 1]).all() and np.isfinite(np.delete(y, 1, axis=1)).all()
        assert np.isnan(mean[1]) and np.isfinite(mean[[0, 2]]).all()
        dx, dgamma, dbeta = mod.batch_norm_backward(x, gamma, mean, invstd, np.ones_like(x))
        assert np.isnan(dx[:, 1]).all() and np.isfinite(np.delete(dx, 1, axis=1)).all()
        assert np.isfinite(dbeta).all() and np.isnan(dgamma[1])


def test_finite_differences(rng):
    shape = (3, 4, 5, 3)
    x = f32(rng, *shape)
    gamma, beta = params(rng, 4)
    r = rng.standard_normal(shape)

    def loss(a, g, b):
        return float(np.sum(ref.batch_norm_train(a, g, b)[0].astype(np.float64) * r))

    _, mean, invstd = ref.batch_norm_train(x, gamma, beta)
    grads = ref.batch_norm_backward(x, gamma, mean, invstd, r.astype(np.float32))
    args = [x, gamma, beta]
    for i, grad in enumerate(grads):
        v = rng.standard_normal(args[i].shape)

        def at(sign):
            moved = list(args)
            moved[i] = (args[i].astype(np.float64) + sign * 1e-2 * v).astype(np.float32)
            return loss(*moved)

        fd = (at(1) - at(-1)) / 2e-2
        assert float(np.sum(grad * v)) == pytest.approx(fd, rel=2e-3), f"argument {i}"


def test_results_do_not_depend_on_thread_count(rng):
    x, dy = f32(rng, 3, 5, 47, 53), f32(rng, 3, 5, 47, 53)
    gamma, beta = params(rng, 5)
    before = sr_native.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            sr_native.set_num_threads(threads)
            y, mean, invstd = ops.batch_norm_train(x, gamma, beta)
            results.append([y, mean, invstd, *ops.batch_norm_backward(x, gamma, mean, invstd, dy)])
    finally:
        sr_native.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_running_update_matches_pytorch_formula(rng):
    x = f32(rng, 3, 4, 5, 6) * 2 + 1
    gamma, beta = params(rng, 4)
    _, mean, invstd = ops.batch_norm_train(x, gamma, beta, eps=1e-3)
    running_mean, running_var = np.full(4, 0.2, np.float32), np.full(4, 1.5, np.float32)
    ops.batch_norm_running_update(running_mean, running_var, mean, invstd, count=3 * 5 * 6, momentum=0.1,
                                  eps=1e-3)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(running_mean, 0.9 * 0.2 + 0.1 * x64.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(running_var, 0.9 * 1.5 + 0.1 * x64.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)


def _conv_bn_numpy(x, w, b, gamma, beta, rmean, rvar, eps):
    conv = ops.conv2d(x, w, b).astype(np.float64)
    scale = gamma / np.sqrt(rvar.astype(np.float64) + eps)
    return (conv - rmean[:, None, None]) * scale[:, None, None] + beta[:, None, None]


@pytest.mark.parametrize("with_bias", [True, False])
def test_fold_batch_norm_equals_conv_then_bn(with_bias, rng):
    o, c, k = 17, 3, 3
    x = f32(rng, 2, c, 9, 11)
    w = f32(rng, o, c, k, k) * 0.3
    b = f32(rng, o) if with_bias else None
    gamma, beta = params(rng, o)
    rmean, rvar = f32(rng, o), rng.uniform(0.2, 3, o).astype(np.float32)
    wf, bf = ops.fold_batch_norm(w, b, gamma, beta, rmean, rvar, eps=1e-5)
    assert wf.dtype == bf.dtype == np.float32 and wf.shape == w.shape and bf.shape == (o,)
    want = _conv_bn_numpy(x, w, b, gamma, beta, rmean, rvar, 1e-5)
    np.testing.assert_allclose(ops.conv2d(x, wf, bf), want, rtol=1e-5, atol=2e-5)
    # float64 inputs are taken as they are (a checkpoint's statistics may be float64).
    wf64, bf64 = ops.fold_batch_norm(w.astype(np.float64), b, gamma.astype(np.float64), beta, rmean, rvar)
    np.testing.assert_allclose(wf64, wf, rtol=1e-7)
    np.testing.assert_allclose(bf64, bf, rtol=1e-7, atol=1e-7)


# -------------------------------------------------------------- PyTorch
def test_against_pytorch_training_mode(rng, torch):
    F = torch.nn.functional
    for shape in [(3, 17, 9, 11), (1, 3, 5, 7), (3, 64, 1, 1)]:
        x, dy = f32(rng, *shape) * 2 + 0.5, f32(rng, *shape)
        gamma, beta = params(rng, shape[1])
        xt, gt, bt = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, gamma, beta))
        yt = F.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5)
        yt.backward(torch.from_numpy(dy))
        y, mean, invstd = ops.batch_norm_train(x, gamma, beta, eps=1e-5)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-5)
        _, save_mean, save_invstd = torch.native_batch_norm(torch.from_numpy(x), torch.from_numpy(gamma),
                                                            torch.from_numpy(beta), None, None, True, 0.1, 1e-5)
        np.testing.assert_allclose(mean, save_mean.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(invstd, save_invstd.numpy(), rtol=1e-5)
        for mod in (ops, ref):
            dx, dgamma, dbeta = mod.batch_norm_backward(x, gamma, mean, invstd, dy)
            np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=2e-5)
            np.testing.assert_allclose(dgamma, gt.grad.numpy(), rtol=1e-4, atol=2e-5)
            np.testing.assert_allclose(dbeta, bt.grad.numpy(), rtol=1e-4, atol=2e-5)


def test_running_statistics_against_pytorch(rng, torch):
    bn = torch.nn.BatchNorm2d(5, eps=1e-5, momentum=0.1)
    running_mean, running_var = np.zeros(5, np.float32), np.ones(5, np.float32)
    gamma, beta = np.ones(5, np.float32), np.zeros(5, np.float32)
    for _ in range(3):
        x = f32(rng, 3, 5, 6, 7) * 3 + 2
        bn.train()(torch.from_numpy(x))
        _, mean, invstd = ops.batch_norm_train(x, gamma, beta, eps=1e-5)
        ops.batch_norm_running_update(running_mean, running_var, mean, invstd, count=3 * 6 * 7, momentum=0.1,
                                      eps=1e-5)
    np.testing.assert_allclose(running_mean, bn.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(running_var, bn.running_var.numpy(), rtol=1e-5)


def test_fold_against_pytorch_eval_mode(rng, torch):
    conv = torch.nn.Conv2d(3, 17, 3, padding=1)
    bn = torch.nn.BatchNorm2d(17, eps=1e-3)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(params(rng, 17)[0]))
        bn.bias.copy_(torch.from_numpy(f32(rng, 17)))
        bn.running_mean.copy_(torch.from_numpy(f32(rng, 17)))
        bn.running_var.copy_(torch.from_numpy(rng.uniform(0.2, 3, 17).astype(np.float32)))
    x = f32(rng, 2, 3, 9, 11)
    with torch.no_grad():
        want = bn.eval()(conv(torch.from_numpy(x))).numpy()
    state = {k: v.detach().numpy() for k, v in {**conv.state_dict(), **{"bn." + k: v for k, v in bn.state_dict().items()}}.items()}
    wf, bf = ops.fold_batch_norm(state["weight"], state["bias"], state["bn.weight"], state["bn.bias"],
                                 state["bn.running_mean"], state["bn.running_var"], eps=bn.eps)
    np.testing.assert_allclose(ops.conv2d(x, wf, bf), want, rtol=1e-5, atol=2e-5)
