#include "ldmrecon/stoi.hpp"

#include <fftw3.h>

#include "ldmrecon/feature.hpp"
#include "fft_plans.hpp"
#include "measure_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>

namespace ldmrecon {

namespace {

// ref: pystoi stoi.py constants
constexpr int kFs = 10000;       // FS
constexpr int kFrame = 256;      // N_FRAME
constexpr int kHop = 128;        // N_FRAME / 2
constexpr int kNfft = 512;       // NFFT
constexpr int kBands = 15;       // NUMBAND
constexpr double kMinFreq = 150;  // MINFREQ
constexpr int kSegment = 30;     // N
constexpr double kBeta = -15.0;  // BETA, dB
constexpr double kDynRange = 40;  // DYN_RANGE, dB
const double kEps = std::numeric_limits<double>::epsilon();
constexpr double kPi = 3.14159265358979323846;

double bessel_i0(double x) {
    // Power series; converges fast for the arguments a Kaiser window needs (beta < 10).
    double sum = 1, term = 1;
    for (int k = 1; k < 200; ++k) {
        term *= (x / (2 * k)) * (x / (2 * k));
        sum += term;
        if (term < sum * 1e-17) break;
    }
    return sum;
}

// Matlab's hanning(256): 0.5 - 0.5 cos(2 pi (n + 1) / 257). ref: pystoi np.hanning(framelen + 2)[1:-1]
std::vector<double> matlab_hanning(int n) {
    std::vector<double> w(n);
    for (int i = 0; i < n; ++i) w[i] = 0.5 - 0.5 * std::cos(2 * kPi * (i + 1) / (n + 1));
    return w;
}

// Frame starts 0, hop, ... while start < len - framelen (strict). ref: pystoi utils.stft
std::size_t frame_count(std::size_t len) { return len > kFrame ? (len - kFrame + kHop - 1) / kHop : 0; }

// ref: pystoi utils.remove_silent_frames: mask by the clean signal's frame energy, overlap-add the kept
// windowed frames of both signals back into signals of length (K - 1) * hop + framelen.
void remove_silent_frames(std::vector<float>& x, std::vector<float>& y) {
    const auto w = matlab_hanning(kFrame);
    const std::size_t F = frame_count(x.size());
    std::vector<double> energy(F);
    for (std::size_t f = 0; f < F; ++f) {
        double s = 0;
        for (int i = 0; i < kFrame; ++i) {
            const double v = w[i] * x[f * kHop + i];
            s += v * v;
        }
        energy[f] = 20 * std::log10(std::sqrt(s) + kEps);
    }
    const double top = F ? *std::max_element(energy.begin(), energy.end()) : 0;
    std::vector<std::size_t> keep;
    for (std::size_t f = 0; f < F; ++f)
        if (top - kDynRange - energy[f] < 0) keep.push_back(f);
    const std::size_t len = keep.empty() ? 0 : (keep.size() - 1) * kHop + kFrame;
    std::vector<float> xs(len, 0.f), ys(len, 0.f);
    for (std::size_t k = 0; k < keep.size(); ++k)
        for (int i = 0; i < kFrame; ++i) {
            xs[k * kHop + i] += static_cast<float>(w[i] * x[keep[k] * kHop + i]);
            ys[k * kHop + i] += static_cast<float>(w[i] * y[keep[k] * kHop + i]);
        }
    x.swap(xs);
    y.swap(ys);
}

// 1/3-octave band edges as FFT bins [lo, hi). ref: pystoi utils.thirdoct (argmin: first index on ties)
std::vector<std::pair<int, int>> third_octave_bands() {
    constexpr int bins = kNfft / 2 + 1;
    auto nearest = [](double hz) {
        int best = 0;
        double bd = std::numeric_limits<double>::infinity();
        for (int k = 0; k < bins; ++k) {
            const double f = static_cast<double>(k) * kFs / kNfft;
            const double d = (f - hz) * (f - hz);
            if (d < bd) bd = d, best = k;
        }
        return best;
    };
    std::vector<std::pair<int, int>> b(kBands);
    for (int i = 0; i < kBands; ++i)
        b[i] = {nearest(kMinFreq * std::pow(2.0, (2.0 * i - 1) / 6)), nearest(kMinFreq * std::pow(2.0, (2.0 * i + 1) / 6))};
    return b;
}

// [bands][frames]: sqrt of the summed |X|^2 of each band's bins.
std::vector<std::vector<double>> band_envelopes(const std::vector<float>& x) {
    const auto w = matlab_hanning(kFrame);
    const auto bands = third_octave_bands();
    const std::size_t F = frame_count(x.size());
    std::vector<std::vector<double>> out(kBands, std::vector<double>(F));
    double* in = fftw_alloc_real(kNfft);
    fftw_complex* spec = fftw_alloc_complex(kNfft / 2 + 1);
    const fftw_plan plan = fft::r2c(kNfft);
    for (std::size_t f = 0; f < F; ++f) {
        std::fill(in, in + kNfft, 0.0);
        for (int i = 0; i < kFrame; ++i) in[i] = w[i] * x[f * kHop + i];
        fftw_execute_dft_r2c(plan, in, spec);
        for (int b = 0; b < kBands; ++b) {
            double s = 0;
            for (int k = bands[b].first; k < bands[b].second; ++k) s += spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1];
            out[b][f] = std::sqrt(s);
        }
    }
    fftw_free(in);
    fftw_free(spec);
    return out;
}

// y[m] = sum_n x[n] h[m * down - n * up + L] (zero phase, zeros outside the signal), with h of 2L + 1
// taps. Only every up-th tap meets a sample, so output m uses the phase r = c mod up of the filter
// (c = m * down + L), taken in reverse so that it runs forwards over x: a plain dot product wherever
// the whole filter lies inside the signal, the direct sum at the two ends.
std::vector<float> polyphase_filter(const float* x, std::size_t n, const std::vector<double>& h, long up, long down) {
    const long taps = static_cast<long>(h.size()), L = (taps - 1) / 2, n_in = static_cast<long>(n);
    std::vector<std::vector<double>> phase(static_cast<std::size_t>(up));
    for (long r = 0; r < up; ++r)
        for (long j = (taps - 1 - r) / up; j >= 0; --j) phase[static_cast<std::size_t>(r)].push_back(h[static_cast<std::size_t>(r + j * up)]);
    const long n_out = (n_in * up + down - 1) / down;
    std::vector<float> y(static_cast<std::size_t>(n_out), 0.f);
    for (long m = 0; m < n_out; ++m) {
        const long c = m * down + L, r = c % up, last = c / up;  // x[last] meets tap r
        const std::vector<double>& g = phase[static_cast<std::size_t>(r)];
        const long first = last - static_cast<long>(g.size()) + 1;
        double acc = 0;
        if (first >= 0 && last < n_in) {
            acc = kernels::dot(x + first, g.data(), g.size());
        } else {
            const long n_lo = std::max(0L, (c - 2 * L + up - 1) / up), n_hi = std::min(n_in - 1, last);
            for (long i = n_lo; i <= n_hi; ++i) acc += x[i] * h[static_cast<std::size_t>(c - i * up)];
        }
        y[static_cast<std::size_t>(m)] = static_cast<float>(acc);
    }
    return y;
}

// ref: pystoi utils._resample_window_oct (Octave's resample.m)
std::vector<double> resampling_filter(int up, int down) {
    const double rejection_db = 60.0;
    const double fc = 1.0 / (2.0 * std::max(up, down));
    const double transition = fc / 10.0;
    const long L = static_cast<long>(std::ceil((rejection_db - 8.0) / (28.714 * transition)));
    const double beta = 0.1102 * (rejection_db - 8.7);
    std::vector<double> h(2 * L + 1);
    const double i0b = bessel_i0(beta);
    double sum = 0;
    for (long n = 0; n <= 2 * L; ++n) {
        const double t = static_cast<double>(n - L);
        const double r = static_cast<double>(2 * n) / (2 * L) - 1.0;
        const double kaiser = bessel_i0(beta * std::sqrt(std::max(0.0, 1.0 - r * r))) / i0b;
        const double arg = 2 * fc * t;
        const double sinc = t == 0 ? 1.0 : std::sin(kPi * arg) / (kPi * arg);
        h[n] = kaiser * 2 * up * fc * sinc;
        sum += h[n];
    }
    for (double& v : h) v = v / sum * up;  // unit sum, then the upsampling gain (scipy resample_poly)
    return h;
}

}  // namespace

