// A program of a user of the installed library: the feature and two measures on a tone, through the
// public headers alone. Prints "ok" and the values, exit 0, when they are what they must be.
#include <cmath>
#include <cstdio>
#include <vector>

#include <ldmrecon/feature.hpp>
#include <ldmrecon/metrics.hpp>

int main() {
    std::vector<float> x(16000), y(16000);
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] = 0.5f * static_cast<float>(std::sin(2 * M_PI * 440.0 * i / 16000));
        y[i] = 0.5f * x[i];
    }
    const ldmrecon::LogMel feature{ldmrecon::FeatureConfig{}};
    const ldmrecon::Matrix mel = feature.compute(x);
    const double snr = ldmrecon::snr_db(x.data(), y.data(), x.size());  // 10 log10(1 / 0.25) = 6.02 dB
    const double si = ldmrecon::si_sdr_db(x.data(), y.data(), x.size());  // a gain alone: +inf
    const bool ok = mel.rows == 101 && mel.cols == 64 && std::abs(snr - 6.0206) < 1e-3 && std::isinf(si);
    std::printf("%s frames %zu mels %zu snr %.4f\n", ok ? "ok" : "WRONG", mel.rows, mel.cols, snr);
    return ok ? 0 : 1;
}
