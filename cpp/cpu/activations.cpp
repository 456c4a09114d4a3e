// Fast ReLU and PReLU: the same loops as the reference, split over threads
// and written so the compiler vectorises them.
#include <algorithm>
#include <vector>

#include "parallel.h"
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {

void relu_forward(const float* x, float* y, int64_t count) {
#pragma omp parallel for simd schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    // x < 0 ? 0 : x, not x > 0 ? x : 0: NaN passes through (IEEE propagation).
    for (int64_t i = 0; i < count; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void relu_backward(const float* x, const float* dy, float* dx, int64_t count) {
    // dy is loaded unconditionally: with the load inside the condition GCC
    // kept a branch per element (11 ms instead of 0.4 for 2.4M values).
#pragma omp parallel for simd schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    for (int64_t i = 0; i < count; ++i) {
        const float g = dy[i];
        dx[i] = x[i] <= 0.0f ? 0.0f : g;  // NaN x: dy (forward passed x through)
    }
}

void prelu_forward(const float* x, const float* alpha, float* y, int64_t n, int64_t c,
                   int64_t hw, int64_t num_alpha) {
    const int64_t planes = n * c;
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (planes * hw > kParallelMinCount)
    for (int64_t p = 0; p < planes; ++p) {
        const float a = alpha[num_alpha == 1 ? 0 : p % c];
        const float* xp = x + p * hw;
        float* yp = y + p * hw;
        // The positive and negative parts in relu's select form, which GCC
        // vectorises (v > 0 ? v : a * v stayed a branch per element: 30x
        // slower than relu on random signs). NaN: both parts NaN, so NaN.
#pragma omp simd
        for (int64_t i = 0; i < hw; ++i) {
            const float v = xp[i];
            const float pos = v < 0.0f ? 0.0f : v;
            const float neg = v > 0.0f ? 0.0f : v;
            yp[i] = pos + a * neg;
        }
    }
}

void prelu_backward(const float* x, const float* alpha, const float* dy, float* dx,
                    float* dalpha, int64_t n, int64_t c, int64_t hw, int64_t num_alpha) {
    // Per-channel partial sums in double, in a fixed order: deterministic.
    std::vector<double> partial(static_cast<size_t>(c), 0.0);
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (n * c * hw > kParallelMinCount)
    for (int64_t ch = 0; ch < c; ++ch) {
        const float a = alpha[num_alpha == 1 ? 0 : ch];
        double da = 0.0;
        for (int64_t b = 0; b < n; ++b) {
            const int64_t base = (b * c + ch) * hw;
            const float* xp = x + base;
            const float* gp = dy + base;
            float* dp = dx ? dx + base : nullptr;
            // Blocks of 256 summed in float (vectorised, fixed order), each
            // block's sum added in double: accurate and deterministic.
            for (int64_t i0 = 0; i0 < hw; i0 += 256) {
                const int64_t i1 = i0 + 256 < hw ? i0 + 256 : hw;
                float s = 0.0f;
                // A select of constants, then products: with a product inside
                // the select GCC kept a branch per element (5x slower on
                // random signs).
                if (dp) {
#pragma omp simd reduction(+ : s)
                    for (int64_t i = i0; i < i1; ++i) {
                        const float g = gp[i];
                        const float v = xp[i];
                        const float slope = v > 0.0f ? 1.0f : a;
                        dp[i] = slope * g;
                        s += std::min(v, 0.0f) * g;  // min(NaN, 0) is NaN, as PyTorch's sum
                    }
                } else {
#pragma omp simd reduction(+ : s)
                    for (int64_t i = i0; i < i1; ++i) {
                        s += std::min(xp[i], 0.0f) * gp[i];
                    }
                }
                da += s;
            }
        }
        partial[static_cast<size_t>(ch)] = da;
    }
    if (!dalpha) return;
    if (num_alpha == 1) {
        double total = 0.0;
        for (int64_t ch = 0; ch < c; ++ch) total += partial[static_cast<size_t>(ch)];
        dalpha[0] += static_cast<float>(total);
    } else {
        for (int64_t ch = 0; ch < c; ++ch) dalpha[ch] += static_cast<float>(partial[static_cast<size_t>(ch)]);
    }
}

void tanh_forward(const float* x, float* y, int64_t count) {
    // A rational approximation (Eigen's fast tanh: odd degree-13 numerator,
    // even degree-6 denominator) that vectorises; std::tanh does not and
    // took 20 ns a value. Within 4e-7 absolute of tanh (<= 7 ulp, near +-1;
    // near 0 a1/b0 * x, within 1 ulp of x, -0 kept). Inputs are clamped to
    // +-kClamp, where the fraction reaches 1. GCC vectorises a loop holding
    // one select (relu's) or only arithmetic, not both under IEEE trapping
    // rules, so each cache-sized chunk takes three passes; the selects'
    // compares are false for NaN, which stays NaN through the arithmetic.
    constexpr float kClamp = 7.90531110763549805f;
    constexpr float a1 = 4.89352455891786e-03f, a3 = 6.37261928875436e-04f, a5 = 1.48572235717979e-05f,
                    a7 = 5.12229709037114e-08f, a9 = -8.60467152213735e-11f, a11 = 2.00018790482477e-13f,
                    a13 = -2.76076847742355e-16f;
    constexpr float b0 = 4.89352518554385e-03f, b2 = 2.26843463243900e-03f, b4 = 1.18534705686654e-04f,
                    b6 = 1.19825839466702e-06f;
    constexpr int64_t kChunk = 4096;
    const int64_t chunks = (count + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    for (int64_t k = 0; k < chunks; ++k) {
        const int64_t begin = k * kChunk, end = begin + kChunk < count ? begin + kChunk : count;
#pragma omp simd
        for (int64_t i = begin; i < end; ++i) y[i] = x[i] < -kClamp ? -kClamp : x[i];
#pragma omp simd
        for (int64_t i = begin; i < end; ++i) y[i] = y[i] > kClamp ? kClamp : y[i];
#pragma omp simd
        for (int64_t i = begin; i < end; ++i) {
            const float c = y[i], c2 = c * c;
            const float p = ((((((a13 * c2 + a11) * c2 + a9) * c2 + a7) * c2 + a5) * c2 + a3) * c2 + a1) * c;
            const float q = ((b6 * c2 + b4) * c2 + b2) * c2 + b0;
            y[i] = p / q;
        }
    }
}

void tanh_backward(const float* y, const float* dy, float* dx, int64_t count) {
#pragma omp parallel for simd schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

}  // namespace sr_native
