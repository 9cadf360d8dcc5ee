#include "ldmrecon/plot.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"

namespace ldmrecon {

namespace {

// A 5x7 bitmap font for the characters the plot writes (upper case drawn as lower case but for H and L).
// Each glyph is 7 rows, bit 4 the leftmost column.
struct Glyph {
    char c;
    std::uint8_t rows[7];
};
constexpr Glyph kFont[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'a', {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F}}, {'b', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E}},
    {'c', {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E}}, {'d', {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F}},
    {'e', {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E}}, {'f', {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08}},
    {'g', {0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E}}, {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'i', {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E}}, {'j', {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C}},
    {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}}, {'l', {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'m', {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11}}, {'n', {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'o', {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E}}, {'p', {0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10}},
    {'q', {0x00, 0x00, 0x0D, 0x13, 0x0F, 0x01, 0x01}}, {'r', {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}},
    {'s', {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E}}, {'t', {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06}},
    {'u', {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D}}, {'v', {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'w', {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A}}, {'x', {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11}},
    {'y', {0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E}}, {'z', {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}}, {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}}, {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}}, {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}}, {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}}, {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}},
    {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}}, {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}},
    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
};
constexpr int kAdvance = 6, kTextHeight = 7;

const Glyph* glyph(char c) {
    for (const Glyph& g : kFont)
        if (g.c == c) return &g;
    if (c >= 'A' && c <= 'Z') return glyph(static_cast<char>(c - 'A' + 'a'));
    return c == ' ' ? nullptr : glyph('?');
}

void text(Image& img, int x, int y, const std::string& s, std::uint8_t v = 0) {
    for (char c : s) {
        if (const Glyph* g = glyph(c))
            for (int r = 0; r < kTextHeight; ++r)
                for (int k = 0; k < 5; ++k)
                    if (g->rows[r] & (0x10 >> k)) img.set(x + k, y + r, v, v, v);
        x += kAdvance;
    }
}
int text_width(const std::string& s) { return static_cast<int>(s.size()) * kAdvance - 1; }

void fill(Image& img, int x0, int y0, int x1, int y1, std::uint8_t v) {
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) img.set(x, y, v, v, v);
}

void lerp_map(const double (*pts)[3], int n, double t, std::uint8_t rgb[3]) {
    t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * (n - 1);
    const int i = std::min(static_cast<int>(t), n - 2);
    const double f = t - i;
    for (int c = 0; c < 3; ++c) rgb[c] = static_cast<std::uint8_t>(std::lround(pts[i][c] + f * (pts[i + 1][c] - pts[i][c])));
}

std::string number(double v) {
    char b[32];
    std::snprintf(b, sizeof b, std::fabs(v) >= 10 || v == std::round(v) ? "%.0f" : "%.1f", v);
    return b;
}

std::string hz_label(double hz) { return hz >= 1000 ? number(hz / 1000) + "k" : number(hz); }

}  // namespace

void Image::set(int x, int y, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    std::uint8_t* p = &rgb[(static_cast<std::size_t>(y) * width + x) * 3];
    p[0] = r;
    p[1] = g;
    p[2] = b;
}

void viridis(double t, std::uint8_t rgb[3]) {
    // ref: matplotlib's viridis at t = 0, 1/8, ..., 1
    static const double pts[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 82, 139},  {44, 113, 142}, {33, 145, 140},
                                     {40, 174, 128}, {94, 201, 98},  {173, 220, 48}, {253, 231, 37}};
    lerp_map(pts, 9, t, rgb);
}

void diverging(double t, std::uint8_t rgb[3]) {
    // Blue below zero, near-white at zero, red above (the ends of matplotlib's coolwarm).
    static const double pts[3][3] = {{59, 76, 192}, {242, 242, 242}, {180, 4, 38}};
    lerp_map(pts, 3, t, rgb);
}

