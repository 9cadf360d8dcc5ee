// The commands that need no model (mel, pitch, metrics, info): they run in the binary itself, which never
// loads libtorch for them.
#include "commands.hpp"

#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "ldmrecon/audio.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/exports.hpp"
#include "ldmrecon/feature.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/inputs.hpp"
#include "ldmrecon/metrics.hpp"
#include "ldmrecon/npy.hpp"
#include "ldmrecon/report.hpp"
#include "ldmrecon/results.hpp"

namespace fs = std::filesystem;

namespace ldmrecon::cli {

int run_mel(const MelArgs& a) {
    // The export's feature when --models is given, else AudioLDM2's (SPEC.md 1).
    FeatureConfig fc = a.models.empty() ? FeatureConfig{} : feature_of_models_dir(a.models);
    fc.scale = parse_mel_scale(a.mel_scale);
    if (is_db_family(fc.scale))
        spdlog::warn("--mel-scale {}: the original notes' feature (power mel in dB, ref = max, 80 dB range{}); "
                     "the published AudioLDM2 models were not trained on it: use it for comparison only",
                     a.mel_scale, fc.scale == MelScale::db ? "" : ", then their normalisation");
    check_outputs({a.input}, a.models.empty() ? "-" : a.models, {{"-o", a.output, true, FileKind::array}});
    MonoAudio in = read_mono(a.input, fc.sample_rate);
    normalise_waveform(in.samples);
    const Matrix mel = LogMel(fc).compute(in.samples);
    write_npy(a.output, mel);
    spdlog::info("{}: {} frames x {} mels ({} scale, {:.2f} s at {} Hz) -> {}", a.input, mel.rows, mel.cols,
                 a.mel_scale, in.seconds(), fc.sample_rate, a.output);
    return 0;
}

namespace {

void write_text(const std::string& output, const std::string& text) {
    if (output.empty() || is_standard_output(output))
        std::cout << text;
    else
        write_file_atomically(output, text);
}

// A pitch track as text: JSON (`header`, then arrays per frame) or CSV (a row a frame). `estimate_key`
// names the tracker's estimate in every frame; f0_hz is null (JSON) or empty (CSV) where unvoiced.
struct TrackText {
    const std::vector<double>& f0;
    std::vector<double> periodicity;
    const std::vector<char>& voiced;
    double first_time, hop_seconds;  // frame f's time: first_time + f * hop_seconds
};

std::string track_text(bool json, nlohmann::json header, const std::string& estimate_key, const TrackText& t) {
    const std::size_t frames = t.f0.size();
    if (json) {
        header[estimate_key] = t.f0;
        header["periodicity"] = t.periodicity;
        header["f0_hz"] = nlohmann::json::array();
        header["voiced"] = nlohmann::json::array();
        for (std::size_t f = 0; f < frames; ++f) {
            header["f0_hz"].push_back(t.voiced[f] ? nlohmann::json(t.f0[f]) : nlohmann::json(nullptr));
            header["voiced"].push_back(t.voiced[f] != 0);
        }
        return json_text(header) + "\n";
    }
    std::string text = "time_s,f0_hz," + estimate_key + ",periodicity,voiced\n";
    char row[128];
    for (std::size_t f = 0; f < frames; ++f) {
        char f0[32] = "";
        if (t.voiced[f]) std::snprintf(f0, sizeof f0, "%.4f", t.f0[f]);
        std::snprintf(row, sizeof row, "%.3f,%s,%.4f,%.6f,%d\n", t.first_time + double(f) * t.hop_seconds, f0, t.f0[f],
                      t.periodicity[f], t.voiced[f] ? 1 : 0);
        text += row;
    }
    return text;
}

// `pitch --crepe FILE`: CREPE's track as the crepe measures see it (16 kHz, frames not centred: frame k
// covers samples [160 k, 160 k + 1024), its time is that span's centre).
int run_pitch_crepe(const PitchArgs& a) {
    if (a.sample_rate != crepe::kSampleRate) throw UsageError("pitch --crepe runs at 16 kHz, CREPE's rate (--sample-rate 16000)");
    load_model_module();  // before anything is read: the process may start again
    const auto net = load_crepe_network(a.crepe, "auto");
    const MonoAudio in = read_mono(a.input, crepe::kSampleRate);
    const CrepeConfig cc;
    const CrepeTrack t = track_crepe(in.samples.data(), in.samples.size(), *net, cc);
    const nlohmann::json header = {{"input", a.input}, {"tracker", net->description()}, {"sample_rate", crepe::kSampleRate},
                                   {"hop_length", cc.hop_length}, {"frame_length", crepe::kWindow}, {"fmin", cc.fmin},
                                   {"fmax", cc.fmax}, {"unvoiced_below", cc.unvoiced_below}};
    const double rate = crepe::kSampleRate;
    const TrackText tt{t.f0, {t.periodicity.begin(), t.periodicity.end()}, t.voiced, crepe::kWindow / 2.0 / rate,
                       cc.hop_length / rate};
    write_text(a.output, track_text(a.json, header, "crepe_f0_hz", tt));
    return 0;
}

}  // namespace

int run_pitch(const PitchArgs& a) {
    check_outputs({a.input}, "-", {{"-o", a.output, true, FileKind::report}});
    if (!a.crepe.empty()) return run_pitch_crepe(a);
    MonoAudio in = read_mono(a.input, a.sample_rate);
    const PitchConfig pc = pitch_config_for(a.sample_rate);
    const PitchTrack t = track_pitch(in.samples.data(), in.samples.size(), pc);
    const nlohmann::json header = {{"input", a.input}, {"sample_rate", pc.sample_rate}, {"hop_length", pc.hop_length},
                                   {"frame_length", pc.frame_length}, {"fmin", pc.fmin}, {"fmax", pc.fmax},
                                   {"voicing_threshold", pc.voicing_threshold}};
    // f0_hz: null where the frame is unvoiced (as pYIN gives NaN); yin_f0_hz: YIN's estimate in every frame.
    const TrackText tt{t.f0, t.periodicity, t.voiced, 0.0, double(pc.hop_length) / pc.sample_rate};
    write_text(a.output, track_text(a.json, header, "yin_f0_hz", tt));
    return 0;
}

int run_metrics(const MetricsArgs& a) {
    if (a.list) {
        std::cout << measure_list_text();
        return 0;
    }
    // CREPE and DistillMOS run in libtorch: its module loads (the process may start again) before anything is read.
    if (needs_measure_networks(measure_selection(a.measures, a.pesq, {}))) load_model_module();
    std::error_code ec;
    if (!a.pairs.empty() || (fs::is_directory(a.reference, ec) && fs::is_directory(a.estimate, ec)))
        return run_metrics_batch(a);
    if (a.reference.empty() || a.estimate.empty())
        throw UsageError("metrics: give REF EST (two files or two folders), or --pairs LIST");
    if (!a.report.empty()) throw UsageError("metrics --report is for many pairs (--pairs or two folders); use --json for one");
    const MeasureSelection measures = measure_selection(a.measures, a.pesq, {});
    MetricsOptions mo;
    mo.max_lag_ms = a.max_lag_ms;
    mo.measures = measures;
    attach_measure_networks(mo, a.networks, "", "auto", a.sample_rate);  // a missing export fails before any reading
    FeatureConfig fc;
    fc.sample_rate = a.sample_rate;
    fc.fmax = std::min(fc.fmax, a.sample_rate / 2.0);
    const MonoAudio ref = read_mono(a.reference, fc.sample_rate);
    const MonoAudio est = read_mono(a.estimate, fc.sample_rate);
    if (ref.samples.size() != est.samples.size())
        spdlog::warn("lengths differ ({} vs {} samples at {} Hz): comparing the first {}", ref.samples.size(),
                     est.samples.size(), fc.sample_rate, std::min(ref.samples.size(), est.samples.size()));
    Metrics m = compare_signals(ref.samples, est.samples, LogMel(fc), mo);
    if (auto pesq = start_pesq(measures.computes(measure_group::pesq))) {
        m.pesq = pesq->score(ref.samples, est.samples, fc.sample_rate);
        if (std::isnan(m.pesq)) spdlog::warn("{}: PESQ: {}", a.estimate, pesq->last_error());
    }
    if (a.json) {
        nlohmann::json j = metrics_json(m);
        j["reference"] = a.reference;
        j["estimate"] = a.estimate;
        std::cout << json_text(j, 2) << "\n";
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
        nlohmann::json meta = read_export_metadata(f);
        if (a.json) {  // a folder's two exports keyed by their kind, each with its path
            meta["path"] = f;
            all[files.size() == 1 ? "file" : fs::path(f).stem().string()] = meta;
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
    if (a.json) std::cout << json_text(files.size() == 1 ? all["file"] : all, 2) << "\n";
    return 0;
}

int run_report_merge(const MergeArgs& a) {
    check_outputs(a.reports, "-", {{"-o", a.output, false, FileKind::report}});
    std::vector<FileResult> all;
    for (const auto& p : a.reports) {
        auto r = read_results(p);
        if (r.empty()) spdlog::warn("{}: holds no results", p);
        warn_repeated(p, r);
        all.insert(all.end(), r.begin(), r.end());
    }
    const std::vector<FileResult> merged = merge_results(all);
    for (const auto& d : provenance_differences(all))
        spdlog::warn("the merged reports were not made the same way: {}", d);
    const Summary s = summarise(merged);
    if (!a.output.empty()) {
        std::string text;
        for (const auto& r : merged) text += json_text(r.record) + "\n";
        write_file_atomically(a.output, text);
    }
    if (a.json)
        std::cout << json_text(summary_json(s), 2) << "\n";
    else
        std::cout << summary_table(s);
    return s.failed > 0 ? kExitSomeFailed : 0;
}

}  // namespace ldmrecon::cli
