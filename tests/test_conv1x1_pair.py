"""ops.conv1x1_pair (WDSR-B's fused 1x1 -> ReLU -> 1x1): bit-identical to the two
conv2d calls, within float32 rounding of the reference, awkward shapes under
every ISA, in-place residual, and clear errors.

Tolerance: each output sums M products of rounded middle values; the fast and
reference kernels differ only in the order of float32 vs double accumulation,
so |fast - ref| <= RTOL * (sum |w2| |mid| + |b2| + |residual|) with the same
RTOL_FAST as tests/test_conv2d.py (2e-6)."""

import numpy as np
import pytest

from sr_native import ops, ref

RTOL_FAST = 2e-6

# (N, C, M, O, H, W): 1x1 images, pixel counts that end mid-vector and span
# several 128-pixel pieces, channel counts off every tile size, N > 1.
SHAPES = [
    (1, 1, 1, 1, 1, 1),
    (2, 5, 7, 3, 3, 5),
    (1, 3, 17, 33, 1, 1),
    (3, 16, 40, 9, 13, 17),
    (1, 32, 192, 25, 11, 29),
    (2, 9, 24, 16, 16, 16),
]
IDS = ["x".join(map(str, s)) for s in SHAPES]


def make(rng, n, c, m, o, h, w):
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    w1 = rng.standard_normal((m, c, 1, 1), dtype=np.float32)
    b1 = rng.standard_normal(m, dtype=np.float32)
    w2 = rng.standard_normal((o, m, 1, 1), dtype=np.float32)
    b2 = rng.standard_normal(o, dtype=np.float32)
    r = rng.standard_normal((n, o, h, w), dtype=np.float32)
    return x, w1, b1, w2, b2, r


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_equals_two_convolutions_and_the_reference(isa, rng, shape):
    x, w1, b1, w2, b2, r = make(rng, *shape)
    mid = ops.conv2d(x, w1, b1, relu=True)
    for res in (None, r):
        fused = ops.conv1x1_pair(x, w1, b1, w2, b2, residual=res)
        np.testing.assert_array_equal(fused, ops.conv2d(mid, w2, b2, residual=res), err_msg=isa)
        want = ref.conv1x1_pair(x, w1, b1, w2, b2, residual=res)
        mag = np.einsum("om,nmhw->nohw", np.abs(w2[:, :, 0, 0]).astype(np.float64), np.abs(mid)) + np.abs(b2)[None, :, None, None]
        if res is not None:
            mag = mag + np.abs(res)
        assert np.all(np.abs(fused.astype(np.float64) - want) <= RTOL_FAST * mag + 1e-30), isa
    # Without biases.
    np.testing.assert_array_equal(ops.conv1x1_pair(x, w1, None, w2, None),
                                  ops.conv2d(ops.conv2d(x, w1, relu=True), w2))


def test_out_and_in_place_residual(rng):
    x, w1, b1, w2, b2, r = make(rng, 2, 6, 20, 5, 7, 9)
    want = ops.conv1x1_pair(x, w1, b1, w2, b2, residual=r)
    buf = r.copy()
    got = ops.conv1x1_pair(x, w1, b1, w2, b2, residual=buf, out=buf)
    assert got is buf
    np.testing.assert_array_equal(buf, want)


def test_rejects_bad_input(rng):
    x, w1, b1, w2, b2, r = make(rng, 1, 4, 6, 3, 5, 5)
    with pytest.raises(ValueError, match="w1 must be 1x1"):
        ops.conv1x1_pair(x, np.zeros((6, 4, 3, 3), np.float32), b1, w2, b2)
    with pytest.raises(ValueError, match=r"w2 must have shape \(O, 6, 1, 1\)"):
        ops.conv1x1_pair(x, w1, b1, np.zeros((3, 5, 1, 1), np.float32), b2)
    with pytest.raises(ValueError, match="channels"):
        ops.conv1x1_pair(x[:, :3], w1, b1, w2, b2)
    with pytest.raises(ValueError, match="b1 must have shape"):
        ops.conv1x1_pair(x, w1, b2, w2, b2)
    with pytest.raises(ValueError, match="b2 must have shape"):
        ops.conv1x1_pair(x, w1, b1, w2, b1)
    with pytest.raises(TypeError, match="x must be"):
        ops.conv1x1_pair(x.astype(np.float64), w1, b1, w2, b2)
    with pytest.raises(ValueError, match="residual must have shape"):
        ops.conv1x1_pair(x, w1, b1, w2, b2, residual=x)
    with pytest.raises(ValueError, match="must not share memory"):
        ops.conv1x1_pair(x, w1, b1, w2, b2, out=x.reshape(-1)[:75].reshape(1, 3, 5, 5))  # a view of x
