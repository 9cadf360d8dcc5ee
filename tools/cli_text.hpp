// What error messages quote and suggest: over-long values shortened, typos matched to the names meant.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ldmrecon::cli {

// A value as an error message may echo it: over 200 characters, cut to its start and its length.
std::string shortened(const std::string& text);
// Every over-long word of a message shortened (CLI11's errors quote the value given).
std::string shortened_words(const std::string& message);
// Edit distance (insertions, deletions, substitutions): how close a typo is to a name.
std::size_t edit_distance(const std::string& a, const std::string& b);
// The name in `names` closest to `typo` when it is a likely typo of it (at most 2 edits, or a prefix of
// at least 3 characters), else "".
std::string closest(const std::string& typo, const std::vector<std::string>& names);

}  // namespace ldmrecon::cli
