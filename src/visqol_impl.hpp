// ViSQOL's steps, one file each (visqol_signal.cpp, visqol_gammatone.cpp, visqol_patches.cpp,
// visqol_svr.cpp), put together by visqol.cpp. Everything is double precision, as Google's C++ computes it.
// "ref:" lines name the google/visqol src/ file (v3.3) and the visqol-python 3.8.0 module a step follows.
#pragma once

#include <cstddef>
#include <vector>

namespace ldmrecon::visqol_detail {

using Signal = std::vector<double>;

// The analysis window: 80 ms, hop a quarter of it. ref: analysis_window.cc
struct Window {
    int rate = 0;
    std::size_t size = 0, hop = 0;
    std::vector<double> hann;  // 0.5 - 0.5 cos(2 pi i / (size - 1))
    explicit Window(int sample_rate);
};

// bands x frames, row-major; band 0 is the lowest centre frequency.
struct Spectrogram {
    std::size_t bands = 0, frames = 0;
    std::vector<double> v;
    double& at(std::size_t b, std::size_t f) { return v[b * frames + f]; }
    double at(std::size_t b, std::size_t f) const { return v[b * frames + f]; }
};

// --- visqol_signal.cpp ---
// |hilbert(x - mean)| + mean. ref: envelope.cc, signal_utils.upper_envelope
Signal upper_envelope(const Signal& x);
// The lag l maximising sum_n ref[n + l] deg[n] over |l| < max(len): the first (most negative) of ties.
// ref: xcorr.cc, signal_utils.find_best_lag
long best_xcorr_lag(const Signal& ref, const Signal& deg);
// deg shifted onto ref by the envelopes' best lag (zeros in front, or its head cut); lag in seconds.
// ref: alignment.cc GloballyAlign
Signal globally_align(const Signal& ref, const Signal& deg, int rate, double* lag_seconds);
// Both aligned, then cut to one length. ref: alignment.cc AlignAndTruncate
void align_and_truncate(Signal& ref, Signal& deg, int rate, double* lag_seconds);
// Samples [start_time, end_time) with Google's padding (see the definition). ref: comparison_patches_selector.cc Slice
Signal slice_signal(const Signal& x, int rate, double start_time, double end_time);
// deg scaled to ref's sound pressure level. ref: misc_audio.cc ScaleToMatchSoundPressureLevel
void match_sound_pressure_level(const Signal& ref, Signal& deg);

// --- visqol_gammatone.cpp ---
// RMS of each windowed frame through a 4th-order gammatone filterbank (Slaney's ERB filters, `bands`
// centres from 50 Hz to rate/2, or to 8 kHz in speech mode), filter state reset per frame.
// ref: gammatone_spectrogram_builder.cc, equivalent_rectangular_bandwidth.cc
Spectrogram gammatone_spectrogram(const Signal& x, const Window& w, std::size_t bands, bool speech_mode);
// dB, -45 dB floor, a floor 45 dB under each frame's loudest band of either, then the lowest value of both
// subtracted. ref: misc_audio.cc PrepareSpectrogramsForComparison
void prepare_for_comparison(Spectrogram& ref, Spectrogram& deg);

// --- visqol_patches.cpp ---
struct PatchSimilarity {
    double similarity = 0;
    std::vector<double> band_means, band_stddevs, band_deg_energy;
    double ref_start = 0, ref_end = 0, deg_start = 0, deg_end = 0;  // seconds
};
// NSIM of two equally shaped bands x cols matrices. ref: neurogram_similiarity_index_measure.cc
PatchSimilarity patch_similarity(const Spectrogram& ref, const Spectrogram& deg);
// First frames of the reference patches: every patch_size frames (audio mode), or those of them the RMS
// VAD finds speech in (speech mode). ref: image_patch_creator.cc, vad_patch_creator.cc, rms_vad.cc
std::vector<std::size_t> image_patch_indices(std::size_t frames, std::size_t patch_size);
std::vector<std::size_t> vad_patch_indices(const Signal& ref, const Window& w, std::size_t frames,
                                           std::size_t patch_size);
// The dynamic programme pairing each reference patch with a degraded one within search_radius patches.
// ref: comparison_patches_selector.cc FindMostOptimalDegPatches
std::vector<PatchSimilarity> match_patches(const Spectrogram& ref, const std::vector<std::size_t>& indices,
                                           std::size_t patch_size, const Spectrogram& deg, double frame_seconds,
                                           std::size_t search_radius);
// Each pair aligned again in time on its own samples and kept if that scores higher.
// ref: comparison_patches_selector.cc FinelyAlignAndRecreatePatches
void realign_patches(std::vector<PatchSimilarity>& patches, const Signal& ref, const Signal& deg, const Window& w,
                     std::size_t bands, bool speech_mode);

// --- visqol_svr.cpp ---
// Google's nu-SVR (model/libsvm_nu_svr_model.txt, built in) on the 32 bands' mean NSIMs, as libsvm's
// svm_predict: sum_i coef_i exp(-gamma |x - sv_i|^2) - rho. ref: svr_similarity_to_quality_mapper.cc
double svr_predict(const std::vector<double>& band_nsim);
std::size_t svr_support_vectors();

}  // namespace ldmrecon::visqol_detail
