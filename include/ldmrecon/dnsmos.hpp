// DNSMOS (Reddy et al., ICASSP 2021 and 2022; Microsoft's P.835 and P.808 models, as the speechmos 0.0.1.1
// package runs them): non-intrusive predictions of a signal's speech quality (SIG), background (BAK) and
// overall quality (OVRL) on the P.835 scale, and the P.808 MOS. The network (both graphs, the polynomials
// and P.808's feature) runs in the model module (measure_network.hpp); the segmenting is here.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "ldmrecon/measure_network.hpp"

namespace ldmrecon {

namespace dnsmos {
constexpr int kSampleRate = 16000;
constexpr std::size_t kSegment = 144160;  // ref: speechmos dnsmos.py: int(INPUT_LENGTH * SR), 9.01 s
}  // namespace dnsmos

struct DnsmosScores {
    double sig = 0, bak = 0, ovrl = 0, p808 = 0;  // 1..5; NaN when not computed
};

// Where the segments of an n-sample signal start once it has been repeated to at least kSegment samples
// (ref: dnsmos.py __call__: while len < 144160, audio = append(audio, audio); one hop a second,
// int(floor(len / 16000) - 9.01) + 1 of them; a segment that the float arithmetic of its end leaves short
// is skipped, as there). `repeated` is the length after the repetition.
std::vector<std::size_t> dnsmos_segment_starts(std::size_t n, std::size_t* repeated = nullptr);

// DNSMOS of a 16 kHz signal: each score the mean over the segments. NaN for an empty signal.
DnsmosScores dnsmos_scores(const float* x, std::size_t n, const MeasureNetwork& net);

// DNSMOS's export at `path` on `device`, checked to be one.
std::shared_ptr<const MeasureNetwork> load_dnsmos_network(const std::string& path, const std::string& device);

}  // namespace ldmrecon
