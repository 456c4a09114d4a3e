// Every kernel of sr_native, with its shape and gradient contract.
//
// Conventions shared by all kernels:
//  - float32, NCHW, contiguous, batch N >= 1. Shapes are named once: N batch,
//    C input channels, O output channels, H height, W width, K kernel size.
//  - Kernels are stateless and never validate: the caller (the Python binding)
//    has checked shapes, sizes and pointers. Preconditions are listed here.
//  - Each op has a plain reference (namespace sr_native::ref, cpp/ref/) written
//    straight from the math with double accumulators, and a fast version
//    (namespace sr_native, cpp/cpu/) that picks an instruction-set body at run
//    time (see isa.h). Fast kernels may hand unusual cases to the reference.
//  - Gradients: activation gradients (dx) are written (=); parameter gradients
//    (dw, db, dalpha) are accumulated (+=), so the caller zeroes them once per
//    step. Any gradient pointer may be null: that gradient is not computed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sr_native {

// ---------------------------------------------------------------- conv2d
// x (N, C, H, W), w (O, C, K, K), y (N, O, H, W). Stride 1, zero "same"
// padding of K/2 on each side, K odd in [1, 9].
struct Conv2dShape {
    int64_t n, c, h, w;  // input
    int64_t o, k;        // output channels, kernel size
};

// Fused epilogue, applied per output element in this order:
//   t = conv(x) + bias[o]          (bias optional)
//   t = t < 0 ? 0 : t              (if relu; NaN passes through)
//   y = residual + res_scale * t   (residual optional, treated as 0 if null)
// residual has y's shape and may alias y (in-place residual add).
// NaN and infinity (fast and reference agree): IEEE arithmetic on the
// zero-padded input, every tap included whatever its weight. A NaN input
// reaches exactly the outputs whose K x K window holds it (0 * NaN = NaN, as
// in PyTorch); a non-finite weight reaches every output of its channel, border
// outputs included (its padded taps give inf * 0 = NaN). Winograd would spread
// a NaN over its 4x4 output tiles, so the fast forward computes tiles whose
// input holds a non-finite value directly (and takes the direct path for
// non-finite weights). The backward's NaN placement is the reference's (sums
// over in-image taps only; a non-finite weight or a non-finite fast dw sends
// the work to the reference kernel).
struct Conv2dEpilogue {
    const float* bias = nullptr;
    const float* residual = nullptr;
    float res_scale = 1.0f;
    bool relu = false;
};

void conv2d_forward(const float* x, const float* w, float* y, const Conv2dShape& s,
                    const Conv2dEpilogue& e);

// conv2d over a band of rows of a taller image (sr_native.streaming): s.h
// is the output's rows; x holds x_rows rows, and output row i reads x rows
// i - pad_top .. i - pad_top + K - 1 (zeros outside [0, x_rows)), so
// pad_top = K/2 with x_rows = s.h is conv2d_forward's "same" padding and
// pad_top = 0 with x_rows = s.h + K - 1 reads real rows on both sides.
// Channel planes may lie further apart than their rows (views of taller
// buffers): x_plane floats apart in x, y_plane in y, r_plane in residual;
// images c * x_plane, o * y_plane and o * r_plane apart. Winograd's 4x4 tiles start at output
// row 0, so a band whose first row is a multiple of 4 in the whole image
// computes the bits the whole image does; whole_h (the whole image's output
// rows) makes the Winograd-or-direct choice the whole image's.
struct Conv2dRows {
    int64_t x_rows, pad_top;
    int64_t x_plane, y_plane, r_plane;
    int64_t whole_h;
};
Conv2dRows conv2d_same_rows(const Conv2dShape& s);
void conv2d_forward_rows(const float* x, const float* w, float* y, const Conv2dShape& s,
                         const Conv2dEpilogue& e, const Conv2dRows& rows);

