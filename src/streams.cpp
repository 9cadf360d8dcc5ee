#include "ldmrecon/streams.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/interrupt.hpp"

namespace ldmrecon {

namespace {
RawFormat& raw_format_storage() {
    static RawFormat f;
    return f;
}
}  // namespace

bool is_stream_input(const std::string& path) {
    if (path == "-") return true;
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}

namespace {
// Waits until `fd` is readable or `timeout_ms` passes (-1: no limit): true when readable, false on the
// timeout. An interruption (interrupt.hpp) is Cancelled, whichever thread its signal landed on.
bool wait_readable(int fd, int timeout_ms, const std::string& name) {
    for (;;) {
        pollfd p[2] = {{fd, POLLIN, 0}, {interrupt_fd(), POLLIN, 0}};
        if (interrupt_notified()) throw Cancelled();
        const int r = ::poll(p, p[1].fd >= 0 ? 2 : 1, timeout_ms);
        if (interrupt_notified()) throw Cancelled();
        if (r > 0) return true;
        if (r == 0) return false;
        if (errno != EINTR) throw InputError(name + ": cannot be read (" + std::strerror(errno) + ")");
    }
}
}  // namespace

int open_stream_fd(const std::string& path, int writer_wait_seconds) {
    if (path == "-") return STDIN_FILENO;
    // Non-blocking, so that opening a FIFO nobody writes to returns; then wait (bounded) for the writer.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
    if (fd < 0) throw InputError(path + ": cannot be read (" + std::strerror(errno) + ")");
    bool written;
    try {
        written = wait_readable(fd, writer_wait_seconds * 1000, path);
    } catch (...) {
        ::close(fd);
        throw;
    }
    if (!written) {
        ::close(fd);
        throw InputError(path + ": is a FIFO (named pipe) that no program wrote to within " +
                         std::to_string(writer_wait_seconds) + " s; start the writer first, or save the stream to a file");
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

std::size_t read_some(int fd, char* buf, std::size_t n, const std::string& name) {
    for (;;) {
        wait_readable(fd, -1, name);  // the read below then returns at once
        const ssize_t got = ::read(fd, buf, n);
        if (got >= 0) return static_cast<std::size_t>(got);
        if (errno == EINTR || errno == EAGAIN) continue;  // an interruption is seen by the wait above
        throw InputError(name + ": read failed (" + std::strerror(errno) + ")");
    }
}

std::string read_stream(const std::string& path, unsigned long long max_bytes, int writer_wait_seconds) {
    const std::string name = path == "-" ? std::string("standard input") : path;
    const int fd = open_stream_fd(path, writer_wait_seconds);
    struct Closer {
        int fd;
        ~Closer() { if (fd != STDIN_FILENO) ::close(fd); }
    } closer{fd};
    std::string bytes;
    char buf[1 << 16];
    for (;;) {
        const std::size_t n = read_some(fd, buf, sizeof buf, name);
        if (n == 0) break;
        bytes.append(buf, n);
        if (bytes.size() > max_bytes)
            throw InputError(name + ": the stream is longer than the memory limit allows (" +
                             std::to_string(max_bytes >> 20) + " MB of it read); raise --max-memory or save it to a file");
    }
    return bytes;
}

void fix_streamed_wav_lengths(std::string& b) {
    auto u32 = [&b](std::size_t at) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
               static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8 |
               static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16 |
               static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24;
    };
    auto put = [&b](std::size_t at, std::uint64_t v) {
        const std::uint32_t w = static_cast<std::uint32_t>(std::min<std::uint64_t>(v, 0xFFFFFFFFu));
        for (int k = 0; k < 4; ++k) b[at + k] = static_cast<char>((w >> (8 * k)) & 0xFF);
    };
    if (b.size() < 12 || b.compare(0, 4, "RIFF") != 0 || b.compare(8, 4, "WAVE") != 0) return;
    const std::uint32_t riff = u32(4);
    if (riff == 0 || riff == 0xFFFFFFFFu || riff > b.size() - 8) put(4, b.size() - 8);
    for (std::size_t at = 12; at + 8 <= b.size();) {  // walk the chunks to "data"
        const std::uint32_t len = u32(at + 4);
        if (b.compare(at, 4, "data") == 0) {
            if (len == 0 || len > b.size() - at - 8) put(at + 4, b.size() - at - 8);
            return;
        }
        at += 8 + static_cast<std::size_t>(len) + (len & 1);
    }
}

int raw_subtype(const std::string& e) {
    if (e == "s8") return SF_FORMAT_PCM_S8;
    if (e == "u8") return SF_FORMAT_PCM_U8;
    if (e == "s16") return SF_FORMAT_PCM_16;
    if (e == "s24") return SF_FORMAT_PCM_24;
    if (e == "s32") return SF_FORMAT_PCM_32;
    if (e == "f32") return SF_FORMAT_FLOAT;
    if (e == "f64") return SF_FORMAT_DOUBLE;
    throw UsageError("--raw-format '" + e + "': use s8, s16, s24, s32, u8, f32 or f64 (little-endian, as sox names them)");
}

void set_raw_format(const RawFormat& f) {
    raw_subtype(f.encoding);  // refuses an unknown name now
    raw_format_storage() = f;
}

const RawFormat& raw_format() { return raw_format_storage(); }

}  // namespace ldmrecon
