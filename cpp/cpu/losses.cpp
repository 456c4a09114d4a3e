// Fast L1 and MSE losses. Forward sums fixed chunks in double and adds the
// chunk sums in order, so the loss does not depend on the thread count.
#include <cmath>
#include <vector>

#include "parallel.h"
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {
namespace {

template <typename Term>
double chunked_mean(const float* pred, const float* target, int64_t count, Term term) {
    const int64_t chunks = (count + kReduceChunk - 1) / kReduceChunk;
    std::vector<double> sums(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    for (int64_t k = 0; k < chunks; ++k) {
        const int64_t begin = k * kReduceChunk;
        const int64_t end = begin + kReduceChunk < count ? begin + kReduceChunk : count;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int64_t i = begin; i < end; ++i) s += term(static_cast<double>(pred[i]) - target[i]);
        sums[static_cast<size_t>(k)] = s;
    }
    double total = 0.0;
    for (double s : sums) total += s;
    return total / static_cast<double>(count);
}

}  // namespace

double l1_loss_forward(const float* pred, const float* target, int64_t count) {
    return chunked_mean(pred, target, count, [](double d) { return std::fabs(d); });
}

double mse_loss_forward(const float* pred, const float* target, int64_t count) {
    return chunked_mean(pred, target, count, [](double d) { return d * d; });
}

void l1_loss_backward(const float* pred, const float* target, float* dpred, int64_t count,
                      float grad_scale) {
    const float g = static_cast<float>(static_cast<double>(grad_scale) / static_cast<double>(count));
#pragma omp parallel for simd schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    for (int64_t i = 0; i < count; ++i) {
        const float d = pred[i] - target[i];
        dpred[i] = d > 0.0f ? g : (d < 0.0f ? -g : 0.0f);
    }
}

void mse_loss_backward(const float* pred, const float* target, float* dpred, int64_t count,
                       float grad_scale) {
    const float g = static_cast<float>(2.0 * static_cast<double>(grad_scale) / static_cast<double>(count));
#pragma omp parallel for simd schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    for (int64_t i = 0; i < count; ++i) dpred[i] = g * (pred[i] - target[i]);
}

}  // namespace sr_native
