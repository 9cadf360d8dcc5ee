"""The project's own PyTorch modules for the AudioLDM2 VAE and vocoder.

They reproduce diffusers' ``AutoencoderKL`` and transformers' ``SpeechT5HifiGan`` module for module, with
the same state-dict names, so the published checkpoints load into them unchanged. Unlike a trace of the
upstream modules they contain no dtype casts baked to a fixed type, and they are ``torch.jit.script``-able:
an export of them runs in fp32, fp16 or bf16 from C++.

ref: diffusers/models/autoencoders/autoencoder_kl.py, vae.py (Encoder, Decoder), resnet.py
     (ResnetBlock2D, Downsample2D, Upsample2D), attention_processor.py (Attention, AttnProcessor2_0),
     unets/unet_2d_blocks.py (DownEncoderBlock2D, UpDecoderBlock2D, UNetMidBlock2D);
     transformers/models/speecht5/modeling_speecht5.py (SpeechT5HifiGan, HifiGanResidualBlock).
Only torch is needed; diffusers/transformers are not imported here.
"""
from typing import Dict, List

import torch
import torch.nn.functional as F
from torch import nn

from ldmrecon_ops import attention

# ref: diffusers AutoencoderKL defaults as used by cvssp/audioldm2*/vae/config.json
VAE_DEFAULTS = {
    "in_channels": 1,
    "out_channels": 1,
    "block_out_channels": [128, 256, 512],
    "layers_per_block": 2,
    "latent_channels": 8,
    "norm_num_groups": 32,
    "act_fn": "silu",
    "scaling_factor": 1.0,
    "sample_size": 1024,
}

# ref: transformers SpeechT5HifiGanConfig as used by cvssp/audioldm2*/vocoder/config.json
VOCODER_DEFAULTS = {
    "model_in_dim": 64,
    "sampling_rate": 16000,
    "upsample_initial_channel": 1024,
    "upsample_rates": [5, 4, 2, 2, 2],
    "upsample_kernel_sizes": [16, 16, 8, 4, 4],
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "leaky_relu_slope": 0.1,
    "normalize_before": False,
}

GROUPNORM_EPS = 1e-6  # ref: diffusers Encoder/Decoder, resnet_eps=1e-6 and conv_norm_out eps=1e-6


# --------------------------------------------------------------------------------------------- VAE
class ResnetBlock2D(nn.Module):
    # ref: diffusers resnet.py ResnetBlock2D with temb_channels=None, output_scale_factor=1
    def __init__(self, in_channels: int, out_channels: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=GROUPNORM_EPS, affine=True)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=GROUPNORM_EPS, affine=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.use_shortcut = in_channels != out_channels
        # A 1x1 conv only where the channel count changes, as diffusers does (key: conv_shortcut).
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if self.use_shortcut else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.conv_shortcut(x) + h


class Downsample2D(nn.Module):
    # ref: diffusers resnet.py Downsample2D(use_conv=True, padding=0): pad (0,1,0,1) then 3x3 stride 2
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 2, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, [0, 1, 0, 1], mode="constant", value=0.0))


class Upsample2D(nn.Module):
    # ref: diffusers resnet.py Upsample2D(use_conv=True): nearest x2 then 3x3 conv
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Nearest x2 is each value repeated 2 x 2: exactly F.interpolate(scale_factor=2, mode="nearest"), but
        # portable. Scripted under torch 2.x, F.interpolate inlines every mode of it, ops included that
        # libtorch 1.13 lacks (aten::_upsample_lanczos2d_aa), and such an export would not load there.
        b, c, h, w = x.shape
        x = x[:, :, :, None, :, None].expand(b, c, h, 2, w, 2).reshape(b, c, 2 * h, 2 * w)
        return self.conv(x)


class Attention(nn.Module):
    """Single-head spatial self-attention of the VAE mid block.

    ref: diffusers attention_processor.py Attention(heads=1, dim_head=C, residual_connection=True,
    upcast_softmax=True, norm_num_groups=groups); to_out is [Linear, Dropout] so the key is to_out.0.
    """

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, channels, eps=GROUPNORM_EPS, affine=True)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels), nn.Dropout(0.0)])
        self.scale = float(channels) ** -0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        t = self.group_norm(x).reshape(b, c, h * w).transpose(1, 2)  # [B, HW, C]
        q = self.to_q(t)
        k = self.to_k(t)
        v = self.to_v(t)
        # Fused scaled_dot_product_attention where the runtime has it, as diffusers' AttnProcessor2_0; exports
        # call the registered operator so that each runtime picks its own (ldmrecon_ops.py).
        if torch.jit.is_scripting():
            out = torch.ops.ldmrecon.attention(q, k, v, self.scale)
        else:
            out = attention(q, k, v, self.scale)
        for layer in self.to_out:
            out = layer(out)
        out = out.transpose(1, 2).reshape(b, c, h, w)
        return out + x


