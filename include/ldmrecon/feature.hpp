// The AudioLDM2 log-mel feature ("fbank", SPEC.md section 1), computed with FFTW.
#pragma once

#include <cstddef>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

struct fftw_plan_s;  // FFTW's plan type (fftw_plan is a pointer to it), without FFTW's header
struct fftwf_plan_s;  // single precision

namespace ldmrecon {

// A dense row-major matrix of floats: rows are frames (time first), columns are bins.
struct Matrix {
    std::vector<float> data;
    std::size_t rows = 0, cols = 0;
    Matrix() = default;
    Matrix(std::size_t r, std::size_t c, float v = 0.f) : data(r * c, v), rows(r), cols(c) {}
    float* row(std::size_t r) { return data.data() + r * cols; }
    const float* row(std::size_t r) const { return data.data() + r * cols; }
    float& at(std::size_t r, std::size_t c) { return data[r * cols + c]; }
    float at(std::size_t r, std::size_t c) const { return data[r * cols + c]; }
};

// How the mel energies are compressed.
enum class MelScale {
    ln,  // ln(max(mel(|X|), floor)): the feature AudioLDM2 was trained on
    db,  // 10*log10(mel(|X|^2)) relative to its maximum, 80 dB range: the original notes' feature,
         // librosa.power_to_db(melspectrogram(power=2), ref=np.max). For comparison only.
    // The notes' three normalisations of that dB feature (shared/docs/notes/improvement-directions, "3."),
    // over the whole feature computed at once (per window in the pipeline). For the ablation only.
    db_percentile,  // (db - p1) / (p99 - p1), numpy's linear-interpolation percentiles
    db_zscore,      // (db - mean) / std (population std, numpy's default)
    db_tanh,        // tanh(db / 40)
};
// Applies a db-family normalisation (nothing for ln and db) to dB values, as the notes wrote it.
void normalise_db(std::vector<float>& db, MelScale scale);
// "ln" | "db" | "db-percentile" | "db-zscore" | "db-tanh"
MelScale parse_mel_scale(const std::string& name);
const char* mel_scale_name(MelScale s);
// Every scale but ln starts from the power mel in dB.
inline bool is_db_family(MelScale s) { return s != MelScale::ln; }

struct FeatureConfig {
    // ref: AudioLDM2 audioldm2/utils.py default_audioldm_config (preprocessing.stft / .mel)
    int sample_rate = 16000;
    int n_fft = 1024;
    int win_length = 1024;
    int hop_length = 160;
    int n_mels = 64;
    double fmin = 0.0;
    double fmax = 8000.0;
    double floor = 1e-5;  // ref: AudioLDM2 audio/audio_processing.py dynamic_range_compression, clip_val
    MelScale scale = MelScale::ln;

    int n_bins() const { return n_fft / 2 + 1; }
    // 1 + floor(n / hop): librosa's center=True frame count.
    std::size_t frames(std::size_t n_samples) const { return 1 + n_samples / static_cast<std::size_t>(hop_length); }
};

// librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax) with htk=False, norm="slaney": [n_mels, n_bins].
Matrix mel_filterbank(const FeatureConfig& cfg);

// Where `hz` falls on the band axis: band i's centre is at i (fractional between centres; -1 is fmin and
// n_mels is fmax). For axis labels.
double mel_band_position(const FeatureConfig& cfg, double hz);

// Periodic Hann window of win_length, centred in n_fft (librosa/scipy get_window("hann", fftbins=True)).
std::vector<double> stft_window(int n_fft, int win_length);

// Magnitude STFT |X| with reflect padding of n_fft/2 on both sides (librosa center=True):
// [1 + n / hop, n_fft/2 + 1], time first. Plans are made once and reused across calls.
class Stft {
public:
    Stft(int n_fft, int hop_length, int win_length);
    ~Stft();
    Stft(const Stft&) = delete;
    Stft& operator=(const Stft&) = delete;
    Matrix magnitude(const float* x, std::size_t n) const;
    // Frames [first, first + count) of the same STFT (clipped to the signal's frames): long signals can
    // be analysed in blocks without holding the whole spectrogram.
    Matrix magnitude(const float* x, std::size_t n, std::size_t first, std::size_t count) const;

    // FFTW-aligned buffers for frame_power: one per thread, reused across frames, and only with the Stft
    // they were made for (they hold its window's zeros).
    class Scratch {
    public:
        explicit Scratch(const Stft& stft);
        ~Scratch();
        Scratch(const Scratch&) = delete;
        Scratch& operator=(const Scratch&) = delete;

