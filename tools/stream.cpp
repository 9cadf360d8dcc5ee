// `ldmrecon IN --stream -o OUT`: one input (a file, "-" or a FIFO) reconstructed as it arrives, the output
// written as soon as each window's cross-fade is final. The level is fixed and the windows follow the
// streamed plan (pipeline.hpp), so the samples equal an offline run's with `--level fixed --window-plan
// streamed` and the same windows. The log says what each window costs against the hop it must beat.
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cmath>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>

#include "commands.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/limits.hpp"
#include "ldmrecon/measures.hpp"
#include "ldmrecon/metrics.hpp"
#include "ldmrecon/outputs.hpp"
#include "ldmrecon/report.hpp"
#include "ldmrecon/stopwatch.hpp"
#include "ldmrecon/stream_input.hpp"
#include "ldmrecon/stream_output.hpp"
#include "run_signals.hpp"

namespace ldmrecon::cli {

namespace {

// What a stream costs in real time: each window's compute against the new audio it brings.
struct RealTime {
    double hop_s = 0;  // new audio per window
    double compute_s = 0, worst_s = 0;
    std::size_t windows = 0, slow = 0;
    double warned_at = -1e9;
    std::deque<double> recent;  // the last windows but the first (libtorch's profiling run makes it slow)
    void add(double s) {
        compute_s += s;
        worst_s = std::max(worst_s, s);
        slow += s > hop_s;
        if (windows++ > 0) recent.push_back(s);
        if (recent.size() > 8) recent.pop_front();
    }
    double recent_mean() const {
        double sum = 0;
        for (double v : recent) sum += v;
        return recent.empty() ? 0.0 : sum / static_cast<double>(recent.size());
    }
};

// The report's lines: the file is a temporary renamed into place at the end (standard output: as they come).
class ReportLines {
public:
    explicit ReportLines(const std::string& path) : path_(path) {
        if (path.empty() || is_standard_output(path)) return;
        tmp_ = std::make_unique<TempFile>(path);
        file_.open(tmp_->path());
        if (!file_) throw OutputError(path + ": cannot write");
    }
    void line(const nlohmann::json& j) {
        if (path_.empty()) return;
        std::ostream& o = tmp_ ? static_cast<std::ostream&>(file_) : std::cout;
        o << json_text(j) << '\n';
        o.flush();
        if (!o) throw OutputError((tmp_ ? path_ : std::string("standard output")) + ": write failed");
    }
    void finish() {
        if (!tmp_) return;
        file_.close();
        if (!file_) throw OutputError(path_ + ": write failed");
        tmp_->commit();
    }

private:
    std::string path_;
    std::unique_ptr<TempFile> tmp_;
    std::ofstream file_;
};

class StreamRun {
public:
    explicit StreamRun(const ReconstructArgs& a) : a_(a) {}
    int run();

private:
    void check_args();
    void load_models();
    void choose_windows();
    void pump();
    void completed(std::vector<BatchRunner::Completed> done);
    void take_output(std::vector<float> y);
    void report_intervals(bool final);
    nlohmann::json final_record(bool interrupted);
    void warn_if_behind();

