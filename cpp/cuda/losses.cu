// L1 and MSE losses on the GPU.
//
// Forward: a deterministic two-pass reduction in double. Pass 1 runs a grid
// whose size depends only on `count`; thread t of the grid adds, in order, the
// groups of four elements t, t + S, t + 2S, ... (S = threads in the grid), the
// last count % 4 elements going one each to threads 0..2; each block adds its
// threads in a fixed tree. Pass 2 (one block) adds the block sums in a fixed
// order. float4 loads are used when both pointers are 16-byte aligned, with
// the same grouping, so the result does not even depend on the alignment.
// The mean goes back to the host with cudaMemcpy (which waits).
//
// Backward: the reference's arithmetic exactly (scale factor in double, as
// cpp/ref/losses_ref.cpp; sign(0) = 0 for L1).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "launch_common.cuh"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda {
namespace {

using namespace common;

constexpr int64_t kReduceMaxBlocks = 1024;





struct AbsDiff {
    __device__ double operator()(float p, float t) const {
        return fabs(static_cast<double>(p) - static_cast<double>(t));
    }
};
struct SquaredDiff {
    __device__ double operator()(float p, float t) const {
        const double d = static_cast<double>(p) - static_cast<double>(t);
        return d * d;
    }
};

template <class Term>
__global__ void loss_partial_kernel(const float* pred, const float* target, int64_t count, bool vec,
                                    double* partial, Term term) {
    __shared__ double smem[32];
    const int64_t stride = grid_stride(), n4 = count >> 2;
    double acc = 0.0;
    if (vec) {
        const float4* p4 = reinterpret_cast<const float4*>(pred);
        const float4* t4 = reinterpret_cast<const float4*>(target);
        for (int64_t j = global_id(); j < n4; j += stride) {
            const float4 p = p4[j], t = t4[j];
            acc += term(p.x, t.x);
            acc += term(p.y, t.y);
            acc += term(p.z, t.z);
            acc += term(p.w, t.w);
        }
    } else {
        for (int64_t j = global_id(); j < n4; j += stride) {
            const float* p = pred + 4 * j;
            const float* t = target + 4 * j;
            acc += term(p[0], t[0]);
            acc += term(p[1], t[1]);
            acc += term(p[2], t[2]);
            acc += term(p[3], t[3]);
        }
    }
    const int64_t tail = count - (n4 << 2), g = global_id();
    if (g < tail) acc += term(pred[(n4 << 2) + g], target[(n4 << 2) + g]);
    const double s = block_sum(acc, smem);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// One block: out[0] = the parts partial sums, added in a fixed order.
__global__ void sum_partials_kernel(const double* partial, int64_t parts, double* out) {
    __shared__ double smem[32];
    double acc = 0.0;
    for (int64_t i = threadIdx.x; i < parts; i += blockDim.x) acc += partial[i];
    const double s = block_sum(acc, smem);
    if (threadIdx.x == 0) out[0] = s;
}

template <class Term>
double mean_of(const float* pred, const float* target, int64_t count, Term term, const char* op) {
    // About 16 elements per thread, at most kReduceMaxBlocks blocks: a
    // function of count alone, so the bits do not change between runs.
    const int64_t parts =
        std::clamp<int64_t>((count + kThreads * 16 - 1) / (kThreads * 16), 1, kReduceMaxBlocks);
    Scratch buf(static_cast<size_t>(parts + 1) * sizeof(double), op);
    double* partial = buf.as<double>();
    const bool vec = aligned16(pred) && aligned16(target);
    loss_partial_kernel<<<static_cast<unsigned>(parts), kThreads>>>(pred, target, count, vec, partial,
                                                                   term);
    SR_CUDA_CHECK_LAUNCH(op);
    sum_partials_kernel<<<1, kThreads>>>(partial, parts, partial + parts);
    SR_CUDA_CHECK_LAUNCH(op);
    double total = 0.0;
    SR_CUDA_CHECK(cudaMemcpy(&total, partial + parts, sizeof(double), cudaMemcpyDeviceToHost), op);
    return total / static_cast<double>(count);
}

// dpred = d > 0 ? g : (d < 0 ? -g : 0), d = pred - target in float; g is the
// reference's double grad_scale / count rounded to float once (the same as
// rounding +-g per element, since rounding is symmetric).
__global__ void l1_backward_kernel(const float* pred, const float* target, float* dpred,
                                   int64_t count, float g) {
    for (int64_t i = global_id(); i < count; i += grid_stride()) {
        const float d = pred[i] - target[i];
        dpred[i] = d > 0.0f ? g : (d < 0.0f ? -g : 0.0f);
    }
}

// dpred = float(g * (double(pred) - double(target))), g = 2 grad_scale / count
// in double, as the reference (explicit round-to-nearest ops: no fusing).
__global__ void mse_backward_kernel(const float* pred, const float* target, float* dpred,
                                    int64_t count, double g) {
    for (int64_t i = global_id(); i < count; i += grid_stride()) {
        const double d = __dsub_rn(static_cast<double>(pred[i]), static_cast<double>(target[i]));
        dpred[i] = __double2float_rn(__dmul_rn(g, d));
    }
}

}  // namespace

double l1_loss_forward(const float* pred, const float* target, int64_t count) {
    return mean_of(pred, target, count, AbsDiff{}, "l1_loss_forward");
}

double mse_loss_forward(const float* pred, const float* target, int64_t count) {
    return mean_of(pred, target, count, SquaredDiff{}, "mse_loss_forward");
}

void l1_loss_backward(const float* pred, const float* target, float* dpred, int64_t count,
                      float grad_scale) {
    const double g = static_cast<double>(grad_scale) / static_cast<double>(count);
    l1_backward_kernel<<<blocks_for(count), kThreads>>>(pred, target, dpred, count,
                                                        static_cast<float>(g));
    SR_CUDA_CHECK_LAUNCH("l1_loss_backward");
}

void mse_loss_backward(const float* pred, const float* target, float* dpred, int64_t count,
                       float grad_scale) {
    const double g = 2.0 * static_cast<double>(grad_scale) / static_cast<double>(count);
    mse_backward_kernel<<<blocks_for(count), kThreads>>>(pred, target, dpred, count, g);
    SR_CUDA_CHECK_LAUNCH("mse_loss_backward");
}

}  // namespace sr_native::cuda
