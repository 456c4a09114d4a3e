// Reference pixel shuffle / unshuffle, element by element from the definition
//   shuffled[n, c, h*r+i, w*r+j] = packed[n, c*r*r + i*r + j, h, w].
#include "sr_native/kernels.h"

namespace sr_native::ref {

void pixel_shuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int r) {
    const int64_t co = c / (static_cast<int64_t>(r) * r), ho = h * r, wo = w * r;
    for (int64_t b = 0; b < n; ++b)
        for (int64_t oc = 0; oc < co; ++oc)
            for (int64_t i = 0; i < r; ++i)
                for (int64_t j = 0; j < r; ++j)
                    for (int64_t ih = 0; ih < h; ++ih)
                        for (int64_t iw = 0; iw < w; ++iw) {
                            const int64_t ic = oc * r * r + i * r + j;
                            y[((b * co + oc) * ho + ih * r + i) * wo + iw * r + j] =
                                x[((b * c + ic) * h + ih) * w + iw];
                        }
}

void pixel_unshuffle(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w,
                     int r) {
    const int64_t co = c * r * r, ho = h / r, wo = w / r;
    for (int64_t b = 0; b < n; ++b)
        for (int64_t ic = 0; ic < c; ++ic)
            for (int64_t i = 0; i < r; ++i)
                for (int64_t j = 0; j < r; ++j)
                    for (int64_t oh = 0; oh < ho; ++oh)
                        for (int64_t ow = 0; ow < wo; ++ow) {
                            const int64_t oc = ic * r * r + i * r + j;
                            y[((b * co + oc) * ho + oh) * wo + ow] =
                                x[((b * c + ic) * h + oh * r + i) * w + ow * r + j];
                        }
}

}  // namespace sr_native::ref
