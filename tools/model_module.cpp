// Loading the model module (ldmrecon_torch.so, which holds libtorch) on first use, so that the commands
// that need no model start in milliseconds: libtorch and its operators take over a second to load.
#include <dlfcn.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
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

// What must be set before libtorch (and its BLAS) load: OpenBLAS picks its kernels once, at load.
void prepare_environment() {
    if (std::getenv("OPENBLAS_CORETYPE")) return;  // the user's choice stands
    const std::string core = better_openblas_core(probe_openblas_core(), cpu_has_avx2_fma(), cpu_has_avx512());
    if (!core.empty()) {
        spdlog::debug("OpenBLAS would fall back to its generic kernels on this CPU: OPENBLAS_CORETYPE={}", core);
        setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    }
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

}  // namespace ldmrecon::cli
