#include "commands.hpp"

#include <fftw3.h>
#include <sndfile.h>
#include <soxr.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "ldmrecon/audio.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/feature.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/metrics.hpp"
#include "ldmrecon/npy.hpp"
#include "ldmrecon/pipeline.hpp"
#include "ldmrecon/report.hpp"

namespace fs = std::filesystem;

namespace ldmrecon::cli {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool same_file(const std::string& a, const std::string& b) {
    std::error_code ec;
    return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec);
}

// The feature of the export in `models_dir` when one is given, else AudioLDM2's (SPEC.md 1).
FeatureConfig feature_for(const std::string& models_dir) {
    if (models_dir.empty()) return FeatureConfig{};
    const std::string dir = resolve_models_dir(models_dir);
    const std::string vae = (fs::path(dir) / "vae.pt").string();
    return feature_from_metadata(read_export_metadata(vae), vae);
}

}  // namespace

std::string version_string() {
    char sf[64];
    sf_command(nullptr, SFC_GET_LIB_VERSION, sf, sizeof sf);
    return std::string("ldmrecon ") + LDMRECON_VERSION + " (libtorch " + libtorch_version() + ", " + sf + ", " +
           fftwf_version + ", soxr " + soxr_version() + ")";
}

int run_mel(const MelArgs& a) {
    FeatureConfig fc = feature_for(a.models);
    fc.scale = parse_mel_scale(a.mel_scale);
    if (fc.scale == MelScale::db)
        spdlog::warn("--mel-scale db: the original notes' feature (power mel in dB, ref = max, 80 dB range); "
                     "the published AudioLDM2 models were not trained on it: use it for comparison only");
    check_output_folder(a.output);
    MonoAudio in = read_mono(a.input, fc.sample_rate);
    normalise_waveform(in.samples);
    const Matrix mel = LogMel(fc).compute(in.samples);
    write_npy(a.output, mel);
    spdlog::info("{}: {} frames x {} mels ({} scale, {:.2f} s at {} Hz) -> {}", a.input, mel.rows, mel.cols,
                 a.mel_scale, in.seconds(), fc.sample_rate, a.output);
    return 0;
}

int run_metrics(const MetricsArgs& a) {
    FeatureConfig fc;
    fc.sample_rate = a.sample_rate;
    fc.fmax = std::min(fc.fmax, a.sample_rate / 2.0);
    const MonoAudio ref = read_mono(a.reference, fc.sample_rate);
    const MonoAudio est = read_mono(a.estimate, fc.sample_rate);
    if (ref.samples.size() != est.samples.size())
        spdlog::warn("lengths differ ({} vs {} samples at {} Hz): comparing the first {}", ref.samples.size(),
                     est.samples.size(), fc.sample_rate, std::min(ref.samples.size(), est.samples.size()));
    MetricsOptions mo;
    mo.max_lag_ms = a.max_lag_ms;
    const Metrics m = compare_signals(ref.samples, est.samples, LogMel(fc), mo);
    if (a.json) {
        nlohmann::json j = metrics_json(m);
        j["reference"] = a.reference;
        j["estimate"] = a.estimate;
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << "reference " << a.reference << "\nestimate  " << a.estimate << "\ncompared  " << m.samples
                  << " samples at " << m.sample_rate << " Hz (" << format_number(m.samples / double(m.sample_rate), 2)
                  << " s)\n"
                  << metrics_table(m);
    }
    return 0;
}

int run_info(const InfoArgs& a) {
    std::vector<std::string> files;
    std::error_code ec;
    if (fs::is_directory(a.path, ec)) {
        const std::string dir = resolve_models_dir(a.path);
        files = {(fs::path(dir) / "vae.pt").string(), (fs::path(dir) / "vocoder.pt").string()};
    } else {
        files = {a.path};
    }
    nlohmann::json all = nlohmann::json::object();
    for (const auto& f : files) {
        const nlohmann::json meta = read_export_metadata(f);
        if (a.json) {
            all[f] = meta;
            continue;
        }
        std::cout << f << "\n"
                  << "  kind          " << meta.value("kind", "?") << "\n"
                  << "  description   " << meta.value("description", "?") << "\n"
                  << "  weights       " << meta.value("weights", "?") << "\n"
                  << "  source        " << meta.value("source", "?") << "\n"
                  << "  parameters    " << meta.value("parameters", 0) << "\n";
        if (meta.contains("scaling_factor")) std::cout << "  scaling       " << meta["scaling_factor"].dump() << "\n";
        std::cout << "  exported by   " << meta.value("tool", "?") << " (torch " << meta.value("torch_version", "?")
                  << ", format " << meta.value("format", "?") << " v" << meta.value("format_version", 0) << ")\n";
        if (meta.contains("config")) std::cout << "  config        " << meta["config"].dump() << "\n";
        if (meta.contains("feature")) std::cout << "  feature       " << meta["feature"].dump() << "\n";
    }
    if (a.json) std::cout << (files.size() == 1 ? all[files[0]] : all).dump(2) << "\n";
    return 0;
}

