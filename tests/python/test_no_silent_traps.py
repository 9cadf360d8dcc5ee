"""Behaviours that used to do silently something other than what was asked (each failed before its fix): a
cached CI job passing without checking, a CSV report that could not be read back, extra arguments ignored,
a WAV written under an .mp3 name, a mistyped command taken for an input."""
import json
import unittest
from pathlib import Path

import soundfile as sf

from common import AUDIO, TINY, InTempDir, run, tmpdir

SPEECH = AUDIO / "speech16k.wav"


def jsonl(path):
    return [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]


class CachedRegressionChecks(InTempDir):
    """--skip-existing with --baseline / --require: a skipped file is still checked, or the run fails."""

    def setUp(self):
        super().setUp()
        (self.d / "in").mkdir()
        for n in ("a.wav", "b.wav"):
            sf.write(self.d / "in" / n, sf.read(SPEECH, dtype="float32")[0], 16000, subtype="FLOAT")
        self.args = [self.d / "in", "--out-dir", self.d / "out", "--models", TINY, "-q"]
        run(*self.args, "--report", self.d / "base.jsonl", check=True)

    def test_skipped_files_are_compared_from_the_earlier_report(self):
        # The cached job: every output exists and so does the report of the run that made them.
        (self.d / "now.jsonl").write_text((self.d / "base.jsonl").read_text())
        p = run(*self.args, "--skip-existing", "--report", self.d / "now.jsonl", "--baseline", self.d / "base.jsonl")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("2 file(s) compared; 0 problem(s), 0 improvement(s)", p.stdout)
        recs = jsonl(self.d / "now.jsonl")
        self.assertEqual({r["status"] for r in recs}, {"skipped"})
        self.assertTrue(all(r["measures_from"].startswith("the earlier report") for r in recs))
        self.assertEqual(recs[0]["metrics"], jsonl(self.d / "base.jsonl")[0]["metrics"])

    def test_skipped_files_are_measured_again_and_regressions_caught(self):
        recs = jsonl(self.d / "base.jsonl")
        for r in recs:
            r["metrics"]["mel_l1"] -= 0.5  # the stored run was better than these outputs
        (self.d / "better.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
        p = run(*self.args, "--skip-existing", "--baseline", self.d / "better.jsonl")
        self.assertEqual(p.returncode, 7, p.stdout + p.stderr)
        self.assertIn("2 file(s) compared", p.stdout)
        self.assertRegex(p.stdout, r"WORSE\s+mel_l1")
        p = run(*self.args, "--skip-existing", "--require", "mel_l1<=0.001")
        self.assertEqual(p.returncode, 7, p.stdout + p.stderr)
        self.assertIn("BELOW", p.stdout)

    def test_a_skipped_file_that_cannot_be_measured_fails_the_check(self):
        (self.d / "out" / "a.wav").write_text("not audio any more\n")  # left alone, but cannot be measured
        p = run(*self.args, "--skip-existing", "--baseline", self.d / "base.jsonl")
        self.assertEqual(p.returncode, 7, p.stdout + p.stderr)
        self.assertIn("UNCHECKED", p.stdout)

    def test_a_baseline_that_matches_nothing_fails(self):
        (self.d / "other.jsonl").write_text(json.dumps({"input": "elsewhere.wav", "status": "ok",
                                                        "metrics": {"stoi": 0.5}}) + "\n")
        p = run(*self.args, "--baseline", self.d / "other.jsonl")
        self.assertEqual(p.returncode, 7, p.stdout + p.stderr)
        self.assertIn("NOTHING COMPARED", p.stdout)


class EveryFormatItWritesItReads(unittest.TestCase):
    def test_csv_report_as_baseline_and_in_merge(self):
        with tmpdir() as d:
            d = Path(d)
            run(SPEECH, "-o", d / "o.wav", "--models", TINY, "--report", d / "r.csv", "-q", check=True)
            p = run(SPEECH, "-o", d / "o2.wav", "--models", TINY, "--baseline", d / "r.csv", "-q")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("1 file(s) compared; 0 problem(s)", p.stdout)
            p = run("report", "merge", d / "r.csv", "--json")
            self.assertEqual(p.returncode, 0, p.stderr)
            s = json.loads(p.stdout)
            self.assertEqual((s["ok"], s["metrics"]["vae_mel_l1"]["count"]), (1, 1))
            p = run("report", "merge", d / "o.wav")
            self.assertEqual(p.returncode, 3)
            self.assertNotIn("json.exception", p.stderr, "no raw library text")
            self.assertIn("not a report", p.stderr)


class ExtraArgumentsAreRefused(unittest.TestCase):
    def test_one_pair_commands_refuse_more(self):
        for args in (["metrics", SPEECH, SPEECH, SPEECH, SPEECH], ["pitch", SPEECH, SPEECH],
                     ["mel", SPEECH, SPEECH, "-o", "/tmp/never.npy"], ["info", TINY / "vae.pt", TINY / "vocoder.pt"]):
            p = run(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(f"{args[0]}: unexpected argument", p.stderr)
        self.assertFalse(Path("/tmp/never.npy").exists())


class OutputContainers(unittest.TestCase):
    def test_o_writes_the_container_its_extension_names(self):
        expected = {"flac": "FLAC", "ogg": "OGG", "opus": "OGG", "aiff": "AIFF", "caf": "CAF", "w64": "W64",
                    "rf64": "RF64", "au": "AU", "mp3": "MP3", "wav": "WAV"}
        with tmpdir() as d:
            for ext, fmt in expected.items():
                out = Path(d) / f"o.{ext}"
                p = run(SPEECH, "-o", out, "--models", TINY, "-q")
                self.assertEqual(p.returncode, 0, p.stderr)
                info = sf.info(out)
                self.assertEqual((info.format, info.samplerate), (fmt, 16000), ext)
                self.assertGreater(info.frames, 0.9 * sf.info(SPEECH).frames, ext)

    def test_out_dir_takes_output_format(self):
        with tmpdir() as d:
            p = run(SPEECH, "--out-dir", Path(d) / "o", "--output-format", "flac", "--models", TINY, "-q")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(sf.info(Path(d) / "o" / "speech16k.flac").format, "FLAC")

    def test_a_container_that_cannot_take_the_format_is_refused_first(self):
        with tmpdir() as d:
            p = run(SPEECH, "-o", Path(d) / "o.flac", "--format", "float", "--models", TINY)
            self.assertEqual(p.returncode, 2)
            self.assertIn("FLAC and VOC hold integers", p.stderr)
            self.assertNotIn("device cpu", p.stderr, "refused before the models load")


class Typos(unittest.TestCase):
    def test_a_mistyped_command_gets_did_you_mean(self):
        for typo, meant in (("metric", "metrics"), ("encod", "encode"), ("ablat", "ablate"), ("repor", "report merge")):
            p = run(typo, SPEECH, SPEECH)
            self.assertEqual(p.returncode, 2, typo)
            self.assertIn(f"did you mean 'ldmrecon {meant}'", p.stderr)

    def test_help_and_version_words(self):
        p = run("help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("ldmrecon", p.stdout)
        p = run("version")
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith("ldmrecon "))

    def test_a_mistyped_option_gets_a_suggestion(self):
        p = run(SPEECH, "-o", "/tmp/x.wav", "--model", TINY)
        self.assertEqual(p.returncode, 2)
        self.assertIn("did you mean --models?", p.stderr)

    def test_an_unknown_metric_lists_the_names(self):
        p = run(SPEECH, "-o", "/tmp/x.wav", "--models", TINY, "--require", "stoy>=0.5")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown metric 'stoy' (one of snr_db,", p.stderr)


class SaysWhich(unittest.TestCase):
    def test_the_summary_names_the_worst_file(self):
        import numpy as np
        with tmpdir() as d:
            d = Path(d)
            x = sf.read(SPEECH, dtype="float32")[0]
            for name, noise in (("quiet.wav", 0.001), ("loud.wav", 0.1), ("mid.wav", 0.01)):
                (d / "ref").mkdir(exist_ok=True)
                (d / "est").mkdir(exist_ok=True)
                sf.write(d / "ref" / name, x, 16000, subtype="FLOAT")
                sf.write(d / "est" / name, x + np.random.default_rng(1).normal(0, noise, x.shape).astype(np.float32),
                         16000, subtype="FLOAT")
            doc = json.loads(run("metrics", d / "ref", d / "est", "--json", check=True).stdout)
            self.assertEqual(Path(doc["summary"]["metrics"]["snr_db"]["worst_input"]).name, "loud.wav")
            self.assertEqual(Path(doc["summary"]["metrics"]["mse"]["worst_input"]).name, "loud.wav")
            table = run("metrics", d / "ref", d / "est", check=True).stdout
            self.assertRegex(table, r"snr_db .*/loud\.wav")

    def test_no_advice_to_compile_where_compile_cannot_run(self):
        if "libtorch 1." not in run("--version").stdout:
            self.skipTest("a PyTorch 2 build compiles: its advice stands")
        with tmpdir() as d:
            p = run(SPEECH, "-o", Path(d) / "o.wav", "--models", TINY)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("ldmrecon compile", p.stderr)
        self.assertIn("backend TorchScript", p.stderr)


if __name__ == "__main__":
    unittest.main()


class NamesThatReadTheRightWay(unittest.TestCase):
    def test_pitch_gives_no_f0_for_unvoiced_frames_and_one_name_in_both_formats(self):
        t = json.loads(run("pitch", SPEECH, "--json", check=True).stdout)
        self.assertNotIn("f0", t)
        voiced = t["voiced"]
        self.assertTrue(any(voiced) and not all(voiced))
        for f0, yin, v in zip(t["f0_hz"], t["yin_f0_hz"], voiced):
            self.assertEqual(f0 is None, not v)  # as pYIN: no F0 where unvoiced
            if v:
                self.assertEqual(f0, yin)
        rows = run("pitch", SPEECH, check=True).stdout.splitlines()
        self.assertEqual(rows[0], "time_s,f0_hz,yin_f0_hz,periodicity,voiced")
        for row in rows[1:]:
            f = row.split(",")
            self.assertEqual(f[1] == "", f[4] == "0", row)

    def test_x_realtime_and_csv_columns_as_the_jsonl(self):
        with tmpdir() as d:
            d = Path(d)
            run(SPEECH, "--out-dir", d / "o", "--models", TINY, "-q", "--report", d / "r.jsonl", check=True)
            run(SPEECH, "--out-dir", d / "o2", "--models", TINY, "-q", "--report", d / "r.csv", check=True)
            rec = jsonl(d / "r.jsonl")[0]
            self.assertNotIn("realtime_factor", rec)
            self.assertGreater(rec["x_realtime"], 0)  # seconds of audio per second of model time
            header = (d / "r.csv").read_text().splitlines()[0].split(",")
            for key, value in rec["metrics"].items():
                if isinstance(value, (int, float)) and key not in ("samples", "sample_rate", "max_lag_samples"):
                    self.assertIn(key, header)


class Help(unittest.TestCase):
    COMMANDS = ([], ["metrics"], ["pitch"], ["mel"], ["info"], ["report"], ["report", "merge"], ["encode"],
                ["decode"], ["ablate"], ["bench"], ["compile"])

    def test_every_help_fits_80_columns(self):
        for cmd in self.COMMANDS:
            p = run(*cmd, "--help")
            self.assertEqual(p.returncode, 0, cmd)
            wide = [l for l in p.stdout.splitlines() if len(l) > 80]
            self.assertEqual(wide, [], cmd)
            self.assertNotIn("{false}", p.stdout, cmd)

    def test_short_help_and_a_bare_call(self):
        p = run("-h")
        self.assertEqual(p.returncode, 0)
        lines = p.stdout.splitlines()
        self.assertLess(len(lines), 30)
        self.assertTrue(all(len(l) <= 80 for l in lines))
        for word in ("--models", "--out-dir", "--report", "--metrics", "--help"):
            self.assertIn(word, p.stdout)
        bare = run()
        self.assertEqual(bare.returncode, 2)
        self.assertEqual(bare.stderr, p.stdout)  # the short help, on stderr
        self.assertGreater(len(run("--help").stdout.splitlines()), len(lines))

    def test_errors_point_to_their_commands_help(self):
        p = run("metrics", "--bogus")
        self.assertEqual(p.returncode, 2)
        self.assertIn("(see ldmrecon metrics --help)", p.stderr)
        self.assertIn("(see ldmrecon --help)", run("--bogus").stderr)

    def test_compile_offers_no_backend(self):
        self.assertNotIn("--backend", run("compile", "--help").stdout)
        self.assertIn("--backend", run("--help").stdout)
