"""conv2d forward and backward: reference vs float64 NumPy, fast vs reference
on awkward shapes under every ISA, gradients by finite differences and the
adjoint identity, determinism, PyTorch cross-checks, and input validation.

Tolerances. Both kernels accumulate in float32 (fast) or double (reference)
and round to float32 once, so errors are measured against the magnitude of
what was summed, not against the result (which may cancel to ~0):

    quantity            magnitude M (per element)            | a - b | <=
    forward             res_scale * (sum |w||x| + |b|) + |r|  RTOL_FAST * M
    dx                  sum |dy||w|                           RTOL_FAST * M
    dw                  sum |dy||x| over the batch            RTOL_FAST * M
    db                  sum |dy|                              RTOL_FAST * M
    reference vs fp64   as above                              RTOL_REF * M
    adjoint identity    sum |x||A^T y| (float64 dot products) RTOL_ADJ * M

    forward, Winograd   as forward                           RTOL_WINO * M
    dx, Winograd        as dx (dx is a forward convolution)  RTOL_WINO * M
    dw, Winograd        max over the 9 taps of dw's M, per   RTOL_WINO * M
                        (o, c): the transforms mix the taps

RTOL_FAST leaves ~8x margin over the worst float32 error seen on this sweep
(2.7e-7 of M, sums of up to 33*25 terms); RTOL_REF is the float32 rounding
of the output alone; PyTorch may pick other algorithms (RTOL_TORCH).
Winograd F(4x4, 3x3) adds the rounding of its transforms: worst seen 4e-6
of M (N(0,1) inputs and [0, 255]-like mean-shifted inputs, He weights, every
ISA; typically 1.5e-6 to 2.5e-6), so RTOL_WINO leaves ~5x margin. Its weight
gradient (F(4x4, 3x3) adjoint) measured at most 1.2e-6 of its M on the
Winograd shapes below, every ISA (per tap it reached 4e-5 where a tap saw
only a few pixels of a 3x2 image while its neighbours saw all of them).
"""

import subprocess
import sys

import numpy as np
import pytest

import sr_native
from conftest import subprocess_env
from sr_native import _core, ops, ref

RTOL_FAST = 2e-6
RTOL_WINO = 2e-5
RTOL_REF = 2e-7
RTOL_ADJ = 1e-5
RTOL_TORCH = 2e-5

# (N, C, H, W, O, K): odd sizes, 1x1 images, images smaller than the kernel,
# channel counts that are not multiples of any tile, N > 1, every K, rows
# with several full vector tiles plus a tail. Under every ISA the sweep runs
# both weight-gradient forms (pixel vectors for small C*K*K, channels-last
# otherwise) and each channels-last tile shape.
SHAPES = [
    (1, 1, 1, 1, 1, 1),
    (1, 1, 1, 1, 1, 9),
    (1, 3, 2, 3, 5, 7),
    (2, 5, 7, 9, 3, 3),
    (1, 17, 11, 19, 33, 5),
    (1, 33, 5, 37, 17, 3),
    (3, 3, 13, 1, 16, 9),
    (1, 16, 1, 40, 12, 3),
    (2, 12, 9, 33, 7, 1),
    (1, 64, 6, 70, 64, 3),
    (1, 8, 4, 130, 6, 5),
    (2, 5, 17, 16, 20, 7),
    (2, 24, 7, 21, 40, 3),
    (1, 12, 10, 50, 30, 3),
]
SHAPE_IDS = ["x".join(map(str, s)) for s in SHAPES]

# Forward only, Winograd's edges (3x3): images smaller than a 4x4 tile, exact
# multiples of the tile, several tile blocks with a partial last one, N > 1
# tiles sharing a block, channels that are not multiples of any register tile.
FORWARD_SHAPES = SHAPES + [
    (1, 17, 1, 1, 33, 3),
    (1, 16, 3, 2, 16, 3),
    (2, 16, 8, 8, 16, 3),
    (3, 17, 9, 13, 33, 3),
    (1, 20, 13, 130, 19, 3),
    (1, 3, 6, 5, 1, 3),
    (2, 16, 5, 64, 16, 3),
]
FORWARD_SHAPE_IDS = ["x".join(map(str, s)) for s in FORWARD_SHAPES]

# Backward through Winograd (3x3): the forward's edge shapes, fewer input
# channels than a vector (C = 3), and more tiles than one transform slab
# (256) with a partial last slab (3 x 10 x 11 = 330 tiles).
WINO_BACKWARD_SHAPES = [s for s in FORWARD_SHAPES if s[5] == 3] + [
    (3, 19, 40, 44, 22, 3),
    (1, 3, 20, 21, 64, 3),
]
WINO_BACKWARD_IDS = ["x".join(map(str, s)) for s in WINO_BACKWARD_SHAPES]

# (bias, relu, residual scale or None for no residual, res_scale)
EPILOGUES = [(bias, relu, res, scale)
             for bias in (False, True)
             for relu in (False, True)
             for res, scale in ((False, 1.0), (False, 0.1), (True, 0.1), (True, 1.0))]


