// Python bindings of max_pool2d, forward and backward.
#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

// The shape of a pooling of x (checked: a 4-D input holding at least one window).
MaxPool2dShape pool_shape(const FloatArray& x, int64_t k, int64_t s, const char* op) {
    if (k < 1) raise_value(std::string(op) + ": k (the window size) must be >= 1, got " + std::to_string(k));
    if (s < 1) raise_value(std::string(op) + ": s (the stride) must be >= 1, got " + std::to_string(s));
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    require_nonempty(x, op, "x");
    const int64_t h = x.shape(2), w = x.shape(3);
    if (k > h || k > w)
        raise_value(std::string(op) + ": the window k = " + std::to_string(k) +
                    " is larger than the input's height or width, x shape " + shape_str(x) +
                    " (no padding: H and W must be >= k)");
    return MaxPool2dShape{x.shape(0), x.shape(1), h, w, k, s, (h - k) / s + 1, (w - k) / s + 1};
}

FloatArray max_pool2d_py(const py::object& x_obj, int64_t k, int64_t s, bool reference) {
    const char* op = "max_pool2d";
    FloatArray x = float32_array(x_obj, op, "x");
    const MaxPool2dShape shape = pool_shape(x, k, s, op);
    FloatArray y = new_float_array({shape.n, shape.c, shape.ho, shape.wo}, op);
    py::gil_scoped_release release;
    (reference ? ref::max_pool2d_forward : max_pool2d_forward)(x.data(), y.mutable_data(), shape);
    return y;
}

FloatArray max_pool2d_backward_py(const py::object& x_obj, const py::object& dy_obj, int64_t k, int64_t s,
                                  bool reference) {
    const char* op = "max_pool2d_backward";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray dy = float32_array(dy_obj, op, "dy");
    const MaxPool2dShape shape = pool_shape(x, k, s, op);
    require_shape(dy, {shape.n, shape.c, shape.ho, shape.wo}, op, "dy", "(the forward's output shape)");
    FloatArray dx = new_float_array_like(x, op);
    py::gil_scoped_release release;
    (reference ? ref::max_pool2d_backward : max_pool2d_backward)(x.data(), dy.data(), dx.mutable_data(), shape);
    return dx;
}

}  // namespace

void register_max_pool2d(py::module_& m) {
    m.def("max_pool2d", &max_pool2d_py, py::arg("x"), py::arg("k"), py::arg("s"), py::kw_only(),
          py::arg("reference") = false);
    m.def("max_pool2d_backward", &max_pool2d_backward_py, py::arg("x"), py::arg("dy"), py::arg("k"),
          py::arg("s"), py::kw_only(), py::arg("reference") = false);
}

}  // namespace sr_native::bind
