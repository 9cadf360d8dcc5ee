// Griffin-Lim from the model's log-mel feature, on FFTW: the original notes' baseline vocoder, so it can
// run on the same file as the neural one (and with no model at all for --stage vocoder).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "ldmrecon/feature.hpp"

namespace ldmrecon {

// Linear magnitude [frames, n_fft/2 + 1] from a ln-mel feature: mel energies exp(feature) mapped back by
// the Moore-Penrose pseudo-inverse of the mel filterbank, pinv(M) = M^T (M M^T)^-1, negatives set to 0,
// then refined towards the non-negative least-squares fit by 100 multiplicative updates.
Matrix mel_to_linear_magnitude(const Matrix& log_mel, const FeatureConfig& cfg);

struct GriffinLimOptions {
    int iterations = 32;
    double momentum = 0.99;  // the fast variant (Perraudin et al. 2013), as librosa.griffinlim
    std::uint64_t seed = 0;  // random initial phase
    // Asked between iterations; true stops the work with ldmrecon::Cancelled (e.g. after a SIGTERM).
    std::function<bool()> cancelled;
};

// A signal of `length` samples whose STFT (the feature's: n_fft, hop, periodic Hann, centred) has the
// given magnitude [frames, n_fft/2 + 1]. iterations = 0 returns the random-phase start.
std::vector<float> griffin_lim(const Matrix& magnitude, const FeatureConfig& cfg, std::size_t length,
                               const GriffinLimOptions& opts = {});

}  // namespace ldmrecon
