#include "run_signals.hpp"

#include <unistd.h>

#include <csignal>

#include "commands.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/interrupt.hpp"

namespace ldmrecon::cli {

namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction g_old[3] {};

// The library's interruption notice is the one flag: it also wakes a read blocked on a quiet pipe, in
// whichever thread it waits.
extern "C" void on_signal(int) {
    if (interrupt_notified() || writing_to_standard_output()) {
        remove_pending_temp();
        ::_exit(kExitInterrupted);
    }
    notify_interrupt();
}

}  // namespace

bool interrupted() noexcept { return interrupt_notified(); }

SignalGuard::SignalGuard() {
    prepare_interrupt_notice();
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; ++i) {
        sigaction(kSignals[i], nullptr, &g_old[i]);
        if (g_old[i].sa_handler != SIG_IGN) sigaction(kSignals[i], &sa, nullptr);  // nohup's ignored SIGHUP stays so
    }
}

SignalGuard::~SignalGuard() {
    for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &g_old[i], nullptr);
}

}  // namespace ldmrecon::cli
