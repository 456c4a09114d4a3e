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
// rounded and clamped as above when maxval > 0. `row` has 4 floats of
// readable slack past its end and `out` (float version) 4 floats of writable
// slack. `wpair` holds the weights of output pairs (2q, 2q+1) interleaved for
// 2 x 4 lanes: wpair[(q*taps + t)*8 + j*4 + lane] = w[(2q+j)*taps + t]
// (an odd last pixel pairs with weight 0).
using HorzF32 = void (*)(const float* row, const int64_t* first, const float* w,
                         const float* wpair, int taps, int64_t out_w, int c, float maxval,
                         float* out);
// Same, rounded and clamped to [0, 255] into uint8.
using HorzU8 = void (*)(const float* row, const int64_t* first, const float* w,
                        const float* wpair, int taps, int64_t out_w, int c, uint8_t* out);

struct Kernels {
    VertU8 vert_u8;
    VertU16 vert_u16;
    VertF32 vert_f32;
    HorzF32 horz_f32;
    HorzU8 horz_u8;
};

Kernels generic_kernels();
#if defined(SR_NATIVE_X86)
Kernels avx2_kernels();  // also used when AVX-512 is active
#endif

}  // namespace sr_native::resize_rows
