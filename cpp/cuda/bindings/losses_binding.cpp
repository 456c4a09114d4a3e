// CUDA bindings of the L1 and MSE losses and their gradients.
#include <cmath>

#include "device_array.h"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda_bind {
namespace {

using ForwardFn = double (*)(const float*, const float*, int64_t);
using BackwardFn = void (*)(const float*, const float*, float*, int64_t, float);

std::pair<DeviceArray, DeviceArray> loss_inputs(const py::object& p, const py::object& t, const char* op) {
    DeviceArray pred = float32_arg(p, op, "pred");
    DeviceArray target = float32_arg(t, op, "target");
    if (pred.shape != target.shape)
        raise_value(std::string(op) + ": target must have the shape of pred " + pred.shape_str() + ", got " +
                    target.shape_str());
    require_nonempty(pred, op, "pred");
    return {pred, target};
}

double loss_forward(const py::object& p, const py::object& t, const char* op, ForwardFn fn) {
    auto io = loss_inputs(p, t, op);
    py::gil_scoped_release release;
    return fn(io.first.f32(), io.second.f32(), io.first.numel());
}

DeviceArray loss_backward(const py::object& p, const py::object& t, double grad_scale, const char* op,
                          BackwardFn fn) {
    auto io = loss_inputs(p, t, op);
    if (!std::isfinite(grad_scale))
        raise_value(std::string(op) + ": grad_scale must be finite, got " + std::to_string(grad_scale));
    DeviceArray d = empty(io.first.shape, DType::f32, op);
    py::gil_scoped_release release;
    fn(io.first.f32(), io.second.f32(), d.f32(), io.first.numel(), static_cast<float>(grad_scale));
    return d;
}

}  // namespace

void register_losses(py::module_& m) {
    m.def("l1_loss", [](const py::object& p, const py::object& t) {
        return loss_forward(p, t, "l1_loss", cuda::l1_loss_forward);
    }, py::arg("pred"), py::arg("target"));
    m.def("mse_loss", [](const py::object& p, const py::object& t) {
        return loss_forward(p, t, "mse_loss", cuda::mse_loss_forward);
    }, py::arg("pred"), py::arg("target"));
    m.def("l1_loss_backward", [](const py::object& p, const py::object& t, double g) {
        return loss_backward(p, t, g, "l1_loss_backward", cuda::l1_loss_backward);
    }, py::arg("pred"), py::arg("target"), py::arg("grad_scale") = 1.0);
    m.def("mse_loss_backward", [](const py::object& p, const py::object& t, double g) {
        return loss_backward(p, t, g, "mse_loss_backward", cuda::mse_loss_backward);
    }, py::arg("pred"), py::arg("target"), py::arg("grad_scale") = 1.0);
}

}  // namespace sr_native::cuda_bind
