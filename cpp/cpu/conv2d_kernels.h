// Internal interface between the conv2d drivers (conv2d.cpp,
// conv2d_backward.cpp: packing, padding, threading, all baseline code) and the
// per-ISA microkernels (conv2d_generic.cpp, conv2d_avx2.cpp, conv2d_avx512.cpp,
// all built from conv2d_body.h). Microkernels never allocate; they read and
// write plain pointers laid out as described here.
#pragma once

#include <cstdint>
#include <vector>

#include "sr_native/kernels.h"

namespace sr_native::conv2d_detail {

// Forward: one block of r output channels over one output row.
//  xbuf   zero-padded input rows, [c][plane]: channel c's rows sit at
//         xbuf + c * plane; column j holds input column j - P, with zeros
//         outside the image and enough on the right for whole vectors, so the
//         tile loop never tests borders.
//  taps   K*K offsets into one channel of xbuf: where tap (kh, kw) of output
//         column 0 reads (the driver keeps rows in a ring, so these change
//         from row to row).
//  wpack  [c][K*K][r]: the r weights one input value multiplies, adjacent.
//  y, residual point at (n, o0, oh, 0); consecutive channels are y_cstride apart.
struct FwdBlockArgs {
    const float* xbuf;
    int64_t c, plane;
    const int64_t* taps;
    int64_t ntaps;
    int64_t w;
    const float* wpack;
    int r;
    const float* bias;      // r values, or null
    const float* residual;  // or null; may alias y
    float* y;
    int64_t y_cstride;
    int64_t r_cstride;  // residual's channel stride (y_cstride unless a band's views differ)
    float res_scale;
    bool relu;
};

// Weight gradient: one (ro output channels) x (rj taps) tile over one chunk
// of rows of the batch (row index n * h + oh, in [row0, row1)). A tap j is one
// (c, kh, kw) of the flattened weight row; its values for output pixel
// (oh, ow) sit at
//   xpad + n * x_nstride + j_off[j] + oh * wp + ow.
// dy's are at dypad + n * dy_nstride + o_off[i] + oh * wt + ow, rows padded
// with zeros to wt (a multiple of 16) so whole vectors can be loaded.
// Running sums are carried between chunks as float vectors in `partial`
// (ro * rj * lanes floats; not read when `first`); when `fold`, their lanes
// are added into the doubles `sums` (ro * rj, row-major [ro][rj]) instead,
// so float sums never run over more than a few thousand terms.
struct DwTileArgs {
    const float* dypad;
    const float* xpad;
    int64_t h, wt, wp, dy_nstride, x_nstride;
    int64_t row0, row1;
    const int64_t* o_off;  // ro entries
    const int64_t* j_off;  // rj entries
    float* partial;
    double* sums;
    bool first, fold;
};

// Weight gradient, channels-last form (used when O fills most vector lanes):
// dy and x repacked pixel-major, dyt [n][h][w][opad] and
// xt [n][h + 2P][w + 2P][cpad], both zero-padded. A tile is (ovec vectors of
// output channels from o0) x (rc consecutive input channels from c0 at one
// tap (kh, kw)): per pixel it loads ovec dy vectors and broadcasts rc input
// values at fixed offsets, so it needs no per-tap pointers.
//   x_off = kh * x_rowstride + kw * cpad + c0.
// A chunk here is a range [p0, p1) of pixels p = (n * h + oh) * w + ow, small
// enough that its dy vectors stay in L1 while every tile runs over it.
// partial and fold as for DwTileArgs; sums are [rc][ovec * lanes].
struct DwtTileArgs {
    const float* dyt;
    const float* xt;
    int64_t h, w, opad, cpad, x_rowstride, x_nstride;
    int64_t p0, p1;
    int64_t o0, x_off;
    float* partial;
    double* sums;
    bool first, fold;
};

// The microkernels of one instruction set and the tile sizes the drivers must
// use with them.
constexpr int kMaxFwdR = 8;
constexpr int kDwtShapes = 3;

struct ConvKernels {
    int lanes;     // floats per vector
    int fwd_rmax;  // largest block the forward handles (args.r <= fwd_rmax)
    // fwd_vmax[r]: vectors per row tile for a block of r channels (index 1..fwd_rmax)
    int fwd_vmax[kMaxFwdR + 1];
    void (*fwd_block)(const FwdBlockArgs&);
    int dw_ro, dw_rj;  // exact tile shape of dw_tile
    void (*dw_tile)(const DwTileArgs&);
    // channels-last dw tiles to choose from: ov vectors of output channels x
    // rc input channels each.
    int dwt_ov[kDwtShapes], dwt_rc[kDwtShapes];
    void (*dwt_tile[kDwtShapes])(const DwtTileArgs&);
};

// Largest dw tile any ISA uses (the driver's stack buffers).
constexpr int kMaxDwTile = 8;

ConvKernels conv2d_kernels_generic();
#if defined(SR_NATIVE_X86)
// Only call these when active_isa() says the CPU has that ISA: they are
// compiled with its flags.
ConvKernels conv2d_kernels_avx2();
ConvKernels conv2d_kernels_avx512();
#endif

// The kernels for active_isa().
ConvKernels conv2d_active_kernels();

// Forward block size for O output channels over rows of w pixels, C*K*K
// steps per tile (a small cost model), and the weights packed for it:
// [block][c][tap][r] (conv2d.cpp).
int choose_block(const ConvKernels& k, int64_t o, int64_t w, int64_t ckk);
std::vector<float> pack_weights(const float* w, int64_t O, int64_t C, int64_t KK, int R);

// Runs fwd_block for the output channels [o_begin, o_end) (multiples of R
// but the last) over the row or pixel span that `a` describes (xbuf, c,
// plane, taps, ntaps, w). y and e.residual point at output channel 0 of that
// row; channel o is o * y_cstride further. Bias and ReLU from e.
void forward_blocks(const ConvKernels& kr, FwdBlockArgs a, const float* wpack, int R, int64_t ckk,
                    int64_t o_begin, int64_t o_end, const Conv2dEpilogue& e, float* y, int64_t y_cstride,
                    int64_t r_cstride = -1);  // -1: y_cstride

// The channels-last dw tile (index into dwt_ov / dwt_rc / dwt_tile) that pads
// O and C least, and its rough cost in cycles per pixel (conv2d_backward.cpp).
int pick_dwt_tile(const ConvKernels& kr, int64_t o, int64_t c);
double dwt_tile_cost(const ConvKernels& kr, int i, int64_t o, int64_t c);

// Threads for a convolution of this many multiply-adds: below ~1M, forking
// and joining costs more than it saves (and spinning threads hurt a busy machine).
int conv2d_threads(int64_t macs);

}  // namespace sr_native::conv2d_detail
