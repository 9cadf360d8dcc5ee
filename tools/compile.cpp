// `ldmrecon compile`: AOTInductor packages of a models folder for this device and dtype, made by
// scripts/compile_models.py under the PyTorch 2 environment, written beside the exports. The models then
// use them automatically (--backend auto) wherever they match.
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "ldmrecon/audio.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/feature.hpp"
#include "ldmrecon/npy.hpp"

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

constexpr std::size_t kMinCalibrationFrames = 64;

// int8 calibrates its activation ranges on real speech: the model's own feature of each file (as
// `ldmrecon mel` writes it) into `tmp`, for compile_models.py's --calibration. Without --calibration,
// the example speech that ships with ldmrecon.
std::vector<std::string> calibration_features(const std::vector<std::string>& audio, const FeatureConfig& fc,
                                              const std::string& tmp) {
    std::vector<std::string> files = audio;
    if (files.empty()) files.push_back((fs::path(scripts_dir()).parent_path() / "examples" / "example.wav").string());
    std::vector<std::string> features;
    double seconds = 0;
    for (const auto& path : files) {
        MonoAudio in = read_mono(path, fc.sample_rate);
        normalise_waveform(in.samples);
        const Matrix mel = LogMel(fc).compute(in.samples);
        if (mel.rows < kMinCalibrationFrames)
            throw InputError(path + ": " + std::to_string(mel.rows) +
                             " frames, too short to calibrate on (use files of a second or more of speech)");
        features.push_back(tmp + "/calibration-" + std::to_string(features.size()) + ".npy");
        write_npy(features.back(), mel);
        seconds += in.seconds();
    }
    spdlog::info("compile: int8 calibrated on {} file(s), {:.1f} s of audio{}", files.size(), seconds,
                 audio.empty() ? " (the shipped example; --calibration FILE... for your own)" : "");
    return features;
}

// What --dtype int8 needs before minutes of compiling: this build and CPU, the CPU device, audio only with int8.
void check_int8_compile(const CompileArgs& a, RuntimeOptions& rt) {
    if (rt.dtype != "int8") {
        if (!a.calibration.empty()) throw UsageError("compile: --calibration is for --dtype int8");
        return;
    }
    if (const std::string why = int8_unsupported_reason(); !why.empty())
        throw UsageError("compile --dtype int8: " + why);
    if (rt.device == "auto") rt.device = "cpu";
    if (rt.device != "cpu") throw UsageError("compile --dtype int8 is for the CPU (on CUDA use --dtype fp16 or bf16)");
    rt.dtype = "fp32";  // the exports, checked as fp32: int8 exists only in the packages made here
}

}  // namespace

int run_compile(const CompileArgs& a) {
    if (libtorch_version().rfind("1.", 0) == 0)
        throw UsageError("compile: compiled packages need the PyTorch 2 build of ldmrecon (scripts/setup.sh --torch "
                         "pip); this one runs libtorch " + libtorch_version());
    const std::string dir = resolve_models_dir(a.models);
    RuntimeOptions rt = a.runtime;
    rt.backend = "torchscript";
    check_int8_compile(a, rt);
    const bool int8 = a.runtime.dtype == "int8";
    const Models models(dir, rt);  // checks the exports, the device and the dtype
    const std::string dtype = int8 ? "int8" : models.dtype_name();
    if (a.window_frames % models.time_multiple() != 0)
        throw UsageError("compile: --window-frames " + std::to_string(a.window_frames) + " must be a multiple of " +
                         std::to_string(models.time_multiple()) + " (the VAE's time multiple), as reconstruct's");
    const std::string kind = models.device_name() == "cpu" ? "cpu" : "cuda";
    const std::string out = compiled_package_dir(dir, kind, dtype);
    // Into a fresh folder first: a failed compile leaves an earlier package as it was.
    const std::string tmp = out + ".tmp-" + std::to_string(::getpid());
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::remove_all(tmp + "-calibration", ec);
    spdlog::info("compile: {} for {}/{} with {} (a few minutes per model stage; once per machine and model)", dir, kind,
                 dtype, libtorch_description());
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::string> args = {torch_python(), scripts_dir() + "/compile_models.py", dir, tmp};
    args.insert(args.end(), {"--device", kind, "--dtype", dtype, "--expect-torch", libtorch_version()});
    args.insert(args.end(), {"--vae-id", hex_id(models.model_id()), "--vocoder-id", hex_id(models.vocoder_id()),
                             "--window-frames", std::to_string(a.window_frames)});
    // The calibration features lie beside the packages while compiling, and never in the installed folder.
    const std::string features = tmp + "-calibration";
    const fs::path parent = fs::path(out).parent_path();  // DIR/compiled: removed again if made here for nothing
    const bool had_parent = fs::exists(parent, ec);
    auto clean_up = [&] {
        fs::remove_all(tmp, ec);
        fs::remove_all(features, ec);
        if (!had_parent && fs::is_empty(parent, ec)) fs::remove(parent, ec);
    };
    int rc = 0;
    try {
        if (int8) {
            fs::create_directories(features);
            args.push_back("--calibration");
            for (const auto& f : calibration_features(a.calibration, models.feature(), features)) args.push_back(f);
        }
        rc = run_process(args);
    } catch (...) {
        clean_up();
        throw;
    }
    fs::remove_all(features, ec);
    if (rc != 0) {
        clean_up();
        throw ModelError("compile: scripts/compile_models.py failed (exit " + std::to_string(rc) + "); see above");
    }
    fs::remove_all(out, ec);  // ours: a folder this command made before
    fs::rename(tmp, out, ec);
    if (ec) throw OutputError(out + ": cannot move the compiled packages into place (" + ec.message() + ")");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "compiled " << dir << " for " << kind << "/" << dtype << " in " << std::fixed << std::setprecision(1)
              << s << " s -> " << out << "\n";
    return 0;
}

}  // namespace ldmrecon::cli
