// Standalone check of the CUDA conv2d kernels (cpp/cuda/conv2d*.cu,
// conv1x1_pair.cu) against plain double-precision loops written here, plus a
// timing of the EDSR-sized layers. Build and run on a machine with a GPU:
//   nvcc -std=c++17 -O3 -arch=sm_90 -Icpp/include -Icpp tools/cuda_conv_selftest.cu
//     cpp/cuda/conv2d.cu cpp/cuda/conv2d_backward.cu cpp/cuda/conv1x1_pair.cu
//     cpp/cuda/runtime.cu -o /tmp/selftest
//   /tmp/selftest [--no-timing] [--timing-only] [--quick]
//   /tmp/selftest --time N C H W O K   times one shape only (for a profiler)
// Errors are |got - ref| / (sum of |terms| of that element), maximum over the
// tensor; a case passes below 1e-4. Exit status 1 when any case fails.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "sr_native/cuda_kernels.h"

using sr_native::Conv1x1PairShape;
using sr_native::Conv2dEpilogue;
using sr_native::Conv2dShape;
namespace cu = sr_native::cuda;

#define CK(call)                                                                                        \
    do {                                                                                                \
        cudaError_t err_ = (call);                                                                      \
        if (err_ != cudaSuccess) {                                                                      \
            std::fprintf(stderr, "%s failed: %s (line %d)\n", #call, cudaGetErrorString(err_), __LINE__); \
            std::exit(2);                                                                               \
        }                                                                                               \
    } while (0)

namespace {

constexpr double kTol = 1e-4;
int g_failures = 0;

// Device buffer for the test only (plain cudaMalloc is fine here).
struct Dev {
    float* p = nullptr;
    size_t n = 0;
    explicit Dev(size_t count) : n(count) { CK(cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(float))); }
    ~Dev() { cudaFree(p); }
    Dev(const Dev&) = delete;
    Dev& operator=(const Dev&) = delete;
    void up(const std::vector<float>& v) { CK(cudaMemcpy(p, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice)); }
    std::vector<float> down() const {
        std::vector<float> v(n);
        CK(cudaMemcpy(v.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost));
        return v;
    }
};

std::vector<float> random_vec(size_t n, std::mt19937& rng) {
    std::uniform_real_distribution<float> d(-1.f, 1.f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

void sync_or_die(const char* what) {
    cudaError_t e = cudaDeviceSynchronize();
    if (e == cudaSuccess) e = cudaGetLastError();
    if (e != cudaSuccess) {
        std::fprintf(stderr, "%s: CUDA error %s\n", what, cudaGetErrorString(e));
        std::exit(2);
    }
}

// Max over i of |got - ref| / mag.
double max_rel(const std::vector<float>& got, const std::vector<double>& ref, const std::vector<double>& mag) {
    double worst = 0.0;
    for (size_t i = 0; i < ref.size(); ++i) {
        const double e = std::fabs(static_cast<double>(got[i]) - ref[i]) / (mag[i] + 1e-30);
        if (!(e <= worst)) worst = e;  // NaN sticks
    }
    return worst;
}

void report(const std::string& name, const char* what, double err) {
    const bool ok = err < kTol;
    if (!ok) ++g_failures;
    std::printf("  %-34s %-22s max rel err %.3e  %s\n", name.c_str(), what, err, ok ? "PASS" : "FAIL");
}

struct Case {
    int64_t n, c, h, w, o, k;
};

std::string case_name(const Case& t) {
    char b[128];
    std::snprintf(b, sizeof b, "%lldx%lldx%lldx%lld %lld->%lld K=%lld", (long long)t.n, (long long)t.c,
                  (long long)t.h, (long long)t.w, (long long)t.c, (long long)t.o, (long long)t.k);
    return b;
}

// ---- double-precision references: value and sum of |terms| per element.
void ref_forward(const Case& t, const std::vector<float>& x, const std::vector<float>& w, std::vector<double>& out,
                 std::vector<double>& mag) {
    const int64_t P = t.k / 2, HW = t.h * t.w;
    out.assign(t.n * t.o * HW, 0.0);
    mag.assign(out.size(), 0.0);
    for (int64_t n = 0; n < t.n; ++n)
        for (int64_t o = 0; o < t.o; ++o)
            for (int64_t y = 0; y < t.h; ++y)
                for (int64_t xx = 0; xx < t.w; ++xx) {
                    double s = 0.0, m = 0.0;
                    for (int64_t c = 0; c < t.c; ++c)
                        for (int64_t ky = 0; ky < t.k; ++ky) {
                            const int64_t iy = y + ky - P;
                            if (iy < 0 || iy >= t.h) continue;
                            for (int64_t kx = 0; kx < t.k; ++kx) {
                                const int64_t ix = xx + kx - P;
                                if (ix < 0 || ix >= t.w) continue;
                                const double v = static_cast<double>(w[((o * t.c + c) * t.k + ky) * t.k + kx]) *
                                                 x[(n * t.c + c) * HW + iy * t.w + ix];
                                s += v;
                                m += std::fabs(v);
                            }
                        }
                    out[(n * t.o + o) * HW + y * t.w + xx] = s;
                    mag[(n * t.o + o) * HW + y * t.w + xx] = m;
                }
}

void ref_dx(const Case& t, const std::vector<float>& dy, const std::vector<float>& w, std::vector<double>& out,
            std::vector<double>& mag) {
    const int64_t P = t.k / 2, HW = t.h * t.w;
    out.assign(t.n * t.c * HW, 0.0);
    mag.assign(out.size(), 0.0);
    for (int64_t n = 0; n < t.n; ++n)
        for (int64_t c = 0; c < t.c; ++c)
            for (int64_t iy = 0; iy < t.h; ++iy)
                for (int64_t ix = 0; ix < t.w; ++ix) {
                    double s = 0.0, m = 0.0;
                    for (int64_t o = 0; o < t.o; ++o)
                        for (int64_t ky = 0; ky < t.k; ++ky) {
                            const int64_t oy = iy - ky + P;
                            if (oy < 0 || oy >= t.h) continue;
                            for (int64_t kx = 0; kx < t.k; ++kx) {
                                const int64_t ox = ix - kx + P;
                                if (ox < 0 || ox >= t.w) continue;
                                const double v = static_cast<double>(w[((o * t.c + c) * t.k + ky) * t.k + kx]) *
                                                 dy[(n * t.o + o) * HW + oy * t.w + ox];
                                s += v;
                                m += std::fabs(v);
                            }
                        }
                    out[(n * t.c + c) * HW + iy * t.w + ix] = s;
                    mag[(n * t.c + c) * HW + iy * t.w + ix] = m;
                }
}

void ref_dw_db(const Case& t, const std::vector<float>& x, const std::vector<float>& dy, std::vector<double>& dw,
               std::vector<double>& dwmag, std::vector<double>& db, std::vector<double>& dbmag) {
    const int64_t P = t.k / 2, HW = t.h * t.w;
    dw.assign(t.o * t.c * t.k * t.k, 0.0);
    dwmag.assign(dw.size(), 0.0);
    db.assign(t.o, 0.0);
    dbmag.assign(t.o, 0.0);
    for (int64_t o = 0; o < t.o; ++o)
        for (int64_t c = 0; c < t.c; ++c)
            for (int64_t ky = 0; ky < t.k; ++ky)
                for (int64_t kx = 0; kx < t.k; ++kx) {
                    double s = 0.0, m = 0.0;
                    for (int64_t n = 0; n < t.n; ++n)
                        for (int64_t y = 0; y < t.h; ++y) {
                            const int64_t iy = y + ky - P;
                            if (iy < 0 || iy >= t.h) continue;
                            for (int64_t xx = 0; xx < t.w; ++xx) {
                                const int64_t ix = xx + kx - P;
                                if (ix < 0 || ix >= t.w) continue;
                                const double v = static_cast<double>(dy[(n * t.o + o) * HW + y * t.w + xx]) *
                                                 x[(n * t.c + c) * HW + iy * t.w + ix];
                                s += v;
                                m += std::fabs(v);
                            }
                        }
                    dw[((o * t.c + c) * t.k + ky) * t.k + kx] = s;
                    dwmag[((o * t.c + c) * t.k + ky) * t.k + kx] = m;
                }
    for (int64_t o = 0; o < t.o; ++o)
        for (int64_t n = 0; n < t.n; ++n)
            for (int64_t i = 0; i < HW; ++i) {
                db[o] += dy[(n * t.o + o) * HW + i];
                dbmag[o] += std::fabs(dy[(n * t.o + o) * HW + i]);
            }
}

void run_case(const Case& t, std::mt19937& rng) {
    const std::string name = case_name(t);
    const int64_t HW = t.h * t.w;
    const size_t nx = t.n * t.c * HW, ny = t.n * t.o * HW, nw = t.o * t.c * t.k * t.k;
    const Conv2dShape s{t.n, t.c, t.h, t.w, t.o, t.k};
    const auto x = random_vec(nx, rng), w = random_vec(nw, rng), b = random_vec(t.o, rng);
    const auto res = random_vec(ny, rng), dy = random_vec(ny, rng), dxres = random_vec(nx, rng);
    const auto dw0 = random_vec(nw, rng), db0 = random_vec(t.o, rng);
    Dev X(nx), W(nw), B(t.o), R(ny), Y(ny), DX(nx), DW(nw), DB(t.o), DY(ny);
    X.up(x);
    W.up(w);
    B.up(b);
    R.up(res);
    DY.up(dy);

    std::vector<double> ref, mag;
    ref_forward(t, x, w, ref, mag);

    // F1: plain.
    cu::conv2d_forward(X.p, W.p, Y.p, s, Conv2dEpilogue{});
    sync_or_die("forward");
    report(name, "fwd plain", max_rel(Y.down(), ref, mag));

    // F2: bias + relu + separate residual, res_scale 0.5.
    {
        Conv2dEpilogue e;
        e.bias = B.p;
        e.relu = true;
        e.residual = R.p;
        e.res_scale = 0.5f;
        cu::conv2d_forward(X.p, W.p, Y.p, s, e);
        sync_or_die("forward epilogue");
        std::vector<double> r2(ny), m2(ny);
        for (size_t i = 0; i < ny; ++i) {
            const int64_t o = (i / HW) % t.o;
            double v = ref[i] + b[o];
            if (v < 0) v = 0;
            r2[i] = res[i] + 0.5 * v;
            m2[i] = 0.5 * (mag[i] + std::fabs(b[o])) + std::fabs(res[i]);
        }
        report(name, "fwd bias+relu+res", max_rel(Y.down(), r2, m2));
    }
    // F3: bias, residual in place (residual == y), res_scale -0.3, no relu.
    {
        Y.up(res);
        Conv2dEpilogue e;
        e.bias = B.p;
        e.residual = Y.p;
        e.res_scale = -0.3f;
        cu::conv2d_forward(X.p, W.p, Y.p, s, e);
        sync_or_die("forward in place");
        std::vector<double> r2(ny), m2(ny);
        for (size_t i = 0; i < ny; ++i) {
            const int64_t o = (i / HW) % t.o;
            r2[i] = res[i] - 0.3 * (ref[i] + b[o]);
            m2[i] = 0.3 * (mag[i] + std::fabs(b[o])) + std::fabs(res[i]);
        }
        report(name, "fwd in-place res", max_rel(Y.down(), r2, m2));
    }

    std::vector<double> rdx, mdx, rdw, mdw, rdb, mdb;
    ref_dx(t, dy, w, rdx, mdx);
    ref_dw_db(t, x, dy, rdw, mdw, rdb, mdb);
    std::vector<double> rdw_acc(nw), mdw_acc(nw), rdb_acc(t.o), mdb_acc(t.o);
    for (size_t i = 0; i < nw; ++i) {
        rdw_acc[i] = rdw[i] + dw0[i];
        mdw_acc[i] = mdw[i] + std::fabs(dw0[i]);
    }
    for (int64_t o = 0; o < t.o; ++o) {
        rdb_acc[o] = rdb[o] + db0[o];
        mdb_acc[o] = mdb[o] + std::fabs(db0[o]);
    }

    // B1: everything; dw, db accumulate onto dw0, db0.
    DW.up(dw0);
    DB.up(db0);
    CK(cudaMemset(DX.p, 0xff, nx * sizeof(float)));  // NaN: dx must be written, not added to
    cu::conv2d_backward(X.p, W.p, DY.p, DX.p, DW.p, DB.p, s, nullptr);
    sync_or_die("backward");
    report(name, "bwd dx", max_rel(DX.down(), rdx, mdx));
    report(name, "bwd dw (+=)", max_rel(DW.down(), rdw_acc, mdw_acc));
    report(name, "bwd db (+=)", max_rel(DB.down(), rdb_acc, mdb_acc));
    // Determinism: a second run from the same start gives the same bits.
    {
        const auto dw1 = DW.down(), db1 = DB.down(), dx1 = DX.down();
        DW.up(dw0);
        DB.up(db0);
        cu::conv2d_backward(X.p, W.p, DY.p, DX.p, DW.p, DB.p, s, nullptr);
        sync_or_die("backward again");
        const bool same = dw1 == DW.down() && db1 == DB.down() && dx1 == DX.down();
        report(name, "bwd bitwise repeat", same ? 0.0 : 1.0);
    }

    // B2: dx only, dx_residual == dx.
    {
        DX.up(dxres);
        cu::conv2d_backward(X.p, W.p, DY.p, DX.p, nullptr, nullptr, s, DX.p);
        sync_or_die("backward dx in place");
        std::vector<double> r2(nx), m2(nx);
        for (size_t i = 0; i < nx; ++i) {
            r2[i] = rdx[i] + dxres[i];
            m2[i] = mdx[i] + std::fabs(dxres[i]);
        }
        report(name, "bwd dx+=res in place", max_rel(DX.down(), r2, m2));
    }
    // B3: dw only; B4: db only.
    {
        DW.up(dw0);
        cu::conv2d_backward(X.p, W.p, DY.p, nullptr, DW.p, nullptr, s, nullptr);
        sync_or_die("backward dw only");
        report(name, "bwd dw only", max_rel(DW.down(), rdw_acc, mdw_acc));
        DB.up(db0);
        cu::conv2d_backward(X.p, W.p, DY.p, nullptr, nullptr, DB.p, s, nullptr);
        sync_or_die("backward db only");
        report(name, "bwd db only", max_rel(DB.down(), rdb_acc, mdb_acc));
    }
}

void run_pair(const Conv1x1PairShape& s, bool bias, bool residual, bool in_place, std::mt19937& rng) {
    char nb[128];
    std::snprintf(nb, sizeof nb, "pair n%lld c%lld m%lld o%lld hw%lld", (long long)s.n, (long long)s.c,
                  (long long)s.m, (long long)s.o, (long long)s.hw);
    const size_t nx = s.n * s.c * s.hw, ny = s.n * s.o * s.hw;
    const auto x = random_vec(nx, rng), w1 = random_vec(s.m * s.c, rng), w2 = random_vec(s.o * s.m, rng);
    const auto b1 = random_vec(s.m, rng), b2 = random_vec(s.o, rng), res = random_vec(ny, rng);
    Dev X(nx), W1(w1.size()), W2(w2.size()), B1(s.m), B2(s.o), R(ny), Y(ny);
    X.up(x);
    W1.up(w1);
    W2.up(w2);
    B1.up(b1);
    B2.up(b2);
    R.up(res);
    if (in_place) Y.up(res);
    const float* rp = residual ? (in_place ? Y.p : R.p) : nullptr;
    cu::conv1x1_pair_forward(X.p, W1.p, bias ? B1.p : nullptr, W2.p, bias ? B2.p : nullptr, rp, Y.p, s);
    sync_or_die("conv1x1_pair");
    // Reference with the middle rounded to float32, as the contract says.
    std::vector<double> ref(ny), mag(ny);
    std::vector<float> mid(s.m);
    std::vector<double> midmag(s.m);
    for (int64_t n = 0; n < s.n; ++n)
        for (int64_t p = 0; p < s.hw; ++p) {
            for (int64_t m = 0; m < s.m; ++m) {
                double a = bias ? b1[m] : 0.0, am = bias ? std::fabs(b1[m]) : 0.0;
                for (int64_t c = 0; c < s.c; ++c) {
                    const double v = static_cast<double>(w1[m * s.c + c]) * x[(n * s.c + c) * s.hw + p];
                    a += v;
                    am += std::fabs(v);
                }
                mid[m] = a > 0 ? static_cast<float>(a) : 0.f;
                midmag[m] = am;
            }
            for (int64_t o = 0; o < s.o; ++o) {
                double a = bias ? b2[o] : 0.0, am = bias ? std::fabs(b2[o]) : 0.0;
                for (int64_t m = 0; m < s.m; ++m) {
                    a += static_cast<double>(w2[o * s.m + m]) * mid[m];
                    am += std::fabs(static_cast<double>(w2[o * s.m + m])) * midmag[m];
                }
                const size_t i = (n * s.o + o) * s.hw + p;
                if (residual) {
                    a += res[i];
                    am += std::fabs(res[i]);
                }
                ref[i] = a;
                mag[i] = am;
            }
        }
    std::string what = std::string(bias ? "bias" : "nobias") + (residual ? (in_place ? "+res(in place)" : "+res") : "");
    report(nb, what.c_str(), max_rel(Y.down(), ref, mag));
}

double median_ms(const std::function<void()>& f, int reps = 20) {
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int i = 0; i < 3; ++i) f();
    sync_or_die("warm-up");
    std::vector<float> ts;
    for (int i = 0; i < reps; ++i) {
        CK(cudaEventRecord(a, 0));
        f();
        CK(cudaEventRecord(b, 0));
        CK(cudaEventSynchronize(b));
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, a, b));
        ts.push_back(ms);
    }
    sync_or_die("timing");
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
    std::sort(ts.begin(), ts.end());
    return ts[ts.size() / 2];
}