    const ReconstructArgs& a_;
    ReconstructOptions popts_;
    SampleFormat format_ = SampleFormat::pcm16;
    std::unique_ptr<Models> models_;
    std::string dir_;
    FeatureConfig fc_;
    int multiple_ = 4;
    std::unique_ptr<BatchRunner> runner_;
    std::unique_ptr<LogMel> logmel_;
    std::unique_ptr<StreamWriter> writer_;
    std::unique_ptr<ReportLines> report_;
    std::size_t id_ = 0, clipped_ = 0;
    RealTime rt_;
    Clock::time_point t0_ = Clock::now();
    // Measures: input and output since `meas_base` for the next interval, and the whole stream while it
    // fits `keep_limit_` samples (the whole-signal measures need it all).
    MetricsOptions interval_opts_, whole_opts_;
    std::vector<float> in_hist_, out_hist_, all_in_, all_out_;
    std::size_t meas_base_ = 0, out_total_ = 0, in_total_ = 0, keep_limit_ = 0, intervals_ = 0;
    bool kept_all_ = true, finished_ = false, output_lost_ = false;
};

void StreamRun::check_args() {
    if (a_.inputs.size() != 1 || (!a_.inputs[0].empty() && a_.inputs[0][0] == '@'))
        throw UsageError("--stream takes one input (a file, - for standard input, or a FIFO)");
    if (a_.output.empty() || !a_.out_dir.empty()) throw UsageError("--stream writes one output: give -o OUT.wav or -o -");
    for (const auto& [given, what] : {std::pair<bool, const char*>{!a_.baseline.empty(), "--baseline"},
                                      {!a_.requirements.empty(), "--require"}, {a_.skip_existing, "--skip-existing"},
                                      {!a_.dump_dir.empty(), "--dump-dir"}, {!a_.plot.empty(), "--plot"},
                                      {!a_.shard.empty(), "--shard"}, {a_.pesq, "--pesq"}})
        if (given) throw UsageError(std::string(what) + " does not work with --stream: run it on the written output");
    if (a_.stage == "vae") throw UsageError("--stream writes audio: --stage vae has none");
    if (a_.report_every < 0) throw UsageError("--report-every must be positive");
    if (a_.report_every > 0 && a_.report.empty())
        throw UsageError("--report-every writes one JSON line per interval: give --report OUT.jsonl (or -)");
    if (!a_.report.empty() && !is_standard_output(a_.report) && report_format(a_.report) != "jsonl")
        throw UsageError("--stream writes its report as JSON Lines (its intervals, then the whole stream): give "
                         "--report OUT.jsonl (or -)");
    if (a_.json && (is_standard_output(a_.output) || is_standard_output(a_.report)))
        throw UsageError("--json prints on standard output, which an output given as - already takes");
    if (a_.raw_output && !is_standard_output(a_.output))
        throw UsageError("--raw-output is for -o - (a file's extension names its container)");
    if (a_.latency > 0 && a_.pipeline.window_frames != ReconstructOptions{}.window_frames)
        throw UsageError("--latency picks the window: give --latency or --window-frames, not both");
    format_ = parse_sample_format(a_.format);
    popts_ = a_.pipeline;
    popts_.plan = WindowPlan::streamed;
    popts_.fixed_level = true;
    popts_.stage = parse_stage(a_.stage);
    popts_.vocoder = parse_vocoder(a_.vocoder);
    popts_.batch_size = 1;  // each window as soon as it is in
    OutputPlan plan;
    if (a_.inputs[0] != "-") plan.add_input(a_.inputs[0]);
    add_models_as_inputs(plan, a_.models);
    check_output_extension(a_.output, "-o", FileKind::audio);
    plan.add_output(a_.output, "-o", true);
    if (!a_.report.empty()) plan.add_output(a_.report, "--report", true);
    check_audio_output(a_.output, format_, 16000);
}

void StreamRun::load_models() {
    if (popts_.stage == Stage::vocoder && popts_.vocoder == VocoderKind::griffin_lim) {
        fc_ = a_.models.empty() ? FeatureConfig{} : feature_of_models_dir(a_.models);
        return;
    }
    dir_ = resolve_models_dir(a_.models);
    models_ = std::make_unique<Models>(dir_, a_.runtime);
    fc_ = models_->feature();
    multiple_ = models_->time_multiple();
}

// --latency: the longest window a sample waits for, its overlap a quarter of it (at most the default's).
void StreamRun::choose_windows() {
    const double frame_s = static_cast<double>(fc_.hop_length) / fc_.sample_rate;
    if (a_.latency > 0) {
        const int W = static_cast<int>(std::floor(a_.latency / frame_s + 1e-9)) / multiple_ * multiple_;
        if (W < multiple_)
            throw UsageError("--latency " + format_number(a_.latency, 3) + " s is less than the shortest window (" +
                             std::to_string(multiple_) + " frames, " + format_number(multiple_ * frame_s, 3) + " s)");
        popts_.window_frames = W;
        popts_.overlap_frames = std::min(a_.pipeline.overlap_frames, W / 8 * 2);
    }
    const int step = popts_.window_frames - popts_.overlap_frames;
    rt_.hop_s = step * frame_s;
    if (models_)
        spdlog::info("device {}, dtype {}, backend {}; models from {}", models_->device_name(), models_->dtype_name(),
                     models_->backend(), dir_);
    spdlog::info("stream: windows of {} frames ({:.3f} s) every {} frames ({:.3f} s); a sample waits at most one "
                 "window ({:.3f} s) plus a window's compute, which must stay under {:.3f} s to keep real time",
                 popts_.window_frames, popts_.window_frames * frame_s, step, rt_.hop_s,
                 popts_.window_frames * frame_s, rt_.hop_s);
}

// Runs every queued window, then writes what became final.
void StreamRun::pump() {
    while (runner_->queued_windows() > 0) {
        const auto t0 = Clock::now();
        auto done = runner_->step();
        rt_.add(seconds_since(t0));
        warn_if_behind();
        completed(std::move(done));
    }
    take_output(runner_->take_output(id_));
}

void StreamRun::completed(std::vector<BatchRunner::Completed> done) {
    for (auto& c : done) {
        if (!c.ok) throw ModelError(c.error);
        take_output(std::move(c.result.output));  // what take_output(id_) had not handed out
        finished_ = true;
    }
}

void StreamRun::warn_if_behind() {
    const double last = rt_.recent_mean();
    const double now = seconds_since(t0_);
    if (rt_.recent.size() < 3 || last <= rt_.hop_s || now - rt_.warned_at < 5) return;
    rt_.warned_at = now;
    spdlog::warn("stream: falling behind real time: the last windows took {:.3f} s on average for {:.3f} s of new audio "
                 "({:.2f}x slower than real time, {:.3f} s later with every window); raise --latency or use a "
                 "faster device", last, rt_.hop_s, last / rt_.hop_s, last - rt_.hop_s);
}

void StreamRun::take_output(std::vector<float> y) {
    if (y.empty()) return;
    try {
        if (!output_lost_) clipped_ += writer_->write(y);
    } catch (const OutputError& e) {
        // Ctrl-C in a shell pipeline stops the player too: the rest is not written, the report still is.
        if (!interrupted()) throw;
        output_lost_ = true;
        spdlog::warn("{} (after the interruption); the report is still written", e.what());
    }
    out_total_ += y.size();
    out_hist_.insert(out_hist_.end(), y.begin(), y.end());
    if (kept_all_) all_out_.insert(all_out_.end(), y.begin(), y.end());
    report_intervals(false);
}

// --report-every: the measures that are sums over frames, one line per interval of final output.
void StreamRun::report_intervals(bool final) {
    const std::size_t L = static_cast<std::size_t>(std::llround(a_.report_every * fc_.sample_rate));
    if (L == 0) {
        out_hist_.clear();
        in_hist_.erase(in_hist_.begin(), in_hist_.begin() + static_cast<long>(std::min(in_hist_.size(), out_total_ - meas_base_)));
        meas_base_ = out_total_;
        return;
    }
    while (out_hist_.size() >= L || (final && out_hist_.size() >= static_cast<std::size_t>(fc_.n_fft))) {
        const std::size_t n = std::min(L, out_hist_.size());
        const std::vector<float> x(in_hist_.begin(), in_hist_.begin() + static_cast<long>(n));
        const std::vector<float> y(out_hist_.begin(), out_hist_.begin() + static_cast<long>(n));
        const Metrics m = compare_signals(x, y, *logmel_, interval_opts_);
        const double rate = fc_.sample_rate;
        report_->line({{"input", a_.inputs[0]}, {"output", a_.output}, {"status", "interval"},
                       {"interval", {{"index", intervals_++}, {"start_s", meas_base_ / rate}, {"end_s", (meas_base_ + n) / rate}}},
                       {"realtime", {{"windows", rt_.windows}, {"compute_s", rt_.compute_s}, {"hop_s", rt_.hop_s}}},
                       {"metrics", metrics_json(m)}});
        out_hist_.erase(out_hist_.begin(), out_hist_.begin() + static_cast<long>(n));
        in_hist_.erase(in_hist_.begin(), in_hist_.begin() + static_cast<long>(n));
        meas_base_ += n;
    }
}

nlohmann::json StreamRun::final_record(bool interrupted) {
    const double rate = fc_.sample_rate, seconds = in_total_ / rate;
    nlohmann::json rec = {{"input", a_.inputs[0]}, {"output", a_.output}, {"status", "ok"}, {"tool", version_string()},
                          {"stream", {{"interrupted", interrupted}, {"windows", rt_.windows},
                                      {"window_frames", popts_.window_frames}, {"overlap_frames", popts_.overlap_frames},
                                      {"latency_s", popts_.window_frames * fc_.hop_length / rate},
                                      {"hop_s", rt_.hop_s}, {"compute_s", rt_.compute_s}, {"worst_window_s", rt_.worst_s},
                                      {"windows_slower_than_real_time", rt_.slow}}},
                          {"input_audio", {{"seconds", seconds}, {"sample_rate", rate}}},
                          {"output_audio", {{"sample_rate", rate}, {"samples", out_total_}, {"format", a_.format},
                                            {"clipped_samples", clipped_}}},
                          {"models", models_ ? nlohmann::json{{"dir", dir_}, {"description", models_->description()}}
                                             : nlohmann::json()},
                          {"x_realtime", rt_.compute_s > 0 ? seconds / rt_.compute_s : 0.0}};
    if (kept_all_ && !all_in_.empty()) {
        rec["metrics"] = metrics_json(compare_signals(all_in_, all_out_, *logmel_, whole_opts_));
    } else {
        rec["metrics"] = nlohmann::json::object();
        rec["notes"] = "the stream was longer than the memory limit keeps for whole-signal measures; see the interval lines";
    }
    return rec;
}

int StreamRun::run() {
    check_args();
    load_models();
    choose_windows();
    runner_ = models_ ? std::make_unique<BatchRunner>(*models_, popts_)
                      : std::make_unique<BatchRunner>(nullptr, fc_, multiple_, popts_);
    logmel_ = std::make_unique<LogMel>(fc_);
    whole_opts_.max_lag_ms = interval_opts_.max_lag_ms = a_.max_lag_ms;
    whole_opts_.measures = measure_selection(a_.measures, false, {});
    whole_opts_.measures.groups &= ~measure_group::vae;  // no decoded feature is kept in a stream
    if (needs_measure_networks(whole_opts_.measures))
        throw UsageError("--stream does not compute the crepe, distillmos and dnsmos measures; run `ldmrecon metrics "
                         "--metrics crepe,distillmos,dnsmos` on the input and the written output");
    interval_opts_.measures = whole_opts_.measures;
    // Not per interval: STOI and ViSQOL need seconds of signal (ViSQOL's search is slow too); the whole
    // stream's record still has them.
    interval_opts_.measures.groups &= ~(measure_group::stoi | measure_group::pesq | measure_group::visqol |
                                        measure_group::visqol_audio);
    for (auto it = interval_opts_.measures.keys.begin(); it != interval_opts_.measures.keys.end();) {
        const MetricSpec* m = find_metric(*it);
        it = m && !interval_opts_.measures.computes(m->group) ? interval_opts_.measures.keys.erase(it) : std::next(it);
    }
    keep_limit_ = static_cast<std::size_t>(limits::memory_limit() / 8 / sizeof(float));
    BlockReader reader(a_.inputs[0], fc_.sample_rate);
    writer_ = std::make_unique<StreamWriter>(a_.output, fc_.sample_rate, format_, a_.raw_output);
    report_ = std::make_unique<ReportLines>(a_.report);
    id_ = runner_->open_stream();
    std::signal(SIGPIPE, SIG_IGN);  // a reader that goes away is a write error with a message, not a silent death
    bool stopped = false;
    std::vector<float> block;
    for (;;) {
        block.clear();
        bool more = false;
        if (interrupted()) {  // a signal between two reads: do not wait for more input
            stopped = true;
            break;
        }
        try {
            more = reader.read(block, 1024);
        } catch (const Cancelled&) {
            stopped = true;
        }
        if (interrupted()) stopped = true;
        in_total_ += block.size();
        in_hist_.insert(in_hist_.end(), block.begin(), block.end());
        if (kept_all_ && in_total_ > keep_limit_ / 2) {
            kept_all_ = false;
            all_in_ = {};
            all_out_ = {};
        }
        if (kept_all_) all_in_.insert(all_in_.end(), block.begin(), block.end());
        runner_->feed(id_, block.data(), block.size());
        pump();
        if (!more || stopped) break;
    }
    if (in_total_ == 0) throw InputError(reader.name() + ": holds no audio samples");
    runner_->end_stream(id_);
    while (!finished_) {
        if (runner_->queued_windows() == 0) completed(runner_->step());
        else pump();
    }
    if (!output_lost_) writer_->finish();
    report_intervals(true);
    const nlohmann::json record = final_record(stopped);
    report_->line(record);
    report_->finish();
    if (a_.json) std::cout << json_text(record) << std::endl;  // as the offline run's --json: the one record
    spdlog::info("stream: {:.2f} s of audio in {} windows; compute {:.2f} s ({:.1f}x real time; worst window {:.3f} s "
                 "against a hop of {:.3f} s, {} slower than real time){}",
                 in_total_ / static_cast<double>(fc_.sample_rate), rt_.windows, rt_.compute_s,
                 rt_.compute_s > 0 ? in_total_ / static_cast<double>(fc_.sample_rate) / rt_.compute_s : 0.0, rt_.worst_s,
                 rt_.hop_s, rt_.slow, stopped ? "; interrupted: what was read is written" : "");
    return stopped ? kExitInterrupted : 0;
}

}  // namespace

int run_stream(const ReconstructArgs& a) {
    SignalGuard signals;
    return StreamRun(a).run();
}

}  // namespace ldmrecon::cli
