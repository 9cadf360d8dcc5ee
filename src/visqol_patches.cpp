// ViSQOL's patches: where the reference's are, NSIM between two of them, the dynamic programme that
// pairs each with a degraded patch, and the fine realignment of each pair.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ldmrecon/errors.hpp"
#include "measure_kernels.hpp"
#include "visqol_impl.hpp"

namespace ldmrecon::visqol_detail {

namespace {

// ref: neurogram_similiarity_index_measure.cc: a 3x3 Gaussian (not separable to the last digit, so all
// nine taps), intensity range 1, K1 0.01, K2 0.03.
constexpr double kGauss[3][3] = {{0.0113033910173052, 0.0838251475442633, 0.0113033910173052},
                                 {0.0838251475442633, 0.619485845753726, 0.0838251475442633},
                                 {0.0113033910173052, 0.0838251475442633, 0.0113033910173052}};
constexpr double kC1 = 0.01 * 0.01, kC3 = 0.03 * 0.03 / 2.0;

// A patch with its edge replicated one cell all round (Convolution2D::Valid2DConvWithBoundary).
struct Padded {
    std::size_t rows = 0, cols = 0;  // of the patch itself
    std::vector<double> v;           // (rows + 2) x (cols + 2)
    double at(std::size_t r, std::size_t c) const { return v[r * (cols + 2) + c]; }
};

// Columns [first, first + cols) of s (zeros past its end), padded.
void pad_columns(const Spectrogram& s, std::size_t first, std::size_t cols, Padded& p) {
    p.rows = s.bands;
    p.cols = cols;
    p.v.resize((p.rows + 2) * (cols + 2));
    for (std::size_t r = 0; r < p.rows + 2; ++r) {
        const std::size_t sr = r == 0 ? 0 : std::min(r - 1, p.rows - 1);
        for (std::size_t c = 0; c < cols + 2; ++c) {
            const std::size_t sc = first + (c == 0 ? 0 : std::min(c - 1, cols - 1));
            p.v[r * (cols + 2) + c] = sc < s.frames ? s.at(sr, sc) : 0.0;
        }
    }
}

// The reference's local means and variances, computed once per reference patch.
struct LocalStats {
    std::vector<double> mean, var;
};
LocalStats reference_stats(const Padded& ref) {
    LocalStats st;
    st.mean.resize(ref.rows * ref.cols);
    st.var.resize(ref.rows * ref.cols);
    for (std::size_t r = 0; r < ref.rows; ++r)
        for (std::size_t c = 0; c < ref.cols; ++c) {
            double m = 0, sq = 0;
            for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) {
                    const double v = ref.at(r + i, c + j);
                    m += kGauss[i][j] * v;
                    sq += kGauss[i][j] * (v * v);
                }
            st.mean[r * ref.cols + c] = m;
            st.var[r * ref.cols + c] = sq - m * m;
        }
    return st;
}

inline double cross_sum(const Padded& ref, const Padded& deg, std::size_t r, std::size_t c) {
    double cross = 0;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) cross += kGauss[i][j] * (ref.at(r + i, c + j) * deg.at(r + i, c + j));
    return cross;
}

inline double cell_nsim(const Padded& ref, const Padded& deg, const LocalStats& st, std::size_t r, std::size_t c) {
    double md = 0, sqd = 0;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            const double w = kGauss[i][j], b = deg.at(r + i, c + j);
            md += w * b;
            sqd += w * (b * b);
        }
    const std::size_t k = r * ref.cols + c;
    return kernels::nsim_cell(st.mean[k], st.var[k], md, sqd, cross_sum(ref, deg, r, c), kC1, kC3);
}

