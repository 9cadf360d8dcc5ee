#include "ldmrecon/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <new>
#include <sstream>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/griffinlim.hpp"
#include "ldmrecon/stopwatch.hpp"
#include "models_impl.hpp"

namespace ldmrecon {

namespace {

constexpr double kPi = 3.14159265358979323846;

void sync(const torch::Device& d) {
    if (d.is_cuda()) torch::cuda::synchronize(d.index());
}

// A stage's output must be finite: NaN or infinities mean the models (or their metadata) are broken for
// this input, and must never reach a WAV.
void check_finite(const torch::Tensor& t, const std::string& where, const char* stage) {
    if (!torch::isfinite(t).all().item<bool>())
        throw ModelError(where + ": the " + stage + " returned NaN or infinite values for this input (check the "
                         "export's metadata, e.g. its scaling_factor, or try --dtype fp32)");
}

// A seed per window, so a window's noise does not depend on which batch it ran in. Window 0 uses the
// seed itself. ref: splitmix64's increment.
std::uint64_t window_seed(std::uint64_t seed, std::size_t window) { return seed + 0x9E3779B97F4A7C15ull * window; }

// Overwrites dst rows from `begin` on with src (rows of `width` values, src row 0 = dst row `offset`),
// cross-fading with a raised cosine over rows [zone_begin, zone_end) and taking src alone after it.
void crossfade(float* dst, std::size_t dst_rows, const float* src, std::size_t src_rows, std::size_t offset,
               std::size_t zone_begin, std::size_t zone_end, std::size_t width) {
    const std::size_t end = std::min(dst_rows, offset + src_rows);
    for (std::size_t r = std::max(zone_begin, offset); r < end; ++r) {
        double w = 1.0;  // weight of src
        if (r < zone_end) w = 0.5 - 0.5 * std::cos(kPi * (r - zone_begin + 0.5) / (zone_end - zone_begin));
        float* d = dst + r * width;
        const float* s = src + (r - offset) * width;
        for (std::size_t c = 0; c < width; ++c) d[c] = static_cast<float>((1.0 - w) * d[c] + w * s[c]);
    }
}

}  // namespace

Stage parse_stage(const std::string& name) {
    if (name == "full") return Stage::full;
    if (name == "vae") return Stage::vae;
    if (name == "vocoder") return Stage::vocoder;
    throw UsageError("unknown stage '" + name + "' (use full, vae or vocoder)");
}

VocoderKind parse_vocoder(const std::string& name) {
    if (name == "hifigan") return VocoderKind::hifigan;
    if (name == "griffin-lim") return VocoderKind::griffin_lim;
    throw UsageError("unknown vocoder '" + name + "' (use hifigan or griffin-lim)");
}

WindowPlan parse_window_plan(const std::string& name) {
    if (name == "end-aligned") return WindowPlan::end_aligned;
    if (name == "streamed") return WindowPlan::streamed;
    throw UsageError("--window-plan '" + name + "': use end-aligned or streamed");
}

bool parse_level(const std::string& name) {
    if (name == "peak") return false;
    if (name == "fixed") return true;
    throw UsageError("--level '" + name + "': use peak (each input normalised by its own peak) or fixed");
}

const char* window_plan_name(WindowPlan p) { return p == WindowPlan::end_aligned ? "end-aligned" : "streamed"; }

const char* stage_name(Stage s) { return s == Stage::full ? "full" : s == Stage::vae ? "vae" : "vocoder"; }
const char* vocoder_name(VocoderKind v) { return v == VocoderKind::hifigan ? "hifigan" : "griffin-lim"; }

std::size_t padded_length(std::size_t n, int hop, int multiple) {
    const std::size_t h = static_cast<std::size_t>(hop), m = static_cast<std::size_t>(multiple);
    const std::size_t frames = 1 + n / h;
    const std::size_t target = (frames + m - 1) / m * m;
    // 1 + len / hop == target  <=>  len in [(target - 1) * hop, target * hop)
    return std::max(n, (target - 1) * h);
}

namespace {

// Windows of exactly window_frames frames every (window_frames - overlap_frames) frames, the last one aligned
// to the end: the plan for inputs longer than one window.
std::vector<Window> sliding_windows(std::size_t n, std::size_t hop, const ReconstructOptions& o) {
    const std::size_t W = static_cast<std::size_t>(o.window_frames);
    const std::size_t len = W * hop - 1;  // the longest slice with W frames
    const std::size_t step = (W - static_cast<std::size_t>(o.overlap_frames)) * hop;
    std::vector<Window> w;
    std::size_t s = 0;
    for (; s + len < n; s += step) w.push_back({s, len, W});
    const std::size_t last = (n - len + hop - 1) / hop * hop;  // end-aligned, rounded up to a whole hop
    if (w.empty() || last > w.back().start) w.push_back({last, len, W});
    return w;
}

// The streamed plan: windows every step from the start while the previous ones end before n.
std::vector<Window> streamed_windows(std::size_t n, std::size_t hop, const ReconstructOptions& o) {
    const std::size_t W = static_cast<std::size_t>(o.window_frames);
    const std::size_t step = (W - static_cast<std::size_t>(o.overlap_frames)) * hop;
    std::vector<Window> w;
    for (std::size_t s = 0; w.empty() || w.back().start + W * hop < n; s += step) w.push_back({s, W * hop - 1, W});
    return w;
}

}  // namespace

std::vector<Window> plan_windows(std::size_t n, int hop, int multiple, const ReconstructOptions& o) {
    if (o.window_frames < multiple || o.window_frames % multiple != 0)
        throw UsageError("--window-frames " + std::to_string(o.window_frames) + " must be a positive multiple of " +
                         std::to_string(multiple));
    if (o.overlap_frames < 0 || 2 * o.overlap_frames > o.window_frames)
        throw UsageError("--overlap-frames " + std::to_string(o.overlap_frames) +
                         " must be between 0 and half the window (" + std::to_string(o.window_frames / 2) + ")");
    const std::size_t h = static_cast<std::size_t>(hop);
    const std::size_t W = static_cast<std::size_t>(o.window_frames);
    if (n < W * h) {
        const std::size_t p = padded_length(n, hop, multiple);
        return {{0, p, 1 + p / h}};
    }
    if (o.plan == WindowPlan::streamed) return streamed_windows(n, h, o);
    // Exactly W hops (AudioLDM2's own 10.24 s clips): W + 1 frames, the last one centred on the end. AudioLDM2
    // truncates its feature to W frames; so does this one window, whose W * hop output samples still cover n.
    if (n == W * h) return {{0, n, W}};
    return sliding_windows(n, h, o);
}

// A clip in flight: its normalised signal, windows, their features, and results as they arrive.
// Window results are stitched into `out` as soon as they and all earlier windows are in, and freed, so
// a long clip holds its input features, the stitched output and a few windows, never all windows.
struct BatchRunner::Clip {
    std::size_t n = 0;
    Gain gain;
    std::vector<Window> windows;
    std::vector<Matrix> features;             // per window; freed once run (but for a single window)
    std::vector<Matrix> decoded;              // per window, until stitched
    std::vector<std::vector<float>> latents;  // per window: decode's input (add_latents) or encode's output
    std::vector<std::vector<float>> waves;
    std::vector<bool> arrived;
    std::size_t next_stitch = 0;
    Matrix full_feature;      // several windows: the whole normalised input's feature
    Matrix stitched_feature;  // several windows: decoded features, cross-faded
    std::vector<float> out;   // several windows: vocoder output, cross-faded
    std::vector<std::int64_t> latent_shape;
    std::size_t done = 0;
    StageTimes times;
    std::string error;
    bool cancelled = false;
    // A streamed clip (open_stream): `in` holds the normalised input from sample in_base on (what later
    // windows still need), `out` the output from out_base on; output before final_end is final.
    bool streamed = false, open = false;
    std::vector<float> in;
    std::size_t in_base = 0, out_base = 0, final_end = 0;
};

BatchRunner::BatchRunner(Models& models, const ReconstructOptions& opts)
    : BatchRunner(&models, models.feature(), models.time_multiple(), opts) {}

namespace {
FeatureConfig with_scale(FeatureConfig f, MelScale s) {
    f.scale = s;
    return f;
}
}  // namespace

BatchRunner::BatchRunner(Models* models, const FeatureConfig& feature, int time_multiple,
                         const ReconstructOptions& opts)
    : models_(models), fc_(with_scale(feature, opts.scale)), multiple_(time_multiple), opts_(opts), logmel_(fc_) {
    if (is_db_family(opts_.scale) && opts_.vocoder == VocoderKind::griffin_lim)
        throw UsageError("Griffin-Lim takes the ln feature only");
    if (opts_.batch_size < 1) throw UsageError("--batch-size must be at least 1");
    if (!models_ && (opts_.stage != Stage::vocoder || opts_.vocoder != VocoderKind::griffin_lim))
        throw UsageError(std::string("--stage ") + stage_name(opts_.stage) + " with --vocoder " +
                         vocoder_name(opts_.vocoder) + " needs models");
    if (opts_.gl_iterations < 0) throw UsageError("--gl-iterations must be 0 or more");
    if (opts_.window_frames % multiple_ != 0)
        throw UsageError("--window-frames " + std::to_string(opts_.window_frames) + " must be a multiple of " +
                         std::to_string(multiple_) + ", the VAE's time multiple" +
                         (models_ ? " (" + models_->dir() + ")" : std::string()));
    plan_windows(0, fc_.hop_length, multiple_, opts_);  // validates the options
}

BatchRunner::~BatchRunner() = default;

std::size_t BatchRunner::add(const std::vector<float>& audio) {
    if (audio.empty()) throw InputError("empty signal");
    if (std::all_of(audio.begin(), audio.end(), [](float v) { return v == 0.f; }))
        throw InputError("is silent (every sample is 0): there is nothing to reconstruct or measure");
    if (std::all_of(audio.begin(), audio.end(), [&](float v) { return v == audio.front(); }))
        throw InputError("is constant (every sample is " + std::to_string(audio.front()) +
                         "): once its offset is removed nothing is left to reconstruct or measure");
    if (latent_mode_) throw UsageError("a BatchRunner takes audio or latents, not both");
    audio_mode_ = true;
    const FeatureConfig& fc = fc_;
    auto clip = std::make_unique<Clip>();
    const auto t0 = Clock::now();
    clip->n = audio.size();
    std::vector<float> x = audio;
    if (opts_.fixed_level) {
        clip->gain = Gain{0.0, kFixedLevelScale};
        for (float& v : x) v = static_cast<float>(v * kFixedLevelScale);
    } else {
        clip->gain = normalise_waveform(x);
    }
    clip->windows = plan_windows(clip->n, fc.hop_length, multiple_, opts_);
    for (const Window& w : clip->windows)
        clip->features.push_back(window_feature(x.data() + w.start, w.start < clip->n ? clip->n - w.start : 0, w));
    if (clip->windows.size() > 1 && !opts_.latents_only) clip->full_feature = logmel_.compute(x);
    clip->times.feature = seconds_since(t0);
    return enqueue(std::move(clip));
}

// A window's feature from the signal at its start, of which `avail` samples exist: zeros (silence) past
// the end of the signal, never a log-mel of 0 (SPEC.md 1).
Matrix BatchRunner::window_feature(const float* x, std::size_t avail, const Window& w) {
    std::vector<float> slice(w.length, 0.f);
    std::copy_n(x, std::min(w.length, avail), slice.begin());
    Matrix f = logmel_.compute(slice);
    f.rows = w.frames;  // one fewer than computed for a clip of exactly one window's hops (plan_windows)
    f.data.resize(f.rows * f.cols);
    return f;
}

std::size_t BatchRunner::open_stream() {
    if (latent_mode_) throw UsageError("a BatchRunner takes audio or latents, not both");
    if (opts_.plan != WindowPlan::streamed || !opts_.fixed_level || opts_.latents_only)
        throw UsageError("a stream runs with the streamed window plan and the fixed level");
    audio_mode_ = true;
    auto clip = std::make_unique<Clip>();
    clip->streamed = clip->open = true;
    clip->gain = Gain{0.0, kFixedLevelScale};
    const std::size_t id = next_id_++;
    clips_.emplace(id, std::move(clip));
    return id;
}

void BatchRunner::feed(std::size_t id, const float* samples, std::size_t n) {
    Clip& c = *clips_.at(id);
    if (!c.open) throw UsageError("feed() after end_stream()");
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < n; ++i) c.in.push_back(static_cast<float>(samples[i] * kFixedLevelScale));
    c.n += n;
    queue_stream_windows(id, c);
    c.times.feature += seconds_since(t0);
}

