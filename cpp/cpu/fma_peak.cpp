// Measures this machine's fp32 FMA throughput with the active instruction
// set and thread count, so benchmarks can report percent of peak measured
// here rather than a number from a data sheet.
#include "sr_native/fma_peak.h"

#include <chrono>
#include <vector>

#if defined(SR_NATIVE_OPENMP)
#include <omp.h>
#endif

#include "fma_peak_body.h"  // the generic (baseline) body
#include "sr_native/isa.h"

namespace sr_native {

#if defined(SR_NATIVE_X86)
float fma_probe_avx512(int64_t iterations, int* lanes);
float fma_probe_avx2(int64_t iterations, int* lanes);
#endif

namespace {
float probe(int64_t iterations, int* lanes) {
#if defined(SR_NATIVE_X86)
    switch (active_isa()) {
        case Isa::avx512: return fma_probe_avx512(iterations, lanes);
        case Isa::avx2: return fma_probe_avx2(iterations, lanes);
        default: break;
    }
#endif
    *lanes = kProbeLanes;
    return fma_probe_body(iterations);
}
}  // namespace

double measure_fma_gflops(int64_t iterations_per_thread) {
    const int threads = get_num_threads();
    std::vector<float> sink(static_cast<size_t>(threads), 0.0f);
    int lanes = 1;
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
    {
        int my_lanes = 1;
        int t = 0;
#if defined(SR_NATIVE_OPENMP)
        t = omp_get_thread_num();
#endif
        sink[static_cast<size_t>(t)] = probe(iterations_per_thread, &my_lanes);
        if (t == 0) lanes = my_lanes;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    volatile float keep = sink[0];
    (void)keep;
    // 12 vector FMAs per iteration, 2 flops per lane each.
    return 2.0 * 12.0 * lanes * static_cast<double>(iterations_per_thread) * threads / seconds / 1e9;
}

}  // namespace sr_native
