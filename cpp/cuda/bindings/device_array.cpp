#include "device_array.h"

#include <cuda_runtime.h>

#include <cstring>

#include "dlpack.h"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda_bind {

using cuda::CudaError;

size_t dtype_size(DType t) { return t == DType::f32 ? 4 : t == DType::u16 ? 2 : 1; }
const char* dtype_name(DType t) { return t == DType::f32 ? "float32" : t == DType::u16 ? "uint16" : "uint8"; }

Storage::~Storage() {
    if (imported) {
        auto* managed = static_cast<dlpack::ManagedTensor*>(imported);
        if (managed->deleter) managed->deleter(managed);  // the producer frees it (may need the GIL: we hold it)
    } else {
        cuda::device_free(ptr);
    }
}

void raise_value(const std::string& msg) { throw py::value_error(msg); }
void raise_type(const std::string& msg) { throw py::type_error(msg); }

std::string shape_str(const std::vector<int64_t>& dims) {
    // No std::ostringstream in this module: on the GPU machine its build got a
    // static libstdc++ whose stream locale crashed inside a process that had
    // loaded another libstdc++ (seen 2026-11-23 on an H100 image).
    std::string s = "(";
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    if (dims.size() == 1) s += ",";
    return s + ")";
}

int64_t DeviceArray::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string DeviceArray::shape_str() const { return cuda_bind::shape_str(shape); }

namespace {

int current_device() {
    int d = 0;
    SR_CUDA_CHECK(cudaGetDevice(&d), "cudaGetDevice");
    return d;
}

// Bytes of `shape` of `dtype`; ValueError for negative sizes, MemoryError on overflow.
size_t checked_bytes(const std::vector<int64_t>& shape, DType dtype, const char* op) {
    unsigned __int128 total = dtype_size(dtype);
    for (int64_t d : shape) {
        if (d < 0) raise_value(std::string(op) + ": negative size in shape " + shape_str(shape));
        total *= static_cast<unsigned __int128>(d);
        if (total > (static_cast<unsigned __int128>(1) << 62)) {
            PyErr_SetString(PyExc_MemoryError, (std::string(op) + ": an array of shape " + shape_str(shape) +
                                                " would need more memory than can be addressed").c_str());
            throw py::error_already_set();
        }
    }
    return static_cast<size_t>(total);
}

DType dtype_of(const py::dtype& dt, const char* op, const char* name) {
    auto native = dt.attr("isnative").cast<bool>();
    if (native && dt.num() == py::dtype::of<float>().num()) return DType::f32;
    if (native && dt.num() == py::dtype::of<uint16_t>().num()) return DType::u16;
    if (dt.num() == py::dtype::of<uint8_t>().num()) return DType::u8;
    raise_type(std::string(op) + ": " + name + " must be float32, uint8 or uint16 (native byte order), got " +
               py::str(dt).cast<std::string>());
}

py::dtype numpy_dtype(DType t) {
    return t == DType::f32 ? py::dtype::of<float>() : t == DType::u16 ? py::dtype::of<uint16_t>()
                                                                       : py::dtype::of<uint8_t>();
}

std::vector<int64_t> shape_from_py(const py::handle& obj, const char* op) {
    std::vector<int64_t> shape;
    if (py::isinstance<py::int_>(obj)) {
        shape.push_back(obj.cast<int64_t>());
    } else {
        for (auto item : py::iter(obj)) {
            if (!py::hasattr(item, "__index__") || py::isinstance<py::bool_>(item))
                raise_type(std::string(op) + ": shape entries must be integers, got " +
                           py::str(py::type::handle_of(item).attr("__name__")).cast<std::string>());
            shape.push_back(py::reinterpret_borrow<py::object>(item).attr("__index__")().cast<int64_t>());
        }
    }
    return shape;
}

}  // namespace

