#include "ldmrecon/interrupt.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

namespace ldmrecon {

namespace {
std::atomic<int> g_read_fd{-1};
std::atomic<int> g_write_fd{-1};
std::atomic<bool> g_notified{false};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
              "a signal handler may only touch lock-free atomics");
}  // namespace

void prepare_interrupt_notice() {
    static std::once_flag once;
    std::call_once(once, [] {
        int fds[2];
        // Non-blocking both ends: the handler's write never blocks, a drain never waits.
        if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
            throw std::runtime_error(std::string("cannot make the interrupt pipe: ") + std::strerror(errno));
        g_read_fd = fds[0];
        g_write_fd = fds[1];
    });
}

void notify_interrupt() noexcept {
    const int saved = errno;  // a handler must leave errno as it found it
    g_notified = true;
    const int fd = g_write_fd.load();
    if (fd >= 0) {
        const char byte = 1;
        [[maybe_unused]] const ssize_t n = ::write(fd, &byte, 1);  // a full pipe is readable already
    }
    errno = saved;
}

bool interrupt_notified() noexcept { return g_notified.load(); }

int interrupt_fd() noexcept { return g_read_fd.load(); }

void clear_interrupt_notice() noexcept {
    g_notified = false;
    const int fd = g_read_fd.load();
    if (fd < 0) return;
    char buf[64];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
}

}  // namespace ldmrecon
