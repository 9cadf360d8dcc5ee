"""ViSQOL v3 (`--metrics visqol,visqol_audio`) against visqol-python 3.8.0 called directly on the same files:
speech mode at 16 kHz with the exponential mapping (C++ ViSQOL's --use_lattice_model=false) and audio mode
at 48 kHz with Google's SVR, on real speech (tests/data) and a synthetic plucked-string piece, through
degradations of several strengths: white noise, low-pass, MP3 and Opus (libsndfile's encoders, through
soundfile), a gain with a delay, and the compact pair's and Griffin-Lim's reconstructions. The issue's
bounds are 0.01 MOS and 1e-3 NSIM; the two agree far closer (docs/measures.md). Runs in the reference
environment (scripts/python_env.sh reference)."""
import io
import json
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import butter, sosfiltfilt
from visqol.api import VisqolApi

from common import run, tmpdir

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def write(path, x, sr):
    sf.write(path, np.asarray(x, dtype=np.float32), sr, subtype="FLOAT")


def codec(x, sr, fmt, subtype, level):
    """x through a lossy codec at compression `level` (0 best .. 1 smallest) and back."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1), sr, format=fmt, subtype=subtype, compression_level=level)
    buf.seek(0)
    y, _ = sf.read(buf, dtype="float64")
    return y


def lowpass(x, sr, hz):
    return sosfiltfilt(butter(8, hz, fs=sr, output="sos"), x)


def plucked_piece(sr, seconds=3.0, seed=0):
    """Karplus-Strong plucks of a chord progression: sustained harmonic notes with decays, music-like."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(sr * seconds))
    notes = [196.0, 246.9, 293.7, 392.0, 220.0, 261.6, 329.6, 440.0, 174.6, 220.0, 261.6, 349.2]
    for i, f in enumerate(notes):
        start = int(i * 0.25 * sr)
        period = int(round(sr / f))
        buf = rng.uniform(-1, 1, period)
        n = min(len(out) - start, int(1.5 * sr))
        note = np.empty(n)
        for k in range(n):
            note[k] = buf[k % period]
            buf[k % period] = 0.996 * 0.5 * (buf[k % period] + buf[(k + 1) % period])
        out[start:start + n] += 0.2 * note
    return out


def degradations(x, sr, seed):
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(len(x)) * np.std(x)
    yield "noise 25 dB", x + noise * 10 ** (-25 / 20)
    yield "noise 5 dB", x + noise * 10 ** (-5 / 20)
    yield "low-pass 3.5 kHz", lowpass(x, sr, 3500)
    yield "mp3", codec(x, sr, "MP3", "MPEG_LAYER_III", 0.9)
    yield "opus", codec(x, sr, "OGG", "OPUS", 0.95)
    yield "gain and 30 ms delay", 0.4 * np.concatenate([np.zeros(int(0.03 * sr)), x])


def reference(mode, ref_path, deg_path):
    api = VisqolApi()
    if mode == "speech":
        api.create(mode="speech", use_lattice_model=False)
    else:
        api.create(mode="audio")
    r = api.measure(str(ref_path), str(deg_path))
    return r.moslqo, r.vnsim


def ours(ref_path, deg_path, sr, group):
    out = run("metrics", ref_path, deg_path, "--json", "--sample-rate", sr, "--metrics", group, check=True).stdout
    return json.loads(out)


class VisqolAgreesWithVisqolPython(unittest.TestCase):
    def check(self, mode, sr, ref, cases):
        group, key = ("visqol", "visqol_speech") if mode == "speech" else ("visqol_audio", "visqol_audio")
        worst = 0.0
        with tmpdir() as d:
            a = Path(d) / "ref.wav"
            write(a, ref, sr)
            scores = {}
            for name, y in cases:
                b = Path(d) / "deg.wav"
                write(b, y, sr)
                mos, nsim = reference(mode, a, b)
                m = ours(a, b, sr, group)
                scores[name] = m[key]
                with self.subTest(mode=mode, case=name):
                    self.assertAlmostEqual(m[key], mos, delta=0.01, msg=f"{name}: {m[key]} vs visqol-python {mos}")
                    self.assertAlmostEqual(m[key + "_nsim"], nsim, delta=1e-3, msg=f"{name} NSIM")
                worst = max(worst, abs(m[key] - mos))
        print(f"{mode}: largest MOS difference from visqol-python {worst:.2e} over {len(scores)} cases")
        return scores

    def test_speech_mode_on_real_speech(self):
        for clip, seed in (("it-agent-user.flac", 1), ("ru-privacy-unident.flac", 2)):
            x, sr = sf.read(DATA / clip, dtype="float64")
            self.assertEqual(sr, 16000)
            scores = self.check("speech", 16000, x, list(degradations(x, sr, seed)))
            # Strength orders the scores.
            self.assertGreater(scores["noise 25 dB"], scores["noise 5 dB"] + 0.3)

    def test_audio_mode_on_music_and_speech_at_48k(self):
        music = plucked_piece(48000)
        scores = self.check("audio", 48000, music, list(degradations(music, 48000, 3)))
        self.assertGreater(scores["noise 25 dB"], scores["noise 5 dB"])
        x, _ = sf.read(DATA / "fr-dir-firstlast.flac", dtype="float64")
        speech48 = soxr.resample(x, 16000, 48000)
        cases = [c for c in degradations(speech48, 48000, 4) if c[0] in ("noise 25 dB", "low-pass 3.5 kHz", "opus")]
        self.check("audio", 48000, speech48, cases)

    def test_reconstructions(self):
        """The compact pair's output and Griffin-Lim's, in both modes (audio mode on both brought to 48 kHz by
        soxr first, so that both implementations read the same 48 kHz files)."""
        x, sr = sf.read(DATA / "it-vm-rec-busy.flac", dtype="float64")
        with tmpdir() as d:
            src = Path(d) / "in.wav"
            write(src, x, sr)
            cases = []
            for name, extra in (("compact pair", []), ("Griffin-Lim", ["--vocoder", "griffin-lim"])):
                out = Path(d) / f"out-{len(cases)}.wav"
                run(src, "-o", out, "--models", ROOT / "models", "--metrics", "none", *extra, check=True)
                y, ysr = sf.read(out, dtype="float64")
                self.assertEqual(ysr, 16000)
                cases.append((name, y))
            self.check("speech", 16000, x, cases)
            up = lambda s: soxr.resample(s, 16000, 48000, quality="HQ")
            self.check("audio", 48000, up(x), [(n, up(y)) for n, y in cases])

    def test_undefined_is_null_and_fails_a_requirement(self):
        with tmpdir() as d:
            a, b = Path(d) / "a.wav", Path(d) / "b.wav"
            x, sr = sf.read(DATA / "ru-vm-saveoper.flac", dtype="float64")
            write(a, x[: sr // 2], sr)  # half a second: too short for an audio-mode patch
            write(b, x[: sr // 2], sr)
            m = ours(a, b, 16000, "visqol_audio")
            self.assertIsNone(m["visqol_audio"])
            p = run(a, "-o", Path(d) / "out.wav", "--models", ROOT / "models", "--metrics", "visqol_audio",
                    "--require", "visqol_audio>=1")
            self.assertNotEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"UNCHECKED +visqol_audio")
            write(b, np.zeros(sr), sr)
            self.assertIsNone(ours(a, b, 16000, "visqol")["visqol_speech"])


if __name__ == "__main__":
    unittest.main()
