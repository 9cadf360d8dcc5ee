"""HiFi-GAN's discriminators and losses, narrowed for CPU training of the compact vocoder.

ref: Kong et al. 2020, "HiFi-GAN" (arXiv 2010.05646), sections 2.2-2.3 and the authors' models.py:
multi-period discriminator (periods 2, 3, 5, 7, 11; 2-D convolutions over the waveform folded by period)
and multi-scale discriminator (raw, x2 and x4 average-pooled waveform; grouped 1-D convolutions), least-squares
GAN losses, feature matching (L1 between the discriminators' feature maps, real vs generated).

The layer structure, kernels, strides, groups and paddings are the paper's; every channel count is the
paper's divided by `width_div` (8 by default: the full discriminators cost several times the generator and
would make CPU training days long). Only the generator is exported; these never ship.
"""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm, weight_norm

LRELU = 0.1
Features = List[torch.Tensor]


def run_stack(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor) -> Tuple[torch.Tensor, Features]:
    """Convolutions with leaky ReLU, then the output convolution: (scores flattened, every feature map)."""
    feats = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU)
        feats.append(x)
    x = post(x)
    feats.append(x)
    return x.flatten(1), feats


def _ch(c: int, div: int) -> int:
    return max(4, c // div)


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, div: int):
        super().__init__()
        self.period = period
        chans = [1] + [_ch(c, div) for c in (32, 128, 512, 1024, 1024)]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(chans[i], chans[i + 1], (5, 1), (3 if i < 4 else 1, 1), padding=(2, 0)))
            for i in range(5))
        self.post = weight_norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Features]:
        b, t = x.shape
        if t % self.period:
            x = F.pad(x, (0, self.period - t % self.period), mode="reflect")
        return run_stack(self.convs, self.post, x.view(b, 1, -1, self.period))


class ScaleDiscriminator(nn.Module):
    def __init__(self, div: int, spectral: bool = False):
        super().__init__()
        norm = spectral_norm if spectral else weight_norm
        # (out channels, kernel, stride, groups) of the paper's DiscriminatorS
        spec = [(128, 15, 1, 1), (128, 41, 2, 4), (256, 41, 2, 16), (512, 41, 4, 16), (1024, 41, 4, 16),
                (1024, 41, 1, 16), (1024, 5, 1, 1)]
        layers, cin = [], 1
        for c, k, s, g in spec:
            cout = _ch(c, div)
            g = max(1, min(g, cin // 4 if g > 1 else 1))
            while cin % g or cout % g:
                g //= 2
            layers.append(norm(nn.Conv1d(cin, cout, k, s, groups=g, padding=k // 2)))
            cin = cout
        self.convs = nn.ModuleList(layers)
        self.post = norm(nn.Conv1d(cin, 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Features]:
        return run_stack(self.convs, self.post, x.unsqueeze(1))


class Discriminators(nn.Module):
    """MPD + MSD: forward(waveform [B, N]) -> (scores, feature maps), one entry per sub-discriminator."""

    def __init__(self, width_div: int = 8, periods=(2, 3, 5, 7, 11)):
        super().__init__()
        self.mpd = nn.ModuleList(PeriodDiscriminator(p, width_div) for p in periods)
        self.msd = nn.ModuleList([ScaleDiscriminator(width_div, spectral=True),
                                  ScaleDiscriminator(width_div), ScaleDiscriminator(width_div)])

    def forward(self, x: torch.Tensor) -> Tuple[List[torch.Tensor], List[Features]]:
        scores, feats = [], []
        for d in self.mpd:
            s, f = d(x)
            scores.append(s)
            feats.append(f)
        for i, d in enumerate(self.msd):
            if i:
                x = F.avg_pool1d(x.unsqueeze(1), 4, 2, padding=2).squeeze(1)
            s, f = d(x)
            scores.append(s)
            feats.append(f)
        return scores, feats


def discriminator_loss(real: List[torch.Tensor], fake: List[torch.Tensor]) -> torch.Tensor:
    """Least squares: real scores toward 1, generated toward 0, summed over sub-discriminators."""
    return sum(torch.mean((1 - r) ** 2) + torch.mean(f ** 2) for r, f in zip(real, fake))


def generator_adversarial_loss(fake: List[torch.Tensor]) -> torch.Tensor:
    return sum(torch.mean((1 - f) ** 2) for f in fake)


def feature_matching_loss(real: List[Features], fake: List[Features]) -> torch.Tensor:
    """Mean L1 between each feature map of real and generated audio (real ones detached), summed."""
    return sum(torch.mean(torch.abs(r.detach() - f)) for rs, fs in zip(real, fake) for r, f in zip(rs, fs))
