"""The one custom operator in ldmrecon's exports: ``ldmrecon::attention(q, k, v, scale)``.

Why an operator of our own: the VAE's attention should run PyTorch 2's fused
``scaled_dot_product_attention`` (diffusers' AttnProcessor2_0 path) wherever the runtime has it, yet one
export must still load in libtorch 1.13, which has no such op. A TorchScript graph that names
``aten::scaled_dot_product_attention`` fails to load there; one that names ``ldmrecon::attention`` loads
anywhere the operator is registered, and each runtime brings its best implementation: the ldmrecon binary
registers it in C++ (src/attention_op.cpp), Python registers it by importing this module.

To run an export in your own Python: ``import ldmrecon_ops`` (this folder on sys.path) before
``torch.jit.load``.

q, k, v: [B, L, C], one head; returns softmax(q k^T * scale) v, [B, L, C], with the softmax in float32
(diffusers' upcast_softmax) and the result in v's dtype.
"""
from typing import List

import torch
import torch.nn.functional as F

SCHEMA = "attention(Tensor q, Tensor k, Tensor v, float scale) -> Tensor"
QUERY_BLOCK = 256


def blocked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    """The plain form (and libtorch 1.13's): queries scaled rather than the [L, L] scores (equal up to
    rounding), taken in blocks of 256 so each block's scores stay in cache: at AudioLDM2's 10.24 s window
    L = 4096 and the whole score matrix is 64 MiB, which made the softmax memory-bound on the CPU."""
    q = q * scale
    kt = k.transpose(1, 2)
    blocks: List[torch.Tensor] = []
    for start in range(0, q.shape[1], QUERY_BLOCK):
        scores = torch.bmm(q[:, start:start + QUERY_BLOCK], kt)
        blocks.append(torch.bmm(torch.softmax(scores.float(), dim=-1).to(v.dtype), v))
    return torch.cat(blocks, dim=1)


def has_fused_attention() -> bool:
    """scaled_dot_product_attention with a scale argument: PyTorch 2.1 and later."""
    return hasattr(F, "scaled_dot_product_attention") and tuple(
        int(p) for p in torch.__version__.split("+")[0].split(".")[:2] if p.isdigit()) >= (2, 1)


FUSED = has_fused_attention()  # once per process, not on every call


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    if FUSED:
        # [B, 1, L, C]: one head, the 4-D layout the fused CPU and CUDA kernels take
        out = F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), scale=scale)
        return out.squeeze(1)
    return blocked_attention(q, k, v, scale)


def _register() -> None:
    """Defines the operator once per process; a second import (or the C++ library, when loaded into this
    process) having defined it already is fine."""
    if hasattr(torch.ops, "ldmrecon") and hasattr(torch.ops.ldmrecon, "attention"):
        return
    global _LIBRARY
    _LIBRARY = torch.library.Library("ldmrecon", "DEF")
    _LIBRARY.define(SCHEMA)
    _LIBRARY.impl("attention", attention, "CompositeImplicitAutograd")


_register()
