// Python bindings of pixel_shuffle and pixel_unshuffle.
#include "checks.h"
#include "register.h"
#include "sr_native/kernels.h"

namespace sr_native::bind {
namespace {

void check_factor(int64_t r, const char* op) {
    if (r < 1 || r > 64)
        raise_value(std::string(op) + ": r must be an integer from 1 to 64, got " + std::to_string(r));
}

FloatArray pixel_shuffle_py(const py::object& x_obj, int64_t r, const py::object& out_obj, bool reference) {
    const char* op = "pixel_shuffle";
    check_factor(r, op);
    FloatArray x = float32_array(x_obj, op, "x");
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    require_nonempty(x, op, "x");
    const int64_t n = x.shape(0), c = x.shape(1), h = x.shape(2), w = x.shape(3);
    if (c % (r * r) != 0)
        raise_value(std::string(op) + ": channels must be divisible by r*r = " +
                    std::to_string(r * r) + ", got x shape " + shape_str(x));
    FloatArray y = result_array(out_obj, {n, c / (r * r), checked_numel({h, r}, 1, op),
                                          checked_numel({w, r}, 1, op)}, op, "out", "(the result's shape)", {&x}, "x");
    {
        py::gil_scoped_release release;
        const int ri = static_cast<int>(r);
        if (reference) ref::pixel_shuffle(x.data(), y.mutable_data(), n, c, h, w, ri);
        else pixel_shuffle(x.data(), y.mutable_data(), n, c, h, w, ri);
    }
    return y;
}

FloatArray pixel_unshuffle_py(const py::object& x_obj, int64_t r, const py::object& out_obj, bool reference) {
    const char* op = "pixel_unshuffle";
    check_factor(r, op);
    FloatArray x = float32_array(x_obj, op, "x");
    require_ndim(x, 4, op, "x", "(N, C, H, W)");
    require_nonempty(x, op, "x");
    const int64_t n = x.shape(0), c = x.shape(1), h = x.shape(2), w = x.shape(3);
    if (h % r != 0 || w % r != 0)
        raise_value(std::string(op) + ": height and width must be divisible by r = " +
                    std::to_string(r) + ", got x shape " + shape_str(x));
    FloatArray y = result_array(out_obj, {n, checked_numel({c, r, r}, 1, op), h / r, w / r}, op, "out",
                                "(the result's shape)", {&x}, "x");
    {
        py::gil_scoped_release release;
        const int ri = static_cast<int>(r);
        if (reference) ref::pixel_unshuffle(x.data(), y.mutable_data(), n, c, h, w, ri);
        else pixel_unshuffle(x.data(), y.mutable_data(), n, c, h, w, ri);
    }
    return y;
}

// pixel_shuffle from a row band into a row band (checks.h's RowBand).
void pixel_shuffle_rows_py(const py::object& x_obj, int64_t r, const py::object& out_obj) {
    const char* op = "pixel_shuffle_rows";
    if (r < 1 || r > 16)
        raise_value(std::string(op) + ": r must be an integer from 1 to 16, got " + std::to_string(r));
    const RowBand x = row_band(x_obj, op, "x", false);
    RowBand y = row_band(out_obj, op, "out", true);
    if (x.c % (r * r) != 0 || y.n != x.n || y.c != x.c / (r * r) || y.h != x.h * r || y.w != x.w * r)
        raise_value(std::string(op) + ": out must be (N, C/(r*r), H*r, W*r) for x " + shape_str(x.arr) + " and r = " +
                    std::to_string(r) + ", got " + shape_str(y.arr));
    if (overlaps(x, y)) raise_value(std::string(op) + ": out must not share memory with x");
    py::gil_scoped_release release;
    pixel_shuffle_rows(x.data, y.data, x.n, x.c, x.h, x.w, static_cast<int>(r), x.plane, y.plane);
}

}  // namespace

void register_pixel_shuffle(py::module_& m) {
    m.def("pixel_shuffle_rows", &pixel_shuffle_rows_py, py::arg("x"), py::arg("r"), py::kw_only(), py::arg("out"),
          "pixel_shuffle between row bands; see sr_native.ops.pixel_shuffle_rows.");
    m.def("pixel_shuffle", &pixel_shuffle_py, py::arg("x"), py::arg("r"), py::kw_only(),
          py::arg("out") = py::none(), py::arg("reference") = false);
    m.def("pixel_unshuffle", &pixel_unshuffle_py, py::arg("x"), py::arg("r"), py::kw_only(),
          py::arg("out") = py::none(), py::arg("reference") = false);
}

}  // namespace sr_native::bind
