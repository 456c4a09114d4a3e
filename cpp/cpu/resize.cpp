// Fast resize: the reference's taps (MATLAB's contributions, in double) turned
// into one contiguous window per output pixel (first index + float weights,
// mirrored taps merged), then separable passes with SIMD row kernels and
// OpenMP over rows.
//
// Pass order follows MATLAB (smaller scale first, rows on a tie), and integer
// intermediates are rounded as in the reference, so fast and reference only
// differ by float-vs-double rounding:
//  - rows first (the usual case, enlarging included): fused per output row,
//    vertical taps of the input rows -> float row buffer (rounded) ->
//    horizontal taps -> output row. No intermediate image, cache-friendly
//    (the uint8 input rows of a window stay in L1), works on interleaved
//    HxWxC directly. The horizontal pass is where the time goes: AVX-512
//    gathers 16 output values per tap with one permute from a shared
//    pattern; integer enlargements (x2, x3, x4) go polyphase, one plain
//    convolution per phase, interleaved as bytes (see resize_rows.h).
//  - columns first: each input row is resized horizontally into a float
//    intermediate image, then each output row is combined vertically.
#include <algorithm>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#if defined(SR_NATIVE_X86) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

#include "parallel.h"
#include "resize_rows.h"
#include "sr_native/isa.h"
#include "sr_native/resize.h"

namespace sr_native {
namespace {

constexpr int kSlack = resize_rows::kRowSlack;  // floats past the end of every row buffer

// One axis as contiguous windows: output o reads input first[o] .. first[o]+taps-1.
struct Window {
    int taps = 1;
    std::vector<int64_t> first;
    std::vector<float> w;      // out_len * taps
    std::vector<double> wd;    // the same weights in double
    ResizeTaps taps_ref;       // the reference's own taps (unmerged), for ties
    std::vector<float> wpair;  // see resize_rows.h
    // 16-value groups of the horizontal pass (resize_rows::HorzPlan), AVX-512 only.
    std::vector<int64_t> gbase;
    std::vector<int32_t> gpat;
    std::vector<int32_t> pidx;
    std::vector<uint8_t> pmode;
    std::vector<float> pw;
    // Polyphase form of an integer enlargement (resize_rows::HorzPlan): byte
    // permutations for AVX-512 VBMI (ph_perm) or pshufb pieces for AVX2.
    int ph_r = 0, ph_m = 0;
    int64_t ph_j0 = 0, ph_j1 = 0;
    std::vector<int32_t> ph_off;
    std::vector<float> ph_w;
    std::vector<uint8_t> ph_perm;
    int ph_pieces = 0;
    std::vector<int32_t> ph_poff;
    std::vector<uint8_t> ph_pshuf;

