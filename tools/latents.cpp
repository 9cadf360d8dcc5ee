// `ldmrecon encode` and `ldmrecon decode`: audio to a .ldml latent file and back, and what each storage
// type costs in quality.
#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "ldmrecon/audio.hpp"
#include "ldmrecon/blas.hpp"
#include "ldmrecon/errors.hpp"
#include "ldmrecon/files.hpp"
#include "ldmrecon/latent_file.hpp"
#include "ldmrecon/metrics.hpp"
#include "ldmrecon/outputs.hpp"
#include "ldmrecon/report.hpp"

namespace fs = std::filesystem;

namespace ldmrecon::cli {

namespace {

void log_runtime(const Models& models) {
    spdlog::info("device {}, dtype {}, {}, BLAS {}; models: {}", models.device_name(), models.dtype_name(),
                 libtorch_description(), blas_description(), models.describe());
}

std::vector<float> decode_latents(Models& models, const LatentFile& f, const std::string& name) {
    ReconstructOptions o;
    o.window_frames = static_cast<int>(f.window_frames);
    o.overlap_frames = static_cast<int>(f.overlap_frames);
    std::unique_ptr<BatchRunner> runner;
    try {
        runner = std::make_unique<BatchRunner>(models, o);
    } catch (const UsageError&) {  // the geometry is the file's, not an option the user gave
        throw InputError(name + ": its windows of " + std::to_string(f.window_frames) + " frames (overlap " +
                         std::to_string(f.overlap_frames) + ") do not fit these models (time multiple " +
                         std::to_string(models.time_multiple()) + "); a damaged file, or other models");
    }
    runner->add_latents(f, name);
    return run_single(*runner).output;
}

// Where the summary lines go: standard error when the data itself goes to standard output.
std::ostream& text_out(const std::string& output) { return is_standard_output(output) ? std::cerr : std::cout; }

std::string bytes_text(std::size_t b) {
    return b >= 10 * 1024 * 1024 ? format_number(b / 1048576.0, 1) + " MiB"
           : b >= 10 * 1024      ? format_number(b / 1024.0, 1) + " KiB"
                                 : std::to_string(b) + " B";
}

std::string pad(const std::string& s, std::size_t w) { return s.size() >= w ? s : std::string(w - s.size(), ' ') + s; }

}  // namespace

int run_encode(const EncodeArgs& a) {
    const LatentStorage storage = parse_latent_storage(a.storage);
    check_outputs({a.input}, a.models, {{"-o", a.output, true, FileKind::latent}});
    Models models(resolve_models_dir(a.models), a.runtime);
    log_runtime(models);
    const FeatureConfig& fc = models.feature();
    const MonoAudio in = read_mono(a.input, fc.sample_rate);
    if (in.samples.empty()) throw InputError(a.input + ": no samples");
    // A level the latent file cannot hold is refused before the models run, as decode would refuse it.
    const Gain level = waveform_gain(in.samples);
    check_latent_gain(a.input, level.mean, level.scale);

    ReconstructOptions o;
    o.window_frames = a.window_frames;
    o.overlap_frames = a.overlap_frames;
    o.latents_only = true;
    BatchRunner runner(models, o);
    runner.add(in.samples);
    const Reconstruction r = run_single(runner);

    LatentFile f;
    f.sample_rate = static_cast<std::uint32_t>(fc.sample_rate);
    f.hop_length = static_cast<std::uint32_t>(fc.hop_length);
    f.length = in.samples.size();
    f.gain_mean = r.gain.mean;
    f.gain_scale = r.gain.scale;
    f.scaling_factor = static_cast<float>(models.scaling_factor());
    f.window_frames = static_cast<std::uint32_t>(a.window_frames);
    f.overlap_frames = static_cast<std::uint32_t>(a.overlap_frames);
    f.windows = static_cast<std::uint32_t>(r.windows);
    f.channels = static_cast<std::uint32_t>(r.latent_shape.at(1));
    f.height = static_cast<std::uint32_t>(r.latent_shape.at(2));
    f.width = static_cast<std::uint32_t>(r.latent_shape.at(3));
    f.model_id = models.model_id();
    f.latents = r.latents;
    const std::string bytes = serialise_latents(f, storage);
    write_file_atomically(a.output, bytes);

    // 16-bit PCM of the same signal at the model rate: what the latent replaces.
    const std::size_t pcm = in.samples.size() * 2;
    const std::size_t size = bytes.size();
    std::ostream& out = text_out(a.output);
    out << a.input << " -> " << a.output << ": " << f.windows << " window(s) x [" << f.channels << ", "
              << f.height << ", " << f.width << "] " << latent_storage_name(storage) << ", " << bytes_text(size)
              << "; 16-bit PCM at " << fc.sample_rate << " Hz is " << bytes_text(pcm) << ": "
              << format_number(double(pcm) / size, 2) << "x smaller\n";
    if (!a.compare) return 0;

    // Quality at each storage type: decode every variant and compare with the input.
    MetricsOptions mo;
    const LogMel feature(fc);
    out << "\nstorage   bytes      vs PCM16   SNR dB   log-mel L1   MR-STFT   STOI\n";
    for (LatentStorage s : {LatentStorage::fp32, LatentStorage::fp16, LatentStorage::int8}) {
        const std::string bytes = serialise_latents(f, s);
        const LatentFile back = parse_latents(bytes, a.output);
        const std::vector<float> y = decode_latents(models, back, a.output);
        const Metrics m = compare_signals(in.samples, y, feature, mo);
        out << pad(latent_storage_name(s), 7) << pad(bytes_text(bytes.size()), 10)
                  << pad(format_number(double(pcm) / bytes.size(), 2) + "x", 11) << pad(format_number(m.snr_db, 2), 9)
                  << pad(format_number(m.mel.l1, 4), 13) << pad(format_number(m.mrstft.value, 4), 10)
                  << pad(format_number(m.stoi, 3), 7) << "\n";
    }
    return 0;
}

int run_decode(const DecodeArgs& a) {
    check_outputs({a.input, a.reference}, a.models, {{"-o", a.output, true, FileKind::audio}});
    check_audio_output(a.output, parse_sample_format(a.format), 16000);
    const LatentFile f = read_latent_file(a.input);
    Models models(resolve_models_dir(a.models), a.runtime);
    log_runtime(models);
    const std::vector<float> y = decode_latents(models, f, a.input);
    write_wav(a.output, y, static_cast<int>(f.sample_rate), parse_sample_format(a.format));
    std::ostream& out = text_out(a.output);
    out << a.input << " -> " << a.output << ": " << format_number(double(y.size()) / f.sample_rate, 2) << " s at "
              << f.sample_rate << " Hz from " << f.windows << " window(s), " << latent_storage_name(f.storage)
              << " latents\n";
    if (!a.reference.empty()) {
        const MonoAudio ref = read_mono(a.reference, static_cast<int>(f.sample_rate));
        const Metrics m = compare_signals(ref.samples, y, LogMel(models.feature()), MetricsOptions{});
        out << "compared with " << a.reference << "\n" << metrics_table(m);
    }
    return 0;
}

}  // namespace ldmrecon::cli
