// conv2d microkernels for AVX2 + FMA (compiled with -mavx2 -mfma).
// Tiles sized for 16 ymm registers:
//   forward 4 output channels x 3 vectors of 8 pixels = 12 accumulators,
//           + 3 input vectors + 1 broadcast;
//   dw      3 output channels x 4 taps = 12 accumulators + 3 dy vectors + 1 input.
#define SR_SIMD_AVX2
#include "simd.h"
#include "conv2d_body.h"

namespace sr_native::conv2d_detail {

ConvKernels conv2d_kernels_avx2() {
    return ConvKernels{4, &conv_body::fwd_block<4, 3>, 3, 4, &conv_body::dw_tile<3, 4>};
}

}  // namespace sr_native::conv2d_detail
