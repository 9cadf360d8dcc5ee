#include "ldmrecon/latent_file.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/audio.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/limits.hpp"

namespace ldmrecon {

namespace {

constexpr char kMagic[8] = {'L', 'D', 'M', 'L', 'A', 'T', '\r', '\n'};  // CR LF: catches text-mode copies

// Limits on what a header may claim, far above any real file (AudioLDM2: C 8, W 16, H 256), so that a
// hostile header cannot make the reader allocate or loop without bound.
constexpr std::uint32_t kMaxChannels = 4096, kMaxHeight = 1 << 20, kMaxWidth = 4096;
constexpr std::uint64_t kMaxElements = std::uint64_t(1) << 31;

template <typename T>
void put(std::string& s, T v) {
    static_assert(std::is_trivially_copyable<T>::value, "plain values only");
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // little-endian hosts only (checked below)
    s.append(b, sizeof(T));
}

template <typename T>
T get(const std::string& s, std::size_t off) {
    T v;
    std::memcpy(&v, s.data() + off, sizeof(T));
    return v;
}

bool little_endian() {
    const std::uint16_t one = 1;
    unsigned char c;
    std::memcpy(&c, &one, 1);
    return c == 1;
}

std::uint32_t float_bits(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

float bits_float(std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

}  // namespace

LatentStorage parse_latent_storage(const std::string& name) {
    if (name == "fp32") return LatentStorage::fp32;
    if (name == "fp16") return LatentStorage::fp16;
    if (name == "int8") return LatentStorage::int8;
    throw UsageError("unknown latent storage '" + name + "' (expected fp32, fp16 or int8)");
}

const char* latent_storage_name(LatentStorage s) {
    switch (s) {
        case LatentStorage::fp32:
            return "fp32";
        case LatentStorage::fp16:
            return "fp16";
        case LatentStorage::int8:
            return "int8";
    }
    return "?";
}

std::size_t LatentFile::elements() const { return std::size_t(windows) * channels * height * width; }

std::uint32_t crc32(const void* data, std::size_t n, std::uint32_t crc) {
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    const auto* p = static_cast<const unsigned char*>(data);
    crc = ~crc;
    for (std::size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

std::uint64_t fnv1a64(const std::string& s) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

std::uint16_t float_to_half(float f) {
    const std::uint32_t x = float_bits(f);
    const std::uint32_t sign = (x >> 16) & 0x8000u;
    const std::uint32_t a = x & 0x7FFFFFFFu;
    if (a >= 0x7F800000u)  // infinity or NaN (keeping NaN a NaN)
        return static_cast<std::uint16_t>(sign | 0x7C00u | (a > 0x7F800000u ? 0x200u | ((a >> 13) & 0x3FFu) : 0u));
    if (a >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds past 65504
    if (a < 0x38800000u) {
        // Below 2^-14: a subnormal half, in units of 2^-24 (the scaling is exact; nearbyint rounds to even).
        const float units = std::fabs(f) * 16777216.0f;
        return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(std::nearbyint(units)));
    }
    std::uint32_t h = ((((a >> 23) - 127u + 15u) & 0x1Fu) << 10) | ((a & 0x7FFFFFu) >> 13);
    const std::uint32_t rest = a & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is right
    return static_cast<std::uint16_t>(sign | h);
}

float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
    const std::uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0) {
        const float v = std::ldexp(static_cast<float>(m), -24);
        return sign ? -v : v;
    }
    if (e == 31) return bits_float(sign | 0x7F800000u | (m << 13));
    return bits_float(sign | ((e - 15u + 127u) << 23) | (m << 13));
}

std::string serialise_latents(const LatentFile& f, LatentStorage storage) {
    if (!little_endian()) throw Error(ExitCode::internal, "latent files are written on little-endian hosts only");
    if (f.latents.size() != f.elements())
        throw Error(ExitCode::internal, "latent file: " + std::to_string(f.latents.size()) + " values for shape " +
                                            std::to_string(f.elements()));
    std::string s;
    s.reserve(LatentFile::kHeaderBytes + f.latents.size() * 4 + 4);
    s.append(kMagic, 8);
    put<std::uint16_t>(s, LatentFile::kVersion);
    put<std::uint16_t>(s, static_cast<std::uint16_t>(LatentFile::kHeaderBytes));
    put<std::uint8_t>(s, static_cast<std::uint8_t>(storage));
    s.append(3, '\0');
    put(s, f.sample_rate);
    put(s, f.hop_length);
    put(s, f.length);
    put(s, f.gain_mean);
    put(s, f.gain_scale);
    put(s, f.scaling_factor);
    put(s, f.window_frames);
    put(s, f.overlap_frames);
    put(s, f.windows);
    put(s, f.channels);
    put(s, f.height);
    put(s, f.width);
    put<std::uint32_t>(s, 0);  // reserved
    put(s, f.model_id);
    const std::size_t plane = std::size_t(f.height) * f.width;
    switch (storage) {
        case LatentStorage::fp32:
            for (float v : f.latents) put(s, v);
            break;
        case LatentStorage::fp16:
            for (float v : f.latents) put(s, float_to_half(v));
            break;
        case LatentStorage::int8: {
            std::vector<float> scales(std::size_t(f.windows) * f.channels);
            for (std::size_t p = 0; p < scales.size(); ++p) {
                float mx = 0.f;
                for (std::size_t i = 0; i < plane; ++i) mx = std::max(mx, std::fabs(f.latents[p * plane + i]));
                scales[p] = mx > 0.f ? mx / 127.f : 1.f;
                put(s, scales[p]);
            }
            for (std::size_t p = 0; p < scales.size(); ++p)
                for (std::size_t i = 0; i < plane; ++i) {
                    const float q = std::nearbyint(f.latents[p * plane + i] / scales[p]);
                    put<std::int8_t>(s, static_cast<std::int8_t>(std::clamp(q, -127.f, 127.f)));
                }
            break;
        }
    }
    put(s, crc32(s.data(), s.size()));
    return s;
}

namespace {

InputError bad_file(const std::string& name, const std::string& what) {
    return InputError(name + ": not a valid ldmrecon latent file (" + what + ")");
}

// Magic, version, header size and checksum: the file is ours, whole and unchanged.
void check_envelope(const std::string& b, const std::string& name) {
    if (!little_endian()) throw Error(ExitCode::internal, "latent files are read on little-endian hosts only");
    if (b.size() < 8 || std::memcmp(b.data(), kMagic, 8) != 0) {
        if (b.size() >= 6 && std::memcmp(b.data(), kMagic, 6) == 0)
            throw bad_file(name, "its line ends were changed: copy it as binary");
        throw bad_file(name, "no LDMLAT magic at the start; ldmrecon encode writes these");
    }
    if (b.size() < 12) throw bad_file(name, "truncated: " + std::to_string(b.size()) + " bytes");
    const auto version = get<std::uint16_t>(b, 8);
    if (version != LatentFile::kVersion)
        throw bad_file(name, "format version " + std::to_string(version) + ", this ldmrecon reads version " +
                                 std::to_string(LatentFile::kVersion) +
                                 (version > LatentFile::kVersion ? ": upgrade ldmrecon" : ""));
    const auto header = get<std::uint16_t>(b, 10);
    if (header != LatentFile::kHeaderBytes) throw bad_file(name, "header size " + std::to_string(header) + ", expected 88");
    if (b.size() < LatentFile::kHeaderBytes + 4)
        throw bad_file(name, "truncated: " + std::to_string(b.size()) + " bytes, the header alone needs 92");
    const std::uint32_t stored_crc = get<std::uint32_t>(b, b.size() - 4);
    if (crc32(b.data(), b.size() - 4) != stored_crc)
        throw bad_file(name, "checksum mismatch: the file is corrupted or truncated");
}

LatentFile read_header(const std::string& b, const std::string& name) {
    LatentFile f;
    const auto storage = get<std::uint8_t>(b, 12);
    if (storage > 2) throw bad_file(name, "unknown storage type " + std::to_string(storage));
    f.storage = static_cast<LatentStorage>(storage);
    f.sample_rate = get<std::uint32_t>(b, 16);
    f.hop_length = get<std::uint32_t>(b, 20);
    f.length = get<std::uint64_t>(b, 24);
    f.gain_mean = get<double>(b, 32);
    f.gain_scale = get<double>(b, 40);
    f.scaling_factor = get<float>(b, 48);
    f.window_frames = get<std::uint32_t>(b, 52);
    f.overlap_frames = get<std::uint32_t>(b, 56);
    f.windows = get<std::uint32_t>(b, 60);
    f.channels = get<std::uint32_t>(b, 64);
    f.height = get<std::uint32_t>(b, 68);
    f.width = get<std::uint32_t>(b, 72);
    f.model_id = get<std::uint64_t>(b, 80);
    return f;
}

bool gain_in_range(double mean, double scale) {
    return scale >= limits::kMinGainScale && scale <= limits::kMaxGainScale && std::fabs(mean) <= limits::kMaxGainMean;
}

// Every header value within what ldmrecon encode writes; returns the number of latent values.
std::uint64_t check_header(const LatentFile& f, const std::string& name) {
    if (f.sample_rate < 1000 || f.sample_rate > 384000) throw bad_file(name, "sample rate " + std::to_string(f.sample_rate));
    if (f.hop_length == 0 || f.hop_length > 65536) throw bad_file(name, "hop length " + std::to_string(f.hop_length));
    if (f.length == 0) throw bad_file(name, "original length 0");
    // Ranges encode can write (scale = 0.5 / peak for peaks of 5e-10 .. 5e11 full scale); outside them a
    // decode would turn every sample into inf or 0.
    if (!gain_in_range(f.gain_mean, f.gain_scale))
        throw bad_file(name, "gain (scale " + limits::short_number(f.gain_scale) + ", offset " +
                                 limits::short_number(f.gain_mean) + ") is outside what ldmrecon encode writes");
    if (!(f.scaling_factor >= limits::kMinScalingFactor && f.scaling_factor <= limits::kMaxScalingFactor))
        throw bad_file(name, "scaling factor " + limits::short_number(f.scaling_factor) + " is outside " +
                                 limits::short_number(limits::kMinScalingFactor) + " to " +
                                 limits::short_number(limits::kMaxScalingFactor));
    if (f.window_frames == 0 || f.window_frames > kMaxHeight * 64 || f.overlap_frames > f.window_frames / 2)
        throw bad_file(name, "window geometry " + std::to_string(f.window_frames) + "/" + std::to_string(f.overlap_frames));
    if (f.windows == 0 || f.channels == 0 || f.height == 0 || f.width == 0 || f.channels > kMaxChannels ||
        f.height > kMaxHeight || f.width > kMaxWidth)
        throw bad_file(name, "latent shape " + std::to_string(f.windows) + "x" + std::to_string(f.channels) + "x" +
                                 std::to_string(f.height) + "x" + std::to_string(f.width) + " out of range");
    // Products in 64 bits from factors below 2^32 * 2^12 * 2^20 * 2^12: check step by step.
    const std::uint64_t per_window = std::uint64_t(f.height) * f.width * f.channels;
    if (per_window > kMaxElements || std::uint64_t(f.windows) > kMaxElements / per_window)
        throw bad_file(name, "latent shape claims more than 2^31 values");
    // The windows must cover the original length (each window's output is window_frames hops), else a
    // decoder would plan windows for a length the file does not hold (divisions: the product could overflow).
    const std::uint64_t span = std::uint64_t(f.hop_length) * f.window_frames;
    if (f.length / span > f.windows || (f.length / span == f.windows && f.length % span != 0))
        throw bad_file(name, "original length " + std::to_string(f.length) + " is more than " + std::to_string(f.windows) +
                                 " window(s) of " + std::to_string(f.window_frames) + " frames cover");
    return per_window * f.windows;
}

// The latent values as float, from fp32, fp16 or int8 (a scale per window and channel) storage.
void read_values(const std::string& b, LatentFile& f, std::uint64_t n, std::uint64_t scales, const std::string& name) {
    const std::uint64_t plane = std::uint64_t(f.height) * f.width;
    f.latents.resize(static_cast<std::size_t>(n));
    const std::size_t off = LatentFile::kHeaderBytes;
    switch (f.storage) {
        case LatentStorage::fp32:
            std::memcpy(f.latents.data(), b.data() + off, n * 4);
            break;
        case LatentStorage::fp16:
            for (std::size_t i = 0; i < n; ++i) f.latents[i] = half_to_float(get<std::uint16_t>(b, off + 2 * i));
            break;
        case LatentStorage::int8: {
            const std::size_t data = off + scales * 4;
            for (std::size_t p = 0; p < scales; ++p) {
                const float sc = get<float>(b, off + 4 * p);
                if (!std::isfinite(sc) || sc <= 0)
                    throw bad_file(name, "int8 scale of plane " + std::to_string(p) + " is not finite and positive");
                for (std::size_t i = 0; i < plane; ++i)
                    f.latents[p * plane + i] = sc * static_cast<float>(get<std::int8_t>(b, data + p * plane + i));
            }
            break;
        }
    }
    for (std::size_t i = 0; i < f.latents.size(); ++i)
        if (!std::isfinite(f.latents[i])) throw bad_file(name, "latent value " + std::to_string(i) + " is not finite");
}

}  // namespace

LatentFile parse_latents(const std::string& b, const std::string& name) {
    check_envelope(b, name);
    LatentFile f = read_header(b, name);
    const std::uint64_t n = check_header(f, name);
    const std::uint64_t scales = f.storage == LatentStorage::int8 ? std::uint64_t(f.windows) * f.channels : 0;
    const std::uint64_t bytes_per = f.storage == LatentStorage::fp32 ? 4 : f.storage == LatentStorage::fp16 ? 2 : 1;
    const std::uint64_t want = LatentFile::kHeaderBytes + scales * 4 + n * bytes_per + 4;
    if (b.size() != want)
        throw bad_file(name, "size " + std::to_string(b.size()) + " bytes, the header's shape and storage need " +
                                 std::to_string(want));
    // Decoding holds the output at the original length and every latent as float.
    limits::check_audio_memory(name, f.length, static_cast<int>(f.sample_rate));
    limits::check_memory(name, "decoding " + std::to_string(n) + " latent values", n * 8 + limits::kBaseBytes);
    read_values(b, f, n, scales, name);
    return f;
}

void check_latent_gain(const std::string& name, double mean, double scale) {
    if (gain_in_range(mean, scale)) return;
    throw InputError(name + ": its level (peak " + limits::short_number(0.5 / scale) + ", offset " +
                     limits::short_number(mean) + ") is outside what a latent file holds (peaks " +
                     limits::short_number(0.5 / limits::kMaxGainScale) + " to " +
                     limits::short_number(0.5 / limits::kMinGainScale) + ", offsets up to " +
                     limits::short_number(limits::kMaxGainMean) + "); scale the audio into that range first");
}

void write_latent_file(const std::string& path, const LatentFile& f, LatentStorage storage) {
    write_file_atomically(path, serialise_latents(f, storage));
}

LatentFile read_latent_file(const std::string& path) {
    check_input_file(path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open (check its permissions)");
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    if (size < 0) throw InputError(path + ": cannot read (is it a regular file?)");
    // Real files are far below this; refuse before reading a multi-gigabyte file into memory.
    if (static_cast<std::uint64_t>(size) > kMaxElements * 4 + 1024 * 1024)
        throw InputError(path + ": " + std::to_string(size) + " bytes is larger than any latent file");
    in.seekg(0);
    std::string bytes(static_cast<std::size_t>(size), '\0');
    if (!in.read(bytes.data(), size)) throw InputError(path + ": read failed");
    return parse_latents(bytes, path);
}

}  // namespace ldmrecon
