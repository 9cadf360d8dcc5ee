#include "ldmrecon/pitch.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "fft_plans.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/feature.hpp"
#include "measure_kernels.hpp"

namespace ldmrecon {

namespace {

// The smallest 2^a or 3 * 2^a at least n: sizes FFTW transforms fast (higher powers of 3 are slower).
int transform_size(int n) {
    int p = 1;
    while (p < n) p *= 2;
    return p % 4 == 0 && 3 * (p / 4) >= n ? 3 * (p / 4) : p;
}

// One frame's cumulative-mean-normalised difference function (CMNDF) over lags [min_period, max_period]
// and the frame's energy, with FFTW plans reused across frames.
// ref: librosa 0.11 core/pitch.py _cumulative_mean_normalized_difference: the difference over the whole
// frame, zeros beyond it,
//   d(k) = sum_{m=0}^{L-1} (x_m - x_{m+k})^2 = 2 (acf(0) - acf(k)) - sum_{m=0}^{k-1} x_m^2,
// acf(k) = sum_m x_m x_{m+k} (librosa.autocorrelate), and CMNDF(k) = d(k) / (mean_{1..k} d + tiny).
class Cmndf {
public:
    Cmndf(int frame_length, int min_period, int max_period)
        : L_(frame_length), N_(transform_size(frame_length + max_period)), min_(min_period), max_(max_period),
          bins_(N_ / 2 + 1) {
        buf_ = fftw_alloc_real(N_);
        spec_ = fftw_alloc_complex(bins_);
        fwd_ = fft::r2c(N_);
        inv_ = fft::c2r(N_);
        out_.resize(static_cast<std::size_t>(max_ - min_ + 1));
        frame_.resize(static_cast<std::size_t>(L_));
        d_.resize(static_cast<std::size_t>(max_ + 1));
    }
    ~Cmndf() {
        fftw_free(buf_);
        fftw_free(spec_);
    }
    Cmndf(const Cmndf&) = delete;
    Cmndf& operator=(const Cmndf&) = delete;