    resize_rows::HorzPlan horz_plan(int64_t out_len, int c) const {
        return {taps, c, out_len, first.data(), w.data(), wpair.data(),
                static_cast<int64_t>(gpat.size()), gbase.data(), gpat.data(), pidx.data(),
                pmode.data(), pw.data(), ph_r, ph_m, ph_j0, ph_j1, ph_off.data(),
                ph_w.data(), ph_perm.data(), ph_pieces, ph_poff.data(), ph_pshuf.data()};
    }
};

// Output values (pixel o, channel ch) in groups of 16: each group reads one
// stretch of the row per tap, so one or two vector loads and a permutation
// replace a gather.
void make_groups(Window& win, int64_t out_len, int64_t c) {
    const int64_t n = out_len * c, groups = (n + 15) / 16;
    const int taps = win.taps;
    win.gbase.assign(groups, 0);
    win.gpat.assign(groups, 0);
    win.pidx.clear();
    win.pmode.clear();
    win.pw.clear();
    std::map<std::string, int32_t> seen;  // pattern bytes -> pattern number
    std::vector<int32_t> idx(16);
    std::vector<float> wts(static_cast<size_t>(taps) * 16);
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t e0 = g * 16, count = std::min<int64_t>(16, n - e0);
        int64_t base = INT64_MAX, span = 0;
        for (int64_t l = 0; l < count; ++l) {
            const int64_t e = e0 + l;
            base = std::min(base, win.first[e / c] * c + e % c);
        }
        std::fill(idx.begin(), idx.end(), 0);
        std::fill(wts.begin(), wts.end(), 0.0f);
        for (int64_t l = 0; l < count; ++l) {
            const int64_t e = e0 + l, o = e / c, rel = win.first[o] * c + e % c - base;
            span = std::max(span, rel + 1);
            idx[l] = static_cast<int32_t>(std::min<int64_t>(rel, 31));
            for (int t = 0; t < taps; ++t) wts[t * 16 + l] = win.w[o * taps + t];
        }
        const uint8_t mode = span <= 16 ? 0 : (span <= 32 ? 1 : 2);
        std::string key(1, static_cast<char>(mode));
        key.append(reinterpret_cast<const char*>(idx.data()), idx.size() * sizeof(int32_t));
        key.append(reinterpret_cast<const char*>(wts.data()), wts.size() * sizeof(float));
        auto it = seen.find(key);
        if (it == seen.end()) {
            it = seen.emplace(std::move(key), static_cast<int32_t>(win.pmode.size())).first;
            win.pmode.push_back(mode);
            win.pidx.insert(win.pidx.end(), idx.begin(), idx.end());
            win.pw.insert(win.pw.end(), wts.begin(), wts.end());
        }
        win.gbase[g] = base;
        win.gpat[g] = it->second;
    }
}

Window make_window(int64_t in_len, int64_t out_len, double scale, ResizeMethod method,
                   bool antialias) {
    const ResizeTaps t = ref::resize_taps(in_len, out_len, scale, method, antialias);
    Window win;
    // Mirrored indices of one output lie within at most t.taps (and in_len)
    // consecutive pixels; the widest such span is the window length.
    int taps = 1;
    for (int64_t o = 0; o < out_len; ++o) {
        const int64_t* idx = &t.index[o * t.taps];
        const auto mm = std::minmax_element(idx, idx + t.taps);
        taps = std::max<int>(taps, static_cast<int>(*mm.second - *mm.first + 1));
    }
    win.taps = taps;
    win.first.resize(out_len);
    std::vector<double> wd(static_cast<size_t>(out_len * taps), 0.0);
    for (int64_t o = 0; o < out_len; ++o) {
        const int64_t* idx = &t.index[o * t.taps];
        // Shift windows that would run past the end back inside the image.
        const int64_t first = std::min(*std::min_element(idx, idx + t.taps), in_len - taps);
        win.first[o] = first;
        for (int k = 0; k < t.taps; ++k) wd[o * taps + (idx[k] - first)] += t.weight[o * t.taps + k];
    }
    win.w.assign(wd.begin(), wd.end());
    win.wd = std::move(wd);
    win.taps_ref = t;
    const int64_t pairs = (out_len + 1) / 2;
    win.wpair.assign(static_cast<size_t>(pairs * taps * 8), 0.0f);
    for (int64_t o = 0; o < out_len; ++o)
        for (int k = 0; k < taps; ++k)
            for (int lane = 0; lane < 4; ++lane)
                win.wpair[((o / 2) * taps + k) * 8 + (o % 2) * 4 + lane] = win.w[o * taps + k];
    return win;
}

#if defined(SR_NATIVE_X86) && (defined(__GNUC__) || defined(__clang__))
// AVX512-VBMI (byte permutes), on top of the AVX-512 level isa.h checked.
bool has_avx512_vbmi() {
    static const bool has = [] {
        unsigned int eax, ebx, ecx, edx;
        if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
        return (ecx & (1u << 1)) != 0;
    }();
    return has;
}
#else
bool has_avx512_vbmi() { return false; }
#endif

// Finds the polyphase form of an integer enlargement (see HorzPlan): the
// phases are read off the middle of the row, and [j0, j1) is the run of input
// pixels around it where every output pixel matches them exactly.
// avx2: build the pshufb pieces (chunks of whole 16-byte pieces) instead of
// the AVX-512 VBMI permutations (chunks of <= 64 bytes).
void make_phases(Window& win, int64_t in_len, int64_t out_len, int64_t c, bool avx2) {
    win.ph_r = 0;
    if (out_len % in_len != 0) return;
    const int64_t r = out_len / in_len;
    if (r < 2 || r > 4 || r * c > 64 || in_len < 8) return;
    const int taps = win.taps;
    const int64_t mid = in_len / 2;
    win.ph_off.assign(r, 0);
    win.ph_w.assign(r * taps, 0.0f);
    for (int64_t k = 0; k < r; ++k) {
        win.ph_off[k] = static_cast<int32_t>(win.first[r * mid + k] - mid);
        for (int t = 0; t < taps; ++t) win.ph_w[k * taps + t] = win.w[(r * mid + k) * taps + t];
    }
    auto matches = [&](int64_t j) {
        for (int64_t k = 0; k < r; ++k) {
            const int64_t o = r * j + k;
            if (win.first[o] != j + win.ph_off[k]) return false;
            for (int t = 0; t < taps; ++t)
                if (win.w[o * taps + t] != win.ph_w[k * taps + t]) return false;
        }
        return true;
    };
    int64_t j0 = mid, j1 = mid + 1;
    while (j0 > 0 && matches(j0 - 1)) --j0;
    while (j1 < in_len && matches(j1)) ++j1;
    // AVX2: the smallest m with c*m (values per phase) a multiple of 16, so
    // no vector is half used; r*c*m is then whole 16-byte pieces too.
    const int64_t m = avx2 ? 16 / std::gcd<int64_t>(16, c) : 64 / (r * c);
    if (j1 - j0 < 2 * m) return;
    win.ph_r = static_cast<int>(r);
    win.ph_m = static_cast<int>(m);
    win.ph_j0 = j0;
    win.ph_j1 = j1;
    // Byte permutations: output byte b of a chunk is channel b % c of pixel
    // b / c = r*j + k, taken from byte j*c + ch of phase k. Step s merges
    // phase s (second source, 64 + i) into what steps before it placed.
    if (avx2) {
        const int64_t pieces = r * c * m / 16;
        win.ph_pieces = static_cast<int>(pieces);
        win.ph_poff.assign(pieces * r, 0);
        win.ph_pshuf.assign(pieces * r * 16, 0x80);
        for (int64_t i = 0; i < pieces; ++i)
            for (int64_t k = 0; k < r; ++k) {
                // Source bytes of phase k used by this piece: a window of <= 16.
                int64_t lo = INT64_MAX;
                for (int64_t b = 16 * i; b < 16 * i + 16; ++b) {
                    const int64_t pix = b / c;
                    if (pix % r == k) lo = std::min(lo, (pix / r) * c + b % c);
                }
                if (lo == INT64_MAX) lo = 0;
                win.ph_poff[i * r + k] = static_cast<int32_t>(lo);
                for (int64_t b = 16 * i; b < 16 * i + 16; ++b) {
                    const int64_t pix = b / c, rel = (pix / r) * c + b % c - lo;
                    if (pix % r != k) continue;
                    if (rel >= 16) { win.ph_r = 0; return; }  // cannot happen for r*c <= 64; be safe
                    win.ph_pshuf[(i * r + k) * 16 + (b - 16 * i)] = static_cast<uint8_t>(rel);
                }
            }
        return;
    }
    win.ph_perm.assign((r - 1) * 64, 0);
    for (int64_t s = 1; s < r; ++s)
        for (int64_t b = 0; b < r * c * m; ++b) {
            const int64_t pix = b / c, ch = b % c, j = pix / r, k = pix % r, src = j * c + ch;
            uint8_t v = 0;
            if (k == s) v = static_cast<uint8_t>(64 + src);
            else if (k < s) v = static_cast<uint8_t>(s == 1 ? src : b);
            win.ph_perm[(s - 1) * 64 + b] = v;
        }
}

// True if float arithmetic on this axis is exact for values up to maxval:
// every weight is a float with at most `frac_bits` fraction bits, so each
// product and partial sum needs at most 24 significant bits. Then float and
// double give the same sums, ties included (e.g. x2 bicubic: weights k/128).
bool float_sums_exact(const Window& win, double maxval) {
    if (maxval <= 0.0) return false;
    double abs_sum = 0.0;  // largest sum of |weights| of one output
    int frac_bits = 0;
    for (size_t i = 0; i < win.wd.size(); ++i) {
        const double v = win.wd[i];
        if (static_cast<double>(win.w[i]) != v) return false;
        int b = 0;
        double scaled = v;
        while (scaled != std::floor(scaled)) {
            scaled *= 2.0;
            if (++b > 24) return false;
        }
        frac_bits = std::max(frac_bits, b);
    }
    for (int64_t o = 0; o * win.taps < static_cast<int64_t>(win.wd.size()); ++o) {
        double a = 0.0;
        for (int t = 0; t < win.taps; ++t) a += std::fabs(win.wd[o * win.taps + t]);
        abs_sum = std::max(abs_sum, a);
    }
    const double bound = (maxval + 1.0) * abs_sum * std::ldexp(1.0, frac_bits);
    return bound < std::ldexp(1.0, 24);
}

// Rounds the raw sums `v` (n values) as the reference does. Values within
// `band` of a .5 tie, where float and double may round apart, are summed
// again in double by `exact(i)`: so the intermediate and the output match the
// reference's even at ties (weights such as 0.3/0.7 make exact ties common).
template <class Exact>
void round_like_reference(const resize_rows::Kernels& k, float* v, int64_t n, float maxval,
                          float band, int64_t* ties, const Exact& exact,
                          uint8_t* out8 = nullptr) {
    const int64_t count = k.round_ties(v, n, maxval, band, ties, out8);
    for (int64_t j = 0; j < count; ++j) {
        const double r = std::round(exact(ties[j]));  // half away from zero, as the reference
        const double cl = std::min(std::max(r, 0.0), static_cast<double>(maxval));
        if (out8) out8[ties[j]] = static_cast<uint8_t>(cl);
        else v[ties[j]] = static_cast<float>(cl);
    }
}

resize_rows::Kernels pick_kernels(Isa isa) {
#if defined(SR_NATIVE_X86)
    if (isa == Isa::avx512) return resize_rows::avx512_kernels();
    if (isa == Isa::avx2) return resize_rows::avx2_kernels();
#endif
    return resize_rows::generic_kernels();
}

template <class T> struct Traits;
template <> struct Traits<uint8_t> { static constexpr float maxval = 255.0f; };
template <> struct Traits<uint16_t> { static constexpr float maxval = 65535.0f; };
template <> struct Traits<float> { static constexpr float maxval = 0.0f; };  // no rounding

template <class T>
void vert(const resize_rows::Kernels& k, const T* const* rows, const float* w, int taps,
          int64_t n, float maxval, float* out) {
    if constexpr (std::is_same_v<T, uint8_t>) k.vert_u8(rows, w, taps, n, maxval, out);
    else if constexpr (std::is_same_v<T, uint16_t>) k.vert_u16(rows, w, taps, n, maxval, out);
    else k.vert_f32(rows, w, taps, n, maxval, out);
}

// Float row (already rounded and clamped for integers) -> T.
template <class T>
void store_row(const float* src, T* dst, int64_t n) {
    if constexpr (std::is_same_v<T, float>) std::memcpy(dst, src, n * sizeof(float));
    else for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(src[i]);
}

template <class T>
void resize_typed(const T* x, T* y, const ResizeShape& s, ResizeMethod method, bool antialias) {
    const Isa isa = active_isa();
    resize_rows::Kernels k = pick_kernels(isa);
    const Window wv = make_window(s.in_h, s.out_h, s.scale_h, method, antialias);
    Window wh = make_window(s.in_w, s.out_w, s.scale_w, method, antialias);
    if (isa == Isa::avx512) {
        make_groups(wh, s.out_w, s.c);
        if (has_avx512_vbmi()) make_phases(wh, s.in_w, s.out_w, s.c, false);
#if defined(SR_NATIVE_X86)
        // Shrinking spreads a group's 16 values over more than 32 input
        // values (done one by one); the AVX2 pair kernels handle any spread.
        int64_t spread = 0;
        for (int32_t q : wh.gpat) spread += wh.pmode[q] == 2;
        if (spread * 4 > static_cast<int64_t>(wh.gpat.size())) {
            const resize_rows::Kernels k2 = resize_rows::avx2_kernels();
            k.horz_f32 = k2.horz_f32;
            k.horz_u8 = k2.horz_u8;
        }
#endif
    } else if (isa == Isa::avx2) {
        make_phases(wh, s.in_w, s.out_w, s.c, true);
    }
    const resize_rows::HorzPlan hp = wh.horz_plan(s.out_w, static_cast<int>(s.c));
    const int64_t c = s.c, in_row = s.in_w * c, out_row = s.out_w * c;
    const float maxval = Traits<T>::maxval;
    // Dynamic chunks of rows: on a busy machine a static split waits for the
    // slowest thread.
    const bool parallel = s.out_h * out_row > 32768;

    // Float sums that are exact need no tie check (x2, x3, x4 enlargements:
    // dyadic weights); the others are rounded by round_like_reference.
    const bool exact_v = maxval == 0.0f || float_sums_exact(wv, maxval);
    const bool exact_h = maxval == 0.0f || float_sums_exact(wh, maxval);
    // Far above the float error of a sum (maxval * taps * ~2^-23).
    const float band_v = maxval * static_cast<float>(wv.taps) * 0x1p-21f;
    const float band_h = maxval * static_cast<float>(wh.taps) * 0x1p-21f;

    // Horizontal pass of one float row -> output row (or rounded floats in
    // fbuf when dst is null).
    auto horz_row = [&](const float* buf, float* fbuf, T* dst, int64_t* ties) {
        if (exact_h) {
            if constexpr (std::is_same_v<T, uint8_t>) {
                if (dst) return k.horz_u8(buf, hp, dst);
            }
            k.horz_f32(buf, hp, maxval, fbuf);
        } else {
            k.horz_f32(buf, hp, 0.0f, fbuf);
            // Ties are re-summed with the reference's own taps, in its order
            // (mirrored taps unmerged), so they round exactly as it does.
            const ResizeTaps& tr = wh.taps_ref;
            uint8_t* out8 = nullptr;  // uint8 output: rounded straight into dst
            if constexpr (std::is_same_v<T, uint8_t>) out8 = dst;
            round_like_reference(k, fbuf, out_row, maxval, band_h, ties, [&](int64_t e) {
                const int64_t o = e / c, ch = e % c;
                double acc = 0.0;
                for (int t = 0; t < tr.taps; ++t)
                    acc += tr.weight[o * tr.taps + t] *
                           static_cast<double>(buf[tr.index[o * tr.taps + t] * c + ch]);
                return acc;
            }, out8);
            if (out8) return;
        }
        if (dst) store_row(fbuf, dst, out_row);
    };

    // Vertical pass for output row oy over the rows of `src` (row stride
    // `stride` values, input type T or float) -> buf, n values, rounded.
    auto vert_rows = [&](const auto* src, int64_t stride, int64_t oy, int64_t n, float* buf,
                         int64_t* ties, auto* rows) {
        for (int t = 0; t < wv.taps; ++t) rows[t] = src + (wv.first[oy] + t) * stride;
        const float* wo = &wv.w[oy * wv.taps];
        if (exact_v) return vert(k, rows, wo, wv.taps, n, maxval, buf);
        vert(k, rows, wo, wv.taps, n, 0.0f, buf);
        const ResizeTaps& tr = wv.taps_ref;  // ties: the reference's taps and order
        const int64_t* idx = &tr.index[oy * tr.taps];
        const double* wt = &tr.weight[oy * tr.taps];
        round_like_reference(k, buf, n, maxval, band_v, ties, [&](int64_t i) {
            double acc = 0.0;
            for (int t = 0; t < tr.taps; ++t) acc += wt[t] * static_cast<double>(src[idx[t] * stride + i]);
            return acc;
        });
    };

    if (!(s.scale_w < s.scale_h)) {
        // Rows first, fused per output row. (Converting each integer input
        // row to float once, in a ring of rows, was slower: the float rows
        // fall out of L1 where the uint8 rows stay.)
#pragma omp parallel num_threads(get_num_threads()) if (parallel)
        {
            std::vector<float> buf(static_cast<size_t>(in_row + kSlack), 0.0f);
            std::vector<float> fbuf(static_cast<size_t>(out_row + kSlack), 0.0f);
            std::vector<const T*> rows(wv.taps);
            std::vector<int64_t> ties(static_cast<size_t>(std::max(in_row, out_row)));
#pragma omp for schedule(dynamic, 4)
            for (int64_t oy = 0; oy < s.out_h; ++oy) {
                vert_rows(x, in_row, oy, in_row, buf.data(), ties.data(), rows.data());
                horz_row(buf.data(), fbuf.data(), y + oy * out_row, ties.data());
            }
        }
        return;
    }
    // Columns first, through a float intermediate image (integer-valued for
    // integer types, as MATLAB's intermediate of the input class).
    std::vector<float> mid(static_cast<size_t>(s.in_h * out_row + kSlack), 0.0f);
#pragma omp parallel num_threads(get_num_threads()) if (parallel)
    {
        std::vector<float> buf(static_cast<size_t>(std::max(in_row, out_row) + kSlack), 0.0f);
        std::vector<float> fbuf(static_cast<size_t>(out_row + kSlack), 0.0f);
        std::vector<int64_t> ties(static_cast<size_t>(std::max(in_row, out_row)));
        const float one = 1.0f;
#pragma omp for schedule(dynamic, 4)
        for (int64_t iy = 0; iy < s.in_h; ++iy) {
            const T* row = x + iy * in_row;
            vert(k, &row, &one, 1, in_row, 0.0f, buf.data());  // T -> float
            horz_row(buf.data(), fbuf.data(), nullptr, ties.data());
            std::memcpy(&mid[iy * out_row], fbuf.data(), out_row * sizeof(float));
        }
        std::vector<const float*> rows(wv.taps);
#pragma omp for schedule(dynamic, 4)
        for (int64_t oy = 0; oy < s.out_h; ++oy) {
            vert_rows(mid.data(), out_row, oy, out_row, buf.data(), ties.data(), rows.data());
            store_row(buf.data(), y + oy * out_row, out_row);
        }
    }
}

}  // namespace

