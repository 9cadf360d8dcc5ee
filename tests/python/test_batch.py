"""Batches, resume, windows, shards, merged reports and baselines (issue: batches, long audio, CI)."""
import json
import os
import shutil
import signal
import subprocess
import time
import unittest
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

from common import AUDIO, BIN, TINY, run, tmpdir
from reference_feature import logmel, normalize_wav
from signals import speech_like


def corpus(root: Path, n: int = 5, seconds: float = 1.0):
    """n small clips in root/a and root/b/c, named so two of them share a file name."""
    files = []
    for i in range(n):
        sub = root / ("a" if i % 2 else "b/c")
        sub.mkdir(parents=True, exist_ok=True)
        f = sub / f"clip{i}.wav"
        sf.write(f, speech_like(16000, seconds + 0.1 * i, seed=10 + i).astype(np.float32), 16000, subtype="FLOAT")
        files.append(f)
    return files


def jsonl(path):
    return [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]


def tmp_leftovers(root):
    return [p for p in Path(root).rglob("*") if ".tmp-" in p.name]


class Batch(unittest.TestCase):
    def test_bad_files_are_reported_and_counted_the_rest_go_on(self):
        with tmpdir() as d:
            d = Path(d)
            good = corpus(d / "in", 3)
            bad = d / "in" / "a" / "broken.wav"
            bad.write_text("not audio")
            out = d / "out"
            p = run(d / "in", d / "missing.wav", "--out-dir", out, "--models", TINY, "--report", d / "r.jsonl",
                    "--batch-size", "2")
            self.assertEqual(p.returncode, 6, p.stderr)
            recs = {Path(r["input"]).name: r for r in jsonl(d / "r.jsonl")}
            self.assertEqual(recs["broken.wav"]["status"], "failed")
            self.assertIn("not a readable audio file", recs["broken.wav"]["error"])
            self.assertEqual(recs["missing.wav"]["status"], "failed")
            for f in good:
                self.assertEqual(recs[f.name]["status"], "ok")
                rel = f.relative_to(d / "in")
                o = out / rel
                self.assertTrue(o.exists(), o)  # names mirror the folder's layout
                self.assertEqual(sf.info(o).frames, sf.info(f).frames)
            errors = [l for l in p.stderr.splitlines() if ": error: " in l]
            self.assertTrue(any(str(bad) in l for l in errors))
            self.assertTrue(any("missing.wav: no such file" in l for l in errors))
            self.assertIn("3 ok, 2 failed", p.stdout)
            self.assertEqual(tmp_leftovers(d), [])

    def test_list_files_csv_and_name_collisions(self):
        with tmpdir() as d:
            d = Path(d)
            files = corpus(d / "in", 4)
            lst = d / "list.txt"
            lst.write_text("# corpus\n\n" + "\n".join(os.path.relpath(f, d) for f in files) + "\n")
            p = subprocess.run([BIN, "@list.txt", "--out-dir", "out", "--models", str(TINY), "--report", "r.csv", "-q"],
                               cwd=d, capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            for f in files:
                self.assertTrue((d / "out" / f.relative_to(d)).exists())
            rows = (d / "r.csv").read_text().splitlines()
            self.assertTrue(rows[0].startswith("input,output,status,error,seconds,snr_db,mse,pearson"))
            self.assertEqual(len(rows), 5)
            # Two file arguments with the same name would write one output: the second is refused.
            twin = d / "twin" / files[0].name
            twin.parent.mkdir()
            shutil.copy(files[0], twin)
            p = run(files[0], twin, "--out-dir", d / "o2", "--models", TINY, "-q")
            self.assertEqual(p.returncode, 6)
            self.assertIn("is also", p.stderr)

    def test_folder_without_audio_is_an_input_error(self):
        with tmpdir() as d:
            (Path(d) / "notes.txt").write_text("x")
            p = run(d, "--out-dir", Path(d) / "out", "--models", TINY)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("no audio files", p.stderr)
        # A shard that happens to get nothing is fine: the list itself was not empty.
        p = run(AUDIO / "short.wav", "--out-dir", "/tmp/ldmrecon-empty-shard", "--models", TINY, "--shard", "2/2", "-q")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_json_report_for_many_files(self):
        with tmpdir() as d:
            d = Path(d)
            corpus(d / "in", 2)
            run(d / "in", "--out-dir", d / "out", "--models", TINY, "--report", d / "r.json", "-q", check=True)
            r = json.loads((d / "r.json").read_text())
            self.assertEqual(r["summary"]["ok"], 2)
            self.assertEqual(len(r["files"]), 2)
            for key in ("mean", "median", "worst", "count"):
                self.assertIn(key, r["summary"]["metrics"]["lsd_db"])

    def test_skip_existing_and_interrupted_run_resume(self):
        with tmpdir() as d:
            d = Path(d)
            src = d / "in"
            src.mkdir()
            clip = speech_like(16000, 3.0, seed=3).astype(np.float32)
            for i in range(30):
                sf.write(src / f"c{i:02d}.wav", clip, 16000, subtype="FLOAT")
            out = d / "out"
            env = dict(os.environ)
            env.pop("LDMRECON_MODELS", None)
            proc = subprocess.Popen([BIN, str(src), "--out-dir", str(out), "--models", str(TINY), "--report",
                                     str(d / "r1.jsonl")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=env, stdin=subprocess.DEVNULL)
            deadline = time.time() + 120
            while time.time() < deadline and len(list(out.glob("c*.wav"))) < 2:
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=120)
            self.assertEqual(proc.returncode, 130, err)
            self.assertIn("--skip-existing", err)
            done = sorted(out.glob("c*.wav"))
            self.assertGreaterEqual(len(done), 2)
            self.assertLess(len(done), 30, "the interruption came too late to test anything")
            self.assertEqual(tmp_leftovers(d), [])
            for f in done:  # every file there is whole
                y, sr = sf.read(f)
                self.assertEqual((len(y), sr), (48000, 16000))
            first = jsonl(d / "r1.jsonl")
            self.assertEqual(sorted(Path(r["output"]).name for r in first if r["status"] == "ok"),
                             [f.name for f in done])
            p = run(src, "--out-dir", out, "--models", TINY, "--skip-existing", "--report", d / "r2.jsonl", "-q")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(len(list(out.glob("c*.wav"))), 30)
            second = jsonl(d / "r2.jsonl")
            self.assertEqual(sum(r["status"] == "skipped" for r in second), len(done))
            self.assertEqual(sum(r["status"] == "ok" for r in second), 30 - len(done))
            # Merging both runs' reports gives every file once, each with its metrics.
            m = json.loads(run("report", "merge", d / "r1.jsonl", d / "r2.jsonl", "--json", check=True).stdout)
            self.assertEqual((m["files"], m["ok"], m["skipped"], m["failed"]), (30, 30, 0, 0))


class Windows(unittest.TestCase):
    """Inputs short enough for one piece, run in windows instead, stay close to the one-piece result.
    Bounds measured on the tiny random-weight fixture (whose global mid-block attention makes windows
    differ more than trained weights would): SNR between the two outputs 49 dB, log-mel L1 0.02,
    LSD 2.8 dB, decoded-feature mean |diff| 0.12."""

    def test_windowed_close_to_one_piece_and_batching_changes_nothing(self):
        with tmpdir() as d:
            d = Path(d)
            wav = d / "six.wav"
            sf.write(wav, speech_like(16000, 6.0, seed=4).astype(np.float32), 16000, subtype="FLOAT")
            run(wav, "-o", d / "one.wav", "--models", TINY, "--format", "float", "-q", "--dump-dir", d / "d1", check=True)
            outs = {}
            for bs in ("1", "3"):
                p = run(wav, "-o", d / f"w{bs}.wav", "--models", TINY, "--format", "float", "--window-frames", "256",
                        "--overlap-frames", "64", "--batch-size", bs, "--json", "--dump-dir", d / f"d{bs}w", check=True)
                outs[bs] = sf.read(d / f"w{bs}.wav", dtype="float32")[0]
                rec = json.loads(p.stdout)
            self.assertEqual(rec["feature"]["windows"], 3)  # 601 frames in 256-frame windows, 192 apart
            self.assertEqual(rec["feature"]["frames"], 601)
            one = sf.read(d / "one.wav", dtype="float32")[0]
            self.assertEqual(len(outs["1"]), len(one))
            self.assertLess(np.abs(outs["1"] - outs["3"]).max(), 1e-5, "batching must not change the result")
            m = json.loads(run("metrics", d / "one.wav", d / "w1.wav", "--json", check=True).stdout)
            self.assertGreater(m["snr_db"], 40.0)
            self.assertLess(m["mel_l1"], 0.05)
            self.assertLess(m["lsd_db"], 4.0)
            a = np.load(d / "d1" / "decoded.npy")[:601]
            b = np.load(d / "d1w" / "decoded.npy")[:601]
            self.assertLess(np.abs(a - b).mean(), 0.2)

    def test_a_clip_of_exactly_one_windows_hops_is_one_window(self):
        # AudioLDM2's own clips are 10.24 s: 1024 hops, 1025 frames. As AudioLDM2 does, ldmrecon truncates the
        # feature to the window's frames and runs one window (not two, at twice the cost); the W hops of output
        # still cover every sample. Here with 256-frame windows: 256 hops.
        n = 256 * 160
        with tmpdir() as d:
            d = Path(d)
            wav = d / "w.wav"
            x = speech_like(16000, n / 16000, seed=5).astype(np.float32)
            self.assertEqual(len(x), n)
            sf.write(wav, x, 16000, subtype="FLOAT")
            p = run(wav, "-o", d / "o.wav", "--models", TINY, "--format", "float", "--window-frames", "256",
                    "--json", "--dump-dir", d / "dump", check=True)
            rec = json.loads(p.stdout)
            self.assertEqual((rec["feature"]["windows"], rec["feature"]["frames"]), (1, 257))
            feature = np.load(d / "dump" / "feature.npy")
            ref, mel = logmel(normalize_wav(x))
            self.assertEqual((feature.shape, ref.shape), ((256, 64), (257, 64)))
            above = mel[:256] > 1e-5
            self.assertLess(np.abs(feature - ref[:256])[above].max(), 1e-4)
            self.assertEqual(len(sf.read(d / "o.wav")[0]), n)
            # Latents: one window now, and a file of the two windows planned before still decodes.
            run("encode", wav, "-o", d / "z.ldml", "--models", TINY, "--window-frames", "256", check=True)
            self.assertEqual(int.from_bytes((d / "z.ldml").read_bytes()[60:64], "little"), 1)
            run("decode", d / "z.ldml", "-o", d / "z.wav", "--models", TINY, check=True)
            self.assertEqual(len(sf.read(d / "z.wav")[0]), n)
            # The old plan's file: two windows of 256 frames, made here from a clip one hop longer with its
            # header's length set to n (docs/usage.md's byte layout: u64 length at 24, CRC-32 of the rest at the end).
            sf.write(wav, np.concatenate([x, x[:160]]), 16000, subtype="FLOAT")
            run("encode", wav, "-o", d / "two.ldml", "--models", TINY, "--window-frames", "256", check=True)
            b = bytearray((d / "two.ldml").read_bytes())
            self.assertEqual(int.from_bytes(b[60:64], "little"), 2)
            b[24:32] = n.to_bytes(8, "little")
            b[-4:] = zlib.crc32(bytes(b[:-4])).to_bytes(4, "little")
            (d / "two.ldml").write_bytes(bytes(b))
            run("decode", d / "two.ldml", "-o", d / "two.wav", "--models", TINY, check=True)
            self.assertEqual(len(sf.read(d / "two.wav")[0]), n)

    def test_zero_overlap_leaves_no_gap(self):
        with tmpdir() as d:
            d = Path(d)
            wav = d / "six.wav"
            sf.write(wav, speech_like(16000, 6.0, seed=4).astype(np.float32), 16000, subtype="FLOAT")
            run(wav, "-o", d / "one.wav", "--models", TINY, "--format", "float", "-q", check=True)
            run(wav, "-o", d / "w.wav", "--models", TINY, "--format", "float", "-q", "--window-frames", "256",
                "--overlap-frames", "0", check=True)
            m = json.loads(run("metrics", d / "one.wav", d / "w.wav", "--json", check=True).stdout)
            self.assertGreater(m["snr_db"], 35.0)

    def test_bad_window_options(self):
        for args, word in ((["--window-frames", "250"], "multiple of 4"), (["--overlap-frames", "200",
                                                                            "--window-frames", "256"], "half")):
            p = run(AUDIO / "short.wav", "-o", "/tmp/x.wav", "--models", TINY, *args)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(word, p.stderr)


class Shards(unittest.TestCase):
    def test_shards_cover_every_file_exactly_once(self):
        with tmpdir() as d:
            d = Path(d)
            files = corpus(d / "in", 7, seconds=0.3)
            seen = []
            for k in (1, 2, 3):
                out = d / f"out{k}"
                # The argument order differs per shard: the partition must not depend on it.
                args = [str(f) for f in (files if k % 2 else reversed(files))]
                run(*args, "--out-dir", out, "--models", TINY, "--shard", f"{k}/3", "--report", d / f"s{k}.jsonl", "-q",
                    check=True)
                seen += [r["input"] for r in jsonl(d / f"s{k}.jsonl")]
            self.assertEqual(sorted(seen), sorted(str(f) for f in files))
            p = run("report", "merge", *(d / f"s{k}.jsonl" for k in (1, 2, 3)), "-o", d / "all.jsonl")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("7 file(s): 7 ok", p.stdout)
            self.assertEqual(len(jsonl(d / "all.jsonl")), 7)

    def test_bad_shard(self):
        for s in ("0/3", "4/3", "x", "1/0"):
            p = run(AUDIO / "short.wav", "--out-dir", "/tmp/x", "--models", TINY, "--shard", s)
            self.assertEqual(p.returncode, 2, s)
            self.assertIn("--shard", p.stderr)


class Baseline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tmpdir()
        cls.d = Path(cls.tmp.name)
        corpus(cls.d / "in", 3, seconds=0.5)
        run(cls.d / "in", "--out-dir", cls.d / "o", "--models", TINY, "--report", cls.d / "base.jsonl", "-q", check=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def again(self, *extra):
        return run(self.d / "in", "--out-dir", self.d / "o2", "--models", TINY, "-q", *extra)

    def test_same_run_passes(self):
        p = self.again("--baseline", self.d / "base.jsonl")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("3 file(s) compared; 0 problem(s)", p.stdout)

    def test_regression_fails_with_status_7_and_a_table(self):
        recs = jsonl(self.d / "base.jsonl")
        recs[0]["metrics"]["mel_l1"] -= 0.5  # the stored run was better than this one will be
        better = self.d / "better.jsonl"
        better.write_text("".join(json.dumps(r) + "\n" for r in recs))
        p = self.again("--baseline", better)
        self.assertEqual(p.returncode, 7, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"WORSE\s+mel_l1")
        self.assertIn(Path(recs[0]["input"]).name, p.stdout)
        p = self.again("--baseline", better, "--tolerance", "mel_l1=0.6")
        self.assertEqual(p.returncode, 0, p.stdout)

    def test_requirements(self):
        p = self.again("--require", "mel_l1<=0.001")
        self.assertEqual(p.returncode, 7)
        self.assertIn("BELOW", p.stdout)
        self.assertEqual(self.again("--require", "lsd_db<=1000").returncode, 0)
        p = self.again("--require", "nisqa>=3")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown metric 'nisqa'", p.stderr)
        # The pitch keys are bounds like any other.
        self.assertEqual(self.again("--require", "vuv_f1>=0", "--require", "periodicity_error<=1").returncode, 0)

    def test_failures_outrank_regressions(self):
        with tmpdir() as d:
            bad = Path(d) / "bad.wav"
            bad.write_text("x")
            p = run(self.d / "in", bad, "--out-dir", Path(d) / "o", "--models", TINY, "-q", "--require", "mel_l1<=0.001")
            self.assertEqual(p.returncode, 6)


if __name__ == "__main__":
    unittest.main()
