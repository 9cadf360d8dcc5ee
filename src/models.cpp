#include "ldmrecon/models.hpp"

#include <torch/cuda.h>
#include <torch/version.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <filesystem>
#include <sstream>
#include <thread>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/latent_file.hpp"
#include "ldmrecon/limits.hpp"
#include "models_impl.hpp"

namespace fs = std::filesystem;

namespace ldmrecon {

namespace {

constexpr const char* kMetadataName = "ldmrecon.json";  // ref: scripts/ldmrecon_export.py METADATA_NAME
constexpr const char* kExportFormat = "ldmrecon-export";
constexpr int kMaxFormatVersion = 2;  // 2: the VAE calls ldmrecon::attention (attention_op.cpp)
constexpr const char* kExportHint = "export AudioLDM2 with: python3 scripts/export_models.py cvssp/audioldm2 -o DIR";

torch::jit::Module load_module(const std::string& path, nlohmann::json* meta) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw ModelError(path + ": no such model file (" + kExportHint + ")");
    // A FIFO or a device would block the loader for ever (or feed it without end).
    if (!S_ISREG(st.st_mode))
        throw ModelError(path + ": is " + file_kind(st.st_mode) + "; a model must be a regular file (" + kExportHint + ")");
    torch::jit::ExtraFilesMap extra{{kMetadataName, ""}};
    // Exports call ldmrecon::attention. Its registration sits in attention_op.cpp of this static library;
    // naming a function of that file here makes every program that loads models link it.
    static const std::string attention = attention_implementation();
    torch::jit::Module m;
    try {
        m = torch::jit::load(path, torch::kCPU, extra);
    } catch (const c10::Error& e) {
        const std::string why = first_line(e.what());
        if (why.find("Unknown builtin op") != std::string::npos)
            throw ModelError(path + ": uses an operator libtorch " + libtorch_version() + " does not have (" + why +
                             "); re-export it with this ldmrecon's scripts/export_models.py, or use a newer libtorch");
        throw ModelError(path + ": not a TorchScript export (" + why + ")");
    }
    const std::string& text = extra[kMetadataName];
    if (text.empty())
        throw ModelError(path + ": has no ldmrecon metadata (" + kMetadataName + "); re-export it with "
                         "scripts/export_models.py");
    try {
        *meta = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw ModelError(path + ": its ldmrecon metadata is not valid JSON (" + std::string(e.what()) + ")");
    }
    return m;
}

void check_header(const nlohmann::json& meta, const std::string& path, const std::string& kind) {
    if (meta.value("format", "") != kExportFormat)
        throw ModelError(path + ": metadata format is '" + meta.value("format", "") + "', expected '" +
                         kExportFormat + "'");
    const int v = meta.value("format_version", 0);
    if (v < 1 || v > kMaxFormatVersion)
        throw ModelError(path + ": export format version " + std::to_string(v) + " is not supported by this "
                         "ldmrecon (reads up to " + std::to_string(kMaxFormatVersion) + "); update ldmrecon or re-export");
    if (meta.value("kind", "") != kind)
        throw ModelError(path + ": is a '" + meta.value("kind", "") + "' export where a '" + kind + "' is expected");
}

}  // namespace

torch::Device parse_device(const std::string& name) {
    if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    if (name == "cpu") return torch::Device(torch::kCPU);
    if (name.rfind("cuda", 0) == 0) {
        if (libtorch_cuda_version().empty())
            throw UsageError("--device " + name + ": this ldmrecon's libtorch " + libtorch_version() +
                             " was built without CUDA; build against a CUDA libtorch (scripts/setup.sh --torch pip) "
                             "or use --device cpu");
        if (!torch::cuda::is_available())
            throw UsageError("--device " + name + ": libtorch " + libtorch_version() + " has CUDA " +
                             libtorch_cuda_version() + ", but this machine has no usable CUDA device (no GPU, or no "
                             "driver: nvidia-smi should list one); use --device cpu");
        int index = 0;
        if (name.size() > 4) {
            if (name[4] != ':') throw UsageError("unknown device '" + name + "' (use auto, cpu, cuda or cuda:N)");
            try {
                index = std::stoi(name.substr(5));
            } catch (...) {
                throw UsageError("unknown device '" + name + "' (use auto, cpu, cuda or cuda:N)");
            }
        }
        const int count = static_cast<int>(torch::cuda::device_count());
        if (index < 0 || index >= count)
            throw UsageError("--device " + name + ": only " + std::to_string(count) + " CUDA device(s) present");
        return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
    }
    throw UsageError("unknown device '" + name + "' (use auto, cpu, cuda or cuda:N)");
}

