// Reference of the fused 1x1 pair: the two reference convolutions one after
// the other, the middle rounded to float32 in between as the fast kernel does.
#include <vector>

#include "sr_native/kernels.h"

namespace sr_native::ref {

void conv1x1_pair_forward(const float* x, const float* w1, const float* b1, const float* w2,
                          const float* b2, const float* residual, float* y,
                          const Conv1x1PairShape& s) {
    // One image at a time keeps the middle to M x H x W floats.
    std::vector<float> mid(static_cast<size_t>(s.m * s.hw));
    for (int64_t n = 0; n < s.n; ++n) {
        Conv2dEpilogue e1;
        e1.bias = b1;
        e1.relu = true;
        ref::conv2d_forward(x + n * s.c * s.hw, w1, mid.data(), Conv2dShape{1, s.c, 1, s.hw, s.m, 1}, e1);
        Conv2dEpilogue e2;
        e2.bias = b2;
        e2.residual = residual ? residual + n * s.o * s.hw : nullptr;
        ref::conv2d_forward(mid.data(), w2, y + n * s.o * s.hw, Conv2dShape{1, s.m, 1, s.hw, s.o, 1}, e2);
    }
}

}  // namespace sr_native::ref
