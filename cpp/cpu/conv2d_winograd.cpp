// Winograd F(4x4, 3x3) forward convolution: the driver (baseline code).
// conv2d_forward (conv2d.cpp) sends 3x3 layers here when it pays off.
//
// Per 4x4 output tile and per (input, output) channel pair it does 36
// multiplies instead of 144. Steps, per block of `ntp` consecutive tiles
// (tiles numbered over image, tile row, tile column, so small images fill a
// block from several rows or images):
//   1. gather each tile's 6x6 input patch (zeros outside the image) channel
//      by channel and transform it: V[pos][c][tile] = (B^T d B)[pos];
//   2. per block of r output channels, 36 GEMMs
//      M[pos][o][tile] = sum_c U[pos][o][c] V[pos][c][tile], then the output
//      transform A^T M A with the fused epilogue, scattered into y.
// U = G g G^T is computed once per call in double. A block's V (36 * C * ntp
// floats, 440 KB for C = 64) stays in L2 while every output channel runs over
// it; for one position and block of r output channels the GEMM reads 2 KB of
// U and 12 KB of V (C = 64). The AVX-512 body reads the patches of 16 tiles
// side by side straight from x (deinterleaving in registers) and writes
// whole output rows of such tiles as pixel vectors; other ISAs, image edges
// and tile-row ends go through the scalar gather and crop. Blocks (and, when there are few, groups of output-channel
// blocks) are shared among threads; each output is computed by one block in
// a fixed order, so results do not depend on the thread count.
//
// Accuracy (measured against sr_native.ref.conv2d, double accumulation, as
// |error| / sum |w||x|, He-initialised weights, every ISA): N(0, 1) inputs
// max 1.5e-6 to 4e-6, mean ~7e-8 (direct: max 3e-7, mean 2e-8); [0, 255]
// inputs minus the DIV2K mean, the same. Whole EDSR-baseline x2 vs float64
// PyTorch: 1.2e-5 of max |y| (direct 2.8e-6), within the 1e-4 the fast paths
// are held to. A float32 simulation (NumPy) of F(6x6, 3x3) with points
// 0, +-1, +-2, +-1/2 gives max 3.2e-6, mean 1.4e-7 on the same data (F(4x4):
// 1.8e-6, 6.7e-8), so it would be accurate enough; its 6-wide tiles need
// other in-register (de)interleaves, and it saves 21% of the GEMM. Not done.
#include <algorithm>
#include <vector>

#if defined(SR_NATIVE_OPENMP)
#include <omp.h>
#endif

#include "conv2d_kernels.h"
#include "conv2d_winograd_kernels.h"
#include "parallel.h"
#include "sr_native/isa.h"

