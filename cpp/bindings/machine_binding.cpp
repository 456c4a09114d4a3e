// Python binding of the FMA throughput probe.
#include <algorithm>
#include <chrono>

#include "checks.h"
#include "register.h"
#include "sr_native/fma_peak.h"

namespace sr_native::bind {
namespace {

double measure_fma_peak(double seconds) {
    if (!(seconds > 0.0 && seconds <= 60.0))
        raise_value("measure_fma_peak: seconds must be in (0, 60], got " + std::to_string(seconds));
    py::gil_scoped_release release;
    // Calibrate on a short run, then three runs of about seconds / 3; keep the best.
    const int64_t probe_iters = int64_t{1} << 16;
    const auto t0 = std::chrono::steady_clock::now();
    measure_fma_gflops(probe_iters);
    const double probe_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double scale = (seconds / 3.0) / std::max(probe_s, 1e-6);
    const int64_t iters = std::max(probe_iters, static_cast<int64_t>(probe_iters * scale));
    double best = 0.0;
    for (int run = 0; run < 3; ++run) best = std::max(best, measure_fma_gflops(iters));
    return best;
}

}  // namespace

void register_machine(py::module_& m) {
    m.def("measure_fma_peak", &measure_fma_peak, py::arg("seconds") = 0.3,
          "fp32 FMA GFLOP/s of this machine with the active ISA and thread count.");
    m.def("available_memory", &available_memory_bytes,
          "Bytes that can still be allocated (MemAvailable + SwapFree on Linux), or -1 if unknown.");
}

}  // namespace sr_native::bind
