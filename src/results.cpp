#include "ldmrecon/results.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "ldmrecon/audio.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/report.hpp"

namespace ldmrecon {

namespace {

// RFC 4180: a field holding a comma, a quote or a line break (CR as well as LF) is quoted. Names are
// escaped as in the JSON reports (utf8_escaped), so the two formats name a file the same way.
std::string csv_field(const std::string& text) {
    const std::string s = utf8_escaped(text);
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

// "one of snr_db, mse, ...": what an unknown key is told.
std::string metric_names() {
    std::string names = "one of";
    for (const auto& m : metric_specs()) names += std::string(names.size() > 6 ? ", " : " ") + m.key;
    return names;
}

// RFC 4180 fields of one CSV record starting at `at` (quoted fields may hold commas, quotes and line
// breaks); moves `at` past the record's line break. Throws InputError on an unterminated quote.
std::vector<std::string> csv_record(const std::string& text, std::size_t& at, const std::string& path) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    while (at < text.size()) {
        const char c = text[at++];
        if (quoted) {
            if (c == '"' && at < text.size() && text[at] == '"') fields.back() += '"', ++at;
            else if (c == '"') quoted = false;
            else fields.back() += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.emplace_back();
        } else if (c == '\n') {
            break;
        } else if (c != '\r') {
            fields.back() += c;
        }
    }
    if (quoted) throw InputError(path + ": a quoted CSV field never ends");
    return fields;
}

// Where a measure's key lives in a record: "vae_mel_l1" in its "vae" object as "mel_l1", every other key
// in "metrics" as itself.
std::pair<const char*, std::string> record_place(const std::string& key) {
    if (key.rfind("vae_", 0) == 0) return {"vae", key.substr(4)};
    return {"metrics", key};
}

// A --report .csv read back: the header names the columns, every metric column is a number or empty.
std::vector<FileResult> read_csv_results(const std::string& text, const std::string& path) {
    std::size_t at = 0;
    const std::vector<std::string> header = csv_record(text, at, path);
    if (header.size() < 5 || header[0] != "input" || header[2] != "status")
        throw InputError(path + ": a CSV file, but not one ldmrecon --report wrote (its header must start "
                         "input,output,status,error,seconds)");
    std::vector<FileResult> out;
    for (std::size_t line = 2; at < text.size(); ++line) {
        const std::vector<std::string> f = csv_record(text, at, path);
        if (f.size() == 1 && f[0].empty()) continue;
        if (f.size() != header.size())
            throw InputError(path + ": line " + std::to_string(line) + " has " + std::to_string(f.size()) +
                             " fields, the header " + std::to_string(header.size()));
        nlohmann::json rec = {{"input", f[0]}, {"output", f[1]}, {"status", f[2]}, {"metrics", nlohmann::json::object()}};
        if (!f[3].empty()) rec["error"] = f[3];
        for (std::size_t k = 4; k < f.size(); ++k) {
            if (f[k].empty()) continue;
            char* end = nullptr;
            const double v = std::strtod(f[k].c_str(), &end);
            if (*end != '\0')
                throw InputError(path + ": line " + std::to_string(line) + ": " + header[k] + " is '" +
                                 f[k].substr(0, 40) + "', not a number");
            if (header[k] == "seconds") {
                rec["input_audio"]["seconds"] = v;
            } else {
                const auto [section, name] = record_place(header[k]);
                rec[section][name] = v;
            }
        }
        if (f[0].empty()) throw InputError(path + ": line " + std::to_string(line) + " names no input");
        out.push_back(result_from_json(rec));
    }
    return out;
}

std::string fmt(double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
}

// Whether a record holds `key` as null: computed, but undefined for that file (an F0 error with no frame
// voiced in both). A key that is absent was not computed.
bool holds_null(const FileResult& r, const std::string& key) {
    const auto [section, k] = record_place(key);
    return r.record.is_object() && r.record.contains(section) && r.record[section].is_object() &&
           r.record[section].contains(k) && r.record[section][k].is_null();
}

}  // namespace

FileResult result_from_json(const nlohmann::json& j) {
    FileResult r;
    r.record = j;
    // Escaped as the report text holds them, so a run's names match those read back from its report.
    r.input = utf8_escaped(j.value("input", ""));
    r.output = utf8_escaped(j.value("output", ""));
    r.status = j.value("status", "ok");
    r.error = j.value("error", "");
    if (j.contains("input_audio") && j["input_audio"].is_object()) r.seconds = j["input_audio"].value("seconds", 0.0);
    auto take = [&r](const nlohmann::json& obj, const std::string& prefix) {
        if (!obj.is_object()) return;
        for (auto it = obj.begin(); it != obj.end(); ++it)
            if (it.value().is_number() && find_metric(prefix + it.key())) r.metrics[prefix + it.key()] = it.value().get<double>();
    };
    if (j.contains("metrics")) take(j["metrics"], "");
    if (j.contains("vae")) take(j["vae"], "vae_");
    return r;
}

std::vector<FileResult> read_results(const std::string& path) {
    check_input_file(path);
    std::ifstream f(path);
    if (!f) throw InputError(path + ": cannot read the results file");
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string text = ss.str();
    std::vector<FileResult> out;
    // Every record names its input: that is what merging and baselines match on.
    auto take = [&](const nlohmann::json& r, const std::string& where) {
        if (!r.is_object() || !r.contains("input") || !r["input"].is_string() || r["input"].get<std::string>().empty())
            throw InputError(path + ": " + where + " is valid JSON but not an ldmrecon report record (no \"input\"); "
                             "give reports written by ldmrecon --report");
        // A measure that is not a number (a string, say) would be skipped and its file pass unchecked.
        for (const auto& [section, prefix] : {std::pair<const char*, const char*>{"metrics", ""}, {"vae", "vae_"}}) {
            if (!r.contains(section) || !r[section].is_object()) continue;
            for (auto it = r[section].begin(); it != r[section].end(); ++it)
                if (find_metric(prefix + it.key()) && !it.value().is_number() && !it.value().is_null())
                    throw InputError(path + ": " + where + ": " + section + "." + it.key() + " is " +
                                     it.value().type_name() + " " + utf8_escaped(it.value().dump()).substr(0, 40) +
                                     ", not a number; give reports written by ldmrecon --report");
        }
        if (r.value("status", "") == "interval") return;  // a stream's --report-every line, not a file's result
        out.push_back(result_from_json(r));
    };
    if (text.rfind("input,output,status", 0) == 0) return read_csv_results(text, path);
    try {
        const auto first = text.find_first_not_of(" \t\r\n");
        if (first == std::string::npos) return out;
        // One JSON document (a report, or {"files": [...]}) or JSON Lines.
        nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
        if (!doc.is_discarded()) {
            std::size_t n = 0;
            if (doc.is_object() && doc.contains("files") && doc["files"].is_array()) {
                for (const auto& r : doc["files"]) take(r, "record " + std::to_string(++n));
            } else if (doc.is_array()) {
                for (const auto& r : doc) take(r, "record " + std::to_string(++n));
            } else {
                take(doc, "its content");
            }
            return out;
        }
        std::istringstream lines(text);
        std::string line;
        std::size_t n = 0;
        while (std::getline(lines, line)) {
            ++n;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            nlohmann::json r;
            try {
                r = nlohmann::json::parse(line);
            } catch (const nlohmann::json::exception&) {
                throw InputError(path + ": line " + std::to_string(n) + " is not JSON, so this is not a report "
                                 "ldmrecon --report wrote (.json, .jsonl or .csv)");
            }
            take(r, "line " + std::to_string(n));
        }
    } catch (const nlohmann::json::exception&) {
        throw InputError(path + ": not a report ldmrecon --report wrote (.json, .jsonl or .csv)");
    }
    return out;
}

// The numbers of a record's "metrics" beside the measures (what they were computed over): CSV columns
// too, so a CSV holds what the JSON Lines hold per file.
const char* const kContextColumns[] = {"lag_samples",  "lag_ms",          "mrstft_convergence",      "mrstft_log_magnitude",
                                       "pitch_frames", "voiced_frames_reference", "voiced_frames_both"};

std::string csv_header() {
    std::string h = "input,output,status,error,seconds";
    for (const auto& m : metric_specs()) h += std::string(",") + m.key;
    for (const char* c : kContextColumns) h += std::string(",") + c;
    return h + "\n";
}

std::string csv_row(const FileResult& r) {
    std::string row = csv_field(r.input) + "," + csv_field(r.output) + "," + r.status + "," + csv_field(r.error) + "," +
                      fmt(r.seconds);
    for (const auto& m : metric_specs()) {
        auto it = r.metrics.find(m.key);
        row += "," + (it == r.metrics.end() ? std::string() : fmt(it->second));
    }
    const nlohmann::json* context = r.record.is_object() && r.record.contains("metrics") ? &r.record["metrics"] : nullptr;
    for (const char* c : kContextColumns) {
        const bool has = context && context->is_object() && context->contains(c) && (*context)[c].is_number();
        row += "," + (has ? fmt((*context)[c].get<double>()) : std::string());
    }
    return row + "\n";
}

std::vector<FileResult> merge_results(const std::vector<FileResult>& results) {
    std::vector<FileResult> out;
    std::map<std::string, std::size_t> at;
    for (const auto& r : results) {
        auto it = at.find(r.input);
        if (it == at.end()) {
            at[r.input] = out.size();
            out.push_back(r);
        } else if (r.status != "skipped") {
            out[it->second] = r;  // a later real result replaces a skip or an earlier attempt
        }
    }
    return out;
}

std::vector<std::string> repeated_inputs(const std::vector<FileResult>& results) {
    std::map<std::string, int> n;
    std::vector<std::string> out;
    for (const auto& r : results)
        if (r.status != "skipped" && ++n[r.input] == 2) out.push_back(r.input);
    return out;
}

std::vector<std::string> provenance_differences(const std::vector<FileResult>& results) {
    // What produced a record, as the report holds it: json pointers into the record.
    const std::pair<const char*, const char*> keys[] = {
        {"stage", "/stage"},
        {"vocoder", "/vocoder"},
        {"model weights", "/models/weights"},
        {"models", "/models/description"},
        {"window frames", "/feature/window_frames"},
        {"latent mode", "/latent/mode"},
    };
    std::vector<std::string> out;
    for (const auto& [what, pointer] : keys) {
        std::map<std::string, std::string> seen;  // value -> first input with it
        const nlohmann::json::json_pointer ptr(pointer);
        for (const auto& r : results) {
            if (r.status != "ok") continue;
            try {
                if (r.record.contains(ptr)) seen.emplace(utf8_escaped(r.record.at(ptr).dump()), r.input);
            } catch (const nlohmann::json::exception&) {  // a parent that is not an object: not recorded
            }
        }
        if (seen.size() < 2) continue;
        std::string line = std::string(what) + " differ:";
        for (const auto& [value, input] : seen) line += " " + value.substr(0, 60) + " (" + input + ")";
        out.push_back(line);
    }
    return out;
}

Summary summarise(const std::vector<FileResult>& all, double wall_seconds) {
    Summary s;
    s.wall_seconds = wall_seconds;
    std::map<std::string, std::vector<double>> values;
    std::map<std::string, std::pair<double, std::string>> worst;  // key -> (value, input)
    for (const auto& r : merge_results(all)) {
        ++s.files;
        if (r.status == "ok") {
            ++s.ok;
            s.audio_seconds += r.seconds;
            for (const auto& [k, v] : r.metrics) {
                if (!std::isfinite(v)) continue;
                values[k].push_back(v);
                const MetricSpec* spec = find_metric(k);
                const bool higher = spec && spec->higher_is_better;
                auto [it, fresh] = worst.emplace(k, std::make_pair(v, r.input));
                if (!fresh && (higher ? v < it->second.first : v > it->second.first)) it->second = {v, r.input};
            }
        } else if (r.status == "skipped") {
            ++s.skipped;
        } else {
            ++s.failed;
        }
    }
    for (auto& [k, v] : values) {
        MetricSummary m;
        m.count = v.size();
        double sum = 0;
        for (double x : v) sum += x;
        m.mean = sum / static_cast<double>(v.size());
        std::sort(v.begin(), v.end());
        m.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
        const MetricSpec* spec = find_metric(k);
        m.worst = spec && spec->higher_is_better ? v.front() : v.back();
        m.worst_input = worst[k].second;
        s.metrics[k] = m;
    }
    return s;
}

nlohmann::json summary_json(const Summary& s) {
    nlohmann::json j = {{"files", s.files}, {"ok", s.ok}, {"failed", s.failed}, {"skipped", s.skipped},
                        {"audio_seconds", s.audio_seconds}};
    if (s.wall_seconds > 0) {
        j["wall_seconds"] = s.wall_seconds;
        j["x_realtime"] = s.audio_seconds / s.wall_seconds;  // seconds of audio per second of wall time
    }
    for (const auto& [k, m] : s.metrics)
        j["metrics"][k] = {{"count", m.count}, {"mean", m.mean}, {"median", m.median}, {"worst", m.worst},
                           {"worst_input", m.worst_input}};
    return j;
}

std::string report_text(const std::vector<FileResult>& results, const Summary& summary, const std::string& format,
                        bool single) {
    std::string text;
    if (format == "csv") {
        text = csv_header();
        for (const auto& r : results) text += csv_row(r);
    } else if (format == "jsonl") {
        for (const auto& r : results) text += json_text(r.record) + "\n";
    } else if (single && results.size() == 1) {
        text = json_text(results[0].record, 2) + "\n";
    } else {
        nlohmann::json all = {{"summary", summary_json(summary)}, {"files", nlohmann::json::array()}};
        for (const auto& r : results) all["files"].push_back(r.record);
        text = json_text(all, 2) + "\n";
    }
    return text;
}

std::string summary_table(const Summary& s) {
    std::ostringstream o;
    o << "summary: " << s.files << " file(s): " << s.ok << " ok, " << s.failed << " failed, " << s.skipped
      << " skipped; " << format_number(s.audio_seconds, 1) << " s of audio";
    if (s.wall_seconds > 0)
        o << " in " << format_number(s.wall_seconds, 1) << " s (" << format_number(s.audio_seconds / s.wall_seconds, 1)
          << "x real time)";
    o << "\n";
    if (s.metrics.empty()) return o.str();
    char line[160];
    std::snprintf(line, sizeof line, "  %-22s %12s %12s %12s %6s  %s\n", "metric", "mean", "median", "worst", "n",
                  "worst file");
    o << line;
    for (const auto& spec : metric_specs()) {
        auto it = s.metrics.find(spec.key);
        if (it == s.metrics.end()) continue;
        const MetricSummary& m = it->second;
        std::snprintf(line, sizeof line, "  %-22s %12s %12s %12s %6zu  ", spec.key, format_number(m.mean, 4).c_str(),
                      format_number(m.median, 4).c_str(), format_number(m.worst, 4).c_str(), m.count);
        o << line << m.worst_input << "\n";
    }
    return o.str();
}

Requirement parse_requirement(const std::string& text) {
    Requirement r;
    r.text = text;
    std::size_t op = text.find(">=");
    if (op == std::string::npos) {
        op = text.find("<=");
        r.at_least = false;
    }
    if (op == std::string::npos || op == 0) throw UsageError("--require '" + text + "': expected METRIC>=VALUE or METRIC<=VALUE");
    r.key = text.substr(0, op);
    if (!find_metric(r.key)) throw UsageError("--require '" + text + "': unknown metric '" + r.key + "' (" + metric_names() + ")");
    try {
        std::size_t used = 0;
        r.value = std::stod(text.substr(op + 2), &used);
        if (used != text.size() - op - 2) throw 0;
    } catch (...) {
        throw UsageError("--require '" + text + "': the bound is not a number");
    }
    // A NaN bound compares false with everything and an infinite one with nothing: either would turn the
    // check off (or make it fail every file) without saying so.
    if (!std::isfinite(r.value)) throw UsageError("--require '" + text + "': the bound must be a finite number");
    return r;
}

std::pair<std::string, double> parse_tolerance(const std::string& text) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--tolerance '" + text + "': expected METRIC=VALUE");
    const std::string key = text.substr(0, eq);
    if (!find_metric(key)) throw UsageError("--tolerance '" + text + "': unknown metric '" + key + "' (" + metric_names() + ")");
    double v = 0;
    try {
        std::size_t used = 0;
        v = std::stod(text.substr(eq + 1), &used);
        if (used != text.size() - eq - 1 || !(v >= 0) || !std::isfinite(v)) throw 0;  // NaN fails v >= 0
    } catch (...) {
        throw UsageError("--tolerance '" + text + "': the tolerance must be a finite, non-negative number");
    }
    return {key, v};
}