// The degraded spectrogram's local mean and mean square at every column, rows replicated at the edges and
// zeros past its end, in the cells' own order of additions: a patch's interior cells read them instead of
// summing nine taps twice per offset (its first and last columns replicate the patch's own edge, so they
// are summed in place).
struct DegradedSums {
    std::size_t width = 0;
    std::vector<double> mean, square;
};
DegradedSums degraded_sums(const Spectrogram& deg, std::size_t patch_size) {
    DegradedSums s;
    s.width = deg.frames + patch_size;
    s.mean.assign(deg.bands * s.width, 0.0);
    s.square.assign(deg.bands * s.width, 0.0);
    const auto value = [&deg](long r, long c) {
        r = std::clamp(r, 0L, static_cast<long>(deg.bands) - 1);
        return c >= 0 && c < static_cast<long>(deg.frames)
                   ? deg.at(static_cast<std::size_t>(r), static_cast<std::size_t>(c))
                   : 0.0;
    };
    for (std::size_t r = 0; r < deg.bands; ++r)
        for (std::size_t c = 1; c < s.width; ++c) {
            double md = 0, sqd = 0;
            for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) {
                    const double w = kGauss[i][j],
                                 b = value(static_cast<long>(r) + i - 1, static_cast<long>(c) + j - 1);
                    md += w * b;
                    sqd += w * (b * b);
                }
            s.mean[r * s.width + c] = md;
            s.square[r * s.width + c] = sqd;
        }
    return s;
}

// Mean NSIM only (band means averaged) of the degraded patch at `offset`, for the dynamic programme. The
// interior cells run in vector lanes (kernels::nsim_cells); the sums stay in the scalar code's order.
double mean_nsim(const Padded& ref, const Padded& deg, const LocalStats& st, const DegradedSums& sums,
                 std::size_t offset, std::vector<double>& cells) {
    double total = 0;
    const std::size_t cols = ref.cols, stride = cols + 2;
    cells.resize(cols);
    for (std::size_t r = 0; r < ref.rows; ++r) {
        const std::size_t k = r * cols;
        cells[0] = cell_nsim(ref, deg, st, r, 0);
        if (cols > 2) {
            const double* a = ref.v.data() + r * stride + 1;  // padded row r (the band above), column 1
            const double* b = deg.v.data() + r * stride + 1;
            const kernels::NsimRow row{{a, a + stride, a + 2 * stride},
                                       {b, b + stride, b + 2 * stride},
                                       st.mean.data() + k + 1,
                                       st.var.data() + k + 1,
                                       sums.mean.data() + r * sums.width + offset + 1,
                                       sums.square.data() + r * sums.width + offset + 1};
            kernels::nsim_cells(row, kGauss, kC1, kC3, cols - 2, cells.data() + 1);
        }
        if (cols > 1) cells[cols - 1] = cell_nsim(ref, deg, st, r, cols - 1);
        double band = 0;
        for (double v : cells) band += v;
        total += band / static_cast<double>(cols);
    }
    return total / static_cast<double>(ref.rows);
}

PatchSimilarity full_nsim(const Padded& ref, const Padded& deg) {
    const LocalStats st = reference_stats(ref);
    PatchSimilarity out;
    out.band_means.resize(ref.rows);
    out.band_stddevs.resize(ref.rows);
    out.band_deg_energy.resize(ref.rows);
    std::vector<double> row(ref.cols);
    const double cols = static_cast<double>(ref.cols);
    for (std::size_t r = 0; r < ref.rows; ++r) {
        double sum = 0, energy = 0;
        for (std::size_t c = 0; c < ref.cols; ++c) {
            row[c] = cell_nsim(ref, deg, st, r, c);
            sum += row[c];
            energy += deg.at(r + 1, c + 1);
        }
        const double mean = sum / cols;
        double ss = 0;
        for (double v : row) ss += (v - mean) * (v - mean);
        out.band_means[r] = mean;
        out.band_stddevs[r] = ref.cols > 1 ? std::sqrt(ss / (cols - 1)) : 0.0;  // Armadillo's stddev: N - 1
        out.band_deg_energy[r] = energy / cols;
    }
    double total = 0;
    for (double m : out.band_means) total += m;
    out.similarity = total / static_cast<double>(ref.rows);
    return out;
}

}  // namespace

PatchSimilarity patch_similarity(const Spectrogram& ref, const Spectrogram& deg) {
    Padded a, b;
    pad_columns(ref, 0, ref.frames, a);
    pad_columns(deg, 0, ref.frames, b);
    return full_nsim(a, b);
}

