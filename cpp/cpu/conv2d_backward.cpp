// Fast conv2d backward.
//   dx  = conv(dy, w') with w'[c, o, kh, kw] = w[o, c, K-1-kh, K-1-kw]: the
//         fast forward on flipped, channel-transposed weights (written), so
//         Winograd where the forward would take it.
//   dw += for 3x3 layers where the forward takes Winograd, the same F(4x4, 3x3)
//         transforms (conv2d_backward_winograd.cpp); otherwise
//         a GEMM-like reduction over every pixel of the batch,
//         dw[o, (c, kh, kw)] = sum_p dy[o, p] * xpad[c, p shifted by (kh, kw)],
//         in one of two forms picked by a cost model (backward_dw):
//         channels-last (dy, x repacked pixel-major; vectors of output
//         channels, input values broadcast) when O and C fill its tiles, and
//         pixel vectors (vectors along rows, no repacking) when C*K*K or O is
//         small. Tiles are independent and each is summed by one thread in a
//         fixed order, so dw is bit-identical for any thread count.
//   db += per-channel sums of dy in double, one channel per task.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "conv2d_kernels.h"
#include "conv2d_winograd_kernels.h"
#include "parallel.h"
#include "sr_native/isa.h"
#include "sr_native/kernels.h"

namespace sr_native {
namespace {

constexpr int64_t kPadTo = 16;                // widest vector, in floats
constexpr int64_t kDwFoldSteps = 1024;         // vectors summed in float before a fold
constexpr int64_t kDwChunkBytes = 2048 * 1024;  // rows a group of pixel-vector tiles re-reads
constexpr int64_t kDwtFoldPixels = 2048;       // the same for the channels-last form
constexpr int64_t kDwtChunkBytes = 24 * 1024;  // dy vectors of one chunk (near-L1-sized)

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Repacked copies of dy and x are kept per calling thread between calls: a
// fresh multi-megabyte buffer costs a page fault per 4 KiB, which was ~15% of
// a training-size backward. Buffers above kScratchKeepFloats are not kept.
// 64-byte aligned, so the channels-last dy vectors never straddle cache lines.
constexpr size_t kScratchKeepFloats = size_t{16} << 20;  // 64 MiB

struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
};
using ScratchPtr = std::unique_ptr<float[], FreeDeleter>;

ScratchPtr aligned_floats(size_t count) {
    const size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
    if (!p) throw std::bad_alloc();
    return ScratchPtr(static_cast<float*>(p));
}

float* scratch(int slot, size_t count, ScratchPtr& temp) {
    struct Cached {
        ScratchPtr data;
        size_t size = 0;
    };
    thread_local Cached cache[2];
    if (count > kScratchKeepFloats) {
        temp = aligned_floats(count);
        return temp.get();
    }
    Cached& c = cache[slot];
    if (c.size < count) {
        c.data.reset();  // release before allocating the bigger one
        c.data = aligned_floats(count);
        c.size = count;
    }
    return c.data.get();
}

void backward_dx(const float* w, const float* dy, float* dx, const float* dx_residual,
                 const Conv2dShape& s) {
    const int64_t C = s.c, O = s.o, K = s.k, KK = K * K;
    std::vector<float> wt(static_cast<size_t>(C * O * KK));
    for (int64_t o = 0; o < O; ++o)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t t = 0; t < KK; ++t)
                wt[(c * O + o) * KK + (KK - 1 - t)] = w[(o * C + c) * KK + t];
    const Conv2dShape st{s.n, O, s.h, s.w, C, K};
    Conv2dEpilogue e;
    e.residual = dx_residual;  // the forward allows it to be dx itself
    conv2d_forward(dy, wt.data(), dx, st, e);
}

