"""max_pool2d (VGG's 2 x 2 stride-2 pooling, and any k x k window at stride
s with PyTorch's floor sizes): the reference against a float64 NumPy loop,
fast vs reference bit-exact (forward and backward, 1 and 2 threads),
backward by central finite differences away from ties, against PyTorch's
forward and autograd (also on ties and NaN, where the argmax rule shows),
the tape op, and typed errors on bad input.

Tolerances: every comparison is exact (a maximum selects a value; the
backward adds dy values in the same order as PyTorch), except finite
differences: rel 1e-3 on a directional derivative, step 1e-3, with every
window's values at least 0.05 apart so no step changes an argmax.
"""

import numpy as np
import pytest

import sr_native
from sr_native import autograd, ops, ref

# (shape, k, s): awkward sizes that floor, batch > 1, channels not a multiple of 16,
# overlapping windows (k > s), gaps between windows (k < s), and a 1 x 1 input.
CASES = [
    ((1, 1, 1, 1), 1, 1),
    ((1, 1, 2, 2), 2, 2),
    ((2, 3, 7, 9), 2, 2),
    ((3, 17, 13, 5), 2, 2),
    ((1, 5, 2, 31), 2, 2),
    ((2, 3, 8, 8), 3, 2),
    ((2, 4, 10, 11), 3, 1),
    ((1, 6, 11, 9), 2, 3),
    ((2, 2, 6, 7), 5, 4),
    ((1, 3, 9, 9), 9, 9),
    ((2, 64, 24, 25), 2, 2),  # past the parallel threshold: several threads
]


