// Internal interface between the conv2d drivers (conv2d.cpp,
// conv2d_backward.cpp: packing, padding, threading, all baseline code) and the
// per-ISA microkernels (conv2d_generic.cpp, conv2d_avx2.cpp, conv2d_avx512.cpp,
// all built from conv2d_body.h). Microkernels never allocate; they read and
// write plain pointers laid out as described here.
#pragma once

#include <cstdint>

namespace sr_native::conv2d_detail {

// Forward: one block of r output channels over a band of output rows.
//  xbuf   zero-padded input band, [c][rows + K - 1][wp]: row i holds input row
//         oh0 + i - P, column j holds input column j - P (zeros outside the
//         image), so the tile loop never tests borders.
//  taps   K*K offsets kh * wp + kw into one channel of xbuf.
//  wpack  [c][K*K][r]: the r weights one input value multiplies, adjacent.
//  y, residual point at (n, o0, oh0, 0); consecutive channels are y_cstride apart.
struct FwdBlockArgs {
    const float* xbuf;
    int64_t c, plane, wp;
    const int64_t* taps;
    int64_t ntaps;
    int64_t rows, w;
    const float* wpack;
    int r;
    const float* bias;      // r values, or null
    const float* residual;  // or null; may alias y
    float* y;
    int64_t y_cstride;
    float res_scale;
    bool relu;
};

// Weight gradient: one (ro output channels) x (rj taps) tile, summed over
// every pixel of the batch. A tap j is one (c, kh, kw) of the flattened
// weight row; its values for output pixel (oh, ow) sit at
//   xpad + n * x_nstride + j_off[j] + oh * wp + ow.
// dy's are at dypad + n * dy_nstride + o_off[i] + oh * wt + ow, rows padded
// with zeros to wt (a multiple of 16) so whole vectors can be loaded.
struct DwTileArgs {
    const float* dypad;
    const float* xpad;
    int64_t n, h, wt, wp, dy_nstride, x_nstride;
    const int64_t* o_off;  // ro entries
    const int64_t* j_off;  // rj entries
    double* out;           // ro * rj sums, written (row-major [ro][rj])
};

// The microkernels of one instruction set and the tile sizes the drivers must
// use with them.
struct ConvKernels {
    int fwd_r;  // output channels per forward block (args.r <= fwd_r)
    void (*fwd_block)(const FwdBlockArgs&);
    int dw_ro, dw_rj;  // exact tile shape of dw_tile
    void (*dw_tile)(const DwTileArgs&);
};

// Largest dw tile any ISA uses (the driver's stack buffers).
constexpr int kMaxDwTile = 32;

ConvKernels conv2d_kernels_generic();
#if defined(SR_NATIVE_X86)
// Only call these when active_isa() says the CPU has that ISA: they are
// compiled with its flags.
ConvKernels conv2d_kernels_avx2();
ConvKernels conv2d_kernels_avx512();
#endif

// The kernels for active_isa().
ConvKernels conv2d_active_kernels();

}  // namespace sr_native::conv2d_detail
