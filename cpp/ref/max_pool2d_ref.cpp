// Reference max pooling, forward and backward (see kernels.h for the rules).
#include "sr_native/kernels.h"

namespace sr_native::ref {
namespace {

// Offset, within its plane, of the argmax of the window whose top-left
// corner is (oh * S, ow * S): the first maximum in row-major order, or the
// last NaN.
int64_t window_argmax(const float* plane, const MaxPool2dShape& s, int64_t oh, int64_t ow) {
    const int64_t h0 = oh * s.s, w0 = ow * s.s;
    int64_t best = h0 * s.w + w0;
    float best_value = plane[best];
    for (int64_t i = 0; i < s.k; ++i) {
        for (int64_t j = 0; j < s.k; ++j) {
            const int64_t at = (h0 + i) * s.w + (w0 + j);
            const float v = plane[at];
            if (v > best_value || v != v) {
                best_value = v;
                best = at;
            }
        }
    }
    return best;
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, const MaxPool2dShape& s) {
    for (int64_t p = 0; p < s.n * s.c; ++p) {
        const float* plane = x + p * s.h * s.w;
        for (int64_t oh = 0; oh < s.ho; ++oh)
            for (int64_t ow = 0; ow < s.wo; ++ow)
                y[(p * s.ho + oh) * s.wo + ow] = plane[window_argmax(plane, s, oh, ow)];
    }
}

void max_pool2d_backward(const float* x, const float* dy, float* dx, const MaxPool2dShape& s) {
    for (int64_t i = 0; i < s.n * s.c * s.h * s.w; ++i) dx[i] = 0.0f;
    for (int64_t p = 0; p < s.n * s.c; ++p) {
        const float* plane = x + p * s.h * s.w;
        for (int64_t oh = 0; oh < s.ho; ++oh)
            for (int64_t ow = 0; ow < s.wo; ++ow)
                dx[p * s.h * s.w + window_argmax(plane, s, oh, ow)] += dy[(p * s.ho + oh) * s.wo + ow];
    }
}

}  // namespace sr_native::ref
