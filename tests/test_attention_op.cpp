// ldmrecon::attention (src/attention_op.cpp), called as exports call it, against softmax(q k^T s) v written
// out here in double precision.
#include <catch2/catch.hpp>
#include <torch/script.h>

#include "ldmrecon/models.hpp"

namespace {

at::Tensor call_op(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
    static const auto op = c10::Dispatcher::singleton()
                               .findSchemaOrThrow("ldmrecon::attention", "")
                               .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, double)>();
    return op.call(q, k, v, scale);
}

at::Tensor reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
    const at::Tensor qd = q.to(at::kDouble), kd = k.to(at::kDouble), vd = v.to(at::kDouble);
    return at::softmax(at::bmm(qd, kd.transpose(1, 2)) * scale, -1).bmm(vd);
}

}  // namespace

TEST_CASE("ldmrecon::attention is registered and equals the plain softmax attention", "[models][attention]") {
    (void)ldmrecon::attention_implementation();  // links attention_op.cpp, as loading a model does
    at::manual_seed(7);
    // 300 queries: more than one block of 256, and a partial last block; 64 and 512 channels.
    for (const int64_t c : {64, 512}) {
        const at::Tensor q = at::randn({2, 300, c}), k = at::randn({2, 300, c}), v = at::randn({2, 300, c});
        const double scale = 1.0 / std::sqrt(static_cast<double>(c));
        const at::Tensor got = call_op(q, k, v, scale);
        REQUIRE(got.sizes() == q.sizes());
        REQUIRE(got.scalar_type() == at::kFloat);
        const double err = (got.to(at::kDouble) - reference(q, k, v, scale)).abs().max().item<double>();
        INFO("channels " << c << ", max abs error " << err << ", " << ldmrecon::attention_implementation());
        CHECK(err < 2e-6);
        // A wrong scale or a transposed product is far outside that.
        CHECK((call_op(q, k, v, 2 * scale).to(at::kDouble) - reference(q, k, v, scale)).abs().max().item<double>() > 1e-2);
    }
}

TEST_CASE("ldmrecon::attention keeps a half-precision input's dtype", "[models][attention]") {
    at::manual_seed(8);
    const at::Tensor q = at::randn({1, 40, 16}), k = at::randn({1, 40, 16}), v = at::randn({1, 40, 16});
    const at::Tensor got = call_op(q.to(at::kBFloat16), k.to(at::kBFloat16), v.to(at::kBFloat16), 0.25);
    REQUIRE(got.scalar_type() == at::kBFloat16);
    CHECK((got.to(at::kDouble) - reference(q, k, v, 0.25)).abs().max().item<double>() < 5e-2);
}
