#include "ldmrecon/pipeline.hpp"

#include <chrono>
#include <cstring>

#include "ldmrecon/errors.hpp"
#include "models_impl.hpp"

namespace ldmrecon {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void sync(const torch::Device& d) {
    if (d.is_cuda()) torch::cuda::synchronize(d.index());
}

Matrix to_matrix(const torch::Tensor& t, std::size_t rows, std::size_t cols) {
    const torch::Tensor c = t.to(torch::kCPU, torch::kFloat).contiguous();
    if (static_cast<std::size_t>(c.numel()) != rows * cols) throw Error(ExitCode::internal, "unexpected tensor size");
    Matrix m(rows, cols);
    std::memcpy(m.data.data(), c.data_ptr<float>(), rows * cols * sizeof(float));
    return m;
}

}  // namespace

std::size_t padded_length(std::size_t n, int hop, int multiple) {
    const std::size_t h = static_cast<std::size_t>(hop), m = static_cast<std::size_t>(multiple);
    const std::size_t frames = 1 + n / h;
    const std::size_t target = (frames + m - 1) / m * m;
    // 1 + len / hop == target  <=>  len in [(target - 1) * hop, target * hop)
    return std::max(n, (target - 1) * h);
}

Reconstruction reconstruct(Models& models, const std::vector<float>& audio, const ReconstructOptions& opts) {
    if (audio.empty()) throw InputError("empty signal");
    Models::Impl& m = models.impl();
    const FeatureConfig& fc = m.feature;
    Reconstruction r;
    c10::InferenceMode inference;

    auto t0 = Clock::now();
    std::vector<float> x = audio;
    r.gain = normalise_waveform(x);
    r.frames = fc.frames(x.size());
    // Pad the waveform with silence, not the log-mel with 0 (a loud value in log space): SPEC.md 1.
    x.resize(padded_length(x.size(), fc.hop_length, m.time_multiple), 0.f);
    const LogMel logmel(fc);
    r.input_feature = logmel.compute(x);
    r.padded_frames = r.input_feature.rows;
    r.times.feature = seconds_since(t0);

    try {
        const auto T = static_cast<std::int64_t>(r.padded_frames), M = static_cast<std::int64_t>(fc.n_mels);
        t0 = Clock::now();
        torch::Tensor mel = torch::from_blob(r.input_feature.data.data(), {1, 1, T, M}, torch::kFloat)
                                .to(m.device, m.dtype);
        torch::Tensor moments = m.vae.run_method("encode", mel).toTensor();
        const std::int64_t C = m.latent_channels;
        torch::Tensor mean = moments.narrow(1, 0, C);
        torch::Tensor z = mean;
        if (opts.sample) {
            torch::Tensor logvar = moments.narrow(1, C, C);
            // Noise drawn on the CPU in fp32 so a seed gives the same latent on every device.
            auto gen = at::detail::createCPUGenerator(opts.seed);
            torch::Tensor eps = at::randn(mean.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat))
                                    .to(m.device, m.dtype);
            z = mean + torch::exp(0.5 * logvar) * eps;
        }
        // Latents as a diffusion model sees them are z * scaling_factor; decode takes them back.
        torch::Tensor z_scaled = z * m.scaling_factor;
        r.latent_shape = z_scaled.sizes().vec();
        sync(m.device);
        r.times.encode = seconds_since(t0);

        t0 = Clock::now();
        torch::Tensor decoded = m.vae.run_method("decode", z_scaled / m.scaling_factor).toTensor();
        sync(m.device);
        r.times.decode = seconds_since(t0);
        if (decoded.dim() != 4 || decoded.size(2) != T || decoded.size(3) != M)
            throw ModelError(models.dir() + ": VAE decoded a feature of the wrong shape");
        r.decoded_feature = to_matrix(decoded, r.padded_frames, fc.n_mels);

        t0 = Clock::now();
        // [B, 1, T, M] -> [B, T, M]: the vocoder takes time-first frames, no transpose (SPEC.md 1).
        torch::Tensor wave = m.vocoder.forward({decoded.squeeze(1)}).toTensor();
        sync(m.device);
        r.times.vocode = seconds_since(t0);
        const torch::Tensor w = wave.reshape({-1}).to(torch::kCPU, torch::kFloat).contiguous();
        r.vocoder_raw.assign(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
    } catch (const c10::Error& e) {
        std::string msg = e.what();
        msg = msg.substr(0, msg.find('\n'));
        throw ModelError(models.dir() + ": the models failed on this input (" + msg + ")");
    }
    if (r.vocoder_raw.size() < audio.size())
        throw ModelError(models.dir() + ": vocoder returned " + std::to_string(r.vocoder_raw.size()) +
                         " samples for " + std::to_string(audio.size()));
    r.output.assign(r.vocoder_raw.begin(), r.vocoder_raw.begin() + static_cast<long>(audio.size()));
    restore_level(r.output, r.gain);
    return r;
}

}  // namespace ldmrecon