// Pixel-vector form: vectors along the pixels of a row; for small O or C*K*K.
void dw_pixel_vectors(const conv2d_detail::ConvKernels& kr, const float* x, const float* dy,
                      float* dw, const Conv2dShape& s) {
    using namespace conv2d_detail;
    const int64_t N = s.n, C = s.c, H = s.h, W = s.w, O = s.o, K = s.k, P = K / 2;
    const int64_t KK = K * K, HW = H * W, J = C * KK;
    const int64_t wt = ceil_div(W, kPadTo) * kPadTo, wp = wt + 2 * P, hp = H + 2 * P;
    const int nt = conv2d_detail::conv2d_threads(N * O * C * KK * HW);

    // Zero-padded copies: x with a border of P (and whole vectors of slack on
    // the right), dy with rows padded to wt; the zeros make tails contribute 0.
    // A 1x1 layer whose rows are whole vectors reads both in place.
    const bool pad_x = P != 0 || wt != W, pad_dy = wt != W;
    std::vector<float> xpad, dypad;
    if (pad_x) xpad.assign(static_cast<size_t>(N * C * hp * wp), 0.0f);
    if (pad_dy) dypad.assign(static_cast<size_t>(N * O * H * wt), 0.0f);
#pragma omp parallel num_threads(nt)
    {
        if (pad_x) {
#pragma omp for schedule(static)
            for (int64_t nc = 0; nc < N * C; ++nc)
                for (int64_t ih = 0; ih < H; ++ih)
                    std::memcpy(&xpad[(nc * hp + ih + P) * wp + P], x + nc * HW + ih * W,
                                W * sizeof(float));
        }
        if (pad_dy) {
#pragma omp for schedule(static)
            for (int64_t no = 0; no < N * O; ++no)
                for (int64_t oh = 0; oh < H; ++oh)
                    std::memcpy(&dypad[(no * H + oh) * wt], dy + no * HW + oh * W,
                                W * sizeof(float));
        }
    }
    const float* xp = pad_x ? xpad.data() : x;
    const float* dyp = pad_dy ? dypad.data() : dy;

    // A group runs consecutive tiles over one chunk of rows before the next
    // chunk. Tiles are numbered so that consecutive ones walk the operand with
    // fewer channels (output-block-major when C <= O, so a group's tiles
    // sweep all of x's channels for a few output blocks; tap-block-major
    // otherwise), and the chunk is small enough that those rows and the
    // group's slice of the other operand stay in cache: reading the larger
    // operand from memory once per tile block made a 192 -> 25 1x1 layer 5x
    // slower. 2 MB chunks (twice L2) measured best: 512 KB ones were 10-50%
    // slower on every other layer of EDSR and WDSR. The chunk depends on the
    // shape only, and float lanes are folded into doubles every
    // ~kDwFoldSteps vectors, so the sums never depend on the thread count.
    const int ro = kr.dw_ro, rj = kr.dw_rj, lanes = kr.lanes;
    const int64_t nob = ceil_div(O, ro), njb = ceil_div(J, rj);
    const int64_t tiles = nob * njb;
    const bool o_major = C <= O;
    auto tile_origin = [&](int64_t tile, int64_t& o0, int64_t& j0) {
        const int64_t ob = o_major ? tile / njb : tile % nob, jb = o_major ? tile % njb : tile / nob;
        o0 = ob * ro;
        j0 = jb * rj;
    };
    const int64_t rows = N * H;
    const int64_t row_bytes =
        (std::min(O, C) + 4 * std::max(ro, rj)) * wp * static_cast<int64_t>(sizeof(float));
    const int64_t chunk_rows = std::clamp<int64_t>(kDwChunkBytes / row_bytes, 1, rows);
    const int64_t nchunks = ceil_div(rows, chunk_rows);
    const int64_t fold_every = std::max<int64_t>(1, kDwFoldSteps / (chunk_rows * (wt / lanes)));
    std::vector<float> partial(static_cast<size_t>(tiles * ro * rj * lanes));
    std::vector<double> sums(static_cast<size_t>(tiles * ro * rj), 0.0);
    // The grouping only decides who runs a tile, never how it sums.
    const int64_t ngroups = std::min<int64_t>(tiles, 4 * nt);
    const int64_t per_group = ceil_div(tiles, ngroups);

#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t grp = 0; grp < ngroups; ++grp) {
        const int64_t t0 = grp * per_group, t1 = std::min(tiles, t0 + per_group);
        for (int64_t ci = 0; ci < nchunks; ++ci) {
            for (int64_t tile = t0; tile < t1; ++tile) {
                int64_t o0, j0;
                tile_origin(tile, o0, j0);
                // Short blocks repeat their last channel / tap; those sums are dropped.
                int64_t o_off[kMaxDwTile], j_off[kMaxDwTile];
                for (int i = 0; i < ro; ++i) o_off[i] = std::min(o0 + i, O - 1) * H * wt;
                for (int j = 0; j < rj; ++j) {
                    const int64_t jj = std::min(j0 + j, J - 1);
                    const int64_t c = jj / KK, kh = (jj % KK) / K, kw = jj % K;
                    j_off[j] = c * hp * wp + kh * wp + kw;
                }
                DwTileArgs a;
                a.dypad = dyp;
                a.xpad = xp;
                a.h = H;
                a.wt = wt;
                a.wp = wp;
                a.dy_nstride = O * H * wt;
                a.x_nstride = C * hp * wp;
                a.row0 = ci * chunk_rows;
                a.row1 = std::min(rows, a.row0 + chunk_rows);
                a.o_off = o_off;
                a.j_off = j_off;
                a.partial = partial.data() + tile * ro * rj * lanes;
                a.sums = sums.data() + tile * ro * rj;
                a.first = ci % fold_every == 0;
                a.fold = (ci + 1) % fold_every == 0 || ci + 1 == nchunks;
                kr.dw_tile(a);
            }
        }
        for (int64_t tile = t0; tile < t1; ++tile) {
            int64_t o0, j0;
            tile_origin(tile, o0, j0);
            const double* out = sums.data() + tile * ro * rj;
            for (int i = 0; i < ro && o0 + i < O; ++i)
                for (int j = 0; j < rj && j0 + j < J; ++j)
                    dw[(o0 + i) * J + j0 + j] += static_cast<float>(out[i * rj + j]);
        }
    }
}

