#include "help_format.hpp"

#include <sstream>

namespace ldmrecon::cli {

namespace {

class WrappingFormatter : public CLI::Formatter {
public:
    WrappingFormatter() { column_width(30); }

    // Name and type in the left column (the description under it when they are wider), the description
    // wrapped in the right one. Options in a group are indented 2 more by CLI11: leave room for that.
    std::string make_option(const CLI::Option* opt, bool is_positional) const override {
        return row("  " + quiet(make_option_name(opt, is_positional) + make_option_opts(opt)), make_option_desc(opt));
    }

    std::string make_subcommand(const CLI::App* sub) const override {
        return row("  " + sub->get_display_name(true), sub->get_description());
    }

    std::string make_description(const CLI::App* app) const override {
        const std::string d = app->get_description();
        if (d.empty()) return std::string();
        return wrapped(d, kHelpWidth) + (app->get_name().empty() ? "\n" : "\n\n");  // an option group: one line
    }

    std::string make_footer(const CLI::App* app) const override {
        const std::string f = app->get_footer();
        return f.empty() ? std::string() : wrapped(f, kHelpWidth) + "\n";
    }

private:
    std::string row(const std::string& left, const std::string& desc) const {
        const std::size_t col = get_column_width() + 2;
        if (desc.empty()) return left + "\n";
        std::string out = left;
        if (left.size() >= col) out += "\n" + std::string(col, ' ');
        else out += std::string(col - left.size(), ' ');
        return out + wrapped(desc, kHelpWidth - col - 2, col) + "\n";
    }

    // CLI11 shows a negated flag's value ("--no-python{false}"): noise to a reader.
    static std::string quiet(std::string s) {
        for (const char* noise : {"{false}", "{true}"})
            for (std::size_t at; (at = s.find(noise)) != std::string::npos;) s.erase(at, std::string(noise).size());
        return s;
    }
};

}  // namespace

std::string wrapped(const std::string& text, std::size_t width, std::size_t indent) {
    std::string out;
    std::istringstream lines(text);
    std::string line;
    bool first_line = true;
    while (std::getline(lines, line)) {
        if (!first_line) out += "\n" + std::string(indent, ' ');
        first_line = false;
        if (line.size() <= width) {  // a line that fits stays as it is (a table's aligned columns)
            out += line;
            continue;
        }
        // Keep a line's own leading spaces (a table's indentation) on its continuations too.
        const std::size_t lead = line.find_first_not_of(' ') == std::string::npos ? 0 : line.find_first_not_of(' ');
        std::istringstream words(line.substr(lead));
        std::string word, current(lead, ' ');
        while (words >> word) {
            if (current.size() > lead && current.size() + 1 + word.size() > width) {
                out += current + "\n" + std::string(indent, ' ');
                current = std::string(lead + 2 * (lead > 0), ' ');
            } else if (current.size() > lead) {
                current += ' ';
            }
            current += word;
        }
        out += current;
    }
    return out;
}

std::shared_ptr<CLI::Formatter> wrapping_formatter() { return std::make_shared<WrappingFormatter>(); }

std::string short_help() {
    return "ldmrecon: reconstruct audio through the AudioLDM2 VAE and HiFi-GAN vocoder, and\n"
           "measure how faithful the result is.\n"
           "\n"
           "Usage: ldmrecon IN -o OUT.wav [options]           one file\n"
           "       ldmrecon IN... --out-dir DIR [options]     files, folders, @lists\n"
           "       ldmrecon COMMAND ...   metrics, pitch, mel, info, report merge, encode,\n"
           "                              decode, ablate, bench, compile\n"
           "\n"
           "Options people use:\n"
           "  --models DIR          vae.pt and vocoder.pt (default: the installed pair)\n"
           "  --report FILE         per-file report: .json, .jsonl or .csv\n"
           "  --metrics LIST        measures to compute (ldmrecon metrics --list)\n"
           "  --device auto|cpu|cuda, --dtype fp32|fp16|bf16   where and how models run\n"
           "  --batch-size N        windows per model call (default 8 on CUDA, 1 on CPU)\n"
           "  --jobs N              threads measuring and writing beside the models\n"
           "  --skip-existing       resume: leave inputs whose output exists\n"
           "  --baseline FILE       exit 7 on a regression against an earlier report\n"
           "  --require 'KEY>=V'    a bound every file must meet (exit 7)\n"
           "  --json, -q, -v        JSON on stdout; quiet; verbose\n"
           "\n"
           "ldmrecon --help lists every option, ldmrecon COMMAND --help a command's.\n"
           "Exit status: 0 ok, 2 usage, 3 input, 4 model, 5 output, 6 some files failed,\n"
           "7 regression, 130 interrupted, 1 internal error.\n";
}

}  // namespace ldmrecon::cli
