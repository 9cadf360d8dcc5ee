// Audio written as it is made (--stream). To a file: into a temporary beside it, renamed into place by
// finish(), so no reader ever sees a half-written file (the container its extension names, as write_wav).
// To standard output ("-"): a WAV whose header says its length is unknown (0xFFFFFFFF, as sox and ffmpeg
// write to pipes), the samples following as they come; or, `raw`, the samples alone (little-endian, the
// sample format's width).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "ldmrecon/audio.hpp"

namespace ldmrecon {

class StreamWriter {
public:
    // Throws UsageError for a container libsndfile cannot write, OutputError naming `path` when it cannot
    // be created.
    StreamWriter(const std::string& path, int sample_rate, SampleFormat format, bool raw = false);
    // Not finished: a file's temporary is removed (a standard output stream just stops).
    ~StreamWriter();
    StreamWriter(const StreamWriter&) = delete;
    StreamWriter& operator=(const StreamWriter&) = delete;

    // Appends mono samples (clipped to [-1, 1] unless float); returns how many were clipped. Throws
    // OutputError (disk full, a reader that went away).
    std::size_t write(const std::vector<float>& mono);
    void finish();  // closes, and puts a file in place
    std::size_t samples() const { return samples_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string path_;
    SampleFormat format_;
    std::size_t samples_ = 0;
};

}  // namespace ldmrecon
