// Streamed clips (BatchRunner::open_stream): the streamed window plan, and output that equals the offline
// run with the same options sample for sample however the input's blocks fall.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <random>

#include "fixture_models.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/models.hpp"
#include "ldmrecon/pipeline.hpp"

using namespace ldmrecon;

namespace {


ReconstructOptions stream_options(int window, int overlap) {
    ReconstructOptions o;
    o.window_frames = window;
    o.overlap_frames = overlap;
    o.plan = WindowPlan::streamed;
    o.fixed_level = true;
    return o;
}

std::vector<float> speechlike(std::size_t n) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i)
        x[i] = 0.4f * std::sin(0.031f * i) * std::sin(0.0007f * i) + 0.1f * std::sin(0.21f * i + 0.0001f * i * i / 100);
    return x;
}

// The whole output of a streamed clip fed `x` in blocks from `sizes` (cycled), taking output as it goes;
// `early` counts the samples handed out before the stream ended.
std::vector<float> streamed(Models& models, const ReconstructOptions& o, const std::vector<float>& x,
                            const std::vector<std::size_t>& sizes, std::size_t* early = nullptr) {
    BatchRunner runner(models, o);
    const std::size_t id = runner.open_stream();
    std::vector<float> y;
    auto take = [&](std::vector<float> part) { y.insert(y.end(), part.begin(), part.end()); };
    for (std::size_t at = 0, k = 0; at < x.size(); ++k) {
        const std::size_t n = std::min(sizes[k % sizes.size()], x.size() - at);
        runner.feed(id, x.data() + at, n);
        at += n;
        while (runner.queued_windows() > 0) REQUIRE(runner.step().empty());
        take(runner.take_output(id));
    }
    if (early) *early = y.size();
    runner.end_stream(id);
    bool completed = false;
    while (!completed) {
        for (auto& c : runner.step()) {
            REQUIRE(c.ok);
            take(std::move(c.result.output));
            completed = true;
        }
    }
    return y;
}

}  // namespace

TEST_CASE("the streamed plan: windows every step from the start until the input is covered", "[pipeline]") {
    const int hop = 160;
    const ReconstructOptions o = stream_options(32, 8);
    const std::size_t step = 24 * hop, span = 32 * hop;
    for (std::size_t n : {std::size_t(100), span - 1, span, span + 1, 5 * span + 777, 3 * step + span}) {
        const std::vector<Window> w = plan_windows(n, hop, 4, o);
        INFO("n = " << n);
        if (n < span) {  // one padded window, as the end-aligned plan gives
            ReconstructOptions e = o;
            e.plan = WindowPlan::end_aligned;
            REQUIRE(w.size() == 1);
            CHECK(w[0].length == plan_windows(n, hop, 4, e)[0].length);
            continue;
        }
        for (std::size_t k = 0; k < w.size(); ++k) {
            CHECK(w[k].start == k * step);
            CHECK(w[k].frames == 32);
            CHECK(w[k].length == span - 1);
        }
        CHECK(w.back().start + span >= n);                    // covered
        if (w.size() > 1) CHECK(w[w.size() - 2].start + span < n);  // and no window more than needed
    }
    CHECK(parse_window_plan("streamed") == WindowPlan::streamed);
    CHECK_THROWS_AS(parse_window_plan("end"), UsageError);
}

TEST_CASE("a streamed clip equals the offline run, for any blocks and any length", "[pipeline]") {
    RuntimeOptions rt;
    rt.device = "cpu";
    rt.threads = 2;
    Models models(fixture_models(), rt);
    const ReconstructOptions o = stream_options(32, 8);
    const std::size_t span = 32 * 160;
    std::mt19937 rng(7);
    std::vector<std::size_t> odd;
    for (int i = 0; i < 50; ++i) odd.push_back(1 + rng() % 3001);
    // Shorter than a window, exactly one, one sample more, and cut at arbitrary samples mid-window.
    for (std::size_t n : {std::size_t(2999), span, span + 1, 4 * span + 1234, 7 * span - 5}) {
        INFO("n = " << n);
        const std::vector<float> x = speechlike(n);
        const std::vector<float> offline = reconstruct(models, x, o).output;
        REQUIRE(offline.size() == n);
        for (const auto& sizes : {std::vector<std::size_t>{1 << 20}, std::vector<std::size_t>{1, 7, 333}, odd}) {
            std::size_t early = 0;
            const std::vector<float> y = streamed(models, o, x, sizes, &early);
            CHECK(y == offline);
            if (n > 3 * span) CHECK(early > n / 2);  // most of it written before the input ended
        }
    }
}

TEST_CASE("a stream needs the streamed plan and the fixed level", "[pipeline]") {
    RuntimeOptions rt;
    rt.device = "cpu";
    Models models(fixture_models(), rt);
    ReconstructOptions o = stream_options(32, 8);
    o.fixed_level = false;
    BatchRunner peak(models, o);
    CHECK_THROWS_AS(peak.open_stream(), UsageError);
    o = stream_options(32, 8);
    o.plan = WindowPlan::end_aligned;
    BatchRunner end(models, o);
    CHECK_THROWS_AS(end.open_stream(), UsageError);
    // Fixed level offline: the input is scaled by 0.5 and the output brought back, no offset taken off.
    const std::vector<float> x = speechlike(4000);
    const Reconstruction r = reconstruct(models, x, stream_options(32, 8));
    CHECK(r.gain.scale == kFixedLevelScale);
    CHECK(r.gain.mean == 0.0);
}
