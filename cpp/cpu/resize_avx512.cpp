// AVX-512 row kernels of the fast resize (see resize_rows.h). The horizontal
// pass works on groups of 16 consecutive output values of the interleaved row
// (any channel count): per tap one or two loads of the input row, a lane
// permutation (vpermps / vpermt2ps) and an FMA, then 16 contiguous results.
// Everything lives in resize_rows::avx512 and instantiates no std templates
// (this file is compiled with AVX-512 flags; ODR).
#include <immintrin.h>

#include "resize_rows.h"

namespace sr_native::resize_rows {
namespace avx512 {
namespace {

inline float finish1(float v, float maxval) {
    if (maxval > 0.0f) {
        v = v < 0.0f ? 0.0f : (v > maxval ? maxval : v);
        v = static_cast<float>(static_cast<int32_t>(v + 0.5f));  // v >= 0: truncation is floor
    }
    return v;
}

// Clamp to [0, maxval] and round half up, 16 lanes.
inline __m512 finish16(__m512 v, __m512 maxv) {
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), maxv);
    return _mm512_roundscale_ps(_mm512_add_ps(v, _mm512_set1_ps(0.5f)),
                                _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}

inline __m512 load16(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline __m512 load16(const uint16_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
}
inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }

// With rounding (maxval > 0) the accumulators start at 0.5, so the epilogue
// is floor and clamp: floor(clamp(v, 0, max) + 0.5) == clamp(floor(v + 0.5), 0, max)
// for an integer max.
inline __m512 floor_clamp16(__m512 v, __m512 maxv) {
    v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    return _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), maxv);
}

template <class T>
void vert(const T* const* rows, const float* w, int taps, int64_t n, float maxval, float* out) {
    const bool rnd = maxval > 0.0f;
    const __m512 maxv = _mm512_set1_ps(maxval);
    const __m512 init = _mm512_set1_ps(rnd ? 0.5f : 0.0f);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a0 = init, a1 = init;
        for (int t = 0; t < taps; ++t) {
            const __m512 wt = _mm512_set1_ps(w[t]);
            a0 = _mm512_fmadd_ps(load16(rows[t] + i), wt, a0);
            a1 = _mm512_fmadd_ps(load16(rows[t] + i + 16), wt, a1);
        }
        if (rnd) { a0 = floor_clamp16(a0, maxv); a1 = floor_clamp16(a1, maxv); }
        _mm512_storeu_ps(out + i, a0);
        _mm512_storeu_ps(out + i + 16, a1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 a0 = init;
        for (int t = 0; t < taps; ++t) a0 = _mm512_fmadd_ps(load16(rows[t] + i), _mm512_set1_ps(w[t]), a0);
        _mm512_storeu_ps(out + i, rnd ? floor_clamp16(a0, maxv) : a0);
    }
    for (; i < n; ++i) {
        float acc = 0.0f;
        for (int t = 0; t < taps; ++t) acc = __builtin_fmaf(w[t], static_cast<float>(rows[t][i]), acc);
        out[i] = finish1(acc, maxval);
    }
}

// One output value e (pixel e / c, channel e % c), for groups too spread out.
inline float horz_value(const float* row, const HorzPlan& p, int64_t e) {
    const int64_t o = e / p.c, ch = e % p.c;
    const float* src = row + p.first[o] * p.c + ch;
    const float* wo = p.w + o * p.taps;
    float acc = 0.0f;
    for (int t = 0; t < p.taps; ++t) acc = __builtin_fmaf(wo[t], src[t * p.c], acc);
    return acc;
}

// The 16 raw sums of group g (modes 0 and 1). TAPS > 0: tap count known at
// compile time (unrolled); 0: p.taps. Two accumulators (even and odd taps)
// halve the FMA dependency chain.
template <int TAPS>
inline __m512 horz_group(const float* row, const HorzPlan& p, int64_t base, int q, int c) {
    const int taps = TAPS > 0 ? TAPS : p.taps;
    const __m512i idx = _mm512_loadu_si512(p.pidx + q * 16);
    const float* src = row + base;
    const float* wq = p.pw + static_cast<int64_t>(q) * taps * 16;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    if (p.pmode[q] == 0) {
        int t = 0;
        for (; t + 2 <= taps; t += 2) {
            const __m512 v0 = _mm512_permutexvar_ps(idx, _mm512_loadu_ps(src + t * c));
            const __m512 v1 = _mm512_permutexvar_ps(idx, _mm512_loadu_ps(src + (t + 1) * c));
            acc0 = _mm512_fmadd_ps(v0, _mm512_loadu_ps(wq + t * 16), acc0);
            acc1 = _mm512_fmadd_ps(v1, _mm512_loadu_ps(wq + (t + 1) * 16), acc1);
        }
        if (t < taps)
            acc0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(idx, _mm512_loadu_ps(src + t * c)),
                                   _mm512_loadu_ps(wq + t * 16), acc0);
    } else {
        for (int t = 0; t < taps; ++t) {
            const float* s = src + t * c;
            const __m512 v = _mm512_permutex2var_ps(_mm512_loadu_ps(s), idx, _mm512_loadu_ps(s + 16));
            if (t % 2 == 0) acc0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(wq + t * 16), acc0);
            else acc1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(wq + t * 16), acc1);
        }
    }
    return _mm512_add_ps(acc0, acc1);
}

