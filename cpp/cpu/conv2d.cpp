// Fast conv2d forward: register-tiled direct convolution (see conv2d_body.h
// for the tile), driven from here in baseline code.
//
// Work split: items are (image, band of output rows, group of output-channel
// blocks). An item walks its rows top to bottom keeping the K input rows it
// needs, zero-padded, in a per-thread ring of K rows per channel: each input
// row is copied once per item, and borders cost nothing in the tile loop.
// Bands are sized so each thread gets several items, and output-channel
// blocks split into groups when there are too few rows, so N = 1 and small
// images keep every thread busy. Each output value is computed by one tile in
// a fixed order: results do not depend on the thread count.
//
// The block size r (output channels per tile) is chosen per call from a small
// cost model of the tiles each r gives for this O and W.
#include <algorithm>
#include <cstring>
#include <vector>

#if defined(SR_NATIVE_OPENMP)
#include <omp.h>
#endif

#include "conv2d_kernels.h"
#include "conv2d_winograd_kernels.h"
#include "parallel.h"
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

int conv2d_threads(int64_t macs) { return macs < (int64_t{1} << 20) ? 1 : get_num_threads(); }

}  // namespace conv2d_detail

namespace {

constexpr int64_t kPadTo = 16;           // widest vector, in floats
constexpr int64_t kItemsPerThread = 8;  // dynamic scheduling absorbs uneven cores
constexpr int64_t kPiece1x1 = 128;      // 1x1: pixels every block runs over before the next

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Rough cycles of one output row for a block of r channels: per tile, C*K*K
// steps of max(FMAs, loads) plus loop and epilogue overhead.
double row_cost(const conv2d_detail::ConvKernels& k, int r, int64_t w, int64_t ckk) {
    const int v = k.fwd_vmax[r];
    const int64_t nvec = ceil_div(w, k.lanes);
    const auto tile = [&](int vv) {
        const double step = std::max<double>(r * vv, (2.0 * vv + r) / 2.0) + 2.0;
        return static_cast<double>(ckk) * step + 3.0 * r * vv + 20.0;
    };
    return static_cast<double>(nvec / v) * tile(v) + (nvec % v ? tile(static_cast<int>(nvec % v)) : 0.0);
}

}  // namespace

int conv2d_detail::choose_block(const ConvKernels& k, int64_t o, int64_t w, int64_t ckk) {
    int best = k.fwd_rmax;
    double best_cost = 0.0;
    for (int r = k.fwd_rmax; r >= 1; --r) {
        const double cost = static_cast<double>(o / r) * row_cost(k, r, w, ckk) +
                            (o % r ? row_cost(k, static_cast<int>(o % r), w, ckk) : 0.0);
        if (r == k.fwd_rmax || cost < best_cost) {
            best = r;
            best_cost = cost;
        }
    }
    return best;
}

std::vector<float> conv2d_detail::pack_weights(const float* w, int64_t O, int64_t C, int64_t KK, int R) {
    std::vector<float> wpack(static_cast<size_t>(O * C * KK));
    for (int64_t o0 = 0; o0 < O; o0 += R) {
        const int64_t r = std::min<int64_t>(R, O - o0);
        float* dst = wpack.data() + o0 * C * KK;
        for (int64_t c = 0; c < C; ++c)
            for (int64_t t = 0; t < KK; ++t)
                for (int64_t i = 0; i < r; ++i)
                    dst[(c * KK + t) * r + i] = w[((o0 + i) * C + c) * KK + t];
    }
    return wpack;
}

void conv2d_detail::forward_blocks(const ConvKernels& kr, FwdBlockArgs a, const float* wpack, int R,
                                   int64_t ckk, int64_t o_begin, int64_t o_end, const Conv2dEpilogue& e,
                                   float* y, int64_t y_cstride, int64_t r_cstride) {
    a.y_cstride = y_cstride;
    a.r_cstride = r_cstride < 0 ? y_cstride : r_cstride;
    a.res_scale = e.res_scale;
    a.relu = e.relu;
    for (int64_t o0 = o_begin; o0 < o_end; o0 += R) {
        a.wpack = wpack + o0 * ckk;
        a.r = static_cast<int>(std::min<int64_t>(R, o_end - o0));
        a.bias = e.bias ? e.bias + o0 : nullptr;
        a.residual = e.residual ? e.residual + o0 * a.r_cstride : nullptr;
        a.y = y + o0 * y_cstride;
        kr.fwd_block(a);
    }
}

