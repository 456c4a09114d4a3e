// Fast conv2d backward.
//   dx  = conv(dy, w') with w'[c, o, kh, kw] = w[o, c, K-1-kh, K-1-kw]: the
//         fast forward on flipped, channel-transposed weights (written).
//   dw += a GEMM-like reduction over every pixel of the batch:
//         dw[o, (c, kh, kw)] = sum_p dy[o, p] * xpad[c, p shifted by (kh, kw)].
//         Tiles of (output channels x taps) are independent; each is summed
//         by one thread in a fixed order (conv2d_body.h), so dw is
//         bit-identical for any thread count.
//   db += per-channel sums of dy in double, one channel per task.
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv2d_kernels.h"
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {
namespace {

constexpr int64_t kPadTo = 16;  // widest vector, in floats

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void backward_dx(const float* w, const float* dy, float* dx, const Conv2dShape& s) {
    const int64_t C = s.c, O = s.o, K = s.k, KK = K * K;
    std::vector<float> wt(static_cast<size_t>(C * O * KK));
    for (int64_t o = 0; o < O; ++o)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t t = 0; t < KK; ++t)
                wt[(c * O + o) * KK + (KK - 1 - t)] = w[(o * C + c) * KK + t];
    const Conv2dShape st{s.n, O, s.h, s.w, C, K};
    conv2d_forward(dy, wt.data(), dx, st, Conv2dEpilogue{});
}

void backward_dw(const float* x, const float* dy, float* dw, const Conv2dShape& s) {
    using namespace conv2d_detail;
    const ConvKernels kr = conv2d_active_kernels();
    const int64_t N = s.n, C = s.c, H = s.h, W = s.w, O = s.o, K = s.k, P = K / 2;
    const int64_t KK = K * K, HW = H * W, J = C * KK;
    const int64_t wt = ceil_div(W, kPadTo) * kPadTo, wp = wt + 2 * P, hp = H + 2 * P;
    const int nt = get_num_threads();

    // Zero-padded copies: x with a border of P (and whole vectors of slack on
    // the right), dy with rows padded to wt; the zeros make tails contribute 0.
    std::vector<float> xpad(static_cast<size_t>(N * C * hp * wp), 0.0f);
    std::vector<float> dypad;
    const float* dyp = dy;
    if (wt != W) dypad.assign(static_cast<size_t>(N * O * H * wt), 0.0f);
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(static)
        for (int64_t nc = 0; nc < N * C; ++nc)
            for (int64_t ih = 0; ih < H; ++ih)
                std::memcpy(&xpad[(nc * hp + ih + P) * wp + P], x + nc * HW + ih * W,
                            W * sizeof(float));
        if (wt != W) {
#pragma omp for schedule(static)
            for (int64_t no = 0; no < N * O; ++no)
                for (int64_t oh = 0; oh < H; ++oh)
                    std::memcpy(&dypad[(no * H + oh) * wt], dy + no * HW + oh * W,
                                W * sizeof(float));
        }
    }
    if (wt != W) dyp = dypad.data();

    const int ro = kr.dw_ro, rj = kr.dw_rj;
    const int64_t nob = ceil_div(O, ro), njb = ceil_div(J, rj);
    const int64_t tiles = nob * njb;
    // Tiles run output-block-major: consecutive tiles share their dy rows.
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t tile = 0; tile < tiles; ++tile) {
        const int64_t o0 = (tile / njb) * ro, j0 = (tile % njb) * rj;
        // Short blocks repeat their last channel / tap; those sums are dropped.
        int64_t o_off[kMaxDwTile], j_off[kMaxDwTile];
        for (int i = 0; i < ro; ++i) o_off[i] = std::min(o0 + i, O - 1) * H * wt;
        for (int j = 0; j < rj; ++j) {
            const int64_t jj = std::min(j0 + j, J - 1);
            const int64_t c = jj / KK, kh = (jj % KK) / K, kw = jj % K;
            j_off[j] = c * hp * wp + kh * wp + kw;
        }
        double out[kMaxDwTile * kMaxDwTile];
        DwTileArgs a;
        a.dypad = dyp;
        a.xpad = xpad.data();
        a.n = N;
        a.h = H;
        a.wt = wt;
        a.wp = wp;
        a.dy_nstride = O * H * wt;
        a.x_nstride = C * hp * wp;
        a.o_off = o_off;
        a.j_off = j_off;
        a.out = out;
        kr.dw_tile(a);
        for (int i = 0; i < ro && o0 + i < O; ++i)
            for (int j = 0; j < rj && j0 + j < J; ++j)
                dw[(o0 + i) * J + j0 + j] += static_cast<float>(out[i * rj + j]);
    }
}

void backward_db(const float* dy, float* db, const Conv2dShape& s) {
    const int64_t N = s.n, O = s.o, HW = s.h * s.w;
#pragma omp parallel for schedule(static) num_threads(get_num_threads())
    for (int64_t o = 0; o < O; ++o) {
        double acc = 0.0;
        for (int64_t n = 0; n < N; ++n) {
            const float* g = dy + (n * O + o) * HW;
            // Four partial sums let the compiler vectorise; the order is fixed.
            double p[4] = {0.0, 0.0, 0.0, 0.0};
            int64_t i = 0;
            for (; i + 4 <= HW; i += 4)
                for (int l = 0; l < 4; ++l) p[l] += g[i + l];
            for (; i < HW; ++i) p[0] += g[i];
            acc += (p[0] + p[1]) + (p[2] + p[3]);
        }
        db[o] += static_cast<float>(acc);
    }
}

}  // namespace

void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db, const Conv2dShape& s) {
    if (dx) backward_dx(w, dy, dx, s);
    if (dw) backward_dw(x, dy, dw, s);
    if (db) backward_db(dy, db, s);
}

}  // namespace sr_native
