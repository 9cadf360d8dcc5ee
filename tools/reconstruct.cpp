// `ldmrecon IN... (-o OUT | --out-dir DIR)`: the reconstruction command, one file or thousands.
// Reads inputs one by one, feeds their windows to a BatchRunner (models loaded once, equal-length
// windows batched), finalises each clip as it completes (metrics, atomic write, report record), and ends
// with a summary, an optional baseline comparison and an exit status that says what happened.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <deque>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <set>

#include "commands.hpp"
#include "run_signals.hpp"
#include "ldmrecon/audio.hpp"
#include "ldmrecon/blas.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/inputs.hpp"
#include "ldmrecon/limits.hpp"
#include "ldmrecon/metrics.hpp"
#include "ldmrecon/npy.hpp"
#include "ldmrecon/outputs.hpp"
#include "ldmrecon/report.hpp"
#include "ldmrecon/plot.hpp"
#include "ldmrecon/results.hpp"
#include "ldmrecon/stopwatch.hpp"
#include "ldmrecon/work_pool.hpp"

namespace fs = std::filesystem;

namespace ldmrecon::cli {

namespace {

// A progress line on a terminal; nothing otherwise (the per-file log lines say enough).
class Progress {
public:
    Progress(std::size_t total, bool enabled) : total_(total), on_(enabled && ::isatty(2)), t0_(Clock::now()) {}
    bool active() const { return on_; }
    void update(std::size_t done, double audio_seconds, const std::string& name) {
        if (!on_) return;
        const double el = seconds_since(t0_);
        const int width = 24;
        const int fill = total_ ? static_cast<int>(width * done / total_) : width;
        std::string bar(static_cast<std::size_t>(fill), '=');
        bar.resize(width, ' ');
        const double eta = done ? el / done * (total_ - done) : 0;
        std::fprintf(stderr, "\r\033[K[%s] %zu/%zu  %.1fx real time  ETA %d:%02d  %s", bar.c_str(), done, total_,
                     el > 0 ? audio_seconds / el : 0.0, static_cast<int>(eta) / 60, static_cast<int>(eta) % 60,
                     fs::path(name).filename().string().c_str());
        std::fflush(stderr);
    }
    // Clears the line, so a log line printed next does not run into the bar.
    void finish() {
        if (on_) std::fprintf(stderr, "\r\033[K");
    }

private:
    std::size_t total_;
    bool on_;
    Clock::time_point t0_;
};

struct Job {
    InputFile in;
    std::string output;
    FileResult result;
    int code = 0;  // ExitCode of a failure
    AudioBuffer source_info;  // rate and channels (samples dropped)
    std::size_t source_frames = 0;
    std::vector<float> input;  // at the model rate, kept for the metrics until the clip completes
    double t_read = 0;
};

std::string name_error(const std::string& path, const std::string& msg) {
    return msg.rfind(path, 0) == 0 ? msg : path + ": " + msg;
}

// The input's feature beside the feature of what came out: the output audio's (at the input's
// normalisation) when there is audio, else the VAE's decoded feature.
FeaturePlot plot_of(const Reconstruction& r, LogMel& logmel, const ReconstructOptions& o, const std::string& input) {
    FeaturePlot p;
    p.feature = logmel.config();
    p.title = fs::path(input).filename().string();
    p.input = r.input_feature;
    p.input.rows = std::min(p.input.rows, r.frames);
    p.input.data.resize(p.input.rows * p.input.cols);
    if (o.stage == Stage::vae) {
        p.reconstructed = r.decoded_feature;
        p.reconstructed_label = "VAE decoded feature";
    } else {
        std::vector<float> y = r.output;
        for (float& v : y) v = static_cast<float>((v - r.gain.mean) * r.gain.scale);
        p.reconstructed = logmel.compute(y);
        p.reconstructed_label = std::string("feature of the output audio (") + stage_name(o.stage) + ", " +
                                vocoder_name(o.vocoder) + ")";
    }
    if (is_db_family(p.feature.scale)) p.diff_range = 30.0;  // dB, not ln units
    return p;
}

// Everything this run reads, so that no output can be one of them: the audio, @lists, the baseline and
// the models (when they can be found; a missing models folder is reported when the models load).
void add_run_inputs(OutputPlan& plan, const ReconstructArgs& a, const std::vector<InputFile>& inputs) {
    for (const auto& in : inputs)
        if (in.error.empty()) plan.add_input(in.path);
    for (const auto& arg : a.inputs)
        if (arg.size() > 1 && arg[0] == '@') plan.add_input(arg.substr(1));
    if (!a.baseline.empty()) plan.add_input(a.baseline);
    add_models_as_inputs(plan, a.models);
}

// True when `path` lies inside the folder `dir` (lexically, both made absolute).
bool lies_inside(const std::string& path, const std::string& dir) {
    if (dir.empty() || is_standard_output(path)) return false;
    const fs::path rel = fs::absolute(path).lexically_normal().lexically_relative(fs::absolute(dir).lexically_normal());
    return !rel.empty() && *rel.begin() != "..";
}

// The outputs that are one per run (report, plot, dump folder): refused together, before any work.
void add_run_outputs(OutputPlan& plan, const ReconstructArgs& a) {
    if (!a.report.empty()) {
        report_format(a.report);  // .json, .jsonl or .csv (any case), else refused now
        // A report inside the --out-dir this run creates may have its folders created with it.
        plan.add_output(a.report, "--report", true, lies_inside(a.report, a.out_dir));
    }
    if (!a.plot.empty()) {
        check_output_extension(a.plot, "--plot", FileKind::plot);
        plan.add_output(a.plot, "--plot");
    }
    if (!a.dump_dir.empty()) {
        check_output_folder_path(a.dump_dir, "--dump-dir");
        for (const char* f : {"feature.npy", "decoded.npy", "vocoder_raw.npy", "output.npy"})
            plan.add_output((fs::path(a.dump_dir) / f).string(), "--dump-dir", false, true);
    }
    if (!a.out_dir.empty()) check_output_folder_path(a.out_dir, "--out-dir");
    if (a.json && (plan.claims_standard_output() || is_standard_output(a.output)))
        throw UsageError("--json prints on standard output, which an output given as - already takes");
}

// "no audio files in" the folders (and lists) given, naming them.
std::string no_audio_message(const std::vector<std::string>& args) {
    std::string where;
    for (const auto& arg : args) where += (where.empty() ? "" : ", ") + arg;
    return "no audio files in " + where + " (folders are searched for .wav .flac .ogg .opus .mp3 .aif(f) .au .caf "
           ".w64 .rf64 .voc; name other files directly)";
}

// The report record of one finished clip: what ran, on what, what came out, the measures and the times.
struct ClipTimes {
    double metrics = 0, write = 0;
};

nlohmann::json clip_record(const ReconstructArgs& a, const ReconstructOptions& popts, const Models* models,
                           const std::string& dir, const Job& j, const Reconstruction& r, const Metrics& m,
                           const MelDistance& vae, std::size_t clipped, const ClipTimes& t, int rate, int n_mels) {
    const bool audio_out = popts.stage != Stage::vae;
    const double seconds = static_cast<double>(j.input.size()) / rate;
    const double model_time = r.times.feature + r.times.model();
    nlohmann::json rec = j.result.record;
    rec["status"] = "ok";
    rec["tool"] = version_string();
    rec["input_audio"] = {{"sample_rate", j.source_info.sample_rate}, {"channels", j.source_info.channels},
                          {"frames", j.source_frames}, {"seconds", seconds}};
    rec["stage"] = stage_name(popts.stage);
    if (audio_out) {
        rec["vocoder"] = vocoder_name(popts.vocoder);
        if (popts.vocoder == VocoderKind::griffin_lim) rec["gl_iterations"] = popts.gl_iterations;
        rec["output_audio"] = {{"sample_rate", rate}, {"samples", r.output.size()}, {"format", a.format},
                               {"clipped_samples", clipped}};
    }
    rec["models"] = nullptr;
    if (models)
        rec["models"] = {{"dir", dir},
                         {"description", models->description()},
                         {"weights", models->vae_metadata().value("weights", "")},
                         {"source", models->vae_metadata().value("source", "")},
                         {"scaling_factor", models->scaling_factor()}};
    rec["runtime"] = {
        {"device", models ? models->device_name() : "cpu"},
        {"dtype", models ? models->dtype_name() : "fp64 (Griffin-Lim)"},
        {"libtorch", libtorch_version()},
        {"libtorch_cuda", libtorch_cuda_version().empty() ? nlohmann::json() : nlohmann::json(libtorch_cuda_version())},
        {"cuda_devices", cuda_device_count()},
        {"threads", intra_op_threads()},
        {"backend", models ? models->backend() : "griffin-lim"},
        {"backend_reason", models ? models->backend_reason() : ""},
        {"blas", blas_description()},
        {"batch_size", popts.batch_size},
        {"omp_wait_policy", std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : ""}};
    rec["latent"] = {{"mode", a.pipeline.sample ? "sample" : "mode"}, {"shape", r.latent_shape}};
    if (a.pipeline.sample) rec["latent"]["seed"] = a.pipeline.seed;
    rec["feature"] = {{"frames", r.frames}, {"padded_frames", r.padded_frames}, {"n_mels", n_mels},
                      {"windows", r.windows}, {"window_frames", a.pipeline.window_frames},
                      {"overlap_frames", a.pipeline.overlap_frames}, {"gain", r.gain.scale},
                      {"dc_offset", r.gain.mean}};
    rec["metrics"] = audio_out ? metrics_json(m) : nlohmann::json::object();
    if (popts.stage != Stage::vocoder && m.measures.computes(measure_group::vae))
        rec["vae"] = {{"mel_l1", vae.l1},
                      {"mel_snr_db", std::isfinite(vae.snr_db) ? nlohmann::json(vae.snr_db) : nlohmann::json()}};
    rec["timings_s"] = {{"read", j.t_read},          {"feature", r.times.feature}, {"encode", r.times.encode},
                        {"decode", r.times.decode},  {"vocode", r.times.vocode},   {"metrics", t.metrics},
                        {"write", t.write},
                        {"total", j.t_read + r.times.feature + r.times.model() + t.metrics + t.write}};
    rec["x_realtime"] = model_time > 0 ? seconds / model_time : 0.0;  // audio seconds per model second: 2 = twice as fast
    rec["notes"] = "metrics compare the input (downmixed, resampled to the model rate) with the output; "
                   "SNR/MSE/Pearson are phase-sensitive and sit near 0 dB / 0 for any neural vocoder; lag "
                   "searched within +-" + format_number(a.max_lag_ms, 1) +
                   " ms; LSD floors powers at -100 dB; VAE mel measures cover the unpadded frames";
    return rec;
}

// --skip-existing: whether the output already there counts as done. A complete audio file does, and so
// does anything that is not audio (not this run's to replace; said once). An empty or cut-off file is
// what an interrupted writer leaves: it is done again. Standard output and /dev/null never exist.
bool skip_existing_output(const std::string& path) {
    std::error_code ec;
    if (is_standard_output(path) || is_discard(path) || !fs::exists(fs::symlink_status(path, ec))) return false;
    if (kind_of_path(path) == FileKind::array) return fs::file_size(path, ec) > 0;  // --stage vae's .npy
    switch (inspect_existing_output(path)) {
        case ExistingOutput::complete: return true;
        case ExistingOutput::not_audio:
            spdlog::warn("{}: exists and is not audio ldmrecon wrote; --skip-existing leaves it alone", path);
            return true;
        case ExistingOutput::empty:
            spdlog::warn("{}: exists but is empty; written again", path);
            return false;
        case ExistingOutput::truncated:
            spdlog::warn("{}: exists but is cut off (an interrupted write?); written again", path);
            return false;
    }
    return true;
}

// One run of the command: planned (inputs, outputs, jobs), then models started, inputs fed with bounded
// look-ahead, each clip finalised as it completes, and the run's reports and exit status at the end.
class ReconstructRun {
public:
    explicit ReconstructRun(const ReconstructArgs& a) : a_(a), t_start_(Clock::now()) {}

