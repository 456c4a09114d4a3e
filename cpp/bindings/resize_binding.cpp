// Python binding of resize. Python (sr_native/resize.py) turns scale/size
// into output sizes and per-axis scales; this checks the image and those
// numbers again, allocates the result and runs the kernel without the GIL.
#include <cmath>
#include <cstdint>

#include "checks.h"
#include "register.h"
#include "sr_native/resize.h"

namespace sr_native::bind {
namespace {

constexpr int64_t kMaxTaps = int64_t{1} << 22;

py::array resize_py(const py::handle& image, int64_t out_h, int64_t out_w, double scale_h,
                    double scale_w, int method, bool antialias, bool reference) {
    const char* op = "resize";
    if (!py::isinstance<py::array>(image))
        raise_type(std::string(op) + ": image must be a numpy.ndarray of uint8, uint16 or float32, got " +
                   type_name(image));
    auto arr = py::reinterpret_borrow<py::array>(image);
    ResizeDtype dtype;
    int64_t elem;
    if (is_dtype<uint8_t>(arr.dtype())) { dtype = ResizeDtype::u8; elem = 1; }
    else if (is_dtype<uint16_t>(arr.dtype())) { dtype = ResizeDtype::u16; elem = 2; }
    else if (is_dtype<float>(arr.dtype())) { dtype = ResizeDtype::f32; elem = 4; }
    else
        raise_type(std::string(op) + ": image must be uint8, uint16 or float32, got " +
                   py::str(arr.dtype()).cast<std::string>() + " with shape " + shape_str(arr));
    if (arr.ndim() != 2 && arr.ndim() != 3)
        raise_value(std::string(op) + ": image must be 2-D (H, W) or 3-D (H, W, C), got shape " +
                    shape_str(arr));
    require_nonempty(arr, op, "image");
    if (out_h < 1 || out_w < 1)
        raise_value(std::string(op) + ": size must be positive, got (" + std::to_string(out_h) +
                    ", " + std::to_string(out_w) + ")");
    if (!(std::isfinite(scale_h) && scale_h > 0 && std::isfinite(scale_w) && scale_w > 0))
        raise_value(std::string(op) + ": scale must be positive and finite, got (" +
                    std::to_string(scale_h) + ", " + std::to_string(scale_w) + ")");
    if (method < 0 || method > static_cast<int>(ResizeMethod::area))
        raise_value(std::string(op) + ": method code out of range: " + std::to_string(method));

    const int64_t h = arr.shape(0), w = arr.shape(1), c = arr.ndim() == 3 ? arr.shape(2) : 1;
    // Shrinking widens the filter by 1/scale; past kMaxTaps taps per output
    // pixel the tap tables alone would take gigabytes.
    const double support = method == 3 ? 6.0 : (method == 2 ? 4.0 : (method == 1 ? 2.0 : 1.0));
    for (double sc : {scale_h, scale_w}) {
        const double taps = (antialias && sc < 1.0 && method != 0) ? support / sc : support;
        if (taps > static_cast<double>(kMaxTaps))
            raise_value(std::string(op) + ": scale " + std::to_string(sc) +
                        " is too small for antialiased shrinking: the filter would need " +
                        std::to_string(static_cast<double>(taps)) + " taps per output pixel (at most " +
                        std::to_string(kMaxTaps) + "; use antialias=False or shrink in steps)");
    }
    const int64_t out_bytes = checked_numel({out_h, out_w, c}, elem, op) * elem;
    // The scratch is counted with the result before anything is allocated
    // (a one-row image resized to a million columns needs far more for its tap
    // tables than for its pixels): per output pixel of an axis, up to
    // P = ceil(width) + 2 taps of index and weight in the reference's and the
    // fast kernel's tables (and the AVX-512 patterns, per channel), plus the
    // float intermediate image of the first pass. (Measured: 1000 -> 2,000,000
    // columns, bicubic, one channel peaks 473 MB above the start; counted 880.)
    auto taps_bytes = [&](int64_t out_len, double sc) {
        const double width = (antialias && sc < 1.0 && method != 0) ? support / sc : support;
        return static_cast<double>(out_len) * ((std::ceil(width) + 2.0) * (64.0 + 4.0 * c) + 32.0);
    };
    const double mid_px = scale_w < scale_h ? static_cast<double>(h) * out_w : static_cast<double>(out_h) * w;
    const double need = static_cast<double>(out_bytes) + taps_bytes(out_h, scale_h) + taps_bytes(out_w, scale_w) +
                        mid_px * c * 4.0;
    if (need > static_cast<double>(PTRDIFF_MAX / 2))
        throw SizeOverflowError(std::string(op) + ": resizing to (" + std::to_string(out_h) + ", " +
                                std::to_string(out_w) + ") would need more memory than can be addressed");
    check_available(static_cast<int64_t>(need), op, "the result with its tap tables and intermediate image");
    // A C-contiguous copy only when needed (strided views, wrong byte order never gets here).
    py::array src = c_contiguous(arr, op, "image");
    std::vector<py::ssize_t> dims{out_h, out_w};
    if (arr.ndim() == 3) dims.push_back(c);
    py::array dst(arr.dtype(), dims);
    const ResizeShape s{h, w, c, out_h, out_w, scale_h, scale_w};
    const auto m = static_cast<ResizeMethod>(method);
    {
        py::gil_scoped_release release;
        if (reference) ref::resize(src.data(), dst.mutable_data(), dtype, s, m, antialias);
        else resize(src.data(), dst.mutable_data(), dtype, s, m, antialias);
    }
    return dst;
}

}  // namespace

void register_resize(py::module_& m) {
    m.def("resize", &resize_py, py::arg("image"), py::arg("out_h"), py::arg("out_w"),
          py::arg("scale_h"), py::arg("scale_w"), py::arg("method"), py::arg("antialias"),
          py::arg("reference"));
}

}  // namespace sr_native::bind
