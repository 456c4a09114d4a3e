// Python bindings of conv_transpose2d forward and backward.
#include <algorithm>
#include <string>

#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

constexpr int64_t kMaxKernel = 9;
constexpr int64_t kMaxStride = 8;

// Checks x, w and the geometry, and returns the shape they define.
ConvTranspose2dShape convt_shape(const FloatArray& x, const FloatArray& w, int64_t stride, int64_t padding,
                                 int64_t output_padding, const char* op) {
    const std::string o = op;
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    require_ndim(w, 4, op, "w", "(C, O, K, K)");
    require_nonempty(x, op, "x");
    require_nonempty(w, op, "w");
    const int64_t k = w.shape(2);
    if (w.shape(3) != k)
        raise_value(o + ": w must be square (C, O, K, K), got shape " + shape_str(w));
    if (k > kMaxKernel)
        raise_value(o + ": kernel size must be from 1 to 9, got w shape " + shape_str(w));
    if (w.shape(0) != x.shape(1))
        raise_value(o + ": w has " + std::to_string(w.shape(0)) +
                    " input channels (w is (C, O, K, K), PyTorch's ConvTranspose2d layout) but x has " +
                    std::to_string(x.shape(1)) + " (x shape " + shape_str(x) + ", w shape " + shape_str(w) + ")");
    if (stride < 1 || stride > kMaxStride)
        raise_value(o + ": stride must be from 1 to 8, got " + std::to_string(stride));
    if (padding < 0) raise_value(o + ": padding must be >= 0, got " + std::to_string(padding));
    if (output_padding < 0 || output_padding >= stride)
        raise_value(o + ": output_padding must be >= 0 and smaller than stride " + std::to_string(stride) +
                    " (PyTorch's rule), got " + std::to_string(output_padding));
    ConvTranspose2dShape s{x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(1), k,
                           stride, 0, output_padding};
    // Before setting pad: a padding this large would overflow 2 * pad, and
    // leaves no output anyway.
    const int64_t full = std::min(s.out_h(), s.out_w());  // the output side at padding 0
    if (padding > full)
        raise_value(o + ": padding " + std::to_string(padding) + " leaves no output for x shape " + shape_str(x) +
                    " and w shape " + shape_str(w));
    s.pad = padding;
    if (s.out_h() < 1 || s.out_w() < 1)
        raise_value(o + ": the output would be " + std::to_string(s.out_h()) + "x" + std::to_string(s.out_w()) +
                    " ((H - 1) * stride - 2 * padding + K + output_padding) for x shape " + shape_str(x) +
                    ", w shape " + shape_str(w) + ", stride " + std::to_string(stride) + ", padding " +
                    std::to_string(padding) + ", output_padding " + std::to_string(output_padding) +
                    "; it must be at least 1x1");
    return s;
}

FloatArray conv_transpose2d(const py::object& x_obj, const py::object& w_obj, const py::object& b_obj,
                            int64_t stride, int64_t padding, int64_t output_padding, const py::object& out_obj,
                            bool reference) {
    const char* op = "conv_transpose2d";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray w = float32_array(w_obj, op, "w");
    const ConvTranspose2dShape s = convt_shape(x, w, stride, padding, output_padding, op);
    FloatArray b;
    const float* bias = nullptr;
    if (!b_obj.is_none()) {
        b = float32_array(b_obj, op, "b");
        require_shape(b, {s.o}, op, "b", "(w's output channels, w.shape[1])");
        bias = b.data();
    }
    FloatArray y = result_array(out_obj, {s.n, s.o, s.out_h(), s.out_w()}, op, "out", "(the output's shape)",
                                {&x, &w, bias ? &b : nullptr}, "x, w or b");
    // The fast kernel's copy of x with zero margins.
    if (!reference) check_available(x.nbytes() / s.w * (s.w + 32), op, "x's padded copy");
    {
        py::gil_scoped_release release;
        if (reference) ref::conv_transpose2d_forward(x.data(), w.data(), bias, y.mutable_data(), s);
        else conv_transpose2d_forward(x.data(), w.data(), bias, y.mutable_data(), s);
    }
    return y;
}

py::tuple conv_transpose2d_backward_py(const py::object& x_obj, const py::object& w_obj, const py::object& dy_obj,
                                       int64_t stride, int64_t padding, int64_t output_padding,
                                       const py::object& dx_out_obj, bool reference) {
    const char* op = "conv_transpose2d_backward";
    FloatArray x = float32_array(x_obj, op, "x");
    FloatArray w = float32_array(w_obj, op, "w");
    FloatArray dy = float32_array(dy_obj, op, "dy");
    const ConvTranspose2dShape s = convt_shape(x, w, stride, padding, output_padding, op);
    require_shape(dy, {s.n, s.o, s.out_h(), s.out_w()}, op, "dy", "(the conv_transpose2d output's shape)");
    FloatArray dx = result_array(dx_out_obj, {s.n, s.c, s.h, s.w}, op, "dx_out", "(x's shape)", {&x, &w, &dy},
                                 "x, w or dy");
    FloatArray dw = new_float_array({s.c, s.o, s.k, s.k}, op);
    FloatArray db = new_float_array({s.o}, op);
    // The fast backward's copy of dy by column phase, with zero margins.
    if (!reference) check_available(dy.nbytes() / s.out_w() * (s.out_w() + 4 * s.stride * 16), op, "dy's phase copy");
    {
        py::gil_scoped_release release;
        std::fill_n(dw.mutable_data(), dw.size(), 0.0f);  // parameter gradients accumulate
        std::fill_n(db.mutable_data(), db.size(), 0.0f);
        (reference ? ref::conv_transpose2d_backward : conv_transpose2d_backward)(
            x.data(), w.data(), dy.data(), dx.mutable_data(), dw.mutable_data(), db.mutable_data(), s);
    }
    return py::make_tuple(dx, dw, db);
}

}  // namespace

void register_conv_transpose2d(py::module_& m) {
    m.def("conv_transpose2d", &conv_transpose2d, py::arg("x"), py::arg("w"), py::arg("b") = py::none(),
          py::kw_only(), py::arg("stride") = 1, py::arg("padding") = 0, py::arg("output_padding") = 0,
          py::arg("out") = py::none(), py::arg("reference") = false,
          "Transposed convolution (PyTorch's ConvTranspose2d); see sr_native.ops.conv_transpose2d.");
    m.def("conv_transpose2d_backward", &conv_transpose2d_backward_py, py::arg("x"), py::arg("w"), py::arg("dy"),
          py::kw_only(), py::arg("stride") = 1, py::arg("padding") = 0, py::arg("output_padding") = 0,
          py::arg("dx_out") = py::none(), py::arg("reference") = false,
          "(dx, dw, db) of conv_transpose2d; see sr_native.ops.conv_transpose2d_backward.");
}

}  // namespace sr_native::bind
