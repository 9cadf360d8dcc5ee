// Turning measurements into the JSON and the table a user reads. No I/O here: callers print or write.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "ldmrecon/metrics.hpp"

namespace ldmrecon {

// The keys of `ldmrecon metrics --json` (docs/measures.md lists them). Non-finite values become null.
nlohmann::json metrics_json(const Metrics& m);

// A fixed-width table of every measure, one per line, with its unit and what it means for a vocoded
// signal. `vae` (optional) adds the VAE's own error in its feature space.
std::string metrics_table(const Metrics& m, const MelDistance* vae = nullptr);

// A number for a table: fixed decimals, "inf"/"-inf"/"n/a" for non-finite values.
std::string format_number(double v, int decimals);

// Text as a report may hold it: valid UTF-8 is kept as it is, and every byte that is not part of valid
// UTF-8 (a Latin-1 file name, say) becomes the four characters \xHH (lower-case hex). That is what
// Python's bytes.decode("utf-8", "backslashreplace") gives, so a name is matched back with
// os.fsencode(path).decode("utf-8", "backslashreplace") == record["input"].
std::string utf8_escaped(const std::string& text);

// The JSON text of `j` (nlohmann's dump(indent)), with every string and key passed through utf8_escaped
// first when one needs it: writing a report never fails on a name.
std::string json_text(const nlohmann::json& j, int indent = -1);

}  // namespace ldmrecon