// Backward of the plain convolution y = conv(x, w) + b (no epilogue: ReLU and
// residual gradients are separate ops). dy (N, O, H, W) ->
//   dx (N, C, H, W) written, dw (O, C, K, K) accumulated, db (O) accumulated.
// With dx_residual (N, C, H, W), dx = dx_residual + the gradient (a skip
// connection's gradient added for free); it may be dx itself.
void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db, const Conv2dShape& s, const float* dx_residual = nullptr);

// Two 1x1 convolutions with a ReLU between, as one pass (WDSR-B's expansion
// and reduction): y = residual + w2 relu(w1 x + b1) + b2 per pixel, for
// x (N, C, H, W), w1 (M, C), w2 (O, M) -> y (N, O, H, W). b1, b2 and residual
// may be null; residual may be y itself. The M-channel middle never leaves
// the cache (it is made and used per span of pixels).
struct Conv1x1PairShape {
    int64_t n, c, m, o, hw;
};
void conv1x1_pair_forward(const float* x, const float* w1, const float* b1, const float* w2,
                          const float* b2, const float* residual, float* y,
                          const Conv1x1PairShape& s);

// ------------------------------------------------------ conv_transpose2d
// Transposed convolution with PyTorch's ConvTranspose2d semantics (groups 1,
// dilation 1): x (N, C, H, W), w (C, O, K, K) as PyTorch stores it, bias (O)
// optional, y (N, O, HO, WO) with HO = (H - 1) * stride - 2 * pad + K + out_pad
// (WO likewise). Input pixel (iy, ix) scatters x * w[c, o, ky, kx] onto
// (iy * stride - pad + ky, ix * stride - pad + kx); taps landing outside the
// output are dropped. Preconditions: K in [1, 9], stride in [1, 8],
// pad >= 0, 0 <= out_pad < stride, HO >= 1, WO >= 1.
// NaN and infinity: sums run over existing taps only (no padding values), so
// a NaN input reaches exactly the outputs it scatters onto, fast and
// reference alike (and PyTorch). The fast kernels pad rows with zeros
// internally, so they hand non-finite weights to the reference (and sum dw
// row by row over existing taps when x or dy is not finite).
struct ConvTranspose2dShape {
    int64_t n, c, h, w;  // input
    int64_t o, k;        // output channels, kernel size
    int64_t stride, pad, out_pad;
    int64_t out_h() const { return (h - 1) * stride - 2 * pad + k + out_pad; }
    int64_t out_w() const { return (w - 1) * stride - 2 * pad + k + out_pad; }
};
void conv_transpose2d_forward(const float* x, const float* w, const float* bias, float* y,
                              const ConvTranspose2dShape& s);
// Backward given dy (N, O, HO, WO): dx (N, C, H, W) written (an ordinary
// strided correlation of dy with w), dw (C, O, K, K) accumulated (a
// correlation of x with dy), db (O) accumulated. Any of the three may be null.
void conv_transpose2d_backward(const float* x, const float* w, const float* dy, float* dx,
                               float* dw, float* db, const ConvTranspose2dShape& s);

// ---------------------------------------------------------- pixel shuffle
// PyTorch's channel order (CRD): out[n, c, h*r+i, w*r+j] = in[n, c*r*r + i*r + j, h, w].
// pixel_shuffle:   x (N, C, H, W) with C % (r*r) == 0 -> y (N, C/(r*r), H*r, W*r).
// pixel_unshuffle: x (N, C, H, W) with H % r == 0, W % r == 0 -> y (N, C*r*r, H/r, W/r).
// Pure data movement: bit-exact. The backward of one is the other.
void pixel_shuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int r);
// The same over row bands (sr_native.streaming): channel planes x_plane and
// y_plane floats apart instead of h * w and h * w * r * r; r up to 16.
void pixel_shuffle_rows(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int r,
                        int64_t x_plane, int64_t y_plane);
void pixel_unshuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
                     int r);