    private:
        friend class Stft;
        const Stft* owner_;
        double* in_;   // zero outside the window's span, from construction on
        double* out_;  // interleaved complex
    };
    // |X_t|^2 of frame t alone, in double (n_fft/2 + 1 values into `power`): for measures that need the
    // power and would otherwise round |X| to float and square it again.
    void frame_power(const float* x, std::size_t n, std::size_t t, Scratch& scratch, double* power) const;
    // Buffers and the complex plan for frame_power_pair, as Scratch is for frame_power.
    class PairScratch {
    public:
        explicit PairScratch(const Stft& stft);
        ~PairScratch();
        PairScratch(const PairScratch&) = delete;
        PairScratch& operator=(const PairScratch&) = delete;

    private:
        friend class Stft;
        const Stft* owner_;
        fftwf_plan_s* plan_;  // the process's cached single-precision split complex plan of size n_fft (fft_plans.hpp)
        // n_fft floats each: the transform's input, x's frame (real parts) and y's (imaginary), then its output
        float* buffers_[4];
    };
    // frame_power of frame t of two signals of n samples at once, from one single-precision complex
    // transform of x + iy (under half the time of two double real ones with Debian's FFTW). Equal to two
    // frame_power calls up to float rounding, relative to the pair's loudest bin: for MR-STFT's sums, whose
    // value it moves by about 1e-8 relative; the model's feature keeps double (above).
    void frame_power_pair(const float* x, const float* y, std::size_t n, std::size_t t, PairScratch& scratch,
                          float* power_x, float* power_y) const;
    std::size_t frames(std::size_t n) const { return 1 + n / static_cast<std::size_t>(hop_); }
    int n_bins() const { return n_fft_ / 2 + 1; }
    int n_fft() const { return n_fft_; }
    int hop_length() const { return hop_; }

private:
    struct Plan;
    // Where frame t's window span starts in the signal, and whether it lies wholly inside (no reflection).
    struct Span {
        long long start;
        bool inside;
    };
    Span span_of(std::size_t t, std::size_t n) const;
    void check_owner(const Stft* owner) const;
    int n_fft_, hop_;
    int win_lo_, win_hi_;  // the window's non-zero span (a win_length window centred in n_fft)
    std::vector<double> window_;
    std::vector<float> window_single_;  // window_ rounded, for frame_power_pair
    std::unique_ptr<Plan> plan_;
};

// The model's own feature: [frames, n_mels], time first, as fed to the VAE (after adding the batch and
// channel axes) and to the vocoder. Holds its STFT plan and mel basis; compute() may be called repeatedly.
class LogMel {
public:
    explicit LogMel(const FeatureConfig& cfg);
    Matrix compute(const float* x, std::size_t n) const;
    Matrix compute(const std::vector<float>& x) const { return compute(x.data(), x.size()); }
    // The feature from an already computed magnitude STFT (of this object's stft()). In db mode the
    // reference is the maximum of this block alone.
    Matrix from_magnitude(const Matrix& magnitude) const;
    // Mel energies (no compression) from a magnitude STFT; power=true squares |X| first.
    Matrix mel_energies(const Matrix& magnitude, bool power) const;
    const FeatureConfig& config() const { return cfg_; }
    const Stft& stft() const { return stft_; }

private:
    void compress(Matrix& mel_energies) const;  // ln with floor, or dB relative to the maximum
    FeatureConfig cfg_;
    Stft stft_;
    Matrix basis_;
    std::vector<std::pair<int, int>> support_;  // per band: first and one-past-last non-zero bin
};

// FFTW's planner (making and destroying plans) is not thread-safe, executing a plan is: every plan in
// ldmrecon is made and destroyed under this lock, so measures may run on many threads at once.
std::mutex& fftw_planner_mutex();

// The training recipe's waveform normalisation (SPEC.md 1): y = (x - mean) * scale,
// scale = 0.5 / (max|x - mean| + 1e-8). Keeping mean and scale lets the output return to the input's level.
struct Gain {
    double mean = 0.0;
    double scale = 1.0;
};
// ref: AudioLDM2 audioldm2/utilities/data/dataset.py normalize_wav
Gain normalise_waveform(std::vector<float>& x);
// The gain normalise_waveform would apply, without applying it.
Gain waveform_gain(const std::vector<float>& x);
void restore_level(std::vector<float>& y, const Gain& g);

}  // namespace ldmrecon
