#include "bench_kernels.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>


#include "commands.hpp"
#include "ldmrecon/kernel_log.hpp"
#include "ldmrecon/report.hpp"

namespace fs = std::filesystem;

namespace ldmrecon::cli {

namespace {

std::string sh_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

std::string this_binary() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string("ldmrecon") : exe.string();
}

// /proc/cpuinfo's flags name it (amx_bf16, avx512_bf16, avx512_vnni).
bool cpu_flag(const std::string& flag) {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("flags", 0) == 0) return (line + " ").find(" " + flag + " ") != std::string::npos;
    return false;
}

const char* const kIsaClasses[] = {"AMX", "AVX-512 BF16", "AVX-512 VNNI", "AVX-512", "AVX2", "other"};

void print_stage(const char* stage, const KernelLog& log) {
    std::string shares;
    for (const char* c : kIsaClasses)
        if (const double s = log.share(c); s >= 0.005) shares += (shares.empty() ? "" : ", ") + format_number(100 * s, 0) + " % " + c;
    std::printf("    %-8s %s ms of kernels: %s; reorders (layout changes) %s ms\n", stage,
                format_number(log.total_ms() - log.reorder_ms(), 1).c_str(), shares.c_str(),
                format_number(log.reorder_ms(), 1).c_str());
    int shown = 0;
    for (const KernelUse& u : log.uses) {
        if (u.primitive == "reorder" || shown++ == 4) continue;
        std::printf("             %-14s %-52s x%-4d %s ms\n", u.primitive.c_str(), u.implementation.c_str(), u.calls,
                    format_number(u.ms, 1).c_str());
    }
}

nlohmann::json stage_json(const KernelLog& log) {
    nlohmann::json j = {{"kernel_ms", log.total_ms() - log.reorder_ms()}, {"reorder_ms", log.reorder_ms()},
                        {"share", nlohmann::json::object()}, {"kernels", nlohmann::json::array()}};
    for (const char* c : kIsaClasses) j["share"][c] = log.share(c);
    for (const KernelUse& u : log.uses)
        j["kernels"].push_back({{"primitive", u.primitive}, {"implementation", u.implementation}, {"calls", u.calls},
                                {"ms", u.ms}});
    return j;
}

}  // namespace

nlohmann::json probe_kernels(const std::string& models_dir, const std::string& wav, const RuntimeOptions& rt,
                             const std::string& backend, int threads) {
    // The probe's outputs go to a folder of its own, made here and removed after: nothing else is touched.
    std::string folder = (fs::temp_directory_path() / "ldmrecon-bench-kernels-XXXXXX").string();
    if (!::mkdtemp(folder.data())) {
        spdlog::warn("the kernel probe needs a temporary folder ({}); it is left out", std::strerror(errno));
        return nullptr;
    }
    struct Remove {
        std::string dir;
        ~Remove() {
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
    } remove{folder};
    nlohmann::json j = {{"isa", nullptr}, {"cpu_has", {{"amx_bf16", cpu_flag("amx_bf16")}, {"amx_int8", cpu_flag("amx_int8")},
                                                       {"avx512_bf16", cpu_flag("avx512_bf16")},
                                                       {"avx512_vnni", cpu_flag("avx512_vnni")}}}};
    std::printf("\n  oneDNN kernels, one pass of the clip (ONEDNN_VERBOSE=1); this CPU has AMX: %s, AVX-512 BF16: %s\n",
                j["cpu_has"]["amx_bf16"].get<bool>() ? "yes" : "no", j["cpu_has"]["avx512_bf16"].get<bool>() ? "yes" : "no");
    for (const char* stage : {"vae", "vocoder"}) {
        const fs::path out = fs::path(folder) / (std::string(stage) == "vae" ? "probe.npy" : "probe.wav");  // vae: the feature
        const std::string cmd = "ONEDNN_VERBOSE=1 " + sh_quote(this_binary()) + " " + sh_quote(wav) + " -o " +
                                sh_quote(out.string()) + " --models " + sh_quote(models_dir) + " --device cpu --dtype " +
                                sh_quote(rt.dtype) + " --backend " + sh_quote(backend) + " --threads " +
                                std::to_string(threads) + " --stage " + stage + " --metrics none -q 2>/dev/null";
        const KernelLog log = parse_onednn_verbose(command_output(cmd));
        if (log.uses.empty()) {
            spdlog::warn("the kernel probe (--stage {}) logged no oneDNN kernels; it ran: {}", stage, cmd);
            return nullptr;
        }
        if (j["isa"].is_null()) {
            j["isa"] = log.isa;
            std::printf("    oneDNN's highest instruction set here: %s\n", log.isa.c_str());
        }
        print_stage(stage, log);
        j[stage] = stage_json(log);
    }
    return j;
}

}  // namespace ldmrecon::cli
