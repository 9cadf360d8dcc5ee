// `ldmrecon compile`: AOTInductor packages of a models folder for this device and dtype, made by
// scripts/compile_models.py under the PyTorch 2 environment, written beside the exports. The models then
// use them automatically (--backend auto) wherever they match.
#include <spdlog/spdlog.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "ldmrecon/errors.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace ldmrecon::cli {

namespace {

// The PyTorch 2 environment's Python (scripts/python_env.sh torch makes it the first time: ~6 GB).
std::string torch_python() {
    const std::string cmd = "'" + scripts_dir() + "/python_env.sh' torch";
    const std::string python = command_output(cmd);
    if (python.empty())
        throw UsageError("compile: the PyTorch 2 environment could not be made (" + cmd + " failed; see above)");
    return python;
}

int run_process(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

int run_compile(const CompileArgs& a) {
    if (libtorch_version().rfind("1.", 0) == 0)
        throw UsageError("compile: compiled packages need the PyTorch 2 build of ldmrecon (scripts/setup.sh --torch "
                         "pip); this one runs libtorch " + libtorch_version());
    const std::string dir = resolve_models_dir(a.models);
    RuntimeOptions rt = a.runtime;
    rt.backend = "torchscript";
    const Models models(dir, rt);  // checks the exports, the device and the dtype
    if (a.window_frames % models.time_multiple() != 0)
        throw UsageError("compile: --window-frames " + std::to_string(a.window_frames) + " must be a multiple of " +
                         std::to_string(models.time_multiple()) + " (the VAE's time multiple), as reconstruct's");
    const std::string kind = models.device_name() == "cpu" ? "cpu" : "cuda";
    const std::string out = compiled_package_dir(dir, kind, models.dtype_name());
    // Into a fresh folder first: a failed compile leaves an earlier package as it was.
    const std::string tmp = out + ".tmp-" + std::to_string(::getpid());
    std::error_code ec;
    fs::remove_all(tmp, ec);
    spdlog::info("compile: {} for {}/{} with {} (a few minutes per model stage; once per machine and model)", dir,
                 kind, models.dtype_name(), libtorch_description());
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = run_process({torch_python(), scripts_dir() + "/compile_models.py", dir, tmp, "--device", kind,
                                "--dtype", models.dtype_name(), "--vae-id", hex_id(models.model_id()), "--vocoder-id",
                                hex_id(models.vocoder_id()), "--window-frames", std::to_string(a.window_frames),
                                "--expect-torch", libtorch_version()});
    if (rc != 0) {
        fs::remove_all(tmp, ec);
        throw ModelError("compile: scripts/compile_models.py failed (exit " + std::to_string(rc) + "); see above");
    }
    fs::remove_all(out, ec);  // ours: a folder this command made before
    fs::rename(tmp, out, ec);
    if (ec) throw OutputError(out + ": cannot move the compiled packages into place (" + ec.message() + ")");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "compiled " << dir << " for " << kind << "/" << models.dtype_name() << " in " << std::fixed
              << std::setprecision(1) << s << " s -> " << out << "\n";
    return 0;
}

}  // namespace ldmrecon::cli
