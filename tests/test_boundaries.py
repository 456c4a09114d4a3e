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
    with pytest.raises(MemoryError, match="resize: a contiguous copy of image needs .* GiB"):
        sr_native.resize(huge, size=(4, 4))


@pytest.mark.parametrize("name,fn", UNARY)
def test_view_too_large_to_copy_is_memory_error(name, fn):
    # 16 TiB described by a zero-stride view of 4 bytes: the contiguous copy is
    # refused before it is tried (more than the machine has).
    huge = as_strided(np.zeros(1, np.float32), shape=(1, 4, 2**20, 2**20), strides=(0, 0, 0, 0))
    with pytest.raises(MemoryError, match=f"{name}: a contiguous copy of x needs .* GiB"):
        fn(huge)


def test_conv2d_out_is_written_in_place(rng):
    x = rng.standard_normal((2, 5, 9, 11)).astype(np.float32)
    w = rng.standard_normal((4, 5, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    r = rng.standard_normal((2, 4, 9, 11)).astype(np.float32)
    want = ops.conv2d(x, w, b, relu=True, residual=r, res_scale=0.5)
    out = np.full((2, 4, 9, 11), np.nan, np.float32)
    assert ops.conv2d(x, w, b, relu=True, residual=r, res_scale=0.5, out=out) is out
    np.testing.assert_array_equal(out, want)
    inplace = r.copy()  # residual and out the same array: y = y + 0.5 * relu(conv(x) + b)
    ops.conv2d(x, w, b, relu=True, residual=inplace, res_scale=0.5, out=inplace)
    np.testing.assert_array_equal(inplace, want)


def test_conv2d_out_rejects_unsafe_buffers(rng):
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 4, 3, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="out must not share memory with x"):
        ops.conv2d(x, w, out=x)
    big = np.zeros((2, 4, 6, 6), np.float32)
    with pytest.raises(ValueError, match="residual may be out itself but must not partly overlap"):
        ops.conv2d(x, w, residual=big.reshape(-1)[4:4 + 144].reshape(1, 4, 6, 6), out=big[:1])
    with pytest.raises(ValueError, match=r"out must have shape \(1, 4, 6, 6\)"):
        ops.conv2d(x, w, out=np.zeros((1, 4, 6, 7), np.float32))
    with pytest.raises(ValueError, match="must be C-contiguous"):
        ops.conv2d(x, w, out=np.zeros((1, 4, 6, 12), np.float32)[..., ::2])
    ro = np.zeros((1, 4, 6, 6), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="must be writeable"):
        ops.conv2d(x, w, out=ro)
    with pytest.raises(TypeError, match="out must be float32"):
        ops.conv2d(x, w, out=np.zeros((1, 4, 6, 6)))


def test_unpickled_and_byte_swapped_arrays():
    # An unpickled array carries its own dtype object: still float32 / uint8.
    import pickle

    import sr_native

    x = pickle.loads(pickle.dumps(np.ones((1, 2, 5, 5), np.float32)))
    w = pickle.loads(pickle.dumps(np.ones((3, 2, 3, 3), np.float32)))
    assert ops.conv2d(x, w).shape == (1, 3, 5, 5)
    img = pickle.loads(pickle.dumps(np.zeros((4, 6), np.uint8)))
    assert sr_native.resize(img, 2).shape == (8, 12)
    # Byte-swapped data is another type: a clear TypeError, never misread bytes.
    with pytest.raises(TypeError, match=">f4"):
        ops.conv2d(x.astype(">f4"), w)
    with pytest.raises(TypeError, match=">u2"):
        sr_native.resize(img.astype(">u2"), 2)


def test_requests_beyond_available_memory_fail_before_allocating():
    # Larger than what the system has left, smaller than the address space:
    # a MemoryError naming the op, not an allocation the kernel would grant
    # and then kill the process for filling.
    import sr_native
    from sr_native import _core

    avail = _core.available_memory()
    if avail < 0:
        pytest.skip("this system does not report available memory")
    side = int((2 * avail / 4 / 64) ** 0.5) + 1  # 64 channels of side x side floats: 2x what is available
    x = np.broadcast_to(np.float32(0), (1, 1, side, side))  # no memory of its own
    with pytest.raises(MemoryError, match=r"conv2d: a contiguous copy of x needs|conv2d: the result needs"):
        ops.conv2d(x, np.zeros((64, 1, 1, 1), np.float32))
    big = np.broadcast_to(np.float32(0), (1, 64 * 4, side // 2, side // 2))
    with pytest.raises(MemoryError, match="available"):
        ops.pixel_shuffle(big, 2)
    with pytest.raises(MemoryError, match="upscale: .* GiB"):
        side_img = int((2 * avail) ** 0.5) + 1
        sr_native.upscale(np.broadcast_to(np.uint8(0), (side_img, side_img)), 2,
                          model=sr_native.models.EDSR(2, n_feats=4, n_resblocks=0), tile=None)
