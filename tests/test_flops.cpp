// The FLOP counter against an independent count: forward hooks on the project's torch modules (every
// Conv1d/Conv2d/ConvTranspose1d/Linear and the attention's two bmm), 64 frames x 64 bands.
// Golden numbers from tests/python/count_flops.py.
#include <catch2/catch.hpp>

#include "ldmrecon/flops.hpp"

using namespace ldmrecon;
using Approx = Catch::Detail::Approx;

namespace {

const char* kVocoder = R"({"model_in_dim": 64, "upsample_initial_channel": 1024, "upsample_rates": [5, 4, 2, 2, 2],
    "upsample_kernel_sizes": [16, 16, 8, 4, 4], "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]]})";

}  // namespace

TEST_CASE("FLOPs of the full AudioLDM2 configs", "[flops]") {
    const auto vae = nlohmann::json::parse(R"({"block_out_channels": [128, 256, 512], "layers_per_block": 2,
        "latent_channels": 8, "in_channels": 1, "out_channels": 1})");
    const StageFlops f = count_flops(vae, nlohmann::json::parse(kVocoder), 64, 64);
    CHECK(f.encode == Approx(19575996416.0).epsilon(1e-12));
    CHECK(f.decode == Approx(39891009536.0).epsilon(1e-12));
    CHECK(f.vocode == Approx(64374454272.0).epsilon(1e-12));
}

TEST_CASE("FLOPs of the tiny test config", "[flops]") {
    const auto vae = nlohmann::json::parse(R"({"block_out_channels": [16, 32, 32], "layers_per_block": 1,
        "latent_channels": 8})");
    auto voc = nlohmann::json::parse(kVocoder);
    voc["upsample_initial_channel"] = 64;
    const StageFlops f = count_flops(vae, voc, 64, 64);
    CHECK(f.encode == Approx(119013376.0).epsilon(1e-12));
    CHECK(f.decode == Approx(319062016.0).epsilon(1e-12));
    CHECK(f.vocode == Approx(255172992.0).epsilon(1e-12));
}
