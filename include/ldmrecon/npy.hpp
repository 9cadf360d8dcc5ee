// NumPy .npy (format 1.0, little-endian float32) writing, so features can be checked in Python.
#pragma once

#include <string>
#include <vector>

#include "ldmrecon/feature.hpp"

namespace ldmrecon {

// Writes a [rows, cols] float32 array atomically (temporary file, then rename). Throws OutputError.
void write_npy(const std::string& path, const Matrix& m);
// Writes a 1-D float32 array.
void write_npy(const std::string& path, const std::vector<float>& v);

}  // namespace ldmrecon
