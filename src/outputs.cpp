#include "ldmrecon/outputs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <filesystem>

#include "ldmrecon/files.hpp"

namespace fs = std::filesystem;

namespace ldmrecon {

namespace {

bool stat_path(const std::string& path, struct stat& st) { return ::stat(path.c_str(), &st) == 0; }

bool is_dev_null(const struct stat& st) {
    struct stat null {};
    return S_ISCHR(st.st_mode) && stat_path("/dev/null", null) && st.st_rdev == null.st_rdev;
}

// Identity of a path: the file's device and inode when it exists (so links to one file are one file),
// else its absolute, normalised form with existing links resolved.
std::string identity(const std::string& path) {
    struct stat st {};
    if (stat_path(path, st)) return "i:" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
    if (ec) p = fs::absolute(path).lexically_normal();
    return "p:" + p.string();
}

// The nearest existing ancestor of `path` (itself excluded), "." for a bare name.
fs::path nearest_existing_parent(const fs::path& path) {
    fs::path dir = path.parent_path();
    std::error_code ec;
    while (!dir.empty() && !fs::exists(fs::symlink_status(dir, ec))) dir = dir.parent_path();
    return dir.empty() ? fs::path(".") : dir;
}

void check_parent(const std::string& path, const std::string& option, bool create_folders) {
    const fs::path target(path);
    const fs::path dir = create_folders ? nearest_existing_parent(target)
                                        : (target.has_parent_path() ? target.parent_path() : fs::path("."));
    struct stat st {};
    if (!stat_path(dir.string(), st)) throw OutputError(path + ": folder " + dir.string() + " does not exist");
    if (!S_ISDIR(st.st_mode))
        throw OutputError(path + ": " + dir.string() + " is " + file_kind(st.st_mode) + ", so " + option +
                          " cannot be written below it");
    if (::access(dir.string().c_str(), W_OK | X_OK) != 0)
        throw OutputError(path + ": folder " + dir.string() + " is not writable (check its permissions)");
}

}  // namespace

FileKind kind_of_path(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static const std::map<std::string, FileKind> kinds = {
        {".wav", FileKind::audio},    {".wave", FileKind::audio},   {".flac", FileKind::audio},
        {".ogg", FileKind::audio},    {".oga", FileKind::audio},    {".opus", FileKind::audio},
        {".mp3", FileKind::audio},    {".aif", FileKind::audio},    {".aiff", FileKind::audio},
        {".aifc", FileKind::audio},   {".au", FileKind::audio},     {".snd", FileKind::audio},
        {".caf", FileKind::audio},    {".w64", FileKind::audio},    {".rf64", FileKind::audio},
        {".voc", FileKind::audio},    {".json", FileKind::report},  {".jsonl", FileKind::report},
        {".csv", FileKind::report},   {".png", FileKind::plot},     {".ldml", FileKind::latent},
        {".npy", FileKind::array},    {".pt", FileKind::model},     {".pt2", FileKind::model},
    };
    const auto it = kinds.find(ext);
    return it == kinds.end() ? FileKind::unknown : it->second;
}

const char* file_kind_name(FileKind kind) {
    switch (kind) {
        case FileKind::audio: return "an audio file";
        case FileKind::report: return "a report";
        case FileKind::plot: return "a PNG plot";
        case FileKind::latent: return "a latent file";
        case FileKind::array: return "a .npy array";
        case FileKind::model: return "a model";
        default: return "a file";
    }
}

void check_output_extension(const std::string& path, const std::string& option, FileKind want) {
    if (path.empty() || is_standard_output(path) || is_discard(path)) return;
    const FileKind got = kind_of_path(path);
    if (got == FileKind::unknown || got == want) return;
    throw UsageError(path + ": " + option + " writes " + file_kind_name(want) + ", but the name says " +
                     file_kind_name(got) + "; give it a name that says what it holds");
}

std::string report_format(const std::string& path) {
    if (is_standard_output(path) || is_discard(path)) return "json";
    std::string ext = fs::path(path).extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == ".json" || ext == ".jsonl" || ext == ".csv") return ext.substr(1);
    throw UsageError(path + ": --report takes .json, .jsonl or .csv (the extension chooses the format)");
}

