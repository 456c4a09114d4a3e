// Reference training-mode batch norm, forward and backward: two passes over
// each channel (mean, then the squared deviations) in double, straight from
// the definitions.
#include <cmath>

#include "sr_native/kernels.h"

namespace sr_native::ref {

void batch_norm_train_forward(const float* x, const float* gamma, const float* beta, double eps,
                              float* y, float* mean, float* invstd, int64_t n, int64_t c, int64_t hw) {
    const double count = static_cast<double>(n * hw);
    for (int64_t ch = 0; ch < c; ++ch) {
        double sum = 0.0;
        for (int64_t b = 0; b < n; ++b)
            for (int64_t i = 0; i < hw; ++i) sum += x[(b * c + ch) * hw + i];
        const double mu = sum / count;
        double sq = 0.0;
        for (int64_t b = 0; b < n; ++b)
            for (int64_t i = 0; i < hw; ++i) {
                const double d = x[(b * c + ch) * hw + i] - mu;
                sq += d * d;
            }
        const double inv = 1.0 / std::sqrt(sq / count + eps);  // biased variance
        for (int64_t b = 0; b < n; ++b)
            for (int64_t i = 0; i < hw; ++i) {
                const int64_t k = (b * c + ch) * hw + i;
                y[k] = static_cast<float>((x[k] - mu) * inv * gamma[ch] + beta[ch]);
            }
        mean[ch] = static_cast<float>(mu);
        invstd[ch] = static_cast<float>(inv);
    }
}

void batch_norm_backward(const float* x, const float* gamma, const float* mean, const float* invstd,
                         const float* dy, float* dx, float* dgamma, float* dbeta, int64_t n, int64_t c,
                         int64_t hw) {
    const double count = static_cast<double>(n * hw);
    for (int64_t ch = 0; ch < c; ++ch) {
        const double mu = mean[ch], inv = invstd[ch];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int64_t b = 0; b < n; ++b)
            for (int64_t i = 0; i < hw; ++i) {
                const int64_t k = (b * c + ch) * hw + i;
                sum_dy += dy[k];
                sum_dy_xhat += dy[k] * ((x[k] - mu) * inv);
            }
        if (dbeta) dbeta[ch] += static_cast<float>(sum_dy);
        if (dgamma) dgamma[ch] += static_cast<float>(sum_dy_xhat);
        if (!dx) continue;
        const double scale = gamma[ch] * inv;
        for (int64_t b = 0; b < n; ++b)
            for (int64_t i = 0; i < hw; ++i) {
                const int64_t k = (b * c + ch) * hw + i;
                const double xhat = (x[k] - mu) * inv;
                dx[k] = static_cast<float>(scale * (dy[k] - sum_dy / count - xhat * sum_dy_xhat / count));
            }
    }
}

}  // namespace sr_native::ref
