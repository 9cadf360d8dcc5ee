"""The C++ pipeline against the same scripted modules run from Python on the same feature (fp32)."""
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from common import AUDIO, TINY, run, tmpdir
from reference_feature import logmel, normalize_wav


class PipelineParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tmpdir()
        d = Path(cls.tmp.name)
        cls.out = d / "out.wav"
        cls.dump = d / "dump"
        run(AUDIO / "speech16k.wav", "-o", cls.out, "--models", TINY, "--dump-dir", cls.dump, "--format", "float",
            "--dtype", "fp32", "--device", "cpu", check=True)
        cls.x, _ = sf.read(AUDIO / "speech16k.wav", dtype="float32")
        cls.feature = np.load(cls.dump / "feature.npy")
        cls.decoded = np.load(cls.dump / "decoded.npy")
        cls.raw = np.load(cls.dump / "vocoder_raw.npy")
        torch.set_num_threads(2)
        cls.vae = torch.jit.load(str(TINY / "vae.pt")).eval()
        cls.voc = torch.jit.load(str(TINY / "vocoder.pt")).eval()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_feature_is_the_padded_waveform_feature(self):
        n = len(self.x)
        frames = 1 + n // 160
        padded = -(-frames // 4) * 4
        self.assertEqual(self.feature.shape, (padded, 64))
        self.assertGreater(padded, frames, "the fixture must need padding for this test to mean anything")
        # Padding is silence in the waveform (then the feature), not a log-mel of 0.
        xn = normalize_wav(self.x)
        xp = np.concatenate([xn, np.zeros(max(n, (padded - 1) * 160) - n)])
        ref, mel = logmel(xp)
        above = mel > 1e-5
        self.assertLess(np.abs(self.feature - ref)[above].max(), 1e-4)

    def test_decoded_feature_matches_python(self):
        with torch.no_grad():
            mel = torch.from_numpy(self.feature)[None, None]
            moments = self.vae.encode(mel)
            mean = moments[:, :8]
            dec = self.vae.decode(mean * 0.5 / 0.5)  # the tiny fixture's scaling factor is 0.5
        ref = dec[0, 0].numpy()
        self.assertEqual(self.decoded.shape, ref.shape)
        err = np.abs(self.decoded - ref).max()
        self.assertLess(err, 1e-4, f"decoded feature differs by {err:.2e}")

    def test_waveform_matches_python(self):
        with torch.no_grad():
            wav = self.voc(torch.from_numpy(self.decoded)[None])[0].numpy()
        self.assertEqual(len(self.raw), len(wav))
        self.assertEqual(len(wav), 160 * self.decoded.shape[0] + 32)  # the transposed convs' overhang
        err = np.abs(self.raw - wav).max()
        self.assertLess(err, 1e-5, f"waveform differs by {err:.2e}")

    def test_output_is_trimmed_and_level_restored(self):
        y, sr = sf.read(self.out, dtype="float32")
        self.assertEqual(sr, 16000)
        self.assertEqual(len(y), len(self.x))
        x = self.x.astype(np.float64)
        scale = 0.5 / (np.max(np.abs(x - x.mean())) + 1e-8)
        expect = self.raw[: len(x)] / scale + x.mean()
        np.testing.assert_allclose(y, expect, atol=2e-6, rtol=1e-5)


if __name__ == "__main__":
    unittest.main()
