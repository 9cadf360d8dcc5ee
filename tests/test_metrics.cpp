// Every metric on closed-form cases: identical signals, known gain, known delay, known noise level.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "ldmrecon/metrics.hpp"

using namespace ldmrecon;
using Approx = Catch::Detail::Approx;

namespace {

std::vector<float> tone_mix(std::size_t n, unsigned seed = 1) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.f, 0.05f);
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i)
        x[i] = 0.4f * std::sin(2 * M_PI * 220.0 * i / 16000) + 0.2f * std::sin(2 * M_PI * 1375.0 * i / 16000) + g(rng);
    return x;
}

double power(const std::vector<float>& x) {
    double s = 0;
    for (float v : x) s += double(v) * v;
    return s / x.size();
}

}  // namespace

TEST_CASE("identical signals", "[metrics]") {
    const auto x = tone_mix(16000);
    const std::size_t n = x.size();
    CHECK(std::isinf(snr_db(x.data(), x.data(), n)));
    CHECK(snr_db(x.data(), x.data(), n) > 0);
    CHECK(mse(x.data(), x.data(), n) == 0.0);
    CHECK(pearson(x.data(), x.data(), n) == Approx(1.0).epsilon(1e-12));
    CHECK(std::isinf(si_sdr_db(x.data(), x.data(), n)));
    const LogMel f{FeatureConfig{}};
    const Metrics m = compare_signals(x, x, f);
    CHECK(m.lag_samples == 0);
    CHECK(m.lsd_db == 0.0);
    CHECK(m.spectral_convergence == 0.0);
    CHECK(m.mel.l1 == 0.0);
    CHECK(std::isinf(m.mel.snr_db));
}

TEST_CASE("known gain", "[metrics]") {
    const auto x = tone_mix(16000);
    std::vector<float> y(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = 0.5f * x[i];
    const std::size_t n = x.size();
    // SNR = 10 log10(sum x^2 / sum (0.5 x)^2) = 10 log10(4)
    CHECK(snr_db(x.data(), y.data(), n) == Approx(10 * std::log10(4.0)).epsilon(1e-9));
    CHECK(mse(x.data(), y.data(), n) == Approx(0.25 * power(x)).epsilon(1e-9));
    CHECK(pearson(x.data(), y.data(), n) == Approx(1.0).epsilon(1e-9));
    CHECK(si_sdr_db(x.data(), y.data(), n) > 100);  // scale-invariant: a gain is no error
    const LogMel f{FeatureConfig{}};
    const Metrics m = compare_signals(x, y, f);
    CHECK(m.lsd_db == Approx(20 * std::log10(2.0)).epsilon(1e-5));  // every bin 6.02 dB down
    CHECK(m.spectral_convergence == Approx(0.5).epsilon(1e-6));
    // ln-mel of a half-amplitude signal is ln(0.5) lower wherever both are above the floor.
    CHECK(m.mel.l1 == Approx(std::log(2.0)).epsilon(0.02));
}

TEST_CASE("inverted polarity", "[metrics]") {
    const auto x = tone_mix(8000);
    std::vector<float> y(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = -x[i];
    CHECK(pearson(x.data(), y.data(), x.size()) == Approx(-1.0).epsilon(1e-9));
    CHECK(snr_db(x.data(), y.data(), x.size()) == Approx(10 * std::log10(0.25)).epsilon(1e-9));
}

TEST_CASE("known noise level", "[metrics]") {
    const auto x = tone_mix(48000, 3);
    std::mt19937 rng(7);
    std::normal_distribution<float> g(0.f, 1.f);
    const double px = power(x);
    for (double target : {0.0, 10.0, 20.0, 30.0}) {
        const double sigma = std::sqrt(px / std::pow(10.0, target / 10));
        std::vector<float> y(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] + static_cast<float>(sigma * g(rng));
        INFO("target " << target << " dB");
        CHECK(snr_db(x.data(), y.data(), x.size()) == Approx(target).margin(0.1));
        CHECK(si_sdr_db(x.data(), y.data(), x.size()) == Approx(target).margin(0.15));
        CHECK(mse(x.data(), y.data(), x.size()) == Approx(sigma * sigma).epsilon(0.03));
        // Pearson of x + independent noise: sqrt(SNR / (1 + SNR)) in linear terms.
        const double s = std::pow(10.0, target / 10);
        CHECK(pearson(x.data(), y.data(), x.size()) == Approx(std::sqrt(s / (1 + s))).margin(0.01));
    }
}

TEST_CASE("known delay", "[metrics]") {
    const auto x = tone_mix(16000, 5);
    const LogMel f{FeatureConfig{}};
    for (long d : {0L, 1L, 37L, -23L, 800L}) {
        std::vector<float> y(x.size(), 0.f);
        for (std::size_t i = 0; i < x.size(); ++i) {
            const long j = static_cast<long>(i) + d;  // y[i + d] = x[i]: y is x delayed by d
            if (j >= 0 && j < static_cast<long>(y.size())) y[j] = x[i];
        }
        INFO("delay " << d);
        CHECK(best_lag(x, y, 1600) == d);
        const Metrics m = compare_signals(x, y, f);
        CHECK(m.lag_samples == d);
        CHECK(m.aligned_pearson == Approx(1.0).epsilon(1e-9));
        CHECK(std::isinf(m.aligned_snr_db));
        if (d != 0) CHECK(m.snr_db < 12.0);  // unaligned, the delay costs accuracy (1 sample: ~9.6 dB)
    }
    // Longer than one correlation block (32768 samples): the blocks' sums must add up.
    const auto lx = tone_mix(100000, 9);
    for (long d : {1500L, -777L}) {
        std::vector<float> y(lx.size(), 0.f);
        for (std::size_t i = 0; i < lx.size(); ++i) {
            const long j = static_cast<long>(i) + d;
            if (j >= 0 && j < static_cast<long>(y.size())) y[j] = lx[i];
        }
        CHECK(best_lag(lx, y, 1600) == d);
    }
    // Outside the window the search stops at its edge.
    std::vector<float> y(x.size(), 0.f);
    std::copy(x.begin(), x.end() - 500, y.begin() + 500);
    CHECK(std::labs(best_lag(x, y, 100)) <= 100);
}

TEST_CASE("mel distance", "[metrics]") {
    Matrix a(10, 4, -3.f), b(10, 4, -3.f);
    for (std::size_t t = 0; t < 10; ++t) b.at(t, 1) = -2.f;
    const MelDistance d = mel_distance(a, b);
    CHECK(d.frames == 10);
    CHECK(d.l1 == Approx(0.25));
    // sum a^2 = 40 * 9 = 360, sum diff^2 = 10
    CHECK(d.snr_db == Approx(10 * std::log10(36.0)));
    CHECK(mel_distance(a, b, 3).frames == 3);
}

TEST_CASE("empty and constant signals do not crash", "[metrics]") {
    const std::vector<float> z(100, 0.f), c(100, 0.3f);
    CHECK(std::isnan(pearson(z.data(), c.data(), z.size())));
    CHECK(std::isnan(si_sdr_db(z.data(), c.data(), z.size())));
    CHECK(std::isnan(mse(z.data(), z.data(), 0)));
    CHECK(best_lag(z, c, 10) == 0);
}