DeviceArray empty(const std::vector<int64_t>& shape, DType dtype, const char* op) {
    const size_t bytes = checked_bytes(shape, dtype, op);
    auto storage = std::make_shared<Storage>();
    storage->device = current_device();
    storage->bytes = bytes;
    // One byte at least: every array then has an address (views of empty arrays).
    storage->ptr = cuda::device_alloc(bytes ? bytes : 1, op);
    DeviceArray a;
    a.storage = std::move(storage);
    a.shape = shape;
    a.dtype = dtype;
    return a;
}

DeviceArray from_numpy(const py::array& arr_in, const char* op) {
    const DType dtype = dtype_of(arr_in.dtype(), op, "the array");
    py::array arr = py::module_::import("numpy").attr("ascontiguousarray")(arr_in).cast<py::array>();
    std::vector<int64_t> shape(arr.shape(), arr.shape() + arr.ndim());
    DeviceArray a = empty(shape, dtype, op);
    if (a.nbytes()) {
        const void* src = arr.data();
        void* dst = a.data();
        const size_t n = a.nbytes();
        py::gil_scoped_release release;
        SR_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice), op);
    }
    return a;
}

py::array to_numpy(const DeviceArray& a) {
    py::array out(numpy_dtype(a.dtype), std::vector<py::ssize_t>(a.shape.begin(), a.shape.end()));
    if (a.nbytes()) {
        void* dst = out.mutable_data();
        const void* src = a.data();
        const size_t n = a.nbytes();
        py::gil_scoped_release release;
        // Waits for the work queued on stream 0 (the legacy stream) first.
        SR_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost), "to_numpy");
    }
    return out;
}

// ------------------------------------------------------------------ DLPack

namespace {

// What an exported tensor owns: a share of the storage and its shape.
struct ExportContext {
    std::shared_ptr<Storage> storage;
    std::vector<int64_t> shape;
    dlpack::ManagedTensor managed{};
};

void export_deleter(dlpack::ManagedTensor* self) {
    // Consumers may call this without the GIL; the storage's destructor only
    // frees device memory (our own allocation), which needs no Python.
    delete static_cast<ExportContext*>(self->manager_ctx);
}

void capsule_destructor(PyObject* capsule) {
    // Never consumed: the capsule still owns the tensor.
    if (!PyCapsule_IsValid(capsule, dlpack::kCapsuleName)) return;
    auto* managed = static_cast<dlpack::ManagedTensor*>(PyCapsule_GetPointer(capsule, dlpack::kCapsuleName));
    if (managed && managed->deleter) managed->deleter(managed);
}

dlpack::DataType dl_dtype(DType t) {
    if (t == DType::f32) return {dlpack::kFloat, 32, 1};
    if (t == DType::u16) return {dlpack::kUInt, 16, 1};
    return {dlpack::kUInt, 8, 1};
}

py::capsule to_dlpack(const DeviceArray& a, const py::object& stream) {
    // Our kernels run on the legacy default stream. A consumer on another
    // stream must not read before they finish: wait for them here.
    if (!stream.is_none()) {
        const int64_t s = stream.cast<int64_t>();
        if (s != 1) {
            py::gil_scoped_release release;
            SR_CUDA_CHECK(cudaStreamSynchronize(0), "__dlpack__");
        }
    }
    auto* ctx = new ExportContext{a.storage, a.shape, {}};
    auto& t = ctx->managed.dl_tensor;
    t.data = a.data();
    t.device = {dlpack::kCUDA, a.storage->device};
    t.ndim = static_cast<int32_t>(ctx->shape.size());
    t.dtype = dl_dtype(a.dtype);
    t.shape = ctx->shape.data();
    t.strides = nullptr;  // compact C order
    t.byte_offset = 0;
    ctx->managed.manager_ctx = ctx;
    ctx->managed.deleter = export_deleter;
    PyObject* cap = PyCapsule_New(&ctx->managed, dlpack::kCapsuleName, capsule_destructor);
    if (!cap) {
        delete ctx;
        throw py::error_already_set();
    }
    return py::reinterpret_steal<py::capsule>(cap);
}

void check_f32(const DeviceArray& a, const char* op) {
    if (a.dtype != DType::f32)
        raise_type(std::string(op) + ": arithmetic needs float32, got " + dtype_name(a.dtype));
}

// alpha * a, into a new array or (in_place) into a itself.
DeviceArray scaled(const DeviceArray& a, double alpha, bool in_place, const char* op) {
    check_f32(a, op);
    DeviceArray y = in_place ? a : empty(a.shape, DType::f32, op);
    if (a.numel()) cuda::scale(a.f32(), static_cast<float>(alpha), y.f32(), a.numel());
    return y;
}

// a + b, into a new array or (in_place) into a itself.
DeviceArray summed(const DeviceArray& a, const DeviceArray& b, bool in_place, const char* op) {
    check_f32(a, op);
    check_f32(b, op);
    if (a.shape != b.shape) raise_value(std::string(op) + ": shapes " + a.shape_str() + " and " + b.shape_str() + " differ");
    DeviceArray y = in_place ? a : empty(a.shape, DType::f32, op);
    if (a.numel()) cuda::add_scaled(a.f32(), b.f32(), 1.0f, y.f32(), a.numel());
    return y;
}

}  // namespace

