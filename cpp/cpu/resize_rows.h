// Row kernels of the fast resize, one set per instruction set. Internal to
// cpp/cpu/resize*.cpp. Plain pointers only: these headers are included by
// files compiled with different ISA flags, so nothing here may be an inline
// function or a template (ODR: the linker could keep the AVX copy).
#pragma once

#include <cstdint>

namespace sr_native::resize_rows {

// Vertical: out[i] = sum_t w[t] * rows[t][i] for i < n, in float. If
// maxval > 0 the sum is clamped to [0, maxval] and rounded half up (the
// integer intermediate MATLAB keeps); maxval == 0 leaves it as is.
using VertU8 = void (*)(const uint8_t* const* rows, const float* w, int taps, int64_t n,
                        float maxval, float* out);
using VertU16 = void (*)(const uint16_t* const* rows, const float* w, int taps, int64_t n,
                         float maxval, float* out);
using VertF32 = void (*)(const float* const* rows, const float* w, int taps, int64_t n,
                         float maxval, float* out);

// Horizontal on one interleaved row of c channels:
//   out[o*c + ch] = sum_t w[o*taps + t] * row[(first[o] + t)*c + ch], o < out_w,
// rounded and clamped as above when maxval > 0. `row` has kRowSlack floats of
// readable slack past its end and `out` (float version) as many writable.
constexpr int kRowSlack = 64;

struct HorzPlan {
    int taps;
    int c;
    int64_t out_w;
    const int64_t* first;  // out_w
    const float* w;        // out_w * taps
    // Pairs of output pixels (2q, 2q+1), weights interleaved for 2 x 4 lanes:
    // wpair[(q*taps + t)*8 + j*4 + lane] = w[(2q+j)*taps + t] (an odd last
    // pixel pairs with weight 0). Used by the AVX2 body for c = 3, 4.
    const float* wpair;
    // Groups of 16 consecutive output values (pixel-channel pairs) for the
    // AVX-512 body; groups == 0 unless AVX-512 is active. Value l of group g
    // reads row[gbase[g] + pidx[q*16 + l] + t*c] with weight
    // pw[(q*taps + t)*16 + l], q = gpat[g]. Groups share patterns q (indices
    // relative to gbase, weights, mode), so for rational scales the weights
    // read per row are a few KiB that stay in L1. pmode[q] is 0 if every
    // index < 16, 1 if < 32, else 2 (done value by value from first/w).
    // Padding lanes of the last group have index 0 and weight 0.
    int64_t groups;
    const int64_t* gbase;
    const int32_t* gpat;
    const int32_t* pidx;
    const uint8_t* pmode;
    const float* pw;
};

using HorzF32 = void (*)(const float* row, const HorzPlan& p, float maxval, float* out);
// Same, rounded and clamped to [0, 255] into uint8.
using HorzU8 = void (*)(const float* row, const HorzPlan& p, uint8_t* out);

struct Kernels {
    VertU8 vert_u8;
    VertU16 vert_u16;
    VertF32 vert_f32;
    HorzF32 horz_f32;
    HorzU8 horz_u8;
};

Kernels generic_kernels();
#if defined(SR_NATIVE_X86)
Kernels avx2_kernels();
Kernels avx512_kernels();
#endif

}  // namespace sr_native::resize_rows
