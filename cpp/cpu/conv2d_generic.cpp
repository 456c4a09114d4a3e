// conv2d microkernels in portable C++ (4-float vectors the compiler maps to
// SSE on baseline x86-64), for CPUs without AVX2 and for other targets.
// Tiles sized for 16 vector registers, as for AVX2.
#include "simd.h"
#include "conv2d_body.h"

namespace sr_native::conv2d_detail {

ConvKernels conv2d_kernels_generic() {
    ConvKernels k{};
    conv_body::fill_fwd_info<6>(k);
    conv_body::fill_dw_info<3, 4>(k);
    return k;
}

}  // namespace sr_native::conv2d_detail
