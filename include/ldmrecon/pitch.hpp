// Pitch, periodicity and voicing on a fixed frame grid, and the vocoder pitch measures built on them
// (CARGAN, Morrison et al. ICLR 2022; reported by BigVGAN and Vocos). The tracker is YIN (de Cheveigné &
// Kawahara 2002) computed exactly as librosa.yin does, so it can be held to that independent reference;
// the voicing decision and the periodicity are YIN's aperiodicity (the normalised difference at the
// chosen period), with a silence gate. docs/measures.md "Pitch" says why YIN and how this relates to the
// torchcrepe-based figures those papers publish.
#pragma once

#include <cstddef>
#include <vector>

namespace ldmrecon {

struct PitchConfig {
    int sample_rate = 16000;
    // ref: librosa 0.11 yin(frame_length, hop_length, center=True, pad_mode="constant"). 1024 samples =
    // 64 ms at 16 kHz: three periods of fmin.
    int frame_length = 1024;
    int hop_length = 160;  // 10 ms: the model feature's grid, frame k centred on sample k * hop
    double fmin = 50.0;    // CARGAN's range for speech is 50-550 Hz; 1000 Hz keeps singing and children
    double fmax = 1000.0;
    double trough_threshold = 0.1;  // ref: librosa.yin default (YIN's "absolute threshold")
    // A frame is voiced when its aperiodicity (cumulative-mean-normalised difference at the period) is
    // below this and it is within silence_db of the signal's loudest frame. 0.45: on this project's speech
    // (tests/data) it agrees with librosa.pyin's voiced flags on 91 % of frames and with Praat's on 90 %,
    // as well as those two agree with each other (85-93 %); docs/measures.md "Pitch".
    double voicing_threshold = 0.45;
    double silence_db = -50.0;
};

struct PitchTrack {
    std::vector<double> f0;           // Hz per frame (an estimate in every frame; meaningful where voiced)
    std::vector<double> periodicity;  // 1 - aperiodicity, clamped to [0, 1]; 0 for silent frames
    std::vector<char> voiced;         // 1 / 0
    std::size_t frames() const { return f0.size(); }
};

// 1 + n / hop frames. Throws UsageError for a configuration YIN cannot run with.
PitchTrack track_pitch(const float* x, std::size_t n, const PitchConfig& cfg = {});

// The estimate's track against the reference's, frame by frame over the common frames. NaN where a
// measure is undefined: the F0 measures with no frame voiced in both (f0_fine_rmse_cents also when every
// such frame is a gross error), vuv_f1 with no voiced frame in either.
struct PitchMeasures {
    double f0_rmse_cents = 0;      // RMS of 1200 log2(f_est / f_ref) over frames voiced in both
    // The RMS is made by a few octave-like errors when there are any; these two tell them apart from a
    // track that is off everywhere (ref: Chu & Alwan 2009, gross pitch error at 20 %):
    double f0_gross_error = 0;     // share of frames voiced in both off by more than 20 % (315.6 cents)
    double f0_fine_rmse_cents = 0; // RMS of the cents error over the other frames voiced in both
    double vuv_f1 = 0;             // F1 of the estimate's voiced decisions, the reference's as truth
    double periodicity_error = 0;  // RMS difference of the periodicities over all frames
    std::size_t frames = 0, voiced_reference = 0, voiced_both = 0;
};
PitchMeasures compare_pitch(const PitchTrack& reference, const PitchTrack& estimate);

}  // namespace ldmrecon
