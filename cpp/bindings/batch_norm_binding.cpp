// Python bindings of training-mode batch norm, forward and backward.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

// x must be (N, C, H, W) with more than one value per channel (PyTorch's rule:
// with one, the variance is 0 and the output is beta whatever x is).
void check_input(const FloatArray& x, const char* op) {
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    require_nonempty(x, op, "x");
    if (x.shape(0) * x.shape(2) * x.shape(3) < 2)
        raise_value(std::string(op) + ": x needs more than one value per channel (N * H * W > 1) "
                    "for batch statistics, got shape " + shape_str(x));
}

FloatArray per_channel(const py::object& obj, int64_t c, const char* op, const char* name) {
    FloatArray a = float32_array(obj, op, name);
    require_shape(a, {c}, op, name, "(one per channel of x)");
    return a;
}

py::tuple batch_norm_train_py(const py::object& x_obj, const py::object& gamma_obj,
                              const py::object& beta_obj, double eps, bool reference) {
    const char* op = "batch_norm_train";
    FloatArray x = float32_array(x_obj, op, "x");
    check_input(x, op);
    const int64_t n = x.shape(0), c = x.shape(1), hw = x.shape(2) * x.shape(3);
    FloatArray gamma = per_channel(gamma_obj, c, op, "gamma");
    FloatArray beta = per_channel(beta_obj, c, op, "beta");
    if (!(std::isfinite(eps) && eps >= 0.0)) {
        char buf[48];
        std::snprintf(buf, sizeof buf, "%.17g", eps);
        raise_value(std::string(op) + ": eps must be finite and >= 0, got " + buf);
    }
    FloatArray y = new_float_array({n, c, x.shape(2), x.shape(3)}, op);
    FloatArray mean = new_float_array({c}, op);
    FloatArray invstd = new_float_array({c}, op);
    {
        py::gil_scoped_release release;
        (reference ? ref::batch_norm_train_forward : batch_norm_train_forward)(
            x.data(), gamma.data(), beta.data(), eps, y.mutable_data(), mean.mutable_data(),
            invstd.mutable_data(), n, c, hw);
    }
    return py::make_tuple(y, mean, invstd);
}

py::tuple batch_norm_backward_py(const py::object& x_obj, const py::object& gamma_obj,
                                 const py::object& mean_obj, const py::object& invstd_obj,
                                 const py::object& dy_obj, bool reference) {
    const char* op = "batch_norm_backward";
    FloatArray x = float32_array(x_obj, op, "x");
    check_input(x, op);
    const int64_t n = x.shape(0), c = x.shape(1), hw = x.shape(2) * x.shape(3);
    FloatArray gamma = per_channel(gamma_obj, c, op, "gamma");
    FloatArray mean = per_channel(mean_obj, c, op, "mean");
    FloatArray invstd = per_channel(invstd_obj, c, op, "invstd");
    FloatArray dy = float32_array(dy_obj, op, "dy");
    require_same_shape(x, dy, op, "x", "dy");
    FloatArray dx = new_float_array({n, c, x.shape(2), x.shape(3)}, op);
    FloatArray dgamma = new_float_array({c}, op);
    FloatArray dbeta = new_float_array({c}, op);
    {
        py::gil_scoped_release release;
        std::fill_n(dgamma.mutable_data(), c, 0.0f);  // the kernel accumulates
        std::fill_n(dbeta.mutable_data(), c, 0.0f);
        (reference ? ref::batch_norm_backward : batch_norm_backward)(
            x.data(), gamma.data(), mean.data(), invstd.data(), dy.data(), dx.mutable_data(),
            dgamma.mutable_data(), dbeta.mutable_data(), n, c, hw);
    }
    return py::make_tuple(dx, dgamma, dbeta);
}

}  // namespace

void register_batch_norm(py::module_& m) {
    m.def("batch_norm_train", &batch_norm_train_py, py::arg("x"), py::arg("gamma"), py::arg("beta"),
          py::kw_only(), py::arg("eps") = 1e-5, py::arg("reference") = false);
    m.def("batch_norm_backward", &batch_norm_backward_py, py::arg("x"), py::arg("gamma"),
          py::arg("mean"), py::arg("invstd"), py::arg("dy"), py::kw_only(),
          py::arg("reference") = false);
}

}  // namespace sr_native::bind
