// Python bindings of the pixel-attention multiply, forward and backward.
#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

// g is (N, C, H, W) like x, or (N, 1, H, W); returns its channel count.
int64_t gate_channels(const FloatArray& x, const FloatArray& g, const char* op) {
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    require_nonempty(x, op, "x");
    const bool full = g.ndim() == 4 && g.shape(0) == x.shape(0) && g.shape(2) == x.shape(2) &&
                      g.shape(3) == x.shape(3) && (g.shape(1) == x.shape(1) || g.shape(1) == 1);
    if (!full)
        raise_value(std::string(op) + ": g must have shape (" + std::to_string(x.shape(0)) + ", " +
                    std::to_string(x.shape(1)) + " or 1, " + std::to_string(x.shape(2)) + ", " +
                    std::to_string(x.shape(3)) + ") for x shape " + shape_str(x) + ", got " + shape_str(g));
    return g.shape(1);
}

FloatArray pixel_gate_py(const py::object& x_obj, const py::object& g_obj, bool reference) {
    const char* op = "pixel_gate";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray g = float32_array(g_obj, op, "g");
    const int64_t gc = gate_channels(x, g, op);
    const int64_t n = x.shape(0), c = x.shape(1);
    FloatArray y = new_float_array({n, c, x.shape(2), x.shape(3)}, op);
    py::gil_scoped_release release;
    (reference ? ref::pixel_gate_forward : pixel_gate_forward)(x.data(), g.data(), y.mutable_data(), n, c, gc,
                                                               x.shape(2) * x.shape(3));
    return y;
}

py::tuple pixel_gate_backward_py(const py::object& x_obj, const py::object& g_obj, const py::object& dy_obj,
                                 bool reference) {
    const char* op = "pixel_gate_backward";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray g = float32_array(g_obj, op, "g");
    FloatArray dy = float32_array(dy_obj, op, "dy");
    const int64_t gc = gate_channels(x, g, op);
    require_same_shape(x, dy, op, "x", "dy");
    const int64_t n = x.shape(0), c = x.shape(1);
    FloatArray dx = new_float_array({n, c, x.shape(2), x.shape(3)}, op);
    FloatArray dg = new_float_array({n, gc, x.shape(2), x.shape(3)}, op);
    {
        py::gil_scoped_release release;
        (reference ? ref::pixel_gate_backward : pixel_gate_backward)(
            x.data(), g.data(), dy.data(), dx.mutable_data(), dg.mutable_data(), n, c, gc, x.shape(2) * x.shape(3));
    }
    return py::make_tuple(dx, dg);
}

}  // namespace

void register_pixel_gate(py::module_& m) {
    m.def("pixel_gate", &pixel_gate_py, py::arg("x"), py::arg("g"), py::kw_only(), py::arg("reference") = false);
    m.def("pixel_gate_backward", &pixel_gate_backward_py, py::arg("x"), py::arg("g"), py::arg("dy"),
          py::kw_only(), py::arg("reference") = false);
}

}  // namespace sr_native::bind