template <int TAPS>
void horz_f32_t(const float* row, const HorzPlan& p, float maxval, float* out) {
    const int64_t n = p.out_w * p.c;
    const bool rnd = maxval > 0.0f;
    const __m512 maxv = _mm512_set1_ps(maxval);
    for (int64_t g = 0; g < p.groups; ++g) {
        const int64_t e0 = g * 16;
        const int q = p.gpat[g];
        if (p.pmode[q] == 2) {
            const int64_t end = e0 + 16 < n ? e0 + 16 : n;
            for (int64_t e = e0; e < end; ++e) out[e] = finish1(horz_value(row, p, e), maxval);
            continue;
        }
        const __m512 v = horz_group<TAPS>(row, p, p.gbase[g], q, p.c);
        _mm512_storeu_ps(out + e0, rnd ? finish16(v, maxv) : v);  // padding lanes land in the slack
    }
}

// Round half up and saturate to bytes: floor(v + 0.5) by the conversion's
// rounding mode, negatives to 0 by a signed max, > 255 by the unsigned narrowing.
inline __m128i to_u8(__m512 v) {
    const __m512i i = _mm512_cvt_roundps_epi32(_mm512_add_ps(v, _mm512_set1_ps(0.5f)),
                                               _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    return _mm512_cvtusepi32_epi8(_mm512_max_epi32(i, _mm512_setzero_si512()));
}

// floor(v) saturated to bytes (the caller folded + 0.5 into the accumulator).
inline __m128i floor_to_u8(__m512 v) {
    const __m512i i = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    return _mm512_cvtusepi32_epi8(_mm512_max_epi32(i, _mm512_setzero_si512()));
}

// Integer enlargement, polyphase (see HorzPlan::ph_*): each phase is a plain
// convolution of the row (contiguous loads, broadcast weights, no gather),
// rounded to bytes; byte permutations interleave the phases into pixels.
// Needs AVX512-VBMI (vpermt2b), which the caller checked (HorzPlan::ph_r is
// only set when the CPU has it).
template <int TAPS>
__attribute__((target("avx512vbmi"))) void horz_u8_phases(const float* row, const HorzPlan& p, uint8_t* out) {
    const int taps = TAPS > 0 ? TAPS : p.taps;
    const int r = p.ph_r, c = p.c, m = p.ph_m;
    const int64_t n = p.out_w * c, j0 = p.ph_j0, j1 = p.ph_j1;
    const bool two = m * c > 16;  // phase values per chunk need two vectors
    const int32_t* off = p.ph_off;
    const float* pw = p.ph_w;
    __m512i perm[3];
    for (int s = 1; s < r; ++s) perm[s - 1] = _mm512_loadu_si512(p.ph_perm + (s - 1) * 64);
    for (int64_t e = 0; e < r * j0 * c; ++e)  // left border
        out[e] = static_cast<uint8_t>(finish1(horz_value(row, p, e), 255.0f));
    for (int64_t jb = j0; jb < j1; jb += m) {
        const int64_t mm = j1 - jb < m ? j1 - jb : m;
        __m512i res = _mm512_setzero_si512();
        for (int k = 0; k < r; ++k) {
            const float* src = row + (jb + off[k]) * c;
            const float* wk = pw + k * taps;
            __m512 a0 = _mm512_set1_ps(0.5f), a1 = _mm512_set1_ps(0.5f);
            for (int t = 0; t < taps; ++t) {
                const __m512 wt = _mm512_set1_ps(wk[t]);
                a0 = _mm512_fmadd_ps(_mm512_loadu_ps(src + t * c), wt, a0);
                if (two) a1 = _mm512_fmadd_ps(_mm512_loadu_ps(src + t * c + 16), wt, a1);
            }
            __m512i bk = _mm512_castsi128_si512(floor_to_u8(a0));
            if (two) bk = _mm512_inserti32x4(bk, floor_to_u8(a1), 1);
            res = k == 0 ? bk : _mm512_permutex2var_epi8(res, perm[k - 1], bk);
        }
        const int64_t bytes = r * c * mm;
        const __mmask64 mask = bytes >= 64 ? ~0ull : ((1ull << bytes) - 1);
        _mm512_mask_storeu_epi8(out + r * jb * c, mask, res);
    }
    for (int64_t e = r * j1 * c; e < n; ++e)  // right border
        out[e] = static_cast<uint8_t>(finish1(horz_value(row, p, e), 255.0f));
}

template <int TAPS>
void horz_u8_t(const float* row, const HorzPlan& p, uint8_t* out) {
    if (p.ph_r > 1 && p.ph_r <= 4) return horz_u8_phases<TAPS>(row, p, out);
    // Plan fields in locals: the byte stores below may alias anything, so the
    // compiler would otherwise reload them for every group.
    const int64_t n = p.out_w * p.c, groups = p.groups;
    const int64_t* gbase = p.gbase;
    const int32_t* gpat = p.gpat;
    const uint8_t* pmode = p.pmode;
    const int c = p.c;
    const int64_t full = n / 16;  // groups with 16 values
    int64_t g = 0;
    for (; g + 2 <= full; g += 2) {  // two groups in flight for more ILP
        const int q0 = gpat[g], q1 = gpat[g + 1];
        if ((pmode[q0] | pmode[q1]) >= 2) break;
        const __m512 v0 = horz_group<TAPS>(row, p, gbase[g], q0, c);
        const __m512 v1 = horz_group<TAPS>(row, p, gbase[g + 1], q1, c);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + g * 16), to_u8(v0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + g * 16 + 16), to_u8(v1));
    }
    for (; g < groups; ++g) {
        const int64_t e0 = g * 16;
        const int64_t count = n - e0 < 16 ? n - e0 : 16;
        const int q = gpat[g];
        if (pmode[q] == 2) {
            for (int64_t e = e0; e < e0 + count; ++e)
                out[e] = static_cast<uint8_t>(finish1(horz_value(row, p, e), 255.0f));
            continue;
        }
        const __m128i bytes = to_u8(horz_group<TAPS>(row, p, gbase[g], q, c));
        if (count == 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + e0), bytes);
        else _mm_mask_storeu_epi8(out + e0, static_cast<__mmask16>((1u << count) - 1), bytes);
    }
}

