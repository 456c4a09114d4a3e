// conv2d microkernels for AVX-512 (compiled with -mavx512f...; see CMakeLists).
// Tiles sized for 32 zmm registers:
//   forward 6 output channels x 4 vectors of 16 pixels = 24 accumulators,
//           + 4 input vectors + 1 broadcast;
//   dw      4 output channels x 6 taps = 24 accumulators + 4 dy vectors + 1 input.
#define SR_SIMD_AVX512
#include "simd.h"
#include "conv2d_body.h"

namespace sr_native::conv2d_detail {

ConvKernels conv2d_kernels_avx512() {
    return ConvKernels{6, &conv_body::fwd_block<6, 4>, 4, 6, &conv_body::dw_tile<4, 6>};
}

}  // namespace sr_native::conv2d_detail
