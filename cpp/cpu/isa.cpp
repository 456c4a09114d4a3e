#include "sr_native/isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#if defined(SR_NATIVE_OPENMP)
#include <omp.h>
#endif

#if defined(SR_NATIVE_X86) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace sr_native {
namespace {

#if defined(SR_NATIVE_X86) && (defined(__GNUC__) || defined(__clang__))
// XGETBV: which register states the OS saves on context switch. A CPU may
// have AVX-512 while the OS does not enable it.
unsigned long long read_xcr0() {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (static_cast<unsigned long long>(edx) << 32) | eax;
}

Isa probe_cpu() {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return Isa::generic;
    const bool osxsave = ecx & (1u << 27);
    const bool avx = ecx & (1u << 28);
    const bool fma = ecx & (1u << 12);
    const bool f16c = ecx & (1u << 29);
    if (!(osxsave && avx)) return Isa::generic;
    const unsigned long long xcr0 = read_xcr0();
    const bool ymm_saved = (xcr0 & 0x6) == 0x6;
    const bool zmm_saved = (xcr0 & 0xe6) == 0xe6;
    if (!ymm_saved) return Isa::generic;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return Isa::generic;
    const bool avx2 = ebx & (1u << 5);
    const bool avx512f = ebx & (1u << 16);
    const bool avx512dq = ebx & (1u << 17);
    const bool avx512bw = ebx & (1u << 30);
    const bool avx512vl = ebx & (1u << 31);
    if (!(avx2 && fma && f16c)) return Isa::generic;
    if (zmm_saved && avx512f && avx512dq && avx512bw && avx512vl) return Isa::avx512;
    return Isa::avx2;
}
#else
Isa probe_cpu() { return Isa::generic; }
#endif

Isa initial_isa() {
    Isa best = probe_cpu();
    const char* env = std::getenv("SR_NATIVE_ISA");
    Isa wanted;
    if (env && isa_from_name(env, &wanted) && static_cast<int>(wanted) < static_cast<int>(best))
        return wanted;
    return best;
}

std::atomic<int>& active_slot() {
    static std::atomic<int> slot{static_cast<int>(initial_isa())};
    return slot;
}

}  // namespace

Isa detected_isa() {
    static const Isa best = probe_cpu();
    return best;
}

Isa active_isa() { return static_cast<Isa>(active_slot().load(std::memory_order_relaxed)); }

bool set_isa(Isa isa) {
    if (static_cast<int>(isa) > static_cast<int>(detected_isa())) return false;
    active_slot().store(static_cast<int>(isa), std::memory_order_relaxed);
    return true;
}

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::avx512: return "avx512";
        case Isa::avx2: return "avx2";
        default: return "generic";
    }
}

bool isa_from_name(const char* name, Isa* out) {
    if (std::strcmp(name, "generic") == 0) { *out = Isa::generic; return true; }
    if (std::strcmp(name, "avx2") == 0) { *out = Isa::avx2; return true; }
    if (std::strcmp(name, "avx512") == 0) { *out = Isa::avx512; return true; }
    return false;
}

// One process-wide count, read by every parallel region through its
// num_threads clause: omp_set_num_threads would only change the calling
// thread's setting, and kernels may be called from any Python thread.
namespace {
std::atomic<int>& thread_slot() {
#if defined(SR_NATIVE_OPENMP)
    // Honours OMP_NUM_THREADS, up to 4x the CPUs (set_num_threads' limit): a
    // huge value would make libgomp call exit(1) at the first parallel region.
    static std::atomic<int> slot{[] {
        const int hw = static_cast<int>(std::thread::hardware_concurrency());
        const int n = omp_get_max_threads();
        return hw > 0 && n > 4 * hw ? 4 * hw : n;
    }()};
#else
    static std::atomic<int> slot{1};
#endif
    return slot;
}
}  // namespace

int get_num_threads() { return thread_slot().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
#if defined(SR_NATIVE_OPENMP)
    thread_slot().store(n < 1 ? 1 : n, std::memory_order_relaxed);
#else
    (void)n;
#endif
}

bool openmp_enabled() {
#if defined(SR_NATIVE_OPENMP)
    return true;
#else
    return false;
#endif
}

namespace {
std::atomic<int>& algo_slot() {
    static std::atomic<int> slot{[] {
        const char* env = std::getenv("SR_NATIVE_CONV_ALGO");
        ConvAlgo a = ConvAlgo::automatic;
        if (env && !conv_algo_from_name(env, &a)) a = ConvAlgo::automatic;
        return static_cast<int>(a);
    }()};
    return slot;
}
}  // namespace

ConvAlgo get_conv_algo() { return static_cast<ConvAlgo>(algo_slot().load(std::memory_order_relaxed)); }

void set_conv_algo(ConvAlgo algo) { algo_slot().store(static_cast<int>(algo), std::memory_order_relaxed); }

const char* conv_algo_name(ConvAlgo algo) {
    switch (algo) {
        case ConvAlgo::direct: return "direct";
        case ConvAlgo::winograd: return "winograd";
        default: return "auto";
    }
}

bool conv_algo_from_name(const char* name, ConvAlgo* out) {
    if (std::strcmp(name, "auto") == 0) { *out = ConvAlgo::automatic; return true; }
    if (std::strcmp(name, "direct") == 0) { *out = ConvAlgo::direct; return true; }
    if (std::strcmp(name, "winograd") == 0) { *out = ConvAlgo::winograd; return true; }
    return false;
}

}  // namespace sr_native
