// Reference global average pooling, forward and backward.
#include "sr_native/kernels.h"

namespace sr_native::ref {

void global_avg_pool_forward(const float* x, float* y, int64_t n, int64_t c, int64_t hw) {
    for (int64_t p = 0; p < n * c; ++p) {
        double sum = 0.0;
        for (int64_t i = 0; i < hw; ++i) sum += x[p * hw + i];
        y[p] = static_cast<float>(sum / static_cast<double>(hw));
    }
}

void global_avg_pool_backward(const float* dy, float* dx, int64_t n, int64_t c, int64_t hw) {
    for (int64_t p = 0; p < n * c; ++p) {
        const float g = static_cast<float>(static_cast<double>(dy[p]) / static_cast<double>(hw));
        for (int64_t i = 0; i < hw; ++i) dx[p * hw + i] = g;
    }
}

}  // namespace sr_native::ref
