// `ldmrecon ablate IN...`: the useful combinations of stage x vocoder x feature scale on the same inputs,
// in one table: which step loses what.
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "ldmrecon/audio.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/inputs.hpp"
#include "ldmrecon/metrics.hpp"
#include "ldmrecon/report.hpp"

namespace ldmrecon::cli {

namespace {

struct Combo {
    Stage stage;
    VocoderKind vocoder;
    MelScale scale;
    const char* what;
};

// Ordered from the least to the most of the path; db rows feed the notes' feature to models trained on ln.
const Combo kCombos[] = {
    {Stage::vocoder, VocoderKind::griffin_lim, MelScale::ln, "Griffin-Lim on the true feature (no model)"},
    {Stage::vocoder, VocoderKind::hifigan, MelScale::ln, "HiFi-GAN on the true feature"},
    {Stage::vae, VocoderKind::hifigan, MelScale::ln, "VAE alone (feature space)"},
    {Stage::full, VocoderKind::griffin_lim, MelScale::ln, "VAE, then Griffin-Lim"},
    {Stage::full, VocoderKind::hifigan, MelScale::ln, "the whole path"},
    {Stage::vocoder, VocoderKind::hifigan, MelScale::db, "HiFi-GAN on the notes' dB feature"},
    {Stage::full, VocoderKind::hifigan, MelScale::db, "the whole path on the notes' dB feature"},
};

const char* kKeys[] = {"mel_l1", "lsd_db", "mrstft", "stoi", "estoi", "si_sdr_db", "vae_mel_l1"};

}  // namespace

int run_ablate(const AblateArgs& a) {
    check_outputs(a.inputs, a.models, {{"--json", a.json_out}});
    const std::string dir = resolve_models_dir(a.models);
    Models models(dir, a.runtime);
    const FeatureConfig fc = models.feature();
    std::vector<std::pair<std::string, std::vector<float>>> clips;
    for (const auto& in : expand_inputs(a.inputs)) {
        if (!in.error.empty()) throw InputError(in.error);
        clips.emplace_back(in.path, read_mono(in.path, fc.sample_rate).samples);
    }
    if (clips.empty()) throw UsageError("ablate: no inputs");
    spdlog::info("ablate: {} input(s), {} combinations, models from {} on {}", clips.size(), std::size(kCombos), dir,
                 models.device_name());
    const LogMel metric_feature(fc);  // measures always in the models' own ln feature
    nlohmann::json out = nlohmann::json::array();
    std::printf("%-45s %8s %8s %8s %7s %7s %9s %9s\n", "combination (stage / vocoder / feature)", "mel L1", "LSD dB",
                "MR-STFT", "STOI", "ESTOI", "SI-SDR dB", "VAE L1");
    for (const Combo& c : kCombos) {
        ReconstructOptions o;
        o.stage = c.stage;
        o.vocoder = c.vocoder;
        o.scale = c.scale;
        o.gl_iterations = a.gl_iterations;
        BatchRunner runner(models, o);
        std::map<std::string, std::pair<double, int>> sums;
        for (const auto& [path, x] : clips) {
            runner.add(x);
            while (runner.queued_windows() > 0)
                for (auto& done : runner.step()) {
                    if (!done.ok) throw ModelError(path + ": " + done.error);
                    const Reconstruction& r = done.result;
                    nlohmann::json m = nlohmann::json::object();
                    if (c.stage != Stage::vae) m = metrics_json(compare_signals(x, r.output, metric_feature));
                    if (c.stage != Stage::vocoder) m["vae_mel_l1"] = mel_distance(r.input_feature, r.decoded_feature, r.frames).l1;
                    for (const char* k : kKeys)
                        if (m.contains(k) && m[k].is_number()) sums[k].first += m[k].get<double>(), ++sums[k].second;
                }
        }
        nlohmann::json row = {{"stage", stage_name(c.stage)}, {"vocoder", vocoder_name(c.vocoder)},
                              {"feature", c.scale == MelScale::ln ? "ln" : "db"}, {"what", c.what}};
        std::string line = std::string(stage_name(c.stage)) + " / " + (c.stage == Stage::vae ? "-" : vocoder_name(c.vocoder)) +
                           " / " + (c.scale == MelScale::ln ? "ln" : "db");
        std::printf("%-45s", line.c_str());
        for (const char* k : kKeys) {
            const auto it = sums.find(k);
            const double v = it == sums.end() ? NAN : it->second.first / it->second.second;
            row[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
            std::printf(" %*s", std::string(k) == "si_sdr_db" || std::string(k) == "vae_mel_l1" ? 9 : (std::string(k) == "stoi" || std::string(k) == "estoi" ? 7 : 8),
                        format_number(v, std::string(k) == "lsd_db" || std::string(k) == "si_sdr_db" ? 2 : 4).c_str());
        }
        std::printf("\n");
        out.push_back(row);
    }
    std::printf("means over %zu input(s); measures in the models' own ln feature (VAE L1: in the feature it was fed);\n"
                "'db' rows feed the original notes' feature (power mel in dB) to models trained on ln: what that\n"
                "mistake costs\n", clips.size());
    if (!a.json_out.empty()) write_file_atomically(a.json_out, nlohmann::json{{"inputs", clips.size()}, {"rows", out}}.dump(2) + "\n");
    return 0;
}

}  // namespace ldmrecon::cli