// Channels-last form: dy and x repacked pixel-major, vectors along the output
// channels, input values broadcast (see DwtTileArgs).
void dw_channels_last(const conv2d_detail::ConvKernels& kr, const float* x, const float* dy,
                      float* dw, const Conv2dShape& s) {
    using namespace conv2d_detail;
    const int64_t N = s.n, C = s.c, H = s.h, W = s.w, O = s.o, K = s.k, P = K / 2;
    const int64_t KK = K * K, HW = H * W, hp = H + 2 * P, wpp = W + 2 * P;
    const int nt = conv2d_detail::conv2d_threads(N * O * C * KK * HW);
    const int L = kr.lanes;
    const int pick = pick_dwt_tile(kr, O, C);
    const int ov = kr.dwt_ov[pick], rc = kr.dwt_rc[pick];
    const int64_t opad = ceil_div(O, ov * L) * ov * L;
    const int64_t cpad = ceil_div(C, rc) * rc;
    const int64_t rows = N * H;

    ScratchPtr dyt_temp, xt_temp;
    float* const dyt = scratch(0, static_cast<size_t>(rows * W * opad), dyt_temp);
    float* const xt = scratch(1, static_cast<size_t>(N * hp * wpp * cpad), xt_temp);
    // Repacking reads whole planes (one stream) and scatters into the
    // pixel-major copy: per (image, tile's worth of output channels) for dy,
    // so each task owns one slice of every pixel; per (image, channel) for x,
    // plus a pass that zeroes x's border and padding channels.
    const int64_t oslice = static_cast<int64_t>(ov) * L, oslices = opad / oslice;
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(static) nowait
        for (int64_t t = 0; t < N * oslices; ++t) {
            const int64_t n = t / oslices, o0 = (t % oslices) * oslice;
            float* base = dyt + n * HW * opad;
            for (int64_t o = o0; o < o0 + oslice; ++o) {
                if (o < O) {
                    const float* src = dy + (n * O + o) * HW;
                    for (int64_t p = 0; p < HW; ++p) base[p * opad + o] = src[p];
                } else {
                    for (int64_t p = 0; p < HW; ++p) base[p * opad + o] = 0.0f;
                }
            }
        }
#pragma omp for schedule(static) nowait
        for (int64_t r = 0; r < N * hp; ++r) {
            const int64_t ih = r % hp - P;
            float* dst = xt + r * wpp * cpad;
            if (ih < 0 || ih >= H) {
                std::memset(dst, 0, wpp * cpad * sizeof(float));
                continue;
            }
            std::memset(dst, 0, P * cpad * sizeof(float));
            std::memset(dst + (P + W) * cpad, 0, P * cpad * sizeof(float));
            for (int64_t iw = P; iw < P + W; ++iw)
                for (int64_t c = C; c < cpad; ++c) dst[iw * cpad + c] = 0.0f;
        }
#pragma omp for schedule(static)
        for (int64_t t = 0; t < N * C; ++t) {
            const int64_t n = t / C, c = t % C;
            for (int64_t ih = 0; ih < H; ++ih) {
                const float* src = x + t * HW + ih * W;
                float* dst = xt + ((n * hp + ih + P) * wpp + P) * cpad + c;
                for (int64_t iw = 0; iw < W; ++iw) dst[iw * cpad] = src[iw];
            }
        }
    }

    const int64_t nob = opad / (ov * L), ncb = cpad / rc;
    const int64_t tiles = nob * KK * ncb;
    const int64_t pixels = rows * W;
    const int64_t chunk_px = std::clamp<int64_t>(kDwtChunkBytes / (4 * opad), 16, pixels);
    const int64_t nchunks = ceil_div(pixels, chunk_px);
    const int64_t fold_every = std::max<int64_t>(1, kDwtFoldPixels / chunk_px);
    const int64_t tile_acc = static_cast<int64_t>(ov) * rc * L;  // floats per tile
    std::vector<float> partial(static_cast<size_t>(tiles * tile_acc));
    std::vector<double> sums(static_cast<size_t>(tiles * tile_acc), 0.0);
    const int64_t ngroups = std::min<int64_t>(tiles, 4 * nt);
    const int64_t per_group = ceil_div(tiles, ngroups);