DeviceArray from_dlpack(const py::object& obj) {
    if (py::isinstance<DeviceArray>(obj)) return obj.cast<DeviceArray>();
    if (!py::hasattr(obj, "__dlpack__"))
        raise_type("from_dlpack: expected an object with __dlpack__ (a CUDA tensor of PyTorch, CuPy, ...), got " +
                   py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>());
    if (py::hasattr(obj, "__dlpack_device__")) {
        auto dev = obj.attr("__dlpack_device__")().cast<py::tuple>();
        const int type = dev[0].cast<int>();
        if (type != dlpack::kCUDA)
            raise_value("from_dlpack: the tensor is not in CUDA device memory (DLPack device type " +
                        std::to_string(type) + "); use numpy arrays for CPU data");
    }
    // stream=1: "the legacy default stream", where our kernels run; the
    // producer makes its pending work visible there.
    py::object capsule_obj = obj.attr("__dlpack__")(py::arg("stream") = 1);
    PyObject* capsule = capsule_obj.ptr();
    if (!PyCapsule_IsValid(capsule, dlpack::kCapsuleName))
        raise_type("from_dlpack: __dlpack__ did not return an unused 'dltensor' capsule");
    auto* managed = static_cast<dlpack::ManagedTensor*>(PyCapsule_GetPointer(capsule, dlpack::kCapsuleName));
    const dlpack::Tensor& t = managed->dl_tensor;

    // Validate before taking ownership: on error the capsule still owns it.
    if (t.device.device_type != dlpack::kCUDA)
        raise_value("from_dlpack: the tensor is not in CUDA device memory (DLPack device type " +
                    std::to_string(t.device.device_type) + ")");
    if (t.device.device_id != current_device())
        raise_value("from_dlpack: the tensor is on cuda:" + std::to_string(t.device.device_id) +
                    ", sr_native works on cuda:" + std::to_string(current_device()));
    DType dtype;
    if (t.dtype.lanes == 1 && t.dtype.code == dlpack::kFloat && t.dtype.bits == 32) dtype = DType::f32;
    else if (t.dtype.lanes == 1 && t.dtype.code == dlpack::kUInt && t.dtype.bits == 8) dtype = DType::u8;
    else if (t.dtype.lanes == 1 && t.dtype.code == dlpack::kUInt && t.dtype.bits == 16) dtype = DType::u16;
    else
        raise_type("from_dlpack: the tensor must be float32, uint8 or uint16, got DLPack type code " +
                   std::to_string(t.dtype.code) + " with " + std::to_string(t.dtype.bits) + " bits");
    std::vector<int64_t> shape(t.shape, t.shape + t.ndim);
    if (t.strides) {  // must be compact C order (size-1 dimensions may have any stride)
        int64_t expect = 1;
        for (int i = t.ndim - 1; i >= 0; --i) {
            if (shape[i] != 1 && t.strides[i] != expect)
                raise_value("from_dlpack: the tensor must be C-contiguous (call .contiguous() first), got shape " +
                            shape_str(shape));
            expect *= shape[i];
        }
    }
    auto storage = std::make_shared<Storage>();
    storage->ptr = static_cast<char*>(t.data) + t.byte_offset;
    storage->device = t.device.device_id;
    storage->imported = managed;
    PyCapsule_SetName(capsule, dlpack::kUsedCapsuleName);  // we own it now
    DeviceArray a;
    a.storage = std::move(storage);
    a.shape = std::move(shape);
    a.dtype = dtype;
    a.storage->bytes = a.nbytes();
    return a;
}

