// A tiny SIMD wrapper so a kernel body can be written once and compiled per
// instruction set. The includer picks one width by defining SR_SIMD_AVX512 or
// SR_SIMD_AVX2 before the include (and must be compiled with those flags);
// without either it gets the portable Vec that the compiler vectorises for the
// baseline target.
//
// Everything here sits in an anonymous namespace on purpose: inline functions
// compiled with -mavx512f must never be merged by the linker with a copy from
// a baseline file (ODR), which could run AVX-512 code on an older CPU.
#pragma once

#if defined(SR_SIMD_AVX512) || defined(SR_SIMD_AVX2)
#include <immintrin.h>
#endif

namespace sr_native {
namespace {
namespace simd {

#if defined(SR_SIMD_AVX512)

struct Vec {
    static constexpr int kLanes = 16;
    static constexpr int kRegs = 32;  // architectural vector registers
    __m512 v;
};
inline Vec vzero() { return {_mm512_setzero_ps()}; }
inline Vec vset1(float a) { return {_mm512_set1_ps(a)}; }
inline Vec vload(const float* p) { return {_mm512_loadu_ps(p)}; }
inline void vstore(float* p, Vec a) { _mm512_storeu_ps(p, a.v); }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline Vec vadd(Vec a, Vec b) { return {_mm512_add_ps(a.v, b.v)}; }
inline Vec vmul(Vec a, Vec b) { return {_mm512_mul_ps(a.v, b.v)}; }
// maskz form: GCC 12's _mm512_max_ps trips -Wmaybe-uninitialized in its own header.
inline Vec vmax(Vec a, Vec b) { return {_mm512_maskz_max_ps(0xFFFF, a.v, b.v)}; }

#elif defined(SR_SIMD_AVX2)

struct Vec {
    static constexpr int kLanes = 8;
    static constexpr int kRegs = 16;
    __m256 v;
};
inline Vec vzero() { return {_mm256_setzero_ps()}; }
inline Vec vset1(float a) { return {_mm256_set1_ps(a)}; }
inline Vec vload(const float* p) { return {_mm256_loadu_ps(p)}; }
inline void vstore(float* p, Vec a) { _mm256_storeu_ps(p, a.v); }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline Vec vadd(Vec a, Vec b) { return {_mm256_add_ps(a.v, b.v)}; }
inline Vec vmul(Vec a, Vec b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline Vec vmax(Vec a, Vec b) { return {_mm256_max_ps(a.v, b.v)}; }

#else

// Portable: four floats (one SSE register on x86-64, one NEON register on
// arm64). GCC and Clang get a vector-extension type the optimiser keeps in
// registers; other compilers a plain array it may vectorise. Multiply then
// add (not fused), so the portable body is plain C++ arithmetic.
#if defined(__GNUC__) || defined(__clang__)
typedef float F4 __attribute__((vector_size(16)));
struct Vec {
    static constexpr int kLanes = 4;
    static constexpr int kRegs = 16;
    F4 v;
};
inline Vec vzero() { return {F4{0.0f, 0.0f, 0.0f, 0.0f}}; }
inline Vec vset1(float a) { return {F4{a, a, a, a}}; }
inline Vec vload(const float* p) {
    F4 r;
    __builtin_memcpy(&r, p, sizeof(r));  // unaligned load
    return {r};
}
inline void vstore(float* p, Vec a) { __builtin_memcpy(p, &a.v, sizeof(a.v)); }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return {a.v * b.v + c.v}; }
inline Vec vadd(Vec a, Vec b) { return {a.v + b.v}; }
inline Vec vmul(Vec a, Vec b) { return {a.v * b.v}; }
inline Vec vmax(Vec a, Vec b) { return {a.v > b.v ? a.v : b.v}; }
#else
struct Vec {
    static constexpr int kLanes = 4;
    static constexpr int kRegs = 16;
    float v[4];
};
inline Vec vzero() { return {{0.0f, 0.0f, 0.0f, 0.0f}}; }
inline Vec vset1(float a) { return {{a, a, a, a}}; }
inline Vec vload(const float* p) { return {{p[0], p[1], p[2], p[3]}}; }
inline void vstore(float* p, Vec a) {
    for (int i = 0; i < 4; ++i) p[i] = a.v[i];
}
inline Vec vfmadd(Vec a, Vec b, Vec c) {
    Vec r;
    for (int i = 0; i < 4; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i];
    return r;
}
inline Vec vadd(Vec a, Vec b) {
    Vec r;
    for (int i = 0; i < 4; ++i) r.v[i] = a.v[i] + b.v[i];
    return r;
}
inline Vec vmul(Vec a, Vec b) {
    Vec r;
    for (int i = 0; i < 4; ++i) r.v[i] = a.v[i] * b.v[i];
    return r;
}
inline Vec vmax(Vec a, Vec b) {
    Vec r;
    for (int i = 0; i < 4; ++i) r.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
    return r;
}
#endif

#endif

}  // namespace simd
}  // namespace
}  // namespace sr_native
