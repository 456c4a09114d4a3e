// Python bindings of the L1 and MSE losses and their gradients.
#include <cmath>

#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

using ForwardFn = double (*)(const float*, const float*, int64_t);
using BackwardFn = void (*)(const float*, const float*, float*, int64_t, float);

struct LossPair {
    FloatArray pred, target;
};

LossPair loss_inputs(const py::object& p, const py::object& t, const char* op) {
    LossPair io{float32_array(p, op, "pred"), float32_array(t, op, "target")};
    require_same_shape(io.pred, io.target, op, "pred", "target");
    require_nonempty(io.pred, op, "pred");
    return io;
}

double loss_forward(const py::object& p, const py::object& t, const char* op, ForwardFn fn) {
    LossPair io = loss_inputs(p, t, op);
    py::gil_scoped_release release;
    return fn(io.pred.data(), io.target.data(), io.pred.size());
}

FloatArray loss_backward(const py::object& p, const py::object& t, double grad_scale,
                         const char* op, BackwardFn fn) {
    LossPair io = loss_inputs(p, t, op);
    const float scale = finite_float32(grad_scale, op, "grad_scale");
    std::vector<int64_t> shape(io.pred.shape(), io.pred.shape() + io.pred.ndim());
    FloatArray d = new_float_array(shape, op);
    py::gil_scoped_release release;
    fn(io.pred.data(), io.target.data(), d.mutable_data(), io.pred.size(), scale);
    return d;
}

}  // namespace

void register_losses(py::module_& m) {
    m.def("l1_loss", [](const py::object& p, const py::object& t, bool reference) {
        return loss_forward(p, t, "l1_loss", reference ? ref::l1_loss_forward : l1_loss_forward);
    }, py::arg("pred"), py::arg("target"), py::kw_only(), py::arg("reference") = false);
    m.def("mse_loss", [](const py::object& p, const py::object& t, bool reference) {
        return loss_forward(p, t, "mse_loss", reference ? ref::mse_loss_forward : mse_loss_forward);
    }, py::arg("pred"), py::arg("target"), py::kw_only(), py::arg("reference") = false);
    m.def("l1_loss_backward", [](const py::object& p, const py::object& t, double g, bool reference) {
        return loss_backward(p, t, g, "l1_loss_backward",
                             reference ? ref::l1_loss_backward : l1_loss_backward);
    }, py::arg("pred"), py::arg("target"), py::arg("grad_scale") = 1.0, py::kw_only(),
       py::arg("reference") = false);
    m.def("mse_loss_backward", [](const py::object& p, const py::object& t, double g, bool reference) {
        return loss_backward(p, t, g, "mse_loss_backward",
                             reference ? ref::mse_loss_backward : mse_loss_backward);
    }, py::arg("pred"), py::arg("target"), py::arg("grad_scale") = 1.0, py::kw_only(),
       py::arg("reference") = false);
}

}  // namespace sr_native::bind
