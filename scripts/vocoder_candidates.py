#!/usr/bin/env python3
"""Measures the compact vocoder configs that scripts/train_compact.py can train (--config NAME), so the
choice is made on numbers: parameters, export size, FLOPs per second of audio, the channels left at the
output sample rate, and the time to vocode a 10.24 s clip on this machine (torch eager, inference).

  scripts/vocoder_candidates.py [--threads 2] [--repeat 3]

Early losses come from short trial runs of each (train_compact.py vocoder --config NAME --steps 300);
docs/models.md "A vocoder that follows pitch" has both.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ldmrecon_python import ensure_torch  # noqa: E402

ensure_torch()

import torch  # noqa: E402
from torch import nn  # noqa: E402

from ldmrecon_models import SpeechT5HifiGan  # noqa: E402
from train_compact import VOCODER_CONFIGS  # noqa: E402


def flops(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds x2 of every convolution, counted from the shapes seen by forward hooks."""
    total = [0]

    def hook(m, i, o):
        if isinstance(m, nn.ConvTranspose1d):
            total[0] += 2 * m.in_channels * m.out_channels * m.kernel_size[0] * i[0].shape[-1] * i[0].shape[0]
        elif isinstance(m, nn.Conv1d):
            total[0] += 2 * m.in_channels // m.groups * m.out_channels * m.kernel_size[0] * o.shape[-1] * o.shape[0]
    hs = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    return total[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    clip = torch.randn(1, 1024, 64) * 2 - 5  # 10.24 s of feature frames
    for name, cfg in VOCODER_CONFIGS.items():
        model = SpeechT5HifiGan(cfg).eval()
        params = sum(p.numel() for p in model.parameters())
        n = len(cfg["upsample_rates"])
        with torch.no_grad():
            model(clip[:, :64])  # warm-up
            best = float("inf")
            for _ in range(args.repeat):
                t = time.perf_counter()
                model(clip)
                best = min(best, time.perf_counter() - t)
        rows.append({"config": name, "params": params, "size_mb": round(params * 4 / 1e6, 2),
                     "gflop_per_audio_s": round(flops(model, clip[:, :100]) / 1e9, 2),
                     "channels_at_16k": cfg["upsample_initial_channel"] // 2 ** n,
                     "rates": cfg["upsample_rates"], "ms_per_10s_clip": round(best * 1e3, 1),
                     "x_real_time": round(10.24 / best, 1)})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"torch {torch.__version__}, {args.threads} threads, best of {args.repeat}")
    keys = list(rows[0])
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
