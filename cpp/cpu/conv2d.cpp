// Fast conv2d forward: register-tiled direct convolution (see conv2d_body.h
// for the tile), driven from here in baseline code.
//
// Work split: items are (image, band of output rows, group of output-channel
// blocks). Each item copies its input rows into a per-thread zero-padded band
// buffer (so borders cost nothing in the tile loop), then runs every block of
// its group over the band. Bands shrink to one row, and output-channel blocks
// split into groups, until there are several items per thread, so N = 1 and
// small images keep every thread busy. Each output value is computed by one
// tile in a fixed order: results do not depend on the thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#if defined(SR_NATIVE_OPENMP)
#include <omp.h>
#endif

#include "conv2d_kernels.h"
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {
namespace conv2d_detail {

ConvKernels conv2d_active_kernels() {
#if defined(SR_NATIVE_X86)
    switch (active_isa()) {
        case Isa::avx512: return conv2d_kernels_avx512();
        case Isa::avx2: return conv2d_kernels_avx2();
        default: break;
    }
#endif
    return conv2d_kernels_generic();
}

}  // namespace conv2d_detail

namespace {

constexpr int64_t kPadTo = 16;                   // widest vector, in floats
constexpr int64_t kBandBytes = 512 * 1024;       // band buffer per thread (L2-sized)
constexpr int64_t kMaxBandRows = 8;
constexpr int64_t kItemsPerThread = 4;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

void conv2d_forward(const float* x, const float* w, float* y, const Conv2dShape& s,
                    const Conv2dEpilogue& e) {
    using namespace conv2d_detail;
    const ConvKernels kr = conv2d_active_kernels();
    const int64_t N = s.n, C = s.c, H = s.h, W = s.w, O = s.o, K = s.k, P = K / 2;
    const int64_t KK = K * K, HW = H * W;
    const int64_t wp = ceil_div(W, kPadTo) * kPadTo + 2 * P;  // tiles may read whole vectors
    const int R = kr.fwd_r;
    const int64_t nblocks = ceil_div(O, R);

    // Weights packed per block of R output channels: [block][c][tap][r].
    std::vector<float> wpack(static_cast<size_t>(O * C * KK));
    for (int64_t b = 0; b < nblocks; ++b) {
        const int64_t o0 = b * R, r = std::min<int64_t>(R, O - o0);
        float* dst = wpack.data() + o0 * C * KK;
        for (int64_t c = 0; c < C; ++c)
            for (int64_t t = 0; t < KK; ++t)
                for (int64_t i = 0; i < r; ++i)
                    dst[(c * KK + t) * r + i] = w[((o0 + i) * C + c) * KK + t];
    }
    std::vector<int64_t> taps(static_cast<size_t>(KK));
    for (int64_t kh = 0; kh < K; ++kh)
        for (int64_t kw = 0; kw < K; ++kw) taps[kh * K + kw] = kh * wp + kw;

    // Work split (see the file comment).
    const int nt = get_num_threads();
    const int64_t want = kItemsPerThread * nt;
    int64_t band = std::clamp<int64_t>(kBandBytes / (4 * C * wp) - 2 * P, 1, kMaxBandRows);
    if (N * ceil_div(H, band) < want) band = 1;
    const int64_t nbands = ceil_div(H, band);
    const int64_t items = N * nbands;
    int64_t per_group = nblocks;
    if (items < want) per_group = ceil_div(nblocks, std::min(nblocks, ceil_div(want, items)));
    const int64_t ngroups = ceil_div(nblocks, per_group);
    const int64_t total = items * ngroups;

    const int64_t rows_buf = band + 2 * P;
    const int64_t plane = rows_buf * wp;
    const int threads = static_cast<int>(std::min<int64_t>(nt, total));
    // Zeroed once: padding columns are never written, so they stay zero.
    std::vector<float> bufs(static_cast<size_t>(threads * C * plane), 0.0f);

#pragma omp parallel num_threads(threads)
    {
        int tid = 0;
#if defined(SR_NATIVE_OPENMP)
        tid = omp_get_thread_num();
#endif
        float* buf = bufs.data() + tid * C * plane;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < total; ++it) {
            const int64_t g = it % ngroups, item = it / ngroups;
            const int64_t n = item / nbands, oh0 = (item % nbands) * band;
            const int64_t rows = std::min(band, H - oh0);
            for (int64_t c = 0; c < C; ++c) {
                const float* xc = x + (n * C + c) * HW;
                for (int64_t i = 0; i < rows + 2 * P; ++i) {
                    float* dst = buf + c * plane + i * wp;
                    const int64_t ih = oh0 + i - P;
                    if (ih >= 0 && ih < H) std::memcpy(dst + P, xc + ih * W, W * sizeof(float));
                    else std::memset(dst, 0, wp * sizeof(float));
                }
            }
            const int64_t b1 = std::min(nblocks, (g + 1) * per_group);
            for (int64_t b = g * per_group; b < b1; ++b) {
                const int64_t o0 = b * R;
                const int64_t at = (n * O + o0) * HW + oh0 * W;
                FwdBlockArgs a;
                a.xbuf = buf;
                a.c = C;
                a.plane = plane;
                a.wp = wp;
                a.taps = taps.data();
                a.ntaps = KK;
                a.rows = rows;
                a.w = W;
                a.wpack = wpack.data() + o0 * C * KK;
                a.r = static_cast<int>(std::min<int64_t>(R, O - o0));
                a.bias = e.bias ? e.bias + o0 : nullptr;
                a.residual = e.residual ? e.residual + at : nullptr;
                a.y = y + at;
                a.y_cstride = HW;
                a.res_scale = e.res_scale;
                a.relu = e.relu;
                kr.fwd_block(a);
            }
        }
    }
}

}  // namespace sr_native
