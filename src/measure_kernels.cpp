#include "measure_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "fast_log.hpp"

// Function multi-versioning needs ifunc support: GCC or clang on x86-64 Linux. Elsewhere one version.
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(LDMRECON_NO_SIMD_CLONES)
#define LDMRECON_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LDMRECON_SIMD_CLONES
#endif

namespace ldmrecon::kernels {

LDMRECON_SIMD_CLONES
MagnitudeSums magnitude_sums(const float* pa, const float* pb, std::size_t n, float floor) {
    // From r = p / q alone: (a - b)^2 = q (sqrt(r) - 1)^2 and ln a - ln b = ln(r) / 2, so a bin costs one
    // division, one square root and one logarithm (against two roots and two logarithms written out), in
    // float lanes (the powers come from a float transform); the sums in double.
    double diff_sq = 0, ref_sq = 0, abs_log = 0;
#pragma omp simd reduction(+ : diff_sq, ref_sq, abs_log)
    for (std::size_t k = 0; k < n; ++k) {
        const float p = std::max(pa[k], floor), q = std::max(pb[k], floor);
        const float r = p / q, s = std::sqrt(r) - 1.0f;
        diff_sq += static_cast<double>(q * (s * s));
        ref_sq += static_cast<double>(p);
        abs_log += static_cast<double>(std::abs(ln_positive(r)));
    }
    return {diff_sq, ref_sq, 0.5 * abs_log};
}

LDMRECON_SIMD_CLONES
LogSpectralSums log_spectral_sums(const float* x, const float* y, std::size_t n, double floor) {
    constexpr double kDbPerNeper = 4.3429448190325182765;  // 10 / ln 10
    double db_sq = 0, diff_sq = 0, ref_sq = 0;
#pragma omp simd reduction(+ : db_sq, diff_sq, ref_sq)
    for (std::size_t k = 0; k < n; ++k) {
        const double a = x[k], b = y[k];
        const double db = kDbPerNeper * ln_positive(std::max(a * a, floor) / std::max(b * b, floor));  // one log
        db_sq += db * db;
        diff_sq += (a - b) * (a - b);
        ref_sq += a * a;
    }
    return {db_sq, diff_sq, ref_sq};
}

LDMRECON_SIMD_CLONES
void power_spectrum(const double* c, double* power, std::size_t bins) {
#pragma omp simd
    for (std::size_t k = 0; k < bins; ++k) power[k] = c[2 * k] * c[2 * k] + c[2 * k + 1] * c[2 * k + 1];
}

LDMRECON_SIMD_CLONES
void windowed(const float* x, const double* window, double* out, std::size_t n) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<double>(x[i]) * window[i];
}

LDMRECON_SIMD_CLONES
void cascade_energy(const double* x, std::size_t n, const BiquadCascades& c, double* energy) {
    // Eight bands at a time, their states and coefficients in local arrays of fixed size that the compiler
    // keeps in registers across the samples (a zmm each; two ymm); past the last band the lanes run on
    // zeros and are dropped.
    constexpr std::size_t W = 8;
    const std::size_t B = c.bands;
    for (std::size_t first = 0; first < B; first += W) {
        double b0[4][W] = {}, b1[4][W] = {}, b2[4][W] = {}, a1[W] = {}, a2[W] = {};
        double z0[4][W] = {}, z1[4][W] = {}, e[W] = {};
        const std::size_t width = std::min(W, B - first);
        for (std::size_t b = 0; b < width; ++b) {
            for (std::size_t s = 0; s < 4; ++s) {
                b0[s][b] = c.b0[s * B + first + b];
                b1[s][b] = c.b1[s * B + first + b];
                b2[s][b] = c.b2[s * B + first + b];
            }
            a1[b] = c.a1[first + b];
            a2[b] = c.a2[first + b];
        }
        for (std::size_t k = 0; k < n; ++k) {
            const double in = x[k];
#pragma omp simd
            for (std::size_t b = 0; b < W; ++b) {
                double v = in;
                for (std::size_t s = 0; s < 4; ++s) {
                    const double y = b0[s][b] * v + z0[s][b];
                    z0[s][b] = b1[s][b] * v - a1[b] * y + z1[s][b];
                    z1[s][b] = b2[s][b] * v - a2[b] * y;
                    v = y;
                }
                e[b] += v * v;
            }
        }
        for (std::size_t b = 0; b < width; ++b) energy[first + b] = e[b];
    }
}

