"""`ldmrecon metrics` over many pairs in one process: a list or two mirrored folders, on every core, with a
batch's reports and exit statuses; each pair's values equal those of `metrics REF EST` alone."""
import json
import shutil
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf

from common import AUDIO, InTempDir, run

SPEECH = AUDIO / "speech16k.wav"


def jsonl(path):
    return [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]


class ManyPairs(InTempDir):
    def setUp(self):
        super().setUp()
        x = sf.read(SPEECH, dtype="float32")[0]
        rng = np.random.default_rng(3)
        for k in range(6):
            (self.d / "ref" / "sub").mkdir(parents=True, exist_ok=True)
            (self.d / "est" / "sub").mkdir(parents=True, exist_ok=True)
            name = f"sub/c{k}" if k % 2 else f"c{k}"
            sf.write(self.d / "ref" / f"{name}.flac", x, 16000, subtype="PCM_24")
            noisy = x + rng.normal(0, 0.01 * (k + 1), x.shape).astype(np.float32)
            sf.write(self.d / "est" / f"{name}.wav", noisy, 16000, subtype="FLOAT")  # as ldmrecon names outputs

    def test_folders_mirror_and_values_equal_single_runs(self):
        p = run("metrics", self.d / "ref", self.d / "est", "--report", self.d / "r.jsonl", "--jobs", "2")
        self.assertEqual(p.returncode, 0, p.stderr)
        recs = jsonl(self.d / "r.jsonl")
        self.assertEqual([r["input"] for r in recs], sorted(r["input"] for r in recs), "the sorted scan's order")
        self.assertEqual(len(recs), 6)
        self.assertTrue(all(r["estimate"].endswith(".wav") and r["input"].endswith(".flac") for r in recs))
        for r in recs[:3]:
            one = json.loads(run("metrics", r["reference"], r["estimate"], "--json", check=True).stdout)
            for key in ("snr_db", "mel_l1", "stoi", "mrstft", "lsd_db"):
                self.assertEqual(r["metrics"][key], one[key], key)

    def test_order_and_values_do_not_depend_on_the_jobs(self):
        a = run("metrics", self.d / "ref", self.d / "est", "--report", self.d / "a.jsonl", "--jobs", "1")
        b = run("metrics", self.d / "ref", self.d / "est", "--report", self.d / "b.jsonl", "--jobs", "3")
        self.assertEqual((a.returncode, b.returncode), (0, 0), a.stderr + b.stderr)
        self.assertEqual(jsonl(self.d / "a.jsonl"), jsonl(self.d / "b.jsonl"))

    def test_a_list_with_bad_pairs_fails_them_alone(self):
        for n in ("good", "g2", "g3"):
            shutil.copy(SPEECH, self.d / f"{n}.wav")
        (self.d / "junk.wav").write_text("not audio\n")
        # Records are keyed by their reference ("input"), as a batch's by its input: one line per reference.
        (self.d / "pairs.tsv").write_text(f"# ref\test\n{self.d}/good.wav\t{self.d}/good.wav\n"
                                          f"{self.d}/g2.wav\t{self.d}/junk.wav\nno tab here\n"
                                          f"{self.d}/g3.wav\t{self.d}/missing.wav\n")
        p = run("metrics", "--pairs", self.d / "pairs.tsv", "--report", self.d / "r.csv")
        self.assertEqual(p.returncode, 6, p.stderr)
        rows = (self.d / "r.csv").read_text().splitlines()
        self.assertEqual([r.split(",")[2] for r in rows[1:]], ["ok", "failed", "failed", "failed"])
        self.assertIn("junk.wav", p.stderr)
        self.assertIn("line 4 has no tab", p.stderr)
        merged = run("report", "merge", self.d / "r.csv", "--json")
        self.assertEqual(json.loads(merged.stdout)["failed"], 3)

    def test_a_folder_pair_without_its_estimate_fails_alone(self):
        (self.d / "est" / "c0.wav").unlink()
        p = run("metrics", self.d / "ref", self.d / "est", "--json")
        self.assertEqual(p.returncode, 6, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual((doc["summary"]["ok"], doc["summary"]["failed"]), (5, 1))
        self.assertIn("no estimate for it", p.stderr)

    def test_a_report_on_standard_output_is_only_the_report(self):
        p = run("metrics", self.d / "ref", self.d / "est", "--report", "-")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(json.loads(p.stdout)["files"]), 6)  # the summary table went to stderr
        self.assertIn("summary: 6 file(s)", p.stderr)

    def test_the_report_may_not_replace_an_input(self):
        (self.d / "pairs.tsv").write_text(f"{SPEECH}\t{SPEECH}\n")
        p = run("metrics", "--pairs", self.d / "pairs.tsv", "--report", self.d / "pairs.tsv")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual((self.d / "pairs.tsv").read_text(), f"{SPEECH}\t{SPEECH}\n")


if __name__ == "__main__":
    unittest.main()
