#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus (committed in fuzz/corpus/, re-made by this script, never edited by hand):
small valid .ldml files at each storage type, and small audio files in the formats and shapes ldmrecon
reads. libFuzzer mutates these; valid starting points reach far deeper than random bytes.

  fuzz/make_seeds.py [OUT_DIR]   (default: fuzz/corpus)
"""
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf


def ldml(storage, windows=1, c=2, h=3, w=4, length=400, window_frames=12, seed=0):
    """A latent file as README.md "Latent files" lays it out (version 1, 88-byte header, CRC-32 last)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((windows, c, h, w)).astype(np.float32)
    head = b"LDMLAT\r\n" + struct.pack("<HHB3x", 1, 88, storage)
    head += struct.pack("<IIQddf", 16000, 160, length, 0.001, 3.5, 0.9)
    head += struct.pack("<II", window_frames, 2) + struct.pack("<IIIII", windows, c, h, w, 0)
    head += struct.pack("<Q", 0x1234_5678_9ABC_DEF0)
    if storage == 0:
        body = z.tobytes()
    elif storage == 1:
        body = z.astype("<f2").tobytes()
    else:
        scales = np.abs(z).reshape(windows * c, -1).max(1) / 127
        q = np.round(z.reshape(windows * c, -1) / scales[:, None]).astype(np.int8)
        body = scales.astype("<f4").tobytes() + q.tobytes()
    data = head + body
    return data + struct.pack("<I", zlib.crc32(data))


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "corpus"
    (out / "latent").mkdir(parents=True, exist_ok=True)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    for storage, name in ((0, "fp32"), (1, "fp16"), (2, "int8")):
        (out / "latent" / f"{name}.ldml").write_bytes(ldml(storage))
    (out / "latent" / "two-windows.ldml").write_bytes(ldml(1, windows=2, length=3000, window_frames=12))

    t = np.arange(600)
    tone = (0.4 * np.sin(2 * np.pi * 440 * t / 16000)).astype(np.float32)
    audio = out / "audio"
    sf.write(audio / "mono16k.wav", tone, 16000, subtype="PCM_16")
    sf.write(audio / "stereo44k.wav", np.stack([tone, -tone], 1), 44100, subtype="PCM_24")
    sf.write(audio / "float48k.wav", tone, 48000, subtype="FLOAT")
    sf.write(audio / "u8-8k.wav", tone[:200], 8000, subtype="PCM_U8")
    sf.write(audio / "mono.flac", tone, 22050, subtype="PCM_16")
    sf.write(audio / "six.aiff", np.tile(tone[:100, None], (1, 6)), 32000, subtype="PCM_16")
    sf.write(audio / "alaw.au", tone[:300], 8000, subtype="ALAW", format="AU")
    sf.write(audio / "mono.ogg", tone, 16000, format="OGG", subtype="VORBIS")
    print(f"seeds written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
