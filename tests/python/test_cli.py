"""The ldmrecon command line end to end on fixtures, and its behaviour on bad input."""
import json
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf

from common import AUDIO, MODELS, TINY, run, tmpdir

METRIC_KEYS = {"snr_db", "mse", "pearson", "si_sdr_db", "lsd_db", "spectral_convergence", "aligned_snr_db",
               "aligned_pearson", "lag_samples", "mel_l1", "mel_snr_db", "f0_rmse_cents", "vuv_f1", "periodicity_error"}


def error_lines(p):
    return [l for l in p.stderr.splitlines() if "error" in l]


class Reconstruct(unittest.TestCase):
    def test_bare_form_writes_16k_pcm16_of_input_length(self):
        with tmpdir() as d:
            out = Path(d) / "out.wav"
            rep = Path(d) / "r.json"
            p = run(AUDIO / "speech44k_stereo.wav", "-o", out, "--models", TINY, "--report", rep)
            self.assertEqual(p.returncode, 0, p.stderr)
            info = sf.info(out)
            self.assertEqual((info.samplerate, info.channels, info.subtype), (16000, 1, "PCM_16"))
            self.assertEqual(info.frames, round(2.5 * 16000))
            r = json.loads(rep.read_text())
            self.assertEqual(sorted(Path(d).iterdir()), sorted([out, rep]), "no temporary files left")
        self.assertTrue(METRIC_KEYS <= set(r["metrics"]))
        self.assertEqual(r["runtime"]["device"], "cpu")
        self.assertEqual(r["runtime"]["dtype"], "fp32")
        self.assertIn("libtorch", r["runtime"])
        self.assertEqual(r["input_audio"]["sample_rate"], 44100)
        self.assertEqual(r["input_audio"]["channels"], 2)
        self.assertEqual(r["latent"]["shape"], [1, 8, 63, 16])  # 251 frames padded to 252
        self.assertEqual(r["metrics"]["max_lag_samples"], 1600)
        self.assertIn("random", r["models"]["weights"])
        for stage in ("read", "feature", "encode", "decode", "vocode", "write", "total"):
            self.assertGreaterEqual(r["timings_s"][stage], 0.0)
        # The table names the device, the dtype and the measures.
        self.assertIn("on cpu, fp32", p.stdout)
        self.assertIn("SI-SDR", p.stdout)
        self.assertIn("searched within +-100.0 ms", p.stdout)
        self.assertIn("libtorch", p.stderr)

    def test_float_format_and_sampling_is_seeded(self):
        with tmpdir() as d:
            outs = []
            for i, seed in enumerate((7, 7, 8)):
                out = Path(d) / f"o{i}.wav"
                run(AUDIO / "speech16k.wav", "-o", out, "--models", TINY, "--format", "float", "--sample",
                    "--seed", seed, "-q", check=True)
                outs.append(sf.read(out, dtype="float32")[0])
            mode = Path(d) / "mode.wav"
            run(AUDIO / "speech16k.wav", "-o", mode, "--models", TINY, "--format", "float", "-q", check=True)
            m = sf.read(mode, dtype="float32")[0]
            self.assertEqual(sf.info(mode).subtype, "FLOAT")
        np.testing.assert_array_equal(outs[0], outs[1])
        self.assertGreater(np.abs(outs[0] - outs[2]).max(), 0)
        self.assertGreater(np.abs(outs[0] - m).max(), 0)

    def test_models_from_environment(self):
        with tmpdir() as d:
            out = Path(d) / "o.wav"
            p = run(AUDIO / "short.wav", "-o", out, "-q", env={"LDMRECON_MODELS": str(TINY)})
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(sf.info(out).frames, 100)

    def test_json_on_stdout(self):
        with tmpdir() as d:
            p = run(AUDIO / "speech48k.flac", "-o", Path(d) / "o.wav", "--models", TINY, "--json", check=True)
        r = json.loads(p.stdout)
        self.assertEqual(r["input_audio"]["sample_rate"], 48000)


class Blas(unittest.TestCase):
    """OpenBLAS falls back to generic SSE3 kernels ("Prescott") on CPUs it does not know; the CLI then sets
    $OPENBLAS_CORETYPE to the AVX2 or AVX-512 set before the model module loads, and leaves a user's own
    value alone."""

    def blas_of(self, coretype):
        with tmpdir() as d:
            p = run(AUDIO / "short.wav", "-o", Path(d) / "o.wav", "--models", TINY, "--json",
                    env={"OPENBLAS_CORETYPE": coretype}, check=True)
        self.assertIn("BLAS", p.stderr)  # the info line names it
        return json.loads(p.stdout)["runtime"]["blas"]

    def test_generic_kernels_are_not_kept_on_an_avx2_cpu(self):
        blas = self.blas_of(None)
        if blas == "not OpenBLAS":
            self.skipTest("libtorch's BLAS here is not OpenBLAS")
        flags = set(Path("/proc/cpuinfo").read_text().split())
        if not {"avx2", "fma"} <= flags:
            self.skipTest("no AVX2 on this CPU: the generic kernels are the right ones")
        self.assertNotEqual(blas, "OpenBLAS Prescott")
        self.assertRegex(blas, r"^OpenBLAS \w+$")

    def test_a_users_coretype_is_kept(self):
        if self.blas_of(None) == "not OpenBLAS":
            self.skipTest("libtorch's BLAS here is not OpenBLAS")
        self.assertEqual(self.blas_of("Prescott"), "OpenBLAS Prescott")


