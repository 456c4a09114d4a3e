// Fast conv_transpose2d, forward and backward, by output phase (sub-pixel
// decomposition): output row oy only meets kernel rows ky = (oy + pad) mod
// stride (+ multiples of stride), and within a row the output columns of one
// phase rx = (ox + pad) mod stride read the input at consecutive columns. So
// each (output row, column phase) is an ordinary correlation over a list of
// taps (input row, kernel entry, column offset), summed by the per-ISA row
// microkernel (conv_transpose2d_body.h) with the output channels in registers.
//
// dx is the adjoint: a strided correlation of dy. dy is split once per call
// into its stride column phases (dy_phase[.., b, m] = dy[.., stride * m + b]),
// after which dx rows are again correlations over contiguous segments, run
// by the same microkernel with the input channels in registers. dw sums,
// per kernel row, every input row against the K column taps of dy, a few
// input channels at a time, in registers.
//
// x and dy's phases are copied with zero margins, so vectors run past the row
// ends without edge code. A margin value adds w * 0 = 0 to a sum: exactly
// the reference's sum over existing taps when the weights are finite (else
// the reference kernel runs) and, for dw, when x and dy are finite (else dw
// sums only existing taps, row by row). So NaN and infinity land where the
// reference puts them. Each output value is computed by one thread in a
// fixed order: results do not depend on the thread count.
#include <algorithm>
#include <vector>

#if defined(SR_NATIVE_OPENMP)
#include <omp.h>
#endif

#include "conv_transpose2d_kernels.h"
#include "parallel.h"
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {

namespace {

using convt_detail::ConvTKernels;
using convt_detail::RowArgs;
using convt_detail::Tap;

ConvTKernels active_kernels() {
#if defined(SR_NATIVE_X86)
    switch (active_isa()) {
        case Isa::avx512: return convt_detail::convt_kernels_avx512();
        case Isa::avx2: return convt_detail::convt_kernels_avx2();
        default: break;
    }
#endif
    return convt_detail::convt_kernels_generic();
}

// Below about a million multiply-adds, forking threads costs more than it saves.
int threads_for(int64_t macs) { return macs < (int64_t{1} << 20) ? 1 : get_num_threads(); }

int thread_index() {
#if defined(SR_NATIVE_OPENMP)
    return omp_get_thread_num();
#else
    return 0;
#endif
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Rows are copied with this many zeros on each side, so the microkernel's
// vectors run past the row ends without edge handling in all usual cases
// (any read that is still outside is treated as a missing value).
constexpr int64_t kMargin = 16;

// dy split by column phase: row (n, o, oy) holds `stride` planes of
// `pitch` = kMargin + m + 2 * kMargin values, plane b holding
// dy[n, o, oy, stride * j + b] at kMargin + j (len(b) of them exist, zeros
// around them).
struct DyPhases {
    std::vector<float> data;
    int64_t stride, m, pitch, wo, ho, o;
    const float* row(int64_t n, int64_t oc, int64_t oy, int64_t b) const {
        return data.data() + ((n * o + oc) * ho + oy) * stride * pitch + b * pitch + kMargin;
    }
    int64_t len(int64_t b) const { return b < wo ? (wo - b + stride - 1) / stride : 0; }
};

}  // namespace

void conv_transpose2d_forward(const float* x, const float* w, const float* bias, float* y,
                              const ConvTranspose2dShape& s) {
    const int64_t C = s.c, H = s.h, W = s.w, O = s.o, K = s.k, S = s.stride, P = s.pad;
    const int64_t ho = s.out_h(), wo = s.out_w();
    // The microkernel reads missing border values as zeros, which only a
    // non-finite weight could tell apart (inf * 0): those go to the reference.
    if (!all_finite(w, C * O * K * K)) return ref::conv_transpose2d_forward(x, w, bias, y, s);
    const ConvTKernels kern = active_kernels();

    // [c][ky][kx][o]: the O weights one input value multiplies, adjacent.
    std::vector<float> wpack(static_cast<size_t>(C * K * K * O));
    for (int64_t c = 0; c < C; ++c)
        for (int64_t o = 0; o < O; ++o)
            for (int64_t kk = 0; kk < K * K; ++kk) wpack[(c * K * K + kk) * O + o] = w[(c * O + o) * K * K + kk];

    const int64_t max_taps = C * K * K;
    const int threads = threads_for(s.n * C * H * W * O * K * K);
    std::vector<Tap> tap_store(static_cast<size_t>(threads * max_taps));
    const int64_t items = s.n * ho;

    // x with kMargin zeros on both sides of every row: input columns from
    // -8 to W + 7 are all a phase ever reads (|(K - 1 + out_pad) / stride| <= 8).
    const int64_t pitch = W + 2 * kMargin, rows = s.n * C * H;
    std::vector<float> xpad(static_cast<size_t>(rows * pitch));
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t r = 0; r < rows; ++r) {
        float* dst = xpad.data() + r * pitch;
        std::fill(dst, dst + kMargin, 0.0f);
        std::copy(x + r * W, x + (r + 1) * W, dst + kMargin);
        std::fill(dst + kMargin + W, dst + pitch, 0.0f);
    }

#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t item = 0; item < items; ++item) {
        const int64_t n = item / ho, oy = item % ho;
        Tap* taps = tap_store.data() + thread_index() * max_taps;
        const int64_t ry = (oy + P) % S, by = (oy + P) / S;
        for (int64_t rx = 0; rx < S; ++rx) {
            const int64_t ox0 = ((rx - P) % S + S) % S;  // first output column of this phase
            if (ox0 >= wo) continue;
            const int64_t bx = (ox0 + P) / S;  // input column its first tap reads
            int64_t nt = 0;
            for (int64_t c = 0; c < C; ++c)
                for (int64_t ky = ry; ky < K; ky += S) {
                    const int64_t iy = by - (ky - ry) / S;
                    if (iy < 0 || iy >= H) continue;
                    const float* xrow = xpad.data() + ((n * C + c) * H + iy) * pitch;
                    for (int64_t kx = rx; kx < K; kx += S)
                        taps[nt++] = Tap{xrow, wpack.data() + ((c * K + ky) * K + kx) * O,
                                         kMargin + bx - (kx - rx) / S, pitch};
                }
            const RowArgs a{taps, nt, O, bias, y + (n * O * ho + oy) * wo + ox0, ho * wo, S, (wo - ox0 + S - 1) / S};
            kern.row(a);
        }
    }
}

