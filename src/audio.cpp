#include "ldmrecon/audio.hpp"

#include <sndfile.h>
#include <soxr.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cctype>
#include <cstring>
#include <filesystem>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/limits.hpp"
#include "ldmrecon/outputs.hpp"
#include "ldmrecon/streams.hpp"

namespace fs = std::filesystem;

namespace ldmrecon {

namespace {

// libsndfile's wording where it would puzzle a user.
std::string explain_sndfile_error(const std::string& msg) {
    if (msg.find("SF_INFO struct incomplete") != std::string::npos) return "its header gives a sample rate of 0 Hz";
    return "libsndfile: " + msg;
}

// A file in memory for libsndfile's virtual I/O: a stream read whole, or a WAV encoded for standard output.
struct MemoryFile {
    std::string bytes;
    sf_count_t pos = 0;
    static sf_count_t size(void* u) { return static_cast<sf_count_t>(static_cast<MemoryFile*>(u)->bytes.size()); }
    static sf_count_t seek(sf_count_t off, int whence, void* u) {
        auto* m = static_cast<MemoryFile*>(u);
        const sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : size(u);
        m->pos = std::max<sf_count_t>(0, base + off);
        return m->pos;
    }
    static sf_count_t read(void* p, sf_count_t n, void* u) {
        auto* m = static_cast<MemoryFile*>(u);
        const sf_count_t k = std::max<sf_count_t>(0, std::min(n, size(u) - m->pos));
        std::memcpy(p, m->bytes.data() + m->pos, static_cast<std::size_t>(k));
        m->pos += k;
        return k;
    }
    static sf_count_t write(const void* p, sf_count_t n, void* u) {
        auto* m = static_cast<MemoryFile*>(u);
        const std::size_t end = static_cast<std::size_t>(m->pos + n);
        if (m->bytes.size() < end) m->bytes.resize(end);
        std::memcpy(m->bytes.data() + m->pos, p, static_cast<std::size_t>(n));
        m->pos += n;
        return n;
    }
    static sf_count_t tell(void* u) { return static_cast<MemoryFile*>(u)->pos; }
};

// An open libsndfile handle, closed on every path out. Refuses what no run could use before reading a
// sample: not a regular file, a rate outside the limits, more audio than the memory limit holds.
struct SndFile {
    SNDFILE* f = nullptr;
    SF_INFO info{};
    MemoryFile stream;  // standard input or a FIFO, read whole (streams.hpp)
    SndFile(const std::string& path, int model_rate) {
        if (is_stream_input(path)) {
            open_stream(path);
        } else {
            check_input_file(path);
            f = sf_open(path.c_str(), SFM_READ, &info);
        }
        if (!f) throw InputError(path + ": not a readable audio file (" + explain_sndfile_error(sf_strerror(nullptr)) + ")");
        try {
            check_header(path, model_rate);
        } catch (...) {
            sf_close(f);
            throw;
        }
    }
    void check_header(const std::string& path, int model_rate) const {
        if (info.frames <= 0 || info.channels <= 0) throw InputError(path + ": holds no audio samples");
        if (info.samplerate < limits::kMinSampleRate || info.samplerate > limits::kMaxSampleRate)
            throw InputError(path + ": sample rate " + std::to_string(info.samplerate) + " Hz is outside " +
                             std::to_string(limits::kMinSampleRate) + " to " + std::to_string(limits::kMaxSampleRate) +
                             " Hz (a damaged header?); resample it with a tool that knows its real rate");
        // What the run will hold at the model rate (the channels are averaged block by block).
        const double out = static_cast<double>(info.frames) * (model_rate > 0 ? model_rate : info.samplerate) / info.samplerate;
        limits::check_audio_memory(path, out > 1.8e19 ? ~std::uint64_t{0} : static_cast<std::uint64_t>(out),
                                   model_rate > 0 ? model_rate : info.samplerate);
    }
    void open_stream(const std::string& path) {
        // A quarter of the memory limit for the encoded bytes: the decoded floats and the run need the rest.
        stream.bytes = read_stream(path, limits::memory_limit() / 4);
        if (stream.bytes.empty()) throw InputError((path == "-" ? std::string("standard input") : path) + ": holds no audio samples");
        const RawFormat& raw = raw_format();
        if (!raw.given()) fix_streamed_wav_lengths(stream.bytes);
        if (raw.given()) {  // headerless: the format the user said
            info.samplerate = raw.rate;
            info.channels = raw.channels;
            info.format = SF_FORMAT_RAW | raw_subtype(raw.encoding);
        }
        SF_VIRTUAL_IO io{MemoryFile::size, MemoryFile::seek, MemoryFile::read, MemoryFile::write, MemoryFile::tell};
        f = sf_open_virtual(&io, SFM_READ, &info, &stream);
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

void check_input_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw InputError(path + (errno == ENOENT ? ": no such file" : ": cannot be read (" + std::string(std::strerror(errno)) + ")"));
    if (S_ISDIR(st.st_mode)) throw InputError(path + ": is a folder, not a regular file");
    // A FIFO or a device could block for ever or never end: ldmrecon reads files of known length.
    if (!S_ISREG(st.st_mode))
        throw InputError(path + ": is " + file_kind(st.st_mode) +
                         "; ldmrecon reads regular files only (save the stream to a file first)");
}

ExistingOutput inspect_existing_output(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return ExistingOutput::not_audio;
    if (st.st_size == 0) return ExistingOutput::empty;
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (!f) return ExistingOutput::not_audio;
    // libsndfile reads a cut-off file and says so in its log: "data : 32000 (should be 15978)".
    char log[8192] = {0};
    sf_command(f, SFC_GET_LOG_INFO, log, sizeof log);
    sf_close(f);
    if (info.frames <= 0 || std::strstr(log, "should be")) return ExistingOutput::truncated;
    return ExistingOutput::complete;
}

AudioBuffer read_audio(const std::string& path) {
    SndFile sf(path, 0);
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
    SndFile sf(path, rate);
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
    bool any_source = false, any_mono = false;  // a non-zero sample in a channel, in the downmix
    while ((got = sf_readf_float(sf.f, block.data(), static_cast<sf_count_t>(kBlock))) > 0) {
        const std::size_t n = static_cast<std::size_t>(got);
        check_finite(path, block.data(), n * C);
        for (std::size_t i = 0; i < n; ++i) {
            double acc = 0.0;
            for (std::size_t ch = 0; ch < C; ++ch) acc += block[i * C + ch];
            mono[i] = static_cast<float>(acc / static_cast<double>(C));
            any_source |= block[i * C] != 0.f || (C > 1 && block[i * C + C - 1] != 0.f);
            any_mono |= mono[i] != 0.f;
        }
        push(mono.data(), n);
        m.source_frames += n;
    }
    if (m.source_frames == 0) throw InputError(path + ": holds no audio samples");
    if (any_source && !any_mono)
        throw InputError(path + ": its channels cancel when averaged to mono (antiphase?), so nothing is left to "
                         "measure; take one channel first (e.g. sox IN OUT remix 1)");
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

namespace {

int pcm_subtype(SampleFormat format) {
    return format == SampleFormat::pcm16 ? SF_FORMAT_PCM_16 : format == SampleFormat::pcm24 ? SF_FORMAT_PCM_24 : SF_FORMAT_FLOAT;
}

// libsndfile's format for an output named `path`: the container its extension names (WAV for "-", .wav
// and names libsndfile has no container for), with `format` as the sample type where the container
// stores PCM; lossy containers take their codec. Throws UsageError naming the path when libsndfile
// cannot write that combination.
int sndfile_format(const std::string& path, SampleFormat format, int rate) {
    std::string ext = is_standard_output(path) ? std::string() : fs::path(path).extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const int pcm = pcm_subtype(format);
    int f = SF_FORMAT_WAV | pcm;
    if (ext == ".flac") f = SF_FORMAT_FLAC | pcm;
    else if (ext == ".ogg" || ext == ".oga") f = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
    else if (ext == ".opus") f = SF_FORMAT_OGG | SF_FORMAT_OPUS;
    else if (ext == ".aif" || ext == ".aiff" || ext == ".aifc") f = SF_FORMAT_AIFF | pcm;
    else if (ext == ".caf") f = SF_FORMAT_CAF | pcm;
    else if (ext == ".w64") f = SF_FORMAT_W64 | pcm;
    else if (ext == ".rf64") f = SF_FORMAT_RF64 | pcm;
    else if (ext == ".au" || ext == ".snd") f = SF_FORMAT_AU | pcm;
    else if (ext == ".voc") f = SF_FORMAT_VOC | pcm;
    else if (ext == ".mp3") f = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;  // libsndfile >= 1.1, with LAME
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = 1;
    info.format = f;
    const bool named = ext == ".wav" || ext == ".wave" || (f & SF_FORMAT_TYPEMASK) != SF_FORMAT_WAV;
    if (!named && kind_of_path(path) == FileKind::audio)  // .mp3 on a libsndfile without MPEG
        throw UsageError(path + ": this libsndfile cannot write " + ext.substr(1) +
                         "; it writes .wav .flac .ogg .opus .aif(f) .caf .w64 .rf64 .au");
    if (!sf_format_check(&info))
        throw UsageError(path + ": libsndfile cannot write " + (ext.empty() ? std::string("WAV") : ext.substr(1)) +
                         " with --format " + (format == SampleFormat::pcm16 ? "pcm16" : format == SampleFormat::pcm24 ? "pcm24" : "float") +
                         " at " + std::to_string(rate) + " Hz (FLAC and VOC hold integers: use pcm16 or pcm24)");
    return f;
}

// A growing in-memory file for libsndfile's virtual I/O: a WAV for standard output needs its header's
// sizes, which a pipe cannot seek back to write.

// Writes `n` frames to an open handle and closes it. Returns 0, or the errno of the failure.
int write_and_close(SNDFILE* f, const float* data, std::size_t n) {
    errno = 0;
    const sf_count_t wrote = sf_writef_float(f, data, static_cast<sf_count_t>(n));
    const int write_errno = errno;
    const int close_err = sf_close(f);
    if (wrote == static_cast<sf_count_t>(n) && close_err == 0) return 0;
    return write_errno ? write_errno : errno ? errno : EIO;
}

}  // namespace

int sndfile_output_format(const std::string& path, SampleFormat format, int sample_rate) {
    return sndfile_format(path, format, sample_rate);
}

void check_audio_output(const std::string& path, SampleFormat format, int sample_rate) {
    if (!is_discard(path)) sndfile_format(path, format, sample_rate);
}

std::size_t write_wav(const std::string& path, const std::vector<float>& mono, int sample_rate,
                      SampleFormat format) {
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
    if (is_discard(path)) return clipped;
    SF_INFO info{};
    info.samplerate = sample_rate;
    info.channels = 1;
    info.format = sndfile_format(path, format, sample_rate);
    if (is_standard_output(path)) {
        MemoryFile mem;
        SF_VIRTUAL_IO io{MemoryFile::size, MemoryFile::seek, MemoryFile::read, MemoryFile::write, MemoryFile::tell};
        SNDFILE* f = sf_open_virtual(&io, SFM_WRITE, &info, &mem);
        if (!f) throw OutputError("standard output: cannot encode the WAV (" + std::string(sf_strerror(nullptr)) + ")");
        if (write_and_close(f, data, mono.size()) != 0) throw OutputError("standard output: cannot encode the WAV");
        write_file_atomically(path, mem.bytes);
        return clipped;
    }
    TempFile tmp(path);
    SNDFILE* f = sf_open(tmp.path().c_str(), SFM_WRITE, &info);
    if (!f) throw OutputError(path + ": cannot write (" + std::string(sf_strerror(nullptr)) + ")");
    if (const int e = write_and_close(f, data, mono.size()))
        throw OutputError(path + ": write failed (" + io_error_text(e) + ")");
    tmp.commit();
    return clipped;
}

}  // namespace ldmrecon