// ------------------------------------------------------------ activations
// Elementwise over `count` values. relu'(0) is taken as 0 (PyTorch's choice).
// NaN: relu(NaN) = NaN (y = x < 0 ? 0 : x), and relu_backward passes dy where
// x is NaN (dx = x <= 0 ? 0 : dy, the branch the forward took; PyTorch's too).
void relu_forward(const float* x, float* y, int64_t count);
void relu_backward(const float* x, const float* dy, float* dx, int64_t count);

// tanh, elementwise over `count` values. The backward takes the forward's
// OUTPUT y = tanh(x) (as PyTorch's tanh_backward): dx = dy * (1 - y*y), written.
// The reference computes tanh in double; the fast one is a vectorised
// rational approximation within 4e-7 absolute of it. NaN propagates through both.
void tanh_forward(const float* x, float* y, int64_t count);
void tanh_backward(const float* y, const float* dy, float* dx, int64_t count);

// PReLU on (N, C, HW): y = x > 0 ? x : alpha[c] * x, with one alpha shared by
// all channels when num_alpha == 1, else num_alpha == C.
// dx written, dalpha (num_alpha) accumulated.
void prelu_forward(const float* x, const float* alpha, float* y, int64_t n, int64_t c,
                   int64_t hw, int64_t num_alpha);
void prelu_backward(const float* x, const float* alpha, const float* dy, float* dx,
                    float* dalpha, int64_t n, int64_t c, int64_t hw, int64_t num_alpha);

// ----------------------------------------------------------------- losses
// Mean over `count` elements. Backward writes dpred = grad_scale * d(loss)/d(pred),
// grad_scale being the upstream gradient of the scalar loss. sign(0) = 0 for L1.
double l1_loss_forward(const float* pred, const float* target, int64_t count);
void l1_loss_backward(const float* pred, const float* target, float* dpred, int64_t count,
                      float grad_scale);
double mse_loss_forward(const float* pred, const float* target, int64_t count);
void mse_loss_backward(const float* pred, const float* target, float* dpred, int64_t count,
                       float grad_scale);

// ------------------------------------------------------- elementwise ops
// y = a + alpha * b over `count` values; y may alias a or b.
void add_scaled(const float* a, const float* b, float alpha, float* y, int64_t count);
// Per-channel affine on (N, C, HW): y = x * scale[c] + shift[c]. Input
// normalisation (mean shift) of the models. y may alias x.
void channel_affine(const float* x, const float* scale, const float* shift, float* y, int64_t n,
                    int64_t c, int64_t hw);
// Per-channel sum over N and HW: out[c] += sum x[n, c, :]. Bias gradients.
void channel_sum(const float* x, float* out, int64_t n, int64_t c, int64_t hw);

// Adam with bias correction, one step on `count` parameters; `step` counts
// from 1. m, v are updated in place. weight_decay is L2 added to the gradient.
struct AdamConfig {
    float lr, beta1, beta2, eps, weight_decay;
    int64_t step;
};
void adam_step(float* param, const float* grad, float* m, float* v, int64_t count,
               const AdamConfig& cfg);

// ------------------------------------------------------------ batch norm
// Training-mode batch norm on x (N, C, HW), with the batch's statistics
// (PyTorch's F.batch_norm(training=True)): per channel, mean and the biased
// variance over N and HW; invstd = 1 / sqrt(var + eps); y = (x - mean) *
// invstd * gamma[c] + beta[c]. mean (C) and invstd (C) are written for the
// backward (and the caller's running statistics). Precondition: eps >= 0.
void batch_norm_train_forward(const float* x, const float* gamma, const float* beta, double eps,
                              float* y, float* mean, float* invstd, int64_t n, int64_t c, int64_t hw);
