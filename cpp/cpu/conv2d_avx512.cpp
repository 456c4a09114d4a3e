// conv2d microkernels for AVX-512 (compiled with -mavx512f...; see CMakeLists).
// 32 zmm registers, 24 accumulators per tile:
//   forward  blocks of up to 8 output channels x fwd_vmax(r) vectors of 16
//            pixels (6 x 4, 8 x 3, 3 x 7, ...);
//   dw       channels-last: 4 vectors of 16 output channels x 6 input
//            channels (or 2 x 12, 1 x 24); pixel-vector form for small O:
//            4 output channels x 6 taps.
#define SR_SIMD_AVX512
#include "simd.h"
#include "conv2d_body.h"

namespace sr_native::conv2d_detail {

ConvKernels conv2d_kernels_avx512() {
    ConvKernels k{};
    conv_body::fill_fwd_info<8>(k);
    conv_body::fill_dw_info<4, 6>(k);
    return k;
}

}  // namespace sr_native::conv2d_detail