bool is_standard_output(const std::string& path) { return path == "-"; }

bool is_discard(const std::string& path) {
    struct stat st {};
    return !is_standard_output(path) && stat_path(path, st) && is_dev_null(st);
}

OutputKind classify_output(const std::string& path, const std::string& option, bool stdout_ok, bool create_folders) {
    if (path.empty()) throw UsageError(option + ": empty path");
    if (is_standard_output(path)) {
        if (!stdout_ok) throw UsageError(option + " -: standard output is not available for this output; give a file name");
        return OutputKind::standard_output;
    }
    struct stat st {}, link {};
    const bool exists = stat_path(path, st);
    if (exists && is_dev_null(st)) return OutputKind::discard;
    // A rename would replace the link itself, and a link into /proc or /dev (/dev/stdout is one) would
    // have a system file replaced: links are refused, whatever they point to.
    if (::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode))
        throw OutputError(path + ": is a symbolic link; ldmrecon does not replace links (write to the file it points "
                          "to, or use - for standard output, /dev/null to discard)");
    if (exists) {
        if (S_ISDIR(st.st_mode))
            throw OutputError(path + ": is a folder; " + option + " takes a file name");
        if (!S_ISREG(st.st_mode))
            throw OutputError(path + ": is " + file_kind(st.st_mode) + "; ldmrecon replaces only regular files (use - for "
                              "standard output where it is offered, /dev/null to discard)");
    }
    // Refused now, not when the file is written after hours of work.
    const std::string name = fs::path(path).filename().string();
    if (name.size() > NAME_MAX)
        throw OutputError(path.substr(0, 40) + "...: the file name is " + std::to_string(name.size()) +
                          " bytes, longer than file systems allow (" + std::to_string(NAME_MAX) + ")");
    check_parent(path, option, create_folders);
    return OutputKind::file;
}

void check_output_folder_path(const std::string& path, const std::string& option) {
    if (path.empty()) throw UsageError(option + ": empty path");
    struct stat st {};
    if (stat_path(path, st)) {
        if (!S_ISDIR(st.st_mode)) throw OutputError(path + ": is " + std::string(file_kind(st.st_mode)) + ", not a folder (" + option + ")");
        if (::access(path.c_str(), W_OK | X_OK) != 0)
            throw OutputError(path + ": folder is not writable (check its permissions)");
        return;
    }
    check_parent(path, option, true);
}

void OutputPlan::add_input(const std::string& path) { seen_.emplace(identity(path), "input " + path); }

OutputKind OutputPlan::add_output(const std::string& path, const std::string& option, bool stdout_ok,
                                  bool create_folders) {
    const OutputKind kind = classify_output(path, option, stdout_ok, create_folders);
    if (kind == OutputKind::discard) return kind;
    if (kind == OutputKind::standard_output) {
        if (!stdout_claimed_by_.empty())
            throw UsageError(option + " -: standard output is already taken by " + stdout_claimed_by_);
        stdout_claimed_by_ = option;
        return kind;
    }
    const auto [it, fresh] = seen_.emplace(identity(path), "the " + option + " output");
    if (!fresh) {
        const bool input = it->second.rfind("input ", 0) == 0;
        throw UsageError(path + ": " + option + " would overwrite " +
                         (input ? "the " + it->second + "; choose another path" : it->second + " of this run"));
    }
    return kind;
}

OutputPlan::Refusal OutputPlan::try_add_output(const std::string& path, const std::string& option, bool create_folders) {
    try {
        add_output(path, option, false, create_folders);
        return {};
    } catch (const Error& e) {
        return {e.code(), e.what()};
    }
}

}  // namespace ldmrecon
