// The clock every timing in ldmrecon is taken with: steady, so a change of the wall clock mid-run cannot
// make a stage take negative or hours-long time.
#pragma once

#include <chrono>

namespace ldmrecon {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace ldmrecon