// Unrolled bodies for the common tap counts (bilinear 2, bicubic 4, lanczos3 6).
void horz_f32(const float* row, const HorzPlan& p, float maxval, float* out) {
    switch (p.taps) {
        case 2: return horz_f32_t<2>(row, p, maxval, out);
        case 4: return horz_f32_t<4>(row, p, maxval, out);
        case 6: return horz_f32_t<6>(row, p, maxval, out);
        default: return horz_f32_t<0>(row, p, maxval, out);
    }
}

void horz_u8(const float* row, const HorzPlan& p, uint8_t* out) {
    switch (p.taps) {
        case 2: return horz_u8_t<2>(row, p, out);
        case 4: return horz_u8_t<4>(row, p, out);
        case 6: return horz_u8_t<6>(row, p, out);
        default: return horz_u8_t<0>(row, p, out);
    }
}

void vert_u8(const uint8_t* const* r, const float* w, int t, int64_t n, float m, float* o) {
    vert(r, w, t, n, m, o);
}
void vert_u16(const uint16_t* const* r, const float* w, int t, int64_t n, float m, float* o) {
    vert(r, w, t, n, m, o);
}
void vert_f32(const float* const* r, const float* w, int t, int64_t n, float m, float* o) {
    vert(r, w, t, n, m, o);
}

// See resize_rows.h. x + 0.5 - floor(x + 0.5) near 0 or 1 marks a tie.
int64_t round_ties(float* v, int64_t n, float maxval, float band, int64_t* ties,
                   uint8_t* out8) {
    const __m512 half = _mm512_set1_ps(0.5f), lo = _mm512_set1_ps(band),
                 hi = _mm512_set1_ps(1.0f - band), maxv = _mm512_set1_ps(maxval);
    int64_t count = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 x = _mm512_add_ps(_mm512_loadu_ps(v + i), half);
        const __m512 f = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        const __m512 d = _mm512_sub_ps(x, f);
        unsigned mask = static_cast<unsigned>(_mm512_cmp_ps_mask(d, lo, _CMP_LT_OQ) |
                                              _mm512_cmp_ps_mask(d, hi, _CMP_GT_OQ));
        const __m512 r = _mm512_min_ps(_mm512_max_ps(f, _mm512_setzero_ps()), maxv);
        if (out8) _mm_storeu_si128(reinterpret_cast<__m128i*>(out8 + i),
                                   _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(r)));
        else _mm512_storeu_ps(v + i, r);
        while (mask) {
            ties[count++] = i + __builtin_ctz(mask);
            mask &= mask - 1;
        }
    }
    for (; i < n; ++i) {
        const float x = v[i] + 0.5f, f = static_cast<float>(__builtin_floorf(x)), d = x - f;
        if (d < band || d > 1.0f - band) ties[count++] = i;
        const float r = f < 0.0f ? 0.0f : (f > maxval ? maxval : f);
        if (out8) out8[i] = static_cast<uint8_t>(r);
        else v[i] = r;
    }
    return count;
}

}  // namespace
}  // namespace avx512

Kernels avx512_kernels() {
    return {avx512::vert_u8, avx512::vert_u16, avx512::vert_f32, avx512::horz_f32, avx512::horz_u8,
            avx512::round_ties};
}

}  // namespace sr_native::resize_rows
