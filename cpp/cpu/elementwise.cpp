// Fast elementwise ops: the reference loops split over threads, vectorised
// by the compiler. channel_sum is chunked per channel like the losses.
#include <cmath>
#include <vector>

#include "parallel.h"
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {

void add_scaled(const float* a, const float* b, float alpha, float* y, int64_t count) {
#pragma omp parallel for simd schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    for (int64_t i = 0; i < count; ++i) y[i] = a[i] + alpha * b[i];
}

void channel_affine(const float* x, const float* scale, const float* shift, float* y, int64_t n,
                    int64_t c, int64_t hw) {
    const int64_t planes = n * c;
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (planes * hw > kParallelMinCount)
    for (int64_t p = 0; p < planes; ++p) {
        const float s = scale[p % c], t = shift[p % c];
        const float* xp = x + p * hw;
        float* yp = y + p * hw;
#pragma omp simd
        for (int64_t i = 0; i < hw; ++i) yp[i] = xp[i] * s + t;
    }
}

void channel_sum(const float* x, float* out, int64_t n, int64_t c, int64_t hw) {
    std::vector<double> sums(static_cast<size_t>(c), 0.0);
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (n * c * hw > kParallelMinCount)
    for (int64_t ch = 0; ch < c; ++ch) {
        double acc = 0.0;
        for (int64_t b = 0; b < n; ++b) {
            const float* p = x + (b * c + ch) * hw;
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (int64_t i = 0; i < hw; ++i) s += p[i];
            acc += s;
        }
        sums[static_cast<size_t>(ch)] = acc;
    }
    for (int64_t ch = 0; ch < c; ++ch) out[ch] += static_cast<float>(sums[static_cast<size_t>(ch)]);
}

void adam_step(float* param, const float* grad, float* m, float* v, int64_t count,
               const AdamConfig& cfg) {
    const float b1 = cfg.beta1, b2 = cfg.beta2, eps = cfg.eps, wd = cfg.weight_decay;
    const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), static_cast<double>(cfg.step)));
    const float inv_sqrt_bc2 =
        static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(static_cast<double>(b2), static_cast<double>(cfg.step))));
    const float step_size = cfg.lr / bc1;
#pragma omp parallel for simd schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    for (int64_t i = 0; i < count; ++i) {
        const float g = grad[i] + wd * param[i];
        const float mi = b1 * m[i] + (1.0f - b1) * g;
        const float vi = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] -= step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
    }
}

}  // namespace sr_native
