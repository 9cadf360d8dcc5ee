// Which BLAS kernels libtorch's matrix products run on. OpenBLAS chooses its kernels once, when it loads,
// from $OPENBLAS_CORETYPE or else from the CPU's model number; on a model it does not know (common in
// virtual machines) it falls back to its generic SSE3 "Prescott" kernels, which run the VAE's attention
// 3-7x slower than the AVX2/AVX-512 ones the same CPU supports. The CLI asks here whether that happened and
// then starts itself again with the right $OPENBLAS_CORETYPE (tools/main.cpp).
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

}  // namespace ldmrecon
