// Winograd F(4x4, 3x3) bodies, written once on simd.h and compiled once per
// instruction set (conv2d_winograd_{generic,avx2,avx512}.cpp). The includer
// includes simd.h with its SR_SIMD_* choice first.
//
// Transforms (Lavin & Gray 2015, interpolation points 0, +-1, +-2, inf):
//   B^T = [4  0 -5  0 1 0]    A^T = [1 1  1 1  1 0]
//         [0 -4 -4  1 1 0]          [0 1 -1 2 -2 0]
//         [0  4 -4 -1 1 0]          [0 1  1 4  4 0]
//         [0 -2 -1  2 1 0]          [0 1 -1 8 -8 1]
//         [0  2 -1 -2 1 0]
//         [0  4  0 -5 0 1]
// (G is applied in the driver, in double.) Every vector holds one value of
// `lanes` different tiles, so both transforms are plain vector arithmetic.
//
// GEMM register tile: R output channels x V vectors of tiles, R*V
// accumulators; per input channel it loads V vectors of V[pos][c][.] and
// broadcasts R weights, each load feeding R FMAs and each broadcast V.
//
// Anonymous namespace and no std:: templates: see simd.h (ODR).
#pragma once

#include "conv2d_winograd_kernels.h"

namespace sr_native {
namespace {
namespace wino_body {

using conv2d_detail::kWinoA;
using conv2d_detail::kWinoOut;
using conv2d_detail::kWinoPos;
using conv2d_detail::WinoBlockArgs;
using conv2d_detail::WinoInputArgs;
using conv2d_detail::WinoKernels;
using simd::Vec;
constexpr int kL = Vec::kLanes;

inline void prefetch_read(const float* p) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 0, 3);
#endif
}
inline void prefetch_write(const float* p) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 1, 3);
#endif
}

// a - b (simd.h has no subtract; the FMA with -1 is exact).
inline Vec vsub(Vec a, Vec b) { return simd::vfmadd(simd::vset1(-1.0f), b, a); }

// B^T z for a 6-vector z (in place into o).
inline void bt6(const Vec* z, Vec* o) {
    const Vec four = simd::vset1(4.0f), five = simd::vset1(-5.0f), two = simd::vset1(2.0f);
    // Shared sums: rows 1/2 and 3/4 differ only in the sign of one part.
    const Vec t12a = simd::vfmadd(simd::vset1(-4.0f), z[2], z[4]);  // z4 - 4 z2
    const Vec t12b = simd::vfmadd(simd::vset1(-4.0f), z[1], z[3]);  // z3 - 4 z1
    const Vec t34a = vsub(z[4], z[2]);                         // z4 - z2
    const Vec t34b = simd::vmul(two, vsub(z[3], z[1]));        // 2 (z3 - z1)
    o[0] = simd::vadd(simd::vfmadd(four, z[0], simd::vmul(five, z[2])), z[4]);
    o[1] = simd::vadd(t12a, t12b);
    o[2] = vsub(t12a, t12b);
    o[3] = simd::vadd(t34a, t34b);
    o[4] = vsub(t34a, t34b);
    o[5] = simd::vadd(simd::vfmadd(four, z[1], simd::vmul(five, z[3])), z[5]);
}

// A^T m for a 6-vector m (4 results).
inline void at6(const Vec* m, Vec* o) {
    const Vec s12 = simd::vadd(m[1], m[2]), d12 = vsub(m[1], m[2]);
    const Vec s34 = simd::vadd(m[3], m[4]), d34 = vsub(m[3], m[4]);
    o[0] = simd::vadd(simd::vadd(m[0], s12), s34);
    o[1] = simd::vfmadd(simd::vset1(2.0f), d34, d12);
    o[2] = simd::vfmadd(simd::vset1(4.0f), s34, s12);
    o[3] = simd::vadd(simd::vfmadd(simd::vset1(8.0f), d34, d12), m[5]);
}

