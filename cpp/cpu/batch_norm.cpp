// Fast training-mode batch norm. Statistics come from per-plane partial sums
// (each (n, c) plane summed in double, in parallel), added per channel in a
// fixed order: the result does not depend on the thread count, and a batch of
// one or three channels still splits over N planes. The variance is summed
// around a shift (the channel's first value) so that a large mean does not
// cancel the variance away in one pass.
#include <cmath>
#include <vector>

#include "parallel.h"
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {

void batch_norm_train_forward(const float* x, const float* gamma, const float* beta, double eps,
                              float* y, float* mean, float* invstd, int64_t n, int64_t c, int64_t hw) {
    const int64_t planes = n * c;
    const bool parallel = planes * hw > kParallelMinCount;
    std::vector<double> plane_sum(static_cast<size_t>(planes)), plane_sq(static_cast<size_t>(planes));
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (parallel)
    for (int64_t p = 0; p < planes; ++p) {
        const float* xp = x + p * hw;
        const double shift = x[(p % c) * hw];  // channel's first value (plane 0 of that channel)
        double s = 0.0, q = 0.0;
#pragma omp simd reduction(+ : s, q)
        for (int64_t i = 0; i < hw; ++i) {
            const double d = static_cast<double>(xp[i]) - shift;
            s += d;
            q += d * d;
        }
        plane_sum[static_cast<size_t>(p)] = s;
        plane_sq[static_cast<size_t>(p)] = q;
    }
    const double count = static_cast<double>(n * hw);
    std::vector<float> scale(static_cast<size_t>(c));
    for (int64_t ch = 0; ch < c; ++ch) {
        double s = 0.0, q = 0.0;
        for (int64_t b = 0; b < n; ++b) {
            s += plane_sum[static_cast<size_t>(b * c + ch)];
            q += plane_sq[static_cast<size_t>(b * c + ch)];
        }
        const double shifted_mean = s / count;
        // Biased variance; rounding can leave a hair below zero for a constant channel.
        const double var = std::fmax(q / count - shifted_mean * shifted_mean, 0.0);
        const double inv = 1.0 / std::sqrt(var + eps);
        mean[ch] = static_cast<float>(x[ch * hw] + shifted_mean);
        invstd[ch] = static_cast<float>(inv);
        scale[static_cast<size_t>(ch)] = static_cast<float>(inv * gamma[ch]);
        // var is NaN when the channel holds NaN or infinity; fmax would drop it.
        if (std::isnan(q) || std::isinf(q)) invstd[ch] = scale[static_cast<size_t>(ch)] = NAN;
    }
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (parallel)
    for (int64_t p = 0; p < planes; ++p) {
        const int64_t ch = p % c;
        const float mu = mean[ch], k = scale[static_cast<size_t>(ch)], t = beta[ch];
        const float* xp = x + p * hw;
        float* yp = y + p * hw;
#pragma omp simd
        for (int64_t i = 0; i < hw; ++i) yp[i] = (xp[i] - mu) * k + t;
    }
}

void batch_norm_backward(const float* x, const float* gamma, const float* mean, const float* invstd,
                         const float* dy, float* dx, float* dgamma, float* dbeta, int64_t n, int64_t c,
                         int64_t hw) {
    const int64_t planes = n * c;
    const bool parallel = planes * hw > kParallelMinCount;
    // Per plane: sum(dy) and sum(dy * (x - mean)); xhat's invstd is applied per channel.
    std::vector<double> plane_dy(static_cast<size_t>(planes)), plane_dyx(static_cast<size_t>(planes));
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (parallel)
    for (int64_t p = 0; p < planes; ++p) {
        const double mu = mean[p % c];
        const float* xp = x + p * hw;
        const float* gp = dy + p * hw;
        double s = 0.0, sx = 0.0;
#pragma omp simd reduction(+ : s, sx)
        for (int64_t i = 0; i < hw; ++i) {
            const double g = gp[i];
            s += g;
            sx += g * (static_cast<double>(xp[i]) - mu);
        }
        plane_dy[static_cast<size_t>(p)] = s;
        plane_dyx[static_cast<size_t>(p)] = sx;
    }
    const double count = static_cast<double>(n * hw);
    std::vector<float> dy_mean(static_cast<size_t>(c)), xhat_coef(static_cast<size_t>(c)),
        dx_scale(static_cast<size_t>(c));
    for (int64_t ch = 0; ch < c; ++ch) {
        double s = 0.0, sx = 0.0;
        for (int64_t b = 0; b < n; ++b) {
            s += plane_dy[static_cast<size_t>(b * c + ch)];
            sx += plane_dyx[static_cast<size_t>(b * c + ch)];
        }
        const double inv = invstd[ch];
        const double sum_dy_xhat = sx * inv;
        if (dbeta) dbeta[ch] += static_cast<float>(s);
        if (dgamma) dgamma[ch] += static_cast<float>(sum_dy_xhat);
        dy_mean[static_cast<size_t>(ch)] = static_cast<float>(s / count);
        // xhat * sum(dy xhat) / M = (x - mean) * invstd^2 * sum(dy (x - mean)) / M
        xhat_coef[static_cast<size_t>(ch)] = static_cast<float>(inv * sum_dy_xhat / count);
        dx_scale[static_cast<size_t>(ch)] = static_cast<float>(inv * gamma[ch]);
    }
    if (!dx) return;
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (parallel)
    for (int64_t p = 0; p < planes; ++p) {
        const size_t ch = static_cast<size_t>(p % c);
        const float mu = mean[ch], a = dy_mean[ch], b = xhat_coef[ch], k = dx_scale[ch];
        const float* xp = x + p * hw;
        const float* gp = dy + p * hw;
        float* dp = dx + p * hw;
#pragma omp simd
        for (int64_t i = 0; i < hw; ++i) dp[i] = k * (gp[i] - a - (xp[i] - mu) * b);
    }
}

}  // namespace sr_native
