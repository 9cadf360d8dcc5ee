#include "ldmrecon/griffinlim.hpp"

#include <fftw3.h>

#include "ldmrecon/feature.hpp"

#include <cmath>
#include <complex>
#include <random>

#include "ldmrecon/errors.hpp"

namespace ldmrecon {

namespace {

using cplx = std::complex<double>;

// STFT and inverse STFT with one set of plans; frames centred with reflect padding (librosa center=True),
// the inverse by weighted overlap-add normalised by the summed squared window (librosa istft).
class StftPair {
public:
    StftPair(const FeatureConfig& cfg, std::size_t length)
        : n_fft_(cfg.n_fft), hop_(cfg.hop_length), bins_(cfg.n_bins()), len_(length),
          frames_(1 + length / static_cast<std::size_t>(cfg.hop_length)), win_(stft_window(cfg.n_fft, cfg.win_length)) {
        buf_ = fftw_alloc_real(n_fft_);
        spec_ = fftw_alloc_complex(bins_);
        {
            const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
            fwd_ = fftw_plan_dft_r2c_1d(n_fft_, buf_, spec_, FFTW_ESTIMATE);
            inv_ = fftw_plan_dft_c2r_1d(n_fft_, spec_, buf_, FFTW_ESTIMATE);
        }
        // Sum of squared windows over the padded signal, for the inverse's normalisation.
        const std::size_t pad = static_cast<std::size_t>(n_fft_ / 2);
        wss_.assign(len_ + 2 * pad, 0.0);
        for (std::size_t t = 0; t < frames_; ++t)
            for (int k = 0; k < n_fft_; ++k)
                if (t * hop_ + k < wss_.size()) wss_[t * hop_ + k] += win_[k] * win_[k];
    }
    ~StftPair() {
        const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
        fftw_destroy_plan(fwd_);
        fftw_destroy_plan(inv_);
        fftw_free(buf_);
        fftw_free(spec_);
    }
    StftPair(const StftPair&) = delete;
    StftPair& operator=(const StftPair&) = delete;

    std::size_t frames() const { return frames_; }
    std::size_t bins() const { return static_cast<std::size_t>(bins_); }

    void forward(const std::vector<double>& x, std::vector<cplx>& X) {
        const long long pad = n_fft_ / 2, n = static_cast<long long>(x.size());
        X.resize(frames_ * bins());
        for (std::size_t t = 0; t < frames_; ++t) {
            for (int k = 0; k < n_fft_; ++k) {
                long long i = static_cast<long long>(t) * hop_ + k - pad;
                if (n == 1) {
                    i = 0;
                } else {  // numpy reflect, also for pads longer than the signal
                    const long long p = 2 * (n - 1);
                    i %= p;
                    if (i < 0) i += p;
                    if (i >= n) i = p - i;
                }
                buf_[k] = x[static_cast<std::size_t>(i)] * win_[k];
            }
            fftw_execute(fwd_);
            for (int k = 0; k < bins_; ++k) X[t * bins() + k] = cplx(spec_[k][0], spec_[k][1]);
        }
    }

