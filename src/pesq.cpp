#include "ldmrecon/pesq.hpp"

#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "ldmrecon/audio.hpp"
#include "ldmrecon/errors.hpp"

extern char** environ;

namespace ldmrecon {

namespace {

const char* kInstallHint =
    "--pesq needs the pesq Python package: install it in a virtual environment (python3 -m venv ~/pesq-venv && "
    "~/pesq-venv/bin/pip install pesq numpy) and set LDMRECON_PYTHON=~/pesq-venv/bin/python, or run "
    "scripts/python_env.sh reference and use the Python it prints";

bool send_all(int fd, const void* p, std::size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
        const ssize_t k = ::send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        c += k;
        n -= static_cast<std::size_t>(k);
    }
    return true;
}

}  // namespace

PesqHelper::PesqHelper(const std::string& python, const std::string& scripts_dir) {
    if (python.empty()) throw UsageError(kInstallHint);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        throw Error(ExitCode::internal, std::string("--pesq: socketpair: ") + std::strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);  // dup2 clears close-on-exec on the copies
    posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
    const std::string script = scripts_dir + "/pesq_helper.py";
    std::vector<char*> argv = {const_cast<char*>(python.c_str()), const_cast<char*>("-u"),
                               const_cast<char*>(script.c_str()), nullptr};
    const int rc = posix_spawnp(&pid_, python.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(sv[1]);
    fd_ = sv[0];
    if (rc != 0) {
        pid_ = -1;
        throw UsageError(std::string("--pesq: cannot start ") + python + " (" + std::strerror(rc) + "); " + kInstallHint);
    }
    if (read_line() != "ready") throw UsageError(std::string("--pesq: ") + python + " could not start " + script + "; " + kInstallHint);
}

PesqHelper::~PesqHelper() {
    if (fd_ >= 0) ::close(fd_);  // EOF: the helper returns
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
}

std::string PesqHelper::read_line() {
    for (;;) {
        const auto nl = pending_.find('\n');
        if (nl != std::string::npos) {
            std::string line = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            return line;
        }
        char buf[512];
        const ssize_t k = ::recv(fd_, buf, sizeof buf, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return "error the pesq helper exited";
        pending_.append(buf, static_cast<std::size_t>(k));
    }
}

double PesqHelper::score(const std::vector<float>& reference, const std::vector<float>& estimate, int rate) {
    const std::vector<float>* x = &reference;
    const std::vector<float>* y = &estimate;
    std::vector<float> rx, ry;
    if (rate != 8000 && rate != 16000) {  // P.862.2 is defined at 16 kHz
        rx = resample(reference, rate, 16000);
        ry = resample(estimate, rate, 16000);
        x = &rx;
        y = &ry;
        rate = 16000;
    }
    const std::size_t n = std::min(x->size(), y->size());
    const std::string head = std::to_string(rate) + " " + std::to_string(n) + "\n";
    if (!send_all(fd_, head.data(), head.size()) || !send_all(fd_, x->data(), n * sizeof(float)) ||
        !send_all(fd_, y->data(), n * sizeof(float)))
        throw Error(ExitCode::internal, "--pesq: the pesq helper exited");
    const std::string line = read_line();
    if (line.rfind("error", 0) == 0) {
        if (line == "error the pesq helper exited") throw Error(ExitCode::internal, "--pesq: the pesq helper exited");
        last_error_ = line.substr(6);
        return std::numeric_limits<double>::quiet_NaN();
    }
    last_error_.clear();
    return std::strtod(line.c_str(), nullptr);
}

}  // namespace ldmrecon
