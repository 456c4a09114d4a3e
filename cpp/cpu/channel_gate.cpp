// Fast channel-attention multiply: one (n, c) plane per task, the gate a
// scalar per plane.
#include "parallel.h"
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {

void channel_gate_forward(const float* x, const float* s, float* y, int64_t n, int64_t c, int64_t hw) {
    const int64_t planes = n * c;
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (planes * hw > kParallelMinCount)
    for (int64_t p = 0; p < planes; ++p) {
        const float gate = s[p];
        const float* xp = x + p * hw;
        float* yp = y + p * hw;
#pragma omp simd
        for (int64_t i = 0; i < hw; ++i) yp[i] = xp[i] * gate;
    }
}

void channel_gate_backward(const float* x, const float* s, const float* dy, float* dx, float* ds,
                           int64_t n, int64_t c, int64_t hw) {
    const int64_t planes = n * c;
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (planes * hw > kParallelMinCount)
    for (int64_t p = 0; p < planes; ++p) {
        const float gate = s[p];
        const float* xp = x + p * hw;
        const float* gp = dy + p * hw;
        if (dx) {
            float* dp = dx + p * hw;
#pragma omp simd
            for (int64_t i = 0; i < hw; ++i) dp[i] = gp[i] * gate;
        }
        if (ds) {
            double sum = 0.0;
#pragma omp simd reduction(+ : sum)
            for (int64_t i = 0; i < hw; ++i) sum += static_cast<double>(gp[i]) * xp[i];
            ds[p] = static_cast<float>(sum);
        }
    }
}

}  // namespace sr_native
