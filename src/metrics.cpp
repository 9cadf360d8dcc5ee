#include "ldmrecon/metrics.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ldmrecon/errors.hpp"

namespace ldmrecon {

namespace {

double ratio_db(double num, double den) {
    if (den <= 0.0) return num > 0.0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
    if (num <= 0.0) return -std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(num / den);
}

std::pair<double, double> means(const float* x, const float* y, std::size_t n) {
    double mx = 0, my = 0;
    for (std::size_t i = 0; i < n; ++i) {
        mx += x[i];
        my += y[i];
    }
    return {mx / static_cast<double>(n), my / static_cast<double>(n)};
}

std::size_t next_fast_size(std::size_t n) {
    std::size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

}  // namespace

double snr_db(const float* x, const float* y, std::size_t n) {
    double s = 0, e = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - y[i];
        s += static_cast<double>(x[i]) * x[i];
        e += d * d;
    }
    return ratio_db(s, e);
}

double mse(const float* x, const float* y, std::size_t n) {
    if (n == 0) return std::numeric_limits<double>::quiet_NaN();
    double e = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - y[i];
        e += d * d;
    }
    return e / static_cast<double>(n);
}

double pearson(const float* x, const float* y, std::size_t n) {
    if (n == 0) return std::numeric_limits<double>::quiet_NaN();
    const auto [mx, my] = means(x, y, n);
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double a = x[i] - mx, b = y[i] - my;
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    if (sxx <= 0 || syy <= 0) return std::numeric_limits<double>::quiet_NaN();
    return sxy / std::sqrt(sxx * syy);
}

double si_sdr_db(const float* x, const float* y, std::size_t n) {
    if (n == 0) return std::numeric_limits<double>::quiet_NaN();
    const auto [mx, my] = means(x, y, n);
    double xy = 0, xx = 0;
    for (std::size_t i = 0; i < n; ++i) {
        xy += (y[i] - my) * (x[i] - mx);
        xx += (x[i] - mx) * (x[i] - mx);
    }
    if (xx <= 0) return std::numeric_limits<double>::quiet_NaN();
    const double alpha = xy / xx;
    double s = 0, e = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double t = alpha * (x[i] - mx);
        const double d = t - (y[i] - my);
        s += t * t;
        e += d * d;
    }
    return ratio_db(s, e);
}

long best_lag(const std::vector<float>& x, const std::vector<float>& y, long max_lag) {
    const std::size_t n = std::min(x.size(), y.size());
    if (n == 0 || max_lag <= 0) return 0;
    max_lag = std::min<long>(max_lag, static_cast<long>(n) - 1);
    // Zero padding to n + max_lag keeps lags up to max_lag free of circular wrap-around.
    const std::size_t L = next_fast_size(n + static_cast<std::size_t>(max_lag) + 1);
    const std::size_t nb = L / 2 + 1;
    double* a = fftw_alloc_real(L);
    double* b = fftw_alloc_real(L);
    fftw_complex* A = fftw_alloc_complex(nb);
    fftw_complex* B = fftw_alloc_complex(nb);
    std::fill(a, a + L, 0.0);
    std::fill(b, b + L, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        a[i] = x[i];
        b[i] = y[i];
    }
    fftw_plan pa = fftw_plan_dft_r2c_1d(static_cast<int>(L), a, A, FFTW_ESTIMATE);
    fftw_plan pb = fftw_plan_dft_r2c_1d(static_cast<int>(L), b, B, FFTW_ESTIMATE);
    fftw_execute(pa);
    fftw_execute(pb);
    // c[l] = sum_m x[m] y[m + l]  <=>  C = conj(X) * Y
    for (std::size_t k = 0; k < nb; ++k) {
        const double re = A[k][0] * B[k][0] + A[k][1] * B[k][1];
        const double im = A[k][0] * B[k][1] - A[k][1] * B[k][0];
        A[k][0] = re;
        A[k][1] = im;
    }
    fftw_plan pc = fftw_plan_dft_c2r_1d(static_cast<int>(L), A, a, FFTW_ESTIMATE);
    fftw_execute(pc);
    long best = 0;
    double best_v = a[0];
    for (long l = 1; l <= max_lag; ++l) {
        const double pos = a[l], neg = a[L - static_cast<std::size_t>(l)];
        if (pos > best_v) best_v = pos, best = l;
        if (neg > best_v) best_v = neg, best = -l;
    }
    fftw_destroy_plan(pa);
    fftw_destroy_plan(pb);
    fftw_destroy_plan(pc);
    fftw_free(a);
    fftw_free(b);
    fftw_free(A);
    fftw_free(B);
    return best;
}

