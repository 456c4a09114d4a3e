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
from PIL import Image

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
    ("conv_transpose2d x float64", lambda: ops.conv_transpose2d(X.astype(np.float64), W), TypeError,
     r"conv_transpose2d: x must be float32"),
    ("conv_transpose2d stride float", lambda: ops.conv_transpose2d(X, W, stride=2.0), TypeError,
     r"conv_transpose2d: stride must be an int"),
    ("conv_transpose2d x 3-D", lambda: ops.conv_transpose2d(f32(4, 6, 6), W), ValueError,
     r"conv_transpose2d: x must be 4-D .*got shape \(4, 6, 6\)"),
    ("conv_transpose2d channels", lambda: ops.conv_transpose2d(X, f32(3, 4, 3, 3)), ValueError,
     r"conv_transpose2d: w has 3 input channels \(w is \(C, O, K, K\).*but x has 4"),
    ("conv_transpose2d kernel 10", lambda: ops.conv_transpose2d(X, f32(4, 4, 10, 10)), ValueError,
     r"conv_transpose2d: kernel size must be from 1 to 9"),
    ("conv_transpose2d non-square", lambda: ops.conv_transpose2d(X, f32(4, 4, 3, 5)), ValueError,
     r"conv_transpose2d: w must be square"),
    ("conv_transpose2d stride 0", lambda: ops.conv_transpose2d(X, W, stride=0), ValueError,
     r"conv_transpose2d: stride must be from 1 to 8, got 0"),
    ("conv_transpose2d stride 9", lambda: ops.conv_transpose2d(X, W, stride=9, output_padding=1), ValueError,
     r"stride must be from 1 to 8, got 9"),
    ("conv_transpose2d padding -1", lambda: ops.conv_transpose2d(X, W, padding=-1), ValueError,
     r"conv_transpose2d: padding must be >= 0, got -1"),
    ("conv_transpose2d output_padding", lambda: ops.conv_transpose2d(X, W, stride=2, output_padding=2), ValueError,
     r"output_padding must be >= 0 and smaller than stride 2 \(PyTorch's rule\), got 2"),
    ("conv_transpose2d empty output", lambda: ops.conv_transpose2d(f32(1, 4, 1, 1), W, padding=2), ValueError,
     r"conv_transpose2d: the output would be -1x-1 .*must be at least 1x1"),
    ("conv_transpose2d huge padding", lambda: ops.conv_transpose2d(X, W, padding=2**62), ValueError,
     r"conv_transpose2d: padding 4611686018427387904 leaves no output"),
    ("conv_transpose2d bias shape", lambda: ops.conv_transpose2d(X, W, f32(3)), ValueError,
     r"conv_transpose2d: b must have shape \(4,\)"),
    ("conv_transpose2d out aliases x", lambda: ops.conv_transpose2d(X, W, padding=1, out=X), ValueError,
     r"out .*share memory|must not share"),
    ("conv_transpose2d_backward dy shape", lambda: ops.conv_transpose2d_backward(X, W, f32(1, 4, 6, 6), stride=2,
                                                                                 output_padding=1), ValueError,
     r"conv_transpose2d_backward: dy must have shape \(1, 4, 14, 14\)"),
    ("conv_transpose2d huge view", lambda: ops.conv_transpose2d(HUGE, W), MemoryError, r"conv_transpose2d"),
    ("pixel_shuffle channels", lambda: ops.pixel_shuffle(f32(1, 6, 2, 2), 2), ValueError,
     r"pixel_shuffle: .*divisible by r\*r = 4"),
    ("pixel_shuffle r 0", lambda: ops.pixel_shuffle(X, 0), ValueError, r"r must be a positive integer"),
    ("pixel_unshuffle odd size", lambda: ops.pixel_unshuffle(f32(1, 1, 5, 4), 2), ValueError, r"divisible by r = 2"),
    ("prelu alpha shape", lambda: ops.prelu(X, f32(3)), ValueError, r"prelu: alpha must have shape \(1,\) or \(4,\)"),
    ("batch_norm_train x float64", lambda: ops.batch_norm_train(X.astype(np.float64), f32(4), f32(4)), TypeError,
     r"batch_norm_train: x must be float32"),
    ("batch_norm_train x 3-D", lambda: ops.batch_norm_train(f32(4, 6, 6), f32(4), f32(4)), ValueError,
     r"batch_norm_train: x must be 4-D .*got shape \(4, 6, 6\)"),
    ("batch_norm_train gamma shape", lambda: ops.batch_norm_train(X, f32(3), f32(4)), ValueError,
     r"batch_norm_train: gamma must have shape \(4,\) \(one per channel of x\), got \(3,\)"),
    ("batch_norm_train one value per channel", lambda: ops.batch_norm_train(f32(1, 4, 1, 1), f32(4), f32(4)),
     ValueError, r"batch_norm_train: x needs more than one value per channel .*got shape \(1, 4, 1, 1\)"),
    ("batch_norm_train negative eps", lambda: ops.batch_norm_train(X, f32(4), f32(4), eps=-1e-5), ValueError,
     r"batch_norm_train: eps must be finite and >= 0"),
    ("batch_norm_train NaN eps", lambda: ops.batch_norm_train(X, f32(4), f32(4), eps=float("nan")), ValueError,
     r"eps must be finite"),
    ("batch_norm_train eps str", lambda: ops.batch_norm_train(X, f32(4), f32(4), eps="1e-5"), TypeError,
     r"batch_norm_train: eps must be a real number"),
    ("batch_norm_backward dy shape", lambda: ops.batch_norm_backward(X, f32(4), f32(4), f32(4), f32(1, 4, 6, 5)),
     ValueError, r"batch_norm_backward: dy must have the shape of x \(1, 4, 6, 6\), got \(1, 4, 6, 5\)"),
    ("batch_norm_backward invstd shape", lambda: ops.batch_norm_backward(X, f32(4), f32(4), f32(1, 4), X),
     ValueError, r"batch_norm_backward: invstd must have shape \(4,\)"),
    ("batch_norm_train huge view", lambda: ops.batch_norm_train(HUGE, f32(4), f32(4)), MemoryError, r"batch_norm_train"),
    ("batch_norm_running_update count 1", lambda: ops.batch_norm_running_update(f32(4), f32(4), f32(4), f32(4), count=1),
     ValueError, r"batch_norm_running_update: count .* must be > 1"),
    ("fold_batch_norm gamma shape", lambda: ops.fold_batch_norm(W, None, f32(3), f32(4), f32(4), f32(4)), ValueError,
     r"fold_batch_norm: gamma must have shape \(4,\)"),
    ("fold_batch_norm w int", lambda: ops.fold_batch_norm(W.astype(np.int32), None, f32(4), f32(4), f32(4), f32(4)),
     TypeError, r"fold_batch_norm: w must be a float array"),
    ("fold_batch_norm negative var", lambda: ops.fold_batch_norm(W, None, f32(4), f32(4), f32(4), -f32(4)),
     ValueError, r"running_var \+ eps must be > 0"),
    ("global_avg_pool x 2-D", lambda: ops.global_avg_pool(f32(4, 6)), ValueError,
     r"global_avg_pool: x must be 4-D \(N, C, H, W\), got shape \(4, 6\)"),
    ("global_avg_pool zero width", lambda: ops.global_avg_pool(f32(1, 4, 6, 0)), ValueError, r"zero-sized dimension"),
    ("global_avg_pool_backward h 0", lambda: ops.global_avg_pool_backward(f32(1, 4), 0, 3), ValueError,
     r"global_avg_pool_backward: the input size \(h, w\) must be positive, got \(0, 3\)"),
    ("global_avg_pool_backward h float", lambda: ops.global_avg_pool_backward(f32(1, 4), 2.0, 3), TypeError,
     r"global_avg_pool_backward: h must be an int"),
    ("global_avg_pool_backward huge", lambda: ops.global_avg_pool_backward(f32(1, 4), 2**22, 2**22), MemoryError,
     r"global_avg_pool_backward"),
    ("sigmoid list", lambda: ops.sigmoid([1.0]), TypeError, r"sigmoid: x must be a numpy.ndarray"),
    ("sigmoid_backward shapes", lambda: ops.sigmoid_backward(f32(2, 3), f32(3, 2)), ValueError,
     r"sigmoid_backward: dy must have the shape of y \(2, 3\), got \(3, 2\)"),
    ("channel_gate s shape", lambda: ops.channel_gate(X, f32(1, 4, 1, 1)), ValueError,
     r"channel_gate: s must have shape \(1, 4\) \(N, C\) of x, got \(1, 4, 1, 1\)"),
    ("channel_gate s float64", lambda: ops.channel_gate(X, np.ones((1, 4))), TypeError, r"channel_gate: s must be float32"),
    ("channel_gate_backward dy shape", lambda: ops.channel_gate_backward(X, f32(1, 4), f32(1, 4, 6, 5)), ValueError,
     r"channel_gate_backward: dy must have the shape of x"),
    ("pixel_gate g channels", lambda: ops.pixel_gate(X, f32(1, 2, 6, 6)), ValueError,
     r"pixel_gate: g must have shape \(1, 4 or 1, 6, 6\) for x shape \(1, 4, 6, 6\), got \(1, 2, 6, 6\)"),
    ("pixel_gate_backward g size", lambda: ops.pixel_gate_backward(X, f32(1, 1, 6, 5), X), ValueError,
     r"pixel_gate_backward: g must have shape"),
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
    # === issue 17: kernels, ops, resize and runtime settings
    ("set_num_threads 65536", lambda: sr_native.set_num_threads(65536), ValueError,
     r"set_num_threads: n must be >= 1 and at most \d+ \(4x the \d+ CPUs"),
    ("set_num_threads 40000", lambda: sr_native.set_num_threads(40000), ValueError, r"at most \d+ .*got 40000"),
    ("conv2d relu str", lambda: ops.conv2d(X, W, relu="False"), TypeError, r"conv2d: relu must be a bool \(True or False\), got str"),
    ("conv2d relu None", lambda: ops.conv2d(X, W, relu=None), TypeError, r"conv2d: relu must be a bool"),
    ("conv2d res_scale 1e39", lambda: ops.conv2d(X, W, res_scale=1e39), ValueError,
     r"conv2d: res_scale must be finite as a float32, got 9.99.*e\+38 \(it rounds to infinity"),
    ("conv2d res_scale str", lambda: ops.conv2d(X, W, res_scale="1"), TypeError,
     r"conv2d: res_scale must be a real number, got str"),
    ("conv2d reference str", lambda: ops.conv2d(X, W, reference="no"), TypeError,
     r"conv2d: reference must be a bool"),
    ("relu reference int", lambda: ops.relu(X, reference=1), TypeError, r"relu: reference must be a bool"),
    ("reference_mode str", lambda: ops.reference_mode("False").__enter__(), TypeError,
     r"reference_mode: enabled must be a bool \(True or False\), got str"),
    ("sum_squares None", lambda: ops.sum_squares(None), TypeError,
     r"sum_squares: x must be a numpy.ndarray of float32, got NoneType"),
    ("sum_squares list", lambda: ops.sum_squares([1.0, 2.0]), TypeError, r"sum_squares: x must be a numpy.ndarray"),
    ("sum_squares float64", lambda: ops.sum_squares(np.ones(3)), TypeError, r"sum_squares: x must be float32"),
    ("adam beta2 1-1e-10", lambda: ops.adam_step(f32(3), f32(3), f32(3), f32(3), lr=1e-3, step=1, beta2=1 - 1e-10),
     ValueError, r"adam_step: beta2 must be in \[0, 1\) as a float32, got 0.9999999998.* \(it rounds to 1.0"),
    ("adam beta1 1", lambda: ops.adam_step(f32(3), f32(3), f32(3), f32(3), lr=1e-3, step=1, beta1=1.0),
     ValueError, r"adam_step: beta1 must be in \[0, 1\)"),
    ("adam lr 1e39", lambda: ops.adam_step(f32(3), f32(3), f32(3), f32(3), lr=1e39, step=1), ValueError,
     r"adam_step: lr must be finite as a float32, got .*rounds to infinity"),
    ("adam eps 1e-50", lambda: ops.adam_step(f32(3), f32(3), f32(3), f32(3), lr=1e-3, step=1, eps=1e-50),
     ValueError, r"adam_step: eps must be > 0 as a float32, got 1e-50 \(it rounds to 0"),
    ("adam weight_decay 1e39", lambda: ops.adam_step(f32(3), f32(3), f32(3), f32(3), lr=1e-3, step=1,
                                                     weight_decay=1e39), ValueError, r"weight_decay must be finite"),
    ("adam lr None", lambda: ops.adam_step(f32(3), f32(3), f32(3), f32(3), lr=None, step=1), TypeError,
     r"adam_step: lr must be a real number, got NoneType"),
    ("adam beta1 str", lambda: ops.adam_step(f32(3), f32(3), f32(3), f32(3), lr=1e-3, step=1, beta1="0.9"),
     TypeError, r"adam_step: beta1 must be a real number, got str"),
    ("l1_loss_backward scale 1e39", lambda: ops.l1_loss_backward(f32(3), f32(3), 1e39), ValueError,
     r"l1_loss_backward: grad_scale must be finite as a float32"),
    ("mse_loss_backward scale None", lambda: ops.mse_loss_backward(f32(3), f32(3), None), TypeError,
     r"mse_loss_backward: grad_scale must be a real number"),
    ("add_scaled alpha str", lambda: ops.add_scaled(f32(3), f32(3), "2"), TypeError,
     r"add_scaled: alpha must be a real number, got str"),
    ("add_scaled alpha 1e39", lambda: ops.add_scaled(f32(3), f32(3), 1e39), ValueError,
     r"add_scaled: alpha must be finite as a float32"),
    ("ref conv2d relu str", lambda: sr_native.ref.conv2d(X, W, relu="True"), TypeError, r"conv2d: relu must be a bool"),
    ("adam param unaligned", lambda: ops.adam_step(_unaligned(f32(3)), f32(3), f32(3), f32(3), lr=1e-3, step=1),
     ValueError, r"adam_step: param is updated in place and must be aligned"),
    ("adam v unaligned", lambda: ops.adam_step(f32(3), f32(3), f32(3), _unaligned(f32(3)), lr=1e-3, step=1),
     ValueError, r"adam_step: v is updated in place and must be aligned"),
    ("conv2d out unaligned", lambda: ops.conv2d(X, W, out=_unaligned(f32(1, 4, 6, 6))), ValueError,
     r"conv2d: out is updated in place and must be aligned"),
    ("relu_backward out unaligned", lambda: ops.relu_backward(X, X, out=_unaligned(f32(1, 4, 6, 6))), ValueError,
     r"relu_backward: out is updated in place and must be aligned"),
    ("conv2d x unaligned works", lambda: np.array_equal(ops.conv2d(_unaligned(X), W), ops.conv2d(X, W)), None, None),
    ("resize uint16 unaligned works", lambda: np.array_equal(
        sr_native.resize(_unaligned(np.arange(30, dtype=np.uint16).reshape(5, 6)), 2),
        sr_native.resize(np.arange(30, dtype=np.uint16).reshape(5, 6), 2)), None, None),
    ("relu NaN passes", lambda: np.isnan(ops.relu(np.array([np.nan], F))[0]), None, None),
    ("resize scale 1e308", lambda: sr_native.resize(f32(4, 4), 1e308), MemoryError,
     r"resize: scale 1e\+308 makes an output side of inf pixels"),
    ("resize antialias str", lambda: sr_native.resize(f32(4, 4), 2, antialias="no"), TypeError,
     r"resize: antialias must be a bool \(True or False\), got str"),
    ("resize antialias int", lambda: sr_native.resize(f32(4, 4), 2, antialias=2), TypeError,
     r"resize: antialias must be a bool \(True or False\), got int"),
    ("resize reference None", lambda: sr_native.resize(f32(4, 4), 2, reference=None), TypeError,
     r"resize: reference must be a bool"),
    # === issue 17: weight files and model constructors
    ("EDSR n_feats 0", lambda: EDSR(2, n_feats=0), ValueError, r"EDSR: n_feats must be from 1 to 4096, got 0"),
    ("EDSR n_colors 0", lambda: EDSR(2, n_colors=0), ValueError, r"EDSR: n_colors must be from 1 to 64, got 0"),
    ("EDSR n_resblocks -1", lambda: EDSR(2, n_resblocks=-1), ValueError, r"EDSR: n_resblocks must be from 0"),
    ("EDSR n_feats str", lambda: EDSR(2, n_feats="64"), TypeError, r"EDSR: n_feats must be an int, got str"),
    ("EDSR n_resblocks None", lambda: EDSR(2, n_resblocks=None), TypeError, r"EDSR: n_resblocks must be an int"),
    ("EDSR scale str", lambda: EDSR("2"), TypeError, r"EDSR: scale must be an int, got str"),
    ("EDSR res_scale 1e39", lambda: EDSR(2, res_scale=1e39), ValueError, r"EDSR: res_scale must be finite in float32"),
    ("EDSR res_scale str", lambda: EDSR(2, res_scale="0.1"), TypeError, r"EDSR: res_scale must be a float, got str"),
    ("EDSR huge", lambda: EDSR(2, n_feats=4096, n_resblocks=1024), MemoryError, r"EDSR: the parameters need"),
    # === issue 18: networks defined by their forward (SRCNN, ESPCN, VDSR) and the tape
    ("SRCNN scale 5", lambda: sr_native.models.SRCNN(5), ValueError, r"SRCNN: scale must be one of \(2, 3, 4\)"),
    ("SRCNN k1 even", lambda: sr_native.models.SRCNN(2, k1=8), ValueError, r"SRCNN: k1 must be odd, got 8"),
    ("SRCNN k3 11", lambda: sr_native.models.SRCNN(2, k3=11), ValueError, r"SRCNN: k3 must be from 1 to 9, got 11"),
    ("SRCNN n1 str", lambda: sr_native.models.SRCNN(2, n1="64"), TypeError, r"SRCNN: n1 must be an int, got str"),
    ("SRCNN preset", lambda: sr_native.models.SRCNN.from_preset("srcnn-x", 2), ValueError,
     r"unknown SRCNN preset 'srcnn-x'; choose from \['srcnn', 'srcnn-955'\]"),
    ("ESPCN n2 0", lambda: sr_native.models.ESPCN(3, n2=0), ValueError, r"ESPCN: n2 must be from 1 to 4096, got 0"),
    ("ESPCN scale float", lambda: sr_native.models.ESPCN(2.0), TypeError, r"ESPCN: scale must be an int, got float"),
    ("ESPCN n_colors 0", lambda: sr_native.models.ESPCN(2, n_colors=0), ValueError, r"ESPCN: n_colors must be from 1"),
    ("VDSR n_layers 1", lambda: sr_native.models.VDSR(2, n_layers=1), ValueError,
     r"VDSR: n_layers must be from 2 to 1024, got 1"),
    ("VDSR n_feats None", lambda: sr_native.models.VDSR(2, n_feats=None), TypeError, r"VDSR: n_feats must be an int"),
    ("VDSR huge", lambda: sr_native.models.VDSR(2, n_feats=4096, n_layers=1024), MemoryError,
     r"VDSR: the parameters need"),
    ("VDSR preset", lambda: sr_native.models.VDSR.from_preset("vdsr-big", 2), ValueError, r"unknown VDSR preset"),
    ("tanh float64", lambda: ops.tanh(X.astype(np.float64)), TypeError, r"tanh: x must be float32"),
    ("tanh str", lambda: ops.tanh("x"), TypeError, r"tanh: x must be a numpy.ndarray"),
    ("tanh_backward shapes", lambda: ops.tanh_backward(X, f32(1, 4, 6, 5)), ValueError, r"tanh_backward: .*dy"),
    ("tanh_backward y int", lambda: ops.tanh_backward(X.astype(np.int32), X), TypeError,
     r"tanh_backward: y must be float32"),
    ("tanh huge view", lambda: ops.tanh(HUGE), MemoryError, r"tanh"),
    ("tanh NaN passes", lambda: np.isnan(ops.tanh(np.array([np.nan], F))[0]), None, None),
    ("WDSR n_feats 0", lambda: sr_native.models.WDSR(2, n_feats=0), ValueError, r"WDSR: n_feats must be from 1"),
    ("WDSR variant None", lambda: sr_native.models.WDSR(2, None), TypeError, r"WDSR: variant must be 'a' or 'b'"),
    ("WDSR linear 0", lambda: sr_native.models.WDSR(2, "b", linear=0.0), ValueError, r"WDSR: linear must be > 0"),
    ("WDSR res_scale nan", lambda: sr_native.models.WDSR(2, res_scale=float("nan")), ValueError,
     r"WDSR: res_scale must be finite"),
    ("Normalization std 0", lambda: sr_native.models.Normalization(std=0.0), ValueError,
     r"Normalization: std must be > 0"),
    ("Normalization mean NaN", lambda: sr_native.models.Normalization(mean=(0.5, float("nan"), 0.5)), ValueError,
     r"Normalization: mean\[1\] must be finite"),
    ("load_model empty path", lambda: sr_native.load_model(""), ValueError, r"load_model: empty path"),
    ("load_model directory", lambda: sr_native.load_model("/"), ValueError, r"/: is a directory, not a model file"),
    ("load_model device", lambda: sr_native.load_model("/dev/null"), ValueError, r"/dev/null: is a character device"),
    ("load_model None", lambda: sr_native.load_model(None), TypeError, r"load_model: name_or_path must be"),
    ("load_model res_scale inf", lambda: sr_native.load_model("x.pt", res_scale=float("inf")), ValueError,
     r"load_model: res_scale must be finite"),
    ("load_state_dict NaN", lambda: _tiny().load_state_dict(_tiny_state(head_weight=np.nan)), ValueError,
     r"tensor 'head.weight' contains NaN"),
    ("load_state_dict int64", lambda: _tiny().load_state_dict(_tiny_state(head_weight=np.int64)), ValueError,
     r"tensor 'head.weight' has dtype int64"),
    ("load_state_dict missing", lambda: _tiny().load_state_dict({}), ValueError, r"missing keys \['head.weight'"),
    ("foreign non-string key", lambda: sr_native.weights.from_foreign_state_dict({1: f32(1)}), ValueError,
     r"state dict: state dict key 1 is a int, not a string"),
    ("foreign 1-D head", lambda: sr_native.weights.from_foreign_state_dict(
        {"head.0.weight": f32(4), "body.0.body.0.weight": f32(4, 4, 3, 3)}), ValueError,
     r"'head.0.weight' has shape \(4,\), expected 4 non-zero dimensions"),
    ("foreign unknown layout", lambda: sr_native.weights.from_foreign_state_dict({"conv.weight": f32(1, 1, 1, 1)}),
     ValueError, r"unknown checkpoint layout .*known layouts: edsr-pytorch"),
    # === issue 17: upscale and sr_native.dask
    ("upscale PIL mode I out of range",
     lambda: sr_native.upscale(Image.fromarray(np.full((4, 4), 70000, np.int32)), 2,
                               model=_tiny()), ValueError, r"upscale: .*mode 'I'.*0..65535"),
    ("upscale tile 1", lambda: _up(tile=1), ValueError, r"upscale: tile must be at least 16 input pixels, got 1"),
    ("upscale tile 15", lambda: _up(tile=15), ValueError, r"upscale: tile must be at least 16"),
    ("upscale tile float", lambda: _up(tile=32.0), TypeError, r"upscale: tile must be .*got float 32.0"),
    ("upscale tile bool", lambda: _up(tile=True), TypeError, r"upscale: tile must be .*got bool True"),
    ("upscale tile str", lambda: _up(tile="big"), ValueError, r"upscale: tile must be 'auto', None .*got 'big'"),
    ("upscale scale float", lambda: _up(scale=2.0), TypeError, r"upscale: scale must be an int .*got float 2.0"),
    ("upscale scale bool", lambda: _up(scale=True), TypeError, r"upscale: scale must be an int"),
    ("upscale scale 0", lambda: _up(scale=0), ValueError, r"upscale: scale must be one of \(2, 3, 4\), got 0"),
    ("upscale scale -1", lambda: _up(scale=-1), ValueError, r"upscale: scale must be one of .*got -1"),
    ("upscale self_ensemble str", lambda: _up(self_ensemble="False"), TypeError,
     r"upscale: self_ensemble must be a bool \(True or False\), got str 'False'"),
    ("upscale progress int", lambda: _up(progress=1), TypeError, r"upscale: progress must be a bool \(True or False\)"),
    ("upscale device int", lambda: _up(device=0), TypeError, r"upscale: device must be 'cpu', 'cuda' or None"),
    ("upscale float 0..255", lambda: _up(image=np.full((4, 4, 3), 200.0, F)), ValueError,
     r"upscale: float image values must lie in \[0, 1\] .*max 200; pass value_range="),
    ("upscale float negative", lambda: _up(image=np.full((4, 4, 3), -0.5, F)), ValueError, r"found min -0.5"),
    ("upscale value_range 0", lambda: _up(image=f32(4, 4, 3), value_range=0), ValueError,
     r"upscale: value_range must be finite with lo < hi"),
    ("upscale value_range inf", lambda: _up(image=f32(4, 4, 3), value_range=(0, np.inf)), ValueError,
     r"value_range must be finite"),
    ("upscale value_range reversed", lambda: _up(image=f32(4, 4, 3), value_range=(255, 0)), ValueError,
     r"lo < hi"),
    ("upscale value_range str", lambda: _up(image=f32(4, 4, 3), value_range="255"), TypeError,
     r"upscale: value_range must be a positive number"),
    ("upscale value_range uint8", lambda: _up(value_range=255), ValueError,
     r"upscale: value_range= applies to float images; uint8"),
    ("upscale value_range ok", lambda: _up(image=np.full((4, 4, 3), 200.0, F), value_range=255).max() > 1 or None,
     None, None),
    ("dask upscale scale", lambda: _dask_up(scale=3), ValueError,
     r"sr_native.dask.upscale: scale 3 does not match the model's scale 2"),
    ("dask upscale scale float", lambda: _dask_up(scale=2.0), TypeError,
     r"sr_native.dask.upscale: scale must be an int"),
    ("dask upscale tile 1", lambda: _dask_up(tile=1), ValueError, r"sr_native.dask.upscale: tile must be at least 16"),
    ("dask upscale tile str", lambda: _dask_up(tile="x"), ValueError, r"sr_native.dask.upscale: tile must be"),
    ("dask upscale self_ensemble", lambda: _dask_up(self_ensemble="no"), TypeError,
     r"sr_native.dask.upscale: self_ensemble must be a bool \(True or False\)"),
    ("dask upscale channels", lambda: _dask_up(shape=(8, 8, 2)), ValueError,
     r"sr_native.dask.upscale: .*1, 3 or 4 channels"),
    ("dask upscale empty", lambda: _dask_up(shape=(0, 8, 3)), ValueError, r"sr_native.dask.upscale: image is empty"),
    ("dask upscale value_range", lambda: _dask_up(dtype=F, value_range=-1), ValueError,
     r"sr_native.dask.upscale: value_range must be finite"),
    ("dask upscale numpy 0..255", lambda: _dask_up(array=np.full((8, 8, 3), 200.0, F)), ValueError,
     r"sr_native.dask.upscale: float image values must lie in \[0, 1\]"),
    ("dask upscale model int", lambda: _dask_up(model=7), TypeError, r"model must be a network"),
    # === issue 17: training and evaluation
    # train's options (TrainConfig.validate runs first in train, before any folder is read or made)
    ("train lr_step -1", lambda: _train_cfg(lr_step=-1), ValueError, r"train: lr_step must be >= 1, got -1"),
    ("train lr_step 0", lambda: _train_cfg(lr_step=0), ValueError, r"train: lr_step must be >= 1, got 0"),
    ("train lr -1", lambda: _train_cfg(lr=-1.0), ValueError, r"train: lr must be >= 0, got -1.0"),
    ("train lr 1e39", lambda: _train_cfg(lr=1e39), ValueError, r"train: lr must be finite in float32"),
    ("train lr huge int", lambda: _train_cfg(lr=10**400), ValueError, r"train: lr must be finite in float32"),
    ("train lr nan", lambda: _train_cfg(lr=float("nan")), ValueError, r"train: lr must be finite"),
    ("train lr str", lambda: _train_cfg(lr="1e-4"), TypeError, r"train: lr must be a number, got str"),
    ("train lr None", lambda: _train_cfg(lr=None), TypeError, r"train: lr must be a number, got NoneType"),
    ("train lr bool", lambda: _train_cfg(lr=True), TypeError, r"train: lr must be a number, got bool"),
    ("train iterations 0", lambda: _train_cfg(iterations=0), ValueError, r"train: iterations must be >= 1"),
    ("train iterations float", lambda: _train_cfg(iterations=2.5), TypeError, r"train: iterations must be an int"),
    ("train iterations str", lambda: _train_cfg(iterations="10"), TypeError, r"train: iterations must be an int"),
    ("train batch_size 0", lambda: _train_cfg(batch_size=0), ValueError, r"train: batch_size must be >= 1"),
    ("train batch_size None", lambda: _train_cfg(batch_size=None), TypeError, r"train: batch_size must be an int"),
    ("train patch_size -4", lambda: _train_cfg(patch_size=-4), ValueError, r"train: patch_size must be >= 1"),
    ("train patch_size bool", lambda: _train_cfg(patch_size=True), TypeError, r"train: patch_size must be an int"),
    ("train lr_gamma 0", lambda: _train_cfg(lr_gamma=0.0), ValueError, r"train: lr_gamma must be in \(0, 1\]"),
    ("train lr_gamma 2", lambda: _train_cfg(lr_gamma=2.0), ValueError, r"train: lr_gamma must be in \(0, 1\]"),
    ("train lr_gamma nan", lambda: _train_cfg(lr_gamma=float("nan")), ValueError, r"train: lr_gamma must be finite"),
    ("train lr_min -1", lambda: _train_cfg(lr_min=-1.0), ValueError, r"train: lr_min must be >= 0"),
    ("train lr_min above lr", lambda: _train_cfg(lr_schedule="cosine", lr=1e-4, lr_min=1e-3), ValueError,
     r"train: lr_min \(0.001\) must not exceed lr"),
    ("train clip_grad -1", lambda: _train_cfg(clip_grad=-1.0), ValueError, r"train: clip_grad must be >= 0"),
    ("train clip_grad inf", lambda: _train_cfg(clip_grad=float("inf")), ValueError, r"train: clip_grad must be finite"),
    ("train val_every 0", lambda: _train_cfg(val_every=0), ValueError, r"train: val_every must be >= 1"),
    ("train checkpoint_every -1", lambda: _train_cfg(checkpoint_every=-1), ValueError,
     r"train: checkpoint_every must be >= 1"),
    ("train seed -1", lambda: _train_cfg(seed=-1), ValueError, r"train: seed must be >= 0"),
    ("train seed float", lambda: _train_cfg(seed=1.5), TypeError, r"train: seed must be an int"),
    ("train loss l2", lambda: _train_cfg(loss="l2"), ValueError, r"train: loss must be 'l1' or 'mse'"),
    ("train loss None", lambda: _train_cfg(loss=None), TypeError, r"train: loss must be a str"),
    ("train lr_schedule", lambda: _train_cfg(lr_schedule="linear"), ValueError, r"train: lr_schedule must be"),
    ("train scale 5", lambda: _train_cfg(scale=5), ValueError, r"train: scale must be 2, 3 or 4, got 5"),
    ("train scale 0", lambda: _train_cfg(scale=0), ValueError, r"train: scale must be 2, 3 or 4, got 0"),
    ("train scale float", lambda: _train_cfg(scale=2.0), TypeError, r"train: scale must be an int"),
    ("train scale str", lambda: _train_cfg(scale="2"), TypeError, r"train: scale must be an int"),
    ("train model name", lambda: _train_cfg(model="no-such-net"), ValueError, r"train: model must be one of"),
    ("train model None", lambda: _train_cfg(model=None), TypeError, r"train: model must be a str"),
    ("train model_args list", lambda: _train_cfg(model_args=[1]), TypeError, r"train: model_args must be a dict"),
    ("train val_dir int", lambda: _train_cfg(val_dir=5), TypeError, r"train: val_dir must be a path"),
    ("train train_dir empty", lambda: _train_cfg(train_dir=""), ValueError, r"train: train_dir is an empty path"),
    ("load_checkpoint missing", lambda: _loop().load_checkpoint("no-such-run/checkpoint.safetensors"),
     FileNotFoundError, r"train: no checkpoint at 'no-such-run/checkpoint.safetensors'"),
    ("PairSet missing folder", lambda: _data().PairSet.from_folder("no-such-folder", 2), FileNotFoundError,
     r"training folder 'no-such-folder' does not exist"),
    # evaluation.evaluate: everything below is refused before the data folder is read
    ("eval scale 0", lambda: _evaluate("no-such-set", 0), ValueError, r"eval: scale must be one of \(2, 3, 4\), got 0"),
    ("eval scale -1", lambda: _evaluate("no-such-set", -1), ValueError, r"eval: scale must be one of \(2, 3, 4\), got -1"),
    ("eval scale 5", lambda: _evaluate("no-such-set", 5), ValueError, r"eval: scale must be one of \(2, 3, 4\), got 5"),
    ("eval scale nan", lambda: _evaluate("no-such-set", float("nan")), TypeError, r"eval: scale must be an int"),
    ("eval scale str", lambda: _evaluate("no-such-set", "2"), TypeError, r"eval: scale must be an int"),
    ("eval scale bool", lambda: _evaluate("no-such-set", True), TypeError, r"eval: scale must be an int"),
    ("eval data missing", lambda: _evaluate("no-such-set", 2), FileNotFoundError,
     r"eval: data folder 'no-such-set' does not exist"),
    ("eval data None", lambda: _evaluate(None, 2), TypeError, r"eval: data folder must be a path"),
    ("eval model scale", lambda: _evaluate("no-such-set", 3, model=_tiny()), ValueError,
     r"eval: the model 'edsr-x2' upscales x2, but scale is 3"),
    ("eval baselines str", lambda: _evaluate("no-such-set", 2, baselines="bicubic"), TypeError,
     r"eval: baselines must be a list"),
    ("eval baselines unknown", lambda: _evaluate("no-such-set", 2, baselines=["cubic"]), ValueError,
     r"eval: baselines must be among"),
    ("eval nothing to do", lambda: _evaluate("no-such-set", 2, baselines=[]), ValueError, r"eval: nothing to evaluate"),
    ("eval tile 0", lambda: _evaluate("no-such-set", 2, model=_tiny(), tile=0), ValueError, r"eval: tile must be"),
    ("eval tile 15", lambda: _evaluate("no-such-set", 2, model=_tiny(), tile=15), ValueError,
     r"eval: tile must be at least 16"),
    ("eval tile str", lambda: _evaluate("no-such-set", 2, model=_tiny(), tile="big"), ValueError, r"eval: tile must be"),
    ("eval make_lr str", lambda: _evaluate("no-such-set", 2, make_lr="False"), TypeError,
     r"eval: make_lr must be a bool \(True or False\)"),
    ("eval self_ensemble None", lambda: _evaluate("no-such-set", 2, self_ensemble=None), TypeError,
     r"eval: self_ensemble must be a bool \(True or False\)"),
    # metrics: nothing coerced
    ("psnr crop_border None", lambda: metrics.psnr(f32(4, 4), f32(4, 4), crop_border=None), TypeError,
     r"psnr: crop_border must be an int, got NoneType"),
    ("psnr crop_border float", lambda: metrics.psnr(f32(4, 4), f32(4, 4), crop_border=1.0), TypeError,
     r"psnr: crop_border must be an int, got float"),
    ("ssim crop_border bool", lambda: metrics.ssim(f32(16, 16), f32(16, 16), crop_border=True), TypeError,
     r"ssim: crop_border must be an int, got bool"),
    ("psnr y_channel str", lambda: metrics.psnr(f32(4, 4, 3), f32(4, 4, 3), y_channel="False"), TypeError,
     r"psnr: y_channel must be a bool \(True or False\), got str 'False'"),
    ("ssim y_channel None", lambda: metrics.ssim(f32(16, 16, 3), f32(16, 16, 3), y_channel=None), TypeError,
     r"ssim: y_channel must be a bool \(True or False\)"),
    ("psnr None", lambda: metrics.psnr(None, None), TypeError, r"psnr: a must be uint8, uint16, float32 or float64"),
    ("psnr str", lambda: metrics.psnr("a", "a"), TypeError, r"psnr: a must be uint8, uint16, float32 or float64"),
    ("psnr empty", lambda: metrics.psnr(f32(0, 4), f32(0, 4)), ValueError, r"psnr: images are empty"),
    ("psnr float 0..255", lambda: metrics.psnr(f32(4, 4) * 200, f32(4, 4)), ValueError,
     r"psnr: float images must be in \[0, 1\], a holds 200..200"),
    ("ssim NaN", lambda: metrics.ssim(np.full((16, 16), np.nan, F), f32(16, 16)), ValueError,
     r"ssim: a holds NaN or infinity"),
    ("psnr inf", lambda: metrics.psnr(f32(4, 4), np.full((4, 4), np.inf, F)), ValueError,
     r"psnr: b holds NaN or infinity"),
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