LDMRECON_SIMD_CLONES
void nsim_cells(const NsimRow& row, const double (&gauss)[3][3], double c1, double c3, std::size_t n, double* out) {
    // The nine taps written out (the compiler vectorises no nested loop), in the scalar code's order.
    const double *a0 = row.ref[0], *a1 = row.ref[1], *a2 = row.ref[2];
    const double *b0 = row.deg[0], *b1 = row.deg[1], *b2 = row.deg[2];
    const double w00 = gauss[0][0], w01 = gauss[0][1], w02 = gauss[0][2], w10 = gauss[1][0], w11 = gauss[1][1],
                 w12 = gauss[1][2], w20 = gauss[2][0], w21 = gauss[2][1], w22 = gauss[2][2];
#pragma omp simd
    for (std::size_t c = 0; c < n; ++c) {
        double cross = 0;
        cross += w00 * (a0[c] * b0[c]);
        cross += w01 * (a0[c + 1] * b0[c + 1]);
        cross += w02 * (a0[c + 2] * b0[c + 2]);
        cross += w10 * (a1[c] * b1[c]);
        cross += w11 * (a1[c + 1] * b1[c + 1]);
        cross += w12 * (a1[c + 2] * b1[c + 2]);
        cross += w20 * (a2[c] * b2[c]);
        cross += w21 * (a2[c + 1] * b2[c + 1]);
        cross += w22 * (a2[c + 2] * b2[c + 2]);
        out[c] = nsim_cell(row.mr[c], row.vr[c], row.md[c], row.sqd[c], cross, c1, c3);
    }
}

LDMRECON_SIMD_CLONES
void windowed_pair(const float* x, const float* y, const float* window, float* re, float* im, std::size_t n) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) {
        re[i] = x[i] * window[i];
        im[i] = y[i] * window[i];
    }
}

LDMRECON_SIMD_CLONES
void pair_power_spectra(const float* re, const float* im, std::size_t n, float* power_x, float* power_y) {
    // |X|^2 = ((Zr[k] + Zr[m])^2 + (Zi[k] - Zi[m])^2) / 4 and |Y|^2 = ((Zi[k] + Zi[m])^2 + (Zr[k] - Zr[m])^2) / 4,
    // m = (n - k) mod n. Bin 0 pairs with itself, so the loop starts at 1, where m runs down from n - 1: a
    // reversed stream of each array (m = 0 for k = 0 inside the loop would make every load a gather).
    power_x[0] = re[0] * re[0];
    power_y[0] = im[0] * im[0];
#pragma omp simd
    for (std::size_t k = 1; k <= n / 2; ++k) {
        const float zr = re[k], zi = im[k], mr = re[n - k], mi = im[n - k];
        const float a = zr + mr, b = zi - mi, c = zi + mi, d = zr - mr;
        power_x[k] = 0.25f * (a * a + b * b);
        power_y[k] = 0.25f * (c * c + d * d);
    }
}

LDMRECON_SIMD_CLONES
void widen(const float* x, double* out, std::size_t n) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<double>(x[i]);
}

LDMRECON_SIMD_CLONES
void magnitudes(const double* power, float* out, std::size_t n) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(std::sqrt(power[i]));
}

LDMRECON_SIMD_CLONES
void autocorrelation_spectrum(double* c, std::size_t bins, double scale) {
#pragma omp simd
    for (std::size_t k = 0; k < bins; ++k) {
        c[2 * k] = (c[2 * k] * c[2 * k] + c[2 * k + 1] * c[2 * k + 1]) * scale;
        c[2 * k + 1] = 0.0;
    }
}