void BatchRunner::end_stream(std::size_t id) {
    Clip& c = *clips_.at(id);
    if (!c.open) return;
    c.open = false;
    const auto t0 = Clock::now();
    queue_stream_windows(id, c);
    c.times.feature += seconds_since(t0);
}

// Queues the streamed clip's windows whose samples are all in: while it is open, those of the streamed
// plan of any length at least what has arrived; once ended, the rest of the plan of its length.
void BatchRunner::queue_stream_windows(std::size_t id, Clip& c) {
    const std::size_t hop = static_cast<std::size_t>(fc_.hop_length);
    const std::size_t W = static_cast<std::size_t>(opts_.window_frames);
    const std::size_t step = (W - static_cast<std::size_t>(opts_.overlap_frames)) * hop;
    std::vector<Window> plan;
    if (!c.open) {
        if (c.n == 0) return;  // nothing arrived: the clip completes empty (collect_completed)
        plan = plan_windows(c.n, fc_.hop_length, multiple_, opts_);
    }
    for (;;) {
        const std::size_t k = c.windows.size();
        Window w;
        if (c.open) {
            // Window 0 is a whole window once the input is known to be at least W hops long (shorter ones
            // run as one padded window); every later window exists once its last sample has arrived.
            w = {k * step, W * hop - 1, W};
            if (c.n < (k == 0 ? W * hop : w.start + w.length)) break;
        } else {
            if (k >= plan.size()) break;
            w = plan[k];
        }
        c.windows.push_back(w);
        c.features.push_back(window_feature(c.in.data() + (w.start - c.in_base),
                                            c.in_base + c.in.size() - w.start, w));
        c.decoded.emplace_back();
        c.waves.emplace_back();
        c.latents.emplace_back();
        c.arrived.push_back(false);
        queue_.push_back({id, k});
        // Later windows start at the next step or after: the input before it is no longer needed.
        const std::size_t keep = std::min(w.start + step, c.in_base + c.in.size());
        c.in.erase(c.in.begin(), c.in.begin() + static_cast<long>(keep - c.in_base));
        c.in_base = keep;
    }
}

