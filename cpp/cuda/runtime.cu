// Error checks and stream-ordered device memory shared by every CUDA op.
#include <cuda_runtime.h>

#include <cstdint>
#include <mutex>
#include <string>

#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda {

namespace {

std::string describe(cudaError_t err, const char* op, const char* file, int line) {
    // Only the file's name: the build directory means nothing to a user.
    std::string path(file ? file : "?");
    const size_t slash = path.find_last_of("/\\");
    if (slash != std::string::npos) path = path.substr(slash + 1);
    return std::string(op) + ": " + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ") at " + path +
           ":" + std::to_string(line);
}

// The pool behind cudaMallocAsync keeps freed blocks for reuse instead of
// handing them back to the driver at each synchronisation, so a network that
// allocates its activations every step pays for the allocation once.
void keep_pool_memory() {
    static std::once_flag once;
    std::call_once(once, [] {
        int device = 0;
        if (cudaGetDevice(&device) != cudaSuccess) return;
        cudaMemPool_t pool;
        if (cudaDeviceGetDefaultMemPool(&pool, device) != cudaSuccess) return;
        uint64_t keep = UINT64_MAX;
        cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
    });
}

}  // namespace

void check(int code, const char* op, const char* file, int line) {
    const auto err = static_cast<cudaError_t>(code);
    if (err == cudaSuccess) return;
    cudaGetLastError();  // clear a non-sticky error so the next op starts clean
    throw CudaError(describe(err, op, file, line));
}

void check_launch(const char* op, const char* file, int line) {
    check(static_cast<int>(cudaGetLastError()), op, file, line);
}

void* device_alloc(size_t bytes, const char* op) {
    keep_pool_memory();
    void* p = nullptr;
    const cudaError_t err = cudaMallocAsync(&p, bytes, 0);
    if (err != cudaSuccess) {
        cudaGetLastError();
        if (err == cudaErrorMemoryAllocation) {
            size_t free_b = 0, total_b = 0;
            cudaMemGetInfo(&free_b, &total_b);
            throw CudaError(std::string(op) + ": out of GPU memory asking for " + std::to_string(bytes >> 20) +
                            " MiB (" + std::to_string(free_b >> 20) + " MiB free of " +
                            std::to_string(total_b >> 20) + " MiB)");
        }
        throw CudaError(describe(err, op, __FILE__, __LINE__));
    }
    return p;
}

void device_free(void* p) noexcept {
    if (p) cudaFreeAsync(p, 0);  // an error here (a dead context) has nowhere to go
}

}  // namespace sr_native::cuda
