// `ldmrecon bench`: how fast each stage runs, against the same models run eagerly from Python and against
// the machine's own measured matrix-multiply rate. Figures only: nothing here passes or fails.
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "ldmrecon/audio.hpp"
#include "ldmrecon/blas.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/flops.hpp"
#include "ldmrecon/pipeline.hpp"
#include "ldmrecon/report.hpp"

namespace fs = std::filesystem;

namespace ldmrecon::cli {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// A speech-like test signal (harmonics on a gliding pitch, syllable-rate envelope, a noise burst).
std::vector<float> test_signal(int rate, double seconds) {
    const std::size_t n = static_cast<std::size_t>(std::llround(rate * seconds));
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

// Runs scripts/bench_python.py; returns its JSON, or null with a warning when it cannot run.
nlohmann::json run_python(const std::string& models, const std::string& wav, int threads, int batch, int repeat,
                          int warmup) {
    const std::string dir = scripts_dir();
    const std::string py = command_output("sh '" + dir + "/find_python.sh' torch numpy soundfile");
    if (py.empty()) {
        spdlog::warn("no Python with torch, numpy and soundfile: the Python comparison is left out");
        return nullptr;
    }
    const std::string run = "'" + py + "' '" + dir + "/bench_python.py' --models '" + models + "' --input '" + wav +
                            "' --threads " + std::to_string(threads) + " --batch-size " + std::to_string(batch) +
                            " --repeat " + std::to_string(repeat) + " --warmup " + std::to_string(warmup);
    spdlog::debug("running {}", run);
    std::string out;
    int status = -1;
    if (FILE* p = ::popen(run.c_str(), "r")) {
        char buf[4096];
        while (std::fgets(buf, sizeof buf, p)) out += buf;
        status = ::pclose(p);
    }
    try {
        if (status != 0) throw std::runtime_error("exit status " + std::to_string(status));
        while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
        return nlohmann::json::parse(out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1));
    } catch (const std::exception& e) {
        spdlog::warn("the Python benchmark failed ({}); its comparison is left out. It ran: {}", e.what(), run);
        return nullptr;
    }
}

}  // namespace

