"""conv_transpose2d forward and backward (FSRCNN's upsampler): PyTorch's ConvTranspose2d semantics.

Layers of checks:
- the reference against a float64 NumPy scatter written from the definition (golden), relative 1e-6;
- the fast kernel (every instruction set this CPU has) against the reference on awkward shapes (batch 2,
  odd sizes, 1x1 images, channels not a multiple of 4/8/16, K in 1..9 odd and even, strides 1..8, padding and
  output_padding combinations, K < stride): forward, dx, dw, db within
  |fast - ref| <= 1e-5 * max(1, max|ref|) (float32 sums over at most C*K*K terms in another order);
- gradients by finite differences on the reference (central differences of L = sum(y * g), accumulated in
  float64; the op is bilinear, so the difference is exact up to float32 rounding): relative 2e-3;
- the adjoint identities <T_w x, g> = <x, dx(g)>, <T_x w, g> = <w, dw(g)>, sum(g) = sum(db) in float64, relative 1e-5;
- against torch.nn.functional.conv_transpose2d forward and autograd backward (float64 torch as ground truth),
  same tolerance as fast vs reference; skipped with a reason when PyTorch is absent;
- NaN placement (fast == reference == PyTorch), thread-count invariance (bit-identical), out= / dx_out=.
Bad input is in test_bad_input.py.
"""

import numpy as np
import pytest

import sr_native
from sr_native import ops, ref

F = np.float32

# (N, C, O, H, W, K, stride, padding, output_padding)
SHAPES = [
    (1, 1, 1, 1, 1, 1, 1, 0, 0),
    (2, 3, 5, 7, 9, 3, 2, 1, 1),
    (2, 5, 3, 1, 1, 9, 3, 4, 2),     # 1x1 image, FSRCNN x3 geometry
    (1, 17, 6, 5, 37, 4, 4, 1, 3),
    (2, 7, 9, 6, 19, 5, 1, 2, 0),
    (1, 56, 3, 11, 33, 9, 2, 4, 1),  # FSRCNN x2
    (1, 20, 1, 8, 21, 9, 3, 4, 2),   # FSRCNN x3, one output channel (Y)
    (1, 12, 3, 9, 18, 9, 4, 4, 3),   # FSRCNN x4
    (1, 3, 4, 4, 6, 2, 2, 0, 0),     # even K
    (1, 2, 3, 5, 7, 2, 4, 0, 3),     # K < stride: some output phases get only the bias
    (2, 4, 5, 3, 70, 5, 8, 2, 7),    # stride 8, wide rows
    (1, 3, 2, 9, 11, 9, 1, 7, 0),    # padding past the kernel's half
    (1, 6, 18, 3, 23, 1, 3, 0, 1),   # 1x1 kernel, strided
    (2, 5, 3, 19, 10, 3, 2, 1, 1),   # 38 input rows: dw's partial sums are folded more than once
]


def ids(shape):
    return "N{}C{}O{}H{}W{}K{}s{}p{}op{}".format(*shape)


def make(shape, rng):
    n, c, o, h, w, k, s, p, op = shape
    x = rng.standard_normal((n, c, h, w)).astype(F)
    wt = rng.standard_normal((c, o, k, k)).astype(F)
    b = rng.standard_normal(o).astype(F)
    return x, wt, b, dict(stride=s, padding=p, output_padding=op)


def out_size(size, k, s, p, op):
    return (size - 1) * s - 2 * p + k + op


