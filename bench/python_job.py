#!/usr/bin/env python3
"""The job `ldmrecon IN... --out-dir OUT` does, written as a user would in plain Python: soundfile, soxr,
librosa's feature, the same TorchScript exports, pystoi, librosa.yin, numpy for the rest. bench/e2e.sh
times it beside ldmrecon. Figures only.

  python_job.py MODELS_DIR OUT_DIR FILE...

Prints one JSON object: seconds per stage (read, resample, feature, encode, decode, vocode, measures,
write) summed over the files, the audio seconds, and the start-up (imports, loading, first calls). Its pitch measure is librosa.yin's F0 error only
(librosa.yin gives no aperiodicity, so no voicing decision or periodicity error).
"""
import json
import math
import os
import sys
import time

T_START = time.perf_counter()
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import soxr  # noqa: E402
import torch  # noqa: E402
from pystoi import stoi  # noqa: E402
from scipy.signal import fftconvolve  # noqa: E402

import ldmrecon_ops  # noqa: E402,F401  (registers ldmrecon::attention for the exports)
from ldmrecon_export import METADATA_NAME  # noqa: E402


def load(path):
    extra = {METADATA_NAME: ""}
    m = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return m, json.loads(extra[METADATA_NAME])


def mag(x, n_fft, hop, win):
    return np.abs(librosa.stft(x, n_fft=n_fft, hop_length=hop, win_length=win, window="hann", center=True,
                               pad_mode="reflect"))


def measures(x, y, f, basis):
    n = min(len(x), len(y))
    x, y = x[:n].astype(np.float64), y[:n].astype(np.float64)
    m = {"snr_db": 10 * np.log10(np.sum(x * x) / np.sum((x - y) ** 2)), "mse": np.mean((x - y) ** 2),
         "pearson": np.corrcoef(x, y)[0, 1]}
    xc, yc = x - x.mean(), y - y.mean()
    a = np.dot(yc, xc) / np.dot(xc, xc)
    m["si_sdr_db"] = 10 * np.log10(np.sum((a * xc) ** 2) / np.sum((a * xc - yc) ** 2))
    L = 1600
    c = fftconvolve(y, x[::-1])[n - 1 - L:n + L]  # c[l] = sum x[m] y[m + l], l = -L..L
    lag = int(np.argmax(c)) - L
    xa, ya = (x[:n - lag], y[lag:]) if lag >= 0 else (x[-lag:], y[:n + lag])
    m["aligned_snr_db"] = 10 * np.log10(np.sum(xa * xa) / np.sum((xa - ya) ** 2))
    m["aligned_mse"], m["aligned_pearson"] = np.mean((xa - ya) ** 2), np.corrcoef(xa, ya)[0, 1]
    X, Y = mag(x, f["n_fft"], f["hop_length"], f["win_length"]), mag(y, f["n_fft"], f["hop_length"], f["win_length"])
    d = 10 * np.log10(np.maximum(X ** 2, 1e-10)) - 10 * np.log10(np.maximum(Y ** 2, 1e-10))
    m["lsd_db"] = np.mean(np.sqrt(np.mean(d ** 2, axis=0)))
    m["spectral_convergence"] = np.linalg.norm(X - Y) / np.linalg.norm(X)
    lx, ly = np.log(np.maximum(basis @ X, 1e-5)), np.log(np.maximum(basis @ Y, 1e-5))
    m["mel_l1"] = np.mean(np.abs(lx - ly))
    sc = lm = 0.0
    for n_fft, hop, win in ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240)):
        A = np.sqrt(np.maximum(mag(x, n_fft, hop, win) ** 2, 1e-7))
        B = np.sqrt(np.maximum(mag(y, n_fft, hop, win) ** 2, 1e-7))
        sc += np.linalg.norm(A - B) / np.linalg.norm(A) / 3
        lm += np.mean(np.abs(np.log(A) - np.log(B))) / 3
    m["mrstft"] = sc + lm
    sr = f["sample_rate"]
    m["stoi"], m["estoi"] = stoi(x, y, sr), stoi(x, y, sr, extended=True)
    fx = librosa.yin(xa, fmin=50, fmax=1000, sr=sr, frame_length=1024, hop_length=160)
    fy = librosa.yin(ya, fmin=50, fmax=1000, sr=sr, frame_length=1024, hop_length=160)
    m["f0_rmse_cents"] = float(np.sqrt(np.mean((1200 * np.log2(fy / fx)) ** 2)))
    return {k: float(v) for k, v in m.items()}


def main():
    models, out, files = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    vae, meta = load(models / "vae.pt")
    voc, _ = load(models / "vocoder.pt")
    f = meta["feature"]
    sr, hop, C = f["sample_rate"], f["hop_length"], int(meta["config"]["latent_channels"])
    basis = librosa.filters.mel(sr=sr, n_fft=f["n_fft"], n_mels=f["n_mels"], fmin=f["fmin"], fmax=f["fmax"])
    t = dict.fromkeys(("read", "resample", "feature", "encode", "decode", "vocode", "measures", "write"), 0.0)
    audio = 0.0
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(os.cpu_count())  # as ldmrecon: every core for the models
    # First calls compile (numba, librosa) and allocate: paid once, counted as start-up, not per file.
    warm = np.random.default_rng(0).normal(0, 0.1, sr).astype(np.float32)
    measures(warm, warm + 0.01, f, basis)
    start_up = time.perf_counter() - T_START
    with torch.inference_mode():
        for path in files:
            t0 = time.perf_counter()
            x, rate = sf.read(path, dtype="float32", always_2d=True)
            x = x.mean(axis=1)
            t1 = time.perf_counter()
            x = soxr.resample(x, rate, sr, quality="HQ").astype(np.float32) if rate != sr else x
            t2 = time.perf_counter()
            mean = float(x.mean())
            scale = 0.5 / (np.abs(x - mean).max() + 1e-8)
            y = (x - mean) * scale
            frames = 1 + len(y) // hop
            target = math.ceil(frames / int(meta["time_multiple"])) * int(meta["time_multiple"])
            y = np.pad(y, (0, max(0, (target - 1) * hop - len(y))))
            mel = np.log(np.maximum(basis @ mag(y, f["n_fft"], hop, f["win_length"]), f["floor"])).T
            mel = torch.from_numpy(mel.astype(np.float32))[None, None]
            t3 = time.perf_counter()
            z = vae.encode(mel)[:, :C]
            t4 = time.perf_counter()
            dec = vae.decode(z)
            t5 = time.perf_counter()
            wav = voc(dec.squeeze(1)).squeeze().numpy()[: len(x)] / scale + mean
            t6 = time.perf_counter()
            m = measures(x, wav, f, basis)
            t7 = time.perf_counter()
            sf.write(out / (Path(path).stem + ".wav"), np.clip(wav, -1, 1), sr, subtype="PCM_16")
            with open(out / "report.jsonl", "a") as r:
                r.write(json.dumps({"input": path, "metrics": m}) + "\n")
            t8 = time.perf_counter()
            for k, a, b in (("read", t0, t1), ("resample", t1, t2), ("feature", t2, t3), ("encode", t3, t4),
                            ("decode", t4, t5), ("vocode", t5, t6), ("measures", t6, t7), ("write", t7, t8)):
                t[k] += b - a
            audio += len(x) / sr
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "files": len(files),
                      "audio_seconds": audio, "start_up_seconds": start_up, "seconds": t}))


if __name__ == "__main__":
    main()