std::vector<float> BatchRunner::take_output(std::size_t id) {
    auto it = clips_.find(id);
    if (it == clips_.end()) return {};
    Clip& c = *it->second;
    const std::size_t end = std::min(c.final_end, c.n);
    if (end <= c.out_base) return {};
    std::vector<float> y(c.out.begin(), c.out.begin() + static_cast<long>(end - c.out_base));
    c.out.erase(c.out.begin(), c.out.begin() + static_cast<long>(end - c.out_base));
    c.out_base = end;
    restore_level(y, c.gain);
    return y;
}

std::size_t BatchRunner::enqueue(std::unique_ptr<Clip> clip) {
    const std::size_t nw = clip->windows.size();
    clip->decoded.resize(nw);
    clip->waves.resize(nw);
    clip->latents.resize(nw);
    clip->arrived.assign(nw, false);
    if (nw > 1 && !opts_.latents_only) {
        const std::size_t hop = static_cast<std::size_t>(fc_.hop_length);
        const Window& last = clip->windows.back();
        clip->stitched_feature = Matrix(last.start / hop + last.frames, static_cast<std::size_t>(fc_.n_mels));
        if (opts_.stage != Stage::vae) clip->out.assign(last.start + last.frames * hop, 0.f);
    }
    const std::size_t id = next_id_++;
    for (std::size_t i = 0; i < nw; ++i) queue_.push_back({id, i});
    clips_.emplace(id, std::move(clip));
    return id;
}

