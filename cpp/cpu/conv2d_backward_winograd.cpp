// Weight gradient of a 3x3 convolution through Winograd F(4x4, 3x3).
//
// The forward computes, per 4x4 output tile, Y = A^T [U .* V] A with
// U = G g G^T and V = B^T d B (conv2d_winograd.cpp). Its adjoint in g is
//   dg = G^T dU G,  dU[pos][o][c] = sum over tiles of Dy[pos][o] * V[pos][c],
// with Dy = A dy A^T (dy zero outside the image, as the forward crops there).
// So dw costs 36 GEMMs of O x C over the tiles instead of 9 over the pixels:
// 2.25x fewer multiplies (4x at 64 -> 64 once the padding of the direct forms
// is counted), plus the transforms.
//
// Steps:
//   1. x and dy are copied channels-last and zero-padded to whole tiles
//      (x with a 1-pixel border): xt [n][4 TH + 2][4 TW + 2][cpad],
//      dyt [n][4 TH][4 TW][opad];
//   2. per slab of kSlabTiles tiles (so the transformed slab stays in cache),
//      both are transformed tile by tile with vectors along the channels,
//      into V [pos][tile][cpad] and Dy [pos][tile][opad];
//   3. the 36 GEMMs run on the channels-last dw microkernel (dwt_tile, with
//      the tiles as pixels of a 1x1 convolution), each (pos, block of output
//      channels, block of input channels) an item that carries its float
//      partial sums and double totals from slab to slab;
//   4. dw += G^T dU G per (o, c), in double.
// Each item is summed by one thread in a fixed order, so dw does not depend
// on the thread count.
//
// Accuracy: the transforms scale values by up to 100 (B) and 225 (A), which
// the final G^T . G undoes; the error is of the forward Winograd's order
// (see tests/test_conv2d.py, RTOL_WINO).
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv2d_kernels.h"
#include "conv2d_winograd_kernels.h"
#include "sr_native/kernels.h"

