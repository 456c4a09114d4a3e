// Reference transposed convolution, straight from the definition: output
// (oy, ox) gathers every input pixel whose scatter lands on it,
//   oy = iy * s - p + ky,  ox = ix * s - p + kx,
// summing only taps inside the input (no padding values exist). Double
// accumulators, never optimised.
#include "sr_native/kernels.h"

namespace sr_native::ref {

namespace {

// The input index that tap k scatters onto output index o, or -1 when none
// (o + p - k not a non-negative multiple of s, or past the input's size n).
int64_t source_index(int64_t o, int64_t k, int64_t s, int64_t p, int64_t n) {
    const int64_t t = o + p - k;
    if (t < 0 || t % s != 0) return -1;
    const int64_t i = t / s;
    return i < n ? i : -1;
}

}  // namespace

void conv_transpose2d_forward(const float* x, const float* w, const float* bias, float* y,
                              const ConvTranspose2dShape& s) {
    const int64_t ho = s.out_h(), wo = s.out_w();
    for (int64_t n = 0; n < s.n; ++n)
        for (int64_t o = 0; o < s.o; ++o)
            for (int64_t oy = 0; oy < ho; ++oy)
                for (int64_t ox = 0; ox < wo; ++ox) {
                    double acc = bias ? bias[o] : 0.0;
                    for (int64_t c = 0; c < s.c; ++c)
                        for (int64_t ky = 0; ky < s.k; ++ky) {
                            const int64_t iy = source_index(oy, ky, s.stride, s.pad, s.h);
                            if (iy < 0) continue;
                            for (int64_t kx = 0; kx < s.k; ++kx) {
                                const int64_t ix = source_index(ox, kx, s.stride, s.pad, s.w);
                                if (ix < 0) continue;
                                acc += static_cast<double>(x[((n * s.c + c) * s.h + iy) * s.w + ix]) *
                                       w[((c * s.o + o) * s.k + ky) * s.k + kx];
                            }
                        }
                    y[((n * s.o + o) * ho + oy) * wo + ox] = static_cast<float>(acc);
                }
}

void conv_transpose2d_backward(const float* x, const float* w, const float* dy, float* dx,
                               float* dw, float* db, const ConvTranspose2dShape& s) {
    const int64_t ho = s.out_h(), wo = s.out_w();
    // The output index tap k of input index i lands on, or -1 outside the output.
    auto target = [&](int64_t i, int64_t k, int64_t size) {
        const int64_t t = i * s.stride - s.pad + k;
        return t >= 0 && t < size ? t : int64_t{-1};
    };
    if (dx) {
        for (int64_t n = 0; n < s.n; ++n)
            for (int64_t c = 0; c < s.c; ++c)
                for (int64_t iy = 0; iy < s.h; ++iy)
                    for (int64_t ix = 0; ix < s.w; ++ix) {
                        double acc = 0.0;
                        for (int64_t o = 0; o < s.o; ++o)
                            for (int64_t ky = 0; ky < s.k; ++ky) {
                                const int64_t oy = target(iy, ky, ho);
                                if (oy < 0) continue;
                                for (int64_t kx = 0; kx < s.k; ++kx) {
                                    const int64_t ox = target(ix, kx, wo);
                                    if (ox < 0) continue;
                                    acc += static_cast<double>(dy[((n * s.o + o) * ho + oy) * wo + ox]) *
                                           w[((c * s.o + o) * s.k + ky) * s.k + kx];
                                }
                            }
                        dx[((n * s.c + c) * s.h + iy) * s.w + ix] = static_cast<float>(acc);
                    }
    }
    if (dw) {
        for (int64_t c = 0; c < s.c; ++c)
            for (int64_t o = 0; o < s.o; ++o)
                for (int64_t ky = 0; ky < s.k; ++ky)
                    for (int64_t kx = 0; kx < s.k; ++kx) {
                        double acc = 0.0;
                        for (int64_t n = 0; n < s.n; ++n)
                            for (int64_t iy = 0; iy < s.h; ++iy) {
                                const int64_t oy = target(iy, ky, ho);
                                if (oy < 0) continue;
                                for (int64_t ix = 0; ix < s.w; ++ix) {
                                    const int64_t ox = target(ix, kx, wo);
                                    if (ox < 0) continue;
                                    acc += static_cast<double>(x[((n * s.c + c) * s.h + iy) * s.w + ix]) *
                                           dy[((n * s.o + o) * ho + oy) * wo + ox];
                                }
                            }
                        dw[((c * s.o + o) * s.k + ky) * s.k + kx] += static_cast<float>(acc);
                    }
    }
    if (db) {
        for (int64_t o = 0; o < s.o; ++o) {
            double acc = 0.0;
            for (int64_t n = 0; n < s.n; ++n)
                for (int64_t i = 0; i < ho * wo; ++i) acc += dy[(n * s.o + o) * ho * wo + i];
            db[o] += static_cast<float>(acc);
        }
    }
}

}  // namespace sr_native::ref
