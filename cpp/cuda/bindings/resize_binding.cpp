// CUDA binding of resize: the same arguments as the CPU binding (sizes and
// per-axis scales worked out by sr_native/resize.py), on a DeviceArray image.
#include <cmath>

#include "device_array.h"
#include "sr_native/cuda_kernels.h"

namespace sr_native::cuda_bind {
namespace {

constexpr int64_t kMaxTaps = int64_t{1} << 22;

DeviceArray resize(const py::object& image, int64_t out_h, int64_t out_w, double scale_h, double scale_w, int method,
                   bool antialias) {
    const char* op = "resize";
    if (!py::isinstance<DeviceArray>(image))
        raise_type(std::string(op) + ": image must be a DeviceArray here, got " +
                   py::str(py::type::handle_of(image).attr("__name__")).cast<std::string>());
    DeviceArray x = image.cast<DeviceArray>();
    if (x.shape.size() != 2 && x.shape.size() != 3)
        raise_value(std::string(op) + ": image must be 2-D (H, W) or 3-D (H, W, C), got shape " + x.shape_str());
    require_nonempty(x, op, "image");
    if (out_h < 1 || out_w < 1)
        raise_value(std::string(op) + ": size must be positive, got (" + std::to_string(out_h) + ", " +
                    std::to_string(out_w) + ")");
    if (!(std::isfinite(scale_h) && scale_h > 0 && std::isfinite(scale_w) && scale_w > 0))
        raise_value(std::string(op) + ": scale must be positive and finite");
    if (method < 0 || method > static_cast<int>(ResizeMethod::area))
        raise_value(std::string(op) + ": method code out of range: " + std::to_string(method));
    const double support = method == 3 ? 6.0 : (method == 2 ? 4.0 : (method == 1 ? 2.0 : 1.0));
    for (double sc : {scale_h, scale_w})
        if ((antialias && sc < 1.0 && method != 0 ? support / sc : support) > static_cast<double>(kMaxTaps))
            raise_value(std::string(op) + ": scale " + std::to_string(sc) +
                        " is too small for antialiased shrinking (use antialias=False or shrink in steps)");
    const int64_t h = x.shape[0], w = x.shape[1], c = x.shape.size() == 3 ? x.shape[2] : 1;
    std::vector<int64_t> dims{out_h, out_w};
    if (x.shape.size() == 3) dims.push_back(c);
    DeviceArray y = empty(dims, x.dtype, op);
    const ResizeDtype dtype = x.dtype == DType::f32 ? ResizeDtype::f32 : x.dtype == DType::u16 ? ResizeDtype::u16
                                                                                              : ResizeDtype::u8;
    const ResizeShape s{h, w, c, out_h, out_w, scale_h, scale_w};
    py::gil_scoped_release release;
    cuda::resize(x.data(), y.data(), dtype, s, static_cast<ResizeMethod>(method), antialias);
    return y;
}

}  // namespace

void register_resize(py::module_& m) {
    m.def("resize", &resize, py::arg("image"), py::arg("out_h"), py::arg("out_w"), py::arg("scale_h"),
          py::arg("scale_w"), py::arg("method"), py::arg("antialias"));
}

}  // namespace sr_native::cuda_bind
