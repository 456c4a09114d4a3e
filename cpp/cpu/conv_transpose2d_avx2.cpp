// conv_transpose2d microkernels for AVX2 + FMA (compiled with -mavx2 -mfma).
#define SR_SIMD_AVX2
#include "simd.h"
#include "conv_transpose2d_body.h"

namespace sr_native::convt_detail {

ConvTKernels convt_kernels_avx2() { return convt_body::kernels(); }

}  // namespace sr_native::convt_detail
