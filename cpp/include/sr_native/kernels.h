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

// ---------------------------------------------------------- pixel shuffle
// PyTorch's channel order (CRD): out[n, c, h*r+i, w*r+j] = in[n, c*r*r + i*r + j, h, w].
// pixel_shuffle:   x (N, C, H, W) with C % (r*r) == 0 -> y (N, C/(r*r), H*r, W*r).
// pixel_unshuffle: x (N, C, H, W) with H % r == 0, W % r == 0 -> y (N, C*r*r, H/r, W/r).
// Pure data movement: bit-exact. The backward of one is the other.
void pixel_shuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int r);
void pixel_unshuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
                     int r);

// ------------------------------------------------------------ activations
// Elementwise over `count` values. relu'(0) is taken as 0 (PyTorch's choice).
// NaN: relu(NaN) = NaN (y = x < 0 ? 0 : x), and relu_backward passes dy where
// x is NaN (dx = x <= 0 ? 0 : dy, the branch the forward took; PyTorch's too).
void relu_forward(const float* x, float* y, int64_t count);
void relu_backward(const float* x, const float* dy, float* dx, int64_t count);

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

// ----------------------------------------------------------------- resize
// See resize.h.

namespace ref {
void conv2d_forward(const float* x, const float* w, float* y, const Conv2dShape& s,
                    const Conv2dEpilogue& e);
void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db, const Conv2dShape& s, const float* dx_residual = nullptr);
void conv1x1_pair_forward(const float* x, const float* w1, const float* b1, const float* w2,
                          const float* b2, const float* residual, float* y,
                          const Conv1x1PairShape& s);
void pixel_shuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int r);
void pixel_unshuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
                     int r);
void relu_forward(const float* x, float* y, int64_t count);
void relu_backward(const float* x, const float* dy, float* dx, int64_t count);
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
}  // namespace ref

}  // namespace sr_native
