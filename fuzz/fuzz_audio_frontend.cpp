// libFuzzer target: the audio front end on arbitrary bytes, as a file ldmrecon would be given: libsndfile
// decodes it (any format it recognises), channels are averaged, soxr resamples to 16 kHz, and the
// AudioLDM2 log-mel feature is taken. Every input must give a finite feature or an ldmrecon::Error.
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "ldmrecon/audio.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/feature.hpp"
#include "ldmrecon/limits.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    ldmrecon::limits::set_memory_limit(256ull << 20);  // refuse headers that claim hours of audio
    // A memory-backed regular file, so the path goes through the same checks and reads as a user's file.
    const int fd = ::memfd_create("fuzz-audio", 0);
    if (fd < 0) return 0;
    if (::write(fd, data, size) != static_cast<ssize_t>(size)) {
        ::close(fd);
        return 0;
    }
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    try {
        ldmrecon::MonoAudio in = ldmrecon::read_mono(path, 16000);
        if (in.samples.size() > 16000 * 30) in.samples.resize(16000 * 30);  // the feature's cost, not its logic
        ldmrecon::normalise_waveform(in.samples);
        const ldmrecon::Matrix mel = ldmrecon::LogMel(ldmrecon::FeatureConfig{}).compute(in.samples);
        for (float v : mel.data)
            if (!std::isfinite(v)) __builtin_trap();
    } catch (const ldmrecon::Error&) {
    }
    ::close(fd);
    return 0;
}
