// CREPE's decoding, gate and measures on inputs whose answer is known, and the Viterbi pass against a
// plain dynamic programme over every state pair. (Agreement with torchcrepe and Vocos on real speech, with
// the exported network: tests/python/test_measure_networks.py.)
#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <random>
#include <vector>

#include "ldmrecon/crepe.hpp"

using namespace ldmrecon;

namespace {

constexpr int kBins = crepe::kBins;

// librosa.sequence.viterbi as written, on torchcrepe's inputs: all 360 x 360 transitions, no shortcut.
std::vector<int> naive_viterbi(const std::vector<float>& sigmoid, std::size_t frames, int lo, int hi) {
    const double log_tiny = std::log(static_cast<double>(FLT_MIN));
    std::vector<double> log_trans(kBins * kBins);
    for (int k = 0; k < kBins; ++k) {
        double row = 0;
        for (int j = 0; j < kBins; ++j) row += std::max(12 - std::abs(j - k), 0);
        for (int j = 0; j < kBins; ++j) {
            const double t = std::max(12 - std::abs(j - k), 0) / row;
            log_trans[k * kBins + j] = t > 0 ? std::log(t) : log_tiny;
        }
    }
    auto log_prob = [&](std::size_t t, int j) {
        if (j < lo || j >= hi) return static_cast<double>(static_cast<float>(log_tiny));
        double top = -1e300, sum = 0;
        for (int b = lo; b < hi; ++b) top = std::max(top, static_cast<double>(sigmoid[t * kBins + b]));
        for (int b = lo; b < hi; ++b) sum += std::exp(sigmoid[t * kBins + b] - top);
        const float p = static_cast<float>(std::exp(sigmoid[t * kBins + j] - top) / sum);
        return static_cast<double>(static_cast<float>(std::log(static_cast<double>(p + FLT_MIN))));
    };
    std::vector<std::vector<double>> value(frames, std::vector<double>(kBins));
    std::vector<std::vector<int>> ptr(frames, std::vector<int>(kBins));
    for (int j = 0; j < kBins; ++j) value[0][j] = log_prob(0, j) + std::log(1.0 / kBins + FLT_MIN);
    for (std::size_t t = 1; t < frames; ++t)
        for (int j = 0; j < kBins; ++j) {
            int arg = 0;
            for (int k = 1; k < kBins; ++k)
                if (value[t - 1][k] + log_trans[k * kBins + j] > value[t - 1][arg] + log_trans[arg * kBins + j]) arg = k;
            ptr[t][j] = arg;
            value[t][j] = log_prob(t, j) + value[t - 1][arg] + log_trans[arg * kBins + j];
        }
    std::vector<int> state(frames);
    state[frames - 1] = static_cast<int>(std::max_element(value[frames - 1].begin(), value[frames - 1].end()) -
                                         value[frames - 1].begin());
    for (std::size_t t = frames - 1; t > 0; --t) state[t - 1] = ptr[t][state[t]];
    return state;
}

// A stand-in network: every frame peaks at `bin` with `peak`, `floor` elsewhere.
class PeakNet final : public MeasureNetwork {
public:
    PeakNet(int bin, float peak, float floor) : bin_(bin), peak_(peak), floor_(floor) {}
    std::size_t input_width() const override { return crepe::kWindow; }
    std::size_t output_width() const override { return kBins; }
    std::vector<float> run(const float*, std::size_t count) const override {
        std::vector<float> p(count * kBins, floor_);
        for (std::size_t i = 0; i < count; ++i) p[i * kBins + bin_] = peak_;
        return p;
    }
    std::string description() const override { return "peak"; }

private:
    int bin_;
    float peak_, floor_;
};

double cents_to_hz(double cents) { return 10.0 * std::pow(2.0, cents / 1200.0); }

}  // namespace

TEST_CASE("crepe: frames and the bin range of 50-550 Hz", "[crepe]") {
    CHECK(crepe_frames(1023, 160) == 0);
    CHECK(crepe_frames(1024, 160) == 1);
    CHECK(crepe_frames(1024 + 159, 160) == 1);
    CHECK(crepe_frames(1024 + 160, 160) == 2);
    // ref: torchcrepe postprocess: frequency_to_bins(50) = floor(39.45), frequency_to_bins(550, ceil) = ceil(247.01)
    const auto range = crepe_bin_range(50, 550);
    CHECK(range.first == 39);
    CHECK(range.second == 248);
}

