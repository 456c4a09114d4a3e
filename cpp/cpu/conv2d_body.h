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
// Weight-gradient tile: RO output channels x RJ taps over a chunk of rows;
// vectors run along the pixels, each dy vector feeds RJ FMAs and each shifted
// input vector RO FMAs. Float lanes are carried between chunks and folded into
// doubles every few thousand pixels; the sequence of operations depends only
// on the shapes, never on the thread count.
//
// Anonymous namespace: these templates must not be merged across ISA files.
// No std:: templates are used here for the same reason.
#pragma once

#include "conv2d_kernels.h"

namespace sr_native {
namespace {
namespace conv_body {

using conv2d_detail::ConvKernels;
using conv2d_detail::DwTileArgs;
using conv2d_detail::DwtTileArgs;
using conv2d_detail::kMaxFwdR;
using conv2d_detail::FwdBlockArgs;
using simd::Vec;
constexpr int kL = Vec::kLanes;

// ----------------------------------------------------------------- forward

// Widest row tile for R channels: R*V accumulators + V inputs + 1 broadcast
// must fit the register file; more than 8 vectors gains nothing.
constexpr int fwd_vmax(int r) {
    const int v = (Vec::kRegs - 1) / (r + 1);
    return v > 8 ? 8 : v;
}

template <int R, int V>
void fwd_tile(const FwdBlockArgs& a, int64_t ow) {
    Vec acc[R][V];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[r][v] = simd::vzero();

    const float* wk = a.wpack;
    const int64_t ntaps = a.ntaps;
    const float* xc = a.xbuf + ow;
    for (int64_t c = 0; c < a.c; ++c, xc += a.plane) {
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
        float* yr = a.y + r * a.y_cstride + ow;
        const float* rr = a.residual ? a.residual + r * a.r_cstride + ow : nullptr;
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) {
            Vec t = simd::vadd(acc[r][v], b);
            // Zero first: vmax returns its second operand when either is NaN,
            // so a NaN passes through ReLU, as in the reference.
            if (a.relu) t = simd::vmax(simd::vzero(), t);
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

// Row tail: the last tile of a row has nv <= VMAX vectors (the last one
// possibly partial).
template <int R, int V>
void fwd_tail(int nv, const FwdBlockArgs& a, int64_t ow) {
    if constexpr (V >= 1) {
        if (nv == V) fwd_tile<R, V>(a, ow);
        else fwd_tail<R, V - 1>(nv, a, ow);
    }
}

template <int R>
void fwd_row(const FwdBlockArgs& a) {
    constexpr int kV = fwd_vmax(R);
    constexpr int64_t kTile = kV * kL;
    int64_t ow = 0;
    for (; ow + kTile <= a.w; ow += kTile) fwd_tile<R, kV>(a, ow);
    if (ow < a.w) fwd_tail<R, kV>(static_cast<int>((a.w - ow + kL - 1) / kL), a, ow);
}

// Every block size up to RMAX has its own instantiation, so the driver can
// pick the size that suits O and W, and a short last block (O % R) computes
// no padding channels.
template <int R>
void fwd_dispatch_r(const FwdBlockArgs& a) {
    if constexpr (R >= 1) {
        if (a.r == R) fwd_row<R>(a);
        else fwd_dispatch_r<R - 1>(a);
    }
}

template <int RMAX>
void fwd_block(const FwdBlockArgs& a) {
    fwd_dispatch_r<RMAX>(a);
}

template <int RMAX>
void fill_fwd_info(ConvKernels& k) {
    k.lanes = kL;
    k.fwd_rmax = RMAX;
    for (int r = 0; r <= kMaxFwdR; ++r) k.fwd_vmax[r] = r >= 1 && r <= RMAX ? fwd_vmax(r) : 0;
    k.fwd_block = &fwd_block<RMAX>;
}

// --------------------------------------------------------- weight gradient

template <int RO, int RJ>
void dw_tile(const DwTileArgs& a) {
    Vec acc[RO][RJ];
#pragma GCC unroll 8
    for (int i = 0; i < RO; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < RJ; ++j)
            acc[i][j] = a.first ? simd::vzero() : simd::vload(a.partial + (i * RJ + j) * kL);
    int64_t o_off[RO], j_off[RJ];
    for (int i = 0; i < RO; ++i) o_off[i] = a.o_off[i];
    for (int j = 0; j < RJ; ++j) j_off[j] = a.j_off[j];

    int64_t n = a.row0 / a.h, oh = a.row0 % a.h;
    for (int64_t row = a.row0; row < a.row1; ++row) {
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
        if (++oh == a.h) {
            oh = 0;
            ++n;
        }
    }

    for (int i = 0; i < RO; ++i) {
        for (int j = 0; j < RJ; ++j) {
            float* part = a.partial + (i * RJ + j) * kL;
            simd::vstore(part, acc[i][j]);
            if (a.fold) {
                double s = 0.0;
                for (int l = 0; l < kL; ++l) s += part[l];
                a.sums[i * RJ + j] += s;
            }
        }
    }
}

// Channels-last weight gradient (DwtTileArgs): OV vectors of output channels
// x RC input channels at one tap, one pixel per step.
template <int OV, int RC>
void dwt_tile(const DwtTileArgs& a) {
    Vec acc[OV][RC];
#pragma GCC unroll 8
    for (int v = 0; v < OV; ++v)
#pragma GCC unroll 32
        for (int c = 0; c < RC; ++c)
            acc[v][c] = a.first ? simd::vzero() : simd::vload(a.partial + (v * RC + c) * kL);

    const int64_t hw = a.h * a.w;
    int64_t n = a.p0 / hw, oh = (a.p0 % hw) / a.w, ow = a.p0 % a.w;
    for (int64_t p = a.p0; p < a.p1;) {
        const int64_t ow_end = ow + (a.p1 - p) < a.w ? ow + (a.p1 - p) : a.w;
        const float* d = a.dyt + p * a.opad + a.o0;
        const float* xs = a.xt + n * a.x_nstride + oh * a.x_rowstride + ow * a.cpad + a.x_off;
        p += ow_end - ow;
        for (; ow < ow_end; ++ow, d += a.opad, xs += a.cpad) {
            Vec dv[OV];
#pragma GCC unroll 8
            for (int v = 0; v < OV; ++v) dv[v] = simd::vload(d + v * kL);
#pragma GCC unroll 32
            for (int c = 0; c < RC; ++c) {
                const Vec xb = simd::vset1(xs[c]);
#pragma GCC unroll 8
                for (int v = 0; v < OV; ++v) acc[v][c] = simd::vfmadd(dv[v], xb, acc[v][c]);
            }
        }
        ow = 0;
        if (++oh == a.h) {
            oh = 0;
            ++n;
        }
    }

    for (int v = 0; v < OV; ++v) {
        for (int c = 0; c < RC; ++c) {
            float* part = a.partial + (v * RC + c) * kL;
            simd::vstore(part, acc[v][c]);
            if (a.fold) {
                double* s = a.sums + c * OV * kL + v * kL;
                for (int l = 0; l < kL; ++l) s[l] += part[l];
            }
        }
    }
}

// Channels-last tiles (OV, RC) offered: OV * RC = kRegs * 3 / 4 accumulators,
// with 4, 2 or 1 vectors of output channels, so that the driver can pick the
// one that pads O and C least.
template <int RO, int RJ>
void fill_dw_info(ConvKernels& k) {
    k.dw_ro = RO;
    k.dw_rj = RJ;
    k.dw_tile = &dw_tile<RO, RJ>;
    constexpr int kAcc = Vec::kRegs * 3 / 4;
    k.dwt_ov[0] = 4;
    k.dwt_rc[0] = kAcc / 4;
    k.dwt_tile[0] = &dwt_tile<4, kAcc / 4>;
    k.dwt_ov[1] = 2;
    k.dwt_rc[1] = kAcc / 2;
    k.dwt_tile[1] = &dwt_tile<2, kAcc / 2>;
    k.dwt_ov[2] = 1;
    k.dwt_rc[2] = kAcc;
    k.dwt_tile[2] = &dwt_tile<1, kAcc>;
}

}  // namespace conv_body
}  // namespace
}  // namespace sr_native
