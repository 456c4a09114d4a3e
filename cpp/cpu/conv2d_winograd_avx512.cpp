// Winograd F(4x4,3x3) bodies for AVX-512 (compiled with -mavx512f...; see
// CMakeLists). GEMM register tile: 8 output channels x 3 vectors of 16 tiles,
// 24 of the 32 zmm registers as accumulators.
#define SR_SIMD_AVX512
#include "simd.h"
#include "conv2d_winograd_body.h"

namespace sr_native::conv2d_detail {

WinoKernels wino_kernels_avx512() { return wino_body::kernels<8, 3>(); }

}  // namespace sr_native::conv2d_detail
