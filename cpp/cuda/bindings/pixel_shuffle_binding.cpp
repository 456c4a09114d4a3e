// CUDA bindings of pixel_shuffle / pixel_unshuffle (checks as cpp/bindings/pixel_shuffle_binding.cpp).
#include "device_array.h"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda_bind {
namespace {

DeviceArray shuffle(const py::object& x_obj, int64_t r, const py::object& out_obj, bool inverse) {
    const char* op = inverse ? "pixel_unshuffle" : "pixel_shuffle";
    DeviceArray x = float32_arg(x_obj, op, "x");
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    require_nonempty(x, op, "x");
    if (r < 1 || r > 64) raise_value(std::string(op) + ": r must be from 1 to 64, got " + std::to_string(r));
    const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
    std::vector<int64_t> shape;
    if (!inverse) {
        if (c % (r * r))
            raise_value(std::string(op) + ": channels must be divisible by r*r = " + std::to_string(r * r) +
                        ", got x shape " + x.shape_str());
        shape = {n, c / (r * r), h * r, w * r};
    } else {
        if (h % r || w % r)
            raise_value(std::string(op) + ": height and width must be divisible by r = " + std::to_string(r) +
                        ", got x shape " + x.shape_str());
        shape = {n, c * r * r, h / r, w / r};
    }
    DeviceArray y = result_array(out_obj, shape, op, "out", {&x});
    py::gil_scoped_release release;
    if (inverse) cuda::pixel_unshuffle(x.f32(), y.f32(), n, c, h, w, static_cast<int>(r));
    else cuda::pixel_shuffle(x.f32(), y.f32(), n, c, h, w, static_cast<int>(r));
    return y;
}

}  // namespace

void register_pixel_shuffle(py::module_& m) {
    m.def("pixel_shuffle", [](const py::object& x, int64_t r, const py::object& out) { return shuffle(x, r, out, false); },
          py::arg("x"), py::arg("r"), py::kw_only(), py::arg("out") = py::none());
    m.def("pixel_unshuffle", [](const py::object& x, int64_t r, const py::object& out) { return shuffle(x, r, out, true); },
          py::arg("x"), py::arg("r"), py::kw_only(), py::arg("out") = py::none());
}

}  // namespace sr_native::cuda_bind
