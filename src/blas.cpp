#include "ldmrecon/blas.hpp"

#include <dlfcn.h>

namespace ldmrecon {

std::string openblas_core() {
    // Looked up at run time so that nothing links against OpenBLAS: with another BLAS the symbol is absent.
    using CoreName = char* (*)();
    auto fn = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    if (!fn) return "";
    const char* name = fn();
    return name ? name : "";
}

std::string blas_description() {
    const std::string core = openblas_core();
    return core.empty() ? "not OpenBLAS" : "OpenBLAS " + core;
}

std::string better_openblas_core(const std::string& picked, bool avx2_fma, bool avx512) {
    if (picked != "Prescott" || !avx2_fma) return "";
    return avx512 ? "SkylakeX" : "Haswell";
}

std::string better_openblas_core_here() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    const bool avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    return better_openblas_core(openblas_core(), avx2_fma, avx512);
#else
    return "";
#endif
}

}  // namespace ldmrecon
