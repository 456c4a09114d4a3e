// Image resizing with MATLAB imresize's algorithm (and Pillow's filters).
//
// Contract:
//  - Image layout HxWxC, interleaved, C-contiguous, any C >= 1 (HxW is C = 1).
//    Input in_h x in_w x c, output out_h x out_w x c, same dtype: uint8,
//    uint16 or float32. The kernels never validate (the binding did).
//  - Separable: one 1-D pass per axis. Per axis, output pixel x (1-based) maps
//    to input position u = x/scale + 0.5*(1 - 1/scale) (pixel centres line up;
//    Pillow's (i + 0.5)/scale - 0.5 in 0-based terms is the same mapping).
//    `scale` is out/in per axis, or the scale factor the caller gave.
//  - Filters (method): nearest (box of width 1, never antialiased), bilinear
//    (triangle), bicubic (Keys with a = -0.5, the MATLAB imresize / Pillow
//    convention; PyTorch and OpenCV use a = -0.75), lanczos3, area (box,
//    antialiased: averaging when shrinking).
//  - Antialiasing when shrinking (scale < 1 and antialias): the kernel becomes
//    h(scale*d)*scale and its support widens by 1/scale.
//  - Taps per output pixel: left = floor(u - support/2), P = ceil(support) + 2
//    taps; weights normalised to sum 1; taps outside the image are mirrored
//    (symmetric: edge pixel repeated) and merged; zero-weight taps dropped.
//  - Pass order (MATLAB's): the axis with the smaller scale first; equal
//    scales: rows (height) first. Integer dtypes round the intermediate image
//    to the input dtype between the passes, as MATLAB does (its per-axis
//    resize returns the input class). Integers are rounded half away from zero
//    and clamped to the dtype range; float32 is neither rounded nor clamped.
//  - NaN and infinity (float32; fast and reference agree bit for bit): an
//    input value reaches exactly the outputs that have it as a tap of
//    non-zero weight (per pass; the first pass's outputs are the second's
//    inputs). Zero-weight taps are skipped, never multiplied (0 * NaN).
//    The fast kernel runs images holding a non-finite value through the
//    reference (its windows carry zero weights).
#pragma once

#include <cstdint>
#include <vector>

namespace sr_native {

enum class ResizeMethod { nearest = 0, bilinear = 1, bicubic = 2, lanczos3 = 3, area = 4 };
enum class ResizeDtype { u8 = 0, u16 = 1, f32 = 2 };

struct ResizeShape {
    int64_t in_h, in_w, c;    // input
    int64_t out_h, out_w;     // output
    double scale_h, scale_w;  // > 0, finite: out/in or the caller's factor
};

// The taps of one axis: output pixel o reads input index[o*taps + t] with
// weight[o*taps + t], t < taps (taps is the widest row; shorter rows are padded
// with weight 0 at a valid index). Indices are 0-based and in range.
struct ResizeTaps {
    int64_t out_len = 0;
    int taps = 0;
    std::vector<int64_t> index;
    std::vector<double> weight;
};

// Fast: the same taps as windows (first index + float weights per output
// pixel), separable passes in MATLAB's order with the same integer rounding of
// the intermediate, float accumulation, SIMD row kernels chosen by
// active_isa(), OpenMP over output rows (cpp/cpu/resize*.cpp). Agrees with the
// reference within 1e-5 relative for float32. For integers, sums within float
// error of a .5 tie are redone in double with the reference's own taps (unless
// the float sums are provably exact, as for x2/x3/x4 enlargement weights), so
// the results equal the reference's: a fuzz run over random shapes, scales,
// methods and ISAs found 13 values in 1.7e9 one level apart, none more.
// Precondition (checked by the binding): at most 2^22 taps per output pixel,
// i.e. antialiased scale >= support / 2^22.
void resize(const void* x, void* y, ResizeDtype dtype, const ResizeShape& s, ResizeMethod method,
            bool antialias);

namespace ref {
// The taps of one axis, straight from MATLAB's contributions() (double).
ResizeTaps resize_taps(int64_t in_len, int64_t out_len, double scale, ResizeMethod method,
                       bool antialias);
// Plain reference: double accumulation, pass by pass.
void resize(const void* x, void* y, ResizeDtype dtype, const ResizeShape& s, ResizeMethod method,
            bool antialias);
}  // namespace ref

}  // namespace sr_native
