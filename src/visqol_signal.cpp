// ViSQOL's time-domain steps: envelopes, cross-correlation, alignment, slicing and level matching.
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <type_traits>

#include "fft_plans.hpp"
#include "ldmrecon/feature.hpp"
#include "visqol_impl.hpp"

namespace ldmrecon::visqol_detail {

namespace {

// The envelope's FFTs have the signal's own length. The patches' slices come in a few lengths that recur
// in every file (a patch's duration, give or take a sample), so plans up to kKeptLength samples are kept,
// at most kKeptPlans of them, the oldest dropped first: making one costs more than running it (its twiddle
// tables). A whole signal's length rarely recurs; its plan is made and dropped, so that a batch of many
// lengths does not grow the cache without end. A plan is destroyed when its last user lets it go.
using SharedPlan = std::shared_ptr<std::remove_pointer_t<fftw_plan>>;
constexpr int kKeptLength = 1 << 17;
constexpr std::size_t kKeptPlans = 32;

SharedPlan envelope_plan(int n, bool forward) {
    SharedPlan dropped;  // destroyed after the lock below is released: its deleter takes that lock
    const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    static std::map<std::pair<int, bool>, SharedPlan> kept;
    static std::deque<std::pair<int, bool>> order;
    const auto key = std::make_pair(n, forward);
    if (const auto it = kept.find(key); it != kept.end()) return it->second;
    double* r = fftw_alloc_real(static_cast<std::size_t>(n));
    fftw_complex* c = fftw_alloc_complex(static_cast<std::size_t>(n) / 2 + 1);
    fftw_plan p = forward ? fftw_plan_dft_r2c_1d(n, r, c, FFTW_ESTIMATE) : fftw_plan_dft_c2r_1d(n, c, r, FFTW_ESTIMATE);
    fftw_free(r);
    fftw_free(c);
    SharedPlan plan(p, [](fftw_plan q) {
        const std::lock_guard<std::mutex> l(fftw_planner_mutex());
        fftw_destroy_plan(q);
    });
    if (n <= kKeptLength) {
        if (order.size() == kKeptPlans) {
            dropped = std::move(kept[order.front()]);
            kept.erase(order.front());
            order.pop_front();
        }
        kept[key] = plan;
        order.push_back(key);
    }
    return plan;
}

struct FftwBuffers {
    double* real;
    fftw_complex* spec;
    explicit FftwBuffers(std::size_t n) : real(fftw_alloc_real(n)), spec(fftw_alloc_complex(n / 2 + 1)) {}
    ~FftwBuffers() {
        fftw_free(real);
        fftw_free(spec);
    }
    FftwBuffers(const FftwBuffers&) = delete;
    FftwBuffers& operator=(const FftwBuffers&) = delete;
};

}  // namespace

Signal upper_envelope(const Signal& x) {
    // ref: envelope.cc CalcUpperEnv: the analytic signal of the centred signal, |.| plus the mean back.
    // The imaginary part (the Hilbert transform) is the inverse of -i X_k over the positive bins; the real
    // part is the centred signal itself.
    const std::size_t n = x.size();
    if (n == 0) return {};
    const double mean = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(n);
    FftwBuffers b(n);
    for (std::size_t i = 0; i < n; ++i) b.real[i] = x[i] - mean;
    fftw_execute_dft_r2c(envelope_plan(static_cast<int>(n), true).get(), b.real, b.spec);
    const std::size_t bins = n / 2 + 1;
    for (std::size_t k = 0; k < bins; ++k) {
        const bool positive = k > 0 && 2 * k < n;  // DC and the Nyquist bin have no quadrature part
        const double re = b.spec[k][0], im = b.spec[k][1];
        b.spec[k][0] = positive ? im : 0.0;  // -i (re + i im) = im - i re
        b.spec[k][1] = positive ? -re : 0.0;
    }
    Signal hilbert(n);
    {
        double* out = fftw_alloc_real(n);
        fftw_execute_dft_c2r(envelope_plan(static_cast<int>(n), false).get(), b.spec, out);
        for (std::size_t i = 0; i < n; ++i) hilbert[i] = out[i] / static_cast<double>(n);
        fftw_free(out);
    }
    Signal env(n);
    for (std::size_t i = 0; i < n; ++i) env[i] = std::hypot(x[i] - mean, hilbert[i]) + mean;
    return env;
}

long best_xcorr_lag(const Signal& ref, const Signal& deg) {
    // ref: xcorr.cc CalcInverseFFTOfPointwiseProduct, signal_utils.find_best_lag: both zero-padded to the
    // power of two at or above 2n - 1, ifft(R conj(D)); lags -(n-1) .. n-1, the first maximum wins.
    const std::size_t n = std::max(ref.size(), deg.size());
    if (n == 0) return 0;
    std::size_t points = 1;
    while (points < 2 * n - 1) points *= 2;
    const int np = static_cast<int>(points);
    const std::size_t bins = points / 2 + 1;
    FftwBuffers a(points), d(points);
    std::fill(a.real, a.real + points, 0.0);
    std::fill(d.real, d.real + points, 0.0);
    std::copy(ref.begin(), ref.end(), a.real);
    std::copy(deg.begin(), deg.end(), d.real);
    fftw_execute_dft_r2c(fft::r2c(np), a.real, a.spec);
    fftw_execute_dft_r2c(fft::r2c(np), d.real, d.spec);
    for (std::size_t k = 0; k < bins; ++k) {
        const double ar = a.spec[k][0], ai = a.spec[k][1], dr = d.spec[k][0], di = d.spec[k][1];
        a.spec[k][0] = ar * dr + ai * di;  // a conj(d)
        a.spec[k][1] = ai * dr - ar * di;
    }
    fftw_execute_dft_c2r(fft::c2r(np), a.spec, a.real);
    const long max_lag = static_cast<long>(n) - 1;
    long best = -max_lag;
    double best_value = -INFINITY;
    for (long lag = -max_lag; lag <= max_lag; ++lag) {
        const double v = a.real[lag < 0 ? points - static_cast<std::size_t>(-lag) : static_cast<std::size_t>(lag)];
        if (v > best_value) {
            best_value = v;
            best = lag;
        }
    }
    return best;
}

Signal globally_align(const Signal& ref, const Signal& deg, int rate, double* lag_seconds) {
    // ref: alignment.cc GloballyAlign: no shift for a lag of zero or of more than half the reference.
    *lag_seconds = 0;
    const long lag = best_xcorr_lag(upper_envelope(ref), upper_envelope(deg));
    if (lag == 0 || static_cast<double>(std::labs(lag)) > static_cast<double>(ref.size()) / 2.0) return deg;
    Signal out;
    if (lag < 0) {
        const std::size_t cut = std::min(deg.size(), static_cast<std::size_t>(-lag));
        out.assign(deg.begin() + static_cast<long>(cut), deg.end());
    } else {
        out.assign(static_cast<std::size_t>(lag), 0.0);
        out.insert(out.end(), deg.begin(), deg.end());
    }
    *lag_seconds = static_cast<double>(lag) / rate;
    return out;
}

void align_and_truncate(Signal& ref, Signal& deg, int rate, double* lag_seconds) {
    // ref: alignment.cc AlignAndTruncate, alignment.align_and_truncate
    deg = globally_align(ref, deg, rate, lag_seconds);
    if (ref.size() > deg.size()) {
        ref.resize(deg.size());
    } else if (ref.size() < deg.size()) {
        // The lag goes through seconds and back, truncated, as Google's code does.
        const long lag_samples = static_cast<long>(*lag_seconds * rate);
        if (lag_samples > 0) {
            const std::size_t skip = std::min(ref.size(), static_cast<std::size_t>(lag_samples));
            ref.erase(ref.begin(), ref.begin() + static_cast<long>(skip));
            const std::size_t from = std::min(deg.size(), skip);
            const std::size_t to = std::min(deg.size(), from + ref.size());
            deg = Signal(deg.begin() + static_cast<long>(from), deg.begin() + static_cast<long>(to));
        } else {
            deg.resize(ref.size());
        }
    }
    const std::size_t len = std::min(ref.size(), deg.size());
    ref.resize(len);
    deg.resize(len);
}

Signal slice_signal(const Signal& x, int rate, double start_time, double end_time) {
    // ref: comparison_patches_selector.cc Slice. As there: the end index is exclusive and at most the last
    // sample's, and the silence for an end past the signal goes in front of the slice, not behind it.
    const long len = static_cast<long>(x.size());
    const long start = std::max(0L, static_cast<long>(static_cast<int>(start_time * rate)));
    const long end = std::min(len - 1, static_cast<long>(static_cast<int>(end_time * rate)));
    Signal out;
    if (end > start) out.assign(x.begin() + start, x.begin() + end);
    const double end_diff = end_time * rate - static_cast<double>(len);
    if (end_diff > 0) out.insert(out.begin(), static_cast<std::size_t>(end_diff), 0.0);
    if (start_time < 0) out.insert(out.begin(), static_cast<std::size_t>(-start_time * rate), 0.0);
    return out;
}

void match_sound_pressure_level(const Signal& ref, Signal& deg) {
    // ref: misc_audio.cc: SPL = 20 log10(rms / 20 uPa); deg *= 10^((SPL_ref - SPL_deg) / 20).
    auto spl = [](const Signal& s) {
        double sq = 0;
        for (double v : s) sq += v * v;
        return 20.0 * std::log10(std::sqrt(sq / static_cast<double>(s.size())) / 2e-5);
    };
    const double scale = std::pow(10.0, (spl(ref) - spl(deg)) / 20.0);
    for (double& v : deg) v *= scale;
}

}  // namespace ldmrecon::visqol_detail
