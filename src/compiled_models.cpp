// The second backend: AOTInductor packages made by `ldmrecon compile` (scripts/compile_models.py) from
// the exports, loaded without Python. A package is tied to one torch version, device kind, dtype, CPU
// instruction set and pair of exports; its manifest says which, and nothing else is used.
#include <torch/version.h>

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

// Why the package in `dir` cannot serve this runtime ("" when it can). Throws ModelError when it was made
// from other exports: silently running those would be running other models.
std::string manifest_mismatch(const nlohmann::json& mf, const Models::Impl& m, const std::string& dir) {
    if (mf.value("vae_id", "") != hex_id(m.vae_id) || mf.value("vocoder_id", "") != hex_id(m.vocoder_id))
        throw ModelError(dir + ": compiled from other exports than " + m.dir + "'s vae.pt and vocoder.pt (a stale "
                         "or foreign package); run ldmrecon compile --models " + m.dir + " again, or remove it");
    const std::string torch = mf.value("torch_version", "");
    if (torch != libtorch_version())
        return "its packages were compiled by torch " + torch + ", this ldmrecon runs libtorch " + libtorch_version();
    if (m.device.is_cpu() && isa_rank(mf.value("cpu_isa", std::string("default"))) > isa_rank(isa_here()))
        return "compiled for " + mf.value("cpu_isa", std::string()) + ", this CPU has " + isa_here();
    return {};
}

#ifdef LDMRECON_HAVE_AOTI
using Package = torch::inductor::AOTIModelPackageLoader;

// Each stage from its package where the manifest says compiled measured faster, else from the export.
class CompiledBackend : public StageBackend {
public:
    CompiledBackend(const std::string& dir, const nlohmann::json& use, c10::DeviceIndex device, Models::Impl& m)
        : encode_(open(dir, use, "encode", device)), decode_(open(dir, use, "decode", device)),
          vocoder_(open(dir, use, "vocoder", device)), vae_(m.vae), voc_(m.vocoder) {}
    torch::Tensor encode(const torch::Tensor& mel) override {
        return encode_ ? encode_->run({mel.contiguous()})[0] : vae_.run_method("encode", mel).toTensor();
    }
    torch::Tensor decode(const torch::Tensor& z) override {
        return decode_ ? decode_->run({z.contiguous()})[0] : vae_.run_method("decode", z).toTensor();
    }
    torch::Tensor vocode(const torch::Tensor& mel) override {
        return vocoder_ ? vocoder_->run({mel.contiguous()})[0] : voc_.forward({mel}).toTensor();
    }

private:
    static std::unique_ptr<Package> open(const std::string& dir, const nlohmann::json& use, const char* stage,
                                         c10::DeviceIndex device) {
        if (use.is_object() && use.value(stage, "compiled") != "compiled") return nullptr;
        return std::make_unique<Package>(dir + "/" + stage + ".pt2", "model", false, 1, device);
    }
    std::unique_ptr<Package> encode_, decode_, vocoder_;
    torch::jit::Module& vae_;
    torch::jit::Module& voc_;
};

// The stages a manifest's "use" gives to compiled code ("encode, decode"), or to TorchScript.
std::string stages_using(const nlohmann::json& use, bool compiled) {
    std::string s;
    for (const char* stage : {"encode", "decode", "vocoder"})
        if ((!use.is_object() || use.value(stage, "compiled") == "compiled") == compiled)
            s += (s.empty() ? "" : ", ") + std::string(stage);
    return s;
}
#endif


}  // namespace

std::string compiled_package_dir(const std::string& models_dir, const std::string& device_kind, const std::string& dtype) {
    return (fs::path(models_dir) / "compiled" / (device_kind + "-" + dtype)).string();
}

std::unique_ptr<StageBackend> open_compiled_backend(Models::Impl& m, const std::string& choice, std::string& reason) {
    const bool required = choice == "compiled";
    auto none = [&](const std::string& why) -> std::unique_ptr<StageBackend> {
        if (required) throw ModelError("--backend compiled: " + why);
        reason = why;
        return nullptr;
    };
    if (choice == "torchscript") return none("--backend torchscript");
    const std::string kind = m.device.is_cuda() ? "cuda" : "cpu";
    const std::string dir = compiled_package_dir(m.dir, kind, m.dtype_name);
    const fs::path manifest = fs::path(dir) / "manifest.json";
    std::error_code ec;
    if (!fs::exists(manifest, ec))
        return none("no compiled package for " + kind + "/" + m.dtype_name + " in " + m.dir +
                    " (ldmrecon compile --models " + m.dir + " makes one)");
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
        const nlohmann::json use = mf.value("use", nlohmann::json());
        auto backend = std::make_unique<CompiledBackend>(dir, use, m.device.is_cuda() ? m.device.index() : -1, m);
        const std::string ts = stages_using(use, false);
        reason = dir + " matches (torch " + libtorch_version() + ", " + kind + "/" + m.dtype_name + "); compiled " +
                 stages_using(use, true) + (ts.empty() ? "" : "; TorchScript " + ts + " (measured faster here by compile)");
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
