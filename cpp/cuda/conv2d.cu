// conv2d forward on CUDA: an fp32 implicit GEMM (see conv2d_tiles.cuh).
//
// Per block: a BM x BN output tile (output channels x flattened pixels),
// reduction in k-tiles of 16 rows. A (packed weights) arrives as float4 rows;
// B (im2col of x) is gathered by threads that each keep fixed pixel columns,
// so the pixel decode (img, y, x) happens once per block. Both go through
// registers into a double-buffered shared tile: the loads for tile t+1 are in
// flight while tile t is multiplied, one __syncthreads per k-tile.
//
// Few output channels (M <= 8, K >= 3: the RGB output layer, dx of the first
// layer) go to a direct kernel instead (conv_direct_kernel below).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "conv2d_tiles.cuh"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda {
namespace conv_detail {
namespace {

// A pixel column outside the tensor gets this row: every tap's bounds check fails.
constexpr int kOutside = -0x40000000;

struct FwdParams {
    const float* x;
    const float* At;
    float* y;
    const float* bias;
    const float* residual;  // may alias y
    float res_scale;
    int relu;
    int vec;  // float4 epilogue (4-pixel groups aligned and inside one image)
    int64_t npix;
    int hw, h, w;
    int cin, m, k;
    int kdim, ktiles, mpad, mtiles;
    int64_t xcs, xis, ycs, yis;
};

// 3 blocks (12 warps) per SM: up to 168 registers, so the 8x8 accumulators,
// the prefetch registers and the addressing fit without spills (4 blocks
// would cap at 128 registers and spill).
constexpr int kFwdMinBlocks = 3;

template <class Cfg, bool kFast>
__global__ void __launch_bounds__(kThreads, kFwdMinBlocks) conv_fwd_kernel(const FwdParams p) {
    constexpr int BM = Cfg::BM, BN = Cfg::BN, BK = Cfg::BK, TM = Cfg::TM, TN = Cfg::TN;
    constexpr int CPT = BN / kThreads;  // gathered pixel columns per thread
    static_assert(BN % kThreads == 0, "whole columns per thread");
    constexpr int A4 = BK * BM / 4;  // float4 per A tile
    constexpr int ALD = (A4 + kThreads - 1) / kThreads;
    __shared__ __align__(16) float As[2][BK * Cfg::AS];
    __shared__ __align__(16) float Bs[2][BK * Cfg::BS];

    const int tid = threadIdx.x;
    const int m0 = static_cast<int>(blockIdx.x % static_cast<unsigned>(p.mtiles)) * BM;
    const int64_t p0 = static_cast<int64_t>(blockIdx.x / static_cast<unsigned>(p.mtiles)) * BN;
    const int P = p.k >> 1;
    const unsigned H = static_cast<unsigned>(p.h), W = static_cast<unsigned>(p.w);

    // The pixel columns this thread gathers: decoded once.
    const float* xcol[CPT];
    int cy[CPT], cx[CPT];
#pragma unroll
    for (int j = 0; j < CPT; ++j) {
        const int64_t pix = p0 + tid + j * kThreads;
        if (pix < p.npix) {
            const int64_t img = pix / p.hw;
            const int r = static_cast<int>(pix - img * p.hw);
            cy[j] = r / p.w;
            cx[j] = r - cy[j] * p.w;
            xcol[j] = p.x + img * p.xis + r;
        } else {
            cy[j] = kOutside;
            cx[j] = 0;
            xcol[j] = p.x;
        }
    }

    float4 areg[ALD];
    float breg[CPT][BK];

    // Gather state. Fast order: a k-tile is channels c0..c0+15 of tap (dyv, dxv).
    // Generic order: rows walk (ci, ky, kx) one by one; roff = ci*xcs + dyv*W + dxv.
    int c0 = 0, dyv = -P, dxv = -P;
    int64_t roff = -static_cast<int64_t>(P) * p.w - P;
    int krow = 0;

    auto load_tile = [&](int kt) {
#pragma unroll
        for (int q = 0; q < ALD; ++q) {
            const int idx = tid + q * kThreads;
            if (A4 % kThreads == 0 || idx < A4) {
                const int r = idx / (BM / 4), c4 = idx % (BM / 4);
                areg[q] = __ldg(reinterpret_cast<const float4*>(p.At + static_cast<int64_t>(kt * BK + r) * p.mpad +
                                                                m0 + c4 * 4));
            }
        }
        if constexpr (kFast) {
            const int64_t coff = static_cast<int64_t>(c0) * p.xcs + static_cast<int64_t>(dyv) * p.w + dxv;
#pragma unroll
            for (int j = 0; j < CPT; ++j) {
                const bool ok = static_cast<unsigned>(cy[j] + dyv) < H && static_cast<unsigned>(cx[j] + dxv) < W;
                if (ok) {
                    const float* src = xcol[j] + coff;
#pragma unroll
                    for (int i = 0; i < BK; ++i) breg[j][i] = __ldg(src + i * p.xcs);
                } else {
#pragma unroll
                    for (int i = 0; i < BK; ++i) breg[j][i] = 0.f;
                }
            }
            c0 += BK;
            if (c0 == p.cin) {
                c0 = 0;
                if (++dxv > P) {
                    dxv = -P;
                    ++dyv;
                }
            }
        } else {
#pragma unroll
            for (int i = 0; i < BK; ++i) {
                const bool kin = krow < p.kdim;
#pragma unroll
                for (int j = 0; j < CPT; ++j) {
                    const bool ok =
                        kin && static_cast<unsigned>(cy[j] + dyv) < H && static_cast<unsigned>(cx[j] + dxv) < W;
                    breg[j][i] = ok ? __ldg(xcol[j] + roff) : 0.f;
                }
                ++krow;
                ++roff;
                if (++dxv > P) {
                    dxv = -P;
                    roff += p.w - p.k;
                    if (++dyv > P) {
                        dyv = -P;
                        roff += p.xcs - static_cast<int64_t>(p.k) * p.w;
                    }
                }
            }
        }
    };
    auto store_tile = [&](int buf) {
#pragma unroll
        for (int q = 0; q < ALD; ++q) {
            const int idx = tid + q * kThreads;
            if (A4 % kThreads == 0 || idx < A4) {
                const int r = idx / (BM / 4), c4 = idx % (BM / 4);
                *reinterpret_cast<float4*>(&As[buf][r * Cfg::AS + c4 * 4]) = areg[q];
            }
        }
#pragma unroll
        for (int j = 0; j < CPT; ++j)
#pragma unroll
            for (int i = 0; i < BK; ++i) Bs[buf][i * Cfg::BS + tid + j * kThreads] = breg[j][i];
    };

    int tm, tn;
    thread_pos<Cfg>(tm, tn);
    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

    load_tile(0);
    store_tile(0);
    __syncthreads();
    for (int kt = 0; kt < p.ktiles; ++kt) {
        const int cur = kt & 1;
        const bool more = kt + 1 < p.ktiles;
        if (more) load_tile(kt + 1);  // global loads in flight during the FMAs
        tile_fma<Cfg>(As[cur], Bs[cur], tm, tn, acc);
        // buf cur^1 was last read in iteration kt-1, which ended with a barrier.
        if (more) store_tile(cur ^ 1);
        __syncthreads();
    }

    // Epilogue: bias -> relu -> residual + res_scale * t, stored along pixels.
    float bias_r[TM];
    bool mok[TM];
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const int m = m0 + micro_row<Cfg>(tm, i);
        mok[i] = m < p.m;
        bias_r[i] = (p.bias && mok[i]) ? p.bias[m] : 0.f;
    }
    auto finish = [&](float t, float b) {
        t += b;
        if (p.relu) t = t < 0.f ? 0.f : t;
        return t * p.res_scale;
    };
#pragma unroll
    for (int g = 0; g < TN / 4; ++g) {
        const int64_t pix0 = p0 + micro_col<Cfg>(tn, 4 * g);
        if (p.vec) {
            if (pix0 < p.npix) {  // npix % 4 == 0 here: the whole group is inside
                const int64_t img = pix0 / p.hw;
                const int64_t base = img * p.yis + (pix0 - img * p.hw);
#pragma unroll
                for (int i = 0; i < TM; ++i) {
                    if (!mok[i]) continue;
                    const int64_t off = base + static_cast<int64_t>(m0 + micro_row<Cfg>(tm, i)) * p.ycs;
                    float4 v;
                    v.x = finish(acc[i][4 * g + 0], bias_r[i]);
                    v.y = finish(acc[i][4 * g + 1], bias_r[i]);
                    v.z = finish(acc[i][4 * g + 2], bias_r[i]);
                    v.w = finish(acc[i][4 * g + 3], bias_r[i]);
                    if (p.residual) {
                        const float4 r = *reinterpret_cast<const float4*>(p.residual + off);
                        v.x += r.x;
                        v.y += r.y;
                        v.z += r.z;
                        v.w += r.w;
                    }
                    *reinterpret_cast<float4*>(p.y + off) = v;
                }
            }
        } else {
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                const int64_t pix = pix0 + q;
                if (pix >= p.npix) continue;
                const int64_t img = pix / p.hw;
                const int64_t base = img * p.yis + (pix - img * p.hw);
#pragma unroll
                for (int i = 0; i < TM; ++i) {
                    if (!mok[i]) continue;
                    const int64_t off = base + static_cast<int64_t>(m0 + micro_row<Cfg>(tm, i)) * p.ycs;
                    float v = finish(acc[i][4 * g + q], bias_r[i]);
                    if (p.residual) v += p.residual[off];
                    p.y[off] = v;
                }
            }
        }
    }
}

