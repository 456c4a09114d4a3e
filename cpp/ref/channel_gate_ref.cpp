// Reference channel-attention multiply (RCAN), forward and backward.
#include "sr_native/kernels.h"

namespace sr_native::ref {

void channel_gate_forward(const float* x, const float* s, float* y, int64_t n, int64_t c, int64_t hw) {
    for (int64_t p = 0; p < n * c; ++p)
        for (int64_t i = 0; i < hw; ++i) y[p * hw + i] = x[p * hw + i] * s[p];
}

void channel_gate_backward(const float* x, const float* s, const float* dy, float* dx, float* ds,
                           int64_t n, int64_t c, int64_t hw) {
    for (int64_t p = 0; p < n * c; ++p) {
        double sum = 0.0;
        for (int64_t i = 0; i < hw; ++i) {
            if (dx) dx[p * hw + i] = dy[p * hw + i] * s[p];
            sum += static_cast<double>(dy[p * hw + i]) * x[p * hw + i];
        }
        if (ds) ds[p] = static_cast<float>(sum);
    }
}

}  // namespace sr_native::ref
