// Reference elementwise ops the models and the optimizer need.
#include <cmath>

#include "sr_native/kernels.h"

namespace sr_native::ref {

void add_scaled(const float* a, const float* b, float alpha, float* y, int64_t count) {
    for (int64_t i = 0; i < count; ++i) y[i] = a[i] + alpha * b[i];
}

void channel_affine(const float* x, const float* scale, const float* shift, float* y, int64_t n,
                    int64_t c, int64_t hw) {
    for (int64_t b = 0; b < n; ++b)
        for (int64_t ch = 0; ch < c; ++ch) {
            const int64_t base = (b * c + ch) * hw;
            for (int64_t i = 0; i < hw; ++i) y[base + i] = x[base + i] * scale[ch] + shift[ch];
        }
}

void channel_sum(const float* x, float* out, int64_t n, int64_t c, int64_t hw) {
    for (int64_t ch = 0; ch < c; ++ch) {
        double acc = 0.0;
        for (int64_t b = 0; b < n; ++b) {
            const float* p = x + (b * c + ch) * hw;
            for (int64_t i = 0; i < hw; ++i) acc += p[i];
        }
        out[ch] += static_cast<float>(acc);
    }
}

void adam_step(float* param, const float* grad, float* m, float* v, int64_t count,
               const AdamConfig& cfg) {
    const double bc1 = 1.0 - std::pow(static_cast<double>(cfg.beta1), static_cast<double>(cfg.step));
    const double bc2 = 1.0 - std::pow(static_cast<double>(cfg.beta2), static_cast<double>(cfg.step));
    for (int64_t i = 0; i < count; ++i) {
        const double g = static_cast<double>(grad[i]) + cfg.weight_decay * static_cast<double>(param[i]);
        const double mi = cfg.beta1 * static_cast<double>(m[i]) + (1.0 - cfg.beta1) * g;
        const double vi = cfg.beta2 * static_cast<double>(v[i]) + (1.0 - cfg.beta2) * g * g;
        m[i] = static_cast<float>(mi);
        v[i] = static_cast<float>(vi);
        // PyTorch's form: p -= lr * m_hat / (sqrt(v_hat) + eps)
        const double denom = std::sqrt(vi / bc2) + cfg.eps;
        param[i] = static_cast<float>(param[i] - cfg.lr * (mi / bc1) / denom);
    }
}

}  // namespace sr_native::ref
