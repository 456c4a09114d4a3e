// AVX2 + FMA row kernels of the fast resize (see resize_rows.h). Everything
// here lives in resize_rows::avx2 and instantiates no std templates: this file
// is compiled with -mavx2 and must not hand the linker an AVX copy of a
// function the baseline code also uses.
#include <immintrin.h>

#include "resize_rows.h"

namespace sr_native::resize_rows {
namespace avx2 {
namespace {

inline float finish1(float v, float maxval) {
    if (maxval > 0.0f) {
        v = v < 0.0f ? 0.0f : (v > maxval ? maxval : v);
        v = static_cast<float>(static_cast<int32_t>(v + 0.5f));  // v >= 0: truncation is floor
    }
    return v;
}

// Clamp to [0, maxval] and round half up (as finish1), 8 lanes.
inline __m256 finish8(__m256 v, __m256 maxv) {
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), maxv);
    return _mm256_floor_ps(_mm256_add_ps(v, _mm256_set1_ps(0.5f)));
}

inline __m256 load8(const uint8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline __m256 load8(const uint16_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }

// With rounding (maxval > 0) the accumulators start at 0.5, so the epilogue
// is floor and clamp: floor(clamp(v, 0, max) + 0.5) == clamp(floor(v + 0.5), 0, max)
// for an integer max.
inline __m256 floor_clamp8(__m256 v, __m256 maxv) {
    return _mm256_min_ps(_mm256_max_ps(_mm256_floor_ps(v), _mm256_setzero_ps()), maxv);
}

// Vertical taps, 16 values per step (two accumulators), then 8, then scalar.
template <class T>
void vert(const T* const* rows, const float* w, int taps, int64_t n, float maxval, float* out) {
    const bool rnd = maxval > 0.0f;
    const __m256 maxv = _mm256_set1_ps(maxval);
    const __m256 init = _mm256_set1_ps(rnd ? 0.5f : 0.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a0 = init, a1 = init;
        for (int t = 0; t < taps; ++t) {
            const __m256 wt = _mm256_broadcast_ss(w + t);
            a0 = _mm256_fmadd_ps(load8(rows[t] + i), wt, a0);
            a1 = _mm256_fmadd_ps(load8(rows[t] + i + 8), wt, a1);
        }
        if (rnd) { a0 = floor_clamp8(a0, maxv); a1 = floor_clamp8(a1, maxv); }
        _mm256_storeu_ps(out + i, a0);
        _mm256_storeu_ps(out + i + 8, a1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 a0 = init;
        for (int t = 0; t < taps; ++t)
            a0 = _mm256_fmadd_ps(load8(rows[t] + i), _mm256_broadcast_ss(w + t), a0);
        _mm256_storeu_ps(out + i, rnd ? floor_clamp8(a0, maxv) : a0);
    }
    for (; i < n; ++i) {
        float acc = 0.0f;
        for (int t = 0; t < taps; ++t) acc = __builtin_fmaf(w[t], static_cast<float>(rows[t][i]), acc);
        out[i] = finish1(acc, maxval);
    }
}

// One output pixel, any c (tails and c other than 3 and 4).
inline void horz_pixel(const float* row, const int64_t* first, const float* w, int taps,
                       int64_t o, int c, float maxval, float* dst) {
    const float* src = row + first[o] * c;
    const float* wo = w + o * taps;
    for (int ch = 0; ch < c; ++ch) {
        float acc = 0.0f;
        for (int t = 0; t < taps; ++t) acc = __builtin_fmaf(wo[t], src[t * c + ch], acc);
        dst[ch] = finish1(acc, maxval);
    }
}

// Output pixels o and o+1 (c = 3 or 4) in one register: low 4 lanes pixel o,
// high 4 lanes pixel o+1; for c = 3 lane 3 of each half is junk (the next
// input value), never mixed into the others.
inline __m256 horz_pair(const float* row, const int64_t* first, const float* wpair, int taps,
                        int64_t o, int c) {
    const float* p0 = row + first[o] * c;
    const float* p1 = row + first[o + 1] * c;
    const float* wp = wpair + (o / 2) * taps * 8;
    __m256 acc = _mm256_setzero_ps();
    for (int t = 0; t < taps; ++t) {
        const __m256 v = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p0 + t * c)),
                                              _mm_loadu_ps(p1 + t * c), 1);
        acc = _mm256_fmadd_ps(v, _mm256_loadu_ps(wp + t * 8), acc);
    }
    return acc;
}

