#include "resize_rows.h"
namespace sr_native::resize_rows { Kernels avx2_kernels() { return generic_kernels(); } }
