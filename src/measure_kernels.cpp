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
    const std::size_t B = c.bands;
    double z0[4 * kMaxCascadeBands] = {}, z1[4 * kMaxCascadeBands] = {}, e[kMaxCascadeBands] = {};
    for (std::size_t k = 0; k < n; ++k) {
        const double in = x[k];
#pragma omp simd
        for (std::size_t b = 0; b < B; ++b) {
            double v = in;
            for (std::size_t s = 0; s < 4; ++s) {
                const std::size_t i = s * B + b;
                const double y = c.b0[i] * v + z0[i];
                z0[i] = c.b1[i] * v - c.a1[b] * y + z1[i];
                z1[i] = c.b2[i] * v - c.a2[b] * y;
                v = y;
            }
            e[b] += v * v;
        }
    }
    for (std::size_t b = 0; b < B; ++b) energy[b] = e[b];
}

LDMRECON_SIMD_CLONES
double dot(const float* a, const double* b, std::size_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
}

}  // namespace ldmrecon::kernels
