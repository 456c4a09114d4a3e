"""Property-based tests (hypothesis): the kernel bindings driven with random
shapes, strides, dtypes and values. Every case must either match the
reference kernels (same tolerances as the kernel tests) or raise a typed
error, never crash. About 2,400 cases in all; `--hypothesis-seed` replays one.

Strides: inputs are taken as views of a larger random array (negative steps,
transposes, every other element), so non-contiguous and negative-stride
inputs are covered with the values they really hold.

Tolerances: hypothesis finds structured inputs (all values equal) where
float32 rounding errors add up instead of cancelling, so the kernel tests'
RTOL_FAST (set from random data) is too tight here. The bound used is the
worst case of a float32 sum of n terms, n * 2^-24 of the sum of |terms|
(n = C*K*K plus bias and residual), and for Winograd 4x that or RTOL_WINO."""

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install '.[test]')")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import sr_native  # noqa: E402
from sr_native import _core, ops, ref  # noqa: E402

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

RTOL_FAST = 2e-6  # tests/test_conv2d.py
RTOL_WINO = 2e-5


@st.composite
def strided(draw, shape, dtype=np.float32, elements=None):
    """An array of `shape` that is a view of a bigger one: reversed axes,
    steps of 2, a transpose, or plain."""
    kind = draw(st.sampled_from(["plain", "reversed", "step", "transposed"]))
    elements = st.floats(-4, 4, width=32) if elements is None else elements
    if kind == "step":
        big = draw(hnp.arrays(dtype, tuple(2 * s for s in shape), elements=elements))
        return big[tuple(slice(None, None, 2) for _ in shape)]
    if kind == "transposed" and len(shape) >= 2:
        t = draw(hnp.arrays(dtype, shape[:-2] + (shape[-1], shape[-2]), elements=elements))
        return np.swapaxes(t, -1, -2)
    arr = draw(hnp.arrays(dtype, shape, elements=elements))
    if kind == "reversed":
        return arr[..., ::-1]
    return arr


def conv_shapes():
    return st.tuples(st.integers(1, 3), st.integers(1, 20), st.integers(1, 13), st.integers(1, 13),
                     st.integers(1, 20), st.sampled_from([1, 3, 5]))


def sum_bound(n):
    """Worst-case relative error of a float32 sum of n terms (of sum |terms|)."""
    return n * 2.0**-24


def magnitude(x, w, b=None, r=None):
    m = ref.conv2d(np.abs(x), np.abs(w), None if b is None else np.abs(b)).astype(np.float64)
    return m + (0 if r is None else np.abs(r))


@given(data=st.data(), shape=conv_shapes(), algo=st.sampled_from(["auto", "direct", "winograd"]),
       bias=st.booleans(), relu=st.booleans(), residual=st.booleans())
@SETTINGS
def test_conv2d_matches_reference(data, shape, algo, bias, relu, residual):
    n, c, h, w, o, k = shape
    x = data.draw(strided((n, c, h, w)))
    wt = data.draw(strided((o, c, k, k)))
    b = data.draw(hnp.arrays(np.float32, (o,), elements=st.floats(-4, 4, width=32))) if bias else None
    r = data.draw(strided((n, o, h, w))) if residual else None
    before = _core.get_conv_algo()
    _core.set_conv_algo(algo)
    try:
        got = ops.conv2d(x, wt, b, relu=relu, residual=r)
    finally:
        _core.set_conv_algo(before)
    want = ref.conv2d(x, wt, b, relu=relu, residual=r)
    m = magnitude(x, wt, b, r)
    rtol = max(RTOL_FAST, sum_bound(c * k * k + 3))
    if algo != "direct" and k == 3:
        # Winograd's transforms mix every tap with every value of a tile's 6x6
        # input patch (zero padding included), so a tap that multiplies only
        # padding, or a pixel whose own sum of |terms| is ~0, still carries the
        # tile's rounding. Its scale: sum over c of (sum of |w[o, c]|) times the
        # largest |x[n, c]|, plus |b| and |r|.
        wsum = np.abs(wt.astype(np.float64)).sum(axis=(2, 3))            # (o, c)
        xmax = np.abs(x.astype(np.float64)).max(axis=(2, 3))              # (n, c)
        tile = (xmax @ wsum.T)[:, :, None, None]                          # (n, o, 1, 1)
        rtol, m = max(RTOL_WINO, 4 * rtol), np.maximum(m, tile + (0 if b is None else np.abs(b)[:, None, None])
                                                        + (0 if r is None else np.abs(r)))
    assert np.all(np.abs(got.astype(np.float64) - want) <= rtol * m + 1e-30)


