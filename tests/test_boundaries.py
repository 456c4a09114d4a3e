"""Behaviour every op shares at the Python boundary: strided, read-only and
impossible-to-copy inputs."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

from sr_native import ops

UNARY = [
    ("relu", lambda x: ops.relu(x)),
    ("pixel_shuffle", lambda x: ops.pixel_shuffle(x, 2)),
    ("pixel_unshuffle", lambda x: ops.pixel_unshuffle(x, 2)),
    ("channel_sum", lambda x: ops.channel_sum(x)),
    ("conv2d", lambda x: ops.conv2d(x, np.ones((3, 4, 3, 3), np.float32))),
]


@pytest.mark.parametrize("name,fn", UNARY)
def test_strided_and_readonly_views_equal_their_copies(name, fn, rng):
    base = rng.standard_normal((2, 8, 10, 12)).astype(np.float32)
    for view in (base[:, ::2, :, :], base[:, :4, ::-1, :], base[:, 4:, :, ::-1].transpose(0, 1, 2, 3)):
        ro = view.copy()
        ro.flags.writeable = False
        np.testing.assert_array_equal(fn(view), fn(np.ascontiguousarray(view)))
        np.testing.assert_array_equal(fn(ro), fn(np.ascontiguousarray(view)))


def test_resize_view_too_large_to_copy_is_memory_error():
    import sr_native

    huge = as_strided(np.zeros(1, np.uint8), shape=(2**21, 2**21, 3), strides=(0, 0, 0))
    with pytest.raises(MemoryError, match="resize: no memory for a contiguous copy of image"):
        sr_native.resize(huge, size=(4, 4))


@pytest.mark.parametrize("name,fn", UNARY)
def test_view_too_large_to_copy_is_memory_error(name, fn):
    # 16 TiB described by a zero-stride view of 4 bytes: the contiguous copy fails.
    huge = as_strided(np.zeros(1, np.float32), shape=(1, 4, 2**20, 2**20), strides=(0, 0, 0, 0))
    with pytest.raises(MemoryError, match=f"{name}: no memory for a contiguous copy of x"):
        fn(huge)
