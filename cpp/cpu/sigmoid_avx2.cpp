// The fast sigmoid's body compiled for AVX2 (see sigmoid_body.h).
#include "sigmoid_body.h"

namespace sr_native {
void sigmoid_span_avx2(const float* x, float* y, int64_t count) { sigmoid_span(x, y, count); }
}  // namespace sr_native
