// Reference L1 and MSE losses (means), forward in double, and their gradients.
#include "sr_native/kernels.h"

namespace sr_native::ref {

double l1_loss_forward(const float* pred, const float* target, int64_t count) {
    double acc = 0.0;
    for (int64_t i = 0; i < count; ++i) {
        const double d = static_cast<double>(pred[i]) - target[i];
        acc += d < 0.0 ? -d : d;
    }
    return acc / static_cast<double>(count);
}

void l1_loss_backward(const float* pred, const float* target, float* dpred, int64_t count,
                      float grad_scale) {
    const double g = static_cast<double>(grad_scale) / static_cast<double>(count);
    for (int64_t i = 0; i < count; ++i) {
        const float d = pred[i] - target[i];
        dpred[i] = static_cast<float>(d > 0.0f ? g : (d < 0.0f ? -g : 0.0));
    }
}

double mse_loss_forward(const float* pred, const float* target, int64_t count) {
    double acc = 0.0;
    for (int64_t i = 0; i < count; ++i) {
        const double d = static_cast<double>(pred[i]) - target[i];
        acc += d * d;
    }
    return acc / static_cast<double>(count);
}

void mse_loss_backward(const float* pred, const float* target, float* dpred, int64_t count,
                       float grad_scale) {
    const double g = 2.0 * static_cast<double>(grad_scale) / static_cast<double>(count);
    for (int64_t i = 0; i < count; ++i)
        dpred[i] = static_cast<float>(g * (static_cast<double>(pred[i]) - target[i]));
}

}  // namespace sr_native::ref