# ====================================================================
# Issue 17 (an outside attack's findings). One section per area; the CLI's
# cases (exit status, one-line message) are in test_cli.py and test_cli_fuzz.py.

# === section: kernels, ops, resize and runtime settings

def _unaligned(a):
    """A copy of float32 `a` whose data starts one byte past an aligned address."""
    buf = bytearray(a.nbytes + 1)
    out = np.frombuffer(buf, a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    return out


def _fake_cgroup(tmp_path, monkeypatch, limit, current):
    """A cgroup v2 container of `limit` bytes with `current` in use, on a host
    whose /proc/meminfo says 64 GiB (SR_NATIVE_PROC_ROOT / _CGROUP_ROOT hook)."""
    proc, cg = tmp_path / "proc", tmp_path / "cg"
    (proc / "self").mkdir(parents=True)
    cg.mkdir()
    (proc / "meminfo").write_text("MemAvailable: 67108864 kB\nSwapFree: 0 kB\n")
    (proc / "self" / "cgroup").write_text("0::/\n")
    (cg / "memory.max").write_text(f"{limit}\n")
    (cg / "memory.current").write_text(f"{current}\n")
    monkeypatch.setenv("SR_NATIVE_PROC_ROOT", str(proc))
    monkeypatch.setenv("SR_NATIVE_CGROUP_ROOT", str(cg))


def test_ops_raise_memory_error_inside_a_1gib_cgroup(tmp_path, monkeypatch):
    # Was: the host's free memory believed, the process OOM-killed.
    _fake_cgroup(tmp_path, monkeypatch, 1 << 30, (1 << 30) - (40 << 20))
    big = np.ones(1 << 25, F)  # 128 MiB
    with pytest.raises(MemoryError, match=r"relu: the result needs 0.125 GiB but only 0.0\d+ GiB"):
        ops.relu(big)
    with pytest.raises(MemoryError, match=r"add_scaled: the result needs"):
        ops.add_scaled(big, big)


def test_resize_tap_tables_are_counted(tmp_path, monkeypatch):
    # A one-row image to two million columns: 8 MB of pixels, ~0.5 GB of tap tables.
    _fake_cgroup(tmp_path, monkeypatch, 256 << 20, 0)
    with pytest.raises(MemoryError, match=r"resize: the result with its tap tables and intermediate image needs"):
        sr_native.resize(np.ones((1, 1000), F), size=(1, 2_000_000))

# === section: weight files and model constructors
# The hostile files (pickle opcode floods, zip bombs, mutation fuzzing) and their
# time and memory bounds are in test_weight_file_limits.py; one of each kind here.

def _tiny_state(head_weight):
    """_tiny()'s state dict with head.weight given one bad value, or a bad dtype."""
    state = {k: v.copy() for k, v in _tiny().state_dict().items()}
    if head_weight is np.int64:
        state["head.weight"] = state["head.weight"].astype(np.int64)
    else:
        state["head.weight"][0, 0, 0, 0] = head_weight
    return state


def test_fifo_model_file_is_refused(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import subprocess_env

    fifo = tmp_path / "x.pt"
    os.mkfifo(fifo)
    code = f"import sr_native\ntry:\n    sr_native.load_model({str(fifo)!r})\nexcept ValueError as e:\n    print(e)"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                             env=subprocess_env())
    except subprocess.TimeoutExpired:
        pytest.fail("load_model blocked on a FIFO")
    assert "x.pt: is a FIFO (named pipe), not a model file" in out.stdout, out


def test_weight_files_with_bad_contents(tmp_path):
    from test_weight_file_limits import edsr_pytorch_state, tiny_state, write_pt, write_safetensors

    nan = tiny_state()
    nan["head.weight"][0, 0, 0, 0] = np.nan
    cases = [
        (write_safetensors(tmp_path / "nan.safetensors", nan), r"tensor 'head.weight' contains NaN"),
        (write_safetensors(tmp_path / "blocks.safetensors", tiny_state(),
                           arch_args={"n_feats": 4, "n_resblocks": 100000}), r"n_resblocks must be from 0 to 1024"),
        (write_safetensors(tmp_path / "std.safetensors", tiny_state(),
                           normalization={"pixel_range": 255, "mean": [0.4] * 3, "std": float("nan")}),
         r"std must be finite"),
        (write_pt(tmp_path / "key.pt", {**edsr_pytorch_state(), 3: np.ones(3, np.float32)}),
         r"state dict key 3 is a int, not a string"),
        (write_pt(tmp_path / "layout.pt", {"conv.weight": np.ones((1, 1, 1, 1), np.float32)}),
         r"unknown checkpoint layout .*known layouts"),
        (write_pt(tmp_path / "extra.pt", {**edsr_pytorch_state(), "extra.bias": np.ones(3, np.float32)}),
         r"unexpected keys for a edsr-pytorch checkpoint"),
    ]
    for path, what in cases:
        with pytest.raises(ValueError, match=what) as err:
            sr_native.load_model(path)
        assert str(path) in str(err.value)


# === section: upscale and sr_native.dask

def _up(image=None, scale=2, **kwargs):
    """upscale of a small uint8 image through the tiny network, with one argument changed."""
    image = np.ones((4, 4, 3), np.uint8) if image is None else image
    return sr_native.upscale(image, scale, model=_tiny(), **kwargs)


def _dask_up(array=None, shape=(8, 8, 3), dtype=np.uint8, scale=2, model=None, **kwargs):
    """sr_native.dask.upscale, which must refuse bad arguments while building the graph."""
    da = pytest.importorskip("dask.array")
    import sr_native.dask

    if array is None:
        array = da.zeros(shape, dtype=dtype, chunks=(4,) * len(shape[:2]) + shape[2:])
    return sr_native.dask.upscale(array, scale, model=_tiny() if model is None else model, **kwargs)


def test_upscale_repeat_whole_image_call_passes_the_memory_check(monkeypatch):
    # The buffers the network kept from the first call are reused by the
    # second: they were counted as still to allocate, while the available
    # memory had already dropped by them, and the second call raised.
    from sr_native.models import EDSR as _EDSR

    net = _EDSR(2, n_feats=8, n_resblocks=1)
    net.head.weight[...] = 0.1
    image = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    from sr_native.upscaling import tile_bytes

    need = image.nbytes * 4 + tile_bytes(net, 40, 48)
    monkeypatch.setattr(sr_native._core, "available_memory", lambda: need + 1024 - net._buffers().nbytes())
    first = sr_native.upscale(image, 2, model=net, tile=None)
    np.testing.assert_array_equal(sr_native.upscale(image, 2, model=net, tile=None), first)
    monkeypatch.setattr(sr_native._core, "available_memory", lambda: 1024)
    with pytest.raises(MemoryError, match=r"upscale: a 48x40 image at x2 needs about"):
        sr_native.upscale(image, 2, model=net, tile=None)

# === section: training and evaluation
# Behaviour around these (skipped files, the run folder, interrupts) is in test_training_options.py.

def _loop():
    from sr_native.training import loop

    return loop


def _data():
    from sr_native.training import data

    return data


def _train_cfg(**options):
    """TrainConfig.validate, the check train() runs before anything else."""
    _loop().TrainConfig(**{"train_dir": "no-such-folder", **options}).validate()


def _evaluate(*args, **kwargs):
    from sr_native import evaluation

    return evaluation.evaluate(*args, **kwargs)


_TRAIN_TINY = dict(model_args=dict(n_feats=4, n_resblocks=1), batch_size=2, patch_size=8, iterations=2,
                   checkpoint_every=2, val_every=2, progress=False)

# (name, train options, exception, message): train() itself refuses each before the run folder is made.
TRAIN_CALLS = [
    ("lr_step -1", dict(lr_step=-1), ValueError, r"train: lr_step must be >= 1, got -1"),
    ("lr 1e39", dict(lr=1e39), ValueError, r"train: lr must be finite in float32"),
    ("patch_size str", dict(patch_size="48"), TypeError, r"train: patch_size must be an int"),
    ("scale nan", dict(scale=float("nan")), TypeError, r"train: scale must be an int"),
    ("resume str", dict(resume="False"), TypeError, r"train: resume must be a bool \(True or False\), got str"),
    ("progress None", dict(progress=None), TypeError, r"train: progress must be a bool \(True or False\)"),
    ("unknown option", dict(learning_rate=1e-3), TypeError, r"train: unknown option\(s\) learning_rate"),
    ("device tpu", dict(device="tpu"), ValueError, r"train: device must be 'cpu' or 'cuda'"),
    ("device int", dict(device=0), TypeError, r"train: device must be 'cpu' or 'cuda', got int 0"),
]


@pytest.mark.parametrize("name,options,exc,pattern", TRAIN_CALLS, ids=[c[0] for c in TRAIN_CALLS])
def test_train_refuses_bad_options_before_any_work(tmp_path, name, options, exc, pattern):
    with pytest.raises(exc, match=pattern):
        sr_native.train(tmp_path / "no-data", out_dir=tmp_path / "run", **{**_TRAIN_TINY, **options})
    assert not (tmp_path / "run").exists()


def _folders(tmp_path):
    """hr/ with two small photos, empty/ with a text file, file.png (a file), run-used/ a finished run."""
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "hr").mkdir()
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(tmp_path / "hr" / f"{i}.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    (tmp_path / "file.png").write_bytes((tmp_path / "hr" / "0.png").read_bytes())
    (tmp_path / "run-used").mkdir()
    (tmp_path / "run-used" / "log.csv").write_text("iteration,loss,lr,val_psnr,seconds\n")
    (tmp_path / "run-bad").mkdir()
    (tmp_path / "run-bad" / "checkpoint.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")


# (name, train folder, options, exception, message), folders as made by _folders; out_dir is run/ unless given.
TRAIN_FOLDER_CALLS = [
    ("train folder missing", "nope", {}, FileNotFoundError, r"train: training folder '.*nope' does not exist"),
    ("train folder is a file", "file.png", {}, NotADirectoryError, r"train: training folder '.*file.png' is not a"),
    ("train folder without images", "empty", {}, ValueError, r"train: no images \(.*\) in training folder"),
    ("val folder missing", "hr", dict(val_dir="nope"), FileNotFoundError, r"train: val_dir '.*nope' does not exist"),
    ("val folder without images", "hr", dict(val_dir="empty"), ValueError, r"train: no images .* in val_dir"),
    ("lr_folder missing", "hr", dict(lr_folder="nope"), FileNotFoundError, r"train: lr_folder '.*nope' does not"),
    ("out_dir is a file", "hr", dict(out_dir="file.png"), NotADirectoryError, r"train: out_dir .*is a file"),
    ("out_dir inside a file", "hr", dict(out_dir="file.png/run"), NotADirectoryError, r"is a file, not a folder"),
    ("run folder in use", "hr", dict(out_dir="run-used"), FileExistsError,
     r"train: run folder '.*run-used' is not empty \(it holds log.csv\); pass resume=True"),
    ("resume without checkpoint", "hr", dict(resume=True), FileNotFoundError,
     r"train: resume=True but there is no checkpoint at '.*run/checkpoint.safetensors'"),
    ("resume damaged checkpoint", "hr", dict(out_dir="run-bad", resume=True), ValueError,
     r"train: .*run-bad/checkpoint.safetensors"),
    ("init_from missing", "hr", dict(init_from="nope.safetensors"), FileNotFoundError, r"nope.safetensors"),
    ("model_args unknown", "hr", dict(model_args=dict(n_feats=4, depth=3)), TypeError,
     r"train: model_args .* for 'edsr-baseline': .*depth"),
    ("patch larger than every image", "hr", dict(patch_size=100), ValueError,
     r"train: no usable image in training folder .*2 smaller than 200x200"),
]


@pytest.mark.parametrize("name,folder,options,exc,pattern", TRAIN_FOLDER_CALLS, ids=[c[0] for c in TRAIN_FOLDER_CALLS])
@pytest.mark.filterwarnings("ignore::UserWarning")  # the DataWarning naming skipped files comes before the error
def test_train_folder_errors_come_before_any_work(tmp_path, name, folder, options, exc, pattern):
    _folders(tmp_path)
    options = {**_TRAIN_TINY, **options}
    for key in ("val_dir", "lr_folder", "out_dir", "init_from"):
        if key in options:
            options[key] = str(tmp_path / options[key])
    options.setdefault("out_dir", tmp_path / "run")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(exc, match=pattern):
        sr_native.train(tmp_path / folder, **options)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no run folder, no file written


# (name, data folder, options, exception, message)
EVAL_FOLDER_CALLS = [
    ("data is a file", "file.png", {}, NotADirectoryError, r"eval: data folder '.*file.png' is not a folder"),
    ("data without images", "empty", {}, ValueError, r"eval: no images \(.*\) in '.*empty'"),
    ("lr_folder missing", "hr", dict(lr_folder="nope"), FileNotFoundError, r"eval: lr_folder '.*nope' does not exist"),
    ("lr_folder is a file", "hr", dict(lr_folder="file.png"), NotADirectoryError, r"eval: lr_folder .* not a folder"),
]


@pytest.mark.parametrize("name,folder,options,exc,pattern", EVAL_FOLDER_CALLS, ids=[c[0] for c in EVAL_FOLDER_CALLS])
def test_evaluate_folder_errors(tmp_path, name, folder, options, exc, pattern):
    _folders(tmp_path)
    options = {k: str(tmp_path / v) if k == "lr_folder" else v for k, v in options.items()}
    with pytest.raises(exc, match=pattern):
        _evaluate(tmp_path / folder, 2, **options)
