// The bounds ldmrecon holds every input, option and file to, in one place, with the reasons (docs/batches.md,
// "Limits"). A value outside them is refused with one line before any work starts, never run for hours or
// allocated until the machine runs out of memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ldmrecon::limits {

// Sample rates read or written. 1 kHz: below it nothing of the models' 0–8 kHz band is left (the lowest
// rate in use is 8 kHz telephony). 768 kHz: the highest rate audio converters and DAWs offer (DXD ×2).
constexpr int kMinSampleRate = 1000;
constexpr int kMaxSampleRate = 768000;
// The rate `metrics` and `pitch` compare at: the pitch tracker searches up to 1000 Hz (singing,
// children), which needs a Nyquist frequency at least that high.
constexpr int kMinMeasureSampleRate = 2000;
// Griffin-Lim iterations: the fast variant's spectral convergence stops improving after a few hundred
// (Perraudin et al. 2013); 1000 already takes about half an hour per hour of audio here, and a million is
// a typo that would run for weeks.
constexpr int kMaxGriffinLimIterations = 1000;
// Frames per VAE pass: 16× AudioLDM2's 1024-frame training clip (164 s); the attention's work grows with
// the square of it, and quality beyond the training length is unknown anyway.
constexpr int kMaxWindowFrames = 16384;
constexpr int kMaxBatchSize = 1024;
// A delay search window of ±10 s (a lag is a vocoder's delay: milliseconds).
constexpr double kMaxLagMs = 10000.0;

// A VAE's latent scaling factor (export metadata, latent files): published ones are 0.18–1.0 or so; outside
// 1e-4..1e4 decode divides the latents into overflow or nothing.
constexpr double kMinScalingFactor = 1e-4;
constexpr double kMaxScalingFactor = 1e4;
// A clip's level (latent files): encode writes scale = 0.5 / (peak + 1e-8) for peaks of 5e-10 to 5e11
// full scale and the signal's mean as the offset; outside these a decode turns every sample into inf or 0.
constexpr double kMinGainScale = 1e-12;
constexpr double kMaxGainScale = 1e9;
constexpr double kMaxGainMean = 1e12;

// Resident bytes a run needs per sample of audio at the model rate, held for the run: the input and the
// output, the input's and the decoded log-mel, STOI's 10 kHz copies and the stitching buffers. Measured:
// docs/batches.md "Long audio" (1.3 GB per hour at 16 kHz = 23 B a sample); rounded up for safety.
constexpr std::uint64_t kBytesPerModelSample = 32;
// What a run needs besides (the models' working memory for one window, libraries): a floor, not a bound.
constexpr std::uint64_t kBaseBytes = 512ull << 20;

// The memory a run may plan to use: --max-memory / $LDMRECON_MAX_MEMORY when set, else the machine's
// physical memory. Process-wide; set once by the command line.
std::uint64_t memory_limit();
void set_memory_limit(std::uint64_t bytes);
std::uint64_t physical_memory();
// "64G", "512M", "2000000" (bytes; K, M, G, T are powers of 1024). Throws UsageError naming `what`.
std::uint64_t parse_size(const std::string& text, const std::string& what);
std::string format_bytes(std::uint64_t bytes);  // "1.6 GB"
std::string short_number(double v);             // "%g": 1e+30, 0.0001, 16000, never 300 digits

// Throws InputError "`path`: <what> needs about N GB, more than ..." when `bytes` exceeds memory_limit(),
// saying how to raise the limit. `what` describes the work, e.g. "4.7 h of audio at 16000 Hz".
void check_memory(const std::string& path, const std::string& what, std::uint64_t bytes);
// The same for a signal of `samples` at the model rate `rate`: the whole run's estimate.
void check_audio_memory(const std::string& path, std::uint64_t samples, int rate);

// The CPU threads this machine has (at least 1).
int hardware_threads();

}  // namespace ldmrecon::limits