    // Frame `start` of x (n samples), a frame of L centred ones: index i of the frame is x[start + i], zero
    // outside the signal (librosa center=True, pad_mode="constant"). Returns CMNDF for lags min..max
    // (index 0 = min_period); energy() = acf(0).
    const std::vector<double>& run(const float* x, std::size_t n, long long start) {
        double* frame = frame_.data();
        const long long lo = std::clamp<long long>(-start, 0, L_);
        const long long hi = std::clamp<long long>(static_cast<long long>(n) - start, lo, L_);
        std::fill(frame, frame + lo, 0.0);
        if (hi > lo) kernels::widen(x + start + lo, frame + lo, static_cast<std::size_t>(hi - lo));
        std::fill(frame + hi, frame + L_, 0.0);
        std::copy(frame, frame + L_, buf_);
        std::fill(buf_ + L_, buf_ + N_, 0.0);  // zeros to L + max_period: no circular wrap up to max_period
        fftw_execute_dft_r2c(fwd_, buf_, spec_);
        kernels::autocorrelation_spectrum(&spec_[0][0], static_cast<std::size_t>(bins_),
                                          1.0 / N_);  // FFTW's inverse is unnormalised
        fftw_execute_dft_c2r(inv_, spec_, buf_);  // buf_[k] = acf(k)
        e0_ = buf_[0];
        // The running sums first (serial), then the divisions, which vectorise.
        double head = 0.0, cum = 0.0;  // sum_{m<k} x_m^2, sum_{1..k} d
        for (int k = 1; k <= max_; ++k) {
            head += frame[k - 1] * frame[k - 1];
            const double d = 2.0 * (buf_[0] - buf_[k]) - head;
            cum += d;
            buf_[k] = d;
            d_[static_cast<std::size_t>(k)] = cum;
        }
        kernels::cumulative_mean_normalised(buf_ + min_, d_.data() + min_, min_, max_ - min_ + 1, out_.data());
        return out_;
    }
    double energy() const { return e0_; }

private:
    int L_, N_, min_, max_, bins_;
    double* buf_;
    fftw_complex* spec_;
    fftw_plan fwd_, inv_;
    std::vector<double> out_, d_, frame_;  // d_[k]: the sum of d over lags 1..k
    double e0_ = 0;
};

// The chosen lag index into the CMNDF: the first trough below the threshold, else the global minimum.
// ref: librosa yin: is_trough = localmin (x[i] < x[i-1] and x[i] <= x[i+1]), the first lag a trough when
// x[0] < x[1]; argmax of the thresholded troughs, global argmin when none.
std::size_t choose_lag(const std::vector<double>& c, double threshold) {
    const std::size_t n = c.size();
    for (std::size_t i = 0; i < n; ++i) {
        const bool trough = i == 0 ? n > 1 && c[0] < c[1] : (c[i] < c[i - 1] && (i + 1 == n || c[i] <= c[i + 1]));
        if (trough && c[i] < threshold) return i;
    }
    return static_cast<std::size_t>(std::min_element(c.begin(), c.end()) - c.begin());
}

// Sub-sample shift of the minimum at i by a parabola through i-1, i, i+1; 0 at the ends and when the
// vertex is more than one lag away. ref: librosa core/pitch.py _parabolic_interpolation.
double parabolic_shift(const std::vector<double>& c, std::size_t i) {
    if (i == 0 || i + 1 >= c.size()) return 0.0;
    const double a = c[i + 1] + c[i - 1] - 2 * c[i];
    const double b = (c[i + 1] - c[i - 1]) / 2;
    if (std::fabs(b) >= std::fabs(a)) return 0.0;
    return -b / a;
}

}  // namespace

PitchTrack track_pitch(const float* x, std::size_t n, const PitchConfig& c) {
    // ref: librosa yin __check_yin_params: 0 < fmin < fmax <= sr / 2, sr / fmin < frame_length - 1
    if (c.sample_rate <= 0 || c.hop_length <= 0 || !(c.fmin > 0) || !(c.fmax > c.fmin) || c.fmax > c.sample_rate / 2.0 ||
        c.sample_rate / c.fmin >= c.frame_length - 1)
        throw UsageError("pitch tracker: impossible configuration");
    // ref: librosa yin: min_period = floor(sr / fmax), max_period = min(ceil(sr / fmin), frame_length - 1)
    const int min_period = std::max(1, static_cast<int>(std::floor(c.sample_rate / c.fmax)));
    const int max_period = std::min(static_cast<int>(std::ceil(c.sample_rate / c.fmin)), c.frame_length - 1);
    Cmndf cmndf(c.frame_length, min_period, max_period);

    const std::size_t hop = static_cast<std::size_t>(c.hop_length), L = static_cast<std::size_t>(c.frame_length);
    const std::size_t frames = 1 + n / hop, pad = L / 2;
    PitchTrack t;
    t.f0.resize(frames);
    t.periodicity.resize(frames);
    t.voiced.resize(frames);
    std::vector<double> aperiodicity(frames), energy(frames);
    for (std::size_t f = 0; f < frames; ++f) {
        const std::vector<double>& d = cmndf.run(x, n, static_cast<long long>(f * hop) - static_cast<long long>(pad));
        const std::size_t lag = choose_lag(d, c.trough_threshold);
        t.f0[f] = c.sample_rate / (min_period + static_cast<double>(lag) + parabolic_shift(d, lag));
        aperiodicity[f] = d[lag];
        energy[f] = cmndf.energy();
    }
    // Silence gate, relative to the loudest frame: a quiet frame's difference function is all rounding.
    const double loudest = frames ? *std::max_element(energy.begin(), energy.end()) : 0.0;
    const double floor = loudest * std::pow(10.0, c.silence_db / 10.0);
    for (std::size_t f = 0; f < frames; ++f) {
        const bool sounding = energy[f] > 0 && energy[f] >= floor;
        t.periodicity[f] = sounding ? std::clamp(1.0 - aperiodicity[f], 0.0, 1.0) : 0.0;
        t.voiced[f] = sounding && aperiodicity[f] < c.voicing_threshold;
    }
    return t;
}

PitchMeasures compare_pitch(const PitchTrack& r, const PitchTrack& e) {
    PitchMeasures m;
    m.frames = std::min(r.frames(), e.frames());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double gross_cents = 1200.0 * std::log2(1.2);  // 20 %: the usual gross pitch error threshold
    double cents2 = 0, fine2 = 0, per2 = 0;
    std::size_t tp = 0, fp = 0, fn = 0, gross = 0;
    for (std::size_t f = 0; f < m.frames; ++f) {
        const bool rv = r.voiced[f], ev = e.voiced[f];
        tp += rv && ev;
        fp += !rv && ev;
        fn += rv && !ev;
        m.voiced_reference += rv;
        if (rv && ev) {
            const double c = 1200.0 * std::log2(e.f0[f] / r.f0[f]);
            cents2 += c * c;
            if (std::abs(c) > gross_cents)
                ++gross;
            else
                fine2 += c * c;
        }
        const double dp = e.periodicity[f] - r.periodicity[f];
        per2 += dp * dp;
    }
    m.voiced_both = tp;
    m.f0_rmse_cents = tp ? std::sqrt(cents2 / static_cast<double>(tp)) : nan;
    m.f0_gross_error = tp ? static_cast<double>(gross) / static_cast<double>(tp) : nan;
    m.f0_fine_rmse_cents = tp > gross ? std::sqrt(fine2 / static_cast<double>(tp - gross)) : nan;
    m.vuv_f1 = tp + fp + fn ? 2.0 * tp / static_cast<double>(2 * tp + fp + fn) : nan;
    m.periodicity_error = m.frames ? std::sqrt(per2 / static_cast<double>(m.frames)) : nan;
    return m;
}

}  // namespace ldmrecon