std::size_t BatchRunner::add_latents(const LatentFile& f, const std::string& name) {
    if (audio_mode_) throw UsageError("a BatchRunner takes audio or latents, not both");
    if (!models_) throw UsageError("decoding latents needs models");
    if (opts_.stage != Stage::full || opts_.latents_only) throw UsageError("latents are decoded along the full path");
    if (f.model_id != models_->model_id()) {
        std::ostringstream s;
        s << name << ": encoded with another VAE (model id " << hex_id(f.model_id) << ", " << models_->dir()
          << " has " << hex_id(models_->model_id()) << "); decode with the models that encoded it (--models DIR)";
        throw ModelError(s.str());
    }
    latent_mode_ = true;
    auto fail = [&name](const std::string& what) { return InputError(name + ": " + what); };
    if (f.sample_rate != static_cast<std::uint32_t>(fc_.sample_rate) ||
        f.hop_length != static_cast<std::uint32_t>(fc_.hop_length))
        throw fail("made for " + std::to_string(f.sample_rate) + " Hz / hop " + std::to_string(f.hop_length) +
                   ", these models use " + std::to_string(fc_.sample_rate) + " Hz / hop " +
                   std::to_string(fc_.hop_length));
    const Models::Impl& m = models_->impl();
    const std::uint32_t width = static_cast<std::uint32_t>(fc_.n_mels / multiple_);
    if (f.channels != static_cast<std::uint32_t>(m.latent_channels) || f.width != width)
        throw fail("latents have " + std::to_string(f.channels) + " channels x " + std::to_string(f.width) +
                   " bins, these models take " + std::to_string(m.latent_channels) + " x " + std::to_string(width));
    auto clip = std::make_unique<Clip>();
    clip->n = static_cast<std::size_t>(f.length);
    clip->gain.mean = f.gain_mean;
    clip->gain.scale = f.gain_scale;
    try {
        clip->windows = plan_windows(clip->n, fc_.hop_length, multiple_, opts_);
        // Files from before one window took a clip of exactly its hops hold the sliding plan's two windows.
        const std::size_t hop = static_cast<std::size_t>(fc_.hop_length);
        if (f.windows == 2 && clip->n == static_cast<std::size_t>(opts_.window_frames) * hop)
            clip->windows = sliding_windows(clip->n, hop, opts_);
    } catch (const UsageError&) {
        throw fail("its windows of " + std::to_string(f.window_frames) + " frames (overlap " +
                   std::to_string(f.overlap_frames) + ") do not fit these models (time multiple " +
                   std::to_string(multiple_) + ")");
    }
    if (clip->windows.size() != f.windows)
        throw fail(std::to_string(f.windows) + " windows, but " + std::to_string(f.length) + " samples in windows of " +
                   std::to_string(opts_.window_frames) + " frames make " + std::to_string(clip->windows.size()));
    for (const Window& w : clip->windows)
        if (w.frames != std::size_t(f.height) * static_cast<std::size_t>(multiple_))
            throw fail("latent height " + std::to_string(f.height) + " does not fit windows of " +
                       std::to_string(w.frames) + " frames");
    const std::size_t per = f.elements() / f.windows;
    // Decoding takes z = z_scaled / scaling_factor with the model's factor: rescale if the file's differs.
    const float k = static_cast<float>(m.scaling_factor / f.scaling_factor);
    clip->latents.resize(f.windows);
    for (std::size_t i = 0; i < f.windows; ++i) {
        clip->latents[i].assign(f.latents.begin() + static_cast<long>(i * per),
                                f.latents.begin() + static_cast<long>((i + 1) * per));
        if (k != 1.f)
            for (float& v : clip->latents[i]) v *= k;
    }
    return enqueue(std::move(clip));  // its resize of `latents` to the window count keeps them
}

