#include "checks.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <cmath>

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

bool is_aligned(const py::array& arr) {
    return reinterpret_cast<uintptr_t>(arr.data()) % static_cast<uintptr_t>(arr.itemsize()) == 0;
}

py::array c_contiguous(const py::array& arr, const char* op, const char* name) {
    if ((arr.flags() & py::array::c_style) && is_aligned(arr)) return arr;
    check_available(static_cast<int64_t>(arr.nbytes()), op, (std::string("a contiguous copy of ") + name).c_str());
    // Not py::array::ensure: that returns a null array (and clears the error)
    // when the copy cannot be allocated. numpy.array(copy=True), not
    // ascontiguousarray, which returns a contiguous but misaligned array
    // (np.frombuffer(buf, offset=1)) as it is: the kernels read elements
    // through typed pointers, which must be aligned.
    try {
        return py::module_::import("numpy")
            .attr("array")(arr, py::arg("order") = "C", py::arg("copy") = true)
            .cast<py::array>();
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
    // Written through float pointers: a misaligned view cannot be copied and
    // written back without surprising aliasing, so it is refused.
    if (!is_aligned(arr))
        raise_value(std::string(op) + ": " + name +
                    " is updated in place and must be aligned to 4 bytes (float32), got data at an address "
                    "that is not (e.g. np.frombuffer with an odd offset)");
    return FloatArray(arr);  // no copy: already float32 and C-contiguous
}

float finite_float32(double v, const char* op, const char* name) {
    const float f = static_cast<float>(v);
    if (!std::isfinite(f)) {
        char buf[48];
        std::snprintf(buf, sizeof buf, "%.17g", v);
        raise_value(std::string(op) + ": " + name + " must be finite as a float32, got " + buf +
                    (std::isfinite(v) ? " (it rounds to infinity in float32)" : ""));
    }
    return f;
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

namespace {
// Test hook: SR_NATIVE_PROC_ROOT and SR_NATIVE_CGROUP_ROOT replace /proc and
// /sys/fs/cgroup (read at every call), so a test can fake a memory-limited
// container with files in a temporary folder.
std::string env_root(const char* var, const char* fallback) {
    const char* v = std::getenv(var);
    return (v && *v) ? std::string(v) : std::string(fallback);
}

// The first number in `path` (or `key` followed by a number, for stat
// files); false when the file is missing or holds no number ("max").
bool read_number(const std::string& path, const char* key, long long* out) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return false;
    char line[256];
    bool found = false;
    const size_t key_len = key ? std::strlen(key) : 0;
    while (!found && std::fgets(line, sizeof line, f)) {
        if (key) {
            if (std::strncmp(line, key, key_len) == 0 && line[key_len] == ' ')
                found = std::sscanf(line + key_len, "%lld", out) == 1;
        } else {
            found = std::sscanf(line, "%lld", out) == 1;
            break;
        }
    }
    std::fclose(f);
    return found;
}

// What a cgroup folder still allows: limit - (usage - inactive page cache,
// which the kernel reclaims before it kills anyone). -1 when the folder sets
// no limit. v2: memory.max / memory.current; v1: memory.limit_in_bytes /
// memory.usage_in_bytes (v1 writes "no limit" as a number near 2^63).
int64_t cgroup_dir_room(const std::string& dir, bool v2) {
    long long limit = 0, usage = 0, inactive = 0;
    if (!read_number(dir + (v2 ? "/memory.max" : "/memory.limit_in_bytes"), nullptr, &limit)) return -1;
    if (limit >= (1LL << 60)) return -1;
    if (!read_number(dir + (v2 ? "/memory.current" : "/memory.usage_in_bytes"), nullptr, &usage)) usage = 0;
    if (!read_number(dir + "/memory.stat", v2 ? "inactive_file" : "total_inactive_file", &inactive))
        inactive = 0;
    const long long used = std::max(0LL, usage - std::max(0LL, inactive));
    return std::max<int64_t>(0, int64_t{limit} - used);
}

// The tightest room over a cgroup and all its ancestors under `mount`.
void cgroup_tree_room(const std::string& mount, std::string path, bool v2, int64_t* best) {
    while (true) {
        const int64_t room = cgroup_dir_room(mount + path, v2);
        if (room >= 0 && (*best < 0 || room < *best)) *best = room;
        if (path.empty() || path == "/") break;
        const size_t slash = path.find_last_of('/');
        path = slash == std::string::npos ? std::string() : path.substr(0, slash);
    }
}

// Room left by this process's memory cgroups (v2 and v1, the tightest), or -1
// when none sets a limit. Paths come from /proc/self/cgroup: "0::/path" (v2)
// and "N:...memory...:/path" (v1).
int64_t cgroup_room(const std::string& proc_root) {
    FILE* f = std::fopen((proc_root + "/self/cgroup").c_str(), "r");
    if (!f) return -1;
    const std::string root = env_root("SR_NATIVE_CGROUP_ROOT", "/sys/fs/cgroup");
    int64_t best = -1;
    char line[4096];
    while (std::fgets(line, sizeof line, f)) {
        std::string s(line);
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
        const size_t c1 = s.find(':'), c2 = c1 == std::string::npos ? c1 : s.find(':', c1 + 1);
        if (c2 == std::string::npos) continue;
        const std::string controllers = s.substr(c1 + 1, c2 - c1 - 1), path = s.substr(c2 + 1);
        if (s.compare(0, c1, "0") == 0 && controllers.empty()) {
            cgroup_tree_room(root, path, true, &best);              // pure v2
            cgroup_tree_room(root + "/unified", path, true, &best);  // hybrid layout
        } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
            cgroup_tree_room(root + "/memory", path, false, &best);
        }
    }
    std::fclose(f);
    return best;
}
}  // namespace

