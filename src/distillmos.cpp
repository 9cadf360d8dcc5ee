#include "ldmrecon/distillmos.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ldmrecon {

std::vector<std::size_t> distillmos_segment_starts(std::size_t n) {
    using distillmos::kMaxHop;
    using distillmos::kSegment;
    // ref: sqa.py forward: wav_overlength = len - SEQ_LEN (padded to 0 when negative);
    // num_hops = int(np.ceil(wav_overlength / MAX_HOP_LEN)) + 1;
    // starts int(c * wav_overlength) for c in np.linspace(0, 1, num_hops)
    const std::size_t over = n > kSegment ? n - kSegment : 0;
    const std::size_t hops = (over + kMaxHop - 1) / kMaxHop + 1;
    std::vector<std::size_t> starts(hops, 0);
    if (hops == 1) return starts;
    const double step = 1.0 / static_cast<double>(hops - 1);  // numpy: arange(num) * step, the last set to stop
    for (std::size_t i = 0; i < hops; ++i) {
        const double c = i + 1 == hops ? 1.0 : static_cast<double>(i) * step;
        starts[i] = static_cast<std::size_t>(c * static_cast<double>(over));
    }
    return starts;
}

double distillmos_score(const float* x, std::size_t n, const MeasureNetwork& net) {
    using distillmos::kSegment;
    if (n == 0) return std::numeric_limits<double>::quiet_NaN();
    const std::vector<std::size_t> starts = distillmos_segment_starts(n);
    constexpr std::size_t kBatch = 4;  // segments per call: 2 MB of input each, memory stays flat
    std::vector<float> batch;
    double sum = 0;
    for (std::size_t b = 0; b < starts.size(); b += kBatch) {
        const std::size_t count = std::min(kBatch, starts.size() - b);
        batch.assign(count * kSegment, 0.f);  // a short signal is zero-padded at its end
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t s = starts[b + i], len = std::min(kSegment, n - s);
            std::copy_n(x + s, len, batch.begin() + static_cast<long>(i * kSegment));
        }
        for (float score : net.run(batch.data(), count)) sum += score;
    }
    return sum / static_cast<double>(starts.size());
}

std::shared_ptr<const MeasureNetwork> load_distillmos_network(const std::string& path, const std::string& device) {
    return load_measure_network({path, "distillmos", device, distillmos::kSegment, 1});
}

}  // namespace ldmrecon
