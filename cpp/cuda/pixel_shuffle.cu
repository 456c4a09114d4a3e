// Pixel shuffle / unshuffle on the GPU: pure data movement, bit-exact.
//
// One thread per output element (grid-stride), so consecutive threads write
// consecutive addresses (coalesced stores); the reads are strided by r. The
// output index is split into (row, column, ...) by division: tensors under
// 2^31 elements use 32-bit multiply-shift division by precomputed magic
// numbers (a few instructions instead of ~40 for a 64-bit divide, which would
// otherwise make these copies compute-bound); larger ones use plain int64.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "launch_common.cuh"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda {
namespace {

using namespace common;

// Unsigned division n / d for n < 2^31 (Granlund-Montgomery round-up method):
// with s = ceil(log2 d) and m = floor(2^32 (2^s - d) / d) + 1, the quotient is
// (umulhi(n, m) + n) >> s. umulhi(n, m) <= n, so the sum stays below 2^32
// exactly when n < 2^31, which is why this path is limited to such tensors.
struct FastDiv {
    uint32_t d = 1, m = 1, s = 0;
    FastDiv() = default;
    explicit FastDiv(uint32_t divisor) : d(divisor) {
        while ((uint64_t{1} << s) < d) ++s;
        m = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << s) - d)) / d + 1);
    }
    __device__ __forceinline__ uint32_t div(uint32_t n) const { return (__umulhi(n, m) + n) >> s; }
};

// ------------------------------------------------------------ shuffle
// y (N, C/r^2, H*r, W*r)[bc, oh, ow] = x[(bc*r*r + i*r + j), ih, iw] with
// oh = ih*r + i, ow = iw*r + j, bc = b*Co + oc (so b*C + oc*r*r = bc*r*r).

struct Shuffle32 {
    FastDiv wo, ho, r;
    uint32_t h, w;
};

__global__ void pixel_shuffle_32(const float* x, float* y, uint32_t total, Shuffle32 p) {
    const uint32_t stride = gridDim.x * blockDim.x;
    const uint32_t r = p.r.d;
    for (uint32_t e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
        const uint32_t t = p.wo.div(e), ow = e - t * p.wo.d;
        const uint32_t bc = p.ho.div(t), oh = t - bc * p.ho.d;
        const uint32_t iw = p.r.div(ow), j = ow - iw * r;
        const uint32_t ih = p.r.div(oh), i = oh - ih * r;
        y[e] = x[((bc * r * r + i * r + j) * p.h + ih) * p.w + iw];
    }
}

__global__ void pixel_shuffle_64(const float* x, float* y, int64_t total, int64_t wo, int64_t ho,
                                 int64_t r, int64_t h, int64_t w) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
         e += stride) {
        const int64_t t = e / wo, ow = e - t * wo;
        const int64_t bc = t / ho, oh = t - bc * ho;
        const int64_t iw = ow / r, j = ow - iw * r;
        const int64_t ih = oh / r, i = oh - ih * r;
        y[e] = x[((bc * r * r + i * r + j) * h + ih) * w + iw];
    }
}

// ---------------------------------------------------------- unshuffle
// y (N, C*r^2, H/r, W/r)[u, oh, ow] with u = b*Co + oc = q*r*r + i*r + j,
// q = b*C + ic, reads x[q, oh*r + i, ow*r + j].

struct Unshuffle32 {
    FastDiv wo, ho, rr, r;
    uint32_t h, w;
};

__global__ void pixel_unshuffle_32(const float* x, float* y, uint32_t total, Unshuffle32 p) {
    const uint32_t stride = gridDim.x * blockDim.x;
    const uint32_t r = p.r.d;
    for (uint32_t e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
        const uint32_t t = p.wo.div(e), ow = e - t * p.wo.d;
        const uint32_t u = p.ho.div(t), oh = t - u * p.ho.d;
        const uint32_t q = p.rr.div(u), rem = u - q * p.rr.d;
        const uint32_t i = p.r.div(rem), j = rem - i * r;
        y[e] = x[(q * p.h + oh * r + i) * p.w + ow * r + j];
    }
}

__global__ void pixel_unshuffle_64(const float* x, float* y, int64_t total, int64_t wo, int64_t ho,
                                   int64_t r, int64_t h, int64_t w) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
         e += stride) {
        const int64_t t = e / wo, ow = e - t * wo;
        const int64_t u = t / ho, oh = t - u * ho;
        const int64_t q = u / (r * r), rem = u - q * r * r;
        const int64_t i = rem / r, j = rem - i * r;
        y[e] = x[(q * h + oh * r + i) * w + ow * r + j];
    }
}

// Largest element count for the 32-bit path (see FastDiv).
constexpr int64_t kMax32 = (int64_t{1} << 31) - 1;

}  // namespace

void pixel_shuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int r) {
    const int64_t total = n * c * h * w;
    const int64_t ho = h * r, wo = w * r;
    const unsigned blocks = blocks_for(total);
    if (total <= kMax32) {
        Shuffle32 p;
        p.wo = FastDiv(static_cast<uint32_t>(wo));
        p.ho = FastDiv(static_cast<uint32_t>(ho));
        p.r = FastDiv(static_cast<uint32_t>(r));
        p.h = static_cast<uint32_t>(h);
        p.w = static_cast<uint32_t>(w);
        pixel_shuffle_32<<<blocks, kThreads>>>(x, y, static_cast<uint32_t>(total), p);
    } else {
        pixel_shuffle_64<<<blocks, kThreads>>>(x, y, total, wo, ho, r, h, w);
    }
    SR_CUDA_CHECK_LAUNCH("pixel_shuffle");
}

void pixel_unshuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int r) {
    const int64_t total = n * c * h * w;
    const int64_t ho = h / r, wo = w / r;
    const unsigned blocks = blocks_for(total);
    if (total <= kMax32) {
        Unshuffle32 p;
        p.wo = FastDiv(static_cast<uint32_t>(wo));
        p.ho = FastDiv(static_cast<uint32_t>(ho));
        p.rr = FastDiv(static_cast<uint32_t>(r) * static_cast<uint32_t>(r));
        p.r = FastDiv(static_cast<uint32_t>(r));
        p.h = static_cast<uint32_t>(h);
        p.w = static_cast<uint32_t>(w);
        pixel_unshuffle_32<<<blocks, kThreads>>>(x, y, static_cast<uint32_t>(total), p);
    } else {
        pixel_unshuffle_64<<<blocks, kThreads>>>(x, y, total, wo, ho, r, h, w);
    }
    SR_CUDA_CHECK_LAUNCH("pixel_unshuffle");
}

}  // namespace sr_native::cuda