LDMRECON_SIMD_CLONES
void cumulative_mean_normalised(const double* d, const double* sum, int first, int n, double* out) {
    constexpr double kTiny = std::numeric_limits<double>::min();
#pragma omp simd
    for (int i = 0; i < n; ++i) out[i] = d[i] / (sum[i] / (first + i) + kTiny);
}

LDMRECON_SIMD_CLONES
double dot(const float* a, const double* b, std::size_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
}

LDMRECON_SIMD_CLONES
double stoi_band_correlation(const double* x, const double* y, std::size_t n, double clip_gain, double eps) {
    // ref: pystoi stoi.py: alpha, clipped y', then the correlation of (y' - mean) and (x - mean), each over
    // its norm plus eps. n is a segment (30 frames): the scratch lives on the stack.
    constexpr std::size_t kMax = kMaxStoiSegment;
    double ex = 0, ey = 0;
#pragma omp simd reduction(+ : ex, ey)
    for (std::size_t t = 0; t < n; ++t) ex += x[t] * x[t], ey += y[t] * y[t];
    const double alpha = std::sqrt(ex) / (std::sqrt(ey) + eps);
    double yp[kMax];
    double sy = 0, sx = 0;
#pragma omp simd reduction(+ : sy, sx)
    for (std::size_t t = 0; t < n; ++t) {
        yp[t] = std::min(y[t] * alpha, x[t] * clip_gain);
        sy += yp[t];
        sx += x[t];
    }
    const double my = sy / static_cast<double>(n), mx = sx / static_cast<double>(n);
    double yy = 0, xx = 0, xy = 0;
#pragma omp simd reduction(+ : yy, xx, xy)
    for (std::size_t t = 0; t < n; ++t) {
        const double a = yp[t] - my, b = x[t] - mx;
        yy += a * a;
        xx += b * b;
        xy += a * b;
    }
    return xy / ((std::sqrt(yy) + eps) * (std::sqrt(xx) + eps));
}

LDMRECON_SIMD_CLONES
void estoi_normalise(double* m, std::size_t bands, std::size_t n) {
    for (std::size_t b = 0; b < bands; ++b) {
        double* row = m + b * n;
        double sum = 0;
#pragma omp simd reduction(+ : sum)
        for (std::size_t t = 0; t < n; ++t) sum += row[t];
        const double mean = sum / static_cast<double>(n);
        double ss = 0;
#pragma omp simd reduction(+ : ss)
        for (std::size_t t = 0; t < n; ++t) {
            row[t] -= mean;
            ss += row[t] * row[t];
        }
        const double inv = ss > 0 ? 1 / std::sqrt(ss) : 0;
#pragma omp simd
        for (std::size_t t = 0; t < n; ++t) row[t] *= inv;
    }
    // The columns, all frames at once in lanes: sums over the bands run down the rows.
    constexpr std::size_t kMax = kMaxStoiSegment;
    double mean[kMax] = {}, ss[kMax] = {};
    for (std::size_t b = 0; b < bands; ++b) {
#pragma omp simd
        for (std::size_t t = 0; t < n; ++t) mean[t] += m[b * n + t];
    }
#pragma omp simd
    for (std::size_t t = 0; t < n; ++t) mean[t] /= static_cast<double>(bands);
    for (std::size_t b = 0; b < bands; ++b) {
#pragma omp simd
        for (std::size_t t = 0; t < n; ++t) {
            const double v = m[b * n + t] - mean[t];
            m[b * n + t] = v;
            ss[t] += v * v;
        }
    }
#pragma omp simd
    for (std::size_t t = 0; t < n; ++t) ss[t] = ss[t] > 0 ? 1 / std::sqrt(ss[t]) : 0;
    for (std::size_t b = 0; b < bands; ++b) {
#pragma omp simd
        for (std::size_t t = 0; t < n; ++t) m[b * n + t] *= ss[t];
    }
}

}  // namespace ldmrecon::kernels
