"""Standard input ("-") and FIFOs as inputs: WAV (also with the lengths a pipe-writer leaves unset), FLAC and
raw streams give the outputs and measures of the same audio read from a file; a FIFO nobody writes to and
a stream over the memory limit are one-line errors, never a hang."""
import json
import os
import signal
import struct
import subprocess
import time
import unittest
from pathlib import Path

import soundfile as sf

from common import AUDIO, BIN, TINY, InTempDir, in_background, kill_if_running, run, tmpdir, wait_or_kill

SPEECH = AUDIO / "speech16k.wav"
STEREO = AUDIO / "speech44k_stereo.wav"


def run_stdin(data, *args, timeout=120):
    return subprocess.run([str(BIN), *map(str, args)], input=data, capture_output=True, timeout=timeout)


def streamed(wav_bytes, length):
    """The same WAV as a pipe-writer leaves it: its RIFF and data lengths `length` (0 or 0xFFFFFFFF), as
    when it could not seek back to fill them in."""
    b = bytearray(wav_bytes)
    b[4:8] = struct.pack("<I", length)
    at = 12
    while b[at:at + 4] != b"data":
        at += 8 + struct.unpack("<I", b[at + 4:at + 8])[0]
    b[at + 4:at + 8] = struct.pack("<I", length)
    return bytes(b)


class Stdin(InTempDir):
    def reconstruct(self, source, name, *extra, data=None):
        out, rep = self.d / f"{name}.wav", self.d / f"{name}.json"
        args = [source, "-o", out, "--models", TINY, "--report", rep, "-q", *extra]
        p = run_stdin(data, *args) if data is not None else run(*args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return out.read_bytes(), json.loads(rep.read_text())

    def test_wav_flac_and_raw_on_stdin_equal_the_file(self):
        x = sf.read(SPEECH, dtype="float32")[0]
        sf.write(self.d / "ref.wav", x, 16000, subtype="PCM_16")
        want, rep = self.reconstruct(self.d / "ref.wav", "file")
        wav = (self.d / "ref.wav").read_bytes()
        pcm16 = sf.read(self.d / "ref.wav", dtype="int16")[0]
        cases = {"wav": wav, "wav lengths 0": streamed(wav, 0), "wav lengths 0xFFFFFFFF": streamed(wav, 0xFFFFFFFF)}
        sf.write(self.d / "ref.flac", pcm16, 16000, subtype="PCM_16")
        cases["flac"] = (self.d / "ref.flac").read_bytes()
        for name, data in cases.items():
            with self.subTest(stream=name):
                got, r = self.reconstruct("-", name.replace(" ", "_"), data=data)
                self.assertEqual(got, want)
                self.assertEqual(r["metrics"], rep["metrics"])
                self.assertEqual(r["input"], "-")
        raw = pcm16.astype("<i2").tobytes()
        got, r = self.reconstruct("-", "raw", "--raw-rate", 16000, "--raw-channels", 1, "--raw-format", "s16", data=raw)
        self.assertEqual(got, want)
        # Raw stereo at 44.1 kHz, as a file and as a stream.
        y, sr = sf.read(STEREO, dtype="int16")
        want44, _ = self.reconstruct(STEREO, "file44")
        got44, _ = self.reconstruct("-", "raw44", "--raw-rate", sr, "--raw-channels", 2, data=y.astype("<i2").tobytes())
        self.assertEqual(got44, want44)

    def test_metrics_reads_stdin(self):
        p = run_stdin(SPEECH.read_bytes(), "metrics", "-", SPEECH, "--json", "--metrics", "sample")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIsNone(json.loads(p.stdout)["snr_db"])  # identical: +inf, written as null

    def test_bad_streams_are_one_line_errors(self):
        p = run_stdin(b"", "-", "-o", self.d / "o.wav", "--models", TINY)
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"holds no audio samples", p.stderr)
        p = run_stdin(b"not audio at all\n" * 100, "-", "-o", self.d / "o.wav", "--models", TINY)
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"-: not a readable audio file", p.stderr)
        p = run_stdin(os.urandom(3 << 20), "-", "-o", self.d / "o.wav", "--models", TINY, "--raw-rate", 16000,
                      "--max-memory", "8M")
        self.assertEqual(p.returncode, 3)
        self.assertIn(b"raise --max-memory or save it to a file", p.stderr)
        p = run_stdin(SPEECH.read_bytes(), "-", "--out-dir", self.d / "out", "--models", TINY)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"give -o OUT.wav", p.stderr)
        self.assertFalse((self.d / "o.wav").exists())


class Fifo(unittest.TestCase):
    def test_a_fifo_with_a_writer_is_read(self):
        with tmpdir() as d:
            d = Path(d)
            os.mkfifo(d / "pipe.wav")
            data = SPEECH.read_bytes()

            def writer():
                time.sleep(0.5)  # after ldmrecon has opened it and is waiting
                with open(d / "pipe.wav", "wb") as f:
                    for k in range(0, len(data), 1000):  # in odd-sized pieces
                        f.write(data[k:k + 1000])

            t = in_background(writer)
            p = run(d / "pipe.wav", "-o", d / "o.wav", "--models", TINY, "-q", "--report", d / "r.json")
            t.join(timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            q = run(SPEECH, "-o", d / "f.wav", "--models", TINY, "-q", check=True)
            self.assertEqual((d / "o.wav").read_bytes(), (d / "f.wav").read_bytes(), q.stderr)

    def test_one_sigint_ends_a_wait_on_a_quiet_standard_input(self):
        with tmpdir() as d:
            d = Path(d)
            p = subprocess.Popen([BIN, "-", "-o", str(d / "o.wav"), "--models", str(TINY)], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.addCleanup(kill_if_running, p)
            self.addCleanup(p.stdin.close)
            self.addCleanup(p.stderr.close)
            time.sleep(1.5)  # started and blocked reading: nothing is written and the pipe stays open
            p.send_signal(signal.SIGINT)
            wait_or_kill(p, 30)
            err = p.stderr.read().decode()
            self.assertEqual(p.returncode, 130, err)
            self.assertEqual(list(d.iterdir()), [])
            self.assertNotIn("error:", err)  # an interruption, not a failed input
            self.assertIn("interrupted: 0 of 1 file(s) finished", err)

    def test_a_fifo_nobody_writes_to_is_an_error_not_a_hang(self):
        with tmpdir() as d:
            d = Path(d)
            os.mkfifo(d / "f.wav")
            t0 = time.monotonic()
            p = run(d / "f.wav", "-o", d / "o.wav", "--models", TINY)
            self.assertLess(time.monotonic() - t0, 30)
            self.assertEqual(p.returncode, 3)
            self.assertIn("is a FIFO (named pipe) that no program wrote to within 5 s", p.stderr)
            self.assertFalse((d / "o.wav").exists())


if __name__ == "__main__":
    unittest.main()
