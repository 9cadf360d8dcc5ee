// `ldmrecon ablate IN...`: the useful combinations of stage x vocoder x feature scale on the same inputs,
// in one table: which step loses what.
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <cstring>
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
    // The notes' normalisations of the dB feature, fed to the VAE and run through the whole path.
    {Stage::full, VocoderKind::hifigan, MelScale::db_percentile, "the whole path, dB with 1st/99th percentiles"},
    {Stage::full, VocoderKind::hifigan, MelScale::db_zscore, "the whole path, dB z-scored"},
    {Stage::full, VocoderKind::hifigan, MelScale::db_tanh, "the whole path, tanh(dB / 40)"},
};

struct Column {
    const char* key;
    const char* header;
    int width, decimals;
};
// Without --metrics: the measures that tell the combinations apart, under short headings.
const Column kColumns[] = {{"mel_l1", "mel L1", 8, 4},     {"lsd_db", "LSD dB", 8, 2},      {"mrstft", "MR-STFT", 8, 4},
                           {"stoi", "STOI", 7, 4},         {"estoi", "ESTOI", 7, 4},        {"si_sdr_db", "SI-SDR dB", 9, 2},
                           {"f0_rmse_cents", "F0 cents", 9, 1}, {"vuv_f1", "V/UV F1", 8, 4}, {"vae_mel_l1", "VAE L1", 8, 4}};

// With --metrics: every key it reports, in the catalogue's order, headed by the key.
std::vector<Column> columns_for(const MeasureSelection& sel) {
    std::vector<Column> cols;
    for (const MetricSpec& m : metric_specs()) {
        if (!sel.reports(m.key)) continue;
        const std::string unit = m.unit;
        const int decimals = unit == "cents" ? 1 : unit == "dB" ? 2 : unit == "MOS" ? 3 : 4;
        cols.push_back({m.key, m.key, std::max(8, static_cast<int>(std::strlen(m.key))), decimals});
    }
    return cols;
}

}  // namespace

int run_ablate(const AblateArgs& a) {
    check_outputs(a.inputs, a.models, {{"--json", a.json_out, false, FileKind::report}});
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
    MetricsOptions mo;
    std::vector<Column> columns(std::begin(kColumns), std::end(kColumns));
    if (!a.measures.empty()) {
        mo.measures = measure_selection(a.measures, false, {});
        if (mo.measures.computes(measure_group::pesq))
            throw UsageError("ablate does not run PESQ; compare its outputs with `ldmrecon metrics --pesq`");
        columns = columns_for(mo.measures);
    }
    attach_measure_networks(mo, a.networks, dir, a.runtime.device, fc.sample_rate);
    nlohmann::json out = nlohmann::json::array();
    std::printf("%-45s", "combination (stage / vocoder / feature)");
    for (const Column& col : columns) std::printf(" %*s", col.width, col.header);
    std::printf("\n");
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
                    if (c.stage != Stage::vae) m = metrics_json(compare_signals(x, r.output, metric_feature, mo));
                    if (c.stage != Stage::vocoder) {
                        const MelDistance vae = mel_distance(r.input_feature, r.decoded_feature, r.frames);
                        m["vae_mel_l1"] = vae.l1;
                        m["vae_mel_snr_db"] = vae.snr_db;
                    }
                    for (const Column& col : columns)
                        if (m.contains(col.key) && m[col.key].is_number())
                            sums[col.key].first += m[col.key].get<double>(), ++sums[col.key].second;
                }
        }
        nlohmann::json row = {{"stage", stage_name(c.stage)}, {"vocoder", vocoder_name(c.vocoder)},
                              {"feature", mel_scale_name(c.scale)}, {"what", c.what}};
        std::string line = std::string(stage_name(c.stage)) + " / " + (c.stage == Stage::vae ? "-" : vocoder_name(c.vocoder)) +
                           " / " + mel_scale_name(c.scale);
        std::printf("%-45s", line.c_str());
        for (const Column& col : columns) {
            const auto it = sums.find(col.key);
            const double v = it == sums.end() ? NAN : it->second.first / it->second.second;
            row[col.key] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
            std::printf(" %*s", col.width, format_number(v, col.decimals).c_str());
        }
        std::printf("\n");
        out.push_back(row);
    }
    std::printf("means over %zu input(s); measures in the models' own ln feature (VAE L1: in the feature it was fed);\n"
                "'db' rows feed the original notes' feature (power mel in dB) to models trained on ln, the\n"
                "db-percentile / db-zscore / db-tanh rows with the normalisations the notes tried: what that costs\n",
                clips.size());
    if (!a.json_out.empty()) write_file_atomically(a.json_out, json_text(nlohmann::json{{"inputs", clips.size()}, {"rows", out}}, 2) + "\n");
    return 0;
}

}  // namespace ldmrecon::cli
