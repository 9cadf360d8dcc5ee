// A program of a user of the installed ldmrecon::models: loads an export folder (argv[1]) on the CPU and
// says what it holds. Exit 0 when the feature and latent settings are AudioLDM2's.
#include <cstdio>

#include <ldmrecon/models.hpp>

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    try {
        const ldmrecon::Models m(argv[1], ldmrecon::RuntimeOptions{"cpu", "fp32", 1, "torchscript"});
        const bool ok = m.feature().sample_rate == 16000 && m.feature().n_mels == 64 && m.time_multiple() == 4 &&
                        m.latent_channels() > 0;
        std::printf("%s %s on %s (%s), latent channels %d\n", ok ? "ok" : "WRONG", ldmrecon::libtorch_description().c_str(),
                    m.device_name().c_str(), m.backend().c_str(), m.latent_channels());
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "models_consumer: %s\n", e.what());
        return 1;
    }
}