def numpy_pool(x, k, s):
    """float64 maximum over each window, from the definition."""
    n, c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    y = np.empty((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            y[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].astype(np.float64).max(axis=(2, 3))
    return y


def tied(rng, shape):
    """Values on a coarse grid: most windows hold ties."""
    return (np.round(rng.standard_normal(shape) * 2) / 2).astype(np.float32)


def spread(rng, shape):
    """Distinct values at least 0.05 apart (a shuffled ramp): no ties anywhere."""
    return (rng.permutation(int(np.prod(shape))) * 0.05 - 1.0).reshape(shape).astype(np.float32)


@pytest.mark.parametrize("shape,k,s", CASES)
def test_reference_vs_numpy_and_fast_vs_reference(shape, k, s, rng):
    for x in (rng.standard_normal(shape).astype(np.float32), tied(rng, shape)):
        y_ref = ref.max_pool2d(x, k, s)
        ho, wo = (shape[2] - k) // s + 1, (shape[3] - k) // s + 1
        assert y_ref.shape == (shape[0], shape[1], ho, wo) and y_ref.dtype == np.float32
        np.testing.assert_array_equal(y_ref, numpy_pool(x, k, s))
        np.testing.assert_array_equal(ops.max_pool2d(x, k, s), y_ref)
        dy = rng.standard_normal(y_ref.shape).astype(np.float32)
        dx_ref = ref.max_pool2d_backward(x, dy, k, s)
        assert dx_ref.shape == shape
        # Every dy value lands somewhere in x: the sums agree (nothing lost or doubled).
        assert float(dx_ref.astype(np.float64).sum()) == pytest.approx(float(dy.astype(np.float64).sum()),
                                                                         rel=1e-5, abs=1e-5)
        dx = ops.max_pool2d_backward(x, dy, k, s)
        assert dx.tobytes() == dx_ref.tobytes()  # bit-exact, signs of zeros included


def test_thread_count_does_not_change_results(rng):
    x = tied(rng, (2, 64, 24, 25))
    dy = rng.standard_normal((2, 64, 12, 12)).astype(np.float32)
    before = sr_native.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            sr_native.set_num_threads(threads)
            results.append((ops.max_pool2d(x), ops.max_pool2d_backward(x, dy)))
    finally:
        sr_native.set_num_threads(before)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_default_stride_is_the_window(rng):
    x = rng.standard_normal((1, 2, 9, 10)).astype(np.float32)
    np.testing.assert_array_equal(ops.max_pool2d(x, 3), ops.max_pool2d(x, 3, 3))
    np.testing.assert_array_equal(ops.max_pool2d(x), ops.max_pool2d(x, 2, 2))
    assert ops.max_pool2d(x, 3).shape == (1, 2, 3, 3)


def test_ties_go_to_the_first_maximum_in_row_major_order():
    x = np.array([[[[1.0, 5.0, 5.0, 0.0],
                    [5.0, 5.0, 0.0, 0.0]]]], np.float32)
    dx = ops.max_pool2d_backward(x, np.array([[[[3.0, 7.0]]]], np.float32))
    np.testing.assert_array_equal(dx, [[[[0.0, 3.0, 7.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])
    np.testing.assert_array_equal(ref.max_pool2d_backward(x, np.array([[[[3.0, 7.0]]]], np.float32)), dx)


@pytest.mark.parametrize("shape,k,s", [((2, 3, 7, 9), 2, 2), ((1, 2, 8, 7), 3, 1), ((2, 1, 9, 8), 2, 3)])
def test_backward_finite_differences(shape, k, s, rng):
    x = spread(rng, shape)
    r = rng.standard_normal(ops.max_pool2d(x, k, s).shape)
    v = rng.standard_normal(shape)
    dx = ref.max_pool2d_backward(x, r.astype(np.float32), k, s)
    step = 1e-3  # far below the 0.05 gaps: no argmax moves

    def loss(a):
        return float(np.sum(ref.max_pool2d(a, k, s).astype(np.float64) * r))

    fd = (loss((x + step * v).astype(np.float32)) - loss((x - step * v).astype(np.float32))) / (2 * step)
    assert float(np.sum(dx.astype(np.float64) * v)) == pytest.approx(fd, rel=1e-3)


@pytest.mark.parametrize("shape,k,s", CASES)
def test_against_torch(shape, k, s, rng, torch):
    for x in (rng.standard_normal(shape).astype(np.float32), tied(rng, shape)):
        xt = torch.tensor(x, requires_grad=True)
        yt = torch.nn.functional.max_pool2d(xt, k, s)
        dy = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
        yt.backward(torch.tensor(dy))
        np.testing.assert_array_equal(ops.max_pool2d(x, k, s), yt.detach().numpy())
        np.testing.assert_array_equal(ops.max_pool2d_backward(x, dy, k, s), xt.grad.numpy())


def test_nan_and_infinity_follow_torch(rng, torch):
    """A window holding a NaN outputs NaN; its gradient goes to the window's
    last NaN (PyTorch's CPU rule); infinities are ordinary values."""
    x = np.array([[[[1.0, np.nan, -np.inf, -np.inf, np.inf, 2.0],
                    [np.nan, 2.0, -np.inf, -np.inf, 3.0, np.inf]]]], np.float32)
    dy = np.array([[[[2.0, 3.0, 5.0]]]], np.float32)
    y = ops.max_pool2d(x)
    assert np.isnan(y[0, 0, 0, 0]) and y[0, 0, 0, 1] == -np.inf and y[0, 0, 0, 2] == np.inf
    dx = ops.max_pool2d_backward(x, dy)
    np.testing.assert_array_equal(dx, [[[[0, 0, 3, 0, 5, 0], [2, 0, 0, 0, 0, 0]]]])
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.max_pool2d(xt, 2, 2)
    yt.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y, yt.detach().numpy())  # NaN == NaN for assert_array_equal
    np.testing.assert_array_equal(dx, xt.grad.numpy())
    for fn in (ref, ops):
        np.testing.assert_array_equal(fn.max_pool2d(x), y)
        np.testing.assert_array_equal(fn.max_pool2d_backward(x, dy), dx)
    # A NaN in dy reaches only its window's argmax.
    dy_nan = np.array([[[[np.nan, 0.0, 0.0]]]], np.float32)
    dx_nan = ops.max_pool2d_backward(np.arange(12, dtype=np.float32).reshape(1, 1, 2, 6), dy_nan)
    assert np.isnan(dx_nan[0, 0, 1, 1]) and np.isnan(dx_nan).sum() == 1


def test_tape_op(rng):
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    dy = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    with autograd.Tape() as tape:
        tape.watch(x)
        y = autograd.max_pool2d(x, k=2, s=2)
    tape.backward(y, dy)
    np.testing.assert_array_equal(y, ops.max_pool2d(x))
    np.testing.assert_array_equal(tape.input_grad(x), ops.max_pool2d_backward(x, dy))
    # Overlapping windows: a value that is the maximum of several windows gets their sum.
    with autograd.Tape() as tape:
        tape.watch(x)
        y = autograd.max_pool2d(x, 3, 1)
    dy3 = rng.standard_normal(y.shape).astype(np.float32)
    tape.backward(y, dy3)
    np.testing.assert_array_equal(tape.input_grad(x), ref.max_pool2d_backward(x, dy3, 3, 1))


def test_bad_input(rng):
    x = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
    with pytest.raises(TypeError, match="max_pool2d: x"):
        ops.max_pool2d(x.astype(np.float64))
    with pytest.raises(TypeError, match="max_pool2d: x"):
        ops.max_pool2d([[1.0]])
    with pytest.raises(ValueError, match=r"max_pool2d: x .*\(N, C, H, W\).*\(2, 5, 6\)"):
        ops.max_pool2d(x[0])
    with pytest.raises(ValueError, match=r"max_pool2d: x"):
        ops.max_pool2d(np.zeros((0, 2, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"k = 6 .*\(1, 2, 5, 6\)"):
        ops.max_pool2d(x, 6)
    with pytest.raises(ValueError, match="k .* must be >= 1, got 0"):
        ops.max_pool2d(x, 0)
    with pytest.raises(ValueError, match="s .* must be >= 1, got -1"):
        ops.max_pool2d(x, 2, -1)
    with pytest.raises(TypeError, match="max_pool2d: k must be an int, got float"):
        ops.max_pool2d(x, 2.0)
    with pytest.raises(TypeError, match="max_pool2d: s must be an int, got bool"):
        ops.max_pool2d(x, 2, True)
    with pytest.raises(ValueError, match=r"max_pool2d_backward: dy must have shape \(1, 2, 2, 3\).*\(1, 2, 3, 3\)"):
        ops.max_pool2d_backward(x, np.zeros((1, 2, 3, 3), np.float32))
    with pytest.raises(TypeError, match="max_pool2d_backward: dy"):
        ops.max_pool2d_backward(x, np.zeros((1, 2, 2, 3), np.float64))
    with pytest.raises(TypeError, match="reference"):
        ops.max_pool2d(x, reference="yes")
    # Non-contiguous input is copied, not misread.
    wide = rng.standard_normal((1, 2, 5, 12)).astype(np.float32)
    np.testing.assert_array_equal(ops.max_pool2d(wide[:, :, :, ::2]),
                                  ops.max_pool2d(np.ascontiguousarray(wide[:, :, :, ::2])))
