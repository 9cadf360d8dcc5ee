// `ldmrecon bench`: how fast each stage runs in each C++ backend, against the same models run from Python
// (eager, and torch.compile on request) and against the machine's own measured matrix-multiply rate.
// Figures only: nothing here passes or fails.
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <tuple>

#include "bench_kernels.hpp"
#include "commands.hpp"
#include "ldmrecon/audio.hpp"
#include "ldmrecon/blas.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/flops.hpp"
#include "ldmrecon/pipeline.hpp"
#include "ldmrecon/report.hpp"
#include "ldmrecon/stopwatch.hpp"

namespace fs = std::filesystem;

namespace ldmrecon::cli {

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// A speech-like test signal (harmonics on a gliding pitch, syllable-rate envelope, a noise burst).
std::vector<float> test_signal(int rate, std::size_t n) {
    std::vector<float> x(n);
    double phase = 0;
    unsigned noise = 12345;
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / rate;
        phase += 2 * M_PI * (120 + 25 * std::sin(2 * M_PI * 2.7 * t)) / rate;
        double v = 0;
        for (int k = 1; k < 30; ++k) v += 0.3 / k * std::sin(k * phase);
        v *= 0.55 + 0.45 * std::sin(2 * M_PI * 3.1 * t);
        noise = noise * 1664525u + 1013904223u;
        if (std::fmod(t, 2.0) > 1.6) v += 0.05 * (static_cast<double>(noise >> 8) / (1 << 24) - 0.5);
        x[i] = static_cast<float>(0.25 * v);
    }
    return x;
}

// Runs scripts/bench_python.py (eager, or torch.compile in `compile_mode`); returns its JSON, or null with a
// warning when it cannot run.
nlohmann::json run_python(const std::string& models, const std::string& wav, int threads, int batch, int repeat,
                          int warmup, const std::string& compile_mode) {
    const std::string dir = scripts_dir();
    // Python of this build's torch when there is one (eager and compiled Python are then the same kernels).
    const std::string py =
        command_output("LDMRECON_WANT_TORCH=" + libtorch_version() + " sh '" + dir + "/find_python.sh' torch numpy soundfile");
    if (py.empty()) {
        spdlog::warn("no Python with torch, numpy and soundfile: the Python comparison is left out");
        return nullptr;
    }
    const std::string run = "'" + py + "' '" + dir + "/bench_python.py' --models '" + models + "' --input '" + wav +
                            "' --threads " + std::to_string(threads) + " --batch-size " + std::to_string(batch) +
                            " --repeat " + std::to_string(repeat) + " --warmup " + std::to_string(warmup) +
                            (compile_mode.empty() ? "" : " --compile " + compile_mode);
    spdlog::debug("running {}", run);
    const std::string out = command_output(run);
    try {
        if (out.empty()) throw std::runtime_error("no output, or a non-zero exit");
        nlohmann::json j = nlohmann::json::parse(out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1));
        const std::string torch = j.value("torch", std::string("?"));
        if (torch.rfind(libtorch_version(), 0) != 0)
            spdlog::warn("Python has torch {}, this build libtorch {}: the comparison is across versions (set "
                         "LDMRECON_PYTHON to a Python with torch {})", torch, libtorch_version(), libtorch_version());
        return j;
    } catch (const std::exception& e) {
        spdlog::warn("the Python benchmark failed ({}); its comparison is left out. It ran: {}", e.what(), run);
        return nullptr;
    }
}

// Median seconds per stage for one batch of B clips, and what ran them.
struct Timing {
    std::string runner;
    double feature = 0, encode = 0, decode = 0, vocode = 0;
    double peak_rss_mb = 0;  // Python runs: their own process; 0 for C++ (reported once for this process)
    nlohmann::json extra;    // Python's own report (torch version, compile seconds)
    double total() const { return feature + encode + decode + vocode; }
};

Timing time_cpp(Models& models, const std::vector<float>& clip, int frames, int B, const BenchArgs& a, double t_feat) {
    ReconstructOptions ro;
    ro.batch_size = B;
    ro.window_frames = std::max(1024, frames);
    BatchRunner runner(models, ro);
    std::vector<double> enc, dec, voc;
    for (int r = 0; r < a.warmup + a.repeat; ++r) {
        for (int b = 0; b < B; ++b) runner.add(clip);
        StageTimes sum;
        while (runner.queued_windows() > 0)
            for (auto& c : runner.step()) {
                if (!c.ok) throw ModelError(c.error);
                sum.encode += c.result.times.encode;
                sum.decode += c.result.times.decode;
                sum.vocode += c.result.times.vocode;
            }
        if (r < a.warmup) continue;
        enc.push_back(sum.encode);
        dec.push_back(sum.decode);
        voc.push_back(sum.vocode);
    }
    Timing t;
    t.runner = "C++ " + models.backend();
    t.feature = t_feat * B;
    t.encode = median(enc);
    t.decode = median(dec);
    t.vocode = median(voc);
    return t;
}

