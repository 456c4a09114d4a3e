// Body of the fast sigmoid, included once per instruction set (sigmoid.cpp
// for the baseline, sigmoid_avx2.cpp, sigmoid_avx512.cpp) and vectorised by
// the compiler with that file's flags. libm's expf does not vectorise
// without -ffast-math, so exp(-|x|) is computed inline: Cody-Waite reduction
// by ln 2 and Cephes' degree-6 polynomial for expf (about 1 ulp), scaled by
// 2^n in two halves so that results down to the float32 subnormals round
// once, at the end.
#pragma once

#include <cstdint>
#include <cstring>

// GCC keeps the clamp below as a branch (the multiplies after it might
// trap) unless told that floating-point traps are off, which they are:
// results are the same IEEE values, only the vectorisation changes.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

namespace sr_native {
namespace {

inline float pow2_int(int32_t e) {  // 2^e for e in [-126, 127]
    const uint32_t bits = static_cast<uint32_t>(e + 127) << 23;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// exp(t) for t <= 0; t is clamped to [-104, 0] (exp(-104) already rounds to
// 0 in float32), NaN included: the caller restores NaN.
inline float exp_nonpositive(float t) {
    t = t >= -104.0f ? t : -104.0f;
    constexpr float kLog2e = 1.44269504088896341f;
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    const float nf = (t * kLog2e + kRound) - kRound;
    const float r = (t - nf * 0.693359375f) + nf * 2.12194440e-4f;  // t - n ln2, ln2 split hi/lo
    const float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                      4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    const float e = p * (r * r) + r + 1.0f;
    const int32_t n = static_cast<int32_t>(nf);  // in [-150, 0]
    const int32_t half = n / 2;                  // both halves in [-75, 0]: normal powers of two
    return e * pow2_int(half) * pow2_int(n - half);
}

// y = sigmoid(x) over count values, one thread.
void sigmoid_span(const float* x, float* y, int64_t count) {
#pragma omp simd
    for (int64_t i = 0; i < count; ++i) {
        const float v = x[i];
        const float e = exp_nonpositive(-(v >= 0.0f ? v : -v));
        // One division with a chosen numerator: a division per branch kept GCC from vectorising.
        const float s = (v >= 0.0f ? 1.0f : e) / (1.0f + e);
        y[i] = v == v ? s : v;  // NaN passes through
    }
}

}  // namespace
}  // namespace sr_native
