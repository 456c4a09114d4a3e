// Body of the FMA throughput probe, included once per instruction set after
// simd.h picked the vector width. Twelve independent accumulator chains hide
// the FMA latency (4 cycles) on two FMA pipes. acc = acc * a + b with a just
// below 1 converges to b / (1 - a): no overflow, no denormals.
#pragma once

#include <cstdint>

#include "simd.h"

namespace sr_native {
namespace {

// Runs `iterations` x 12 vector FMAs; returns a value that keeps the loop alive.
float fma_probe_body(int64_t iterations) {
    using namespace simd;
    const Vec a = vset1(0.999999f), b = vset1(1e-6f);
    Vec acc[12];
    for (Vec& v : acc) v = vzero();
    for (int64_t i = 0; i < iterations; ++i) {
        for (Vec& v : acc) v = vfmadd(v, a, b);  // unrolled by the compiler: 12 independent chains
    }
    Vec s = acc[0];
    for (int k = 1; k < 12; ++k) s = vadd(s, acc[k]);
    float lanes[Vec::kLanes];
    vstore(lanes, s);
    return lanes[0];
}

constexpr int kProbeLanes = simd::Vec::kLanes;

}  // namespace
}  // namespace sr_native
