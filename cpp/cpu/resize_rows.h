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
constexpr int kRowSlack = 128;

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
    // Polyphase form for an integer enlargement r = out_w / in_w (AVX-512,
    // uint8 output; r == 0: not used). For input pixels j0 <= j < j1 every
    // output pixel r*j + k has window first = j + ph_off[k] and weights
    // ph_w[k*taps ..], so phase k is a plain 1-D convolution of the row with
    // shift ph_off[k]*c: no gather. Chunks of ph_m input pixels give r*c*ph_m
    // <= 64 output bytes, interleaved from the r phases by r - 1 two-source
    // byte permutations ph_perm[(k-1)*64 ..] (k = 1 .. r-1). Pixels outside
    // [r*j0, r*j1) go through the general path.
    int ph_r;
    int ph_m;
    int64_t ph_j0, ph_j1;
    const int32_t* ph_off;
    const float* ph_w;
    const uint8_t* ph_perm;
    // The AVX2 form of the same (no byte permute across registers): chunks of
    // ph_m input pixels give ph_pieces * 16 output bytes; piece i is the OR
    // over phases k of pshufb(16 bytes of phase k's chunk bytes at offset
    // ph_poff[i*r + k], mask ph_pshuf[(i*r + k)*16 ..]) (mask bytes 0x80 give 0).
    int ph_pieces;
    const int32_t* ph_poff;
    const uint8_t* ph_pshuf;
};

using HorzF32 = void (*)(const float* row, const HorzPlan& p, float maxval, float* out);
// Same, rounded and clamped to [0, 255] into uint8.
using HorzU8 = void (*)(const float* row, const HorzPlan& p, uint8_t* out);

// Rounds raw sums as the reference does (half up, clamped to [0, maxval]):
// in place, or, when out8 is not null (maxval 255), into bytes out8[0, n)
// leaving v as it was. Lists the values within `band` of a .5 tie, where
// float and double may round apart, in ties[] (room for n); returns how many.
// The caller re-sums those in double.
using RoundTies = int64_t (*)(float* v, int64_t n, float maxval, float band, int64_t* ties,
                              uint8_t* out8);

struct Kernels {
    VertU8 vert_u8;
    VertU16 vert_u16;
    VertF32 vert_f32;
    HorzF32 horz_f32;
    HorzU8 horz_u8;
    RoundTies round_ties;
};

Kernels generic_kernels();
#if defined(SR_NATIVE_X86)
Kernels avx2_kernels();
Kernels avx512_kernels();
#endif

}  // namespace sr_native::resize_rows
