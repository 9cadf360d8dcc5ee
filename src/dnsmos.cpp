#include "ldmrecon/dnsmos.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ldmrecon {

std::vector<std::size_t> dnsmos_segment_starts(std::size_t n, std::size_t* repeated) {
    using dnsmos::kSegment;
    std::size_t len = n;
    while (len > 0 && len < kSegment) len *= 2;  // np.append(audio, audio)
    if (repeated) *repeated = len;
    std::vector<std::size_t> starts;
    if (len == 0) return starts;
    constexpr double kInputLength = 9.01, kRate = dnsmos::kSampleRate;
    const long hops = static_cast<long>(std::floor(static_cast<double>(len) / kRate) - kInputLength) + 1;
    for (long idx = 0; idx < hops; ++idx) {
        const auto start = static_cast<std::size_t>(static_cast<double>(idx) * kRate);
        const auto end = std::min(len, static_cast<std::size_t>((static_cast<double>(idx) + kInputLength) * kRate));
        if (end > start && end - start >= kSegment) starts.push_back(start);
    }
    return starts;
}

DnsmosScores dnsmos_scores(const float* x, std::size_t n, const MeasureNetwork& net) {
    using dnsmos::kSegment;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::size_t len = 0;
    const std::vector<std::size_t> starts = dnsmos_segment_starts(n, &len);
    if (starts.empty()) return {nan, nan, nan, nan};
    // The repeated signal, read through an index rather than built: sample i is x[i mod n].
    // One segment per call: its first convolution alone holds 128 x 900 x 161 floats (74 MB), so a batch
    // would multiply the peak memory and gain nothing on layers this large.
    constexpr std::size_t kBatch = 1;
    std::vector<float> batch;
    double sum[4] = {0, 0, 0, 0};
    for (std::size_t b = 0; b < starts.size(); b += kBatch) {
        const std::size_t count = std::min(kBatch, starts.size() - b);
        batch.resize(count * kSegment);
        for (std::size_t i = 0; i < count; ++i)
            for (std::size_t k = 0; k < kSegment; ++k) batch[i * kSegment + k] = x[(starts[b + i] + k) % n];
        const std::vector<float> out = net.run(batch.data(), count);
        for (std::size_t i = 0; i < count; ++i)
            for (int j = 0; j < 4; ++j) sum[j] += out[i * 4 + static_cast<std::size_t>(j)];
    }
    const double s = static_cast<double>(starts.size());
    return {sum[0] / s, sum[1] / s, sum[2] / s, sum[3] / s};
}

std::shared_ptr<const MeasureNetwork> load_dnsmos_network(const std::string& path, const std::string& device) {
    return load_measure_network({path, "dnsmos", device, dnsmos::kSegment, 4});
}

}  // namespace ldmrecon
