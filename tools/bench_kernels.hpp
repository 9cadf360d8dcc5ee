// `bench`'s kernel probe: which oneDNN kernels each stage group runs, so a timing says whether the CPU's
// fast path (AMX, AVX-512 BF16, VNNI) was taken. oneDNN reads ONEDNN_VERBOSE once, when it loads, so the
// probe runs this binary again on the bench's clip, once with --stage vae and once with --stage vocoder.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "ldmrecon/models.hpp"

namespace ldmrecon::cli {

// Prints the kernels' time per instruction set and the main implementations, and returns them as JSON;
// null (with a warning) when a probe run failed.
nlohmann::json probe_kernels(const std::string& models_dir, const std::string& wav, const RuntimeOptions& rt,
                             const std::string& backend, int threads);

}  // namespace ldmrecon::cli