std::optional<Timing> time_python(const std::string& dir, const std::string& wav, int threads, int B,
                                  const BenchArgs& a, const std::string& compile_mode) {
    const nlohmann::json py = run_python(dir, wav, threads, B, a.repeat, a.warmup, compile_mode);
    if (py.is_null()) return std::nullopt;
    Timing t;
    t.runner = "Python " + py.value("mode", std::string("eager"));
    const nlohmann::json& s = py.at("seconds");
    t.feature = s.value("feature", 0.0) * B;
    t.encode = s.value("encode", 0.0);
    t.decode = s.value("decode", 0.0);
    t.vocode = s.value("vocode", 0.0);
    t.peak_rss_mb = py.value("peak_rss_mb", 0.0);
    t.extra = py;
    return t;
}

// The Python eager row, the one every runner's speed-up is measured against; null when Python did not run.
const Timing* python_eager(const std::vector<Timing>& rows) {
    for (const Timing& t : rows)
        if (t.runner == "Python eager") return &t;
    return nullptr;
}

// Each stage's ceiling: the measured peak of the type it computes in (an int8 package's VAE int8, its
// vocoder bf16 or fp32; else the models' dtype), each type probed once.
struct StagePeaks {
    double encode = 0, decode = 0, vocode = 0;
    std::map<std::string, double> by_type;
    std::string encode_type, decode_type, vocode_type;
};

StagePeaks measure_peaks(Models& models) {
    StagePeaks p;
    p.encode_type = models.stage_dtype("encode");
    p.decode_type = models.stage_dtype("decode");
    p.vocode_type = models.stage_dtype("vocoder");
    for (const std::string& t : {p.encode_type, p.decode_type, p.vocode_type})
        if (!p.by_type.count(t)) p.by_type[t] = models.peak_gflops(t);
    p.encode = p.by_type[p.encode_type];
    p.decode = p.by_type[p.decode_type];
    p.vocode = p.by_type[p.vocode_type];
    return p;
}

// "measured peak 192.8 GFLOP/s", or per type where the stages differ: "measured peaks: int8 610.2 GOP/s
// (encode, decode), bf16 385.0 GFLOP/s (vocode)".
std::string describe_peaks(const StagePeaks& p) {
    auto unit = [](const std::string& t) { return t == "int8" ? " GOP/s" : " GFLOP/s"; };
    if (p.by_type.size() == 1)
        return "measured peak " + format_number(p.by_type.begin()->second, 1) + unit(p.by_type.begin()->first);
    std::string d = "measured peaks:";
    for (const auto& [type, peak] : p.by_type) {
        std::string stages;
        for (const auto& [stage, st] : {std::pair<const char*, const std::string&>{"encode", p.encode_type},
                                        {"decode", p.decode_type},
                                        {"vocode", p.vocode_type}})
            if (st == type) stages += (stages.empty() ? "" : ", ") + std::string(stage);
        d += (d.back() == ':' ? " " : "; ") + type + " " + format_number(peak, 1) + unit(type) + " (" + stages + ")";
    }
    return d;
}

// One row per runner: ms per stage with the share of the measured peak FLOP rate, x real time, and the
// ratio to Python eager (how many times faster than it).
void print_table(int B, double audio_s, const std::vector<Timing>& rows, const StageFlops& fl, const StagePeaks& peak) {
    const Timing* eager = python_eager(rows);
    std::printf("\n  batch %d (%d x %.2f s of audio); ms per batch, (share of the measured peak of the stage's type)\n",
                B, B, audio_s);
    std::printf("  %-30s %9s %17s %17s %17s %10s %8s %9s %8s\n", "runner", "feature", "encode", "decode", "vocode",
                "total", "x real", "vs eager", "peak MB");
    auto cell = [&](double t, double flops, double peak) {
        if (flops <= 0 || peak <= 0) return format_number(1e3 * t, 1);
        return format_number(1e3 * t, 1) + " (" + format_number(100 * flops * B / t / 1e9 / peak, 1) + "%)";
    };
    for (const Timing& t : rows)
        std::printf("  %-30s %9s %17s %17s %17s %10s %8s %9s %8s\n", t.runner.c_str(),
                    format_number(1e3 * t.feature, 1).c_str(), cell(t.encode, fl.encode, peak.encode).c_str(),
                    cell(t.decode, fl.decode, peak.decode).c_str(), cell(t.vocode, fl.vocode, peak.vocode).c_str(),
                    format_number(1e3 * t.total(), 1).c_str(), format_number(B * audio_s / t.total(), 1).c_str(),
                    eager ? (format_number(eager->total() / t.total(), 2) + "x").c_str() : "-",
                    t.peak_rss_mb > 0 ? format_number(t.peak_rss_mb, 0).c_str() : "-");
    for (const Timing& t : rows)
        if (t.extra.contains("compile_seconds")) {
            const nlohmann::json& c = t.extra["compile_seconds"];
            std::printf("  %s: first calls (compiling) encode %.1f s, decode %.1f s, vocode %.1f s\n", t.runner.c_str(),
                        c.value("encode", 0.0), c.value("decode", 0.0), c.value("vocode", 0.0));
        }
}