// Backward of batch_norm_train_forward (the batch statistics depend on x),
// with xhat = (x - mean) * invstd and M = N * HW per channel:
//   dbeta[c] += sum dy;  dgamma[c] += sum dy * xhat;
//   dx = gamma[c] * invstd[c] * (dy - sum(dy) / M - xhat * sum(dy * xhat) / M)   (written).
// The sums in dx are this call's own, not the accumulated buffers. Any of dx,
// dgamma, dbeta may be null.
void batch_norm_backward(const float* x, const float* gamma, const float* mean, const float* invstd,
                         const float* dy, float* dx, float* dgamma, float* dbeta, int64_t n, int64_t c,
                         int64_t hw);

// --------------------------------------------------- attention blocks
// Global average pooling: x (N, C, HW) -> y (N, C), the mean of each plane.
// Backward: dx[n, c, :] = dy[n, c] / HW (written).
void global_avg_pool_forward(const float* x, float* y, int64_t n, int64_t c, int64_t hw);
void global_avg_pool_backward(const float* dy, float* dx, int64_t n, int64_t c, int64_t hw);

// Logistic sigmoid over `count` values, from exp(-|x|) so that no large |x|
// overflows: sigmoid(+100) = 1, sigmoid(-100) = 3.8e-44 (a float32
// subnormal), NaN -> NaN. Backward from the output: dx = dy * y * (1 - y)
// (written).
void sigmoid_forward(const float* x, float* y, int64_t count);
void sigmoid_backward(const float* y, const float* dy, float* dx, int64_t count);

// RCAN's channel-attention multiply: y[n, c, :] = x[n, c, :] * s[n, c] for
// x (N, C, HW), s (N, C) (already sigmoided). Backward, both written:
// dx = dy * s, ds[n, c] = sum over HW of dy * x. dx or ds may be null.
void channel_gate_forward(const float* x, const float* s, float* y, int64_t n, int64_t c, int64_t hw);
void channel_gate_backward(const float* x, const float* s, const float* dy, float* dx, float* ds,
                           int64_t n, int64_t c, int64_t hw);

// PAN's pixel-attention multiply: y = x * g for x (N, C, HW) and g either
// (N, C, HW) or (N, 1, HW) (one gate per pixel, broadcast over channels;
// gc = C or 1). Backward, both written: dx = dy * g; dg = dy * x, summed over
// C when gc == 1. dx or dg may be null.
void pixel_gate_forward(const float* x, const float* g, float* y, int64_t n, int64_t c, int64_t gc,
                        int64_t hw);
void pixel_gate_backward(const float* x, const float* g, const float* dy, float* dx, float* dg,
                         int64_t n, int64_t c, int64_t gc, int64_t hw);

// ------------------------------------------------------------ max_pool2d
// x (N, C, H, W) -> y (N, C, HO, WO): the maximum over each K x K window at
// stride S, no padding, PyTorch's floor sizes HO = (H - K) / S + 1 (same for
// W); needs 1 <= K <= H, K <= W, S >= 1. VGG's pooling is K = S = 2.
// The window's argmax is its first maximum in row-major order (ties go to
// the first, as PyTorch); a NaN counts as larger than every number, and of
// several NaNs the last one is the argmax (PyTorch's CPU rule, `v > max ||
// isnan(v)`), so a window holding a NaN outputs NaN.
// Backward, from x (the argmax is recomputed, no index array is kept):
// dx = 0, then dx[argmax of each window] += dy (written; overlapping windows,
// K > S, add up in row-major order of the outputs).
struct MaxPool2dShape {
    int64_t n, c, h, w;  // input
    int64_t k, s;        // window and stride
    int64_t ho, wo;      // output, (h - k) / s + 1 and (w - k) / s + 1
};
void max_pool2d_forward(const float* x, float* y, const MaxPool2dShape& s);
void max_pool2d_backward(const float* x, const float* dy, float* dx, const MaxPool2dShape& s);

// ----------------------------------------------------------------- resize
// See resize.h.

