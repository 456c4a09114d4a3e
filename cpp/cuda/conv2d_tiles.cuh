// Shared pieces of the conv2d implicit-GEMM kernels (conv2d.cu,
// conv2d_backward.cu, conv1x1_pair.cu): tile configurations, the register
// micro-kernel over one shared-memory k-tile, and the host entry points that
// conv2d.cu implements for the others (weight packing and the forward GEMM).
//
// GEMM view of the forward: M = output channels, N = pixels (n*H*W
// flattened), Kdim = Cin*K*K. A = packed weights At[Kpad][Mpad] (k-major, so a
// row of a k-tile is contiguous along m), B = im2col of x gathered on the fly.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda::conv_detail {

constexpr int kThreads = 128;  // every tile kernel runs 4 warps
constexpr int kBK = 16;        // k-tile depth (reduction rows per stage)

// Block tile BM x BN x BK, per-thread micro-tile TM x TN. Threads form an
// (BM/TM) x (BN/TN) grid; each warp covers WLM (m) x 32/WLM (n) threads so that
// one float4 shared read of A is WLM distinct addresses (broadcast) and one of
// B is 32/WLM distinct consecutive float4: one or two wavefronts each. A
// thread's TM rows are TM/4 runs of 4 spaced MT*4 apart (same for columns),
// which keeps the reads contiguous across the warp.
template <int BM_, int BN_, int TM_, int TN_, int WLM_ = 4, int BK_ = kBK>
struct TileCfg {
    static constexpr int BM = BM_, BN = BN_, TM = TM_, TN = TN_, BK = BK_;
    static constexpr int WLM = WLM_, WLN = 32 / WLM_;  // warp lanes along m, n
    static constexpr int MT = BM / TM;   // threads along m
    static constexpr int NTh = BN / TN;  // threads along n
    static constexpr int WM = MT / WLM;  // warps along m
    // Shared row strides in floats: +4 keeps float4 alignment and makes the
    // dw kernel's transposing stores (8 pixels x 4 rows per warp) conflict-free.
    static constexpr int AS = BM + 4;
    static constexpr int BS = BN + 4;
    static_assert(MT * NTh == kThreads, "tile must use kThreads threads");
    static_assert(MT % WLM == 0 && NTh % WLN == 0, "whole warps");
    static_assert(TM % 4 == 0 && TN % 4 == 0, "micro-tile in float4 runs");
    static_assert(kBK % BK == 0, "weights are packed in rows of kBK");
};
// Forward and dx: Wide for M > 16 (64->64 body convs, upsamplers), Narrow for
// M <= 16. (M <= 8 with K >= 3, the RGB output layer, goes to the direct
// kernel in conv2d.cu instead: there the im2col gather, not the FMAs, is the
// bound, and the direct kernel reuses each staged x value for K taps.)
using CfgWide = TileCfg<64, 128, 8, 8>;
using CfgNarrow = TileCfg<16, 256, 4, 8>;
// dw: few gathered columns (first layer's 3*K*K, or dy of an RGB layer).
using CfgFewCols = TileCfg<64, 32, 4, 4>;

template <class Cfg>
__device__ __forceinline__ void thread_pos(int& tm, int& tn) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    tm = (warp % Cfg::WM) * Cfg::WLM + lane / Cfg::WLN;
    tn = (warp / Cfg::WM) * Cfg::WLN + lane % Cfg::WLN;
}
// Tile-local row (column) of micro-tile element i of thread tm (tn).
template <class Cfg>
__device__ __forceinline__ int micro_row(int tm, int i) {
    return (i >> 2) * (Cfg::MT * 4) + tm * 4 + (i & 3);
}
template <class Cfg>
__device__ __forceinline__ int micro_col(int tn, int j) {
    return (j >> 2) * (Cfg::NTh * 4) + tn * 4 + (j & 3);
}