// What errors name as the failing part: the models' folder, or Griffin-Lim when no models run.
std::string BatchRunner::where() const { return models_ ? models_->dir() : std::string("griffin-lim"); }

// The first length (in queue order) with a full batch waiting, else the oldest window's length; up to
// batch_size windows of it, taken off the queue.
std::vector<BatchRunner::Queued> BatchRunner::take_batch() {
    const std::size_t B = static_cast<std::size_t>(opts_.batch_size);
    auto frames_of = [this](const Queued& q) { return clips_.at(q.clip)->windows[q.window].frames; };
    std::map<std::size_t, std::size_t> count;
    std::size_t frames = frames_of(queue_.front());
    for (const Queued& q : queue_)
        if (++count[frames_of(q)] == B) {
            frames = frames_of(q);
            break;
        }
    std::vector<Queued> batch;
    for (auto it = queue_.begin(); it != queue_.end() && batch.size() < B;) {
        if (frames_of(*it) == frames) {
            batch.push_back(*it);
            it = queue_.erase(it);
        } else {
            ++it;
        }
    }
    return batch;
}

// One batch of equal-length windows through the stages: its tensors, and a method per step. Results go
// back into the runner's clips; a failure throws (step() gives it to every clip of the batch).
struct BatchRunner::BatchWork {
    BatchRunner& r;
    const std::vector<Queued>& batch;
    StageTimes& t;
    Models::Impl* m;
    std::string where;
    std::int64_t T, M, Bn, hop;
    torch::Tensor mel, mel_cpu, z_scaled, decoded;
    std::vector<std::int64_t> lshape;

    BatchWork(BatchRunner& runner, const std::vector<Queued>& b, StageTimes& times)
        : r(runner), batch(b), t(times), m(runner.models_ ? &runner.models_->impl() : nullptr),
          where(runner.where()),
          T(static_cast<std::int64_t>(runner.clips_.at(b.front().clip)->windows[b.front().window].frames)),
          M(runner.fc_.n_mels), Bn(static_cast<std::int64_t>(b.size())), hop(runner.fc_.hop_length) {}

    Clip& clip(std::int64_t b) const { return *r.clips_.at(batch[static_cast<std::size_t>(b)].clip); }
    std::size_t window(std::int64_t b) const { return batch[static_cast<std::size_t>(b)].window; }

    void run() {
        c10::InferenceMode inference;
        input_features();
        if (r.latent_mode_) {
            latents_from_file();
        } else if (r.opts_.stage != Stage::vocoder) {
            encode();
        }
        if (z_scaled.defined()) {
            lshape = z_scaled.sizes().vec();
            lshape[0] = 1;
        }
        if (r.opts_.latents_only) {
            keep_latents();
            return;
        }
        decode();
        std::vector<Matrix> dec = decoded_features();
        const auto t0 = Clock::now();
        torch::Tensor wav_cpu;
        std::vector<std::vector<float>> gl_waves;
        if (r.opts_.stage != Stage::vae && r.opts_.vocoder == VocoderKind::hifigan)
            wav_cpu = neural_vocoder();
        else if (r.opts_.stage != Stage::vae)
            gl_waves = griffin_lim_waves(dec);
        t.vocode = seconds_since(t0);
        scatter(dec, wav_cpu, gl_waves);
    }

    // [B, 1, T, M] on the CPU: each window's feature (empty in latent mode).
    void input_features() {
        mel = torch::empty({r.latent_mode_ ? 0 : Bn, 1, T, M}, torch::kFloat);
        for (std::int64_t b = 0; b < Bn && !r.latent_mode_; ++b) {
            const Matrix& f = clip(b).features[window(b)];
            std::memcpy(mel[b].data_ptr<float>(), f.data.data(), f.data.size() * sizeof(float));
        }
        mel_cpu = mel;
        decoded = mel;  // --stage vocoder: the input's own feature
    }