// A z for a 4-vector z (6 results): the transpose of at6.
inline void a4(const Vec* z, Vec* o) {
    const Vec four = simd::vset1(4.0f), two = simd::vset1(2.0f);
    const Vec s02 = simd::vadd(z[0], z[2]), s13 = simd::vadd(z[1], z[3]);
    const Vec f02 = simd::vfmadd(four, z[2], z[0]);                  // z0 + 4 z2
    const Vec f13 = simd::vmul(two, simd::vfmadd(four, z[3], z[1]));  // 2 z1 + 8 z3
    o[0] = z[0];
    o[1] = simd::vadd(s02, s13);
    o[2] = vsub(s02, s13);
    o[3] = simd::vadd(f02, f13);
    o[4] = vsub(f02, f13);
    o[5] = z[3];
}

#if defined(SR_SIMD_AVX512)
constexpr bool kFastInput = true;

// One input row of 16 side-by-side tiles: z[j] lane l = x[row][col + 4l + j],
// j = 0..5, zeros outside [0, w). Loads 66 columns (masked at the image's
// edges; masked lanes are never read) and deinterleaves them in registers.
inline void load_row_phases(const float* xr, int64_t col, int64_t w, Vec* z) {
    __m512 q[5];
    for (int k = 0; k < 5; ++k) {
        const int64_t c0 = col + 16 * k;
        const int64_t lo = c0 < 0 ? -c0 : 0;                  // first lane inside
        const int64_t hi = w - c0 < 16 ? (w - c0 < 0 ? 0 : w - c0) : 16;  // end
        __mmask16 m = 0;
        if (hi > lo) m = static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
        if (k == 4) m &= 0x3;
        q[k] = _mm512_maskz_loadu_ps(m, xr + c0);
    }
    // Lanes 0..7: phase j of 8 tiles; lanes 8..15: phase j + 1.
    const __m512i i01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i i23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    const __m512 a01 = _mm512_permutex2var_ps(q[0], i01, q[1]), b01 = _mm512_permutex2var_ps(q[2], i01, q[3]);
    const __m512 a23 = _mm512_permutex2var_ps(q[0], i23, q[1]), b23 = _mm512_permutex2var_ps(q[2], i23, q[3]);
    z[0].v = _mm512_shuffle_f32x4(a01, b01, 0x44);
    z[1].v = _mm512_shuffle_f32x4(a01, b01, 0xEE);
    z[2].v = _mm512_shuffle_f32x4(a23, b23, 0x44);
    z[3].v = _mm512_shuffle_f32x4(a23, b23, 0xEE);
    // Columns 4 and 5 are columns 0 and 1 of the next tile.
    const __m512i e = _mm512_castps_si512(q[4]);
    z[4].v = _mm512_castsi512_ps(_mm512_alignr_epi32(e, _mm512_castps_si512(z[0].v), 1));
    z[5].v = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_alignr_epi32(e, e, 1),
                                                     _mm512_castps_si512(z[1].v), 1));
}
#else
constexpr bool kFastInput = false;
inline void load_row_phases(const float*, int64_t, int64_t, Vec* z) {
    for (int j = 0; j < kWinoA; ++j) z[j] = simd::vzero();
}
#endif