bool Comparison::failed() const {
    for (const auto& f : findings)
        if (f.what != "improved") return true;
    return false;
}

Comparison compare_results(const std::vector<FileResult>& now_all, const std::vector<FileResult>& base_all,
                           const std::map<std::string, double>& tolerances, const std::vector<Requirement>& requirements) {
    Comparison c;
    const auto now = merge_results(now_all), base = merge_results(base_all);
    std::map<std::string, const FileResult*> by_input;
    for (const auto& r : now) by_input[r.input] = &r;
    auto tol = [&tolerances](const MetricSpec& m) {
        auto it = tolerances.find(m.key);
        return it == tolerances.end() ? m.tolerance : it->second;
    };
    auto check = [&](const std::string& who, const MetricSpec& m, double b, double n) {
        const double worse = m.higher_is_better ? b - n : n - b;
        if (worse > tol(m)) c.findings.push_back({who, m.key, b, n, tol(m), "regressed"});
        else if (-worse > tol(m)) c.findings.push_back({who, m.key, b, n, tol(m), "improved"});
    };
    std::map<std::string, std::pair<double, double>> sums;  // over files present in both
    std::map<std::string, std::size_t> counts;
    // A skipped file counts when its measures came with it (the earlier report, or its output measured again).
    auto measured = [](const FileResult& r) { return r.status == "ok" || (r.status == "skipped" && !r.metrics.empty()); };
    for (const auto& b : base) {
        if (b.status != "ok") continue;
        auto it = by_input.find(b.input);
        if (it == by_input.end()) continue;  // not in this run (another shard's)
        if (it->second->status == "skipped" && !measured(*it->second)) {
            c.findings.push_back({b.input, "status", 0, 0, 0, "unchecked"});
            continue;
        }
        if (!measured(*it->second)) {
            c.findings.push_back({b.input, "status", 0, 0, 0, "missing"});
            continue;
        }
        ++c.compared_files;
        for (const auto& m : metric_specs()) {
            auto bv = b.metrics.find(m.key), nv = it->second->metrics.find(m.key);
            if (bv == b.metrics.end()) continue;
            if (nv == it->second->metrics.end()) {
                // Computed but undefined now (no voiced frame, say) cannot pass; never computed is said.
                if (holds_null(*it->second, m.key)) c.findings.push_back({b.input, m.key, bv->second, 0, 0, "undefined"});
                else if (std::find(c.not_compared.begin(), c.not_compared.end(), m.key) == c.not_compared.end())
                    c.not_compared.push_back(m.key);
                continue;
            }
            ++c.compared_values;
            check(b.input, m, bv->second, nv->second);
            sums[m.key].first += bv->second;
            sums[m.key].second += nv->second;
            ++counts[m.key];
        }
    }
    for (const auto& m : metric_specs())
        if (counts[m.key] > 1) check("(mean)", m, sums[m.key].first / counts[m.key], sums[m.key].second / counts[m.key]);
    // A baseline that checked nothing must not pass as if it had.
    // A measure compared in some file is not "not compared".
    c.not_compared.erase(std::remove_if(c.not_compared.begin(), c.not_compared.end(),
                                        [&counts](const std::string& k) {
                                            const auto it = counts.find(k);
                                            return it != counts.end() && it->second > 0;
                                        }),
                         c.not_compared.end());
    if (!base.empty() && (c.compared_files == 0 || c.compared_values == 0))
        c.findings.push_back({"(run)", "", 0, 0, 0, "nothing compared"});
    for (const auto& r : now) {
        if (!measured(r)) {
            if (r.status == "skipped" && !requirements.empty()) c.findings.push_back({r.input, "status", 0, 0, 0, "unchecked"});
            continue;
        }
        for (const auto& q : requirements) {
            auto it = r.metrics.find(q.key);
            if (it == r.metrics.end()) {  // a bound that could not be checked does not pass
                c.findings.push_back({r.input, q.key, q.value, 0, 0, holds_null(r, q.key) ? "undefined" : "not computed"});
                continue;
            }
            if (q.at_least ? it->second < q.value : it->second > q.value)
                c.findings.push_back({r.input, q.key, q.value, it->second, 0, "requirement " + q.text});
        }
    }
    return c;
}