class MidBlock2D(nn.Module):
    # ref: diffusers UNetMidBlock2D(num_layers=1, add_attention=True): resnet, attention, resnet
    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(channels, channels, groups),
                                      ResnetBlock2D(channels, channels, groups)])
        self.attentions = nn.ModuleList([Attention(channels, groups)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.resnets[0](x)
        for attn in self.attentions:
            x = attn(x)
        return self.resnets[1](x)


class DownEncoderBlock2D(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, num_layers: int, groups: int, add_downsample: bool):
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, groups) for i in range(num_layers)])
        self.downsamplers = nn.ModuleList([Downsample2D(out_channels)] if add_downsample else [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for r in self.resnets:
            x = r(x)
        for d in self.downsamplers:
            x = d(x)
        return x


class UpDecoderBlock2D(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, num_layers: int, groups: int, add_upsample: bool):
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, groups) for i in range(num_layers)])
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels)] if add_upsample else [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for r in self.resnets:
            x = r(x)
        for u in self.upsamplers:
            x = u(x)
        return x


class Encoder(nn.Module):
    # ref: diffusers vae.py Encoder(double_z=True)
    def __init__(self, cfg: Dict):
        super().__init__()
        boc: List[int] = list(cfg["block_out_channels"])
        g = int(cfg["norm_num_groups"])
        self.conv_in = nn.Conv2d(int(cfg["in_channels"]), boc[0], 3, 1, 1)
        blocks = []
        prev = boc[0]
        for i, ch in enumerate(boc):
            blocks.append(DownEncoderBlock2D(prev, ch, int(cfg["layers_per_block"]), g, i != len(boc) - 1))
            prev = ch
        self.down_blocks = nn.ModuleList(blocks)
        self.mid_block = MidBlock2D(boc[-1], g)
        self.conv_norm_out = nn.GroupNorm(g, boc[-1], eps=GROUPNORM_EPS)
        self.conv_out = nn.Conv2d(boc[-1], 2 * int(cfg["latent_channels"]), 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(x)
        for b in self.down_blocks:
            x = b(x)
        x = self.mid_block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class Decoder(nn.Module):
    # ref: diffusers vae.py Decoder: up blocks over reversed channels, layers_per_block + 1 resnets each
    def __init__(self, cfg: Dict):
        super().__init__()
        boc: List[int] = list(cfg["block_out_channels"])
        g = int(cfg["norm_num_groups"])
        rev = list(reversed(boc))
        self.conv_in = nn.Conv2d(int(cfg["latent_channels"]), rev[0], 3, 1, 1)
        self.mid_block = MidBlock2D(rev[0], g)
        blocks = []
        out_ch = rev[0]
        for i, ch in enumerate(rev):
            prev, out_ch = out_ch, ch
            blocks.append(UpDecoderBlock2D(prev, out_ch, int(cfg["layers_per_block"]) + 1, g, i != len(rev) - 1))
        self.up_blocks = nn.ModuleList(blocks)
        self.conv_norm_out = nn.GroupNorm(g, boc[0], eps=GROUPNORM_EPS)
        self.conv_out = nn.Conv2d(boc[0], int(cfg["out_channels"]), 3, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(z)
        x = self.mid_block(x)
        for b in self.up_blocks:
            x = b(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class AutoencoderKL(nn.Module):
    """AudioLDM2's VAE. Input and output ``[B, 1, T, n_mels]`` (time first), T a multiple of 4.

    ``encode`` returns the moments ``[B, 2*latent_channels, T/4, n_mels/4]`` (mean then logvar, the
    logvar clamped to [-30, 20] as diffusers' DiagonalGaussianDistribution does); ``decode`` takes an
    unscaled latent (z_scaled / scaling_factor). Sampling is left to the caller.
    """

    def __init__(self, cfg: Dict):
        super().__init__()
        self.latent_channels = int(cfg["latent_channels"])
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        lc2 = 2 * self.latent_channels
        self.quant_conv = nn.Conv2d(lc2, lc2, 1)
        self.post_quant_conv = nn.Conv2d(self.latent_channels, self.latent_channels, 1)

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        m = self.quant_conv(self.encoder(x))
        mean, logvar = torch.chunk(m, 2, dim=1)
        return torch.cat([mean, torch.clamp(logvar, -30.0, 20.0)], dim=1)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Reconstruction through the posterior mode (the mean).
        mean = self.encode(x)[:, : self.latent_channels]
        return self.decode(mean)


# ------------------------------------------------------------------------------------------ vocoder
class HifiGanResidualBlock(nn.Module):
    # ref: transformers modeling_speecht5.py HifiGanResidualBlock; padding = (k*d - d) // 2
    def __init__(self, channels: int, kernel_size: int, dilation: List[int], slope: float):
        super().__init__()
        self.slope = slope
        self.convs1 = nn.ModuleList([nn.Conv1d(channels, channels, kernel_size, 1, dilation=d,
                                               padding=(kernel_size * d - d) // 2) for d in dilation])
        self.convs2 = nn.ModuleList([nn.Conv1d(channels, channels, kernel_size, 1, dilation=1,
                                               padding=(kernel_size - 1) // 2) for _ in dilation])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            r = x
            x = c1(F.leaky_relu(x, self.slope))
            x = c2(F.leaky_relu(x, self.slope))
            x = x + r
        return x


class SpeechT5HifiGan(nn.Module):
    """The AudioLDM2 vocoder: ``[B, T, model_in_dim]`` log-mel -> ``[B, T * prod(upsample_rates) + pad]``.

    ref: transformers modeling_speecht5.py SpeechT5HifiGan.forward; the output of the transposed
    convolutions is a few samples longer than T*hop (32 at the AudioLDM2 config); callers trim.
    """

    def __init__(self, cfg: Dict):
        super().__init__()
        self.slope = float(cfg["leaky_relu_slope"])
        self.normalize_before = bool(cfg["normalize_before"])
        self.num_kernels = len(cfg["resblock_kernel_sizes"])
        uic = int(cfg["upsample_initial_channel"])
        dim = int(cfg["model_in_dim"])
        self.conv_pre = nn.Conv1d(dim, uic, 7, 1, padding=3)
        ups = []
        for i, (u, k) in enumerate(zip(cfg["upsample_rates"], cfg["upsample_kernel_sizes"])):
            ups.append(nn.ConvTranspose1d(uic // 2 ** i, uic // 2 ** (i + 1), int(k), int(u), padding=(int(k) - int(u)) // 2))
        self.upsampler = nn.ModuleList(ups)
        blocks = []
        for i in range(len(ups)):
            ch = uic // 2 ** (i + 1)
            for k, d in zip(cfg["resblock_kernel_sizes"], cfg["resblock_dilation_sizes"]):
                blocks.append(HifiGanResidualBlock(ch, int(k), [int(v) for v in d], self.slope))
        self.resblocks = nn.ModuleList(blocks)
        self.conv_post = nn.Conv1d(uic // 2 ** len(ups), 1, 7, 1, padding=3)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        x = spectrogram
        if self.normalize_before:
            x = (x - self.mean) / self.scale
        x = self.conv_pre(x.transpose(1, 2))
        for i, up in enumerate(self.upsampler):
            x = up(F.leaky_relu(x, self.slope))
            acc = torch.zeros_like(x)
            for j, block in enumerate(self.resblocks):
                # TorchScript cannot index a ModuleList with a computed index: select by range.
                if j >= i * self.num_kernels and j < (i + 1) * self.num_kernels:
                    acc = acc + block(x)
            x = acc / float(self.num_kernels)
        x = F.leaky_relu(x)  # ref: transformers uses the default slope 0.01 here, not leaky_relu_slope
        x = torch.tanh(self.conv_post(x))
        return x.squeeze(1)


# ------------------------------------------------------------------------------------ checkpoints
_OLD_ATTENTION_NAMES = {"query.": "to_q.", "key.": "to_k.", "value.": "to_v.", "proj_attn.": "to_out.0."}


def convert_vae_state_dict(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Renames old diffusers attention keys (query/key/value/proj_attn) to to_q/to_k/to_v/to_out.0.

    Old checkpoints may also store those projections as 1x1 convolutions ([C, C, 1, 1]); they are
    reshaped to linear weights.
    """
    out = {}
    for k, v in sd.items():
        nk = k
        if ".attentions." in k:
            for old, new in _OLD_ATTENTION_NAMES.items():
                marker = ".attentions.0." + old
                if marker in k:
                    nk = k.replace(marker, ".attentions.0." + new)
            if nk.endswith(".weight") and v.dim() == 4 and "group_norm" not in nk:
                v = v[:, :, 0, 0]
        out[nk] = v
    return out


def fold_weight_norm(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Turns weight_g/weight_v pairs (a checkpoint saved with weight norm applied) into plain weights."""
    out = {}
    for k, v in sd.items():
        if k.endswith(".weight_v"):
            base = k[: -len("_v")]
            g = sd[base + "_g"]
            dims = list(range(1, v.dim()))
            out[base] = v * (g / v.norm(dim=dims, keepdim=True))
        elif k.endswith(".weight_g"):
            continue
        else:
            out[k] = v
    # Newer torch's parametrizations name them original0 / original1.
    for k in list(out.keys()):
        if k.endswith(".parametrizations.weight.original1"):
            base = k[: -len(".parametrizations.weight.original1")]
            g = out.pop(base + ".parametrizations.weight.original0")
            v = out.pop(k)
            out[base + ".weight"] = v * (g / v.norm(dim=list(range(1, v.dim())), keepdim=True))
    return out