void input_transform(const WinoInputArgs& a) {
    // chk stays 0 while every transformed value is finite (v * 0 is NaN for a
    // NaN or infinity): one FMA per stored vector, to tell the driver.
    Vec chk = simd::vzero();
    const Vec zero = simd::vzero();
    for (int64_t t = 0; t < a.nt; t += kL) {
        const bool fast = kFastInput && a.in_fast[t / kL];
        Vec e[kWinoA][kWinoA];  // rows of d B
        for (int i = 0; i < kWinoA; ++i) {
            Vec z[kWinoA];
            if (fast) {
                const int64_t row = a.in_row[t / kL] + i;
                if (row >= 0 && row < a.h) {
                    const float* xr = a.x + a.in_img[t / kL] + row * a.w;
                    // The next channel's patch rows (planes are a.plane apart): 66
                    // floats from 64 separate planes defeat the hardware prefetcher.
                    for (int q = 0; q < 5; ++q) prefetch_read(xr + a.plane + a.in_col[t / kL] + 16 * q);
                    load_row_phases(xr, a.in_col[t / kL], a.w, z);
                } else {
                    for (int j = 0; j < kWinoA; ++j) z[j] = simd::vzero();
                }
            } else {
                for (int j = 0; j < kWinoA; ++j) z[j] = simd::vload(a.d + (i * kWinoA + j) * a.ntp + t);
            }
            bt6(z, e[i]);
        }
        for (int k = 0; k < kWinoA; ++k) {
            Vec z[kWinoA], o[kWinoA];
            for (int i = 0; i < kWinoA; ++i) z[i] = e[i][k];
            bt6(z, o);
            for (int i = 0; i < kWinoA; ++i) {
                simd::vstore(a.v + (i * kWinoA + k) * a.v_pos_stride + t, o[i]);
                chk = simd::vfmadd(o[i], zero, chk);
            }
        }
    }
    float lanes[kL];
    simd::vstore(lanes, chk);
    for (int l = 0; l < kL; ++l)
        if (lanes[l] != 0.0f) *a.nonfinite = true;
}

// m[r][.] = sum_c u[c][r] * v[c][.] over V vectors of tiles.
template <int R, int V>
void gemm_tile(const float* u, const float* v, int64_t c, int64_t v_cstride, float* m,
               int64_t m_rstride) {
    Vec acc[R][V];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int k = 0; k < V; ++k) acc[r][k] = simd::vzero();
    for (int64_t ci = 0; ci < c; ++ci, u += R, v += v_cstride) {
        Vec xv[V];
#pragma GCC unroll 8
        for (int k = 0; k < V; ++k) xv[k] = simd::vload(v + k * kL);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const Vec wv = simd::vset1(u[r]);
#pragma GCC unroll 8
            for (int k = 0; k < V; ++k) acc[r][k] = simd::vfmadd(wv, xv[k], acc[r][k]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int k = 0; k < V; ++k) simd::vstore(m + r * m_rstride + k * kL, acc[r][k]);
}

// Interleave four vectors of tiles (output columns j = 0..3 of one output
// row of kL consecutive tiles) into 4 vectors of consecutive pixels:
// p[q] lane l is column (q * kL + l) % 4 of tile (q * kL + l) / 4.
inline void interleave4(const Vec* c, Vec* p) {
#if defined(SR_SIMD_AVX512)
    const __m512 ab0 = _mm512_unpacklo_ps(c[0].v, c[1].v), ab1 = _mm512_unpackhi_ps(c[0].v, c[1].v);
    const __m512 cd0 = _mm512_unpacklo_ps(c[2].v, c[3].v), cd1 = _mm512_unpackhi_ps(c[2].v, c[3].v);
    // x_k, 128-bit lane m: tile 4m + k, columns 0..3.
    const __m512 x0 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(ab0), _mm512_castps_pd(cd0)));
    const __m512 x1 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(ab0), _mm512_castps_pd(cd0)));
    const __m512 x2 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(ab1), _mm512_castps_pd(cd1)));
    const __m512 x3 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(ab1), _mm512_castps_pd(cd1)));
    // 4x4 transpose of the 128-bit lanes.
    const __m512 y0 = _mm512_shuffle_f32x4(x0, x1, 0x44), y1 = _mm512_shuffle_f32x4(x0, x1, 0xEE);
    const __m512 y2 = _mm512_shuffle_f32x4(x2, x3, 0x44), y3 = _mm512_shuffle_f32x4(x2, x3, 0xEE);
    p[0].v = _mm512_shuffle_f32x4(y0, y2, 0x88);
    p[1].v = _mm512_shuffle_f32x4(y0, y2, 0xDD);
    p[2].v = _mm512_shuffle_f32x4(y1, y3, 0x88);
    p[3].v = _mm512_shuffle_f32x4(y1, y3, 0xDD);
