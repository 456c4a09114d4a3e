// Fast pixel-attention multiply. A full gate (C channels) is a flat
// elementwise product; a one-channel gate is split into spans of pixels so
// that dg's sum over channels stays in a small buffer while the channels are
// walked.
#include <algorithm>

#include "parallel.h"
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {
namespace {
constexpr int64_t kSpan = 1024;  // pixels per task for a one-channel gate (8 KiB of double sums)
}

void pixel_gate_forward(const float* x, const float* g, float* y, int64_t n, int64_t c, int64_t gc,
                        int64_t hw) {
    const int64_t count = n * c * hw;
    if (gc != 1) {
#pragma omp parallel for simd schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
        for (int64_t i = 0; i < count; ++i) y[i] = x[i] * g[i];
        return;
    }
    const int64_t planes = n * c;
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    for (int64_t p = 0; p < planes; ++p) {
        const float* gp = g + (p / c) * hw;
        const float* xp = x + p * hw;
        float* yp = y + p * hw;
#pragma omp simd
        for (int64_t i = 0; i < hw; ++i) yp[i] = xp[i] * gp[i];
    }
}

void pixel_gate_backward(const float* x, const float* g, const float* dy, float* dx, float* dg,
                         int64_t n, int64_t c, int64_t gc, int64_t hw) {
    const int64_t count = n * c * hw;
    if (gc != 1) {
        if (dx) {
#pragma omp parallel for simd schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
            for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * g[i];
        }
        if (dg) {
#pragma omp parallel for simd schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
            for (int64_t i = 0; i < count; ++i) dg[i] = dy[i] * x[i];
        }
        return;
    }
    const int64_t spans = (hw + kSpan - 1) / kSpan;
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    for (int64_t task = 0; task < n * spans; ++task) {
        const int64_t b = task / spans;
        const int64_t begin = (task % spans) * kSpan;
        const int64_t len = std::min(kSpan, hw - begin);
        const float* gp = g + b * hw + begin;
        double sums[kSpan];
        std::fill_n(sums, len, 0.0);
        for (int64_t ch = 0; ch < c; ++ch) {
            const int64_t base = (b * c + ch) * hw + begin;
            const float* xp = x + base;
            const float* yp = dy + base;
            if (dx) {
                float* dp = dx + base;
#pragma omp simd
                for (int64_t i = 0; i < len; ++i) dp[i] = yp[i] * gp[i];
            }
            if (dg) {
#pragma omp simd
                for (int64_t i = 0; i < len; ++i) sums[i] += static_cast<double>(yp[i]) * xp[i];
            }
        }
        if (dg) {
            float* dgp = dg + b * hw + begin;
            for (int64_t i = 0; i < len; ++i) dgp[i] = static_cast<float>(sums[i]);
        }
    }
}

}  // namespace sr_native
