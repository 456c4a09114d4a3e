"""Misaligned arrays (float32 data at an odd address, np.frombuffer with
offset=1) at every op: inputs are copied to aligned memory at the binding
boundary and give exactly the aligned copy's result, on every instruction
set and on the reference kernels; arrays written in place (out=, adam_step's
param/m/v) must be aligned and are refused with a ValueError naming them.
tools/sanitize.sh runs this file under UBSan, which aborts on a misaligned
float access.
"""

import numpy as np
import pytest

import sr_native
from sr_native import ops, ref


def unaligned(a):
    """A writeable copy of `a` whose data starts one byte past an aligned
    address (misaligned for every dtype wider than a byte)."""
    a = np.ascontiguousarray(a)
    buf = bytearray(a.nbytes + 1)
    out = np.frombuffer(buf, a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert a.itemsize == 1 or not out.flags.aligned
    return out


def same(got, want):
    """Bit-for-bit equal (NaN payloads included), for arrays, tuples and floats."""
    if isinstance(want, tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            same(g, w)
        return
    if isinstance(want, float):
        assert got == want or (np.isnan(got) and np.isnan(want))
        return
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def r32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def op_cases(rng):
    """(name, function of the argument list, argument list); each argument in
    turn is passed misaligned."""
    x, w3, w1 = r32(rng, 2, 5, 9, 11), r32(rng, 4, 5, 3, 3), r32(rng, 6, 5, 1, 1)
    y = r32(rng, 2, 4, 9, 11)
    return [
        ("conv2d", lambda x, w, b, res: ops.conv2d(x, w, b, relu=True, residual=res, res_scale=0.5),
         [x, w3, r32(rng, 4), y]),
        ("conv2d 16ch winograd-sized", lambda x, w: ops.conv2d(x, w), [r32(rng, 1, 16, 40, 40), r32(rng, 16, 16, 3, 3)]),
        ("conv2d_backward", lambda x, w, dy, res: ops.conv2d_backward(x, w, dy, dx_residual=res),
         [x, w3, y, r32(rng, *x.shape)]),
        ("conv1x1_pair", lambda x, w1, b1, w2, b2, res: ops.conv1x1_pair(x, w1, b1, w2, b2, residual=res),
         [x, w1, r32(rng, 6), r32(rng, 3, 6, 1, 1), r32(rng, 3), r32(rng, 2, 3, 9, 11)]),
        ("pixel_shuffle", lambda x: ops.pixel_shuffle(x, 2), [r32(rng, 1, 8, 5, 7)]),
        ("pixel_unshuffle", lambda x: ops.pixel_unshuffle(x, 2), [r32(rng, 1, 2, 6, 10)]),
        ("relu", lambda x: ops.relu(x), [r32(rng, 3, 50001)]),
        ("relu_backward", lambda x, dy: ops.relu_backward(x, dy), [r32(rng, 3, 7), r32(rng, 3, 7)]),
        ("prelu", lambda x, a: ops.prelu(x, a), [x, r32(rng, 5)]),
        ("prelu_backward", lambda x, a, dy: ops.prelu_backward(x, a, dy), [x, r32(rng, 5), r32(rng, *x.shape)]),
        ("l1_loss", lambda p, t: ops.l1_loss(p, t), [x, r32(rng, *x.shape)]),
        ("mse_loss", lambda p, t: ops.mse_loss(p, t), [x, r32(rng, *x.shape)]),
        ("l1_loss_backward", lambda p, t: ops.l1_loss_backward(p, t, 0.5), [x, r32(rng, *x.shape)]),
        ("mse_loss_backward", lambda p, t: ops.mse_loss_backward(p, t, 2.0), [x, r32(rng, *x.shape)]),
        ("add_scaled", lambda a, b: ops.add_scaled(a, b, 0.25), [x, r32(rng, *x.shape)]),
        ("channel_affine", lambda x, s, t: ops.channel_affine(x, s, t), [x, r32(rng, 5), r32(rng, 5)]),
        ("channel_sum", lambda x: ops.channel_sum(x), [x]),
        ("sum_squares", lambda x: ops.sum_squares(x), [x]),
    ]


@pytest.mark.parametrize("reference", [False, True])
def test_every_op_gives_the_aligned_result(isa, reference, rng):
    for name, fn, args in op_cases(rng):
        def call(*a):
            if name == "sum_squares":
                return fn(*a)
            with ops.reference_mode(reference):
                return fn(*a)
        want = call(*args)
        for i in range(len(args)):
            moved = list(args)
            moved[i] = unaligned(args[i])
            same(call(*moved), want)
        same(call(*[unaligned(a) for a in args]), want)


def test_adam_step_unaligned_grad_is_copied_and_state_must_be_aligned(isa, rng):
    p, g, m, v = (r32(rng, 1000) for _ in range(4))
    v = np.abs(v)
    want = [p.copy(), m.copy(), v.copy()]
    ops.adam_step(*want[:1], g, want[1], want[2], lr=1e-2, step=3)
    for mod in (ops, ref):
        got = [p.copy(), m.copy(), v.copy()]
        mod.adam_step(got[0], unaligned(g), got[1], got[2], lr=1e-2, step=3)
        if mod is ops:
            for a, b in zip(got, want):
                same(a, b)
        for i, name in enumerate(("param", "m", "v")):
            state = [p.copy(), m.copy(), v.copy()]
            state[i] = unaligned(state[i])
            before = state[i].copy()
            with pytest.raises(ValueError, match=rf"adam_step: {name} is updated in place and must be aligned"):
                mod.adam_step(state[0], g, state[1], state[2], lr=1e-2, step=3)
            same(state[i], before)  # untouched


def test_unaligned_out_is_refused(rng):
    x, w = r32(rng, 1, 4, 6, 6), r32(rng, 4, 4, 3, 3)
    cases = [
        ("conv2d", "out", lambda out: ops.conv2d(x, w, out=out), (1, 4, 6, 6)),
        ("conv2d_backward", "dx_out", lambda out: ops.conv2d_backward(x, w, x, dx_out=out), (1, 4, 6, 6)),
        ("conv1x1_pair", "out", lambda out: ops.conv1x1_pair(x, r32(rng, 2, 4, 1, 1), None, r32(rng, 3, 2, 1, 1),
                                                             None, out=out), (1, 3, 6, 6)),
        ("pixel_shuffle", "out", lambda out: ops.pixel_shuffle(x, 2, out=out), (1, 1, 12, 12)),
        ("pixel_unshuffle", "out", lambda out: ops.pixel_unshuffle(x, 2, out=out), (1, 16, 3, 3)),
        ("relu_backward", "out", lambda out: ops.relu_backward(x, x, out=out), (1, 4, 6, 6)),
    ]
    for op, name, call, shape in cases:
        out = unaligned(np.zeros(shape, np.float32))
        with pytest.raises(ValueError, match=rf"{op}: {name} is updated in place and must be aligned"):
            call(out)
        assert not out.any()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic", "lanczos3", "area"])
def test_resize_unaligned_image(isa, dtype, method, rng):
    hi = 1.0 if dtype == np.float32 else np.iinfo(dtype).max
    img = (rng.random((13, 17, 3)) * hi).astype(dtype)
    for scale in (2, 0.5, 1.7):
        for reference in (False, True):
            want = sr_native.resize(img, scale, method=method, reference=reference)
            same(sr_native.resize(unaligned(img), scale, method=method, reference=reference), want)
            same(sr_native.resize(unaligned(img[:, :, 0]), scale, method=method, reference=reference),
                 sr_native.resize(img[:, :, 0].copy(), scale, method=method, reference=reference))
