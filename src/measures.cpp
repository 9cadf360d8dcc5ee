#include "ldmrecon/measures.hpp"

#include <cstdio>
#include <sstream>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/measure_network.hpp"

namespace ldmrecon {

namespace {

namespace g = measure_group;

struct GroupName {
    unsigned group;
    const char* name;
};
constexpr GroupName kGroups[] = {{g::sample, "sample"}, {g::aligned, "aligned"}, {g::spectral, "spectral"},
                                 {g::mel, "mel"},       {g::mrstft, "mrstft"},   {g::stoi, "stoi"},
                                 {g::pitch, "pitch"},   {g::vae, "vae"},         {g::pesq, "pesq"},
                                 {g::crepe, "crepe"},   {g::distillmos, "distillmos"}, {g::visqol, "visqol"},
                                 {g::visqol_audio, "visqol_audio"}, {g::dnsmos, "dnsmos"}};

std::set<std::string> keys_of(unsigned groups) {
    std::set<std::string> keys;
    for (const auto& m : metric_specs())
        if (groups & m.group) keys.insert(m.key);
    return keys;
}

std::string trimmed(const std::string& s) {
    const auto a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

}  // namespace

const std::vector<MetricSpec>& metric_specs() {
    // Tolerances: what run-to-run and machine-to-machine float differences stay under.
    static const std::vector<MetricSpec> specs = {
        {"snr_db", true, 0.05, g::sample, "dB", "10 log10(sum x^2 / sum (x-y)^2) on the samples"},
        {"mse", false, 1e-6, g::sample, "", "mean (x-y)^2 on the samples"},
        {"pearson", true, 0.002, g::sample, "", "correlation of the samples"},
        {"aligned_snr_db", true, 0.05, g::aligned, "dB", "SNR after the best delay within --max-lag-ms"},
        {"aligned_mse", false, 1e-6, g::aligned, "", "MSE after the best delay"},
        {"aligned_pearson", true, 0.002, g::aligned, "", "correlation after the best delay"},
        {"si_sdr_db", true, 0.05, g::sample, "dB", "scale-invariant SDR"},
        {"lsd_db", false, 0.05, g::spectral, "dB", "log-spectral distance, STFT power per frame, floor -100 dB"},
        {"spectral_convergence", false, 0.002, g::spectral, "", "|| |X|-|Y| ||F / || |X| ||F on the feature's STFT"},
        {"mel_l1", false, 0.002, g::mel, "ln units", "mean |difference| of the model's log-mel features"},
        {"mel_snr_db", true, 0.05, g::mel, "dB", "SNR of the log-mel values"},
        {"vae_mel_l1", false, 0.002, g::vae, "ln units", "the VAE alone: decoded feature vs the one it was given"},
        {"vae_mel_snr_db", true, 0.05, g::vae, "dB", "the VAE alone: SNR of its decoded feature"},
        {"stoi", true, 0.002, g::stoi, "", "short-time objective intelligibility (Taal 2011, as pystoi), 0..1"},
        {"estoi", true, 0.002, g::stoi, "", "extended STOI (Jensen & Taal 2016), 0..1"},
        {"mrstft", false, 0.002, g::mrstft, "", "multi-resolution STFT distance (ParallelWaveGAN form)"},
        {"f0_rmse_cents", false, 0.5, g::pitch, "cents", "F0 error over frames voiced in both"},
        {"vuv_f1", true, 0.002, g::pitch, "", "F1 of the voicing decisions, the reference's as truth"},
        {"f0_gross_error", false, 0.002, g::pitch, "", "share of frames voiced in both off by more than 20 %"},
        {"f0_fine_rmse_cents", false, 0.5, g::pitch, "cents", "F0 error over the frames that are not gross errors"},
        {"periodicity_error", false, 0.002, g::pitch, "", "RMS difference of the periodicities"},
        {"pesq", true, 0.01, g::pesq, "MOS", "wide-band PESQ (P.862.2) via Python's pesq package"},
        {"crepe_f0_rmse_cents", false, 0.5, g::crepe, "cents", "CREPE F0 error over frames voiced in both (Vocos's form)"},
        {"crepe_periodicity_rmse", false, 0.002, g::crepe, "", "RMS difference of CREPE's periodicities"},
        {"crepe_vuv_f1", true, 0.002, g::crepe, "", "F1 of CREPE's voicing decisions, the reference's as truth"},
        {"distillmos_in", true, 0.01, g::distillmos, "MOS", "DistillMOS of the reference (non-intrusive, 1..5)"},
        {"distillmos_out", true, 0.01, g::distillmos, "MOS", "DistillMOS of the estimate (non-intrusive, 1..5)"},
        {"dnsmos_sig_in", true, 0.01, g::dnsmos, "MOS", "DNSMOS P.835 speech quality (SIG) of the reference, 1..5"},
        {"dnsmos_bak_in", true, 0.01, g::dnsmos, "MOS", "DNSMOS P.835 background (BAK) of the reference, 1..5"},
        {"dnsmos_ovrl_in", true, 0.01, g::dnsmos, "MOS", "DNSMOS P.835 overall quality (OVRL) of the reference, 1..5"},
        {"dnsmos_p808_in", true, 0.01, g::dnsmos, "MOS", "DNSMOS P.808 MOS of the reference"},
        {"dnsmos_sig_out", true, 0.01, g::dnsmos, "MOS", "DNSMOS P.835 speech quality (SIG) of the estimate"},
        {"dnsmos_bak_out", true, 0.01, g::dnsmos, "MOS", "DNSMOS P.835 background (BAK) of the estimate"},
        {"dnsmos_ovrl_out", true, 0.01, g::dnsmos, "MOS", "DNSMOS P.835 overall quality (OVRL) of the estimate"},
        {"dnsmos_p808_out", true, 0.01, g::dnsmos, "MOS", "DNSMOS P.808 MOS of the estimate"},
        {"visqol_speech", true, 0.01, g::visqol, "MOS", "ViSQOL v3 speech mode, 16 kHz, exponential mapping (MOS-LQO 1..5)"},
        {"visqol_speech_nsim", true, 0.001, g::visqol, "", "ViSQOL speech mode's mean NSIM over bands and patches"},
        {"visqol_audio", true, 0.01, g::visqol_audio, "MOS", "ViSQOL v3 audio mode, 48 kHz, Google's SVR (MOS-LQO 1..5)"},
        {"visqol_audio_nsim", true, 0.001, g::visqol_audio, "", "ViSQOL audio mode's mean NSIM over bands and patches"},
    };
    return specs;
}

const MetricSpec* find_metric(const std::string& key) {
    for (const auto& m : metric_specs())
        if (key == m.key) return &m;
    return nullptr;
}

unsigned find_measure_group(const std::string& name) {
    for (const auto& gn : kGroups)
        if (name == gn.name) return gn.group;
    return 0;
}

const char* measure_group_name(unsigned group) {
    for (const auto& gn : kGroups)
        if (group == gn.group) return gn.name;
    return "?";
}

MeasureSelection all_measures() {
    MeasureSelection s;
    s.keys = keys_of(s.groups);
    return s;
}

MeasureSelection parse_measure_selection(const std::string& list) {
    MeasureSelection s;
    s.groups = 0;
    s.text = list;
    std::stringstream in(list);
    std::string item;
    bool any = false;
    while (std::getline(in, item, ',')) {
        const std::string name = trimmed(item);
        if (name.empty()) continue;
        any = true;
        if (name == "none") continue;
        const unsigned groups = name == "all" ? measure_group::all : find_measure_group(name);
        if (groups) {
            s.groups |= groups;
            for (const auto& k : keys_of(groups)) s.keys.insert(k);
        } else if (const MetricSpec* m = find_metric(name)) {
            s.groups |= m->group;
            s.keys.insert(m->key);
        } else {
            throw UsageError("--metrics: unknown measure '" + name + "' (groups: all, none, sample, aligned, spectral, "
                             "mel, mrstft, stoi, pitch, vae, pesq, crepe, distillmos, dnsmos, visqol, visqol_audio; `ldmrecon metrics --list` prints "
                             "every key)");
        }
    }
    if (!any) throw UsageError("--metrics: empty list (give 'none' to compute no measure, 'all' for every one)");
    return s;
}

namespace {
MeasureNetworkLoader g_network_loader = nullptr;
}  // namespace

void set_measure_network_loader(MeasureNetworkLoader loader) { g_network_loader = loader; }

std::shared_ptr<const MeasureNetwork> load_measure_network(const MeasureNetworkRequest& request) {
    if (!g_network_loader)
        throw ModelError(request.path + ": the model module is not loaded, so no measure's network can run");
    return g_network_loader(request);
}

std::string measure_list_text() {
    std::ostringstream o;
    char line[256];
    std::snprintf(line, sizeof line, "%-22s %-12s %-9s %-7s %-9s %s\n", "key", "group", "unit", "better", "tolerance", "meaning");
    o << line;
    for (const auto& m : metric_specs()) {
        std::snprintf(line, sizeof line, "%-22s %-12s %-9s %-7s %-9g %s\n", m.key, measure_group_name(m.group),
                      *m.unit ? m.unit : "-", m.higher_is_better ? "higher" : "lower", m.tolerance, m.what);
        o << line;
    }
    o << "\ngroups: sample, aligned, spectral, mel, mrstft, stoi, pitch, vae (reconstruction only), pesq (needs Python),\n"
         "crepe, distillmos and dnsmos (need the exports of scripts/export_measure_models.py), visqol and visqol_audio\n"
         "(ViSQOL v3's speech mode at 16 kHz and audio mode at 48 kHz: built in, but slow)\n"
         "--metrics takes groups and keys, comma-separated: 'sample,spectral,stoi', 'mel_l1,stoi', 'all', 'none',\n"
         "'all,pesq'. Naming a key computes its whole group and reports that key. Default: all (every group but pesq,\n"
         "crepe, distillmos, dnsmos, visqol and visqol_audio).\n";
    return o.str();
}

}  // namespace ldmrecon
