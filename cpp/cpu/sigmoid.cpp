// Fast logistic sigmoid: the body in sigmoid_body.h, compiled for the
// baseline here and for AVX2 / AVX-512 beside this file, chosen at run time
// and run over fixed spans split between threads.
#include "parallel.h"
#include "sigmoid_body.h"  // the generic (baseline) body
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {

#if defined(SR_NATIVE_X86)
void sigmoid_span_avx2(const float* x, float* y, int64_t count);
void sigmoid_span_avx512(const float* x, float* y, int64_t count);
#endif

void sigmoid_forward(const float* x, float* y, int64_t count) {
    void (*span)(const float*, float*, int64_t) = sigmoid_span;
#if defined(SR_NATIVE_X86)
    switch (active_isa()) {
        case Isa::avx512: span = sigmoid_span_avx512; break;
        case Isa::avx2: span = sigmoid_span_avx2; break;
        default: break;
    }
#endif
    constexpr int64_t kSpan = 1 << 13;
    const int64_t spans = (count + kSpan - 1) / kSpan;
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    for (int64_t k = 0; k < spans; ++k) {
        const int64_t begin = k * kSpan;
        span(x + begin, y + begin, count - begin < kSpan ? count - begin : kSpan);
    }
}

void sigmoid_backward(const float* y, const float* dy, float* dx, int64_t count) {
#pragma omp parallel for simd schedule(static) num_threads(get_num_threads()) if (count > kParallelMinCount)
    for (int64_t i = 0; i < count; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

}  // namespace sr_native
