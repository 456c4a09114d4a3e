// Python bindings of the logistic sigmoid, forward and backward.
#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

FloatArray sigmoid_py(const py::object& x_obj, const py::object& out_obj, bool reference) {
    return elementwise_forward(x_obj, out_obj, "sigmoid", sigmoid_forward, ref::sigmoid_forward, reference);
}

FloatArray sigmoid_backward_py(const py::object& y_obj, const py::object& dy_obj, bool reference) {
    return backward_from_output(y_obj, dy_obj, "sigmoid_backward", sigmoid_backward, ref::sigmoid_backward,
                                reference);
}

}  // namespace

void register_sigmoid(py::module_& m) {
    m.def("sigmoid", &sigmoid_py, py::arg("x"), py::kw_only(), py::arg("out") = py::none(),
          py::arg("reference") = false);
    m.def("sigmoid_backward", &sigmoid_backward_py, py::arg("y"), py::arg("dy"), py::kw_only(),
          py::arg("reference") = false);
}

}  // namespace sr_native::bind