class Metrics(unittest.TestCase):
    def test_json_keys_and_identity(self):
        p = run("metrics", AUDIO / "speech16k.wav", AUDIO / "speech16k_stereo_same.wav", "--json", check=True)
        m = json.loads(p.stdout)
        self.assertTrue(METRIC_KEYS <= set(m))
        self.assertIsNone(m["snr_db"])  # +inf is written as null
        self.assertEqual(m["mse"], 0.0)
        self.assertAlmostEqual(m["pearson"], 1.0, places=12)
        self.assertEqual(m["lag_samples"], 0)
        self.assertEqual(m["lsd_db"], 0.0)

    def test_known_delay_and_gain(self):
        x, sr = sf.read(AUDIO / "speech16k.wav", dtype="float32")
        with tmpdir() as d:
            y = 0.5 * np.concatenate([np.zeros(40, np.float32), x[:-40]])
            sf.write(Path(d) / "y.wav", y, sr, subtype="FLOAT")
            m = json.loads(run("metrics", AUDIO / "speech16k.wav", Path(d) / "y.wav", "--json", check=True).stdout)
        self.assertEqual(m["lag_samples"], 40)
        self.assertAlmostEqual(m["aligned_snr_db"], 10 * np.log10(1 / 0.25), places=3)
        self.assertAlmostEqual(m["aligned_pearson"], 1.0, places=6)
        self.assertLess(m["pearson"], 0.9)

    def test_table(self):
        p = run("metrics", AUDIO / "speech16k.wav", AUDIO / "speech16k.wav", check=True)
        self.assertIn("SNR", p.stdout)
        self.assertIn("inf dB", p.stdout)


class InfoAndHelp(unittest.TestCase):
    def test_info(self):
        p = run("info", TINY / "vae.pt", check=True)
        self.assertIn("kind          vae", p.stdout)
        self.assertIn("scaling       0.5", p.stdout)
        meta = json.loads(run("info", TINY, "--json", check=True).stdout)
        self.assertEqual(sorted(meta), ["vae", "vocoder"])
        self.assertEqual(meta["vae"]["path"], str(TINY / "vae.pt"))
        self.assertEqual(meta["vocoder"]["kind"], "vocoder")

    def test_help_and_version(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0)
        for word in ("metrics", "mel", "info", "--models", "--device", "--dtype", "Exit status"):
            self.assertIn(word, p.stdout)
        v = run("--version")
        self.assertEqual(v.returncode, 0)
        self.assertRegex(v.stdout, r"ldmrecon \d+\.\d+\.\d+ \(libtorch \d+\.\d+\.\d+ (\(CPU only\)|with CUDA), "
                                   r"loaded when a model runs")
        v = run("--version", "-v")  # loads the model module: what runs
        self.assertRegex(v.stdout, r"\nruntime: libtorch \d+\.\d+\.\d+ (\(CPU only\)|with CUDA \d+\.\d+, \d+ CUDA "
                                   r"devices?), attention by ")

    def test_cuda_says_which_is_missing(self):
        """--device cuda without CUDA: the build (libtorch without CUDA) or the machine (no device)."""
        version = run("--version", "-v", check=True).stdout
        with tmpdir() as d:
            p = run(AUDIO / "short.wav", "-o", Path(d) / "o.wav", "--models", TINY, "--device", "cuda")
            rec = json.loads(run(AUDIO / "short.wav", "-o", Path(d) / "o.wav", "--models", TINY, "--json",
                                 check=True).stdout)
        if "CPU only" in version:
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("was built without CUDA", p.stderr)
            self.assertIsNone(rec["runtime"]["libtorch_cuda"])
        elif "0 CUDA devices" in version:
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("no usable CUDA device", p.stderr)
            self.assertRegex(rec["runtime"]["libtorch_cuda"], r"^\d+\.\d+$")
        self.assertEqual(len([l for l in p.stderr.splitlines() if "error" in l]), 1 if p.returncode else 0)
        self.assertIn("cuda_devices", rec["runtime"])

    def test_usage_errors_exit_2(self):
        for args in (["--no-such-option"], [AUDIO / "short.wav"], ["metrics", AUDIO / "short.wav"],
                     [AUDIO / "short.wav", "-o", "x.wav", "--dtype", "fp64"], []):
            p = run(*args)
            self.assertEqual(p.returncode, 2, f"{args}: {p.stderr}")


