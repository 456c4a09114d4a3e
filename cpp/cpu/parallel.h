// Helpers for splitting elementwise work and for reductions whose result does
// not depend on the thread count (fixed chunks, summed in order).
#pragma once

#include <cstdint>

namespace sr_native {

// Elementwise loops below this many values run on one thread: forking costs more.
constexpr int64_t kParallelMinCount = 1 << 15;

// Reductions add fixed chunks of this many values in double, then add the
// chunk sums in order, so 1 and 2 threads give bit-identical results.
constexpr int64_t kReduceChunk = 1 << 14;

// True when every value of x is finite (no NaN, no infinity). One read of x,
// vectorised (no early exit): the cost of a copy's read, paid only where
// a kernel must treat non-finite input differently.
inline bool all_finite(const float* x, int64_t count) {
    constexpr float kMax = 3.402823466e+38f;  // FLT_MAX
    int64_t bad = 0;
#pragma omp simd reduction(+ : bad)
    for (int64_t i = 0; i < count; ++i) bad += !(x[i] >= -kMax && x[i] <= kMax);
    return bad == 0;
}

// all_finite over the kernels' threads, for a whole image outside any
// parallel region (a scan of memory runs at the speed of the threads' loads).
// Float lanes (x * 0 is 0, or NaN for NaN and infinity): plain multiply-adds
// that vectorise on every target, fast enough to run at memory speed.
inline bool all_finite_threads(const float* x, int64_t count, int threads) {
    float acc = 0.0f;
#pragma omp parallel for simd schedule(static) reduction(+ : acc) num_threads(threads) if (count > 8 * kParallelMinCount)
    for (int64_t i = 0; i < count; ++i) acc += x[i] * 0.0f;
    return acc == 0.0f;
}

}  // namespace sr_native
