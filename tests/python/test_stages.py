"""--stage full|vae|vocoder and --vocoder hifigan|griffin-lim on fixtures."""
import json
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from common import AUDIO, TINY, run, tmpdir

SPEECH = AUDIO / "speech16k.wav"


class GriffinLim(unittest.TestCase):
    def test_improves_with_iterations_without_any_model(self):
        results = {}
        with tmpdir() as d:
            for it in (0, 8, 32):
                out = Path(d) / f"gl{it}.wav"
                # No --models and no $LDMRECON_MODELS: Griffin-Lim from the input's own feature needs none.
                p = run(SPEECH, "-o", out, "--stage", "vocoder", "--vocoder", "griffin-lim", "--gl-iterations", it,
                        "--json")
                self.assertEqual(p.returncode, 0, p.stderr)
                rec = json.loads(p.stdout)
                results[it] = rec["metrics"]
                self.assertEqual(sf.info(out).frames, sf.info(SPEECH).frames)
        self.assertEqual(rec["stage"], "vocoder")
        self.assertEqual(rec["vocoder"], "griffin-lim")
        self.assertIsNone(rec["models"])
        sc = [results[i]["spectral_convergence"] for i in (0, 8, 32)]
        self.assertTrue(sc[0] > sc[1] > sc[2], sc)  # iterations help, and beat the random-phase start
        self.assertLess(sc[2], 0.6 * sc[0])
        self.assertGreater(results[32]["stoi"], results[0]["stoi"])
        self.assertGreater(results[32]["stoi"], 0.85)  # measured 0.92 on this signal


class Stages(unittest.TestCase):
    def test_vocoder_stage_feeds_the_input_feature(self):
        with tmpdir() as d:
            d = Path(d)
            p = run(SPEECH, "-o", d / "v.wav", "--stage", "vocoder", "--models", TINY, "--dump-dir", d / "dump",
                    "--format", "float", "--json", check=True)
            rec = json.loads(p.stdout)
            feature = np.load(d / "dump" / "feature.npy")
            decoded = np.load(d / "dump" / "decoded.npy")
            raw = np.load(d / "dump" / "vocoder_raw.npy")
        self.assertEqual(rec["stage"], "vocoder")
        self.assertNotIn("vae", rec)  # no VAE ran
        self.assertEqual(rec["latent"]["shape"], [])
        np.testing.assert_array_equal(feature, decoded)
        voc = torch.jit.load(str(TINY / "vocoder.pt"))
        with torch.no_grad():
            ref = voc(torch.from_numpy(feature)[None])[0].numpy()
        self.assertLess(np.abs(raw - ref).max(), 1e-5)

    def test_vae_stage_stops_at_the_decoded_feature(self):
        with tmpdir() as d:
            d = Path(d)
            p = run(SPEECH, "-o", d / "dec.npy", "--stage", "vae", "--models", TINY, "--json", check=True)
            rec = json.loads(p.stdout)
            dec = np.load(d / "dec.npy")
            full = run(SPEECH, "-o", d / "full.wav", "--models", TINY, "--dump-dir", d / "dump", "-q", check=True)
            self.assertEqual(full.returncode, 0)
            np.testing.assert_allclose(dec, np.load(d / "dump" / "decoded.npy"), atol=1e-6)
            self.assertEqual(sorted(x.name for x in d.iterdir()), ["dec.npy", "dump", "full.wav"])
        self.assertEqual(dec.shape, (308, 64))
        self.assertEqual(rec["metrics"], {})
        self.assertGreater(rec["vae"]["mel_l1"], 0)
        self.assertNotIn("output_audio", rec)
        # Measures only, nothing written.
        p = run(SPEECH, "--stage", "vae", "--models", TINY)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("VAE log-mel L1", p.stdout)

    def test_bad_combinations(self):
        p = run(SPEECH, "-o", "/tmp/x.wav", "--stage", "vae", "--models", TINY)
        self.assertEqual(p.returncode, 2)
        self.assertIn("OUT.npy", p.stderr)
        # The VAE still needs models (and the shipped default pair is not to be found here).
        p = run(SPEECH, "-o", "/tmp/x.wav", "--stage", "full", "--vocoder", "griffin-lim",
                env={"LDMRECON_MODELS": "/nonexistent/models"})
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("export_models.py", p.stderr)


