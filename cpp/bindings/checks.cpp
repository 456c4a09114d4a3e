#include "checks.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace sr_native::bind {

// Messages are built with std::string and std::to_string, never iostreams:
// built on the GPU machine's image (2026-11-23), a module's stream
// formatting crashed in a process that had loaded another libstdc++.
namespace {
std::string dims_str(const int64_t* dims, size_t n) {
    std::string s = "(";
    for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    if (n == 1) s += ",";
    return s + ")";
}

std::string gib_str(int64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", bytes / double(int64_t{1} << 30));
    return buf;
}
}  // namespace

std::string shape_str(const py::array& a) {
    std::vector<int64_t> dims(a.shape(), a.shape() + a.ndim());
    return dims_str(dims.data(), dims.size());
}

std::string type_name(const py::handle& obj) {
    return py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>();
}

void raise_value(const std::string& msg) { throw py::value_error(msg); }
void raise_type(const std::string& msg) { throw py::type_error(msg); }

namespace {
// a * b into *out; false on overflow (non-negative operands).
bool mul_overflows(int64_t a, int64_t b, int64_t* out) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_mul_overflow(a, b, out);
#else
    if (a != 0 && b > INT64_MAX / a) return true;
    *out = a * b;
    return false;
#endif
}

// Byte size of dims * elem_size; SizeOverflowError (MemoryError) if it
// overflows int64 or exceeds half the address space.
int64_t checked_bytes(const int64_t* dims, size_t ndim, int64_t elem_size, const char* op) {
    int64_t total = elem_size;
    for (size_t i = 0; i < ndim; ++i) {
        if (dims[i] < 0 || mul_overflows(total, dims[i], &total) ||
            total > PTRDIFF_MAX / 2) {
            throw SizeOverflowError(std::string(op) + ": an array of shape " + dims_str(dims, ndim) +
                                    " would need more memory than can be addressed");
        }
    }
    return total;
}
}  // namespace

namespace {
// obj as a numpy float32 array, without copying; TypeError otherwise.
py::array float32_ndarray(const py::handle& obj, const char* op, const char* name) {
    if (!py::isinstance<py::array>(obj))
        raise_type(std::string(op) + ": " + name + " must be a numpy.ndarray of float32, got " +
                   type_name(obj));
    auto arr = py::reinterpret_borrow<py::array>(obj);
    if (!is_dtype<float>(arr.dtype()))
        raise_type(std::string(op) + ": " + name + " must be float32, got " +
                   py::str(arr.dtype()).cast<std::string>() + " with shape " + shape_str(arr));
    return arr;
}
}  // namespace

FloatArray float32_array(const py::handle& obj, const char* op, const char* name) {
    return FloatArray(c_contiguous(float32_ndarray(obj, op, name), op, name));
}

py::array c_contiguous(const py::array& arr, const char* op, const char* name) {
    if (arr.flags() & py::array::c_style) return arr;
    check_available(static_cast<int64_t>(arr.nbytes()), op, (std::string("a contiguous copy of ") + name).c_str());
    // Not py::array::ensure: that returns a null array (and clears the error)
    // when the copy cannot be allocated.
    try {
        return py::module_::import("numpy").attr("ascontiguousarray")(arr).cast<py::array>();
    } catch (py::error_already_set& e) {
        if (!e.matches(PyExc_MemoryError)) throw;
        throw SizeOverflowError(std::string(op) + ": no memory for a contiguous copy of " + name +
                                " with shape " + shape_str(arr) + " (" + e.what() + ")");
    }
}

FloatArray float32_inplace(const py::handle& obj, const char* op, const char* name) {
    py::array arr = float32_ndarray(obj, op, name);
    if (!(arr.flags() & py::array::c_style))
        raise_value(std::string(op) + ": " + name +
                    " is updated in place and must be C-contiguous, got strides that are not");
    if (!arr.writeable())
        raise_value(std::string(op) + ": " + name + " is updated in place and must be writeable");
    return FloatArray(arr);  // no copy: already float32 and C-contiguous
}

void require_ndim(const py::array& a, int ndim, const char* op, const char* name,
                  const char* layout) {
    if (a.ndim() != ndim)
        raise_value(std::string(op) + ": " + name + " must be " + std::to_string(ndim) + "-D " +
                    layout + ", got shape " + shape_str(a));
}

