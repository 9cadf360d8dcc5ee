// Turning measurements into the JSON and the table a user reads. No I/O here: callers print or write.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "ldmrecon/metrics.hpp"

namespace ldmrecon {

// The keys of `ldmrecon metrics --json` (README.md lists them). Non-finite values become null.
nlohmann::json metrics_json(const Metrics& m);

// A fixed-width table of every measure, one per line, with its unit and what it means for a vocoded
// signal. `vae` (optional) adds the VAE's own error in its feature space.
std::string metrics_table(const Metrics& m, const MelDistance* vae = nullptr);

// A number for a table: fixed decimals, "inf"/"-inf"/"n/a" for non-finite values.
std::string format_number(double v, int decimals);

}  // namespace ldmrecon