void horz_f32(const float* row, const HorzPlan& p, float maxval, float* out) {
    const int64_t* first = p.first;
    const float *w = p.w, *wpair = p.wpair;
    const int taps = p.taps, c = p.c;
    const int64_t out_w = p.out_w;
    int64_t o = 0;
    if (c == 3 || c == 4) {
        const bool rnd = maxval > 0.0f;
        const __m256 maxv = _mm256_set1_ps(maxval);
        for (; o + 2 <= out_w; o += 2) {
            __m256 v = horz_pair(row, first, wpair, taps, o, c);
            if (rnd) v = finish8(v, maxv);
            // In order, so pixel o+1 overwrites the junk lane of pixel o (c = 3);
            // the last junk lane lands in the caller's slack.
            _mm_storeu_ps(out + o * c, _mm256_castps256_ps128(v));
            _mm_storeu_ps(out + (o + 1) * c, _mm256_extractf128_ps(v, 1));
        }
    }
    for (; o < out_w; ++o) horz_pixel(row, first, w, taps, o, c, maxval, out + o * c);
}

// Four rounded pixels (two pairs) as 4 x 4 bytes in pixel order.
inline __m128i pack4(__m256 a, __m256 b) {
    const __m256i ab = _mm256_packs_epi32(_mm256_cvttps_epi32(a), _mm256_cvttps_epi32(b));
    const __m256i bytes = _mm256_packus_epi16(ab, ab);  // lane 0: p0 p2 .., lane 1: p1 p3 ..
    return _mm_unpacklo_epi32(_mm256_castsi256_si128(bytes), _mm256_extracti128_si256(bytes, 1));
}

// One output value e (pixel e / c, channel e % c), rounded to a byte.
inline uint8_t horz_value_u8(const float* row, const HorzPlan& p, int64_t e) {
    const int64_t o = e / p.c, ch = e % p.c;
    const float* src = row + p.first[o] * p.c + ch;
    const float* wo = p.w + o * p.taps;
    float acc = 0.0f;
    for (int t = 0; t < p.taps; ++t) acc = __builtin_fmaf(wo[t], src[t * p.c], acc);
    return static_cast<uint8_t>(finish1(acc, 255.0f));
}

// 16 sums (accumulators started at 0.5) -> 16 bytes floor(v), saturated, in
// order. Truncation equals floor for v >= 0; for v < 0 both end up 0 after the
// unsigned saturation, so no separate floor is needed.
inline __m128i floor_to_u8_16(__m256 a, __m256 b) {
    const __m256i ia = _mm256_cvttps_epi32(a);
    const __m256i ib = _mm256_cvttps_epi32(b);
    const __m256i w16 = _mm256_packus_epi32(ia, ib);   // a0-3 b0-3 | a4-7 b4-7
    const __m256i b8 = _mm256_packus_epi16(w16, w16);  // bytes, same order, twice per lane
    const __m256i fix = _mm256_permutevar8x32_epi32(b8, _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0));
    return _mm256_castsi256_si128(fix);                 // a0-7 b0-7
}

// Integer enlargement, polyphase (HorzPlan::ph_*): each phase is a plain
// convolution of the row (contiguous loads, broadcast weights), rounded to
// bytes in a small buffer; pshufb pieces interleave the phases into pixels.
template <int TAPS>
void horz_u8_phases(const float* row, const HorzPlan& p, uint8_t* out) {
    const int taps = TAPS > 0 ? TAPS : p.taps;
    const int r = p.ph_r, c = p.c, m = p.ph_m, pieces = p.ph_pieces;
    const int64_t n = p.out_w * c, j0 = p.ph_j0, j1 = p.ph_j1;
    const int64_t ne = static_cast<int64_t>(c) * m;  // values per phase per chunk (<= 512)
    // Locals: the byte stores may alias anything, so fields of p would be reloaded.
    const int32_t* poff = p.ph_poff;
    const uint8_t* pshuf = p.ph_pshuf;
    const int32_t* off = p.ph_off;
    const float* pw = p.ph_w;
    alignas(32) uint8_t bytes[4][512 + 32] = {};  // tails read by the pieces are masked out
    for (int64_t e = 0; e < r * j0 * c; ++e) out[e] = horz_value_u8(row, p, e);  // left border
    int64_t jb = j0;
    for (; jb + m <= j1; jb += m) {
        for (int k = 0; k < r; ++k) {
            const float* src = row + (jb + off[k]) * c;
            const float* wk = pw + k * taps;
            for (int64_t i = 0; i < ne; i += 16) {  // may run past ne into the slack
                __m256 a0 = _mm256_set1_ps(0.5f), a1 = _mm256_set1_ps(0.5f);
                for (int t = 0; t < taps; ++t) {
                    const __m256 wt = _mm256_broadcast_ss(wk + t);
                    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(src + t * c + i), wt, a0);
                    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(src + t * c + i + 8), wt, a1);
                }
                _mm_store_si128(reinterpret_cast<__m128i*>(&bytes[k][i]), floor_to_u8_16(a0, a1));
            }
        }
        uint8_t* dst = out + r * jb * c;
        for (int i = 0; i < pieces; ++i) {
            __m128i v = _mm_setzero_si128();
            for (int k = 0; k < r; ++k) {
                const __m128i srcb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&bytes[k][poff[i * r + k]]));
                const __m128i mask = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pshuf + (i * r + k) * 16));
                v = _mm_or_si128(v, _mm_shuffle_epi8(srcb, mask));
            }
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16 * i), v);
        }
    }
    for (int64_t e = r * jb * c; e < n; ++e) out[e] = horz_value_u8(row, p, e);  // rest, right border
}

