#include "ldmrecon/stream_input.hpp"

#include <sndfile.h>
#include <soxr.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "ldmrecon/audio.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/limits.hpp"
#include "ldmrecon/streams.hpp"

namespace ldmrecon {

namespace {

// Interleaved float frames from somewhere, in blocks.
struct Source {
    int rate = 0, channels = 0;
    virtual ~Source() = default;
    virtual std::size_t frames(float* dst, std::size_t max) = 0;  // 0 at the end
};

// A descriptor's bytes, with what was already read to tell the format put back in front.
struct ByteStream {
    int fd;
    std::string name;
    std::string ahead;  // bytes read but not yet consumed
    std::size_t read(char* dst, std::size_t n) {
        if (!ahead.empty()) {
            const std::size_t k = std::min(n, ahead.size());
            std::memcpy(dst, ahead.data(), k);
            ahead.erase(0, k);
            return k;
        }
        return read_some(fd, dst, n, name);
    }
    std::size_t read_full(char* dst, std::size_t n) {  // fewer than n only at the end
        std::size_t got = 0;
        while (got < n) {
            const std::size_t k = read(dst + got, n - got);
            if (k == 0) break;
            got += k;
        }
        return got;
    }
};

std::uint32_t le32(const unsigned char* p) { return p[0] | p[1] << 8 | p[2] << 16 | std::uint32_t(p[3]) << 24; }
std::uint16_t le16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }

// A WAV read front to back, never seeking: the header's chunks up to "data", then samples converted as
// libsndfile converts them (so a file and the same bytes through a pipe give the same floats). A data
// length of 0 or 0xFFFFFFFF (a WAV written to a pipe) or an RF64 one is read to the end of the stream.
struct WavSource : Source {
    ByteStream in;
    int tag = 0, bits = 0;
    std::uint64_t left = ~std::uint64_t{0};  // data bytes still to read
    std::vector<unsigned char> raw;

    explicit WavSource(ByteStream s) : in(std::move(s)) {
        unsigned char h[12];
        if (in.read_full(reinterpret_cast<char*>(h), 12) < 12 || std::memcmp(h + 8, "WAVE", 4) != 0)
            throw InputError(in.name + ": not a WAV stream (no RIFF/WAVE header)");
        const bool rf64 = std::memcmp(h, "RF64", 4) == 0;
        for (;;) {
            unsigned char c[8];
            if (in.read_full(reinterpret_cast<char*>(c), 8) < 8) throw InputError(in.name + ": WAV stream ends before its data");
            const std::uint32_t len = le32(c + 4);
            if (std::memcmp(c, "data", 4) == 0) {
                if (!rf64 && len != 0 && len != 0xFFFFFFFFu) left = len;
                break;
            }
            if (len > (1u << 20)) throw InputError(in.name + ": WAV header chunk of " + std::to_string(len) + " bytes");
            std::vector<unsigned char> body(len + (len & 1));
            if (in.read_full(reinterpret_cast<char*>(body.data()), body.size()) < body.size())
                throw InputError(in.name + ": WAV stream ends inside its header");
            if (std::memcmp(c, "fmt ", 4) == 0 && len >= 16) {
                tag = le16(body.data());
                channels = le16(body.data() + 2);
                rate = static_cast<int>(le32(body.data() + 4));
                bits = le16(body.data() + 14);
                if (tag == 0xFFFE && len >= 26) tag = le16(body.data() + 24);  // WAVE_FORMAT_EXTENSIBLE
            }
        }
        const bool pcm = tag == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32);
        const bool flt = tag == 3 && (bits == 32 || bits == 64);
        if (channels <= 0 || rate <= 0) throw InputError(in.name + ": WAV stream without a valid fmt chunk");
        if (!pcm && !flt)
            throw InputError(in.name + ": a WAV of format tag " + std::to_string(tag) + ", " + std::to_string(bits) +
                             " bits cannot be read as a stream; send PCM or float WAV (sox IN -t wav -e signed -b 16 -)");
    }

