// Python bindings of conv2d forward and backward.
#include <algorithm>
#include <cmath>

#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

constexpr const char* kNchw = "(N, C, H, W)";

// Checks x and w and returns the shape of the convolution they define.
Conv2dShape conv_shape(const FloatArray& x, const FloatArray& w, const char* op) {
    require_ndim(x, 4, op, "x", kNchw);
    require_ndim(w, 4, op, "w", "(O, C, K, K)");
    require_nonempty(x, op, "x");
    require_nonempty(w, op, "w");
    const int64_t k = w.shape(2);
    if (w.shape(3) != k)
        raise_value(std::string(op) + ": w must be square (O, C, K, K), got shape " + shape_str(w));
    if (k % 2 == 0 || k > 9)
        raise_value(std::string(op) + ": kernel size must be odd and from 1 to 9, got w shape " +
                    shape_str(w));
    if (w.shape(1) != x.shape(1))
        raise_value(std::string(op) + ": w has " + std::to_string(w.shape(1)) +
                    " input channels but x has " + std::to_string(x.shape(1)) + " (x shape " +
                    shape_str(x) + ", w shape " + shape_str(w) + ")");
    return Conv2dShape{x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0), k};
}

FloatArray conv2d(const py::object& x_obj, const py::object& w_obj, const py::object& b_obj,
                  bool relu, const py::object& residual_obj, double res_scale,
                  const py::object& out_obj, bool reference) {
    const char* op = "conv2d";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray w = float32_array(w_obj, op, "w");
    const Conv2dShape s = conv_shape(x, w, op);
    Conv2dEpilogue e;
    e.relu = relu;
    e.res_scale = finite_float32(res_scale, op, "res_scale");
    FloatArray b, residual;
    if (!b_obj.is_none()) {
        b = float32_array(b_obj, op, "b");
        require_shape(b, {s.o}, op, "b", "(w's output channels)");
        e.bias = b.data();
    }
    FloatArray y = result_array(out_obj, {s.n, s.o, s.h, s.w}, op, "out", "(the output's shape)",
                                {&x, &w, e.bias ? &b : nullptr}, "x, w or b");
    if (!residual_obj.is_none()) {
        residual = addend_array(residual_obj, y, op, "residual", "out", "(the output's shape)");
        e.residual = residual.data();
    }
    {
        py::gil_scoped_release release;
        if (reference) ref::conv2d_forward(x.data(), w.data(), y.mutable_data(), s, e);
        else conv2d_forward(x.data(), w.data(), y.mutable_data(), s, e);
    }
    return y;
}

py::tuple conv2d_backward_py(const py::object& x_obj, const py::object& w_obj,
                             const py::object& dy_obj, const py::object& dx_residual_obj,
                             const py::object& dx_out_obj, bool need_dx, bool reference) {
    const char* op = "conv2d_backward";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray w = float32_array(w_obj, op, "w");
    FloatArray dy = float32_array(dy_obj, op, "dy");
    const Conv2dShape s = conv_shape(x, w, op);
    require_shape(dy, {s.n, s.o, s.h, s.w}, op, "dy", "(the conv2d output's shape)");
    if (!need_dx && !(dx_out_obj.is_none() && dx_residual_obj.is_none()))
        raise_value(std::string(op) + ": dx_out and dx_residual need need_dx=True");
    // need_dx=False (a network's first layer: its input needs no gradient) skips dx's work.
    FloatArray dx = need_dx ? result_array(dx_out_obj, {s.n, s.c, s.h, s.w}, op, "dx_out", "(x's shape)",
                                           {&x, &w, &dy}, "x, w or dy")
                            : FloatArray();
    FloatArray dx_residual;
    if (!dx_residual_obj.is_none())
        dx_residual = addend_array(dx_residual_obj, dx, op, "dx_residual", "dx_out", "(x's shape)");
    const float* res = dx_residual_obj.is_none() ? nullptr : dx_residual.data();
    float* dx_data = need_dx ? dx.mutable_data() : nullptr;
    FloatArray dw = new_float_array({s.o, s.c, s.k, s.k}, op);
    FloatArray db = new_float_array({s.o}, op);
    {
        py::gil_scoped_release release;
        std::fill_n(dw.mutable_data(), dw.size(), 0.0f);  // parameter gradients accumulate
        std::fill_n(db.mutable_data(), db.size(), 0.0f);
        if (reference)
            ref::conv2d_backward(x.data(), w.data(), dy.data(), dx_data, dw.mutable_data(), db.mutable_data(),
                                 s, res);
        else
            conv2d_backward(x.data(), w.data(), dy.data(), dx_data, dw.mutable_data(), db.mutable_data(), s,
                            res);
    }
    return py::make_tuple(need_dx ? py::object(dx) : py::none(), dw, db);
}