void conv_transpose2d_backward(const float* x, const float* w, const float* dy, float* dx,
                               float* dw, float* db, const ConvTranspose2dShape& s) {
    const int64_t N = s.n, C = s.c, H = s.h, W = s.w, O = s.o, K = s.k, S = s.stride, P = s.pad;
    const int64_t ho = s.out_h(), wo = s.out_w();
    if (dx && !all_finite(w, C * O * K * K)) return ref::conv_transpose2d_backward(x, w, dy, dx, dw, db, s);
    const ConvTKernels kern = active_kernels();
    const int threads = threads_for(N * C * H * W * O * K * K);

    // dy by column phase, rows zero-padded by kMargin.
    DyPhases ph{{}, S, (wo + S - 1) / S, 0, wo, ho, O};
    ph.pitch = ph.m + 3 * kMargin;  // the right margin also covers dw's whole vectors
    if (dx || dw) {
        const int64_t rows = N * O * ho, m = ph.m, pitch = ph.pitch;
        ph.data.resize(static_cast<size_t>(rows * S * pitch));
        float* dst_all = ph.data.data();
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t r = 0; r < rows; ++r) {
            const float* src = dy + r * wo;
            for (int64_t b = 0; b < S; ++b) {
                float* dst = dst_all + (r * S + b) * pitch;
                std::fill(dst, dst + kMargin, 0.0f);
                for (int64_t j = 0; j < m; ++j) {
                    const int64_t ox = S * j + b;
                    dst[kMargin + j] = ox < wo ? src[ox] : 0.0f;
                }
                std::fill(dst + kMargin + m, dst + pitch, 0.0f);  // right margin
            }
        }
    }
    // Kernel column kx reads dy column stride * (ix + a) + b: phase b, offset a.
    std::vector<int64_t> col_a(static_cast<size_t>(K)), col_b(static_cast<size_t>(K));
    for (int64_t kx = 0; kx < K; ++kx) {
        col_a[kx] = floor_div(kx - P, S);
        col_b[kx] = kx - P - S * col_a[kx];
    }

    if (dx) {
        // [o][ky][kx][c]: the C weights one dy value multiplies, adjacent.
        std::vector<float> wpack(static_cast<size_t>(O * K * K * C));
        for (int64_t c = 0; c < C; ++c)
            for (int64_t o = 0; o < O; ++o)
                for (int64_t kk = 0; kk < K * K; ++kk) wpack[(o * K * K + kk) * C + c] = w[(c * O + o) * K * K + kk];
        const int64_t max_taps = O * K * K;
        std::vector<Tap> tap_store(static_cast<size_t>(threads * max_taps));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (int64_t item = 0; item < N * H; ++item) {
            const int64_t n = item / H, iy = item % H;
            Tap* taps = tap_store.data() + thread_index() * max_taps;
            int64_t nt = 0;
            for (int64_t o = 0; o < O; ++o)
                for (int64_t ky = 0; ky < K; ++ky) {
                    const int64_t oy = iy * S - P + ky;
                    if (oy < 0 || oy >= ho) continue;
                    for (int64_t kx = 0; kx < K; ++kx)
                        taps[nt++] = Tap{ph.row(n, o, oy, col_b[kx]) - kMargin,
                                         wpack.data() + ((o * K + ky) * K + kx) * C, kMargin + col_a[kx], ph.pitch};
                }
            const RowArgs a{taps, nt, C, nullptr, dx + (n * C * H + iy) * W, H * W, 1, W};
            kern.row(a);
        }
    }

    if (dw) {
        // Each weight's sum in double. With x and dy finite, dy's zero
        // margins may be summed (x * 0 = 0): float lane sums over up to
        // kFoldRows rows at a time in registers, for a few input channels at
        // once, then folded into the doubles. Else only the dy values that
        // exist, row by row.
        const int64_t L = kern.lanes, cap = K * K;
        bool padded = all_finite_threads(x, N * C * H * W, threads) &&
                      all_finite_threads(dy, N * O * ho * wo, threads);
        const int64_t w_vec = (W + L - 1) / L * L;  // columns a padded row is read over
        std::vector<int64_t> tap_off(static_cast<size_t>(K));  // from phase 0's values to tap kx's
        for (int64_t kx = 0; kx < K; ++kx) {
            padded = padded && col_a[kx] + kMargin >= 0 && kMargin + col_a[kx] + w_vec <= ph.pitch;
            tap_off[kx] = col_b[kx] * ph.pitch + col_a[kx];
        }
        constexpr int64_t kFoldRows = 32;
        const int64_t cb = kern.dw_cb, blocks = (C + cb - 1) / cb;
        std::vector<Tap> tap_store(static_cast<size_t>(threads * K));
        std::vector<float> partial_store(static_cast<size_t>(threads * convt_detail::kMaxDwCb * K * L));
        std::vector<const float*> row_store(static_cast<size_t>(threads * 2 * kFoldRows));
        // Padded: one (block of cb input channels, o) per item; else one (c, o).
        const int64_t items = padded ? blocks * O : C * O;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (int64_t item = 0; item < items; ++item) {
            const int tid = thread_index();
            const int64_t o = item % O;
            if (padded) {
                const int64_t c0 = item / O * cb, ncb = std::min(cb, C - c0);
                double acc[convt_detail::kMaxDwCb][81] = {};  // K * K <= 81
                float* partial = partial_store.data() + tid * convt_detail::kMaxDwCb * K * L;
                const float** xrows = row_store.data() + tid * 2 * kFoldRows;
                const float** drows = xrows + kFoldRows;
                for (int64_t ky = 0; ky < K; ++ky) {
                    int64_t nrows = 0;
                    for (int64_t n = 0; n < N; ++n)
                        for (int64_t iy = 0; iy < H; ++iy) {
                            const int64_t oy = iy * S - P + ky;
                            if (oy >= 0 && oy < ho) {
                                xrows[nrows] = x + ((n * C + c0) * H + iy) * W;
                                drows[nrows++] = ph.row(n, o, oy, 0);
                            }
                            if (nrows == kFoldRows || (nrows > 0 && n == N - 1 && iy == H - 1)) {
                                kern.dw_rows_padded(xrows, drows, nrows, W, tap_off.data(), K, H * W, ncb, partial);
                                for (int64_t j = 0; j < ncb; ++j)
                                    for (int64_t kx = 0; kx < K; ++kx)
                                        for (int64_t l = 0; l < L; ++l)
                                            acc[j][ky * K + kx] += partial[(j * K + kx) * L + l];
                                nrows = 0;
                            }
                        }
                }
                for (int64_t j = 0; j < ncb; ++j)
                    for (int64_t kk = 0; kk < cap; ++kk) dw[((c0 + j) * O + o) * cap + kk] += static_cast<float>(acc[j][kk]);
            } else {
                const int64_t c = item / O;
                double acc[81] = {};
                Tap* taps = tap_store.data() + tid * K;
                for (int64_t n = 0; n < N; ++n)
                    for (int64_t iy = 0; iy < H; ++iy) {
                        const float* xrow = x + ((n * C + c) * H + iy) * W;
                        for (int64_t ky = 0; ky < K; ++ky) {
                            const int64_t oy = iy * S - P + ky;
                            if (oy < 0 || oy >= ho) continue;
                            for (int64_t kx = 0; kx < K; ++kx)
                                taps[kx] = Tap{ph.row(n, o, oy, col_b[kx]), nullptr, col_a[kx], ph.len(col_b[kx])};
                            kern.dw_row(xrow, W, taps, K, acc + ky * K);
                        }
                    }
                for (int64_t kk = 0; kk < cap; ++kk) dw[(c * O + o) * cap + kk] += static_cast<float>(acc[kk]);
            }
        }
    }

    if (db) {
        for (int64_t o = 0; o < O; ++o) {
            double acc = 0.0;
            for (int64_t n = 0; n < N; ++n) {
                const float* plane = dy + (n * O + o) * ho * wo;
                for (int64_t i = 0; i < ho * wo; ++i) acc += plane[i];
            }
            db[o] += static_cast<float>(acc);
        }
    }
}

}  // namespace sr_native
