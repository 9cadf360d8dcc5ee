// Audio I/O: round trips, downmix, resampling, atomic writes, and errors that name the file.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <sndfile.h>

#include "ldmrecon/audio.hpp"
#include "temp_folder.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/feature.hpp"
#include "ldmrecon/npy.hpp"

using namespace ldmrecon;
using Approx = Catch::Detail::Approx;
namespace fs = std::filesystem;

namespace {

std::vector<float> sine(double hz, int rate, std::size_t n, float amp = 0.5f) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = amp * static_cast<float>(std::sin(2 * M_PI * hz * i / rate));
    return x;
}

template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("WAV round trip", "[audio]") {
    TempFolder d;
    const auto x = sine(440, 16000, 1600);
    write_wav(d / "f.wav", x, 16000, SampleFormat::float32);
    const AudioBuffer a = read_audio(d / "f.wav");
    CHECK(a.sample_rate == 16000);
    CHECK(a.channels == 1);
    REQUIRE(a.samples.size() == x.size());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(a.samples[i] == x[i]);

    write_wav(d / "p.wav", x, 16000, SampleFormat::pcm16);
    const AudioBuffer p = read_audio(d / "p.wav");
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(p.samples[i] == Approx(x[i]).margin(1.0 / 32768));
    // Only the finished files remain: no temporaries.
    std::size_t files = 0;
    for (auto& e : fs::directory_iterator(d.path)) files += e.is_regular_file();
    CHECK(files == 2);
}

TEST_CASE("clipping is counted for PCM output", "[audio]") {
    TempFolder d;
    const std::vector<float> x = {0.f, 1.5f, -2.f, 0.5f};
    CHECK(write_wav(d / "c.wav", x, 16000, SampleFormat::pcm16) == 2);
    CHECK(write_wav(d / "f.wav", x, 16000, SampleFormat::float32) == 0);
    CHECK(read_audio(d / "f.wav").samples[2] == -2.f);
}

TEST_CASE("downmix averages channels", "[audio]") {
    AudioBuffer a;
    a.sample_rate = 8000;
    a.channels = 3;
    a.samples = {0.3f, 0.6f, 0.0f, -0.3f, 0.0f, 0.9f};
    const auto m = downmix(a);
    REQUIRE(m.size() == 2);
    CHECK(m[0] == Approx(0.3f));
    CHECK(m[1] == Approx(0.2f));
}

TEST_CASE("resampling keeps frequency, level and length", "[audio]") {
    const std::size_t n = 44100;
    const auto x = sine(1000, 44100, n);
    const auto y = resample(x, 44100, 16000);
    CHECK(y.size() == 16000);
    // RMS of the middle (away from the edges) stays that of a 0.5 sine.
    double s = 0;
    for (std::size_t i = 2000; i < 14000; ++i) s += double(y[i]) * y[i];
    CHECK(std::sqrt(s / 12000) == Approx(0.5 / std::sqrt(2.0)).epsilon(0.005));
    // And it is still 1 kHz: the STFT peak sits at bin 1000 / (16000 / 1024) = 64.
    Stft stft(1024, 160, 1024);
    const Matrix mag = stft.magnitude(y.data(), y.size());
    std::size_t best = 0;
    for (std::size_t k = 0; k < mag.cols; ++k)
        if (mag.at(50, k) > mag.at(50, best)) best = k;
    CHECK(best == 64);
    CHECK(resample(x, 16000, 16000) == x);
}

TEST_CASE("streaming read_mono equals one-shot downmix and resampling", "[audio]") {
    TempFolder d;
    // 3 channels at 44.1 kHz, longer than one read block (65536 frames).
    const std::size_t n = 100000;
    std::vector<float> inter(n * 3);
    for (std::size_t i = 0; i < n; ++i) {
        inter[3 * i] = 0.4f * static_cast<float>(std::sin(2 * M_PI * 440.0 * i / 44100));
        inter[3 * i + 1] = 0.2f * static_cast<float>(std::sin(2 * M_PI * 3000.0 * i / 44100));
        inter[3 * i + 2] = 0.1f;
    }
    SF_INFO info{};
    info.samplerate = 44100;
    info.channels = 3;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* f = sf_open((d / "three.wav").c_str(), SFM_WRITE, &info);
    REQUIRE(f);
    sf_writef_float(f, inter.data(), static_cast<sf_count_t>(n));
    sf_close(f);
    const MonoAudio m = read_mono(d / "three.wav", 16000);
    CHECK(m.source_rate == 44100);
    CHECK(m.source_channels == 3);
    CHECK(m.source_frames == n);
    const auto ref = resample(downmix(read_audio(d / "three.wav")), 44100, 16000);
    REQUIRE(m.samples.size() == ref.size());
    double err = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) err = std::max(err, double(std::abs(m.samples[i] - ref[i])));
    CHECK(err < 1e-5);
    const MonoAudio same = read_mono(d / "three.wav", 44100);  // no resampling: the plain downmix
    CHECK(same.samples == downmix(read_audio(d / "three.wav")));
}

TEST_CASE("read errors name the file", "[audio]") {
    TempFolder d;
    CHECK_THAT(error_of([&] { read_audio(d / "missing.wav"); }),
               Catch::Contains("missing.wav") && Catch::Contains("no such file"));
    {
        std::ofstream(d / "text.wav") << "hello";
    }
    CHECK_THAT(error_of([&] { read_audio(d / "text.wav"); }), Catch::Contains("text.wav: not a readable audio file"));
    write_wav(d / "empty.wav", {}, 16000);
    CHECK_THAT(error_of([&] { read_audio(d / "empty.wav"); }), Catch::Contains("empty.wav: holds no audio samples"));
    try {
        read_audio(d / "missing.wav");
        FAIL("no exception");
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::input);
    }
}

TEST_CASE("writing into a missing folder fails cleanly", "[audio]") {
    TempFolder d;
    try {
        write_wav(d / "no/such/out.wav", {0.f}, 16000);
        FAIL("no exception");
    } catch (const Error& e) {
        CHECK(e.code() == ExitCode::output);
        CHECK_THAT(std::string(e.what()), Catch::Contains("out.wav") && Catch::Contains("does not exist"));
    }
}

TEST_CASE(".npy layout", "[audio][npy]") {
    TempFolder d;
    Matrix m(3, 2);
    for (std::size_t i = 0; i < 6; ++i) m.data[i] = static_cast<float>(i);
    write_npy(d / "m.npy", m);
    std::ifstream f(d / "m.npy", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() == 128 + 6 * 4);  // header padded to 64 bytes
    CHECK(bytes.substr(0, 6) == "\x93NUMPY");
    CHECK(bytes.find("'shape': (3, 2)") != std::string::npos);
    CHECK(bytes.find("'<f4'") != std::string::npos);
    CHECK(bytes[127] == '\n');
    float last;
    std::memcpy(&last, bytes.data() + 128 + 5 * 4, 4);
    CHECK(last == 5.f);
}