// ------------------------------------------------------------ arg checks

DeviceArray& float32_arg(const py::handle& obj, const char* op, const char* name) {
    if (!py::isinstance<DeviceArray>(obj)) {
        const std::string got = py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>();
        if (py::isinstance<py::array>(obj))
            raise_type(std::string(op) + ": " + name +
                       " is a numpy array but the other arguments are on the GPU; move it with "
                       "sr_native.cuda.to_device() (or pass all arguments as numpy arrays)");
        raise_type(std::string(op) + ": " + name + " must be a sr_native DeviceArray of float32, got " + got);
    }
    DeviceArray& a = obj.cast<DeviceArray&>();
    if (a.dtype != DType::f32)
        raise_type(std::string(op) + ": " + name + " must be float32, got " + dtype_name(a.dtype) + " with shape " +
                   a.shape_str());
    return a;
}

void require_ndim(const DeviceArray& a, int ndim, const char* op, const char* name, const char* layout) {
    if (static_cast<int>(a.shape.size()) != ndim)
        raise_value(std::string(op) + ": " + name + " must be " + std::to_string(ndim) + "-D " + layout +
                    ", got shape " + a.shape_str());
}

void require_nonempty(const DeviceArray& a, const char* op, const char* name) {
    for (int64_t d : a.shape)
        if (d == 0)
            raise_value(std::string(op) + ": " + name + " has a zero-sized dimension, got shape " + a.shape_str());
}

void require_shape(const DeviceArray& a, const std::vector<int64_t>& dims, const char* op, const char* name,
                   const char* why) {
    if (a.shape != dims)
        raise_value(std::string(op) + ": " + name + " must have shape " + shape_str(dims) + " " + why + ", got " +
                    a.shape_str());
}

bool overlaps(const DeviceArray& a, const DeviceArray& b) {
    const char* pa = static_cast<const char*>(a.data());
    const char* pb = static_cast<const char*>(b.data());
    return pa < pb + b.nbytes() && pb < pa + a.nbytes();
}

DeviceArray result_array(const py::object& out_obj, const std::vector<int64_t>& shape, const char* op,
                         const char* out_name, std::initializer_list<const DeviceArray*> inputs) {
    if (out_obj.is_none()) return empty(shape, DType::f32, op);
    DeviceArray& out = float32_arg(out_obj, op, out_name);
    require_shape(out, shape, op, out_name, "(the result's shape)");
    for (const DeviceArray* in : inputs)
        if (in && overlaps(out, *in))
            raise_value(std::string(op) + ": " + out_name + " must not share memory with the inputs");
    return out;
}

DeviceArray addend_array(const py::object& obj, const DeviceArray& result, const char* op, const char* name) {
    DeviceArray& a = float32_arg(obj, op, name);
    require_shape(a, result.shape, op, name, "(the result's shape)");
    if (a.data() != result.data() && overlaps(a, result))
        raise_value(std::string(op) + ": " + name + " must be the output itself or share no memory with it");
    return a;
}

// ---------------------------------------------------------------- binding

