"""Independent FLOP count of the project's modules (forward hooks), the golden numbers of
tests/test_flops.cpp. Run: scripts/find_python.sh | xargs -I{} {} tests/python/count_flops.py"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import torch  # noqa: E402
from torch import nn  # noqa: E402

from ldmrecon_models import VAE_DEFAULTS, VOCODER_DEFAULTS, Attention, AutoencoderKL, SpeechT5HifiGan  # noqa: E402
from make_test_models import TINY_VAE, TINY_VOCODER  # noqa: E402


def count(model, fn):
    total = [0]
    def conv(m, i, o):
        if isinstance(m, nn.ConvTranspose1d):
            total[0] += 2 * m.in_channels * (m.out_channels // m.groups) * m.kernel_size[0] * i[0].shape[-1] * i[0].shape[0]
        elif isinstance(m, (nn.Conv1d, nn.Conv2d)):
            k = 1
            for v in m.kernel_size: k *= v
            total[0] += 2 * (m.in_channels // m.groups) * m.out_channels * k * o.numel() // m.out_channels
        elif isinstance(m, nn.Linear):
            total[0] += 2 * m.in_features * m.out_features * (i[0].numel() // m.in_features)
        elif isinstance(m, Attention):
            b, c, h, w = i[0].shape
            total[0] += b * 2 * 2 * (h * w) ** 2 * c
    hs = [m.register_forward_hook(conv) for m in model.modules()]
    with torch.no_grad(): fn()
    for h in hs: h.remove()
    return total[0]


out = {}
for name, vc, oc in (("full", VAE_DEFAULTS, VOCODER_DEFAULTS), ("tiny", TINY_VAE, TINY_VOCODER)):
    vae, voc = AutoencoderKL(vc).eval(), SpeechT5HifiGan(oc).eval()
    x = torch.zeros(1, 1, 64, 64)
    enc = count(vae, lambda: vae.encode(x))
    dec = count(vae, lambda: vae.decode(torch.zeros(1, 8, 16, 16)))
    vo = count(voc, lambda: voc(torch.zeros(1, 64, 64)))
    out[name] = (enc, dec, vo)
print(json.dumps(out))
