// Python bindings of global average pooling, forward and backward.
#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

FloatArray global_avg_pool_py(const py::object& x_obj, bool reference) {
    const char* op = "global_avg_pool";
    FloatArray x = float32_array(x_obj, op, "x");
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    require_nonempty(x, op, "x");
    const int64_t n = x.shape(0), c = x.shape(1);
    FloatArray y = new_float_array({n, c}, op);
    py::gil_scoped_release release;
    (reference ? ref::global_avg_pool_forward : global_avg_pool_forward)(x.data(), y.mutable_data(), n,
                                                                         c, x.shape(2) * x.shape(3));
    return y;
}

FloatArray global_avg_pool_backward_py(const py::object& dy_obj, int64_t h, int64_t w, bool reference) {
    const char* op = "global_avg_pool_backward";
    FloatArray dy = float32_array(dy_obj, op, "dy");
    require_ndim(dy, 2, op, "dy", "(N, C)");
    require_nonempty(dy, op, "dy");
    if (h < 1 || w < 1)
        raise_value(std::string(op) + ": the input size (h, w) must be positive, got (" + std::to_string(h) +
                    ", " + std::to_string(w) + ")");
    const int64_t n = dy.shape(0), c = dy.shape(1);
    FloatArray dx = new_float_array({n, c, h, w}, op);  // MemoryError past what can be allocated
    py::gil_scoped_release release;
    (reference ? ref::global_avg_pool_backward : global_avg_pool_backward)(dy.data(), dx.mutable_data(), n,
                                                                           c, h * w);
    return dx;
}

}  // namespace

void register_global_avg_pool(py::module_& m) {
    m.def("global_avg_pool", &global_avg_pool_py, py::arg("x"), py::kw_only(), py::arg("reference") = false);
    m.def("global_avg_pool_backward", &global_avg_pool_backward_py, py::arg("dy"), py::arg("h"), py::arg("w"),
          py::kw_only(), py::arg("reference") = false);
}

}  // namespace sr_native::bind
