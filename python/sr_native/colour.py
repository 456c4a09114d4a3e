"""RGB <-> YCbCr as MATLAB's rgb2ycbcr / ycbcr2rgb compute them (ITU-R BT.601,
studio range: Y in 16..235, Cb and Cr in 16..240 out of 255), on float
images in [0, 1] with channels last. Networks trained on the luma alone
(the PyTorch re-implementations of SRCNN, FSRCNN and ESPCN) see Y / 255 of
this conversion; metrics.psnr's y_channel uses the same Y."""

import numpy as np

# Rows: Y, Cb, Cr from R, G, B in [0, 1], in units of 1/255.
_RGB_TO_YCBCR = np.array([[65.481, 128.553, 24.966],
                          [-37.797, -74.203, 112.0],
                          [112.0, -93.786, -18.214]])
_OFFSET = np.array([16.0, 128.0, 128.0])
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)


def _mix(x, matrix, offset):
    """out[..., i] = sum_j matrix[i, j] * x[..., j] + offset[i], in float32
    (channel by channel: a float64 matmul over a 4K image was most of the time)."""
    x = np.asarray(x, np.float32)
    out = np.empty(x.shape, np.float32)
    for i in range(3):
        o = out[..., i]
        np.multiply(x[..., 0], np.float32(matrix[i, 0]), out=o)
        o += x[..., 1] * np.float32(matrix[i, 1])
        o += x[..., 2] * np.float32(matrix[i, 2])
        o += np.float32(offset[i])
    return out


def rgb_to_ycbcr(rgb):
    """(..., 3) float RGB in [0, 1] -> (..., 3) float32 YCbCr in [0, 1] (value / 255)."""
    return _mix(rgb, _RGB_TO_YCBCR / 255.0, _OFFSET / 255.0)


def ycbcr_to_rgb(ycbcr):
    """The inverse of rgb_to_ycbcr: (..., 3) YCbCr in [0, 1] -> float32 RGB (not clipped)."""
    return _mix(ycbcr, _YCBCR_TO_RGB * 255.0, -_YCBCR_TO_RGB @ _OFFSET)


def luma_nchw(x):
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) float32 Y / 255 (a luma
    network's training batch)."""
    w = _RGB_TO_YCBCR[0] / 255.0
    y = x[:, 0:1] * np.float32(w[0]) + x[:, 1:2] * np.float32(w[1]) + x[:, 2:3] * np.float32(w[2])
    y += np.float32(_OFFSET[0] / 255.0)
    return np.ascontiguousarray(y, np.float32)


__all__ = ["luma_nchw", "rgb_to_ycbcr", "ycbcr_to_rgb"]