void resize(const void* x, void* y, ResizeDtype dtype, const ResizeShape& s, ResizeMethod method,
            bool antialias) {
    switch (dtype) {
        case ResizeDtype::u8:
            return resize_typed(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), s,
                                method, antialias);
        case ResizeDtype::u16:
            return resize_typed(static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), s,
                                method, antialias);
        case ResizeDtype::f32:
        {
            // The windows hold zero-weight taps (padding, kernel zeros), and
            // 0 * NaN = NaN would carry a NaN or infinity to outputs that do
            // not take it (resize.h's rule); such rare images take the
            // reference kernel, which skips zero weights. The smaller of
            // input and output is scanned: the fast kernel reaches a superset
            // of the outputs the rule reaches (it multiplies every tap the
            // reference does), so a finite fast result means a finite input
            // as far as the rule can tell.
            const auto* xf = static_cast<const float*>(x);
            auto* yf = static_cast<float*>(y);
            const int64_t in_n = s.in_h * s.in_w * s.c, out_n = s.out_h * s.out_w * s.c;
            if (out_n < in_n) {
                resize_typed(xf, yf, s, method, antialias);
                if (!all_finite_threads(yf, out_n, get_num_threads())) ref::resize(x, y, dtype, s, method, antialias);
                return;
            }
            if (!all_finite_threads(xf, in_n, get_num_threads())) return ref::resize(x, y, dtype, s, method, antialias);
            return resize_typed(xf, yf, s, method, antialias);
        }
    }
}

