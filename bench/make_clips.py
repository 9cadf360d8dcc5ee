#!/usr/bin/env python3
"""The clips bench/e2e.sh is run on: N clips of S seconds of real speech (the held-out test prompts of
prepare_data.py's manifest, joined in order), every other one as 44.1 kHz stereo FLAC (resampled with soxr,
the two channels equal), the rest as 16 kHz mono WAV.

  bench/make_clips.py OUT_DIR [--count 12] [--seconds 8] [--data ~/.cache/ldmrecon/data]
"""
import argparse
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr


def main():
    default_data = os.environ.get("LDMRECON_DATA") or str(Path.home() / ".cache" / "ldmrecon" / "data")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--data", type=Path, default=Path(default_data))
    a = ap.parse_args()
    rows = [ln.split("\t") for ln in (a.data / "manifest.tsv").read_text().splitlines()[1:] if ln]
    files = sorted(a.data / r[6] for r in rows if r[0] == "test")
    speech = np.concatenate([sf.read(f, dtype="float32")[0] for f in files])
    n = int(round(16000 * a.seconds))
    if len(speech) < a.count * n:
        raise SystemExit(f"the test split holds {len(speech) / 16000:.0f} s, fewer than {a.count} x {a.seconds} s")
    a.out.mkdir(parents=True, exist_ok=True)
    for i in range(a.count):
        clip = speech[i * n:(i + 1) * n]
        if i % 2:
            x = soxr.resample(clip, 16000, 44100)
            sf.write(a.out / f"clip{i:02d}.flac", np.stack([x, x], axis=1), 44100, subtype="PCM_16")
        else:
            sf.write(a.out / f"clip{i:02d}.wav", clip, 16000, subtype="PCM_16")
    print(f"{a.count} clips of {a.seconds} s in {a.out}")


if __name__ == "__main__":
    main()