namespace {

torch::ScalarType parse_dtype(const std::string& name) {
    if (name == "fp32") return torch::kFloat;
    if (name == "fp16") return torch::kHalf;
    if (name == "bf16") return torch::kBFloat16;
    if (name == "int8") return torch::kFloat;  // int8 packages take and give fp32; the exports stay fp32
    throw UsageError("unknown dtype '" + name + "' (use fp32, fp16, bf16 or int8)");
}

bool cpu_has_int8_dot_products() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni") || __builtin_cpu_supports("avxvnni") ||
           __builtin_cpu_supports("amx-int8");
#else
    return false;
#endif
}

}  // namespace

std::string libtorch_version() {
    return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
           std::to_string(TORCH_VERSION_PATCH);
}

int intra_op_threads() { return at::get_num_threads(); }

std::string int8_unsupported_reason() {
    if (TORCH_VERSION_MAJOR < 2)
        return "int8 runs from compiled packages, which need the PyTorch 2 build of ldmrecon (scripts/setup.sh "
               "--torch pip); this one runs libtorch " +
               libtorch_version();
    if (!cpu_has_int8_dot_products())
        return "this CPU has no int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or AMX), without which int8 "
               "can saturate and runs no faster than fp32; use --dtype fp32 or bf16";
    return {};
}

std::string libtorch_cuda_version() {
    if (!at::globalContext().hasCUDART()) return {};
    const long v = at::globalContext().versionCUDART();  // e.g. 13020
    return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

int cuda_device_count() { return libtorch_cuda_version().empty() ? 0 : static_cast<int>(torch::cuda::device_count()); }

std::string libtorch_description() {
    const std::string cuda = libtorch_cuda_version();
    if (cuda.empty()) return "libtorch " + libtorch_version() + " (CPU only)";
    const int n = cuda_device_count();
    return "libtorch " + libtorch_version() + " with CUDA " + cuda + ", " + std::to_string(n) + " CUDA device" + (n == 1 ? "" : "s");
}

namespace {

// The exports themselves, run by libtorch's TorchScript interpreter.
class TorchScriptBackend : public StageBackend {
public:
    TorchScriptBackend(torch::jit::Module& vae, torch::jit::Module& vocoder) : vae_(vae), vocoder_(vocoder) {}
    torch::Tensor encode(const torch::Tensor& mel) override { return vae_.run_method("encode", mel).toTensor(); }
    torch::Tensor decode(const torch::Tensor& z) override { return vae_.run_method("decode", z).toTensor(); }
    torch::Tensor vocode(const torch::Tensor& mel) override { return vocoder_.forward({mel}).toTensor(); }

private:
    torch::jit::Module& vae_;
    torch::jit::Module& vocoder_;
};

// --dtype int8 has no TorchScript form: the VAE's int8 graph exists only in its compiled package.
void check_int8_runtime(const torch::Device& device, const std::string& backend) {
    if (!device.is_cpu()) throw UsageError("--dtype int8 runs on the CPU only (on CUDA use --dtype fp16 or bf16)");
    if (const std::string why = int8_unsupported_reason(); !why.empty()) throw UsageError("--dtype int8: " + why);
    if (backend == "torchscript")
        throw UsageError(
            "--dtype int8 runs only from compiled packages; drop --backend torchscript (or use --dtype fp32)");
}

}  // namespace

Models::Models(const std::string& dir, const RuntimeOptions& opts) : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    m.dir = dir;
    // int8 is a CPU type: on a machine with a GPU, auto means the CPU for it.
    m.device = parse_device(opts.dtype == "int8" && opts.device == "auto" ? "cpu" : opts.device);
    m.dtype = parse_dtype(opts.dtype);
    m.dtype_name = opts.dtype;
    if (m.device.is_cpu() && m.dtype == torch::kHalf)
        throw UsageError("--dtype fp16 is not supported on the CPU by libtorch " + libtorch_version() +
#if TORCH_VERSION_MAJOR < 2
                         " (use --dtype fp32 on the CPU, or --device cuda; bf16 on the CPU needs a PyTorch 2 build)");
#else
                         " (use --dtype fp32 or bf16 on the CPU, or --device cuda)");
