#include "ldmrecon/files.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "ldmrecon/errors.hpp"

namespace fs = std::filesystem;

namespace ldmrecon {

namespace {
char g_pending_temp[4096];  // NUL-terminated; empty when no temporary is open
}  // namespace

void remove_pending_temp() noexcept {
    if (g_pending_temp[0]) ::unlink(g_pending_temp);
}

void clear_pending_temp() noexcept { g_pending_temp[0] = '\0'; }

void check_output_folder(const std::string& path) {
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw OutputError(path + ": folder " + dir.string() + " does not exist");
}

std::string temp_path_for(const std::string& path) {
    check_output_folder(path);
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    // Hidden, and unique per process, so parallel jobs writing to one folder never share a temporary.
    const std::string tmp = (dir / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()))).string();
    if (tmp.size() < sizeof g_pending_temp) std::memcpy(g_pending_temp, tmp.c_str(), tmp.size() + 1);
    return tmp;
}

void commit_temp(const std::string& tmp, const std::string& path) {
    std::error_code ec;
    fs::rename(tmp, path, ec);
    clear_pending_temp();
    if (ec) {
        std::remove(tmp.c_str());
        throw OutputError(path + ": cannot move the finished file into place (" + ec.message() + ")");
    }
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
    const std::string tmp = temp_path_for(path);
    {
        std::ofstream f(tmp, std::ios::binary);
        if (!f) {
            clear_pending_temp();
            throw OutputError(path + ": cannot write (permission denied or not a folder?)");
        }
        f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!f.flush()) {
            f.close();
            std::remove(tmp.c_str());
            clear_pending_temp();
            throw OutputError(path + ": write failed (disk full?)");
        }
    }
    commit_temp(tmp, path);
}

}  // namespace ldmrecon
