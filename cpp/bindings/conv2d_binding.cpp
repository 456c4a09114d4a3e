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

// conv2d over a band of rows (kernels.h's Conv2dRows): x, residual and out
// may be row slices of taller arrays; out's rows are the output's.
void conv2d_rows(const py::object& x_obj, const py::object& w_obj, const py::object& b_obj,
                 const py::object& out_obj, int64_t pad_top, int64_t whole_h, bool relu,
                 const py::object& residual_obj, double res_scale, bool reference) {
    const char* op = "conv2d_rows";
    const RowBand x = row_band(x_obj, op, "x", false);
    RowBand y = row_band(out_obj, op, "out", true);
    FloatArray w = float32_array(w_obj, op, "w");
    require_ndim(w, 4, op, "w", "(O, C, K, K)");
    const int64_t k = w.shape(2), p = k / 2;
    if (w.shape(3) != k || k % 2 == 0 || k > 9)
        raise_value(std::string(op) + ": w must be (O, C, K, K) with K odd from 1 to 9, got shape " + shape_str(w));
    if (w.shape(1) != x.c || w.shape(0) != y.c || x.n != y.n || x.w != y.w)
        raise_value(std::string(op) + ": x " + shape_str(x.arr) + ", w " + shape_str(w) + " and out " +
                    shape_str(y.arr) + " do not agree (out must be (N, O, rows, W) for x (N, C, x_rows, W))");
    const int64_t pad_bottom = y.h + k - 1 - x.h - pad_top;
    if (pad_top < 0 || pad_top > p || pad_bottom < 0 || pad_bottom > p)
        raise_value(std::string(op) + ": out has " + std::to_string(y.h) + " rows, x " + std::to_string(x.h) +
                    " and pad_top is " + std::to_string(pad_top) + ": the zero rows above and below x must each be "
                    "from 0 to K/2 = " + std::to_string(p));
    if (whole_h < y.h)
        raise_value(std::string(op) + ": whole_h (" + std::to_string(whole_h) + ") must be at least out's rows (" +
                    std::to_string(y.h) + ")");
    Conv2dEpilogue e;
    e.relu = relu;
    e.res_scale = finite_float32(res_scale, op, "res_scale");
    FloatArray b;
    if (!b_obj.is_none()) {
        b = float32_array(b_obj, op, "b");
        require_shape(b, {y.c}, op, "b", "(w's output channels)");
        e.bias = b.data();
    }
    if (overlaps(x, y)) raise_value(std::string(op) + ": out must not share memory with x");
    const char* y0 = y.begin();
    const char* y1 = y.end();
    const auto inside_y = [&](const py::array& a) {
        const char* a0 = static_cast<const char*>(a.data());
        return a0 < y1 && y0 < a0 + a.nbytes();
    };
    if (inside_y(w) || (e.bias && inside_y(b))) raise_value(std::string(op) + ": out must not share memory with w or b");
    if (!residual_obj.is_none()) {
        const RowBand r = row_band(residual_obj, op, "residual", false);
        if (r.n != y.n || r.c != y.c || r.h != y.h || r.w != y.w)
            raise_value(std::string(op) + ": residual must have out's shape, got " +
                        shape_str(r.arr) + " for out " + shape_str(y.arr));
        if (r.data != y.data && overlaps(r, y))
            raise_value(std::string(op) + ": residual may be out itself but must not partly overlap it");
        e.residual = r.data;
    }
    const Conv2dShape s{y.n, x.c, y.h, y.w, y.c, k};
    const int64_t r_plane = e.residual ? row_band(residual_obj, op, "residual", false).plane : y.plane;
    const Conv2dRows rows{x.h, pad_top, x.plane, y.plane, r_plane, whole_h};
    {
        py::gil_scoped_release release;
        if (reference) ref::conv2d_forward_rows(x.data, w.data(), y.data, s, e, rows);
        else conv2d_forward_rows(x.data, w.data(), y.data, s, e, rows);
    }
}

}  // namespace

void register_conv2d(py::module_& m) {
    m.def("conv2d_rows", &conv2d_rows, py::arg("x"), py::arg("w"), py::arg("b") = py::none(), py::kw_only(),
          py::arg("out"), py::arg("pad_top"), py::arg("whole_h"), py::arg("relu") = false,
          py::arg("residual") = py::none(), py::arg("res_scale") = 1.0, py::arg("reference") = false,
          "conv2d over a band of rows of a taller image into out; see sr_native.ops.conv2d_rows.");
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