void register_device_array(py::module_& m) {
    py::class_<DeviceArray>(m, "DeviceArray", R"(A C-contiguous array in GPU memory (float32, uint8 or uint16).

Made by sr_native.cuda.to_device(numpy_array), from_dlpack(tensor), or the
CUDA ops. np.asarray(a) and a.to_numpy() copy it to the host; PyTorch and CuPy
take it without a copy through DLPack (torch.from_dlpack(a)).)")
        .def_property_readonly("shape", [](const DeviceArray& a) {
            py::tuple t(a.shape.size());
            for (size_t i = 0; i < a.shape.size(); ++i) t[i] = a.shape[i];
            return t;
        })
        .def_property_readonly("dtype", [](const DeviceArray& a) { return numpy_dtype(a.dtype); })
        .def_property_readonly("ndim", [](const DeviceArray& a) { return a.shape.size(); })
        .def_property_readonly("size", &DeviceArray::numel)
        .def_property_readonly("nbytes", &DeviceArray::nbytes)
        .def_property_readonly("device", [](const DeviceArray& a) { return "cuda:" + std::to_string(a.storage->device); })
        .def_property_readonly("data_ptr", [](const DeviceArray& a) { return reinterpret_cast<uintptr_t>(a.data()); })
        .def("__len__", [](const DeviceArray& a) {
            if (a.shape.empty()) throw py::type_error("len() of a 0-d DeviceArray");
            return a.shape[0];
        })
        .def("to_numpy", &to_numpy, "A numpy copy (waits for the GPU work that writes it).")
        .def("__array__", [](const DeviceArray& a, const py::object& dtype, const py::object& copy) {
            py::array out = to_numpy(a);
            if (!dtype.is_none()) return out.attr("astype")(dtype).cast<py::array>();
            return out;
        }, py::arg("dtype") = py::none(), py::arg("copy") = py::none())
        .def_static("from_numpy", [](const py::array& arr) { return from_numpy(arr, "from_numpy"); }, py::arg("array"))
        .def("reshape", [](const DeviceArray& a, const py::args& args) {
            py::object spec = args.size() == 1 && !py::isinstance<py::int_>(args[0]) ? py::object(args[0])
                                                                                      : py::object(args);
            std::vector<int64_t> shape = shape_from_py(spec, "reshape");
            int64_t known = 1, infer = -1;
            for (size_t i = 0; i < shape.size(); ++i) {
                if (shape[i] == -1 && infer < 0) infer = static_cast<int64_t>(i);
                else if (shape[i] < 0) raise_value("reshape: bad shape " + shape_str(shape));
                else known *= shape[i];
            }
            if (infer >= 0) {
                if (known == 0 || a.numel() % known)
                    raise_value("reshape: cannot reshape " + a.shape_str() + " into " + shape_str(shape));
                shape[infer] = a.numel() / known;
            }
            int64_t n = 1;
            for (int64_t d : shape) n *= d;
            if (n != a.numel()) raise_value("reshape: cannot reshape " + a.shape_str() + " into " + shape_str(shape));
            DeviceArray v = a;
            v.shape = shape;
            return v;
        })
        .def("prefix", [](const DeviceArray& a, const py::object& shape_obj) {
            // The first prod(shape) elements as an array of `shape`, sharing memory
            // (scratch buffers that only grow hand out such views).
            std::vector<int64_t> shape = shape_from_py(shape_obj, "prefix");
            const size_t bytes = checked_bytes(shape, a.dtype, "prefix");
            if (bytes > a.nbytes())
                raise_value("prefix: " + shape_str(shape) + " is larger than the array " + a.shape_str());
            DeviceArray v = a;
            v.shape = shape;
            return v;
        }, py::arg("shape"))
        .def("copy_", [](DeviceArray& a, const py::object& src) {
            // In place: a = src (a numpy array or a DeviceArray of a's shape and dtype).
            if (py::isinstance<DeviceArray>(src)) {
                const DeviceArray& s = src.cast<const DeviceArray&>();
                if (s.shape != a.shape || s.dtype != a.dtype)
                    raise_value("copy_: source " + s.shape_str() + " " + dtype_name(s.dtype) + " does not match " +
                                a.shape_str() + " " + dtype_name(a.dtype));
                if (a.nbytes() && s.data() != a.data())
                    SR_CUDA_CHECK(cudaMemcpyAsync(a.data(), s.data(), a.nbytes(), cudaMemcpyDeviceToDevice, 0), "copy_");
                return;
            }
            py::array arr = py::module_::import("numpy").attr("asarray")(src).cast<py::array>();
            std::vector<int64_t> shape(arr.shape(), arr.shape() + arr.ndim());
            if (shape != a.shape)
                raise_value("copy_: source shape " + shape_str(shape) + " does not match " + a.shape_str());
            arr = arr.attr("astype")(numpy_dtype(a.dtype), py::arg("order") = "C", py::arg("copy") = false)
                      .cast<py::array>();
            if (a.nbytes()) {
                const void* p = arr.data();
                void* dst = a.data();
                const size_t n = a.nbytes();
                py::gil_scoped_release release;
                SR_CUDA_CHECK(cudaMemcpy(dst, p, n, cudaMemcpyHostToDevice), "copy_");
            }
        }, py::arg("src"))
        .def("zero_", [](DeviceArray& a) {
            if (a.nbytes()) SR_CUDA_CHECK(cudaMemsetAsync(a.data(), 0, a.nbytes(), 0), "zero_");
            return a;
        })
        .def("copy", [](const DeviceArray& a) {
            DeviceArray c = empty(a.shape, a.dtype, "copy");
            if (a.nbytes())
                SR_CUDA_CHECK(cudaMemcpyAsync(c.data(), a.data(), a.nbytes(), cudaMemcpyDeviceToDevice, 0), "copy");
            return c;
        })
        // The arithmetic the models' Python code uses (dy * res_scale, a + b).
        .def("__mul__", [](const DeviceArray& a, double alpha) { return scaled(a, alpha, false, "__mul__"); },
             py::is_operator())
        .def("__rmul__", [](const DeviceArray& a, double alpha) { return scaled(a, alpha, false, "__rmul__"); },
             py::is_operator())
        .def("__imul__", [](const DeviceArray& a, double alpha) { return scaled(a, alpha, true, "__imul__"); },
             py::is_operator())
        .def("__add__", [](const DeviceArray& a, const DeviceArray& b) { return summed(a, b, false, "__add__"); },
             py::is_operator())
        .def("__iadd__", [](const DeviceArray& a, const DeviceArray& b) { return summed(a, b, true, "__iadd__"); },
             py::is_operator())
        .def("__dlpack__", [](const DeviceArray& a, const py::object& stream, const py::object& max_version,
                              const py::object& dl_device, const py::object& copy) {
            if (!copy.is_none() && copy.cast<bool>())
                raise_value("__dlpack__: copy=True is not supported; sr_native shares its memory");
            return to_dlpack(a, stream);
        }, py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
           py::arg("dl_device") = py::none(), py::arg("copy") = py::none())
        .def("__dlpack_device__", [](const DeviceArray& a) {
            return py::make_tuple(static_cast<int>(dlpack::kCUDA), a.storage->device);
        })
        .def("__repr__", [](const DeviceArray& a) {
            return "DeviceArray(shape=" + a.shape_str() + ", dtype=" + dtype_name(a.dtype) + ", device=cuda:" +
                   std::to_string(a.storage->device) + ")";
        });

    m.def("empty", [](const py::object& shape, const std::string& dtype) {
        DType t = dtype == "float32" ? DType::f32 : dtype == "uint8" ? DType::u8 : dtype == "uint16" ? DType::u16
                  : (raise_value("empty: dtype must be 'float32', 'uint8' or 'uint16', got '" + dtype + "'"), DType::f32);
        return empty(shape_from_py(shape, "empty"), t, "empty");
    }, py::arg("shape"), py::arg("dtype") = "float32");
    m.def("zeros", [](const py::object& shape) {
        DeviceArray a = empty(shape_from_py(shape, "zeros"), DType::f32, "zeros");
        if (a.nbytes()) SR_CUDA_CHECK(cudaMemsetAsync(a.data(), 0, a.nbytes(), 0), "zeros");
        return a;
    }, py::arg("shape"));
    m.def("from_numpy", [](const py::array& arr) { return from_numpy(arr, "to_device"); }, py::arg("array"));
    m.def("from_dlpack", &from_dlpack, py::arg("tensor"));
}

}  // namespace sr_native::cuda_bind
