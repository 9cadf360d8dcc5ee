// What every command shares, in the binary and in the model module alike: the version line, where the
// scripts are, the PESQ helper, and the one output rule with the models as inputs.
#include <fftw3.h>
#include <sndfile.h>
#include <soxr.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "ldmrecon/crepe.hpp"
#include "ldmrecon/distillmos.hpp"
#include "ldmrecon/dnsmos.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/exports.hpp"
#include "ldmrecon/inputs.hpp"
#include "ldmrecon/results.hpp"

namespace fs = std::filesystem;

namespace ldmrecon::cli {

std::string version_string() {
    char sf[64];
    sf_command(nullptr, SFC_GET_LIB_VERSION, sf, sizeof sf);
    return std::string("ldmrecon ") + LDMRECON_VERSION + " (" + runtime_description() + ", " + sf + ", " +
           fftwf_version + ", soxr " + soxr_version() + ")";
}

std::string scripts_dir() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    const fs::path installed = exe.parent_path().parent_path() / "share" / "ldmrecon" / "scripts";
    if (fs::exists(installed / "bench_python.py", ec)) return installed.string();
    return LDMRECON_SOURCE_SCRIPTS_DIR;
}

std::string command_output(const std::string& command) {
    std::FILE* p = ::popen(command.c_str(), "r");
    if (!p) return {};
    char buf[4096];
    std::string out;
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    if (::pclose(p) != 0) return {};
    while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
    return out;
}

std::unique_ptr<PesqHelper> start_pesq(bool wanted) {
    if (!wanted) return nullptr;
    // The Python scripts/find_python.sh finds with pesq ($LDMRECON_PYTHON first); its own complaint is
    // replaced by PesqHelper's install hint.
    const std::string python = command_output("/bin/sh '" + scripts_dir() + "/find_python.sh' pesq numpy 2>/dev/null");
    auto helper = std::make_unique<PesqHelper>(python, scripts_dir());
    spdlog::info("PESQ: wide band, through the pesq package (one helper process for the run)");
    return helper;
}

namespace {

// One learned measure's network: `file`, else `default_name` in the models folder `models` resolves to.
std::shared_ptr<const MeasureNetwork> network_for(const char* group, const std::string& file, const char* default_name,
                                                  const char* option, const std::string& models, const std::string& device,
                                                  std::shared_ptr<const MeasureNetwork> (*load)(const std::string&, const std::string&)) {
    std::string path = file;
    if (path.empty()) {
        try {
            path = (fs::path(resolve_models_dir(models)) / default_name).string();
        } catch (const Error&) {
            throw ModelError(std::string("the ") + group + " measures need their network: " + kMeasureExportHint +
                             ", and give " + option + " DIR/" + default_name);
        }
    }
    auto net = load(path, device);
    spdlog::info("{} measures: {}", group, net->description());
    return net;
}

}  // namespace

void attach_measure_networks(MetricsOptions& mo, const MeasureNetworkFiles& files, const std::string& models,
                             const std::string& device, int sample_rate) {
    const bool crepe = mo.measures.computes(measure_group::crepe), mos = mo.measures.computes(measure_group::distillmos);
    const bool dns = mo.measures.computes(measure_group::dnsmos);
    if ((crepe || mos || dns) && sample_rate != 16000)
        throw UsageError(std::string("the ") + (crepe ? "crepe" : mos ? "distillmos" : "dnsmos") + " measures run at 16 kHz, "
                         "their network's rate; this comparison is at " + std::to_string(sample_rate) + " Hz (--sample-rate 16000)");
    if (crepe) mo.crepe = network_for("crepe", files.crepe, "crepe_full.pt", "--crepe", models, device, &load_crepe_network);
    if (mos)
        mo.distillmos = network_for("distillmos", files.distillmos, "distillmos.pt", "--distillmos", models, device,
                                    &load_distillmos_network);
    if (dns) mo.dnsmos = network_for("dnsmos", files.dnsmos, "dnsmos.pt", "--dnsmos", models, device, &load_dnsmos_network);
}

bool needs_measure_networks(const MeasureSelection& sel) {
    return sel.computes(measure_group::crepe | measure_group::distillmos | measure_group::dnsmos);
}

MeasureSelection measure_selection(const std::string& list, bool pesq, const std::vector<Requirement>& requirements) {
    MeasureSelection sel = list == "all" ? all_measures() : parse_measure_selection(list);
    if (pesq) {
        sel.groups |= measure_group::pesq;
        sel.keys.insert("pesq");
    }
    for (const auto& q : requirements)
        if (!sel.reports(q.key))
            throw UsageError("--require " + q.text + ": " + q.key + " is not computed in this run (--metrics " + sel.text +
                             (q.key == "pesq" ? "; add --pesq)" : "); add it to --metrics"));
    return sel;
}

void add_models_as_inputs(OutputPlan& plan, const std::string& models) {
    try {
        const std::string dir = resolve_models_dir(models);
        plan.add_input((fs::path(dir) / "vae.pt").string());
        plan.add_input((fs::path(dir) / "vocoder.pt").string());
    } catch (const Error&) {
    }
}

void check_outputs(const std::vector<std::string>& inputs, const std::string& models,
                   const std::vector<NamedOutput>& outputs) {
    OutputPlan plan;
    std::vector<std::string> args;
    for (const auto& in : inputs) {
        if (in.empty()) continue;
        args.push_back(in);
        plan.add_input(in.size() > 1 && in[0] == '@' ? in.substr(1) : in);  // the list file itself too
    }
    for (const auto& in : expand_inputs(args)) plan.add_input(in.path);
    if (models != "-") add_models_as_inputs(plan, models);
    for (const auto& o : outputs) {
        if (o.path.empty()) continue;
        if (o.kind != FileKind::unknown) check_output_extension(o.path, o.option, o.kind);
        plan.add_output(o.path, o.option, o.stdout_ok);
    }
}

// Two records for one input: the later one counts, which the user should hear of.
void warn_repeated(const std::string& report, const std::vector<FileResult>& results) {
    const auto repeated = repeated_inputs(results);
    if (!repeated.empty())
        spdlog::warn("{}: {} input(s) have more than one record, the later one is used (first: {})", report,
                     repeated.size(), repeated.front());
}

}  // namespace ldmrecon::cli
