// Reconstruction quality measures (SPEC.md section 4). All in double precision.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#include "ldmrecon/crepe.hpp"
#include "ldmrecon/distillmos.hpp"
#include "ldmrecon/dnsmos.hpp"
#include "ldmrecon/feature.hpp"
#include "ldmrecon/measures.hpp"
#include "ldmrecon/pitch.hpp"

namespace ldmrecon {

// Sample-wise measures, as the original notes computed them. x = reference, y = estimate, equal length.
// snr_db is +inf for identical signals; pearson is NaN when either signal is constant.
double snr_db(const float* x, const float* y, std::size_t n);
double mse(const float* x, const float* y, std::size_t n);
double pearson(const float* x, const float* y, std::size_t n);
// Scale-invariant SDR: zero-mean both, alpha = <y,x>/<x,x>, 10 log10(|alpha x|^2 / |alpha x - y|^2).
double si_sdr_db(const float* x, const float* y, std::size_t n);

// The integer lag l in [-max_lag, max_lag] maximising sum_m x[m] y[m + l] (y delayed by l samples when
// l > 0). Ties go to the smallest |l|. FFT-based: O(n log n).
long best_lag(const float* x, const float* y, std::size_t n, long max_lag);
inline long best_lag(const std::vector<float>& x, const std::vector<float>& y, long max_lag) {
    return best_lag(x.data(), y.data(), std::min(x.size(), y.size()), max_lag);
}

// Log-spectral distance in dB: per frame sqrt(mean_f (10 log10 |X|^2 - 10 log10 |Y|^2)^2), averaged over
// frames, both powers floored at kLsdPowerFloor (-100 dB).
constexpr double kLsdPowerFloor = 1e-10;
double log_spectral_distance_db(const Matrix& mag_x, const Matrix& mag_y);
// || |X| - |Y| ||_F / || |X| ||_F
double spectral_convergence(const Matrix& mag_x, const Matrix& mag_y);

// Distance between two log-mel features over their common frames: mean |a - b| and
// 10 log10(sum a^2 / sum (a - b)^2) on the log values.
struct MelDistance {
    double l1 = 0.0;
    double snr_db = 0.0;
    std::size_t frames = 0;
};
// Only the first `max_frames` frames count (e.g. the unpadded part of a padded feature).
MelDistance mel_distance(const Matrix& a, const Matrix& b, std::size_t max_frames = static_cast<std::size_t>(-1));

// Running sums behind the three functions above, for spectra taken block by block.
struct SpectralAccumulator {
    double lsd_sum = 0, sc_num = 0, sc_den = 0;
    std::size_t frames = 0;
    void add(const Matrix& mag_x, const Matrix& mag_y);
    double lsd_db() const;
    double convergence() const;
};
struct MelAccumulator {
    double l1 = 0, s = 0, e = 0;
    std::size_t frames = 0, values = 0;
    void add(const Matrix& a, const Matrix& b, std::size_t max_frames = static_cast<std::size_t>(-1));
    MelDistance result() const;
};

// Multi-resolution STFT distance in the ParallelWaveGAN / auraloss form: FFT sizes 1024/2048/512, hops
// 120/240/50, windows 600/1200/240 (periodic Hann centred in the FFT, centred frames, reflect padding);
// per resolution the spectral convergence || |Y|-|X| ||F / || |X| ||F and mean |ln|X| - ln|Y||, with powers
// floored at kMrstftPowerFloor; `value` = mean convergence + mean log-magnitude distance.
constexpr double kMrstftPowerFloor = 1e-7;
struct MultiResolutionStft {
    double value = 0, convergence = 0, log_magnitude = 0;
};
MultiResolutionStft multi_resolution_stft(const float* x, const float* y, std::size_t n);

struct MetricsOptions {
    double max_lag_ms = 100.0;                     // delay search window, +- this many milliseconds
    MeasureSelection measures = all_measures();  // which groups to compute (pesq is the caller's)
    std::shared_ptr<const MeasureNetwork> crepe;       // needed by the crepe group (16 kHz only)
    std::shared_ptr<const MeasureNetwork> distillmos;  // needed by the distillmos group (16 kHz only)
    std::shared_ptr<const MeasureNetwork> dnsmos;      // needed by the dnsmos group (16 kHz only)
};

// Everything `ldmrecon metrics` and the reconstruction report print.
// Measures of a group that was not computed are NaN, and `measures` says which were.
struct Metrics {
    MeasureSelection measures;
    std::size_t samples = 0;  // compared length (the shorter of the two)
    int sample_rate = 0;
    double snr_db = 0, mse = 0, pearson = 0;
    long lag_samples = 0;
    long max_lag_samples = 0;
    double aligned_snr_db = 0, aligned_mse = 0, aligned_pearson = 0;
    double si_sdr_db = 0;
    double lsd_db = 0, spectral_convergence = 0;  // on the feature's STFT (n_fft, hop, periodic Hann)
    MelDistance mel;                              // log-mel of reference vs estimate, the model's feature
    double stoi = 0, estoi = 0;                   // NaN when not computed
    MultiResolutionStft mrstft;
    // Pitch measures (pitch.hpp) on the delay-compensated overlap; NaN when not computed or undefined
    // (no frame voiced in both: f0; no voiced frame in either: vuv_f1).
    PitchMeasures pitch;
    double pesq = std::numeric_limits<double>::quiet_NaN();  // wide-band PESQ, filled by pesq.hpp on request
    CrepeMeasures crepe;  // on the delay-compensated overlap, as pitch; NaN when not computed
    double distillmos_in = 0, distillmos_out = 0;  // DistillMOS of each signal as compared; NaN when not computed
    DnsmosScores dnsmos_in, dnsmos_out;            // DNSMOS of each signal as compared; NaN when not computed
    // ViSQOL v3 (visqol.hpp) on the two whole signals, untrimmed (it aligns them itself): speech mode at
    // 16 kHz, audio mode at 48 kHz (resampled when the comparison is at another rate). NaN when not computed,
    // or undefined: a silent signal, a reference too short for a patch (audio mode: about a second) or with no
    // speech the VAD finds (speech mode).
    double visqol_speech = 0, visqol_speech_nsim = 0, visqol_audio = 0, visqol_audio_nsim = 0;
};

// The pitch tracker's settings at a sample rate: 64 ms frames, 10 ms hop.
PitchConfig pitch_config_for(int sample_rate);

// Compares two signals at `feature.config().sample_rate`, trimmed to the shorter length.
Metrics compare_signals(const std::vector<float>& ref, const std::vector<float>& est, const LogMel& feature,
                        const MetricsOptions& opts = {});

}  // namespace ldmrecon
