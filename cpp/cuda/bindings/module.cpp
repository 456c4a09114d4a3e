// The private extension module sr_native._cuda, built only with
// SR_NATIVE_CUDA=ON: the device array type, device queries, and every op's
// CUDA binding. Importing it needs no GPU: device_count() and
// unavailable_reason() say what is there.
#include <cuda_runtime.h>
#include <pybind11/pybind11.h>

#if defined(__linux__)
#include <dlfcn.h>
#endif

#include "device_array.h"
#include "sr_native/cuda_kernels.h"

namespace py = pybind11;
using namespace sr_native;

namespace {

// "" when a CUDA device can be used, else why not (no driver, no device, a
// driver older than this build's runtime, ...).
std::string unavailable_reason() {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        cudaGetLastError();
#if defined(__linux__)
        // With no driver at all the runtime reports an "insufficient" one; say what is missing.
        if (void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD)) {
            dlclose(driver);
        } else if (void* loaded = dlopen("libcuda.so.1", RTLD_LAZY)) {
            dlclose(loaded);
        } else {
            return "no NVIDIA driver is installed (libcuda.so.1 cannot be loaded), so no GPU can be used";
        }
#endif
        return std::string("the CUDA runtime reports: ") + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")";
    }
    if (count == 0) return "no CUDA device is present";
    return "";
}

py::dict device_info() {
    int device = 0;
    SR_CUDA_CHECK(cudaGetDevice(&device), "device_info");
    cudaDeviceProp p{};
    SR_CUDA_CHECK(cudaGetDeviceProperties(&p, device), "device_info");
    size_t free_b = 0, total_b = 0;
    SR_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b), "device_info");
    int runtime = 0, driver = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    py::dict d;
    d["device"] = device;
    d["name"] = std::string(p.name);
    d["compute_capability"] = py::make_tuple(p.major, p.minor);
    d["multiprocessors"] = p.multiProcessorCount;
    d["memory_total"] = total_b;
    d["memory_free"] = free_b;
    d["runtime_version"] = runtime;
    d["driver_version"] = driver;
    return d;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
    m.doc() = "sr_native CUDA kernels (private; use sr_native.cuda)";
    // CUDA failures: RuntimeError subclass naming the op, the file and the line.
    py::register_exception<cuda::CudaError>(m, "CudaError", PyExc_RuntimeError);
    m.def("unavailable_reason", &unavailable_reason);
    m.def("device_info", &device_info);
    m.def("synchronize", [] {
        py::gil_scoped_release release;
        SR_CUDA_CHECK(cudaDeviceSynchronize(), "synchronize");
    });
    m.def("build_info", [] {
        py::dict d;
        d["cuda_runtime_built"] = CUDART_VERSION;
#ifdef SR_NATIVE_CUDA_ARCHS
        d["architectures"] = SR_NATIVE_CUDA_ARCHS;
#endif
        return d;
    });
    cuda_bind::register_device_array(m);
    cuda_bind::register_conv2d(m);
    cuda_bind::register_pixel_shuffle(m);
    cuda_bind::register_activations(m);
    cuda_bind::register_losses(m);
    cuda_bind::register_elementwise(m);
    cuda_bind::register_resize(m);
}
