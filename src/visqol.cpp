// ViSQOL put together from its steps (visqol_impl.hpp). ref: visqol_manager.cc Run, visqol.cc
// CalculateSimilarity; visqol-python visqol_manager.py, visqol_core.py.
#include "ldmrecon/visqol.hpp"

#include <algorithm>
#include <cmath>

#include "ldmrecon/errors.hpp"
#include "visqol_impl.hpp"

namespace ldmrecon {

namespace {

using namespace visqol_detail;

struct ModeConfig {
    int rate;
    std::size_t bands, patch_size;
    bool speech;
};
// ref: visqol_manager.cc: patch 20 (speech) or 30 (audio) frames, 21 or 32 bands, 50 Hz lowest centre.
ModeConfig config_of(VisqolMode mode) {
    return mode == VisqolMode::speech ? ModeConfig{16000, 21, 20, true} : ModeConfig{48000, 32, 30, false};
}
constexpr std::size_t kSearchRadius = 60;  // patches either side (Google's default --search_window_radius)

// fvnsim: the bands' means over the patches.
std::vector<double> band_means(const std::vector<PatchSimilarity>& patches) {
    std::vector<double> out(patches.front().band_means.size(), 0.0);
    for (const auto& p : patches)
        for (std::size_t b = 0; b < out.size(); ++b) out[b] += p.band_means[b];
    for (double& v : out) v /= static_cast<double>(patches.size());
    return out;
}

// ref: speech_similarity_to_quality_mapper.cc: a + exp(b (nsim - x0)), fitted on TCD-VoIP, scaled so that
// identical signals map to 5, clamped to 1..5.
double exponential_mos(double nsim) {
    constexpr double kA = -262.847869, kB = 0.0154302525, kX0 = -361.063949, kScale = 1.245063;
    return std::clamp((kA + std::exp(kB * (nsim - kX0))) * kScale, 1.0, 5.0);
}

bool silent(const Signal& s) {
    return std::all_of(s.begin(), s.end(), [](double v) { return v == 0.0; });
}

}  // namespace

int visqol_rate(VisqolMode mode) { return config_of(mode).rate; }

VisqolResult visqol(const float* ref_samples, std::size_t ref_len, const float* deg_samples, std::size_t deg_len,
                    int rate, VisqolMode mode) {
    ModeConfig cfg = config_of(mode);
    if (rate <= 0) throw InputError("ViSQOL: sample rate " + std::to_string(rate) + " Hz");
    cfg.rate = rate;
    const Signal ref(ref_samples, ref_samples + ref_len);
    Signal deg(deg_samples, deg_samples + deg_len);
    if (silent(ref) || silent(deg))
        throw InputError(std::string("ViSQOL is undefined for a silent ") + (silent(ref) ? "reference" : "estimate"));
    const Window w(cfg.rate);
    double lag = 0;
    deg = globally_align(ref, deg, cfg.rate, &lag);
    match_sound_pressure_level(ref, deg);
    Spectrogram rs = gammatone_spectrogram(ref, w, cfg.bands, cfg.speech);
    Spectrogram ds = gammatone_spectrogram(deg, w, cfg.bands, cfg.speech);
    prepare_for_comparison(rs, ds);
    const std::vector<std::size_t> indices = cfg.speech ? vad_patch_indices(ref, w, rs.frames, cfg.patch_size)
                                                        : image_patch_indices(rs.frames, cfg.patch_size);
    if (indices.empty()) throw InputError("ViSQOL's voice activity detector finds no speech in the reference");
    const double frame_seconds = static_cast<double>(w.hop) / cfg.rate;
    auto patches = match_patches(rs, indices, cfg.patch_size, ds, frame_seconds, kSearchRadius);
    realign_patches(patches, ref, deg, w, cfg.bands, cfg.speech);
    VisqolResult r;
    r.band_nsim = band_means(patches);
    r.patches = patches.size();
    double sum = 0;
    for (double v : r.band_nsim) sum += v;
    r.nsim = sum / static_cast<double>(r.band_nsim.size());
    r.mos = cfg.speech ? exponential_mos(r.nsim) : std::clamp(svr_predict(r.band_nsim), 1.0, 5.0);
    if (r.nsim < 0.15) r.mos = 1.0;  // ref: visqol.cc AlterForSimilarityExtremes
    return r;
}

}  // namespace ldmrecon
