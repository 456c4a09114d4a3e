// Launch shapes and a deterministic block reduction shared by the
// elementwise, activation, loss, Adam, pixel-shuffle and resize kernels.
#pragma once

#include <algorithm>
#include <cstdint>

namespace sr_native::cuda::common {

constexpr int kThreads = 256;  // a multiple of 32 (block_sum relies on it)
constexpr int64_t kMaxBlocks = 8192;

// Blocks for a grid-stride loop over `items`: enough to fill the GPU, capped.
inline unsigned blocks_for(int64_t items) {
    return static_cast<unsigned>(std::clamp<int64_t>((items + kThreads - 1) / kThreads, 1, kMaxBlocks));
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

__device__ __forceinline__ int64_t global_id() {
    return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() {
    return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// Sum of v over the block in a fixed tree order; the result is valid in
// thread 0. smem holds 32 doubles. Ends with a barrier so smem can be reused.
__device__ inline double block_sum(double v, double* smem) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < static_cast<int>(blockDim.x >> 5) ? smem[lane] : 0.0;
        for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    }
    __syncthreads();
    return v;
}

}  // namespace sr_native::cuda::common