    // Decoding a latent file: the windows' stored latents stand in for the encoder.
    void latents_from_file() {
        const std::int64_t C = m->latent_channels, H = T / r.multiple_, W = M / r.multiple_;
        torch::Tensor zs = torch::empty({Bn, C, H, W}, torch::kFloat);
        for (std::int64_t b = 0; b < Bn; ++b) {
            std::vector<float>& l = clip(b).latents[window(b)];
            std::memcpy(zs[b].data_ptr<float>(), l.data(), l.size() * sizeof(float));
            l = {};
        }
        z_scaled = zs.to(m->device, m->dtype);
    }

    void encode() {
        const auto t0 = Clock::now();
        mel = mel.to(m->device, m->dtype);
        torch::Tensor moments = m->backend->encode(mel);
        check_finite(moments, where, "VAE encoder");
        const std::int64_t C = m->latent_channels;
        torch::Tensor z = moments.narrow(1, 0, C);
        if (r.opts_.sample) {
            // Noise drawn on the CPU in fp32, one generator per window, so a seed gives the same latent on
            // every device and in every batch.
            std::vector<torch::Tensor> eps;
            for (const Queued& q : batch) {
                auto gen = at::detail::createCPUGenerator(window_seed(r.opts_.seed, q.window));
                eps.push_back(at::randn(z.sizes().slice(1), gen, torch::TensorOptions().dtype(torch::kFloat)));
            }
            z = z + torch::exp(0.5 * moments.narrow(1, C, C)) * torch::stack(eps).to(m->device, m->dtype);
        }
        // Latents as a diffusion model sees them are z * scaling_factor; decode takes them back.
        z_scaled = z * m->scaling_factor;
        sync(m->device);
        t.encode = seconds_since(t0);
    }

    // `ldmrecon encode`: the scaled latents are the result; the windows' features are no longer needed.
    void keep_latents() {
        const torch::Tensor zc = z_scaled.to(torch::kCPU, torch::kFloat).contiguous();
        for (std::int64_t b = 0; b < Bn; ++b) {
            Clip& c = clip(b);
            const float* p = zc[b].data_ptr<float>();
            c.latents[window(b)].assign(p, p + zc[b].numel());
            c.latent_shape = lshape;
            c.features[window(b)] = Matrix();
        }
    }

    void decode() {
        if (!z_scaled.defined()) {
            if (r.opts_.vocoder == VocoderKind::hifigan) decoded = mel.to(m->device, m->dtype);
            return;
        }
        const auto t0 = Clock::now();
        decoded = m->backend->decode(z_scaled / m->scaling_factor);
        sync(m->device);
        t.decode = seconds_since(t0);
        if (decoded.dim() != 4 || decoded.size(0) != Bn || decoded.size(2) != T || decoded.size(3) != M)
            throw ModelError(where + ": VAE decoded a feature of the wrong shape");
        check_finite(decoded, where, "VAE decoder");
    }

    // The decoded feature of each window, taken off the device once (--stage vocoder: the input's own).
    std::vector<Matrix> decoded_features() const {
        const torch::Tensor dec_cpu =
            r.opts_.stage == Stage::vocoder ? mel_cpu : decoded.to(torch::kCPU, torch::kFloat).contiguous();
        std::vector<Matrix> dec(static_cast<std::size_t>(Bn), Matrix(static_cast<std::size_t>(T), static_cast<std::size_t>(M)));
        for (std::int64_t b = 0; b < Bn; ++b)
            std::memcpy(dec[b].data.data(), dec_cpu[b].data_ptr<float>(), dec[b].data.size() * sizeof(float));
        return dec;
    }

    // [B, 1, T, M] -> [B, T, M]: the vocoder takes time-first frames, no transpose (SPEC.md 1).
    torch::Tensor neural_vocoder() {
        torch::Tensor wave = m->backend->vocode(decoded.squeeze(1));
        sync(m->device);
        if (wave.dim() != 2 || wave.size(0) != Bn || wave.size(1) < T * hop)
            throw ModelError(where + ": vocoder returned " + std::to_string(wave.numel()) + " samples for " +
                             std::to_string(Bn) + " x " + std::to_string(T) + " frames");
        torch::Tensor wav_cpu = wave.to(torch::kCPU, torch::kFloat).contiguous();
        check_finite(wav_cpu, where, "vocoder");
        for (std::int64_t b = 0; b < Bn; ++b)
            if (wav_cpu[b].abs().max().item<float>() == 0.f)
                throw ModelError(where + ": the vocoder returned silence (every sample 0) for a window of a "
                                 "non-silent input");
        return wav_cpu;
    }

    std::vector<std::vector<float>> griffin_lim_waves(const std::vector<Matrix>& dec) const {
        GriffinLimOptions gl;
        gl.iterations = r.opts_.gl_iterations;
        gl.cancelled = r.opts_.cancelled;
        std::vector<std::vector<float>> waves;
        for (std::int64_t b = 0; b < Bn; ++b) {
            gl.seed = window_seed(r.opts_.seed, window(b));
            // T * hop - 1 samples have exactly T frames; one zero makes the window's T * hop.
            std::vector<float> w = griffin_lim(mel_to_linear_magnitude(dec[b], r.fc_), r.fc_,
                                               static_cast<std::size_t>(T * hop - 1), gl);
            w.push_back(0.f);
            waves.push_back(std::move(w));
        }
        return waves;
    }