void time_case(const Case& t, bool backward) {
    const int64_t HW = t.h * t.w;
    const size_t nx = t.n * t.c * HW, ny = t.n * t.o * HW, nw = t.o * t.c * t.k * t.k;
    Dev X(nx), W(nw), B(t.o), Y(ny), DY(ny), DX(nx), DW(nw), DB(t.o);
    std::mt19937 rng(7);
    X.up(random_vec(nx, rng));
    W.up(random_vec(nw, rng));
    B.up(random_vec(t.o, rng));
    DY.up(random_vec(ny, rng));
    CK(cudaMemset(DW.p, 0, nw * sizeof(float)));
    CK(cudaMemset(DB.p, 0, t.o * sizeof(float)));
    const Conv2dShape s{t.n, t.c, t.h, t.w, t.o, t.k};
    const double flop = 2.0 * t.n * HW * t.o * t.c * t.k * t.k;
    Conv2dEpilogue e;
    e.bias = B.p;
    e.relu = true;
    const double f = median_ms([&] { cu::conv2d_forward(X.p, W.p, Y.p, s, e); });
    std::printf("  %-34s fwd            %8.3f ms  %6.2f TFLOP/s\n", case_name(t).c_str(), f, flop / f * 1e-9);
    if (!backward) return;
    const double dx = median_ms([&] { cu::conv2d_backward(X.p, W.p, DY.p, DX.p, nullptr, nullptr, s); });
    const double dwb = median_ms([&] { cu::conv2d_backward(X.p, W.p, DY.p, nullptr, DW.p, DB.p, s); });
    const double all = median_ms([&] { cu::conv2d_backward(X.p, W.p, DY.p, DX.p, DW.p, DB.p, s); });
    std::printf("  %-34s bwd dx         %8.3f ms  %6.2f TFLOP/s\n", "", dx, flop / dx * 1e-9);
    std::printf("  %-34s bwd dw+db      %8.3f ms  %6.2f TFLOP/s\n", "", dwb, flop / dwb * 1e-9);
    std::printf("  %-34s bwd dx+dw+db   %8.3f ms  %6.2f TFLOP/s\n", "", all, 2 * flop / all * 1e-9);
}

}  // namespace

