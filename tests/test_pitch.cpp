// The pitch tracker and measures on signals whose pitch is known: glides, a flat buzz, silence, noise.
// (Agreement with librosa.yin, pYIN and Praat on real speech: tests/python/test_pitch.py.)
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/pitch.hpp"

using namespace ldmrecon;

namespace {

constexpr int kRate = 16000;

// A harmonic complex (10 partials, amplitude 1/k) whose F0 follows f0(t); phase is the integral of f0.
template <class F>
std::vector<float> harmonic(double seconds, F f0) {
    const std::size_t n = static_cast<std::size_t>(seconds * kRate);
    std::vector<float> x(n);
    double phase = 0;
    for (std::size_t i = 0; i < n; ++i) {
        double v = 0;
        for (int k = 1; k <= 10; ++k)
            if (k * f0(i / double(kRate)) < kRate / 2) v += std::sin(k * phase) / k;
        x[i] = static_cast<float>(0.3 * v);
        phase += 2 * M_PI * f0(i / double(kRate)) / kRate;
    }
    return x;
}

// An octave glide, 100 -> 200 Hz over `seconds`, exponential in time.
double glide_hz(double t, double seconds) { return 100.0 * std::pow(2.0, t / seconds); }

std::vector<float> noise(double seconds, unsigned seed, float amp = 0.1f) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.f, amp);
    std::vector<float> x(static_cast<std::size_t>(seconds * kRate));
    for (float& v : x) v = d(g);
    return x;
}

PitchTrack track(const std::vector<float>& x) { return track_pitch(x.data(), x.size()); }

}  // namespace

TEST_CASE("a glide is tracked to a few cents of its true F0", "[pitch]") {
    const double T = 2.0;
    const auto x = harmonic(T, [&](double t) { return glide_hz(t, T); });
    const PitchTrack p = track(x);
    REQUIRE(p.frames() == 1 + x.size() / 160);
    double sq = 0;
    std::size_t n = 0, voiced = 0;
    for (std::size_t f = 4; f + 4 < p.frames(); ++f) {  // frames whose 64 ms window lies in the signal
        const double truth = glide_hz(f * 160.0 / kRate, T);
        const double c = 1200 * std::log2(p.f0[f] / truth);
        sq += c * c;
        ++n;
        voiced += p.voiced[f];
        CHECK(p.periodicity[f] > 0.9);
    }
    CHECK(std::sqrt(sq / n) < 5.0);
    CHECK(voiced == n);
}

TEST_CASE("silence and noise are unvoiced; the measures are n/a where undefined", "[pitch]") {
    const std::vector<float> silence(kRate, 0.f);
    const PitchTrack s = track(silence);
    for (std::size_t f = 0; f < s.frames(); ++f) {
        CHECK(!s.voiced[f]);
        CHECK(s.periodicity[f] == 0.0);
    }
    const PitchMeasures both_silent = compare_pitch(s, s);
    CHECK(std::isnan(both_silent.f0_rmse_cents));
    CHECK(std::isnan(both_silent.vuv_f1));
    CHECK(both_silent.periodicity_error == 0.0);

    const PitchTrack w = track(noise(2.0, 1));
    std::size_t voiced = 0;
    for (char v : w.voiced) voiced += v;
    CHECK(voiced < w.frames() / 20);
    // A voiced reference against silence: F1 0 (every voiced frame missed), F0 undefined.
    const auto tone = harmonic(1.0, [](double) { return 150.0; });
    const PitchMeasures missed = compare_pitch(track(tone), s);
    CHECK(missed.vuv_f1 == 0.0);
    CHECK(std::isnan(missed.f0_rmse_cents));
    CHECK(std::isnan(missed.f0_gross_error));
    CHECK(std::isnan(missed.f0_fine_rmse_cents));
}

