// Reference conv2d backward (no epilogue), double accumulators:
//   dx[n,c,ih,iw]   = sum_{o,kh,kw} dy[n,o,ih-kh+P,iw-kw+P] * w[o,c,kh,kw]   (written)
//   dw[o,c,kh,kw]  += sum_{n,oh,ow} dy[n,o,oh,ow] * x[n,c,oh+kh-P,ow+kw-P]
//   db[o]          += sum_{n,oh,ow} dy[n,o,oh,ow]
// dx_residual, when given, is added to dx (rounded after the sum is).
#include <algorithm>
#include <vector>

#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native::ref {

void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db, const Conv2dShape& s, const float* dx_residual) {
    const int64_t N = s.n, C = s.c, H = s.h, W = s.w, O = s.o, K = s.k, P = K / 2;
    const int64_t HW = H * W;
    [[maybe_unused]] const int nt = get_num_threads();  // unused without OpenMP

    if (dx) {
#pragma omp parallel for collapse(2) schedule(dynamic) num_threads(nt)
        for (int64_t n = 0; n < N; ++n) {
            for (int64_t c = 0; c < C; ++c) {
                std::vector<double> acc(HW, 0.0);
                for (int64_t o = 0; o < O; ++o) {
                    const float* g = dy + (n * O + o) * HW;
                    for (int64_t kh = 0; kh < K; ++kh) {
                        for (int64_t kw = 0; kw < K; ++kw) {
                            const double wv = w[((o * C + c) * K + kh) * K + kw];
                            // output (oh, ow) feeds input (oh+kh-P, ow+kw-P)
                            const int64_t oh0 = std::max<int64_t>(0, P - kh);
                            const int64_t oh1 = std::min<int64_t>(H, H + P - kh);
                            const int64_t ow0 = std::max<int64_t>(0, P - kw);
                            const int64_t ow1 = std::min<int64_t>(W, W + P - kw);
                            for (int64_t oh = oh0; oh < oh1; ++oh) {
                                double* arow = acc.data() + (oh + kh - P) * W + (kw - P);
                                const float* grow = g + oh * W;
                                for (int64_t ow = ow0; ow < ow1; ++ow) arow[ow] += wv * grow[ow];
                            }
                        }
                    }
                }
                float* out = dx + (n * C + c) * HW;
                if (dx_residual) {
                    // Read just before the write: dx_residual may be dx itself.
                    const float* res = dx_residual + (n * C + c) * HW;
                    for (int64_t i = 0; i < HW; ++i) out[i] = res[i] + static_cast<float>(acc[i]);
                } else {
                    for (int64_t i = 0; i < HW; ++i) out[i] = static_cast<float>(acc[i]);
                }
            }
        }
    }

    if (dw) {
#pragma omp parallel for collapse(2) schedule(dynamic) num_threads(nt)
        for (int64_t o = 0; o < O; ++o) {
            for (int64_t c = 0; c < C; ++c) {
                for (int64_t kh = 0; kh < K; ++kh) {
                    for (int64_t kw = 0; kw < K; ++kw) {
                        const int64_t oh0 = std::max<int64_t>(0, P - kh);
                        const int64_t oh1 = std::min<int64_t>(H, H + P - kh);
                        const int64_t ow0 = std::max<int64_t>(0, P - kw);
                        const int64_t ow1 = std::min<int64_t>(W, W + P - kw);
                        double acc = 0.0;
                        for (int64_t n = 0; n < N; ++n) {
                            const float* g = dy + (n * O + o) * HW;
                            const float* xc = x + (n * C + c) * HW;
                            for (int64_t oh = oh0; oh < oh1; ++oh) {
                                const float* grow = g + oh * W;
                                const float* xrow = xc + (oh + kh - P) * W + (kw - P);
                                for (int64_t ow = ow0; ow < ow1; ++ow)
                                    acc += static_cast<double>(grow[ow]) * xrow[ow];
                            }
                        }
                        dw[((o * C + c) * K + kh) * K + kw] += static_cast<float>(acc);
                    }
                }
            }
        }
    }

    if (db) {
        for (int64_t o = 0; o < O; ++o) {
            double acc = 0.0;
            for (int64_t n = 0; n < N; ++n) {
                const float* g = dy + (n * O + o) * HW;
                for (int64_t i = 0; i < HW; ++i) acc += g[i];
            }
            db[o] += static_cast<float>(acc);
        }
    }
}

}  // namespace sr_native::ref
