// Winograd F(4x4,3x3) bodies in portable C++ (4-float vectors), for CPUs
// without AVX2 and other targets. GEMM register tile: 4 output channels x 3
// vectors of 4 tiles, sized for 16 vector registers.
#include "simd.h"
#include "conv2d_winograd_body.h"

namespace sr_native::conv2d_detail {

WinoKernels wino_kernels_generic() { return wino_body::kernels<4, 3>(); }

}  // namespace sr_native::conv2d_detail
