// conv2d microkernels, written once on top of simd.h and compiled once per
// instruction set (conv2d_generic.cpp, conv2d_avx2.cpp, conv2d_avx512.cpp).
// The includer includes simd.h with its SR_SIMD_* choice first.
//
// Forward tile: R output channels x V vectors of consecutive output pixels of
// one row, all in registers. For every (input channel, tap) it loads V input
// vectors once and broadcasts R weights, so each load feeds R FMAs and each
// broadcast V FMAs. Vectors run along the output width, so stores are plain
// NCHW and small O (3, 12) wastes nothing.
//
// Weight-gradient tile: RO output channels x RJ taps; vectors run along the
// pixels, each dy vector feeds RJ FMAs and each shifted input vector RO FMAs.
// Lanes are summed into doubles every few thousand pixels and at the end, so
// the result depends only on the shapes, never on the thread count.
//
// Anonymous namespace: these templates must not be merged across ISA files.
// No std:: templates are used here for the same reason.
#pragma once

#include "conv2d_kernels.h"

namespace sr_native {
namespace {
namespace conv_body {

using conv2d_detail::DwTileArgs;
using conv2d_detail::FwdBlockArgs;
using simd::Vec;
constexpr int kL = Vec::kLanes;

// ----------------------------------------------------------------- forward

template <int R, int V>
void fwd_tile(const FwdBlockArgs& a, const float* xin, int64_t oh, int64_t ow) {
    Vec acc[R][V];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[r][v] = simd::vzero();

    const float* wk = a.wpack;
    const int64_t ntaps = a.ntaps;
    for (int64_t c = 0; c < a.c; ++c) {
        const float* xc = xin + c * a.plane;
        for (int64_t t = 0; t < ntaps; ++t, wk += R) {
            const float* xt = xc + a.taps[t];
            Vec xv[V];
#pragma GCC unroll 8
            for (int v = 0; v < V; ++v) xv[v] = simd::vload(xt + v * kL);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                const Vec wv = simd::vset1(wk[r]);
#pragma GCC unroll 8
                for (int v = 0; v < V; ++v) acc[r][v] = simd::vfmadd(wv, xv[v], acc[r][v]);
            }
        }
    }

    // Fused epilogue: bias, ReLU, residual + res_scale * t, written once.
    const int64_t valid = a.w - ow;  // may exceed V * kL on full tiles
    const Vec scale = simd::vset1(a.res_scale);
    const float s = a.res_scale;
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
        const Vec b = simd::vset1(a.bias ? a.bias[r] : 0.0f);
        float* yr = a.y + r * a.y_cstride + oh * a.w + ow;
        const float* rr = a.residual ? a.residual + r * a.y_cstride + oh * a.w + ow : nullptr;
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) {
            Vec t = simd::vadd(acc[r][v], b);
            if (a.relu) t = simd::vmax(t, simd::vzero());
            if ((v + 1) * kL <= valid) {
                t = rr ? simd::vfmadd(scale, t, simd::vload(rr + v * kL)) : simd::vmul(scale, t);
                simd::vstore(yr + v * kL, t);
            } else {  // last, partial vector of the row
                float tmp[kL];
                simd::vstore(tmp, t);
                const int64_t n = valid - v * kL;
                for (int64_t i = 0; i < n; ++i)
                    yr[v * kL + i] = rr ? rr[v * kL + i] + s * tmp[i] : s * tmp[i];
            }
        }
    }
}

// Row tail: the last tile of a row has nv <= VMAX vectors, the last one partial
// or fewer than VMAX of them.
template <int R, int V>
void fwd_tail(int nv, const FwdBlockArgs& a, const float* xin, int64_t oh, int64_t ow) {
    if constexpr (V >= 1) {
        if (nv == V) fwd_tile<R, V>(a, xin, oh, ow);
        else fwd_tail<R, V - 1>(nv, a, xin, oh, ow);
    }
}

