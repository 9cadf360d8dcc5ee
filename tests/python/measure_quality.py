#!/usr/bin/env python3
"""Prints the figures test_quality.py pins, measured now with models/: run it after retraining the compact
pair and paste its PINNED dict into test_quality.py (and the table into docs/models.md).

  /usr/bin/python3 tests/python/measure_quality.py      # from the repository root, after a build
  LDMRECON_COMPACT_MODELS=DIR ... measure_quality.py    # a candidate pair, before it replaces models/
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_quality import HELD_OUT, UNSEEN, CompactPair, mean  # noqa: E402

PITCH = ("vuv_f1", "f0_rmse_cents", "f0_gross_error", "f0_fine_rmse_cents")
KEYS = {"full": ("stoi", "mel_l1", "mrstft", "vae_mel_l1") + PITCH,
        "vocoder": ("stoi", "mel_l1", "mrstft") + PITCH,
        "vae_griffin_lim": ("stoi", "mel_l1", "mrstft", "vae_mel_l1"),
        "griffin_lim_32": ("stoi", "mel_l1", "mrstft")}


def main() -> None:
    CompactPair.setUpClass()
    print(f"# unseen: {[f.name for f in UNSEEN]}\n# held out: {[f.name for f in HELD_OUT]}")
    print("PINNED = {")
    for split, runs in CompactPair.runs.items():
        print(f'    "{split}": {{')
        for name, recs in runs.items():
            vals = {k: mean(recs, k) for k in KEYS[name]}
            print(f'        "{name}": {{' + ", ".join(f'"{k}": {v:.4f}' for k, v in vals.items()) + "},")
        print("    },")
    print("}")
    # SI-SDR goes in docs/models.md's table but is not pinned: a vocoder does not keep the phase, so it sits near
    # -25 dB for every run here, Griffin-Lim included, and says nothing about a regression.
    for split, runs in CompactPair.runs.items():
        print(f"# SI-SDR dB, {split}: " + ", ".join(f"{n} {mean(r, 'si_sdr_db'):.1f}" for n, r in runs.items()))


if __name__ == "__main__":
    main()