#elif defined(SR_SIMD_AVX2)
    const __m256 ab0 = _mm256_unpacklo_ps(c[0].v, c[1].v), ab1 = _mm256_unpackhi_ps(c[0].v, c[1].v);
    const __m256 cd0 = _mm256_unpacklo_ps(c[2].v, c[3].v), cd1 = _mm256_unpackhi_ps(c[2].v, c[3].v);
    const __m256 x0 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(ab0), _mm256_castps_pd(cd0)));
    const __m256 x1 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(ab0), _mm256_castps_pd(cd0)));
    const __m256 x2 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(ab1), _mm256_castps_pd(cd1)));
    const __m256 x3 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(ab1), _mm256_castps_pd(cd1)));
    p[0].v = _mm256_permute2f128_ps(x0, x1, 0x20);
    p[1].v = _mm256_permute2f128_ps(x2, x3, 0x20);
    p[2].v = _mm256_permute2f128_ps(x0, x1, 0x31);
    p[3].v = _mm256_permute2f128_ps(x2, x3, 0x31);
#else
    float in[4][kL], out[4 * kL];
    for (int j = 0; j < 4; ++j) simd::vstore(in[j], c[j]);
    for (int t = 0; t < kL; ++t)
        for (int j = 0; j < 4; ++j) out[t * 4 + j] = in[j][t];
    for (int q = 0; q < 4; ++q) p[q] = simd::vload(out + q * kL);
#endif
}

// Output transform, epilogue (bias, ReLU, scale) and scatter of one output
// channel o of the block: m [pos][.] (pos stride m_pos_stride). Vectors of
// kL whole tiles side by side in one tile row (the driver's vec_fast) are
// interleaved in registers and stored as pixel rows; the others (image
// edges, tile-row ends) go through `out` and are cropped tile by tile.
void output_channel(const WinoBlockArgs& a, const float* m, int64_t m_pos_stride, int64_t o) {
    const Vec bias = simd::vset1(a.bias ? a.bias[o] : 0.0f);
    const Vec scale = simd::vset1(a.res_scale);
    const int64_t base = o * a.y_cstride, rbase = o * a.r_cstride;
    for (int64_t t = 0; t < a.ntp; t += kL) {
        if (t >= a.nt) break;
        Vec rows[kWinoA][4];  // A^T applied down the columns
        for (int j = 0; j < kWinoA; ++j) {
            Vec z[kWinoA], o4[4];
            for (int i = 0; i < kWinoA; ++i) z[i] = simd::vload(m + (i * kWinoA + j) * m_pos_stride + t);
            at6(z, o4);
            for (int i = 0; i < 4; ++i) rows[j][i] = o4[i];
        }
        const bool fast = a.vec_fast[t / kL];
        for (int i = 0; i < 4; ++i) {
            Vec z[kWinoA], o4[4];
            for (int j = 0; j < kWinoA; ++j) z[j] = rows[j][i];
            at6(z, o4);
            for (int j = 0; j < 4; ++j) {
                Vec r = simd::vadd(o4[j], bias);
                if (a.relu) r = simd::vmax(simd::vzero(), r);  // NaN passes (see conv2d_body.h)
                o4[j] = simd::vmul(scale, r);
            }
            if (fast) {
                Vec px[4];
                interleave4(o4, px);
                const int64_t off = a.tile_off[t] + base + i * a.y_rowstride;
                const int64_t roff = a.residual ? a.tile_off[t] + a.r_imgdiff * (a.tile_off[t] / a.y_img) + rbase + i * a.y_rowstride : 0;
                float* yr = a.y + off;
                // Same rows of the next channel (see input_transform).
                for (int q = 0; q < 4; ++q) {
                    prefetch_write(yr + a.y_cstride + q * kL);
                    if (a.residual) prefetch_read(a.residual + roff + a.r_cstride + q * kL);
                }
                if (a.residual) {
                    const float* rr = a.residual + roff;
                    for (int q = 0; q < 4; ++q) px[q] = simd::vadd(simd::vload(rr + q * kL), px[q]);
                }
                for (int q = 0; q < 4; ++q) simd::vstore(yr + q * kL, px[q]);
            } else {
                for (int j = 0; j < 4; ++j) simd::vstore(a.out + (i * 4 + j) * kL, o4[j]);
            }
        }
        if (fast) continue;
        // Crop tile by tile (right and bottom edges, tile-row ends).
        const int64_t tn = a.nt - t < kL ? a.nt - t : kL;
        for (int64_t k = 0; k < tn; ++k) {
            const int64_t off = a.tile_off[t + k] + base;
            const int64_t roff = a.tile_off[t + k] + a.r_imgdiff * (a.tile_off[t + k] / a.y_img) + rbase;
            const int rows_in = a.tile_rows[t + k], cols_in = a.tile_cols[t + k];
            for (int i = 0; i < rows_in; ++i) {
                float* yr = a.y + off + i * a.y_rowstride;
                const float* src = a.out + i * 4 * kL + k;
                if (a.residual) {
                    const float* rr = a.residual + roff + i * a.y_rowstride;
                    for (int j = 0; j < cols_in; ++j) yr[j] = rr[j] + src[j * kL];
                } else {
                    for (int j = 0; j < cols_in; ++j) yr[j] = src[j * kL];
                }
            }
        }
    }
}

