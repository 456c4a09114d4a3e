// CUDA bindings of ReLU and PReLU, forward and backward (checks as cpp/bindings/activations_binding.cpp).
#include <cuda_runtime.h>

#include "device_array.h"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda_bind {
namespace {

void require_same(const DeviceArray& a, const DeviceArray& b, const char* op, const char* na, const char* nb) {
    if (a.shape != b.shape)
        raise_value(std::string(op) + ": " + nb + " must have the shape of " + na + " " + a.shape_str() + ", got " +
                    b.shape_str());
}

DeviceArray relu(const py::object& x_obj) {
    DeviceArray x = float32_arg(x_obj, "relu", "x");
    DeviceArray y = empty(x.shape, DType::f32, "relu");
    py::gil_scoped_release release;
    if (x.numel()) cuda::relu_forward(x.f32(), y.f32(), x.numel());
    return y;
}

DeviceArray relu_backward(const py::object& x_obj, const py::object& dy_obj, const py::object& out_obj) {
    const char* op = "relu_backward";
    DeviceArray x = float32_arg(x_obj, op, "x");
    DeviceArray dy = float32_arg(dy_obj, op, "dy");
    require_same(x, dy, op, "x", "dy");
    DeviceArray dx;
    if (out_obj.is_none()) {
        dx = empty(x.shape, DType::f32, op);
    } else {
        // Elementwise: out may be x or dy itself, but must not partly overlap them.
        dx = float32_arg(out_obj, op, "out");
        require_same(x, dx, op, "x", "out");
        for (const DeviceArray* in : {&x, &dy})
            if (in->data() != dx.data() && overlaps(*in, dx))
                raise_value(std::string(op) + ": out may be x or dy itself but must not partly overlap them");
    }
    py::gil_scoped_release release;
    if (x.numel()) cuda::relu_backward(x.f32(), dy.f32(), dx.f32(), x.numel());
    return dx;
}

struct PreluDims {
    int64_t n, c, hw, num_alpha;
};

PreluDims prelu_dims(const DeviceArray& x, const DeviceArray& alpha, const char* op) {
    if (x.shape.size() < 2)
        raise_value(std::string(op) + ": x must have at least 2 dimensions (N, C, ...), got shape " + x.shape_str());
    const int64_t n = x.shape[0], c = x.shape[1];
    int64_t hw = 1;
    for (size_t i = 2; i < x.shape.size(); ++i) hw *= x.shape[i];
    if (alpha.shape.size() != 1 || (alpha.shape[0] != 1 && alpha.shape[0] != c))
        raise_value(std::string(op) + ": alpha must have shape (1,) or (" + std::to_string(c) + ",) for x shape " +
                    x.shape_str() + ", got " + alpha.shape_str());
    return {n, c, hw, alpha.shape[0]};
}

DeviceArray prelu(const py::object& x_obj, const py::object& alpha_obj) {
    DeviceArray x = float32_arg(x_obj, "prelu", "x");
    DeviceArray alpha = float32_arg(alpha_obj, "prelu", "alpha");
    const PreluDims d = prelu_dims(x, alpha, "prelu");
    DeviceArray y = empty(x.shape, DType::f32, "prelu");
    py::gil_scoped_release release;
    if (x.numel()) cuda::prelu_forward(x.f32(), alpha.f32(), y.f32(), d.n, d.c, d.hw, d.num_alpha);
    return y;
}

py::tuple prelu_backward(const py::object& x_obj, const py::object& alpha_obj, const py::object& dy_obj) {
    const char* op = "prelu_backward";
    DeviceArray x = float32_arg(x_obj, op, "x");
    DeviceArray alpha = float32_arg(alpha_obj, op, "alpha");
    DeviceArray dy = float32_arg(dy_obj, op, "dy");
    const PreluDims d = prelu_dims(x, alpha, op);
    require_same(x, dy, op, "x", "dy");
    DeviceArray dx = empty(x.shape, DType::f32, op);
    DeviceArray dalpha = empty({d.num_alpha}, DType::f32, op);
    {
        py::gil_scoped_release release;
        SR_CUDA_CHECK(cudaMemsetAsync(dalpha.data(), 0, dalpha.nbytes(), 0), op);  // accumulated
        if (x.numel())
            cuda::prelu_backward(x.f32(), alpha.f32(), dy.f32(), dx.f32(), dalpha.f32(), d.n, d.c, d.hw, d.num_alpha);
    }
    return py::make_tuple(dx, dalpha);
}

}  // namespace

void register_activations(py::module_& m) {
    m.def("relu", &relu, py::arg("x"));
    m.def("relu_backward", &relu_backward, py::arg("x"), py::arg("dy"), py::kw_only(), py::arg("out") = py::none());
    m.def("prelu", &prelu, py::arg("x"), py::arg("alpha"));
    m.def("prelu_backward", &prelu_backward, py::arg("x"), py::arg("alpha"), py::arg("dy"));
}

}  // namespace sr_native::cuda_bind
