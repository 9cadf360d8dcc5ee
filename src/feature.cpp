#include "ldmrecon/feature.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>

#include "ldmrecon/errors.hpp"
#include "fft_plans.hpp"
#include "measure_kernels.hpp"

namespace ldmrecon {

namespace {

constexpr double kPi = 3.14159265358979323846;


// ref: librosa core/convert.py hz_to_mel / mel_to_hz with htk=False (Slaney): linear below 1 kHz
// (200/3 Hz per mel), logarithmic above with step ln(6.4)/27.
constexpr double kFSp = 200.0 / 3.0;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFSp;  // 15
const double kLogStep = std::log(6.4) / 27.0;

double hz_to_mel(double hz) {
    return hz >= kMinLogHz ? kMinLogMel + std::log(hz / kMinLogHz) / kLogStep : hz / kFSp;
}
double mel_to_hz(double mel) {
    return mel >= kMinLogMel ? kMinLogHz * std::exp(kLogStep * (mel - kMinLogMel)) : kFSp * mel;
}

// numpy.pad(mode="reflect") index for any i, also for pads longer than the signal.
std::size_t reflect_index(long long i, std::size_t n) {
    if (n == 1) return 0;
    const long long period = 2 * (static_cast<long long>(n) - 1);
    i %= period;
    if (i < 0) i += period;
    if (i >= static_cast<long long>(n)) i = period - i;
    return static_cast<std::size_t>(i);
}

}  // namespace

std::mutex& fftw_planner_mutex() {
    static std::mutex m;
    return m;
}

namespace fft {

namespace {
enum class Kind { r2c, c2r, c2c_forward };

fftw_plan cached_plan(int n, Kind kind) {
    static std::map<std::pair<int, Kind>, fftw_plan> plans;  // never destroyed: they live as long as the process
    const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    fftw_plan& p = plans[{n, kind}];
    if (!p) {
        double* r = fftw_alloc_real(static_cast<std::size_t>(n));
        fftw_complex* c = fftw_alloc_complex(static_cast<std::size_t>(n));
        fftw_complex* d = fftw_alloc_complex(static_cast<std::size_t>(n));
        p = kind == Kind::r2c   ? fftw_plan_dft_r2c_1d(n, r, c, FFTW_ESTIMATE)
            : kind == Kind::c2r ? fftw_plan_dft_c2r_1d(n, c, r, FFTW_ESTIMATE)
                                : fftw_plan_dft_1d(n, c, d, FFTW_FORWARD, FFTW_ESTIMATE);
        fftw_free(r);
        fftw_free(c);
        fftw_free(d);
    }
    return p;
}
}  // namespace

fftw_plan r2c(int n) { return cached_plan(n, Kind::r2c); }
fftw_plan c2r(int n) { return cached_plan(n, Kind::c2r); }
fftw_plan c2c_forward(int n) { return cached_plan(n, Kind::c2c_forward); }

fftwf_plan split_c2c_single(int n) {
    static std::map<int, fftwf_plan> plans;  // as cached_plan's: kept for the process
    const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    fftwf_plan& p = plans[n];
    if (!p) {
        float* a[4];
        for (float*& v : a) v = fftwf_alloc_real(static_cast<std::size_t>(n));
        const fftwf_iodim dim{n, 1, 1};
        p = fftwf_plan_guru_split_dft(1, &dim, 0, nullptr, a[0], a[1], a[2], a[3], FFTW_ESTIMATE);
        for (float* v : a) fftwf_free(v);
    }
    return p;
}

}  // namespace fft

MelScale parse_mel_scale(const std::string& name) {
    for (MelScale s : {MelScale::ln, MelScale::db, MelScale::db_percentile, MelScale::db_zscore, MelScale::db_tanh})
        if (name == mel_scale_name(s)) return s;
    throw UsageError("unknown mel scale '" + name + "' (use ln, db, db-percentile, db-zscore or db-tanh)");
}

const char* mel_scale_name(MelScale s) {
    switch (s) {
        case MelScale::ln: return "ln";
        case MelScale::db: return "db";
        case MelScale::db_percentile: return "db-percentile";
        case MelScale::db_zscore: return "db-zscore";
        case MelScale::db_tanh: return "db-tanh";
    }
    return "?";
}

double mel_band_position(const FeatureConfig& cfg, double hz) {
    const double lo = hz_to_mel(cfg.fmin), hi = hz_to_mel(cfg.fmax);
    return (hz_to_mel(hz) - lo) / (hi - lo) * (cfg.n_mels + 1) - 1.0;
}

Matrix mel_filterbank(const FeatureConfig& cfg) {
    // ref: librosa filters.py mel(): triangular filters between n_mels + 2 mel-spaced edges, computed in
    // double and stored as float32, with Slaney area normalisation 2 / (f[i+2] - f[i]).
    const int n_bins = cfg.n_bins();
    const int n_mels = cfg.n_mels;
    std::vector<double> fftfreqs(n_bins);
    for (int k = 0; k < n_bins; ++k) fftfreqs[k] = k * (cfg.sample_rate / 2.0) / (n_bins - 1);
    const double mlo = hz_to_mel(cfg.fmin), mhi = hz_to_mel(cfg.fmax);
    std::vector<double> mel_f(n_mels + 2);
    for (int i = 0; i < n_mels + 2; ++i) mel_f[i] = mel_to_hz(mlo + (mhi - mlo) * i / (n_mels + 1));
    Matrix w(n_mels, n_bins);
    for (int i = 0; i < n_mels; ++i) {
        const double fd0 = mel_f[i + 1] - mel_f[i], fd1 = mel_f[i + 2] - mel_f[i + 1];
        const double enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (int k = 0; k < n_bins; ++k) {
            const double lower = -(mel_f[i] - fftfreqs[k]) / fd0;
            const double upper = (mel_f[i + 2] - fftfreqs[k]) / fd1;
            w.at(i, k) = static_cast<float>(std::max(0.0, std::min(lower, upper)) * enorm);
        }
    }
    return w;
}

std::vector<double> stft_window(int n_fft, int win_length) {
    // ref: scipy.signal.get_window("hann", win_length, fftbins=True), centred by librosa util.pad_center
    std::vector<double> w(n_fft, 0.0);
    const int off = (n_fft - win_length) / 2;
    for (int n = 0; n < win_length; ++n) w[off + n] = 0.5 - 0.5 * std::cos(2.0 * kPi * n / win_length);
    return w;
}

// The transform runs in double precision: float32 rounding in a 1024-point FFT reaches ~1e-4 relative
// to the frame's loudest bin, which shows as up to 6e-4 ln units in quiet mel bands.
struct Stft::Plan {
    fftw_plan plan = nullptr;  // the process's cached plan (fft_plans.hpp)
};

Stft::Stft(int n_fft, int hop_length, int win_length)
    : n_fft_(n_fft),
      hop_(hop_length),
      win_lo_((n_fft - win_length) / 2),
      win_hi_(win_lo_ + win_length),
      window_(stft_window(n_fft, win_length)),
      window_single_(window_.begin(), window_.end()),
      plan_(std::make_unique<Plan>()) {
    if (n_fft < 2 || hop_length < 1 || win_length < 1 || win_length > n_fft)
        throw UsageError("invalid STFT settings (n_fft " + std::to_string(n_fft) + ", hop " +
                         std::to_string(hop_length) + ", win " + std::to_string(win_length) + ")");
    plan_->plan = fft::r2c(n_fft);
}

Stft::~Stft() = default;

Matrix Stft::magnitude(const float* x, std::size_t n) const { return magnitude(x, n, 0, 1 + n / hop_); }

Stft::Span Stft::span_of(std::size_t t, std::size_t n) const {
    const long long start = static_cast<long long>(t) * hop_ - n_fft_ / 2 + win_lo_;
    return {start, start >= 0 && start + (win_hi_ - win_lo_) <= static_cast<long long>(n)};
}

void Stft::check_owner(const Stft* owner) const {
    if (owner != this) throw std::logic_error("Stft: a scratch serves only the Stft it was made for");
}

// Both scratches are zeroed once: the frames write only the window's span (MR-STFT's 600 of 1024), and the
// zeros around it stay.
Stft::Scratch::Scratch(const Stft& stft)
    : owner_(&stft),
      in_(fftw_alloc_real(stft.n_fft_)),
      out_(reinterpret_cast<double*>(fftw_alloc_complex(stft.n_fft_ / 2 + 1))) {
    std::fill(in_, in_ + stft.n_fft_, 0.0);
}

Stft::Scratch::~Scratch() {
    fftw_free(in_);
    fftw_free(out_);
}

void Stft::frame_power(const float* x, std::size_t n, std::size_t t, Scratch& s, double* power) const {
    check_owner(s.owner_);
    const Span span = span_of(t, n);
    const int width = win_hi_ - win_lo_;
    double* in = s.in_ + win_lo_;
    const double* w = window_.data() + win_lo_;
    if (span.inside) {
        kernels::windowed(x + span.start, w, in, static_cast<std::size_t>(width));
    } else {
        for (int k = 0; k < width; ++k) in[k] = static_cast<double>(x[reflect_index(span.start + k, n)]) * w[k];
    }
    // new-array execute: one plan, per-thread buffers, so concurrent calls on one Stft are safe.
    fftw_execute_dft_r2c(plan_->plan, s.in_, reinterpret_cast<fftw_complex*>(s.out_));
    kernels::power_spectrum(s.out_, power, static_cast<std::size_t>(n_bins()));
}

Stft::PairScratch::PairScratch(const Stft& stft) : owner_(&stft), plan_(fft::split_c2c_single(stft.n_fft_)) {
    for (float*& v : buffers_) v = fftwf_alloc_real(static_cast<std::size_t>(stft.n_fft_));
    std::fill(buffers_[0], buffers_[0] + stft.n_fft_, 0.f);
    std::fill(buffers_[1], buffers_[1] + stft.n_fft_, 0.f);
}

Stft::PairScratch::~PairScratch() {
    for (float* v : buffers_) fftwf_free(v);
}

void Stft::frame_power_pair(const float* x, const float* y, std::size_t n, std::size_t t, PairScratch& s,
                            float* power_x, float* power_y) const {
    check_owner(s.owner_);
    const Span span = span_of(t, n);
    const int width = win_hi_ - win_lo_;
    float *re = s.buffers_[0] + win_lo_, *im = s.buffers_[1] + win_lo_;
    const float* w = window_single_.data() + win_lo_;
    if (span.inside) {
        kernels::windowed_pair(x + span.start, y + span.start, w, re, im, static_cast<std::size_t>(width));
    } else {
        for (int k = 0; k < width; ++k) {
            const std::size_t i = reflect_index(span.start + k, n);
            re[k] = x[i] * w[k];
            im[k] = y[i] * w[k];
        }
    }
    fftwf_execute_split_dft(s.plan_, s.buffers_[0], s.buffers_[1], s.buffers_[2], s.buffers_[3]);
    kernels::pair_power_spectra(s.buffers_[2], s.buffers_[3], static_cast<std::size_t>(n_fft_), power_x, power_y);
}

Matrix Stft::magnitude(const float* x, std::size_t n, std::size_t first, std::size_t count) const {
    if (n == 0) throw InputError("cannot take the STFT of an empty signal");
    const std::size_t total = frames(n);
    first = std::min(first, total);
    const std::size_t rows = std::min(count, total - first);
    const int bins = n_bins();
    Matrix mag(rows, bins);
    Scratch scratch(*this);
    std::vector<double> power(bins);
    for (std::size_t t = 0; t < rows; ++t) {
        frame_power(x, n, first + t, scratch, power.data());
        kernels::magnitudes(power.data(), mag.row(t), static_cast<std::size_t>(bins));
    }
    return mag;
}

LogMel::LogMel(const FeatureConfig& cfg)
    : cfg_(cfg), stft_(cfg.n_fft, cfg.hop_length, cfg.win_length), basis_(mel_filterbank(cfg)) {
    support_.resize(cfg.n_mels);
    for (int i = 0; i < cfg.n_mels; ++i) {
        int lo = 0, hi = 0;
        for (int k = 0; k < cfg.n_bins(); ++k)
            if (basis_.at(i, k) != 0.f) {
                if (hi == 0) lo = k;
                hi = k + 1;
            }
        support_[i] = {lo, hi};
    }
}

Matrix LogMel::mel_energies(const Matrix& mag, bool power) const {
    Matrix mel(mag.rows, cfg_.n_mels);
    std::vector<double> spec(mag.cols);
    for (std::size_t t = 0; t < mag.rows; ++t) {
        const float* m = mag.row(t);
        for (std::size_t k = 0; k < mag.cols; ++k) spec[k] = power ? static_cast<double>(m[k]) * m[k] : m[k];
        for (int i = 0; i < cfg_.n_mels; ++i) {
            const float* b = basis_.row(i);
            double acc = 0.0;
            for (int k = support_[i].first; k < support_[i].second; ++k) acc += static_cast<double>(b[k]) * spec[k];
            mel.at(t, i) = static_cast<float>(acc);
        }
    }
    return mel;
}

Matrix LogMel::compute(const float* x, std::size_t n) const {
    // The magnitude spectrogram is 8x the size of the mel one (513 vs 64 values a frame): take it in
    // blocks of frames, so an hour of audio never holds it whole.
    constexpr std::size_t kBlock = 1024;
    const bool db = is_db_family(cfg_.scale);
    const std::size_t frames = cfg_.frames(n);
    Matrix mel(frames, static_cast<std::size_t>(cfg_.n_mels));
    for (std::size_t f = 0; f < frames; f += kBlock) {
        const Matrix part = mel_energies(stft_.magnitude(x, n, f, kBlock), db);
        std::copy(part.data.begin(), part.data.end(), mel.row(f));
    }
    compress(mel);
    return mel;
}

Matrix LogMel::from_magnitude(const Matrix& magnitude) const {
    Matrix mel = mel_energies(magnitude, is_db_family(cfg_.scale));
    compress(mel);
    return mel;
}

void LogMel::compress(Matrix& mel) const {
    if (cfg_.scale == MelScale::ln) {
        // ref: AudioLDM2 audio_processing.py dynamic_range_compression: log(clamp(x, min=1e-5))
        const float fl = static_cast<float>(cfg_.floor);
        for (float& v : mel.data) v = std::log(std::max(v, fl));
        return;
    }
    // ref: librosa core/spectrum.py power_to_db(S, ref=np.max, amin=1e-10, top_db=80)
    const float amin = 1e-10f;
    const float ref = *std::max_element(mel.data.begin(), mel.data.end());
    const float ref_db = 10.f * std::log10(std::max(amin, ref));
    float top = -INFINITY;
    for (float& v : mel.data) {
        v = 10.f * std::log10(std::max(amin, v)) - ref_db;
        top = std::max(top, v);
    }
    for (float& v : mel.data) v = std::max(v, top - 80.f);
    normalise_db(mel.data, cfg_.scale);
}

void normalise_db(std::vector<float>& db, MelScale scale) {
    if (db.empty()) return;
    if (scale == MelScale::db_tanh) {
        for (float& v : db) v = std::tanh(v / 40.f);  // ref: notes, np.tanh(mel_db / 40)
    } else if (scale == MelScale::db_zscore) {
        // ref: notes, (mel_db - mel_db.mean()) / mel_db.std(): numpy's population std (ddof=0)
        double sum = 0, sq = 0;
        for (float v : db) sum += v;
        const double mean = sum / static_cast<double>(db.size());
        for (float v : db) sq += (v - mean) * (v - mean);
        const double sd = std::sqrt(sq / static_cast<double>(db.size()));
        for (float& v : db) v = static_cast<float>((v - mean) / sd);
    } else if (scale == MelScale::db_percentile) {
        // ref: notes, np.percentile(mel_db, [1, 99]) (linear interpolation between the sorted values at
        // rank q / 100 * (n - 1)), then (mel_db - p1) / (p99 - p1)
        std::vector<float> sorted = db;
        std::sort(sorted.begin(), sorted.end());
        auto pct = [&sorted](double q) {
            const double r = q / 100.0 * static_cast<double>(sorted.size() - 1);
            const std::size_t lo = static_cast<std::size_t>(std::floor(r));
            const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
            return sorted[lo] + (r - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
        };
        const double p1 = pct(1), p99 = pct(99);
        for (float& v : db) v = static_cast<float>((v - p1) / (p99 - p1));
    }
}

Gain waveform_gain(const std::vector<float>& x) {
    Gain g;
    if (x.empty()) return g;
    double sum = 0.0;
    for (float v : x) sum += v;
    g.mean = sum / static_cast<double>(x.size());
    double peak = 0.0;
    for (float v : x) peak = std::max(peak, std::abs(v - g.mean));
    // ref: AudioLDM2 dataset.py normalize_wav: x - mean, / (max|x| + 1e-8), * 0.5
    g.scale = 0.5 / (peak + 1e-8);
    return g;
}

Gain normalise_waveform(std::vector<float>& x) {
    const Gain g = waveform_gain(x);
    if (x.empty()) return g;
    for (float& v : x) v = static_cast<float>((v - g.mean) * g.scale);
    return g;
}

void restore_level(std::vector<float>& y, const Gain& g) {
    for (float& v : y) v = static_cast<float>(v / g.scale + g.mean);
}

}  // namespace ldmrecon