@pytest.fixture(autouse=True)
def auto_conv_algo():
    """Every test here starts from the automatic choice, whatever
    SR_NATIVE_CONV_ALGO says (the golden and backward tolerances assume it)."""
    before = _core.get_conv_algo()
    _core.set_conv_algo("auto")
    yield
    _core.set_conv_algo(before)


@pytest.fixture(params=["direct", "winograd"])
def conv_algo(request):
    """Runs the test with 3x3 forward convolutions forced to each algorithm
    (other kernel sizes always run direct); yields the forward tolerance."""
    before = _core.get_conv_algo()
    _core.set_conv_algo(request.param)
    yield RTOL_FAST if request.param == "direct" else RTOL_WINO
    _core.set_conv_algo(before)


def make_inputs(rng, n, c, h, w, o, k):
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((o, c, k, k), dtype=np.float32)
    b = rng.standard_normal(o, dtype=np.float32)
    r = rng.standard_normal((n, o, h, w), dtype=np.float32)
    return x, wt, b, r


def conv_np(x, w, b=None):
    """float64 "same" convolution (cross-correlation, as PyTorch) straight from the definition."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    k = w.shape[2]
    p = k // 2
    xp = np.zeros((n, c, h + 2 * p, wd + 2 * p))
    xp[:, :, p:p + h, p:p + wd] = x
    y = np.zeros((n, w.shape[0], h, wd))
    for kh in range(k):
        for kw in range(k):
            y += np.einsum("nchw,oc->nohw", xp[:, :, kh:kh + h, kw:kw + wd], w[:, :, kh, kw])
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def epilogue_np(t, relu, residual, res_scale):
    if relu:
        t = np.maximum(t, 0.0)
    t = res_scale * t
    if residual is not None:
        t = t + residual
    return t


def forward_magnitude(x, w, b, residual, res_scale):
    m = conv_np(np.abs(x), np.abs(w), None if b is None else np.abs(b))
    m = abs(res_scale) * m
    if residual is not None:
        m = m + np.abs(residual)
    return m


def backward_magnitudes(x, w, dy):
    """Per-element sums of |terms| for dx, dw, db (float64)."""
    ax, aw, ady = (np.abs(np.asarray(a, np.float64)) for a in (x, w, dy))
    k = w.shape[2]
    # dx is the convolution of dy with the flipped, channel-transposed weights.
    mdx = conv_np(ady, aw.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    n, c, h, wd = x.shape
    p = k // 2
    xp = np.zeros((n, c, h + 2 * p, wd + 2 * p))
    xp[:, :, p:p + h, p:p + wd] = ax
    mdw = np.zeros(w.shape)
    for kh in range(k):
        for kw in range(k):
            mdw[:, :, kh, kw] = np.einsum("nohw,nchw->oc", ady, xp[:, :, kh:kh + h, kw:kw + wd])
    mdb = ady.sum(axis=(0, 2, 3))
    return mdx, mdw, mdb


def assert_close(got, want, magnitude, rtol, what):
    err = np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))
    bound = rtol * magnitude + 1e-30
    worst = np.unravel_index(np.argmax(err / bound), err.shape)
    assert np.all(err <= bound), (
        f"{what}: |diff| {err[worst]:.3g} > {bound[worst]:.3g} at {worst} "
        f"(got {got[worst]!r}, want {want[worst]!r}, magnitude {magnitude[worst]:.3g})")


# ------------------------------------------------------------------ forward

@pytest.mark.parametrize("shape", SHAPES[:8], ids=SHAPE_IDS[:8])
def test_reference_forward_matches_float64_numpy(rng, shape):
    x, w, b, r = make_inputs(rng, *shape)
    for bias, relu, res, scale in EPILOGUES:
        bb = b if bias else None
        rr = r if res else None
        got = ref.conv2d(x, w, bb, relu=relu, residual=rr, res_scale=scale)
        want = epilogue_np(conv_np(x, w, bb), relu, rr, scale)
        assert_close(got, want, forward_magnitude(x, w, bb, rr, scale), RTOL_REF,
                     f"ref bias={bias} relu={relu} residual={res} scale={scale}")


def test_reference_forward_golden():
    # 1x1x3x3 image, 3x3 all-ones kernel: each output is the sum of its
    # in-image 3x3 neighbourhood.
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    w = np.ones((1, 1, 3, 3), np.float32)
    want = np.array([[8, 15, 12], [21, 36, 27], [20, 33, 24]], np.float32)
    np.testing.assert_array_equal(ref.conv2d(x, w)[0, 0], want)
    np.testing.assert_array_equal(ops.conv2d(x, w)[0, 0], want)


@pytest.mark.parametrize("shape", FORWARD_SHAPES, ids=FORWARD_SHAPE_IDS)
def test_fast_forward_matches_reference(isa, conv_algo, rng, shape):
    x, w, b, r = make_inputs(rng, *shape)
    for bias, relu, res, scale in EPILOGUES:
        bb = b if bias else None
        rr = r if res else None
        got = ops.conv2d(x, w, bb, relu=relu, residual=rr, res_scale=scale)
        want = ref.conv2d(x, w, bb, relu=relu, residual=rr, res_scale=scale)
        assert got.shape == want.shape and got.dtype == np.float32
        assert_close(got, want, forward_magnitude(x, w, bb, rr, scale), conv_algo,
                     f"{isa} bias={bias} relu={relu} residual={res} scale={scale}")


def test_fast_forward_wide_image(isa, conv_algo, rng):
    # Rows of several full tiles on every ISA plus a partial vector, and enough
    # rows that the work is split in bands (or Winograd tile blocks) across threads.
    x, w, b, r = make_inputs(rng, 1, 7, 23, 203, 13, 3)
    got = ops.conv2d(x, w, b, relu=True, residual=r, res_scale=0.5)
    want = ref.conv2d(x, w, b, relu=True, residual=r, res_scale=0.5)
    assert_close(got, want, forward_magnitude(x, w, b, r, 0.5), conv_algo, isa)


def test_forward_in_place_residual(isa, conv_algo, rng):
    # residual aliasing y, as the kernel allows (the Python op may copy; the
    # result must be the same either way).
    x, w, b, r = make_inputs(rng, 2, 16, 11, 14, 24, 3)
    want = ref.conv2d(x, w, b, relu=True, residual=r, res_scale=0.1)
    got = ops.conv2d(x, w, b, relu=True, residual=r, res_scale=0.1)
    assert_close(got, want, forward_magnitude(x, w, b, r, 0.1), conv_algo, isa)


def test_winograd_accuracy_on_image_like_data(isa, rng):
    """EDSR feeds [0, 255] images minus the DIV2K mean; He-initialised
    weights. Winograd stays within RTOL_WINO of sum |w||x| there too."""
    x = (rng.random((1, 64, 21, 37), dtype=np.float32) * 255 - 114.4).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) * np.sqrt(2 / (64 * 9))).astype(np.float32)
    b = (0.1 * rng.standard_normal(64)).astype(np.float32)
    before = _core.get_conv_algo()
    try:
        _core.set_conv_algo("winograd")
        got = ops.conv2d(x, w, b)
    finally:
        _core.set_conv_algo(before)
    assert_close(got, ref.conv2d(x, w, b), forward_magnitude(x, w, b, None, 1.0), RTOL_WINO, isa)


def test_auto_picks_winograd_for_wide_3x3_layers(rng):
    # 64->64 3x3 on a large image: auto gives Winograd's bits exactly (and
    # not the direct kernel's); a 1x1 layer is direct whatever is forced.
    x, w, b, _ = make_inputs(rng, 1, 64, 40, 44, 64, 3)
    before = _core.get_conv_algo()
    try:
        out = {}
        for algo in ("auto", "direct", "winograd"):
            _core.set_conv_algo(algo)
            assert _core.get_conv_algo() == algo
            assert sr_native.build_info()["conv_algo"] == algo
            out[algo] = ops.conv2d(x, w, b, relu=True)
        x1, w1, _, _ = make_inputs(rng, 1, 64, 9, 9, 32, 1)
        y1 = ops.conv2d(x1, w1)
        _core.set_conv_algo("direct")
        np.testing.assert_array_equal(ops.conv2d(x1, w1), y1)
    finally:
        _core.set_conv_algo(before)
    np.testing.assert_array_equal(out["auto"], out["winograd"])
    assert not np.array_equal(out["auto"], out["direct"])


def test_conv_algo_setting_validates_and_reads_environment():
    with pytest.raises(ValueError, match="winograd"):
        _core.set_conv_algo("fft")
    code = "import sr_native; print(sr_native._core.get_conv_algo())"
    for value, want in (("direct", "direct"), ("winograd", "winograd"), ("bogus", "auto")):
        out = subprocess.run([sys.executable, "-c", code], env=subprocess_env(SR_NATIVE_CONV_ALGO=value),
                             capture_output=True, text=True, check=True).stdout.split()
        assert out == [want], (value, out)


def test_forward_special_values(isa, conv_algo):
    # ReLU clamps exactly; zero weights give exactly bias (or residual).
    x = np.full((1, 4, 5, 21), 2.0, np.float32)
    w = np.zeros((3, 4, 3, 3), np.float32)
    b = np.array([-1.0, 0.0, 1.5], np.float32)
    y = ops.conv2d(x, w, b, relu=True)
    np.testing.assert_array_equal(y, np.broadcast_to(np.maximum(b, 0)[None, :, None, None], y.shape))
    r = np.full((1, 3, 5, 21), 7.0, np.float32)
    y = ops.conv2d(x, w, b, residual=r, res_scale=0.0)
    np.testing.assert_array_equal(y, r)


# ----------------------------------------------------------------- backward

@pytest.mark.parametrize("shape", [(2, 3, 5, 4, 2, 3), (1, 2, 3, 6, 3, 5), (1, 2, 2, 2, 2, 1)],
                         ids=["2x3x5x4-o2-k3", "1x2x3x6-o3-k5", "1x2x2x2-o2-k1"])
def test_backward_finite_differences(rng, shape):
    """Central differences of L = <conv(x, w) + b, dy> in float64 vs the analytic
    gradients of sr_native.ops and sr_native.ref."""
    x, w, b, _ = make_inputs(rng, *shape)
    dy = rng.standard_normal((shape[0], shape[4], shape[2], shape[3]), dtype=np.float32)
    x64, w64, b64, dy64 = (a.astype(np.float64) for a in (x, w, b, dy))

    def loss(xv, wv, bv):
        return float(np.sum(conv_np(xv, wv, bv) * dy64))

    h = 1e-3

    def numeric(arr, f):
        g = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + h
            lp = f()
            arr[i] = old - h
            lm = f()
            arr[i] = old
            g[i] = (lp - lm) / (2 * h)
        return g

    gx = numeric(x64, lambda: loss(x64, w64, b64))
    gw = numeric(w64, lambda: loss(x64, w64, b64))
    gb = numeric(b64, lambda: loss(x64, w64, b64))
    mdx, mdw, mdb = backward_magnitudes(x, w, dy)
    for fn in (ops.conv2d_backward, ref.conv2d_backward):
        dx, dw, db = fn(x, w, dy)
        name = f"{fn.__module__}.{fn.__name__}"
        # The numerical gradient itself carries float64 rounding of L / h.
        assert_close(dx, gx, mdx + 1e-9, RTOL_FAST, f"{name} dx")
        assert_close(dw, gw, mdw + 1e-9, RTOL_FAST, f"{name} dw")
        assert_close(db, gb, mdb + 1e-9, RTOL_FAST, f"{name} db")


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_fast_backward_matches_reference(isa, rng, shape):
    x, w, _, dy = make_inputs(rng, *shape)
    got = ops.conv2d_backward(x, w, dy)
    want = ref.conv2d_backward(x, w, dy)
    mags = backward_magnitudes(x, w, dy)
    for g, r_, m, name in zip(got, want, mags, ("dx", "dw", "db")):
        assert g.shape == r_.shape and g.dtype == np.float32
        assert_close(g, r_, m, RTOL_FAST, f"{isa} {name}")


# Weight-gradient pixel-vector form over many rows: several L2-sized chunks of
# rows, float partial sums carried across chunks and folded into doubles in the
# middle and at the end, both tile orders (output-block-major when C <= O,
# tap-block-major otherwise), and 1x1 layers with whole-vector rows, whose x
# and dy are read in place rather than copied.
PIXEL_CHUNK_SHAPES = [  # chunk counts as under AVX-512
    (2, 192, 40, 48, 25, 1),  # C > O, in place (WDSR-B's 192 -> 25)
    (2, 64, 520, 16, 40, 1),  # C > O, in place, 3 chunks, sums carried from the 1st into the 2nd
    (2, 40, 520, 16, 48, 1),  # C <= O, the same
    (2, 3, 200, 37, 64, 3),   # C <= O, padded 3x3, 2 chunks
]


@pytest.mark.parametrize("shape", PIXEL_CHUNK_SHAPES, ids=["x".join(map(str, s)) for s in PIXEL_CHUNK_SHAPES])
def test_fast_backward_many_row_chunks(isa, rng, shape):
    x, w, _, dy = make_inputs(rng, *shape)
    want = ref.conv2d_backward(x, w, dy)
    mags = backward_magnitudes(x, w, dy)
    before = sr_native.get_num_threads()
    try:
        sr_native.set_num_threads(2)
        got = ops.conv2d_backward(x, w, dy)
        sr_native.set_num_threads(1)
        got_one = ops.conv2d_backward(x, w, dy)
    finally:
        sr_native.set_num_threads(before)
    for g, g1, r_, m, name in zip(got, got_one, want, mags, ("dx", "dw", "db")):
        assert_close(g, r_, m, RTOL_FAST, f"{isa} {name}")
        np.testing.assert_array_equal(g, g1, err_msg=f"{name}: 1 vs 2 threads differ")


def winograd_dw_magnitude(mdw):
    """The Winograd weight gradient's error scale: per (o, c), the largest of
    the 9 taps' magnitudes (its transforms mix them)."""
    return np.broadcast_to(mdw.max(axis=(2, 3), keepdims=True), mdw.shape)