std::vector<std::size_t> image_patch_indices(std::size_t frames, std::size_t patch_size) {
    // ref: image_patch_creator.cc CreateRefPatchIndices: from patch_size / 2 - 1, every patch_size frames.
    const std::size_t init = patch_size / 2;
    if (frames < patch_size + init)
        throw InputError("ViSQOL's audio mode needs at least " + std::to_string(patch_size + init) +
                         " frames of 20 ms (about a second)");
    const std::size_t max_index = init < frames - patch_size ? frames - patch_size : init + 1;
    std::vector<std::size_t> out;
    for (std::size_t i = init; i < max_index; i += patch_size) out.push_back(i - 1);
    return out;
}

std::vector<std::size_t> vad_patch_indices(const Signal& ref, const Window& w, std::size_t frames,
                                           std::size_t patch_size) {
    // ref: vad_patch_creator.cc, rms_vad.cc: the reference divided by its maximum (not its peak magnitude),
    // as 16-bit integers in chunks of one hop; a chunk is silent under RMS 5000 and counts as silence only
    // after two silent ones. A patch with one chunk of speech is kept. As Google's code does, the samples
    // start at the first patch's frame index, not at its first sample.
    constexpr double kRmsThreshold = 5000.0;
    const double peak = ref.empty() ? 0.0 : *std::max_element(ref.begin(), ref.end());
    const std::size_t chunk = w.hop;
    const std::size_t first = patch_size / 2 - 1;
    const std::size_t count = frames > first ? (frames - first) / patch_size : 0;
    const std::size_t begin = std::min(first, ref.size());
    const std::size_t end = std::min(ref.size(), first + count * patch_size * chunk);
    std::vector<bool> speech;
    for (std::size_t at = begin; at + chunk <= end; at += chunk) {
        double sq = 0;
        for (std::size_t i = at; i < at + chunk; ++i) {
            const double v = peak == 0 ? 0.0 : ref[i] / peak;
            const double scaled = std::clamp(v * 32768.0, -32768.0, 32767.0);
            const double s = static_cast<double>(static_cast<std::int16_t>(scaled));
            sq += s * s;
        }
        speech.push_back(std::sqrt(sq / static_cast<double>(chunk)) >= kRmsThreshold);
    }
    std::vector<int> active = {1, 1};
    for (std::size_t i = 2; i < speech.size(); ++i) active.push_back(speech[i] || speech[i - 1] || speech[i - 2]);
    std::vector<std::size_t> out;
    for (std::size_t p = 0; p < count; ++p) {
        int voiced = 0;
        for (std::size_t i = p * patch_size; i < std::min(active.size(), (p + 1) * patch_size); ++i)
            voiced += active[i];
        if (voiced >= 1) out.push_back(first + p * patch_size);
    }
    return out;
}