class BadInput(unittest.TestCase):
    """Each: a one-line error naming the file, the documented exit status, and no output file."""

    def check(self, args, code, must_name, out_name="out.wav", extra_words=()):
        with tmpdir() as d:
            out = Path(d) / out_name
            p = run(*[a if a != "OUT" else out for a in args])
            left = list(Path(d).iterdir())
        self.assertEqual(p.returncode, code, p.stderr)
        errs = error_lines(p)
        self.assertEqual(len(errs), 1, p.stderr)
        self.assertIn(str(must_name), errs[0])
        for w in extra_words:
            self.assertIn(w, errs[0])
        self.assertEqual(left, [], "no output (or temporary) file may be left")
        self.assertNotIn("terminate called", p.stderr)
        return errs[0]

    def test_missing_file(self):
        self.check([AUDIO / "nope.wav", "-o", "OUT", "--models", TINY], 3, AUDIO / "nope.wav", extra_words=["no such file"])

    def test_not_audio(self):
        self.check([AUDIO / "not_audio.wav", "-o", "OUT", "--models", TINY], 3, AUDIO / "not_audio.wav",
                   extra_words=["not a readable audio file"])

    def test_empty_audio(self):
        self.check([AUDIO / "empty.wav", "-o", "OUT", "--models", TINY], 3, AUDIO / "empty.wav",
                   extra_words=["no audio samples"])

    def test_directory_with_single_output(self):
        e = self.check([AUDIO, "-o", "OUT", "--models", TINY], 2, "-o")
        self.assertIn("--out-dir", e)

    def test_metrics_and_mel_bad_input(self):
        self.check(["metrics", AUDIO / "speech16k.wav", AUDIO / "not_audio.wav"], 3, AUDIO / "not_audio.wav")
        self.check(["mel", AUDIO / "empty.wav", "-o", "OUT"], 3, AUDIO / "empty.wav", out_name="m.npy")

    def test_no_models_anywhere(self):
        e = self.check([AUDIO / "short.wav", "-o", "OUT", "--models", "/nonexistent/models"], 4, "/nonexistent/models")
        self.assertIn("export_models.py", e)

    def test_models_folder_missing_vocoder(self):
        self.check([AUDIO / "short.wav", "-o", "OUT", "--models", MODELS / "only_vae"], 4, "vocoder.pt")

    def test_export_without_metadata(self):
        e = self.check([AUDIO / "short.wav", "-o", "OUT", "--models", MODELS / "no_metadata"], 4,
                       MODELS / "no_metadata" / "vae.pt")
        self.assertIn("no ldmrecon metadata", e)

    def test_mismatched_features_say_what_differs(self):
        e = self.check([AUDIO / "short.wav", "-o", "OUT", "--models", MODELS / "mismatch"], 4, MODELS / "mismatch")
        self.assertIn("fmax: 8000 vs 7000", e)

    def test_newer_format_version(self):
        e = self.check([AUDIO / "short.wav", "-o", "OUT", "--models", MODELS / "future"], 4, "vae.pt")
        self.assertIn("version 99", e)

    def test_unsupported_feature(self):
        e = self.check([AUDIO / "short.wav", "-o", "OUT", "--models", MODELS / "db_feature"], 4, "vae.pt")
        self.assertIn("compression is 'db'", e)

    def test_wrong_kind(self):
        e = self.check([AUDIO / "short.wav", "-o", "OUT", "--models", MODELS / "swapped"], 4, "vae.pt")
        self.assertIn("'vocoder' export where a 'vae' is expected", e)

    def test_not_torchscript(self):
        e = self.check([AUDIO / "short.wav", "-o", "OUT", "--models", MODELS / "not_torchscript"], 4, "vae.pt")
        self.assertIn("not a TorchScript export", e)

    def test_fp16_on_cpu_is_refused_with_advice(self):
        e = self.check([AUDIO / "short.wav", "-o", "OUT", "--models", TINY, "--device", "cpu", "--dtype", "fp16"], 2,
                       "--dtype fp16")
        self.assertIn("bf16", e)

    def test_output_folder_missing(self):
        with tmpdir() as d:
            p = run(AUDIO / "short.wav", "-o", Path(d) / "no" / "such" / "dir.wav", "--models", TINY)
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertEqual(len(error_lines(p)), 1)
        self.assertIn("does not exist", p.stderr)

    def test_output_is_input(self):
        with tmpdir() as d:
            src = Path(d) / "in.wav"
            src.write_bytes((AUDIO / "short.wav").read_bytes())
            before = src.read_bytes()
            p = run(src, "-o", src, "--models", TINY)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertEqual(src.read_bytes(), before)


if __name__ == "__main__":
    unittest.main()
