// The CUDA build of every kernel (cpp/cuda/*.cu, one op per file), with the
// same shape and gradient contracts as kernels.h and resize.h.
//
// Conventions, beyond those of kernels.h:
//  - Every pointer is a device pointer on the current device; the caller (the
//    binding in cpp/cuda/bindings/) has validated shapes and sizes.
//  - Every function enqueues its work on the legacy default stream (stream 0)
//    and returns without waiting, except those that return a value to the
//    host (the losses, sum_squares), which wait for their result.
//  - Scratch memory comes from the stream-ordered pool (cuda_scratch below),
//    never from a plain cudaMalloc inside a hot path.
//  - After every launch the wrapper checks cudaGetLastError(); a failure
//    throws CudaError naming the op, the file and the line.
//  - Reductions are deterministic: fixed-size partial sums, combined in a
//    fixed order (no floating-point atomics), so the same input gives the same
//    bits on every run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "sr_native/kernels.h"
#include "sr_native/resize.h"

namespace sr_native::cuda {

// A failed CUDA call or launch. what() reads "<op>: <CUDA error text> (<name>) at <file>:<line>".
class CudaError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws CudaError when code (a cudaError_t) is not cudaSuccess.
void check(int code, const char* op, const char* file, int line);
// check(cudaGetLastError()) after a launch.
void check_launch(const char* op, const char* file, int line);

#define SR_CUDA_CHECK(call, op) ::sr_native::cuda::check(static_cast<int>(call), (op), __FILE__, __LINE__)
#define SR_CUDA_CHECK_LAUNCH(op) ::sr_native::cuda::check_launch((op), __FILE__, __LINE__)

// Stream-ordered device memory (cudaMallocAsync / cudaFreeAsync on stream 0,
// from a pool that keeps freed memory for reuse). Throws CudaError when the
// device is out of memory.
void* device_alloc(size_t bytes, const char* op);
void device_free(void* p) noexcept;

// Scratch for the duration of one op: freed (stream-ordered) when it goes out
// of scope, so later work on stream 0 may reuse it only after this op's kernels.
class Scratch {
public:
    Scratch(size_t bytes, const char* op) : p_(bytes ? device_alloc(bytes, op) : nullptr) {}
    ~Scratch() { device_free(p_); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    template <typename T>
    T* as() const { return static_cast<T*>(p_); }

private:
    void* p_;
};

// ---------------------------------------------------------------- conv2d
// cpp/cuda/conv2d.cu, conv2d_backward.cu, conv1x1_pair.cu.
// Preconditions as kernels.h: y shares no memory with x or w; residual may be y
// itself (each output element reads its residual before writing it);
// dx_residual may be dx itself. dw and db are accumulated (+=).
void conv2d_forward(const float* x, const float* w, float* y, const Conv2dShape& s,
                    const Conv2dEpilogue& e);
void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db, const Conv2dShape& s, const float* dx_residual = nullptr);
void conv1x1_pair_forward(const float* x, const float* w1, const float* b1, const float* w2,
                          const float* b2, const float* residual, float* y,
                          const Conv1x1PairShape& s);

// ---------------------------------------------------------- pixel shuffle
// cpp/cuda/pixel_shuffle.cu. Bit-exact, as kernels.h.
void pixel_shuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int r);
void pixel_unshuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int r);

// ------------------------------------------------------------ activations
// cpp/cuda/activations.cu. dx may be x or dy itself; dalpha accumulated.
void relu_forward(const float* x, float* y, int64_t count);
void relu_backward(const float* x, const float* dy, float* dx, int64_t count);
void prelu_forward(const float* x, const float* alpha, float* y, int64_t n, int64_t c, int64_t hw,
                   int64_t num_alpha);
void prelu_backward(const float* x, const float* alpha, const float* dy, float* dx, float* dalpha,
                    int64_t n, int64_t c, int64_t hw, int64_t num_alpha);

// ----------------------------------------------------------------- losses
// cpp/cuda/losses.cu. The forward returns the mean to the host (waits);
// partial sums in double.
double l1_loss_forward(const float* pred, const float* target, int64_t count);
void l1_loss_backward(const float* pred, const float* target, float* dpred, int64_t count,
                      float grad_scale);
double mse_loss_forward(const float* pred, const float* target, int64_t count);
void mse_loss_backward(const float* pred, const float* target, float* dpred, int64_t count,
                       float grad_scale);

// ------------------------------------------------------- elementwise ops
// cpp/cuda/elementwise.cu. y may alias a, b or x. channel_affine's scale and
// shift are device arrays of C values; channel_sum accumulates into out (C).
void add_scaled(const float* a, const float* b, float alpha, float* y, int64_t count);
void scale(const float* x, float alpha, float* y, int64_t count);
void channel_affine(const float* x, const float* scale, const float* shift, float* y, int64_t n,
                    int64_t c, int64_t hw);
void channel_sum(const float* x, float* out, int64_t n, int64_t c, int64_t hw);
// Sum of x*x in double (gradient clipping's global norm); waits.
double sum_squares(const float* x, int64_t count);

// cpp/cuda/adam.cu. As kernels.h's adam_step (PyTorch's update).
void adam_step(float* param, const float* grad, float* m, float* v, int64_t count,
               const AdamConfig& cfg);

// ----------------------------------------------------------------- resize
// cpp/cuda/resize.cu. As resize.h (same taps, same pass order, the same
// rounding of the intermediate for integer dtypes); x and y are device
// arrays HxWxC of `dtype`. Agrees with the CPU reference within 1e-5
// relative for float32 and within one level for integers.
void resize(const void* x, void* y, ResizeDtype dtype, const ResizeShape& s, ResizeMethod method,
            bool antialias);

}  // namespace sr_native::cuda
