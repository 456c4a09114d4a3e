// Fast global average pooling: one plane per task.
#include "parallel.h"
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {
namespace {

// Sum of count floats. A single vector accumulator would wait on each add's
// latency; 32 float lanes (several independent vectors) pipeline, and each
// lane holds at most 8 values before it is added into a double lane, so the
// float rounding stays near that of a double sum.
double plane_sum(const float* p, int64_t count) {
    constexpr int kLanes = 32, kBlock = 256;
    double lanes[kLanes] = {};
    int64_t i = 0;
    for (; i + kBlock <= count; i += kBlock) {
        float acc[kLanes] = {};
        for (int b = 0; b < kBlock; b += kLanes) {
#pragma omp simd
            for (int j = 0; j < kLanes; ++j) acc[j] += p[i + b + j];
        }
#pragma omp simd
        for (int j = 0; j < kLanes; ++j) lanes[j] += acc[j];
    }
    double total = 0.0;
    for (; i < count; ++i) total += p[i];
    for (int j = 0; j < kLanes; ++j) total += lanes[j];
    return total;
}

}  // namespace

void global_avg_pool_forward(const float* x, float* y, int64_t n, int64_t c, int64_t hw) {
    const int64_t planes = n * c;
    const double inv_hw = 1.0 / static_cast<double>(hw);
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (planes * hw > kParallelMinCount)
    for (int64_t p = 0; p < planes; ++p) y[p] = static_cast<float>(plane_sum(x + p * hw, hw) * inv_hw);
}

void global_avg_pool_backward(const float* dy, float* dx, int64_t n, int64_t c, int64_t hw) {
    const int64_t planes = n * c;
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (planes * hw > kParallelMinCount)
    for (int64_t p = 0; p < planes; ++p) {
        // Divided in double as the reference does: the same float for every hw.
        const float g = static_cast<float>(static_cast<double>(dy[p]) / static_cast<double>(hw));
        float* dp = dx + p * hw;
#pragma omp simd
        for (int64_t i = 0; i < hw; ++i) dp[i] = g;
    }
}

}  // namespace sr_native
