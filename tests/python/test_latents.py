"""ldmrecon encode / decode: the .ldml file through the CLI, on the tiny random-weight fixture."""
import re
import subprocess
import sys
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf

from common import AUDIO, ROOT, TINY, run, tmpdir

SPEECH = AUDIO / "speech16k.wav"


class RoundTrip(unittest.TestCase):
    def test_fp32_latents_decode_to_the_direct_reconstruction(self):
        # Windows of 64 frames make several windows, so the stitching of decode is checked too.
        geometry = ("--window-frames", 64, "--overlap-frames", 16)
        with tmpdir() as d:
            lat, dec, direct = Path(d) / "x.ldml", Path(d) / "dec.wav", Path(d) / "direct.wav"
            p = run("encode", SPEECH, "-o", lat, "--models", TINY, "--storage", "fp32", *geometry)
            self.assertEqual(p.returncode, 0, p.stderr)
            m = re.search(r"(\d+) window\(s\) x \[8, 16, 16\] fp32", p.stdout)
            self.assertIsNotNone(m, p.stdout)
            windows = int(m.group(1))
            self.assertGreater(windows, 1)
            n = sf.info(SPEECH).frames
            self.assertEqual(lat.stat().st_size, 88 + windows * 8 * 16 * 16 * 4 + 4)
            ratio = float(re.search(r"([\d.]+)x smaller", p.stdout).group(1))
            self.assertAlmostEqual(ratio, 2 * n / lat.stat().st_size, places=2)

            p = run("decode", lat, "-o", dec, "--models", TINY, "--format", "float")
            self.assertEqual(p.returncode, 0, p.stderr)
            p = run(SPEECH, "-o", direct, "--models", TINY, "--format", "float", *geometry)
            self.assertEqual(p.returncode, 0, p.stderr)
            a, _ = sf.read(dec, dtype="float32")
            b, _ = sf.read(direct, dtype="float32")
            self.assertEqual(len(a), n)
            np.testing.assert_allclose(a, b, atol=1e-5)

    def test_compare_prints_every_storage_type_smallest_last(self):
        with tmpdir() as d:
            p = run("encode", SPEECH, "-o", Path(d) / "x.ldml", "--models", TINY, "--compare")
            self.assertEqual(p.returncode, 0, p.stderr)
            rows = {ln.split()[0]: ln.split() for ln in p.stdout.splitlines() if ln.strip().split()[:1] in
                    (["fp32"], ["fp16"], ["int8"])}
            self.assertEqual(sorted(rows), ["fp16", "fp32", "int8"])
            ratios = [float(rows[s][3].rstrip("x")) for s in ("fp32", "fp16", "int8")]
            self.assertTrue(ratios[0] < ratios[1] < ratios[2], ratios)
            self.assertAlmostEqual(ratios[1] / ratios[0], 2.0, delta=0.05)

    def test_decode_reference_prints_metrics(self):
        with tmpdir() as d:
            lat = Path(d) / "x.ldml"
            run("encode", SPEECH, "-o", lat, "--models", TINY, "--storage", "int8", check=True)
            p = run("decode", lat, "-o", Path(d) / "y.wav", "--models", TINY, "--reference", SPEECH)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("int8 latents", p.stdout)
            self.assertIn("STOI", p.stdout)


class Refusals(unittest.TestCase):
    def test_corrupted_file_exit_3_one_line_no_output(self):
        with tmpdir() as d:
            lat, out = Path(d) / "x.ldml", Path(d) / "y.wav"
            run("encode", SPEECH, "-o", lat, "--models", TINY, check=True)
            b = bytearray(lat.read_bytes())
            b[200] ^= 0xFF
            lat.write_bytes(bytes(b))
            p = run("decode", lat, "-o", out, "--models", TINY)
            self.assertEqual(p.returncode, 3, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertIn(f"{lat}: not a valid ldmrecon latent file (checksum mismatch", p.stderr)
            self.assertFalse(out.exists())
            self.assertEqual(sorted(x.name for x in Path(d).iterdir()), ["x.ldml"])

    def test_audio_given_to_decode_is_refused(self):
        with tmpdir() as d:
            p = run("decode", SPEECH, "-o", Path(d) / "y.wav", "--models", TINY)
            self.assertEqual(p.returncode, 3, p.stderr)
            self.assertIn("no LDMLAT magic", p.stderr)

    def test_other_vae_is_refused_with_advice(self):
        with tmpdir() as d:
            lat, out = Path(d) / "x.ldml", Path(d) / "y.wav"
            run("encode", SPEECH, "-o", lat, "--models", TINY, check=True)
            other = Path(d) / "other"  # the same architecture with other weights
            subprocess.run([sys.executable, str(ROOT / "scripts" / "make_test_models.py"), "-o", str(other), "--seed", "7"],
                           check=True, capture_output=True)
            p = run("decode", lat, "-o", out, "--models", other)
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn("encoded with another VAE", p.stderr)
            self.assertIn("decode with the models that encoded it", p.stderr)
            self.assertFalse(out.exists())


if __name__ == "__main__":
    unittest.main()
