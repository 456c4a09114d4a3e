// Two 1x1 convolutions with a ReLU between (WDSR-B's expansion/reduction) on
// CUDA: two runs of the forward implicit GEMM through an M-channel middle in
// scratch, rounded to float32 as the reference does. The middle is kept to
// at most kMidBudget floats: a batch that needs more is done one image and
// one span of pixels at a time (the GEMM takes explicit channel strides, so a
// span of an NCHW image is a 1 x len "image" with channel stride H*W).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "conv2d_tiles.cuh"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda {

namespace {
constexpr int64_t kMidBudget = int64_t{64} << 20;  // floats (256 MiB)
}

void conv1x1_pair_forward(const float* x, const float* w1, const float* b1, const float* w2, const float* b2,
                          const float* residual, float* y, const Conv1x1PairShape& s) {
    using namespace conv_detail;
    if (s.n <= 0 || s.hw <= 0 || s.o <= 0) return;
    const char* op = "conv1x1_pair";

    Conv2dEpilogue e1;
    e1.bias = b1;
    e1.relu = true;
    Conv2dEpilogue e2;
    e2.bias = b2;

    GemmGeom g1, g2;
    g1.k = g2.k = 1;
    g1.cin = s.c;
    g1.m = s.m;
    g2.cin = s.m;
    g2.m = s.o;
    g1.h = g2.h = 1;

    if (s.n * s.m * s.hw <= kMidBudget) {
        // Whole batch at once: mid is (N, M, HW).
        Scratch mid(static_cast<size_t>(s.n * s.m * s.hw) * sizeof(float), op);
        g1.n = g2.n = s.n;
        g1.w = g2.w = s.hw;
        g1.xcs = s.hw;
        g1.xis = s.c * s.hw;
        g1.ycs = s.hw;
        g1.yis = s.m * s.hw;
        g2.xcs = s.hw;
        g2.xis = s.m * s.hw;
        g2.ycs = s.hw;
        g2.yis = s.o * s.hw;
        conv_forward_any(x, w1, false, mid.as<float>(), g1, e1);
        e2.residual = residual;
        conv_forward_any(mid.as<float>(), w2, false, y, g2, e2);
        return;
    }

    // Spans of `span` pixels (a multiple of 4 keeps the float4 epilogue).
    const int64_t span = std::min<int64_t>(s.hw, std::max<int64_t>(4, kMidBudget / s.m / 4 * 4));
    Scratch mid(static_cast<size_t>(s.m * span) * sizeof(float), op);
    g1.n = g2.n = 1;
    g1.xcs = s.hw;
    g1.xis = s.c * s.hw;
    g2.ycs = s.hw;
    g2.yis = s.o * s.hw;
    for (int64_t n = 0; n < s.n; ++n) {
        for (int64_t p0 = 0; p0 < s.hw; p0 += span) {
            const int64_t len = std::min(span, s.hw - p0);
            g1.w = g2.w = len;
            g1.ycs = len;
            g1.yis = s.m * len;
            g2.xcs = len;
            g2.xis = s.m * len;
            conv_forward_any(x + (n * s.c) * s.hw + p0, w1, false, mid.as<float>(), g1, e1);
            const int64_t yoff = (n * s.o) * s.hw + p0;
            e2.residual = residual ? residual + yoff : nullptr;
            conv_forward_any(mid.as<float>(), w2, false, y + yoff, g2, e2);
        }
    }
}

}  // namespace sr_native::cuda