    // Each window's decoded feature and audio into its clip; a clip of several windows stitches what has
    // arrived in order.
    void scatter(std::vector<Matrix>& dec, const torch::Tensor& wav_cpu, std::vector<std::vector<float>>& gl_waves) {
        for (std::int64_t b = 0; b < Bn; ++b) {
            Clip& c = clip(b);
            const std::size_t k = window(b);
            c.decoded[k] = std::move(dec[b]);
            if (wav_cpu.defined()) {
                const float* w = wav_cpu[b].data_ptr<float>();
                c.waves[k].assign(w, w + wav_cpu.size(1));
            } else if (!gl_waves.empty()) {
                c.waves[k] = std::move(gl_waves[static_cast<std::size_t>(b)]);
            }
            c.arrived[k] = true;
            c.latent_shape = lshape;
            if (c.windows.size() > 1 || c.streamed) {
                if (!c.features.empty()) c.features[k] = Matrix();
                r.stitch_ready(c);
            }
        }
    }
};

std::vector<BatchRunner::Completed> BatchRunner::step() {
    if (queue_.empty()) return collect_completed();  // a stream that ended with every window run
    const std::vector<Queued> batch = take_batch();
    const std::string where = this->where();
    StageTimes t;
    try {
        BatchWork(*this, batch, t).run();
    } catch (const c10::Error& e) {
        for (const Queued& q : batch)
            clips_.at(q.clip)->error = where + ": the models failed on this input (" + interpreter_error_line(e.what()) + ")";
    } catch (const Cancelled&) {
        for (const Queued& q : batch) clips_.at(q.clip)->cancelled = true;
    } catch (const Error& e) {
        for (const Queued& q : batch) clips_.at(q.clip)->error = e.what();
    } catch (const std::bad_alloc&) {
        for (const Queued& q : batch)
            clips_.at(q.clip)->error = where + ": out of memory on this input (try a smaller --batch-size or --window-frames)";
    } catch (const std::exception& e) {
        // The TorchScript interpreter throws plain std::exceptions too (e.g. an export whose metadata
        // disagrees with its weights): still a model failure of these files, never the whole run's.
        for (const Queued& q : batch)
            clips_.at(q.clip)->error = where + ": the models failed on this input (" + interpreter_error_line(e.what()) + ")";
    }
    // Each window's share of the batch's time.
    const double n = static_cast<double>(batch.size());
    for (const Queued& q : batch) {
        Clip& c = *clips_.at(q.clip);
        c.times.encode += t.encode / n;
        c.times.decode += t.decode / n;
        c.times.vocode += t.vocode / n;
        ++c.done;
    }
    return collect_completed();
}

// The clips whose every window has run: assembled, or with their error.
std::vector<BatchRunner::Completed> BatchRunner::collect_completed() {
    std::vector<Completed> out;
    for (auto it = clips_.begin(); it != clips_.end();) {
        Clip& c = *it->second;
        // A stream completes when it ended, or at once when a window failed (no later output can follow).
        const bool failed = !c.error.empty() || c.cancelled;
        if ((c.done < c.windows.size() && !(c.streamed && failed)) || (c.streamed && c.open && !failed)) {
            ++it;
            continue;
        }
        Completed done;
        done.id = it->first;
        done.cancelled = c.cancelled;
        done.ok = c.error.empty() && !c.cancelled;
        if (done.ok) {
            try {
                done.result = assemble(c);
            } catch (const Error& e) {
                done.ok = false;
                done.error = e.what();
            }
        } else {
            done.error = c.cancelled ? "interrupted" : c.error;
        }
        out.push_back(std::move(done));
        // A failed stream may still have windows queued: they go with it.
        queue_.erase(std::remove_if(queue_.begin(), queue_.end(), [&](const Queued& q) { return q.clip == it->first; }),
                     queue_.end());
        it = clips_.erase(it);
    }
    return out;
}

