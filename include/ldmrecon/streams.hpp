// Inputs that are streams: standard input ("-") and FIFOs, read to their end into memory (bounded by the
// memory limit) so that the rest of ldmrecon sees them as files. Raw (headerless) streams need their
// format said (--raw-rate, --raw-channels, --raw-format).
#pragma once

#include <cstddef>
#include <string>

namespace ldmrecon {

// "-" (standard input) or a path naming a FIFO.
bool is_stream_input(const std::string& path);

// Every byte of the stream. A FIFO that no program opens for writing within `writer_wait_seconds` is an
// InputError, never a hang; so is a stream longer than `max_bytes` (the memory limit's share), and an
// interruption while reading is Cancelled.
std::string read_stream(const std::string& path, unsigned long long max_bytes, int writer_wait_seconds = 5);

// A file descriptor reading the stream: standard input's for "-"; a FIFO opened, waiting up to
// `writer_wait_seconds` for a writer (InputError after that, Cancelled on an interruption, interrupt.hpp).
// The caller closes a FIFO's descriptor.
int open_stream_fd(const std::string& path, int writer_wait_seconds = 5);
// One read(2) of up to n bytes: 0 at the end; Cancelled once an interruption is notified (interrupt.hpp),
// even one that came before the call; InputError naming `name` on failure.
std::size_t read_some(int fd, char* buf, std::size_t n, const std::string& name);

// A WAV written to a pipe cannot go back to fill in its lengths: it says 0 or 0xFFFFFFFF. In a stream
// read whole, such a RIFF and data chunk length is set to what the stream holds (nothing else changes).
void fix_streamed_wav_lengths(std::string& bytes);

// The format of a raw stream, as sox names its raw types: s8 s16 s24 s32 u8 f32 f64 (little-endian).
struct RawFormat {
    int rate = 0;      // Hz; 0: the stream has a header (WAV, FLAC, ...)
    int channels = 1;
    std::string encoding = "s16";
    bool given() const { return rate > 0; }
};
// The format every raw stream of this run is read with (the CLI's --raw-* options). Throws UsageError on
// an encoding it does not know.
void set_raw_format(const RawFormat& f);
const RawFormat& raw_format();
// The libsndfile subtype of a raw encoding (SF_FORMAT_PCM_16, ...).
int raw_subtype(const std::string& encoding);

}  // namespace ldmrecon
