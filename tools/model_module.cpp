// Loading the model module (ldmrecon_torch.so, which holds libtorch) on first use, so that the commands
// that need no model start in milliseconds: libtorch and its operators take over a second to load.
#include <dlfcn.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "ldmrecon/blas.hpp"
#include "ldmrecon/errors.hpp"

namespace fs = std::filesystem;

namespace ldmrecon::cli {

namespace {

struct ModelModule {
    int (*run)(const char*, const void*) = nullptr;
    const char* (*runtime)() = nullptr;
};

// $LDMRECON_MODULE, else beside the binary (a build folder), else the installed library folder.
std::vector<fs::path> module_candidates() {
    std::vector<fs::path> c;
    if (const char* env = std::getenv("LDMRECON_MODULE"); env && *env) return {env};
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        c.push_back(exe.parent_path() / "ldmrecon_torch.so");
        c.push_back(exe.parent_path().parent_path() / LDMRECON_INSTALL_LIBDIR / "ldmrecon" / "ldmrecon_torch.so");
    }
    c.emplace_back(LDMRECON_INSTALL_FULL_LIBDIR "/ldmrecon/ldmrecon_torch.so");
    return c;
}

// This process's arguments as it was started (/proc/self/cmdline).
std::vector<std::string> own_arguments() {
    std::ifstream f("/proc/self/cmdline", std::ios::binary);
    std::vector<std::string> args;
    for (std::string a; std::getline(f, a, '\0');) args.push_back(a);
    return args;
}

// Starts this binary again with OMP_WAIT_POLICY=PASSIVE, when the user has not chosen a policy. OpenMP's
// workers spin between parallel regions by default, taking the cores from the pipeline's measuring thread
// and from any other job on the machine (docs/speed.md: 12 clips in 7.7-8.2 s spinning against
// 6.8-7.3 s passive, idle; 11.4-13.1 s against 10.2-11.9 s beside a second CPU-bound job). libgomp reads
// the variable once, when it loads, and this binary loads it at start (libsoxr uses it): a setenv here
// would come too late. Costs a few milliseconds, once, and only for the model commands; nothing has been
// read yet (standard input included) when it happens.
void restart_with_passive_openmp() {
    if (std::getenv("OMP_WAIT_POLICY")) return;
    const std::vector<std::string> args = own_arguments();
    if (args.empty()) return;
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    std::fflush(nullptr);
    // Between execv and the new image's handlers (main: install_default_signal_handlers) a SIGINT or SIGTERM
    // would take its default action and kill the process without its exit status 130. Blocked here, it
    // stays pending across execv (the mask is kept) and reaches the handler when main unblocks it.
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop, &old);
    execv("/proc/self/exe", argv.data());
    sigprocmask(SIG_SETMASK, &old, nullptr);
    spdlog::debug("could not start again with OMP_WAIT_POLICY=PASSIVE ({}): OpenMP's threads spin", std::strerror(errno));
}

// What must be set before libtorch (and its BLAS and OpenMP) load; the user's own settings stand.
void prepare_environment() {
    if (!std::getenv("OPENBLAS_CORETYPE")) {  // OpenBLAS picks its kernels once, at load
        const std::string core = better_openblas_core(probe_openblas_core(), cpu_has_avx2_fma(), cpu_has_avx512());
        if (!core.empty()) {
            spdlog::debug("OpenBLAS would fall back to its generic kernels on this CPU: OPENBLAS_CORETYPE={}", core);
            setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
        }
    }
    restart_with_passive_openmp();
}

ModelModule load() {
    prepare_environment();
    std::string tried;
    for (const auto& path : module_candidates()) {
        std::error_code ec;
        if (!fs::exists(path, ec)) {
            tried += (tried.empty() ? "" : ", ") + path.string();
            continue;
        }
        // Global, so that what libtorch loads (OpenBLAS's openblas_get_corename) is visible to the core.
        void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
        if (!h) throw ModelError(path.string() + ": cannot load the model module (" + first_line(dlerror()) + ")");
        auto abi = reinterpret_cast<const char* (*)()>(dlsym(h, "ldmrecon_module_abi"));
        ModelModule m;
        m.run = reinterpret_cast<int (*)(const char*, const void*)>(dlsym(h, "ldmrecon_module_run"));
        m.runtime = reinterpret_cast<const char* (*)()>(dlsym(h, "ldmrecon_module_runtime"));
        if (!abi || !m.run || !m.runtime) throw ModelError(path.string() + ": not an ldmrecon model module");
        if (abi() != module_abi())
            throw ModelError(path.string() + ": a model module of another ldmrecon build (" + abi() + ", this is " +
                             module_abi() + "); install both from one build");
        spdlog::debug("model module {}", path.string());
        return m;
    }
    throw ModelError("the model module ldmrecon_torch.so is missing (looked in " + tried +
                     "): rebuild and reinstall ldmrecon (scripts/setup.sh), or set $LDMRECON_MODULE");
}

ModelModule& model_module() {
    static ModelModule m = load();
    return m;
}

}  // namespace

std::string runtime_description() {
    return std::string("libtorch ") + LDMRECON_TORCH_VERSION + (LDMRECON_TORCH_CUDA ? " with CUDA" : " (CPU only)") +
           ", loaded when a model runs";
}

int run_in_model_module(const std::string& command, const void* args) { return model_module().run(command.c_str(), args); }

std::string module_runtime_description() { return model_module().runtime(); }

void load_model_module() { model_module(); }

}  // namespace ldmrecon::cli