void BatchRunner::stitch_ready(Clip& c) {
    const std::size_t hop = static_cast<std::size_t>(fc_.hop_length);
    const std::size_t M = static_cast<std::size_t>(fc_.n_mels);
    const bool audio = opts_.stage != Stage::vae;
    for (; c.next_stitch < c.windows.size() && c.arrived[c.next_stitch]; ++c.next_stitch) {
        const std::size_t k = c.next_stitch;
        const Window& w = c.windows[k];
        // Window k replaces window k-1 after a raised-cosine cross-fade over the middle half of their
        // overlap (the outer quarters are where each window's edge effects live).
        std::size_t zb = w.start, ze = w.start;
        if (k > 0) {
            const Window& p = c.windows[k - 1];
            const std::size_t ov = p.start + p.frames * hop > w.start ? p.start + p.frames * hop - w.start : 0;
            const std::size_t zone = std::min(ov, static_cast<std::size_t>(opts_.overlap_frames) / 2 * hop);
            zb = w.start + (ov - zone) / 2;
            ze = zb + zone;
        }
        if (audio && c.streamed) {
            stitch_streamed(c, k, zb, ze);
            continue;
        }
        if (audio) crossfade(c.out.data(), c.out.size(), c.waves[k].data(), w.frames * hop, w.start, zb, ze, 1);
        crossfade(c.stitched_feature.data.data(), c.stitched_feature.rows, c.decoded[k].data.data(), w.frames,
                  w.start / hop, zb / hop, std::max(ze / hop, zb / hop + (ze > zb ? 1 : 0)), M);
        c.waves[k] = {};
        c.decoded[k] = Matrix();
    }
}

// A streamed clip's window k into its output, which holds samples from out_base on: the same cross-fade
// as an offline clip's, on the part of the window at or after out_base (before it all is final).
void BatchRunner::stitch_streamed(Clip& c, std::size_t k, std::size_t zb, std::size_t ze) {
    const std::size_t hop = static_cast<std::size_t>(fc_.hop_length);
    const Window& w = c.windows[k];
    const std::size_t end = w.start + w.frames * hop;
    if (c.out.size() < end - c.out_base) c.out.resize(end - c.out_base, 0.f);
    const std::size_t skip = c.out_base > w.start ? c.out_base - w.start : 0;
    crossfade(c.out.data(), c.out.size(), c.waves[k].data() + skip, w.frames * hop - skip, w.start + skip - c.out_base,
              zb - c.out_base, ze - c.out_base, 1);
    c.waves[k] = {};
    c.decoded[k] = Matrix();
    // What the next window will cross-fade starts at its zone: the streamed plan's next window is at the
    // next step, with a zone placed as above.
    const std::size_t W = static_cast<std::size_t>(opts_.window_frames);
    const std::size_t step = (W - static_cast<std::size_t>(opts_.overlap_frames)) * hop;
    const std::size_t next = w.start + step, ov = end > next ? end - next : 0;
    const std::size_t zone = std::min(ov, static_cast<std::size_t>(opts_.overlap_frames) / 2 * hop);
    c.final_end = (c.open || k + 1 < c.windows.size()) ? next + (ov - zone) / 2 : c.n;
}

Reconstruction BatchRunner::assemble(Clip& c) {
    const FeatureConfig& fc = fc_;
    const std::string where = this->where();
    Reconstruction r;
    r.gain = c.gain;
    r.frames = fc.frames(c.n);
    r.windows = c.windows.size();
    r.latent_shape = c.latent_shape;
    r.times = c.times;
    for (const Window& w : c.windows) r.padded_frames += w.frames;
    if (opts_.latents_only) {
        for (auto& l : c.latents) r.latents.insert(r.latents.end(), l.begin(), l.end());
        return r;
    }
    if (c.streamed) {  // what take_output has not handed out yet, at the input's level
        c.final_end = c.n;
        r.output.assign(c.out.begin(), c.out.begin() + static_cast<long>(c.n - std::min(c.n, c.out_base)));
        restore_level(r.output, r.gain);
        return r;
    }
    if (c.windows.size() == 1) {
        if (!c.features.empty()) r.input_feature = std::move(c.features[0]);
        r.decoded_feature = std::move(c.decoded[0]);
        r.vocoder_raw = std::move(c.waves[0]);
        if (opts_.stage != Stage::vae) {
            if (r.vocoder_raw.size() < c.n)
                throw ModelError(where + ": vocoder returned " + std::to_string(r.vocoder_raw.size()) +
                                 " samples for " + std::to_string(c.n));
            r.output.assign(r.vocoder_raw.begin(), r.vocoder_raw.begin() + static_cast<long>(c.n));
        }
    } else {
        r.input_feature = std::move(c.full_feature);
        r.decoded_feature = std::move(c.stitched_feature);
        r.output = std::move(c.out);
        if (opts_.stage != Stage::vae) r.output.resize(c.n);
    }
    restore_level(r.output, r.gain);
    return r;
}

Reconstruction run_single(BatchRunner& runner) {
    while (runner.queued_windows() > 0) {
        for (auto& c : runner.step()) {
            if (c.cancelled) throw Cancelled();
            if (!c.ok) throw ModelError(c.error);
            return std::move(c.result);
        }
    }
    throw Error(ExitCode::internal, "BatchRunner: the clip never completed");
}

Reconstruction reconstruct(Models& models, const std::vector<float>& audio, const ReconstructOptions& opts) {
    BatchRunner runner(models, opts);
    runner.add(audio);
    return run_single(runner);
}

}  // namespace ldmrecon
