// Fast pixel shuffle / unshuffle: one output row at a time, so reads are
// r contiguous input rows and the write is one contiguous output row.
// Memory bound; the compiler vectorises the r == 2 interleave.
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {
namespace {

// One shuffled output row from r input rows (the r channels c*r*r + i*r + j, j < r).
template <int R>
inline void interleave_row(const float* const* src, float* dst, int64_t w, int r_runtime) {
    const int r = R > 0 ? R : r_runtime;
    for (int64_t iw = 0; iw < w; ++iw)
        for (int j = 0; j < r; ++j) dst[iw * r + j] = src[j][iw];
}

template <int R>
inline void deinterleave_row(const float* src, float* const* dst, int64_t wo, int r_runtime) {
    const int r = R > 0 ? R : r_runtime;
    for (int64_t ow = 0; ow < wo; ++ow)
        for (int j = 0; j < r; ++j) dst[j][ow] = src[ow * r + j];
}

constexpr int kMaxStackR = 16;  // larger r goes to the reference

}  // namespace

void pixel_shuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int r) {
    if (r > kMaxStackR) return ref::pixel_shuffle(x, y, n, c, h, w, r);
    pixel_shuffle_rows(x, y, n, c, h, w, r, h * w, h * w * r * r);
}

void pixel_shuffle_rows(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int r,
                        int64_t x_plane, int64_t y_plane) {
    const int64_t rr = static_cast<int64_t>(r) * r, co = c / rr, ho = h * r, wo = w * r;
    const int64_t rows = n * co * ho;  // output rows, each independent
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (rows * wo > 32768)
    for (int64_t row = 0; row < rows; ++row) {
        const int64_t oh = row % ho, b_oc = row / ho;  // b_oc = b * co + oc
        const int64_t ih = oh / r, i = oh % r;
        const float* src[kMaxStackR];
        for (int j = 0; j < r; ++j) src[j] = x + (b_oc * rr + i * r + j) * x_plane + ih * w;
        float* dst = y + b_oc * y_plane + oh * wo;
        if (r == 2) interleave_row<2>(src, dst, w, r);
        else if (r == 3) interleave_row<3>(src, dst, w, r);
        else if (r == 4) interleave_row<4>(src, dst, w, r);
        else interleave_row<0>(src, dst, w, r);
    }
}

void pixel_unshuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
                     int r) {
    if (r > kMaxStackR) return ref::pixel_unshuffle(x, y, n, c, h, w, r);
    const int64_t rr = static_cast<int64_t>(r) * r, ho = h / r, wo = w / r;
    const int64_t rows = n * c * h;  // input rows, each independent
#pragma omp parallel for schedule(static) num_threads(get_num_threads()) if (rows * w > 32768)
    for (int64_t row = 0; row < rows; ++row) {
        const int64_t ih = row % h, b_c = row / h;  // b_c = b * c + ic
        const int64_t oh = ih / r, i = ih % r;
        float* dst[kMaxStackR];
        for (int j = 0; j < r; ++j) dst[j] = y + ((b_c * rr + i * r + j) * ho + oh) * wo;
        const float* src = x + row * w;
        if (r == 2) deinterleave_row<2>(src, dst, wo, r);
        else if (r == 3) deinterleave_row<3>(src, dst, wo, r);
        else if (r == 4) deinterleave_row<4>(src, dst, wo, r);
        else deinterleave_row<0>(src, dst, wo, r);
    }
}

}  // namespace sr_native
