#include "ldmrecon/files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/outputs.hpp"

namespace fs = std::filesystem;

namespace ldmrecon {

namespace {
// The temporaries open now, for remove_pending_temp in a signal handler: one slot per writer (a batch
// writes its outputs on several threads). NUL-terminated; empty when free.
constexpr int kTempSlots = 64;
char g_pending_temp[kTempSlots][4096];
std::atomic<bool> g_slot_taken[kTempSlots];

int claim_temp_slot(const std::string& path) {
    if (path.size() >= sizeof g_pending_temp[0]) return -1;
    for (int i = 0; i < kTempSlots; ++i) {
        bool expected = false;
        if (g_slot_taken[i].compare_exchange_strong(expected, true)) {
            // The first byte last: a signal handler reading the slot half-written must see it empty, never
            // a mix of this path and an older one (which could name someone's file).
            char* slot = g_pending_temp[i];
            std::memcpy(slot + 1, path.c_str() + 1, path.size());
            std::atomic_signal_fence(std::memory_order_release);
            slot[0] = path[0];
            return i;
        }
    }
    return -1;  // more writers than slots: this one is not cleaned up on a signal
}

void release_temp_slot(int slot) {
    if (slot < 0) return;
    g_pending_temp[slot][0] = '\0';
    g_slot_taken[slot].store(false);
}
volatile std::sig_atomic_t g_writing_stdout = 0;

}  // namespace

bool writing_to_standard_output() noexcept { return g_writing_stdout != 0; }
StandardOutputWrite::StandardOutputWrite() noexcept { g_writing_stdout = 1; }
StandardOutputWrite::~StandardOutputWrite() { g_writing_stdout = 0; }

const char* file_kind(unsigned mode) {
    if (S_ISREG(mode)) return "a file";
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

std::string io_error_text(int e) { return e == ENOSPC ? "disk full" : e == EFBIG ? "file too large" : std::strerror(e); }

void remove_pending_temp() noexcept {
    for (auto& p : g_pending_temp)
        if (p[0]) ::unlink(p);
}

void check_output_folder(const std::string& path) {
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw OutputError(path + ": folder " + dir.string() + " does not exist");
}

TempFile::TempFile(const std::string& path) : target_(path) {
    check_output_folder(path);
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    // Hidden, and unique per process, so parallel jobs writing to one folder never share a temporary. A name
    // near the file system's limit has no room for the decoration: it is hashed instead.
    const std::string pid = std::to_string(::getpid());
    std::string name = "." + target.filename().string() + ".tmp-" + pid;
    if (name.size() > NAME_MAX) {
        std::uint64_t h = 1469598103934665603ull;  // FNV-1a
        for (unsigned char c : target.filename().string()) h = (h ^ c) * 1099511628211ull;
        char hex[17];
        std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
        name = ".ldmrecon-" + std::string(hex) + ".tmp-" + pid;
    }
    tmp_ = (dir / name).string();
    slot_ = claim_temp_slot(tmp_);
}

TempFile::~TempFile() {
    if (!done_) ::unlink(tmp_.c_str());
    release_temp_slot(slot_);
}

void TempFile::commit() {
    // A file replaced keeps its permissions (a 0600 output stays private).
    struct stat st {};
    if (::stat(target_.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::chmod(tmp_.c_str(), st.st_mode & 07777);
    std::error_code ec;
    fs::rename(tmp_, target_, ec);
    if (ec) throw OutputError(target_ + ": cannot move the finished file into place (" + ec.message() + ")");
    done_ = true;
    release_temp_slot(slot_);
    slot_ = -1;
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
    if (is_discard(path)) return;
    if (is_standard_output(path)) {
        const StandardOutputWrite writing;
        if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout) != 0)
            throw OutputError("standard output: write failed (" + io_error_text(errno) + ")");
        return;
    }
    TempFile tmp(path);
    std::FILE* f = std::fopen(tmp.path().c_str(), "wb");
    if (!f) throw OutputError(path + ": cannot write (" + io_error_text(errno) + ")");
    const bool wrote = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0;
    const int e = errno;
    if (std::fclose(f) != 0 || !wrote) throw OutputError(path + ": write failed (" + io_error_text(wrote ? errno : e) + ")");
    tmp.commit();
}

void make_folders(const std::string& path) {
    std::error_code failed;
    fs::create_directories(path, failed);
    if (!failed) return;
    // Name what is in the way: the first part of the path that exists but is not a folder.
    fs::path p;
    for (const auto& part : fs::path(path)) {
        p /= part;
        std::error_code ec;
        if (fs::exists(p, ec) && !fs::is_directory(p, ec))
            throw OutputError(path + ": cannot create the folder: " + p.string() + " is a file");
    }
    throw OutputError(path + ": cannot create the folder (" + failed.message() + ")");
}

}  // namespace ldmrecon
