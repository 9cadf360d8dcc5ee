#include "ldmrecon/inputs.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>

#include "ldmrecon/audio.hpp"
#include "ldmrecon/errors.hpp"

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

void add_path(const std::string& arg, std::string relative, std::vector<InputFile>& out) {
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
        std::vector<std::string> found;
        for (auto it = fs::recursive_directory_iterator(arg, fs::directory_options::skip_permission_denied, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
            if (it->is_regular_file(ec) && has_audio_extension(it->path().string())) found.push_back(it->path().string());
        if (ec) {
            out.push_back({arg, relative, arg + ": cannot list the folder (" + ec.message() + ")"});
            return;
        }
        std::sort(found.begin(), found.end());
        for (const auto& f : found) out.push_back({f, fs::path(f).lexically_relative(arg).string(), ""});
        return;
    }
    try {
        check_input_file(arg);  // missing, a FIFO, a device: refused now, before the models load
    } catch (const Error& e) {
        out.push_back({arg, relative, e.what()});
        return;
    }
    out.push_back({arg, relative, ""});
}

}  // namespace

bool has_audio_extension(const std::string& path) {
    static const std::set<std::string> ext = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif",
                                              ".aiff", ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64", ".voc"};
    return ext.count(lower(fs::path(path).extension().string())) > 0;
}

std::vector<InputFile> expand_inputs(const std::vector<std::string>& args) {
    std::vector<InputFile> all;
    for (const auto& a : args) {
        if (a.size() > 1 && a[0] == '@') {
            const std::string list = a.substr(1);
            std::ifstream f(list);
            if (!f) {
                all.push_back({list, fs::path(list).filename().string(), list + ": cannot read the list file"});
                continue;
            }
            std::string line;
            while (std::getline(f, line)) {
                while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
                std::size_t b = 0;
                while (b < line.size() && std::isspace(static_cast<unsigned char>(line[b]))) ++b;
                line = line.substr(b);
                if (line.empty() || line[0] == '#') continue;
                add_path(line, mirrorable(line), all);
            }
        } else {
            add_path(a, fs::path(a).filename().string(), all);
        }
    }
    std::vector<InputFile> unique;
    std::set<std::string> seen;
    for (auto& i : all)
        if (seen.insert(fs::path(i.path).lexically_normal().string()).second) unique.push_back(std::move(i));
    return unique;
}

std::string output_path_for(const InputFile& in, const std::string& out_dir) {
    fs::path rel(in.relative.empty() ? fs::path(in.path).filename() : fs::path(in.relative));
    rel.replace_extension(".wav");
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
