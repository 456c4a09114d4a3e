// fp32 FMA throughput of this machine, measured, for benchmarks' percent-of-peak.
#pragma once

#include <cstdint>

namespace sr_native {

// Runs iterations_per_thread x 12 vector FMAs on each of get_num_threads()
// threads with the active instruction set; returns GFLOP/s (1 FMA = 2 flops).
double measure_fma_gflops(int64_t iterations_per_thread);

}  // namespace sr_native