int64_t available_memory_bytes() {
#if defined(__linux__)
    const std::string proc_root = env_root("SR_NATIVE_PROC_ROOT", "/proc");
    // MemAvailable (what can be allocated without swapping) plus free swap,
    // capped by what this process's cgroups still allow: inside a container
    // /proc/meminfo describes the host.
    if (FILE* f = std::fopen((proc_root + "/meminfo").c_str(), "r")) {
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
        if (found) {
            const int64_t room = cgroup_room(proc_root);
            return room >= 0 ? std::min(total, room) : total;
        }
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

FloatArray new_float_array_like(const py::array& a, const char* op) {
    return new_float_array(std::vector<int64_t>(a.shape(), a.shape() + a.ndim()), op);
}

FloatArray elementwise_forward(const py::object& x_obj, const py::object& out_obj, const char* op,
                               ElementwiseKernel fast, ElementwiseKernel reference, bool use_reference) {
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray y = result_array(out_obj, std::vector<int64_t>(x.shape(), x.shape() + x.ndim()), op, "out",
                                "(x's shape)", {&x}, "x");
    py::gil_scoped_release release;
    (use_reference ? reference : fast)(x.data(), y.mutable_data(), x.size());
    return y;
}

FloatArray backward_from_output(const py::object& y_obj, const py::object& dy_obj, const char* op,
                                OutputBackwardKernel fast, OutputBackwardKernel reference, bool use_reference) {
    FloatArray y = float32_array(y_obj, op, "y");
    FloatArray dy = float32_array(dy_obj, op, "dy");
    require_same_shape(y, dy, op, "y", "dy");
    FloatArray dx = new_float_array_like(y, op);
    py::gil_scoped_release release;
    (use_reference ? reference : fast)(y.data(), dy.data(), dx.mutable_data(), y.size());
    return dx;
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

const char* RowBand::end() const {
    if (n == 0 || c == 0 || h == 0 || w == 0) return begin();
    return begin() + (((n * c - 1) * plane + h * w) * static_cast<int64_t>(sizeof(float)));
}

RowBand row_band(const py::handle& obj, const char* op, const char* name, bool writeable) {
    py::array arr = float32_ndarray(obj, op, name);
    const std::string what = std::string(op) + ": " + name;
    if (arr.ndim() != 4)
        raise_value(what + " must be (N, C, H, W), got shape " + shape_str(arr));
    if (writeable && !arr.writeable()) raise_value(what + " is written in place and must be writeable");
    if (!is_aligned(arr)) raise_value(what + " must be aligned to 4 bytes (float32)");
    RowBand b{arr, static_cast<float*>(arr.mutable_data()), arr.shape(0), arr.shape(1), arr.shape(2),
              arr.shape(3), 0};
    const int64_t f = sizeof(float);
    const auto* st = arr.strides();
    if (b.n == 0 || b.c == 0 || b.h == 0 || b.w == 0) raise_value(what + " must not be empty, got shape " + shape_str(arr));
    // Strides of a single-element dimension do not matter (numpy may set anything there).
    const bool cols_ok = b.w == 1 || st[3] == f;
    const bool rows_ok = b.h == 1 || st[2] == b.w * f;
    b.plane = b.c > 1 ? st[1] / f : b.h * b.w;
    const bool plane_ok = st[1] % f == 0 && b.plane >= b.h * b.w;
    const bool image_ok = b.n == 1 || st[0] == b.c * b.plane * f;
    if (!(cols_ok && rows_ok && plane_ok && image_ok))
        raise_value(what + " must be a row band: contiguous rows, channel planes at least H * W floats apart and "
                    "images C planes apart (a row slice x[:, :, a:b] of a C-contiguous array), got shape " +
                    shape_str(arr));
    return b;
}

bool overlaps(const RowBand& a, const RowBand& b) { return a.begin() < b.end() && b.begin() < a.end(); }

}  // namespace sr_native::bind