@pytest.mark.parametrize("shape", WINO_BACKWARD_SHAPES, ids=WINO_BACKWARD_IDS)
def test_winograd_backward_matches_reference(isa, rng, shape):
    x, w, _, dy = make_inputs(rng, *shape)
    _core.set_conv_algo("winograd")
    dx, dw, db = ops.conv2d_backward(x, w, dy)
    rdx, rdw, rdb = ref.conv2d_backward(x, w, dy)
    mdx, mdw, mdb = backward_magnitudes(x, w, dy)
    assert_close(dx, rdx, mdx, RTOL_WINO, f"{isa} dx")
    assert_close(dw, rdw, winograd_dw_magnitude(mdw), RTOL_WINO, f"{isa} dw")
    assert_close(db, rdb, mdb, RTOL_FAST, f"{isa} db")


def test_fast_backward_wide_3x3_uses_winograd(isa, rng):
    # Wide 3x3 layers on large enough images: auto sends dx (a forward
    # convolution of dy with the flipped weights) and dw through Winograd,
    # bit for bit the forced-Winograd results.
    x, w, _, dy = make_inputs(rng, 1, 16, 40, 44, 24, 3)
    auto = ops.conv2d_backward(x, w, dy)
    _core.set_conv_algo("winograd")
    wino = ops.conv2d_backward(x, w, dy)
    _core.set_conv_algo("direct")
    direct = ops.conv2d_backward(x, w, dy)
    for a, b, name in zip(auto, wino, ("dx", "dw", "db")):
        np.testing.assert_array_equal(a, b, err_msg=f"{isa} {name}: auto is not Winograd")
    assert not np.array_equal(auto[1], direct[1]), "dw: Winograd and direct gave the same bits"


