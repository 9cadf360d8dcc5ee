#include "ldmrecon/stream_output.hpp"

#include <sndfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/outputs.hpp"

namespace ldmrecon {

namespace {

// libsndfile's virtual I/O onto standard output: what it writes goes straight out; its seek back to the
// header at close (a pipe cannot) is ignored, and the header it writes first says "length unknown".
struct StdoutFile {
    sf_count_t pos = 0, end = 0;
    int error = 0;
    static StdoutFile& of(void* u) { return *static_cast<StdoutFile*>(u); }
    static sf_count_t size(void* u) { return of(u).end; }
    static sf_count_t seek(sf_count_t off, int whence, void* u) {
        StdoutFile& f = of(u);
        f.pos = whence == SEEK_SET ? off : whence == SEEK_CUR ? f.pos + off : f.end + off;
        return f.pos;
    }
    static sf_count_t read(void*, sf_count_t, void*) { return 0; }
    static sf_count_t write(const void* p, sf_count_t n, void* u) {
        StdoutFile& f = of(u);
        if (f.pos < f.end) {  // the header rewritten at close: already out
            f.pos += n;
            return n;
        }
        std::string bytes(static_cast<const char*>(p), static_cast<std::size_t>(n));
        if (f.end == 0) unknown_lengths(bytes);
        // Not marked as writing_to_standard_output(): a first signal here must let the stream flush. A
        // write that a stopped reader blocks returns EINTR and waits again; the second signal leaves.
        for (std::size_t at = 0; at < bytes.size();) {
            const ssize_t k = ::write(STDOUT_FILENO, bytes.data() + at, bytes.size() - at);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                f.error = errno ? errno : EIO;
                return 0;
            }
            at += static_cast<std::size_t>(k);
        }
        f.pos += n;
        f.end = f.pos;
        return n;
    }
    static sf_count_t tell(void* u) { return of(u).pos; }
    // The RIFF and data chunk lengths of a WAV header set to 0xFFFFFFFF.
    static void unknown_lengths(std::string& h) {
        if (h.size() < 12 || h.compare(0, 4, "RIFF") != 0) return;
        std::memset(&h[4], 0xFF, 4);
        const std::size_t d = h.find("data", 12);
        if (d != std::string::npos && d + 8 <= h.size()) std::memset(&h[d + 4], 0xFF, 4);
    }
};

}  // namespace

struct StreamWriter::Impl {
    SNDFILE* f = nullptr;
    std::unique_ptr<TempFile> tmp;
    StdoutFile out;
    bool discard = false;
    std::vector<float> clip;
    ~Impl() {
        if (f) sf_close(f);
    }
};

StreamWriter::StreamWriter(const std::string& path, int sample_rate, SampleFormat format, bool raw)
    : impl_(std::make_unique<Impl>()), path_(path), format_(format) {
    Impl& m = *impl_;
    SF_INFO info{};
    info.samplerate = sample_rate;
    info.channels = 1;
    info.format = sndfile_output_format(path, format, sample_rate);
    if (raw) {
        if (!is_standard_output(path)) throw UsageError("raw output is for standard output (-o -); a file's extension names its container");
        info.format = SF_FORMAT_RAW | (info.format & SF_FORMAT_SUBMASK) | SF_ENDIAN_LITTLE;
    }
    if (is_discard(path)) {
        m.discard = true;
    } else if (is_standard_output(path)) {
        SF_VIRTUAL_IO io{StdoutFile::size, StdoutFile::seek, StdoutFile::read, StdoutFile::write, StdoutFile::tell};
        m.f = sf_open_virtual(&io, SFM_WRITE, &info, &m.out);
        if (!m.f) throw OutputError("standard output: cannot start the stream (" + std::string(sf_strerror(nullptr)) + ")");
        // The header is out with the first samples; make it go now, so a player starts at once.
        sf_command(m.f, SFC_UPDATE_HEADER_NOW, nullptr, 0);
    } else {
        m.tmp = std::make_unique<TempFile>(path);
        m.f = sf_open(m.tmp->path().c_str(), SFM_WRITE, &info);
        if (!m.f) throw OutputError(path + ": cannot write (" + std::string(sf_strerror(nullptr)) + ")");
    }
}

StreamWriter::~StreamWriter() = default;

std::size_t StreamWriter::write(const std::vector<float>& mono) {
    Impl& m = *impl_;
    std::size_t clipped = 0;
    const float* data = mono.data();
    if (format_ != SampleFormat::float32) {
        m.clip = mono;
        for (float& v : m.clip)
            if (v > 1.f || v < -1.f) {
                v = std::clamp(v, -1.f, 1.f);
                ++clipped;
            }
        data = m.clip.data();
    }
    samples_ += mono.size();
    if (m.discard || mono.empty()) return clipped;
    errno = 0;
    const sf_count_t n = sf_writef_float(m.f, data, static_cast<sf_count_t>(mono.size()));
    if (n != static_cast<sf_count_t>(mono.size()) || m.out.error) {
        const int e = m.out.error ? m.out.error : errno ? errno : EIO;
        if (m.tmp) throw OutputError(path_ + ": write failed (" + io_error_text(e) + ")");
        throw OutputError(e == EPIPE ? std::string("standard output: the reader went away (broken pipe)")
                                     : "standard output: write failed (" + io_error_text(e) + ")");
    }
    return clipped;
}

void StreamWriter::finish() {
    Impl& m = *impl_;
    if (m.discard || !m.f) return;
    const int err = sf_close(m.f);
    m.f = nullptr;
    if (err != 0 || m.out.error) throw OutputError((m.tmp ? path_ : std::string("standard output")) + ": write failed");
    if (m.tmp) m.tmp->commit();
}

}  // namespace ldmrecon
