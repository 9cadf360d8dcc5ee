// The catalogue of reported measures (key, group, unit, direction, regression tolerance) and the choice
// of which to compute (--metrics LIST). `ldmrecon metrics --list` prints the catalogue.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace ldmrecon {

// The groups compare_signals computes one at a time: naming one key computes its whole group.
namespace measure_group {
enum : unsigned {
    sample = 1u << 0,    // SNR, MSE, Pearson, SI-SDR on the samples as they are
    aligned = 1u << 1,   // the same after the delay search
    spectral = 1u << 2,  // LSD and spectral convergence on the feature's STFT
    mel = 1u << 3,       // the model's own log-mel of both
    mrstft = 1u << 4,    // multi-resolution STFT distance
    stoi = 1u << 5,      // STOI and ESTOI
    pitch = 1u << 6,     // YIN pitch, voicing and periodicity
    vae = 1u << 7,       // the VAE's own error in its feature space (reconstruction only)
    pesq = 1u << 8,      // wide-band PESQ through Python's pesq package: never in "all"
    crepe = 1u << 9,     // CREPE pitch and periodicity: needs the exported network, never in "all"
    distillmos = 1u << 10,  // DistillMOS of the input and the output: needs the exported network, never in "all"
    visqol = 1u << 11,        // ViSQOL v3, speech mode at 16 kHz: native, never in "all" (its search is slow)
    visqol_audio = 1u << 12,  // ViSQOL v3, audio mode at 48 kHz: native, never in "all"
    dnsmos = 1u << 13,        // DNSMOS SIG, BAK, OVRL and P.808 of input and output: needs the export, never in "all"
};
constexpr unsigned all = sample | aligned | spectral | mel | mrstft | stoi | pitch | vae;
}  // namespace measure_group

// What is known of each reported measure.
struct MetricSpec {
    const char* key;
    bool higher_is_better;
    double tolerance;  // default --tolerance: a change smaller than this is not a regression
    unsigned group;    // a measure_group bit
    const char* unit;  // "dB", "cents", "ln units", "" (a ratio or a score)
    const char* what;  // one line for --list
};
// In the order of the CSV report's columns.
const std::vector<MetricSpec>& metric_specs();
const MetricSpec* find_metric(const std::string& key);
// "sample", "aligned", ...; 0 for a name that is no group.
unsigned find_measure_group(const std::string& name);
const char* measure_group_name(unsigned group);

// Which measures a run computes and reports.
struct MeasureSelection {
    unsigned groups = measure_group::all;  // computed
    std::set<std::string> keys;            // reported: every key of `groups` unless single keys were named
    std::string text = "all";              // as the user wrote it
    bool computes(unsigned group) const { return (groups & group) != 0; }
    bool reports(const std::string& key) const { return keys.count(key) != 0; }
};
// The default: every group but pesq, crepe, distillmos and dnsmos (they need Python or an exported network) and the
// two ViSQOL groups (a second or more of search per minute of audio).
MeasureSelection all_measures();
// "all", "none", or a comma-separated list of groups and single keys ("sample,spectral,stoi", "mel_l1,stoi",
// "all,pesq"). Throws UsageError on an unknown name, with the closest known one.
MeasureSelection parse_measure_selection(const std::string& list);
// The catalogue as a table (key, group, unit, better, tolerance, meaning), for `metrics --list`.
std::string measure_list_text();

}  // namespace ldmrecon
