// Arithmetic of the AudioLDM2 VAE and vocoder, counted from their configs (multiply-add = 2 FLOPs), so a
// benchmark can say how close each stage runs to the machine's peak.
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

namespace ldmrecon {

struct StageFlops {
    double encode = 0, decode = 0, vocode = 0;
    double total() const { return encode + decode + vocode; }
};

// For one clip of `frames` frames and `n_mels` bands (frames a multiple of the VAE's time multiple).
// Counts convolutions, transposed convolutions, linear layers and the attention's two batched matrix
// products; normalisation and activations (well under 1 %) are left out.
// ref: scripts/ldmrecon_models.py (the module structure this mirrors).
StageFlops count_flops(const nlohmann::json& vae_config, const nlohmann::json& vocoder_config, std::size_t frames,
                       std::size_t n_mels);

}  // namespace ldmrecon
