"""--metrics LIST: which measures run, what the reports hold, and what --require and --baseline say about a
measure the run did not compute; `metrics --list` names every key."""
import csv
import json
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf

from common import AUDIO, TINY, InTempDir, run, tmpdir

SPEECH = AUDIO / "speech16k.wav"
SAMPLE = {"snr_db", "mse", "pearson", "si_sdr_db"}
CONTEXT = {"samples", "sample_rate", "reference", "estimate"}
LAG = {"lag_samples", "lag_ms", "max_lag_samples"}


def measure(*extra):
    return run("metrics", SPEECH, AUDIO / "speech48k.flac", "--json", *extra)


class Selection(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        p = measure()
        assert p.returncode == 0, p.stderr
        cls.full = json.loads(p.stdout)

    def test_list_names_every_reported_key(self):
        p = run("metrics", "--list", check=True)
        keys = {line.split()[0] for line in p.stdout.splitlines()[1:] if line and not line.startswith(("groups", "--", "'"))}
        measures = set(self.full) - CONTEXT - LAG - {"pitch_frames", "voiced_frames_reference", "voiced_frames_both",
                                                   "mrstft_convergence", "mrstft_log_magnitude"}
        self.assertLessEqual(measures, keys)
        self.assertTrue({"vae_mel_l1", "pesq"} <= keys)
        self.assertIn("stoi                   stoi         -         higher", p.stdout)

    def test_groups_and_keys_report_exactly_what_was_asked_with_the_same_values(self):
        for spec, want in (("sample,stoi", SAMPLE | {"stoi", "estoi"}),
                           ("mel_l1", {"mel_l1"}),
                           ("aligned", {"aligned_snr_db", "aligned_mse", "aligned_pearson"} | LAG),
                           ("none", set())):
            with self.subTest(spec=spec):
                p = measure("--metrics", spec)
                self.assertEqual(p.returncode, 0, p.stderr)
                got = json.loads(p.stdout)
                self.assertEqual(set(got) - CONTEXT, want)
                for k in want:
                    self.assertEqual(got[k], self.full[k], k)
        self.assertNotIn("pesq", self.full, "pesq only when asked for")

    def test_the_table_shows_only_the_chosen_rows(self):
        p = run("metrics", SPEECH, AUDIO / "speech48k.flac", "--metrics", "stoi")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("STOI", p.stdout)
        self.assertNotIn("SNR", p.stdout)
        self.assertNotIn("pitch", p.stdout)

    def test_an_unknown_name_is_a_usage_error(self):
        p = measure("--metrics", "sample,stio")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown measure 'stio'", p.stderr)
        self.assertIn("metrics --list", p.stderr)
        self.assertEqual(measure("--metrics", "").returncode, 2)

    def test_many_pairs_carry_the_choice_into_every_format(self):
        with tmpdir() as d:
            d = Path(d)
            (d / "pairs.tsv").write_text(f"{SPEECH}\t{SPEECH}\n{SPEECH}\t{AUDIO / 'speech48k.flac'}\n")
            p = run("metrics", "--pairs", d / "pairs.tsv", "--metrics", "mel,stoi", "--report", d / "r.csv")
            self.assertEqual(p.returncode, 0, p.stderr)
            with (d / "r.csv").open() as f:
                rows = list(csv.DictReader(f))
            self.assertEqual(len(rows), 2)
            for r in rows:
                self.assertNotEqual(r["mel_l1"], "")
                self.assertNotEqual(r["stoi"], "")
                self.assertEqual(r["snr_db"], "")  # not computed: empty, as in the JSON it is absent
            self.assertEqual(float(rows[0]["mel_l1"]), 0.0)


class Checks(InTempDir):
    """--require and --baseline on measures a run did not compute never pass silently."""

    def reconstruct(self, *extra, inp=SPEECH):
        return run(inp, "--out-dir", self.d / "out", "--models", TINY, "-q", *extra)

    def test_require_on_a_left_out_measure_is_refused_before_any_work(self):
        p = self.reconstruct("--metrics", "stoi", "--require", "mel_l1<=9")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--require mel_l1<=9: mel_l1 is not computed in this run (--metrics stoi); add it to --metrics",
                      p.stderr)
        self.assertFalse((self.d / "out").exists())

    def test_baseline_says_what_it_did_not_compare_and_fails_when_nothing_was(self):
        base = self.d / "base.jsonl"
        self.assertEqual(self.reconstruct("--metrics", "sample,stoi", "--report", base).returncode, 0)
        p = self.reconstruct("--metrics", "sample", "--baseline", base, "--skip-existing")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout + p.stderr
        self.assertIn("not compared (in the baseline, not computed in this run): stoi estoi", out)
        p = self.reconstruct("--metrics", "mel", "--baseline", base, "--skip-existing")
        self.assertEqual(p.returncode, 7, p.stdout + p.stderr)
        self.assertIn("this run computed none of the baseline's measures", p.stdout + p.stderr)

    def test_a_bound_on_an_undefined_measure_does_not_pass(self):
        # White noise: no frame is voiced, so the F0 error is undefined and the bound cannot be checked.
        noise = self.d / "noise.wav"
        sf.write(noise, np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), 16000)
        p = self.reconstruct("--require", "f0_rmse_cents<=5000", "--report", self.d / "r.jsonl", inp=noise)
        self.assertEqual(p.returncode, 7, p.stdout + p.stderr)
        self.assertIn("UNCHECKED", p.stdout + p.stderr)
        self.assertIsNone(json.loads((self.d / "r.jsonl").read_text())["metrics"]["f0_rmse_cents"])


class AblateSelection(unittest.TestCase):
    def test_ablate_columns_are_the_chosen_measures(self):
        with tmpdir() as d:
            out = Path(d) / "t.json"
            p = run("ablate", SPEECH, "--models", TINY, "--metrics", "stoi,visqol", "--json", out, "-q")
            self.assertEqual(p.returncode, 0, p.stderr)
            header = p.stdout.splitlines()[0].split()
            self.assertEqual(header[-4:], ["stoi", "estoi", "visqol_speech", "visqol_speech_nsim"])
            rows = json.loads(out.read_text())["rows"]
            full = next(r for r in rows if r["stage"] == "full" and r["vocoder"] == "hifigan" and r["feature"] == "ln")
            self.assertGreaterEqual(full["visqol_speech"], 1.0)
            self.assertLessEqual(full["visqol_speech"], 5.0)
            self.assertNotIn("mel_l1", full)
            vae = next(r for r in rows if r["stage"] == "vae")
            self.assertIsNone(vae["stoi"])  # the VAE alone gives no signal to compare
            p = run("ablate", SPEECH, "--models", TINY, "--json", out, "-q")  # the default columns
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("mel_l1", json.loads(out.read_text())["rows"][0])
            p = run("ablate", SPEECH, "--models", TINY, "--metrics", "stoi,pesq")
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("ablate does not run PESQ", p.stderr)


if __name__ == "__main__":
    unittest.main()
