// Run-time choice of the instruction set the fast kernels use.
//
// The extension is built for the baseline of its target (plain x86-64 on
// x86), with the AVX2 and AVX-512 bodies in separate files compiled with those
// flags only. The first kernel call detects what the CPU and the OS support
// and picks the widest; SR_NATIVE_ISA=generic|avx2|avx512 in the environment,
// or set_isa(), lowers the choice (never raises it above what is supported).
#pragma once

namespace sr_native {

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };

Isa detected_isa();             // best the CPU and OS support
Isa active_isa();               // what the fast kernels use now
bool set_isa(Isa isa);          // false (and no change) if not supported
const char* isa_name(Isa isa);  // "generic", "avx2", "avx512"
bool isa_from_name(const char* name, Isa* out);

int get_num_threads();          // threads each kernel uses; starts at OpenMP's default (OMP_NUM_THREADS), 1 without OpenMP
void set_num_threads(int n);    // n >= 1
bool openmp_enabled();

}  // namespace sr_native