std::vector<float> resample_octave(const float* x, std::size_t n, int up, int down) {
    const int g = std::gcd(up, down);
    up /= g;
    down /= g;
    if (up == down) return std::vector<float>(x, x + n);
    // The filter depends on the ratio alone: designed once per ratio (a Kaiser window of ~600 taps).
    static std::mutex lock;
    static std::map<std::pair<int, int>, std::vector<double>> filters;
    std::vector<double>* h = nullptr;
    {
        const std::lock_guard<std::mutex> guard(lock);
        h = &filters[{up, down}];
        if (h->empty()) *h = resampling_filter(up, down);
    }
    return polyphase_filter(x, n, *h, up, down);
}

StoiResult stoi(const float* clean, const float* processed, std::size_t n, int rate) {
    StoiResult r;
    // Float signals (sums in double): an hour at 10 kHz is 144 MB a copy instead of 288.
    std::vector<float> x = resample_octave(clean, n, kFs, rate);
    std::vector<float> y = resample_octave(processed, n, kFs, rate);
    remove_silent_frames(x, y);
    const auto X = band_envelopes(x), Y = band_envelopes(y);
    const std::size_t T = X.empty() ? 0 : X[0].size();
    r.frames = T;
    if (T < static_cast<std::size_t>(kSegment)) {
        r.stoi = r.estoi = 1e-5;  // ref: pystoi: "Not enough STFT frames", returns 1e-5
        return r;
    }
    const double clip = std::pow(10.0, -kBeta / 20);
    const std::size_t N = kSegment, S = T - N + 1;
    double stoi_sum = 0, estoi_sum = 0;
    static_assert(kSegment <= kernels::kMaxStoiSegment, "the kernels' scratch holds a segment");
    std::vector<double> xs(kBands * N), ys(kBands * N);
    for (std::size_t s = 0; s < S; ++s) {
        for (int b = 0; b < kBands; ++b) {
            const double* xb = &X[b][s];
            const double* yb = &Y[b][s];
            stoi_sum += kernels::stoi_band_correlation(xb, yb, N, 1 + clip, kEps);
            std::copy(xb, xb + N, xs.begin() + b * N);
            std::copy(yb, yb + N, ys.begin() + b * N);
        }
        // ESTOI: normalise rows (each band over time), then columns (each frame over bands), correlate.
        kernels::estoi_normalise(xs.data(), kBands, N);
        kernels::estoi_normalise(ys.data(), kBands, N);
        double e = 0;
        for (std::size_t i = 0; i < xs.size(); ++i) e += xs[i] * ys[i];
        estoi_sum += e / N;
    }
    r.stoi = stoi_sum / (kBands * S);  // ref: pystoi: sum of correlations / (J * M)
    r.estoi = estoi_sum / S;
    return r;
}

}  // namespace ldmrecon
