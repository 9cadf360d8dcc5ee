#include "measure_kernels.hpp"

#include <algorithm>
#include <cmath>

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
MagnitudeSums magnitude_sums(const double* pa, const double* pb, std::size_t n, double floor) {
    double diff_sq = 0, ref_sq = 0, abs_log = 0;
#pragma omp simd reduction(+ : diff_sq, ref_sq, abs_log)
    for (std::size_t k = 0; k < n; ++k) {
        const double p = std::max(pa[k], floor), q = std::max(pb[k], floor);
        const double d = std::sqrt(p) - std::sqrt(q);
        diff_sq += d * d;
        ref_sq += p;
        abs_log += std::abs(ln_ratio(p, q));  // ln a - ln b = (ln p - ln q) / 2, halved below
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
        const double db = kDbPerNeper * ln_ratio(std::max(a * a, floor), std::max(b * b, floor));
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
double dot(const float* a, const double* b, std::size_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
}

}  // namespace ldmrecon::kernels
