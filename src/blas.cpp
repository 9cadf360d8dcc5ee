#include "ldmrecon/blas.hpp"

#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

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

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

bool cpu_has_avx512() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq");
#else
    return false;
#endif
}

std::string better_openblas_core_here() { return better_openblas_core(openblas_core(), cpu_has_avx2_fma(), cpu_has_avx512()); }

std::string probe_openblas_core() {
    int fd[2];
    if (::pipe(fd) != 0) return "";
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fd[0]);
        ::close(fd[1]);
        return "";
    }
    if (pid == 0) {  // the child: only async-signal-safe work and dlopen, then _exit
        ::close(fd[0]);
        for (const char* lib : {"libopenblas.so.0", "libblas.so.3"}) {
            void* h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
            if (!h) continue;
            auto fn = reinterpret_cast<char* (*)()>(dlsym(h, "openblas_get_corename"));
            if (!fn) continue;
            const char* name = fn();
            if (name) (void)!::write(fd[1], name, std::strlen(name));
            break;
        }
        ::_exit(0);
    }
    ::close(fd[1]);
    std::string name;
    char buf[64];
    for (ssize_t n; (n = ::read(fd[0], buf, sizeof buf)) > 0;) name.append(buf, static_cast<std::size_t>(n));
    ::close(fd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return name;
}

}  // namespace ldmrecon
