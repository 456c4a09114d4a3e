// Elementwise ops on the GPU: add_scaled, scale, channel_affine, and the
// deterministic reductions channel_sum and sum_squares.
//
// The float arithmetic is the reference's (cpp/ref/elementwise_ref.cpp), with
// explicit round-to-nearest ops so the compiler cannot fuse a multiply and an
// add into an FMA: the results are the reference's bits. y may alias the
// inputs: each element is read and written by one thread, reads first.
//
// Reductions: fixed grids that depend on the shape only, double partial sums,
// fixed-order trees and a fixed-order second pass (no atomics), so the same
// input gives the same bits on every run.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "launch_common.cuh"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda {
namespace {

using namespace common;

constexpr int64_t kReduceMaxBlocks = 1024;





// y = a + alpha * b (float4 when a, b, y are all 16-byte aligned).
__device__ __forceinline__ float axpy(float a, float alpha, float b) {
    return __fadd_rn(a, __fmul_rn(alpha, b));
}

__global__ void add_scaled_kernel(const float* a, const float* b, float alpha, float* y,
                                  int64_t count, bool vec) {
    const int64_t stride = grid_stride();
    int64_t start = 0;
    if (vec) {
        const int64_t n4 = count >> 2;
        const float4* a4 = reinterpret_cast<const float4*>(a);
        const float4* b4 = reinterpret_cast<const float4*>(b);
        float4* y4 = reinterpret_cast<float4*>(y);
        for (int64_t i = global_id(); i < n4; i += stride) {
            const float4 u = a4[i], v = b4[i];
            float4 r;
            r.x = axpy(u.x, alpha, v.x);
            r.y = axpy(u.y, alpha, v.y);
            r.z = axpy(u.z, alpha, v.z);
            r.w = axpy(u.w, alpha, v.w);
            y4[i] = r;
        }
        start = n4 << 2;
    }
    for (int64_t i = start + global_id(); i < count; i += stride) y[i] = axpy(a[i], alpha, b[i]);
}

__global__ void scale_kernel(const float* x, float alpha, float* y, int64_t count, bool vec) {
    const int64_t stride = grid_stride();
    int64_t start = 0;
    if (vec) {
        const int64_t n4 = count >> 2;
        const float4* x4 = reinterpret_cast<const float4*>(x);
        float4* y4 = reinterpret_cast<float4*>(y);
        for (int64_t i = global_id(); i < n4; i += stride) {
            float4 v = x4[i];
            v.x = __fmul_rn(alpha, v.x);
            v.y = __fmul_rn(alpha, v.y);
            v.z = __fmul_rn(alpha, v.z);
            v.w = __fmul_rn(alpha, v.w);
            y4[i] = v;
        }
        start = n4 << 2;
    }
    for (int64_t i = start + global_id(); i < count; i += stride) y[i] = __fmul_rn(alpha, x[i]);
}

// y = x * scale[c] + shift[c] over (N, C, HW) flattened. Each thread divides
// once for its first element's (position in plane, channel), then steps that
// pair by the grid stride instead of dividing per element.
__global__ void channel_affine_kernel(const float* x, const float* scale, const float* shift,
                                      float* y, int64_t total, int64_t c, int64_t hw) {
    const int64_t stride = grid_stride();
    const int64_t step_i = stride % hw, step_ch = (stride / hw) % c;
    const int64_t e0 = global_id();
    int64_t i = e0 % hw, ch = (e0 / hw) % c;
    for (int64_t e = e0; e < total; e += stride) {
        y[e] = __fadd_rn(__fmul_rn(x[e], scale[ch]), shift[ch]);
        i += step_i;
        ch += step_ch;
        if (i >= hw) {
            i -= hw;
            ++ch;
        }
        if (ch >= c) ch -= c;  // ch < 2c here: (c-1) + (c-1) + 1
    }
}

// Per-channel partial sums. Grid (B, min(C, 65535)): the B blocks of a channel
// walk its N*HW elements k = b*hw + i with stride B*blockDim.x; block
// blockIdx.x writes its double sum to partial[ch*B + blockIdx.x].
__global__ void channel_partial_kernel(const float* x, double* partial, int64_t n, int64_t c,
                                       int64_t hw) {
    __shared__ double smem[32];
    const int64_t nblk = gridDim.x;
    const int64_t stride = nblk * blockDim.x;
    const int64_t step_b = stride / hw, step_i = stride % hw;
    const int64_t k0 = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t b0 = k0 / hw, i0 = k0 % hw;
    for (int64_t ch = blockIdx.y; ch < c; ch += gridDim.y) {
        double acc = 0.0;
        int64_t b = b0, i = i0;
        while (b < n) {
            acc += static_cast<double>(x[(b * c + ch) * hw + i]);
            i += step_i;
            b += step_b;
            if (i >= hw) {
                i -= hw;
                ++b;
            }
        }
        const double s = block_sum(acc, smem);
        if (threadIdx.x == 0) partial[ch * nblk + blockIdx.x] = s;
    }
}

// out[ch] += float(the B partials of ch, added in order).
__global__ void channel_final_kernel(const double* partial, float* out, int64_t c, int64_t nblk) {
    for (int64_t ch = global_id(); ch < c; ch += grid_stride()) {
        double s = 0.0;
        for (int64_t j = 0; j < nblk; ++j) s += partial[ch * nblk + j];
        out[ch] += static_cast<float>(s);
    }
}

// Sum of x*x, grouped as the losses' reduction (cpp/cuda/losses.cu): thread t
// adds the groups of four t, t + S, ...; the count % 4 tail goes to threads
// 0..2; the same grouping with or without float4 loads.
__global__ void sum_squares_partial_kernel(const float* x, int64_t count, bool vec, double* partial) {
    __shared__ double smem[32];
    const int64_t stride = grid_stride(), n4 = count >> 2;
    double acc = 0.0;
    auto sq = [](float v) {
        const double d = static_cast<double>(v);
        return d * d;
    };
    if (vec) {
        const float4* x4 = reinterpret_cast<const float4*>(x);
        for (int64_t j = global_id(); j < n4; j += stride) {
            const float4 v = x4[j];
            acc += sq(v.x);
            acc += sq(v.y);
            acc += sq(v.z);
            acc += sq(v.w);
        }
    } else {
        for (int64_t j = global_id(); j < n4; j += stride) {
            const float* p = x + 4 * j;
            acc += sq(p[0]);
            acc += sq(p[1]);
            acc += sq(p[2]);
            acc += sq(p[3]);
        }
    }
    const int64_t tail = count - (n4 << 2), g = global_id();
    if (g < tail) acc += sq(x[(n4 << 2) + g]);
    const double s = block_sum(acc, smem);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void sum_partials_kernel(const double* partial, int64_t parts, double* out) {
    __shared__ double smem[32];
    double acc = 0.0;
    for (int64_t i = threadIdx.x; i < parts; i += blockDim.x) acc += partial[i];
    const double s = block_sum(acc, smem);
    if (threadIdx.x == 0) out[0] = s;
}

}  // namespace

void add_scaled(const float* a, const float* b, float alpha, float* y, int64_t count) {
    const bool vec = aligned16(a) && aligned16(b) && aligned16(y);
    add_scaled_kernel<<<blocks_for(vec ? count / 4 + 1 : count), kThreads>>>(a, b, alpha, y, count,
                                                                              vec);
    SR_CUDA_CHECK_LAUNCH("add_scaled");
}

void scale(const float* x, float alpha, float* y, int64_t count) {
    const bool vec = aligned16(x) && aligned16(y);
    scale_kernel<<<blocks_for(vec ? count / 4 + 1 : count), kThreads>>>(x, alpha, y, count, vec);
    SR_CUDA_CHECK_LAUNCH("scale");
}

void channel_affine(const float* x, const float* scale, const float* shift, float* y, int64_t n,
                    int64_t c, int64_t hw) {
    const int64_t total = n * c * hw;
    channel_affine_kernel<<<blocks_for(total), kThreads>>>(x, scale, shift, y, total, c, hw);
    SR_CUDA_CHECK_LAUNCH("channel_affine");
}

void channel_sum(const float* x, float* out, int64_t n, int64_t c, int64_t hw) {
    const char* op = "channel_sum";
    // Blocks per channel: about 16 elements per thread, at most ~2048 blocks
    // in all (at least one per channel). A function of the shape only.
    const int64_t per_channel = n * hw;
    const int64_t nblk = std::clamp<int64_t>((per_channel + kThreads * 16 - 1) / (kThreads * 16), 1,
                                             std::max<int64_t>(1, 2048 / c));
    Scratch partial(static_cast<size_t>(c * nblk) * sizeof(double), op);
    const dim3 grid(static_cast<unsigned>(nblk), static_cast<unsigned>(std::min<int64_t>(c, 65535)));
    channel_partial_kernel<<<grid, kThreads>>>(x, partial.as<double>(), n, c, hw);
    SR_CUDA_CHECK_LAUNCH(op);
    channel_final_kernel<<<blocks_for(c), kThreads>>>(partial.as<double>(), out, c, nblk);
    SR_CUDA_CHECK_LAUNCH(op);
}

double sum_squares(const float* x, int64_t count) {
    const char* op = "sum_squares";
    const int64_t parts =
        std::clamp<int64_t>((count + kThreads * 16 - 1) / (kThreads * 16), 1, kReduceMaxBlocks);
    Scratch buf(static_cast<size_t>(parts + 1) * sizeof(double), op);
    double* partial = buf.as<double>();
    sum_squares_partial_kernel<<<static_cast<unsigned>(parts), kThreads>>>(x, count, aligned16(x),
                                                                          partial);
    SR_CUDA_CHECK_LAUNCH(op);
    sum_partials_kernel<<<1, kThreads>>>(partial, parts, partial + parts);
    SR_CUDA_CHECK_LAUNCH(op);
    double total = 0.0;
    SR_CUDA_CHECK(cudaMemcpy(&total, partial + parts, sizeof(double), cudaMemcpyDeviceToHost), op);
    return total;
}

}  // namespace sr_native::cuda
