// Self-test of the CUDA elementwise, loss, optimizer and resize kernels
// (cpp/cuda/*.cu) against the plain CPU references (cpp/ref/*.cpp).
//
// Build (from the repository root), one line:
//   nvcc -std=c++17 -O3 -arch=sm_90 -Icpp/include -Icpp tools/cuda_ops_selftest.cu
//     cpp/cuda/pixel_shuffle.cu cpp/cuda/activations.cu cpp/cuda/losses.cu
//     cpp/cuda/elementwise.cu cpp/cuda/adam.cu cpp/cuda/resize.cu cpp/cuda/runtime.cu
//     cpp/ref/*.cpp -o /tmp/opstest
// Run: /tmp/opstest [--big]   (--big adds > 2^31-element cases, ~30 GB of host
// memory and ~20 GB of GPU memory). Exit status 0 when every case passes.
//
// Tolerances: bit-exact for pixel shuffle and ReLU/PReLU values; 1e-6
// relative for elementwise ops, parameter gradients and Adam; 1e-9 relative
// for the double results (losses, sum_squares); resize 1e-5 relative for
// float32 and one level for integers. Every case also prints how many values
// differ from the reference at all. Reductions are run twice and must give
// identical bits.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "sr_native/cuda_kernels.h"
#include "sr_native/kernels.h"
#include "sr_native/resize.h"

// The conv references in cpp/ref/ (linked along, unused here) ask the CPU
// build for its thread count, which lives in cpp/cpu/isa.cpp. Weak, so that a
// build that links isa.cpp too keeps the real one.
namespace sr_native {
__attribute__((weak)) int get_num_threads() { return 1; }
}  // namespace sr_native

namespace cu = sr_native::cuda;
namespace ref = sr_native::ref;
using sr_native::ResizeDtype;
using sr_native::ResizeMethod;
using sr_native::ResizeShape;

