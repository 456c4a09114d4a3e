// ReLU and PReLU on the GPU, forward and backward, computing exactly what
// cpp/ref/activations_ref.cpp computes (the float products use __fmul_rn so
// they are never fused into something else).
//
// dx may be x or dy itself: every element is read and written by the same
// thread, reads first. dalpha is reduced deterministically: fixed blocks per
// channel write double partial sums, a second kernel adds them in order.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "launch_common.cuh"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda {
namespace {

using namespace common;

// NaN passes through relu (x < 0 is false for NaN) and its gradient passes dy
// there, as on the CPU (cpp/include/sr_native/kernels.h states the rule).
struct ReluOp {
    __device__ float operator()(float v) const { return v < 0.0f ? 0.0f : v; }
};
struct ReluGradOp {
    __device__ float operator()(float v, float g) const { return v <= 0.0f ? 0.0f : g; }
};

// y = op(x); float4 when both pointers are 16-byte aligned (vec), the count%4
// tail element by element.
template <class Op>
__global__ void map1(const float* x, float* y, int64_t count, bool vec, Op op) {
    const int64_t stride = grid_stride();
    int64_t start = 0;
    if (vec) {
        const int64_t n4 = count >> 2;
        const float4* x4 = reinterpret_cast<const float4*>(x);
        float4* y4 = reinterpret_cast<float4*>(y);
        for (int64_t i = global_id(); i < n4; i += stride) {
            float4 v = x4[i];
            v.x = op(v.x);
            v.y = op(v.y);
            v.z = op(v.z);
            v.w = op(v.w);
            y4[i] = v;
        }
        start = n4 << 2;
    }
    for (int64_t i = start + global_id(); i < count; i += stride) y[i] = op(x[i]);
}

template <class Op>
__global__ void map2(const float* a, const float* b, float* y, int64_t count, bool vec, Op op) {
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
            r.x = op(u.x, v.x);
            r.y = op(u.y, v.y);
            r.z = op(u.z, v.z);
            r.w = op(u.w, v.w);
            y4[i] = r;
        }
        start = n4 << 2;
    }
    for (int64_t i = start + global_id(); i < count; i += stride) y[i] = op(a[i], b[i]);
}

// PReLU forward over (N, C, HW) flattened. The channel of element e is
// (e / hw) % c; rather than dividing per element, each thread divides once and
// then steps its (position in plane, channel) pair by the grid stride.
__global__ void prelu_forward_kernel(const float* x, const float* alpha, float* y, int64_t total,
                                     int64_t c, int64_t hw, bool shared_alpha) {
    const int64_t stride = grid_stride();
    const int64_t step_i = stride % hw, step_ch = (stride / hw) % c;
    const int64_t e0 = global_id();
    int64_t i = e0 % hw, ch = (e0 / hw) % c;
    const float a0 = alpha[0];
    for (int64_t e = e0; e < total; e += stride) {
        const float a = shared_alpha ? a0 : alpha[ch];
        const float v = x[e];
        y[e] = v > 0.0f ? v : __fmul_rn(a, v);
        i += step_i;
        ch += step_ch;
        if (i >= hw) {
            i -= hw;
            ++ch;
        }
        if (ch >= c) ch -= c;  // ch < 2c here: (c-1) + (c-1) + 1
    }
}

// PReLU backward. Grid (B, min(C, 65535)): gridDim.x = B blocks share each
// channel, walking its N*HW elements k = b*hw + i with stride B*blockDim.x.
// Writes dx (if not null) and, if partial is not null, the block's double sum
// of x*dy over x <= 0 into partial[ch*B + blockIdx.x]. The split depends only
// on the shape, so the sums are the same bits on every run.
__global__ void prelu_backward_kernel(const float* x, const float* alpha, const float* dy, float* dx,
                                      double* partial, int64_t n, int64_t c, int64_t hw,
                                      bool shared_alpha) {
    __shared__ double smem[32];
    const int64_t nblk = gridDim.x;
    const int64_t stride = nblk * blockDim.x;
    const int64_t step_b = stride / hw, step_i = stride % hw;
    const int64_t k0 = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t b0 = k0 / hw, i0 = k0 % hw;
    for (int64_t ch = blockIdx.y; ch < c; ch += gridDim.y) {
        const float a = alpha[shared_alpha ? 0 : ch];
        double acc = 0.0;
        int64_t b = b0, i = i0;
        while (b < n) {
            const int64_t e = (b * c + ch) * hw + i;
            const float v = x[e], g = dy[e];
            if (dx) dx[e] = v > 0.0f ? g : __fmul_rn(a, g);
            if (v <= 0.0f) acc += static_cast<double>(v) * static_cast<double>(g);  // exact product
            i += step_i;
            b += step_b;
            if (i >= hw) {
                i -= hw;
                ++b;
            }
        }
        if (partial) {  // uniform over the block: block_sum's barriers are safe
            const double s = block_sum(acc, smem);
            if (threadIdx.x == 0) partial[ch * nblk + blockIdx.x] = s;
        }
    }
}