FloatArray conv1x1_pair(const py::object& x_obj, const py::object& w1_obj, const py::object& b1_obj,
                        const py::object& w2_obj, const py::object& b2_obj,
                        const py::object& residual_obj, const py::object& out_obj, bool reference) {
    const char* op = "conv1x1_pair";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray w1 = float32_array(w1_obj, op, "w1");
    FloatArray w2 = float32_array(w2_obj, op, "w2");
    const Conv2dShape s1 = conv_shape(x, w1, op);
    if (s1.k != 1) raise_value(std::string(op) + ": w1 must be 1x1 (M, C, 1, 1), got shape " + shape_str(w1));
    require_ndim(w2, 4, op, "w2", "(O, M, 1, 1)");
    require_nonempty(w2, op, "w2");
    if (w2.shape(1) != s1.o || w2.shape(2) != 1 || w2.shape(3) != 1)
        raise_value(std::string(op) + ": w2 must have shape (O, " + std::to_string(s1.o) +
                    ", 1, 1) to follow w1 " + shape_str(w1) + ", got " + shape_str(w2));
    const Conv1x1PairShape s{s1.n, s1.c, s1.o, w2.shape(0), s1.h * s1.w};
    FloatArray b1, b2, residual;
    if (!b1_obj.is_none()) {
        b1 = float32_array(b1_obj, op, "b1");
        require_shape(b1, {s.m}, op, "b1", "(w1's output channels)");
    }
    if (!b2_obj.is_none()) {
        b2 = float32_array(b2_obj, op, "b2");
        require_shape(b2, {s.o}, op, "b2", "(w2's output channels)");
    }
    FloatArray y = result_array(out_obj, {s.n, s.o, s1.h, s1.w}, op, "out", "(the output's shape)",
                                {&x, &w1, &w2, b1_obj.is_none() ? nullptr : &b1, b2_obj.is_none() ? nullptr : &b2},
                                "x, w1, w2, b1 or b2");
    if (!residual_obj.is_none())
        residual = addend_array(residual_obj, y, op, "residual", "out", "(the output's shape)");
    const float* pb1 = b1_obj.is_none() ? nullptr : b1.data();
    const float* pb2 = b2_obj.is_none() ? nullptr : b2.data();
    const float* pres = residual_obj.is_none() ? nullptr : residual.data();
    {
        py::gil_scoped_release release;
        (reference ? ref::conv1x1_pair_forward : conv1x1_pair_forward)(
            x.data(), w1.data(), pb1, w2.data(), pb2, pres, y.mutable_data(), s);
    }
    return y;
}

}  // namespace

void register_conv2d(py::module_& m) {
    m.def("conv2d", &conv2d, py::arg("x"), py::arg("w"), py::arg("b") = py::none(),
          py::kw_only(), py::arg("relu") = false, py::arg("residual") = py::none(),
          py::arg("res_scale") = 1.0, py::arg("out") = py::none(), py::arg("reference") = false,
          "y = residual + res_scale * act(conv(x, w) + b); see sr_native.ops.conv2d.");
    m.def("conv2d_backward", &conv2d_backward_py, py::arg("x"), py::arg("w"), py::arg("dy"),
          py::kw_only(), py::arg("dx_residual") = py::none(), py::arg("dx_out") = py::none(),
          py::arg("need_dx") = true, py::arg("reference") = false,
          "(dx, dw, db) of y = conv(x, w) + b; see sr_native.ops.conv2d_backward.");
    m.def("conv1x1_pair", &conv1x1_pair, py::arg("x"), py::arg("w1"), py::arg("b1"), py::arg("w2"),
          py::arg("b2"), py::kw_only(), py::arg("residual") = py::none(), py::arg("out") = py::none(),
          py::arg("reference") = false,
          "y = residual + conv1x1(relu(conv1x1(x, w1) + b1), w2) + b2; see sr_native.ops.conv1x1_pair.");
}

}  // namespace sr_native::bind
