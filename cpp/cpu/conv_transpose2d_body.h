// conv_transpose2d microkernels, written once over simd::Vec and compiled per
// instruction set (include simd.h first, with the ISA chosen). See
// conv_transpose2d_kernels.h for what they compute.
//
// Register tile: R output channels x V vectors of output columns, summed
// over all taps in registers and stored once. Columns where every tap exists
// (the interior) run in tiles; the few columns at each end where some tap
// falls outside its row run in one-vector edge tiles (with the driver's
// zero-margined rows, only rows narrower than a vector get there).
#pragma once

#include <cstdint>

#include "conv_transpose2d_kernels.h"

namespace sr_native {
namespace {  // must not be merged across ISA files (see simd.h)
namespace convt_body {

using convt_detail::ConvTKernels;
using convt_detail::RowArgs;
using convt_detail::Tap;
using simd::Vec;
constexpr int kL = Vec::kLanes;
constexpr int kMaxR = 4;

// Vectors per tile for R channels: R * V accumulators, R broadcast weights
// and one loaded vector fit in the registers; at most 8.
constexpr int max_v(int r) {
    const int v = (Vec::kRegs - r - 2) / r;
    return v > 8 ? 8 : (v < 1 ? 1 : v);
}

inline void store_row(const RowArgs& a, int64_t r, int64_t q, Vec v) {
    const float b = a.bias ? a.bias[r] : 0.0f;
    float* out = a.out + r * a.out_rstride;
    v = simd::vadd(v, simd::vset1(b));
    if (a.out_qstride == 1) {
        simd::vstore(out + q, v);
    } else {
        float tmp[kL];
        simd::vstore(tmp, v);
        for (int l = 0; l < kL; ++l) out[(q + l) * a.out_qstride] = tmp[l];
    }
}

// Columns [q, q + V * kL) of channels [r0, r0 + R); every tap exists there.
template <int R, int V>
void tile(const RowArgs& a, int64_t r0, int64_t q) {
    Vec acc[R][V];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[r][v] = simd::vzero();
    for (int64_t t = 0; t < a.ntaps; ++t) {
        const Tap& tap = a.taps[t];
        const float* src = tap.row + tap.off + q;
        Vec wv[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) wv[r] = simd::vset1(tap.w[r0 + r]);
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) {
            const Vec xv = simd::vload(src + v * kL);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[r][v] = simd::vfmadd(wv[r], xv, acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) store_row(a, r0 + r, q + v * kL, acc[r][v]);
}

// A tile of nv vectors (1 <= nv <= V), chosen at run time.
template <int R, int V>
void tile_n(const RowArgs& a, int64_t r0, int64_t q, int nv) {
    if constexpr (V > 1) {
        if (nv < V) return tile_n<R, V - 1>(a, r0, q, nv);
    }
    tile<R, V>(a, r0, q);
}

// Channels [r0, r0 + R) over the interior columns [qlo, qhi), qhi - qlo >= kL.
// The rest after whole tiles is one tile of whole vectors ending at qhi when
// that fits, else whole vectors and a last vector ending at qhi: overlapping
// columns are written twice with the same values.
template <int R>
void interior(const RowArgs& a, int64_t r0, int64_t qlo, int64_t qhi) {
    constexpr int V = max_v(R);
    int64_t q = qlo;
    for (; q + V * kL <= qhi; q += V * kL) tile<R, V>(a, r0, q);
    if (q == qhi) return;
    const int covering = static_cast<int>((qhi - q + kL - 1) / kL);
    if (qhi - int64_t{covering} * kL >= qlo) return tile_n<R, V>(a, r0, qhi - int64_t{covering} * kL, covering);
    const int nv = static_cast<int>((qhi - q) / kL);
    if (nv > 0) {
        tile_n<R, V>(a, r0, q, nv);
        q += int64_t{nv} * kL;
    }
    if (q < qhi) tile<R, 1>(a, r0, qhi - kL);
}

// Columns [q, q_end) (q_end - q <= kL) of channels [r0, r0 + R), near a
// border: a tap's values outside its row are read as zeros. That adds
// w * 0 = 0 for finite weights; the driver sends non-finite weights to the
// reference, so the sum is exactly that of the existing taps.
template <int R>
void edge_tile(const RowArgs& a, int64_t r0, int64_t q, int64_t q_end) {
    Vec acc[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r] = simd::vzero();
    float buf[kL];
    for (int64_t t = 0; t < a.ntaps; ++t) {
        const Tap& tap = a.taps[t];
        const int64_t lo = -tap.off - q, hi = tap.len - tap.off - q;  // lanes that exist
        Vec xv;
        if (lo <= 0 && hi >= kL) {
            xv = simd::vload(tap.row + tap.off + q);
        } else {
            for (int l = 0; l < kL; ++l) buf[l] = l >= lo && l < hi ? tap.row[tap.off + q + l] : 0.0f;
            xv = simd::vload(buf);
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r] = simd::vfmadd(simd::vset1(tap.w[r0 + r]), xv, acc[r]);
    }
    for (int r = 0; r < R; ++r) {
        const float b = a.bias ? a.bias[r0 + r] : 0.0f;
        simd::vstore(buf, acc[r]);
        float* out = a.out + (r0 + r) * a.out_rstride;
        for (int64_t j = q; j < q_end; ++j) out[j * a.out_qstride] = buf[j - q] + b;
    }
}

template <int R>
void edges(const RowArgs& a, int64_t r0, int64_t qlo, int64_t qhi) {
    for (int64_t q = 0; q < qlo; q += kL) edge_tile<R>(a, r0, q, q + kL < qlo ? q + kL : qlo);
    for (int64_t q = qhi; q < a.nq; q += kL) edge_tile<R>(a, r0, q, q + kL < a.nq ? q + kL : a.nq);
}

template <int R>
void block(const RowArgs& a, int64_t r0, int64_t qlo, int64_t qhi) {
    if (qhi > qlo) interior<R>(a, r0, qlo, qhi);
    edges<R>(a, r0, qlo, qhi);
}

void row(const RowArgs& a) {
    // Interior: the columns where every tap exists.
    int64_t qlo = 0, qhi = a.nq;
    for (int64_t t = 0; t < a.ntaps; ++t) {
        const Tap& tap = a.taps[t];
        if (-tap.off > qlo) qlo = -tap.off;
        if (tap.len - tap.off < qhi) qhi = tap.len - tap.off;
    }
    if (qhi - qlo < kL) qlo = qhi = 0;  // too narrow for a vector: all edge tiles
    for (int64_t r0 = 0; r0 < a.nr; r0 += kMaxR) {
        switch (a.nr - r0 < kMaxR ? a.nr - r0 : kMaxR) {
            case 1: block<1>(a, r0, qlo, qhi); break;
            case 2: block<2>(a, r0, qlo, qhi); break;
            case 3: block<3>(a, r0, qlo, qhi); break;
            default: block<4>(a, r0, qlo, qhi); break;
        }
    }
}

// dw of one input row against T taps (T <= 9): out[t] += sum over the
// columns i where tap t exists of x[i] * taps[t].row[i + off]. Vector sums
// over the columns every tap has, scalar ones at the ends; each row's sums
// are folded into the doubles.
template <int T>
void dw_row_t(const float* x, int64_t w, const Tap* taps, double* out) {
    int64_t lo = 0, hi = w;
    for (int t = 0; t < T; ++t) {
        if (-taps[t].off > lo) lo = -taps[t].off;
        if (taps[t].len - taps[t].off < hi) hi = taps[t].len - taps[t].off;
    }
    if (hi < lo) hi = lo;
    const int64_t vhi = lo + (hi - lo) / kL * kL;
    Vec acc[T];
#pragma GCC unroll 9
    for (int t = 0; t < T; ++t) acc[t] = simd::vzero();
    for (int64_t i = lo; i < vhi; i += kL) {
        const Vec xv = simd::vload(x + i);
#pragma GCC unroll 9
        for (int t = 0; t < T; ++t) acc[t] = simd::vfmadd(xv, simd::vload(taps[t].row + taps[t].off + i), acc[t]);
    }
    float lanes[kL];
    for (int t = 0; t < T; ++t) {
        simd::vstore(lanes, acc[t]);
        float sum = 0.0f;
        for (int l = 0; l < kL; ++l) sum += lanes[l];
        const float* d = taps[t].row + taps[t].off;
        const int64_t tlo = -taps[t].off > 0 ? -taps[t].off : 0;
        const int64_t thi = taps[t].len - taps[t].off < w ? taps[t].len - taps[t].off : w;
        for (int64_t i = tlo; i < lo && i < thi; ++i) sum += x[i] * d[i];
        for (int64_t i = vhi > tlo ? vhi : tlo; i < thi; ++i) sum += x[i] * d[i];
        out[t] += sum;
    }
}

void dw_row(const float* x, int64_t w, const Tap* taps, int64_t ntaps, double* out) {
    switch (ntaps) {
        case 1: return dw_row_t<1>(x, w, taps, out);
        case 2: return dw_row_t<2>(x, w, taps, out);
        case 3: return dw_row_t<3>(x, w, taps, out);
        case 4: return dw_row_t<4>(x, w, taps, out);
        case 5: return dw_row_t<5>(x, w, taps, out);
        case 6: return dw_row_t<6>(x, w, taps, out);
        case 7: return dw_row_t<7>(x, w, taps, out);
        case 8: return dw_row_t<8>(x, w, taps, out);
        default: return dw_row_t<9>(x, w, taps, out);
    }
}

// Input channels per dw tile: CB * T accumulators (T <= 9 taps), CB x
// vectors and one dy vector must fit in the registers.
constexpr int kDwCb = Vec::kRegs >= 32 ? 3 : 1;

// dw over a list of rows with zero-padded taps, for CB input channels
// (channel j's row r at xrows[r] + j * x_cstride):
// partial[(j * T + t) * kL + l] = lane l of the sum over rows r and columns
// i < w of x_j[r][i] * (drows[r] + tap_off[t])[i]. The dy rows can be read
// up to w rounded up to a whole vector (the driver's margins); x's last
// partial vector is completed with zeros. The sums stay in registers over
// all rows, and each dy vector serves CB channels.
template <int T, int CB>
void dw_rows_padded_t(const float* const* xrows, const float* const* drows, int64_t nrows, int64_t w,
                      const int64_t* tap_off, int64_t x_cstride, float* partial) {
    Vec acc[CB][T];
#pragma GCC unroll 3
    for (int j = 0; j < CB; ++j)
#pragma GCC unroll 9
        for (int t = 0; t < T; ++t) acc[j][t] = simd::vzero();
    const int64_t full = w / kL * kL;
    float buf[CB][kL];
    for (int64_t r = 0; r < nrows; ++r) {
        const float* x = xrows[r];
        const float* d = drows[r];
        for (int64_t i = 0; i < full; i += kL) {
            Vec xv[CB];
#pragma GCC unroll 3
            for (int j = 0; j < CB; ++j) xv[j] = simd::vload(x + j * x_cstride + i);
#pragma GCC unroll 9
            for (int t = 0; t < T; ++t) {
                const Vec dv = simd::vload(d + tap_off[t] + i);
#pragma GCC unroll 3
                for (int j = 0; j < CB; ++j) acc[j][t] = simd::vfmadd(xv[j], dv, acc[j][t]);
            }
        }
        if (full < w) {
            Vec xv[CB];
            for (int j = 0; j < CB; ++j) {
                for (int l = 0; l < kL; ++l) buf[j][l] = full + l < w ? x[j * x_cstride + full + l] : 0.0f;
                xv[j] = simd::vload(buf[j]);
            }
#pragma GCC unroll 9
            for (int t = 0; t < T; ++t) {
                const Vec dv = simd::vload(d + tap_off[t] + full);
#pragma GCC unroll 3
                for (int j = 0; j < CB; ++j) acc[j][t] = simd::vfmadd(xv[j], dv, acc[j][t]);
            }
        }
    }
#pragma GCC unroll 3
    for (int j = 0; j < CB; ++j)
#pragma GCC unroll 9
        for (int t = 0; t < T; ++t) simd::vstore(partial + (j * T + t) * kL, acc[j][t]);
}

template <int CB>
void dw_rows_cb(const float* const* xrows, const float* const* drows, int64_t nrows, int64_t w,
                const int64_t* tap_off, int64_t ntaps, int64_t x_cstride, float* partial) {
    switch (ntaps) {
        case 1: return dw_rows_padded_t<1, CB>(xrows, drows, nrows, w, tap_off, x_cstride, partial);
        case 2: return dw_rows_padded_t<2, CB>(xrows, drows, nrows, w, tap_off, x_cstride, partial);
        case 3: return dw_rows_padded_t<3, CB>(xrows, drows, nrows, w, tap_off, x_cstride, partial);
        case 4: return dw_rows_padded_t<4, CB>(xrows, drows, nrows, w, tap_off, x_cstride, partial);
        case 5: return dw_rows_padded_t<5, CB>(xrows, drows, nrows, w, tap_off, x_cstride, partial);
        case 6: return dw_rows_padded_t<6, CB>(xrows, drows, nrows, w, tap_off, x_cstride, partial);
        case 7: return dw_rows_padded_t<7, CB>(xrows, drows, nrows, w, tap_off, x_cstride, partial);
        case 8: return dw_rows_padded_t<8, CB>(xrows, drows, nrows, w, tap_off, x_cstride, partial);
        default: return dw_rows_padded_t<9, CB>(xrows, drows, nrows, w, tap_off, x_cstride, partial);
    }
}

void dw_rows_padded(const float* const* xrows, const float* const* drows, int64_t nrows, int64_t w,
                    const int64_t* tap_off, int64_t ntaps, int64_t x_cstride, int64_t ncb, float* partial) {
    if constexpr (kDwCb >= 3) {
        if (ncb == 3) return dw_rows_cb<3>(xrows, drows, nrows, w, tap_off, ntaps, x_cstride, partial);
        if (ncb == 2) return dw_rows_cb<2>(xrows, drows, nrows, w, tap_off, ntaps, x_cstride, partial);
    }
    dw_rows_cb<1>(xrows, drows, nrows, w, tap_off, ntaps, x_cstride, partial);
}

inline ConvTKernels kernels() { return ConvTKernels{kL, kDwCb, &row, &dw_row, &dw_rows_padded}; }

}  // namespace convt_body
}  // namespace
}  // namespace sr_native
