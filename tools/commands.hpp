// The ldmrecon subcommands. Each takes parsed options, calls the library, prints, and returns an exit
// status; errors are thrown as ldmrecon::Error and mapped to exit codes in main.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "ldmrecon/models.hpp"

namespace ldmrecon::cli {

struct ReconstructArgs {
    std::string input, output, models, report, dump_dir, format = "pcm16";
    RuntimeOptions runtime;
    bool sample = false, json = false, quiet = false;
    std::uint64_t seed = 0;
    double max_lag_ms = 100.0;
};
int run_reconstruct(const ReconstructArgs& a);

struct MelArgs {
    std::string input, output, models, mel_scale = "ln";
};
int run_mel(const MelArgs& a);

struct MetricsArgs {
    std::string reference, estimate;
    bool json = false;
    double max_lag_ms = 100.0;
    int sample_rate = 16000;
};
int run_metrics(const MetricsArgs& a);

struct InfoArgs {
    std::string path;
    bool json = false;
};
int run_info(const InfoArgs& a);

std::string version_string();

}  // namespace ldmrecon::cli