// The last group of a block may need fewer than V vectors.
template <int R, int V>
void gemm_tail(int nv, const float* u, const float* v, int64_t c, int64_t v_cstride, float* m,
               int64_t m_rstride) {
    if constexpr (V >= 1) {
        if (nv == V) gemm_tile<R, V>(u, v, c, v_cstride, m, m_rstride);
        else gemm_tail<R, V - 1>(nv, u, v, c, v_cstride, m, m_rstride);
    }
}

template <int R, int V>
void block_r(const WinoBlockArgs& a, int64_t o0) {
    const int64_t mstride = R * a.ntp;  // m is [pos][r][ntp]
    const int64_t used = (a.nt + kL - 1) / kL * kL;  // vectors holding real tiles
    for (int p = 0; p < kWinoPos; ++p) {
        const float* u = a.u + p * a.o * a.c + o0 * a.c;
        const float* v = a.v + p * a.c * a.ntp;
        int64_t t = 0;
        for (; t + V * kL <= used; t += V * kL)
            gemm_tile<R, V>(u, v + t, a.c, a.ntp, a.m + p * mstride + t, a.ntp);
        if (t < used)
            gemm_tail<R, V>(static_cast<int>((used - t) / kL), u, v + t, a.c, a.ntp,
                            a.m + p * mstride + t, a.ntp);
    }
    for (int r = 0; r < R; ++r) output_channel(a, a.m + r * a.ntp, mstride, o0 + r);
}

template <int R, int V>
void block_dispatch(const WinoBlockArgs& a, int64_t o0, int r) {
    if constexpr (R >= 1) {
        if (r == R) block_r<R, V>(a, o0);
        else block_dispatch<R - 1, V>(a, o0, r);
    }
}

template <int RMAX, int V>
void block(const WinoBlockArgs& a) {
    for (int64_t b = a.ob0; b < a.ob1; ++b) {
        const int64_t o0 = b * RMAX;
        const int64_t left = a.o - o0;
        block_dispatch<RMAX, V>(a, o0, static_cast<int>(left < RMAX ? left : RMAX));
    }
}

// Weight gradient, input side (WinoDwTransformArgs): B^T d B of each tile's
// 6x6 patch, vectors along the channels.
void dw_input_transform(const conv2d_detail::WinoDwTransformArgs& a) {
    for (int64_t t = 0; t < a.nt; ++t) {
        const float* src = a.src + a.tile_off[t];
        float* dst = a.dst + t * a.cstride;
        for (int64_t c0 = 0; c0 < a.cstride; c0 += kL) {
            const int64_t c = c0 + kL <= a.cstride ? c0 : a.cstride - kL;
            Vec e[kWinoA][kWinoA];  // rows of d B
            for (int i = 0; i < kWinoA; ++i) {
                Vec z[kWinoA];
                for (int j = 0; j < kWinoA; ++j)
                    z[j] = simd::vload(src + i * a.row_stride + j * a.cstride + c);
                bt6(z, e[i]);
            }
            for (int k = 0; k < kWinoA; ++k) {
                Vec z[kWinoA], o[kWinoA];
                for (int i = 0; i < kWinoA; ++i) z[i] = e[i][k];
                bt6(z, o);
                for (int i = 0; i < kWinoA; ++i)
                    simd::vstore(dst + (i * kWinoA + k) * a.pos_stride + c, o[i]);
            }
        }
    }
}

