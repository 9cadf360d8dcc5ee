#include "cli_text.hpp"

#include <algorithm>

namespace ldmrecon::cli {

std::string shortened(const std::string& text) {
    constexpr std::size_t kMax = 200;
    if (text.size() <= kMax) return text;
    return text.substr(0, 20) + "... (" + std::to_string(text.size()) + " characters)";
}

std::string shortened_words(const std::string& message) {
    std::string out, word;
    for (char c : message + " ") {
        if (c == ' ' || c == '\n') {
            out += shortened(word);
            out += c;
            word.clear();
        } else {
            word += c;
        }
    }
    out.pop_back();
    return out;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string closest(const std::string& typo, const std::vector<std::string>& names) {
    std::string best;
    std::size_t best_d = 3;
    for (const auto& n : names) {
        const std::size_t d = n.rfind(typo, 0) == 0 && typo.size() >= 3 ? 1 : edit_distance(typo, n);
        if (d < best_d) best_d = d, best = n;
    }
    return best;
}

}  // namespace ldmrecon::cli
