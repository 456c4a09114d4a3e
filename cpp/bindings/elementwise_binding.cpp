// Python bindings of the elementwise ops and the Adam step.
#include <cmath>
#include <cstdio>
#include <tuple>

#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

FloatArray add_scaled_py(const py::object& a_obj, const py::object& b_obj, double alpha,
                         bool reference) {
    const char* op = "add_scaled";
    FloatArray a = float32_array(a_obj, op, "a");
    FloatArray b = float32_array(b_obj, op, "b");
    require_same_shape(a, b, op, "a", "b");
    const float alpha_f = finite_float32(alpha, op, "alpha");
    FloatArray y = new_float_array_like(a, op);
    py::gil_scoped_release release;
    (reference ? ref::add_scaled : add_scaled)(a.data(), b.data(), alpha_f,
                                               y.mutable_data(), a.size());
    return y;
}

FloatArray channel_affine_py(const py::object& x_obj, const py::object& scale_obj,
                             const py::object& shift_obj, bool reference) {
    const char* op = "channel_affine";
    FloatArray x = float32_array(x_obj, op, "x");
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    FloatArray scale = float32_array(scale_obj, op, "scale");
    FloatArray shift = float32_array(shift_obj, op, "shift");
    const int64_t c = x.shape(1);
    require_shape(scale, {c}, op, "scale", "(one per channel of x)");
    require_shape(shift, {c}, op, "shift", "(one per channel of x)");
    FloatArray y = new_float_array_like(x, op);
    py::gil_scoped_release release;
    (reference ? ref::channel_affine : channel_affine)(x.data(), scale.data(), shift.data(),
                                                       y.mutable_data(), x.shape(0), c,
                                                       x.shape(2) * x.shape(3));
    return y;
}

FloatArray channel_sum_py(const py::object& x_obj, bool reference) {
    const char* op = "channel_sum";
    FloatArray x = float32_array(x_obj, op, "x");
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    FloatArray out = new_float_array({x.shape(1)}, op);
    py::gil_scoped_release release;
    std::fill_n(out.mutable_data(), x.shape(1), 0.0f);
    (reference ? ref::channel_sum : channel_sum)(x.data(), out.mutable_data(), x.shape(0),
                                                 x.shape(1), x.shape(2) * x.shape(3));
    return out;
}

void adam_step_py(const py::object& p_obj, const py::object& g_obj, const py::object& m_obj,
                  const py::object& v_obj, double lr, double beta1, double beta2, double eps,
                  double weight_decay, int64_t step, bool reference) {
    const char* op = "adam_step";
    FloatArray p = float32_inplace(p_obj, op, "param");
    FloatArray g = float32_array(g_obj, op, "grad");
    FloatArray m = float32_inplace(m_obj, op, "m");
    FloatArray v = float32_inplace(v_obj, op, "v");
    require_same_shape(p, g, op, "param", "grad");
    require_same_shape(p, m, op, "param", "m");
    require_same_shape(p, v, op, "param", "v");
    if (step < 1) raise_value(std::string(op) + ": step counts from 1, got " + std::to_string(step));
    // Checked as the float32 values the kernel uses: beta2 = 1 - 1e-10 is 1.0f
    // (bias correction 1 - beta2^t = 0: NaN), lr = 1e39 is inf.
    const float lr_f = finite_float32(lr, op, "lr"), eps_f = finite_float32(eps, op, "eps");
    const float wd_f = finite_float32(weight_decay, op, "weight_decay");
    const float beta1_f = finite_float32(beta1, op, "beta1"), beta2_f = finite_float32(beta2, op, "beta2");
    if (!(lr_f >= 0)) raise_value(std::string(op) + ": lr must be finite and lr >= 0, got " + std::to_string(lr));
    if (!(wd_f >= 0))
        raise_value(std::string(op) + ": weight_decay must be finite and weight_decay >= 0, got " + std::to_string(weight_decay));
    if (!(eps_f > 0)) {
        char buf[48];
        std::snprintf(buf, sizeof buf, "%.17g", eps);
        raise_value(std::string(op) + ": eps must be > 0 as a float32, got " + buf +
                    (eps > 0 ? " (it rounds to 0 in float32)" : ""));
    }
    for (const auto& [name, value, value_f] : {std::tuple<const char*, double, float>{"beta1", beta1, beta1_f},
                                               std::tuple<const char*, double, float>{"beta2", beta2, beta2_f}}) {
        if (!(value_f >= 0 && value_f < 1)) {
            char buf[48];
            std::snprintf(buf, sizeof buf, "%.17g", value);
            raise_value(std::string(op) + ": " + name + " must be in [0, 1) as a float32, got " + buf +
                        (value >= 0 && value < 1 ? " (it rounds to 1.0 in float32)" : ""));
        }
    }
    const AdamConfig cfg{lr_f, beta1_f, beta2_f, eps_f, wd_f, step};
    py::gil_scoped_release release;
    (reference ? ref::adam_step : adam_step)(p.mutable_data(), g.data(), m.mutable_data(),
                                             v.mutable_data(), p.size(), cfg);
}

}  // namespace

void register_elementwise(py::module_& m) {
    m.def("add_scaled", &add_scaled_py, py::arg("a"), py::arg("b"), py::arg("alpha") = 1.0,
          py::kw_only(), py::arg("reference") = false);
    m.def("channel_affine", &channel_affine_py, py::arg("x"), py::arg("scale"), py::arg("shift"),
          py::kw_only(), py::arg("reference") = false);
    m.def("channel_sum", &channel_sum_py, py::arg("x"), py::kw_only(), py::arg("reference") = false);
    m.def("adam_step", &adam_step_py, py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"),
          py::kw_only(), py::arg("lr"), py::arg("beta1") = 0.9, py::arg("beta2") = 0.999,
          py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0, py::arg("step"),
          py::arg("reference") = false);
}

}  // namespace sr_native::bind
