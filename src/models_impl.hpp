// Private: the libtorch side of Models, shared by models.cpp and pipeline.cpp.
#pragma once

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include "ldmrecon/models.hpp"

namespace ldmrecon {

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
};

}  // namespace ldmrecon
