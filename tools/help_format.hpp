// Help text that fits a terminal: every line at most 80 columns, descriptions wrapped under their column.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

namespace ldmrecon::cli {

constexpr std::size_t kHelpWidth = 80;

// `text` wrapped at `width` columns, continuation lines indented by `indent` spaces; words longer than a
// line stay whole. Existing line breaks are kept.
std::string wrapped(const std::string& text, std::size_t width, std::size_t indent = 0);

// CLI11's formatter with wrapped option descriptions and without its "{false}" on negated flags.
std::shared_ptr<CLI::Formatter> wrapping_formatter();

// What -h and a bare `ldmrecon` print: the usage and the options people use (--help has every one).
std::string short_help();

}  // namespace ldmrecon::cli
