#include "ldmrecon/kernel_log.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>

namespace ldmrecon {

namespace {

std::vector<std::string> split_commas(const std::string& line) {
    std::vector<std::string> out;
    std::string field;
    std::istringstream in(line);
    while (std::getline(in, field, ',')) out.push_back(field);
    return out;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

std::string kernel_isa_class(const std::string& impl) {
    if (contains(impl, "amx")) return "AMX";
    if (contains(impl, "avx512_core_bf16") || contains(impl, "avx512_core_fp16")) return "AVX-512 BF16";
    if (contains(impl, "vnni")) return "AVX-512 VNNI";
    if (contains(impl, "avx512")) return "AVX-512";
    if (contains(impl, "avx2")) return "AVX2";
    return "other";
}

double KernelLog::total_ms() const {
    double t = 0;
    for (const auto& u : uses) t += u.ms;
    return t;
}

double KernelLog::reorder_ms() const {
    double t = 0;
    for (const auto& u : uses)
        if (u.primitive == "reorder") t += u.ms;
    return t;
}

double KernelLog::share(const std::string& isa_class) const {
    double in = 0, all = 0;
    for (const auto& u : uses) {
        if (u.primitive == "reorder") continue;
        all += u.ms;
        if (kernel_isa_class(u.implementation) == isa_class) in += u.ms;
    }
    return all > 0 ? in / all : 0.0;
}

KernelLog parse_onednn_verbose(const std::string& text) {
    KernelLog log;
    std::map<std::pair<std::string, std::string>, KernelUse> by_kernel;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("onednn_verbose,", 0) != 0 && line.rfind("dnnl_verbose,", 0) != 0) continue;
        const std::vector<std::string> f = split_commas(line);
        for (const auto& field : f)
            if (field.rfind("isa:", 0) == 0 && log.isa.empty()) log.isa = field.substr(4);
        // v0: verbose,exec,cpu,KIND,IMPL,...,TIME; v1: verbose,v1,primitive,exec,cpu,KIND,IMPL,...,TIME
        const auto exec = std::find(f.begin(), f.end(), "exec");
        if (exec == f.end() || f.end() - exec < 5 || *(exec + 1) != "cpu") continue;
        char* end = nullptr;
        const double ms = std::strtod(f.back().c_str(), &end);
        if (end == f.back().c_str()) continue;
        KernelUse& u = by_kernel[{*(exec + 2), *(exec + 3)}];
        u.primitive = *(exec + 2);
        u.implementation = *(exec + 3);
        ++u.calls;
        u.ms += ms;
    }
    for (auto& [key, use] : by_kernel) log.uses.push_back(use);
    std::stable_sort(log.uses.begin(), log.uses.end(), [](const KernelUse& a, const KernelUse& b) { return a.ms > b.ms; });
    return log;
}

}  // namespace ldmrecon