// dalpha += the per-channel sums, each the B partials added in order. With one
// shared alpha the channels are added one by one in float, as the reference
// does (dalpha[0] += float(channel sum) per channel).
__global__ void prelu_dalpha_kernel(const double* partial, float* dalpha, int64_t c, int64_t nblk,
                                    bool shared_alpha) {
    auto channel_total = [&](int64_t ch) {
        double s = 0.0;
        for (int64_t j = 0; j < nblk; ++j) s += partial[ch * nblk + j];
        return s;
    };
    if (shared_alpha) {
        if (global_id() != 0) return;
        float d = dalpha[0];
        for (int64_t ch = 0; ch < c; ++ch) d += static_cast<float>(channel_total(ch));
        dalpha[0] = d;
        return;
    }
    for (int64_t ch = global_id(); ch < c; ch += grid_stride())
        dalpha[ch] += static_cast<float>(channel_total(ch));
}

}  // namespace

void relu_forward(const float* x, float* y, int64_t count) {
    const bool vec = aligned16(x) && aligned16(y);
    map1<<<blocks_for(vec ? count / 4 + 1 : count), kThreads>>>(x, y, count, vec, ReluOp{});
    SR_CUDA_CHECK_LAUNCH("relu_forward");
}

void relu_backward(const float* x, const float* dy, float* dx, int64_t count) {
    const bool vec = aligned16(x) && aligned16(dy) && aligned16(dx);
    map2<<<blocks_for(vec ? count / 4 + 1 : count), kThreads>>>(x, dy, dx, count, vec, ReluGradOp{});
    SR_CUDA_CHECK_LAUNCH("relu_backward");
}

void prelu_forward(const float* x, const float* alpha, float* y, int64_t n, int64_t c, int64_t hw,
                   int64_t num_alpha) {
    const int64_t total = n * c * hw;
    prelu_forward_kernel<<<blocks_for(total), kThreads>>>(x, alpha, y, total, c, hw, num_alpha == 1);
    SR_CUDA_CHECK_LAUNCH("prelu_forward");
}

void prelu_backward(const float* x, const float* alpha, const float* dy, float* dx, float* dalpha,
                    int64_t n, int64_t c, int64_t hw, int64_t num_alpha) {
    if (!dx && !dalpha) return;
    const char* op = "prelu_backward";
    // Blocks per channel: about 16 elements per thread, at most ~2048 blocks
    // in all (and at least one per channel). Depends on the shape only.
    const int64_t per_channel = n * hw;
    const int64_t nblk = std::clamp<int64_t>((per_channel + kThreads * 16 - 1) / (kThreads * 16), 1,
                                             std::max<int64_t>(1, 2048 / c));
    const dim3 grid(static_cast<unsigned>(nblk), static_cast<unsigned>(std::min<int64_t>(c, 65535)));
    const bool shared_alpha = num_alpha == 1;
    Scratch partial(dalpha ? static_cast<size_t>(c * nblk) * sizeof(double) : 0, op);
    prelu_backward_kernel<<<grid, kThreads>>>(x, alpha, dy, dx, partial.as<double>(), n, c, hw,
                                              shared_alpha);
    SR_CUDA_CHECK_LAUNCH(op);
    if (!dalpha) return;
    prelu_dalpha_kernel<<<shared_alpha ? 1 : blocks_for(c), kThreads>>>(partial.as<double>(), dalpha, c,
                                                                         nblk, shared_alpha);
    SR_CUDA_CHECK_LAUNCH(op);
}

}  // namespace sr_native::cuda
