"""Bad input to every public function, in one place.

Each case calls one public entry point with one thing wrong and expects a
typed exception whose message names the function and what was wrong: wrong
types and dtypes (TypeError), wrong ndim, channel counts, zero-sized and
mismatched shapes, bad factors and scales (ValueError), sizes past what can
be addressed or allocated (MemoryError), NaN/infinity where they are refused,
corrupted and truncated weight files. Behaviour the kernels share (strided,
negative-stride and read-only views are accepted and equal their copies) is
in test_boundaries.py and test_properties.py; NaN propagation through the
kernels is documented and tested in test_activations_losses.py.
"""

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import sr_native
from sr_native import metrics, ops
from sr_native.models import EDSR

F = np.float32


def f32(*shape):
    return np.ones(shape, F)


X = f32(1, 4, 6, 6)
W = f32(4, 4, 3, 3)
HUGE = as_strided(np.zeros(1, F), shape=(1, 4, 2**22, 2**22), strides=(0, 0, 0, 0))  # 256 TiB, 4 bytes real

CASES = [
    # --- ops: types and dtypes
    ("conv2d x list", lambda: ops.conv2d([[1.0]], W), TypeError, r"conv2d: x must be a numpy.ndarray"),
    ("conv2d x float64", lambda: ops.conv2d(X.astype(np.float64), W), TypeError, r"conv2d: x must be float32"),
    ("conv2d w int", lambda: ops.conv2d(X, W.astype(np.int32)), TypeError, r"conv2d: w must be float32"),
    ("conv2d b float16", lambda: ops.conv2d(X, W, np.ones(4, np.float16)), TypeError, r"conv2d: b must be float32"),
    ("conv2d byte-swapped", lambda: ops.conv2d(X.astype(">f4"), W), TypeError, r"conv2d: x must be float32"),
    ("relu str", lambda: ops.relu("x"), TypeError, r"relu: x must be a numpy.ndarray"),
    ("adam step float", lambda: ops.adam_step(f32(3), f32(3), f32(3), f32(3), lr=1e-3, step=1.5), TypeError,
     r"adam_step: step must be an int"),
    ("pixel_shuffle r float", lambda: ops.pixel_shuffle(X, 2.0), TypeError, r"pixel_shuffle: r must be an int"),
    # --- ops: ndim, channels, sizes
    ("conv2d x 3-D", lambda: ops.conv2d(f32(4, 6, 6), W), ValueError, r"conv2d: x must be 4-D .*got shape \(4, 6, 6\)"),
    ("conv2d channels", lambda: ops.conv2d(f32(1, 3, 6, 6), W), ValueError,
     r"conv2d: w has 4 input channels but x has 3"),
    ("conv2d even kernel", lambda: ops.conv2d(X, f32(4, 4, 2, 2)), ValueError, r"kernel size must be odd"),
    ("conv2d kernel 11", lambda: ops.conv2d(X, f32(4, 4, 11, 11)), ValueError, r"from 1 to 9"),
    ("conv2d zero height", lambda: ops.conv2d(f32(1, 4, 0, 6), W), ValueError, r"zero-sized dimension"),
    ("conv2d one pixel", lambda: ops.conv2d(f32(1, 4, 1, 1), W).shape == (1, 4, 1, 1) or None, None, None),
    ("conv2d bias shape", lambda: ops.conv2d(X, W, f32(3)), ValueError, r"conv2d: b must have shape \(4,\)"),
    ("conv2d residual shape", lambda: ops.conv2d(X, W, residual=f32(1, 4, 5, 6)), ValueError,
     r"residual must have shape"),
    ("conv2d NaN res_scale", lambda: ops.conv2d(X, W, res_scale=float("nan")), ValueError, r"res_scale must be finite"),
    ("conv2d out strided", lambda: ops.conv2d(X, W, out=np.zeros((1, 4, 6, 12), F)[..., ::2]), ValueError,
     r"conv2d: out is updated in place and must be C-contiguous"),
    ("conv2d out read-only", lambda: ops.conv2d(X, W, out=_read_only((1, 4, 6, 6))), ValueError,
     r"conv2d: out is updated in place and must be writeable"),
    ("conv2d out aliases x", lambda: ops.conv2d(X, W, out=X), ValueError, r"out .*share memory|must not share"),
    ("conv2d_backward dy shape", lambda: ops.conv2d_backward(X, W, f32(1, 4, 6, 5)), ValueError,
     r"conv2d_backward: dy must have shape \(1, 4, 6, 6\)"),
    ("conv1x1_pair w1 3x3", lambda: ops.conv1x1_pair(X, W, None, f32(2, 4, 1, 1), None), ValueError,
     r"conv1x1_pair: w1 must be 1x1"),
    ("pixel_shuffle channels", lambda: ops.pixel_shuffle(f32(1, 6, 2, 2), 2), ValueError,
     r"pixel_shuffle: .*divisible by r\*r = 4"),
    ("pixel_shuffle r 0", lambda: ops.pixel_shuffle(X, 0), ValueError, r"r must be a positive integer"),
    ("pixel_unshuffle odd size", lambda: ops.pixel_unshuffle(f32(1, 1, 5, 4), 2), ValueError, r"divisible by r = 2"),
    ("prelu alpha shape", lambda: ops.prelu(X, f32(3)), ValueError, r"prelu: alpha must have shape \(1,\) or \(4,\)"),
    ("l1_loss shapes", lambda: ops.l1_loss(f32(2, 3), f32(3, 2)), ValueError, r"l1_loss: target must have the shape of pred \(2, 3\), got \(3, 2\)"),
    ("mse_loss empty", lambda: ops.mse_loss(f32(0), f32(0)), ValueError, r"mse_loss: pred has a zero-sized"),
    ("l1_loss_backward inf scale", lambda: ops.l1_loss_backward(f32(3), f32(3), float("inf")), ValueError,
     r"grad_scale must be finite"),
    ("add_scaled shapes", lambda: ops.add_scaled(f32(3), f32(4)), ValueError, r"add_scaled: b must have the shape of a"),
    ("channel_affine scale", lambda: ops.channel_affine(X, f32(3), f32(4)), ValueError,
     r"channel_affine: scale must have shape \(4,\)"),
    ("adam step 0", lambda: ops.adam_step(f32(3), f32(3), f32(3), f32(3), lr=1e-3, step=0), ValueError,
     r"step counts from 1"),
    ("adam negative lr", lambda: ops.adam_step(f32(3), f32(3), f32(3), f32(3), lr=-1.0, step=1), ValueError,
     r"lr >= 0"),
    ("adam param read-only", lambda: ops.adam_step(np.ones(3, F)[::-1], f32(3), f32(3), f32(3), lr=1e-3, step=1),
     ValueError, r"param is updated in place"),
    # --- ops: sizes past memory
    ("conv2d huge view", lambda: ops.conv2d(HUGE, W), MemoryError, r"conv2d"),
    ("relu huge view", lambda: ops.relu(HUGE), MemoryError, r"relu"),
    # --- resize
    ("resize list", lambda: sr_native.resize([[1]], 2), TypeError, r"resize: image must be a numpy.ndarray"),
    ("resize int64", lambda: sr_native.resize(np.ones((4, 4), np.int64), 2), TypeError, r"uint8, uint16 or float32"),
    ("resize 4-D", lambda: sr_native.resize(f32(1, 4, 4, 3), 2), ValueError, r"2-D \(H, W\) or 3-D"),
    ("resize empty", lambda: sr_native.resize(f32(0, 4), 2), ValueError, r"zero-sized"),
    ("resize scale 0", lambda: sr_native.resize(f32(4, 4), 0), ValueError, r"positive and finite"),
    ("resize scale nan", lambda: sr_native.resize(f32(4, 4), float("nan")), ValueError, r"positive and finite"),
    ("resize scale bool", lambda: sr_native.resize(f32(4, 4), True), TypeError, r"scale must be an int or float"),
    ("resize both", lambda: sr_native.resize(f32(4, 4), 2, size=(8, 8)), ValueError, r"exactly one of scale and size"),
    ("resize size 0", lambda: sr_native.resize(f32(4, 4), size=(0, 8)), ValueError, r"size entries must be positive"),
    ("resize method", lambda: sr_native.resize(f32(4, 4), 2, method="cubic"), ValueError, r"method must be one of"),
    ("resize huge", lambda: sr_native.resize(f32(4, 4), 2**40), MemoryError, r"resize"),
    # --- upscale
    ("upscale list", lambda: sr_native.upscale([[1]], 2, model=_tiny()), TypeError, r"upscale: image must be"),
    ("upscale int32", lambda: sr_native.upscale(np.ones((4, 4, 3), np.int32), 2, model=_tiny()), TypeError,
     r"upscale: image dtype"),
    ("upscale 2 channels", lambda: sr_native.upscale(np.ones((4, 4, 2), np.uint8), 2, model=_tiny()), ValueError,
     r"1, 3 or 4 channels"),
    ("upscale 4-D", lambda: sr_native.upscale(np.ones((1, 4, 4, 3), np.uint8), 2, model=_tiny()), ValueError,
     r"HxW or HxWxC"),
    ("upscale empty", lambda: sr_native.upscale(np.ones((0, 4, 3), np.uint8), 2, model=_tiny()), ValueError,
     r"image is empty"),
    ("upscale NaN", lambda: sr_native.upscale(np.full((4, 4, 3), np.nan, F), 2, model=_tiny()), ValueError,
     r"NaN or infinity"),
    ("upscale inf", lambda: sr_native.upscale(np.full((4, 4, 3), np.inf, F), 2, model=_tiny()), ValueError,
     r"NaN or infinity"),
    ("upscale wrong scale", lambda: sr_native.upscale(np.ones((4, 4, 3), np.uint8), 3, model=_tiny()), ValueError,
     r"scale 3 does not match the model's scale 2"),
    ("upscale tile 0", lambda: sr_native.upscale(np.ones((4, 4, 3), np.uint8), 2, model=_tiny(), tile=0), ValueError,
     r"tile must be"),
    ("upscale model int", lambda: sr_native.upscale(np.ones((4, 4, 3), np.uint8), 2, model=7), TypeError,
     r"model must be a network"),
    ("upscale device", lambda: sr_native.upscale(np.ones((4, 4, 3), np.uint8), 2, model=_tiny(), device="tpu"),
     ValueError, r"device must be 'cpu' or 'cuda'"),
    ("upscale huge", lambda: sr_native.upscale(as_strided(np.zeros(1, np.uint8), shape=(2**20, 2**20, 3),
                                                          strides=(0, 0, 0)), 2, model=_tiny()),
     MemoryError, r"upscale: a 1048576x1048576 image"),
    # --- models
    ("EDSR scale 5", lambda: EDSR(5), ValueError, r"scale must be one of \(2, 3, 4\)"),
    ("load_model missing", lambda: sr_native.load_model("no-such-model"), FileNotFoundError, r"no-such-model"),
    # --- metrics
    ("psnr shapes", lambda: metrics.psnr(f32(4, 4), f32(4, 5)), ValueError, r"psnr: a and b must have the same shape"),
    ("psnr dtypes", lambda: metrics.psnr(f32(4, 4), np.ones((4, 4), np.uint8)), TypeError, r"same dtype"),
    ("psnr int64", lambda: metrics.psnr(np.ones((4, 4), np.int64), np.ones((4, 4), np.int64)), TypeError,
     r"uint8, uint16, float32 or float64"),
    ("psnr crop", lambda: metrics.psnr(f32(4, 4), f32(4, 4), crop_border=2), ValueError, r"leaves nothing"),
    ("ssim small", lambda: metrics.ssim(f32(8, 8), f32(8, 8)), ValueError, r"at least 11x11"),
    ("psnr y two channels", lambda: metrics.psnr(f32(4, 4, 2), f32(4, 4, 2), y_channel=True), ValueError, r"needs RGB"),
    # --- runtime settings
    ("set_num_threads 0", lambda: sr_native.set_num_threads(0), ValueError, r"n must be >= 1"),
    ("set_num_threads str", lambda: sr_native.set_num_threads("2"), TypeError, r"n must be an int"),
    ("set_isa bad", lambda: sr_native.set_isa("sse9"), ValueError, r"set_isa: name must be"),
]


