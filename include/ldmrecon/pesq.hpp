// Wide-band PESQ (ITU-T P.862.2) through the user's own `pesq` Python package, which ldmrecon may not ship
// (SPEC.md 5): one helper process (scripts/pesq_helper.py) serves a whole run, fed signal by signal.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace ldmrecon {

class PesqHelper {
public:
    // Starts `python scripts_dir/pesq_helper.py`. Throws UsageError saying how to install pesq when that
    // Python cannot import it.
    PesqHelper(const std::string& python, const std::string& scripts_dir);
    ~PesqHelper();
    PesqHelper(const PesqHelper&) = delete;
    PesqHelper& operator=(const PesqHelper&) = delete;

    // PESQ of `estimate` against `reference`, both at `rate` (8000 or 16000; others are resampled to
    // 16 kHz first), compared over the shorter length. NaN when pesq refuses the pair (no speech found,
    // too short): `last_error()` says why. Throws Error if the helper died.
    double score(const std::vector<float>& reference, const std::vector<float>& estimate, int rate);
    const std::string& last_error() const { return last_error_; }

private:
    int fd_ = -1;  // our end of a socket pair: sends never raise SIGPIPE (MSG_NOSIGNAL)
    pid_t pid_ = -1;
    std::string last_error_, pending_;
    std::string read_line();
};

}  // namespace ldmrecon
