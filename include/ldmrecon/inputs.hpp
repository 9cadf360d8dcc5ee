// Turning command-line inputs (files, folders, @lists) into a work list, output names and shards.
#pragma once

#include <string>
#include <vector>

namespace ldmrecon {

struct InputFile {
    std::string path;      // as found (a folder's entries joined to the folder as given)
    std::string relative;  // what the output name mirrors: the path inside a folder argument, a list
                           // entry's relative path, or a file argument's name
    std::string error;     // set when the argument could not be used (missing file, unreadable list)
};

// Audio extensions picked up when walking folders (case-insensitive); files given by name are taken
// whatever their extension, and libsndfile decides.
bool has_audio_extension(const std::string& path);

struct ExpandOptions {
    // Folders whose contents are never taken from a folder argument: the run's own output folder, so a
    // second run with --out-dir inside an input folder does not read the first run's outputs.
    std::vector<std::string> exclude_dirs;
};

// Expands files, folders (recursively, audio extensions only, sorted) and @list files (one path per
// line, UTF-8 with or without a byte-order mark; blank lines and lines starting with # ignored; entries
// may be folders). The same file twice, under any spelling or link, is kept once. Missing paths come back
// with `error` set rather than throwing, so one bad argument does not stop the others. What was left out
// and why (a folder with no audio, an unreadable sub-folder, an excluded folder) is appended to `warnings`.
std::vector<InputFile> expand_inputs(const std::vector<std::string>& args, const ExpandOptions& opts = {},
                                     std::vector<std::string>* warnings = nullptr);

// out_dir / relative, with the extension replaced by `extension` (".wav", ".flac", ...).
std::string output_path_for(const InputFile& in, const std::string& out_dir, const std::string& extension = ".wav");

// "K/N" with 1 <= K <= N: shards are numbered from 1. Throws UsageError otherwise.
struct Shard {
    int k = 1, n = 1;
};
Shard parse_shard(const std::string& text);

// The K-th of N slices of `inputs`: sorted by path, then every N-th from the K-th. Deterministic for a
// given input list whatever its order, and the N shards together hold every input exactly once.
std::vector<InputFile> select_shard(std::vector<InputFile> inputs, const Shard& shard);

}  // namespace ldmrecon