int main(int argc, char** argv) {
    bool timing = true, checks = true, quick = false;
    std::vector<Case> extra;  // --time N C H W O K: time this shape only
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--no-timing")) timing = false;
        if (!std::strcmp(argv[i], "--timing-only")) checks = false;
        if (!std::strcmp(argv[i], "--quick")) {  // small cases, no timing (for the sanitizers)
            quick = true;
            timing = false;
        }
        if (!std::strcmp(argv[i], "--time") && i + 6 < argc) {
            Case t;
            t.n = std::atoll(argv[i + 1]);
            t.c = std::atoll(argv[i + 2]);
            t.h = std::atoll(argv[i + 3]);
            t.w = std::atoll(argv[i + 4]);
            t.o = std::atoll(argv[i + 5]);
            t.k = std::atoll(argv[i + 6]);
            extra.push_back(t);
            i += 6;
            checks = timing = false;
        }
    }
    cudaDeviceProp prop{};
    CK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s (%d SMs)\n", prop.name, prop.multiProcessorCount);
    try {
        if (checks) {
            std::mt19937 rng(12345);
            const Case cases[] = {
                {1, 64, 96, 128, 64, 3}, {2, 3, 17, 9, 64, 3},  {1, 64, 5, 7, 3, 3},   {1, 32, 6, 6, 108, 5},
                {1, 1, 1, 1, 1, 1},      {3, 5, 13, 1, 7, 3},   {1, 64, 33, 65, 256, 3}, {2, 16, 1, 1, 20, 3},
                {2, 1, 9, 11, 1, 3},     {1, 16, 20, 19, 12, 7}, {2, 4, 11, 10, 8, 9},  {1, 64, 30, 30, 32, 1},
                {1, 48, 17, 23, 48, 3},  {4, 16, 3, 5, 17, 5},   {1, 12, 1, 40, 27, 3}, {2, 32, 7, 1, 16, 5},
                {1, 3, 64, 64, 3, 9},    {3, 2, 2, 2, 2, 5},     {2, 64, 40, 70, 3, 3}, {1, 8, 37, 33, 6, 5},
                {2, 5, 40, 35, 16, 3},   {1, 3, 50, 45, 8, 7},  {1, 16, 10, 9, 24, 9}, {2, 8, 12, 13, 20, 9},
            };
            std::printf("conv2d forward / backward vs double loops (tolerance %.0e):\n", kTol);
            for (const auto& t : cases) run_case(t, rng);
            std::printf("conv1x1_pair:\n");
            run_pair({2, 32, 96, 32, 37}, true, true, false, rng);
            run_pair({1, 3, 5, 7, 1}, true, false, false, rng);
            run_pair({1, 64, 192, 64, 1000}, true, true, true, rng);
            run_pair({3, 16, 48, 3, 130}, false, true, true, rng);
            if (!quick) run_pair({1, 8, 64, 4, (int64_t{1} << 20) + 4099}, true, true, true, rng);  // span path
        }
        for (const auto& t : extra) time_case(t, true);
        if (timing) {
            std::printf("timing (median of 20):\n");
            time_case({1, 64, 1080, 1920, 64, 3}, true);
            time_case({1, 64, 1080, 1920, 256, 3}, true);
            time_case({1, 64, 2160, 3840, 3, 3}, true);
            time_case({1, 3, 1080, 1920, 64, 3}, true);
            time_case({16, 64, 48, 48, 64, 3}, true);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "exception: %s\n", e.what());
        return 2;
    }
    std::printf("%s: %d failing check(s)\n", g_failures ? "FAIL" : "PASS", g_failures);
    return g_failures ? 1 : 0;
}