PlotLayout plot_layout(std::size_t frames, int n_mels) {
    PlotLayout l;
    const std::size_t f = std::max<std::size_t>(frames, 1);
    l.columns = f < 400 ? static_cast<int>(f * ((400 + f - 1) / f)) : static_cast<int>(std::min<std::size_t>(f, 1600));
    l.band_rows = std::max(1, 192 / std::max(1, n_mels));
    l.panel_height = l.band_rows * n_mels;
    l.left = 40;
    l.top = 6 + 12;  // margin, then the panel's title line
    l.panel_stride = 12 + l.panel_height + 18;
    l.bar_x = l.left + l.columns + 10;
    l.width = l.bar_x + 10 + 4 + 5 * kAdvance + 4;
    l.height = 6 + 3 * l.panel_stride;
    return l;
}

namespace {

// What every panel of one plot shares: the layout, the colour scale of the two feature panels (one scale, so
// equal colours mean equal values) and the time axis.
struct PlotContext {
    const FeaturePlot& p;
    const PlotLayout& L;
    std::size_t frames;
    int M;
    float lo = 1e30f, hi = -1e30f;
    double fps = 0, seconds = 0, step = 600;  // frames per second, length, time-axis tick spacing

    PlotContext(const FeaturePlot& plot, const PlotLayout& layout, std::size_t n)
        : p(plot), L(layout), frames(n), M(plot.feature.n_mels) {
        for (const Matrix* m : {&p.input, &p.reconstructed})
            for (std::size_t i = 0; i < frames * M; ++i) {
                lo = std::min(lo, m->data[i]);
                hi = std::max(hi, m->data[i]);
            }
        if (!(hi > lo)) hi = lo + 1;
        fps = double(p.feature.sample_rate) / p.feature.hop_length;
        seconds = frames / fps;
        for (double s : {0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0})
            if (seconds / s <= 10) {
                step = s;
                break;
            }
    }

    // Panel k's value at (frame, band): the input, the reconstruction, or their difference.
    double value(int k, std::size_t f, int b) const {
        return k == 0 ? p.input.at(f, b) : k == 1 ? p.reconstructed.at(f, b) : p.reconstructed.at(f, b) - p.input.at(f, b);
    }
    void colour(int k, double v, std::uint8_t rgb[3]) const {
        if (k < 2)
            viridis((v - lo) / (hi - lo), rgb);
        else
            diverging(0.5 + 0.5 * v / p.diff_range, rgb);
    }
};

// The panel's cells; a column averages its frames when there are more frames than columns, repeats one
// otherwise.
void draw_cells(Image& img, const PlotContext& c, int k, int top) {
    const PlotLayout& L = c.L;
    std::uint8_t rgb[3];
    for (int col = 0; col < L.columns; ++col) {
        const std::size_t f0 = static_cast<std::size_t>(col) * c.frames / L.columns;
        const std::size_t f1 = std::max(f0 + 1, static_cast<std::size_t>(col + 1) * c.frames / L.columns);
        for (int b = 0; b < c.M; ++b) {
            double v = 0;
            for (std::size_t f = f0; f < f1; ++f) v += c.value(k, f, b);
            c.colour(k, v / double(f1 - f0), rgb);
            const int y0 = top + (c.M - 1 - b) * L.band_rows;  // low bands at the bottom
            for (int y = y0; y < y0 + L.band_rows; ++y) img.set(L.left + col, y, rgb[0], rgb[1], rgb[2]);
        }
    }
}

// Colour bar, top = maximum, with its end values.
void draw_colour_bar(Image& img, const PlotContext& c, int k, int top) {
    const PlotLayout& L = c.L;
    std::uint8_t rgb[3];
    for (int y = 0; y < L.panel_height; ++y) {
        const double t = 1.0 - (y + 0.5) / L.panel_height;
        if (k < 2)
            viridis(t, rgb);
        else
            diverging(t, rgb);
        for (int x = L.bar_x; x < L.bar_x + 10; ++x) img.set(x, top + y, rgb[0], rgb[1], rgb[2]);
    }
    const std::string bar_hi = k < 2 ? number(c.hi) : "+" + number(c.p.diff_range);
    const std::string bar_lo = k < 2 ? number(c.lo) : "-" + number(c.p.diff_range);
    text(img, L.bar_x + 14, top, bar_hi);
    text(img, L.bar_x + 14, top + L.panel_height - kTextHeight, bar_lo);
    if (k == 2) text(img, L.bar_x + 14, top + (L.panel_height - kTextHeight) / 2, "0");
}

// Time axis in seconds below the panel; frequency axis in Hz at the band whose centre it is.
void draw_axes(Image& img, const PlotContext& c, int top) {
    const PlotLayout& L = c.L;
    const int axis = top + L.panel_height;
    fill(img, L.left, axis, L.left + L.columns, axis + 1, 0);
    for (double t = 0; t <= c.seconds + 1e-9; t += c.step) {
        const int x = L.left + static_cast<int>(std::lround(t * c.fps / c.frames * L.columns));
        if (x >= L.left + L.columns) break;
        fill(img, x, axis, x + 1, axis + 4, 0);
        const std::string s = number(t);
        text(img, std::max(0, x - text_width(s) / 2), axis + 6, s);
    }
    fill(img, L.left - 1, top, L.left, axis, 0);
    for (double hz : {0.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 24000.0}) {
        if (hz < c.p.feature.fmin || hz > c.p.feature.fmax) continue;
        const double pos = std::clamp(mel_band_position(c.p.feature, hz), -0.5, c.M - 0.5);
        const int y = top + static_cast<int>(std::lround((c.M - 0.5 - pos) * L.band_rows));
        fill(img, L.left - 4, y, L.left - 1, y + 1, 0);
        const std::string s = hz_label(hz);
        text(img, L.left - 6 - text_width(s), std::clamp(y - 3, top, axis - kTextHeight), s);
    }
    text(img, 2, top - 10, "Hz");
}

}  // namespace

