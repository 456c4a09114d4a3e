// Internal interface between the Winograd conv2d driver (conv2d_winograd.cpp:
// weight transform, tile gather, blocking, threading; baseline code) and its
// per-ISA bodies (conv2d_winograd_{generic,avx2,avx512}.cpp, all built from
// conv2d_winograd_body.h). F(4x4, 3x3): each 6x6 input tile d gives a 4x4
// output tile Y = A^T [ (G g G^T) .* (B^T d B) ] A; summed over input
// channels, the elementwise product becomes, per transform position, a GEMM
// M[pos][o][tile] = sum_c U[pos][o][c] V[pos][c][tile].
//
// A block is `ntp` tiles (a multiple of vecs * lanes); vectors run along the
// tiles, so every transform and the GEMM load whole vectors with no shuffles.
#pragma once

#include <cstdint>

#include "sr_native/kernels.h"

namespace sr_native::conv2d_detail {

constexpr int kWinoM = 4;                       // output tile side
constexpr int kWinoA = 6;                       // input tile side (m + 3 - 1)
constexpr int kWinoPos = kWinoA * kWinoA;       // transform positions
constexpr int kWinoOut = kWinoM * kWinoM;       // outputs per tile

// G (6x3) for the points 0, 1, -1, 2, -2, inf: U = G g G^T for the forward,
// dg = G^T dU G for the weight gradient (both applied in double).
constexpr double kWinoG[6][3] = {
    {1.0 / 4, 0.0, 0.0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0.0, 0.0, 1.0},
};

// Input transform of one channel of a block -> v + pos * v_pos_stride + t,
// V = B^T d B. Vectors of `lanes` tiles side by side in one tile row
// (in_fast, only when WinoKernels::fast_input) read their patches straight
// from channel c of image n: x + in_img[k] (x is channel c of image 0,
// in_img[k] = n * C * H * W) with H x W planes, input rows from in_row[k],
// columns from in_col[k], either possibly outside the image (zeros there). The others
// read d [36][ntp], the patches gathered by the driver (position i*6+j).
struct WinoInputArgs {
    const float* d;
    int64_t ntp, nt;
    float* v;
    int64_t v_pos_stride;
    const float* x;
    int64_t h, w;
    int64_t plane;  // floats between x's channel planes (h * w, or more for a band's view)
    const unsigned char* in_fast;
    const int64_t* in_img;
    const int64_t* in_row;
    const int64_t* in_col;
    bool* nonfinite;  // set when a transformed value is NaN or infinite (else untouched)
};

// Tiles [nt, ntp) of a block are padding: vectors past the last real tile
// are never transformed or multiplied.
// GEMM + output transform + epilogue of one block for output-channel blocks
// [ob0, ob1) of size r_max (the last one may be shorter: O % r_max).
//  u      transformed weights, [pos][O*C]; within a position, block b
//         (channels o0 = b * r_max ..) is [c][r] with r its size.
//  v      [pos][c][ntp] (v_pos_stride = C * ntp).
//  m      scratch, kWinoPos * r_max * ntp floats; out scratch, 16 * lanes.
//  tiles  nt real tiles (the rest of ntp is padding): y offset of the tile's
//         top-left for output channel 0, and how many of its rows / columns
//         lie inside the image (1..4).
//  vec_fast  per vector of `lanes` tiles: all whole (4x4 inside the image)
//         and side by side in one tile row, so their output rows are
//         contiguous pixels.
// Epilogue as Conv2dEpilogue; y and residual are whole tensors (offsets
// above include the image), consecutive channels y_cstride apart.
struct WinoBlockArgs {
    const float* u;
    int64_t o, c;
    const float* v;
    int64_t ntp, nt;
    int64_t ob0, ob1;
    float* m;
    float* out;
    const int64_t* tile_off;
    const unsigned char* tile_rows;
    const unsigned char* tile_cols;
    const unsigned char* vec_fast;
    int64_t y_cstride, y_rowstride;
    int64_t y_img;  // floats between y's images (O * y_cstride)
    int64_t r_cstride, r_imgdiff;  // residual: channel stride; offset from y's per image (n * O * (r - y plane))
    const float* bias;
    const float* residual;  // may alias y
    float* y;
    float res_scale;
    bool relu;
};

// Weight-gradient transforms (conv2d_backward_winograd.cpp), on
// channels-last copies: tile t's top-left pixel is src + tile_off[t], pixels
// `cstride` floats apart (the channels, padded), rows `row_stride` apart.
// Results go to dst + pos * pos_stride + t * cstride + c, vectors along the
// channels. cstride >= lanes; when it is not a multiple of lanes, the last
// vector overlaps the one before it (the shared channels are written twice,
// with the same values).
//   dw_input: 6x6 input patch d -> B^T d B (as the forward's V)
//   dw_grad:  4x4 tile of dy     -> A dy A^T (the adjoint of the output transform)
struct WinoDwTransformArgs {
    const float* src;
    const int64_t* tile_off;
    int64_t nt, row_stride, cstride;
    float* dst;
    int64_t pos_stride;
};

// One image row of `c` channel planes, copied pixel-major:
// dst[iw * cstride + ch] = src[ch * plane + iw] for ch < c, iw < w (the
// rest of dst is left alone).
struct ChannelsLastRowArgs {
    const float* src;
    int64_t c, plane, w;
    float* dst;
    int64_t cstride;
};

struct WinoKernels {
    int lanes;  // floats per vector
    int vecs;   // vectors of tiles per GEMM register tile (ntp % (vecs * lanes) == 0)
    int r_max;  // output channels per GEMM register tile
    bool fast_input;  // input() reads side-by-side tiles straight from x
    void (*input)(const WinoInputArgs&);
    void (*block)(const WinoBlockArgs&);
    void (*dw_input)(const WinoDwTransformArgs&);
    void (*dw_grad)(const WinoDwTransformArgs&);
    void (*channels_last_row)(const ChannelsLastRowArgs&);
};

WinoKernels wino_kernels_generic();
#if defined(SR_NATIVE_X86)
WinoKernels wino_kernels_avx2();
WinoKernels wino_kernels_avx512();
#endif

// The kernels for active_isa().
WinoKernels wino_active_kernels();

// Whether conv2d (forward, dx and dw) takes the Winograd path for this shape:
// K == 3 and, under ConvAlgo::auto_, enough channels and tiles to pay for
// the transforms (see conv2d.cpp).
bool use_winograd(const Conv2dShape& s);

// The Winograd forward (K == 3 only); same contract as conv2d_forward.
void conv2d_forward_winograd(const float* x, const float* w, float* y, const Conv2dShape& s,
                             const Conv2dEpilogue& e, const Conv2dRows& rows);

// dw += the weight gradient of a 3x3 convolution through F(4x4, 3x3)
// (conv2d_backward_winograd.cpp).
void conv2d_backward_dw_winograd(const float* x, const float* dy, float* dw,
                                 const Conv2dShape& s);

}  // namespace sr_native::conv2d_detail