    void inverse(const std::vector<cplx>& X, std::vector<double>& y) {
        const std::size_t pad = static_cast<std::size_t>(n_fft_ / 2);
        std::vector<double> acc(len_ + 2 * pad, 0.0);
        for (std::size_t t = 0; t < frames_; ++t) {
            for (int k = 0; k < bins_; ++k) {
                spec_[k][0] = X[t * bins() + k].real();
                spec_[k][1] = X[t * bins() + k].imag();
            }
            fftw_execute(inv_);  // unnormalised: divide by n_fft
            for (int k = 0; k < n_fft_; ++k)
                if (t * hop_ + k < acc.size()) acc[t * hop_ + k] += buf_[k] / n_fft_ * win_[k];
        }
        y.assign(len_, 0.0);
        for (std::size_t i = 0; i < len_; ++i) {
            const double w = wss_[i + pad];
            y[i] = w > 1e-10 ? acc[i + pad] / w : 0.0;
        }
    }

private:
    int n_fft_, hop_, bins_;
    std::size_t len_, frames_;
    std::vector<double> win_, wss_;
    double* buf_;
    fftw_complex* spec_;
    fftw_plan fwd_, inv_;
};

}  // namespace

Matrix mel_to_linear_magnitude(const Matrix& log_mel, const FeatureConfig& cfg) {
    const Matrix M = mel_filterbank(cfg);  // [mels, bins]
    const std::size_t m = M.rows, b = M.cols;
    if (log_mel.cols != m) throw UsageError("feature has " + std::to_string(log_mel.cols) + " bands, filterbank " + std::to_string(m));
    // G = M M^T (full rank: the triangles overlap), then pinv = M^T G^-1 by Gauss-Jordan with pivoting.
    std::vector<double> G(m * m, 0.0), inv(m * m, 0.0);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < m; ++j) {
            double s = 0;
            for (std::size_t k = 0; k < b; ++k) s += double(M.at(i, k)) * M.at(j, k);
            G[i * m + j] = s;
        }
    for (std::size_t i = 0; i < m; ++i) inv[i * m + i] = 1.0;
    for (std::size_t c = 0; c < m; ++c) {
        std::size_t p = c;
        for (std::size_t r = c + 1; r < m; ++r)
            if (std::abs(G[r * m + c]) > std::abs(G[p * m + c])) p = r;
        for (std::size_t k = 0; k < m; ++k) std::swap(G[c * m + k], G[p * m + k]), std::swap(inv[c * m + k], inv[p * m + k]);
        const double d = G[c * m + c];
        for (std::size_t k = 0; k < m; ++k) G[c * m + k] /= d, inv[c * m + k] /= d;
        for (std::size_t r = 0; r < m; ++r) {
            if (r == c) continue;
            const double f = G[r * m + c];
            if (f == 0) continue;
            for (std::size_t k = 0; k < m; ++k) G[r * m + k] -= f * G[c * m + k], inv[r * m + k] -= f * inv[c * m + k];
        }
    }
    std::vector<double> pinv(b * m, 0.0);  // [bins, mels] = M^T G^-1
    for (std::size_t k = 0; k < b; ++k)
        for (std::size_t j = 0; j < m; ++j) {
            double s = 0;
            for (std::size_t i = 0; i < m; ++i) s += double(M.at(i, k)) * inv[i * m + j];
            pinv[k * m + j] = s;
        }
    // The pseudo-inverse has negative lobes; clamped, it is refined towards the non-negative least-squares
    // solution (librosa's mel_to_stft uses NNLS) by multiplicative updates s <- s * M^T m / (M^T M s),
    // which keep s >= 0. ref: Lee & Seung 2001, the Euclidean update with M fixed.
    constexpr int kRefine = 100;
    std::vector<std::pair<std::size_t, std::size_t>> support(m, {0, 0});  // non-zero bins of each band
    for (std::size_t j = 0; j < m; ++j) {
        std::size_t lo = b, hi = 0;
        for (std::size_t k = 0; k < b; ++k)
            if (M.at(j, k) != 0.f) lo = std::min(lo, k), hi = k + 1;
        support[j] = {lo < hi ? lo : 0, hi};
    }
    std::vector<double> den(b);
    Matrix mag(log_mel.rows, b);
    std::vector<double> mel(m), s(b), num(b);
    for (std::size_t t = 0; t < log_mel.rows; ++t) {
        for (std::size_t j = 0; j < m; ++j) mel[j] = std::exp(static_cast<double>(log_mel.at(t, j)));
        for (std::size_t k = 0; k < b; ++k) {
            double v = 0, mt = 0;
            for (std::size_t j = 0; j < m; ++j) v += pinv[k * m + j] * mel[j], mt += double(M.at(j, k)) * mel[j];
            s[k] = std::max(v, 1e-12);
            num[k] = mt;  // M^T m
        }
        for (int it = 0; it < kRefine; ++it) {
            std::fill(den.begin(), den.end(), 0.0);
            for (std::size_t j = 0; j < m; ++j) {
                double v = 0;  // (M s)_j
                for (std::size_t k = support[j].first; k < support[j].second; ++k) v += double(M.at(j, k)) * s[k];
                for (std::size_t k = support[j].first; k < support[j].second; ++k) den[k] += double(M.at(j, k)) * v;
            }
            for (std::size_t k = 0; k < b; ++k)
                if (den[k] > 0) s[k] *= num[k] / den[k];
        }
        for (std::size_t k = 0; k < b; ++k) mag.at(t, k) = static_cast<float>(s[k]);
    }
    return mag;
}

std::vector<float> griffin_lim(const Matrix& magnitude, const FeatureConfig& cfg, std::size_t length,
                               const GriffinLimOptions& o) {
    StftPair st(cfg, length);
    if (magnitude.rows != st.frames() || magnitude.cols != st.bins())
        throw UsageError("Griffin-Lim: magnitude is " + std::to_string(magnitude.rows) + " x " +
                         std::to_string(magnitude.cols) + ", the STFT of " + std::to_string(length) + " samples is " +
                         std::to_string(st.frames()) + " x " + std::to_string(st.bins()));
    const std::size_t n = magnitude.data.size();
    std::mt19937_64 rng(o.seed);
    std::uniform_real_distribution<double> phase(0.0, 2 * 3.14159265358979323846);
    std::vector<cplx> angles(n), rebuilt(n, 0.0), tprev(n), spec(n);
    for (auto& a : angles) a = std::polar(1.0, phase(rng));
    std::vector<double> y;
    // ref: librosa core/spectrum.py griffinlim (momentum form of the fast Griffin-Lim algorithm)
    for (int it = 0; it < o.iterations; ++it) {
        if (o.cancelled && o.cancelled()) throw Cancelled();
        tprev.swap(rebuilt);
        for (std::size_t i = 0; i < n; ++i) spec[i] = static_cast<double>(magnitude.data[i]) * angles[i];
        st.inverse(spec, y);
        st.forward(y, rebuilt);
        const double a = o.momentum / (1 + o.momentum);
        for (std::size_t i = 0; i < n; ++i) {
            const cplx v = rebuilt[i] - a * tprev[i];
            angles[i] = v / (std::abs(v) + 1e-16);
        }
    }
    for (std::size_t i = 0; i < n; ++i) spec[i] = static_cast<double>(magnitude.data[i]) * angles[i];
    st.inverse(spec, y);
    return std::vector<float>(y.begin(), y.end());
}

}  // namespace ldmrecon
