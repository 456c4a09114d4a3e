// CUDA bindings of the elementwise ops, the sum of squares and the Adam step.
#include <cuda_runtime.h>

#include <cmath>

#include "device_array.h"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda_bind {
namespace {

void require_same(const DeviceArray& a, const DeviceArray& b, const char* op, const char* na, const char* nb) {
    if (a.shape != b.shape)
        raise_value(std::string(op) + ": " + nb + " must have the shape of " + na + " " + a.shape_str() + ", got " +
                    b.shape_str());
}

// Per-channel parameters may come from the host (a few floats): uploaded here.
DeviceArray channel_vector(const py::object& obj, const char* op, const char* name) {
    if (py::isinstance<py::array>(obj)) {
        auto arr = py::reinterpret_borrow<py::array>(obj);
        if (arr.dtype().num() != py::dtype::of<float>().num())
            raise_type(std::string(op) + ": " + name + " must be float32, got " + py::str(arr.dtype()).cast<std::string>());
        return from_numpy(arr, op);
    }
    return float32_arg(obj, op, name);
}

DeviceArray add_scaled(const py::object& a_obj, const py::object& b_obj, double alpha) {
    const char* op = "add_scaled";
    DeviceArray a = float32_arg(a_obj, op, "a");
    DeviceArray b = float32_arg(b_obj, op, "b");
    require_same(a, b, op, "a", "b");
    DeviceArray y = empty(a.shape, DType::f32, op);
    py::gil_scoped_release release;
    if (a.numel()) cuda::add_scaled(a.f32(), b.f32(), static_cast<float>(alpha), y.f32(), a.numel());
    return y;
}

DeviceArray channel_affine(const py::object& x_obj, const py::object& scale_obj, const py::object& shift_obj) {
    const char* op = "channel_affine";
    DeviceArray x = float32_arg(x_obj, op, "x");
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    DeviceArray scale = channel_vector(scale_obj, op, "scale");
    DeviceArray shift = channel_vector(shift_obj, op, "shift");
    const int64_t c = x.shape[1];
    require_shape(scale, {c}, op, "scale", "(one per channel of x)");
    require_shape(shift, {c}, op, "shift", "(one per channel of x)");
    DeviceArray y = empty(x.shape, DType::f32, op);
    py::gil_scoped_release release;
    if (x.numel()) cuda::channel_affine(x.f32(), scale.f32(), shift.f32(), y.f32(), x.shape[0], c, x.shape[2] * x.shape[3]);
    return y;
}

DeviceArray channel_sum(const py::object& x_obj) {
    const char* op = "channel_sum";
    DeviceArray x = float32_arg(x_obj, op, "x");
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    DeviceArray out = empty({x.shape[1]}, DType::f32, op);
    py::gil_scoped_release release;
    SR_CUDA_CHECK(cudaMemsetAsync(out.data(), 0, out.nbytes(), 0), op);  // accumulated
    if (x.numel()) cuda::channel_sum(x.f32(), out.f32(), x.shape[0], x.shape[1], x.shape[2] * x.shape[3]);
    return out;
}

double sum_squares(const py::object& x_obj) {
    DeviceArray x = float32_arg(x_obj, "sum_squares", "x");
    py::gil_scoped_release release;
    return x.numel() ? cuda::sum_squares(x.f32(), x.numel()) : 0.0;
}

void adam_step(const py::object& p_obj, const py::object& g_obj, const py::object& m_obj, const py::object& v_obj,
               double lr, double beta1, double beta2, double eps, double weight_decay, int64_t step) {
    const char* op = "adam_step";
    DeviceArray p = float32_arg(p_obj, op, "param");
    DeviceArray g = float32_arg(g_obj, op, "grad");
    DeviceArray m = float32_arg(m_obj, op, "m");
    DeviceArray v = float32_arg(v_obj, op, "v");
    require_same(p, g, op, "param", "grad");
    require_same(p, m, op, "param", "m");
    require_same(p, v, op, "param", "v");
    if (step < 1) raise_value(std::string(op) + ": step counts from 1, got " + std::to_string(step));
    if (!(lr >= 0 && std::isfinite(lr)) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0) ||
        !(weight_decay >= 0 && std::isfinite(weight_decay)))
        raise_value(std::string(op) + ": need lr >= 0, 0 <= beta1, beta2 < 1, eps > 0, weight_decay >= 0");
    const AdamConfig cfg{static_cast<float>(lr), static_cast<float>(beta1), static_cast<float>(beta2),
                         static_cast<float>(eps), static_cast<float>(weight_decay), step};
    py::gil_scoped_release release;
    if (p.numel()) cuda::adam_step(p.f32(), g.f32(), m.f32(), v.f32(), p.numel(), cfg);
}

}  // namespace

void register_elementwise(py::module_& m) {
    m.def("add_scaled", &add_scaled, py::arg("a"), py::arg("b"), py::arg("alpha") = 1.0);
    m.def("channel_affine", &channel_affine, py::arg("x"), py::arg("scale"), py::arg("shift"));
    m.def("channel_sum", &channel_sum, py::arg("x"));
    m.def("sum_squares", &sum_squares, py::arg("x"));
    m.def("adam_step", &adam_step, py::arg("param"), py::arg("grad"), py::arg("m"), py::arg("v"), py::kw_only(),
          py::arg("lr"), py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8,
          py::arg("weight_decay") = 0.0, py::arg("step"));
}

}  // namespace sr_native::cuda_bind
