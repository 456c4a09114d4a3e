// Input validation at the Python boundary. Kernels never validate; every
// binding checks its arrays here first and raises a typed Python exception
// that names the op, the argument and what it got.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace sr_native::bind {

namespace py = pybind11;

// Becomes MemoryError with this message (registered in module.cpp): a size
// that cannot be addressed, or a copy that cannot be allocated.
struct SizeOverflowError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

using FloatArray = py::array_t<float, py::array::c_style>;

std::string shape_str(const py::array& a);
std::string type_name(const py::handle& obj);

[[noreturn]] void raise_value(const std::string& msg);
[[noreturn]] void raise_type(const std::string& msg);

// True when arr's data address is a multiple of its item size.
bool is_aligned(const py::array& arr);

// arr itself when C-contiguous and aligned, else a C-contiguous, aligned copy;
// MemoryError naming the op and argument when the copy cannot be allocated.
py::array c_contiguous(const py::array& arr, const char* op, const char* name);

// obj must be a numpy float32 array (TypeError otherwise); returned C-contiguous
// (a copy when it was not).
FloatArray float32_array(const py::handle& obj, const char* op, const char* name);
// Same, but for arrays written in place: must already be C-contiguous, aligned
// and writeable (ValueError naming the argument otherwise).
FloatArray float32_inplace(const py::handle& obj, const char* op, const char* name);

// v as the float32 the kernels use; ValueError naming the op and argument
// when v is not finite or rounds to infinity in float32 (1e39).
float finite_float32(double v, const char* op, const char* name);

void require_ndim(const py::array& a, int ndim, const char* op, const char* name,
                  const char* layout);
void require_nonempty(const py::array& a, const char* op, const char* name);
void require_same_shape(const py::array& a, const py::array& b, const char* op,
                        const char* name_a, const char* name_b);
// a must have exactly these dims; `why` says where they come from.
void require_shape(const py::array& a, const std::vector<int64_t>& dims, const char* op,
                   const char* name, const char* why);

// Bytes this process could still allocate without the system running out
// (Linux: MemAvailable + SwapFree), or -1 when the system does not say.
int64_t available_memory_bytes();
// MemoryError naming the op when `bytes` exceed that (checked from 64 MiB
// up): Linux overcommits, so an oversized allocation would otherwise succeed
// and the process be killed when it is filled.
constexpr int64_t kCheckAvailableFrom = int64_t{64} << 20;
void check_available(int64_t bytes, const char* op, const char* what = "the result");

// Element count of a new array of these dims; MemoryError if its byte size
// overflows what the address space can hold or exceeds available memory.
int64_t checked_numel(std::initializer_list<int64_t> dims, int64_t elem_size, const char* op);
FloatArray new_float_array(const std::vector<int64_t>& shape, const char* op);
// A new float32 array of a's shape (the same checks).
FloatArray new_float_array_like(const py::array& a, const char* op);

// Bindings of elementwise kernels over arrays of any shape, fast or reference:
// y = f(x), and dx = f'(y) * dy computed from the forward's output y (tanh, sigmoid).
using ElementwiseKernel = void (*)(const float* x, float* y, int64_t count);
using OutputBackwardKernel = void (*)(const float* y, const float* dy, float* dx, int64_t count);
// y = f(x) into a new array, or into out_obj (see result_array).
FloatArray elementwise_forward(const py::object& x_obj, const py::object& out_obj, const char* op,
                               ElementwiseKernel fast, ElementwiseKernel reference, bool use_reference);
FloatArray backward_from_output(const py::object& y_obj, const py::object& dy_obj, const char* op,
                                OutputBackwardKernel fast, OutputBackwardKernel reference, bool use_reference);

// dt is T's numpy type in native byte order. Compared by type, not by
// identity: an unpickled array carries its own dtype object.
template <typename T>
bool is_dtype(const py::dtype& dt) {
    return dt.num() == py::dtype::of<T>().num() && dt.attr("isnative").cast<bool>();
}

// True when the byte ranges of a and b intersect.
bool overlaps(const py::array& a, const py::array& b);

// A kernel's result: a new array of `shape`, or the caller's `out_obj`
// (written in place: reusing buffers saves a fresh allocation's page faults),
// checked to be float32, C-contiguous, writeable, of that shape (`why` says
// where it comes from) and to share no memory with `inputs` (named by
// `inputs_desc` in the error).
FloatArray result_array(const py::object& out_obj, const std::vector<int64_t>& shape, const char* op,
                        const char* out_name, const char* why, std::initializer_list<const py::array*> inputs,
                        const char* inputs_desc);

// An array added to the result as it is written (a residual): of the result's
// shape, and either the result itself or disjoint from it (the kernel reads
// each value just before writing the same position).
FloatArray addend_array(const py::object& obj, const FloatArray& result, const char* op, const char* name,
                        const char* out_name, const char* why);

// A band of rows of (N, C, H, W) float32 images whose channel planes may lie
// further apart than h * w floats: a row slice x[:, :, a:b] of a C-contiguous
// array (sr_native.streaming's buffers), or a C-contiguous array itself.
// Pixels within a plane are contiguous; images lie C planes apart.
struct RowBand {
    py::array arr;  // keeps the memory alive
    float* data;
    int64_t n, c, h, w, plane;  // plane: floats between channel planes
    const char* begin() const { return reinterpret_cast<const char*>(data); }
    const char* end() const;  // one past the last float of the last row
};
// ValueError naming the op and argument for anything else (any dtype but
// float32: TypeError); writeable arrays only when `writeable`.
RowBand row_band(const py::handle& obj, const char* op, const char* name, bool writeable);
bool overlaps(const RowBand& a, const RowBand& b);

}  // namespace sr_native::bind
