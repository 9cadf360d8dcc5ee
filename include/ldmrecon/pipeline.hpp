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

// How windows are laid over an input longer than one window. end_aligned (offline): every `step` frames,
// the last one ending where the input ends. streamed: every `step` frames from the start until the input
// is covered, the last one zero-padded past the end, so that no window depends on where the input ends
// (--stream; offline, the same plan and a fixed level give the same samples).
enum class WindowPlan { end_aligned, streamed };
WindowPlan parse_window_plan(const std::string& name);  // end-aligned | streamed
bool parse_level(const std::string& name);               // peak (false) | fixed (true): ReconstructOptions::fixed_level
const char* window_plan_name(WindowPlan p);

// The level a stream runs at, which cannot come from a peak it has not seen: no offset, full scale to
// the training recipe's peak of 0.5.
constexpr double kFixedLevelScale = 0.5;

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
    WindowPlan plan = WindowPlan::end_aligned;
    // true: the input is scaled by kFixedLevelScale, not normalised by its own mean and peak (a stream's
    // level; also offline, to reproduce a stream or to keep the input's level relations).
    bool fixed_level = false;
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

// The windows covering n samples. One window of padded_length(n) when n is shorter than window_frames
// hops. End-aligned plan: one window of window_frames frames when n is exactly window_frames hops
// (AudioLDM2's 10.24 s: 1025 frames, truncated to 1024 as AudioLDM2 truncates); else windows of exactly
// window_frames frames every (window_frames - overlap_frames) frames, the last one aligned to the end.
// Streamed plan: windows of window_frames frames at that step from the start until n is covered.
// Throws UsageError for an overlap outside [0, window_frames / 2].
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
    // A clip whose samples arrive in blocks (--stream); needs the streamed plan and the fixed level.
    // feed() queues each window as soon as its samples are in; end_stream() queues the last ones.
    // take_output() hands out the output samples no later window will change, at the input's level;
    // the clip completes (step() returns it, with the rest of the output) after end_stream().
    // The samples equal add()'s on the whole signal with the same options, however the blocks fall.
    std::size_t open_stream();
    void feed(std::size_t id, const float* samples, std::size_t n);  // mono, at the model rate
    void end_stream(std::size_t id);
    std::vector<float> take_output(std::size_t id);

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
    // batch, else the oldest queued window's. Returns the clips it completed (possibly none; with nothing queued, a stream that has ended).
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
    Matrix window_feature(const float* x, std::size_t avail, const Window& w);
    void queue_stream_windows(std::size_t id, Clip& clip);

    void stitch_ready(Clip& clip);
    void stitch_streamed(Clip& clip, std::size_t k, std::size_t zone_begin, std::size_t zone_end);
    Reconstruction assemble(Clip& clip);
};

// Steps a runner holding one clip until that clip completes; throws ModelError when it failed.
Reconstruction run_single(BatchRunner& runner);

// Reconstructs one mono signal at models.feature().sample_rate (a BatchRunner of one clip).
// Throws InputError for an empty signal, ModelError when the models fail on it.
Reconstruction reconstruct(Models& models, const std::vector<float>& audio, const ReconstructOptions& opts = {});

}  // namespace ldmrecon
