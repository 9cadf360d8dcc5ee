// The .ldml container: checksums and half floats against published values, round trips at every storage
// type, and corrupted, truncated and hostile files refused with one clear line.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>

#include "ldmrecon/errors.hpp"
#include "ldmrecon/latent_file.hpp"

using namespace ldmrecon;

namespace {

LatentFile sample_file() {
    LatentFile f;
    f.sample_rate = 16000;
    f.hop_length = 160;
    f.length = 123456;
    f.gain_mean = -0.001;
    f.gain_scale = 3.25;
    f.scaling_factor = 0.75f;
    f.window_frames = 1024;
    f.overlap_frames = 64;
    f.windows = 2;
    f.channels = 3;
    f.height = 5;
    f.width = 4;
    f.model_id = 0x0123456789abcdefull;
    f.latents.resize(f.elements());
    for (std::size_t i = 0; i < f.latents.size(); ++i)
        f.latents[i] = static_cast<float>(std::sin(0.37 * i) * (1 + i % 7));
    return f;
}

// Patches a little-endian value into the bytes and recomputes the CRC, as a hostile writer would.
template <typename T>
std::string patched(std::string b, std::size_t off, T v) {
    std::memcpy(&b[off], &v, sizeof v);
    const std::uint32_t c = crc32(b.data(), b.size() - 4);
    std::memcpy(&b[b.size() - 4], &c, 4);
    return b;
}

std::string refusal(const std::string& bytes) {
    try {
        parse_latents(bytes, "x.ldml");
    } catch (const InputError& e) {
        return e.what();
    }
    return "accepted";
}

}  // namespace

TEST_CASE("CRC-32 and FNV-1a 64 match their published check values", "[latent]") {
    CHECK(crc32("123456789", 9) == 0xCBF43926u);  // the standard CRC-32 check value
    CHECK(crc32("", 0) == 0u);
    CHECK(fnv1a64("") == 0xcbf29ce484222325ull);
    CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
    CHECK(fnv1a64("foobar") == 0x85944171f73967e8ull);
}

