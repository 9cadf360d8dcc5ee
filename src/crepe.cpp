#include "ldmrecon/crepe.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <map>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/feature.hpp"
#include "fft_plans.hpp"
#include "measure_kernels.hpp"

namespace ldmrecon {

namespace {

constexpr int kBins = crepe::kBins;
constexpr int kBand = 11;  // the transition's half width: 12 - |i - j| > 0

// ref: librosa.sequence.viterbi: epsilon = tiny(prob), prob being torchcrepe's float32 softmax.
const double kLogTiny = std::log(static_cast<double>(FLT_MIN));

// The forward pass of librosa's _viterbi over the 360 states, one frame at a time, so that only the
// back pointers are kept (a frame's probabilities are not). log_trans[k][j] = log(T[k][j] + tiny), T the
// triangular transition with row k normalised; outside the band it is log(tiny).
class ViterbiPass {
public:
    ViterbiPass(int lo, int hi) : lo_(lo), hi_(hi), value_(kBins), next_(kBins), log_trans_(kBins * (2 * kBand + 1)) {
        for (int k = 0; k < kBins; ++k) {
            double row = 0;
            for (int j = std::max(0, k - kBand); j <= std::min(kBins - 1, k + kBand); ++j) row += 12 - std::abs(j - k);
            for (int d = -kBand; d <= kBand; ++d) log_trans_[band_index(k, d)] = std::log((12 - std::abs(d)) / row);
        }
    }

    // One frame of the network's sigmoid outputs.
    void add(const float* sigmoid) {
        float log_prob[kBins];
        log_probabilities(sigmoid, log_prob);
        if (t_ == 0) {
            const double log_init = std::log(1.0 / kBins + static_cast<double>(FLT_MIN));
            for (int j = 0; j < kBins; ++j) value_[j] = static_cast<double>(log_prob[j]) + log_init;
        } else {
            step(log_prob);
        }
        ++t_;
    }

    // The path, ties to the lowest state (numpy argmax).
    std::vector<int> finish() const {
        std::vector<int> state(t_);
        if (t_ == 0) return state;
        state[t_ - 1] = static_cast<int>(std::max_element(value_.begin(), value_.end()) - value_.begin());
        for (std::size_t t = t_ - 1; t > 0; --t) state[t - 1] = pointer(t, state[t]);
        return state;
    }

private:
    static int band_index(int k, int d) { return k * (2 * kBand + 1) + d + kBand; }

    // torchcrepe: bins outside [lo, hi) to -inf, softmax over the frame (float32); librosa: log(p + tiny)
    // in float32, each log rounded from double (numpy's float32 log is within an ulp of that).
    void log_probabilities(const float* sigmoid, float* out) const {
        double top = -std::numeric_limits<double>::infinity(), sum = 0;
        for (int j = lo_; j < hi_; ++j) top = std::max(top, static_cast<double>(sigmoid[j]));
        for (int j = lo_; j < hi_; ++j) sum += std::exp(static_cast<double>(sigmoid[j]) - top);
        const float log_zero = static_cast<float>(kLogTiny);
        for (int j = 0; j < kBins; ++j) {
            if (j < lo_ || j >= hi_) {
                out[j] = log_zero;
                continue;
            }
            const float p = static_cast<float>(std::exp(static_cast<double>(sigmoid[j]) - top) / sum);
            out[j] = static_cast<float>(std::log(static_cast<double>(p + FLT_MIN)));
        }
    }

    // value'[j] = log_prob[j] + max_k (value[k] + log_trans[k][j]), the first k on ties. The best k lies in
    // j's band unless the best of all values plus log(tiny) reaches the band's best: then all 360 are scanned.
    void step(const float* log_prob) {
        const double best_any = *std::max_element(value_.begin(), value_.end());
        const std::size_t row = ptr_.size();
        ptr_.resize(row + kBins);
        for (int j = 0; j < kBins; ++j) {
            int arg = -1;
            double best = -std::numeric_limits<double>::infinity();
            for (int k = std::max(0, j - kBand); k <= std::min(kBins - 1, j + kBand); ++k) {
                const double v = value_[k] + log_trans_[band_index(k, j - k)];
                if (v > best) best = v, arg = k;
            }
            if (best_any + kLogTiny >= best) arg = full_scan(j, best);
            if (std::abs(arg - j) <= kBand) {
                ptr_[row + j] = static_cast<std::int8_t>(arg - j);
            } else {
                ptr_[row + j] = kFar;
                far_[row + j] = static_cast<std::uint16_t>(arg);
            }
            next_[j] = static_cast<double>(log_prob[j]) + best;
        }
        value_.swap(next_);
    }

