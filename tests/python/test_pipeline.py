"""The batch pipeline (reading ahead of the models, measuring and writing behind them on worker threads):
its outputs, reports and exit status are those of a run in one thread, whatever the number of workers."""
import json
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from common import AUDIO, TINY, run, tmpdir

TIMING_KEYS = ("timings_s", "x_realtime")


def records(path, out_dir):
    recs = []
    for line in Path(path).read_text().splitlines():
        r = json.loads(line)
        for k in TIMING_KEYS:
            r.pop(k, None)
        r["output"] = r.get("output", "").replace(str(out_dir), "OUT")
        recs.append(r)
    return recs


class Pipeline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tmpdir()
        cls.d = Path(cls.tmp.name)
        x = sf.read(AUDIO / "speech16k.wav", dtype="float32")[0]
        inp = cls.d / "in"
        inp.mkdir()
        for k in range(7):  # lengths, rates and channel counts that differ, and one file that is no audio
            y = np.tile(x, 2)[: int(len(x) * (1 + k / 4))] * (0.5 + 0.05 * k)
            if k % 2:
                y = resample_poly(y, 441, 160).astype(np.float32)
                sf.write(inp / f"c{k}.flac", np.stack([y, 0.9 * y], 1), 44100, subtype="PCM_24")
            else:
                sf.write(inp / f"c{k}.wav", y, 16000, subtype="PCM_16")
        (inp / "c3b.wav").write_text("not audio\n")
        cls.runs = {}
        for jobs in ("0", "1", "3"):
            out = cls.d / f"out{jobs}"
            p = run(inp, "--out-dir", out, "--models", TINY, "--jobs", jobs, "--report", cls.d / f"r{jobs}.jsonl",
                    "-q")  # PCM: a float WAV carries a time stamp (its PEAK chunk)
            cls.runs[jobs] = (p, out)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_reports_and_exit_status_equal_the_sequential_run(self):
        seq, seq_out = self.runs["0"]
        self.assertEqual(seq.returncode, 6, seq.stderr)  # the junk file fails alone
        base = records(self.d / "r0.jsonl", seq_out)
        self.assertEqual(len(base), 8)
        self.assertEqual([r["status"] for r in base].count("failed"), 1)
        for jobs in ("1", "3"):
            p, out = self.runs[jobs]
            with self.subTest(jobs=jobs):
                self.assertEqual(p.returncode, seq.returncode, p.stderr)
                self.assertEqual(records(self.d / f"r{jobs}.jsonl", out), base)

    def test_outputs_are_byte_identical(self):
        _, seq_out = self.runs["0"]
        names = sorted(f.name for f in seq_out.iterdir())
        self.assertEqual(len(names), 7)
        for jobs in ("1", "3"):
            _, out = self.runs[jobs]
            self.assertEqual(sorted(f.name for f in out.iterdir()), names)
            for n in names:
                self.assertEqual((out / n).read_bytes(), (seq_out / n).read_bytes(), f"--jobs {jobs}: {n}")

    def test_the_log_names_the_workers(self):
        p, _ = run(AUDIO / "speech16k.wav", AUDIO / "speech48k.flac", "--out-dir", self.d / "o2", "--models", TINY,
                   "--jobs", "2"), None
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("pipeline: 2 worker thread(s)", p.stderr)


if __name__ == "__main__":
    unittest.main()