void horz_u8(const float* row, const HorzPlan& p, uint8_t* out) {
    if (p.ph_r > 1 && p.ph_r <= 4 && p.ph_pieces > 0) {
        switch (p.taps) {
            case 2: return horz_u8_phases<2>(row, p, out);
            case 4: return horz_u8_phases<4>(row, p, out);
            default: return horz_u8_phases<0>(row, p, out);
        }
    }
    const int64_t* first = p.first;
    const float *w = p.w, *wpair = p.wpair;
    const int taps = p.taps, c = p.c;
    const int64_t out_w = p.out_w;
    int64_t o = 0;
    if (c == 3 || c == 4) {
        const __m256 maxv = _mm256_set1_ps(255.0f);
        const __m128i squeeze3 = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
        for (; o + 4 <= out_w; o += 4) {
            const __m256 a = finish8(horz_pair(row, first, wpair, taps, o, c), maxv);
            const __m256 b = finish8(horz_pair(row, first, wpair, taps, o + 2, c), maxv);
            __m128i px = pack4(a, b);
            if (c == 4) {
                _mm_storeu_si128(reinterpret_cast<__m128i*>(out + o * 4), px);
            } else {
                px = _mm_shuffle_epi8(px, squeeze3);  // 12 bytes: exactly 4 pixels
                _mm_storel_epi64(reinterpret_cast<__m128i*>(out + o * 3), px);
                const int32_t last = _mm_extract_epi32(px, 2);
                __builtin_memcpy(out + o * 3 + 8, &last, 4);
            }
        }
    }
    float px[64];
    for (; o < out_w; ++o) {
        if (c <= 64) {
            horz_pixel(row, first, w, taps, o, c, 255.0f, px);
            for (int ch = 0; ch < c; ++ch) out[o * c + ch] = static_cast<uint8_t>(px[ch]);
        } else {  // wide pixels: one channel at a time
            const float* src = row + first[o] * c;
            for (int ch = 0; ch < c; ++ch) {
                float acc = 0.0f;
                for (int t = 0; t < taps; ++t) acc = __builtin_fmaf(w[o * taps + t], src[t * c + ch], acc);
                out[o * c + ch] = static_cast<uint8_t>(finish1(acc, 255.0f));
            }
        }
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
    const __m256 half = _mm256_set1_ps(0.5f), lo = _mm256_set1_ps(band),
                 hi = _mm256_set1_ps(1.0f - band), maxv = _mm256_set1_ps(maxval);
    int64_t count = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_add_ps(_mm256_loadu_ps(v + i), half);
        const __m256 f = _mm256_floor_ps(x), d = _mm256_sub_ps(x, f);
        unsigned mask = static_cast<unsigned>(_mm256_movemask_ps(_mm256_or_ps(
            _mm256_cmp_ps(d, lo, _CMP_LT_OQ), _mm256_cmp_ps(d, hi, _CMP_GT_OQ))));
        const __m256 r = _mm256_min_ps(_mm256_max_ps(f, _mm256_setzero_ps()), maxv);
        if (out8) {
            const __m256i w16 = _mm256_packus_epi32(_mm256_cvttps_epi32(r), _mm256_setzero_si256());
            const __m256i b8 = _mm256_packus_epi16(w16, w16);  // bytes 0-3 lane 0, 4-7 lane 1
            const __m128i px = _mm_unpacklo_epi32(_mm256_castsi256_si128(b8),
                                                  _mm256_extracti128_si256(b8, 1));
            _mm_storel_epi64(reinterpret_cast<__m128i*>(out8 + i), px);
        } else {
            _mm256_storeu_ps(v + i, r);
        }
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
}  // namespace avx2

Kernels avx2_kernels() {
    return {avx2::vert_u8, avx2::vert_u16, avx2::vert_f32, avx2::horz_f32, avx2::horz_u8,
            avx2::round_ties};
}

}  // namespace sr_native::resize_rows
