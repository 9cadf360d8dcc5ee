// ViSQOL's spectrogram: Slaney's ERB gammatone filterbank applied frame by frame, and its dB preparation.
#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>

#include "ldmrecon/errors.hpp"
#include "measure_kernels.hpp"
#include "visqol_impl.hpp"

namespace ldmrecon::visqol_detail {

namespace {

constexpr double kPi = 3.14159265358979323846;
// Glasberg and Moore's ERB parameters. ref: equivalent_rectangular_bandwidth.cc
constexpr double kEarQ = 9.26449, kMinBw = 24.7;
constexpr double kMinFreq = 50.0, kSpeechMaxFreq = 8000.0;

// One band's four cascaded biquads: numerators b[stage][0..2] (stage 0 carries 1 / gain), shared
// denominator 1 + a1 z^-1 + a2 z^-2.
struct GammatoneBand {
    double centre = 0;
    double b[4][3] = {};
    double a1 = 0, a2 = 0;
};

// ref: equivalent_rectangular_bandwidth.cc MakeFilters (Slaney's MakeERBFilters, order 1), gammatone.py
// make_erb_filters. Returned lowest centre first (Google flips the highest-first ERB order).
std::vector<GammatoneBand> erb_filters(int rate, std::size_t bands, double high_freq) {
    high_freq = std::min(high_freq, rate / 2.0);
    const double T = 1.0 / rate;
    const double ew = kEarQ * kMinBw;
    const double step = (-std::log(high_freq + ew) + std::log(kMinFreq + ew)) / static_cast<double>(bands);
    std::vector<GammatoneBand> out(bands);
    for (std::size_t i = 0; i < bands; ++i) {
        const double cf = -ew + std::exp(static_cast<double>(i + 1) * step) * (high_freq + ew);
        const double erb = cf / kEarQ + kMinBw;
        const double B = 1.019 * 2.0 * kPi * erb;
        const double expBT = std::exp(B * T);
        const double cosw = std::cos(2.0 * cf * kPi * T), sinw = std::sin(2.0 * cf * kPi * T);
        const double a = cosw * 2.0 * T;
        const double bpos = sinw * T * 2.0 * std::sqrt(3.0 + std::pow(2.0, 1.5));
        const double bneg = sinw * T * 2.0 * std::sqrt(3.0 - std::pow(2.0, 1.5));
        const double a11 = -(a / expBT + bpos / expBT) / 2.0, a12 = -(a / expBT - bpos / expBT) / 2.0;
        const double a13 = -(a / expBT + bneg / expBT) / 2.0, a14 = -(a / expBT - bneg / expBT) / 2.0;
        // The gain at the centre frequency, in complex arithmetic.
        using C = std::complex<double>;
        const double s1 = std::sqrt(3.0 - std::pow(2.0, 1.5)), s2 = std::sqrt(3.0 + std::pow(2.0, 1.5));
        const C xexp = std::exp(C(0, 4.0 * cf * kPi * T));
        const C x01 = -2.0 * xexp * T;
        const C x02 = 2.0 * std::exp(C(-B, 2.0 * cf * kPi) * T) * T;
        const C x1 = x01 + x02 * (cosw - s1 * sinw), x2 = x01 + x02 * (cosw + s1 * sinw);
        const C x3 = x01 + x02 * (cosw - s2 * sinw), x4 = x01 + x02 * (cosw + s2 * sinw);
        const C x5 = -2.0 / std::exp(2.0 * B * T) - 2.0 * xexp + 2.0 * (1.0 + xexp) / std::exp(B * T);
        const double gain = std::abs(x1 * x2 * x3 * x4 / (x5 * x5 * x5 * x5));
        GammatoneBand& g = out[bands - 1 - i];
        g.centre = cf;
        const double a1s[4] = {a11, a12, a13, a14};
        for (int s = 0; s < 4; ++s) {  // the first stage carries 1 / gain
            g.b[s][0] = s == 0 ? T / gain : T;
            g.b[s][1] = s == 0 ? a1s[s] / gain : a1s[s];
            g.b[s][2] = 0.0;
        }
        g.a1 = -2.0 * cosw / expBT;
        g.a2 = std::exp(-2.0 * B * T);
    }
    return out;
}

// The bank's coefficients as the kernel takes them (stage-major arrays, bands in lanes).
struct Bank {
    std::vector<double> b0, b1, b2, a1, a2;
    kernels::BiquadCascades view() const { return {b0.data(), b1.data(), b2.data(), a1.data(), a2.data(), a1.size()}; }
};
Bank bank_of(const std::vector<GammatoneBand>& bands) {
    const std::size_t B = bands.size();
    Bank k;
    k.b0.resize(4 * B), k.b1.resize(4 * B), k.b2.resize(4 * B), k.a1.resize(B), k.a2.resize(B);
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t s = 0; s < 4; ++s) {
            k.b0[s * B + b] = bands[b].b[s][0];
            k.b1[s * B + b] = bands[b].b[s][1];
            k.b2[s * B + b] = bands[b].b[s][2];
        }
        k.a1[b] = bands[b].a1;
        k.a2[b] = bands[b].a2;
    }
    return k;
}

}  // namespace