@pytest.mark.parametrize("shape", [(2, 5, 7, 9, 3, 3), (1, 16, 40, 44, 24, 3), (1, 4, 6, 5, 8, 1)],
                         ids=["direct", "winograd", "k1"])
@pytest.mark.parametrize("fn", [ops.conv2d_backward, ref.conv2d_backward], ids=["ops", "ref"])
def test_backward_dx_residual_and_out(isa, rng, fn, shape):
    # dx_residual is added to dx as it is written (the same float32 sum as
    # adding afterwards); dx_out receives dx, and may be dx_residual itself.
    x, w, _, dy = make_inputs(rng, *shape)
    res = rng.standard_normal(x.shape, dtype=np.float32)
    dx, dw, db = fn(x, w, dy)
    got, gdw, gdb = fn(x, w, dy, dx_residual=res)
    np.testing.assert_array_equal(got, res + dx)
    np.testing.assert_array_equal(gdw, dw)
    np.testing.assert_array_equal(gdb, db)
    out = np.full(x.shape, np.nan, np.float32)
    r, _, _ = fn(x, w, dy, dx_out=out)
    assert r is out
    np.testing.assert_array_equal(out, dx)
    inplace = res.copy()
    r, _, _ = fn(x, w, dy, dx_residual=inplace, dx_out=inplace)
    assert r is inplace
    np.testing.assert_array_equal(inplace, res + dx)


