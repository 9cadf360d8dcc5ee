"""--stream: the output written as each window is final, equal sample for sample to the offline run with
the same windows (--level fixed --window-plan streamed), whether the input is a file, standard input in
any container, or a FIFO fed in odd pieces; written before the input ends; a signal flushes what was read
and exits 130; a run slower than real time says so."""
import json
import os
import signal
import struct
import subprocess
import time
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf

from common import AUDIO, BIN, TINY, InTempDir, in_background, kill_if_running, run, wait_or_kill

SPEECH = AUDIO / "speech16k.wav"
STEREO = AUDIO / "speech44k_stereo.wav"
WINDOWS = ["--window-frames", "32", "--overlap-frames", "8"]
TIMING_KEYS = {"compute_s", "worst_window_s", "windows_slower_than_real_time"}


def samples_of_streamed_wav(data: bytes) -> np.ndarray:
    """The PCM16 samples of a WAV whose lengths say 'unknown' (0xFFFFFFFF), read after its data chunk id."""
    assert data[:4] == b"RIFF" and struct.unpack("<I", data[4:8])[0] == 0xFFFFFFFF
    at = data.index(b"data")
    assert struct.unpack("<I", data[at + 4:at + 8])[0] == 0xFFFFFFFF
    return np.frombuffer(data[at + 8:], dtype="<i2")


def pcm16(path) -> np.ndarray:
    """A file's samples as 16-bit integers (the fixtures are float WAVs)."""
    x = sf.read(path, dtype="float32")[0]
    return np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)


def without_timings(rec: dict) -> dict:
    rec = dict(rec, input=None, output=None, x_realtime=None)
    if "stream" in rec:
        rec["stream"] = {k: v for k, v in rec["stream"].items() if k not in TIMING_KEYS}
    if "realtime" in rec:
        rec["realtime"] = None
    return rec