int run_reconstruct(const ReconstructArgs& a) {
    const auto t_start = Clock::now();
    if (same_file(a.input, a.output))
        throw UsageError(a.output + ": is the input file; choose another output path");
    const SampleFormat format = parse_sample_format(a.format);
    // Fail before the model work when an output could not be written anyway.
    check_output_folder(a.output);
    if (!a.report.empty()) check_output_folder(a.report);

    auto t0 = Clock::now();
    const AudioBuffer raw = read_audio(a.input);
    const double t_read = seconds_since(t0);

    const std::string dir = resolve_models_dir(a.models);
    t0 = Clock::now();
    Models models(dir, a.runtime);
    const double t_load = seconds_since(t0);
    const FeatureConfig& fc = models.feature();
    spdlog::info("device {}, dtype {}, libtorch {}, {} thread(s); models from {}", models.device_name(),
                 models.dtype_name(), libtorch_version(), intra_op_threads(), dir);

    t0 = Clock::now();
    const std::vector<float> input = resample(downmix(raw), raw.sample_rate, fc.sample_rate);
    const double t_resample = seconds_since(t0);

    ReconstructOptions ro;
    ro.sample = a.sample;
    ro.seed = a.seed;
    const Reconstruction r = reconstruct(models, input, ro);

    t0 = Clock::now();
    MetricsOptions mo;
    mo.max_lag_ms = a.max_lag_ms;
    const LogMel logmel(fc);
    const Metrics m = compare_signals(input, r.output, logmel, mo);
    const MelDistance vae = mel_distance(r.input_feature, r.decoded_feature, r.frames);
    const double t_metrics = seconds_since(t0);

    t0 = Clock::now();
    const std::size_t clipped = write_wav(a.output, r.output, fc.sample_rate, format);
    if (!a.dump_dir.empty()) {
        fs::create_directories(a.dump_dir);
        write_npy((fs::path(a.dump_dir) / "feature.npy").string(), r.input_feature);
        write_npy((fs::path(a.dump_dir) / "decoded.npy").string(), r.decoded_feature);
        write_npy((fs::path(a.dump_dir) / "vocoder_raw.npy").string(), r.vocoder_raw);
        write_npy((fs::path(a.dump_dir) / "output.npy").string(), r.output);
    }
    const double t_write = seconds_since(t0);
    if (clipped > 0)
        spdlog::warn("{}: {} sample(s) clipped to [-1, 1] in the {} output (use --format float to keep them)",
                     a.output, clipped, a.format);

    const double seconds = static_cast<double>(input.size()) / fc.sample_rate;
    const double model_time = r.times.feature + r.times.encode + r.times.decode + r.times.vocode;
    const double total = seconds_since(t_start);
    nlohmann::json j;
    j["tool"] = version_string();
    j["input"] = a.input;
    j["output"] = a.output;
    j["input_audio"] = {{"sample_rate", raw.sample_rate}, {"channels", raw.channels}, {"frames", raw.frames()},
                        {"seconds", raw.seconds()}};
    j["output_audio"] = {{"sample_rate", fc.sample_rate}, {"samples", r.output.size()}, {"format", a.format},
                         {"clipped_samples", clipped}};
    j["models"] = {{"dir", dir},
                   {"description", models.vae_metadata().value("description", "")},
                   {"weights", models.vae_metadata().value("weights", "")},
                   {"source", models.vae_metadata().value("source", "")},
                   {"scaling_factor", models.scaling_factor()}};
    j["runtime"] = {{"device", models.device_name()}, {"dtype", models.dtype_name()},
                    {"libtorch", libtorch_version()}, {"threads", intra_op_threads()}};
    j["latent"] = {{"mode", a.sample ? "sample" : "mode"}, {"shape", r.latent_shape}};
    if (a.sample) j["latent"]["seed"] = a.seed;
    j["feature"] = {{"frames", r.frames}, {"padded_frames", r.padded_frames}, {"n_mels", fc.n_mels},
                    {"gain", r.gain.scale}, {"dc_offset", r.gain.mean}};
    j["metrics"] = metrics_json(m);
    j["vae"] = {{"mel_l1", vae.l1}, {"mel_snr_db", std::isfinite(vae.snr_db) ? nlohmann::json(vae.snr_db) : nlohmann::json()}};
    j["timings_s"] = {{"read", t_read},       {"load_models", t_load},     {"resample", t_resample},
                      {"feature", r.times.feature}, {"encode", r.times.encode}, {"decode", r.times.decode},
                      {"vocode", r.times.vocode},   {"metrics", t_metrics},    {"write", t_write},
                      {"total", total}};
    j["realtime_factor"] = model_time > 0 ? seconds / model_time : 0.0;
    j["notes"] = "metrics compare the input (downmixed, resampled to the model rate) with the output; SNR/MSE/"
                 "Pearson are phase-sensitive and sit near 0 dB / 0 for any neural vocoder; lag searched within +-" +
                 format_number(a.max_lag_ms, 1) + " ms; LSD floors powers at -100 dB; VAE mel measures cover the " +
                 std::to_string(r.frames) + " unpadded frames";
    if (!a.report.empty()) write_file_atomically(a.report, j.dump(2) + "\n");

    if (a.json) {
        std::cout << j.dump(2) << "\n";
    } else if (!a.quiet) {
        char head[512];
        std::snprintf(head, sizeof head,
                      "%s -> %s\n  %.2f s of audio (%d Hz, %d ch) at %d Hz; %zu frames (padded to %zu); "
                      "latent [%s]\n  %s on %s, %s; model time %.3f s = %.1fx real time\n",
                      a.input.c_str(), a.output.c_str(), seconds, raw.sample_rate, raw.channels, fc.sample_rate,
                      r.frames, r.padded_frames, [&] {
                          std::string s;
                          for (auto d : r.latent_shape) s += (s.empty() ? "" : ", ") + std::to_string(d);
                          return s;
                      }().c_str(),
                      a.sample ? "sampled latent" : "posterior mode", models.device_name().c_str(),
                      models.dtype_name().c_str(), model_time, seconds / model_time);
        std::cout << head << "  models: " << models.describe() << "\n" << metrics_table(m, &vae);
    }
    return 0;
}

}  // namespace ldmrecon::cli
