// libFuzzer target: the .ldml reader on arbitrary bytes. Every input must either parse or be refused
// with an ldmrecon::Error; anything else (a crash, a sanitizer report, an allocation past the limit) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/latent_file.hpp"
#include "ldmrecon/limits.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    ldmrecon::limits::set_memory_limit(256ull << 20);  // what a hostile header may make us plan for
    try {
        const ldmrecon::LatentFile f = ldmrecon::parse_latents(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
        // A file that parses must hold what its header says.
        if (f.latents.size() != f.elements()) __builtin_trap();
    } catch (const ldmrecon::Error&) {
    }
    return 0;
}
