// Winograd F(4x4,3x3) bodies for AVX2 + FMA (compiled with -mavx2 -mfma).
// GEMM register tile: 4 output channels x 3 vectors of 8 tiles, 12 of the 16
// ymm registers as accumulators.
#define SR_SIMD_AVX2
#include "simd.h"
#include "conv2d_winograd_body.h"

namespace sr_native::conv2d_detail {

WinoKernels wino_kernels_avx2() { return wino_body::kernels<4, 3>(); }

}  // namespace sr_native::conv2d_detail