    int full_scan(int j, double& best) const {
        int arg = 0;
        best = -std::numeric_limits<double>::infinity();
        for (int k = 0; k < kBins; ++k) {
            const double v = value_[k] + (std::abs(k - j) <= kBand ? log_trans_[band_index(k, j - k)] : kLogTiny);
            if (v > best) best = v, arg = k;
        }
        return arg;
    }

    // The best predecessor of state j at frame t (>= 1).
    int pointer(std::size_t t, int j) const {
        const std::size_t at = (t - 1) * kBins + static_cast<std::size_t>(j);
        return ptr_[at] == kFar ? far_.at(at) : j + ptr_[at];
    }

    static constexpr std::int8_t kFar = 127;
    int lo_, hi_;
    std::vector<double> value_, next_, log_trans_;
    std::vector<std::int8_t> ptr_;                // per frame after the first and state: k - j
    std::map<std::size_t, std::uint16_t> far_;    // pointers outside the band (never seen on speech)
    std::size_t t_ = 0;
};

double bin_to_hz(int bin) {
    // ref: torchcrepe convert.bins_to_frequency, without its dither
    return 10.0 * std::pow(2.0, (crepe::kCentsPerBin * bin + crepe::kCentsOffset) / 1200.0);
}

double hz_to_bin(double hz) { return (1200.0 * std::log2(hz / 10.0) - crepe::kCentsOffset) / crepe::kCentsPerBin; }

// ref: librosa.A_weighting (min_db -80) at librosa.fft_frequencies(sr=16000, n_fft=1024)
std::vector<double> a_weighting_1024() {
    const double c0 = 12194.217 * 12194.217, c1 = 20.598997 * 20.598997, c2 = 107.65265 * 107.65265,
                 c3 = 737.86223 * 737.86223;
    std::vector<double> w(crepe::kWindow / 2 + 1);
    for (std::size_t k = 0; k < w.size(); ++k) {
        const double f = static_cast<double>(k) * crepe::kSampleRate / crepe::kWindow, f2 = f * f;
        const double a = k == 0 ? -std::numeric_limits<double>::infinity()
                                : 2.0 + 20.0 * (std::log10(c0) + 2 * std::log10(f2) - std::log10(f2 + c0) -
                                                std::log10(f2 + c1) - 0.5 * std::log10(f2 + c2) - 0.5 * std::log10(f2 + c3));
        w[k] = std::max(-80.0, a);
    }
    return w;
}

// |rfft(window * frame)|^2 of each frame, passed to `use(frame index, power)`.
template <class Use>
void each_power_spectrum(const float* x, std::size_t frames, int hop, Use use) {
    constexpr int N = crepe::kWindow, bins = N / 2 + 1;
    double* in = fftw_alloc_real(N);
    fftw_complex* spec = fftw_alloc_complex(bins);
    const fftw_plan plan = fft::r2c(N);
    const std::vector<double> window = stft_window(N, N);  // periodic Hann, as torch.hann_window
    std::vector<double> power(bins);
    for (std::size_t f = 0; f < frames; ++f) {
        kernels::windowed(x + f * static_cast<std::size_t>(hop), window.data(), in, N);
        fftw_execute_dft_r2c(plan, in, spec);
        kernels::power_spectrum(reinterpret_cast<const double*>(spec), power.data(), bins);
        use(f, power);
    }
    fftw_free(in);
    fftw_free(spec);
}

}  // namespace

std::size_t crepe_frames(std::size_t n, int hop_length) {
    return n >= static_cast<std::size_t>(crepe::kWindow) ? 1 + (n - crepe::kWindow) / static_cast<std::size_t>(hop_length) : 0;
}

std::pair<int, int> crepe_bin_range(double fmin, double fmax) {
    return {static_cast<int>(std::floor(hz_to_bin(fmin))), static_cast<int>(std::ceil(hz_to_bin(fmax)))};
}

std::vector<int> crepe_viterbi(const std::vector<float>& probabilities, std::size_t frames, int lo, int hi) {
    if (probabilities.size() < frames * kBins) throw Error(ExitCode::internal, "crepe_viterbi: short probabilities");
    ViterbiPass pass(lo, hi);
    for (std::size_t t = 0; t < frames; ++t) pass.add(probabilities.data() + t * kBins);
    return pass.finish();
}

std::vector<char> crepe_silent_frames(const float* x, std::size_t n, int hop_length, double silence_db) {
    constexpr double kAmin = 1e-10, kTopDb = 80.0, kRefDb = 20.0;  // power_to_db defaults; torchcrepe REF_DB
    const std::size_t frames = crepe_frames(n, hop_length);
    double loudest = kAmin;
    each_power_spectrum(x, frames, hop_length, [&](std::size_t, const std::vector<double>& p) {
        loudest = std::max(loudest, *std::max_element(p.begin(), p.end()));
    });
    const double floor_db = 10.0 * std::log10(loudest) - kTopDb;
    const std::vector<double> weight = a_weighting_1024();
    std::vector<char> silent(frames);
    each_power_spectrum(x, frames, hop_length, [&](std::size_t f, const std::vector<double>& p) {
        double sum = 0;
        for (std::size_t k = 0; k < p.size(); ++k)
            sum += std::max(10.0 * std::log10(std::max(kAmin, p[k])), floor_db) + weight[k] - kRefDb;
        silent[f] = sum / static_cast<double>(p.size()) < silence_db;
    });
    return silent;
}

CrepeTrack track_crepe(const float* x, std::size_t n, const MeasureNetwork& net, const CrepeConfig& cfg) {
    if (cfg.hop_length < 1 || !(cfg.fmin > 0) || !(cfg.fmax > cfg.fmin)) throw UsageError("CREPE: impossible configuration");
    const auto [lo, hi] = crepe_bin_range(cfg.fmin, cfg.fmax);
    const std::size_t frames = crepe_frames(n, cfg.hop_length), hop = static_cast<std::size_t>(cfg.hop_length);
    const std::size_t width = static_cast<std::size_t>(std::max(0, hi - lo));
    ViterbiPass pass(lo, hi);
    std::vector<float> kept(frames * width);  // the outputs inside the range, for the periodicity
    std::vector<float> batch;
    for (std::size_t f0 = 0; f0 < frames; f0 += cfg.batch_frames) {
        const std::size_t count = std::min(cfg.batch_frames, frames - f0);
        batch.resize(count * crepe::kWindow);
        for (std::size_t i = 0; i < count; ++i)
            std::copy_n(x + (f0 + i) * hop, crepe::kWindow, batch.begin() + static_cast<long>(i * crepe::kWindow));
        const std::vector<float> p = net.run(batch.data(), count);
        if (p.size() != count * kBins) throw ModelError(net.description() + ": returned " + std::to_string(p.size()) +
                                                        " values for " + std::to_string(count) + " frames");
        for (std::size_t i = 0; i < count; ++i) {
            const float* row = p.data() + i * kBins;
            pass.add(row);
            std::copy(row + lo, row + hi, kept.begin() + static_cast<long>((f0 + i) * width));
        }
    }
    const std::vector<int> bins = pass.finish();
    const std::vector<char> silent = crepe_silent_frames(x, n, cfg.hop_length, cfg.silence_db);
    CrepeTrack t;
    t.f0.resize(frames);
    t.periodicity.resize(frames);
    t.voiced.resize(frames);
    for (std::size_t f = 0; f < frames; ++f) {
        const int b = bins[f];
        t.f0[f] = bin_to_hz(b);
        // torchcrepe gathers from the probabilities it set to -inf outside the range
        const float p = b >= lo && b < hi ? kept[f * width + static_cast<std::size_t>(b - lo)]
                                          : -std::numeric_limits<float>::infinity();
        t.periodicity[f] = silent[f] ? 0.f : p;
        t.voiced[f] = !(t.periodicity[f] < cfg.unvoiced_below);
    }
    return t;
}

CrepeMeasures compare_crepe(const CrepeTrack& r, const CrepeTrack& e) {
    CrepeMeasures m;
    m.frames = std::min(r.frames(), e.frames());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    double cents2 = 0, per2 = 0;
    std::size_t tp = 0, fp = 0, fn = 0;
    for (std::size_t f = 0; f < m.frames; ++f) {
        const bool rv = r.voiced[f], ev = e.voiced[f];
        tp += rv && ev;
        fp += !rv && ev;
        fn += rv && !ev;
        if (rv && ev) {
            const double c = 1200.0 * (std::log2(r.f0[f]) - std::log2(e.f0[f]));
            cents2 += c * c;
        }
        const double d = static_cast<double>(e.periodicity[f]) - r.periodicity[f];
        per2 += d * d;
    }
    m.voiced_both = tp;
    m.f0_rmse_cents = tp ? std::sqrt(cents2 / static_cast<double>(tp)) : nan;
    m.periodicity_rmse = m.frames ? std::sqrt(per2 / static_cast<double>(m.frames)) : nan;
    m.vuv_f1 = tp + fp + fn ? 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn) : nan;
    return m;
}

std::shared_ptr<const MeasureNetwork> load_crepe_network(const std::string& path, const std::string& device) {
    return load_measure_network({path, "crepe", device, crepe::kWindow, crepe::kBins});
}

}  // namespace ldmrecon