#endif
#if TORCH_VERSION_MAJOR < 2
    // libtorch 1.x has no bf16 CPU kernel for ConvTranspose1d (mkldnn mis-shapes it, the slow path is
    // not implemented), which the vocoder needs: refuse now rather than fail in the middle of a run.
    if (m.device.is_cpu() && m.dtype == torch::kBFloat16)
        throw UsageError("--dtype bf16 is not supported on the CPU by libtorch " + libtorch_version() +
                         " (no bf16 ConvTranspose1d; use --dtype fp32 on the CPU, or --device cuda)");
#endif
    if (opts.dtype == "int8") check_int8_runtime(m.device, opts.backend);
    if (opts.threads > limits::hardware_threads())
        throw UsageError("--threads " + std::to_string(opts.threads) + ": this machine has " +
                         std::to_string(limits::hardware_threads()) + " CPU thread(s); use 0 (all) or fewer");
    const int threads = opts.threads > 0 ? opts.threads : limits::hardware_threads();
    at::set_num_threads(threads);

    const std::string vae_path = (fs::path(dir) / "vae.pt").string();
    const std::string voc_path = (fs::path(dir) / "vocoder.pt").string();
    m.vae = load_module(vae_path, &m.vae_meta);
    m.vocoder = load_module(voc_path, &m.voc_meta);
    check_header(m.vae_meta, vae_path, "vae");
    check_header(m.voc_meta, voc_path, "vocoder");
    m.feature = feature_from_metadata(m.vae_meta, vae_path);
    const FeatureConfig voc_feature = feature_from_metadata(m.voc_meta, voc_path);
    const auto diff = feature_differences(m.feature, voc_feature);
    if (!diff.empty()) {
        std::string d;
        for (const auto& s : diff) d += (d.empty() ? "" : "; ") + s;
        throw ModelError(dir + ": vae.pt and vocoder.pt were exported for different features (" + d + ")");
    }
    try {
        m.scaling_factor = m.vae_meta.at("scaling_factor").get<double>();
        m.latent_channels = m.vae_meta.at("config").at("latent_channels").get<int>();
        m.time_multiple = m.vae_meta.at("time_multiple").get<int>();
        const int hop = m.voc_meta.at("hop_length").get<int>();
        const int in_dim = m.voc_meta.at("config").at("model_in_dim").get<int>();
        if (hop != m.feature.hop_length)
            throw ModelError(voc_path + ": vocoder upsamples by " + std::to_string(hop) + " but the feature hop is " +
                             std::to_string(m.feature.hop_length));
        if (in_dim != m.feature.n_mels)
            throw ModelError(voc_path + ": vocoder takes " + std::to_string(in_dim) + " mel bands but the feature has " +
                             std::to_string(m.feature.n_mels));
    } catch (const nlohmann::json::exception& e) {
        throw ModelError(dir + ": export metadata incomplete (" + std::string(e.what()) + "); re-export the models");
    }
    if (!(m.scaling_factor >= limits::kMinScalingFactor && m.scaling_factor <= limits::kMaxScalingFactor))
        throw ModelError(vae_path + ": scaling_factor " + limits::short_number(m.scaling_factor) + " is outside " +
                         limits::short_number(limits::kMinScalingFactor) + " to " + limits::short_number(limits::kMaxScalingFactor) +
                         " (decoding would give overflow or silence); re-export the models");
    // The latent is n_mels / time_multiple bins wide: a multiple that does not divide it is a broken export,
    // not a bad --window-frames.
    if (m.time_multiple < 1 || m.time_multiple > limits::kMaxWindowFrames || m.feature.n_mels % m.time_multiple != 0)
        throw ModelError(vae_path + ": time_multiple " + std::to_string(m.time_multiple) + " does not divide the " +
                         std::to_string(m.feature.n_mels) + " mel bands (a broken export); re-export the models");
    m.vae_id = fnv1a64(m.vae_meta.dump());
    m.vocoder_id = fnv1a64(m.voc_meta.dump());
    for (auto* mod : {&m.vae, &m.vocoder}) {
        mod->eval();
        mod->to(m.device, m.dtype);
    }
    if (opts.backend != "auto" && opts.backend != "torchscript" && opts.backend != "compiled")
        throw UsageError("unknown backend '" + opts.backend + "' (use auto, torchscript or compiled)");
    m.backend = open_compiled_backend(m, opts.backend, m.backend_reason);
    if (m.backend) {
        m.backend_name = "compiled (AOTInductor)";
    } else {
        m.backend = std::make_unique<TorchScriptBackend>(m.vae, m.vocoder);
        m.backend_name = "TorchScript";
    }
}

