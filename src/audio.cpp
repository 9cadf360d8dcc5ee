#include "ldmrecon/audio.hpp"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "ldmrecon/files.hpp"
#include "ldmrecon/errors.hpp"

namespace fs = std::filesystem;

namespace ldmrecon {

AudioBuffer read_audio(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw InputError(path + ": no such file");
    if (fs::is_directory(path, ec)) throw InputError(path + ": is a directory, not an audio file");
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (!f)
        throw InputError(path + ": not a readable audio file (libsndfile: " + sf_strerror(nullptr) + ")");
    AudioBuffer out;
    out.sample_rate = info.samplerate;
    out.channels = info.channels;
    if (info.frames <= 0 || info.channels <= 0) {
        sf_close(f);
        throw InputError(path + ": holds no audio samples");
    }
    if (info.samplerate <= 0) {
        sf_close(f);
        throw InputError(path + ": invalid sample rate " + std::to_string(info.samplerate));
    }
    // sf_command(SFC_SET_SCALE_FLOAT_INT_READ) keeps float files as they are; integer files map to [-1, 1).
    out.samples.resize(static_cast<std::size_t>(info.frames) * static_cast<std::size_t>(info.channels));
    const sf_count_t got = sf_readf_float(f, out.samples.data(), info.frames);
    sf_close(f);
    if (got <= 0) throw InputError(path + ": holds no audio samples");
    out.samples.resize(static_cast<std::size_t>(got) * static_cast<std::size_t>(info.channels));
    for (float v : out.samples)
        if (!std::isfinite(v)) throw InputError(path + ": contains NaN or infinite samples");
    return out;
}

std::vector<float> downmix(const AudioBuffer& audio) {
    const std::size_t n = audio.frames(), c = static_cast<std::size_t>(audio.channels);
    if (c == 1) return audio.samples;
    std::vector<float> mono(n);
    for (std::size_t i = 0; i < n; ++i) {
        double acc = 0.0;
        for (std::size_t ch = 0; ch < c; ++ch) acc += audio.samples[i * c + ch];
        mono[i] = static_cast<float>(acc / static_cast<double>(c));
    }
    return mono;
}

std::vector<float> resample(const std::vector<float>& mono, int from_rate, int to_rate) {
    if (from_rate == to_rate || mono.empty()) return mono;
    const double ratio = static_cast<double>(to_rate) / from_rate;
    const std::size_t out_len = static_cast<std::size_t>(std::llround(mono.size() * ratio));
    std::vector<float> out(std::max<std::size_t>(out_len, 1));
    std::size_t done = 0;
    // ref: librosa core/audio.py resample(res_type="soxr_hq"): soxr quality HQ
    const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_error_t err = soxr_oneshot(from_rate, to_rate, 1, mono.data(), mono.size(), nullptr, out.data(),
                                    out.size(), &done, &io, &q, nullptr);
    if (err) throw Error(ExitCode::internal, std::string("resampling failed (soxr: ") + err + ")");
    out.resize(std::max<std::size_t>(done, 1));
    return out;
}

MonoAudio read_mono(const std::string& path, int rate) {
    const AudioBuffer a = read_audio(path);
    MonoAudio m;
    m.source_rate = a.sample_rate;
    m.source_channels = a.channels;
    m.source_frames = a.frames();
    m.sample_rate = rate;
    m.samples = resample(downmix(a), a.sample_rate, rate);
    return m;
}

SampleFormat parse_sample_format(const std::string& name) {
    if (name == "pcm16") return SampleFormat::pcm16;
    if (name == "pcm24") return SampleFormat::pcm24;
    if (name == "float") return SampleFormat::float32;
    throw UsageError("unknown output format '" + name + "' (use pcm16, pcm24 or float)");
}

std::size_t write_wav(const std::string& path, const std::vector<float>& mono, int sample_rate,
                      SampleFormat format) {
    const std::string tmp = temp_path_for(path);
    SF_INFO info{};
    info.samplerate = sample_rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | (format == SampleFormat::pcm16   ? SF_FORMAT_PCM_16
                                   : format == SampleFormat::pcm24 ? SF_FORMAT_PCM_24
                                                                   : SF_FORMAT_FLOAT);
    SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
    if (!f) throw OutputError(path + ": cannot write (" + sf_strerror(nullptr) + ")");
    std::size_t clipped = 0;
    const float* data = mono.data();
    std::vector<float> clip;
    if (format != SampleFormat::float32) {
        clip = mono;
        for (float& v : clip)
            if (v > 1.f || v < -1.f) {
                v = std::clamp(v, -1.f, 1.f);
                ++clipped;
            }
        data = clip.data();
    }
    const sf_count_t n = static_cast<sf_count_t>(mono.size());
    const sf_count_t wrote = sf_writef_float(f, data, n);
    const int close_err = sf_close(f);
    if (wrote != n || close_err != 0) {
        std::remove(tmp.c_str());
        throw OutputError(path + ": write failed (disk full?)");
    }
    commit_temp(tmp, path);
    return clipped;
}

}  // namespace ldmrecon