TEST_CASE("crepe: the Viterbi pass equals the whole dynamic programme", "[crepe]") {
    const auto [lo, hi] = crepe_bin_range(50, 550);
    for (unsigned seed : {1u, 2u, 3u}) {
        std::mt19937 rng(seed);
        std::uniform_real_distribution<float> u(0.f, 1.f);
        const std::size_t frames = 40;
        std::vector<float> p(frames * kBins);
        for (auto& v : p) v = u(rng);
        // A peak that climbs 7 bins a frame from bin 60: within the transition's reach.
        for (std::size_t t = 0; t < frames / 2; ++t) p[t * kBins + 60 + 7 * t] = 1.0f;
        const std::vector<int> fast = crepe_viterbi(p, frames, lo, hi);
        CHECK(fast == naive_viterbi(p, frames, lo, hi));
        for (int b : fast) CHECK((b >= lo && b < hi));
    }
}

TEST_CASE("crepe: a flat output decodes to the lowest allowed bin", "[crepe]") {
    const std::vector<float> p(10 * kBins, 0.5f);
    const std::vector<int> bins = crepe_viterbi(p, 10, 39, 248);
    CHECK(bins == std::vector<int>(10, 39));
}

TEST_CASE("crepe: track of a sound then silence", "[crepe]") {
    // 0.5 s of white noise, then 0.5 s of digital silence: the silent frames get periodicity 0 and no voicing.
    // (Noise, not a tone: the gate averages dB over all 513 bins, so a lone sinusoid reads as silence.)
    std::vector<float> x(16000, 0.f);
    std::mt19937 rng(7);
    std::normal_distribution<float> noise(0.f, 0.3f);
    for (int i = 0; i < 8000; ++i) x[i] = noise(rng);
    const PeakNet net(100, 0.9f, 0.01f);
    const CrepeTrack t = track_crepe(x.data(), x.size(), net);
    REQUIRE(t.frames() == crepe_frames(x.size(), 160));
    const double hz = cents_to_hz(20 * 100 + crepe::kCentsOffset);
    for (std::size_t f = 0; f < t.frames(); ++f) CHECK(t.f0[f] == Approx(hz).epsilon(1e-12));
    CHECK(t.periodicity.front() == 0.9f);
    CHECK(t.voiced.front() == 1);
    CHECK(t.periodicity.back() == 0.f);  // frame 93 covers samples 14880..15903: silent
    CHECK(t.voiced.back() == 0);
    const std::vector<char> silent = crepe_silent_frames(x.data(), x.size(), 160, -60);
    for (std::size_t f = 0; f < silent.size(); ++f) {
        if (f * 160 + 1024 <= 8000) CHECK(silent[f] == 0);
        if (f * 160 >= 8000) CHECK(silent[f] == 1);
    }
}

TEST_CASE("crepe: the measures on tracks whose differences are known", "[crepe]") {
    CrepeTrack r, e;
    // 4 frames: voiced in both and 100 cents apart, voiced in both and equal, voiced only in r, in neither.
    r.f0 = {200, 300, 100, 100};
    e.f0 = {200 * std::pow(2.0, 100 / 1200.0), 300, 100, 100};
    r.periodicity = {0.9f, 0.8f, 0.5f, 0.f};
    e.periodicity = {0.7f, 0.8f, 0.1f, 0.f};
    r.voiced = {1, 1, 1, 0};
    e.voiced = {1, 1, 0, 0};
    const CrepeMeasures m = compare_crepe(r, e);
    CHECK(m.frames == 4);
    CHECK(m.voiced_both == 2);
    CHECK(m.f0_rmse_cents == Approx(std::sqrt(100.0 * 100.0 / 2)).epsilon(1e-9));
    const double d0 = double(0.7f) - double(0.9f), d2 = double(0.1f) - double(0.5f);
    CHECK(m.periodicity_rmse == Approx(std::sqrt((d0 * d0 + d2 * d2) / 4)).epsilon(1e-9));
    CHECK(m.vuv_f1 == Approx(2.0 * 2 / (2 * 2 + 0 + 1)));
    CrepeTrack none;
    none.f0 = {100};
    none.periodicity = {0.f};
    none.voiced = {0};
    const CrepeMeasures n = compare_crepe(none, none);
    CHECK(std::isnan(n.f0_rmse_cents));
    CHECK(std::isnan(n.vuv_f1));
    CHECK(n.periodicity_rmse == 0.0);
}