Models::~Models() = default;

const FeatureConfig& Models::feature() const { return impl_->feature; }
double Models::scaling_factor() const { return impl_->scaling_factor; }
int Models::latent_channels() const { return impl_->latent_channels; }
int Models::time_multiple() const { return impl_->time_multiple; }
const std::string& Models::dir() const { return impl_->dir; }
std::string Models::device_name() const { return impl_->device.str(); }
std::string Models::dtype_name() const { return impl_->dtype_name; }
const nlohmann::json& Models::vae_metadata() const { return impl_->vae_meta; }
const nlohmann::json& Models::vocoder_metadata() const { return impl_->voc_meta; }
Models::Impl& Models::impl() { return *impl_; }

std::string Models::stage_dtype(const std::string& stage) const {
    const auto it = impl_->stage_dtype.find(stage);
    return it == impl_->stage_dtype.end() ? impl_->dtype_name : it->second;
}

double Models::peak_gflops(const std::string& type, double seconds) {
    c10::InferenceMode guard;
    const Impl& m = *impl_;
    const std::string t = type.empty() ? m.dtype_name : type;
    auto rate = [&](const std::function<void()>& op, double flops) {
        op();  // warm-up (and cuDNN/oneDNN algorithm choice)
        if (m.device.is_cuda()) torch::cuda::synchronize(m.device.index());
        std::size_t reps = 0;
        const auto t0 = std::chrono::steady_clock::now();
        double el = 0;
        do {
            op();
            ++reps;
            if (m.device.is_cuda()) torch::cuda::synchronize(m.device.index());
            el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        } while (el < seconds);
        return flops * static_cast<double>(reps) / el / 1e9;
    };
    const std::int64_t n = 1024;
    if (t == "int8") {  // oneDNN's s8 x s8 -> s32 GEMM (VNNI/AMX), as the int8 convolutions use
#if TORCH_VERSION_MAJOR >= 2
        const auto i8 = torch::TensorOptions().device(m.device).dtype(torch::kChar);
        const torch::Tensor a = torch::randint(-128, 128, {n, n}, i8), b = torch::randint(-128, 128, {n, n}, i8);
        return rate([&] { torch::_int_mm(a, b); }, 2.0 * n * n * n);
#else
        return 0;
#endif
    }
    const auto opts = torch::TensorOptions().device(m.device).dtype(parse_dtype(t));
    const torch::Tensor a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts);
    const double gemm = rate([&] { torch::mm(a, b); }, 2.0 * n * n * n);
    const std::int64_t c = 256, h = 128, w = 64;
    const torch::Tensor x = torch::randn({1, c, h, w}, opts), k = torch::randn({c, c, 3, 3}, opts);
    const double conv = rate([&] { torch::conv2d(x, k, {}, 1, 1); }, 2.0 * c * c * 9 * h * w);
    return std::max(gemm, conv);
}

std::uint64_t Models::model_id() const { return impl_->vae_id; }
std::uint64_t Models::vocoder_id() const { return impl_->vocoder_id; }
const std::string& Models::backend() const { return impl_->backend_name; }
const std::string& Models::backend_reason() const { return impl_->backend_reason; }
bool Models::runs_compiled(const std::string& stage) const { return impl_->backend->compiled(stage); }


std::string Models::description() const {
    // An export's description may go on with advice after a ';' (ldmrecon info prints all of it): reports
    // and tables, which repeat it for every file, keep what the models are.
    const std::string d = impl_->vae_meta.value("description", std::string("models in ") + impl_->dir);
    return d.substr(0, d.find("; "));
}

std::string Models::describe() const {
    return description() + " [weights: " + impl_->vae_meta.value("weights", std::string("unknown")) + "]";
}

}  // namespace ldmrecon