    std::size_t frames(float* dst, std::size_t max) override {
        const std::size_t bps = static_cast<std::size_t>(bits / 8), fb = bps * static_cast<std::size_t>(channels);
        std::size_t want = std::min<std::uint64_t>(max * fb, left) / fb * fb;
        raw.resize(want);
        const std::size_t got = in.read_full(reinterpret_cast<char*>(raw.data()), want) / fb * fb;
        left -= got;
        const std::size_t n = got / bps;
        const unsigned char* p = raw.data();
        for (std::size_t i = 0; i < n; ++i, p += bps) dst[i] = sample(p);
        return got / fb;
    }

    float sample(const unsigned char* p) const {
        if (tag == 3) {
            if (bits == 32) {
                float f;
                std::uint32_t u = le32(p);
                std::memcpy(&f, &u, 4);
                return f;
            }
            std::uint64_t u = le32(p) | std::uint64_t(le32(p + 4)) << 32;
            double d;
            std::memcpy(&d, &u, 8);
            return static_cast<float>(d);
        }
        switch (bits) {  // libsndfile's normalisation: 1 / 0x80, 0x8000, 0x800000 (via int32), 0x80000000
            case 8: return static_cast<float>(static_cast<int>(p[0]) - 128) * (1.0f / 0x80);
            case 16: return static_cast<float>(static_cast<std::int16_t>(le16(p))) * (1.0f / 0x8000);
            case 24: {
                const std::int32_t v = static_cast<std::int32_t>(std::uint32_t(p[0]) << 8 | std::uint32_t(p[1]) << 16 |
                                                                 std::uint32_t(p[2]) << 24);
                return static_cast<float>(v) * (1.0f / 2147483648.0f);
            }
            default: return static_cast<float>(static_cast<std::int32_t>(le32(p))) * (1.0f / 2147483648.0f);
        }
    }
};

// libsndfile over a descriptor that cannot seek: what was read stays for seeks back of up to 1 MiB; a
// seek to the end (some containers look there) reads the stream to its end, up to `cap` bytes.
struct PipeFile {
    ByteStream in;
    std::string buf;  // bytes [base, base + buf.size())
    sf_count_t base = 0, pos = 0;
    bool eof = false;
    std::uint64_t cap;
    static constexpr sf_count_t kLookBehind = 1 << 20;

    void fill(sf_count_t upto) {
        char tmp[1 << 16];
        while (!eof && base + static_cast<sf_count_t>(buf.size()) < upto) {
            const std::size_t n = in.read(tmp, sizeof tmp);
            if (n == 0) eof = true;
            buf.append(tmp, n);
            if (buf.size() > cap)
                throw InputError(in.name + ": this container cannot be read as a stream within the memory limit; "
                                 "send WAV, FLAC or raw samples (--raw-rate) instead");
        }
    }
    static PipeFile& of(void* u) { return *static_cast<PipeFile*>(u); }
    static sf_count_t size(void* u) {
        PipeFile& f = of(u);
        return f.eof ? f.base + static_cast<sf_count_t>(f.buf.size()) : (sf_count_t{1} << 50);
    }
    static sf_count_t seek(sf_count_t off, int whence, void* u) {
        PipeFile& f = of(u);
        if (whence == SEEK_END) f.fill(sf_count_t{1} << 62);
        const sf_count_t at = whence == SEEK_SET ? off : whence == SEEK_CUR ? f.pos + off : size(u) + off;
        if (at < f.base) return -1;
        f.pos = at;
        return at;
    }
    static sf_count_t read(void* p, sf_count_t n, void* u) {
        PipeFile& f = of(u);
        f.fill(f.pos + n);
        const sf_count_t have = std::max<sf_count_t>(0, std::min(n, f.base + static_cast<sf_count_t>(f.buf.size()) - f.pos));
        std::memcpy(p, f.buf.data() + (f.pos - f.base), static_cast<std::size_t>(have));
        f.pos += have;
        if (f.pos - f.base > 2 * kLookBehind) {  // drop what is far behind
            const sf_count_t drop = f.pos - kLookBehind - f.base;
            f.buf.erase(0, static_cast<std::size_t>(drop));
            f.base += drop;
        }
        return have;
    }
    static sf_count_t write(const void*, sf_count_t, void*) { return 0; }
    static sf_count_t tell(void* u) { return of(u).pos; }
};