std::string comparison_table(const Comparison& c) {
    std::ostringstream o;
    std::size_t bad = 0;
    for (const auto& f : c.findings) bad += f.what != "improved";
    o << "baseline: " << c.compared_files << " file(s) compared; " << bad << " problem(s), "
      << (c.findings.size() - bad) << " improvement(s)\n";
    if (!c.not_compared.empty()) {
        o << "  not compared (in the baseline, not computed in this run):";
        for (const auto& k : c.not_compared) o << " " << k;
        o << "\n";
    }
    if (c.findings.empty()) return o.str();
    char line[512];
    std::snprintf(line, sizeof line, "  %-10s %-22s %12s %12s %10s  %s\n", "", "metric", "baseline", "now", "tolerance", "file");
    o << line;
    for (const auto& f : c.findings) {
        if (f.what == "missing") {
            std::snprintf(line, sizeof line, "  %-10s %-22s %12s %12s %10s  %s\n", "FAILED", "(file failed)", "ok", "failed", "",
                          f.input.c_str());
        } else if (f.what == "unchecked") {
            std::snprintf(line, sizeof line, "  %-10s %-22s %12s %12s %10s  %s\n", "UNCHECKED", "(skipped, no measures)", "",
                          "", "", f.input.c_str());
        } else if (f.what == "nothing compared") {
            o << (c.compared_files == 0 ? "  NOTHING COMPARED: no file of this run is in the baseline (files are matched by "
                                          "their input path as given); the check did not run\n"
                                        : "  NOTHING COMPARED: this run computed none of the baseline's measures (see "
                                          "--metrics); the check did not run\n");
            continue;
        } else if (f.what == "undefined" || f.what == "not computed") {
            std::snprintf(line, sizeof line, "  %-10s %-22s %12s %12s %10s  %s\n", "UNCHECKED", f.key.c_str(),
                          format_number(f.baseline, 4).c_str(), f.what == "undefined" ? "n/a" : "(not run)", "",
                          f.input.c_str());
        } else {
            const bool req = f.what.rfind("requirement", 0) == 0;
            std::snprintf(line, sizeof line, "  %-10s %-22s %12s %12s %10s  %s\n",
                          req ? "BELOW" : f.what == "regressed" ? "WORSE" : "better", req ? f.what.c_str() + 12 : f.key.c_str(),
                          format_number(f.baseline, 4).c_str(), format_number(f.now, 4).c_str(),
                          req ? "" : format_number(f.tolerance, 4).c_str(), f.input.c_str());
        }
        o << line;
    }
    return o.str();
}

}  // namespace ldmrecon
