#include "ldmrecon/flops.hpp"

#include <vector>

namespace ldmrecon {

namespace {

double conv2d(double cin, double cout, double k, double h, double w) { return 2 * cin * cout * k * k * h * w; }

double resnet2d(double cin, double cout, double h, double w) {
    return conv2d(cin, cout, 3, h, w) + conv2d(cout, cout, 3, h, w) + (cin != cout ? conv2d(cin, cout, 1, h, w) : 0);
}

double mid_block(double c, double h, double w) {
    const double n = h * w;  // tokens of the single-head attention
    return 2 * resnet2d(c, c, h, w) + 4 * (2 * c * c * n) + 2 * (2 * n * n * c);
}

}  // namespace

StageFlops count_flops(const nlohmann::json& vae, const nlohmann::json& voc, std::size_t frames, std::size_t n_mels) {
    StageFlops f;
    const std::vector<double> boc = vae.at("block_out_channels").get<std::vector<double>>();
    const double layers = vae.at("layers_per_block").get<double>();
    const double lc = vae.at("latent_channels").get<double>();
    const double cin0 = vae.value("in_channels", 1.0), cout0 = vae.value("out_channels", 1.0);
    double h = static_cast<double>(frames), w = static_cast<double>(n_mels);

    // Encoder, then quant_conv.
    f.encode += conv2d(cin0, boc[0], 3, h, w);
    double prev = boc[0];
    for (std::size_t i = 0; i < boc.size(); ++i) {
        for (int j = 0; j < static_cast<int>(layers); ++j) {
            f.encode += resnet2d(j == 0 ? prev : boc[i], boc[i], h, w);
        }
        prev = boc[i];
        if (i + 1 < boc.size()) {
            h /= 2;
            w /= 2;
            f.encode += conv2d(boc[i], boc[i], 3, h, w);  // stride 2: output positions
        }
    }
    f.encode += mid_block(boc.back(), h, w);
    f.encode += conv2d(boc.back(), 2 * lc, 3, h, w) + conv2d(2 * lc, 2 * lc, 1, h, w);

    // post_quant_conv, then the decoder.
    f.decode += conv2d(lc, lc, 1, h, w) + conv2d(lc, boc.back(), 3, h, w) + mid_block(boc.back(), h, w);
    prev = boc.back();
    for (std::size_t i = 0; i < boc.size(); ++i) {
        const double ch = boc[boc.size() - 1 - i];
        for (int j = 0; j < static_cast<int>(layers) + 1; ++j) f.decode += resnet2d(j == 0 ? prev : ch, ch, h, w);
        prev = ch;
        if (i + 1 < boc.size()) {
            h *= 2;
            w *= 2;
            f.decode += conv2d(ch, ch, 3, h, w);
        }
    }
    f.decode += conv2d(boc[0], cout0, 3, h, w);

    // Vocoder: conv_pre, per stage a transposed conv and the residual blocks, conv_post.
    const double uic = voc.at("upsample_initial_channel").get<double>();
    const auto rates = voc.at("upsample_rates").get<std::vector<double>>();
    const auto kernels = voc.at("upsample_kernel_sizes").get<std::vector<double>>();
    const auto rk = voc.at("resblock_kernel_sizes").get<std::vector<double>>();
    const auto rd = voc.at("resblock_dilation_sizes").get<std::vector<std::vector<double>>>();
    double len = static_cast<double>(frames);
    f.vocode += 2 * voc.at("model_in_dim").get<double>() * uic * 7 * len;
    double ch = uic;
    for (std::size_t i = 0; i < rates.size(); ++i) {
        const double out = ch / 2, u = rates[i], k = kernels[i];
        f.vocode += 2 * ch * out * k * len;  // each input position scatters k taps to every output channel
        len = (len - 1) * u - 2 * static_cast<double>(static_cast<long>((k - u) / 2)) + k;
        for (std::size_t j = 0; j < rk.size(); ++j)
            f.vocode += static_cast<double>(rd[j].size()) * 2 * (2 * out * out * rk[j] * len);
        ch = out;
    }
    f.vocode += 2 * ch * 1 * 7 * len;
    return f;
}

}  // namespace ldmrecon
