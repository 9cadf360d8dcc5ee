// Audio read block by block (--stream): a file, standard input ("-") or a FIFO, brought to the model's
// rate and to mono as it arrives, so memory stays flat however long the stream. WAV streams are parsed
// here (libsndfile would seek to their end); raw ones take --raw-* (streams.hpp); other containers
// (FLAC, ...) go through libsndfile over a bounded look-behind buffer.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace ldmrecon {

class BlockReader {
public:
    // Opens `path` and reads its header. Throws InputError naming it (no audio, a FIFO nobody writes to
    // within 5 s, a rate outside the limits, a container that cannot be read as a stream).
    BlockReader(const std::string& path, int model_rate);
    ~BlockReader();
    BlockReader(const BlockReader&) = delete;
    BlockReader& operator=(const BlockReader&) = delete;

    // Appends up to about `frames` source frames' worth of mono samples at the model rate to `out`;
    // false once the stream has ended (then the resampler's tail has been appended, and the length is
    // the one-shot length read_mono gives). A signal while waiting for input throws Cancelled.
    bool read(std::vector<float>& out, std::size_t frames = 4096);

    const std::string& name() const { return name_; }  // "standard input" for "-"
    int source_rate() const;
    int source_channels() const;
    std::size_t source_frames() const;  // read so far

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string name_;
};

}  // namespace ldmrecon
