#include "ldmrecon/inputs.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <sys/stat.h>

#include "ldmrecon/audio.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/streams.hpp"

namespace fs = std::filesystem;

namespace ldmrecon {

namespace {

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// A relative path without ".." that can be mirrored under the output folder, else the file name.
std::string mirrorable(const fs::path& p) {
    if (p.is_relative()) {
        fs::path clean;
        bool ok = true;
        for (const auto& part : p.lexically_normal()) {
            if (part == "..") ok = false;
            if (part != ".") clean /= part;
        }
        if (ok && !clean.empty()) return clean.string();
    }
    return p.filename().string();
}

// A file's identity (device and inode), so that two spellings of one file, or links to it, are one input.
std::string identity(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    return "p:" + fs::path(path).lexically_normal().string();
}

// What one expansion collects: the files in order, what was left out and why.
struct Expansion {
    const ExpandOptions& opts;
    std::vector<std::string>* warnings;
    std::set<std::string> excluded;  // identities of the folders never entered
    std::vector<InputFile> out;

    void warn(const std::string& w) const {
        if (warnings) warnings->push_back(w);
    }

    // The audio files below `dir`, recursively. An unreadable sub-folder, or an excluded one, is said and
    // skipped; only the top folder failing to list fails the argument.
    bool walk(const fs::path& dir, std::vector<std::string>& found, bool top) {
        std::error_code ec;
        fs::directory_iterator it(dir, ec);
        if (ec) {
            if (top) return false;
            warn(dir.string() + ": cannot list this folder (" + ec.message() + "); its files are left out");
            return true;
        }
        std::vector<fs::path> subdirs;
        for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
            std::error_code e2;
            const fs::path p = it->path();
            if (fs::is_directory(it->symlink_status(e2))) {  // links to folders are not followed (no loops)
                if (excluded.count(identity(p.string())))
                    warn(p.string() + ": left out of the input scan: it is this run's --out-dir");
                else
                    subdirs.push_back(p);
            } else if (it->is_regular_file(e2) && has_audio_extension(p.string())) {
                found.push_back(p.string());
            }
        }
        if (ec) warn(dir.string() + ": listing stopped early (" + ec.message() + ")");
        std::sort(subdirs.begin(), subdirs.end());
        for (const auto& d : subdirs) walk(d, found, false);
        return true;
    }

    void add_path(const std::string& arg, const std::string& relative) {
        std::error_code ec;
        if (fs::is_directory(arg, ec)) {
            std::vector<std::string> found;
            if (!walk(arg, found, true)) {
                out.push_back({arg, relative, arg + ": cannot list the folder (check its permissions)"});
                return;
            }
            if (found.empty())
                warn(arg + ": no audio files in this folder (folders are searched for .wav .flac .ogg .opus .mp3 "
                     ".aif(f) .au .caf .w64 .rf64 .voc; name other files directly)");
            std::sort(found.begin(), found.end());
            for (const auto& f : found) out.push_back({f, fs::path(f).lexically_relative(arg).string(), ""});
            return;
        }
        try {
            // Missing, a device, a folder link: refused now, before the models load. Standard input ("-")
            // and FIFOs are streams, read whole when their turn comes (streams.hpp).
            if (!is_stream_input(arg)) check_input_file(arg);
        } catch (const Error& e) {
            out.push_back({arg, relative, e.what()});
            return;
        }
        out.push_back({arg, relative, ""});
    }

    void add_list(const std::string& list) {
        try {
            check_input_file(list);  // a FIFO would block the read for ever
        } catch (const Error& e) {
            out.push_back({list, fs::path(list).filename().string(), std::string(e.what())});
            return;
        }
        std::ifstream f(list);
        if (!f) {
            out.push_back({list, fs::path(list).filename().string(), list + ": cannot read the list file"});
            return;
        }
        std::string line;
        bool first = true;
        while (std::getline(f, line)) {
            if (first && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a UTF-8 byte-order mark
            first = false;
            while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
            std::size_t b = 0;
            while (b < line.size() && std::isspace(static_cast<unsigned char>(line[b]))) ++b;
            line = line.substr(b);
            if (line.empty() || line[0] == '#') continue;
            add_path(line, mirrorable(line));
        }
    }
};

}  // namespace

bool has_audio_extension(const std::string& path) {
    static const std::set<std::string> ext = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif",
                                              ".aiff", ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64", ".voc"};
    return ext.count(lower(fs::path(path).extension().string())) > 0;
}

std::vector<InputFile> expand_inputs(const std::vector<std::string>& args, const ExpandOptions& opts,
                                     std::vector<std::string>* warnings) {
    Expansion x{opts, warnings, {}, {}};
    for (const auto& d : opts.exclude_dirs) {
        std::error_code ec;
        if (!d.empty() && fs::is_directory(d, ec)) x.excluded.insert(identity(d));
    }
    for (const auto& a : args) {
        if (a.size() > 1 && a[0] == '@')
            x.add_list(a.substr(1));
        else
            x.add_path(a, fs::path(a).filename().string());
    }
    std::vector<InputFile> unique;
    std::map<std::string, std::string> seen;  // identity -> the spelling kept
    for (auto& i : x.out) {
        const auto [it, fresh] = seen.emplace(identity(i.path), i.path);
        if (fresh)
            unique.push_back(std::move(i));
        else if (it->second != i.path && fs::path(it->second).lexically_normal() != fs::path(i.path).lexically_normal())
            x.warn(i.path + ": the same file as " + it->second + "; taken once");
    }
    return unique;
}

std::string output_path_for(const InputFile& in, const std::string& out_dir, const std::string& extension) {
    fs::path rel(in.relative.empty() ? fs::path(in.path).filename() : fs::path(in.relative));
    rel.replace_extension(extension);
    return (fs::path(out_dir) / rel).string();
}

Shard parse_shard(const std::string& text) {
    Shard s;
    const auto slash = text.find('/');
    try {
        if (slash == std::string::npos) throw 0;
        std::size_t a = 0, b = 0;
        s.k = std::stoi(text.substr(0, slash), &a);
        s.n = std::stoi(text.substr(slash + 1), &b);
        if (a != slash || b != text.size() - slash - 1) throw 0;
    } catch (...) {
        throw UsageError("--shard '" + text + "': expected K/N, e.g. 3/8");
    }
    if (s.n < 1 || s.k < 1 || s.k > s.n)
        throw UsageError("--shard '" + text + "': need 1 <= K <= N (shards are numbered from 1; with a 0-based " +
                         "Slurm array use --shard $((SLURM_ARRAY_TASK_ID + 1))/N)");
    return s;
}

std::vector<InputFile> select_shard(std::vector<InputFile> inputs, const Shard& shard) {
    std::sort(inputs.begin(), inputs.end(), [](const InputFile& a, const InputFile& b) { return a.path < b.path; });
    std::vector<InputFile> out;
    for (std::size_t i = static_cast<std::size_t>(shard.k - 1); i < inputs.size(); i += static_cast<std::size_t>(shard.n))
        out.push_back(std::move(inputs[i]));
    return out;
}

}  // namespace ldmrecon
