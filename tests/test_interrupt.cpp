// An interruption ends a wait for input at once, whichever thread its signal lands on and even when it
// came just before the read began (interrupt.hpp). Each wait has a writer that breaks it after 20 s, so a
// regression fails here instead of hanging the run.
#include <catch2/catch.hpp>

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/interrupt.hpp"
#include "ldmrecon/streams.hpp"
#include "temp_folder.hpp"

using namespace ldmrecon;

namespace {

extern "C" void notify_on_signal(int) { notify_interrupt(); }

struct Pipe {
    int r = -1, w = -1;
    Pipe() {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        r = fds[0];
        w = fds[1];
    }
    ~Pipe() {
        ::close(r);
        if (w >= 0) ::close(w);
    }
};

// What read_some did on a pipe nobody writes to, while `poke` runs beside it: "cancelled", or "data" when
// only the 20 s fallback writer ended the wait.
template <class Poke>
std::string read_while(Poke poke) {
    Pipe p;
    std::thread fallback([w = p.w] {
        for (int i = 0; i < 200 && !interrupt_notified(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        [[maybe_unused]] const ssize_t n = ::write(w, "x", 1);
    });
    std::thread poker(poke);
    std::string what;
    char buf[16];
    try {
        read_some(p.r, buf, sizeof buf, "test pipe");
        what = "data";
    } catch (const Cancelled&) {
        what = "cancelled";
    }
    poker.join();
    fallback.join();
    clear_interrupt_notice();
    return what;
}

}  // namespace

TEST_CASE("an interruption notified from another thread ends a blocked read", "[interrupt]") {
    prepare_interrupt_notice();
    clear_interrupt_notice();
    CHECK(read_while([] {
              std::this_thread::sleep_for(std::chrono::milliseconds(100));
              notify_interrupt();
          }) == "cancelled");
}

TEST_CASE("a signal handled on another thread ends a blocked read", "[interrupt]") {
    // The defect this guards against: a handler that only sets a flag leaves read(2) blocked unless the
    // signal lands on the reading thread; here it lands on a helper that merely sleeps.
    prepare_interrupt_notice();
    clear_interrupt_notice();
    struct sigaction sa {}, old {};
    sa.sa_handler = notify_on_signal;
    sigemptyset(&sa.sa_mask);
    REQUIRE(sigaction(SIGUSR1, &sa, &old) == 0);
    CHECK(read_while([] {
              std::thread helper([] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); });
              std::this_thread::sleep_for(std::chrono::milliseconds(100));
              pthread_kill(helper.native_handle(), SIGUSR1);
              helper.join();
          }) == "cancelled");
    sigaction(SIGUSR1, &old, nullptr);
}

TEST_CASE("an interruption before the read begins is not missed", "[interrupt]") {
    prepare_interrupt_notice();
    clear_interrupt_notice();
    notify_interrupt();
    Pipe p;
    REQUIRE(::write(p.w, "abc", 3) == 3);  // even with data waiting: the run is ending
    ::close(p.w);  // and an end after it, so that no read here can block
    p.w = -1;
    char buf[8];
    CHECK_THROWS_AS(read_some(p.r, buf, sizeof buf, "test pipe"), Cancelled);
    clear_interrupt_notice();
    CHECK(read_some(p.r, buf, sizeof buf, "test pipe") == 3);
    CHECK(read_some(p.r, buf, sizeof buf, "test pipe") == 0);
}

TEST_CASE("an interruption ends the wait for a FIFO's writer", "[interrupt]") {
    prepare_interrupt_notice();
    clear_interrupt_notice();
    TempFolder dir;
    const std::string fifo = dir / "in.fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::thread poker([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        notify_interrupt();
    });
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(open_stream_fd(fifo, 20), Cancelled);
    poker.join();
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));  // not the writer timeout
    clear_interrupt_notice();
    CHECK_THROWS_WITH(open_stream_fd(fifo, 0), Catch::Contains("no program wrote to within 0 s"));
}