if __name__ == "__main__":
    unittest.main()


class Ablate(unittest.TestCase):
    def test_rows_match_the_single_runs(self):
        with tmpdir() as d:
            d = Path(d)
            p = run("ablate", SPEECH, "--models", TINY, "--json", d / "a.json")
            self.assertEqual(p.returncode, 0, p.stderr)
            rows = json.loads((d / "a.json").read_text())["rows"]
            gl = json.loads(run(SPEECH, "-o", d / "gl.wav", "--stage", "vocoder", "--vocoder", "griffin-lim", "--json",
                                "--format", "float", check=True).stdout)
            full = json.loads(run(SPEECH, "-o", d / "f.wav", "--models", TINY, "--json", "--format", "float",
                                  check=True).stdout)
        combos = [(r["stage"], r["vocoder"], r["feature"]) for r in rows]
        self.assertEqual(len(combos), 10)
        for feature in ("db", "db-percentile", "db-zscore", "db-tanh"):
            self.assertIn(("full", "hifigan", feature), combos)
        by = {c: r for c, r in zip(combos, rows)}
        # The same computation as the single runs (which measure in memory too, before writing).
        self.assertAlmostEqual(by[("vocoder", "griffin-lim", "ln")]["stoi"], gl["metrics"]["stoi"], places=6)
        self.assertAlmostEqual(by[("full", "hifigan", "ln")]["mel_l1"], full["metrics"]["mel_l1"], places=5)
        self.assertAlmostEqual(by[("vae", "hifigan", "ln")]["vae_mel_l1"], full["vae"]["mel_l1"], places=5)
        self.assertIsNone(by[("vae", "hifigan", "ln")]["stoi"])
        self.assertIn("db", p.stdout)


    def test_the_notes_normalisations_as_numpy_computes_them(self):
        # ref: shared/docs/notes/improvement-directions ("3."): applied to the dB feature.
        with tmpdir() as d:
            d = Path(d)
            feats = {}
            for scale in ("db", "db-percentile", "db-zscore", "db-tanh"):
                run("mel", SPEECH, "-o", d / f"{scale}.npy", "--mel-scale", scale, "-q", check=True)
                feats[scale] = np.load(d / f"{scale}.npy")
        db = feats["db"].astype(np.float64)
        p1, p99 = np.percentile(db, [1, 99])
        np.testing.assert_allclose(feats["db-percentile"], (db - p1) / (p99 - p1), atol=1e-5)
        np.testing.assert_allclose(feats["db-zscore"], (db - db.mean()) / db.std(), atol=1e-5)
        np.testing.assert_allclose(feats["db-tanh"], np.tanh(db / 40), atol=1e-6)


class Plot(unittest.TestCase):
    def test_plot_writes_a_png_of_the_documented_size(self):
        import struct
        with tmpdir() as d:
            png = Path(d) / "p.png"
            p = run(SPEECH, "-o", Path(d) / "o.wav", "--models", TINY, "--plot", png, "-q")
            self.assertEqual(p.returncode, 0, p.stderr)
            b = png.read_bytes()
            self.assertEqual(b[:8], b"\x89PNG\r\n\x1a\n")
            width, height = struct.unpack(">II", b[16:24])
            frames = 1 + sf.info(SPEECH).frames // 160
            columns = frames if 400 <= frames <= 1600 else (min(frames, 1600) if frames > 1600 else
                                                            frames * -(-400 // frames))
            self.assertEqual(width, 40 + columns + 10 + 10 + 4 + 30 + 4)  # docs/usage.md: plot area + colour bar
            self.assertEqual(height, 6 + 3 * (12 + 192 + 18))

    def test_plot_with_many_inputs_is_a_usage_error(self):
        with tmpdir() as d:
            p = run(SPEECH, AUDIO / "short.wav", "--out-dir", d, "--models", TINY, "--plot", Path(d) / "p.png")
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("--plot works with one input only", p.stderr)
