// The second backend: AOTInductor packages made by `ldmrecon compile` (scripts/compile_models.py) from
// the exports, loaded without Python. A package is tied to one torch version, device kind, dtype, CPU
// instruction set and pair of exports; its manifest says which, and nothing else is used.
#include <torch/version.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "ldmrecon/errors.hpp"
#include "models_impl.hpp"

#if TORCH_VERSION_MAJOR >= 2 && __has_include(<torch/csrc/inductor/aoti_package/model_package_loader.h>)
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#define LDMRECON_HAVE_AOTI 1
#endif

namespace fs = std::filesystem;

namespace ldmrecon {

namespace {

// Inductor vectorises for the compiling CPU: rank the instruction sets so a package never runs on a CPU
// with less than it was made for. Names as torch.backends.cpu.get_cpu_capability() gives them.
int isa_rank(const std::string& isa) { return isa == "avx512" ? 2 : isa == "avx2" ? 1 : 0; }

std::string isa_here() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq"))
        return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
#endif
    return "default";
}

// The command that makes the package this runtime looks for.
std::string compile_command(const Models::Impl& m) {
    std::string c = "ldmrecon compile --models " + m.dir;
    if (m.device.is_cuda()) c += " --device " + m.device.str();
    if (m.dtype_name != "fp32") c += " --dtype " + m.dtype_name;
    return c;
}

// Why the package in `dir` cannot serve this runtime ("" when it can). Throws ModelError when it was made
// from other exports: silently running those would be running other models.
std::string manifest_mismatch(const nlohmann::json& mf, const Models::Impl& m, const std::string& dir) {
    if (mf.value("vae_id", "") != hex_id(m.vae_id) || mf.value("vocoder_id", "") != hex_id(m.vocoder_id))
        throw ModelError(dir + ": compiled from other exports than " + m.dir +
                         "'s vae.pt and vocoder.pt (a stale or foreign package); run " + compile_command(m) +
                         " again, or remove it");
    const std::string torch = mf.value("torch_version", "");
    if (torch != libtorch_version())
        return "its packages were compiled by torch " + torch + ", this ldmrecon runs libtorch " + libtorch_version();
    if (m.device.is_cpu() && isa_rank(mf.value("cpu_isa", std::string("default"))) > isa_rank(isa_here()))
        return "compiled for " + mf.value("cpu_isa", std::string()) + ", this CPU has " + isa_here();
    return {};
}

#ifdef LDMRECON_HAVE_AOTI
using Package = torch::inductor::AOTIModelPackageLoader;

// Whether a manifest's "use" gives `stage` to compiled code (the default of a manifest without one).
bool uses_compiled(const nlohmann::json& use, const char* stage) {
    return !use.is_object() || use.value(stage, "compiled") == "compiled";
}

// The frames of the window the manifest's window packages take; 0 where it has none (an older manifest).
std::int64_t window_frames(const nlohmann::json& mf) {
    const nlohmann::json w = mf.value("window", nlohmann::json::object());
    return w.is_object() ? std::max<std::int64_t>(0, w.value("frames", std::int64_t{0})) : 0;
}

// Whether the manifest's "window" lists `stage`: its full-window package measured faster than the rest.
bool has_window_package(const nlohmann::json& mf, const std::string& stage) {
    if (window_frames(mf) == 0) return false;
    const nlohmann::json& w = mf["window"];
    if (!w.contains("stages") || !w["stages"].is_array()) return false;
    for (const auto& s : w["stages"])
        if (s.is_string() && s.get<std::string>() == stage) return true;
    return false;
}

// One stage: its any-shape package (absent where the manifest keeps TorchScript) and, where compile
// measured it faster, a package for exactly one full window at batch 1 (static shapes).
struct StagePackages {
    std::unique_ptr<Package> any, window;
    int time_dim = 0;
    std::int64_t window_length = 0;  // along time_dim

    // The package for `x`, or nullptr for TorchScript.
    Package* for_input(const torch::Tensor& x) const {
        if (window && x.size(0) == 1 && x.size(time_dim) == window_length) return window.get();
        return any.get();
    }
};

// Each stage from its packages where the manifest says compiled measured faster, else from the export.
class CompiledBackend : public StageBackend {
public:
    CompiledBackend(const std::string& dir, const nlohmann::json& mf, c10::DeviceIndex device, Models::Impl& m)
        : vae_(m.vae), voc_(m.vocoder) {
        const std::int64_t frames = window_frames(mf);
        encode_ = open(dir, mf, "encode", device, 2, frames);
        decode_ = open(dir, mf, "decode", device, 2, frames / m.time_multiple);
        vocoder_ = open(dir, mf, "vocoder", device, 1, frames);
    }
    torch::Tensor encode(const torch::Tensor& mel) override {
        Package* p = encode_.for_input(mel);
        return p ? p->run({mel.contiguous()})[0] : vae_.run_method("encode", mel).toTensor();
    }
    torch::Tensor decode(const torch::Tensor& z) override {
        Package* p = decode_.for_input(z);
        return p ? p->run({z.contiguous()})[0] : vae_.run_method("decode", z).toTensor();
    }
    torch::Tensor vocode(const torch::Tensor& mel) override {
        Package* p = vocoder_.for_input(mel);
        return p ? p->run({mel.contiguous()})[0] : voc_.forward({mel}).toTensor();
    }