void require_nonempty(const py::array& a, const char* op, const char* name) {
    for (py::ssize_t i = 0; i < a.ndim(); ++i)
        if (a.shape(i) == 0)
            raise_value(std::string(op) + ": " + name + " has a zero-sized dimension, got shape " +
                        shape_str(a));
}

void require_same_shape(const py::array& a, const py::array& b, const char* op,
                        const char* name_a, const char* name_b) {
    bool same = a.ndim() == b.ndim();
    for (py::ssize_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == b.shape(i);
    if (!same)
        raise_value(std::string(op) + ": " + name_b + " must have the shape of " + name_a + " " +
                    shape_str(a) + ", got " + shape_str(b));
}


void require_shape(const py::array& a, const std::vector<int64_t>& dims, const char* op,
                   const char* name, const char* why) {
    bool same = a.ndim() == static_cast<py::ssize_t>(dims.size());
    for (py::ssize_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == dims[i];
    if (!same) {
        raise_value(std::string(op) + ": " + name + " must have shape " + dims_str(dims.data(), dims.size()) +
                    " " + why + ", got " + shape_str(a));
    }
}

int64_t available_memory_bytes() {
#if defined(__linux__)
    // MemAvailable (what can be allocated without swapping) plus free swap.
    if (FILE* f = std::fopen("/proc/meminfo", "r")) {
        char line[256];
        long long kb = 0;
        int64_t total = 0;
        bool found = false;
        while (std::fgets(line, sizeof line, f)) {
            if (std::sscanf(line, "MemAvailable: %lld", &kb) == 1) {
                total += int64_t{kb} * 1024;
                found = true;
            } else if (std::sscanf(line, "SwapFree: %lld", &kb) == 1) {
                total += int64_t{kb} * 1024;
            }
        }
        std::fclose(f);
        if (found) return total;
    }
#endif
#if defined(_SC_AVPHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) return static_cast<int64_t>(pages) * page;
#endif
    return -1;
}

void check_available(int64_t bytes, const char* op, const char* what) {
    if (bytes < kCheckAvailableFrom) return;  // small: not worth reading /proc
    const int64_t avail = available_memory_bytes();
    if (avail >= 0 && bytes > avail) {
        throw SizeOverflowError(std::string(op) + ": " + what + " needs " + gib_str(bytes) + " GiB but only " +
                                gib_str(avail) + " GiB of memory are available");
    }
}

int64_t checked_numel(std::initializer_list<int64_t> dims, int64_t elem_size, const char* op) {
    const int64_t bytes = checked_bytes(dims.begin(), dims.size(), elem_size, op);
    check_available(bytes, op);
    return bytes / elem_size;
}

FloatArray new_float_array(const std::vector<int64_t>& shape, const char* op) {
    check_available(checked_bytes(shape.data(), shape.size(), sizeof(float), op), op);
    std::vector<py::ssize_t> dims(shape.begin(), shape.end());
    return FloatArray(dims);
}

bool overlaps(const py::array& a, const py::array& b) {
    const char* a0 = static_cast<const char*>(a.data());
    const char* b0 = static_cast<const char*>(b.data());
    return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

FloatArray result_array(const py::object& out_obj, const std::vector<int64_t>& shape, const char* op,
                        const char* out_name, const char* why, std::initializer_list<const py::array*> inputs,
                        const char* inputs_desc) {
    if (out_obj.is_none()) return new_float_array(shape, op);
    FloatArray y = float32_inplace(out_obj, op, out_name);
    require_shape(y, shape, op, out_name, why);
    for (const py::array* in : inputs)
        if (in && overlaps(y, *in))
            raise_value(std::string(op) + ": " + out_name + " must not share memory with " + inputs_desc);
    return y;
}

FloatArray addend_array(const py::object& obj, const FloatArray& result, const char* op, const char* name,
                        const char* out_name, const char* why) {
    FloatArray a = float32_array(obj, op, name);
    std::vector<int64_t> shape(result.shape(), result.shape() + result.ndim());
    require_shape(a, shape, op, name, why);
    if (a.data() != result.data() && overlaps(a, result))
        raise_value(std::string(op) + ": " + name + " may be " + out_name + " itself but must not partly overlap it");
    return a;
}

}  // namespace sr_native::bind
