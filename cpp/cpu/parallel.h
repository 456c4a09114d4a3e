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

}  // namespace sr_native
