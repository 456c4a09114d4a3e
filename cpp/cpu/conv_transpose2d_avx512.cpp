// conv_transpose2d microkernels for AVX-512 (compiled with -mavx512f...; see CMakeLists).
#define SR_SIMD_AVX512
#include "simd.h"
#include "conv_transpose2d_body.h"

namespace sr_native::convt_detail {

ConvTKernels convt_kernels_avx512() { return convt_body::kernels(); }

}  // namespace sr_native::convt_detail
