// CREPE pitch and periodicity, and the vocoder measures the papers compute from them (CARGAN's, in the form
// of Vocos's metrics/periodicity.py calculate_periodicity_metrics, as BigVGAN and Vocos report them).
// The network runs in the model module (measure_network.hpp); everything around it is here: the frames, the
// Viterbi decoding of torchcrepe 0.0.24 (librosa.sequence.viterbi), the silence gate and the measures.
// docs/measures.md "CREPE pitch" says how this relates to torchcrepe's own dithered output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ldmrecon/measure_network.hpp"

namespace ldmrecon {

namespace crepe {
constexpr int kSampleRate = 16000;  // ref: torchcrepe SAMPLE_RATE
constexpr int kWindow = 1024;       // WINDOW_SIZE
constexpr int kBins = 360;          // PITCH_BINS
constexpr double kCentsPerBin = 20;               // CENTS_PER_BIN
constexpr double kCentsOffset = 1997.3794084376191;  // convert.bins_to_cents
}  // namespace crepe

// Settings of Vocos's predict_pitch (metrics/periodicity.py): 50-550 Hz, 10 ms, pad=False, a -60 dB
// perceptually weighted silence gate, unvoiced below periodicity 0.21.
struct CrepeConfig {
    double fmin = 50.0, fmax = 550.0;
    int hop_length = 160;
    double silence_db = -60.0;       // SILENCE_THRESHOLD
    double unvoiced_below = 0.21;    // UNVOICED_THRESHOLD
    std::size_t batch_frames = 256;  // frames per network call (memory, not results)
};

struct CrepeTrack {
    std::vector<double> f0;          // Hz, the decoded bin's centre (undithered), every frame
    std::vector<float> periodicity;  // the network's output at the decoded bin; 0 in silent frames
    std::vector<char> voiced;        // periodicity >= unvoiced_below
    std::size_t frames() const { return f0.size(); }
};

// Frames: 1 + (n - 1024) / hop (none when n < 1024), frame k starting at sample k * hop.
std::size_t crepe_frames(std::size_t n, int hop_length);

// The bin range [lo, hi) that fmin..fmax allows. ref: torchcrepe core.postprocess (floor, ceil).
std::pair<int, int> crepe_bin_range(double fmin, double fmax);

// The most likely bin path through `frames` rows of crepe::kBins probabilities, as torchcrepe.decode.viterbi:
// bins outside [lo, hi) set to -inf, softmax per frame, librosa.sequence.viterbi with a triangular
// transition (12 - |i - j|, rows normalised) and a uniform start, ties to the lowest bin.
std::vector<int> crepe_viterbi(const std::vector<float>& probabilities, std::size_t frames, int lo, int hi);

// Frames whose A-weighted power spectrum averages below `silence_db`. ref: Vocos predict_pitch:
// |STFT|^2 (periodic Hann 1024, hop, center=False), librosa.perceptual_weighting (power_to_db with
// top_db 80 over the whole signal, A-weighting floored at -80 dB) minus REF_DB 20, mean over the bins.
std::vector<char> crepe_silent_frames(const float* x, std::size_t n, int hop_length, double silence_db);

// The whole track of a 16 kHz signal.
// `net`: CREPE's export, crepe::kWindow samples in (as they are: the export normalises each frame as
// torchcrepe.preprocess does), crepe::kBins sigmoid outputs out.
CrepeTrack track_crepe(const float* x, std::size_t n, const MeasureNetwork& net, const CrepeConfig& cfg = {});

// ref: Vocos calculate_periodicity_metrics. f0 RMSE in cents over frames voiced in both (NaN if none),
// periodicity RMSE over every frame (NaN if no frame), V/UV F1 = 2 tp / (2 tp + fp + fn) (NaN if no frame
// is voiced in either; Vocos's precision/recall form also gives NaN when tp = 0).
struct CrepeMeasures {
    double f0_rmse_cents = 0, periodicity_rmse = 0, vuv_f1 = 0;
    std::size_t frames = 0, voiced_both = 0;
};
CrepeMeasures compare_crepe(const CrepeTrack& reference, const CrepeTrack& estimate);

// CREPE's export at `path` on `device`, checked to be one.
std::shared_ptr<const MeasureNetwork> load_crepe_network(const std::string& path, const std::string& device);

}  // namespace ldmrecon
