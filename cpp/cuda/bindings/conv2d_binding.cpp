// CUDA bindings of conv2d forward, backward and the fused 1x1 pair; the same
// arguments and checks as the CPU bindings (cpp/bindings/conv2d_binding.cpp).
#include <cuda_runtime.h>

#include <cmath>

#include "device_array.h"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda_bind {
namespace {

Conv2dShape conv_shape(const DeviceArray& x, const DeviceArray& w, const char* op) {
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    require_ndim(w, 4, op, "w", "(O, C, K, K)");
    require_nonempty(x, op, "x");
    require_nonempty(w, op, "w");
    const int64_t k = w.shape[2];
    if (w.shape[3] != k) raise_value(std::string(op) + ": w must be square (O, C, K, K), got shape " + w.shape_str());
    if (k % 2 == 0 || k > 9)
        raise_value(std::string(op) + ": kernel size must be odd and from 1 to 9, got w shape " + w.shape_str());
    if (w.shape[1] != x.shape[1])
        raise_value(std::string(op) + ": w has " + std::to_string(w.shape[1]) + " input channels but x has " +
                    std::to_string(x.shape[1]) + " (x shape " + x.shape_str() + ", w shape " + w.shape_str() + ")");
    // Limits of the kernels' indexing (cpp/cuda/NOTES-conv.md): 32-bit pixel
    // offsets within one image plane, output channels on a grid axis.
    if (x.shape[2] * x.shape[3] >= (int64_t{1} << 31))
        raise_value(std::string(op) + ": H * W must be below 2^31 on the GPU, got x shape " + x.shape_str());
    if (w.shape[0] > 65535)
        raise_value(std::string(op) + ": at most 65535 output channels on the GPU, got w shape " + w.shape_str());
    return Conv2dShape{x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0], k};
}

DeviceArray conv2d(const py::object& x_obj, const py::object& w_obj, const py::object& b_obj, bool relu,
                   const py::object& residual_obj, double res_scale, const py::object& out_obj) {
    const char* op = "conv2d";
    DeviceArray x = float32_arg(x_obj, op, "x");
    DeviceArray w = float32_arg(w_obj, op, "w");
    const Conv2dShape s = conv_shape(x, w, op);
    if (!std::isfinite(res_scale))
        raise_value(std::string(op) + ": res_scale must be finite, got " + std::to_string(res_scale));
    Conv2dEpilogue e;
    e.relu = relu;
    e.res_scale = static_cast<float>(res_scale);
    DeviceArray b, residual;
    if (!b_obj.is_none()) {
        b = float32_arg(b_obj, op, "b");
        require_shape(b, {s.o}, op, "b", "(w's output channels)");
        e.bias = b.f32();
    }
    DeviceArray y = result_array(out_obj, {s.n, s.o, s.h, s.w}, op, "out", {&x, &w, e.bias ? &b : nullptr});
    if (!residual_obj.is_none()) {
        residual = addend_array(residual_obj, y, op, "residual");
        e.residual = residual.f32();
    }
    py::gil_scoped_release release;
    cuda::conv2d_forward(x.f32(), w.f32(), y.f32(), s, e);
    return y;
}

py::tuple conv2d_backward(const py::object& x_obj, const py::object& w_obj, const py::object& dy_obj,
                          const py::object& dx_residual_obj, const py::object& dx_out_obj) {
    const char* op = "conv2d_backward";
    DeviceArray x = float32_arg(x_obj, op, "x");
    DeviceArray w = float32_arg(w_obj, op, "w");
    DeviceArray dy = float32_arg(dy_obj, op, "dy");
    const Conv2dShape s = conv_shape(x, w, op);
    require_shape(dy, {s.n, s.o, s.h, s.w}, op, "dy", "(the conv2d output's shape)");
    DeviceArray dx = result_array(dx_out_obj, {s.n, s.c, s.h, s.w}, op, "dx_out", {&x, &w, &dy});
    const float* res = nullptr;
    DeviceArray dx_residual;
    if (!dx_residual_obj.is_none()) {
        dx_residual = addend_array(dx_residual_obj, dx, op, "dx_residual");
        res = dx_residual.f32();
    }
    DeviceArray dw = empty({s.o, s.c, s.k, s.k}, DType::f32, op);
    DeviceArray db = empty({s.o}, DType::f32, op);
    {
        py::gil_scoped_release release;
        // Parameter gradients accumulate: start them at zero.
        SR_CUDA_CHECK(cudaMemsetAsync(dw.data(), 0, dw.nbytes(), 0), op);
        SR_CUDA_CHECK(cudaMemsetAsync(db.data(), 0, db.nbytes(), 0), op);
        cuda::conv2d_backward(x.f32(), w.f32(), dy.f32(), dx.f32(), dw.f32(), db.f32(), s, res);
    }
    return py::make_tuple(dx, dw, db);
}