class Stream(InTempDir):
    def stream(self, source, name, *extra, data=None, check=True):
        out, rep = self.d / f"{name}.wav", self.d / f"{name}.jsonl"
        args = [str(BIN), str(source), "--stream", "-o", str(out), "--models", str(TINY), "--report", str(rep),
                *WINDOWS, *map(str, extra)]
        p = subprocess.run(args, input=data, capture_output=True, timeout=300)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
        lines = [json.loads(ln) for ln in rep.read_text().splitlines()] if rep.exists() else []
        return out, lines, p

    def offline(self, source, name):
        out = self.d / f"{name}.wav"
        run(source, "-o", out, "--models", TINY, "-q", "--level", "fixed", "--window-plan", "streamed", *WINDOWS,
            check=True)
        return out

    def test_the_stream_equals_the_offline_run_with_the_same_windows(self):
        x = pcm16(SPEECH)
        for n in (len(x), 4000, 32 * 160, 32 * 160 + 1, 3 * 24 * 160 + 4321):  # cut anywhere, mid-window too
            with self.subTest(samples=n):
                sf.write(self.d / "cut.wav", x[-n:], 16000, subtype="PCM_16")
                out, lines, _ = self.stream(self.d / "cut.wav", f"s{n}")
                want = self.offline(self.d / "cut.wav", f"o{n}")
                self.assertEqual(sf.read(out, dtype="int16")[0].tolist(), sf.read(want, dtype="int16")[0].tolist())
                self.assertEqual(lines[-1]["output_audio"]["samples"], n)
                self.assertFalse(lines[-1]["stream"]["interrupted"])
        # The end-aligned plan and the peak level (the offline defaults) give other samples at the end.
        d = run(self.d / "cut.wav", "-o", self.d / "peak.wav", "--models", TINY, "-q", *WINDOWS, check=True)
        self.assertNotEqual((self.d / "peak.wav").read_bytes(), want.read_bytes(), d.stderr)

    def test_stdin_in_any_container_equals_the_file(self):
        x = pcm16(SPEECH)
        sf.write(self.d / "ref.wav", x, 16000, subtype="PCM_16")
        want, want_lines, _ = self.stream(self.d / "ref.wav", "file")
        wav = (self.d / "ref.wav").read_bytes()
        b = bytearray(wav)
        b[4:8] = b[wav.index(b"data") + 4:wav.index(b"data") + 8] = struct.pack("<I", 0xFFFFFFFF)
        sf.write(self.d / "ref.flac", x, 16000, subtype="PCM_16")
        sf.write(self.d / "ref24.wav", x.astype(np.int32) << 8, 16000, subtype="PCM_24")
        cases = {"wav": (wav, []), "wav, unknown lengths": (bytes(b), []),
                 "flac": ((self.d / "ref.flac").read_bytes(), []),
                 "raw s16": (x.astype("<i2").tobytes(), ["--raw-rate", 16000, "--raw-format", "s16"])}
        for name, (data, extra) in cases.items():
            with self.subTest(container=name):
                got, lines, _ = self.stream("-", name.replace(" ", "_").replace(",", ""), *extra, data=data)
                self.assertEqual(got.read_bytes(), want.read_bytes())
                self.assertEqual([without_timings(r) for r in lines], [without_timings(r) for r in want_lines])
        # 24-bit PCM and float WAV: read here as libsndfile reads the file.
        for name, path in {"pcm24": self.d / "ref24.wav", "float": SPEECH}.items():
            file_out, _, _ = self.stream(path, f"{name}-file")
            pipe_out, _, _ = self.stream("-", f"{name}-pipe", data=path.read_bytes())
            self.assertEqual(file_out.read_bytes(), pipe_out.read_bytes(), name)

    def test_stereo_44k_through_a_pipe_equals_the_file_and_the_offline_run(self):
        file_out, _, _ = self.stream(STEREO, "file")
        pipe_out, _, _ = self.stream("-", "pipe", data=STEREO.read_bytes())
        self.assertEqual(file_out.read_bytes(), pipe_out.read_bytes())
        want = self.offline(STEREO, "offline")
        self.assertEqual(sf.read(file_out, dtype="int16")[0].tolist(), sf.read(want, dtype="int16")[0].tolist())

    def test_a_fifo_fed_in_odd_pieces_and_standard_output(self):
        os.mkfifo(self.d / "in.wav")
        data = SPEECH.read_bytes()

        def writer():
            with open(self.d / "in.wav", "wb") as f:
                for k, at in enumerate(range(0, len(data), 777)):
                    f.write(data[at:at + 777])
                    if k % 40 == 0:
                        f.flush()
                        time.sleep(0.01)

        t = in_background(writer)
        p = subprocess.run([str(BIN), str(self.d / "in.wav"), "--stream", "-o", "-", "--models", str(TINY), *WINDOWS],
                           capture_output=True, timeout=300)
        t.join(timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        want = self.offline(SPEECH, "offline")
        self.assertEqual(samples_of_streamed_wav(p.stdout).tolist(), sf.read(want, dtype="int16")[0].tolist())
        # --raw-output: the same samples with no header, 16-bit or float as --format says.
        for fmt, dtype in (("pcm16", "<i2"), ("float", "<f4")):
            q = subprocess.run([str(BIN), str(SPEECH), "--stream", "-o", "-", "--raw-output", "--format", fmt,
                                "--models", str(TINY), *WINDOWS], capture_output=True, timeout=300)
            self.assertEqual(q.returncode, 0, q.stderr)
            got = np.frombuffer(q.stdout, dtype=dtype)
            if fmt == "pcm16":
                self.assertEqual(got.tolist(), samples_of_streamed_wav(p.stdout).tolist())
            else:
                self.assertEqual(len(got), len(samples_of_streamed_wav(p.stdout)))
                np.testing.assert_allclose(got, samples_of_streamed_wav(p.stdout) / 32767, atol=2e-4)

    def test_output_comes_before_the_input_ends_and_a_signal_flushes_it(self):
        x = pcm16(SPEECH)
        raw = np.tile(x, 4).astype("<i2").tobytes()
        p = subprocess.Popen([str(BIN), "-", "--stream", "-o", "-", "--models", str(TINY), "--raw-rate", "16000",
                              "--report", str(self.d / "r.jsonl"), *WINDOWS],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(kill_if_running, p)
        half = len(raw) // 2

        def feed():  # beside the reading below: ldmrecon writes while it reads, and a full pipe blocks it
            p.stdin.write(raw[:half])
            p.stdin.flush()

        t = in_background(feed)
        got = bytearray()

        def drain():  # all along, so that ldmrecon never blocks on a full pipe
            while chunk := os.read(p.stdout.fileno(), 65536):
                got.extend(chunk)

        r = in_background(drain)
        deadline = time.monotonic() + 120
        while len(got) < 44 + 2 * 16000 and time.monotonic() < deadline:  # a second of output, input still open
            time.sleep(0.05)
        self.assertGreaterEqual(len(got), 44 + 2 * 16000, "no output while the input was still open")
        seen = len(got)
        t.join(timeout=120)
        # Once the output is within a window of what was sent, ldmrecon is waiting for more input.
        while len(got) < 44 + 2 * (half // 2 - 2 * 32 * 160) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Then a second with no output: it is blocked reading a quiet pipe, which a handler's flag alone
        # cannot end (and libsndfile's own reads of a raw stream retry on EINTR).
        quiet_since, last = time.monotonic(), len(got)
        while time.monotonic() - quiet_since < 1.0 and time.monotonic() < deadline:
            time.sleep(0.05)
            if len(got) != last:
                quiet_since, last = time.monotonic(), len(got)
        p.send_signal(signal.SIGINT)
        # One SIGINT must end it, whichever thread it lands on; not communicate(): drain() reads stdout.
        wait_or_kill(p, 120)
        r.join(timeout=60)
        err = p.stderr.read()
        p.stdin.close()
        self.assertEqual(p.returncode, 130, err)
        out = samples_of_streamed_wav(bytes(got))
        rec = json.loads((self.d / "r.jsonl").read_text().splitlines()[-1])
        self.assertTrue(rec["stream"]["interrupted"])
        # Every sample read was flushed through the models and written: as many as the stream read.
        self.assertEqual(len(out), round(rec["input_audio"]["seconds"] * 16000))
        self.assertGreater(len(out), (seen - 44) // 2)
        self.assertLessEqual(len(out), half // 2)
        self.assertIn(b"interrupted: what was read is written", err)

    def test_a_stream_slower_than_real_time_says_so(self):
        _, lines, p = self.stream(SPEECH, "slow", "--stage", "vocoder", "--vocoder", "griffin-lim",
                                  "--gl-iterations", "1000")
        self.assertIn(b"falling behind real time", p.stderr)
        self.assertGreater(lines[-1]["stream"]["windows_slower_than_real_time"], 0)

    def test_report_every_and_latency(self):
        out, lines, p = self.stream(SPEECH, "every", "--report-every", "0.5")
        seconds = sf.info(SPEECH).frames / 16000
        intervals = [r for r in lines if r["status"] == "interval"]
        self.assertEqual(len(intervals), int(seconds / 0.5) + (seconds % 0.5 >= 1024 / 16000))
        self.assertEqual(intervals[1]["interval"]["start_s"], 0.5)
        for r in intervals:
            self.assertIn("mel_l1", r["metrics"])
            self.assertNotIn("stoi", r["metrics"])  # a whole-signal measure: at the end only
        self.assertIsNotNone(lines[-1]["metrics"]["stoi"])
        # The merged report holds the stream's one result, not its intervals.
        m = run("report", "merge", self.d / "every.jsonl", "--json", check=True)
        self.assertEqual(json.loads(m.stdout)["files"], 1)
        # --latency 0.5 s: windows of 48 frames (a multiple of 4 within 50), overlap 12.
        q = subprocess.run([str(BIN), str(SPEECH), "--stream", "-o", str(self.d / "l.wav"), "--models", str(TINY),
                            "--latency", "0.5", "--report", str(self.d / "l.jsonl")], capture_output=True, timeout=300)
        self.assertEqual(q.returncode, 0, q.stderr)
        rec = json.loads((self.d / "l.jsonl").read_text().splitlines()[-1])["stream"]
        self.assertEqual((rec["window_frames"], rec["overlap_frames"]), (48, 12))
        self.assertIn(b"windows of 48 frames (0.480 s) every 36 frames", q.stderr)

    def test_a_failing_model_ends_an_open_stream_at_once(self):
        p = subprocess.Popen([str(BIN), "-", "--stream", "-o", str(self.d / "o.wav"), "--models",
                              str(TINY.parent / "nan_vocoder"), *WINDOWS],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(kill_if_running, p)
        try:
            p.stdin.write(SPEECH.read_bytes())  # and the stream stays open
            p.stdin.flush()
        except BrokenPipeError:
            pass  # it ended before reading all of it: that is the point
        wait_or_kill(p, 120)  # with its input still open
        err = p.stderr.read()
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
        self.assertEqual(p.returncode, 4, err)
        self.assertIn(b"the vocoder returned NaN", err)
        self.assertFalse((self.d / "o.wav").exists())
        self.assertEqual([f.name for f in self.d.iterdir()], [])  # no temporary left

    def test_usage_errors(self):
        cases = [
            ([SPEECH, SPEECH, "--stream", "-o", self.d / "o.wav"], "--stream takes one input"),
            ([SPEECH, "--stream", "--out-dir", self.d / "out"], "--stream writes one output"),
            ([SPEECH, "--stream", "-o", self.d / "o.wav", "--report-every", "1"], "give --report OUT.jsonl"),
            ([SPEECH, "--stream", "-o", self.d / "o.wav", "--latency", "0.01"], "less than the shortest window"),
            ([SPEECH, "--stream", "-o", self.d / "o.wav", "--latency", "1", "--window-frames", "64"],
             "give --latency or --window-frames, not both"),
            ([SPEECH, "-o", self.d / "o.wav", "--latency", "1"], "--latency works with --stream only"),
            ([SPEECH, "--stream", "-o", self.d / "o.wav", "--raw-output"], "--raw-output is for -o -"),
            ([SPEECH, "--stream", "-o", SPEECH], "input"),
            ([SPEECH, "--stream", "-o", self.d / "o.wav", "--report", self.d / "r.csv"], "as JSON Lines"),
            ([SPEECH, "--stream", "-o", "-", "--json"], "--json prints on standard output"),
            ([SPEECH, "--stream", "-o", self.d / "o.wav", "--json", "--report", "-"], "--json prints on standard output"),
        ]
        for args, message in cases:
            with self.subTest(message=message):
                p = run(*args, "--models", TINY)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(message, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertFalse((self.d / "o.wav").exists())
        self.assertFalse((self.d / "r.csv").exists())
        # --json: the final record on standard output, as an offline run prints its one record.
        p = run(SPEECH, "--stream", "-o", self.d / "o.wav", "--json", "--models", TINY, *WINDOWS, check=True)
        rec = json.loads(p.stdout)
        self.assertFalse(rec["stream"]["interrupted"])
        self.assertEqual(rec["output"], str(self.d / "o.wav"))


if __name__ == "__main__":
    unittest.main()
