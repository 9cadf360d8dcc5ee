// How a signal reaches a thread blocked on input. A handler's flag is not enough: a signal that lands on
// another thread leaves a read(2) blocked, and one that lands just after the flag was checked and before
// the read began is missed, so a single Ctrl-C could wait forever on a quiet pipe. The handler calls
// notify_interrupt(), which makes a pipe readable, and every wait for input here (read_some, a FIFO's
// writer) polls that pipe beside its own descriptor.
#pragma once

namespace ldmrecon {

// Makes the pipe (once; later calls do nothing). Call before installing a handler that notifies.
void prepare_interrupt_notice();
// Async-signal-safe: the pipe becomes readable and stays so until clear_interrupt_notice().
void notify_interrupt() noexcept;
bool interrupt_notified() noexcept;
// The pipe's read end, for poll(2); -1 before prepare_interrupt_notice().
int interrupt_fd() noexcept;
// Back to not interrupted (tests; a run ends on its first interruption).
void clear_interrupt_notice() noexcept;

}  // namespace ldmrecon
