// ViSQOL's steps on cases with known answers: Google's own conformance numbers for the mappings at
// identity, the alignment's lag, the filterbank's bands, the invariances the algorithm promises, and the
// refusals. The agreement with visqol-python on real and degraded audio is tests/python/test_visqol.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "../src/visqol_impl.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/visqol.hpp"

using namespace ldmrecon;
using namespace ldmrecon::visqol_detail;
using Approx = Catch::Detail::Approx;

namespace {

constexpr double kPi = 3.14159265358979323846;

// Three seconds of a voiced, syllabic, speech-like signal with a little noise (deterministic).
std::vector<float> speechlike(int rate, double seconds, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> noise(0.0, 1.0);
    const std::size_t n = static_cast<std::size_t>(rate * seconds);
    std::vector<float> x(n);
    double phase = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / rate;
        const double f0 = 120 + 30 * std::sin(2 * kPi * 0.7 * t);
        phase += 2 * kPi * f0 / rate;
        const double syllable = std::pow(std::max(0.0, std::sin(2 * kPi * 2.5 * t)), 2.0);
        double v = 0;
        for (int h = 1; h <= 12; ++h) v += std::sin(h * phase) / h;
        x[i] = static_cast<float>(0.3 * syllable * v + 0.002 * noise(rng));
    }
    return x;
}

}  // namespace

TEST_CASE("the SVR at all-ones NSIM is Google's identity score", "[visqol]") {
    // google/visqol conformance.h kConformanceCastanetsIdentity: identical files give fvnsim = 1 in every
    // band, so the audio mode's score is the model's value there.
    CHECK(svr_support_vectors() == 317);
    CHECK(svr_predict(std::vector<double>(32, 1.0)) == Approx(4.732101253042348).epsilon(1e-12));
}

TEST_CASE("identical signals score NSIM 1 and the top of each mapping", "[visqol]") {
    const auto x = speechlike(16000, 3.0, 1);
    const VisqolResult s = visqol(x.data(), x.size(), x.data(), x.size(), 16000, VisqolMode::speech);
    CHECK(s.nsim == Approx(1.0).epsilon(1e-12));
    // Google's kConformanceUnscaledPerfectScoreExponential 4.015861169223797, times the 1.245063 scale,
    // clamped to 5.
    CHECK(s.mos == Approx(std::min(5.0, 4.015861169223797 * 1.245063)).epsilon(1e-9));
    const auto y = speechlike(48000, 2.0, 2);
    const VisqolResult a = visqol(y.data(), y.size(), y.data(), y.size(), 48000, VisqolMode::audio);
    CHECK(a.nsim == Approx(1.0).epsilon(1e-12));
    CHECK(a.mos == Approx(4.732101253042348).epsilon(1e-12));
    CHECK(a.band_nsim.size() == 32);
}

TEST_CASE("level and a delay do not change the score; noise lowers it", "[visqol]") {
    const auto x = speechlike(16000, 3.0, 3);
    const VisqolResult same = visqol(x.data(), x.size(), x.data(), x.size(), 16000, VisqolMode::speech);
    std::vector<float> quiet(x);
    for (float& v : quiet) v *= 0.25f;  // a power of two: exact, so the level match restores x to the bit
    const VisqolResult q = visqol(x.data(), x.size(), quiet.data(), quiet.size(), 16000, VisqolMode::speech);
    CHECK(q.mos == Approx(same.mos).epsilon(1e-9));
    std::vector<float> late(1600, 0.0f);  // 100 ms later
    late.insert(late.end(), x.begin(), x.end());
    const VisqolResult d = visqol(x.data(), x.size(), late.data(), late.size(), 16000, VisqolMode::speech);
    CHECK(d.mos == Approx(same.mos).margin(0.01));
    std::mt19937 rng(9);
    std::normal_distribution<double> noise(0.0, 0.02);
    std::vector<float> noisy(x);
    for (float& v : noisy) v += static_cast<float>(noise(rng));
    const VisqolResult nz = visqol(x.data(), x.size(), noisy.data(), noisy.size(), 16000, VisqolMode::speech);
    CHECK(nz.mos < same.mos - 0.3);
    CHECK(nz.nsim < same.nsim);
}

TEST_CASE("the cross-correlation finds a known lag, as Google signs it", "[visqol]") {
    const auto x = speechlike(16000, 1.0, 4);
    Signal ref(x.begin(), x.end()), deg(300, 0.0);
    deg.insert(deg.end(), x.begin(), x.end());  // deg = ref 300 samples later
    CHECK(best_xcorr_lag(ref, deg) == -300);  // ref[n + l] ~ deg[n]: l = -300
    double lag = 0;
    const Signal aligned = globally_align(ref, deg, 16000, &lag);
    CHECK(lag == Approx(-300.0 / 16000));
    REQUIRE(aligned.size() == ref.size());
    CHECK(aligned[1234] == ref[1234]);
}

TEST_CASE("the gammatone spectrogram puts a tone in the band centred nearest it", "[visqol]") {
    const Window w(16000);
    CHECK(w.size == 1280);
    CHECK(w.hop == 320);
    Signal tone(16000);
    for (std::size_t i = 0; i < tone.size(); ++i) tone[i] = std::sin(2 * kPi * 1000.0 * static_cast<double>(i) / 16000);
    const Spectrogram s = gammatone_spectrogram(tone, w, 21, true);
    CHECK(s.frames == 1 + (16000 - 1280) / 320);
    std::size_t loudest = 0;
    for (std::size_t b = 1; b < s.bands; ++b)
        if (s.at(b, 10) > s.at(loudest, 10)) loudest = b;
    // 21 ERB-spaced centres from 50 Hz to 8 kHz; 1 kHz lies near the 9th from the bottom.
    CHECK(loudest >= 7);
    CHECK(loudest <= 9);
    CHECK(s.at(loudest, 10) > 10 * s.at(0, 10));
}

TEST_CASE("silent or too short signals are refused as undefined", "[visqol]") {
    const auto x = speechlike(48000, 2.0, 5);
    const std::vector<float> zeros(x.size(), 0.0f);
    CHECK_THROWS_AS(visqol(x.data(), x.size(), zeros.data(), zeros.size(), 48000, VisqolMode::audio), InputError);
    CHECK_THROWS_AS(visqol(zeros.data(), zeros.size(), x.data(), x.size(), 16000, VisqolMode::speech), InputError);
    // Audio mode needs 45 frames of 20 ms after the first 80 ms window: 0.5 s is too short.
    CHECK_THROWS_WITH(visqol(x.data(), 24000, x.data(), 24000, 48000, VisqolMode::audio),
                      Catch::Contains("at least 45 frames"));
    CHECK_THROWS_AS(visqol(x.data(), 1000, x.data(), 1000, 48000, VisqolMode::audio), InputError);
}
