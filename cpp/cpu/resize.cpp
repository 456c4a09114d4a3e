// Fast resize (placeholder: the reference).
#include "sr_native/resize.h"

namespace sr_native {
void resize(const void* x, void* y, ResizeDtype dtype, const ResizeShape& s, ResizeMethod method,
            bool antialias) {
    ref::resize(x, y, dtype, s, method, antialias);
}
}  // namespace sr_native
