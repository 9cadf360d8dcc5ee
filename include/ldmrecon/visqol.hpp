// ViSQOL v3 (Chinen et al., QoMEX 2020; Hines et al. 2015), in both of its modes, as Google's C++
// (google/visqol v3.3) computes it: global alignment on the signals' envelopes, level matching, a gammatone
// spectrogram, reference patches, NSIM, the dynamic programme pairing the patches, fine realignment, and the
// mapping to MOS-LQO. Checked against visqol-python 3.8.0 (tests/python/test_visqol.py) and Google's own
// conformance numbers (docs/measures.md). Double precision throughout.
#pragma once

#include <cstddef>
#include <vector>

namespace ldmrecon {

enum class VisqolMode {
    speech,  // 16 kHz, 21 bands up to 8 kHz, 20-frame patches the RMS VAD finds speech in; the exponential
             // mapping (C++ ViSQOL's --use_lattice_model=false), scaled to a maximum of 5
    audio,   // 48 kHz, 32 bands up to 24 kHz, 30-frame patches; Google's nu-SVR mapping
};

struct VisqolResult {
    double mos = 0;                 // MOS-LQO, 1..5
    double nsim = 0;                // mean NSIM over the bands and the patches (Google's vnsim)
    std::vector<double> band_nsim;  // per band, lowest centre frequency first (fvnsim)
    std::size_t patches = 0;        // reference patches compared
};

// The sample rate each mode is defined at (16000 or 48000).
int visqol_rate(VisqolMode mode);

// The reference and the degraded signal at `rate` Hz, any lengths. Each mode is defined at its own rate
// (visqol_rate); Google's code runs at any other with a warning, and so does this (no warning: the caller
// chooses). Throws InputError when either signal is silent or too short to hold a patch (audio mode:
// about a second), or when no patch can be paired.
VisqolResult visqol(const float* ref, std::size_t ref_len, const float* deg, std::size_t deg_len, int rate,
                    VisqolMode mode);

}  // namespace ldmrecon
