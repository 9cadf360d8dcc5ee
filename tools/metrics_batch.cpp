// `ldmrecon metrics --pairs LIST` and `ldmrecon metrics REF_DIR EST_DIR`: many pairs in one process, on
// every core, with the batch's report formats and exit statuses. No model is involved.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "commands.hpp"
#include "ldmrecon/audio.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/inputs.hpp"
#include "ldmrecon/limits.hpp"
#include "ldmrecon/metrics.hpp"
#include "ldmrecon/outputs.hpp"
#include "ldmrecon/report.hpp"

namespace fs = std::filesystem;

namespace ldmrecon::cli {

namespace {

struct Pair {
    std::string reference, estimate, error;
};

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop(int) {
    if (g_stop) {
        remove_pending_temp();
        ::_exit(kExitInterrupted);
    }
    g_stop = 1;
}

// REF<TAB>EST a line; blank lines and # comments skipped; a line without a tab fails alone.
std::vector<Pair> pairs_from_list(const std::string& path) {
    check_input_file(path);
    std::ifstream f(path);
    if (!f) throw InputError(path + ": cannot read the pairs list");
    std::vector<Pair> out;
    std::string line;
    for (std::size_t n = 1; std::getline(f, line); ++n) {
        if (n == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
        const auto tab = line.find('\t');
        if (tab == std::string::npos)
            out.push_back({line, "", path + ": line " + std::to_string(n) + " has no tab between reference and estimate"});
        else
            out.push_back({line.substr(0, tab), line.substr(tab + 1), ""});
    }
    return out;
}

// Every audio file below `ref_dir` with the file at the same relative path below `est_dir`; an estimate
// with the same name but another audio extension counts too (ldmrecon writes .wav for a .flac input).
std::vector<Pair> pairs_from_folders(const std::string& ref_dir, const std::string& est_dir) {
    std::vector<std::string> warnings;
    std::vector<Pair> out;
    for (const InputFile& in : expand_inputs({ref_dir}, {}, &warnings)) {
        fs::path est = fs::path(est_dir) / in.relative;
        std::error_code ec;
        if (!fs::exists(est, ec)) {
            for (const char* ext : {".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".caf", ".w64", ".rf64", ".au"}) {
                const fs::path alt = fs::path(est).replace_extension(ext);
                if (fs::exists(alt, ec)) {
                    est = alt;
                    break;
                }
            }
        }
        out.push_back({in.path, est.string(), in.error.empty() && !fs::exists(est, ec)
                                                   ? in.path + ": no estimate for it in " + est_dir + " (looked for " + est.string() + ")"
                                                   : in.error});
    }
    for (const auto& w : warnings) spdlog::warn("{}", w);
    return out;
}

// One pair measured into a report record (a failure into a failed one).
FileResult measure(const Pair& p, const MetricsOptions& mo, const LogMel& feature, PesqHelper* pesq, std::mutex& pesq_lock) {
    nlohmann::json rec = {{"input", p.reference}, {"output", p.estimate}, {"reference", p.reference},
                          {"estimate", p.estimate}, {"status", "ok"}};
    try {
        if (!p.error.empty()) throw InputError(p.error);
        const int rate = feature.config().sample_rate;
        const MonoAudio ref = read_mono(p.reference, rate), est = read_mono(p.estimate, rate);
        Metrics m = compare_signals(ref.samples, est.samples, feature, mo);
        if (pesq) {
            const std::lock_guard<std::mutex> lock(pesq_lock);  // one helper process, one request at a time
            m.pesq = pesq->score(ref.samples, est.samples, rate);
        }
        rec["input_audio"] = {{"sample_rate", ref.source_rate}, {"channels", ref.source_channels},
                              {"seconds", ref.seconds()}};
        rec["metrics"] = metrics_json(m);
        if (ref.samples.size() != est.samples.size())
            rec["notes"] = "lengths differ: compared over the shorter (" + std::to_string(m.samples) + " samples)";
    } catch (const Error& e) {
        rec["status"] = "failed";
        rec["error"] = e.what();
        spdlog::error("{}", e.what());
    }
    return result_from_json(rec);
}

}  // namespace

int run_metrics_batch(const MetricsArgs& a) {
    const std::vector<Pair> pairs = !a.pairs.empty() ? pairs_from_list(a.pairs) : pairs_from_folders(a.reference, a.estimate);
    if (pairs.empty()) throw InputError((a.pairs.empty() ? a.reference : a.pairs) + ": holds no pairs to compare");
    std::vector<std::string> inputs = {a.pairs};
    for (const auto& p : pairs) inputs.push_back(p.reference), inputs.push_back(p.estimate);
    if (!a.report.empty()) report_format(a.report);
    if (a.json && is_standard_output(a.report))
        throw UsageError("--json prints on standard output, which --report - already takes");
    check_outputs(inputs, "-", {{"--report", a.report, true, FileKind::report}});  // the one output rule
    FeatureConfig fc;
    fc.sample_rate = a.sample_rate;
    fc.fmax = std::min(fc.fmax, a.sample_rate / 2.0);
    MetricsOptions mo;
    mo.max_lag_ms = a.max_lag_ms;
    mo.measures = measure_selection(a.measures, a.pesq, {});
    attach_measure_networks(mo, a.networks, "", "auto", a.sample_rate);
    auto pesq = start_pesq(mo.measures.computes(measure_group::pesq));
    std::mutex pesq_lock;
    const auto t0 = std::chrono::steady_clock::now();
    struct sigaction sa {}, old_int {}, old_term {};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    // Pairs are taken in order by the workers; each result lands in its own slot, so the report's order is
    // the list's whatever the scheduling.
    std::vector<FileResult> results(pairs.size());
    std::vector<char> done(pairs.size(), 0);
    std::atomic<std::size_t> next{0};
    const int jobs = std::max(1, std::min<int>(a.jobs > 0 ? a.jobs : limits::hardware_threads(), static_cast<int>(pairs.size())));
    auto work = [&] {
        const LogMel feature(fc);  // one per thread: its buffers are its own
        for (std::size_t i; !g_stop && (i = next++) < pairs.size();) {
            results[i] = measure(pairs[i], mo, feature, pesq.get(), pesq_lock);
            done[i] = 1;
        }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < jobs; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    std::vector<FileResult> finished;
    for (std::size_t i = 0; i < pairs.size(); ++i)
        if (done[i]) finished.push_back(std::move(results[i]));
    const Summary s = summarise(finished, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (!a.report.empty()) write_file_atomically(a.report, report_text(finished, s, report_format(a.report), false));
    if (a.json)
        std::cout << report_text(finished, s, "json", false);
    else if (!a.quiet)  // beside a report on standard output, the table goes to stderr
        (is_standard_output(a.report) ? std::cerr : std::cout) << summary_table(s);
    if (g_stop) {
        spdlog::warn("interrupted: {} of {} pair(s) compared and reported", finished.size(), pairs.size());
        return kExitInterrupted;
    }
    if (s.failed > 0) {
        spdlog::error("{} of {} pair(s) failed", s.failed, s.files);
        return kExitSomeFailed;
    }
    return 0;
}

}  // namespace ldmrecon::cli