TEST_CASE("a flat-pitched buzz scores far worse than the glide it replaces", "[pitch]") {
    // The reference: two voiced glides around an unvoiced (noise) stretch, as speech has. The "vocoder
    // output": the same partials at one fixed F0 (the glides' geometric mean) through the whole signal,
    // the compact vocoder's failure the issue describes.
    const double T = 1.0;
    std::vector<float> ref = harmonic(T, [&](double t) { return glide_hz(t, T); });
    const auto gap = noise(0.5, 2, 0.05f);
    ref.insert(ref.end(), gap.begin(), gap.end());
    const auto down = harmonic(T, [&](double t) { return glide_hz(T - t, T); });
    ref.insert(ref.end(), down.begin(), down.end());
    const auto buzz = harmonic(ref.size() / double(kRate), [](double) { return 100.0 * std::sqrt(2.0); });

    const PitchTrack r = track(ref);
    const PitchMeasures self = compare_pitch(r, r);
    CHECK(self.f0_rmse_cents == 0.0);
    CHECK(self.vuv_f1 == 1.0);
    CHECK(self.periodicity_error == 0.0);

    const PitchMeasures flat = compare_pitch(r, track(buzz));
    // The glide spans ±600 cents around the buzz: RMS 600/sqrt(3) = 346 cents.
    CHECK(flat.f0_rmse_cents > 250.0);
    CHECK(flat.f0_rmse_cents < 450.0);
    CHECK(flat.vuv_f1 < 0.95);  // voiced where the reference is noise
    CHECK(flat.periodicity_error > 0.2);
    // A slightly detuned copy (+20 cents) stays close: the measure is graded, not a cliff.
    const auto detuned = harmonic(T, [&](double t) { return glide_hz(t, T) * std::pow(2.0, 20.0 / 1200); });
    const auto near = compare_pitch(track(harmonic(T, [&](double t) { return glide_hz(t, T); })), track(detuned));
    CHECK(near.f0_rmse_cents == Approx(20.0).margin(3.0));
    CHECK(near.f0_gross_error == 0.0);
    CHECK(near.f0_fine_rmse_cents == Approx(near.f0_rmse_cents));
}

TEST_CASE("gross pitch errors are counted apart from the fine error", "[pitch]") {
    // 100 frames voiced in both at 200 Hz: 90 off by +10 cents, 10 an octave down (-1200 cents).
    PitchTrack ref, est;
    for (int f = 0; f < 100; ++f) {
        ref.f0.push_back(200.0);
        est.f0.push_back(f % 10 == 0 ? 100.0 : 200.0 * std::pow(2.0, 10.0 / 1200));
        for (PitchTrack* t : {&ref, &est}) {
            t->periodicity.push_back(0.9);
            t->voiced.push_back(1);
        }
    }
    const PitchMeasures m = compare_pitch(ref, est);
    CHECK(m.f0_gross_error == Approx(0.1));
    CHECK(m.f0_fine_rmse_cents == Approx(10.0));
    // The RMS over all of them is made by the octave errors: sqrt(0.9 * 10^2 + 0.1 * 1200^2).
    CHECK(m.f0_rmse_cents == Approx(std::sqrt(0.9 * 100 + 0.1 * 1200.0 * 1200.0)));
    // The 20 % threshold (315.6 cents): 300 cents off is fine, 330 gross.
    est.f0.assign(100, 200.0 * std::pow(2.0, 300.0 / 1200));
    CHECK(compare_pitch(ref, est).f0_gross_error == 0.0);
    est.f0.assign(100, 200.0 * std::pow(2.0, -330.0 / 1200));
    const PitchMeasures all_gross = compare_pitch(ref, est);
    CHECK(all_gross.f0_gross_error == 1.0);
    CHECK(std::isnan(all_gross.f0_fine_rmse_cents));
}

TEST_CASE("impossible tracker settings are refused", "[pitch]") {
    PitchConfig c;
    c.fmin = 10;  // a period longer than the 1024-sample frame
    const std::vector<float> x(1000, 0.1f);
    CHECK_THROWS_AS(track_pitch(x.data(), x.size(), c), UsageError);
    c = PitchConfig{};
    c.fmax = 9000;  // above Nyquist
    CHECK_THROWS_AS(track_pitch(x.data(), x.size(), c), UsageError);
}