namespace {

#define CK(call)                                                                              \
    do {                                                                                      \
        const cudaError_t e_ = (call);                                                        \
        if (e_ != cudaSuccess) {                                                              \
            std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
            std::exit(2);                                                                     \
        }                                                                                     \
    } while (0)

int g_cases = 0, g_failed = 0;

void report(const std::string& name, double err, double tol, int64_t differ, int64_t total,
            bool extra_ok = true, const char* extra = "") {
    const bool ok = err <= tol && extra_ok;
    ++g_cases;
    if (!ok) ++g_failed;
    std::printf("%-4s %-66s max_err %.3e tol %.0e  differ %lld/%lld%s\n", ok ? "PASS" : "FAIL",
                name.c_str(), err, tol, static_cast<long long>(differ), static_cast<long long>(total),
                extra);
}

// Device buffer with 16 spare elements, so views at an offset of a few
// elements (misaligned for float4) stay in bounds.
template <class T>
struct Dev {
    T* base = nullptr;
    size_t n = 0;
    explicit Dev(size_t count) : n(count) { CK(cudaMalloc(&base, (count + 16) * sizeof(T))); }
    ~Dev() { cudaFree(base); }
    Dev(const Dev&) = delete;
    Dev& operator=(const Dev&) = delete;
    T* at(size_t off) const { return base + off; }
};

template <class T>
void upload(T* dst, const std::vector<T>& v) {
    CK(cudaMemcpy(dst, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
}
template <class T>
std::vector<T> download(const T* src, size_t count) {
    std::vector<T> v(count);
    CK(cudaMemcpy(v.data(), src, count * sizeof(T), cudaMemcpyDeviceToHost));  // waits for stream 0
    CK(cudaGetLastError());
    return v;
}

std::mt19937_64 g_rng(12345);

// Uniform in [lo, hi) with exact zeros (+0 and -0) sprinkled in, for the
// x > 0 and sign(0) edge cases.
std::vector<float> random_floats(size_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) {
        v[i] = u(g_rng);
        if (i % 17 == 5) v[i] = 0.0f;
        if (i % 29 == 7) v[i] = -0.0f;
    }
    return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }
bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }

struct Cmp {
    double err = 0.0;  // max error (absolute or relative, per the caller)
    int64_t differ = 0;
};

// Bitwise comparison; err is the largest absolute difference.
Cmp compare_exact(const std::vector<float>& got, const std::vector<float>& want) {
    Cmp c;
    for (size_t i = 0; i < want.size(); ++i)
        if (!same_bits(got[i], want[i])) {
            ++c.differ;
            const double d = std::fabs(static_cast<double>(got[i]) - want[i]);
            c.err = std::max(c.err, std::isnan(d) ? INFINITY : std::max(d, 1e-300));
        }
    return c;
}

// Relative error |got - want| / max(|want|, floor).
Cmp compare_rel(const std::vector<float>& got, const std::vector<float>& want, double floor = 1e-6) {
    Cmp c;
    for (size_t i = 0; i < want.size(); ++i) {
        if (same_bits(got[i], want[i])) continue;
        ++c.differ;
        const double d = std::fabs(static_cast<double>(got[i]) - want[i]) /
                         std::max(std::fabs(static_cast<double>(want[i])), floor);
        c.err = std::max(c.err, std::isnan(d) ? INFINITY : d);
    }
    return c;
}

double rel_diff(double got, double want) {
    if (same_bits(got, want)) return 0.0;
    const double d = std::fabs(got - want) / std::max(std::fabs(want), 1e-300);
    return std::isnan(d) ? INFINITY : d;
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

const int64_t kCounts[] = {1, 7, 1000003};

// ------------------------------------------------------------ pixel shuffle
void test_pixel_shuffle() {
    for (int r : {2, 3, 4}) {
        struct S { int64_t n, c, h, w; };
        const int64_t rr = r * r;
        for (S s : {S{2, 3 * rr, 1, 7}, S{2, 3 * rr, 5, 1}, S{2, rr, 17, 33}, S{1, 2 * rr, 31, 29}}) {
            const int64_t count = s.n * s.c * s.h * s.w;
            const auto x = random_floats(count);
            std::vector<float> want(count);
            ref::pixel_shuffle(x.data(), want.data(), s.n, s.c, s.h, s.w, r);
            Dev<float> dx(count), dy(count), dz(count);
            upload(dx.at(0), x);
            cu::pixel_shuffle(dx.at(0), dy.at(0), s.n, s.c, s.h, s.w, r);
            const auto got = download(dy.at(0), count);
            Cmp c = compare_exact(got, want);
            report(fmt("pixel_shuffle r=%d x(%lld,%lld,%lld,%lld)", r, (long long)s.n, (long long)s.c,
                       (long long)s.h, (long long)s.w),
                   c.err, 0.0, c.differ, count);
            // Unshuffle of the shuffled tensor gives x back.
            cu::pixel_unshuffle(dy.at(0), dz.at(0), s.n, s.c / rr, s.h * r, s.w * r, r);
            c = compare_exact(download(dz.at(0), count), x);
            report(fmt("pixel_unshuffle(pixel_shuffle(x)) == x r=%d", r), c.err, 0.0, c.differ, count);
        }
        for (S s : {S{2, 3, r * 1, r * 7}, S{2, 3, r * 5, r * 1}, S{2, 1, r * 17, r * 33}, S{1, 5, r * 9, r * 4}}) {
            const int64_t count = s.n * s.c * s.h * s.w;
            const auto x = random_floats(count);
            std::vector<float> want(count);
            ref::pixel_unshuffle(x.data(), want.data(), s.n, s.c, s.h, s.w, r);
            Dev<float> dx(count), dy(count);
            upload(dx.at(0), x);
            cu::pixel_unshuffle(dx.at(0), dy.at(0), s.n, s.c, s.h, s.w, r);
            const Cmp c = compare_exact(download(dy.at(0), count), want);
            report(fmt("pixel_unshuffle r=%d x(%lld,%lld,%lld,%lld)", r, (long long)s.n, (long long)s.c,
                       (long long)s.h, (long long)s.w),
                   c.err, 0.0, c.differ, count);
        }
    }
}

// ------------------------------------------------------------ activations
void test_relu() {
    for (int64_t count : kCounts)
        for (size_t off : {size_t{0}, size_t{1}}) {
            const auto x = random_floats(count), dy = random_floats(count);
            std::vector<float> y_ref(count), dx_ref(count);
            ref::relu_forward(x.data(), y_ref.data(), count);
            ref::relu_backward(x.data(), dy.data(), dx_ref.data(), count);
            Dev<float> dX(count), dY(count), dG(count);
            // Forward, out of place and in place.
            upload(dX.at(off), x);
            cu::relu_forward(dX.at(off), dY.at(off), count);
            Cmp c = compare_exact(download(dY.at(off), count), y_ref);
            report(fmt("relu_forward n=%lld off=%zu", (long long)count, off), c.err, 0.0, c.differ, count);
            cu::relu_forward(dX.at(off), dX.at(off), count);
            c = compare_exact(download(dX.at(off), count), y_ref);
            report(fmt("relu_forward in place n=%lld off=%zu", (long long)count, off), c.err, 0.0, c.differ,
                   count);
            // Backward: separate dx, dx = dy, dx = x.
            upload(dX.at(off), x);
            upload(dG.at(off), dy);
            cu::relu_backward(dX.at(off), dG.at(off), dY.at(off), count);
            c = compare_exact(download(dY.at(off), count), dx_ref);
            report(fmt("relu_backward n=%lld off=%zu", (long long)count, off), c.err, 0.0, c.differ, count);
            cu::relu_backward(dX.at(off), dG.at(off), dG.at(off), count);
            c = compare_exact(download(dG.at(off), count), dx_ref);
            report(fmt("relu_backward dx=dy n=%lld off=%zu", (long long)count, off), c.err, 0.0, c.differ,
                   count);
            upload(dG.at(off), dy);
            cu::relu_backward(dX.at(off), dG.at(off), dX.at(off), count);
            c = compare_exact(download(dX.at(off), count), dx_ref);
            report(fmt("relu_backward dx=x n=%lld off=%zu", (long long)count, off), c.err, 0.0, c.differ,
                   count);
        }
}

struct NCHW {
    int64_t n, c, hw;
};
const NCHW kChannelShapes[] = {{1, 1, 1}, {2, 3, 1}, {1, 1, 7}, {2, 3, 4099}, {2, 64, 1031}, {3, 5, 100003},
                               {2, 3, 333334}};

void test_prelu() {
    for (const NCHW& s : kChannelShapes)
        for (int64_t num_alpha : {int64_t{1}, s.c}) {
            const int64_t count = s.n * s.c * s.hw;
            const auto x = random_floats(count), dy = random_floats(count);
            const auto alpha = random_floats(num_alpha, 0.05f, 0.5f);
            const auto dalpha0 = random_floats(num_alpha, -1.0f, 1.0f);
            std::vector<float> y_ref(count), dx_ref(count), da_ref = dalpha0;
            ref::prelu_forward(x.data(), alpha.data(), y_ref.data(), s.n, s.c, s.hw, num_alpha);
            ref::prelu_backward(x.data(), alpha.data(), dy.data(), dx_ref.data(), da_ref.data(), s.n, s.c, s.hw,
                                num_alpha);
            const std::string shape = fmt("(%lld,%lld,%lld) na=%lld", (long long)s.n, (long long)s.c,
                                          (long long)s.hw, (long long)num_alpha);
            Dev<float> dX(count), dY(count), dG(count), dA(num_alpha), dDA(num_alpha);
            upload(dX.at(0), x);
            upload(dA.at(0), alpha);
            cu::prelu_forward(dX.at(0), dA.at(0), dY.at(0), s.n, s.c, s.hw, num_alpha);
            Cmp c = compare_exact(download(dY.at(0), count), y_ref);
            report("prelu_forward " + shape, c.err, 0.0, c.differ, count);
            // Backward with dx = dy (in place), twice from the same dalpha0: same bits.
            upload(dG.at(0), dy);
            upload(dDA.at(0), dalpha0);
            cu::prelu_backward(dX.at(0), dA.at(0), dG.at(0), dG.at(0), dDA.at(0), s.n, s.c, s.hw, num_alpha);
            c = compare_exact(download(dG.at(0), count), dx_ref);
            report("prelu_backward dx=dy " + shape, c.err, 0.0, c.differ, count);
            const auto da1 = download(dDA.at(0), num_alpha);
            upload(dDA.at(0), dalpha0);
            upload(dG.at(0), dy);
            cu::prelu_backward(dX.at(0), dA.at(0), dG.at(0), dY.at(0), dDA.at(0), s.n, s.c, s.hw, num_alpha);
            const auto da2 = download(dDA.at(0), num_alpha);
            const bool repeat = std::memcmp(da1.data(), da2.data(), num_alpha * sizeof(float)) == 0;
            c = compare_rel(da1, da_ref);
            report("prelu_backward dalpha " + shape, c.err, 1e-6, c.differ, num_alpha, repeat,
                   repeat ? "  repeat: same bits" : "  repeat: BITS DIFFER");
            c = compare_exact(download(dY.at(0), count), dx_ref);
            report("prelu_backward dx " + shape, c.err, 0.0, c.differ, count);
            // dalpha only (dx null).
            upload(dDA.at(0), dalpha0);
            cu::prelu_backward(dX.at(0), dA.at(0), dG.at(0), nullptr, dDA.at(0), s.n, s.c, s.hw, num_alpha);
            const auto da3 = download(dDA.at(0), num_alpha);
            const bool same = std::memcmp(da1.data(), da3.data(), num_alpha * sizeof(float)) == 0;
            report("prelu_backward dx=null dalpha " + shape, same ? 0.0 : 1.0, 0.0, same ? 0 : 1, 1);
            if (s.c == 1) break;  // num_alpha = C = 1 is the case just run
        }
}

// ----------------------------------------------------------------- losses
void test_losses() {
    for (int64_t count : kCounts) {
        auto pred = random_floats(count), target = random_floats(count);
        for (int64_t i = 0; i < count; i += 13) target[i] = pred[i];  // d == 0: sign(0)
        const double l1_ref = ref::l1_loss_forward(pred.data(), target.data(), count);
        const double mse_ref = ref::mse_loss_forward(pred.data(), target.data(), count);
        Dev<float> dP(count), dT(count), dD(count);
        double l1_first = 0.0, mse_first = 0.0;
        for (size_t off : {size_t{0}, size_t{1}, size_t{3}}) {
            // off 1 shifts pred only (mixed alignment), off 3 both.
            const size_t offp = off, offt = off == 1 ? 0 : off;
            upload(dP.at(offp), pred);
            upload(dT.at(offt), target);
            const double l1a = cu::l1_loss_forward(dP.at(offp), dT.at(offt), count);
            const double l1b = cu::l1_loss_forward(dP.at(offp), dT.at(offt), count);
            const double msea = cu::mse_loss_forward(dP.at(offp), dT.at(offt), count);
            const double mseb = cu::mse_loss_forward(dP.at(offp), dT.at(offt), count);
            if (off == 0) {
                l1_first = l1a;
                mse_first = msea;
            }
            // The grouping is the same with or without float4: alignment-independent bits.
            const bool l1_same = same_bits(l1a, l1b) && same_bits(l1a, l1_first);
            const bool mse_same = same_bits(msea, mseb) && same_bits(msea, mse_first);
            report(fmt("l1_loss_forward n=%lld off=%zu/%zu", (long long)count, offp, offt), rel_diff(l1a, l1_ref),
                   1e-9, same_bits(l1a, l1_ref) ? 0 : 1, 1, l1_same,
                   l1_same ? "  repeat: same bits" : "  repeat: BITS DIFFER");
            report(fmt("mse_loss_forward n=%lld off=%zu/%zu", (long long)count, offp, offt),
                   rel_diff(msea, mse_ref), 1e-9, same_bits(msea, mse_ref) ? 0 : 1, 1, mse_same,
                   mse_same ? "  repeat: same bits" : "  repeat: BITS DIFFER");
            for (float gs : {1.0f, 0.37f}) {
                std::vector<float> want(count);
                ref::l1_loss_backward(pred.data(), target.data(), want.data(), count, gs);
                cu::l1_loss_backward(dP.at(offp), dT.at(offt), dD.at(0), count, gs);
                Cmp c = compare_exact(download(dD.at(0), count), want);
                report(fmt("l1_loss_backward n=%lld off=%zu/%zu gs=%g", (long long)count, offp, offt, gs), c.err,
                       0.0, c.differ, count);
                ref::mse_loss_backward(pred.data(), target.data(), want.data(), count, gs);
                cu::mse_loss_backward(dP.at(offp), dT.at(offt), dD.at(off), count, gs);
                c = compare_exact(download(dD.at(off), count), want);
                report(fmt("mse_loss_backward n=%lld off=%zu/%zu gs=%g", (long long)count, offp, offt, gs),
                       c.err, 0.0, c.differ, count);
            }
        }
    }
}

// ------------------------------------------------------------ elementwise
void test_elementwise() {
    for (int64_t count : kCounts)
        for (size_t off : {size_t{0}, size_t{1}}) {
            const auto a = random_floats(count), b = random_floats(count);
            const float alpha = -0.731f;
            std::vector<float> want(count);
            ref::add_scaled(a.data(), b.data(), alpha, want.data(), count);
            Dev<float> dA(count), dB(count), dY(count);
            upload(dA.at(off), a);
            upload(dB.at(off), b);
            cu::add_scaled(dA.at(off), dB.at(off), alpha, dY.at(0), count);  // y aligned, a/b maybe not
            Cmp c = compare_rel(download(dY.at(0), count), want);
            report(fmt("add_scaled n=%lld off=%zu", (long long)count, off), c.err, 1e-6, c.differ, count);
            cu::add_scaled(dA.at(off), dB.at(off), alpha, dA.at(off), count);  // y = a
            c = compare_rel(download(dA.at(off), count), want);
            report(fmt("add_scaled y=a n=%lld off=%zu", (long long)count, off), c.err, 1e-6, c.differ, count);
            upload(dA.at(off), a);
            cu::add_scaled(dA.at(off), dB.at(off), alpha, dB.at(off), count);  // y = b
            c = compare_rel(download(dB.at(off), count), want);
            report(fmt("add_scaled y=b n=%lld off=%zu", (long long)count, off), c.err, 1e-6, c.differ, count);

            for (size_t i = 0; i < want.size(); ++i) want[i] = alpha * a[i];
            cu::scale(dA.at(off), alpha, dY.at(off), count);
            c = compare_rel(download(dY.at(off), count), want);
            report(fmt("scale n=%lld off=%zu", (long long)count, off), c.err, 1e-6, c.differ, count);
            cu::scale(dA.at(off), alpha, dA.at(off), count);
            c = compare_rel(download(dA.at(off), count), want);
            report(fmt("scale in place n=%lld off=%zu", (long long)count, off), c.err, 1e-6, c.differ, count);

            const double ss_ref = [&] {
                double s = 0.0;
                for (float v : a) s += static_cast<double>(v) * v;
                return s;
            }();
            upload(dA.at(off), a);
            const double s1 = cu::sum_squares(dA.at(off), count), s2 = cu::sum_squares(dA.at(off), count);
            upload(dB.at(3), a);  // another alignment: the same grouping, the same bits
            const double s3 = cu::sum_squares(dB.at(3), count);
            const bool same = same_bits(s1, s2) && same_bits(s1, s3);
            report(fmt("sum_squares n=%lld off=%zu", (long long)count, off), rel_diff(s1, ss_ref), 1e-9,
                   same_bits(s1, ss_ref) ? 0 : 1, 1, same, same ? "  repeat: same bits" : "  repeat: BITS DIFFER");
        }

    for (const NCHW& s : kChannelShapes) {
        const int64_t count = s.n * s.c * s.hw;
        const std::string shape = fmt("(%lld,%lld,%lld)", (long long)s.n, (long long)s.c, (long long)s.hw);
        const auto x = random_floats(count), sc = random_floats(s.c, 0.5f, 2.0f), sh = random_floats(s.c);
        std::vector<float> want(count);
        ref::channel_affine(x.data(), sc.data(), sh.data(), want.data(), s.n, s.c, s.hw);
        Dev<float> dX(count), dY(count), dS(s.c), dT(s.c), dO(s.c);
        upload(dX.at(1), x);
        upload(dS.at(0), sc);
        upload(dT.at(0), sh);
        cu::channel_affine(dX.at(1), dS.at(0), dT.at(0), dY.at(0), s.n, s.c, s.hw);
        Cmp c = compare_rel(download(dY.at(0), count), want);
        report("channel_affine " + shape, c.err, 1e-6, c.differ, count);
        cu::channel_affine(dX.at(1), dS.at(0), dT.at(0), dX.at(1), s.n, s.c, s.hw);
        c = compare_rel(download(dX.at(1), count), want);
        report("channel_affine in place " + shape, c.err, 1e-6, c.differ, count);

        const auto out0 = random_floats(s.c);
        std::vector<float> sum_ref = out0;
        ref::channel_sum(x.data(), sum_ref.data(), s.n, s.c, s.hw);
        upload(dX.at(0), x);
        upload(dO.at(0), out0);
        cu::channel_sum(dX.at(0), dO.at(0), s.n, s.c, s.hw);
        const auto got1 = download(dO.at(0), s.c);
        upload(dO.at(0), out0);
        cu::channel_sum(dX.at(0), dO.at(0), s.n, s.c, s.hw);
        const auto got2 = download(dO.at(0), s.c);
        const bool same = std::memcmp(got1.data(), got2.data(), s.c * sizeof(float)) == 0;
        c = compare_rel(got1, sum_ref);
        report("channel_sum (+=) " + shape, c.err, 1e-6, c.differ, s.c, same,
               same ? "  repeat: same bits" : "  repeat: BITS DIFFER");
    }
}

// ------------------------------------------------------------------- adam
void test_adam() {
    struct Cfg { float lr, b1, b2, eps, wd; int64_t step; };
    for (int64_t count : kCounts)
        for (size_t off : {size_t{0}, size_t{1}})
            for (Cfg k : {Cfg{1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1}, Cfg{1e-4f, 0.9f, 0.99f, 1e-8f, 1e-2f, 10},
                          Cfg{2e-4f, 0.5f, 0.999f, 1e-6f, 1e-4f, 1000}}) {
                auto p = random_floats(count), g = random_floats(count);
                auto m = random_floats(count, -0.1f, 0.1f), v = random_floats(count, 0.0f, 0.01f);
                Dev<float> dP(count), dG(count), dM(count), dV(count);
                upload(dP.at(off), p);
                upload(dG.at(0), g);
                upload(dM.at(0), m);
                upload(dV.at(off), v);
                // Three consecutive steps on both sides.
                for (int64_t t = 0; t < 3; ++t) {
                    const sr_native::AdamConfig cfg{k.lr, k.b1, k.b2, k.eps, k.wd, k.step + t};
                    ref::adam_step(p.data(), g.data(), m.data(), v.data(), count, cfg);
                    cu::adam_step(dP.at(off), dG.at(0), dM.at(0), dV.at(off), count, cfg);
                }
                const std::string name = fmt("adam n=%lld off=%zu step=%lld wd=%g", (long long)count, off,
                                             (long long)k.step, k.wd);
                Cmp c = compare_rel(download(dP.at(off), count), p);
                report(name + " param", c.err, 1e-6, c.differ, count);
                c = compare_rel(download(dM.at(0), count), m);
                report(name + " m", c.err, 1e-6, c.differ, count);
                c = compare_rel(download(dV.at(off), count), v);
                report(name + " v", c.err, 1e-6, c.differ, count);
            }
}

// ----------------------------------------------------------------- resize
const char* method_name(ResizeMethod m) {
    switch (m) {
        case ResizeMethod::nearest: return "nearest";
        case ResizeMethod::bilinear: return "bilinear";
        case ResizeMethod::bicubic: return "bicubic";
        case ResizeMethod::lanczos3: return "lanczos3";
        case ResizeMethod::area: return "area";
    }
    return "?";
}

template <class T>
std::vector<T> random_image(size_t n) {
    std::vector<T> v(n);
    if constexpr (std::is_same_v<T, float>) {
        std::uniform_real_distribution<float> u(-0.25f, 1.25f);
        for (auto& e : v) e = u(g_rng);
    } else {
        std::uniform_int_distribution<int> u(0, static_cast<int>(std::numeric_limits<T>::max()));
        for (auto& e : v) e = static_cast<T>(u(g_rng));
        // Flat stretches too (sums on exact .5 ties are common there).
        for (size_t i = 0; i < n / 4; ++i) v[i] = static_cast<T>(std::numeric_limits<T>::max() / 2 + 1);
    }
    return v;
}

template <class T>
void resize_case(ResizeDtype dtype, const char* dname, int64_t in_h, int64_t in_w, int64_t c, double sh,
                 double sw, ResizeMethod method, bool aa) {
    ResizeShape s;
    s.in_h = in_h;
    s.in_w = in_w;
    s.c = c;
    s.scale_h = sh;
    s.scale_w = sw;
    s.out_h = static_cast<int64_t>(std::ceil(in_h * sh));
    s.out_w = static_cast<int64_t>(std::ceil(in_w * sw));
    const size_t nin = in_h * in_w * c, nout = s.out_h * s.out_w * c;
    const auto x = random_image<T>(nin);
    std::vector<T> want(nout);
    ref::resize(x.data(), want.data(), dtype, s, method, aa);
    Dev<T> dX(nin), dY(nout);
    upload(dX.at(0), x);
    cu::resize(dX.at(0), dY.at(0), dtype, s, method, aa);
    const auto got = download(dY.at(0), nout);
    double err = 0.0;
    int64_t differ = 0;
    for (size_t i = 0; i < nout; ++i) {
        if constexpr (std::is_same_v<T, float>) {
            if (same_bits(got[i], want[i])) continue;
            ++differ;
            const double d = std::fabs(static_cast<double>(got[i]) - want[i]) /
                             std::max(std::fabs(static_cast<double>(want[i])), 1e-6);
            err = std::max(err, std::isnan(d) ? INFINITY : d);
        } else {
            const double d = std::fabs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
            if (d != 0.0) ++differ;
            err = std::max(err, d);
        }
    }
    const double tol = std::is_same_v<T, float> ? 1e-5 : 1.0;
    report(fmt("resize %s %s %lldx%lldx%lld -> %lldx%lld (%.2f,%.2f)%s", dname, method_name(method),
               (long long)in_h, (long long)in_w, (long long)c, (long long)s.out_h, (long long)s.out_w, sh, sw,
               aa ? " aa" : ""),
           err, tol, differ, static_cast<int64_t>(nout));
}

template <class T>
void test_resize_dtype(ResizeDtype dtype, const char* dname) {
    struct Shp { int64_t h, w, c; };
    struct Sc { double h, w; };
    const ResizeMethod methods[] = {ResizeMethod::nearest, ResizeMethod::bilinear, ResizeMethod::bicubic,
                                    ResizeMethod::lanczos3, ResizeMethod::area};
    const Sc scales[] = {{2, 2}, {3, 3}, {4, 4}, {0.5, 0.5}, {0.37, 0.37}, {0.5, 0.37}, {0.37, 0.5}, {2, 3}, {0.37, 2}};
    for (ResizeMethod m : methods)
        for (Sc sc : scales)
            for (Shp sh : {Shp{37, 23, 3}, Shp{1, 17, 1}, Shp{16, 1, 3}, Shp{64, 48, 4}})
                for (bool aa : {true, false}) {
                    if (!aa && sc.h >= 1 && sc.w >= 1) continue;  // antialias only matters when shrinking
                    resize_case<T>(dtype, dname, sh.h, sh.w, sh.c, sc.h, sc.w, m, aa);
                }
    // A larger image, both pass orders.
    resize_case<T>(dtype, dname, 257, 321, 3, 0.37, 0.37, ResizeMethod::bicubic, true);
    resize_case<T>(dtype, dname, 257, 321, 3, 0.5, 0.37, ResizeMethod::lanczos3, true);
    resize_case<T>(dtype, dname, 129, 97, 3, 4, 4, ResizeMethod::bicubic, true);
}

void test_resize() {
    test_resize_dtype<uint8_t>(ResizeDtype::u8, "u8");
    test_resize_dtype<uint16_t>(ResizeDtype::u16, "u16");
    test_resize_dtype<float>(ResizeDtype::f32, "f32");
}

// ------------------------------------------------- > 2^31 elements (--big)
void test_big() {
    // Pixel shuffle on the 64-bit index path: the round trip must give x
    // back, and a sample of outputs must match the definition.
    {
        const int64_t n = 1, c = 4, h = 1 << 14, w = (1 << 15) + 1, r = 2;
        const int64_t count = n * c * h * w;  // > 2^31
        std::vector<float> x(count);
        for (int64_t i = 0; i < count; ++i) x[i] = static_cast<float>(i % 16777213);
        Dev<float> dX(count), dY(count);
        upload(dX.at(0), x);
        cu::pixel_shuffle(dX.at(0), dY.at(0), n, c, h, w, r);
        const auto y = download(dY.at(0), count);
        int64_t bad = 0;
        std::uniform_int_distribution<int64_t> pick(0, count - 1);
        const int64_t ho = h * r, wo = w * r, co = c / (r * r);
        for (int k = 0; k < 10000000; ++k) {
            const int64_t e = pick(g_rng);
            const int64_t ow = e % wo, oh = (e / wo) % ho, oc = (e / (wo * ho)) % co, b = e / (wo * ho * co);
            const int64_t ic = oc * r * r + (oh % r) * r + ow % r;
            if (!same_bits(y[e], x[((b * c + ic) * h + oh / r) * w + ow / r])) ++bad;
        }
        report(fmt("pixel_shuffle big %lld elements (10M sampled)", (long long)count), bad ? 1.0 : 0.0, 0.0, bad,
               10000000);
        cu::pixel_unshuffle(dY.at(0), dX.at(0), n, co, ho, wo, static_cast<int>(r));
        const auto back = download(dX.at(0), count);
        bad = 0;
        for (int64_t i = 0; i < count; ++i) bad += !same_bits(back[i], x[i]);
        report("pixel_unshuffle big round trip", bad ? 1.0 : 0.0, 0.0, bad, count);
    }
    {
        const int64_t count = (int64_t{1} << 31) + 7;
        const auto x = random_floats(count);
        Dev<float> dX(count);
        upload(dX.at(1), x);
        const double ss = cu::sum_squares(dX.at(1), count);
        double want = 0.0;
        for (float v : x) want += static_cast<double>(v) * v;
        report(fmt("sum_squares big n=%lld", (long long)count), rel_diff(ss, want), 1e-9, same_bits(ss, want) ? 0 : 1,
               1);
        cu::relu_forward(dX.at(1), dX.at(1), count);
        const auto y = download(dX.at(1), count);
        int64_t bad = 0;
        for (int64_t i = 0; i < count; ++i) bad += !same_bits(y[i], x[i] > 0.0f ? x[i] : 0.0f);
        report(fmt("relu_forward big in place n=%lld", (long long)count), bad ? 1.0 : 0.0, 0.0, bad, count);
    }
}

}  // namespace

int main(int argc, char** argv) {
    bool big = false;
    for (int i = 1; i < argc; ++i) big |= std::strcmp(argv[i], "--big") == 0;
    int dev = 0;
    cudaDeviceProp prop{};
    CK(cudaGetDevice(&dev));
    CK(cudaGetDeviceProperties(&prop, dev));
    std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    try {
        test_pixel_shuffle();
        test_relu();
        test_prelu();
        test_losses();
        test_elementwise();
        test_adam();
        test_resize();
        if (big) test_big();
    } catch (const std::exception& e) {
        std::printf("FAIL exception: %s\n", e.what());
        return 1;
    }
    std::printf("%s: %d of %d cases passed\n", g_failed ? "FAILED" : "ALL PASSED", g_cases - g_failed, g_cases);
    return g_failed ? 1 : 0;
}
