// `--plot FILE.png`: the input feature, the reconstructed feature and their difference, stacked, each
// with a colour bar and time / frequency axes. Drawn into an RGB buffer with a built-in 5x7 font and
// written with libpng, so no plotting stack is needed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ldmrecon/feature.hpp"

namespace ldmrecon {

struct Image {
    int width = 0, height = 0;
    std::vector<std::uint8_t> rgb;  // row-major, 3 bytes a pixel
    void set(int x, int y, std::uint8_t r, std::uint8_t g, std::uint8_t b);
};

struct FeaturePlot {
    Matrix input, reconstructed;     // [frames, n_mels] on the ln scale; the shorter sets the frames shown
    FeatureConfig feature;
    std::string title;               // e.g. the file name
    std::string reconstructed_label = "reconstructed feature";
    double diff_range = 3.0;         // the difference colour bar spans +- this many ln units (clipped beyond)
};

// Pixel geometry, fixed by the frame and band counts so tests and users know the size in advance: the
// plot area is `columns` wide (the frames, averaged down to at most 1600 columns or repeated up to at
// least 400) and `band_rows` x n_mels high per panel.
struct PlotLayout {
    int columns = 0, band_rows = 0, panel_height = 0;
    int left = 0, top = 0, panel_stride = 0;  // plot area origin and the distance between panels
    int bar_x = 0, width = 0, height = 0;
};
PlotLayout plot_layout(std::size_t frames, int n_mels);

Image render_feature_plot(const FeaturePlot& p);
// Throws OutputError naming `path` when the PNG cannot be written (written atomically).
void write_png(const std::string& path, const Image& img);

// Colour maps used by the plot: viridis for features, blue-white-red for the difference. t in [0, 1].
void viridis(double t, std::uint8_t rgb[3]);
void diverging(double t, std::uint8_t rgb[3]);

}  // namespace ldmrecon
