// The private extension module sr_native._core: build and run-time info,
// threads and instruction-set choice, and every op's binding.
#include <pybind11/pybind11.h>

#include "checks.h"
#include "register.h"
#include "sr_native/isa.h"

#ifndef SR_NATIVE_VERSION
#define SR_NATIVE_VERSION "unknown"
#endif

namespace py = pybind11;
using namespace sr_native;

namespace {

std::string compiler_name() {
#if defined(__clang__)
    return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    return "gcc " + std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
           std::to_string(__GNUC_PATCHLEVEL__);
#elif defined(_MSC_VER)
    return "msvc " + std::to_string(_MSC_VER);
#else
    return "unknown";
#endif
}

py::dict build_info() {
    py::dict d;
    d["version"] = SR_NATIVE_VERSION;
    d["compiler"] = compiler_name();
#if defined(SR_NATIVE_X86)
    d["isa_compiled"] = py::make_tuple("generic", "avx2", "avx512");
#else
    d["isa_compiled"] = py::make_tuple("generic");
#endif
    d["isa_detected"] = isa_name(detected_isa());
    d["isa_active"] = isa_name(active_isa());
    d["openmp"] = openmp_enabled();
    d["num_threads"] = get_num_threads();
    d["conv_algo"] = conv_algo_name(get_conv_algo());
#if defined(SR_NATIVE_MARCH_NATIVE)
    d["march_native"] = true;
#else
    d["march_native"] = false;
#endif
    d["cuda"] = false;
    return d;
}

void set_isa_py(const std::string& name) {
    Isa isa;
    if (!isa_from_name(name.c_str(), &isa))
        throw py::value_error("set_isa: name must be 'generic', 'avx2' or 'avx512', got '" + name + "'");
    if (!set_isa(isa))
        throw py::value_error(std::string("set_isa: this CPU does not support '") + name +
                              "' (best supported: '" + isa_name(detected_isa()) + "')");
}

void set_conv_algo_py(const std::string& name) {
    ConvAlgo algo;
    if (!conv_algo_from_name(name.c_str(), &algo))
        throw py::value_error("set_conv_algo: name must be 'auto', 'direct' or 'winograd', got '" + name + "'");
    set_conv_algo(algo);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "sr_native compiled kernels (private; use the sr_native package)";
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const bind::SizeOverflowError& e) {
            PyErr_SetString(PyExc_MemoryError, e.what());
        }
    });
    m.def("build_info", &build_info);
    m.def("get_num_threads", &get_num_threads);
    m.def("set_num_threads", [](int n) {
        if (n < 1) throw py::value_error("set_num_threads: n must be >= 1, got " + std::to_string(n));
        set_num_threads(n);
    }, py::arg("n"));
    m.def("get_isa", [] { return std::string(isa_name(active_isa())); });
    m.def("set_isa", &set_isa_py, py::arg("name"));
    m.def("get_conv_algo", [] { return std::string(conv_algo_name(get_conv_algo())); });
    m.def("set_conv_algo", &set_conv_algo_py, py::arg("name"));
    m.def("detected_isa", [] { return std::string(isa_name(detected_isa())); });

    bind::register_conv2d(m);
    bind::register_pixel_shuffle(m);
    bind::register_activations(m);
    bind::register_losses(m);
    bind::register_elementwise(m);
    bind::register_machine(m);
    bind::register_resize(m);
}
