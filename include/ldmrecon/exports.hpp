// What an export (vae.pt, vocoder.pt) says about itself and where models are found, without libtorch:
// the commands that only read metadata (info, mel --models, the output rule) never load it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ldmrecon/feature.hpp"

namespace ldmrecon {

// An export's id as lowercase hex, as manifests and messages write it.
std::string hex_id(std::uint64_t id);

// The bytes of the entry of the zip archive `path` whose name ends with `suffix` (TorchScript archives
// store their entries uncompressed; zip64 included). Throws ModelError naming the file otherwise.
std::string read_zip_entry(const std::string& path, const std::string& suffix);

// The metadata embedded in an export (the archive's extra file "ldmrecon.json").
// Throws ModelError when the file is missing, not a TorchScript archive, or has no ldmrecon metadata.
nlohmann::json read_export_metadata(const std::string& path);

// The feature an export was made for; throws ModelError naming `path` and what it does not support.
FeatureConfig feature_from_metadata(const nlohmann::json& meta, const std::string& path);

// The feature of the export in a models folder (its vae.pt's metadata), without loading the models.
FeatureConfig feature_of_models_dir(const std::string& dir);

// Differences between two feature descriptions, one "key: a vs b" line each (empty when they agree).
std::vector<std::string> feature_differences(const FeatureConfig& a, const FeatureConfig& b);

// Where models are looked for when --models is not given: $LDMRECON_MODELS, then the installed default
// folder(s). Returns the first folder holding both vae.pt and vocoder.pt; throws ModelError listing what
// was searched and how to export models otherwise.
std::string resolve_models_dir(const std::string& explicit_dir);

}  // namespace ldmrecon