// A file, or a stream (raw, or another container) over PipeFile. Never libsndfile on the descriptor itself:
// its read(2) retries on EINTR, so a signal could not end a wait for input (read_some can, interrupt.hpp).
struct SndfileSource : Source {
    SNDFILE* f = nullptr;
    std::unique_ptr<PipeFile> pipe;
    SndfileSource(const std::string& path, const std::string& name, int fd, std::string ahead) {
        SF_INFO info{};
        if (fd < 0) {
            check_input_file(path);
            f = sf_open(path.c_str(), SFM_READ, &info);
        } else {
            if (const RawFormat& raw = raw_format(); raw.given()) {
                info.samplerate = raw.rate;
                info.channels = raw.channels;
                info.format = SF_FORMAT_RAW | raw_subtype(raw.encoding);
            }
            pipe.reset(new PipeFile{ByteStream{fd, name, std::move(ahead)}, {}, 0, 0, false, limits::memory_limit() / 4});
            SF_VIRTUAL_IO io{PipeFile::size, PipeFile::seek, PipeFile::read, PipeFile::write, PipeFile::tell};
            f = sf_open_virtual(&io, SFM_READ, &info, pipe.get());
        }
        if (!f) throw InputError(name + ": not a readable audio stream (libsndfile: " + sf_strerror(nullptr) + ")");
        rate = info.samplerate;
        channels = info.channels;
    }
    ~SndfileSource() override { sf_close(f); }
    std::size_t frames(float* dst, std::size_t max) override {
        const sf_count_t n = sf_readf_float(f, dst, static_cast<sf_count_t>(max));
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
};

}  // namespace

struct BlockReader::Impl {
    int fd = -1;
    bool own_fd = false;
    std::unique_ptr<Source> src;
    soxr_t soxr = nullptr;
    int model_rate = 0;
    std::size_t frames_read = 0, emitted = 0;
    bool ended = false;
    std::vector<float> block, mono, resampled;
    ~Impl() {
        if (soxr) soxr_delete(soxr);
        src.reset();
        if (own_fd) ::close(fd);
    }
    void resample(const float* in, std::size_t n, std::vector<float>& out);
};

BlockReader::BlockReader(const std::string& path, int model_rate)
    : impl_(std::make_unique<Impl>()), name_(path == "-" ? std::string("standard input") : path) {
    Impl& m = *impl_;
    m.model_rate = model_rate;
    if (is_stream_input(path)) {
        m.fd = open_stream_fd(path);
        m.own_fd = m.fd != STDIN_FILENO;
        if (raw_format().given()) {
            m.src = std::make_unique<SndfileSource>(path, name_, m.fd, std::string());
        } else {
            ByteStream peek{m.fd, name_, {}};
            char magic[4];
            const std::size_t got = peek.read_full(magic, 4);
            if (got == 0) throw InputError(name_ + ": holds no audio samples");
            std::string ahead(magic, got);
            if (got == 4 && (ahead == "RIFF" || ahead == "RF64"))
                m.src = std::make_unique<WavSource>(ByteStream{m.fd, name_, ahead});
            else
                m.src = std::make_unique<SndfileSource>(path, name_, m.fd, ahead);
        }
    } else {
        m.src = std::make_unique<SndfileSource>(path, name_, -1, std::string());
    }
    if (m.src->rate < limits::kMinSampleRate || m.src->rate > limits::kMaxSampleRate)
        throw InputError(name_ + ": sample rate " + std::to_string(m.src->rate) + " Hz is outside " +
                         std::to_string(limits::kMinSampleRate) + " to " + std::to_string(limits::kMaxSampleRate) + " Hz");
    if (m.src->channels <= 0 || m.src->channels > 1024)
        throw InputError(name_ + ": " + std::to_string(m.src->channels) + " channels");
    if (m.src->rate != model_rate) {
        soxr_error_t err = nullptr;
        const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);  // as read_mono: librosa's soxr_hq
        const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        m.soxr = soxr_create(m.src->rate, model_rate, 1, &err, &io, &q, nullptr);
        if (err) throw Error(ExitCode::internal, std::string("resampler: ") + err);
    }
}

