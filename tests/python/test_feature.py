"""The C++ feature (`ldmrecon mel`) against the independent numpy reference in reference_feature.py."""
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf

from common import AUDIO, run, tmpdir
from reference_feature import logmel, normalize_wav, power_db
from signals import speech_like


class FeatureReference(unittest.TestCase):
    def mel(self, wav, *extra):
        with tmpdir() as d:
            out = Path(d) / "m.npy"
            run("mel", wav, "-o", out, *extra, check=True)
            a = np.load(out)
        self.assertEqual(a.dtype, np.float32)
        return a

    def test_ln_matches_reference_to_1e4(self):
        wav = AUDIO / "speech16k.wav"
        x, sr = sf.read(wav, dtype="float32")
        self.assertEqual(sr, 16000)
        ours = self.mel(wav)
        ref, mel = logmel(normalize_wav(x))
        self.assertEqual(ours.shape, (1 + len(x) // 160, 64))  # [T, n_mels], time first
        above = mel > 1e-5
        self.assertGreater(above.mean(), 0.5)
        err = np.abs(ours - ref)[above]
        self.assertLess(err.max(), 1e-4, f"max ln error {err.max():.2e}")
        # At the floor both clamp to ln(1e-5).
        np.testing.assert_allclose(ours[mel < 0.9e-5], np.log(1e-5), atol=1e-6)

    def test_layout_is_time_major(self):
        # A rising sine sweep: the loudest mel band must rise along axis 0 (time), not axis 1.
        sr = 16000
        t = np.arange(2 * sr) / sr
        f = 200 + 3000 * t  # 200 Hz -> 6200 Hz
        x = 0.5 * np.sin(2 * np.pi * np.cumsum(f) / sr)
        with tmpdir() as d:
            wav = Path(d) / "sweep.wav"
            sf.write(wav, x.astype(np.float32), sr, subtype="FLOAT")
            m = self.mel(wav)
        self.assertEqual(m.shape, (201, 64))
        peaks = m[5:-5].argmax(axis=1)
        self.assertTrue(np.all(np.diff(peaks) >= 0), "peak band must not fall as the sweep rises")
        self.assertGreater(peaks[-1] - peaks[0], 30)

    def test_db_mode_matches_librosa_power_to_db(self):
        wav = AUDIO / "speech16k.wav"
        x, _ = sf.read(wav, dtype="float32")
        with tmpdir() as d:
            out = Path(d) / "db.npy"
            p = run("mel", wav, "-o", out, "--mel-scale", "db", check=True)
            ours = np.load(out)
        self.assertIn("not trained on it", p.stderr)
        ref = power_db(normalize_wav(x))
        self.assertAlmostEqual(float(ours.max()), 0.0, places=5)
        self.assertGreaterEqual(float(ours.min()), -80.0 - 1e-4)
        self.assertLess(np.abs(ours - ref).max(), 1e-3)

    def test_stereo_is_averaged(self):
        mono = self.mel(AUDIO / "speech16k.wav")
        stereo = self.mel(AUDIO / "speech16k_stereo_same.wav")
        np.testing.assert_array_equal(mono, stereo)

    def test_other_rates_are_resampled(self):
        m = self.mel(AUDIO / "speech44k_stereo.wav")
        n16 = round(2.5 * 44100 * 16000 / 44100)
        self.assertEqual(m.shape, (1 + n16 // 160, 64))
        # The same signal generated at 16 kHz has nearly the same feature (resampler differences only).
        # Compared outside the noise burst (its white noise differs between the two rates, and so does the
        # peak the waveform is normalised by: one constant ln offset is allowed).
        ref, mel = logmel(normalize_wav(speech_like(16000, 2.5, seed=2)))
        voiced = np.r_[10:80, 120:170]
        loud = mel[voiced] > 1e-2
        diff = (m[voiced] - ref[voiced])[loud]
        err = np.abs(diff - np.median(diff))
        self.assertLess(np.median(err), 0.01)
        self.assertLess(np.quantile(err, 0.99), 0.1)

    def test_short_input(self):
        m = self.mel(AUDIO / "short.wav")  # 100 samples: shorter than the reflect padding
        self.assertEqual(m.shape, (1, 64))
        self.assertTrue(np.all(np.isfinite(m)))


if __name__ == "__main__":
    unittest.main()