// acc += As^T Bs over one k-tile: As is [BK][AS] (m contiguous), Bs is
// [BK][BS] (n contiguous).
template <class Cfg>
__device__ __forceinline__ void tile_fma(const float* __restrict__ As, const float* __restrict__ Bs, int tm,
                                         int tn, float (&acc)[Cfg::TM][Cfg::TN]) {
#pragma unroll
    for (int k = 0; k < Cfg::BK; ++k) {
        float a[Cfg::TM], b[Cfg::TN];
#pragma unroll
        for (int i = 0; i < Cfg::TM / 4; ++i) {
            const float4 v = *reinterpret_cast<const float4*>(As + k * Cfg::AS + i * (Cfg::MT * 4) + tm * 4);
            a[4 * i + 0] = v.x;
            a[4 * i + 1] = v.y;
            a[4 * i + 2] = v.z;
            a[4 * i + 3] = v.w;
        }
#pragma unroll
        for (int j = 0; j < Cfg::TN / 4; ++j) {
            const float4 v = *reinterpret_cast<const float4*>(Bs + k * Cfg::BS + j * (Cfg::NTh * 4) + tn * 4);
            b[4 * j + 0] = v.x;
            b[4 * j + 1] = v.y;
            b[4 * j + 2] = v.z;
            b[4 * j + 3] = v.w;
        }
#pragma unroll
        for (int i = 0; i < Cfg::TM; ++i)
#pragma unroll
            for (int j = 0; j < Cfg::TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
}

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// ------------------------------------------------ host side (conv2d.cu)
// One forward implicit GEMM: y[img][m] (+epilogue) = sum over (ci, ky, kx) of
// At * x, for NCHW-like tensors with explicit channel and image strides (the
// 1x1 pair runs spans of pixels of one image with them).
struct GemmGeom {
    int64_t n = 1;        // images
    int64_t h = 1, w = 1; // spatial size (H*W < 2^31)
    int64_t cin = 1;      // input channels of the GEMM (x's C, or dy's O for dx)
    int64_t m = 1;        // output channels of the GEMM
    int64_t k = 1;        // kernel size
    int64_t xcs = 0, xis = 0;  // x channel / image strides (elements)
    int64_t ycs = 0, yis = 0;  // y (and residual) channel / image strides
};

// The geometry of a convolution between contiguous NCHW tensors.
inline GemmGeom nchw_geom(int64_t n, int64_t h, int64_t w, int64_t cin, int64_t m, int64_t k) {
    GemmGeom g;
    g.n = n;
    g.h = h;
    g.w = w;
    g.cin = cin;
    g.m = m;
    g.k = k;
    g.xcs = g.ycs = h * w;
    g.xis = cin * g.xcs;
    g.yis = m * g.ycs;
    return g;
}

// Rows are (tap, ci) when cin % kBK == 0 (a k-tile is then 16 channels of one
// tap: one bounds check per tile), else (ci, tap) as OIHW.
inline bool fast_order(int64_t cin) { return cin % kBK == 0; }
inline int64_t tile_bm(int64_t m) { return m <= CfgNarrow::BM ? CfgNarrow::BM : CfgWide::BM; }
inline int64_t packed_rows(int64_t cin, int64_t k) { return round_up(cin * k * k, kBK); }
inline int64_t packed_cols(int64_t m) { return round_up(m, tile_bm(m)); }
inline size_t packed_floats(int64_t cin, int64_t m, int64_t k) {
    return static_cast<size_t>(packed_rows(cin, k) * packed_cols(m));
}

// y = epilogue(conv(x, w)) for the geometry g. flip == false: w is
// (m, cin, k, k), the forward. flip == true: w is (cin, m, k, k) and its taps
// are mirrored, the transposed convolution (conv2d_backward's dx). Packs w
// into scratch for the GEMM, or runs the direct kernel for m <= 8, k >= 3.
void conv_forward_any(const float* x, const float* w, bool flip, float* y, const GemmGeom& g,
                      const Conv2dEpilogue& e);

}  // namespace sr_native::cuda::conv_detail
