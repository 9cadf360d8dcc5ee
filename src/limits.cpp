#include "ldmrecon/limits.hpp"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "ldmrecon/errors.hpp"

namespace ldmrecon::limits {

namespace {
std::atomic<std::uint64_t> g_limit{0};  // 0: not set, use the environment or physical memory
}  // namespace

std::uint64_t physical_memory() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) : 0;
}

std::uint64_t memory_limit() {
    if (const std::uint64_t set = g_limit.load()) return set;
    if (const char* env = std::getenv("LDMRECON_MAX_MEMORY"); env && *env)
        return parse_size(env, "$LDMRECON_MAX_MEMORY");
    const std::uint64_t phys = physical_memory();
    return phys ? phys : ~std::uint64_t{0};
}

void set_memory_limit(std::uint64_t bytes) { g_limit.store(bytes); }

std::uint64_t parse_size(const std::string& text, const std::string& what) {
    const auto bad = [&] {
        return UsageError(what + " '" + text + "': expected a size such as 8G, 512M or a number of bytes");
    };
    // Digits with at most one decimal point ("1..5G" is a typo, not 1G).
    std::size_t i = 0, points = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) points += text[i++] == '.';
    if (i == 0 || points > 1 || text[0] == '.' || text[i - 1] == '.') throw bad();
    double v = 0;
    try {
        v = std::stod(text.substr(0, i));
    } catch (...) {
        throw bad();
    }
    std::string unit = text.substr(i);
    if (unit.size() == 2 && (unit[1] == 'B' || unit[1] == 'b')) unit.pop_back();  // "8GB"
    const char u = unit.empty() ? 'B' : static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0])));
    if (unit.size() > 1) throw bad();
    const int shift = u == 'B' ? 0 : u == 'K' ? 10 : u == 'M' ? 20 : u == 'G' ? 30 : u == 'T' ? 40 : -1;
    if (shift < 0) throw bad();
    const double bytes = v * std::ldexp(1.0, shift);
    if (!(bytes >= 1.0) || bytes > 1e18) throw bad();
    return static_cast<std::uint64_t>(bytes);
}

std::string format_bytes(std::uint64_t bytes) {
    char s[32];
    std::snprintf(s, sizeof s, bytes >= (1ull << 30) ? "%.1f GB" : "%.0f MB",
                  bytes >= (1ull << 30) ? bytes / 1073741824.0 : bytes / 1048576.0);
    return s;
}

std::string short_number(double v) {
    char s[32];
    std::snprintf(s, sizeof s, "%g", v);
    return s;
}

void check_memory(const std::string& path, const std::string& what, std::uint64_t bytes) {
    const std::uint64_t limit = memory_limit();
    if (bytes <= limit) return;
    throw InputError(path + ": " + what + " would need about " + format_bytes(bytes) + ", more than the " +
                     format_bytes(limit) + " this run may use; split the file, or raise the limit with "
                     "--max-memory SIZE (or $LDMRECON_MAX_MEMORY) if the machine has the memory");
}

void check_audio_memory(const std::string& path, std::uint64_t samples, int rate) {
    const double hours = static_cast<double>(samples) / rate / 3600.0;
    char what[96];
    std::snprintf(what, sizeof what, "%.1f h of audio at %d Hz", hours, rate);
    // Saturating: a hostile header's frame count must not wrap the product around to a small number.
    const std::uint64_t per = kBytesPerModelSample;
    const std::uint64_t bytes = samples > (~std::uint64_t{0} - kBaseBytes) / per ? ~std::uint64_t{0}
                                                                                   : samples * per + kBaseBytes;
    check_memory(path, what, bytes);
}

int hardware_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace ldmrecon::limits
