// Typed errors and the exit codes they map to. One place, so the CLI, the docs and the tests agree.
#pragma once

#include <stdexcept>
#include <string>

namespace ldmrecon {

// Exit statuses of the ldmrecon binary (documented in README.md, "Exit status").
enum class ExitCode : int {
    ok = 0,
    internal = 1,   // a bug or an unexpected library failure
    usage = 2,      // bad command-line options
    input = 3,      // an input file is missing, unreadable, not audio or empty
    model = 4,      // models missing, unreadable, or their metadata disagrees
    output = 5,     // an output file could not be written
    interrupted = 130,  // SIGINT / SIGTERM (128 + SIGINT, the shell's convention)
};

// Base of all ldmrecon errors: the message is one line, already naming the file concerned.
class Error : public std::runtime_error {
public:
    Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ExitCode code() const noexcept { return code_; }

private:
    ExitCode code_;
};

struct InputError : Error {
    explicit InputError(const std::string& m) : Error(ExitCode::input, m) {}
};
struct ModelError : Error {
    explicit ModelError(const std::string& m) : Error(ExitCode::model, m) {}
};
struct OutputError : Error {
    explicit OutputError(const std::string& m) : Error(ExitCode::output, m) {}
};
struct UsageError : Error {
    explicit UsageError(const std::string& m) : Error(ExitCode::usage, m) {}
};
// Long work stopped because the caller asked (a `cancelled` callback returned true).
struct Cancelled : Error {
    Cancelled() : Error(ExitCode::interrupted, "interrupted") {}
};

// The first non-blank line of a library's message (libtorch's start with a newline at times, and carry a
// backtrace after it), trimmed: what a one-line error may quote.
inline std::string first_line(const std::string& text) {
    std::size_t b = 0;
    while (b < text.size()) {
        const std::size_t e = text.find('\n', b);
        std::string line = text.substr(b, e == std::string::npos ? std::string::npos : e - b);
        const auto l = line.find_first_not_of(" \t\r"), r = line.find_last_not_of(" \t\r");
        if (l != std::string::npos) return line.substr(l, r - l + 1);
        if (e == std::string::npos) break;
        b = e + 1;
    }
    return {};
}

// The line of a TorchScript interpreter's error that says what went wrong: its message starts with "The
// following operation failed in the TorchScript interpreter", then a traceback, then "RuntimeError: ...".
inline std::string interpreter_error_line(const std::string& text) {
    const std::string first = first_line(text);
    if (first.find("failed in the TorchScript interpreter") == std::string::npos) return first;
    std::size_t at = text.rfind("Error: ");
    if (at == std::string::npos) return first;
    const std::size_t begin = text.rfind('\n', at);
    return first_line(text.substr(begin == std::string::npos ? 0 : begin + 1));
}

}  // namespace ldmrecon
