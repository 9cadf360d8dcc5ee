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

namespace {

// An open libsndfile handle, closed on every path out.
struct SndFile {
    SNDFILE* f = nullptr;
    SF_INFO info{};
    explicit SndFile(const std::string& path) {
        std::error_code ec;
        if (!fs::exists(path, ec)) throw InputError(path + ": no such file");
        if (fs::is_directory(path, ec)) throw InputError(path + ": is a directory, not an audio file");
        f = sf_open(path.c_str(), SFM_READ, &info);
        if (!f) throw InputError(path + ": not a readable audio file (libsndfile: " + sf_strerror(nullptr) + ")");
        if (info.frames <= 0 || info.channels <= 0) {
            sf_close(f);
            throw InputError(path + ": holds no audio samples");
        }
        if (info.samplerate <= 0) {
            sf_close(f);
            throw InputError(path + ": invalid sample rate " + std::to_string(info.samplerate));
        }
    }
    ~SndFile() { sf_close(f); }
    SndFile(const SndFile&) = delete;
    SndFile& operator=(const SndFile&) = delete;
};

void check_finite(const std::string& path, const float* x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) throw InputError(path + ": contains NaN or infinite samples");
}

}  // namespace

AudioBuffer read_audio(const std::string& path) {
    SndFile sf(path);
    AudioBuffer out;
    out.sample_rate = sf.info.samplerate;
    out.channels = sf.info.channels;
    // Integer files map to [-1, 1); float files are kept as they are.
    out.samples.resize(static_cast<std::size_t>(sf.info.frames) * static_cast<std::size_t>(sf.info.channels));
    const sf_count_t got = sf_readf_float(sf.f, out.samples.data(), sf.info.frames);
    if (got <= 0) throw InputError(path + ": holds no audio samples");
    out.samples.resize(static_cast<std::size_t>(got) * static_cast<std::size_t>(sf.info.channels));
    check_finite(path, out.samples.data(), out.samples.size());
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
    // Block by block: read, average the channels, resample (soxr's streaming form of the same HQ
    // resampler), so a long multichannel file is never held whole at its own rate.
    SndFile sf(path);
    MonoAudio m;
    m.source_rate = sf.info.samplerate;
    m.source_channels = sf.info.channels;
    m.sample_rate = rate;
    const std::size_t C = static_cast<std::size_t>(sf.info.channels);
    const bool convert = m.source_rate != rate;
    soxr_t soxr = nullptr;
    if (convert) {
        soxr_error_t err = nullptr;
        const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);  // ref: librosa res_type="soxr_hq"
        const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        soxr = soxr_create(m.source_rate, rate, 1, &err, &io, &q, nullptr);
        if (err) throw Error(ExitCode::internal, std::string("resampler: ") + err);
        m.samples.reserve(static_cast<std::size_t>(static_cast<double>(sf.info.frames) * rate / m.source_rate) + 16);
    } else {
        m.samples.reserve(static_cast<std::size_t>(sf.info.frames));
    }
    struct SoxrGuard {
        soxr_t s;
        ~SoxrGuard() { if (s) soxr_delete(s); }
    } guard{soxr};
    constexpr std::size_t kBlock = 1 << 16;
    std::vector<float> block(kBlock * C), mono(kBlock), out;
    const double ratio = static_cast<double>(rate) / m.source_rate;
    auto push = [&](const float* in, std::size_t n) {
        if (!convert) {
            m.samples.insert(m.samples.end(), in, in + n);
            return;
        }
        out.resize(static_cast<std::size_t>(n * ratio) + 64);
        std::size_t used = 0, made = 0;
        const float* p = in;
        std::size_t left = n;
        do {  // soxr may take the input in parts; null input flushes
            soxr_error_t err = soxr_process(soxr, in ? p : nullptr, left, &used, out.data(), out.size(), &made);
            if (err) throw Error(ExitCode::internal, std::string("resampler: ") + err);
            m.samples.insert(m.samples.end(), out.begin(), out.begin() + static_cast<long>(made));
            if (in) {
                p += used;
                left -= used;
            }
        } while ((in && left > 0) || (!in && made > 0));
    };
    sf_count_t got;
    while ((got = sf_readf_float(sf.f, block.data(), static_cast<sf_count_t>(kBlock))) > 0) {
        const std::size_t n = static_cast<std::size_t>(got);
        check_finite(path, block.data(), n * C);
        for (std::size_t i = 0; i < n; ++i) {
            double acc = 0.0;
            for (std::size_t ch = 0; ch < C; ++ch) acc += block[i * C + ch];
            mono[i] = static_cast<float>(acc / static_cast<double>(C));
        }
        push(mono.data(), n);
        m.source_frames += n;
    }
    if (m.source_frames == 0) throw InputError(path + ": holds no audio samples");
    if (convert) push(nullptr, 0);
    // The one-shot length, round(n * ratio), whatever the resampler's flush produced.
    m.samples.resize(std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(m.source_frames * ratio))), 0.f);
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
    if (!f) {
        clear_pending_temp();
        throw OutputError(path + ": cannot write (" + sf_strerror(nullptr) + ")");
    }
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
        clear_pending_temp();
        throw OutputError(path + ": write failed (disk full?)");
    }
    commit_temp(tmp, path);
    return clipped;
}

}  // namespace ldmrecon