Window::Window(int sample_rate) : rate(sample_rate) {
    size = static_cast<std::size_t>(std::lround(sample_rate * 0.08));
    hop = static_cast<std::size_t>(static_cast<double>(size) * 0.25);
    hann.resize(size);
    for (std::size_t i = 0; i < size; ++i)
        hann[i] = 0.5 - 0.5 * std::cos(2.0 * kPi * static_cast<double>(i) / static_cast<double>(size - 1));
}

Spectrogram gammatone_spectrogram(const Signal& x, const Window& w, std::size_t bands, bool speech_mode) {
    // ref: gammatone_spectrogram_builder.cc Build
    if (x.size() <= w.size)
        throw InputError("ViSQOL needs more than " + std::to_string(w.size) +
                         " samples (80 ms) to build its spectrogram");
    if (bands > kernels::kMaxCascadeBands) throw InputError("ViSQOL: at most 64 gammatone bands");
    const Bank bank = bank_of(erb_filters(w.rate, bands, speech_mode ? kSpeechMaxFreq : w.rate / 2.0));
    Spectrogram s;
    s.bands = bands;
    s.frames = 1 + (x.size() - w.size) / w.hop;
    s.v.resize(s.bands * s.frames);
    // Each frame through the bank from rest (direct form II transposed, as scipy's lfilter and Google's
    // SignalFilter), its RMS per band.
    std::vector<double> frame(w.size), energy(bands);
    for (std::size_t f = 0; f < s.frames; ++f) {
        const double* in = x.data() + f * w.hop;
        for (std::size_t i = 0; i < w.size; ++i) frame[i] = in[i] * w.hann[i];
        kernels::cascade_energy(frame.data(), w.size, bank.view(), energy.data());
        for (std::size_t b = 0; b < bands; ++b) s.at(b, f) = std::sqrt(energy[b] / static_cast<double>(w.size));
    }
    return s;
}

void prepare_for_comparison(Spectrogram& ref, Spectrogram& deg) {
    // ref: misc_audio.cc PrepareSpectrogramsForComparison, spectrogram.cc ConvertToDb
    constexpr double kAbsoluteFloorDb = -45.0, kRelativeFloorDb = 45.0;
    const double eps = std::numeric_limits<double>::epsilon();
    for (Spectrogram* s : {&ref, &deg})
        for (double& v : s->v) v = std::max(10.0 * std::log10(std::abs(v) == 0 ? eps : std::abs(v)), kAbsoluteFloorDb);
    const std::size_t common = std::min(ref.frames, deg.frames);
    for (std::size_t f = 0; f < common; ++f) {
        double peak = -INFINITY;
        for (std::size_t b = 0; b < ref.bands; ++b) peak = std::max({peak, ref.at(b, f), deg.at(b, f)});
        const double floor = peak - kRelativeFloorDb;
        for (std::size_t b = 0; b < ref.bands; ++b) {
            ref.at(b, f) = std::max(ref.at(b, f), floor);
            deg.at(b, f) = std::max(deg.at(b, f), floor);
        }
    }
    const double lowest =
        std::min(*std::min_element(ref.v.begin(), ref.v.end()), *std::min_element(deg.v.begin(), deg.v.end()));
    for (Spectrogram* s : {&ref, &deg})
        for (double& v : s->v) v -= lowest;
}

}  // namespace ldmrecon::visqol_detail