TEST_CASE("half floats: IEEE binary16 encodings and round to nearest even", "[latent]") {
    CHECK(float_to_half(1.0f) == 0x3C00);
    CHECK(float_to_half(-2.0f) == 0xC000);
    CHECK(float_to_half(65504.0f) == 0x7BFF);
    CHECK(float_to_half(65519.0f) == 0x7BFF);
    CHECK(float_to_half(65520.0f) == 0x7C00);               // halfway to the next step: ties to even, which is infinity
    CHECK(float_to_half(std::ldexp(1.0f, -14)) == 0x0400);  // smallest normal
    CHECK(float_to_half(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
    CHECK(float_to_half(std::ldexp(1.0f, -25)) == 0x0000);  // tie -> even (0)
    CHECK(float_to_half(std::ldexp(3.0f, -25)) == 0x0002);  // tie -> even (2)
    CHECK(float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);          // tie -> even
    CHECK(float_to_half(1.0f + std::ldexp(3.0f, -11)) == 0x3C02);          // tie -> even
    CHECK(float_to_half(1.0f + std::ldexp(1.0f, -11) * 1.01f) == 0x3C01);  // above the tie
    CHECK(float_to_half(std::numeric_limits<float>::infinity()) == 0x7C00);
    CHECK(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
    CHECK(half_to_float(0x3555) == Catch::Detail::Approx(0.333251953125).epsilon(0));
    // Every finite half survives half -> float -> half.
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
        if ((h & 0x7C00) == 0x7C00) continue;
        REQUIRE(float_to_half(half_to_float(static_cast<std::uint16_t>(h))) == h);
    }
}

TEST_CASE("latent files round-trip at every storage type", "[latent]") {
    const LatentFile f = sample_file();
    for (LatentStorage s : {LatentStorage::fp32, LatentStorage::fp16, LatentStorage::int8}) {
        const std::string bytes = serialise_latents(f, s);
        const std::size_t per = s == LatentStorage::fp32 ? 4 : s == LatentStorage::fp16 ? 2 : 1;
        const std::size_t scales = s == LatentStorage::int8 ? f.windows * f.channels * 4 : 0;
        CHECK(bytes.size() == LatentFile::kHeaderBytes + scales + f.elements() * per + 4);
        const LatentFile g = parse_latents(bytes, "x.ldml");
        CHECK(g.storage == s);
        CHECK(g.sample_rate == f.sample_rate);
        CHECK(g.hop_length == f.hop_length);
        CHECK(g.length == f.length);
        CHECK(g.gain_mean == f.gain_mean);
        CHECK(g.gain_scale == f.gain_scale);
        CHECK(g.scaling_factor == f.scaling_factor);
        CHECK(g.window_frames == f.window_frames);
        CHECK(g.overlap_frames == f.overlap_frames);
        CHECK(g.windows == f.windows);
        CHECK(g.channels == f.channels);
        CHECK(g.height == f.height);
        CHECK(g.width == f.width);
        CHECK(g.model_id == f.model_id);
        REQUIRE(g.latents.size() == f.latents.size());
        const std::size_t plane = f.height * f.width;
        for (std::size_t p = 0; p < f.windows * f.channels; ++p) {
            float mx = 0;
            for (std::size_t i = 0; i < plane; ++i) mx = std::max(mx, std::fabs(f.latents[p * plane + i]));
            for (std::size_t i = 0; i < plane; ++i) {
                const float a = f.latents[p * plane + i], b = g.latents[p * plane + i];
                if (s == LatentStorage::fp32) REQUIRE(a == b);
                if (s == LatentStorage::fp16) REQUIRE(std::fabs(a - b) <= std::fabs(a) * std::ldexp(1.0f, -11) + 1e-7f);
                if (s == LatentStorage::int8) REQUIRE(std::fabs(a - b) <= mx / 127.f * 0.5f + 1e-6f);
            }
        }
    }
}

TEST_CASE("latent file layout: magic, version and fields at their documented offsets", "[latent]") {
    const std::string b = serialise_latents(sample_file(), LatentStorage::fp16);
    CHECK(b.substr(0, 8) == std::string("LDMLAT\r\n"));
    auto u16 = [&b](std::size_t o) {
        std::uint16_t v;
        std::memcpy(&v, &b[o], 2);
        return v;
    };
    auto u32 = [&b](std::size_t o) {
        std::uint32_t v;
        std::memcpy(&v, &b[o], 4);
        return v;
    };
    CHECK(u16(8) == 1);                             // version
    CHECK(u16(10) == 88);                           // header bytes
    CHECK(static_cast<unsigned char>(b[12]) == 1);  // storage: fp16
    CHECK(u32(16) == 16000);
    CHECK(u32(20) == 160);
    CHECK(u32(52) == 1024);
    CHECK(u32(60) == 2);
    CHECK(u32(64) == 3);
    CHECK(u32(68) == 5);
    CHECK(u32(72) == 4);
    CHECK(u16(88) == float_to_half(sample_file().latents[0]));  // payload starts right after the header
    CHECK(u32(b.size() - 4) == crc32(b.data(), b.size() - 4));
}

TEST_CASE("corrupted, truncated and hostile latent files are refused with one line", "[latent]") {
    const std::string good = serialise_latents(sample_file(), LatentStorage::int8);
    REQUIRE(refusal(good) == "accepted");

    std::string flipped = good;
    flipped[good.size() / 2] ^= 0x10;
    CHECK_THAT(refusal(flipped), Catch::Contains("checksum mismatch"));
    CHECK_THAT(refusal(good.substr(0, good.size() - 1)), Catch::Contains("checksum mismatch"));
    CHECK_THAT(refusal(good.substr(0, 50)), Catch::Contains("truncated"));
    CHECK_THAT(refusal(""), Catch::Contains("no LDMLAT magic"));
    CHECK_THAT(refusal("RIFF....WAVEfmt "), Catch::Contains("no LDMLAT magic"));
    std::string crlf = good;
    crlf.replace(6, 2, "\n");  // a text-mode copy turned CR LF into LF
    CHECK_THAT(refusal(crlf), Catch::Contains("line ends were changed"));

    CHECK_THAT(refusal(patched<std::uint16_t>(good, 8, 2)),
               Catch::Contains("format version 2") && Catch::Contains("upgrade"));
    CHECK_THAT(refusal(patched<std::uint16_t>(good, 10, 4096)), Catch::Contains("header size 4096"));
    CHECK_THAT(refusal(patched<std::uint8_t>(good, 12, 9)), Catch::Contains("unknown storage type 9"));
    CHECK_THAT(refusal(patched<std::uint32_t>(good, 16, 0)), Catch::Contains("sample rate 0"));
    CHECK_THAT(refusal(patched<std::uint64_t>(good, 24, 0)), Catch::Contains("original length 0"));
    // A length the windows cannot hold (each window's output is 1024 frames of 160 samples: 2 hold 327680).
    CHECK_THAT(refusal(patched<std::uint64_t>(good, 24, ~std::uint64_t(0))), Catch::Contains("window(s) of 1024 frames cover"));
    CHECK_THAT(refusal(patched<std::uint64_t>(good, 24, 327681)), Catch::Contains("window(s) of 1024 frames cover"));
    CHECK_THAT(refusal(patched<std::uint64_t>(good, 24, 491520)), Catch::Contains("window(s) of 1024 frames cover"));
    CHECK(refusal(patched<std::uint64_t>(good, 24, 327680)) == "accepted");
    CHECK_THAT(refusal(patched<double>(good, 40, std::nan(""))), Catch::Contains("gain"));
    CHECK_THAT(refusal(patched<float>(good, 48, -1.f)), Catch::Contains("scaling factor"));
    CHECK_THAT(refusal(patched<std::uint32_t>(good, 56, 900)), Catch::Contains("window geometry"));
    // Shapes that would make a naive reader allocate gigabytes or overflow a product.
    CHECK_THAT(refusal(patched<std::uint32_t>(good, 60, 0xFFFFFFFFu)), Catch::Contains("more than 2^31"));
    CHECK_THAT(refusal(patched<std::uint32_t>(good, 64, 0x80000000u)), Catch::Contains("out of range"));
    CHECK_THAT(refusal(patched<std::uint32_t>(good, 60, 0)), Catch::Contains("out of range"));
    // A plausible shape that does not match the bytes present.
    CHECK_THAT(refusal(patched<std::uint32_t>(good, 68, 6)), Catch::Contains("the header's shape and storage need"));
    // Values: a zero int8 scale, a NaN latent.
    CHECK_THAT(refusal(patched<float>(good, 88, 0.f)), Catch::Contains("int8 scale of plane 0"));
    const std::string fp32 = serialise_latents(sample_file(), LatentStorage::fp32);
    CHECK_THAT(refusal(patched<float>(fp32, 88 + 4 * 7, std::nanf(""))),
               Catch::Contains("latent value 7 is not finite"));
    // Every message names the file.
    CHECK_THAT(refusal(flipped), Catch::StartsWith("x.ldml: not a valid ldmrecon latent file"));
}

TEST_CASE("reading a latent file names the path on every failure", "[latent]") {
    CHECK_THROWS_WITH(read_latent_file("/nonexistent/a.ldml"), Catch::Contains("/nonexistent/a.ldml: no such file"));
    CHECK_THROWS_WITH(read_latent_file("/tmp"), Catch::Contains("/tmp: is a folder, not a regular file"));
    CHECK_THROWS_AS(parse_latent_storage("bf16"), UsageError);
}