@given(data=st.data(), shape=conv_shapes())
@SETTINGS
def test_conv2d_backward_matches_reference(data, shape):
    n, c, h, w, o, k = shape
    x = data.draw(strided((n, c, h, w)))
    wt = data.draw(strided((o, c, k, k)))
    dy = data.draw(strided((n, o, h, w)))
    got = ops.conv2d_backward(x, wt, dy)
    want = ref.conv2d_backward(x, wt, dy)
    # Loose common bound (Winograd's dw mixes taps): RTOL_WINO of the largest
    # sum of |terms| of each gradient.
    ax, aw, ady = np.abs(x), np.abs(wt), np.abs(dy)
    scales = (ref.conv2d(ady, aw.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1].copy()).max(),
              float(ady.sum(axis=(0, 2, 3)).max() * ax.max(initial=0) * k * k),
              float(ady.sum(axis=(0, 2, 3)).max()))
    rtol = max(RTOL_WINO, 4 * sum_bound(max(o, c) * k * k + n * h * w))
    for g, r_, s in zip(got, want, scales):
        assert g.shape == r_.shape
        assert np.all(np.abs(g.astype(np.float64) - r_) <= rtol * s + 1e-30)


@given(data=st.data(), n=st.integers(1, 2), c=st.integers(1, 5), h=st.integers(1, 7), w=st.integers(1, 7),
       r=st.integers(1, 4))
@SETTINGS
def test_pixel_shuffle_roundtrip_is_exact(data, n, c, h, w, r):
    x = data.draw(strided((n, c * r * r, h, w), elements=st.floats(width=32, allow_nan=True)))
    y = ops.pixel_shuffle(x, r)
    np.testing.assert_array_equal(y, ref.pixel_shuffle(x, r))
    np.testing.assert_array_equal(ops.pixel_unshuffle(y, r), x)


@given(data=st.data(), h=st.integers(1, 24), w=st.integers(1, 24), c=st.sampled_from([None, 1, 3, 4]),
       dtype=st.sampled_from([np.uint8, np.uint16, np.float32]),
       method=st.sampled_from(["nearest", "bilinear", "bicubic", "lanczos3", "area"]),
       scale=st.sampled_from([0.5, 0.37, 1.0, 2.0, 3.0, 1.7]), antialias=st.booleans())
@SETTINGS
def test_resize_matches_reference(data, h, w, c, dtype, method, scale, antialias):
    shape = (h, w) if c is None else (h, w, c)
    if dtype == np.float32:
        elements = st.floats(0, 1, width=32)
    else:
        elements = st.integers(0, np.iinfo(dtype).max)
    x = data.draw(strided(shape, dtype, elements))
    fast = sr_native.resize(x, scale, method=method, antialias=antialias)
    want = sr_native.resize(x, scale, method=method, antialias=antialias, reference=True)
    assert fast.shape == want.shape and fast.dtype == want.dtype
    if dtype == np.float32:
        np.testing.assert_allclose(fast, want, rtol=1e-5, atol=1e-5)
    else:
        assert np.abs(fast.astype(np.int64) - want.astype(np.int64)).max(initial=0) <= 1


@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=9))
@SETTINGS
def test_elementwise_ops_with_special_values(data, shape):
    # NaN and infinity are propagated (documented), never a crash.
    special = st.floats(width=32, allow_nan=True, allow_infinity=True)
    x = data.draw(strided(shape, elements=special))
    dy = data.draw(strided(shape, elements=special))
    np.testing.assert_array_equal(ops.relu(x), ref.relu(x))
    np.testing.assert_array_equal(ops.relu_backward(x, dy), ref.relu_backward(x, dy))
    a, b = ops.l1_loss(x, dy), ref.l1_loss(x, dy)
    assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, rel=1e-5)


_BAD_ARRAYS = st.one_of(
    hnp.arrays(st.sampled_from([np.float64, np.float16, np.int32, np.uint8, np.complex64, np.bool_]),
               hnp.array_shapes(min_dims=0, max_dims=5, max_side=4)),
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=6, min_side=0, max_side=3)),
    st.lists(st.floats(), max_size=3), st.none(), st.integers(), st.text(max_size=3),
)


@given(x=_BAD_ARRAYS, w=_BAD_ARRAYS)
@SETTINGS
def test_any_input_gives_a_result_or_a_typed_error(x, w):
    for call in (lambda: ops.conv2d(x, w), lambda: ops.conv2d_backward(x, w, x),
                 lambda: ops.pixel_shuffle(x, 2), lambda: ops.relu_backward(x, w),
                 lambda: sr_native.resize(x, 2)):
        try:
            call()
        except (TypeError, ValueError, MemoryError):
            pass
