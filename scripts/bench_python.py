#!/usr/bin/env python3
"""The Python side of `ldmrecon bench`: the same models run from Python, on the same input, eagerly or
through torch.compile (Inductor, the compiler behind `ldmrecon compile`'s AOTInductor packages).

  bench_python.py --models DIR --input clip.wav --threads N --batch-size B [--repeat R] [--warmup W]
                  [--compile default|max-autotune]

Builds the project's own nn.Modules (scripts/ldmrecon_models.py) from each export's embedded config,
loads the export's weights into them, and times, with torch.inference_mode: a torch.stft-based feature
(the reference a C++ feature should beat), encode, decode and vocode. Prints one JSON object (median
seconds per stage, per batch; with --compile also the seconds the first calls spent compiling; the
process's peak resident memory).
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ldmrecon_python import ensure_torch  # noqa: E402

ensure_torch()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ldmrecon_export import METADATA_NAME  # noqa: E402
from ldmrecon_models import AutoencoderKL, SpeechT5HifiGan  # noqa: E402


def load_eager(path: Path, cls):
    extra = {METADATA_NAME: ""}
    scripted = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    meta = json.loads(extra[METADATA_NAME])
    model = cls(meta["config"]).eval()
    model.load_state_dict(scripted.state_dict())
    return model, meta


def slaney_mel_basis(sr, n_fft, n_mels, fmin, fmax):
    # ref: librosa.filters.mel (htk=False, norm="slaney"); built once, outside the timed region.
    def hz_to_mel(f):
        f = np.asanyarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27.0), lin)

    def mel_to_hz(m):
        m = np.asanyarray(m, dtype=np.float64)
        return np.where(m >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (m - 15.0)), m * 200.0 / 3)

    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - freqs[None, :]
    w = np.maximum(0, np.minimum(-ramps[:-2] / fdiff[:-1, None], ramps[2:] / fdiff[1:, None]))
    w *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return torch.from_numpy(w.astype(np.float32))


def timed(fn, repeat, warmup):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def first_call(fn):
    """(seconds, output) of a first call: for a compiled function, mostly compiling."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, type=Path)
    ap.add_argument("--input", required=True, type=Path, help="a 16-bit or float WAV at the model rate")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--compile", choices=["default", "max-autotune"],
                    help="time torch.compile'd stages (static shapes) instead of eager ones")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import soundfile as sf
    vae, meta = load_eager(args.models / "vae.pt", AutoencoderKL)
    voc, _ = load_eager(args.models / "vocoder.pt", SpeechT5HifiGan)
    f = meta["feature"]
    x, sr = sf.read(str(args.input), dtype="float32")
    if sr != f["sample_rate"]:
        raise SystemExit(f"{args.input}: {sr} Hz, the models want {f['sample_rate']}")
    basis = slaney_mel_basis(f["sample_rate"], f["n_fft"], f["n_mels"], f["fmin"], f["fmax"])
    window = torch.hann_window(f["win_length"], periodic=True)
    wav = torch.from_numpy(x)
    hop = f["hop_length"]
    multiple = int(meta["time_multiple"])
    frames = 1 + len(x) // hop
    target = math.ceil(frames / multiple) * multiple
    wav = torch.nn.functional.pad(wav, (0, max(0, (target - 1) * hop - len(x))))

    def feature():
        y = wav - wav.mean()
        y = y / (y.abs().max() + 1e-8) * 0.5
        spec = torch.stft(y, f["n_fft"], hop, f["win_length"], window, center=True, pad_mode="reflect",
                          return_complex=True).abs()  # [bins, T]
        return torch.log(torch.clamp(basis @ spec, min=f["floor"])).T  # [T, n_mels]

    B = args.batch_size
    with torch.inference_mode():
        t_feat, mel = timed(feature, args.repeat, args.warmup)
        mel = mel[None, None].expand(B, 1, -1, -1).contiguous()
        C = int(meta["config"]["latent_channels"])
        sf_ = float(meta["scaling_factor"])
        encode, decode, vocode = vae.encode, vae.decode, voc
        compile_s = {}
        if args.compile:
            encode, decode, vocode = (torch.compile(fn, mode=args.compile, dynamic=False) for fn in (encode, decode, voc))
            compile_s["encode"], moments = first_call(lambda: encode(mel))
            compile_s["decode"], dec = first_call(lambda: decode(moments[:, :C]))
            compile_s["vocode"], _ = first_call(lambda: vocode(dec.squeeze(1)))
        t_enc, moments = timed(lambda: encode(mel), args.repeat, args.warmup)
        z = moments[:, :C] * sf_ / sf_
        t_dec, dec = timed(lambda: decode(z), args.repeat, args.warmup)
        t_voc, _ = timed(lambda: vocode(dec.squeeze(1)), args.repeat, args.warmup)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "batch_size": B,
              "mode": f"torch.compile {args.compile}" if args.compile else "eager",
              "frames": int(mel.shape[2]), "seconds": {"feature": t_feat, "encode": t_enc, "decode": t_dec,
                                                       "vocode": t_voc},
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if compile_s:
        result["compile_seconds"] = compile_s
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