DeviceArray conv1x1_pair(const py::object& x_obj, const py::object& w1_obj, const py::object& b1_obj,
                         const py::object& w2_obj, const py::object& b2_obj, const py::object& residual_obj,
                         const py::object& out_obj) {
    const char* op = "conv1x1_pair";
    DeviceArray x = float32_arg(x_obj, op, "x");
    DeviceArray w1 = float32_arg(w1_obj, op, "w1");
    DeviceArray w2 = float32_arg(w2_obj, op, "w2");
    const Conv2dShape s1 = conv_shape(x, w1, op);
    if (s1.k != 1) raise_value(std::string(op) + ": w1 must be 1x1 (M, C, 1, 1), got shape " + w1.shape_str());
    require_ndim(w2, 4, op, "w2", "(O, M, 1, 1)");
    require_nonempty(w2, op, "w2");
    if (w2.shape[1] != s1.o || w2.shape[2] != 1 || w2.shape[3] != 1)
        raise_value(std::string(op) + ": w2 must have shape (O, " + std::to_string(s1.o) + ", 1, 1) to follow w1 " +
                    w1.shape_str() + ", got " + w2.shape_str());
    const Conv1x1PairShape s{s1.n, s1.c, s1.o, w2.shape[0], s1.h * s1.w};
    DeviceArray b1, b2, residual;
    const float *pb1 = nullptr, *pb2 = nullptr, *pres = nullptr;
    if (!b1_obj.is_none()) {
        b1 = float32_arg(b1_obj, op, "b1");
        require_shape(b1, {s.m}, op, "b1", "(w1's output channels)");
        pb1 = b1.f32();
    }
    if (!b2_obj.is_none()) {
        b2 = float32_arg(b2_obj, op, "b2");
        require_shape(b2, {s.o}, op, "b2", "(w2's output channels)");
        pb2 = b2.f32();
    }
    DeviceArray y = result_array(out_obj, {s.n, s.o, s1.h, s1.w}, op, "out",
                                 {&x, &w1, &w2, pb1 ? &b1 : nullptr, pb2 ? &b2 : nullptr});
    if (!residual_obj.is_none()) {
        residual = addend_array(residual_obj, y, op, "residual");
        pres = residual.f32();
    }
    py::gil_scoped_release release;
    cuda::conv1x1_pair_forward(x.f32(), w1.f32(), pb1, w2.f32(), pb2, pres, y.f32(), s);
    return y;
}

}  // namespace

void register_conv2d(py::module_& m) {
    m.def("conv2d", &conv2d, py::arg("x"), py::arg("w"), py::arg("b") = py::none(), py::kw_only(),
          py::arg("relu") = false, py::arg("residual") = py::none(), py::arg("res_scale") = 1.0,
          py::arg("out") = py::none());
    m.def("conv2d_backward", &conv2d_backward, py::arg("x"), py::arg("w"), py::arg("dy"), py::kw_only(),
          py::arg("dx_residual") = py::none(), py::arg("dx_out") = py::none());
    m.def("conv1x1_pair", &conv1x1_pair, py::arg("x"), py::arg("w1"), py::arg("b1"), py::arg("w2"), py::arg("b2"),
          py::kw_only(), py::arg("residual") = py::none(), py::arg("out") = py::none());
}

}  // namespace sr_native::cuda_bind
