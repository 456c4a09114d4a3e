// Python bindings of the logistic sigmoid, forward and backward.
#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

std::vector<int64_t> dims_of(const FloatArray& a) { return std::vector<int64_t>(a.shape(), a.shape() + a.ndim()); }

FloatArray sigmoid_py(const py::object& x_obj, bool reference) {
    const char* op = "sigmoid";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray y = new_float_array(dims_of(x), op);
    py::gil_scoped_release release;
    (reference ? ref::sigmoid_forward : sigmoid_forward)(x.data(), y.mutable_data(), x.size());
    return y;
}

FloatArray sigmoid_backward_py(const py::object& y_obj, const py::object& dy_obj, bool reference) {
    const char* op = "sigmoid_backward";
    FloatArray y = float32_array(y_obj, op, "y");
    FloatArray dy = float32_array(dy_obj, op, "dy");
    require_same_shape(y, dy, op, "y", "dy");
    FloatArray dx = new_float_array(dims_of(y), op);
    py::gil_scoped_release release;
    (reference ? ref::sigmoid_backward : sigmoid_backward)(y.data(), dy.data(), dx.mutable_data(), y.size());
    return dx;
}

}  // namespace

void register_sigmoid(py::module_& m) {
    m.def("sigmoid", &sigmoid_py, py::arg("x"), py::kw_only(), py::arg("reference") = false);
    m.def("sigmoid_backward", &sigmoid_backward_py, py::arg("y"), py::arg("dy"), py::kw_only(),
          py::arg("reference") = false);
}

}  // namespace sr_native::bind
