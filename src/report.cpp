#include "ldmrecon/report.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>


namespace ldmrecon {

namespace {

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// The length of the valid UTF-8 sequence starting at s[i], 0 when there is none (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence(const std::string& s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if (i + n > s.size() || b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
    return n;
}

nlohmann::json escaped_copy(const nlohmann::json& j) {
    if (j.is_string()) return utf8_escaped(j.get<std::string>());
    if (j.is_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& v : j) out.push_back(escaped_copy(v));
        return out;
    }
    if (j.is_object()) {
        nlohmann::json out = nlohmann::json::object();
        for (auto it = j.begin(); it != j.end(); ++it) out[utf8_escaped(it.key())] = escaped_copy(it.value());
        return out;
    }
    return j;
}

}  // namespace

std::string utf8_escaped(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        if (const std::size_t n = utf8_sequence(text, i)) {
            out.append(text, i, n);
            i += n;
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(text[i++]));
            out += hex;
        }
    }
    return out;
}

std::string json_text(const nlohmann::json& j, int indent) {
    try {
        return j.dump(indent);
    } catch (const nlohmann::json::type_error&) {  // 316: a string that is not UTF-8
        return escaped_copy(j).dump(indent);
    }
}

std::string format_number(double v, int decimals) {
    if (std::isnan(v)) return "n/a";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

nlohmann::json metrics_json(const Metrics& m) {
    namespace g = measure_group;
    nlohmann::json j = {{"samples", m.samples}, {"sample_rate", m.sample_rate}};
    const MeasureSelection& sel = m.measures;
    auto put = [&](const char* key, double v) {
        if (sel.reports(key)) j[key] = number(v);
    };
    put("snr_db", m.snr_db);
    put("mse", m.mse);
    put("pearson", m.pearson);
    put("si_sdr_db", m.si_sdr_db);
    if (sel.computes(g::aligned | g::pitch)) {
        j["lag_samples"] = m.lag_samples;
        j["lag_ms"] = 1e3 * static_cast<double>(m.lag_samples) / m.sample_rate;
        j["max_lag_samples"] = m.max_lag_samples;
    }
    put("aligned_snr_db", m.aligned_snr_db);
    put("aligned_mse", m.aligned_mse);
    put("aligned_pearson", m.aligned_pearson);
    put("lsd_db", m.lsd_db);
    put("spectral_convergence", m.spectral_convergence);
    put("mel_l1", m.mel.l1);
    put("mel_snr_db", m.mel.snr_db);
    put("stoi", m.stoi);
    put("estoi", m.estoi);
    if (sel.reports("mrstft")) {
        j["mrstft"] = number(m.mrstft.value);
        j["mrstft_convergence"] = number(m.mrstft.convergence);
        j["mrstft_log_magnitude"] = number(m.mrstft.log_magnitude);
    }
    put("f0_rmse_cents", m.pitch.f0_rmse_cents);
    put("f0_gross_error", m.pitch.f0_gross_error);
    put("f0_fine_rmse_cents", m.pitch.f0_fine_rmse_cents);
    put("vuv_f1", m.pitch.vuv_f1);
    put("periodicity_error", m.pitch.periodicity_error);
    if (sel.computes(g::pitch)) {
        j["pitch_frames"] = m.pitch.frames;
        j["voiced_frames_reference"] = m.pitch.voiced_reference;
        j["voiced_frames_both"] = m.pitch.voiced_both;
    }
    put("pesq", m.pesq);
    put("crepe_f0_rmse_cents", m.crepe.f0_rmse_cents);
    put("crepe_periodicity_rmse", m.crepe.periodicity_rmse);
    put("crepe_vuv_f1", m.crepe.vuv_f1);
    put("distillmos_in", m.distillmos_in);
    put("distillmos_out", m.distillmos_out);
    put("dnsmos_sig_in", m.dnsmos_in.sig);
    put("dnsmos_bak_in", m.dnsmos_in.bak);
    put("dnsmos_ovrl_in", m.dnsmos_in.ovrl);
    put("dnsmos_p808_in", m.dnsmos_in.p808);
    put("dnsmos_sig_out", m.dnsmos_out.sig);
    put("dnsmos_bak_out", m.dnsmos_out.bak);
    put("dnsmos_ovrl_out", m.dnsmos_out.ovrl);
    put("dnsmos_p808_out", m.dnsmos_out.p808);
    put("visqol_speech", m.visqol_speech);
    put("visqol_speech_nsim", m.visqol_speech_nsim);
    put("visqol_audio", m.visqol_audio);
    put("visqol_audio_nsim", m.visqol_audio_nsim);
    if (sel.computes(g::crepe)) {
        j["crepe_frames"] = m.crepe.frames;
        j["crepe_voiced_frames_both"] = m.crepe.voiced_both;
    }
    return j;
}

std::string metrics_table(const Metrics& m, const MelDistance* vae) {
    std::ostringstream s;
    const MeasureSelection& sel = m.measures;
    // A row for a reported key; a section's heading before its first row.
    const char* heading = nullptr;
    auto section = [&heading](const char* h) { heading = h; };
    auto row = [&](const char* key, const char* name, const std::string& value, const char* note) {
        if (key && !sel.reports(key)) return;
        if (heading) s << heading << "\n", heading = nullptr;
        char buf[256];
        std::snprintf(buf, sizeof buf, "  %-22s %12s   %s\n", name, value.c_str(), note);
        s << buf;
    };
    const double lag_ms = 1e3 * static_cast<double>(m.lag_samples) / m.sample_rate;
    const double win_ms = 1e3 * static_cast<double>(m.max_lag_samples) / m.sample_rate;
    section("sample-wise (phase-sensitive: near 0 dB / 0 for any neural vocoder, even when it sounds right)");
    row("snr_db", "SNR", format_number(m.snr_db, 2) + " dB", "10 log10(sum x^2 / sum (x-y)^2)");
    row("mse", "MSE", format_number(m.mse, 6), "mean (x-y)^2");
    row("pearson", "Pearson r", format_number(m.pearson, 4), "correlation of the samples");
    row("si_sdr_db", "SI-SDR", format_number(m.si_sdr_db, 2) + " dB", "scale-invariant SDR");
    char aligned[160];
    std::snprintf(aligned, sizeof aligned, "delay-compensated (lag %ld samples (%.2f ms), searched within +-%.1f ms)",
                  m.lag_samples, lag_ms, win_ms);
    section(aligned);
    row("aligned_snr_db", "aligned SNR", format_number(m.aligned_snr_db, 2) + " dB", "");
    row("aligned_mse", "aligned MSE", format_number(m.aligned_mse, 6), "");
    row("aligned_pearson", "aligned Pearson r", format_number(m.aligned_pearson, 4), "");
    section("spectral (phase-insensitive: what a vocoder is judged by)");
    row("lsd_db", "log-spectral dist.", format_number(m.lsd_db, 2) + " dB", "STFT power per frame, floor -100 dB; lower is better");
    row("spectral_convergence", "spectral conv.", format_number(m.spectral_convergence, 4), "|| |X|-|Y| ||F / || |X| ||F; lower is better");
    row("mel_l1", "log-mel L1", format_number(m.mel.l1, 4), "model feature of output vs input, ln units");
    row("mel_snr_db", "log-mel SNR", format_number(m.mel.snr_db, 2) + " dB", "on the ln-mel values");
    row("mrstft", "MR-STFT", format_number(m.mrstft.value, 4), "spectral conv. + log-magnitude L1, 3 resolutions; lower is better");
    section("intelligibility (speech; 0..1, higher is better)");
    row("stoi", "STOI", format_number(m.stoi, 4), "Taal et al. 2011, as pystoi");
    row("estoi", "ESTOI", format_number(m.estoi, 4), "extended STOI, Jensen & Taal 2016");
    if (!std::isnan(m.pesq) || sel.reports("pesq"))
        row(nullptr, "PESQ (wide band)", format_number(m.pesq, 3), "ITU-T P.862.2 (MOS-LQO, 1.04..4.64) via the pesq package");
    char voiced[96];
    std::snprintf(voiced, sizeof voiced, "over %zu frames voiced in both (of %zu voiced in the input)", m.pitch.voiced_both,
                  m.pitch.voiced_reference);
    section("pitch (YIN, 10 ms frames; n/a where no frame is voiced)");
    row("f0_rmse_cents", "F0 RMSE", format_number(m.pitch.f0_rmse_cents, 1) + " cents", voiced);
    row("f0_gross_error", "F0 gross errors", format_number(m.pitch.f0_gross_error, 3), "share of those frames off by more than 20 % (octave-like)");
    row("f0_fine_rmse_cents", "F0 fine RMSE", format_number(m.pitch.f0_fine_rmse_cents, 1) + " cents", "over the frames that are not gross errors");
    row("vuv_f1", "V/UV F1", format_number(m.pitch.vuv_f1, 4), "voicing decisions vs the input's; higher is better");
    row("periodicity_error", "periodicity error", format_number(m.pitch.periodicity_error, 4), "RMS of the periodicity difference; lower is better");
    char crepe_voiced[96];
    std::snprintf(crepe_voiced, sizeof crepe_voiced, "over %zu frames voiced in both", m.crepe.voiced_both);
    section("pitch (CREPE, 10 ms, 50-550 Hz, as Vocos's periodicity metrics; undithered)");
    row("crepe_f0_rmse_cents", "CREPE F0 RMSE", format_number(m.crepe.f0_rmse_cents, 1) + " cents", crepe_voiced);
    row("crepe_periodicity_rmse", "CREPE periodicity", format_number(m.crepe.periodicity_rmse, 4), "RMS of the periodicity difference; lower is better");
    row("crepe_vuv_f1", "CREPE V/UV F1", format_number(m.crepe.vuv_f1, 4), "voicing decisions vs the input's; higher is better");
    section("speech quality predicted without a reference (MOS, 1..5, higher is better)");
    row("distillmos_in", "DistillMOS input", format_number(m.distillmos_in, 3), "Stahl & Gamper, distillmos 0.9.1");
    row("distillmos_out", "DistillMOS output", format_number(m.distillmos_out, 3), "");
    row("dnsmos_ovrl_in", "DNSMOS OVRL input", format_number(m.dnsmos_in.ovrl, 3), "P.835 overall, Microsoft's DNSMOS");
    row("dnsmos_ovrl_out", "DNSMOS OVRL output", format_number(m.dnsmos_out.ovrl, 3), "");
    row("dnsmos_sig_in", "DNSMOS SIG input", format_number(m.dnsmos_in.sig, 3), "P.835 speech signal");
    row("dnsmos_sig_out", "DNSMOS SIG output", format_number(m.dnsmos_out.sig, 3), "");
    row("dnsmos_bak_in", "DNSMOS BAK input", format_number(m.dnsmos_in.bak, 3), "P.835 background noise");
    row("dnsmos_bak_out", "DNSMOS BAK output", format_number(m.dnsmos_out.bak, 3), "");
    row("dnsmos_p808_in", "DNSMOS P.808 input", format_number(m.dnsmos_in.p808, 3), "P.808 MOS");
    row("dnsmos_p808_out", "DNSMOS P.808 output", format_number(m.dnsmos_out.p808, 3), "");
    section("ViSQOL v3 (MOS-LQO 1..5 and mean NSIM 0..1, higher is better; n/a: silent or too short)");
    row("visqol_speech", "ViSQOL speech", format_number(m.visqol_speech, 3), "speech mode, 16 kHz, exponential mapping");
    row("visqol_speech_nsim", "ViSQOL speech NSIM", format_number(m.visqol_speech_nsim, 4), "");
    row("visqol_audio", "ViSQOL audio", format_number(m.visqol_audio, 3), "audio mode, 48 kHz, Google's SVR");
    row("visqol_audio_nsim", "ViSQOL audio NSIM", format_number(m.visqol_audio_nsim, 4), "");
    if (vae) {
        section("VAE alone (its decoded feature vs the feature it was given, before the vocoder)");
        row("vae_mel_l1", "VAE log-mel L1", format_number(vae->l1, 4), "ln units");
        row("vae_mel_snr_db", "VAE log-mel SNR", format_number(vae->snr_db, 2) + " dB", "");
    }
    return s.str();
}

}  // namespace ldmrecon