#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t grp = 0; grp < ngroups; ++grp) {
        const int64_t t0 = grp * per_group, t1 = std::min(tiles, t0 + per_group);
        for (int64_t ci = 0; ci < nchunks; ++ci) {
            for (int64_t tile = t0; tile < t1; ++tile) {
                const int64_t ob = tile / (KK * ncb), tap = (tile / ncb) % KK, cb = tile % ncb;
                DwtTileArgs a;
                a.dyt = dyt;
                a.xt = xt;
                a.h = H;
                a.w = W;
                a.opad = opad;
                a.cpad = cpad;
                a.x_rowstride = wpp * cpad;
                a.x_nstride = hp * wpp * cpad;
                a.p0 = ci * chunk_px;
                a.p1 = std::min(pixels, a.p0 + chunk_px);
                a.o0 = ob * ov * L;
                a.x_off = (tap / K) * a.x_rowstride + (tap % K) * cpad + cb * rc;
                a.partial = partial.data() + tile * tile_acc;
                a.sums = sums.data() + tile * tile_acc;
                a.first = ci % fold_every == 0;
                a.fold = (ci + 1) % fold_every == 0 || ci + 1 == nchunks;
                kr.dwt_tile[pick](a);
            }
        }
        for (int64_t tile = t0; tile < t1; ++tile) {
            const int64_t ob = tile / (KK * ncb), tap = (tile / ncb) % KK, cb = tile % ncb;
            const double* out = sums.data() + tile * tile_acc;  // [rc][ov * L]
            for (int64_t ci = 0; ci < rc; ++ci) {
                const int64_t c = cb * rc + ci;
                if (c >= C) break;
                for (int64_t oi = 0; oi < ov * L; ++oi) {
                    const int64_t o = ob * ov * L + oi;
                    if (o >= O) break;
                    dw[(o * C + c) * KK + tap] += static_cast<float>(out[ci * ov * L + oi]);
                }
            }
        }
    }
}

