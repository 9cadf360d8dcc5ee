// Audio -> feature -> VAE encode -> scaled latent -> VAE decode -> vocoder -> audio, in windows of the
// model's training length, batched across windows and clips.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ldmrecon/feature.hpp"
#include "ldmrecon/latent_file.hpp"
#include "ldmrecon/models.hpp"

namespace ldmrecon {

// Which part of the path runs: `vae` stops at the decoded feature (no audio), `vocoder` gives the input's
// own feature to the vocoder (the vocoder's error alone), `full` is the whole path.
enum class Stage { full, vae, vocoder };
enum class VocoderKind { hifigan, griffin_lim };
Stage parse_stage(const std::string& name);               // full | vae | vocoder
VocoderKind parse_vocoder(const std::string& name);       // hifigan | griffin-lim
const char* stage_name(Stage s);
const char* vocoder_name(VocoderKind v);

struct ReconstructOptions {
    Stage stage = Stage::full;
    VocoderKind vocoder = VocoderKind::hifigan;
    int gl_iterations = 32;
    // ln: the feature the models were trained on; db: the original notes' (power mel in dB, ref = max),
    // fed to the models unchanged, for the ablation that shows what that costs.
    MelScale scale = MelScale::ln;
    bool sample = false;  // draw z = mean + std * eps instead of taking the posterior mode (mean)
    std::uint64_t seed = 0;
    // ref: AudioLDM2 trained on 1024-frame (10.24 s) clips. Longer inputs run in windows of this many
    // frames, so memory stays flat however long the input; shorter ones run in one piece.
    int window_frames = 1024;
    int overlap_frames = 64;  // frames shared by neighbouring windows; the middle half is cross-faded
    int batch_size = 1;       // windows run together on the device
    // Stop after the encoder and keep each window's scaled latent (`ldmrecon encode`): no decode, no audio.
    bool latents_only = false;
    // Asked during long CPU work (Griffin-Lim); true stops it with ldmrecon::Cancelled.
    std::function<bool()> cancelled;
};

// Wall-clock seconds per stage (device work is synchronised before each clock reading).
struct StageTimes {
    double feature = 0, encode = 0, decode = 0, vocode = 0;
    double model() const { return encode + decode + vocode; }
};

// One window: samples [start, start + length) of the normalised signal (zero beyond its end), run as an
// independent clip of `frames` frames; its output covers samples [start, start + frames * hop). Starts
// are whole hops, so window frames sit on the global frame grid.
struct Window {
    std::size_t start = 0;
    std::size_t length = 0;
    std::size_t frames = 0;  // 1 + length / hop, a multiple of the VAE's time multiple; for a clip of exactly
                             // window_frames hops, one fewer (its last frame dropped, as AudioLDM2 does)
};

// The windows covering n samples. One window of padded_length(n) when n has at most window_frames frames;
// one window of window_frames frames when n is exactly window_frames hops (AudioLDM2's 10.24 s: 1025
// frames, truncated to 1024 as AudioLDM2 truncates); else windows of exactly window_frames frames every
// (window_frames - overlap_frames) frames, the last one aligned to the end. Throws UsageError for an
// overlap outside [0, window_frames / 2].
std::vector<Window> plan_windows(std::size_t n, int hop, int multiple, const ReconstructOptions& opts);

// The smallest length >= n whose frame count 1 + len / hop is a multiple of `multiple`.
std::size_t padded_length(std::size_t n, int hop, int multiple);

struct Reconstruction {
    std::vector<float> output;       // at the model rate, the input's length and level (empty: stage vae)
    Matrix input_feature;            // one window: what the VAE received, [padded frames, n_mels];
                                     // several: the whole normalised input's feature, [frames, n_mels]
    Matrix decoded_feature;          // what the VAE returned (cross-faded across windows), same shape
    std::vector<float> vocoder_raw;  // one window: the vocoder's untrimmed output at the normalised level;
                                     // several: empty (windows are stitched straight into `output`)
    std::vector<std::int64_t> latent_shape;  // of one window: [1, C, frames / 4, n_mels / 4]
    std::vector<float> latents;      // latents_only: every window's z * scaling_factor, window-major
    std::size_t frames = 0;          // frames of the unpadded input, 1 + n / hop
    std::size_t padded_frames = 0;   // frames the models ran on, summed over windows
    std::size_t windows = 0;
    Gain gain;
    StageTimes times;  // this clip's share of the batches it ran in
};

// Runs windows of many clips through the models in batches of equal-length windows. Results do not
// depend on how windows were batched: each window is an independent clip with its own seed.
// Not thread-safe; one per Models.
class BatchRunner {
public:
    BatchRunner(Models& models, const ReconstructOptions& opts);
    // Without models: only --stage vocoder --vocoder griffin-lim, for the given feature.
    BatchRunner(Models* models, const FeatureConfig& feature, int time_multiple, const ReconstructOptions& opts);
    ~BatchRunner();
    BatchRunner(const BatchRunner&) = delete;
    BatchRunner& operator=(const BatchRunner&) = delete;

    // Prepares a clip (normalise, plan windows, compute their features) and queues its windows.
    // Returns an id. Throws InputError for an empty or all-zero (silent) signal.
    std::size_t add(const std::vector<float>& audio);
    // Queues a latent file's windows for decoding (`ldmrecon decode`): the runner's window geometry must
    // be the file's. Throws ModelError when the file was encoded by another VAE (model id), InputError
    // naming `name` when the latents do not fit these models and windows.
    // A runner takes either audio or latents, not both.
    std::size_t add_latents(const LatentFile& file, const std::string& name);

    // A window whose models returned NaN, infinities or, for a non-silent input, pure silence fails its
    // clip with a ModelError naming the stage: no such audio is ever handed back.
    struct Completed {
        std::size_t id = 0;
        bool ok = false;
        bool cancelled = false;  // stopped by opts.cancelled, not failed
        std::string error;  // when !ok: one line
        Reconstruction result;
    };
    // Runs one batch: up to batch_size windows of one length, preferring a length that fills a whole
    // batch, else the oldest queued window's. Returns the clips it completed (possibly none).
    std::vector<Completed> step();

    std::size_t queued_windows() const { return queue_.size(); }
    std::size_t clips_in_flight() const { return clips_.size(); }

private:
    struct Clip;
    struct Queued {
        std::size_t clip, window;
    };
    Models* models_;
    FeatureConfig fc_;
    int multiple_;
    ReconstructOptions opts_;
    LogMel logmel_;
    std::size_t next_id_ = 0;
    std::map<std::size_t, std::unique_ptr<Clip>> clips_;
    std::deque<Queued> queue_;
    bool audio_mode_ = false, latent_mode_ = false;

    std::size_t enqueue(std::unique_ptr<Clip> clip);
    std::vector<Queued> take_batch();
    std::string where() const;
    struct BatchWork;  // one batch through the stages (pipeline.cpp: it holds the tensors)
    std::vector<Completed> collect_completed();

    void stitch_ready(Clip& clip);
    Reconstruction assemble(Clip& clip);
};

// Steps a runner holding one clip until that clip completes; throws ModelError when it failed.
Reconstruction run_single(BatchRunner& runner);

// Reconstructs one mono signal at models.feature().sample_rate (a BatchRunner of one clip).
// Throws InputError for an empty signal, ModelError when the models fail on it.
Reconstruction reconstruct(Models& models, const std::vector<float>& audio, const ReconstructOptions& opts = {});

}  // namespace ldmrecon
