// Python bindings of ReLU and PReLU, forward and backward.
#include <algorithm>

#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

FloatArray relu_py(const py::object& x_obj, const py::object& out_obj, bool reference) {
    return elementwise_forward(x_obj, out_obj, "relu", relu_forward, ref::relu_forward, reference);
}

FloatArray relu_backward_py(const py::object& x_obj, const py::object& dy_obj,
                            const py::object& out_obj, bool reference) {
    const char* op = "relu_backward";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray dy = float32_array(dy_obj, op, "dy");
    require_same_shape(x, dy, op, "x", "dy");
    FloatArray dx;
    if (out_obj.is_none()) {
        dx = new_float_array_like(x, op);
    } else {
        // Elementwise, each value read just before its write: out may be x or
        // dy itself, but must not partly overlap either.
        dx = float32_inplace(out_obj, op, "out");
        require_same_shape(x, dx, op, "x", "out");
        for (const FloatArray* in : {&x, &dy})
            if (in->data() != dx.data() && overlaps(*in, dx))
                raise_value(std::string(op) + ": out may be x or dy itself but must not partly overlap them");
    }
    py::gil_scoped_release release;
    (reference ? ref::relu_backward : relu_backward)(x.data(), dy.data(), dx.mutable_data(), x.size());
    return dx;
}

FloatArray tanh_py(const py::object& x_obj, const py::object& out_obj, bool reference) {
    return elementwise_forward(x_obj, out_obj, "tanh", tanh_forward, ref::tanh_forward, reference);
}

FloatArray tanh_backward_py(const py::object& y_obj, const py::object& dy_obj, bool reference) {
    return backward_from_output(y_obj, dy_obj, "tanh_backward", tanh_backward, ref::tanh_backward, reference);
}

// PReLU acts on (N, C, ...): channel axis 1, everything after it flattened.
struct PreluDims {
    int64_t n, c, hw, num_alpha;
};

PreluDims prelu_dims(const FloatArray& x, const FloatArray& alpha, const char* op) {
    if (x.ndim() < 2)
        raise_value(std::string(op) + ": x must have at least 2 dimensions (N, C, ...), got shape " +
                    shape_str(x));
    const int64_t n = x.shape(0), c = x.shape(1);
    int64_t hw = 1;
    for (py::ssize_t i = 2; i < x.ndim(); ++i) hw *= x.shape(i);
    if (alpha.ndim() != 1 || (alpha.shape(0) != 1 && alpha.shape(0) != c))
        raise_value(std::string(op) + ": alpha must have shape (1,) or (" + std::to_string(c) +
                    ",) for x shape " + shape_str(x) + ", got " + shape_str(alpha));
    return {n, c, hw, alpha.shape(0)};
}

FloatArray prelu_py(const py::object& x_obj, const py::object& alpha_obj, const py::object& out_obj,
                    bool reference) {
    const char* op = "prelu";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray alpha = float32_array(alpha_obj, op, "alpha");
    const PreluDims d = prelu_dims(x, alpha, op);
    FloatArray y = result_array(out_obj, std::vector<int64_t>(x.shape(), x.shape() + x.ndim()), op, "out",
                                "(x's shape)", {&x, &alpha}, "x or alpha");
    py::gil_scoped_release release;
    (reference ? ref::prelu_forward : prelu_forward)(x.data(), alpha.data(), y.mutable_data(), d.n,
                                                     d.c, d.hw, d.num_alpha);
    return y;
}

py::tuple prelu_backward_py(const py::object& x_obj, const py::object& alpha_obj,
                            const py::object& dy_obj, bool reference) {
    const char* op = "prelu_backward";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray alpha = float32_array(alpha_obj, op, "alpha");
    FloatArray dy = float32_array(dy_obj, op, "dy");
    const PreluDims d = prelu_dims(x, alpha, op);
    require_same_shape(x, dy, op, "x", "dy");
    FloatArray dx = new_float_array_like(x, op);
    FloatArray dalpha = new_float_array({d.num_alpha}, op);
    {
        py::gil_scoped_release release;
        std::fill_n(dalpha.mutable_data(), d.num_alpha, 0.0f);
        (reference ? ref::prelu_backward : prelu_backward)(x.data(), alpha.data(), dy.data(),
                                                           dx.mutable_data(), dalpha.mutable_data(),
                                                           d.n, d.c, d.hw, d.num_alpha);
    }
    return py::make_tuple(dx, dalpha);
}

}  // namespace

void register_activations(py::module_& m) {
    m.def("relu", &relu_py, py::arg("x"), py::kw_only(), py::arg("out") = py::none(),
          py::arg("reference") = false);
    m.def("relu_backward", &relu_backward_py, py::arg("x"), py::arg("dy"), py::kw_only(),
          py::arg("out") = py::none(), py::arg("reference") = false);
    m.def("tanh", &tanh_py, py::arg("x"), py::kw_only(), py::arg("out") = py::none(),
          py::arg("reference") = false);
    m.def("tanh_backward", &tanh_backward_py, py::arg("y"), py::arg("dy"), py::kw_only(),
          py::arg("reference") = false);
    m.def("prelu", &prelu_py, py::arg("x"), py::arg("alpha"), py::kw_only(), py::arg("out") = py::none(),
          py::arg("reference") = false);
    m.def("prelu_backward", &prelu_backward_py, py::arg("x"), py::arg("alpha"), py::arg("dy"),
          py::kw_only(), py::arg("reference") = false);
}

}  // namespace sr_native::bind