Image render_feature_plot(const FeaturePlot& p) {
    const std::size_t frames = std::min(p.input.rows, p.reconstructed.rows);
    const int M = p.feature.n_mels;
    if (frames == 0 || static_cast<int>(p.input.cols) != M || static_cast<int>(p.reconstructed.cols) != M)
        throw Error(ExitCode::internal, "plot: features of different widths or no frames");
    const PlotLayout L = plot_layout(frames, M);
    Image img;
    img.width = L.width;
    img.height = L.height;
    img.rgb.assign(static_cast<std::size_t>(L.width) * L.height * 3, 255);
    const PlotContext c(p, L, frames);
    const std::string titles[3] = {"input feature (ln mel)" + (p.title.empty() ? "" : "  " + p.title),
                                   p.reconstructed_label, "difference: reconstructed - input"};
    for (int k = 0; k < 3; ++k) {
        const int top = L.top + k * L.panel_stride;
        text(img, L.left, top - 10, titles[k]);
        draw_cells(img, c, k, top);
        draw_colour_bar(img, c, k, top);
        draw_axes(img, c, top);
    }
    text(img, L.left + L.columns + 2, L.top + 2 * L.panel_stride + L.panel_height + 6, "s");
    return img;
}

void write_png(const std::string& path, const Image& img) {
    png_image im;
    std::memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = static_cast<png_uint_32>(img.width);
    im.height = static_cast<png_uint_32>(img.height);
    im.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&im, nullptr, &size, 0, img.rgb.data(), 0, nullptr))
        throw OutputError(path + ": cannot encode the PNG (" + im.message + ")");
    std::string bytes(size, '\0');
    if (!png_image_write_to_memory(&im, bytes.data(), &size, 0, img.rgb.data(), 0, nullptr))
        throw OutputError(path + ": cannot encode the PNG (" + im.message + ")");
    bytes.resize(size);
    write_file_atomically(path, bytes);
}

}  // namespace ldmrecon
