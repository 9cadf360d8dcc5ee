#include "ldmrecon/metrics.hpp"

#include <fftw3.h>

#include "ldmrecon/feature.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ldmrecon/audio.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/stoi.hpp"
#include "ldmrecon/visqol.hpp"
#include "fft_plans.hpp"
#include "measure_kernels.hpp"

namespace ldmrecon {

namespace {

double ratio_db(double num, double den) {
    if (den <= 0.0) return num > 0.0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
    if (num <= 0.0) return -std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(num / den);
}

std::pair<double, double> means(const float* x, const float* y, std::size_t n) {
    double mx = 0, my = 0;
#pragma omp simd reduction(+ : mx, my)
    for (std::size_t i = 0; i < n; ++i) {
        mx += x[i];
        my += y[i];
    }
    return {mx / static_cast<double>(n), my / static_cast<double>(n)};
}

// The smallest 2^a 3^b 5^c at least n: sizes FFTW transforms about as fast per point as powers of two,
// and much closer to n (a 1 s pair's delay search: 19 200 points, not 32 768, half the time).
std::size_t next_fast_size(std::size_t n) {
    std::size_t best = 1;
    while (best < n) best <<= 1;
    for (std::size_t p5 = 1; p5 < best; p5 *= 5)
        for (std::size_t p35 = p5; p35 < best; p35 *= 3) {
            std::size_t m = p35;
            while (m < n) m <<= 1;
            best = std::min(best, m);
        }
    return best;
}

}  // namespace

double snr_db(const float* x, const float* y, std::size_t n) {
    double s = 0, e = 0;
#pragma omp simd reduction(+ : s, e)
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
#pragma omp simd reduction(+ : e)
    for (std::size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - y[i];
        e += d * d;
    }
    return e / static_cast<double>(n);
}

double pearson(const float* x, const float* y, std::size_t n) {
    if (n == 0) return std::numeric_limits<double>::quiet_NaN();
    const std::pair<double, double> mean_xy = means(x, y, n);
    const double mx = mean_xy.first, my = mean_xy.second;  // not a structured binding: omp simd below uses them
    double sxy = 0, sxx = 0, syy = 0;
#pragma omp simd reduction(+ : sxy, sxx, syy)
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
    const std::pair<double, double> mean_xy = means(x, y, n);
    const double mx = mean_xy.first, my = mean_xy.second;  // not a structured binding: omp simd below uses them
    double xy = 0, xx = 0;
#pragma omp simd reduction(+ : xy, xx)
    for (std::size_t i = 0; i < n; ++i) {
        xy += (y[i] - my) * (x[i] - mx);
        xx += (x[i] - mx) * (x[i] - mx);
    }
    if (xx <= 0) return std::numeric_limits<double>::quiet_NaN();
    const double alpha = xy / xx;
    double s = 0, e = 0;
#pragma omp simd reduction(+ : s, e)
    for (std::size_t i = 0; i < n; ++i) {
        const double t = alpha * (x[i] - mx);
        const double d = t - (y[i] - my);
        s += t * t;
        e += d * d;
    }
    return ratio_db(s, e);
}

long best_lag(const float* x, const float* y, std::size_t n, long max_lag) {
    if (n == 0 || max_lag <= 0) return 0;
    max_lag = std::min<long>(max_lag, static_cast<long>(n) - 1);
    const std::size_t L = static_cast<std::size_t>(max_lag);
    // c[l] = sum_m x[m] y[m + l] for |l| <= L, accumulated block by block: each block of x is
    // correlated with the stretch of y it can reach (block + 2L), so memory stays O(block) however long
    // the signals are. ref: overlap-save correlation.
    // Blocks of about 64k samples (at least 6L), one block for a shorter signal; each uses its whole
    // transform.
    const std::size_t target = std::max<std::size_t>(6 * L, (std::size_t{1} << 16) - 2 * L);
    const std::size_t N = next_fast_size(std::min(n, target) + 2 * L);
    const std::size_t B = N - 2 * L;
    const std::size_t nb = N / 2 + 1;
    double* a = fftw_alloc_real(N);
    double* b = fftw_alloc_real(N);
    fftw_complex* A = fftw_alloc_complex(nb);
    fftw_complex* Bf = fftw_alloc_complex(nb);
    const fftw_plan forward = fft::r2c(static_cast<int>(N)), inverse = fft::c2r(static_cast<int>(N));
    std::vector<double> c(2 * L + 1, 0.0);
    for (std::size_t s = 0; s < n; s += B) {
        const std::size_t len = std::min(B, n - s);
        std::fill(a, a + N, 0.0);
        std::fill(b, b + N, 0.0);
        for (std::size_t i = 0; i < len; ++i) a[i] = x[s + i];
        // b[j] = y[s - L + j] for j in [0, len + 2L), zero outside y
        for (std::size_t j = 0; j < len + 2 * L; ++j) {
            const long long yi = static_cast<long long>(s + j) - static_cast<long long>(L);
            if (yi >= 0 && yi < static_cast<long long>(n)) b[j] = y[static_cast<std::size_t>(yi)];
        }
        fftw_execute_dft_r2c(forward, a, A);
        fftw_execute_dft_r2c(forward, b, Bf);
        for (std::size_t k = 0; k < nb; ++k) {  // conj(A) * B
            const double re = A[k][0] * Bf[k][0] + A[k][1] * Bf[k][1];
            const double im = A[k][0] * Bf[k][1] - A[k][1] * Bf[k][0];
            A[k][0] = re;
            A[k][1] = im;
        }
        fftw_execute_dft_c2r(inverse, A, a);  // a[j] = N * sum_m x[s + m] y[s + m + j - L]
        for (std::size_t j = 0; j <= 2 * L; ++j) c[j] += a[j] / static_cast<double>(N);
    }
    fftw_free(a);
    fftw_free(b);
    fftw_free(A);
    fftw_free(Bf);
    long best = 0;
    double best_v = c[L];
    for (long l = 1; l <= max_lag; ++l) {  // ties go to the smallest |l|, positive first
        const double pos = c[L + static_cast<std::size_t>(l)], neg = c[L - static_cast<std::size_t>(l)];
        if (pos > best_v) best_v = pos, best = l;
        if (neg > best_v) best_v = neg, best = -l;
    }
    return best;
}

void SpectralAccumulator::add(const Matrix& X, const Matrix& Y) {
    const std::size_t rows = std::min(X.rows, Y.rows), bins = std::min(X.cols, Y.cols);
    if (bins == 0) return;
    for (std::size_t t = 0; t < rows; ++t) {
        const kernels::LogSpectralSums sums = kernels::log_spectral_sums(X.row(t), Y.row(t), bins, kLsdPowerFloor);
        lsd_sum += std::sqrt(sums.db_diff_sq / static_cast<double>(bins));
        sc_num += sums.diff_sq;
        sc_den += sums.ref_sq;
    }
    frames += rows;
}

double SpectralAccumulator::lsd_db() const {
    return frames ? lsd_sum / static_cast<double>(frames) : std::numeric_limits<double>::quiet_NaN();
}

double SpectralAccumulator::convergence() const {
    return sc_den > 0 ? std::sqrt(sc_num / sc_den) : std::numeric_limits<double>::quiet_NaN();
}

void MelAccumulator::add(const Matrix& a, const Matrix& b, std::size_t max_rows) {
    const std::size_t rows = std::min({a.rows, b.rows, max_rows}), bins = std::min(a.cols, b.cols);
    for (std::size_t t = 0; t < rows; ++t)
        for (std::size_t k = 0; k < bins; ++k) {
            const double x = a.at(t, k), diff = x - b.at(t, k);
            l1 += std::abs(diff);
            s += x * x;
            e += diff * diff;
        }
    frames += rows;
    values += rows * bins;
}

MelDistance MelAccumulator::result() const {
    MelDistance d;
    d.frames = frames;
    d.l1 = values ? l1 / static_cast<double>(values) : std::numeric_limits<double>::quiet_NaN();
    d.snr_db = ratio_db(s, e);
    return d;
}

double log_spectral_distance_db(const Matrix& X, const Matrix& Y) {
    SpectralAccumulator acc;
    acc.add(X, Y);
    return acc.lsd_db();
}

double spectral_convergence(const Matrix& X, const Matrix& Y) {
    SpectralAccumulator acc;
    acc.add(X, Y);
    return acc.convergence();
}

MelDistance mel_distance(const Matrix& a, const Matrix& b, std::size_t max_frames) {
    MelAccumulator acc;
    acc.add(a, b, max_frames);
    return acc.result();
}

MultiResolutionStft multi_resolution_stft(const float* x, const float* y, std::size_t n) {
    // ref: ParallelWaveGAN losses/stft_loss.py MultiResolutionSTFTLoss defaults
    const int res[3][3] = {{1024, 120, 600}, {2048, 240, 1200}, {512, 50, 240}};
    MultiResolutionStft r;
    // One complex transform gives both signals' spectra, equal to two real ones only up to rounding: a
    // signal against itself would score 1e-15, not the 0 that it is.
    if (std::equal(x, x + n, y)) return r;
    static const Stft stfts[3] = {{res[0][0], res[0][1], res[0][2]}, {res[1][0], res[1][1], res[1][2]},
                                  {res[2][0], res[2][1], res[2][2]}};  // made once: windows and plans
    for (const Stft& stft : stfts) {
        // Frame by frame in float from the single-precision transform (its rounding moves the value by
        // about 1e-8 relative); the sums in double.
        Stft::PairScratch scratch(stft);
        const std::size_t bins = static_cast<std::size_t>(stft.n_bins()), frames = stft.frames(n);
        std::vector<float> px(bins), py(bins);
        double num = 0, den = 0, logsum = 0;
        for (std::size_t t = 0; t < frames; ++t) {
            stft.frame_power_pair(x, y, n, t, scratch, px.data(), py.data());
            const kernels::MagnitudeSums sums =
                kernels::magnitude_sums(px.data(), py.data(), bins, static_cast<float>(kMrstftPowerFloor));
            num += sums.diff_sq;
            den += sums.ref_sq;
            logsum += sums.abs_log_ratio;
        }
        r.convergence += std::sqrt(num / den) / 3;
        r.log_magnitude += logsum / static_cast<double>(frames * bins) / 3;
    }
    r.value = r.convergence + r.log_magnitude;
    return r;
}

namespace {

// Frames in blocks, so an hour of audio never holds two whole spectrograms: LSD and convergence on the
// feature's STFT, and the model's own feature of both signals (un-normalised, as they are).
void spectral_measures(const float* x, const float* y, std::size_t n, const LogMel& feature, Metrics& m) {
    constexpr std::size_t kBlock = 512;
    SpectralAccumulator spec;
    MelAccumulator mel;
    const bool want_spec = m.measures.computes(measure_group::spectral), want_mel = m.measures.computes(measure_group::mel);
    const std::size_t frames = feature.config().frames(n);
    for (std::size_t f = 0; f < frames; f += kBlock) {
        const Matrix mx = feature.stft().magnitude(x, n, f, kBlock);
        const Matrix my = feature.stft().magnitude(y, n, f, kBlock);
        if (want_spec) spec.add(mx, my);
        if (want_mel) mel.add(feature.from_magnitude(mx), feature.from_magnitude(my));
    }
    if (want_spec) {
        m.lsd_db = spec.lsd_db();
        m.spectral_convergence = spec.convergence();
    }
    if (want_mel) m.mel = mel.result();
}

// A learned measure's network, which must be given and runs at 16 kHz (CREPE's and DistillMOS's rate).
const MeasureNetwork& required_network(const std::shared_ptr<const MeasureNetwork>& net, const char* group,
                                       const char* option, int sample_rate) {
    if (!net) throw UsageError(std::string("the ") + group + " measures need their network (" + option + " FILE)");
    if (sample_rate != 16000)
        throw UsageError(std::string("the ") + group + " measures run at 16 kHz, their network's rate; this comparison is at " +
                         std::to_string(sample_rate) + " Hz");
    return *net;
}

// ViSQOL of the two whole signals (it aligns them itself, as on two files), at its mode's rate; NaN where
// it is undefined.
void visqol_measure(const std::vector<float>& x, const std::vector<float>& y, int rate, VisqolMode mode, double& mos,
                    double& nsim) {
    const int to = visqol_rate(mode);
    std::vector<float> a = x, b = y;
    if (rate != to) {
        a = resample(a, rate, to);
        b = resample(b, rate, to);
    }
    try {
        const VisqolResult r = visqol(a.data(), a.size(), b.data(), b.size(), to, mode);
        mos = r.mos;
        nsim = r.nsim;
    } catch (const InputError&) {
        mos = nsim = std::numeric_limits<double>::quiet_NaN();
    }
}

}  // namespace

Metrics compare_signals(const std::vector<float>& ref, const std::vector<float>& est, const LogMel& feature,
                        const MetricsOptions& opts) {
    const std::size_t n = std::min(ref.size(), est.size());
    if (n == 0) throw InputError("cannot compare empty signals");
    const double nan = std::numeric_limits<double>::quiet_NaN();
    namespace g = measure_group;
    Metrics m;
    m.measures = opts.measures;
    m.samples = n;
    m.sample_rate = feature.config().sample_rate;
    m.snr_db = m.mse = m.pearson = m.si_sdr_db = m.aligned_snr_db = m.aligned_mse = m.aligned_pearson = nan;
    m.lsd_db = m.spectral_convergence = m.mel.l1 = m.mel.snr_db = m.stoi = m.estoi = nan;
    m.mrstft.value = m.mrstft.convergence = m.mrstft.log_magnitude = nan;
    m.pitch.f0_rmse_cents = m.pitch.f0_gross_error = m.pitch.f0_fine_rmse_cents = nan;
    m.pitch.vuv_f1 = m.pitch.periodicity_error = nan;
    m.crepe.f0_rmse_cents = m.crepe.periodicity_rmse = m.crepe.vuv_f1 = m.distillmos_in = m.distillmos_out = nan;
    m.visqol_speech = m.visqol_speech_nsim = m.visqol_audio = m.visqol_audio_nsim = nan;
    m.dnsmos_in = m.dnsmos_out = {nan, nan, nan, nan};
    const float* x = ref.data();
    const float* y = est.data();
    if (m.measures.computes(g::sample)) {
        m.snr_db = snr_db(x, y, n);
        m.mse = mse(x, y, n);
        m.pearson = pearson(x, y, n);
        m.si_sdr_db = si_sdr_db(x, y, n);
    }
    // The delay: for the aligned measures, and for pitch, whose frames must meet the same instants.
    const bool need_lag = m.measures.computes(g::aligned | g::pitch | g::crepe);
    m.max_lag_samples = std::lround(opts.max_lag_ms * 1e-3 * m.sample_rate);
    m.lag_samples = need_lag ? best_lag(x, y, n, m.max_lag_samples) : 0;
    // Overlap of x[i] and y[i + lag].
    const long lag = m.lag_samples;
    const std::size_t x0 = lag < 0 ? static_cast<std::size_t>(-lag) : 0;
    const std::size_t y0 = lag > 0 ? static_cast<std::size_t>(lag) : 0;
    const std::size_t len = n - static_cast<std::size_t>(std::labs(lag));
    if (m.measures.computes(g::aligned)) {
        m.aligned_snr_db = snr_db(x + x0, y + y0, len);
        m.aligned_mse = mse(x + x0, y + y0, len);
        m.aligned_pearson = pearson(x + x0, y + y0, len);
    }
    if (m.measures.computes(g::spectral | g::mel)) spectral_measures(x, y, n, feature, m);
    if (m.measures.computes(g::stoi)) {
        const StoiResult st = stoi(x, y, n, m.sample_rate);
        m.stoi = st.stoi;
        m.estoi = st.estoi;
    }
    if (m.measures.computes(g::mrstft)) m.mrstft = multi_resolution_stft(x, y, n);
    if (m.measures.computes(g::pitch)) {
        const PitchConfig pc = pitch_config_for(m.sample_rate);
        m.pitch = compare_pitch(track_pitch(x + x0, len, pc), track_pitch(y + y0, len, pc));
    }
    if (m.measures.computes(g::crepe)) {
        const MeasureNetwork& net = required_network(opts.crepe, "crepe", "--crepe", m.sample_rate);
        m.crepe = compare_crepe(track_crepe(x + x0, len, net), track_crepe(y + y0, len, net));
    }
    if (m.measures.computes(g::distillmos)) {
        const MeasureNetwork& net = required_network(opts.distillmos, "distillmos", "--distillmos", m.sample_rate);
        m.distillmos_in = distillmos_score(x, n, net);
        m.distillmos_out = distillmos_score(y, n, net);
    }
    if (m.measures.computes(g::dnsmos)) {
        const MeasureNetwork& net = required_network(opts.dnsmos, "dnsmos", "--dnsmos", m.sample_rate);
        m.dnsmos_in = dnsmos_scores(x, n, net);
        m.dnsmos_out = dnsmos_scores(y, n, net);
    }
    if (m.measures.computes(g::visqol))
        visqol_measure(ref, est, m.sample_rate, VisqolMode::speech, m.visqol_speech, m.visqol_speech_nsim);
    if (m.measures.computes(g::visqol_audio))
        visqol_measure(ref, est, m.sample_rate, VisqolMode::audio, m.visqol_audio, m.visqol_audio_nsim);
    return m;
}

PitchConfig pitch_config_for(int sample_rate) {
    PitchConfig c;
    c.sample_rate = sample_rate;
    c.frame_length = static_cast<int>(std::lround(0.064 * sample_rate));
    c.hop_length = static_cast<int>(std::lround(0.010 * sample_rate));
    return c;
}

}  // namespace ldmrecon
