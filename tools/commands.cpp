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

std::string version_string() {
    char sf[64];
    sf_command(nullptr, SFC_GET_LIB_VERSION, sf, sizeof sf);
    return std::string("ldmrecon ") + LDMRECON_VERSION + " (libtorch " + libtorch_version() + ", " + sf + ", " +
           fftwf_version + ", soxr " + soxr_version() + ")";
}

void add_models_as_inputs(OutputPlan& plan, const std::string& models) {
    try {
        const std::string dir = resolve_models_dir(models);
        plan.add_input((fs::path(dir) / "vae.pt").string());
        plan.add_input((fs::path(dir) / "vocoder.pt").string());
    } catch (const Error&) {
    }
}

void check_outputs(const std::vector<std::string>& inputs, const std::string& models,
                   const std::vector<NamedOutput>& outputs) {
    OutputPlan plan;
    for (const auto& in : inputs)
        if (!in.empty()) plan.add_input(in);
    if (models != "-") add_models_as_inputs(plan, models);
    for (const auto& o : outputs)
        if (!o.path.empty()) plan.add_output(o.path, o.option, o.stdout_ok);
}

int run_mel(const MelArgs& a) {
    // The export's feature when --models is given, else AudioLDM2's (SPEC.md 1).
    FeatureConfig fc = a.models.empty() ? FeatureConfig{} : feature_of_models_dir(a.models);
    fc.scale = parse_mel_scale(a.mel_scale);
    if (fc.scale == MelScale::db)
        spdlog::warn("--mel-scale db: the original notes' feature (power mel in dB, ref = max, 80 dB range); "
                     "the published AudioLDM2 models were not trained on it: use it for comparison only");
    check_outputs({a.input}, a.models.empty() ? "-" : a.models, {{"-o", a.output, true}});
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

}  // namespace ldmrecon::cli
