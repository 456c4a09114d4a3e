// conv2d microkernels for AVX2 + FMA (compiled with -mavx2 -mfma).
// 16 ymm registers, 12 accumulators per tile:
//   forward  blocks of up to 6 output channels x fwd_vmax(r) vectors of 8
//            pixels (4 x 3, 2 x 5, 1 x 7, ...);
//   dw       channels-last: 4 vectors of 8 output channels x 3 input channels
//            (or 2 x 6, 1 x 12); pixel-vector form for small O: 3 x 4 taps.
#define SR_SIMD_AVX2
#include "simd.h"
#include "conv2d_body.h"

namespace sr_native::conv2d_detail {

ConvKernels conv2d_kernels_avx2() {
    ConvKernels k{};
    conv_body::fill_fwd_info<6>(k);
    conv_body::fill_dw_info<3, 4>(k);
    return k;
}

}  // namespace sr_native::conv2d_detail