@pytest.mark.parametrize("fn", [ops.conv2d_backward, ref.conv2d_backward], ids=["ops", "ref"])
def test_backward_rejects_bad_dx_out_and_residual(fn):
    x, w = _ok()
    dy = np.zeros((1, 4, 5, 6), np.float32)
    with pytest.raises(ValueError, match="dx_out must have shape"):
        fn(x, w, dy, dx_out=np.zeros((1, 3, 5, 7), np.float32))
    with pytest.raises(TypeError, match="dx_out"):
        fn(x, w, dy, dx_out=np.zeros((1, 3, 5, 6)))
    with pytest.raises(ValueError, match="dx_out"):  # read-only
        ro = np.zeros((1, 3, 5, 6), np.float32)
        ro.flags.writeable = False
        fn(x, w, dy, dx_out=ro)
    with pytest.raises(ValueError, match="dx_out"):  # not contiguous
        fn(x, w, dy, dx_out=np.zeros((1, 3, 6, 5), np.float32).transpose(0, 1, 3, 2))
    with pytest.raises(ValueError, match="must not share memory"):
        fn(x, w, dy, dx_out=x)
    flat = np.zeros(300, np.float32)
    with pytest.raises(ValueError, match="must not share memory"):  # dy's tail is dx_out's head
        fn(x, w, flat[:120].reshape(1, 4, 5, 6), dx_out=flat[100:190].reshape(1, 3, 5, 6))
    with pytest.raises(ValueError, match="dx_residual must have shape"):
        fn(x, w, dy, dx_residual=np.zeros((1, 4, 5, 6), np.float32))
    with pytest.raises(TypeError, match="dx_residual"):
        fn(x, w, dy, dx_residual=np.zeros((1, 3, 5, 6)))
    buf = np.zeros(2 * 3 * 5 * 6, np.float32)
    with pytest.raises(ValueError, match="partly overlap"):
        fn(x, w, dy, dx_out=buf[:90].reshape(1, 3, 5, 6), dx_residual=buf[1:91].reshape(1, 3, 5, 6))


def test_adjoint_identity(isa, rng):
    """<A x, y> == <x, A^T y> for x -> conv(x, w), and likewise for w -> conv(x, w),
    at image size, dot products in float64."""
    n, c, h, wd, o, k = 1, 16, 64, 80, 24, 3
    x, w, _, y = make_inputs(rng, n, c, h, wd, o, k)
    ax = ops.conv2d(x, w).astype(np.float64)
    dx, dw, _ = ops.conv2d_backward(x, w, y)
    y64 = y.astype(np.float64)
    lhs = np.sum(ax * y64)
    rhs_x = np.sum(x.astype(np.float64) * dx)
    rhs_w = np.sum(w.astype(np.float64) * dw)
    scale = np.sum(np.abs(conv_np(np.abs(x), np.abs(w))) * np.abs(y64))
    assert abs(lhs - rhs_x) <= RTOL_ADJ * scale, (lhs, rhs_x, scale)
    assert abs(lhs - rhs_w) <= RTOL_ADJ * scale, (lhs, rhs_w, scale)


@pytest.mark.parametrize("shape", [(3, 19, 21, 45, 22, 3), (3, 19, 40, 44, 22, 3), (2, 7, 9, 30, 5, 3)],
                         ids=["winograd", "winograd-slabs", "direct"])