    bool compiled(const std::string& stage) const override {
        const StagePackages& p = stage == "encode" ? encode_ : stage == "decode" ? decode_ : vocoder_;
        return p.any || p.window;
    }

private:
    static StagePackages open(const std::string& dir, const nlohmann::json& mf, const char* stage,
                              c10::DeviceIndex device, int time_dim, std::int64_t window_length) {
        StagePackages p;
        p.time_dim = time_dim;
        p.window_length = window_length;
        if (uses_compiled(mf.value("use", nlohmann::json()), stage))
            p.any = std::make_unique<Package>(dir + "/" + stage + ".pt2", "model", false, 1, device);
        if (has_window_package(mf, stage))
            p.window = std::make_unique<Package>(dir + "/" + stage + "-window.pt2", "model", false, 1, device);
        return p;
    }
    StagePackages encode_, decode_, vocoder_;
    torch::jit::Module& vae_;
    torch::jit::Module& voc_;
};

// The stages that `pick` selects, as a list for the log ("encode, decode").
template <typename Pick>
std::string stages_where(Pick pick) {
    std::string s;
    for (const char* stage : {"encode", "decode", "vocoder"})
        if (pick(stage)) s += (s.empty() ? "" : ", ") + std::string(stage);
    return s;
}

// What the backend runs, for the log line and the report: "compiled encode, decode; TorchScript vocoder (...);
// full 1024-frame windows at batch 1 from static packages for encode, decode".
std::string describe_backend(const nlohmann::json& mf) {
    const nlohmann::json use = mf.value("use", nlohmann::json());
    const std::string ts = stages_where([&](const char* s) { return !uses_compiled(use, s); });
    const std::string win = stages_where([&](const char* s) { return has_window_package(mf, s); });
    const std::string compiled = stages_where([&](const char* s) { return uses_compiled(use, s); });
    std::string d = compiled.empty() ? "TorchScript" : "compiled " + compiled;
    if (!ts.empty())
        d += (compiled.empty() ? " every stage" : "; TorchScript " + ts) +
             " (compile did not find the package reliably faster here)";
    // An int8 package's manifest says what each stage runs in ("int8 encode, decode; bf16 vocoder").
    const nlohmann::json dtypes = mf.value("stage_dtype", nlohmann::json());
    if (dtypes.is_object()) {
        std::string by_dtype;
        for (const char* t : {"int8", "bf16", "fp16", "fp32"}) {
            const std::string s = stages_where([&](const char* st) { return dtypes.value(st, "") == t; });
            if (!s.empty()) by_dtype += (by_dtype.empty() ? "" : "; ") + std::string(t) + " " + s;
        }
        d += " (" + by_dtype + ")";
    }
    if (!win.empty())
        d += "; full " + std::to_string(window_frames(mf)) +
             "-frame windows at batch 1 from static packages for " + win;
    return d;
}
#endif


}  // namespace

std::string compiled_package_dir(const std::string& models_dir, const std::string& device_kind, const std::string& dtype) {
    return (fs::path(models_dir) / "compiled" / (device_kind + "-" + dtype)).string();
}

std::unique_ptr<StageBackend> open_compiled_backend(Models::Impl& m, const std::string& choice, std::string& reason) {
    // int8 has no TorchScript form to fall back on: its package or an error, as --backend compiled.
    const bool int8 = m.dtype_name == "int8";
    const bool required = choice == "compiled" || int8;
    auto none = [&](const std::string& why) -> std::unique_ptr<StageBackend> {
        if (required) throw ModelError((int8 ? "--dtype int8: " : "--backend compiled: ") + why);
        reason = why;
        return nullptr;
    };
    if (choice == "torchscript") return none("--backend torchscript");
#ifndef LDMRECON_HAVE_AOTI
    // Say what this build can do, not what it cannot use: no advice to run a `compile` it refuses.
    if (!required) return none("TorchScript exports (libtorch " + libtorch_version() + " runs no compiled packages)");
#endif
    const std::string kind = m.device.is_cuda() ? "cuda" : "cpu";
    const std::string dir = compiled_package_dir(m.dir, kind, m.dtype_name);
    const fs::path manifest = fs::path(dir) / "manifest.json";
    std::error_code ec;
    if (!fs::exists(manifest, ec))
        return none("no compiled package for " + kind + "/" + m.dtype_name + " in " + m.dir + " (" +
                    compile_command(m) + " makes one)");
    nlohmann::json mf;
    try {
        std::ifstream f(manifest);
        mf = nlohmann::json::parse(f);
    } catch (const std::exception& e) {
        throw ModelError(manifest.string() + ": not a valid manifest (" + first_line(e.what()) + "); compile again");
    }
    if (const std::string why = manifest_mismatch(mf, m, dir); !why.empty()) return none(dir + ": " + why);
#ifdef LDMRECON_HAVE_AOTI
    try {
        auto backend = std::make_unique<CompiledBackend>(dir, mf, m.device.is_cuda() ? m.device.index() : -1, m);
        const nlohmann::json dtypes = mf.value("stage_dtype", nlohmann::json());
        if (dtypes.is_object())
            for (const char* stage : {"encode", "decode", "vocoder"})
                if (dtypes.contains(stage) && dtypes[stage].is_string())
                    m.stage_dtype[stage] = dtypes[stage].get<std::string>();
        reason = dir + " matches (torch " + libtorch_version() + ", " + kind + "/" + m.dtype_name + "); " +
                 describe_backend(mf);
        return backend;
    } catch (const std::exception& e) {
        return none(dir + ": its packages did not load (" + first_line(e.what()) + ")");
    }
#else
    return none("libtorch " + libtorch_version() + " cannot load compiled packages (build against PyTorch 2: "
                "scripts/setup.sh --torch pip)");
#endif
}

}  // namespace ldmrecon
