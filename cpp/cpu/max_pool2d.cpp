// Fast max pooling: one plane per task. VGG's 2 x 2 window at stride 2 has
// its own loop (four loads and three selects per output, which the compiler
// vectorises); other windows take the general loop. Both pick the argmax
// exactly as the reference does, so results are bit-identical to it.
#include <cstring>

#include "parallel.h"
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {
namespace {

// Replaces (best, at) by (v, v_at) when v is larger or NaN (kernels.h's rule).
inline void take_if_larger(float v, int64_t v_at, float& best, int64_t& at) {
    const bool take = v > best || v != v;
    best = take ? v : best;
    at = take ? v_at : at;
}

// The 2 x 2 maximum of rows r0, r1 at column 2 * ow, in row-major order.
inline float max4(const float* r0, const float* r1, int64_t ow) {
    float best = r0[2 * ow];
    const float b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
    best = (b > best || b != b) ? b : best;
    best = (c > best || c != c) ? c : best;
    best = (d > best || d != d) ? d : best;
    return best;
}

void forward_2x2(const float* plane, float* out, const MaxPool2dShape& s) {
    for (int64_t oh = 0; oh < s.ho; ++oh) {
        const float* r0 = plane + 2 * oh * s.w;
        const float* r1 = r0 + s.w;
        float* o = out + oh * s.wo;
#pragma omp simd
        for (int64_t ow = 0; ow < s.wo; ++ow) o[ow] = max4(r0, r1, ow);
    }
}

int64_t argmax_general(const float* plane, const MaxPool2dShape& s, int64_t oh, int64_t ow) {
    const int64_t h0 = oh * s.s, w0 = ow * s.s;
    int64_t at = h0 * s.w + w0;
    float best = plane[at];
    for (int64_t i = 0; i < s.k; ++i) {
        const float* row = plane + (h0 + i) * s.w + w0;
        for (int64_t j = 0; j < s.k; ++j) take_if_larger(row[j], (h0 + i) * s.w + w0 + j, best, at);
    }
    return at;
}

void forward_general(const float* plane, float* out, const MaxPool2dShape& s) {
    for (int64_t oh = 0; oh < s.ho; ++oh)
        for (int64_t ow = 0; ow < s.wo; ++ow) out[oh * s.wo + ow] = plane[argmax_general(plane, s, oh, ow)];
}

// dx of one plane for the 2 x 2, stride-2 window: each window covers its own
// 2 x 2 block, so every covered value is written once (0 or 0 + dy, the
// reference's sum); the row and column that floor drops stay zero.
void backward_2x2(const float* plane, const float* g, float* d, const MaxPool2dShape& s) {
    std::memset(d, 0, sizeof(float) * s.h * s.w);
    for (int64_t oh = 0; oh < s.ho; ++oh) {
        const float* r0 = plane + 2 * oh * s.w;
        const float* r1 = r0 + s.w;
        float* d0 = d + 2 * oh * s.w;
        float* d1 = d0 + s.w;
        const float* go = g + oh * s.wo;
        for (int64_t ow = 0; ow < s.wo; ++ow) {
            float best = r0[2 * ow];
            int64_t at = 0;  // 0..3: r0[2ow], r0[2ow + 1], r1[2ow], r1[2ow + 1]
            take_if_larger(r0[2 * ow + 1], 1, best, at);
            take_if_larger(r1[2 * ow], 2, best, at);
            take_if_larger(r1[2 * ow + 1], 3, best, at);
            const float v = 0.0f + go[ow];
            d0[2 * ow] = at == 0 ? v : 0.0f;
            d0[2 * ow + 1] = at == 1 ? v : 0.0f;
            d1[2 * ow] = at == 2 ? v : 0.0f;
            d1[2 * ow + 1] = at == 3 ? v : 0.0f;
        }
    }
}

void backward_general(const float* plane, const float* g, float* d, const MaxPool2dShape& s) {
    std::memset(d, 0, sizeof(float) * s.h * s.w);
    for (int64_t oh = 0; oh < s.ho; ++oh)
        for (int64_t ow = 0; ow < s.wo; ++ow) d[argmax_general(plane, s, oh, ow)] += g[oh * s.wo + ow];
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, const MaxPool2dShape& s) {
    const int64_t planes = s.n * s.c, hw = s.h * s.w, ohw = s.ho * s.wo;
    const bool vgg = s.k == 2 && s.s == 2;
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (planes * hw > kParallelMinCount)
    for (int64_t p = 0; p < planes; ++p) {
        if (vgg)
            forward_2x2(x + p * hw, y + p * ohw, s);
        else
            forward_general(x + p * hw, y + p * ohw, s);
    }
}

void max_pool2d_backward(const float* x, const float* dy, float* dx, const MaxPool2dShape& s) {
    const int64_t planes = s.n * s.c, hw = s.h * s.w, ohw = s.ho * s.wo;
    const bool vgg = s.k == 2 && s.s == 2;
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (planes * hw > kParallelMinCount)
    for (int64_t p = 0; p < planes; ++p) {
        if (vgg)
            backward_2x2(x + p * hw, dy + p * ohw, dx + p * hw, s);
        else
            backward_general(x + p * hw, dy + p * ohw, dx + p * hw, s);
    }
}

}  // namespace sr_native
