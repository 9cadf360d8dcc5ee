// Audio -> feature -> VAE encode -> scaled latent -> VAE decode -> vocoder -> audio.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ldmrecon/feature.hpp"
#include "ldmrecon/models.hpp"

namespace ldmrecon {

struct ReconstructOptions {
    bool sample = false;  // draw z = mean + std * eps instead of taking the posterior mode (mean)
    std::uint64_t seed = 0;
};

// Wall-clock seconds per stage (device work is synchronised before each clock reading).
struct StageTimes {
    double feature = 0, encode = 0, decode = 0, vocode = 0;
};

struct Reconstruction {
    std::vector<float> output;     // at the model rate, input's length and level
    Matrix input_feature;          // what the VAE received: [padded_frames, n_mels] (zero-padded waveform)
    Matrix decoded_feature;        // what the VAE returned, same shape
    std::vector<float> vocoder_raw;  // the vocoder's untrimmed output at the normalised level
    std::vector<std::int64_t> latent_shape;  // [1, C, T/4, M/4]
    std::size_t frames = 0;         // frames of the unpadded input, 1 + n / hop
    std::size_t padded_frames = 0;  // a multiple of the VAE's time multiple
    Gain gain;
    StageTimes times;
};

// The smallest length >= n whose frame count 1 + len / hop is a multiple of `multiple`.
std::size_t padded_length(std::size_t n, int hop, int multiple);

// Reconstructs one mono signal at models.feature().sample_rate. Throws InputError for an empty or
// silent-free-of-samples signal, ModelError when the models fail on it.
Reconstruction reconstruct(Models& models, const std::vector<float>& audio, const ReconstructOptions& opts = {});

}  // namespace ldmrecon
