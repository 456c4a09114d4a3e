"""Every CUDA kernel against the CPU reference on awkward shapes.

Skips (with the reason) where the CUDA kernels cannot run: a CPU-only build,
or no GPU/driver. Tolerances, relative to the magnitude of the terms summed:
  conv2d forward / dx / dw, conv1x1_pair: |gpu - ref| <= 2e-5 * bound, where
      bound is the same sum over |terms| (fp32 sums of up to C*K*K, or of
      every pixel for dw, in a different order than the double reference);
  pixel shuffle, relu, relu_backward: bit-exact (pure data movement / max);
  elementwise ops and Adam: 2e-6 relative (one or two roundings apart);
  losses: 1e-9 relative (double sums of the same float terms, other order);
  resize: float32 1e-5 relative to the image's range, integers within 1 level.
Reductions are deterministic: the same call twice gives the same bits.
"""

import numpy as np
import pytest

import sr_native
from sr_native import cuda, ops, ref

pytestmark = pytest.mark.skipif(not cuda.cuda_available(),
                                reason=f"CUDA kernels cannot run here: {cuda.cuda_unavailable_reason()}")

RNG = np.random.default_rng(1234)


def rand(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, shape).astype(np.float32)


def up(a):
    return cuda.to_device(a)


def down(a):
    return cuda.to_host(a)


CONV_SHAPES = [  # (N, C, H, W, O, K)
    (1, 64, 96, 128, 64, 3),
    (2, 3, 17, 9, 64, 3),
    (1, 64, 5, 7, 3, 3),
    (1, 32, 6, 6, 108, 5),
    (1, 1, 1, 1, 1, 1),
    (3, 5, 13, 1, 7, 3),
    (1, 64, 33, 65, 256, 3),
    (2, 17, 11, 23, 19, 1),
    (1, 3, 9, 8, 12, 5),
    (1, 4, 2, 3, 5, 7),
    (1, 2, 10, 4, 3, 9),
    (1, 192, 7, 129, 25, 1),
]


def _bound(x, w, b=None):
    """conv(|x|, |w|) + |b|: the sum of the magnitudes each output adds up."""
    y = ref.conv2d(np.abs(x), np.abs(w), None if b is None else np.abs(b))
    return y