BlockReader::~BlockReader() = default;

int BlockReader::source_rate() const { return impl_->src->rate; }
int BlockReader::source_channels() const { return impl_->src->channels; }
std::size_t BlockReader::source_frames() const { return impl_->frames_read; }

// soxr's streaming form, as read_mono drives it; a null input flushes.
void BlockReader::Impl::resample(const float* in, std::size_t n, std::vector<float>& out) {
    const double ratio = static_cast<double>(model_rate) / src->rate;
    resampled.resize(static_cast<std::size_t>(n * ratio) + 64);
    std::size_t left = n;
    const float* p = in;
    for (;;) {
        std::size_t used = 0, made = 0;
        soxr_error_t err = soxr_process(soxr, in ? p : nullptr, left, &used, resampled.data(), resampled.size(), &made);
        if (err) throw Error(ExitCode::internal, std::string("resampler: ") + err);
        out.insert(out.end(), resampled.begin(), resampled.begin() + static_cast<long>(made));
        emitted += made;
        if (in) {
            p += used;
            left -= used;
        }
        if (!((in && left > 0) || (!in && made > 0))) break;
    }
}

bool BlockReader::read(std::vector<float>& out, std::size_t frames) {
    Impl& m = *impl_;
    if (m.ended) return false;
    const std::size_t C = static_cast<std::size_t>(m.src->channels);
    m.block.resize(frames * C);
    m.mono.resize(frames);
    const std::size_t n = m.src->frames(m.block.data(), frames);
    for (std::size_t i = 0; i < n * C; ++i)
        if (!std::isfinite(m.block[i])) throw InputError(name_ + ": contains NaN or infinite samples");
    for (std::size_t i = 0; i < n; ++i) {  // the channels' average, as read_mono takes it
        double acc = 0.0;
        for (std::size_t ch = 0; ch < C; ++ch) acc += m.block[i * C + ch];
        m.mono[i] = static_cast<float>(acc / static_cast<double>(C));
    }
    m.frames_read += n;
    if (n > 0) {
        if (m.soxr) {
            m.resample(m.mono.data(), n, out);
        } else {
            out.insert(out.end(), m.mono.begin(), m.mono.begin() + static_cast<long>(n));
        }
        return true;
    }
    m.ended = true;
    if (m.frames_read == 0) throw InputError(name_ + ": holds no audio samples");
    if (m.soxr) {
        // The one-shot length, round(n * ratio), as read_mono gives: the flush's tail cut or padded to it.
        const std::size_t target = std::max<std::size_t>(
            1, static_cast<std::size_t>(std::llround(m.frames_read * (static_cast<double>(m.model_rate) / m.src->rate))));
        std::vector<float> tail;
        const std::size_t before = m.emitted;
        m.resample(nullptr, 0, tail);
        const std::size_t keep = target > before ? target - before : 0;
        tail.resize(keep, 0.f);
        out.insert(out.end(), tail.begin(), tail.end());
    }
    return false;
}

}  // namespace ldmrecon