    int run() {
        read_options();
        plan_jobs();
        start();
        feed_inputs();
        progress_->finish();
        measure_skipped();
        return finish();
    }

private:
    void read_options();
    void plan_jobs();
    void check_output_mode(std::size_t n_inputs);
    void plan_job(std::size_t i, const InputFile& in, std::map<std::string, std::size_t>& claimed);
    void start();
    void load_models();
    void feed_inputs();
    void finalize(BatchRunner::Completed& c);
    void complete(Job& j, const BatchRunner::Completed& c);
    int worker_threads() const;
    void measure_skipped();
    bool remeasure(Job& j, const LogMel& feature);
    void write_clip(Job& j, const Reconstruction& r);
    void print_clip(const Job& j, const Reconstruction& r, const Metrics& m, const MelDistance& vae);
    void print_clip_table(const Job& j, const Reconstruction& r, const Metrics& m, const MelDistance& vae);
    void fail(Job& j, int code, const std::string& message);
    int finish();
    void write_report(const std::vector<FileResult>& results, const Summary& summary);

    const ReconstructArgs& a_;
    const Clock::time_point t_start_;
    ReconstructOptions popts_;
    SampleFormat format_ = SampleFormat::pcm16;
    std::map<std::string, double> tolerances_;
    std::vector<Requirement> requirements_;
    std::vector<FileResult> baseline_;
    bool audio_out_ = true, need_models_ = true, no_output_ = false, single_ = false;
    OutputPlan plan_;
    std::ostream* table_out_ = &std::cout;
    std::vector<Job> jobs_;
    std::size_t todo_ = 0, finished_ = 0;
    double audio_done_ = 0;
    std::unique_ptr<PesqHelper> pesq_;
    std::unique_ptr<Models> models_;
    std::string dir_;
    FeatureConfig fc_;  // AudioLDM2's unless models (or --models for Griffin-Lim alone) say otherwise
    std::unique_ptr<Progress> progress_;
    std::unique_ptr<BatchRunner> runner_;
    std::unique_ptr<LogMel> logmel_;
    std::map<std::size_t, std::size_t> clip_job_;  // BatchRunner id -> job
    MetricsOptions metrics_options_;
    // The pipeline (docs/batches.md): the main thread reads (ahead, on `behind_`'s threads too) and runs
    // the models; `behind_` measures and writes each finished clip. state_ guards what they share.
    std::unique_ptr<WorkPool> behind_;
    std::mutex state_, pesq_lock_;
};

void ReconstructRun::read_options() {
    format_ = parse_sample_format(a_.format);
    for (const auto& t : a_.tolerances) tolerances_.insert(parse_tolerance(t));
    for (const auto& r : a_.requirements) requirements_.push_back(parse_requirement(r));
    if (!a_.baseline.empty()) {
        baseline_ = read_results(a_.baseline);
        if (baseline_.empty())
            throw InputError(a_.baseline + ": holds no results, so nothing could be compared; a baseline is the "
                             "--report of an earlier run");
        warn_repeated(a_.baseline, baseline_);
    }
    popts_ = a_.pipeline;
    popts_.cancelled = [] { return interrupted(); };
    popts_.stage = parse_stage(a_.stage);
    popts_.vocoder = parse_vocoder(a_.vocoder);
    popts_.plan = parse_window_plan(a_.window_plan);
    popts_.fixed_level = parse_level(a_.level);
    audio_out_ = popts_.stage != Stage::vae;  // --stage vae ends at the decoded feature
    need_models_ = !(popts_.stage == Stage::vocoder && popts_.vocoder == VocoderKind::griffin_lim);
    if (!audio_out_ && !a_.output.empty() && fs::path(a_.output).extension() != ".npy")
        throw UsageError("--stage vae writes the decoded feature, not audio: give -o OUT.npy (or no -o)");
    metrics_options_.max_lag_ms = a_.max_lag_ms;
    metrics_options_.measures = measure_selection(a_.measures, a_.pesq, requirements_);
}

// -o for one input, --out-dir for several, neither only for --stage vae measuring alone.
void ReconstructRun::check_output_mode(std::size_t n_inputs) {
    no_output_ = !audio_out_ && a_.output.empty() && a_.out_dir.empty();
    single_ = !a_.output.empty() || (no_output_ && n_inputs == 1);
    if (no_output_) {
        // --stage vae with nothing to write: measures only.
    } else if (single_ && a_.out_dir.empty()) {
        if (n_inputs != 1 || (a_.inputs.size() == 1 && fs::is_directory(a_.inputs[0])))
            throw UsageError("-o names one output file but the inputs hold " + std::to_string(n_inputs) +
                             " files: use --out-dir DIR for several");
    } else if (!single_ && a_.out_dir.empty()) {
        throw UsageError("no output: add -o OUT.wav (one input) or --out-dir DIR");
    } else if (single_) {
        throw UsageError("give either -o or --out-dir, not both");
    }
    if (!a_.dump_dir.empty() && n_inputs != 1) throw UsageError("--dump-dir works with one input only");
    if (!a_.plot.empty() && n_inputs != 1) throw UsageError("--plot works with one input only");
}

void ReconstructRun::plan_jobs() {
    ExpandOptions eo;
    eo.exclude_dirs = {a_.out_dir};  // a second run must not read the first one's outputs
    std::vector<std::string> warnings;
    std::vector<InputFile> inputs = expand_inputs(a_.inputs, eo, &warnings);
    for (const auto& w : warnings) spdlog::warn("{}", w);
    if (inputs.empty()) throw InputError(no_audio_message(a_.inputs));
    if (!a_.shard.empty()) inputs = select_shard(std::move(inputs), parse_shard(a_.shard));
    check_output_mode(inputs.size());
    // One rule for every output, before any work (outputs.hpp): -o is checked here too, so a bad -o stops
    // the run; a batch's outputs are checked per file in plan_job, so one bad path fails one file.
    add_run_inputs(plan_, a_, inputs);
    add_run_outputs(plan_, a_);
    // A container libsndfile cannot write is refused now, not after the models ran (checked at the usual
    // 16 kHz; the models' own rate is checked again at the write).
    if (audio_out_ && !a_.output.empty()) check_audio_output(a_.output, format_, 16000);
    if (audio_out_ && !a_.out_dir.empty())
        check_audio_output((fs::path(a_.out_dir) / ("*." + a_.output_format)).string(), format_, 16000);
    if (!a_.output.empty()) {
        check_output_extension(a_.output, "-o", audio_out_ ? FileKind::audio : FileKind::array);
        plan_.add_output(a_.output, "-o", true);
    }
    // Standard output carries a WAV or report there: the table goes to stderr instead.
    table_out_ = plan_.claims_standard_output() ? &std::cerr : &std::cout;
    jobs_.resize(inputs.size());
    std::map<std::string, std::size_t> claimed;  // output path -> job
    for (std::size_t i = 0; i < inputs.size(); ++i) plan_job(i, inputs[i], claimed);
    for (const Job& j : jobs_) todo_ += j.result.status == "ok";
}

void ReconstructRun::plan_job(std::size_t i, const InputFile& in, std::map<std::string, std::size_t>& claimed) {
    Job& j = jobs_[i];
    j.in = in;
    j.output = !a_.output.empty() ? a_.output : no_output_ ? std::string() : output_path_for(j.in, a_.out_dir, "." + a_.output_format);
    if (!audio_out_ && !j.output.empty() && a_.output.empty()) j.output = fs::path(j.output).replace_extension(".npy").string();
    j.result.input = utf8_escaped(j.in.path);  // as the report holds it, so baselines match
    j.result.output = j.output;
    j.result.record = {{"input", j.in.path}, {"output", j.output}};
    if (j.in.error.empty() && j.in.path == "-" && a_.output.empty())
        j.in.error = "-: standard input has no name for --out-dir to mirror; give -o OUT.wav";
    if (!j.in.error.empty()) {
        fail(j, static_cast<int>(ExitCode::input), j.in.error);
    } else if (a_.skip_existing && !j.output.empty() && skip_existing_output(j.output)) {
        j.result.status = "skipped";
    } else if (j.output.empty() || !a_.output.empty()) {
        // nothing written, or -o: checked with the run's outputs
    } else if (auto [it, fresh] = claimed.emplace(fs::path(j.output).lexically_normal().string(), i); !fresh) {
        fail(j, static_cast<int>(ExitCode::usage), j.in.path + ": its output " + j.output + " is also " +
                                                       jobs_[it->second].in.path +
                                                       "'s; give them a folder argument so the names mirror their paths");
    } else if (auto refusal = plan_.try_add_output(j.output, "--out-dir", true); refusal.code != ExitCode::ok) {
        fail(j, static_cast<int>(refusal.code), name_error(j.in.path, refusal.message));
    }
}

// A job that failed before any model ran: its record says why (the log line comes in start()).
void ReconstructRun::fail(Job& j, int code, const std::string& message) {
    j.result.status = "failed";
    j.result.error = message;
    j.code = code;
}

void ReconstructRun::load_models() {
    dir_ = resolve_models_dir(a_.models);
    const auto t0 = Clock::now();
    models_ = std::make_unique<Models>(dir_, a_.runtime);
    spdlog::info("device {}, dtype {}, {}, {} thread(s), BLAS {}; models from {} ({:.2f} s to load)",
                 models_->device_name(), models_->dtype_name(), libtorch_description(), intra_op_threads(),
                 blas_description(), dir_, seconds_since(t0));
    spdlog::info("backend {}: {}", models_->backend(), models_->backend_reason());
    fc_ = models_->feature();
}

void ReconstructRun::start() {
    pesq_ = start_pesq(metrics_options_.measures.computes(measure_group::pesq) && audio_out_ && todo_ > 0);
    if (todo_ > 0 && !need_models_) {
        if (!a_.models.empty()) fc_ = feature_of_models_dir(a_.models);
        spdlog::info("--stage vocoder --vocoder griffin-lim: no models run ({} iterations, CPU)", popts_.gl_iterations);
    } else if (todo_ > 0) {
        load_models();
    }
    if (audio_out_ && todo_ > 0)  // at the models' rate
        attach_measure_networks(metrics_options_, a_.networks, a_.models, a_.runtime.device, fc_.sample_rate);
    if (todo_ > 0 && !a_.out_dir.empty()) make_folders(a_.out_dir);
    if (jobs_.size() > 1)
        spdlog::info("{} input(s): {} to do, {} skipped (output exists), {} unusable", jobs_.size(), todo_,
                     std::count_if(jobs_.begin(), jobs_.end(), [](const Job& j) { return j.result.status == "skipped"; }),
                     std::count_if(jobs_.begin(), jobs_.end(), [](const Job& j) { return j.result.status == "failed"; }));
    for (const Job& j : jobs_)
        if (j.result.status == "failed") spdlog::error("{}", j.result.error);
    if (jobs_.size() == 1 && jobs_[0].result.status == "skipped")
        spdlog::info("{}: {} exists; skipped (--skip-existing)", jobs_[0].in.path, jobs_[0].output);
    progress_ = std::make_unique<Progress>(todo_, !a_.quiet && jobs_.size() > 1);
    if (todo_ == 0) return;
    // Batching pays on a GPU; on the CPU it only multiplies the attention's memory.
    if (popts_.batch_size == 0) popts_.batch_size = models_ && models_->device_name() != "cpu" ? 8 : 1;
    runner_ = models_ ? std::make_unique<BatchRunner>(*models_, popts_) : std::make_unique<BatchRunner>(nullptr, fc_, 4, popts_);
    logmel_ = std::make_unique<LogMel>(fc_);
    const int threads = worker_threads();
    behind_ = std::make_unique<WorkPool>(threads, 2 * static_cast<std::size_t>(std::max(1, threads)));
    if (threads > 0 && todo_ > 1) spdlog::info("pipeline: {} worker thread(s) reading ahead, measuring and writing behind", threads);
}

// --jobs, or the default: on a GPU every core but the one feeding it; on the CPU one, beside the models'
// own threads (docs/speed.md has the measured split). One file has nothing to overlap.
int ReconstructRun::worker_threads() const {
    if (todo_ <= 1) return 0;
    if (a_.jobs >= 0) return a_.jobs;
    const bool gpu = models_ && models_->device_name() != "cpu";
    return gpu ? std::max(1, limits::hardware_threads() - 1) : 1;
}

// Reads the inputs one by one with bounded look-ahead: enough clips in flight to fill batches, never the
// whole corpus in memory.
void ReconstructRun::feed_inputs() {
    if (!runner_) return;
    auto run_step = [&] {
        for (auto& c : runner_->step()) finalize(c);
    };
    const std::size_t max_in_flight = std::max<std::size_t>(8, 2 * static_cast<std::size_t>(popts_.batch_size));
    // Reading and resampling ahead of the models, a few files deep; taken in order, so errors and
    // results come as a sequential run's.
    struct Read {
        MonoAudio audio;
        double seconds = 0;
    };
    const std::size_t depth = static_cast<std::size_t>(std::max(0, behind_->threads()));
    std::deque<std::pair<std::size_t, std::future<Read>>> ahead;
    std::size_t next = 0;
    const int rate = fc_.sample_rate;
    auto read = [rate](std::string path) {
        const auto t0 = Clock::now();
        Read r{read_mono(path, rate), 0};
        r.seconds = seconds_since(t0);
        return r;
    };
    auto fill = [&] {
        for (; next < jobs_.size() && ahead.size() < depth && !interrupted(); ++next)
            if (jobs_[next].result.status == "ok")
                ahead.emplace_back(next, std::async(std::launch::async, read, jobs_[next].in.path));
    };
    for (std::size_t i = 0; i < jobs_.size() && !interrupted(); ++i) {
        Job& j = jobs_[i];
        if (j.result.status != "ok") continue;
        try {
            fill();
            Read r;
            if (!ahead.empty() && ahead.front().first == i) {
                auto f = std::move(ahead.front().second);
                ahead.pop_front();
                r = f.get();
            } else {
                r = read(j.in.path);
                next = std::max(next, i + 1);
            }
            j.source_info.sample_rate = r.audio.source_rate;
            j.source_info.channels = r.audio.source_channels;
            j.source_frames = r.audio.source_frames;
            j.input = std::move(r.audio.samples);
            j.t_read = r.seconds;
            clip_job_[runner_->add(j.input)] = i;
            const std::lock_guard<std::mutex> lock(state_);
            progress_->update(finished_, audio_done_, j.in.path);  // the file now going in, from the first
        } catch (const Cancelled&) {
            break;  // a signal while reading (a quiet pipe): this input, like those in flight, is not reported
        } catch (const Error& e) {
            const std::lock_guard<std::mutex> lock(state_);
            fail(j, static_cast<int>(e.code()), name_error(j.in.path, e.what()));
            ++finished_;
            progress_->finish();
            spdlog::error("{}", j.result.error);
            continue;
        }
        while (!interrupted() && (runner_->queued_windows() >= static_cast<std::size_t>(popts_.batch_size) ||
                                  runner_->clips_in_flight() >= max_in_flight))
            run_step();
    }
    while (!interrupted() && runner_->queued_windows() > 0) run_step();
    behind_->wait();  // what is in flight behind the models is finished, also after a signal
}

void ReconstructRun::finalize(BatchRunner::Completed& c) {
    const std::size_t job = clip_job_.at(c.id);
    clip_job_.erase(c.id);
    if (c.cancelled) return;  // interrupted in flight: neither written nor reported
    auto done = std::make_shared<BatchRunner::Completed>(std::move(c));
    behind_->submit([this, job, done] { complete(jobs_[job], *done); });
}

// Measures and writes a finished clip (on a worker thread when there are any).
void ReconstructRun::complete(Job& j, const BatchRunner::Completed& c) {
    try {
        if (!c.ok) throw ModelError(c.error);
        write_clip(j, c.result);
    } catch (const std::exception& e) {
        // A file's own failure (its model run, its output, its metrics) stops that file, never the batch.
        const auto* err = dynamic_cast<const Error*>(&e);
        const bool oom = dynamic_cast<const std::bad_alloc*>(&e) != nullptr;
        const ExitCode code = err ? err->code() : oom ? ExitCode::internal : ExitCode::output;
        const std::lock_guard<std::mutex> lock(state_);
        fail(j, static_cast<int>(code), name_error(j.in.path, oom ? "out of memory" : e.what()));
        j.result.record["status"] = "failed";
        j.result.record["error"] = j.result.error;
        ++finished_;
        progress_->finish();
        spdlog::error("{}", j.result.error);
    }
    j.input.clear();
    j.input.shrink_to_fit();
    const std::lock_guard<std::mutex> lock(state_);
    progress_->update(finished_, audio_done_, j.in.path);
}

// A skipped file still counts in a regression check (--baseline, --require): its record from the report
// this run replaces when that names the same output, else its existing output measured again against the
// input (no model runs; the VAE's own measures need the models, so only the audio's are then compared).
void ReconstructRun::measure_skipped() {
    if ((a_.baseline.empty() && requirements_.empty()) || !audio_out_) return;
    std::map<std::string, FileResult> earlier;  // input -> its measured record in the report being replaced
    if (!a_.report.empty() && !is_standard_output(a_.report) && fs::is_regular_file(a_.report)) {
        try {
            for (auto& r : read_results(a_.report))  // ok, or skipped with the measures it carried on
                if (r.status == "ok" || (r.status == "skipped" && !r.metrics.empty())) earlier[r.input] = std::move(r);
        } catch (const Error&) {
            // not a report we can read: measure again
        }
    }
    std::unique_ptr<LogMel> feature;
    for (Job& j : jobs_) {
        if (j.result.status != "skipped" || interrupted()) continue;
        const auto it = earlier.find(j.result.input);
        if (it != earlier.end() && it->second.output == utf8_escaped(j.output)) {
            j.result = it->second;
            j.result.record["measures_from"] = "the earlier report " + a_.report;
        } else {
            if (!feature) feature = std::make_unique<LogMel>(models_ || !need_models_ ? fc_ : feature_of_models_dir(a_.models));
            if (!remeasure(j, *feature)) continue;
        }
        j.result.status = "skipped";
        j.result.record["status"] = "skipped";
    }
}

// The existing output of a skipped job measured against its input, into the job's record; false (with a
// warning) when it cannot be (then the check counts the file as unchecked).
bool ReconstructRun::remeasure(Job& j, const LogMel& feature) {
    try {
        const int rate = feature.config().sample_rate;
        const MonoAudio in = read_mono(j.in.path, rate), out = read_mono(j.output, rate);
        const Metrics m = compare_signals(in.samples, out.samples, feature, metrics_options_);
        nlohmann::json rec = {{"input", j.in.path}, {"output", j.output}, {"status", "skipped"},
                              {"input_audio", {{"seconds", in.seconds()}}}, {"metrics", metrics_json(m)},
                              {"measures_from", "the existing output, measured again (as written: PCM rounding "
                                                "and clipping included)"}};
        j.result = result_from_json(rec);
        return true;
    } catch (const Error& e) {
        spdlog::warn("{}: skipped, and its output cannot be measured again ({}): not checked", j.in.path, e.what());
        return false;
    }
}

// Measures a completed clip, writes its outputs and fills its record.
void ReconstructRun::write_clip(Job& j, const Reconstruction& r) {
    auto t0 = Clock::now();
    ClipTimes times;
    Metrics m{};
    m.measures = metrics_options_.measures;
    if (audio_out_) m = compare_signals(j.input, r.output, *logmel_, metrics_options_);
    if (pesq_) {
        const std::lock_guard<std::mutex> lock(pesq_lock_);  // one helper process, one request at a time
        m.pesq = pesq_->score(j.input, r.output, fc_.sample_rate);
        if (std::isnan(m.pesq)) spdlog::warn("{}: PESQ: {}", j.in.path, pesq_->last_error());
    }
    const MelDistance vae = mel_distance(r.input_feature, r.decoded_feature, r.frames);
    times.metrics = seconds_since(t0);
    t0 = Clock::now();
    if (!a_.out_dir.empty()) {
        const std::lock_guard<std::mutex> lock(state_);
        make_folders(fs::path(j.output).parent_path().string());
    }
    std::size_t clipped = 0;
    if (audio_out_)
        clipped = write_wav(j.output, r.output, fc_.sample_rate, format_);
    else if (!j.output.empty())
        write_npy(j.output, r.decoded_feature);
    if (!a_.dump_dir.empty()) {
        make_folders(a_.dump_dir);
        write_npy((fs::path(a_.dump_dir) / "feature.npy").string(), r.input_feature);
        write_npy((fs::path(a_.dump_dir) / "decoded.npy").string(), r.decoded_feature);
        write_npy((fs::path(a_.dump_dir) / "vocoder_raw.npy").string(), r.vocoder_raw);
        write_npy((fs::path(a_.dump_dir) / "output.npy").string(), r.output);
    }
    if (!a_.plot.empty()) write_png(a_.plot, render_feature_plot(plot_of(r, *logmel_, popts_, j.in.path)));
    times.write = seconds_since(t0);
    if (clipped > 0)
        spdlog::warn("{}: {} sample(s) clipped to [-1, 1] in the {} output (use --format float to keep them)", j.output,
                     clipped, a_.format);
    j.result = result_from_json(
        clip_record(a_, popts_, models_.get(), dir_, j, r, m, vae, clipped, times, fc_.sample_rate, fc_.n_mels));
    const std::lock_guard<std::mutex> lock(state_);
    ++finished_;
    audio_done_ += static_cast<double>(j.input.size()) / fc_.sample_rate;
    print_clip(j, r, m, vae);
}

// A log line per file in a batch; the whole table for one file.
void ReconstructRun::print_clip(const Job& j, const Reconstruction& r, const Metrics& m, const MelDistance& vae) {
    const double seconds = static_cast<double>(j.input.size()) / fc_.sample_rate;
    const bool table = single_ && !a_.json && !a_.quiet;  // the table says it all for one file
    if (table) {
        print_clip_table(j, r, m, vae);
    } else if (!progress_->active() && audio_out_) {
        spdlog::info("[{}/{}] {} -> {}: {:.2f} s, log-mel L1 {:.3f}, LSD {:.2f} dB, STOI {:.3f}", finished_, todo_,
                     j.in.path, j.output, seconds, m.mel.l1, m.lsd_db, m.stoi);
    } else if (!progress_->active()) {
        spdlog::info("[{}/{}] {}: {:.2f} s, VAE log-mel L1 {:.3f}, mel SNR {:.2f} dB", finished_, todo_, j.in.path,
                     seconds, vae.l1, vae.snr_db);
    }
}

void ReconstructRun::print_clip_table(const Job& j, const Reconstruction& r, const Metrics& m, const MelDistance& vae) {
    std::ostream& out = *table_out_;
    if (!audio_out_) {
        out << j.in.path << ": --stage vae, " << r.frames << " frames\n"
            << "VAE alone (its decoded feature vs the feature it was given)\n"
            << "  VAE log-mel L1         " << format_number(vae.l1, 4) << "   ln units\n"
            << "  VAE log-mel SNR        " << format_number(vae.snr_db, 2) << " dB\n";
        return;
    }
    const double seconds = static_cast<double>(j.input.size()) / fc_.sample_rate;
    const double model_time = r.times.feature + r.times.model();
    std::string shape;
    for (auto d : r.latent_shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    char head[512];
    std::snprintf(head, sizeof head,
                  "%s -> %s\n  %.2f s of audio (%d Hz, %d ch) at %d Hz; %zu frames (%zu window(s), %zu "
                  "frames run); latent [%s]\n  %s on %s, %s; model time %.3f s = %.1fx real time\n",
                  j.in.path.c_str(), j.output.c_str(), seconds, j.source_info.sample_rate, j.source_info.channels,
                  fc_.sample_rate, r.frames, r.windows, r.padded_frames, shape.empty() ? "none" : shape.c_str(),
                  popts_.stage == Stage::vocoder ? "input's own feature" : a_.pipeline.sample ? "sampled latent" : "posterior mode",
                  models_ ? models_->device_name().c_str() : "cpu", models_ ? models_->dtype_name().c_str() : "fp64",
                  model_time, seconds / model_time);
    out << head << "  models: " << (models_ ? models_->describe() : std::string("none (Griffin-Lim)")) << "\n  stage "
        << stage_name(popts_.stage) << ", vocoder " << vocoder_name(popts_.vocoder) << "\n"
        << metrics_table(m, popts_.stage != Stage::vocoder ? &vae : nullptr);
}

// One file asked for with -o: its record; otherwise the summary and every record. As .csv, .jsonl or JSON.
void ReconstructRun::write_report(const std::vector<FileResult>& results, const Summary& summary) {
    if (!a_.report.empty()) {
        if (lies_inside(a_.report, a_.out_dir)) make_folders(fs::path(a_.report).parent_path().string());
        write_file_atomically(a_.report, report_text(results, summary, report_format(a_.report), single_));
    }
    if (a_.json)
        std::cout << report_text(results, summary, "json", single_);
    else if (!single_ && !a_.quiet)
        *table_out_ << summary_table(summary);
}

// Reports of what finished (clips still in flight at an interruption were not written and are left out),
// the baseline comparison, and the exit status that says what happened.
int ReconstructRun::finish() {
    std::vector<FileResult> results;
    for (Job& j : jobs_) {
        if (j.result.status == "ok" && !j.result.record.contains("metrics")) continue;  // never finished
        if (j.result.status != "ok") {
            j.result.record["status"] = j.result.status;
            if (!j.result.error.empty()) j.result.record["error"] = j.result.error;
        }
        results.push_back(j.result);
    }
    const Summary summary = summarise(results, seconds_since(t_start_));
    write_report(results, summary);
    bool regressed = false;
    if (!a_.baseline.empty() || !requirements_.empty()) {
        const Comparison cmp = compare_results(results, baseline_, tolerances_, requirements_);
        regressed = cmp.failed();
        *table_out_ << comparison_table(cmp);
    }
    if (interrupted()) {
        spdlog::warn("interrupted: {} of {} file(s) finished and written; run again with --skip-existing to resume",
                     summary.ok, todo_);
        return kExitInterrupted;
    }
    if (summary.failed > 0) {
        if (jobs_.size() == 1) return jobs_[0].code;  // one input: its own error's status
        spdlog::error("{} of {} file(s) failed", summary.failed, summary.files);
        return kExitSomeFailed;
    }
    return regressed ? kExitRegression : 0;
}

}  // namespace

int run_reconstruct(const ReconstructArgs& a) {
    if (a.stream) return run_stream(a);
    if (a.latency > 0 || a.report_every > 0 || a.raw_output)
        throw UsageError(std::string(a.latency > 0 ? "--latency" : a.raw_output ? "--raw-output" : "--report-every") +
                         " works with --stream only");
    SignalGuard signals;  // from the start: a signal while the models load ends the run as cleanly
    return ReconstructRun(a).run();
}

}  // namespace ldmrecon::cli
