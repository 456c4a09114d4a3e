// sr_native._cuda.DeviceArray: a C-contiguous array in GPU memory (float32,
// uint8 or uint16), and the checks every CUDA binding runs on its arguments.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace sr_native::cuda_bind {

namespace py = pybind11;

enum class DType { f32, u8, u16 };
size_t dtype_size(DType t);
const char* dtype_name(DType t);

// The memory behind one or more arrays: our own allocation, or a tensor
// imported through DLPack (kept alive, then handed back to its producer).
struct Storage {
    void* ptr = nullptr;
    size_t bytes = 0;
    int device = 0;
    void* imported = nullptr;  // dlpack::ManagedTensor* when not ours
    Storage() = default;
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
    ~Storage();
};

struct DeviceArray {
    std::shared_ptr<Storage> storage;
    size_t offset = 0;  // bytes from storage->ptr
    std::vector<int64_t> shape;
    DType dtype = DType::f32;

    int64_t numel() const;
    size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
    void* data() const { return static_cast<char*>(storage->ptr) + offset; }
    float* f32() const { return static_cast<float*>(data()); }
    std::string shape_str() const;
};

// A new, uninitialised array (MemoryError-style CudaError when the GPU is full).
DeviceArray empty(const std::vector<int64_t>& shape, DType dtype, const char* op);
DeviceArray from_numpy(const py::array& arr, const char* op);
py::array to_numpy(const DeviceArray& a);
// obj.__dlpack__() of a CUDA tensor on the current device (PyTorch, CuPy, ...), without a copy.
DeviceArray from_dlpack(const py::object& obj);

void register_device_array(py::module_& m);

// ---- argument checks for the op bindings (TypeError / ValueError naming the
// op, the argument and what it got)
[[noreturn]] void raise_value(const std::string& msg);
[[noreturn]] void raise_type(const std::string& msg);
std::string shape_str(const std::vector<int64_t>& dims);

// obj must be a float32 DeviceArray (a numpy array gets a TypeError that says
// to move it to the GPU first).
DeviceArray& float32_arg(const py::handle& obj, const char* op, const char* name);
void require_ndim(const DeviceArray& a, int ndim, const char* op, const char* name, const char* layout);
void require_nonempty(const DeviceArray& a, const char* op, const char* name);
void require_shape(const DeviceArray& a, const std::vector<int64_t>& dims, const char* op,
                   const char* name, const char* why);
bool overlaps(const DeviceArray& a, const DeviceArray& b);
// A new array of `shape`, or the caller's `out` checked (float32, that shape,
// no memory shared with `inputs`).
DeviceArray result_array(const py::object& out_obj, const std::vector<int64_t>& shape, const char* op,
                         const char* out_name, std::initializer_list<const DeviceArray*> inputs);
// A residual added as the result is written: the result itself or disjoint from it.
DeviceArray addend_array(const py::object& obj, const DeviceArray& result, const char* op, const char* name);

void register_conv2d(py::module_& m);
void register_pixel_shuffle(py::module_& m);
void register_activations(py::module_& m);
void register_losses(py::module_& m);
void register_elementwise(py::module_& m);
void register_resize(py::module_& m);

}  // namespace sr_native::cuda_bind
