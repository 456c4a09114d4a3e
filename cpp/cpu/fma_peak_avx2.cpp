// FMA throughput probe compiled for AVX2 (see fma_peak_body.h).
#define SR_SIMD_AVX2 1
#include "fma_peak_body.h"

namespace sr_native {
float fma_probe_avx2(int64_t iterations, int* lanes) {
    *lanes = kProbeLanes;
    return fma_probe_body(iterations);
}
}  // namespace sr_native