__global__ void pack_weights_kernel(const float* __restrict__ w, float* __restrict__ At, int64_t cin, int64_t m,
                                    int k, int64_t kdim, int64_t cols, int64_t total, bool flip, bool fast) {
    const int kk = k * k;
    for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
         idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int64_t r = idx / cols, mm = idx - r * cols;
        float v = 0.f;
        if (r < kdim && mm < m) {
            int64_t ci;
            int tap;
            if (fast) {
                tap = static_cast<int>(r / cin);
                ci = r - tap * cin;
            } else {
                ci = r / kk;
                tap = static_cast<int>(r - ci * kk);
            }
            const int ky = tap / k, kx = tap - ky * k;
            v = flip ? w[((ci * m + mm) * k + (k - 1 - ky)) * k + (k - 1 - kx)]
                     : w[((mm * cin + ci) * k + ky) * k + kx];
        }
        At[idx] = v;
    }
}

// ------------------------------------------------------------------------
// Direct kernel for few output channels (M <= 8, K >= 3). The GEMM would
// gather each x value once per tap (K*K loads for M FMAs); here a 32 x 32
// pixel tile of CC channels (with halo) is staged in shared memory once, and
// each thread slides a column window of 8 + K - 1 values through registers,
// so a loaded value serves K taps of OB outputs. One pixel column per lane
// (conflict-free, coalesced), 8 rows per thread, 4 warps stacked. Staging is
// cp.async (sm_80+) into a double buffer: the next channels load while these
// are multiplied, with no registers spent on them.
constexpr int kDirTW = 32;          // tile width: one column per lane
constexpr int kDirPX = 8;           // rows per thread
constexpr int kDirTH = 4 * kDirPX;  // tile height: 4 warps
// Channels per stage: the double buffer stays under 48 KiB of static shared memory.
template <int K>
__host__ __device__ constexpr int dir_cc() { return K <= 5 ? 4 : 2; }

