// DistillMOS's segmenting around the network, on a stand-in network whose answer is known.
// (Agreement with the distillmos package on real speech: tests/python/test_measure_networks.py.)
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>
#include <vector>

#include "ldmrecon/distillmos.hpp"

using namespace ldmrecon;

namespace {

// Scores each segment by the mean of its samples.
class MeanNet final : public MeasureNetwork {
public:
    std::size_t input_width() const override { return distillmos::kSegment; }
    std::size_t output_width() const override { return 1; }
    std::vector<float> run(const float* x, std::size_t rows) const override {
        std::vector<float> out(rows);
        for (std::size_t r = 0; r < rows; ++r) {
            const float* s = x + r * distillmos::kSegment;
            out[r] = static_cast<float>(std::accumulate(s, s + distillmos::kSegment, 0.0) / distillmos::kSegment);
        }
        return out;
    }
    std::string description() const override { return "mean"; }
};

}  // namespace

TEST_CASE("distillmos: segment starts as the package's forward cuts them", "[distillmos]") {
    using V = std::vector<std::size_t>;
    constexpr std::size_t S = distillmos::kSegment;
    CHECK(distillmos_segment_starts(1000) == V{0});
    CHECK(distillmos_segment_starts(S) == V{0});
    CHECK(distillmos_segment_starts(S + 1) == V{0, 1});              // ceil(1 / 16000) + 1 = 2
    CHECK(distillmos_segment_starts(S + 16000) == V{0, 16000});
    CHECK(distillmos_segment_starts(S + 16001) == V{0, 8000, 16001});  // int(0.5 * 16001)
    const V long_cut = distillmos_segment_starts(S + 10 * 16000 + 5);  // 12 segments, 0 .. 160005
    REQUIRE(long_cut.size() == 12);
    CHECK(long_cut.front() == 0);
    CHECK(long_cut.back() == 160005);
    CHECK(long_cut[1] == static_cast<std::size_t>(1.0 / 11 * 160005));
}

TEST_CASE("distillmos: the score averages the segments, a short signal zero-padded", "[distillmos]") {
    const MeanNet net;
    const std::vector<float> ones(1000, 1.f);
    CHECK(distillmos_score(ones.data(), ones.size(), net) == Approx(1000.0 / distillmos::kSegment));
    // Two segments, [0, S) and [1, S + 1): a ramp's means differ by one step.
    std::vector<float> ramp(distillmos::kSegment + 1);
    for (std::size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<float>(i) / ramp.size();
    const double m0 = (distillmos::kSegment - 1) / 2.0 / ramp.size(), m1 = m0 + 1.0 / ramp.size();
    CHECK(distillmos_score(ramp.data(), ramp.size(), net) == Approx((m0 + m1) / 2).epsilon(1e-6));
    CHECK(std::isnan(distillmos_score(nullptr, 0, net)));
}
