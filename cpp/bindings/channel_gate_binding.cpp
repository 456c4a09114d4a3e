// Python bindings of the channel-attention multiply, forward and backward.
#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

void check_pair(const FloatArray& x, const FloatArray& s, const char* op) {
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    require_nonempty(x, op, "x");
    require_shape(s, {x.shape(0), x.shape(1)}, op, "s", "(N, C) of x");
}

FloatArray channel_gate_py(const py::object& x_obj, const py::object& s_obj, bool reference) {
    const char* op = "channel_gate";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray s = float32_array(s_obj, op, "s");
    check_pair(x, s, op);
    const int64_t n = x.shape(0), c = x.shape(1);
    FloatArray y = new_float_array({n, c, x.shape(2), x.shape(3)}, op);
    py::gil_scoped_release release;
    (reference ? ref::channel_gate_forward : channel_gate_forward)(x.data(), s.data(), y.mutable_data(), n, c,
                                                                   x.shape(2) * x.shape(3));
    return y;
}

py::tuple channel_gate_backward_py(const py::object& x_obj, const py::object& s_obj, const py::object& dy_obj,
                                   bool reference) {
    const char* op = "channel_gate_backward";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray s = float32_array(s_obj, op, "s");
    FloatArray dy = float32_array(dy_obj, op, "dy");
    check_pair(x, s, op);
    require_same_shape(x, dy, op, "x", "dy");
    const int64_t n = x.shape(0), c = x.shape(1);
    FloatArray dx = new_float_array({n, c, x.shape(2), x.shape(3)}, op);
    FloatArray ds = new_float_array({n, c}, op);
    {
        py::gil_scoped_release release;
        (reference ? ref::channel_gate_backward : channel_gate_backward)(
            x.data(), s.data(), dy.data(), dx.mutable_data(), ds.mutable_data(), n, c, x.shape(2) * x.shape(3));
    }
    return py::make_tuple(dx, ds);
}

}  // namespace

void register_channel_gate(py::module_& m) {
    m.def("channel_gate", &channel_gate_py, py::arg("x"), py::arg("s"), py::kw_only(),
          py::arg("reference") = false);
    m.def("channel_gate_backward", &channel_gate_backward_py, py::arg("x"), py::arg("s"), py::arg("dy"),
          py::kw_only(), py::arg("reference") = false);
}

}  // namespace sr_native::bind