template <int R, int VMAX>
void fwd_rows(const FwdBlockArgs& a) {
    constexpr int64_t kTile = VMAX * kL;
    for (int64_t oh = 0; oh < a.rows; ++oh) {
        const float* xrow = a.xbuf + oh * a.wp;
        int64_t ow = 0;
        for (; ow + kTile <= a.w; ow += kTile) fwd_tile<R, VMAX>(a, xrow + ow, oh, ow);
        if (ow < a.w) {
            const int nv = static_cast<int>((a.w - ow + kL - 1) / kL);
            fwd_tail<R, VMAX>(nv, a, xrow + ow, oh, ow);
        }
    }
}

// Blocks with fewer than RMAX channels (O % RMAX, or O < RMAX) get their own
// instantiation, so O = 3 or 12 computes no padding channels.
template <int R, int VMAX>
void fwd_dispatch_r(const FwdBlockArgs& a) {
    if constexpr (R >= 1) {
        if (a.r == R) fwd_rows<R, VMAX>(a);
        else fwd_dispatch_r<R - 1, VMAX>(a);
    }
}

template <int RMAX, int VMAX>
void fwd_block(const FwdBlockArgs& a) {
    fwd_dispatch_r<RMAX, VMAX>(a);
}

// --------------------------------------------------------- weight gradient

template <int RO, int RJ>
void dw_flush(Vec (&acc)[RO][RJ], double (&sum)[RO][RJ]) {
    for (int i = 0; i < RO; ++i) {
        for (int j = 0; j < RJ; ++j) {
            float tmp[kL];
            simd::vstore(tmp, acc[i][j]);
            double s = 0.0;
            for (int l = 0; l < kL; ++l) s += tmp[l];
            sum[i][j] += s;
            acc[i][j] = simd::vzero();
        }
    }
}

template <int RO, int RJ>
void dw_tile(const DwTileArgs& a) {
    // Fold lanes into doubles after about this many vectors per accumulator:
    // keeps float rounding small on big batches at ~1% extra cost.
    constexpr int64_t kFlushSteps = 1024;
    Vec acc[RO][RJ];
    double sum[RO][RJ];
    for (int i = 0; i < RO; ++i)
        for (int j = 0; j < RJ; ++j) {
            acc[i][j] = simd::vzero();
            sum[i][j] = 0.0;
        }
    int64_t o_off[RO], j_off[RJ];
    for (int i = 0; i < RO; ++i) o_off[i] = a.o_off[i];
    for (int j = 0; j < RJ; ++j) j_off[j] = a.j_off[j];

    int64_t steps = 0;
    for (int64_t n = 0; n < a.n; ++n) {
        for (int64_t oh = 0; oh < a.h; ++oh) {
            const float* g = a.dypad + n * a.dy_nstride + oh * a.wt;
            const float* xr = a.xpad + n * a.x_nstride + oh * a.wp;
            for (int64_t ow = 0; ow < a.wt; ow += kL) {
                Vec gv[RO];
#pragma GCC unroll 8
                for (int i = 0; i < RO; ++i) gv[i] = simd::vload(g + o_off[i] + ow);
#pragma GCC unroll 8
                for (int j = 0; j < RJ; ++j) {
                    const Vec xv = simd::vload(xr + j_off[j] + ow);
#pragma GCC unroll 8
                    for (int i = 0; i < RO; ++i) acc[i][j] = simd::vfmadd(gv[i], xv, acc[i][j]);
                }
            }
            steps += a.wt / kL;
            if (steps >= kFlushSteps) {
                dw_flush(acc, sum);
                steps = 0;
            }
        }
    }
    dw_flush(acc, sum);
    for (int i = 0; i < RO; ++i)
        for (int j = 0; j < RJ; ++j) a.out[i * RJ + j] = sum[i][j];
}

}  // namespace conv_body
}  // namespace
}  // namespace sr_native