void backward_dw(const float* x, const float* dy, float* dw, const Conv2dShape& s) {
    if (conv2d_detail::use_winograd(s)) {
        conv2d_detail::conv2d_backward_dw_winograd(x, dy, dw, s);
        return;
    }
    const conv2d_detail::ConvKernels kr = conv2d_detail::conv2d_active_kernels();
    // Rough cycles of each form per image row: FMAs (over the measured
    // fraction of peak each reaches) plus, for channels-last, repacking dy
    // and x at ~2 cycles per value. Channels-last wins when O and C fill
    // its tiles (64 -> 64); pixel vectors when C*K*K is small (3 -> 64).
    const int64_t K = s.k, KK = K * K, W = s.w, L = kr.lanes;
    const int pick = pick_dwt_tile(kr, s.o, s.c);
    const double cl = static_cast<double>(KK * W) * dwt_tile_cost(kr, pick, s.o, s.c) / 0.8 +
                      2.0 * W * (ceil_div(s.o, kr.dwt_ov[pick] * L) * kr.dwt_ov[pick] * L +
                                 ceil_div(s.c, kr.dwt_rc[pick]) * kr.dwt_rc[pick]);
    const double pv = static_cast<double>(ceil_div(s.o, kr.dw_ro) * ceil_div(s.c * KK, kr.dw_rj)) *
                      ceil_div(W, L) * (kr.dw_ro * kr.dw_rj + 1) / 0.6;
    if (cl < pv) dw_channels_last(kr, x, dy, dw, s);
    else dw_pixel_vectors(kr, x, dy, dw, s);
}

void backward_db(const float* dy, float* db, const Conv2dShape& s) {
    const int64_t N = s.n, O = s.o, HW = s.h * s.w;
#pragma omp parallel for schedule(static) num_threads(conv2d_detail::conv2d_threads(N * O * HW))
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

// Channels-last tile shape that wastes least on padding O and C (rough
// cycles: one per FMA, loads hidden).
double conv2d_detail::dwt_tile_cost(const ConvKernels& kr, int i, int64_t o, int64_t c) {
    const int64_t ob = ceil_div(o, kr.dwt_ov[i] * kr.lanes), cb = ceil_div(c, kr.dwt_rc[i]);
    return static_cast<double>(ob * cb) * (kr.dwt_ov[i] * kr.dwt_rc[i] + 1);
}

int conv2d_detail::pick_dwt_tile(const ConvKernels& kr, int64_t o, int64_t c) {
    int pick = 0;
    for (int i = 1; i < kDwtShapes; ++i)
        if (dwt_tile_cost(kr, i, o, c) < dwt_tile_cost(kr, pick, o, c)) pick = i;
    return pick;
}

void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw,
                     float* db, const Conv2dShape& s, const float* dx_residual) {
    // NaN and infinity: the placement is the reference's (sums over in-image
    // taps only). A non-finite weight (a small scan) sends everything to the
    // reference: dx through the forward would count padded taps. dx itself
    // needs nothing more (the forward places NaN by windows). The fast dw
    // forms read shifted vectors across row ends and Winograd tiles, so a
    // NaN in x or dy can reach taps the reference keeps finite; it always
    // reaches the centre tap's sum (every pixel's product), so a non-finite
    // fast dw is the cheap sign: dw is then restored and redone by the
    // reference. Rare input (a diverged run); normal calls pay one dw scan.
    const int64_t dw_count = s.o * s.c * s.k * s.k;
    if (!all_finite(w, dw_count)) {
        ref::conv2d_backward(x, w, dy, dx, dw, db, s, dx_residual);
        return;
    }
    if (dx) backward_dx(w, dy, dx, dx_residual, s);
    if (dw) {
        std::vector<float> dw_before(dw, dw + dw_count);  // dw accumulates
        backward_dw(x, dy, dw, s);
        if (!all_finite(dw, dw_count)) {
            std::copy(dw_before.begin(), dw_before.end(), dw);
            ref::conv2d_backward(x, w, dy, nullptr, dw, nullptr, s, nullptr);
        }
    }
    if (db) backward_db(dy, db, s);
}

}  // namespace sr_native