int run_bench(const BenchArgs& a) {
    check_outputs({}, a.models, {{"--json", a.json_out}});
    const std::string dir = resolve_models_dir(a.models);
    auto t0 = Clock::now();
    Models models(dir, a.runtime);
    const double t_load = seconds_since(t0);
    const FeatureConfig& fc = models.feature();
    const int threads = intra_op_threads();
    const std::vector<float> clip = test_signal(fc.sample_rate, a.seconds);
    const double audio_s = static_cast<double>(clip.size()) / fc.sample_rate;

    // I/O: write and read back a 16-bit WAV of the clip.
    const fs::path tmp = fs::temp_directory_path() / ("ldmrecon-bench-" + std::to_string(::getpid()) + ".wav");
    std::vector<double> t_write, t_read, t_feat;
    for (int r = 0; r < a.repeat; ++r) {
        t0 = Clock::now();
        write_wav(tmp.string(), clip, fc.sample_rate, SampleFormat::pcm16);
        t_write.push_back(seconds_since(t0));
        t0 = Clock::now();
        read_mono(tmp.string(), fc.sample_rate);
        t_read.push_back(seconds_since(t0));
    }
    std::vector<float> xn = clip;
    normalise_waveform(xn);
    xn.resize(padded_length(xn.size(), fc.hop_length, models.time_multiple()), 0.f);
    const LogMel logmel(fc);
    for (int r = 0; r < a.warmup + a.repeat; ++r) {
        t0 = Clock::now();
        const Matrix m = logmel.compute(xn);
        if (r >= a.warmup) t_feat.push_back(seconds_since(t0));
    }
    const std::size_t frames = fc.frames(xn.size());
    const StageFlops fl = count_flops(models.vae_metadata().at("config"), models.vocoder_metadata().at("config"), frames,
                                      static_cast<std::size_t>(fc.n_mels));
    const double peak = models.peak_gflops();

    nlohmann::json report = {{"tool", version_string()},
                             {"device", models.device_name()},
                             {"dtype", models.dtype_name()},
                             {"threads", threads},
                             {"models", dir},
                             {"parameters", models.vae_metadata().value("parameters", 0) +
                                                models.vocoder_metadata().value("parameters", 0)},
                             {"audio_seconds", audio_s},
                             {"frames", frames},
                             {"load_models_s", t_load},
                             {"blas", blas_description()},
                             {"backend", models.backend()},
                             {"peak_gflops", peak},
                             {"gflop_per_clip", {{"encode", fl.encode / 1e9}, {"decode", fl.decode / 1e9},
                                                 {"vocode", fl.vocode / 1e9}}},
                             {"runs", nlohmann::json::array()}};
    std::cout << "ldmrecon bench: " << format_number(audio_s, 2) << " s clip (" << frames << " frames) on "
              << models.device_name() << ", " << models.dtype_name() << ", " << threads << " thread(s), BLAS "
              << blas_description() << ", backend " << models.backend() << "; "
              << "measured peak " << format_number(peak, 1) << " GFLOP/s; "
              << format_number(fl.total() / 1e9, 1) << " GFLOP per clip\n"
              << "  I/O: write " << format_number(1e3 * median(t_write), 2) << " ms, read "
              << format_number(1e3 * median(t_read), 2) << " ms; feature " << format_number(1e3 * median(t_feat), 2)
              << " ms\n";
    fs::remove(tmp);
    write_wav(tmp.string(), xn, fc.sample_rate, SampleFormat::float32);  // what Python times, already padded

    for (int B : a.batch_sizes) {
        ReconstructOptions ro;
        ro.batch_size = B;
        ro.window_frames = static_cast<int>(std::max<std::size_t>(1024, frames));
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
        const double te = median(enc), td = median(dec), tv = median(voc), tf = median(t_feat) * B;
        const double total = te + td + tv + tf;
        nlohmann::json py = a.python ? run_python(dir, tmp.string(), threads, B, a.repeat, a.warmup) : nlohmann::json();
        nlohmann::json run = {{"batch_size", B},
                              {"seconds", {{"feature", tf}, {"encode", te}, {"decode", td}, {"vocode", tv}, {"total", total}}},
                              {"realtime_factor", B * audio_s / total}};
        std::printf("\n  batch %d: %.1fx real time (%.1f ms per batch)\n", B, B * audio_s / total, 1e3 * total);
        std::printf("  %-9s %10s %10s %8s %10s %9s\n", "stage", "C++ ms", "Python ms", "C++/Py", "GFLOP/s", "of peak");
        auto row = [&](const char* name, double t, double flops, const char* pykey) {
            double pt = 0;
            if (!py.is_null()) pt = py["seconds"].value(pykey, 0.0) * (std::string(pykey) == "feature" ? B : 1);
            const double gfs = flops > 0 ? flops * B / t / 1e9 : 0;
            std::printf("  %-9s %10.2f %10s %8s %10s %9s\n", name, 1e3 * t, pt > 0 ? format_number(1e3 * pt, 2).c_str() : "-",
                        pt > 0 ? format_number(t / pt, 3).c_str() : "-", flops > 0 ? format_number(gfs, 1).c_str() : "-",
                        flops > 0 ? (format_number(100 * gfs / peak, 1) + " %").c_str() : "-");
            return pt;
        };
        const double pf = row("feature", tf, 0, "feature");
        const double pe = row("encode", te, fl.encode, "encode");
        const double pd = row("decode", td, fl.decode, "decode");
        const double pv = row("vocode", tv, fl.vocode, "vocode");
        if (!py.is_null()) {
            const double pt = pf + pe + pd + pv;
            std::printf("  %-9s %10.2f %10.2f %8s   Python eager (torch %s, %d thread(s)): %.1fx real time\n", "total",
                        1e3 * total, 1e3 * pt, format_number(total / pt, 3).c_str(), py.value("torch", "?").c_str(),
                        py.value("threads", 0), B * audio_s / pt);
            run["python"] = py;
            run["cpp_over_python"] = total / pt;
            run["feature_speedup_vs_torch_stft"] = pf / tf;
        }
        report["runs"].push_back(run);
    }
    fs::remove(tmp);
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    report["peak_rss_mb"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
    std::printf("\n  peak resident memory (this process): %.0f MB\n", report["peak_rss_mb"].get<double>());
    if (!a.json_out.empty()) write_file_atomically(a.json_out, report.dump(2) + "\n");
    return 0;
}

}  // namespace ldmrecon::cli