double log_spectral_distance_db(const Matrix& X, const Matrix& Y) {
    const std::size_t frames = std::min(X.rows, Y.rows), bins = std::min(X.cols, Y.cols);
    if (frames == 0 || bins == 0) return std::numeric_limits<double>::quiet_NaN();
    double total = 0;
    for (std::size_t t = 0; t < frames; ++t) {
        double acc = 0;
        for (std::size_t k = 0; k < bins; ++k) {
            const double px = std::max(static_cast<double>(X.at(t, k)) * X.at(t, k), kLsdPowerFloor);
            const double py = std::max(static_cast<double>(Y.at(t, k)) * Y.at(t, k), kLsdPowerFloor);
            const double d = 10.0 * std::log10(px) - 10.0 * std::log10(py);
            acc += d * d;
        }
        total += std::sqrt(acc / static_cast<double>(bins));
    }
    return total / static_cast<double>(frames);
}

double spectral_convergence(const Matrix& X, const Matrix& Y) {
    const std::size_t frames = std::min(X.rows, Y.rows), bins = std::min(X.cols, Y.cols);
    double num = 0, den = 0;
    for (std::size_t t = 0; t < frames; ++t)
        for (std::size_t k = 0; k < bins; ++k) {
            const double d = static_cast<double>(X.at(t, k)) - Y.at(t, k);
            num += d * d;
            den += static_cast<double>(X.at(t, k)) * X.at(t, k);
        }
    if (den <= 0) return std::numeric_limits<double>::quiet_NaN();
    return std::sqrt(num / den);
}

MelDistance mel_distance(const Matrix& a, const Matrix& b, std::size_t max_frames) {
    MelDistance d;
    d.frames = std::min({a.rows, b.rows, max_frames});
    const std::size_t bins = std::min(a.cols, b.cols);
    double l1 = 0, s = 0, e = 0;
    for (std::size_t t = 0; t < d.frames; ++t)
        for (std::size_t k = 0; k < bins; ++k) {
            const double x = a.at(t, k), diff = x - b.at(t, k);
            l1 += std::abs(diff);
            s += x * x;
            e += diff * diff;
        }
    const double count = static_cast<double>(d.frames * bins);
    d.l1 = count > 0 ? l1 / count : std::numeric_limits<double>::quiet_NaN();
    d.snr_db = ratio_db(s, e);
    return d;
}

Metrics compare_signals(const std::vector<float>& ref, const std::vector<float>& est, const LogMel& feature,
                        const MetricsOptions& opts) {
    const std::size_t n = std::min(ref.size(), est.size());
    if (n == 0) throw InputError("cannot compare empty signals");
    Metrics m;
    m.samples = n;
    m.sample_rate = feature.config().sample_rate;
    const float* x = ref.data();
    const float* y = est.data();
    m.snr_db = snr_db(x, y, n);
    m.mse = mse(x, y, n);
    m.pearson = pearson(x, y, n);
    m.si_sdr_db = si_sdr_db(x, y, n);

    m.max_lag_samples = std::lround(opts.max_lag_ms * 1e-3 * m.sample_rate);
    const std::vector<float> xr(ref.begin(), ref.begin() + static_cast<long>(n));
    const std::vector<float> yr(est.begin(), est.begin() + static_cast<long>(n));
    m.lag_samples = best_lag(xr, yr, m.max_lag_samples);
    // Overlap of x[i] and y[i + lag].
    const long lag = m.lag_samples;
    const std::size_t x0 = lag < 0 ? static_cast<std::size_t>(-lag) : 0;
    const std::size_t y0 = lag > 0 ? static_cast<std::size_t>(lag) : 0;
    const std::size_t len = n - static_cast<std::size_t>(std::labs(lag));
    m.aligned_snr_db = snr_db(x + x0, y + y0, len);
    m.aligned_mse = mse(x + x0, y + y0, len);
    m.aligned_pearson = pearson(x + x0, y + y0, len);

    const Matrix mx = feature.stft().magnitude(x, n);
    const Matrix my = feature.stft().magnitude(y, n);
    m.lsd_db = log_spectral_distance_db(mx, my);
    m.spectral_convergence = spectral_convergence(mx, my);
    // The model's own feature of both signals (un-normalised, as they are).
    m.mel = mel_distance(feature.from_magnitude(mx), feature.from_magnitude(my));
    return m;
}

}  // namespace ldmrecon
