// Reference pixel-attention multiply (PAN), forward and backward. g has C
// channels or one (broadcast over x's channels).
#include "sr_native/kernels.h"

namespace sr_native::ref {

void pixel_gate_forward(const float* x, const float* g, float* y, int64_t n, int64_t c, int64_t gc,
                        int64_t hw) {
    for (int64_t b = 0; b < n; ++b)
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t i = 0; i < hw; ++i) {
                const int64_t k = (b * c + ch) * hw + i;
                y[k] = x[k] * g[(b * gc + (gc == 1 ? 0 : ch)) * hw + i];
            }
}

void pixel_gate_backward(const float* x, const float* g, const float* dy, float* dx, float* dg,
                         int64_t n, int64_t c, int64_t gc, int64_t hw) {
    for (int64_t b = 0; b < n; ++b) {
        if (gc == 1) {
            for (int64_t i = 0; i < hw; ++i) {
                double sum = 0.0;
                for (int64_t ch = 0; ch < c; ++ch) {
                    const int64_t k = (b * c + ch) * hw + i;
                    sum += static_cast<double>(dy[k]) * x[k];
                }
                if (dg) dg[b * hw + i] = static_cast<float>(sum);
            }
        }
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t i = 0; i < hw; ++i) {
                const int64_t k = (b * c + ch) * hw + i;
                const int64_t gk = (b * gc + (gc == 1 ? 0 : ch)) * hw + i;
                if (dx) dx[k] = dy[k] * g[gk];
                if (dg && gc != 1) dg[gk] = dy[k] * x[k];
            }
    }
}

}  // namespace sr_native::ref