struct DirParams {
    const float* x;
    const float* w;
    float* y;
    const float* bias;
    const float* residual;  // may alias y
    float res_scale;
    int relu;
    int h, w_, cin, m;
    int tiles_x, tiles_y;
    int64_t xcs, xis, ycs, yis;
    // weight of (output o, input c, tap ky, kx) = w[o*wso + c*wsc + wbase + ky*wsky + kx*wskx]
    int64_t wso, wsc;
    int wbase, wsky, wskx;
};

// 4-byte asynchronous copy global -> shared; src_bytes == 0 writes a zero.
__device__ __forceinline__ void cp_async4(float* dst, const float* src, bool ok) {
    const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(d), "l"(src), "r"(ok ? 4 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

template <int K, int OB>
__global__ void __launch_bounds__(kThreads) conv_direct_kernel(const DirParams p) {
    constexpr int P = K / 2, RH = kDirTH + K - 1, RW = kDirTW + K - 1, KK = K * K;
    constexpr int CC = dir_cc<K>();
    constexpr int WARPS = kThreads / 32;
    static_assert((CC * RH) % WARPS == 0, "whole rows per warp");
    static_assert(OB % 4 == 0, "float4 weight reads");
    constexpr int WN = CC * KK * OB;  // staged weights per step
    __shared__ float sx[2][CC][RH][RW];
    __shared__ __align__(16) float sw[2][WN];

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    unsigned t = blockIdx.x;
    const int tx = static_cast<int>(t % static_cast<unsigned>(p.tiles_x));
    t /= static_cast<unsigned>(p.tiles_x);
    const int ty = static_cast<int>(t % static_cast<unsigned>(p.tiles_y));
    const int64_t img = t / static_cast<unsigned>(p.tiles_y);
    const int x0 = tx * kDirTW, y0 = ty * kDirTH;
    const float* xb = p.x + img * p.xis;
    // Staging map: WPC warps per staged channel, each taking every WPC-th row
    // (lane = column); the K-1 halo columns of a warp's rows go in a few extra
    // warp-wide copies. All per-row work is a compare and a pointer step.
    constexpr int WPC = WARPS / CC;
    static_assert(WARPS % CC == 0 && RH % WPC == 0, "staging map");
    constexpr int RPW = RH / WPC;              // rows per warp
    constexpr int HALO = RPW * (K - 1);        // halo copies per warp
    constexpr int HQ = (HALO + 31) / 32;
    const int wcc = warp / WPC, wr0 = warp % WPC;
    const unsigned H = static_cast<unsigned>(p.h), W = static_cast<unsigned>(p.w_);
    const int gx0 = x0 - P + lane;
    const bool cok0 = static_cast<unsigned>(gx0) < W;

    const int gy0 = y0 - P + wr0;  // first staged row of this warp
    const int64_t rstep = static_cast<int64_t>(WPC) * p.w_;
    // Staged weights: element i = tid + kThreads*j is (cc, tap, o); its offset
    // in w for channel c0 + cc is wofs[j] + c0*wsc (weights have < 2^31 values).
    constexpr int WJ = (WN + kThreads - 1) / kThreads;
    int wofs[WJ], wcc_[WJ];
#pragma unroll
    for (int j = 0; j < WJ; ++j) {
        const int i = threadIdx.x + kThreads * j;
        const int o = i % OB, r = i / OB;
        const int tap = r % KK, cc = r / KK;
        const int ky = tap / K, kx = tap - ky * K;
        const bool ok = i < WN && o < p.m;
        wofs[j] = ok ? static_cast<int>(o * p.wso + cc * p.wsc + p.wbase + ky * p.wsky + kx * p.wskx) : 0;
        wcc_[j] = ok ? cc : 1 << 30;  // never a valid channel
    }

    // Branch-free issue: per row a compare, a pointer step and one cp.async.
    auto issue = [&](int buf, int c0) {
        const int c = c0 + wcc;
        const bool cin_ok = c < p.cin;
        const float* rowp = xb + static_cast<int64_t>(cin_ok ? c : 0) * p.xcs + static_cast<int64_t>(gy0) * p.w_;
        float* srow = &sx[buf][wcc][wr0][0];
#pragma unroll 2
        for (int i = 0; i < RPW; ++i) {
            const bool ok = cin_ok && cok0 && static_cast<unsigned>(gy0 + WPC * i) < H;
            cp_async4(srow + i * WPC * RW + lane, ok ? rowp + gx0 : xb, ok);
            rowp += rstep;
        }
        const float* chan = xb + static_cast<int64_t>(cin_ok ? c : 0) * p.xcs;
#pragma unroll
        for (int q = 0; q < HQ; ++q) {
            const int e = lane + 32 * q;
            if (HALO % 32 == 0 || e < HALO) {
                const int i = e / (K - 1), hc = e - i * (K - 1);
                const int gy = gy0 + WPC * i, gx = x0 - P + 32 + hc;
                const bool ok = cin_ok && static_cast<unsigned>(gy) < H && static_cast<unsigned>(gx) < W;
                cp_async4(srow + i * WPC * RW + 32 + hc, ok ? chan + static_cast<int64_t>(gy) * p.w_ + gx : xb, ok);
            }
        }
        const int cofs = c0 * static_cast<int>(p.wsc);
#pragma unroll
        for (int j = 0; j < WJ; ++j) {
            const int i = threadIdx.x + kThreads * j;
            if (WN % kThreads == 0 || i < WN) {
                const bool ok = c0 + wcc_[j] < p.cin;
                cp_async4(&sw[buf][i], ok ? p.w + (wofs[j] + cofs) : p.w, ok);
            }
        }
        cp_async_commit();
    };

    float acc[OB][kDirPX];
#pragma unroll
    for (int o = 0; o < OB; ++o)
#pragma unroll
        for (int j = 0; j < kDirPX; ++j) acc[o][j] = 0.f;

    const int nsteps = (p.cin + CC - 1) / CC;
    issue(0, 0);
    for (int s = 0; s < nsteps; ++s) {
        const int buf = s & 1;
        if (s + 1 < nsteps) {
            issue(buf ^ 1, (s + 1) * CC);  // buf^1 was last read in step s-1, before its closing barrier
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
#pragma unroll 1
        for (int cc = 0; cc < CC; ++cc) {
#pragma unroll
            for (int kx = 0; kx < K; ++kx) {
                float seg[kDirPX + K - 1];
#pragma unroll
                for (int j = 0; j < kDirPX + K - 1; ++j) seg[j] = sx[buf][cc][warp * kDirPX + j][lane + kx];
#pragma unroll
                for (int ky = 0; ky < K; ++ky) {
                    float wv[OB];
#pragma unroll
                    for (int q = 0; q < OB / 4; ++q) {
                        const float4 v =
                            *reinterpret_cast<const float4*>(&sw[buf][(cc * KK + ky * K + kx) * OB + 4 * q]);
                        wv[4 * q + 0] = v.x;
                        wv[4 * q + 1] = v.y;
                        wv[4 * q + 2] = v.z;
                        wv[4 * q + 3] = v.w;
                    }
#pragma unroll
                    for (int o = 0; o < OB; ++o)
#pragma unroll
                        for (int j = 0; j < kDirPX; ++j) acc[o][j] = fmaf(wv[o], seg[j + ky], acc[o][j]);
                }
            }
        }
        __syncthreads();  // reads of buf done before step s+2 refills it
    }

    const int gx = x0 + lane;
    if (gx >= p.w_) return;
#pragma unroll
    for (int o = 0; o < OB; ++o) {
        if (o >= p.m) break;
        const float b = p.bias ? p.bias[o] : 0.f;
        const int64_t base = img * p.yis + o * p.ycs + gx;
#pragma unroll
        for (int j = 0; j < kDirPX; ++j) {
            const int gy = y0 + warp * kDirPX + j;
            if (gy >= p.h) break;
            const int64_t off = base + static_cast<int64_t>(gy) * p.w_;
            float v = acc[o][j] + b;
            if (p.relu) v = v < 0.f ? 0.f : v;
            v *= p.res_scale;
            if (p.residual) v += p.residual[off];
            p.y[off] = v;
        }
    }
}

template <int K>
void launch_direct_k(const DirParams& p, unsigned blocks) {
    if (p.m <= 4)
        conv_direct_kernel<K, 4><<<blocks, kThreads>>>(p);
    else
        conv_direct_kernel<K, 8><<<blocks, kThreads>>>(p);
}

// Whether the direct kernel takes (m, k, h): few outputs, a spatial kernel
// (K = 1 has no taps to share) and images tall enough for its 32-row tiles.
bool use_direct(int64_t m, int64_t k, int64_t h) { return m <= 8 && k >= 3 && h >= 8; }

void run_direct(const float* x, const float* w, bool flip, float* y, const GemmGeom& g, const Conv2dEpilogue& e) {
    DirParams p{};
    p.x = x;
    p.w = w;
    p.y = y;
    p.bias = e.bias;
    p.residual = e.residual;
    p.res_scale = e.res_scale;
    p.relu = e.relu ? 1 : 0;
    p.h = static_cast<int>(g.h);
    p.w_ = static_cast<int>(g.w);
    p.cin = static_cast<int>(g.cin);
    p.m = static_cast<int>(g.m);
    p.tiles_x = static_cast<int>((g.w + kDirTW - 1) / kDirTW);
    p.tiles_y = static_cast<int>((g.h + kDirTH - 1) / kDirTH);
    p.xcs = g.xcs;
    p.xis = g.xis;
    p.ycs = g.ycs;
    p.yis = g.yis;
    const int k = static_cast<int>(g.k), kk = k * k;
    if (flip) {  // w is (cin, m, k, k); mirrored taps
        p.wso = kk;
        p.wsc = g.m * kk;
        p.wbase = kk - 1;
        p.wsky = -k;
        p.wskx = -1;
    } else {  // w is (m, cin, k, k)
        p.wso = g.cin * kk;
        p.wsc = kk;
        p.wbase = 0;
        p.wsky = k;
        p.wskx = 1;
    }
    const unsigned blocks = static_cast<unsigned>(g.n * p.tiles_x * p.tiles_y);
    switch (k) {
        case 3: launch_direct_k<3>(p, blocks); break;
        case 5: launch_direct_k<5>(p, blocks); break;
        case 7: launch_direct_k<7>(p, blocks); break;
        default: launch_direct_k<9>(p, blocks); break;
    }
    SR_CUDA_CHECK_LAUNCH("conv2d_forward direct");
}

template <class Cfg>
void launch_forward(FwdParams p, bool fast) {
    p.ktiles = p.ktiles * kBK / Cfg::BK;
    const int64_t ntiles = (p.npix + Cfg::BN - 1) / Cfg::BN;
    const int64_t blocks = ntiles * p.mtiles;
    if (fast)
        conv_fwd_kernel<Cfg, true><<<static_cast<unsigned>(blocks), kThreads>>>(p);
    else
        conv_fwd_kernel<Cfg, false><<<static_cast<unsigned>(blocks), kThreads>>>(p);
    SR_CUDA_CHECK_LAUNCH("conv2d_forward");
}

bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

void pack_weights(const float* w, float* At, int64_t cin, int64_t m, int64_t k, bool flip) {
    const int64_t cols = packed_cols(m);
    const int64_t total = packed_rows(cin, k) * cols;
    const int64_t blocks = std::min<int64_t>((total + 255) / 256, 4096);
    pack_weights_kernel<<<static_cast<unsigned>(blocks), 256>>>(w, At, cin, m, static_cast<int>(k), cin * k * k,
                                                                 cols, total, flip, fast_order(cin));
    SR_CUDA_CHECK_LAUNCH("conv2d pack_weights");
}

// y = epilogue(At * im2col(x)); At from pack_weights with the same cin, m, k.
void gemm_forward(const float* x, const float* At, float* y, const GemmGeom& g, const Conv2dEpilogue& e) {
    FwdParams p{};
    p.x = x;
    p.At = At;
    p.y = y;
    p.bias = e.bias;
    p.residual = e.residual;
    p.res_scale = e.res_scale;
    p.relu = e.relu ? 1 : 0;
    p.npix = g.n * g.h * g.w;
    if (p.npix <= 0 || g.m <= 0) return;
    p.hw = static_cast<int>(g.h * g.w);
    p.h = static_cast<int>(g.h);
    p.w = static_cast<int>(g.w);
    p.cin = static_cast<int>(g.cin);
    p.m = static_cast<int>(g.m);
    p.k = static_cast<int>(g.k);
    p.kdim = static_cast<int>(g.cin * g.k * g.k);
    p.ktiles = static_cast<int>(packed_rows(g.cin, g.k) / kBK);  // in kBK rows; launch_forward rescales
    p.mpad = static_cast<int>(packed_cols(g.m));
    p.mtiles = static_cast<int>(p.mpad / tile_bm(g.m));
    p.xcs = g.xcs;
    p.xis = g.xis;
    p.ycs = g.ycs;
    p.yis = g.yis;
    p.vec = (p.hw % 4 == 0 && g.ycs % 4 == 0 && g.yis % 4 == 0 && aligned16(y) &&
             (!e.residual || aligned16(e.residual)))
                ? 1
                : 0;
    const bool fast = fast_order(g.cin);
    if (g.m <= CfgNarrow::BM)
        launch_forward<CfgNarrow>(p, fast);
    else
        launch_forward<CfgWide>(p, fast);
}

}  // namespace

void conv_forward_any(const float* x, const float* w, bool flip, float* y, const GemmGeom& g,
                      const Conv2dEpilogue& e) {
    if (g.n <= 0 || g.h <= 0 || g.w <= 0 || g.m <= 0) return;
    if (use_direct(g.m, g.k, g.h)) {
        run_direct(x, w, flip, y, g, e);
        return;
    }
    Scratch At(packed_floats(g.cin, g.m, g.k) * sizeof(float), "conv2d");
    pack_weights(w, At.as<float>(), g.cin, g.m, g.k, flip);
    gemm_forward(x, At.as<float>(), y, g, e);
}

}  // namespace conv_detail

void conv2d_forward(const float* x, const float* w, float* y, const Conv2dShape& s, const Conv2dEpilogue& e) {
    using namespace conv_detail;
    conv_forward_any(x, w, false, y, nchw_geom(s.n, s.h, s.w, s.c, s.o, s.k), e);
}

}  // namespace sr_native::cuda
