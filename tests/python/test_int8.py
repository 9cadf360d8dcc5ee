"""--dtype int8 on the CPU (the VAE in int8, the vocoder in bf16, from a package `ldmrecon compile --dtype
int8` makes): what it costs against fp32 on the compact pair and real speech, and the one-line refusals
where the build, the CPU or the options cannot run it. Its own CTest entry: compiling takes minutes."""
import json
import shutil
import unittest
from pathlib import Path

import test_quality as q
from common import run, tmpdir

DATA, MODELS = q.DATA, q.MODELS


def cpu_flags():
    try:
        return set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return set()


def cpu_has_int8_dot_products():
    """What ldmrecon checks before int8: AVX512-VNNI, AVX-VNNI or AMX (Linux's names for them)."""
    return bool(cpu_flags() & {"avx512_vnni", "avx_vnni", "amx_int8"})


def cpu_has_native_bf16():
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


# What int8 (the VAE in int8, the vocoder in bf16 or fp32) may cost against fp32 on the same clips: the precision
# issue's bounds, as bf16's. Calibrated on the shipped example, so measured on the other clips only.
INT8_COST = q.BF16_COST
INT8_FILES = q.UNSEEN + [DATA / "fr-dir-firstlast.flac"]
# Measured 2026-12-03 (PyTorch 2.15 build, 2-core EPYC with AVX512-VNNI, calibrated on the example): changes
# STOI -0.0015, log-mel L1 -0.0006, MR-STFT +0.0000; SNR against fp32's output 12.8-18.2 dB (equal would be
# infinite: int8 did not run).
INT8_VS_FP32 = {"min_snr_db": 8.0, "max_snr_db": 40.0}


class Int8OnTheCpu(unittest.TestCase):
    """--dtype int8 against fp32 on the whole path, from a package compiled here (the exports copied to a
    temporary folder, so the shipped models stay as they are); where the build or the CPU cannot run int8,
    the one-line refusals."""

    def refused(self, models, status, *extra):
        """Runs --dtype int8; checks it exits with `status` (2 usage, 4 models) and one line, writing nothing."""
        p = run(DATA / "fr-dir-firstlast.flac", "-o", Path(models) / "o.wav", "--models", models, "--dtype", "int8", *extra)
        self.assertEqual(p.returncode, status, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertFalse((Path(models) / "o.wav").exists())
        return p.stderr

    def test_int8_costs_no_more_than_its_bounds(self):
        with tmpdir() as d:
            d = Path(d)
            models = d / "models"
            models.mkdir()
            for f in ("vae.pt", "vocoder.pt"):
                shutil.copy(MODELS / f, models / f)
            if q.libtorch_version() < (2, 0):
                self.assertIn("PyTorch 2 build", self.refused(models, 2))
                p = run("compile", "--models", models, "--dtype", "int8")
                self.assertEqual(p.returncode, 2, p.stderr)
                return
            if not cpu_has_int8_dot_products():
                self.assertIn("no int8 dot-product instructions", self.refused(models, 2))
                return
            self.assertIn("ldmrecon compile --models " + str(models) + " --dtype int8", self.refused(models, 4))
            self.assertIn("drop --backend torchscript", self.refused(models, 2, "--backend", "torchscript"))
            bad = d / "notes.wav"
            bad.write_text("not audio\n")
            p = run("compile", "--models", models, "--dtype", "int8", "--calibration", bad)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(str(bad), p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 2, p.stderr)  # the info line, the error
            self.assertFalse((models / "compiled").exists())  # nothing left behind
            run("compile", "--models", models, "--dtype", "int8", check=True, timeout=1800)
            # The packages and their manifest only: no calibration features, no temporary folders.
            self.assertEqual([p.name for p in (models / "compiled").iterdir()], ["cpu-int8"])
            self.assertEqual(list((models / "compiled" / "cpu-int8").glob("*.npy")), [])
            manifest = json.loads((models / "compiled" / "cpu-int8" / "manifest.json").read_text())
            vocoder = "bf16" if cpu_has_native_bf16() else "fp32"  # bf16 emulated is slower than fp32
            self.assertEqual(manifest["stage_dtype"], {"encode": "int8", "decode": "int8", "vocoder": vocoder})
            for stage, err in manifest["relative_error"].items():
                self.assertLess(max(err.values()), 0.05, stage)
            # bench measures each stage against the peak of its own type: int8 for the VAE, the vocoder's.
            run("bench", "--models", models, "--dtype", "int8", "--seconds", 1, "--repeat", 1, "--warmup", 0,
                "--no-python", "--no-kernels", "--json", d / "bench.json", check=True)
            bench = json.loads((d / "bench.json").read_text())
            self.assertEqual(bench["stage_dtype"], {"encode": "int8", "decode": "int8", "vocode": vocoder})
            self.assertEqual(set(bench["peak_gflops_by_type"]), {"int8", vocoder})
            self.assertGreater(min(bench["peak_gflops_by_type"].values()), 0)
            lst = d / "list.txt"
            lst.write_text("\n".join(map(str, INT8_FILES)) + "\n")
            recs = {}
            for dt in ("fp32", "int8"):
                rep = d / f"{dt}.jsonl"
                run(f"@{lst}", "--out-dir", d / dt, "--report", rep, "-q", "--models", models, "--dtype", dt, check=True)
                recs[dt] = {Path(r["input"]).name: r for r in map(json.loads, rep.read_text().splitlines())}
            r = next(iter(recs["int8"].values()))
            self.assertEqual(r["runtime"]["dtype"], "int8")
            self.assertIn(f"int8 encode, decode; {vocoder} vocoder", r["runtime"]["backend_reason"])
            for key, bound in INT8_COST.items():
                change = sum(recs["int8"][f]["metrics"][key] - recs["fp32"][f]["metrics"][key] for f in recs["fp32"]) / len(INT8_FILES)
                with self.subTest(metric=key, change=change):
                    self.assertLessEqual(abs(change), bound)
            rep = d / "vs.jsonl"
            run("metrics", d / "fp32", d / "int8", "--report", rep, "--metrics", "snr_db", check=True)
            snr = [json.loads(ln)["metrics"]["snr_db"] for ln in rep.read_text().splitlines()]
            self.assertEqual(len(snr), len(INT8_FILES))
            self.assertGreaterEqual(min(snr), INT8_VS_FP32["min_snr_db"], snr)
            self.assertLessEqual(max(snr), INT8_VS_FP32["max_snr_db"], snr)


if __name__ == "__main__":
    unittest.main()
