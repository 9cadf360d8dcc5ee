// How a long run ends on a signal (the reconstruction command and --stream): the first SIGINT, SIGTERM
// or SIGHUP sets `interrupted()`, and the run finishes what it must (the batch in flight, a stream's
// flush), writes what is done and exits 130; a second one removes the temporary file being written, if
// any, and leaves at once. The first also notifies the library (interrupt.hpp), so a read waiting on a quiet
// pipe ends at once, in whichever thread the signal lands.
#pragma once

namespace ldmrecon::cli {

bool interrupted() noexcept;

// Installs the handlers for its lifetime (a signal ignored on entry, as nohup's SIGHUP, stays ignored).
class SignalGuard {
public:
    SignalGuard();
    ~SignalGuard();
    SignalGuard(const SignalGuard&) = delete;
    SignalGuard& operator=(const SignalGuard&) = delete;
};

}  // namespace ldmrecon::cli
