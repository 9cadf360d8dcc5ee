// Model metadata checks (no model files needed) and, with the tiny fixture, the pipeline's contracts.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "fixture_models.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/models.hpp"
#include "ldmrecon/pipeline.hpp"
#include "temp_folder.hpp"

using namespace ldmrecon;
using Approx = Catch::Detail::Approx;
namespace fs = std::filesystem;

namespace {

nlohmann::json good_meta() {
    return nlohmann::json::parse(R"({"feature": {"sample_rate": 16000, "n_fft": 1024, "win_length": 1024,
        "hop_length": 160, "window": "hann_periodic", "center": true, "pad_mode": "reflect",
        "spectrum": "magnitude", "n_mels": 64, "fmin": 0.0, "fmax": 8000.0, "mel_scale": "slaney",
        "mel_norm": "slaney", "compression": "ln", "floor": 1e-05, "layout": "time_major",
        "waveform_normalisation": "mean_peak_half"}})");
}

std::string model_error(const nlohmann::json& meta) {
    try {
        feature_from_metadata(meta, "x/vae.pt");
    } catch (const ModelError& e) {
        return e.what();
    }
    return "";
}


}  // namespace

TEST_CASE("feature metadata is read and checked", "[models]") {
    const FeatureConfig f = feature_from_metadata(good_meta(), "x/vae.pt");
    CHECK(f.sample_rate == 16000);
    CHECK(f.n_mels == 64);
    CHECK(f.hop_length == 160);
    CHECK(f.fmax == 8000.0);
    CHECK(feature_differences(f, FeatureConfig{}).empty());

    auto m = good_meta();
    m["feature"]["layout"] = "mel_major";
    CHECK_THAT(model_error(m), Catch::Contains("x/vae.pt") && Catch::Contains("layout is 'mel_major'"));
    m = good_meta();
    m["feature"].erase("n_mels");
    CHECK_THAT(model_error(m), Catch::Contains("incomplete"));
    m = good_meta();
    m["feature"]["fmax"] = 9000.0;  // above Nyquist
    CHECK_THAT(model_error(m), Catch::Contains("impossible"));
    CHECK_THAT(model_error(nlohmann::json::object()), Catch::Contains("no 'feature' section"));
}

TEST_CASE("feature differences are listed", "[models]") {
    FeatureConfig a, b;
    b.n_mels = 256;
    b.sample_rate = 48000;
    const auto d = feature_differences(a, b);
    REQUIRE(d.size() == 2);
    CHECK(d[0] == "sample_rate: 16000 vs 48000");
    CHECK(d[1] == "n_mels: 64 vs 256");
}

TEST_CASE("models folder resolution", "[models]") {
    CHECK_THROWS_AS(resolve_models_dir("/nonexistent/dir"), ModelError);
    try {
        resolve_models_dir("/nonexistent/dir");
    } catch (const ModelError& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("/nonexistent/dir") && Catch::Contains("export_models.py"));
    }
}

TEST_CASE("pipeline on the tiny fixture", "[pipeline]") {
    RuntimeOptions rt;
    rt.device = "cpu";
    rt.threads = 2;
    Models models(fixture_models(), rt);
    CHECK(models.feature().n_mels == 64);
    CHECK(models.scaling_factor() == 0.5);
    CHECK(models.time_multiple() == 4);
    CHECK(models.device_name() == "cpu");

    std::vector<float> x(16000 + 77);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.05f + 0.3f * std::sin(0.02f * i) * std::sin(0.0003f * i);
    const Reconstruction r = reconstruct(models, x);
    CHECK(r.output.size() == x.size());
    CHECK(r.frames == 1 + x.size() / 160);
    CHECK(r.padded_frames % 4 == 0);
    CHECK(r.input_feature.rows == r.padded_frames);
    CHECK(r.decoded_feature.rows == r.padded_frames);
    CHECK(r.latent_shape == std::vector<std::int64_t>{1, 8, static_cast<std::int64_t>(r.padded_frames / 4), 16});
    CHECK(r.vocoder_raw.size() == 160 * r.padded_frames + 32);
    // Level restored: output = raw / scale + mean on the input's samples.
    for (std::size_t i = 0; i < x.size(); i += 997)
        CHECK(r.output[i] == Approx(r.vocoder_raw[i] / r.gain.scale + r.gain.mean).margin(1e-6));
    CHECK(r.gain.mean == Approx(0.05).margin(0.01));

    // Deterministic in mode; seeded sampling reproduces and differs from the mode.
    CHECK(reconstruct(models, x).output == r.output);
    ReconstructOptions s;
    s.sample = true;
    s.seed = 3;
    const auto a = reconstruct(models, x, s).output;
    CHECK(reconstruct(models, x, s).output == a);
    CHECK(a != r.output);

    CHECK_THROWS_AS(reconstruct(models, {}), InputError);
}

