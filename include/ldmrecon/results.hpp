// Per-file results of a run, their summary, and their comparison with a stored baseline run.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ldmrecon/measures.hpp"

namespace ldmrecon {

struct FileResult {
    std::string input, output;
    std::string status = "ok";  // ok | failed | skipped
    std::string error;
    double seconds = 0;                     // audio seconds
    std::map<std::string, double> metrics;  // finite values only
    nlohmann::json record;                  // the full per-file report (what --report writes)
};

// A record as written by ldmrecon (a report object with "input", "status", "metrics", ...).
FileResult result_from_json(const nlohmann::json& j);
// Reads results written by --report: a .json report (one object, or {"files": [...]}), JSON Lines, or the
// CSV --report writes. Throws InputError naming the file on anything else.
std::vector<FileResult> read_results(const std::string& path);

// CSV with a fixed header: input, output, status, error, seconds, then every metric of metric_specs().
std::string csv_header();
std::string csv_row(const FileResult& r);

struct MetricSummary {
    std::size_t count = 0;
    double mean = 0, median = 0, worst = 0;
    std::string worst_input;  // the file with the worst value (the first, when several share it)
};
struct Summary {
    std::size_t files = 0, ok = 0, failed = 0, skipped = 0;
    double audio_seconds = 0;
    double wall_seconds = 0;  // 0 when unknown (merged reports)
    std::map<std::string, MetricSummary> metrics;
};
// Over the ok files; a later result for an input replaces an earlier one unless it is only "skipped".
Summary summarise(const std::vector<FileResult>& results, double wall_seconds = 0);
std::vector<FileResult> merge_results(const std::vector<FileResult>& results);
// The inputs that hold more than one record that is not "skipped" (the later one wins in merging), for a
// warning.
std::vector<std::string> repeated_inputs(const std::vector<FileResult>& results);
// One line per way the ok records differ in what produced them (stage, vocoder, models' weights and
// description, feature window): results that should not be merged or compared without saying so.
std::vector<std::string> provenance_differences(const std::vector<FileResult>& results);
nlohmann::json summary_json(const Summary& s);

// The text of a --report in `format` ("json", "jsonl" or "csv", as report_format() names it): CSV and
// JSON Lines one record a line; JSON the one record of a single-file run (`single`), else the summary and
// every record. Any byte in a name is safe (json_text).
std::string report_text(const std::vector<FileResult>& results, const Summary& summary, const std::string& format,
                        bool single);
std::string summary_table(const Summary& s);

// --require KEY>=V / KEY<=V: an absolute bound every file must meet.
struct Requirement {
    std::string key;
    bool at_least = true;
    double value = 0;
    std::string text;
};
Requirement parse_requirement(const std::string& text);  // throws UsageError
// --tolerance KEY=V
std::pair<std::string, double> parse_tolerance(const std::string& text);  // throws UsageError

struct Finding {
    std::string input;  // or "(mean)"
    std::string key;
    double baseline = 0, now = 0;
    double tolerance = 0;
    // "regressed", "improved", "requirement ...", "missing" (failed now), "unchecked" (skipped and no measures),
    // "undefined" (computed but undefined now, e.g. no voiced frame), "not computed" (a --require on a
    // measure the record lacks), "nothing compared" (no file of the baseline in this run, or none of its
    // measures computed)
    std::string what;
};
struct Comparison {
    std::vector<Finding> findings;
    std::size_t compared_files = 0;
    std::size_t compared_values = 0;        // measure values compared, over all files
    std::vector<std::string> not_compared;  // measures of the baseline this run did not compute
    bool failed() const;
};
// Per file (matched by input path) and on the means: a metric that moved the wrong way by more than its
// tolerance, a file of the baseline that failed in this run, or a failed requirement. A skipped file is
// compared when it carries measures, else it is "unchecked"; a baseline of which no file was compared is a
// failure too. All of these fail the check.
Comparison compare_results(const std::vector<FileResult>& now, const std::vector<FileResult>& baseline,
                           const std::map<std::string, double>& tolerances, const std::vector<Requirement>& requirements);
std::string comparison_table(const Comparison& c);

}  // namespace ldmrecon