def scatter64(x, w, b, stride, padding, output_padding):
    """The definition in float64: every input pixel scatters x * w onto a canvas, cropped by padding."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    n, c, h, wd = x.shape
    o, k = w.shape[1], w.shape[2]
    ho, wo = out_size(h, k, stride, padding, output_padding), out_size(wd, k, stride, padding, output_padding)
    canvas = np.zeros((n, o, max(ho + padding, (h - 1) * stride + k), max(wo + padding, (wd - 1) * stride + k)))
    for ky in range(k):
        for kx in range(k):
            canvas[:, :, ky:ky + (h - 1) * stride + 1:stride, kx:kx + (wd - 1) * stride + 1:stride] += np.einsum(
                "nchw,co->nohw", x, w[:, :, ky, kx])
    y = canvas[:, :, padding:padding + ho, padding:padding + wo]
    return y + (0.0 if b is None else b.astype(np.float64)[None, :, None, None])


def close(fast, want, scale=1e-5):
    want = np.asarray(want, np.float64)
    tol = scale * max(1.0, float(np.abs(want).max()))
    err = float(np.abs(np.asarray(fast, np.float64) - want).max())
    assert err <= tol, f"max error {err:.3g} > {tol:.3g}"


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_reference_matches_float64_definition(shape, rng):
    x, w, b, kw = make(shape, rng)
    y = ref.conv_transpose2d(x, w, b, **kw)
    want = scatter64(x, w, b, **kw)
    assert y.shape == want.shape
    close(y, want, 1e-6)


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_fast_matches_reference(shape, rng, isa):
    x, w, b, kw = make(shape, rng)
    close(ops.conv_transpose2d(x, w, b, **kw), ref.conv_transpose2d(x, w, b, **kw))
    close(ops.conv_transpose2d(x, w, None, **kw), ref.conv_transpose2d(x, w, None, **kw))
    g = rng.standard_normal(ref.conv_transpose2d(x, w, None, **kw).shape).astype(F)
    for fast, want in zip(ops.conv_transpose2d_backward(x, w, g, **kw), ref.conv_transpose2d_backward(x, w, g, **kw)):
        assert fast.shape == want.shape and fast.dtype == F
        close(fast, want)


def loss64(x, w, b, g, kw):
    return float(np.sum(ref.conv_transpose2d(x, w, b, **kw).astype(np.float64) * g))


@pytest.mark.parametrize("shape", [(2, 3, 2, 3, 4, 3, 2, 1, 1), (1, 2, 3, 2, 3, 4, 3, 1, 2),
                                   (1, 2, 2, 3, 3, 9, 2, 4, 1)], ids=ids)
def test_reference_gradients_by_finite_differences(shape, rng):
    x, w, b, kw = make(shape, rng)
    g = rng.standard_normal(ref.conv_transpose2d(x, w, b, **kw).shape)
    dx, dw, db = ref.conv_transpose2d_backward(x, w, g.astype(F), **kw)
    eps = 0.25  # bilinear op: central differences are exact up to rounding, so a large step is fine
    for arr, grad, name in ((x, dx, "dx"), (w, dw, "dw"), (b, db, "db")):
        for idx in list(np.ndindex(arr.shape))[:: max(1, arr.size // 12)]:
            keep = arr[idx]
            arr[idx] = keep + eps
            up = loss64(x, w, b, g, kw)
            arr[idx] = keep - eps
            down = loss64(x, w, b, g, kw)
            arr[idx] = keep
            fd = (up - down) / (2 * eps)
            assert abs(fd - grad[idx]) <= 2e-3 * max(1.0, abs(fd)), f"{name}{idx}: fd {fd} vs {grad[idx]}"


@pytest.mark.parametrize("reference", [False, True], ids=["fast", "ref"])
@pytest.mark.parametrize("shape", SHAPES[1:8], ids=ids)
def test_adjoint_identities(shape, reference, rng):
    x, w, b, kw = make(shape, rng)
    y = ops.conv_transpose2d(x, w, None, reference=reference, **kw)
    g = rng.standard_normal(y.shape).astype(F)
    dx, dw, db = ops.conv_transpose2d_backward(x, w, g, reference=reference, **kw)
    d = np.float64
    lhs = float(np.sum(y.astype(d) * g))
    scale = float(np.sum(np.abs(scatter64(np.abs(x), np.abs(w), None, **kw)) * np.abs(g)))
    assert abs(lhs - float(np.sum(x.astype(d) * dx))) <= 1e-5 * scale
    assert abs(lhs - float(np.sum(w.astype(d) * dw))) <= 1e-5 * scale
    assert abs(float(np.sum(g.astype(d))) - float(np.sum(db.astype(d)))) <= 1e-5 * float(np.sum(np.abs(g)))


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_matches_torch_forward_and_autograd(shape, rng, torch):
    x, w, b, kw = make(shape, rng)
    xt, wt, bt = (torch.from_numpy(a.astype(np.float64)).requires_grad_() for a in (x, w, b))
    yt = torch.nn.functional.conv_transpose2d(xt, wt, bt, **kw)
    y = ops.conv_transpose2d(x, w, b, **kw)
    assert y.shape == tuple(yt.shape)
    close(y, yt.detach().numpy())
    g = rng.standard_normal(y.shape).astype(F)
    want = torch.autograd.grad(yt, (xt, wt, bt), torch.from_numpy(g.astype(np.float64)))
    for fast, t in zip(ops.conv_transpose2d_backward(x, w, g, **kw), want):
        close(fast, t.numpy())


def test_nan_lands_where_reference_and_torch_put_it(rng, torch):
    x, w, b, kw = make((1, 3, 2, 6, 20, 9, 2, 4, 1), rng)
    x[0, 1, 2, 0] = np.nan
    x[0, 2, 5, 19] = np.inf
    y, y_ref = ops.conv_transpose2d(x, w, b, **kw), ref.conv_transpose2d(x, w, b, **kw)
    y_t = torch.nn.functional.conv_transpose2d(*(torch.from_numpy(a) for a in (x, w, b)), **kw).numpy()
    assert np.array_equal(np.isnan(y), np.isnan(y_ref)) and np.array_equal(np.isnan(y), np.isnan(y_t))
    assert 0 < np.isnan(y).sum() < y.size
    # A non-finite weight (the fast kernel hands it to the reference).
    x2, w2 = np.abs(x.copy()), w.copy()
    x2[~np.isfinite(x2)] = 1.0
    w2[0, 1, 0, 0] = np.inf
    assert np.array_equal(np.isnan(ops.conv_transpose2d(x2, w2, b, **kw)), np.isnan(ref.conv_transpose2d(x2, w2, b, **kw)))
    g = rng.standard_normal(y.shape).astype(F)
    for fast, want in zip(ops.conv_transpose2d_backward(x, w, g, **kw), ref.conv_transpose2d_backward(x, w, g, **kw)):
        assert np.array_equal(np.isnan(fast), np.isnan(want))
        finite = np.isfinite(want)
        close(fast[finite], want[finite])
    for fast, want in zip(ops.conv_transpose2d_backward(x2, w2, g, **kw),
                          ref.conv_transpose2d_backward(x2, w2, g, **kw)):
        assert np.array_equal(np.isnan(fast), np.isnan(want))


def test_fsrcnn_geometry_output_is_scale_times_input(rng):
    for scale in (2, 3, 4):
        x = rng.standard_normal((1, 4, 5, 7)).astype(F)
        y = ops.conv_transpose2d(x, rng.standard_normal((4, 1, 9, 9)).astype(F), stride=scale, padding=4,
                                 output_padding=scale - 1)
        assert y.shape == (1, 1, 5 * scale, 7 * scale)


def test_thread_count_does_not_change_results(rng):
    x, w, b, kw = make((2, 24, 3, 20, 45, 9, 2, 4, 1), rng)
    g = rng.standard_normal(ops.conv_transpose2d(x, w, b, **kw).shape).astype(F)
    before = sr_native.get_num_threads()
    try:
        runs = []
        for n in (1, 2):
            sr_native.set_num_threads(n)
            runs.append((ops.conv_transpose2d(x, w, b, **kw), *ops.conv_transpose2d_backward(x, w, g, **kw)))
    finally:
        sr_native.set_num_threads(before)
    for a, c in zip(*runs):
        assert np.array_equal(a, c)


def test_out_and_dx_out_are_written(rng):
    x, w, b, kw = make((2, 3, 4, 5, 6, 3, 2, 1, 1), rng)
    y = ops.conv_transpose2d(x, w, b, **kw)
    out = np.full(y.shape, 7.0, F)
    assert ops.conv_transpose2d(x, w, b, out=out, **kw) is out
    assert np.array_equal(out, y)
    g = rng.standard_normal(y.shape).astype(F)
    dx_out = np.full(x.shape, 7.0, F)
    dx, dw, db = ops.conv_transpose2d_backward(x, w, g, dx_out=dx_out, **kw)
    assert dx is dx_out and np.array_equal(dx, ops.conv_transpose2d_backward(x, w, g, **kw)[0])
    # Parameter gradients are fresh arrays each call (not accumulated across calls).
    assert np.array_equal(dw, ops.conv_transpose2d_backward(x, w, g, **kw)[1])


def test_strided_input_equals_its_copy(rng):
    x, w, b, kw = make((1, 3, 2, 6, 14, 4, 2, 1, 0), rng)
    view = x[..., ::2]
    assert np.array_equal(ops.conv_transpose2d(view, w, b, **kw), ops.conv_transpose2d(view.copy(), w, b, **kw))
