"""STOI/ESTOI against the pystoi-0.4.1 reference (reference_stoi.py) to 1e-3, closed-form cases, and
MR-STFT against a numpy implementation of the ParallelWaveGAN form."""
import json
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve, get_window

from common import run, tmpdir
from reference_stoi import stoi as ref_stoi
from signals import speech_like


def metrics(x, y, sr=16000, *extra):
    with tmpdir() as d:
        a, b = Path(d) / "x.wav", Path(d) / "y.wav"
        sf.write(a, x.astype(np.float32), sr, subtype="FLOAT")
        sf.write(b, y.astype(np.float32), sr, subtype="FLOAT")
        return json.loads(run("metrics", a, b, "--json", "--sample-rate", sr, *extra, check=True).stdout)


def degradations(seed=0):
    rng = np.random.default_rng(seed)
    x = speech_like(16000, 4.0, seed=seed).astype(np.float32).astype(np.float64)
    rir = np.exp(-np.arange(2400) / 400.0) * rng.standard_normal(2400)
    rir[0] = 1.0
    yield "noise 0 dB", x, x + np.std(x) * rng.standard_normal(len(x))
    yield "noise 10 dB", x, x + np.std(x) / np.sqrt(10) * rng.standard_normal(len(x))
    yield "reverb", x, fftconvolve(x, rir)[: len(x)] / 8
    yield "gain and delay", x, 0.3 * np.concatenate([np.zeros(80), x[:-80]])


class Stoi(unittest.TestCase):
    def test_agrees_with_pystoi_reference(self):
        for name, x, y in degradations():
            x32, y32 = x.astype(np.float32), y.astype(np.float32)
            m = metrics(x32, y32)
            for key, ext in (("stoi", False), ("estoi", True)):
                ref = ref_stoi(x32.astype(np.float64), y32.astype(np.float64), 16000, extended=ext)
                with self.subTest(case=name, metric=key):
                    self.assertAlmostEqual(m[key], ref, delta=1e-3, msg=f"{name} {key}: {m[key]} vs {ref}")
        # Degradation orders them as expected.
        vals = {n: metrics(x.astype(np.float32), y.astype(np.float32))["stoi"] for n, x, y in degradations()}
        self.assertLess(vals["noise 0 dB"], vals["noise 10 dB"])

    def test_closed_form_cases(self):
        x = speech_like(16000, 3.0, seed=5)
        m = metrics(x, x)
        self.assertAlmostEqual(m["stoi"], 1.0, places=9)
        self.assertAlmostEqual(m["estoi"], 1.0, places=9)
        m = metrics(x, 0.25 * x)  # both normalise level away
        self.assertAlmostEqual(m["stoi"], 1.0, places=9)
        self.assertAlmostEqual(m["estoi"], 1.0, places=9)
        short = speech_like(16000, 0.3, seed=5)  # under 30 frames of 1/3-octave analysis
        self.assertEqual(metrics(short, short)["stoi"], 1e-5)

    def test_at_10k_no_resampling(self):
        x = speech_like(10000, 3.0, seed=6)
        y = x + 0.3 * np.std(x) * np.random.default_rng(1).standard_normal(len(x))
        m = metrics(x, y, 10000)
        self.assertAlmostEqual(m["stoi"], ref_stoi(x.astype(np.float32), y.astype(np.float32), 10000), delta=1e-3)


class MultiResolutionStft(unittest.TestCase):
    @staticmethod
    def reference(x, y):
        total_sc = total_mag = 0.0
        for n_fft, hop, win in ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240)):
            w = np.zeros(n_fft)
            w[(n_fft - win) // 2:(n_fft - win) // 2 + win] = get_window("hann", win, fftbins=True)

            def mag(s):
                p = np.pad(s, n_fft // 2, mode="reflect")
                idx = np.arange(n_fft)[None, :] + hop * np.arange(1 + (len(p) - n_fft) // hop)[:, None]
                return np.sqrt(np.maximum(np.abs(np.fft.rfft(p[idx] * w, axis=1)) ** 2, 1e-7))
            X, Y = mag(x), mag(y)
            total_sc += np.linalg.norm(X - Y) / np.linalg.norm(X)
            total_mag += np.mean(np.abs(np.log(X) - np.log(Y)))
        return total_sc / 3 + total_mag / 3

    def test_matches_numpy(self):
        for name, x, y in degradations(2):
            x32, y32 = x.astype(np.float32), y.astype(np.float32)
            m = metrics(x32, y32)
            ref = self.reference(x32.astype(np.float64), y32.astype(np.float64))
            self.assertAlmostEqual(m["mrstft"], ref, delta=1e-4 * max(1, ref), msg=name)
        x = speech_like(16000, 1.0, seed=3)
        self.assertEqual(metrics(x, x)["mrstft"], 0.0)


if __name__ == "__main__":
    unittest.main()
