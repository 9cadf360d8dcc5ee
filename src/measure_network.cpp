// The learned measures' networks as TorchScript (scripts/export_measure_models.py): the libtorch half of
// measure_network.hpp.
#include "ldmrecon/measure_network.hpp"

#include <sys/stat.h>
#include <torch/script.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "ldmrecon/errors.hpp"
#include "models_impl.hpp"

namespace ldmrecon {

namespace {

class TorchMeasureNetwork final : public MeasureNetwork {
public:
    TorchMeasureNetwork(torch::jit::Module m, torch::Device device, std::size_t in, std::size_t out, std::string what)
        : module_(std::move(m)), device_(device), in_(in), out_(out), what_(std::move(what)) {
        module_.eval();
        module_.to(device_);
    }

    std::vector<float> run(const float* input, std::size_t rows) const override {
        const torch::NoGradGuard no_grad;
        const auto n = static_cast<long>(rows);
        const torch::Tensor in = torch::from_blob(const_cast<float*>(input), {n, static_cast<long>(in_)}, torch::kFloat);
        torch::Tensor out;
        {
            // One call at a time: the measuring threads share one module and its intra-op threads.
            const std::lock_guard<std::mutex> lock(run_);
            out = module_.forward({in.to(device_)}).toTensor();
        }
        out = out.to(torch::kCPU, torch::kFloat).contiguous().reshape({-1});
        if (out.numel() != n * static_cast<long>(out_))
            throw ModelError(what_ + ": returned " + std::to_string(out.numel()) + " values for " + std::to_string(n) +
                             " inputs (expected " + std::to_string(out_) + " each)");
        return std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
    }
    std::size_t input_width() const override { return in_; }
    std::size_t output_width() const override { return out_; }
    std::string description() const override { return what_; }

private:
    mutable torch::jit::Module module_;
    torch::Device device_;
    std::size_t in_, out_;
    std::string what_;
    mutable std::mutex run_;
};

nlohmann::json read_metadata(const std::string& path, torch::jit::Module& m) {
    const std::string hint = std::string(" (") + kMeasureExportHint + ")";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw ModelError(path + ": no such model file" + hint);
    if (!S_ISREG(st.st_mode)) throw ModelError(path + ": not a regular file; a measure's model is a TorchScript export" + hint);
    torch::jit::ExtraFilesMap extra{{"ldmrecon.json", ""}};
    try {
        m = torch::jit::load(path, torch::kCPU, extra);
    } catch (const std::exception& e) {  // c10::Error, and the TorchScript compiler's own errors
        throw ModelError(path + ": not a TorchScript export this libtorch (" + libtorch_version() + ") can load (" +
                         first_line(e.what()) + ")");
    }
    try {
        return nlohmann::json::parse(extra["ldmrecon.json"]);
    } catch (const nlohmann::json::exception&) {
        throw ModelError(path + ": has no ldmrecon metadata;" + hint);
    }
}

std::shared_ptr<const MeasureNetwork> load(const MeasureNetworkRequest& r) {
    torch::jit::Module m;
    const nlohmann::json meta = read_metadata(r.path, m);
    const std::string kind = meta.value("kind", "");
    if (kind != r.kind)
        throw ModelError(r.path + ": is a '" + kind + "' export where a '" + r.kind + "' one is expected (" +
                         kMeasureExportHint + ")");
    if (meta.value("input_width", std::size_t{0}) != r.input_width || meta.value("output_width", std::size_t{0}) != r.output_width)
        throw ModelError(r.path + ": its metadata does not describe " + r.kind + "'s network (" +
                         std::to_string(r.input_width) + " values in, " + std::to_string(r.output_width) +
                         " out); re-export it with this ldmrecon's scripts/export_measure_models.py");
    const std::string capacity = meta.value("capacity", std::string());
    const std::string what = meta.value("name", r.kind) + (capacity.empty() ? "" : " " + capacity) + " (" + r.path + ")";
    return std::make_shared<TorchMeasureNetwork>(std::move(m), parse_device(r.device), r.input_width, r.output_width, what);
}

// Registered when the library loads: the core asks for networks through load_measure_network.
const bool registered = (set_measure_network_loader(&load), true);

}  // namespace

}  // namespace ldmrecon
