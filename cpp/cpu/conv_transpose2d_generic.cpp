// conv_transpose2d microkernels for portable C++ (4-float vectors; SSE on baseline x86-64).
#include "simd.h"
#include "conv_transpose2d_body.h"

namespace sr_native::convt_detail {

ConvTKernels convt_kernels_generic() { return convt_body::kernels(); }

}  // namespace sr_native::convt_detail
