// --plot: the PNG decodes to the size the layout promises, low bands are drawn at the bottom, the colour
// maps' ends land where the values are, and a perfect reconstruction gives a blank difference panel.
#include <catch2/catch.hpp>

#include <png.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/plot.hpp"

using namespace ldmrecon;

namespace {

Image read_png(const std::string& path) {
    png_image im;
    std::memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    REQUIRE(png_image_begin_read_from_file(&im, path.c_str()));
    im.format = PNG_FORMAT_RGB;
    Image img;
    img.width = static_cast<int>(im.width);
    img.height = static_cast<int>(im.height);
    img.rgb.resize(PNG_IMAGE_SIZE(im));
    REQUIRE(png_image_finish_read(&im, nullptr, img.rgb.data(), 0, nullptr));
    return img;
}

std::array<int, 3> pixel(const Image& img, int x, int y) {
    const std::uint8_t* p = &img.rgb[(static_cast<std::size_t>(y) * img.width + x) * 3];
    return {p[0], p[1], p[2]};
}

std::array<int, 3> colour(void (*map)(double, std::uint8_t*), double t) {
    std::uint8_t c[3];
    map(t, c);
    return {c[0], c[1], c[2]};
}

}  // namespace

TEST_CASE("plot layout: frames averaged down or repeated up, three panels", "[plot]") {
    CHECK(plot_layout(897, 64).columns == 897);
    CHECK(plot_layout(100, 64).columns == 400);
    CHECK(plot_layout(150, 64).columns == 450);  // whole repeats: 3 columns a frame
    CHECK(plot_layout(100000, 64).columns == 1600);
    const PlotLayout l = plot_layout(897, 64);
    CHECK(l.band_rows == 3);
    CHECK(l.panel_height == 192);
    CHECK(l.height == 6 + 3 * l.panel_stride);
    CHECK(plot_layout(897, 256).band_rows == 1);
}

TEST_CASE("the PNG decodes with the expected size and the values where they belong", "[plot]") {
    FeaturePlot p;
    const std::size_t frames = 500;
    p.input = Matrix(frames, 64, -8.f);
    for (std::size_t f = 0; f < frames; ++f) p.input.at(f, 10) = 2.f;  // one loud low band
    p.reconstructed = p.input;                                            // a perfect reconstruction
    p.title = "t.wav";
    const std::string path = (std::filesystem::temp_directory_path() / "ldmrecon-test-plot.png").string();
    write_png(path, render_feature_plot(p));
    const Image img = read_png(path);
    std::remove(path.c_str());

    const PlotLayout L = plot_layout(frames, 64);
    REQUIRE(img.width == L.width);
    REQUIRE(img.height == L.height);
    const int x = L.left + L.columns / 2;
    auto band_y = [&](int panel, int band) { return L.top + panel * L.panel_stride + (63 - band) * L.band_rows + 1; };
    for (int panel : {0, 1}) {
        CHECK(pixel(img, x, band_y(panel, 10)) == colour(viridis, 1.0));  // the maximum, 10 bands up from the bottom
        CHECK(pixel(img, x, band_y(panel, 53)) == colour(viridis, 0.0));  // not mirrored to the top
        CHECK(pixel(img, x, band_y(panel, 0)) == colour(viridis, 0.0));
        // The colour bar runs from the maximum at the top to the minimum at the bottom.
        CHECK(pixel(img, L.bar_x + 5, L.top + panel * L.panel_stride) == colour(viridis, 1.0 - 0.5 / L.panel_height));
    }
    for (int band = 0; band < 64; band += 7)
        CHECK(pixel(img, x, band_y(2, band)) == colour(diverging, 0.5));  // no difference anywhere
    // A reconstruction 3 ln units too loud everywhere saturates the difference panel at its top colour.
    for (float& v : p.reconstructed.data) v += 3.f;
    const Image louder = render_feature_plot(p);
    CHECK(pixel(louder, x, band_y(2, 30)) == colour(diverging, 1.0));
}

TEST_CASE("writing a plot into a missing folder names the path", "[plot]") {
    FeaturePlot p;
    p.input = p.reconstructed = Matrix(10, 64, 0.f);
    CHECK_THROWS_AS(write_png("/nonexistent/dir/p.png", render_feature_plot(p)), OutputError);
}
