// Which BLAS kernels libtorch's matrix products run on. OpenBLAS chooses its kernels once, when it loads,
// from $OPENBLAS_CORETYPE or else from the CPU's model number; on a model it does not know (common in
// virtual machines) it falls back to its generic SSE3 "Prescott" kernels, which run the VAE's attention
// 3-7x slower than the AVX2/AVX-512 ones the same CPU supports. Before the model module (and libtorch with
// its BLAS) loads, the CLI asks a probe what OpenBLAS would pick and sets $OPENBLAS_CORETYPE when that is
// the fallback (tools/model_module.cpp).
#pragma once

#include <string>

namespace ldmrecon {

// The kernel set OpenBLAS picked in this process ("SkylakeX", "Haswell", "Prescott", ...), or "" when
// the BLAS that libtorch uses is not OpenBLAS.
std::string openblas_core();

// What the CLI prints: "OpenBLAS SkylakeX", "OpenBLAS Prescott", or "not OpenBLAS".
std::string blas_description();

// The $OPENBLAS_CORETYPE to set instead when OpenBLAS fell back to its generic kernels ("Prescott") on a
// CPU with AVX2 and FMA ("Haswell") or also AVX-512 F/VL/BW/DQ ("SkylakeX"); "" when nothing is to be
// gained (another core was picked, or the CPU has no AVX2).
std::string better_openblas_core(const std::string& picked, bool avx2_fma, bool avx512);

// The same for this process and this CPU.
std::string better_openblas_core_here();

// What this CPU has, for better_openblas_core (false off x86-64).
bool cpu_has_avx2_fma();
bool cpu_has_avx512();

// The kernel set OpenBLAS would pick in a new process with this environment, asked of a short-lived child
// that loads the system's OpenBLAS alone (this process's libraries stay as they are); "" when there is
// no OpenBLAS to load.
std::string probe_openblas_core();

}  // namespace ldmrecon
