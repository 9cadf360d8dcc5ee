// Writing files so that no reader ever sees a half-written one (temporary file, then rename).
#pragma once

#include <string>

namespace ldmrecon {

// Throws OutputError naming `path` when the folder it would be written to does not exist.
void check_output_folder(const std::string& path);
// A temporary path in the same folder as `path` (so the rename stays on one file system).
std::string temp_path_for(const std::string& path);
// Renames `tmp` over `path`; removes `tmp` and throws OutputError on failure.
void commit_temp(const std::string& tmp, const std::string& path);
// The temporary file being written right now, if any (registered by temp_path_for, cleared by
// commit_temp). remove_pending_temp() is async-signal-safe: a signal handler may call it.
void remove_pending_temp() noexcept;
void clear_pending_temp() noexcept;
// Writes `bytes` to `path` atomically. Throws OutputError naming `path`.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace ldmrecon
