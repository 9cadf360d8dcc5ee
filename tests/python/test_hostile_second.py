"""The second hostile battery: the eleven defects it found (each failed before its fix), the data-loss path of
the same family, and its poor-but-safe findings. Every case goes through BatteryBase.case: exit status, one
error line naming the file or option, no input modified, no temporary left."""
import csv
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import time
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf

from common import BIN, MODELS, TINY, run
from test_hostile import SPEECH, TEMP, BatteryBase, checksums, error_lines

LATIN1 = os.fsdecode(b"caf\xe9.wav")  # a Latin-1 name: not UTF-8
MAGIC = b"LDMLAT\r\n"  # a latent file's first bytes (src/latent_file.cpp kMagic)


def report_name(path):
    """How a report names a path: its bytes as UTF-8, each invalid byte as \\xHH."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def records(path):
    return [json.loads(l) for l in Path(path).read_text(encoding="utf-8").splitlines() if l.strip()]


class Defects(BatteryBase):
    """The eleven defects, in the issue's order."""

    def batch_inputs(self, names=("a.wav", "b.wav")):
        src = self.d / "src"
        src.mkdir(exist_ok=True)
        for n in names:
            shutil.copy(SPEECH, src / n)
        return src

    # 1. A file name that is not UTF-8 loses the report.
    def test_latin1_name_in_a_batch_keeps_the_report(self):
        self.batch_inputs(("a.wav", LATIN1))
        self.case(["src", "--out-dir", "out", "--models", TINY, "--report", "r.jsonl", "-q"], 0, "",
                  produces=["r.jsonl", "out/a.wav", "out/" + LATIN1])
        got = {r["input"] for r in records(self.d / "r.jsonl")}
        self.assertEqual(got, {"src/a.wav", report_name("src/" + LATIN1)})
        self.assertIn("src/caf\\xe9.wav", got, "escaped as Python's backslashreplace")

    def test_latin1_name_with_json_and_csv(self):
        shutil.copy(SPEECH, self.d / LATIN1)
        p = self.case([LATIN1, "-o", "o.wav", "--models", TINY, "--json"], 0, "", produces=["o.wav"])
        self.assertEqual(json.loads(p.stdout)["input"], "caf\\xe9.wav")
        self.case([LATIN1, "-o", "o.wav", "--models", TINY, "--report", "r.csv", "-q"], 0, "", produces=["r.csv"])
        rows = list(csv.DictReader(io.StringIO((self.d / "r.csv").read_text(encoding="utf-8"))))
        self.assertEqual(rows[0]["input"], "caf\\xe9.wav")

    def test_latin1_name_matches_its_baseline(self):
        shutil.copy(SPEECH, self.d / LATIN1)
        self.case([LATIN1, "-o", "o.wav", "--models", TINY, "--report", "base.jsonl", "-q"], 0, "")
        p = self.case([LATIN1, "-o", "o2.wav", "--models", TINY, "--baseline", "base.jsonl"], 0, "")
        self.assertIn("baseline: 1 file(s) compared; 0 problem(s)", p.stdout)

    # 2. A FIFO where an @list or a model file goes blocks for ever.
    def test_fifo_as_an_at_list(self):
        os.mkfifo(self.d / "list.txt")
        self.case(["@list.txt", "--out-dir", "out", "--models", TINY], 3, "list.txt", timeout=20)

    def test_fifo_as_a_model_file(self):
        m = self.d / "m"
        m.mkdir()
        shutil.copy(TINY / "vocoder.pt", m / "vocoder.pt")
        os.mkfifo(m / "vae.pt")
        self.case(["in.wav", "-o", "o.wav", "--models", "m"], 4, "vae.pt", absent=["o.wav"], timeout=20)
        self.case(["info", "m/vae.pt"], 4, "vae.pt", timeout=20)

    # 3. --out-dir inside an input folder reads its own outputs on the next run.
    def test_out_dir_inside_the_input_folder(self):
        self.batch_inputs()
        for extra in ([], [], ["--skip-existing"]):
            p = self.case(["src", "--out-dir", "src/recon", "--models", TINY, "-q", *extra], 0, "",
                          produces=["src/recon/a.wav", "src/recon/b.wav"], absent=["src/recon/recon"])
        self.assertIn("src/recon: left out of the input scan", p.stderr)

    # 4. ablate --json overwrites inputs: the output rule takes the expanded inputs.
    def test_ablate_json_onto_an_at_list(self):
        self.batch_inputs()
        (self.d / "list.txt").write_text("src/a.wav\n")
        self.case(["ablate", "@list.txt", "--json", "list.txt", "--models", TINY], 2, "list.txt")

    def test_ablate_json_onto_a_listed_input(self):
        shutil.copy(SPEECH, self.d / "take1")  # audio without an extension, named by a list
        (self.d / "list.txt").write_text("take1\n")
        self.case(["ablate", "@list.txt", "--json", "take1", "--models", TINY], 2, "take1")

    def test_ablate_json_onto_a_folder_entry(self):
        self.batch_inputs()
        self.case(["ablate", "src", "--json", "src/a.wav", "--models", TINY], 2, "src/a.wav")

    # 5. encode -o - writes a valid latent file and exits 1.
    def test_encode_to_standard_output(self):
        p = subprocess.run([BIN, "encode", "in.wav", "-o", "-", "--models", TINY], capture_output=True, cwd=self.d,
                           stdin=subprocess.DEVNULL, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout[:8], MAGIC)
        (self.d / "x.ldml").write_bytes(p.stdout)
        self.case(["decode", "x.ldml", "-o", "back.wav", "--models", TINY], 0, "", produces=["back.wav"])
        self.assertIn(b"x smaller", p.stderr, "the summary goes to stderr when the data takes stdout")

    # 6. decode -o - appends its summary (and the metrics table) after the WAV.
    def test_decode_to_standard_output_is_only_the_wav(self):
        run("encode", self.d / "in.wav", "-o", self.d / "x.ldml", "--models", TINY, check=True)
        p = subprocess.run([BIN, "decode", "x.ldml", "-o", "-", "--models", TINY, "--reference", "in.wav"],
                           capture_output=True, cwd=self.d, stdin=subprocess.DEVNULL, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        riff = struct.unpack("<I", p.stdout[4:8])[0]
        self.assertEqual(len(p.stdout), riff + 8, "nothing but the WAV on stdout")
        self.assertEqual(sf.read(io.BytesIO(p.stdout))[0].shape[0], sf.info(SPEECH).frames)
        self.assertIn(b"STOI", p.stderr)

    # 7. --skip-existing with -o replaces the existing file.
    def test_skip_existing_with_o_keeps_the_file(self):
        (self.d / "keep.wav").write_text("precious\n")
        p = self.case(["in.wav", "-o", "keep.wav", "--skip-existing", "--models", TINY], 0, "")
        self.assertEqual((self.d / "keep.wav").read_text(), "precious\n")
        self.assertIn("skipped", p.stderr)

    # 8. A carriage return in a name makes the CSV invalid.
    def test_carriage_return_in_a_name_keeps_the_csv_valid(self):
        self.batch_inputs(("a.wav", "b\rc.wav"))
        self.case(["src", "--out-dir", "out", "--models", TINY, "--report", "r.csv", "-q"], 0, "")
        with open(self.d / "r.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(sorted(r["input"] for r in rows), ["src/a.wav", "src/b\rc.wav"])

    # 9. NaN bounds turn the regression check off.
    def test_nan_and_infinite_bounds_are_refused(self):
        for opt in (["--tolerance", "stoi=nan"], ["--require", "stoi>=nan"], ["--require", "stoi<=inf"],
                    ["--tolerance", "stoi=inf"]):
            self.case(["in.wav", "-o", "o.wav", "--models", TINY, *opt], 2, opt[1].split("=")[0].split(">")[0]
                      .split("<")[0], absent=["o.wav"])

    # 10. encode writes a file its own decode refuses.
    def test_encode_refuses_a_level_decode_would_refuse(self):
        x, sr = sf.read(SPEECH, dtype="float32")
        sf.write(self.d / "loud.wav", x / np.abs(x).max() * 1e13, sr, subtype="FLOAT")
        self.case(["encode", "loud.wav", "-o", "x.ldml", "--models", TINY], 3, "loud.wav", absent=["x.ldml"])
        sf.write(self.d / "ok.wav", x / np.abs(x).max() * 1e11, sr, subtype="FLOAT")  # inside: both ends agree
        self.case(["encode", "ok.wav", "-o", "y.ldml", "--models", TINY], 0, "", produces=["y.ldml"])
        self.case(["decode", "y.ldml", "-o", "y.wav", "--models", TINY], 0, "", produces=["y.wav"])

    # 11. A TorchScript runtime error aborts the whole batch.
    def test_model_failure_fails_its_files_with_the_report(self):
        bad = MODELS / "wrong_channels"
        self.case(["in.wav", "-o", "o.wav", "--models", bad], 4, "wrong_channels", absent=["o.wav"])
        self.batch_inputs()
        self.case(["src", "--out-dir", "out", "--models", bad, "--report", "r.jsonl", "-q"], 6, "wrong_channels",
                  produces=["r.jsonl"], lines=3)
        recs = records(self.d / "r.jsonl")
        self.assertEqual([r["status"] for r in recs], ["failed", "failed"])
        self.assertTrue(all("channels" in r["error"] and "wrong_channels" in r["error"] for r in recs), recs)

    # The same family: a plot, report or latent file over a name that says another kind of file.
    def test_plot_over_a_wav_is_refused(self):
        (self.d / "c.wav").write_bytes((self.d / "in.wav").read_bytes())
        self.case(["in.wav", "-o", "o.wav", "--models", TINY, "--plot", "c.wav"], 2, "c.wav", absent=["o.wav"])

    def test_outputs_named_as_another_kind(self):
        self.case(["in.wav", "-o", "o.wav", "--models", TINY, "--report", "r.png"], 2, "r.png", absent=["o.wav"])
        self.case(["in.wav", "-o", "o.json", "--models", TINY], 2, "o.json", absent=["o.json"])
        self.case(["encode", "in.wav", "-o", "x.wav", "--models", TINY], 2, "x.wav", absent=["x.wav"])
        self.case(["mel", "in.wav", "-o", "m.wav"], 2, "m.wav", absent=["m.wav"])

    def test_report_extension_any_case_and_unknown_refused(self):
        self.case(["in.wav", "-o", "o.wav", "--models", TINY, "--report", "R.CSV", "-q"], 0, "", produces=["R.CSV"])
        self.assertTrue((self.d / "R.CSV").read_text().startswith("input,output,status"))
        self.case(["in.wav", "-o", "o.wav", "--models", TINY, "--report", "R.JSONL", "-q"], 0, "", produces=["R.JSONL"])
        self.assertEqual(len(records(self.d / "R.JSONL")), 1)
        self.case(["in.wav", "-o", "o2.wav", "--models", TINY, "--report", "r.txt"], 2, "r.txt",
                  absent=["o2.wav", "r.txt"])


class PoorButSafe(BatteryBase):
    """The battery's poor-but-safe findings, each as it behaves now."""

    def test_constant_input_is_refused(self):
        sf.write(self.d / "dc.wav", np.full(16000, 0.25, np.float32), 16000, subtype="FLOAT")
        p = self.case(["dc.wav", "-o", "o.wav", "--models", TINY], 3, "dc.wav", absent=["o.wav"])
        self.assertIn("constant", p.stderr)

    def test_antiphase_stereo_says_the_channels_cancel(self):
        x = sf.read(SPEECH, dtype="float32")[0]
        sf.write(self.d / "anti.wav", np.stack([x, -x], 1), 16000, subtype="FLOAT")
        p = self.case(["anti.wav", "-o", "o.wav", "--models", TINY], 3, "anti.wav", absent=["o.wav"])
        self.assertIn("channels cancel", p.stderr)

    def test_names_near_name_max(self):
        long_name = "n" * 250 + ".wav"  # 254 bytes: the old ".NAME.tmp-PID" temporary could not exist
        self.case(["in.wav", "-o", long_name, "--models", TINY, "-q"], 0, "", produces=[long_name])
        p = self.case(["in.wav", "-o", "n" * 300 + ".wav", "--models", TINY], 5, "longer than file systems allow")
        self.assertNotIn("device cpu", p.stderr, "refused before the models load")

    def test_one_file_under_two_spellings_is_one_input(self):
        os.symlink("in.wav", self.d / "alias.wav")
        p = self.case(["in.wav", "./in.wav", "alias.wav", "--out-dir", "out", "--models", TINY, "--report", "r.jsonl",
                       "-q"], 0, "", produces=["out/in.wav"], absent=["out/alias.wav"])
        self.assertEqual(len(records(self.d / "r.jsonl")), 1)
        self.assertIn("the same file as in.wav", p.stderr)

    def test_at_list_with_a_byte_order_mark(self):
        (self.d / "list.txt").write_bytes(b"\xef\xbb\xbfin.wav\n")
        self.case(["@list.txt", "--out-dir", "out", "--models", TINY, "-q"], 0, "", produces=["out/in.wav"])

    def test_folder_without_audio_beside_a_file_is_said(self):
        (self.d / "empty").mkdir()
        p = self.case(["in.wav", "empty", "--out-dir", "out", "--models", TINY, "-q"], 0, "", produces=["out/in.wav"])
        self.assertIn("empty: no audio files", p.stderr)

    def test_unreadable_subfolder_is_said(self):
        src = self.d / "src"
        (src / "locked").mkdir(parents=True)
        shutil.copy(SPEECH, src / "a.wav")
        shutil.copy(SPEECH, src / "locked" / "b.wav")
        os.chmod(src / "locked", 0)
        # root reads any folder: run as nobody then. The folder scan is the same for every command; metrics
        # over two folders needs no model module (a PyTorch wheel's libtorch under /root is not nobody's).
        os.chmod(self.d, 0o755)
        for f in (src, src / "a.wav"):
            os.chmod(f, 0o755 if f.is_dir() else 0o644)
        drop = (lambda: (os.setgid(65534), os.setuid(65534))) if os.geteuid() == 0 else None
        p = subprocess.run([BIN, "metrics", "src", "src", "--report", "-", "-q"], cwd=self.d, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=60, preexec_fn=drop)
        os.chmod(src / "locked", 0o755)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("src/locked: cannot list this folder", p.stderr)
        self.assertEqual([f["input"] for f in json.loads(p.stdout)["files"]], ["src/a.wav"])

    def test_report_inside_the_out_dir_it_creates(self):
        self.case(["in.wav", "--out-dir", "out", "--models", TINY, "--report", "out/r.jsonl", "-q"], 0, "",
                  produces=["out/in.wav", "out/r.jsonl"])

    def test_replaced_output_keeps_its_mode(self):
        self.case(["in.wav", "-o", "o.wav", "--models", TINY, "-q"], 0, "")
        os.chmod(self.d / "o.wav", 0o600)
        self.case(["in.wav", "-o", "o.wav", "--models", TINY, "-q"], 0, "")
        self.assertEqual(os.stat(self.d / "o.wav").st_mode & 0o777, 0o600)

    def base(self, rec):
        (self.d / "base.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rec))

    def test_baseline_with_string_values_is_refused(self):
        self.base([{"input": "in.wav", "status": "ok", "metrics": {"stoi": "0.9"}}])
        p = self.case(["in.wav", "-o", "o.wav", "--models", TINY, "--baseline", "base.jsonl"], 3, "base.jsonl",
                      absent=["o.wav"])
        self.assertIn("metrics.stoi is string", p.stderr)

    def test_baseline_with_two_records_for_one_input_warns(self):
        self.base([{"input": "in.wav", "status": "ok", "metrics": {"stoi": 0.0}},
                   {"input": "in.wav", "status": "ok", "metrics": {"stoi": 0.0}}])
        p = self.case(["in.wav", "-o", "o.wav", "--models", TINY, "--baseline", "base.jsonl"], 0, "")
        self.assertIn("more than one record", p.stderr)

    def test_empty_shard_is_refused(self):
        self.case(["in.wav", "--out-dir", "out", "--models", TINY, "--shard", ""], 2, "--shard", absent=["out"])

    def test_merging_reports_of_different_vocoders_warns(self):
        self.case(["in.wav", "-o", "a.wav", "--models", TINY, "--report", "a.jsonl", "-q"], 0, "")
        shutil.copy(SPEECH, self.d / "in2.wav")  # another shard's input
        self.case(["in2.wav", "-o", "b.wav", "--models", TINY, "--vocoder", "griffin-lim", "--gl-iterations", "2",
                   "--report", "b.jsonl", "-q"], 0, "")
        p = self.case(["report", "merge", "a.jsonl", "b.jsonl"], 0, "")
        self.assertIn("not made the same way: vocoder differ", p.stderr)

    def test_skip_existing_redoes_empty_and_cut_off_outputs(self):
        # (Not through case(): replacing these two outputs is the point.)
        out = self.d / "out" / "in.wav"
        out.parent.mkdir()
        out.write_bytes(b"")
        args = ["in.wav", "--out-dir", self.d / "out", "--models", TINY, "--skip-existing", "-q"]
        p = run(self.d / args[0], *args[1:])
        self.assertEqual((p.returncode, sf.info(out).frames), (0, sf.info(SPEECH).frames), p.stderr)
        self.assertIn("exists but is empty; written again", p.stderr)
        full = out.read_bytes()
        out.write_bytes(full[: len(full) // 2])
        p = run(self.d / args[0], *args[1:])
        self.assertEqual((p.returncode, out.read_bytes()), (0, full), p.stderr)
        self.assertIn("cut off", p.stderr)
        p = self.case(["in.wav", "--out-dir", "out", "--models", TINY, "--skip-existing", "--report", "r.jsonl",
                       "-q"], 0, "")
        self.assertEqual(records(self.d / "r.jsonl")[0]["status"], "skipped", "a complete output counts as done")

    def test_latent_window_that_fits_no_model_blames_the_file(self):
        f = self.latent({52: ("<I", 1023)})
        p = self.case(["decode", f, "-o", "o.wav", "--models", TINY], 3, f, absent=["o.wav"])
        self.assertNotIn("--window-frames", error_lines(p.stderr)[0])

    def test_absurd_time_multiple_blames_the_export(self):
        self.case(["in.wav", "-o", "o.wav", "--models", MODELS / "huge_time_multiple"], 4, "vae.pt", absent=["o.wav"])

    def test_models_given_a_file_says_so(self):
        p = self.case(["in.wav", "-o", "o.wav", "--models", TINY / "vae.pt"], 4, "vae.pt", absent=["o.wav"])
        self.assertIn("is a file; --models takes the folder", p.stderr)

    def test_huge_option_value_is_not_echoed_whole(self):
        p = self.case(["in.wav", "-o", "o.wav", "--models", TINY, "--max-lag-ms", "1" * 100000], 2, "--max-lag-ms")
        self.assertLess(max(len(l) for l in error_lines(p.stderr)), 300)
        p = self.case(["in.wav", "-o", "x" * 100000 + ".wav", "--models", TINY], 5, "longer than")
        self.assertLess(max(len(l) for l in error_lines(p.stderr)), 300)

    def test_underflowing_number_is_a_number(self):
        self.case(["in.wav", "-o", "o.wav", "--models", TINY, "--max-lag-ms", "1e-400", "-q"], 0, "", produces=["o.wav"])

    def test_negative_seed_is_refused(self):
        self.case(["in.wav", "-o", "o.wav", "--models", TINY, "--sample", "--seed", "-5"], 2, "--seed", absent=["o.wav"])

    def test_memory_size_with_two_points_is_refused(self):
        self.case(["--max-memory", "1..5G", "in.wav", "-o", "o.wav", "--models", TINY], 2, "1..5G", absent=["o.wav"])

    def test_fp16_refusal_suggests_what_this_build_runs(self):
        p = self.case(["in.wav", "-o", "o.wav", "--models", TINY, "--dtype", "fp16", "--device", "cpu"], 2, "fp16")
        if "libtorch 1." in run("--version").stdout:
            self.assertNotIn("fp32 or bf16", p.stderr, "libtorch 1.x refuses bf16 on the CPU too")

    def test_json_with_standard_output_closed_fails(self):
        p = subprocess.run(["sh", "-c", 'exec "$0" "$@" >&-', BIN, "in.wav", "-o", "o.wav", "--models", str(TINY),
                            "--json"], cwd=self.d, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertIn("standard output", p.stderr)

    def test_metrics_rate_the_pitch_tracker_cannot_take(self):
        self.case(["metrics", "in.wav", "in.wav", "--sample-rate", "1000"], 2, "--sample-rate")
        p = self.case(["metrics", "in.wav", "in.wav", "--sample-rate", "2000", "--json"], 0, "")
        self.assertEqual(json.loads(p.stdout)["sample_rate"], 2000)

    # --- signals ------------------------------------------------------------------------------------
    def wait_for(self, pid, what, limit=30):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if what():
                return
            time.sleep(0.01)
        self.fail(f"process {pid} never reached the state waited for")

    def test_sigterm_while_blocked_writing_standard_output(self):
        p = subprocess.Popen([BIN, "in.wav", "-o", "-", "--models", TINY], cwd=self.d, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # The WAV (about 98 kB) is larger than the pipe holds and nobody reads: the write blocks.
        wchan = Path(f"/proc/{p.pid}/wchan")
        self.wait_for(p.pid, lambda: "pipe" in (wchan.read_text() if wchan.exists() else ""))
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            self.fail("one SIGTERM did not end a write blocked on a full pipe")
        self.assertEqual(p.returncode, 130)
        p.stdout.close()
        p.stderr.close()

    def test_sighup_mid_batch_writes_the_report(self):
        src = self.d / "src"
        src.mkdir()
        long = np.tile(sf.read(SPEECH, dtype="float32")[0], 3)
        for n in "abcd":
            sf.write(src / f"{n}.wav", long, 16000)
        before = checksums(self.d)
        p = subprocess.Popen([BIN, "src", "--out-dir", "out", "--stage", "vocoder", "--vocoder", "griffin-lim",
                              "--gl-iterations", "300", "--report", "r.jsonl", "-q"], cwd=self.d,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.wait_for(p.pid, lambda: (self.d / "out" / "a.wav").exists())
        p.send_signal(signal.SIGHUP)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 130, err)
        recs = records(self.d / "r.jsonl")
        self.assertGreaterEqual(len(recs), 1)
        self.assertLess(len(recs), 4, "stopped before the end")
        self.assertTrue(all(checksums(self.d).get(f) == h for f, h in before.items()))
        self.assertEqual([f for f in self.d.rglob("*") if TEMP.search(f.name)], [])


if __name__ == "__main__":
    unittest.main()
