// Reference ReLU and PReLU, forward and backward.
#include <cmath>

#include "sr_native/kernels.h"

namespace sr_native::ref {

void relu_forward(const float* x, float* y, int64_t count) {
    // NaN passes through: ReLU propagates NaN like every other op.
    for (int64_t i = 0; i < count; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void relu_backward(const float* x, const float* dy, float* dx, int64_t count) {
    for (int64_t i = 0; i < count; ++i) dx[i] = x[i] <= 0.0f ? 0.0f : dy[i];
}

void prelu_forward(const float* x, const float* alpha, float* y, int64_t n, int64_t c,
                   int64_t hw, int64_t num_alpha) {
    for (int64_t b = 0; b < n; ++b)
        for (int64_t ch = 0; ch < c; ++ch) {
            const float a = alpha[num_alpha == 1 ? 0 : ch];
            const int64_t base = (b * c + ch) * hw;
            for (int64_t i = 0; i < hw; ++i) {
                const float v = x[base + i];
                y[base + i] = v > 0.0f ? v : a * v;
            }
        }
}

void prelu_backward(const float* x, const float* alpha, const float* dy, float* dx,
                    float* dalpha, int64_t n, int64_t c, int64_t hw, int64_t num_alpha) {
    for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t ai = num_alpha == 1 ? 0 : ch;
        const float a = alpha[ai];
        double da = 0.0;
        for (int64_t b = 0; b < n; ++b) {
            const int64_t base = (b * c + ch) * hw;
            for (int64_t i = 0; i < hw; ++i) {
                const float v = x[base + i];
                if (dx) dx[base + i] = v > 0.0f ? dy[base + i] : a * dy[base + i];
                // Every x that is not > 0 (NaN too, as PyTorch) feeds alpha's gradient.
                if (!(v > 0.0f)) da += static_cast<double>(v) * dy[base + i];
            }
        }
        if (dalpha) dalpha[ai] += static_cast<float>(da);
    }
}

void tanh_forward(const float* x, float* y, int64_t count) {
    for (int64_t i = 0; i < count; ++i) y[i] = static_cast<float>(std::tanh(static_cast<double>(x[i])));
}

void tanh_backward(const float* y, const float* dy, float* dx, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        const double t = y[i];
        dx[i] = static_cast<float>(static_cast<double>(dy[i]) * (1.0 - t * t));
    }
}

}  // namespace sr_native::ref