@pytest.mark.parametrize("shape", CONV_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_conv2d_forward_matches_reference(shape):
    n, c, h, w_, o, k = shape
    x, w, b = rand(n, c, h, w_), rand(o, c, k, k), rand(o)
    residual = rand(n, o, h, w_)
    for kwargs in (dict(), dict(relu=True), dict(residual=residual, res_scale=0.25)):
        want = ref.conv2d(x, w, b, **kwargs)
        gpu_kwargs = dict(kwargs)
        if "residual" in gpu_kwargs:
            gpu_kwargs["residual"] = up(residual)
        got = down(ops.conv2d(up(x), up(w), up(b), **gpu_kwargs))
        bound = _bound(x, w, b) * kwargs.get("res_scale", 1.0) + (np.abs(residual) if "residual" in kwargs else 0)
        assert got.shape == want.shape
        err = np.abs(got - want)
        assert np.all(np.isfinite(got))
        assert np.all(err <= 2e-5 * bound + 1e-7), (kwargs.keys(), float((err / (bound + 1e-7)).max()))


def test_conv2d_in_place_residual_and_no_bias():
    x, w = rand(2, 8, 9, 10), rand(8, 8, 3, 3)
    r = rand(2, 8, 9, 10)
    want = ref.conv2d(x, w, None, residual=r, res_scale=0.5)
    r_gpu = up(r)
    out = ops.conv2d(up(x), up(w), None, residual=r_gpu, res_scale=0.5, out=r_gpu)
    assert out.data_ptr == r_gpu.data_ptr
    assert np.allclose(down(r_gpu), want, rtol=0, atol=2e-5 * float(_bound(x, w).max() + 1))


@pytest.mark.parametrize("shape", CONV_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_conv2d_backward_matches_reference(shape):
    n, c, h, w_, o, k = shape
    x, w, dy = rand(n, c, h, w_), rand(o, c, k, k), rand(n, o, h, w_)
    res = rand(n, c, h, w_)
    dx_ref, dw_ref, db_ref = ref.conv2d_backward(x, w, dy, dx_residual=res)
    dx, dw, db = (down(a) for a in ops.conv2d_backward(up(x), up(w), up(dy), dx_residual=up(res)))
    # Bounds: dx sums |dy||w| over O*K*K terms, dw sums |dy||x| over all pixels.
    flip = np.ascontiguousarray(np.abs(w).transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    dx_bound = ref.conv2d(np.abs(dy), flip) + np.abs(res)
    dw_bound = ref.conv2d_backward(np.abs(x), w, np.abs(dy))[1]
    db_bound = np.abs(dy).sum(axis=(0, 2, 3))
    assert np.all(np.abs(dx - dx_ref) <= 2e-5 * dx_bound + 1e-7)
    assert np.all(np.abs(dw - dw_ref) <= 2e-5 * dw_bound + 1e-7)
    assert np.all(np.abs(db - db_ref) <= 2e-5 * db_bound + 1e-7)


# The upsampler layers of EDSR x3/x4 training at their real batch shapes: the weight
# gradient reduces over 16*96*96 = 147k pixels, far more than CONV_SHAPES reach. The
# CPU's fast kernel (itself checked against the reference) is the yardstick; the
# plain reference would take minutes here.
@pytest.mark.parametrize("shape", [(16, 64, 96, 96, 256, 3), (16, 64, 48, 48, 576, 3)],
                         ids=lambda s: "x".join(map(str, s)))
def test_conv2d_backward_matches_cpu_at_training_shapes(shape):
    n, c, h, w_, o, k = shape
    x, w, dy = rand(n, c, h, w_), rand(o, c, k, k, lo=-0.05, hi=0.05), rand(n, o, h, w_)
    want = ops.conv2d_backward(x, w, dy)
    got = [down(a) for a in ops.conv2d_backward(up(x), up(w), up(dy))]
    for name, g, r in zip(("dx", "dw", "db"), got, want):
        scale = float(np.abs(r).max())
        assert np.abs(g - r).max() <= 1e-4 * scale, (name, float(np.abs(g - r).max()), scale)


def test_conv2d_backward_is_deterministic_and_writes_dx_in_place():
    x, w, dy = rand(2, 16, 31, 45), rand(16, 16, 3, 3), rand(2, 16, 31, 45)
    first = [down(a) for a in ops.conv2d_backward(up(x), up(w), up(dy))]
    second = [down(a) for a in ops.conv2d_backward(up(x), up(w), up(dy))]
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    dy_gpu = up(dy)
    res = up(rand(2, 16, 31, 45))
    want = down(res) + first[0]
    dx, _, _ = ops.conv2d_backward(up(x), up(w), dy_gpu, dx_residual=res, dx_out=res)
    assert dx.data_ptr == res.data_ptr
    assert np.allclose(down(dx), want, atol=1e-4)


@pytest.mark.parametrize("shape", [(1, 32, 5, 7, 192, 25), (2, 3, 1, 1, 4, 5), (1, 16, 33, 17, 96, 16)])
def test_conv1x1_pair_matches_reference(shape):
    n, c, h, w_, m, o = shape
    x, w1, b1, w2, b2 = rand(n, c, h, w_), rand(m, c, 1, 1), rand(m), rand(o, m, 1, 1), rand(o)
    r = rand(n, o, h, w_)
    want = ref.conv1x1_pair(x, w1, b1, w2, b2, residual=r)
    got = down(ops.conv1x1_pair(up(x), up(w1), up(b1), up(w2), up(b2), residual=up(r)))
    mid = ref.conv2d(np.abs(x), np.abs(w1), np.abs(b1))
    bound = ref.conv2d(mid, np.abs(w2), np.abs(b2)) + np.abs(r)
    assert np.all(np.abs(got - want) <= 2e-5 * bound + 1e-7)


@pytest.mark.parametrize("r", [1, 2, 3, 4])
def test_pixel_shuffle_bit_exact(r):
    x = rand(2, 3 * r * r, 5, 7)
    y = ops.pixel_shuffle(up(x), r)
    assert np.array_equal(down(y), ref.pixel_shuffle(x, r))
    assert np.array_equal(down(ops.pixel_unshuffle(y, r)), x)


@pytest.mark.parametrize("count", [1, 7, 1000003])
def test_relu_and_backward_bit_exact(count):
    x, dy = rand(count), rand(count)
    x[: min(count, 3)] = 0.0
    assert np.array_equal(down(ops.relu(up(x))), ref.relu(x))
    assert np.array_equal(down(ops.relu_backward(up(x), up(dy))), ref.relu_backward(x, dy))
    dy_gpu = up(dy)
    ops.relu_backward(up(x), dy_gpu, out=dy_gpu)  # in place
    assert np.array_equal(down(dy_gpu), ref.relu_backward(x, dy))


def test_relu_passes_nan_as_on_the_cpu():
    # relu(NaN) = NaN, and its gradient passes dy there (kernels.h states the rule).
    x = np.array([np.nan, -1.0, 0.0, -0.0, 2.0, np.inf, -np.inf], np.float32)
    dy = np.arange(1.0, 8.0, dtype=np.float32)
    assert np.array_equal(down(ops.relu(up(x))), ref.relu(x), equal_nan=True)
    assert np.isnan(down(ops.relu(up(x)))[0])
    assert np.array_equal(down(ops.relu_backward(up(x), up(dy))), ref.relu_backward(x, dy), equal_nan=True)


@pytest.mark.parametrize("alpha_len", [1, 5])
def test_prelu_and_backward(alpha_len):
    x, dy, alpha = rand(2, 5, 3, 7), rand(2, 5, 3, 7), rand(alpha_len, lo=0, hi=0.5)
    assert np.allclose(down(ops.prelu(up(x), up(alpha))), ref.prelu(x, alpha), rtol=2e-6, atol=0)
    dx, da = (down(a) for a in ops.prelu_backward(up(x), up(alpha), up(dy)))
    dx_ref, da_ref = ref.prelu_backward(x, alpha, dy)
    assert np.allclose(dx, dx_ref, rtol=2e-6, atol=0)
    bound = np.abs(x * dy).sum()
    assert np.all(np.abs(da - da_ref) <= 2e-5 * bound)


@pytest.mark.parametrize("count", [1, 7, 1000003])
def test_losses(count):
    p, t = rand(count), rand(count)
    for name in ("l1_loss", "mse_loss"):
        got, want = getattr(ops, name)(up(p), up(t)), getattr(ref, name)(p, t)
        assert abs(got - want) <= 1e-9 * abs(want)
        assert getattr(ops, name)(up(p), up(t)) == got  # deterministic
        g = down(getattr(ops, name + "_backward")(up(p), up(t), 0.5))
        assert np.allclose(g, getattr(ref, name + "_backward")(p, t, 0.5), rtol=2e-6, atol=0)


def test_elementwise_and_adam():
    a, b = rand(3, 4, 5, 6), rand(3, 4, 5, 6)
    assert np.allclose(down(ops.add_scaled(up(a), up(b), -0.3)), ref.add_scaled(a, b, -0.3), rtol=2e-6, atol=1e-7)
    scale, shift = rand(4), rand(4)
    assert np.allclose(down(ops.channel_affine(up(a), scale, shift)), ref.channel_affine(a, scale, shift),
                       rtol=2e-6, atol=1e-7)
    cs = down(ops.channel_sum(up(a)))
    assert np.all(np.abs(cs - ref.channel_sum(a)) <= 2e-6 * np.abs(a).sum(axis=(0, 2, 3)))
    big = rand(1000003)
    assert abs(ops.sum_squares(up(big)) - float(np.dot(big.astype(np.float64), big))) <= 1e-9 * float((big ** 2).sum())
    assert np.allclose(down(up(a) * 0.5), a * np.float32(0.5), rtol=0, atol=0)
    assert np.allclose(down(up(a) + up(b)), a + b, rtol=1e-7, atol=0)
    for step in (1, 2, 10):
        p, g, m, v = rand(1001), rand(1001), rand(1001, lo=0, hi=0.1), rand(1001, lo=0, hi=0.01)
        pg, mg, vg = up(p), up(m), up(v)
        ops.adam_step(pg, up(g), mg, vg, lr=1e-3, step=step, weight_decay=0.01)
        ref.adam_step(p, g, m, v, lr=1e-3, step=step, weight_decay=0.01)
        for got, want in ((pg, p), (mg, m), (vg, v)):
            assert np.allclose(down(got), want, rtol=2e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic", "lanczos3", "area"])
@pytest.mark.parametrize("scale", [2, 3, 4, 0.5, 0.37])
def test_resize_matches_reference(dtype, method, scale):
    h, w = (23, 17) if scale > 1 else (61, 47)
    if dtype == np.float32:
        img = rand(h, w, 3, lo=0, hi=1)
    else:
        img = RNG.integers(0, np.iinfo(dtype).max + 1, (h, w, 3)).astype(dtype)
    want = sr_native.resize(img, scale, method=method, reference=True)
    got = down(sr_native.resize(up(img), scale, method=method))
    assert got.dtype == want.dtype and got.shape == want.shape
    if dtype == np.float32:
        assert np.abs(got - want).max() <= 1e-5
    else:
        assert np.abs(got.astype(np.int64) - want).max() <= 1


def test_resize_gray_and_size():
    img = RNG.integers(0, 256, (31, 40)).astype(np.uint8)
    want = sr_native.resize(img, size=(17, 64), method="bicubic", reference=True)
    got = down(sr_native.resize(up(img), size=(17, 64), method="bicubic"))
    assert np.abs(got.astype(int) - want).max() <= 1