namespace {

// 1x1 convolutions need no padding, so the tiles read x in place: each
// image's H*W pixels are one long row, split in spans of whole tiles
// across the threads. Only a row's last partial vector would read past the
// plane (past the array, for the last channel of the last image); it goes
// through a small zero-padded copy instead. Copying rows into the ring, as
// the K > 1 path does, cost as much as the arithmetic for 192 -> 25.
void forward_1x1(const conv2d_detail::ConvKernels& kr, const float* x, const float* w, float* y,
                 const Conv2dShape& s, const Conv2dEpilogue& e, const Conv2dRows& rows) {
    using namespace conv2d_detail;
    const int64_t N = s.n, C = s.c, O = s.o, HW = s.h * s.w;
    const int64_t XP = rows.x_plane, YP = rows.y_plane, RP = rows.r_plane;  // x_rows == h, pad_top == 0 for 1x1
    const int64_t L = kr.lanes;
    const int R = choose_block(kr, O, HW, C);
    const std::vector<float> wpack = pack_weights(w, O, C, 1, R);

    const int64_t full = HW / L * L;  // pixels read in place
    const int nt = conv2d_threads(N * O * C * HW);
    // Spans of whole 8-vector multiples, several per thread.
    const int64_t want = kItemsPerThread * nt;
    const int64_t span = std::max<int64_t>(8 * L, ceil_div(ceil_div(full, std::max<int64_t>(1, ceil_div(want, N))), 8 * L) * 8 * L);
    const int64_t nspans = full == 0 ? 0 : ceil_div(full, span);
    const int64_t tail = HW - full;
    const int64_t per_image = nspans + (tail ? 1 : 0);
    const int64_t total = N * per_image;
    const int64_t taps0 = 0;

#pragma omp parallel num_threads(static_cast<int>(std::min<int64_t>(nt, std::max<int64_t>(total, 1))))
    {
        std::vector<float> tailbuf;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < total; ++it) {
            const int64_t n = it / per_image, k = it % per_image;
            FwdBlockArgs a;
            a.ntaps = 1;
            a.taps = &taps0;
            int64_t q0, q1;  // pixel range of this item
            if (k < nspans) {
                q0 = k * span;
                q1 = std::min(full, q0 + span);
            } else {  // the last partial vector of the image
                q0 = full;
                q1 = HW;
                tailbuf.assign(static_cast<size_t>(C * L), 0.0f);
                for (int64_t c = 0; c < C; ++c)
                    std::memcpy(tailbuf.data() + c * L, x + (n * C + c) * XP + full, tail * sizeof(float));
            }
            a.c = C;
            // Pieces small enough that every block re-reads them from L1/L2.
            for (int64_t p0 = q0; p0 < q1; p0 += kPiece1x1) {
                const int64_t p1 = std::min(q1, p0 + kPiece1x1);
                if (k < nspans) {
                    a.xbuf = x + n * C * XP + p0;
                    a.plane = XP;
                } else {
                    a.xbuf = tailbuf.data();
                    a.plane = L;
                }
                a.w = p1 - p0;
                const int64_t at = n * O * YP + p0;  // output channel 0 of this piece
                Conv2dEpilogue ep = e;
                ep.residual = e.residual ? e.residual + n * O * RP + p0 : nullptr;
                forward_blocks(kr, a, wpack.data(), R, C, 0, O, ep, y + at, YP, RP);
            }
        }
    }
}

}  // namespace

// Winograd F(4x4, 3x3) (conv2d_winograd.cpp) for 3x3 layers where its
// transforms are paid back. Measured on Zen 4 (AVX-512, 1 and 2 threads):
// on 339x510 images it wins 1.3-2.7x from 16 input and 8 output channels
// (16->16 1.33x, 64->8 1.48x, 64->64 2x), loses below (8->64 1.1x,
// 3->64 0.78x, 64->3 0.5x); with fewer than ~64 tiles (32x32 pixels) the
// per-call weight transform costs more than it saves (64->64 on 16x16: 0.66x).
// dx and dw (conv2d_backward.cpp) follow the same choice.
bool conv2d_detail::use_winograd(const Conv2dShape& s) {
    if (s.k != 3) return false;
    switch (get_conv_algo()) {
        case ConvAlgo::direct: return false;
        case ConvAlgo::winograd: return true;
        default: break;
    }
    const int64_t tiles = s.n * ((s.h + 3) / 4) * ((s.w + 3) / 4);
    return s.c >= 16 && s.o >= 8 && tiles >= 64;
}

Conv2dRows conv2d_same_rows(const Conv2dShape& s) {
    return Conv2dRows{s.h, s.k / 2, s.h * s.w, s.h * s.w, s.h * s.w, s.h};
}

void conv2d_forward(const float* x, const float* w, float* y, const Conv2dShape& s,
                    const Conv2dEpilogue& e) {
    conv2d_forward_rows(x, w, y, s, e, conv2d_same_rows(s));
}