std::vector<PatchSimilarity> match_patches(const Spectrogram& ref, const std::vector<std::size_t>& indices,
                                           std::size_t patch_size, const Spectrogram& deg, double frame_seconds,
                                           std::size_t search_radius) {
    // ref: comparison_patches_selector.cc FindMostOptimalDegPatches, patch_selector.py (its prefix-maximum
    // form: ties go to the latest offset, as Google's backwards scan with a strict comparison).
    const long F = static_cast<long>(deg.frames);
    const long W = static_cast<long>(search_radius * patch_size);
    std::size_t n = indices.size();  // CalcMaxNumPatches: drop patches that start past the degraded end
    while (n > 0 && static_cast<long>(indices[n - 1]) - static_cast<long>(patch_size / 2) > F) --n;
    if (n == 0 || F == 0)
        throw InputError("ViSQOL: the estimate is too short, different or misaligned to score any reference patch");
    const auto row = [F](std::size_t p) { return static_cast<std::size_t>(p) * static_cast<std::size_t>(F); };
    std::vector<double> cum(indices.size() * static_cast<std::size_t>(F), 0.0);
    std::vector<long> back(cum.size(), -1);
    std::vector<double> prefix_value(static_cast<std::size_t>(F));
    std::vector<long> prefix_index(static_cast<std::size_t>(F));
    const DegradedSums sums = degraded_sums(deg, patch_size);
    Padded rp, dp;
    std::vector<double> cells;
    for (std::size_t p = 0; p < n; ++p) {
        const long at = static_cast<long>(indices[p]);
        const long low = std::max(0L, at - W), high = std::min(F - 1, at + W);
        pad_columns(ref, indices[p], patch_size, rp);
        const LocalStats st = reference_stats(rp);
        if (p > 0) {
            double best = -INFINITY;
            long best_at = -1;
            for (long o = std::max(0L, static_cast<long>(indices[p - 1]) - W); o <= high; ++o) {
                prefix_value[o] = best;
                prefix_index[o] = best_at;
                if (cum[row(p - 1) + o] >= best) {
                    best = cum[row(p - 1) + o];
                    best_at = o;
                }
            }
        }
        for (long o = low; o <= high; ++o) {
            pad_columns(deg, static_cast<std::size_t>(o), patch_size, dp);
            double sim = mean_nsim(rp, dp, st, sums, static_cast<std::size_t>(o), cells);
            long past = -1;
            if (p > 0) {
                sim += prefix_value[o];
                past = prefix_index[o];
                if (cum[row(p - 1) + o] > sim) {  // the same offset as the previous patch: a lost packet
                    sim = cum[row(p - 1) + o];
                    past = o;
                }
            }
            cum[row(p) + o] = sim;
            back[row(p) + o] = past;
        }
    }
    // The best final offset, then back through the table (a negative index wraps, as numpy's).
    const std::size_t last = n - 1;
    long offset = std::max(0L, static_cast<long>(indices[last]) - W);
    double best = -INFINITY;
    for (long o = offset, hi = std::min(F - 1, static_cast<long>(indices[last]) + W); o <= hi; ++o)
        if (cum[row(last) + o] > best) {
            best = cum[row(last) + o];
            offset = o;
        }
    std::vector<PatchSimilarity> out(n);
    const double patch_seconds = frame_seconds * static_cast<double>(patch_size);
    for (std::size_t p = n; p-- > 0;) {
        if (offset < 0) offset += F;
        pad_columns(ref, indices[p], patch_size, rp);
        pad_columns(deg, static_cast<std::size_t>(offset), patch_size, dp);
        PatchSimilarity s = full_nsim(rp, dp);
        const long previous = back[row(p) + offset];
        if (offset == previous) {
            s.similarity = 0;
            std::fill(s.band_means.begin(), s.band_means.end(), 0.0);
        } else {
            s.deg_start = static_cast<double>(offset) * frame_seconds;
            s.deg_end = s.deg_start + patch_seconds;
        }
        s.ref_start = static_cast<double>(indices[p]) * frame_seconds;
        s.ref_end = s.ref_start + patch_seconds;
        out[p] = std::move(s);
        offset = previous;
    }
    return out;
}

void realign_patches(std::vector<PatchSimilarity>& patches, const Signal& ref, const Signal& deg, const Window& w,
                     std::size_t bands, bool speech_mode) {
    for (PatchSimilarity& old : patches) {
        if (old.deg_start == old.deg_end && old.deg_start == 0.0) continue;  // a lost packet stays lost
        Signal r = slice_signal(ref, w.rate, old.ref_start, old.ref_end);
        Signal d = slice_signal(deg, w.rate, old.deg_start, old.deg_end);
        double lag = 0;
        align_and_truncate(r, d, w.rate, &lag);
        if (r.size() <= w.size || d.size() <= w.size) continue;
        // Rebuilt even at lag 0: the filters start cold on the slice, so the patch differs from the one cut
        // from the whole signal's spectrogram, and Google keeps whichever scores higher.
        Spectrogram rs = gammatone_spectrogram(r, w, bands, speech_mode);
        Spectrogram ds = gammatone_spectrogram(d, w, bands, speech_mode);
        prepare_for_comparison(rs, ds);
        PatchSimilarity fresh = patch_similarity(rs, ds);
        if (fresh.similarity < old.similarity) continue;
        fresh.ref_start = lag > 0 ? old.ref_start + lag : old.ref_start;
        fresh.deg_start = lag > 0 ? old.deg_start : old.deg_start - lag;
        fresh.ref_end = fresh.ref_start + static_cast<double>(r.size()) / w.rate;
        fresh.deg_end = fresh.deg_start + static_cast<double>(d.size()) / w.rate;
        old = std::move(fresh);
    }
}

}  // namespace ldmrecon::visqol_detail
