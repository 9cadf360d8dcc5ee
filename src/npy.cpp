#include "ldmrecon/npy.hpp"

#include "ldmrecon/files.hpp"

namespace ldmrecon {

namespace {

void write_array(const std::string& path, const float* data, std::size_t count, const std::string& shape) {
    // ref: numpy/lib/format.py: magic, version 1.0, little-endian header length, dict padded to 64 bytes
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    const std::size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header.push_back('\n');
    const unsigned short len = static_cast<unsigned short>(header.size());
    std::string bytes("\x93NUMPY\x01\x00", 8);
    bytes.push_back(static_cast<char>(len & 0xff));
    bytes.push_back(static_cast<char>(len >> 8));
    bytes += header;
    bytes.append(reinterpret_cast<const char*>(data), count * sizeof(float));  // little-endian host (x86, arm)
    write_file_atomically(path, bytes);
}

}  // namespace

void write_npy(const std::string& path, const Matrix& m) {
    write_array(path, m.data.data(), m.data.size(), "(" + std::to_string(m.rows) + ", " + std::to_string(m.cols) + ")");
}

void write_npy(const std::string& path, const std::vector<float>& v) {
    write_array(path, v.data(), v.size(), "(" + std::to_string(v.size()) + ",)");
}

}  // namespace ldmrecon
