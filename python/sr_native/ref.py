"""The ops of ``sr_native.ops`` run through the plain reference kernels.

Straight from the math with double accumulators and never optimised: the
ground truth the fast kernels are tested against. Same signatures as ops.
"""

import functools

from . import ops as _ops

_NAMES = [
    "conv2d", "conv2d_backward", "conv1x1_pair", "conv_transpose2d", "conv_transpose2d_backward",
    "pixel_shuffle", "pixel_unshuffle", "relu", "relu_backward",
    "tanh", "tanh_backward",
    "prelu", "prelu_backward", "l1_loss", "l1_loss_backward", "mse_loss", "mse_loss_backward",
    "add_scaled", "channel_affine", "channel_sum", "adam_step",
    "batch_norm_train", "batch_norm_backward", "global_avg_pool", "global_avg_pool_backward",
    "sigmoid", "sigmoid_backward", "channel_gate", "channel_gate_backward", "pixel_gate", "pixel_gate_backward",
    "max_pool2d", "max_pool2d_backward",
]

for _name in _NAMES:
    _fast = getattr(_ops, _name)
    globals()[_name] = functools.update_wrapper(functools.partial(_fast, reference=True), _fast)

__all__ = list(_NAMES)
