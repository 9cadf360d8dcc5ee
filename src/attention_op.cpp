// ldmrecon::attention, the one custom operator in ldmrecon's exports (scripts/ldmrecon_ops.py is its Python
// twin and says why it exists): one TorchScript export that loads in libtorch 1.13 and runs PyTorch 2's
// fused scaled_dot_product_attention where the runtime has it.
#include <ATen/ATen.h>
#include <torch/library.h>
#include <torch/version.h>

#include <vector>

#include "ldmrecon/models.hpp"

#define LDMRECON_HAS_SDPA (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1))

namespace ldmrecon {

namespace {

constexpr int64_t kQueryBlock = 256;  // ref: scripts/ldmrecon_ops.py QUERY_BLOCK

// softmax(q k^T * scale) v with the softmax in float32 (diffusers' upcast_softmax), queries in blocks of 256
// so each block's scores stay in cache.
[[maybe_unused]] at::Tensor blocked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                              double scale) {
    const at::Tensor qs = q * scale;
    const at::Tensor kt = k.transpose(1, 2);
    std::vector<at::Tensor> blocks;
    for (int64_t start = 0; start < q.size(1); start += kQueryBlock) {
        const at::Tensor scores = at::bmm(qs.slice(1, start, start + kQueryBlock), kt);
        blocks.push_back(at::bmm(at::softmax(scores.to(at::kFloat), -1).to(v.scalar_type()), v));
    }
    return at::cat(blocks, 1);
}

// q, k, v: [B, L, C], one head.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
#if LDMRECON_HAS_SDPA
    // [B, 1, L, C]: the 4-D layout the fused CPU and CUDA kernels take.
    return at::scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), {}, 0.0, false, scale)
        .squeeze(1);
#else
    return blocked_attention(q, k, v, scale);
#endif
}

}  // namespace

TORCH_LIBRARY(ldmrecon, m) { m.def("attention(Tensor q, Tensor k, Tensor v, float scale) -> Tensor", &attention); }

std::string attention_implementation() {
    return LDMRECON_HAS_SDPA ? "scaled_dot_product_attention" : "blocked bmm + softmax";
}

}  // namespace ldmrecon