_TINY = []


def _read_only(shape):
    a = np.zeros(shape, F)
    a.flags.writeable = False
    return a


def _tiny():
    if not _TINY:
        _TINY.append(EDSR(2, n_feats=4, n_resblocks=1))
    return _TINY[0]


@pytest.mark.parametrize("name,call,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_typed_error(name, call, exc, pattern):
    if exc is None:  # an edge that must work
        assert call()
        return
    with pytest.raises(exc, match=pattern):
        call()


# ------------------------------------------------------------- weight files

def _saved(tmp_path):
    path = tmp_path / "net.safetensors"
    _tiny().save(path)
    return path


def test_truncated_weight_file(tmp_path):
    path = _saved(tmp_path)
    data = path.read_bytes()
    for keep in (0, 7, 100, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"cut{keep}.safetensors"
        bad.write_bytes(data[:keep])
        with pytest.raises(ValueError, match=str(bad.name)):
            sr_native.load_model(bad)


def test_corrupted_weight_file(tmp_path):
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    header_len = int.from_bytes(data[:8], "little")
    for pos in (3, 8, 8 + header_len // 2):  # the length field, the header's first byte, its middle
        bad_bytes = bytearray(data)
        bad_bytes[pos] ^= 0xFF
        bad = tmp_path / f"flip{pos}.safetensors"
        bad.write_bytes(bytes(bad_bytes))
        with pytest.raises((ValueError, KeyError), match=str(bad.name)):
            sr_native.load_model(bad)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="garbage.safetensors"):
        sr_native.load_model(garbage)
