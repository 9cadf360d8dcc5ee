// Which oneDNN kernels ran, read from its verbose log (ONEDNN_VERBOSE=1: one line per primitive executed,
// naming the implementation, e.g. "jit_bf16:avx512_core_bf16" or "brgconv:avx512_core_amx"), so that a
// timing can say whether the CPU's fast path was taken. Text only: no libtorch here.
#pragma once

#include <string>
#include <vector>

namespace ldmrecon {

// The instruction-set class an implementation name belongs to, fastest first: "AMX", "AVX-512 BF16",
// "AVX-512 VNNI", "AVX-512", "AVX2", "other" (gemm fall-backs, reference kernels, SSE).
std::string kernel_isa_class(const std::string& implementation);

struct KernelUse {
    std::string primitive;       // convolution, deconvolution, matmul, reorder, ...
    std::string implementation;  // as oneDNN names it
    int calls = 0;
    double ms = 0;  // oneDNN's own execution times, summed
};

struct KernelLog {
    std::string isa;              // the "isa:" info line: the most the library will use on this CPU
    std::vector<KernelUse> uses;  // one per (primitive, implementation), most time first
    double total_ms() const;
    // Share of the time, reorders (layout changes, no arithmetic) left out, in kernels of `isa_class`.
    double share(const std::string& isa_class) const;
    double reorder_ms() const;
};

// Reads oneDNN's verbose lines (its v0 format of oneDNN 2.x, as in libtorch 1.13, and the v1 format of
// oneDNN 3.x); other lines are ignored.
KernelLog parse_onednn_verbose(const std::string& text);

}  // namespace ldmrecon
