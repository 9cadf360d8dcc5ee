// STOI (Taal et al. 2011) and extended STOI (Jensen & Taal 2016), as the pystoi 0.4.1 package computes
// them (SPEC.md 4): float signals, double-precision sums and spectra.
#pragma once

#include <cstddef>
#include <vector>

namespace ldmrecon {

// Octave's resample(x, up, down): a centred polyphase FIR, Kaiser-windowed sinc (60 dB rejection, cut-off
// 1 / (2 max(up, down)), transition a tenth of it), normalised to unit sum then scaled by `up`; output
// length ceil(n * up / down). Float samples, double sums. ref: pystoi utils.resample_oct,
// scipy.signal.resample_poly.
std::vector<float> resample_octave(const float* x, std::size_t n, int up, int down);

struct StoiResult {
    double stoi = 0, estoi = 0;
    std::size_t frames = 0;  // 1/3-octave frames after silent-frame removal (fewer than 30: both are 1e-5)
};

// clean and processed at `rate` Hz, compared over the shorter length.
StoiResult stoi(const float* clean, const float* processed, std::size_t n, int rate);

}  // namespace ldmrecon
