// The private extension module sr_native._core: build and run-time info,
// threads and instruction-set choice, and every op's binding.
#include <pybind11/pybind11.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define SR_NATIVE_PTHREADS 1
#endif

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

// set_num_threads accepts up to this many threads per CPU: more only adds
// fork/join cost, and libgomp itself crashes (n >= 65536) or calls exit(1)
// when it cannot create the threads (n = 40000, or 1000 under `ulimit -v 4G`).
constexpr int64_t kThreadsPerCpu = 4;

int64_t cpu_count() {
    const unsigned hw = std::thread::hardware_concurrency();
    return hw > 0 ? static_cast<int64_t>(hw) : 16;  // 0: unknown
}

int64_t max_num_threads() { return kThreadsPerCpu * cpu_count(); }

#if defined(SR_NATIVE_PTHREADS)
// The stack size OpenMP gives its threads: OMP_STACKSIZE (or GOMP_STACKSIZE),
// a number with an optional B/K/M/G suffix (K when none); 0 when unset, and
// then libgomp, like the probe below, uses the default thread attributes.
size_t omp_stack_size() {
    const char* v = std::getenv("OMP_STACKSIZE");
    if (!v || !*v) v = std::getenv("GOMP_STACKSIZE");
    if (!v || !*v) return 0;
    char* end = nullptr;
    const unsigned long long num = std::strtoull(v, &end, 10);
    while (end && (*end == ' ' || *end == '\t')) ++end;
    const char unit = end && *end ? *end : 'K';
    const int shift = unit == 'B' || unit == 'b' ? 0 : unit == 'M' || unit == 'm' ? 20 : unit == 'G' || unit == 'g' ? 30 : 10;
    return static_cast<size_t>(num) << shift;
}

// How many of `extra` threads, with OpenMP's stack size, can exist at once
// (all are created, then released and joined). libgomp calls exit(1) when it
// cannot create a team's threads, so the count is checked before it is asked.
int64_t creatable_threads(int64_t extra) {
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    struct Gate {
        std::mutex* m;
        std::condition_variable* cv;
        bool* release;
    } gate{&m, &cv, &release};
    auto wait = [](void* arg) -> void* {
        auto* g = static_cast<Gate*>(arg);
        std::unique_lock<std::mutex> lock(*g->m);
        g->cv->wait(lock, [g] { return *g->release; });
        return nullptr;
    };
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return 0;
    if (const size_t stack = omp_stack_size()) pthread_attr_setstacksize(&attr, stack);
    std::vector<pthread_t> threads;
    threads.reserve(static_cast<size_t>(extra));
    for (int64_t i = 0; i < extra; ++i) {
        pthread_t t;
        if (pthread_create(&t, &attr, wait, &gate) != 0) break;
        threads.push_back(t);
    }
    pthread_attr_destroy(&attr);
    {
        std::lock_guard<std::mutex> lock(m);
        release = true;
    }
    cv.notify_all();
    for (pthread_t t : threads) pthread_join(t, nullptr);
    return static_cast<int64_t>(threads.size());
}
#endif

// Sets the kernels' thread count and returns what was set: n, or fewer when
// only that many threads could be created (the caller says so).
int64_t set_num_threads_py(int64_t n) {
    const int64_t limit = max_num_threads();
    if (n < 1 || n > limit)
        throw py::value_error("set_num_threads: n must be >= 1 and at most " + std::to_string(limit) + " (" +
                              std::to_string(kThreadsPerCpu) + "x the " + std::to_string(cpu_count()) +
                              " CPUs std::thread::hardware_concurrency() reports), got " + std::to_string(n));
    if (!openmp_enabled()) return n;
    // A team size that was probed before needs no second probe.
    static std::mutex probe_mutex;
    static int64_t probed = 1;
    std::lock_guard<std::mutex> lock(probe_mutex);
    int64_t usable = n;
#if defined(SR_NATIVE_PTHREADS)
    if (n > probed) {
        py::gil_scoped_release release;
        usable = 1 + creatable_threads(n - 1);
        probed = std::max(probed, usable);
    }
#endif
    set_num_threads(static_cast<int>(usable));
    return usable;
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
    m.def("set_num_threads", &set_num_threads_py, py::arg("n"),
          "Sets the kernels' thread count (1 to max_num_threads()); returns the count set, which is "
          "smaller than n when only that many threads could be created.");
    m.def("max_num_threads", &max_num_threads, "The largest n set_num_threads accepts.");
    m.def("get_isa", [] { return std::string(isa_name(active_isa())); });
    m.def("set_isa", &set_isa_py, py::arg("name"));
    m.def("get_conv_algo", [] { return std::string(conv_algo_name(get_conv_algo())); });
    m.def("set_conv_algo", &set_conv_algo_py, py::arg("name"));
    m.def("detected_isa", [] { return std::string(isa_name(detected_isa())); });

    bind::register_conv2d(m);
    bind::register_conv_transpose2d(m);
    bind::register_pixel_shuffle(m);
    bind::register_activations(m);
    bind::register_batch_norm(m);
    bind::register_global_avg_pool(m);
    bind::register_sigmoid(m);
    bind::register_channel_gate(m);
    bind::register_pixel_gate(m);
    bind::register_losses(m);
    bind::register_elementwise(m);
    bind::register_machine(m);
    bind::register_resize(m);
    bind::register_max_pool2d(m);
}
