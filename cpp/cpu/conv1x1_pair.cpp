// Two 1x1 convolutions with a ReLU between, fused (see kernels.h).
//
// WDSR-B widens 32 channels to 192 and narrows them to 25 with 1x1 layers;
// run one after the other, the 192-channel middle (133 MB for a 510x339
// image) is written to memory and read back, and both layers wait on memory
// (about 100 GFLOP/s here). Here each thread takes pieces of kPiece pixels:
// the first layer writes the piece's middle into a per-thread buffer of
// M x kPiece floats (96 KB for M = 192: L2), the second reads it from there.
// Both use the direct forward's register tiles (conv2d_body.h) unchanged.
//
// Work split: (image, span of pixels), spans of whole pieces; each output is
// computed once in a fixed order, so results do not depend on the threads,
// and they equal the two separate convolutions bit for bit (same tiles,
// same summation order).
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv2d_kernels.h"
#include "sr_native/kernels.h"

namespace sr_native {

namespace {

constexpr int64_t kPiece = 128;         // pixels per piece (a multiple of every vector width)
constexpr int64_t kItemsPerThread = 8;  // dynamic scheduling absorbs uneven cores
constexpr int64_t kTap0 = 0;            // a 1x1 kernel's one tap

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

void conv1x1_pair_forward(const float* x, const float* w1, const float* b1, const float* w2,
                          const float* b2, const float* residual, float* y,
                          const Conv1x1PairShape& s) {
    using namespace conv2d_detail;
    const ConvKernels kr = conv2d_active_kernels();
    const int64_t N = s.n, C = s.c, M = s.m, O = s.o, HW = s.hw, L = kr.lanes;
    const int R1 = choose_block(kr, M, kPiece, C), R2 = choose_block(kr, O, kPiece, M);
    const std::vector<float> pack1 = pack_weights(w1, M, C, 1, R1);
    const std::vector<float> pack2 = pack_weights(w2, O, M, 1, R2);

    const int64_t pieces = ceil_div(HW, kPiece);  // per image
    const int nt = conv2d_threads(N * (M * C + O * M) * HW);
    const int64_t want = kItemsPerThread * nt;
    const int64_t per_span = std::max<int64_t>(1, ceil_div(pieces * N, want));
    const int64_t spans = ceil_div(pieces, per_span);
    const int64_t total = N * spans;

#pragma omp parallel num_threads(static_cast<int>(std::min<int64_t>(nt, total)))
    {
        // The middle of one piece, and a zero-padded copy of x for the last
        // piece of an image when it does not end on a whole vector (the
        // tiles load whole vectors; past the last plane is past the array).
        std::vector<float> mid(static_cast<size_t>(M * kPiece), 0.0f);
        std::vector<float> tail;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < total; ++it) {
            const int64_t n = it / spans, first = (it % spans) * per_span;
            const int64_t last = std::min(pieces, first + per_span);
            for (int64_t piece = first; piece < last; ++piece) {
                const int64_t p0 = piece * kPiece, np = std::min(kPiece, HW - p0);
                const float* xbuf = x + n * C * HW + p0;
                int64_t plane = HW;
                if (np % L != 0) {
                    tail.assign(static_cast<size_t>(C * kPiece), 0.0f);
                    for (int64_t c = 0; c < C; ++c)
                        std::memcpy(tail.data() + c * kPiece, xbuf + c * HW, np * sizeof(float));
                    xbuf = tail.data();
                    plane = kPiece;
                }
                FwdBlockArgs a;
                a.taps = &kTap0;
                a.ntaps = 1;
                a.w = np;
                a.xbuf = xbuf;  // first layer: x -> the middle
                a.c = C;
                a.plane = plane;
                Conv2dEpilogue e1;
                e1.bias = b1;
                e1.relu = true;
                forward_blocks(kr, a, pack1.data(), R1, C, 0, M, e1, mid.data(), kPiece);
                a.xbuf = mid.data();  // second layer: the middle -> y
                a.c = M;
                a.plane = kPiece;
                const int64_t at = n * O * HW + p0;
                Conv2dEpilogue e2;
                e2.bias = b2;
                e2.residual = residual ? residual + at : nullptr;
                forward_blocks(kr, a, pack2.data(), R2, M, 0, O, e2, y + at, HW);
            }
        }
    }
}

}  // namespace sr_native
