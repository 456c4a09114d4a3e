// conv2d backward on CUDA.
//
// dx: the transposed convolution. For stride 1 and same padding it is a
// forward convolution of dy with w'[c][o][ky][kx] = w[o][c][K-1-ky][K-1-kx];
// conv_forward_any(flip) packs w' straight into the forward GEMM's layout (or
// the direct kernel reads w mirrored), with dx_residual as the residual.
//
// dw, db: a GEMM with M = O, N = C*K*K (+1 column of ones giving db) and the
// reduction over every pixel of every image. The pixel range is cut into a
// fixed number of chunks (a function of the shape only); each block computes
// one BM x BN tile of one chunk's partial product in registers and writes it
// to scratch, and a second kernel adds the chunks in a fixed order into dw/db.
// No atomics: the same inputs give the same bits on every run.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "conv2d_tiles.cuh"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda {
namespace conv_detail {
namespace {

// Column descriptor of the dw GEMM's gathered operand: column (c, ky, kx)
// reads g[img][c][y + dy][x + dx] at pixel (y, x).
struct __align__(16) ColDesc {
    long long off;  // bytes from the pixel's own address: (c*H*W + dy*W + dx) * 4
    int dy, dx;
};
constexpr int kOutside = -0x40000000;  // a dy that fails every bounds check
constexpr int kOnes = 0x20000000;      // dx marking the db column (value 1)

// dw as a GEMM over pixels q: part[r][(c, tap)] = sum_q D[r][q] * G[c][q + s*(tap - P)].
// Either D = dy (rows o), G = x, s = +1: part[o][(c, tap)] = dw[o][c][tap];
// or D = x (rows c), G = dy, s = -1: part[c][(o, tap)] = dw[o][c][tap]
// (the substitution q = p + tap - P). The smaller-channel tensor is gathered,
// so the RGB layers do 3*K*K gathered columns, not 64*K*K.
struct DwParams {
    const float* dense;
    const float* gath;
    float* part;  // [chunks][rows][ncols_ext]
    int64_t npix;
    int64_t chunk_len;  // pixels per chunk, a multiple of kBK
    int hw, h, w;
    int rows, gch, k, sgn;
    int ncols, ncols_ext;  // gch*K*K, + 1 for a column of ones (db) when wanted
    int mtiles, ntiles;
};

template <class Cfg>
__global__ void __launch_bounds__(kThreads, 3) conv_dw_kernel(const DwParams p) {
    constexpr int BM = Cfg::BM, BN = Cfg::BN, BK = Cfg::BK, TM = Cfg::TM, TN = Cfg::TN;
    // Loader mapping: 8 consecutive pixels x 4 rows per warp, so global loads
    // are 32-byte runs and the transposing shared stores hit 32 banks.
    static_assert(BK % 8 == 0 && (kThreads / 32) % (BK / 8) == 0, "loader mapping");
    constexpr int G = kThreads / BK;  // row groups
    static_assert(BM % G == 0 && BN % G == 0, "loader mapping");
    constexpr int AL = BM / G, BL = BN / G;
    __shared__ __align__(16) float As[2][BK * Cfg::AS];
    __shared__ __align__(16) float Bs[2][BK * Cfg::BS];
    __shared__ ColDesc desc[BN];

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    unsigned rest = blockIdx.x;
    const int m0 = static_cast<int>(rest % static_cast<unsigned>(p.mtiles)) * BM;
    rest /= static_cast<unsigned>(p.mtiles);
    const int n0 = static_cast<int>(rest % static_cast<unsigned>(p.ntiles)) * BN;
    const int64_t chunk = rest / static_cast<unsigned>(p.ntiles);
    const int64_t pstart = chunk * p.chunk_len;
    const int64_t pend = min(pstart + p.chunk_len, p.npix);
    const int ktiles = static_cast<int>((pend - pstart + BK - 1) / BK);
    const int P = p.k >> 1;
    const int kk = p.k * p.k;
    const int64_t HWl = p.hw;

    for (int c = tid; c < BN; c += kThreads) {
        const int n = n0 + c;
        ColDesc d;
        if (n < p.ncols) {
            const int ci = n / kk, tap = n - ci * kk;
            const int ky = tap / p.k;
            d.dy = p.sgn * (ky - P);
            d.dx = p.sgn * (tap - ky * p.k - P);
            d.off = (static_cast<long long>(ci) * HWl + d.dy * p.w + d.dx) * 4;
        } else if (n < p.ncols_ext) {
            d.off = 0;
            d.dy = 0;
            d.dx = kOnes;
        } else {
            d.off = 0;
            d.dy = kOutside;
            d.dx = 0;
        }
        desc[c] = d;
    }

    const int pl = (lane & 7) + 8 * (warp % (BK / 8));  // pixel row of the k-tile
    const int gr = (lane >> 3) + 4 * (warp / (BK / 8));  // first m / n of this thread
    // This thread's pixel: decoded once, then advanced by BK per tile
    // (r = yy*W + xx inside image img).
    int64_t pix = pstart + pl;
    const int64_t img = pix / HWl;
    int r = static_cast<int>(pix - img * HWl);
    int yy = r / p.w;
    int xx = r - yy * p.w;
    const float* gimg = p.gath + img * p.gch * HWl;
    const float* dimg = p.dense + img * p.rows * HWl;
    const unsigned H = static_cast<unsigned>(p.h), W = static_cast<unsigned>(p.w);

    float areg[AL], breg[BL];
    auto load_tile = [&]() {
        const bool pv = pix < pend;
        const int yv = pv ? yy : kOutside;
        const char* gpix = reinterpret_cast<const char*>(gimg + r);
#pragma unroll
        for (int j = 0; j < AL; ++j) {
            const int m = m0 + gr + G * j;
            areg[j] = (pv && m < p.rows) ? __ldg(dimg + static_cast<int64_t>(m) * HWl + r) : 0.f;
        }
#pragma unroll
        for (int j = 0; j < BL; ++j) {
            const ColDesc d = desc[gr + G * j];
            const int iy = yv + d.dy, ix = xx + d.dx;
            float v = 0.f;
            if (static_cast<unsigned>(iy) < H && static_cast<unsigned>(ix) < W)
                v = __ldg(reinterpret_cast<const float*>(gpix + d.off));
            if (d.dx == kOnes && pv) v = 1.f;
            breg[j] = v;
        }
        // Next tile's pixel (may cross images, several when H*W < BK).
        pix += BK;
        r += BK;
        xx += BK;
        while (xx >= p.w) {
            xx -= p.w;
            ++yy;
        }
        while (yy >= p.h) {
            yy -= p.h;
            r -= p.hw;
            gimg += p.gch * HWl;
            dimg += p.rows * HWl;
        }
    };
    auto store_tile = [&](int buf) {
#pragma unroll
        for (int j = 0; j < AL; ++j) As[buf][pl * Cfg::AS + gr + G * j] = areg[j];
#pragma unroll
        for (int j = 0; j < BL; ++j) Bs[buf][pl * Cfg::BS + gr + G * j] = breg[j];
    };

    int tm, tn;
    thread_pos<Cfg>(tm, tn);
    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

    __syncthreads();  // descriptors ready
    load_tile();
    store_tile(0);
    __syncthreads();
    for (int kt = 0; kt < ktiles; ++kt) {
        const int cur = kt & 1;
        const bool more = kt + 1 < ktiles;
        if (more) load_tile();
        tile_fma<Cfg>(As[cur], Bs[cur], tm, tn, acc);
        if (more) store_tile(cur ^ 1);
        __syncthreads();
    }

    float* out = p.part + chunk * p.rows * static_cast<int64_t>(p.ncols_ext);
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const int m = m0 + micro_row<Cfg>(tm, i);
        if (m >= p.rows) continue;
#pragma unroll
        for (int j = 0; j < TN; ++j) {
            const int n = n0 + micro_col<Cfg>(tn, j);
            if (n < p.ncols_ext) out[static_cast<int64_t>(m) * p.ncols_ext + n] = acc[i][j];
        }
    }
}

// Sums the chunks in a fixed order and adds into dw (and db from the ones
// column). transposed: rows are x's channels and columns (o, tap).
__global__ void dw_reduce_kernel(const float* __restrict__ part, int64_t chunks, int64_t per_chunk, int rows,
                                 int ncols, int ncols_ext, int kk, bool transposed, float* __restrict__ dw,
                                 float* __restrict__ db) {
    const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (idx >= per_chunk) return;
    double s = 0.0;
    for (int64_t c = 0; c < chunks; ++c) s += part[c * per_chunk + idx];
    const int64_t m = idx / ncols_ext, n = idx - m * ncols_ext;
    if (n < ncols) {
        if (transposed) {
            const int64_t o = n / kk, tap = n - o * kk;
            dw[(o * rows + m) * kk + tap] += static_cast<float>(s);
        } else {
            dw[m * ncols + n] += static_cast<float>(s);
        }
    } else {
        db[m] += static_cast<float>(s);
    }
}

template <class Cfg>
void dw_gemm(const DwParams& p0, float* dw, float* db, bool transposed) {
    DwParams p = p0;
    p.mtiles = (p.rows + Cfg::BM - 1) / Cfg::BM;
    p.ntiles = (p.ncols_ext + Cfg::BN - 1) / Cfg::BN;
    // Chunks from the shape alone (never the device), so results are the
    // same bits on any GPU: about 2048 blocks in all, at least 8 k-tiles per
    // chunk, at most 1024 chunks.
    const int64_t ptiles = (p.npix + kBK - 1) / kBK;
    const int64_t tiles_mn = static_cast<int64_t>(p.mtiles) * p.ntiles;
    int64_t chunks = std::min<int64_t>((2048 + tiles_mn - 1) / tiles_mn, 1024);
    chunks = std::max<int64_t>(1, std::min(chunks, ptiles / 8));
    p.chunk_len = (ptiles + chunks - 1) / chunks * kBK;
    chunks = (p.npix + p.chunk_len - 1) / p.chunk_len;
    const int64_t per_chunk = static_cast<int64_t>(p.rows) * p.ncols_ext;
    Scratch part(static_cast<size_t>(chunks * per_chunk) * sizeof(float), "conv2d_backward");
    p.part = part.as<float>();
    conv_dw_kernel<Cfg><<<static_cast<unsigned>(tiles_mn * chunks), kThreads>>>(p);
    SR_CUDA_CHECK_LAUNCH("conv2d_backward dw");
    dw_reduce_kernel<<<static_cast<unsigned>((per_chunk + 255) / 256), 256>>>(
        p.part, chunks, per_chunk, p.rows, p.ncols, p.ncols_ext, p.k * p.k, transposed, dw, db);
    SR_CUDA_CHECK_LAUNCH("conv2d_backward dw reduce");
}

// db[o] += sum of dy[:, o]: per (split, o) block a fixed-order partial, then
// one thread per channel adds the splits in order.
constexpr int kDbThreads = 256;
__global__ void __launch_bounds__(kDbThreads) db_partial_kernel(const float* __restrict__ dy, int64_t n, int64_t o,
                                                                int64_t hw, int splits, double* __restrict__ part) {
    __shared__ double red[kDbThreads];
    const int64_t ch = blockIdx.y;
    const int64_t stride = static_cast<int64_t>(splits) * kDbThreads;
    double acc = 0.0;
    for (int64_t img = 0; img < n; ++img) {
        const float* src = dy + (img * o + ch) * hw;
        for (int64_t i = static_cast<int64_t>(blockIdx.x) * kDbThreads + threadIdx.x; i < hw; i += stride)
            acc += src[i];
    }
    red[threadIdx.x] = acc;
    __syncthreads();
    for (int h = kDbThreads / 2; h > 0; h >>= 1) {
        if (static_cast<int>(threadIdx.x) < h) red[threadIdx.x] += red[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0) part[ch * splits + blockIdx.x] = red[0];
}

__global__ void db_final_kernel(const double* __restrict__ part, int64_t o, int splits, float* __restrict__ db) {
    const int64_t ch = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (ch >= o) return;
    double s = 0.0;
    for (int i = 0; i < splits; ++i) s += part[ch * splits + i];
    db[ch] += static_cast<float>(s);
}

void db_only(const float* dy, float* db, const Conv2dShape& s) {
    const int64_t hw = s.h * s.w;
    int64_t splits = std::min<int64_t>((1024 + s.o - 1) / s.o, (hw + kDbThreads - 1) / kDbThreads);
    splits = std::max<int64_t>(1, std::min<int64_t>(splits, 1024));
    Scratch part(static_cast<size_t>(s.o * splits) * sizeof(double), "conv2d_backward");
    // blockIdx.y holds the channel: O <= 65535 (the bindings never see more).
    db_partial_kernel<<<dim3(static_cast<unsigned>(splits), static_cast<unsigned>(s.o)), kDbThreads>>>(
        dy, s.n, s.o, hw, static_cast<int>(splits), part.as<double>());
    SR_CUDA_CHECK_LAUNCH("conv2d_backward db");
    db_final_kernel<<<static_cast<unsigned>((s.o + 127) / 128), 128>>>(part.as<double>(), s.o,
                                                                        static_cast<int>(splits), db);
    SR_CUDA_CHECK_LAUNCH("conv2d_backward db final");
}

void dw_db(const float* x, const float* dy, float* dw, float* db, const Conv2dShape& s) {
    DwParams p{};
    p.npix = s.n * s.h * s.w;
    p.hw = static_cast<int>(s.h * s.w);
    p.h = static_cast<int>(s.h);
    p.w = static_cast<int>(s.w);
    p.k = static_cast<int>(s.k);
    const bool transposed = s.o < s.c;  // gather dy, the smaller side
    if (transposed) {
        p.dense = x;
        p.rows = static_cast<int>(s.c);
        p.gath = dy;
        p.gch = static_cast<int>(s.o);
        p.sgn = -1;
    } else {
        p.dense = dy;
        p.rows = static_cast<int>(s.o);
        p.gath = x;
        p.gch = static_cast<int>(s.c);
        p.sgn = 1;
    }
    p.ncols = static_cast<int>(p.gch * s.k * s.k);
    const bool db_col = db && !transposed;  // the ones column sums dy's rows
    p.ncols_ext = p.ncols + (db_col ? 1 : 0);
    if (p.ncols_ext <= CfgFewCols::BN)
        dw_gemm<CfgFewCols>(p, dw, db, transposed);
    else if (p.rows <= CfgNarrow::BM)
        dw_gemm<CfgNarrow>(p, dw, db, transposed);
    else
        dw_gemm<CfgWide>(p, dw, db, transposed);
    if (db && !db_col) db_only(dy, db, s);
}

}  // namespace
}  // namespace conv_detail

void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const Conv2dShape& s, const float* dx_residual) {
    using namespace conv_detail;
    if (s.n <= 0 || s.h <= 0 || s.w <= 0) return;
    if (dx) {
        // dx = conv(dy, w') with dy's O channels as the GEMM's input.
        Conv2dEpilogue e;
        e.residual = dx_residual;
        conv_forward_any(dy, w, true, dx, nchw_geom(s.n, s.h, s.w, s.o, s.c, s.k), e);
    }
    if (dw)
        dw_db(x, dy, dw, db, s);
    else if (db)
        db_only(dy, db, s);
}

}  // namespace sr_native::cuda
