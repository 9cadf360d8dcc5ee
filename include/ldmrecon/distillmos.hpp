// DistillMOS (Stahl & Gamper, distillmos 0.9.1): a non-intrusive speech-quality (MOS, 1..5) predictor
// distilled from an XLS-R model. The network runs in the model module (measure_network.hpp); the
// segmenting around it is here, as the package's forward does it (segmenting_in_forward=True).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "ldmrecon/measure_network.hpp"

namespace ldmrecon {

namespace distillmos {
constexpr int kSampleRate = 16000;
constexpr std::size_t kSegment = 122880;  // ref: distillmos sqa.py SEQ_LEN (7.68 s)
constexpr std::size_t kMaxHop = 16000;    // MAX_HOP_LEN
}  // namespace distillmos

// Where the segments of an n-sample signal start: one at 0 when n <= kSegment (zero-padded to it), else
// ceil((n - kSegment) / kMaxHop) + 1 of them, evenly from 0 to n - kSegment (numpy linspace, truncated).
std::vector<std::size_t> distillmos_segment_starts(std::size_t n);

// The MOS of a 16 kHz signal: the mean of the segments' scores. NaN for an empty signal.
double distillmos_score(const float* x, std::size_t n, const MeasureNetwork& net);

// DistillMOS's export at `path` on `device`, checked to be one.
std::shared_ptr<const MeasureNetwork> load_distillmos_network(const std::string& path, const std::string& device);

}  // namespace ldmrecon