def test_backward_repeatable_and_thread_count_independent(isa, rng, shape):
    # Kernel-level dw/db accumulate (+=); the Python API zeroes them first, so
    # here: repeated calls agree bit for bit, and 1 vs 2 threads give the
    # same bits (each dw tile is reduced by one thread in a fixed order).
    x, w, _, dy = make_inputs(rng, *shape)
    before = sr_native.get_num_threads()
    try:
        sr_native.set_num_threads(2)
        a = ops.conv2d_backward(x, w, dy)
        b = ops.conv2d_backward(x, w, dy)
        fa = ops.conv2d(x, w, relu=True)
        sr_native.set_num_threads(1)
        c = ops.conv2d_backward(x, w, dy)
        fc = ops.conv2d(x, w, relu=True)
    finally:
        sr_native.set_num_threads(before)
    for u, v, wv, name in zip(a, b, c, ("dx", "dw", "db")):
        np.testing.assert_array_equal(u, v, err_msg=f"{name}: two calls differ")
        np.testing.assert_array_equal(u, wv, err_msg=f"{name}: 1 vs 2 threads differ")
    np.testing.assert_array_equal(fa, fc, err_msg="forward: 1 vs 2 threads differ")


# ------------------------------------------------------------------ PyTorch

@pytest.mark.parametrize("shape", [(2, 5, 9, 13, 7, 3), (1, 3, 16, 21, 12, 5), (1, 8, 7, 8, 3, 1)],
                         ids=["k3", "k5", "k1"])
def test_forward_matches_torch(torch, rng, shape):
    x, w, b, r = make_inputs(rng, *shape)
    k = shape[5]
    t = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                                   padding=k // 2)
    want = (torch.from_numpy(r) + 0.1 * torch.relu(t)).numpy()
    got = ops.conv2d(x, w, b, relu=True, residual=r, res_scale=0.1)
    assert_close(got, want, forward_magnitude(x, w, b, r, 0.1), RTOL_TORCH, "vs torch")


@pytest.mark.parametrize("shape", [(2, 5, 9, 13, 7, 3), (1, 3, 16, 21, 12, 5), (3, 8, 7, 8, 3, 1)],
                         ids=["k3", "k5", "k1"])