namespace ref {
void conv2d_forward(const float* x, const float* w, float* y, const Conv2dShape& s,
                    const Conv2dEpilogue& e);
void conv2d_forward_rows(const float* x, const float* w, float* y, const Conv2dShape& s,
                         const Conv2dEpilogue& e, const Conv2dRows& rows);
void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db, const Conv2dShape& s, const float* dx_residual = nullptr);
void conv1x1_pair_forward(const float* x, const float* w1, const float* b1, const float* w2,
                          const float* b2, const float* residual, float* y,
                          const Conv1x1PairShape& s);
void conv_transpose2d_forward(const float* x, const float* w, const float* bias, float* y,
                              const ConvTranspose2dShape& s);
void conv_transpose2d_backward(const float* x, const float* w, const float* dy, float* dx,
                               float* dw, float* db, const ConvTranspose2dShape& s);
void pixel_shuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int r);
void pixel_unshuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
                     int r);
void relu_forward(const float* x, float* y, int64_t count);
void relu_backward(const float* x, const float* dy, float* dx, int64_t count);
void tanh_forward(const float* x, float* y, int64_t count);
void tanh_backward(const float* y, const float* dy, float* dx, int64_t count);
void prelu_forward(const float* x, const float* alpha, float* y, int64_t n, int64_t c,
                   int64_t hw, int64_t num_alpha);
void prelu_backward(const float* x, const float* alpha, const float* dy, float* dx,
                    float* dalpha, int64_t n, int64_t c, int64_t hw, int64_t num_alpha);
double l1_loss_forward(const float* pred, const float* target, int64_t count);
void l1_loss_backward(const float* pred, const float* target, float* dpred, int64_t count,
                      float grad_scale);
double mse_loss_forward(const float* pred, const float* target, int64_t count);
void mse_loss_backward(const float* pred, const float* target, float* dpred, int64_t count,
                       float grad_scale);
void add_scaled(const float* a, const float* b, float alpha, float* y, int64_t count);
void channel_affine(const float* x, const float* scale, const float* shift, float* y, int64_t n,
                    int64_t c, int64_t hw);
void channel_sum(const float* x, float* out, int64_t n, int64_t c, int64_t hw);
void adam_step(float* param, const float* grad, float* m, float* v, int64_t count,
               const AdamConfig& cfg);
void batch_norm_train_forward(const float* x, const float* gamma, const float* beta, double eps,
                              float* y, float* mean, float* invstd, int64_t n, int64_t c, int64_t hw);
void batch_norm_backward(const float* x, const float* gamma, const float* mean, const float* invstd,
                         const float* dy, float* dx, float* dgamma, float* dbeta, int64_t n, int64_t c,
                         int64_t hw);
void global_avg_pool_forward(const float* x, float* y, int64_t n, int64_t c, int64_t hw);
void global_avg_pool_backward(const float* dy, float* dx, int64_t n, int64_t c, int64_t hw);
void sigmoid_forward(const float* x, float* y, int64_t count);
void sigmoid_backward(const float* y, const float* dy, float* dx, int64_t count);
void channel_gate_forward(const float* x, const float* s, float* y, int64_t n, int64_t c, int64_t hw);
void channel_gate_backward(const float* x, const float* s, const float* dy, float* dx, float* ds,
                           int64_t n, int64_t c, int64_t hw);
void pixel_gate_forward(const float* x, const float* g, float* y, int64_t n, int64_t c, int64_t gc,
                        int64_t hw);
void pixel_gate_backward(const float* x, const float* g, const float* dy, float* dx, float* dg,
                         int64_t n, int64_t c, int64_t gc, int64_t hw);
void max_pool2d_forward(const float* x, float* y, const MaxPool2dShape& s);
void max_pool2d_backward(const float* x, const float* dy, float* dx, const MaxPool2dShape& s);
}  // namespace ref

}  // namespace sr_native
