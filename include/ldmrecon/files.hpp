// Writing files so that no reader ever sees a half-written one (temporary file, then rename), and no
// failure leaves a temporary behind. What may be written at all is outputs.hpp's rule.
#pragma once

#include <string>

namespace ldmrecon {

// Throws OutputError naming `path` when the folder it would be written to does not exist.
void check_output_folder(const std::string& path);

// A hidden temporary beside `path` (same folder, so the rename stays on one file system), removed by the
// destructor unless commit() moved it into place. Only one is pending at a time; remove_pending_temp()
// removes it from a signal handler.
class TempFile {
public:
    explicit TempFile(const std::string& path);
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return tmp_; }
    // Renames the temporary over the target; throws OutputError naming the target on failure.
    void commit();

private:
    std::string target_, tmp_;
    bool done_ = false;
    int slot_ = -1;  // where remove_pending_temp finds it
};

// The temporary file being written right now, if any. remove_pending_temp() is async-signal-safe.
void remove_pending_temp() noexcept;

// True while write_file_atomically is writing to standard output (async-signal-safe). A signal handler
// that would let the work in flight finish exits at once instead: a reader that stopped reading would
// keep that write, and the process, blocked for ever.
bool writing_to_standard_output() noexcept;
// Marks a write to standard output for writing_to_standard_output() while it lives (a stream's writer).
class StandardOutputWrite {
public:
    StandardOutputWrite() noexcept;
    ~StandardOutputWrite();
    StandardOutputWrite(const StandardOutputWrite&) = delete;
    StandardOutputWrite& operator=(const StandardOutputWrite&) = delete;
};

// Writes `bytes` to `path` atomically; "-" writes them to standard output, /dev/null discards them.
// Throws OutputError naming `path`.
void write_file_atomically(const std::string& path, const std::string& bytes);

// What a stat mode names, for messages: "a file", "a folder", "a character device", "a FIFO (named
// pipe)", ... (the input and the output checks say the same thing the same way).
const char* file_kind(unsigned mode);

// "disk full", "file too large" or strerror's text for an errno from a failed write.
std::string io_error_text(int err);

// Creates a folder and its parents; throws OutputError naming it (and what is in the way) on failure.
void make_folders(const std::string& path);

}  // namespace ldmrecon