void conv2d_forward_rows(const float* x, const float* w, float* y, const Conv2dShape& s,
                         const Conv2dEpilogue& e, const Conv2dRows& rows) {
    using namespace conv2d_detail;
    // Winograd mixes a 6x6 input tile into all 16 outputs of its tile, so a
    // NaN or infinity would reach outputs whose window does not hold it:
    // non-finite weights (a small scan) take the direct path, and tiles with
    // non-finite input are computed directly inside the Winograd driver.
    Conv2dShape whole = s;
    whole.h = rows.whole_h;
    if (use_winograd(whole) && all_finite(w, s.o * s.c * s.k * s.k)) {
        conv2d_forward_winograd(x, w, y, s, e, rows);
        return;
    }
    const ConvKernels kr = conv2d_active_kernels();
    if (s.k == 1) {
        forward_1x1(kr, x, w, y, s, e, rows);
        return;
    }
    const int64_t N = s.n, C = s.c, H = s.h, W = s.w, O = s.o, K = s.k, P = K / 2;
    const int64_t KK = K * K, HW = H * W;
    const int64_t XR = rows.x_rows, XP = rows.x_plane, YP = rows.y_plane, RP = rows.r_plane, T = rows.pad_top;
    const int64_t wp = ceil_div(W, kPadTo) * kPadTo + 2 * P;  // tiles read whole vectors
    const int R = choose_block(kr, O, W, C * KK);
    const int64_t nblocks = ceil_div(O, R);
    const std::vector<float> wpack = pack_weights(w, O, C, KK, R);

    // Work split (see the file comment).
    const int nt = conv2d_threads(N * O * C * KK * HW);
    const int64_t want = kItemsPerThread * nt;
    const int64_t bands_per_image = std::clamp<int64_t>(ceil_div(want, N), 1, H);
    const int64_t band = ceil_div(H, bands_per_image);
    const int64_t nbands = ceil_div(H, band);
    const int64_t items = N * nbands;
    int64_t per_group = nblocks;
    if (items < want) per_group = ceil_div(nblocks, std::min(nblocks, ceil_div(want, items)));
    const int64_t ngroups = ceil_div(nblocks, per_group);
    const int64_t total = items * ngroups;

    const int64_t plane = K * wp;  // the ring: K rows of one channel
    const int threads = static_cast<int>(std::min<int64_t>(nt, total));
    // Zeroed once: padding columns are never written, so they stay zero.
    std::vector<float> rings(static_cast<size_t>(threads * C * plane), 0.0f);
    std::vector<int64_t> taps_all(static_cast<size_t>(threads * KK));

#pragma omp parallel num_threads(threads)
    {
        int tid = 0;
#if defined(SR_NATIVE_OPENMP)
        tid = omp_get_thread_num();
#endif
        float* ring = rings.data() + tid * C * plane;
        int64_t* taps = taps_all.data() + tid * KK;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < total; ++it) {
            const int64_t g = it % ngroups, item = it / ngroups;
            const int64_t n = item / nbands, oh0 = (item % nbands) * band;
            const int64_t oh1 = std::min(H, oh0 + band);
            const int64_t b0 = g * per_group, b1 = std::min(nblocks, b0 + per_group);
            for (int64_t oh = oh0; oh < oh1; ++oh) {
                // Input rows oh-P..oh+P must be in the ring; slot of row ih is (ih+P) % K.
                for (int64_t ih = oh == oh0 ? oh - P : oh + P; ih <= oh + P; ++ih) {
                    const int64_t slot = (ih + P) % K;
                    const int64_t xr = ih + P - T;  // x's row for padded row ih
                    for (int64_t c = 0; c < C; ++c) {
                        float* dst = ring + c * plane + slot * wp;
                        if (xr >= 0 && xr < XR)
                            std::memcpy(dst + P, x + (n * C + c) * XP + xr * W, W * sizeof(float));
                        else
                            std::memset(dst, 0, wp * sizeof(float));
                    }
                }
                for (int64_t kh = 0; kh < K; ++kh)
                    for (int64_t kw = 0; kw < K; ++kw)
                        taps[kh * K + kw] = ((oh + kh) % K) * wp + kw;
                FwdBlockArgs a;
                a.xbuf = ring;
                a.c = C;
                a.plane = plane;
                a.taps = taps;
                a.ntaps = KK;
                a.w = W;
                const int64_t at = n * O * YP + oh * W;  // output channel 0 of this row
                Conv2dEpilogue ep = e;
                ep.residual = e.residual ? e.residual + n * O * RP + oh * W : nullptr;
                forward_blocks(kr, a, wpack.data(), R, C * KK, b0 * R, std::min(O, b1 * R), ep, y + at, YP, RP);
            }
        }
    }
}

}  // namespace sr_native