TEST_CASE("bf16 on the CPU: close to fp32 where libtorch supports it, refused with advice where not", "[pipeline]") {
    RuntimeOptions rt;
    rt.device = "cpu";
    Models f32(fixture_models(), rt);
    rt.dtype = "bf16";
    if (libtorch_version().rfind("1.", 0) == 0) {
        CHECK_THROWS_WITH(Models(fixture_models(), rt), Catch::Contains("--dtype fp32") && Catch::Contains("cuda"));
        return;
    }
    Models b16(fixture_models(), rt);
    std::vector<float> x(8000);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.3f * std::sin(0.03f * i);
    const auto a = reconstruct(f32, x), b = reconstruct(b16, x);
    double err = 0;
    for (std::size_t i = 0; i < a.decoded_feature.data.size(); ++i)
        err = std::max(err, double(std::abs(a.decoded_feature.data[i] - b.decoded_feature.data[i])));
    INFO("max |fp32 - bf16| of the decoded feature: " << err);
    CHECK(err < 0.25);  // bf16 keeps 8 bits of mantissa: about 2 decimal digits of a value near -5
}

TEST_CASE("device and dtype errors", "[models]") {
    RuntimeOptions rt;
    rt.device = "tpu";
    CHECK_THROWS_AS(Models(fixture_models(), rt), UsageError);
    rt.device = "cpu";
    rt.dtype = "fp64";
    CHECK_THROWS_AS(Models(fixture_models(), rt), UsageError);
    rt.dtype = "fp16";
    CHECK_THROWS_WITH(Models(fixture_models(), rt), Catch::Contains("bf16"));
}

TEST_CASE("export metadata is read from the zip without libtorch, and damaged archives are refused", "[models]") {
    const std::string dir = fixture_models();
    const std::string vae = (fs::path(dir) / "vae.pt").string();
    const nlohmann::json meta = read_export_metadata(vae);
    CHECK(meta.value("kind", "") == "vae");
    CHECK(meta.value("format", "") == "ldmrecon-export");
    // The same bytes libtorch reads (Models keeps the metadata it loaded).
    Models m(dir, RuntimeOptions{});
    CHECK(m.vae_metadata() == meta);

    TempFolder tmp;
    std::ifstream in(vae, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto code_of_bytes = [&](const std::string& b) {
        const std::string p = (tmp.path / "x.pt").string();
        std::ofstream(p, std::ios::binary) << b;
        try {
            read_export_metadata(p);
        } catch (const Error& e) {
            return e.code();
        }
        return ExitCode::ok;
    };
    CHECK(code_of_bytes(bytes) == ExitCode::ok);
    CHECK(code_of_bytes("not a zip archive\n") == ExitCode::model);
    CHECK(code_of_bytes(bytes.substr(0, bytes.size() / 2)) == ExitCode::model);  // cut: no directory
    CHECK(code_of_bytes(bytes.substr(bytes.size() / 2)) == ExitCode::model);     // offsets point nowhere
    std::string flipped = bytes;
    flipped[flipped.size() - 22 + 16] ^= 0x7f;  // the directory offset
    CHECK(code_of_bytes(flipped) == ExitCode::model);
}