namespace sr_native::conv2d_detail {

namespace {

constexpr int64_t kSlabTiles = 256;            // tiles transformed at once
constexpr int64_t kChunkBytes = 24 * 1024;     // Dy vectors of one chunk (near-L1-sized)
constexpr int64_t kFoldTiles = 2048;           // tiles summed in float before a fold
constexpr size_t kKeepFloats = size_t{16} << 20;  // scratch kept between calls (64 MB)

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Buffers of the calling thread that only grow (a fresh multi-megabyte
// buffer costs a page fault per 4 KB on every call); above kKeepFloats the
// call gets its own.
float* scratch(int slot, size_t count, std::vector<float>& own) {
    thread_local std::vector<float> kept[4];
    std::vector<float>& b = count <= kKeepFloats ? kept[slot] : own;
    if (b.size() < count) {
        b.clear();
        b.shrink_to_fit();
        b.resize(count);
    }
    return b.data();
}

}  // namespace

void conv2d_backward_dw_winograd(const float* x, const float* dy, float* dw,
                                 const Conv2dShape& s) {
    const ConvKernels kr = conv2d_active_kernels();
    const WinoKernels wk = wino_active_kernels();
    const int64_t N = s.n, C = s.c, H = s.h, W = s.w, O = s.o, HW = H * W;
    const int64_t TH = ceil_div(H, kWinoM), TW = ceil_div(W, kWinoM);
    const int64_t tiles = N * TH * TW;
    const int64_t L = kr.lanes;
    const int pick = pick_dwt_tile(kr, O, C);
    const int64_t ov = kr.dwt_ov[pick], rc = kr.dwt_rc[pick];
    const int64_t opad = ceil_div(O, ov * L) * ov * L;
    const int64_t ncb = ceil_div(C, rc);
    const int64_t cpad = std::max(ncb * rc, L);  // the transform reads whole vectors
    const int64_t nob = opad / (ov * L);
    const int nt = conv2d_threads(N * O * C * 9 * HW);

    // Sizes first: everything below runs in one parallel region (barriers
    // between the steps are cheaper than a fork and join per slab).
    const int64_t xrows = TH * kWinoM + 2, xcols = TW * kWinoM + 2;
    const int64_t drows = TH * kWinoM, dcols = TW * kWinoM;
    std::vector<float> own_x, own_dy, own_v, own_g;
    float* const xt = scratch(0, static_cast<size_t>(N * xrows * xcols * cpad), own_x);
    float* const dyt = scratch(1, static_cast<size_t>(N * drows * dcols * opad), own_dy);
    const int64_t slab = std::min(tiles, kSlabTiles);
    float* const v = scratch(2, static_cast<size_t>(kWinoPos * slab * cpad), own_v);
    float* const g = scratch(3, static_cast<size_t>(kWinoPos * slab * opad), own_g);
    std::vector<int64_t> x_off(static_cast<size_t>(slab)), dy_off(static_cast<size_t>(slab));

    const int64_t items = kWinoPos * nob * ncb;
    const int64_t item_acc = ov * rc * L;  // floats per item
    std::vector<float> partial(static_cast<size_t>(items * item_acc));
    std::vector<double> sums(static_cast<size_t>(items * item_acc), 0.0);
    const int64_t chunk = std::clamp<int64_t>(kChunkBytes / (4 * opad), 16, slab);
    const int64_t fold_every = std::max<int64_t>(1, kFoldTiles / chunk);
    int64_t total_chunks = 0;
    for (int64_t t0 = 0; t0 < tiles; t0 += slab) total_chunks += ceil_div(std::min(slab, tiles - t0), chunk);
    // Groups of consecutive items (position-major: a group shares its slab
    // of Dy and V); the grouping decides who runs an item, never how it sums.
    const int64_t ngroups = std::min<int64_t>(items, 4 * nt);
    const int64_t per_group = ceil_div(items, ngroups);

#pragma omp parallel num_threads(nt)
    {
        // 1. Channels-last, zero-padded copies.
#pragma omp for schedule(static) nowait
        for (int64_t r = 0; r < N * xrows; ++r) {
            const int64_t n = r / xrows, ih = r % xrows - 1;
            float* dst = xt + r * xcols * cpad;
            std::memset(dst, 0, static_cast<size_t>(xcols * cpad) * sizeof(float));
            if (ih < 0 || ih >= H) continue;
            wk.channels_last_row({x + n * C * HW + ih * W, C, HW, W, dst + cpad, cpad});
        }
#pragma omp for schedule(static)
        for (int64_t r = 0; r < N * drows; ++r) {
            const int64_t n = r / drows, oh = r % drows;
            float* dst = dyt + r * dcols * opad;
            std::memset(dst, 0, static_cast<size_t>(dcols * opad) * sizeof(float));
            if (oh >= H) continue;
            wk.channels_last_row({dy + n * O * HW + oh * W, O, HW, W, dst, opad});
        }

        // 2-3. Slabs of tiles: transform, then every item runs over the slab.
        int64_t chunk0 = 0;  // chunks of earlier slabs (every thread counts them)
        for (int64_t t0 = 0; t0 < tiles; t0 += slab) {
            const int64_t nts = std::min(slab, tiles - t0);
            const int64_t pieces = std::min<int64_t>(nts, 4 * nt);
#pragma omp for schedule(static)
            for (int64_t piece = 0; piece < pieces; ++piece) {
                const int64_t a0 = piece * nts / pieces, a1 = (piece + 1) * nts / pieces;
                for (int64_t t = a0; t < a1; ++t) {
                    const int64_t gt = t0 + t, n = gt / (TH * TW), rem = gt % (TH * TW);
                    const int64_t r0 = rem / TW * kWinoM, c0 = rem % TW * kWinoM;
                    x_off[t] = ((n * xrows + r0) * xcols + c0) * cpad;
                    dy_off[t] = ((n * drows + r0) * dcols + c0) * opad;
                }
                WinoDwTransformArgs ta;
                ta.src = xt;
                ta.tile_off = x_off.data() + a0;
                ta.nt = a1 - a0;
                ta.row_stride = xcols * cpad;
                ta.cstride = cpad;
                ta.dst = v + a0 * cpad;
                ta.pos_stride = slab * cpad;
                wk.dw_input(ta);
                ta.src = dyt;
                ta.tile_off = dy_off.data() + a0;
                ta.row_stride = dcols * opad;
                ta.cstride = opad;
                ta.dst = g + a0 * opad;
                ta.pos_stride = slab * opad;
                wk.dw_grad(ta);
            }

            const int64_t nchunks = ceil_div(nts, chunk);
#pragma omp for schedule(dynamic, 1)
            for (int64_t grp = 0; grp < ngroups; ++grp) {
                const int64_t i0 = grp * per_group, i1 = std::min(items, i0 + per_group);
                for (int64_t ci = 0; ci < nchunks; ++ci) {
                    const int64_t gc = chunk0 + ci;  // chunk index over the whole call
                    for (int64_t item = i0; item < i1; ++item) {
                        const int64_t pos = item / (nob * ncb), ob = item / ncb % nob, cb = item % ncb;
                        DwtTileArgs a;
                        a.dyt = g + pos * slab * opad;
                        a.xt = v + pos * slab * cpad;
                        a.h = 1;  // the slab's tiles as one row of a 1x1 convolution
                        a.w = nts;
                        a.opad = opad;
                        a.cpad = cpad;
                        a.x_rowstride = nts * cpad;
                        a.x_nstride = nts * cpad;
                        a.p0 = ci * chunk;
                        a.p1 = std::min(nts, a.p0 + chunk);
                        a.o0 = ob * ov * L;
                        a.x_off = cb * rc;
                        a.partial = partial.data() + item * item_acc;
                        a.sums = sums.data() + item * item_acc;
                        a.first = gc % fold_every == 0;
                        a.fold = (gc + 1) % fold_every == 0 || gc + 1 == total_chunks;
                        kr.dwt_tile[pick](a);
                    }
                }
            }
            chunk0 += nchunks;
        }

        // 4. dw[o][c] += G^T dU G, dU gathered from the 36 items of (o, c).
#pragma omp for schedule(static)
        for (int64_t o = 0; o < O; ++o) {
            const int64_t ob = o / (ov * L), oi = o % (ov * L);
            for (int64_t c = 0; c < C; ++c) {
                const int64_t cb = c / rc, ci = c % rc;
                double du[kWinoA][kWinoA];
                for (int p = 0; p < kWinoPos; ++p) {
                    const int64_t item = (p * nob + ob) * ncb + cb;
                    du[p / kWinoA][p % kWinoA] = sums[static_cast<size_t>(item * item_acc + ci * ov * L + oi)];
                }
                double t[3][kWinoA];  // G^T dU
                for (int a = 0; a < 3; ++a)
                    for (int j = 0; j < kWinoA; ++j) {
                        double acc = 0.0;
                        for (int i = 0; i < kWinoA; ++i) acc += kWinoG[i][a] * du[i][j];
                        t[a][j] = acc;
                    }
                float* out = dw + (o * C + c) * 9;
                for (int a = 0; a < 3; ++a)
                    for (int b = 0; b < 3; ++b) {
                        double acc = 0.0;
                        for (int j = 0; j < kWinoA; ++j) acc += t[a][j] * kWinoG[j][b];
                        out[a * 3 + b] += static_cast<float>(acc);
                    }
            }
        }
    }
}

}  // namespace sr_native::conv2d_detail
