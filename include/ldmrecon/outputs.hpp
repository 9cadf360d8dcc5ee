// What a run may write: one rule for every output (audio, report, plot, dump, latent file), checked
// before any work starts. An output may be
//   - a new path, or an existing regular file, that is neither an input nor another output of the run
//     (compared by identity: symbolic and hard links to the same file count as the same file);
//   - "-", standard output, where the caller allows it (a report, a WAV);
//   - /dev/null (or a link to it): the output is discarded and /dev/null is never replaced.
// Anything else (a folder, a device, a FIFO, a socket, a symbolic link: /dev/stdout is one and a rename
// would replace it; a folder that is missing or not writable) is
// refused with one line naming the path: exit 2 when the path clashes with another of the run, exit 5 when
// it cannot be written.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ldmrecon/errors.hpp"

namespace ldmrecon {

enum class OutputKind { file, standard_output, discard };

// What a file name's extension says a file holds (case-insensitive): audio (.wav .flac ...), a report
// (.json .jsonl .csv), a plot (.png), a latent file (.ldml), an array (.npy), a model (.pt .pt2), or
// nothing known.
enum class FileKind { audio, report, plot, latent, array, model, unknown };
FileKind kind_of_path(const std::string& path);
const char* file_kind_name(FileKind kind);  // "an audio file", "a report", ...

// An output of kind `want` must not be written under a name that says it is another kind of file (a PNG
// named c.wav would replace a WAV a user keeps under that name). Throws UsageError naming the path and
// `option`; "-" and /dev/null pass.
void check_output_extension(const std::string& path, const std::string& option, FileKind want);

// The report format --report's extension names: "json", "jsonl" or "csv" (case-insensitive; "-" is
// "json"). Throws UsageError naming the path for any other extension.
std::string report_format(const std::string& path);

bool is_standard_output(const std::string& path);  // "-"
bool is_discard(const std::string& path);          // /dev/null or a link to it

// Where a path would be written, without writing. Throws OutputError naming the path when it cannot be
// a file: not a regular file, a missing folder (unless `create_folders`: then the nearest existing
// ancestor must be a writable folder), an unwritable folder. "-" throws UsageError unless `stdout_ok`.
OutputKind classify_output(const std::string& path, const std::string& option, bool stdout_ok = false,
                           bool create_folders = false);

// A folder outputs go into (--out-dir, --dump-dir): an existing writable folder, or a new path whose
// nearest existing ancestor is one. Throws OutputError naming it otherwise.
void check_output_folder_path(const std::string& path, const std::string& option);

class OutputPlan {
public:
    // A file this run reads: no output may be it.
    void add_input(const std::string& path);
    // Registers an output named by `option` ("-o", "--report", ...). Throws UsageError when it is an input
    // or another output of this run (standard output can be claimed once), OutputError when it cannot be
    // a file (classify_output).
    OutputKind add_output(const std::string& path, const std::string& option, bool stdout_ok = false,
                          bool create_folders = false);
    // The same as add_output, but returns the refusal instead of throwing (one file of a batch fails,
    // the others go on). An empty message means the output is registered.
    struct Refusal {
        ExitCode code = ExitCode::ok;
        std::string message;
    };
    Refusal try_add_output(const std::string& path, const std::string& option, bool create_folders = false);
    bool claims_standard_output() const { return stdout_claimed_by_.size() > 0; }

private:
    std::map<std::string, std::string> seen_;  // identity key -> "input PATH" / "the --report output"
    std::string stdout_claimed_by_;
};

}  // namespace ldmrecon
