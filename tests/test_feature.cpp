// Properties of the feature that do not need the Python reference (tests/python/test_feature.py has it).
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>

#include "ldmrecon/feature.hpp"
#include "ldmrecon/pipeline.hpp"

using namespace ldmrecon;
using Approx = Catch::Detail::Approx;

TEST_CASE("periodic Hann window", "[feature]") {
    const auto w = stft_window(1024, 1024);
    REQUIRE(w.size() == 1024);
    CHECK(w[0] == 0.0);
    CHECK(w[512] == Approx(1.0));
    for (int k = 1; k < 512; ++k) CHECK(w[k] == Approx(w[1024 - k]).margin(1e-12));  // periodic: w[k] = w[N-k]
    CHECK(std::accumulate(w.begin(), w.end(), 0.0) == Approx(512.0));
    const auto s = stft_window(1024, 400);  // shorter windows are centred, zeros outside
    CHECK(s[311] == 0.0);
    CHECK(s[312 + 200] == Approx(1.0));
}

TEST_CASE("Slaney mel filterbank", "[feature]") {
    const FeatureConfig cfg;
    const Matrix fb = mel_filterbank(cfg);
    REQUIRE(fb.rows == 64);
    REQUIRE(fb.cols == 513);
    for (float v : fb.data) CHECK(v >= 0.f);
    // Slaney normalisation: each triangle's area in Hz is 1, i.e. sum_k w[k] * (sr / n_fft) ~= 1.
    for (std::size_t i = 8; i < 64; ++i) {
        double area = 0;
        for (std::size_t k = 0; k < 513; ++k) area += fb.at(i, k) * (16000.0 / 1024);
        INFO("band " << i);
        CHECK(area == Approx(1.0).epsilon(0.05));
    }
    // Below 1 kHz the scale is linear: band centres 200/3 Hz apart in mel -> equal spacing in Hz there.
    auto peak = [&](std::size_t i) {
        std::size_t best = 0;
        for (std::size_t k = 0; k < 513; ++k)
            if (fb.at(i, k) > fb.at(i, best)) best = k;
        return best;
    };
    CHECK(peak(63) > 480);  // the last band reaches towards 8 kHz (bin 512)
    CHECK(peak(0) <= 3);
}

TEST_CASE("frame count and layout", "[feature]") {
    const LogMel f{FeatureConfig{}};
    for (std::size_t n : {1u, 100u, 159u, 160u, 161u, 16000u, 163840u}) {
        std::vector<float> x(n, 0.f);
        for (std::size_t i = 0; i < n; ++i) x[i] = 0.3f * std::sin(0.05f * i);
        const Matrix m = f.compute(x);
        INFO("n " << n);
        CHECK(m.rows == 1 + n / 160);
        CHECK(m.cols == 64);
        for (float v : m.data) CHECK(std::isfinite(v));
    }
}

TEST_CASE("a tone lands in its mel band at every frame", "[feature]") {
    const LogMel f{FeatureConfig{}};
    std::vector<float> x(16000);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.5f * std::sin(2 * M_PI * 1000.0 * i / 16000);
    const Matrix m = f.compute(x);
    const Matrix fb = mel_filterbank(FeatureConfig{});
    // The band whose filter weighs bin 64 (1000 Hz) the most.
    std::size_t want = 0;
    for (std::size_t i = 0; i < 64; ++i)
        if (fb.at(i, 64) > fb.at(want, 64)) want = i;
    for (std::size_t t = 3; t + 3 < m.rows; ++t) {
        std::size_t best = 0;
        for (std::size_t i = 0; i < 64; ++i)
            if (m.at(t, i) > m.at(t, best)) best = i;
        CHECK(best == want);
    }
    // Silence sits at the floor, ln(1e-5).
    const Matrix s = f.compute(std::vector<float>(3200, 0.f));
    for (float v : s.data) CHECK(v == Approx(std::log(1e-5)));
}

TEST_CASE("dB mode: max 0, 80 dB range", "[feature]") {
    FeatureConfig cfg;
    cfg.scale = MelScale::db;
    const LogMel f(cfg);
    std::vector<float> x(8000);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = (i < 4000 ? 0.5f : 1e-6f) * std::sin(0.3f * i);
    const Matrix m = f.compute(x);
    float hi = -1e9f, lo = 1e9f;
    for (float v : m.data) hi = std::max(hi, v), lo = std::min(lo, v);
    CHECK(hi == Approx(0.f).margin(1e-6));
    CHECK(lo == Approx(-80.f).margin(1e-4));
    CHECK(parse_mel_scale("db") == MelScale::db);
    CHECK_THROWS(parse_mel_scale("log10"));
}

TEST_CASE("waveform normalisation round trip", "[feature]") {
    std::vector<float> x(1000);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.1f + 0.25f * static_cast<float>(std::sin(2 * M_PI * i / 100.0));
    const std::vector<float> orig = x;
    const Gain g = normalise_waveform(x);
    CHECK(g.mean == Approx(0.1).margin(1e-6));  // ten whole periods: the mean is the offset
    float peak = 0, mean = 0;
    for (float v : x) peak = std::max(peak, std::abs(v)), mean += v;
    CHECK(peak == Approx(0.5f).epsilon(1e-6));
    CHECK(mean / x.size() == Approx(0.f).margin(1e-6));
    restore_level(x, g);
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(x[i] == Approx(orig[i]).margin(1e-6));
    std::vector<float> silent(10, 0.f);
    const Gain gs = normalise_waveform(silent);  // no division by zero
    for (float v : silent) CHECK(v == 0.f);
    CHECK(std::isfinite(gs.scale));
}

TEST_CASE("padding to whole VAE frames", "[feature][pipeline]") {
    // frames = 1 + n / 160 must become a multiple of 4
    CHECK(padded_length(1, 160, 4) == 480);          // 1 frame -> 4 frames
    CHECK(padded_length(480, 160, 4) == 480);        // already 4 frames
    CHECK(padded_length(530, 160, 4) == 530);        // 4 frames, not shortened
    CHECK(padded_length(640, 160, 4) == 1120);       // 5 frames -> 8
    CHECK(padded_length(163840, 160, 4) == 163840 + 160 * 3);  // 1025 frames -> 1028
    for (std::size_t n = 1; n < 3000; n += 7) {
        const std::size_t p = padded_length(n, 160, 4);
        CHECK(p >= n);
        CHECK((1 + p / 160) % 4 == 0);
        CHECK(1 + p / 160 - (1 + n / 160) < 4);
    }
}