nlohmann::json timing_json(const Timing& t, int B, double audio_s, const Timing* eager) {
    nlohmann::json j = {{"runner", t.runner},
                        {"seconds", {{"feature", t.feature}, {"encode", t.encode}, {"decode", t.decode},
                                     {"vocode", t.vocode}, {"total", t.total()}}},
                        {"x_realtime", B * audio_s / t.total()}};
    if (eager) j["speedup_over_python_eager"] = eager->total() / t.total();
    if (t.peak_rss_mb > 0) j["peak_rss_mb"] = t.peak_rss_mb;
    if (!t.extra.is_null()) j["python"] = t.extra;
    return j;
}

// The stages whose compiled package ran over 10 % slower than TorchScript in this run (both backends
// timed): `compile` chose them on timings this machine no longer bears out. Printed, and returned.
nlohmann::json slower_packages(const std::vector<std::unique_ptr<Models>>& backends, const std::vector<Timing>& rows) {
    nlohmann::json out = nlohmann::json::array();
    const Timing* ts = nullptr;
    for (std::size_t i = 0; i < backends.size(); ++i)
        if (backends[i]->backend() == "TorchScript") ts = &rows[i];
    if (!ts) return out;
    for (std::size_t i = 0; i < backends.size(); ++i) {
        const Timing& t = rows[i];
        for (const auto& [stage, mine, theirs] : {std::tuple<const char*, double, double>{"encode", t.encode, ts->encode},
                                                  {"vocoder", t.vocode, ts->vocode}, {"decode", t.decode, ts->decode}}) {
            if (!backends[i]->runs_compiled(stage) || mine <= 1.1 * theirs) continue;
            std::printf("  %s: the compiled package `compile` chose ran %.0f %% slower than TorchScript here (%.1f against "
                        "%.1f ms); run `ldmrecon compile` again on an idle machine, or use --backend torchscript\n",
                        stage, 100 * (mine / theirs - 1), 1e3 * mine, 1e3 * theirs);
            out.push_back({{"stage", stage}, {"compiled_s", mine}, {"torchscript_s", theirs}});
        }
    }
    return out;
}

// The C++ backends to time: each --backends entry, or the one --backend picks.
std::vector<std::unique_ptr<Models>> load_backends(const std::string& dir, const BenchArgs& a, double* t_load) {
    std::vector<std::string> names = a.backends;
    if (names.empty()) names.push_back(a.runtime.backend);
    std::vector<std::unique_ptr<Models>> out;
    for (const std::string& name : names) {
        RuntimeOptions ro = a.runtime;
        ro.backend = name;
        const auto t0 = Clock::now();
        out.push_back(std::make_unique<Models>(dir, ro));
        if (out.size() == 1) *t_load = seconds_since(t0);
    }
    return out;
}

// Write and read back a 16-bit WAV of the clip, and compute its feature: medians in seconds.
struct FrontEnd {
    double write = 0, read = 0, feature = 0;
};

FrontEnd time_front_end(const std::vector<float>& clip, const std::vector<float>& padded, const FeatureConfig& fc,
                        const fs::path& tmp, const BenchArgs& a) {
    std::vector<double> t_write, t_read, t_feat;
    for (int r = 0; r < a.repeat; ++r) {
        auto t0 = Clock::now();
        write_wav(tmp.string(), clip, fc.sample_rate, SampleFormat::pcm16);
        t_write.push_back(seconds_since(t0));
        t0 = Clock::now();
        read_mono(tmp.string(), fc.sample_rate);
        t_read.push_back(seconds_since(t0));
    }
    const LogMel logmel(fc);
    for (int r = 0; r < a.warmup + a.repeat; ++r) {
        const auto t0 = Clock::now();
        const Matrix m = logmel.compute(padded);
        if (r >= a.warmup) t_feat.push_back(seconds_since(t0));
    }
    fs::remove(tmp);
    return {median(t_write), median(t_read), median(t_feat)};
}

}  // namespace

