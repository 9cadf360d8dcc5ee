// Audio files in and out (libsndfile), downmix and resampling (libsoxr).
// Samples are float in [-1, 1]. Nothing here is thread-hostile: each call owns its handles.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ldmrecon {

// Interleaved samples as read from a file.
struct AudioBuffer {
    std::vector<float> samples;  // frames * channels, interleaved
    int sample_rate = 0;         // Hz
    int channels = 0;
    std::size_t frames() const { return channels > 0 ? samples.size() / static_cast<std::size_t>(channels) : 0; }
    double seconds() const { return sample_rate > 0 ? static_cast<double>(frames()) / sample_rate : 0.0; }
};

// Throws InputError naming `path` unless it is an existing regular file: a folder, a FIFO or a device is
// refused before anything opens it (a FIFO with no writer would block for ever). For what must be a file
// (lists, models, reports, latent files); audio inputs may also be streams (streams.hpp).
void check_input_file(const std::string& path);

// Reads any file libsndfile reads. Throws InputError (naming the file) when it is missing, not audio,
// or holds no samples.
AudioBuffer read_audio(const std::string& path);

// Average of the channels (SPEC.md 1: downmix by averaging).
std::vector<float> downmix(const AudioBuffer& audio);

// High-quality resampling (soxr HQ, librosa's default). Returns the input unchanged when the rates match.
// Output length is round(n * to / from), as soxr's one-shot call gives.
std::vector<float> resample(const std::vector<float>& mono, int from_rate, int to_rate);

// A file brought to the model's rate, mono, with what it was before.
struct MonoAudio {
    std::vector<float> samples;  // at `sample_rate`
    int sample_rate = 0;
    int source_rate = 0;
    int source_channels = 0;
    std::size_t source_frames = 0;
    double seconds() const { return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0.0; }
};

// Reads, downmixes and resamples to `rate`: what every pipeline wants. Refuses, before reading, a rate
// outside limits::kMinSampleRate..kMaxSampleRate and a length whose run would exceed the memory limit.
MonoAudio read_mono(const std::string& path, int rate);

// What an existing output is, for --skip-existing: audio libsndfile reads whole (done), an empty file or
// audio whose header promises more than the file holds (an interrupted writer's: to be redone), or
// something else (not ours to replace: left alone).
enum class ExistingOutput { complete, empty, truncated, not_audio };
ExistingOutput inspect_existing_output(const std::string& path);

enum class SampleFormat { pcm16, pcm24, float32 };
SampleFormat parse_sample_format(const std::string& name);  // "pcm16" | "pcm24" | "float"

// Throws UsageError naming `path` unless write_wav can write it: the container its extension names
// (.flac .ogg .opus .aif(f) .caf .w64 .rf64 .au .mp3; WAV for .wav, "-" and any other name) with `format`
// at `sample_rate`. Checked before any work, so a run does not fail at its first write.
void check_audio_output(const std::string& path, SampleFormat format, int sample_rate);
// The libsndfile format (SF_FORMAT_*) check_audio_output settles on for `path`.
int sndfile_output_format(const std::string& path, SampleFormat format, int sample_rate);

// Writes mono audio atomically, in the container `path`'s extension names (check_audio_output; lossy
// ones take their codec and ignore `format`): to a temporary file beside `path`, then renamed over it,
// so no reader ever sees a half-written file ("-": a WAV on standard output; /dev/null: nothing).
// Returns the number of samples clipped to [-1, 1] (all but float output).
std::size_t write_wav(const std::string& path, const std::vector<float>& mono, int sample_rate,
                      SampleFormat format = SampleFormat::pcm16);

}  // namespace ldmrecon