// ---------------------------------------------------- generic row kernels
namespace resize_rows {
namespace {

inline float finish(float v, float maxval) {
    if (maxval > 0.0f) v = std::floor(std::min(std::max(v, 0.0f), maxval) + 0.5f);
    return v;
}

template <class T>
void vert_generic(const T* const* rows, const float* w, int taps, int64_t n, float maxval,
                  float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = 0.0f;
    for (int t = 0; t < taps; ++t) {  // row by row: contiguous, vectorisable
        const T* r = rows[t];
        const float wt = w[t];
        for (int64_t i = 0; i < n; ++i) out[i] += wt * static_cast<float>(r[i]);
    }
    if (maxval > 0.0f)
        for (int64_t i = 0; i < n; ++i) out[i] = finish(out[i], maxval);
}

void vert_u8(const uint8_t* const* r, const float* w, int t, int64_t n, float m, float* o) {
    vert_generic(r, w, t, n, m, o);
}
void vert_u16(const uint16_t* const* r, const float* w, int t, int64_t n, float m, float* o) {
    vert_generic(r, w, t, n, m, o);
}
void vert_f32(const float* const* r, const float* w, int t, int64_t n, float m, float* o) {
    vert_generic(r, w, t, n, m, o);
}

// Channel count as a template parameter (C > 0) lets the compiler keep the
// per-pixel channel sums in registers; C == 0 is any count.
template <int C, class Out>
void horz_generic(const float* row, const HorzPlan& p, float maxval, Out* out) {
    const int c = C > 0 ? C : p.c, taps = p.taps;
    for (int64_t o = 0; o < p.out_w; ++o) {
        const float* src = row + p.first[o] * c;
        const float* wo = p.w + o * taps;
        if constexpr (C > 0) {
            float acc[C] = {};
            for (int t = 0; t < taps; ++t)
                for (int ch = 0; ch < C; ++ch) acc[ch] += wo[t] * src[t * C + ch];
            for (int ch = 0; ch < C; ++ch) out[o * C + ch] = static_cast<Out>(finish(acc[ch], maxval));
        } else {
            for (int ch = 0; ch < c; ++ch) {
                float acc = 0.0f;
                for (int t = 0; t < taps; ++t) acc += wo[t] * src[t * c + ch];
                out[o * c + ch] = static_cast<Out>(finish(acc, maxval));
            }
        }
    }
}

template <class Out>
void horz_any(const float* row, const HorzPlan& p, float maxval, Out* out) {
    switch (p.c) {
        case 1: return horz_generic<1>(row, p, maxval, out);
        case 3: return horz_generic<3>(row, p, maxval, out);
        case 4: return horz_generic<4>(row, p, maxval, out);
        default: return horz_generic<0>(row, p, maxval, out);
    }
}

void horz_f32(const float* row, const HorzPlan& p, float maxval, float* out) {
    horz_any(row, p, maxval, out);
}

void horz_u8(const float* row, const HorzPlan& p, uint8_t* out) {
    horz_any(row, p, 255.0f, out);
}

int64_t round_ties(float* v, int64_t n, float maxval, float band, int64_t* ties, uint8_t* out8) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float x = v[i] + 0.5f, f = std::floor(x), d = x - f;
        if (d < band || d > 1.0f - band) ties[count++] = i;
        const float r = std::min(std::max(f, 0.0f), maxval);
        if (out8) out8[i] = static_cast<uint8_t>(r);
        else v[i] = r;
    }
    return count;
}

}  // namespace

Kernels generic_kernels() { return {vert_u8, vert_u16, vert_f32, horz_f32, horz_u8, round_ties}; }

}  // namespace resize_rows
}  // namespace sr_native
