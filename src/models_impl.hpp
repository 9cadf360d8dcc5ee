// Private: the libtorch side of Models, shared by models.cpp and pipeline.cpp.
#pragma once

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <map>
#include <string>

#include "ldmrecon/models.hpp"

namespace ldmrecon {

// --device's value as a libtorch device: auto, cpu, cuda, cuda:N; a UsageError that says what to do otherwise.
torch::Device parse_device(const std::string& name);

// The three model stages, run by one backend chosen when the models load: the TorchScript exports
// (models.cpp), or AOTInductor packages compiled from them (compiled_models.cpp). The pipeline sees only this.
class StageBackend {
public:
    virtual ~StageBackend() = default;
    virtual torch::Tensor encode(const torch::Tensor& mel) = 0;  // [B, 1, T, M] -> moments [B, 2C, T/m, M/m]
    virtual torch::Tensor decode(const torch::Tensor& z) = 0;    // [B, C, T/m, M/m] -> [B, 1, T, M]
    virtual torch::Tensor vocode(const torch::Tensor& mel) = 0;  // [B, T, M] -> [B, >= T * hop]
    // Whether `stage` ("encode", "decode", "vocoder") runs a compiled package for some inputs.
    virtual bool compiled(const std::string& stage) const { (void)stage; return false; }
};

// A compiled backend when `choice` allows it ("auto" or "compiled") and a package matching this runtime,
// device, dtype, CPU and these exports lies in `m.dir`/compiled/; else nullptr, with `reason` saying why.
// Throws ModelError for a package made from other exports (stale or foreign), and for "compiled" when
// none can be used.
std::unique_ptr<StageBackend> open_compiled_backend(Models::Impl& m, const std::string& choice, std::string& reason);

struct Models::Impl {
    std::string dir;
    torch::jit::Module vae, vocoder;
    nlohmann::json vae_meta, voc_meta;
    FeatureConfig feature;
    double scaling_factor = 1.0;
    int latent_channels = 8;
    int time_multiple = 4;
    torch::Device device{torch::kCPU};
    torch::ScalarType dtype = torch::kFloat;
    std::string dtype_name;
    std::uint64_t vae_id = 0, vocoder_id = 0;  // FNV-1a 64 of each export's metadata
    std::unique_ptr<StageBackend> backend;
    std::string backend_name, backend_reason;
    // What a stage computes in where it is not dtype_name: an int8 package's manifest ("stage_dtype").
    std::map<std::string, std::string> stage_dtype;
};

}  // namespace ldmrecon
