// Adam step on the GPU with the reference's arithmetic (cpp/ref/elementwise_ref.cpp):
// PyTorch's update with bias correction, weight decay added to the gradient,
// each element computed in double and rounded to float once per stored
// value. The double ops are written as explicit round-to-nearest intrinsics
// so the compiler cannot fuse them into FMAs: the results are the
// reference's bits. (The step is memory-bound; the double math is cheap on
// the data-centre GPUs this targets.)
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "launch_common.cuh"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda {
namespace {

using namespace common;

// The config widened to double as the reference widens it, plus the bias
// corrections it computes on the host side.
struct AdamConsts {
    double lr, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, bc1, bc2;
};

__device__ __forceinline__ void adam_one(float& p, float g_in, float& m, float& v, const AdamConsts& k) {
    const double pd = static_cast<double>(p);
    const double g = __dadd_rn(static_cast<double>(g_in), __dmul_rn(k.weight_decay, pd));
    const double mi = __dadd_rn(__dmul_rn(k.beta1, static_cast<double>(m)), __dmul_rn(k.one_minus_beta1, g));
    const double vi =
        __dadd_rn(__dmul_rn(k.beta2, static_cast<double>(v)), __dmul_rn(__dmul_rn(k.one_minus_beta2, g), g));
    m = __double2float_rn(mi);
    v = __double2float_rn(vi);
    const double denom = __dadd_rn(__dsqrt_rn(__ddiv_rn(vi, k.bc2)), k.eps);
    p = __double2float_rn(__dsub_rn(pd, __ddiv_rn(__dmul_rn(k.lr, __ddiv_rn(mi, k.bc1)), denom)));
}

__global__ void adam_kernel(float* param, const float* grad, float* m, float* v, int64_t count,
                            bool vec, AdamConsts k) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    const int64_t gid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    int64_t start = 0;
    if (vec) {
        const int64_t n4 = count >> 2;
        float4* p4 = reinterpret_cast<float4*>(param);
        const float4* g4 = reinterpret_cast<const float4*>(grad);
        float4* m4 = reinterpret_cast<float4*>(m);
        float4* v4 = reinterpret_cast<float4*>(v);
        for (int64_t i = gid; i < n4; i += stride) {
            float4 p = p4[i], mm = m4[i], vv = v4[i];
            const float4 g = g4[i];
            adam_one(p.x, g.x, mm.x, vv.x, k);
            adam_one(p.y, g.y, mm.y, vv.y, k);
            adam_one(p.z, g.z, mm.z, vv.z, k);
            adam_one(p.w, g.w, mm.w, vv.w, k);
            p4[i] = p;
            m4[i] = mm;
            v4[i] = vv;
        }
        start = n4 << 2;
    }
    for (int64_t i = start + gid; i < count; i += stride) {
        float p = param[i], mm = m[i], vv = v[i];
        adam_one(p, grad[i], mm, vv, k);
        param[i] = p;
        m[i] = mm;
        v[i] = vv;
    }
}

}  // namespace

void adam_step(float* param, const float* grad, float* m, float* v, int64_t count,
               const AdamConfig& cfg) {
    AdamConsts k;
    k.lr = static_cast<double>(cfg.lr);
    k.beta1 = static_cast<double>(cfg.beta1);
    k.one_minus_beta1 = 1.0 - static_cast<double>(cfg.beta1);
    k.beta2 = static_cast<double>(cfg.beta2);
    k.one_minus_beta2 = 1.0 - static_cast<double>(cfg.beta2);
    k.eps = static_cast<double>(cfg.eps);
    k.weight_decay = static_cast<double>(cfg.weight_decay);
    k.bc1 = 1.0 - std::pow(static_cast<double>(cfg.beta1), static_cast<double>(cfg.step));
    k.bc2 = 1.0 - std::pow(static_cast<double>(cfg.beta2), static_cast<double>(cfg.step));
    const bool vec = aligned16(param) && aligned16(grad) && aligned16(m) && aligned16(v);
    adam_kernel<<<blocks_for(vec ? count / 4 + 1 : count), kThreads>>>(param, grad, m, v, count, vec, k);
    SR_CUDA_CHECK_LAUNCH("adam_step");
}

}  // namespace sr_native::cuda
