// Reference logistic sigmoid, forward and backward, in double.
#include <cmath>

#include "sr_native/kernels.h"

namespace sr_native::ref {

void sigmoid_forward(const float* x, float* y, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        const double v = x[i];
        // exp of a non-positive number never overflows; NaN takes the else branch.
        const double e = std::exp(-std::fabs(v));
        y[i] = static_cast<float>(v >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e));
    }
}

void sigmoid_backward(const float* y, const float* dy, float* dx, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        const double v = y[i];
        dx[i] = static_cast<float>(static_cast<double>(dy[i]) * v * (1.0 - v));
    }
}

}  // namespace sr_native::ref