def test_gradients_match_torch(torch, rng, shape):
    x, w, b, dy = make_inputs(rng, *shape)
    k = shape[5]
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(w).requires_grad_()
    tb = torch.from_numpy(b).requires_grad_()
    torch.nn.functional.conv2d(tx, tw, tb, padding=k // 2).backward(torch.from_numpy(dy))
    dx, dw, db = ops.conv2d_backward(x, w, dy)
    mdx, mdw, mdb = backward_magnitudes(x, w, dy)
    assert_close(dx, tx.grad.numpy(), mdx, RTOL_TORCH, "dx vs torch")
    assert_close(dw, tw.grad.numpy(), mdw, RTOL_TORCH, "dw vs torch")
    assert_close(db, tb.grad.numpy(), mdb, RTOL_TORCH, "db vs torch")


# ---------------------------------------------------------------- bad input

def _ok():
    x = np.zeros((1, 3, 5, 6), np.float32)
    w = np.zeros((4, 3, 3, 3), np.float32)
    return x, w


BAD_FORWARD = [
    # (description, kwargs override, exception, words the message must contain)
    ("x float64", dict(x=np.zeros((1, 3, 5, 6))), TypeError, "x"),
    ("x int", dict(x=np.zeros((1, 3, 5, 6), np.int32)), TypeError, "x"),
    ("x list", dict(x=np.zeros((1, 3, 5, 6), np.float32).tolist()), TypeError, "x"),
    ("w float64", dict(w=np.zeros((4, 3, 3, 3))), TypeError, "w"),
    ("w list", dict(w=[[[[0.0]]]]), TypeError, "w"),
    ("x 3-D", dict(x=np.zeros((3, 5, 6), np.float32)), ValueError, "x"),
    ("x 5-D", dict(x=np.zeros((1, 1, 3, 5, 6), np.float32)), ValueError, "x"),
    ("w 3-D", dict(w=np.zeros((4, 3, 3), np.float32)), ValueError, "w"),
    ("channel mismatch", dict(w=np.zeros((4, 2, 3, 3), np.float32)), ValueError, "channels"),
    ("even K", dict(w=np.zeros((4, 3, 4, 4), np.float32)), ValueError, "kernel size"),
    ("K=11", dict(w=np.zeros((4, 3, 11, 11), np.float32)), ValueError, "kernel size"),
    ("non-square", dict(w=np.zeros((4, 3, 3, 5), np.float32)), ValueError, "square"),
    ("zero N", dict(x=np.zeros((0, 3, 5, 6), np.float32)), ValueError, "x"),
    ("zero H", dict(x=np.zeros((1, 3, 0, 6), np.float32)), ValueError, "x"),
    ("zero W", dict(x=np.zeros((1, 3, 5, 0), np.float32)), ValueError, "x"),
    ("zero O", dict(w=np.zeros((0, 3, 3, 3), np.float32)), ValueError, "w"),
    ("zero C", dict(x=np.zeros((1, 0, 5, 6), np.float32), w=np.zeros((4, 0, 3, 3), np.float32)),
     ValueError, "zero-sized"),
]


@pytest.mark.parametrize("case", BAD_FORWARD, ids=[c[0] for c in BAD_FORWARD])
@pytest.mark.parametrize("fn", [ops.conv2d, ref.conv2d], ids=["ops", "ref"])
def test_conv2d_rejects_bad_input(fn, case):
    _, override, exc, word = case
    x, w = _ok()
    args = dict(x=x, w=w)
    args.update(override)
    with pytest.raises(exc, match=word):
        fn(args["x"], args["w"])


@pytest.mark.parametrize("fn", [ops.conv2d, ref.conv2d], ids=["ops", "ref"])
def test_conv2d_rejects_bad_bias_and_residual(fn):
    x, w = _ok()
    with pytest.raises(ValueError, match="b must have shape"):
        fn(x, w, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="b must have shape"):
        fn(x, w, np.zeros((4, 1), np.float32))
    with pytest.raises(TypeError, match="b must be"):
        fn(x, w, np.zeros(4))
    with pytest.raises(TypeError, match="b must be"):
        fn(x, w, [0.0] * 4)
    with pytest.raises(ValueError, match="residual must have shape"):
        fn(x, w, residual=np.zeros((1, 3, 5, 6), np.float32))
    with pytest.raises(ValueError, match="residual must have shape"):
        fn(x, w, residual=np.zeros((1, 4, 6, 5), np.float32))
    with pytest.raises(TypeError, match="residual must be"):
        fn(x, w, residual=np.zeros((1, 4, 5, 6)))
    with pytest.raises(ValueError, match="res_scale"):
        fn(x, w, res_scale=float("nan"))


@pytest.mark.parametrize("case", BAD_FORWARD, ids=[c[0] for c in BAD_FORWARD])
@pytest.mark.parametrize("fn", [ops.conv2d_backward, ref.conv2d_backward], ids=["ops", "ref"])
def test_conv2d_backward_rejects_bad_input(fn, case):
    _, override, exc, word = case
    x, w = _ok()
    args = dict(x=x, w=w)
    args.update(override)
    dy = np.zeros((1, 4, 5, 6), np.float32)
    with pytest.raises(exc, match=word):
        fn(args["x"], args["w"], dy)


@pytest.mark.parametrize("fn", [ops.conv2d_backward, ref.conv2d_backward], ids=["ops", "ref"])
def test_conv2d_backward_rejects_bad_dy(fn):
    x, w = _ok()
    for bad in (np.zeros((1, 3, 5, 6), np.float32), np.zeros((1, 4, 5, 7), np.float32),
                np.zeros((2, 4, 5, 6), np.float32), np.zeros((4, 5, 6), np.float32)):
        with pytest.raises(ValueError, match="dy must have shape"):
            fn(x, w, bad)
    with pytest.raises(TypeError, match="dy must be"):
        fn(x, w, np.zeros((1, 4, 5, 6)))
    with pytest.raises(TypeError, match="dy must be"):
        fn(x, w, np.zeros((1, 4, 5, 6), np.float32).tolist())


def test_non_contiguous_input_equals_contiguous_copy(isa, rng):
    base = rng.standard_normal((2, 6, 11, 14), dtype=np.float32)
    views = {
        "transposed": base.transpose(0, 1, 3, 2),          # (2, 6, 14, 11)
        "sliced": base[:, ::2, 1:, ::3],                     # (2, 3, 10, 5)
        "reversed": base[:, :, ::-1, :],
    }
    for name, xv in views.items():
        assert not xv.flags.c_contiguous
        c = xv.shape[1]
        w = rng.standard_normal((5, c, 3, 3), dtype=np.float32)
        wv = np.asfortranarray(w)  # same values, other layout
        b = rng.standard_normal(5, dtype=np.float32)
        dy_base = rng.standard_normal((xv.shape[0], 5, xv.shape[3], xv.shape[2]), dtype=np.float32)
        dy = dy_base.transpose(0, 1, 3, 2)
        xc = np.ascontiguousarray(xv)
        np.testing.assert_array_equal(ops.conv2d(xv, wv, b, relu=True),
                                      ops.conv2d(xc, w, b, relu=True), err_msg=name)
        for g, gc in zip(ops.conv2d_backward(xv, wv, dy),
                         ops.conv2d_backward(xc, w, np.ascontiguousarray(dy))):
            np.testing.assert_array_equal(g, gc, err_msg=name)


# ------------------------------------------------------------ NaN and infinity
# The rule (cpp/include/sr_native/kernels.h), the same for fast and reference:
# IEEE arithmetic on the zero-padded input, every tap counted whatever its
# weight. A NaN or infinite input reaches exactly the outputs whose K x K
# window holds it; ReLU passes NaN; a non-finite weight reaches every output
# of its channel (its padded taps give inf * 0 = NaN). Winograd, which would
# spread a NaN over its 4x4 tiles, is bypassed for non-finite input.

def window_mask(h, w, k, pos):
    """Outputs whose K x K window (zero 'same' padding) holds input pixel pos."""
    mask = np.zeros((h, w), bool)
    p = k // 2
    mask[max(0, pos[0] - p):pos[0] + p + 1, max(0, pos[1] - p):pos[1] + p + 1] = True
    return mask


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("hw", [(5, 7), (1, 9), (9, 13)])
def test_nan_input_reaches_exactly_its_window(isa, conv_algo, rng, k, hw):
    h, w = hw
    weight = rng.standard_normal((8, 16, k, k)).astype(np.float32)  # 16 -> 8: Winograd-sized
    b = rng.standard_normal(8).astype(np.float32)
    for value in (np.nan, np.inf):
        for pos in np.ndindex(h, w):
            x = rng.standard_normal((1, 16, h, w)).astype(np.float32)
            x[0, 3, pos[0], pos[1]] = value
            want = window_mask(h, w, k, pos)
            for relu in (False, True):
                fast = ops.conv2d(x, weight, b, relu=relu)
                slow = ref.conv2d(x, weight, b, relu=relu)
                for y in (fast, slow):
                    bad = ~np.isfinite(y)
                    # Every channel sees the pixel; ReLU may clamp -inf to 0, never a NaN.
                    assert (bad <= want[None, None]).all(), (value, pos, relu)
                    if value != value:
                        assert (np.isnan(y) == want[None, None]).all(), (pos, relu)
                np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
                np.testing.assert_array_equal(np.isinf(fast), np.isinf(slow))


def test_relu_epilogue_passes_nan(isa, conv_algo):
    x = np.ones((1, 16, 12, 12), np.float32)
    w = np.zeros((8, 16, 3, 3), np.float32)
    b = np.full(8, -1.0, np.float32)
    x[0, 0, 5, 5] = np.nan
    for mod in (ops, ref):
        y = mod.conv2d(x, w, b, relu=True)  # 0 * NaN = NaN, then ReLU must not hide it
        assert np.isnan(y).sum() == 8 * 9 and np.isnan(y[:, :, 4:7, 4:7]).all()
        assert (y[~np.isnan(y)] == 0).all()


@pytest.mark.parametrize("k", [1, 3, 5])
def test_non_finite_weight_reaches_its_whole_channel(isa, conv_algo, rng, k):
    x = rng.standard_normal((1, 16, 6, 9)).astype(np.float32)
    for value in (np.nan, np.inf):
        for tap in [(0, 0), (k - 1, k - 1), (k // 2, 0)]:
            w = rng.standard_normal((8, 16, k, k)).astype(np.float32)
            w[2, 5, tap[0], tap[1]] = value
            fast, slow = ops.conv2d(x, w), ref.conv2d(x, w)
            np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
            np.testing.assert_array_equal(np.isinf(fast), np.isinf(slow))
            assert not np.isfinite(slow[0, 2]).any()  # padded taps too: inf * 0 = NaN
            assert np.isfinite(np.delete(slow, 2, axis=1)).all()


def test_backward_nan_placement_matches_reference(isa, rng):
    # Non-finite x, w or dy: the fast backward takes the reference's sums.
    x = rng.standard_normal((1, 16, 9, 13)).astype(np.float32)
    w = rng.standard_normal((8, 16, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((1, 8, 9, 13)).astype(np.float32)
    for arr, pos in ((x, (0, 3, 0, 12)), (x, (0, 1, 4, 0)), (dy, (0, 2, 8, 6)), (w, (1, 2, 0, 2))):
        saved = arr[pos]
        arr[pos] = np.nan
        for got, want in zip(ops.conv2d_backward(x, w, dy), ref.conv2d_backward(x, w, dy)):
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        arr[pos] = saved


def test_winograd_with_a_nan_tile_keeps_every_other_value(isa, rng):
    # The tiles around the NaN are computed directly, the rest by Winograd:
    # every finite output still matches the reference, residual in place too.
    _core.set_conv_algo("winograd")
    x = rng.standard_normal((2, 16, 37, 41)).astype(np.float32)
    x[1, 7, 20, 0] = np.nan
    x[0, 2, 36, 22] = np.inf
    w = (rng.standard_normal((12, 16, 3, 3)) / 12).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    res = rng.standard_normal((2, 12, 37, 41)).astype(np.float32)
    for relu in (False, True):
        want = ref.conv2d(x, w, b, relu=relu, residual=res, res_scale=0.5)
        out = res.copy()
        got = ops.conv2d(x, w, b, relu=relu, residual=out, res_scale=0.5, out=out)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        ok = np.isfinite(want)
        assert ok.mean() > 0.95
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-4, atol=1e-4)


def test_backward_without_dx_gives_the_same_dw_and_db(rng):
    """need_dx=False (a first layer) skips dx; dw and db are those of the full call."""
    x = rng.standard_normal((2, 3, 9, 7)).astype(np.float32)
    w = rng.standard_normal((5, 3, 5, 5)).astype(np.float32)
    dy = rng.standard_normal((2, 5, 9, 7)).astype(np.float32)
    for reference in (False, True):
        dx, dw, db = ops.conv2d_backward(x, w, dy, reference=reference)
        none, dw2, db2 = ops.conv2d_backward(x, w, dy, need_dx=False, reference=reference)
        assert none is None
        np.testing.assert_array_equal(dw2, dw)
        np.testing.assert_array_equal(db2, db)
    with pytest.raises(ValueError, match="need need_dx=True"):
        ops.conv2d_backward(x, w, dy, need_dx=False, dx_out=np.empty_like(x))
    with pytest.raises(TypeError, match="need_dx must be a bool"):
        ops.conv2d_backward(x, w, dy, need_dx=1)
