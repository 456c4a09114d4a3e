// Internal interface between the conv_transpose2d driver
// (conv_transpose2d.cpp: phases, tap lists, threading; baseline code) and its
// per-ISA microkernels (conv_transpose2d_{generic,avx2,avx512}.cpp, built from
// conv_transpose2d_body.h). Microkernels never allocate.
//
// Both the forward and dx are, once split by output phase, ordinary
// correlations whose every tap reads a contiguous row segment: the driver
// lists the taps of one output row, the microkernel sums them.
#pragma once

#include <cstdint>

namespace sr_native::convt_detail {

// One tap of one output row: for output column q it reads row[q + off],
// which exists only for 0 <= q + off < len (outside, the tap adds nothing),
// and multiplies it by w[r] for output channel r.
struct Tap {
    const float* row;
    const float* w;
    int64_t off, len;
};

// out[r * out_rstride + q * out_qstride] = bias[r] (0 when null)
//     + sum over taps of tap.w[r] * tap.row[q + tap.off]   (existing taps only)
// for r in [0, nr), q in [0, nq). Near the row ends a missing tap value is
// read as 0 (adds w * 0): the weights must be finite.
struct RowArgs {
    const Tap* taps;
    int64_t ntaps;
    int64_t nr;
    const float* bias;
    float* out;
    int64_t out_rstride, out_qstride, nq;
};

constexpr int kMaxDwCb = 3;

struct ConvTKernels {
    int lanes;  // floats per vector
    int dw_cb;  // most input channels dw_rows_padded takes at once (<= kMaxDwCb)
    void (*row)(const RowArgs&);
    // dw of one input row x (w columns) against ntaps <= 9 taps:
    // out[t] += sum over the columns i where tap t exists of
    // x[i] * taps[t].row[i + taps[t].off] (taps[t].w unused).
    void (*dw_row)(const float* x, int64_t w, const Tap* taps, int64_t ntaps, double* out);
    // Zero-padded form over many rows and ncb <= dw_cb input channels
    // (channel j's row r at xrows[r] + j * x_cstride):
    // partial[(j * ntaps + t) * lanes + l] = lane l of the sum over rows r
    // and columns i < w of x_j[r][i] * (drows[r] + tap_off[t])[i], the dy
    // rows readable (as zeros past their values) up to w rounded up to whole
    // vectors; x and dy must be finite.
    void (*dw_rows_padded)(const float* const* xrows, const float* const* drows, int64_t nrows, int64_t w,
                           const int64_t* tap_off, int64_t ntaps, int64_t x_cstride, int64_t ncb,
                           float* partial);
};

ConvTKernels convt_kernels_generic();
#if defined(SR_NATIVE_X86)
// Only call these when active_isa() says the CPU has that ISA.
ConvTKernels convt_kernels_avx2();
ConvTKernels convt_kernels_avx512();
#endif

}  // namespace sr_native::convt_detail
