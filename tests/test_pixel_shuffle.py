"""pixel_shuffle / pixel_unshuffle: pure data movement, so every comparison is bit-exact.

Checked against an independent NumPy reshape/transpose formula, the reference
kernel, each other (round trip) and PyTorch when installed.
"""

import numpy as np
import pytest

import sr_native
from sr_native import ops, ref

# (N, C_out, H, W, r): odd sizes, 1x1 images, channels that are not multiples of
# the vector width, r from 2 up to one above the fast path's limit of 16.
SHAPES = [
    (1, 1, 1, 1, 2), (1, 3, 1, 1, 2), (2, 3, 5, 7, 2), (1, 64, 17, 33, 2), (3, 5, 9, 4, 3),
    (1, 3, 13, 11, 4), (2, 2, 3, 3, 5), (1, 1, 2, 3, 16), (1, 2, 2, 2, 17), (1, 1, 1, 129, 2),
]


def numpy_shuffle(x, r):
    n, c, h, w = x.shape
    co = c // (r * r)
    return x.reshape(n, co, r, r, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(n, co, h * r, w * r)


@pytest.mark.parametrize("n,c,h,w,r", SHAPES)
def test_shuffle_matches_formula_and_reference(n, c, h, w, r, rng):
    x = rng.standard_normal((n, c * r * r, h, w)).astype(np.float32)
    expected = numpy_shuffle(x, r)
    fast = ops.pixel_shuffle(x, r)
    assert fast.shape == (n, c, h * r, w * r)
    np.testing.assert_array_equal(fast, expected)
    np.testing.assert_array_equal(ref.pixel_shuffle(x, r), expected)


@pytest.mark.parametrize("n,c,h,w,r", SHAPES)
def test_unshuffle_inverts_shuffle(n, c, h, w, r, rng):
    y = rng.standard_normal((n, c, h * r, w * r)).astype(np.float32)
    packed = ops.pixel_unshuffle(y, r)
    assert packed.shape == (n, c * r * r, h, w)
    np.testing.assert_array_equal(ref.pixel_unshuffle(y, r), packed)
    np.testing.assert_array_equal(ops.pixel_shuffle(packed, r), y)
    np.testing.assert_array_equal(numpy_shuffle(packed, r), y)


def test_channel_order_is_pytorch_crd():
    # out[0, 0, i, j] comes from channel i*r + j at pixel (0, 0).
    r = 3
    x = np.arange(r * r, dtype=np.float32).reshape(1, r * r, 1, 1)
    np.testing.assert_array_equal(ops.pixel_shuffle(x, r)[0, 0], np.arange(9, dtype=np.float32).reshape(3, 3))


def test_identity_factor_one(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(ops.pixel_shuffle(x, 1), x)
    np.testing.assert_array_equal(ops.pixel_unshuffle(x, 1), x)


def test_non_contiguous_input(rng):
    base = rng.standard_normal((1, 8, 6, 10)).astype(np.float32)
    view = base[:, :, :, ::2]  # strided view
    np.testing.assert_array_equal(ops.pixel_shuffle(view, 2), ops.pixel_shuffle(np.ascontiguousarray(view), 2))


def test_threads_do_not_change_result(rng):
    x = rng.standard_normal((1, 64, 67, 129)).astype(np.float32)
    before = sr_native.get_num_threads()
    try:
        sr_native.set_num_threads(1)
        one = ops.pixel_shuffle(x, 2)
        sr_native.set_num_threads(2)
        two = ops.pixel_shuffle(x, 2)
    finally:
        sr_native.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("n,c,h,w,r", SHAPES[:8])
def test_against_pytorch(n, c, h, w, r, rng, torch):
    x = rng.standard_normal((n, c * r * r, h, w)).astype(np.float32)
    expected = torch.nn.functional.pixel_shuffle(torch.from_numpy(x), r).numpy()
    np.testing.assert_array_equal(ops.pixel_shuffle(x, r), expected)
    back = torch.nn.functional.pixel_unshuffle(torch.from_numpy(expected), r).numpy()
    np.testing.assert_array_equal(ops.pixel_unshuffle(expected, r), back)


@pytest.mark.parametrize("fn", [ops.pixel_shuffle, ops.pixel_unshuffle])
@pytest.mark.parametrize("bad,exc,needle", [
    (np.zeros((1, 4, 2, 2), np.float64), TypeError, "x must be float32"),
    (np.zeros((1, 4, 2, 2), np.int32), TypeError, "float32"),
    ([[0.0]], TypeError, "numpy.ndarray"),
    (np.zeros((4, 2, 2), np.float32), ValueError, "4-D"),
    (np.zeros((1, 4, 0, 2), np.float32), ValueError, "zero-sized"),
])
def test_bad_input(fn, bad, exc, needle):
    with pytest.raises(exc, match=needle):
        fn(bad, 2)


def test_bad_factor_and_divisibility():
    x = np.zeros((1, 6, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"divisible by r\*r = 4.*\(1, 6, 4, 4\)"):
        ops.pixel_shuffle(x, 2)
    with pytest.raises(ValueError, match="divisible by r = 3"):
        ops.pixel_unshuffle(x, 3)
    for r in (0, -2):
        with pytest.raises(ValueError, match="r must be"):
            ops.pixel_shuffle(x, r)
    for r in (2.0, "2", True):
        with pytest.raises(TypeError, match="r must be an int"):
            ops.pixel_shuffle(x, r)


def test_out_is_written_and_checked(rng):
    x = rng.standard_normal((2, 12, 3, 5), dtype=np.float32)
    out = np.full((2, 3, 6, 10), np.nan, np.float32)
    assert ops.pixel_shuffle(x, 2, out=out) is out
    np.testing.assert_array_equal(out, ops.pixel_shuffle(x, 2))
    back = np.empty_like(x)
    assert ops.pixel_unshuffle(out, 2, out=back) is back
    np.testing.assert_array_equal(back, x)
    with pytest.raises(ValueError, match="out must have shape"):
        ops.pixel_shuffle(x, 2, out=np.empty((2, 3, 6, 11), np.float32))
    with pytest.raises(ValueError, match="must not share memory with x"):
        ops.pixel_unshuffle(out, 2, out=out.reshape(2, 12, 3, 5))
    with pytest.raises(TypeError, match="out"):
        ops.pixel_shuffle(x, 2, out=np.empty((2, 3, 6, 10)))