namespace sr_native::conv2d_detail {

namespace {

constexpr int64_t kItemsPerThread = 8;
constexpr int64_t kBlockTiles = 64;  // target tiles per block
constexpr size_t kKeepFloats = size_t{4} << 20;  // 16 MB: scratch kept between calls

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

constexpr auto& kG = kWinoG;

// U[pos][...] packed per block of r_max output channels as [c][r], computed
// in double (separably: G g, then (G g) G^T) and rounded once. Output
// channels are shared among the threads: for small images this is a good
// part of the call.
void transform_weights(const float* w, int64_t O, int64_t C, int rmax, float* u, int threads) {
#pragma omp parallel num_threads(threads)
    {
        // One output channel's 36 x C values, then copied out position by
        // position: writing all 36 positions (O * C floats apart, often a
        // multiple of 4 KB) for every c stalls on store aliasing.
        std::vector<float> tmp(static_cast<size_t>(kWinoPos * C));
#pragma omp for schedule(static)
        for (int64_t o = 0; o < O; ++o) {
            for (int64_t c = 0; c < C; ++c) {
                const float* g = w + (o * C + c) * 9;
                double gt[6][3];  // G g
                for (int a = 0; a < 6; ++a)
                    for (int l = 0; l < 3; ++l)
                        gt[a][l] = kG[a][0] * g[l] + kG[a][1] * g[3 + l] + kG[a][2] * g[6 + l];
                for (int a = 0; a < 6; ++a)
                    for (int b = 0; b < 6; ++b)
                        tmp[static_cast<size_t>((a * 6 + b) * C + c)] = static_cast<float>(
                            gt[a][0] * kG[b][0] + gt[a][1] * kG[b][1] + gt[a][2] * kG[b][2]);
            }
            const int64_t o0 = o / rmax * rmax, r = std::min<int64_t>(rmax, O - o0), ri = o - o0;
            for (int p = 0; p < kWinoPos; ++p) {
                float* dst = u + p * O * C + o0 * C + ri;
                const float* src = tmp.data() + p * C;
                for (int64_t c = 0; c < C; ++c) dst[c * r] = src[c];
            }
        }
    }
}

}  // namespace

WinoKernels wino_active_kernels() {
#if defined(SR_NATIVE_X86)
    switch (active_isa()) {
        case Isa::avx512: return wino_kernels_avx512();
        case Isa::avx2: return wino_kernels_avx2();
        default: break;
    }
#endif
    return wino_kernels_generic();
}

namespace {
// The outputs of one block's tiles (channel blocks ob0..ob1) straight from the
// definition, for blocks whose input holds a NaN or infinity: Winograd's
// transforms would spread it over whole 4x4 tiles (kernels.h's NaN rule says
// it reaches only the outputs whose 3x3 window holds it). Float sums over the
// in-image taps (padded taps add w * 0 = 0: the weights are finite here).
void direct_tiles(const float* x, const float* w, float* y, const Conv2dShape& s, const Conv2dEpilogue& e,
                  const Conv2dRows& rows, int64_t t0, int64_t nts, int64_t o0, int64_t o1) {
    const int64_t C = s.c, H = s.h, W = s.w;
    const int64_t XR = rows.x_rows, XP = rows.x_plane, YP = rows.y_plane, RP = rows.r_plane, T = rows.pad_top;
    const int64_t TH = ceil_div(H, kWinoM), TW = ceil_div(W, kWinoM);
    for (int64_t t = t0; t < t0 + nts; ++t) {
        const int64_t n = t / (TH * TW), r0 = t % (TH * TW) / TW * kWinoM, c0 = t % TW * kWinoM;
        for (int64_t o = o0; o < o1; ++o) {
            for (int64_t oh = r0; oh < std::min(H, r0 + kWinoM); ++oh) {
                for (int64_t ow = c0; ow < std::min(W, c0 + kWinoM); ++ow) {
                    float acc = 0.0f;
                    for (int64_t c = 0; c < C; ++c) {
                        const float* xc = x + (n * C + c) * XP;
                        const float* wk = w + (o * C + c) * 9;
                        for (int64_t kh = 0; kh < 3; ++kh) {
                            const int64_t ih = oh + kh - T;  // x's row
                            if (ih < 0 || ih >= XR) continue;
                            for (int64_t kw = 0; kw < 3; ++kw) {
                                const int64_t iw = ow + kw - 1;
                                if (iw >= 0 && iw < W) acc += wk[kh * 3 + kw] * xc[ih * W + iw];
                            }
                        }
                    }
                    float v = acc + (e.bias ? e.bias[o] : 0.0f);
                    if (e.relu) v = v < 0.0f ? 0.0f : v;  // NaN passes
                    const int64_t i = (n * s.o + o) * YP + oh * W + ow;
                    const int64_t ri = (n * s.o + o) * RP + oh * W + ow;
                    y[i] = e.residual ? e.residual[ri] + e.res_scale * v : e.res_scale * v;
                }
            }
        }
    }
}
}  // namespace

void conv2d_forward_winograd(const float* x, const float* w, float* y, const Conv2dShape& s,
                             const Conv2dEpilogue& e, const Conv2dRows& rows) {
    const WinoKernels kr = wino_active_kernels();
    const int64_t N = s.n, C = s.c, H = s.h, W = s.w, O = s.o, HW = H * W;
    // x's rows and planes (a band of a taller image: kernels.h's Conv2dRows);
    // a tile's 6x6 patch starts at x row r0 - T, zeros outside [0, XR).
    const int64_t XR = rows.x_rows, XP = rows.x_plane, YP = rows.y_plane, RP = rows.r_plane, T = rows.pad_top;
    const int64_t TH = ceil_div(H, kWinoM), TW = ceil_div(W, kWinoM);
    const int64_t tiles = N * TH * TW;
    const int64_t group = static_cast<int64_t>(kr.vecs) * kr.lanes;
    const int64_t ntp = std::max<int64_t>(1, kBlockTiles / group) * group;
    const int64_t nblk = ceil_div(tiles, ntp);
    const int64_t nob = ceil_div(O, kr.r_max);

    // Work split: blocks of tiles, and groups of output-channel blocks when
    // there are too few tile blocks for the threads.
    const int nt = conv2d_threads(N * O * C * 9 * HW);
    const int64_t want = kItemsPerThread * nt;
    int64_t per_group = nob;
    if (nblk < want) per_group = ceil_div(nob, std::min(nob, ceil_div(want, nblk)));
    const int64_t ngroups = ceil_div(nob, per_group);
    const int64_t total = nblk * ngroups;
    const int threads = static_cast<int>(std::min<int64_t>(nt, total));

    // U and the per-thread scratch live in buffers of the calling thread that
    // only grow: fresh allocations of this size are mmapped and page-faulted
    // on every call, a good part of the time for small images. Everything is
    // written before it is read.
    const int64_t u_sz = kWinoPos * O * C;

    // Per-thread scratch: d, V, M, out (floats) and the tile tables.
    const int64_t d_sz = kWinoPos * ntp, v_sz = kWinoPos * C * ntp;
    const int64_t m_sz = kWinoPos * kr.r_max * ntp, out_sz = kWinoOut * kr.lanes;
    const int64_t per_thread = d_sz + v_sz + m_sz + out_sz;
    // Above kKeepFloats (wide layers, where the transforms dwarf a page
    // fault per 4 KB) the buffer is the call's own, so no thread holds it.
    const size_t need = static_cast<size_t>(u_sz + threads * per_thread);
    thread_local std::vector<float> kept;
    std::vector<float> own;
    std::vector<float>& buffer = need <= kKeepFloats ? kept : own;
    if (buffer.size() < need) buffer.resize(need);
    float* u = buffer.data();
    float* scratch = u + u_sz;
    transform_weights(w, O, C, kr.r_max, u, conv2d_threads(O * C * 1024));
    std::vector<int64_t> offs_all(static_cast<size_t>(threads * 5 * ntp));
    std::vector<unsigned char> dims_all(static_cast<size_t>(threads * 5 * ntp));

#pragma omp parallel num_threads(threads)
    {
        int tid = 0;
#if defined(SR_NATIVE_OPENMP)
        tid = omp_get_thread_num();
#endif
        float* d = scratch + tid * per_thread;
        float* v = d + d_sz;
        float* m = v + v_sz;
        float* out = m + m_sz;
        int64_t* y_off = offs_all.data() + tid * 5 * ntp;
        int64_t* x_off = y_off + ntp;  // input offset of the patch's top-left (may be < 0)
        int64_t* in_row = x_off + ntp;  // per vector of tiles (ntp / lanes used)
        int64_t* in_col = in_row + ntp;
        int64_t* in_img = in_col + ntp;
        unsigned char* tile_rows = dims_all.data() + tid * 5 * ntp;
        unsigned char* cols = tile_rows + ntp;
        unsigned char* inside = cols + ntp;  // whole 6x6 patch inside the image
        unsigned char* vec_fast = inside + ntp;
        unsigned char* in_fast = vec_fast + ntp;
        int64_t cur_blk = -1;
        bool blk_nonfinite = false;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < total; ++it) {
            const int64_t blk = it / ngroups, g = it % ngroups;
            const int64_t t0 = blk * ntp, nts = std::min(ntp, tiles - t0);
            if (blk != cur_blk) {  // gather and transform this block's input
                cur_blk = blk;
                blk_nonfinite = false;
                for (int64_t t = 0; t < nts; ++t) {
                    const int64_t gt = t0 + t, n = gt / (TH * TW), rem = gt % (TH * TW);
                    const int64_t r0 = rem / TW * kWinoM, c0 = rem % TW * kWinoM;
                    y_off[t] = n * O * YP + r0 * W + c0;
                    x_off[t] = n * C * XP + (r0 - T) * W + (c0 - 1);
                    tile_rows[t] = static_cast<unsigned char>(std::min<int64_t>(kWinoM, H - r0));
                    cols[t] = static_cast<unsigned char>(std::min<int64_t>(kWinoM, W - c0));
                    inside[t] = r0 - T >= 0 && r0 - T + 6 <= XR && c0 >= 1 && c0 + 5 <= W;
                }
                for (int64_t t = 0; t < ntp; t += kr.lanes) {
                    bool fast = t + kr.lanes <= nts;
                    for (int64_t k = 0; fast && k < kr.lanes; ++k)
                        fast = tile_rows[t + k] == kWinoM && cols[t + k] == kWinoM &&
                               y_off[t + k] == y_off[t] + k * kWinoM;
                    vec_fast[t / kr.lanes] = fast;
                }
                // Vectors of side-by-side tiles in one tile row: the body reads
                // them from x itself (when it can).
                for (int64_t k = 0; k * kr.lanes < ntp; ++k) {
                    const int64_t ta = t0 + k * kr.lanes, tb = ta + kr.lanes - 1;
                    in_fast[k] = kr.fast_input && (k + 1) * kr.lanes <= nts &&
                                 ta / TW == tb / TW;  // same image and tile row
                    in_img[k] = ta / (TH * TW) * C * XP;
                    in_row[k] = ta % (TH * TW) / TW * kWinoM - T;
                    in_col[k] = ta % TW * kWinoM - 1;
                }
                for (int64_t c = 0; c < C; ++c) {
                    for (int64_t t = 0; t < nts; ++t) {
                        if (in_fast[t / kr.lanes]) continue;
                        const float* xc = x + x_off[t] + c * XP;
                        if (inside[t]) {
                            for (int i = 0; i < kWinoA; ++i)
                                for (int j = 0; j < kWinoA; ++j)
                                    d[(i * kWinoA + j) * ntp + t] = xc[i * W + j];
                        } else {
                            const int64_t rem = (t0 + t) % (TH * TW);
                            const int64_t r0 = rem / TW * kWinoM - T, c0 = rem % TW * kWinoM - 1;
                            for (int i = 0; i < kWinoA; ++i)
                                for (int j = 0; j < kWinoA; ++j) {
                                    const bool in = r0 + i >= 0 && r0 + i < XR && c0 + j >= 0 && c0 + j < W;
                                    d[(i * kWinoA + j) * ntp + t] = in ? xc[i * W + j] : 0.0f;
                                }
                        }
                    }
                    for (int p = 0; p < kWinoPos; ++p)
                        std::fill(d + p * ntp + nts, d + (p + 1) * ntp, 0.0f);
                    WinoInputArgs ia;
                    ia.d = d;
                    ia.ntp = ntp;
                    ia.nt = nts;
                    ia.v = v + c * ntp;
                    ia.v_pos_stride = C * ntp;
                    ia.x = x + c * XP;
                    ia.h = XR;
                    ia.plane = XP;
                    ia.w = W;
                    ia.in_fast = in_fast;
                    ia.in_img = in_img;
                    ia.in_row = in_row;
                    ia.in_col = in_col;
                    ia.nonfinite = &blk_nonfinite;
                    kr.input(ia);
                }
                // A NaN or infinity in the input (or an input so large that
                // the transform overflows) leaves a non-finite value in V,
                // which the input transform reports.
            }
            if (blk_nonfinite) {
                direct_tiles(x, w, y, s, e, rows, t0, nts, g * per_group * kr.r_max,
                             std::min(O, std::min(nob, g * per_group + per_group) * kr.r_max));
                continue;
            }
            WinoBlockArgs a;
            a.u = u;
            a.o = O;
            a.c = C;
            a.v = v;
            a.ntp = ntp;
            a.nt = nts;
            a.ob0 = g * per_group;
            a.ob1 = std::min(nob, a.ob0 + per_group);
            a.m = m;
            a.out = out;
            a.tile_off = y_off;
            a.tile_rows = tile_rows;
            a.tile_cols = cols;
            a.vec_fast = vec_fast;
            a.y_cstride = YP;
            a.y_img = O * YP;
            a.r_cstride = RP;
            a.r_imgdiff = O * (RP - YP);
            a.y_rowstride = W;
            a.bias = e.bias;
            a.residual = e.residual;
            a.y = y;
            a.res_scale = e.res_scale;
            a.relu = e.relu;
            kr.block(a);
        }
    }
}

}  // namespace sr_native::conv2d_detail
