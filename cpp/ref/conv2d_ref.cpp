// Reference conv2d forward: straight from the definition, double accumulators.
// Never optimised beyond keeping the loops in an order that is not absurdly
// slow; the fast kernels and the tests compare against this.
#include <algorithm>
#include <cmath>
#include <vector>

#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native::ref {

void conv2d_forward_rows(const float* x, const float* w, float* y, const Conv2dShape& s,
                         const Conv2dEpilogue& e, const Conv2dRows& rows) {
    const int64_t N = s.n, C = s.c, H = s.h, W = s.w, O = s.o, K = s.k, P = K / 2;
    const int64_t HW = H * W, XR = rows.x_rows, T = rows.pad_top;
#pragma omp parallel for collapse(2) schedule(dynamic) num_threads(get_num_threads())
    for (int64_t n = 0; n < N; ++n) {
        for (int64_t o = 0; o < O; ++o) {
            std::vector<double> acc(HW, e.bias ? static_cast<double>(e.bias[o]) : 0.0);
            for (int64_t c = 0; c < C; ++c) {
                const float* xc = x + (n * C + c) * rows.x_plane;
                for (int64_t kh = 0; kh < K; ++kh) {
                    for (int64_t kw = 0; kw < K; ++kw) {
                        const double wv = w[((o * C + c) * K + kh) * K + kw];
                        // output rows/cols whose input tap (oh+kh-T, ow+kw-P) is inside x
                        const int64_t oh0 = std::clamp<int64_t>(T - kh, 0, H);
                        const int64_t oh1 = std::clamp<int64_t>(XR + T - kh, oh0, H);
                        const int64_t ow0 = std::max<int64_t>(0, P - kw);
                        const int64_t ow1 = std::min<int64_t>(W, W + P - kw);
                        for (int64_t oh = oh0; oh < oh1; ++oh) {
                            const float* xrow = xc + (oh + kh - T) * W + (kw - P);
                            double* arow = acc.data() + oh * W;
                            for (int64_t ow = ow0; ow < ow1; ++ow) arow[ow] += wv * xrow[ow];
                        }
                        // The padded taps add wv * 0: nothing, unless wv is NaN
                        // or infinite (then NaN, kernels.h's rule for non-finite weights).
                        if (!std::isfinite(wv))
                            for (int64_t oh = 0; oh < H; ++oh)
                                for (int64_t ow = 0; ow < W; ++ow)
                                    if (oh < oh0 || oh >= oh1 || ow < ow0 || ow >= ow1) acc[oh * W + ow] += wv * 0.0;
                    }
                }
            }
            const int64_t base = (n * O + o) * rows.y_plane;
            for (int64_t oh = 0; oh < H; ++oh) {
                for (int64_t ow = 0; ow < W; ++ow) {
                    double t = acc[oh * W + ow];
                    if (e.relu && t < 0.0) t = 0.0;
                    t *= static_cast<double>(e.res_scale);
                    const int64_t i = base + oh * W + ow;
                    if (e.residual) t += static_cast<double>(e.residual[(n * O + o) * rows.r_plane + oh * W + ow]);
                    y[i] = static_cast<float>(t);
                }
            }
        }
    }
}

void conv2d_forward(const float* x, const float* w, float* y, const Conv2dShape& s,
                    const Conv2dEpilogue& e) {
    ref::conv2d_forward_rows(x, w, y, s, e, conv2d_same_rows(s));
}

}  // namespace sr_native::ref