int run_bench(const BenchArgs& a) {
    check_outputs({}, a.models, {{"--json", a.json_out, false, FileKind::report}});
    const std::string dir = resolve_models_dir(a.models);
    double t_load = 0;
    std::vector<std::unique_ptr<Models>> backends = load_backends(dir, a, &t_load);
    Models& models = *backends.front();
    const FeatureConfig& fc = models.feature();
    const int threads = intra_op_threads();
    const std::size_t full_window = static_cast<std::size_t>(ReconstructOptions{}.window_frames - 1) * fc.hop_length;
    const std::vector<float> clip = test_signal(
        fc.sample_rate, a.seconds > 0 ? static_cast<std::size_t>(std::llround(fc.sample_rate * a.seconds)) : full_window);
    const double audio_s = static_cast<double>(clip.size()) / fc.sample_rate;
    std::vector<float> xn = clip;
    normalise_waveform(xn);
    xn.resize(padded_length(xn.size(), fc.hop_length, models.time_multiple()), 0.f);
    const fs::path tmp = fs::temp_directory_path() / ("ldmrecon-bench-" + std::to_string(::getpid()) + ".wav");
    const FrontEnd fe = time_front_end(clip, xn, fc, tmp, a);
    const std::size_t frames = fc.frames(xn.size());
    const StageFlops fl = count_flops(models.vae_metadata().at("config"), models.vocoder_metadata().at("config"), frames,
                                      static_cast<std::size_t>(fc.n_mels));
    const StagePeaks peaks = measure_peaks(models);

    nlohmann::json report = {
        {"tool", version_string()},
        {"device", models.device_name()},
        {"dtype", models.dtype_name()},
        {"threads", threads},
        {"models", dir},
        {"parameters", models.vae_metadata().value("parameters", 0) + models.vocoder_metadata().value("parameters", 0)},
        {"audio_seconds", audio_s},
        {"frames", frames},
        {"load_models_s", t_load},
        {"blas", blas_description()},
        {"peak_gflops", peaks.encode},
        {"stage_dtype", {{"encode", peaks.encode_type}, {"decode", peaks.decode_type}, {"vocode", peaks.vocode_type}}},
        {"peak_gflops_by_type", peaks.by_type},
        {"gflop_per_clip", {{"encode", fl.encode / 1e9}, {"decode", fl.decode / 1e9}, {"vocode", fl.vocode / 1e9}}},
        {"runs", nlohmann::json::array()}};
    std::cout << "ldmrecon bench: " << format_number(audio_s, 2) << " s clip (" << frames << " frames) on "
              << models.device_name() << ", " << models.dtype_name() << ", " << threads << " thread(s), BLAS "
              << blas_description() << "; " << describe_peaks(peaks) << "; " << format_number(fl.total() / 1e9, 1)
              << " GFLOP per clip\n"
              << "  I/O: write " << format_number(1e3 * fe.write, 2) << " ms, read " << format_number(1e3 * fe.read, 2)
              << " ms; feature " << format_number(1e3 * fe.feature, 2) << " ms\n";
    write_wav(tmp.string(), xn, fc.sample_rate, SampleFormat::float32);  // what Python times, already padded
    for (int B : a.batch_sizes) {
        std::vector<Timing> rows;
        for (auto& m : backends) rows.push_back(time_cpp(*m, clip, static_cast<int>(frames), B, a, fe.feature));
        if (a.python)
            if (auto t = time_python(dir, tmp.string(), threads, B, a, "")) rows.push_back(*t);
        if (!a.python_compile.empty())
            if (auto t = time_python(dir, tmp.string(), threads, B, a, a.python_compile)) rows.push_back(*t);
        print_table(B, audio_s, rows, fl, peaks);
        const Timing* eager = python_eager(rows);
        nlohmann::json run = {{"batch_size", B}, {"runners", nlohmann::json::array()}};
        for (const Timing& t : rows) run["runners"].push_back(timing_json(t, B, audio_s, eager));
        run["slower_packages"] = slower_packages(backends, rows);
        report["runs"].push_back(run);
    }
    if (a.kernels && models.device_name() == "cpu")
        report["onednn"] = probe_kernels(dir, tmp.string(), a.runtime,
                                         a.backends.empty() ? a.runtime.backend : a.backends.front(), threads);
    fs::remove(tmp);
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    report["peak_rss_mb"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
    std::printf("\n  peak resident memory of this process (every C++ runner): %.0f MB\n",
                report["peak_rss_mb"].get<double>());
    if (!a.json_out.empty()) write_file_atomically(a.json_out, json_text(report, 2) + "\n");
    return 0;
}

}  // namespace ldmrecon::cli
