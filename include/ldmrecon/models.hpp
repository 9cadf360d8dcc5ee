// Loading the exported VAE and vocoder (TorchScript archives with ldmrecon metadata inside).
// This header keeps libtorch out of its users; the tensors live in models.cpp and pipeline.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ldmrecon/exports.hpp"
#include "ldmrecon/feature.hpp"

namespace ldmrecon {

// "1.13.0" etc.: the libtorch this binary was built against.
std::string libtorch_version();
// "13.2" when this libtorch was built with CUDA (its runtime's version), "" when it has none.
std::string libtorch_cuda_version();
// CUDA devices this process can use (0 without CUDA in libtorch, a driver or a GPU).
int cuda_device_count();
// "libtorch 2.15.0 with CUDA 13.2, 1 CUDA device" / "libtorch 1.13.0 (CPU only)": what --version and the
// log lines say.
std::string libtorch_description();
// How this build runs the VAE's attention (the ldmrecon::attention operator of exports, format 2):
// "scaled_dot_product_attention" on libtorch 2.1 and later, "blocked bmm + softmax" before.
std::string attention_implementation();
// Intra-op threads libtorch uses for CPU work now.
int intra_op_threads();

// Why --dtype int8 cannot run on this build and CPU, one line ("" when it can): it needs libtorch 2
// (compiled packages) and int8 dot products in hardware (AVX512-VNNI, AVX-VNNI or AMX); without them
// oneDNN's int8 kernels can saturate their 16-bit sums and run no faster than fp32.
std::string int8_unsupported_reason();

// Where `ldmrecon compile` puts the AOTInductor packages of a models folder for a device kind ("cpu",
// "cuda") and dtype ("fp32", "bf16", "fp16", "int8"): DIR/compiled/KIND-DTYPE/.
std::string compiled_package_dir(const std::string& models_dir, const std::string& device_kind, const std::string& dtype);

struct RuntimeOptions {
    std::string device = "auto";  // auto | cpu | cuda | cuda:N
    // fp32 | fp16 | bf16 | int8 (CPU only, compiled packages only: the VAE in int8, the vocoder in bf16
    // where the CPU has it, else fp32)
    std::string dtype = "fp32";
    int threads = 0;              // intra-op threads for CPU work; 0 = all cores
    // auto: AOTInductor packages from `ldmrecon compile` when one matches, else TorchScript;
    // torchscript: always the exports; compiled: the packages or an error.
    std::string backend = "auto";
};

// The VAE and vocoder of one export folder, on one device and dtype. Not copyable; use from one thread.
class Models {
public:
    Models(const std::string& dir, const RuntimeOptions& opts);
    ~Models();
    Models(const Models&) = delete;
    Models& operator=(const Models&) = delete;

    const FeatureConfig& feature() const;  // from the VAE's metadata, checked against the vocoder's
    double scaling_factor() const;
    int latent_channels() const;
    int time_multiple() const;  // VAE frames must be a multiple of this (4 for AudioLDM2)
    const std::string& dir() const;
    std::string device_name() const;  // "cpu", "cuda:0"
    std::string dtype_name() const;   // "fp32", "fp16", "bf16", "int8"
    // FNV-1a 64 of the VAE's embedded metadata: names the VAE a latent file was encoded with (hex_id()
    // writes it as compile's manifests and messages do).
    std::uint64_t model_id() const;
    const nlohmann::json& vae_metadata() const;
    const nlohmann::json& vocoder_metadata() const;
    std::string describe() const;  // one line: description() and the weights, for tables and logs
    // The export's description up to its first "; " (what the models are, without the advice after it).
    std::string description() const;
    std::uint64_t vocoder_id() const;         // FNV-1a 64 of the vocoder's embedded metadata
    const std::string& backend() const;        // "TorchScript" or "compiled (AOTInductor)"
    const std::string& backend_reason() const; // why that one, one line
    // Whether `stage` ("encode", "decode", "vocoder") runs a compiled package for some inputs.
    bool runs_compiled(const std::string& stage) const;

    // What `stage` ("encode", "decode", "vocoder") computes in: dtype_name(), except in an int8 package,
    // whose manifest says (the VAE "int8", the vocoder "bf16" or "fp32").
    std::string stage_dtype(const std::string& stage) const;

    // The device's measured arithmetic rate in `type` ("fp32", "bf16", "fp16"; "" = this dtype), in
    // GFLOP/s: the best of a 1024^3 matrix product (BLAS) and a 256-channel 3x3 convolution (oneDNN/cuDNN),
    // the ceiling a benchmark compares each stage with. "int8": a 1024^3 int8 matrix product into int32
    // (GOP/s; 0 where this libtorch has none). Runs for about 2 x `seconds`.
    double peak_gflops(const std::string& type = "", double seconds = 0.5);

    struct Impl;
    Impl& impl();

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace ldmrecon
