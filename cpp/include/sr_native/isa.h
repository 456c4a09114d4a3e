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

// Which algorithm conv2d_forward uses for 3x3 layers: auto picks Winograd
// where it pays off (see conv2d.cpp), direct or winograd force one (Winograd
// still only for K == 3). Starts from SR_NATIVE_CONV_ALGO=auto|direct|winograd
// in the environment (auto when unset or unknown).
enum class ConvAlgo { automatic = 0, direct = 1, winograd = 2 };

ConvAlgo get_conv_algo();
void set_conv_algo(ConvAlgo algo);
const char* conv_algo_name(ConvAlgo algo);  // "auto", "direct", "winograd"
bool conv_algo_from_name(const char* name, ConvAlgo* out);

}  // namespace sr_native
