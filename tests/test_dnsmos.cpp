// DNSMOS's segmenting against the values speechmos 0.0.1.1's dnsmos.py computes for the same lengths
// (its loop run in Python), including the segments its float arithmetic skips, and the averaging.
#include <catch2/catch.hpp>

#include <cmath>

#include "ldmrecon/dnsmos.hpp"

using namespace ldmrecon;

TEST_CASE("DNSMOS segments start where the package's loop starts them", "[dnsmos]") {
    std::size_t repeated = 0;
    CHECK(dnsmos_segment_starts(144160, &repeated) == std::vector<std::size_t>{0});
    CHECK(repeated == 144160);
    CHECK(dnsmos_segment_starts(89662, &repeated) == std::vector<std::size_t>{0, 16000});  // 5.6 s, doubled
    CHECK(repeated == 179324);
    const auto one = dnsmos_segment_starts(1, &repeated);  // one sample, doubled 18 times
    CHECK(repeated == 262144);
    CHECK(one == std::vector<std::size_t>{0, 16000, 32000, 48000, 64000, 80000, 96000});
    // 24 s: 15 hops, but (idx + 9.01) * 16000 rounds below an integer for idx 7..14, so the package's
    // slices there are a sample short and skipped: 7 segments.
    CHECK(dnsmos_segment_starts(384000) == one);
    const auto minute = dnsmos_segment_starts(960000);
    REQUIRE(minute.size() == 34);
    CHECK(minute.back() == 800000);
    CHECK(dnsmos_segment_starts(0).empty());
}

namespace {
// A stand-in network: each segment's four scores are its first sample and three constants.
struct FirstSample : MeasureNetwork {
    std::vector<float> run(const float* in, std::size_t rows) const override {
        std::vector<float> out;
        for (std::size_t r = 0; r < rows; ++r) out.insert(out.end(), {in[r * dnsmos::kSegment], 1.f, 2.f, 3.f});
        return out;
    }
    std::size_t input_width() const override { return dnsmos::kSegment; }
    std::size_t output_width() const override { return 4; }
    std::string description() const override { return "first sample"; }
};
}  // namespace

TEST_CASE("DNSMOS scores are the segments' means over the repeated signal", "[dnsmos]") {
    std::vector<float> x(89662);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 1000) / 1000.f;
    const DnsmosScores s = dnsmos_scores(x.data(), x.size(), FirstSample());
    CHECK(s.sig == Catch::Detail::Approx((x[0] + x[16000]) / 2.0));
    CHECK(s.bak == 1.0);
    CHECK(s.p808 == 3.0);
    CHECK(std::isnan(dnsmos_scores(x.data(), 0, FirstSample()).ovrl));
}
