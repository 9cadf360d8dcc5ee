#!/usr/bin/env python3
"""Writes every test fixture into one folder (CTest's setup step): random-weight model exports, broken
exports, and generated audio files. Fixtures are made here, never committed as binaries.

  make_fixtures.py OUT_DIR
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE.parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
sys.path.insert(0, str(HERE))

from ldmrecon_export import METADATA_NAME  # noqa: E402
from signals import speech_like  # noqa: E402


def rewrite_metadata(src: Path, dst: Path, change) -> None:
    """Copies an export with its metadata changed by `change(meta)` (or removed when change is None)."""
    extra = {METADATA_NAME: ""}
    m = torch.jit.load(str(src), _extra_files=extra)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if change is None:
        torch.jit.save(m, str(dst))
        return
    meta = json.loads(extra[METADATA_NAME])
    change(meta)
    torch.jit.save(m, str(dst), _extra_files={METADATA_NAME: json.dumps(meta)})


def with_weights(src: Path, dst: Path, value: float) -> None:
    """Copies an export (metadata kept) with every parameter set to `value`: NaN or all-zero models."""
    extra = {METADATA_NAME: ""}
    m = torch.jit.load(str(src), _extra_files=extra)
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(value)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(m, str(dst), _extra_files=extra)


def main() -> int:
    out = Path(sys.argv[1])
    models = out / "models"
    audio = out / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    subprocess.run([py, str(SCRIPTS / "make_test_models.py"), "-o", str(models / "tiny"), "--checkpoint-folder",
                    str(out / "checkpoint"), "--old-attention-names"], check=True)
    tiny = models / "tiny"

    # Broken or mismatched exports, each a copy of the tiny pair with one thing wrong.
    def pair(name, vae_change=..., voc_change=...):
        d = models / name
        d.mkdir(parents=True, exist_ok=True)
        for f, ch in (("vae.pt", vae_change), ("vocoder.pt", voc_change)):
            if ch is ...:
                shutil.copy(tiny / f, d / f)
            else:
                rewrite_metadata(tiny / f, d / f, ch)

    pair("no_metadata", vae_change=None)
    pair("mismatch", voc_change=lambda m: m["feature"].update(fmax=7000.0))
    pair("future", vae_change=lambda m: m.update(format_version=99))
    pair("db_feature", vae_change=lambda m: m["feature"].update(compression="db"))
    pair("tiny_scaling", vae_change=lambda m: m.update(scaling_factor=1e-38))
    pair("huge_scaling", vae_change=lambda m: m.update(scaling_factor=1e30))
    # Metadata that disagrees with the weights: the interpreter fails inside the model, mid-run.
    pair("wrong_channels", vae_change=lambda m: m["config"].update(latent_channels=m["config"]["latent_channels"] - 1))
    pair("huge_time_multiple", vae_change=lambda m: m.update(time_multiple=1000000))
    for name, value in (("nan_vocoder", float("nan")), ("zero_vocoder", 0.0)):
        pair(name)
        with_weights(tiny / "vocoder.pt", models / name / "vocoder.pt", value)
    swapped = models / "swapped"
    swapped.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny / "vocoder.pt", swapped / "vae.pt")
    shutil.copy(tiny / "vocoder.pt", swapped / "vocoder.pt")
    only_vae = models / "only_vae"
    only_vae.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny / "vae.pt", only_vae / "vae.pt")
    (models / "not_torchscript").mkdir(parents=True, exist_ok=True)
    (models / "not_torchscript" / "vae.pt").write_bytes(b"not a zip archive\n")
    shutil.copy(tiny / "vocoder.pt", models / "not_torchscript" / "vocoder.pt")

    # Audio.
    x = speech_like(16000, 3.05, seed=1)  # 306 frames: padded to 308
    sf.write(audio / "speech16k.wav", x.astype(np.float32), 16000, subtype="FLOAT")
    sf.write(audio / "speech16k_stereo_same.wav", np.stack([x, x], 1).astype(np.float32), 16000, subtype="FLOAT")
    y = speech_like(44100, 2.5, seed=2)
    sf.write(audio / "speech44k_stereo.wav", np.stack([y, 0.3 * y], 1), 44100, subtype="PCM_16")
    sf.write(audio / "speech48k.flac", speech_like(48000, 1.3, seed=3), 48000, subtype="PCM_24")
    sf.write(audio / "short.wav", x[:100].astype(np.float32), 16000, subtype="FLOAT")
    sf.write(audio / "empty.wav", np.zeros((0,), dtype=np.float32), 16000, subtype="PCM_16")
    (audio / "not_audio.wav").write_text("this is a text file, not audio\n")
    print(f"fixtures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
