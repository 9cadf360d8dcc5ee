// The .ldml latent file: what `ldmrecon encode` writes and `ldmrecon decode` reads. Documented byte by
// byte in docs/usage.md ("Latent files"). Every file is treated as untrusted: the reader checks the checksum,
// every size against the header and the file, and allocates nothing from an unchecked number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ldmrecon {

enum class LatentStorage : std::uint8_t { fp32 = 0, fp16 = 1, int8 = 2 };
LatentStorage parse_latent_storage(const std::string& name);  // fp32 | fp16 | int8; UsageError otherwise
const char* latent_storage_name(LatentStorage s);

struct LatentFile {
    static constexpr std::uint16_t kVersion = 1;
    static constexpr std::size_t kHeaderBytes = 88;

    std::uint32_t sample_rate = 0;  // of the model feature (and of the decoded audio)
    std::uint32_t hop_length = 0;
    std::uint64_t length = 0;  // samples of the original signal at sample_rate
    double gain_mean = 0.0;    // the normalisation taken off before encoding (SPEC.md 1)
    double gain_scale = 1.0;
    float scaling_factor = 1.0f;      // latents are stored as z * scaling_factor
    std::uint32_t window_frames = 0;  // the window geometry the encoder used
    std::uint32_t overlap_frames = 0;
    std::uint32_t windows = 0, channels = 0, height = 0, width = 0;  // latent shape [windows, C, H, W]
    std::uint64_t model_id = 0;                   // model_id_of(the VAE's metadata): decode refuses another VAE
    LatentStorage storage = LatentStorage::fp32;  // as read (write_latent_file takes its own)
    std::vector<float> latents;                   // windows * C * H * W scaled latents, window-major

    std::size_t elements() const;  // windows * C * H * W (the caller keeps it small enough)
};

// The file's bytes (header, payload in `storage`, CRC-32). int8 stores one scale per window and channel
// (max |z| / 127) and rounds to nearest.
std::string serialise_latents(const LatentFile& f, LatentStorage storage);
// Parses bytes from an untrusted source. `name` prefixes every error (InputError, one line).
LatentFile parse_latents(const std::string& bytes, const std::string& name);
// Throws InputError naming `name` when a clip's level (its mean and 0.5 / peak, as normalise_waveform
// gives them) is outside what a latent file holds: the one range encode checks before writing and decode
// checks when reading.
void check_latent_gain(const std::string& name, double mean, double scale);

void write_latent_file(const std::string& path, const LatentFile& f, LatentStorage storage);  // atomic
LatentFile read_latent_file(const std::string& path);

// CRC-32 (IEEE 802.3, as zlib's crc32) and FNV-1a 64, the container's checksum and model id.
std::uint32_t crc32(const void* data, std::size_t n, std::uint32_t crc = 0);
std::uint64_t fnv1a64(const std::string& s);

// IEEE binary16 conversions (round to nearest even; overflow to infinity).
std::uint16_t float_to_half(float f);
float half_to_float(std::uint16_t h);

}  // namespace ldmrecon