// Weight gradient, output side: A dy A^T of each tile's 4x4 block of dy.
void dw_grad_transform(const conv2d_detail::WinoDwTransformArgs& a) {
    for (int64_t t = 0; t < a.nt; ++t) {
        const float* src = a.src + a.tile_off[t];
        float* dst = a.dst + t * a.cstride;
        for (int64_t c0 = 0; c0 < a.cstride; c0 += kL) {
            const int64_t c = c0 + kL <= a.cstride ? c0 : a.cstride - kL;
            Vec e[4][kWinoA];  // rows of dy A^T
            for (int i = 0; i < 4; ++i) {
                Vec z[4];
                for (int j = 0; j < 4; ++j) z[j] = simd::vload(src + i * a.row_stride + j * a.cstride + c);
                a4(z, e[i]);
            }
            for (int k = 0; k < kWinoA; ++k) {
                Vec z[4], o[kWinoA];
                for (int i = 0; i < 4; ++i) z[i] = e[i][k];
                a4(z, o);
                for (int i = 0; i < kWinoA; ++i)
                    simd::vstore(dst + (i * kWinoA + k) * a.pos_stride + c, o[i]);
            }
        }
    }
}

#if defined(SR_SIMD_AVX512)
// In-register transpose of 16 vectors of 16 floats: r[i] lane j <- r[j] lane i.
inline void transpose16(__m512* r) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 8; ++i) {
        const int a = (i / 4) * 8 + (i % 4);
        t[i] = _mm512_shuffle_f32x4(u[a], u[a + 4], 0x88);
        t[i + 8] = _mm512_shuffle_f32x4(u[a], u[a + 4], 0xDD);
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 4], 0x88);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 8], t[i + 12], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 4], 0xDD);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 8], t[i + 12], 0xDD);
    }
}
#endif

// ChannelsLastRowArgs: 16x16 blocks through registers where AVX-512 has them
// (about 3x the scalar scatter), the rest value by value.
void channels_last_row(const conv2d_detail::ChannelsLastRowArgs& a) {
    int64_t c0 = 0;
#if defined(SR_SIMD_AVX512)
    for (; c0 + 16 <= a.c; c0 += 16) {
        int64_t w0 = 0;
        for (; w0 + 16 <= a.w; w0 += 16) {
            __m512 v[16];
            for (int k = 0; k < 16; ++k) v[k] = _mm512_loadu_ps(a.src + (c0 + k) * a.plane + w0);
            transpose16(v);
            for (int k = 0; k < 16; ++k) _mm512_storeu_ps(a.dst + (w0 + k) * a.cstride + c0, v[k]);
        }
        for (; w0 < a.w; ++w0)
            for (int k = 0; k < 16; ++k) a.dst[w0 * a.cstride + c0 + k] = a.src[(c0 + k) * a.plane + w0];
    }
#endif
    for (int64_t ch = c0; ch < a.c; ++ch) {
        const float* s = a.src + ch * a.plane;
        float* d = a.dst + ch;
        for (int64_t iw = 0; iw < a.w; ++iw) d[iw * a.cstride] = s[iw];
    }
}

template <int RMAX, int V>
WinoKernels kernels() {
    WinoKernels k{};
    k.lanes = kL;
    k.vecs = V;
    k.r_max = RMAX;
    k.fast_input = kFastInput;
    k.input = &input_transform;
    k.block = &block<RMAX, V>;
    k.dw_input = &dw_input_transform;
    k.dw_grad = &dw_grad_transform;
    k.channels_last_row = &channels_last_row;
    return k;
}

}  // namespace wino_body
}  // namespace
}  // namespace sr_native
