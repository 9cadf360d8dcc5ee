"""Compiled models (AOTInductor packages from `ldmrecon compile`) held to the TorchScript path they replace:
every stage, several lengths (one window and several), batch 1 and 3, the any-shape packages and the static
ones for one full window (used at batch 1 only); and what may not be used: a package
made from other exports is refused with one line, one made by another torch is passed over with the reason.
With the Debian build (libtorch 1.13), compile must say it needs the PyTorch 2 build."""
import json
import shutil
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf

from common import AUDIO, TINY, run, tmpdir
from make_fixtures import rewrite_metadata
from signals import speech_like

TORCH2 = "libtorch 1." not in run("--version", check=True).stdout


def backend_of(p):
    return json.loads(p.stdout)["runtime"]["backend"]


def check_bench_report(test, rep, runners):
    """`ldmrecon bench --json`: one run per batch size, one entry per runner, stage times that add up."""
    test.assertEqual(len(rep["runs"]), 1)
    got = rep["runs"][0]["runners"]
    test.assertEqual([r["runner"] for r in got], runners)
    for r in got:
        sec = r["seconds"]
        test.assertGreater(min(sec["encode"], sec["decode"], sec["vocode"]), 0)
        test.assertAlmostEqual(sec["total"], sec["feature"] + sec["encode"] + sec["decode"] + sec["vocode"], places=9)
        test.assertAlmostEqual(r["x_realtime"], rep["audio_seconds"] / sec["total"], places=6)
    test.assertGreater(rep["gflop_per_clip"]["vocode"], 0)


@unittest.skipUnless(TORCH2, "the compiled backend needs the PyTorch 2 build (see DebianBuild below)")
class Compiled(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tmpdir()
        cls.d = Path(cls._tmp.name)
        cls.models = cls.d / "models"
        shutil.copytree(TINY, cls.models)
        # Window packages for the 256-frame windows the tests run; all kept, so that all can be forced.
        p = run("compile", "--models", cls.models, "--window-frames", "256",
                env={"LDMRECON_KEEP_WINDOW_PACKAGES": "1"})
        assert p.returncode == 0, p.stderr
        cls.compile_log = p.stdout
        # Three lengths: under one window, one window, several windows (6 s in 256-frame windows).
        cls.inputs = {}
        for name, seconds in (("a", 0.5), ("b", 3.05), ("c", 6.0)):
            path = cls.d / f"{name}.wav"
            sf.write(path, speech_like(16000, seconds, seed=len(name) + int(seconds)), 16000, subtype="FLOAT")
            cls.inputs[name] = path

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_compile_says_how_long_and_writes_a_manifest(self):
        self.assertRegex(self.compile_log, r"compiled .* for cpu/fp32 in \d+\.\d s")
        m = json.loads((self.models / "compiled" / "cpu-fp32" / "manifest.json").read_text())
        self.assertEqual((m["device"], m["dtype"]), ("cpu", "fp32"))
        self.assertIn(m["cpu_isa"], ("avx512", "avx2", "default"))
        self.assertTrue(m["torch_version"].startswith("2."))
        self.assertEqual((m["window"]["frames"], m["window"]["batch"]), (256, 1))
        for stage in ("encode", "decode", "vocoder"):
            for package in (f"{stage}.pt2", f"{stage}-window.pt2"):
                self.assertTrue((self.models / "compiled" / "cpu-fp32" / package).exists())
            # Timed three ways at compile time, interleaved; a package is kept only where reliably faster.
            t = m["window_ms"][stage]
            self.assertEqual(set(t["spread"]), {"compiled", "window", "torchscript"})
            if m["use"][stage] == "compiled":
                self.assertLess(t["compiled"] + max(t["spread"]["compiled"], t["spread"]["torchscript"]), t["torchscript"])
            if stage in m["too_noisy"]:
                self.assertEqual(m["use"][stage], "torchscript")
            if stage in m["window"]["stages"]:
                self.assertLess(t["window"], t[m["use"][stage]])

    def forced(self, d, **manifest):
        """A copy of the compiled models whose manifest says `manifest` instead of what compile measured."""
        m = Path(d) / "m"
        shutil.copytree(self.models, m)
        mf = m / "compiled" / "cpu-fp32" / "manifest.json"
        mf.write_text(json.dumps(dict(json.loads(mf.read_text()), **manifest)))
        return m

    def test_every_package_forced_equals_torchscript(self):
        # The measured choice may keep TorchScript for a stage: force every package in and compare too. Batch 1
        # runs the 256-frame windows through the window packages, batch 3 through the any-shape ones.
        every = ["encode", "decode", "vocoder"]
        with tmpdir() as d:
            m = self.forced(d, use={s: "compiled" for s in every}, window=dict(frames=256, batch=1, stages=every))
            outs = {}
            for be, batch in (("torchscript", "1"), ("compiled", "1"), ("compiled", "3")):
                p = run(self.inputs["c"], "-o", Path(d) / f"{be}{batch}.wav", "--models", m, "--backend", be,
                        "--format", "float", "--window-frames", "256", "--batch-size", batch)
                self.assertEqual(p.returncode, 0, p.stderr)
                outs[be + batch] = sf.read(Path(d) / f"{be}{batch}.wav")[0]
            self.assertIn("compiled encode, decode, vocoder; full 256-frame windows at batch 1 from static packages "
                          "for encode, decode, vocoder", p.stderr)
        for k in ("compiled1", "compiled3"):
            self.assertLess(np.abs(outs[k] - outs["torchscript1"]).max(), 1e-5, k)

    def test_window_packages_serve_full_windows_at_batch_one_only(self):
        # A wrong package in the encoder's window slot (the decoder's) must fail exactly where it is used.
        with tmpdir() as d:
            m = self.forced(d, use={"encode": "compiled"}, window=dict(frames=256, batch=1, stages=["encode"]))
            shutil.copy(m / "compiled" / "cpu-fp32" / "decode-window.pt2", m / "compiled" / "cpu-fp32" / "encode-window.pt2")
            for name, batch, rc in (("c", "1", 4), ("a", "1", 0), ("c", "3", 0)):
                with self.subTest(input=name, batch=batch):
                    out = Path(d) / f"{name}{batch}.wav"
                    p = run(self.inputs[name], "-o", out, "--models", m, "--backend", "compiled",
                            "--window-frames", "256", "--batch-size", batch)
                    self.assertEqual(p.returncode, rc, p.stderr)
                    self.assertEqual(out.exists(), rc == 0)

    def run_both(self, *args):
        outs = {}
        for be in ("torchscript", "compiled"):
            with tmpdir() as d:
                p = run(*args, "--models", self.models, "--backend", be, "--dump-dir", Path(d) / "dump",
                        "-o", Path(d) / "o.wav", "--format", "float", "--json", "--window-frames", "256")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(backend_of(p), "TorchScript" if be == "torchscript" else "compiled (AOTInductor)")
                outs[be] = {f: np.load(Path(d) / "dump" / f) for f in ("decoded.npy", "output.npy")}
        return outs

    def test_every_stage_and_length_equals_torchscript(self):
        for stage in ("full", "vae", "vocoder"):
            for name, path in self.inputs.items():
                with self.subTest(stage=stage, input=name):
                    args = [path, "--stage", stage]
                    if stage == "vae":
                        outs = {}
                        for be in ("torchscript", "compiled"):
                            with tmpdir() as d:
                                run(*args, "--models", self.models, "--backend", be, "-o", Path(d) / "f.npy",
                                    check=True)
                                outs[be] = np.load(Path(d) / "f.npy")
                        np.testing.assert_allclose(outs["compiled"], outs["torchscript"], atol=1e-4)
                        continue
                    o = self.run_both(*args)
                    ref = o["torchscript"]["output.npy"]
                    # Measured: at most 4e-8 of a 0.1 peak on the tiny fixture.
                    self.assertLess(np.abs(o["compiled"]["output.npy"] - ref).max(), 1e-5 * max(1.0, np.abs(ref).max()))
                    np.testing.assert_allclose(o["compiled"]["decoded.npy"], o["torchscript"]["decoded.npy"], atol=1e-4)

    def test_batch_of_three_equals_batch_of_one(self):
        outs = {}
        for be, batch in (("torchscript", "1"), ("compiled", "3")):
            with tmpdir() as d:
                run(*self.inputs.values(), "--out-dir", Path(d) / "out", "--models", self.models, "--backend", be,
                    "--batch-size", batch, "--window-frames", "256", "--format", "float", "-q", check=True)
                outs[be] = {f.name: sf.read(f)[0] for f in sorted((Path(d) / "out").glob("*.wav"))}
        self.assertEqual(outs["torchscript"].keys(), outs["compiled"].keys())
        for k in outs["torchscript"]:
            self.assertLess(np.abs(outs["torchscript"][k] - outs["compiled"][k]).max(), 1e-5, k)

    def test_a_window_the_vae_cannot_take_is_a_usage_error(self):
        p = run("compile", "--models", self.models, "--window-frames", "250")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--window-frames 250 must be a multiple of 4", p.stderr)

    def test_auto_uses_the_package(self):
        with tmpdir() as d:
            p = run(self.inputs["a"], "-o", Path(d) / "o.wav", "--models", self.models, "--json")
        self.assertEqual(backend_of(p), "compiled (AOTInductor)")
        self.assertIn("matches", p.stderr)

    def test_bench_times_both_backends_side_by_side(self):
        with tmpdir() as d:
            out = Path(d) / "bench.json"
            p = run("bench", "--models", self.models, "--seconds", "1", "--repeat", "1", "--warmup", "0", "--no-python",
                    "--backends", "torchscript", "compiled", "--json", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            rep = json.loads(out.read_text())
        check_bench_report(self, rep, ["C++ TorchScript", "C++ compiled (AOTInductor)"])
        for name in ("C++ TorchScript", "C++ compiled (AOTInductor)"):
            self.assertIn(name, p.stdout)

    def test_bench_names_a_package_slower_than_torchscript(self):
        # Every stage forced to its package; whichever then ran over 10 % slower than TorchScript in this
        # run is named, in the JSON and on stdout, and no other.
        with tmpdir() as d:
            m = self.forced(d, use={"encode": "compiled", "decode": "compiled", "vocoder": "compiled"})
            out = Path(d) / "bench.json"
            p = run("bench", "--models", m, "--seconds", "1", "--repeat", "1", "--warmup", "0", "--no-python",
                    "--no-kernels", "--backends", "torchscript", "compiled", "--json", out, check=True)
            run_ = json.loads(out.read_text())["runs"][0]
        ts, comp = (r["seconds"] for r in run_["runners"])
        want = [s for s, k in (("encode", "encode"), ("vocoder", "vocode"), ("decode", "decode"))
                if comp[k] > 1.1 * ts[k]]
        self.assertEqual([e["stage"] for e in run_["slower_packages"]], want)
        for stage in want:
            self.assertIn(f"{stage}: the compiled package `compile` chose ran", p.stdout)

    def test_a_package_of_other_exports_is_refused(self):
        with tmpdir() as d:
            m = Path(d) / "m"
            shutil.copytree(self.models, m)
            rewrite_metadata(TINY / "vocoder.pt", m / "vocoder.pt", lambda meta: meta.update(description="retrained"))
            p = run(self.inputs["a"], "-o", Path(d) / "o.wav", "--models", m)
            self.assertEqual(p.returncode, 4, p.stderr)
            errors = [l for l in p.stderr.splitlines() if "error" in l]
            self.assertEqual(len(errors), 1, p.stderr)
            self.assertIn("stale or foreign", errors[0])
            self.assertFalse((Path(d) / "o.wav").exists())

    def test_a_package_of_another_torch_is_passed_over(self):
        with tmpdir() as d:
            m = Path(d) / "m"
            shutil.copytree(self.models, m)
            mf = m / "compiled" / "cpu-fp32" / "manifest.json"
            mf.write_text(json.dumps(dict(json.loads(mf.read_text()), torch_version="2.0.0")))
            p = run(self.inputs["a"], "-o", Path(d) / "o.wav", "--models", m, "--json")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(backend_of(p), "TorchScript")
            self.assertIn("compiled by torch 2.0.0", p.stderr)
            p = run(self.inputs["a"], "-o", Path(d) / "o.wav", "--models", m, "--backend", "compiled")
            self.assertEqual(p.returncode, 4, p.stderr)
            self.assertIn("compiled by torch 2.0.0", p.stderr)


class CompileChoice(unittest.TestCase):
    """compile_models.faster: a package replaces TorchScript only when its timings are reliably faster."""

    def test_medians_further_apart_than_the_spread_decide_closer_ones_do_not(self):
        from compile_models import faster, median, spread
        self.assertEqual((median([3, 1, 2]), median([4, 1, 3, 2])), (2, 2.5))
        self.assertEqual(spread([1, 2, 3, 4, 5, 6, 7, 8]), 4)
        steady_fast, steady_slow = [10, 10.1, 10.2, 10.1, 10], [12, 12.1, 12.2, 12.1, 12]
        self.assertEqual(faster(steady_fast, steady_slow), "a")
        self.assertEqual(faster(steady_slow, steady_fast), "b")
        noisy = [9, 14, 10, 16, 11, 15, 12]  # median 12, spread 5: cannot tell 12 from 10.1
        self.assertIsNone(faster(noisy, steady_fast))
        self.assertIsNone(faster(steady_fast, steady_fast))


class BenchClip(unittest.TestCase):
    def test_the_default_clip_is_one_full_window(self):
        # 1023 hops: 1024 frames, the shape every window of a long input has (10.24 s would be 1025 frames).
        with tmpdir() as d:
            out = Path(d) / "bench.json"
            run("bench", "--models", TINY, "--repeat", "1", "--warmup", "0", "--no-python", "--json", out, check=True)
            rep = json.loads(out.read_text())
        self.assertEqual(rep["frames"], 1024)
        self.assertAlmostEqual(rep["audio_seconds"], 1023 * 160 / 16000, places=9)

    def test_bench_says_which_onednn_kernels_ran(self):
        flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")).split()
        dtypes = ["fp32"] + (["bf16"] if TORCH2 and "avx512_bf16" in flags else [])
        for dt in dtypes:
            with self.subTest(dtype=dt), tmpdir() as d:
                out = Path(d) / "bench.json"
                p = run("bench", "--models", TINY, "--seconds", "1", "--repeat", "1", "--warmup", "0", "--no-python",
                        "--dtype", dt, "--json", out, check=True)
                self.assertIn("oneDNN kernels, one pass of the clip", p.stdout)
                rep = json.loads(out.read_text())["onednn"]
                self.assertTrue(rep["isa"])
                self.assertEqual(rep["cpu_has"]["amx_bf16"], "amx_bf16" in flags)
                for stage in ("vae", "vocoder"):
                    kernels = rep[stage]["kernels"]
                    self.assertIn("convolution", {k["primitive"] for k in kernels})
                    self.assertAlmostEqual(sum(rep[stage]["share"].values()), 1.0, places=6)
                    self.assertAlmostEqual(rep[stage]["kernel_ms"] + rep[stage]["reorder_ms"],
                                           sum(k["ms"] for k in kernels), places=3)
                # bf16 where the CPU has it takes the bf16 (or AMX) kernels, not fp32's AVX-512 ones.
                fast = rep["vae"]["share"]["AMX"] + rep["vae"]["share"]["AVX-512 BF16"]
                if dt == "bf16":
                    self.assertGreater(fast, 0.5, rep["vae"])
                else:
                    self.assertEqual(fast, 0.0, rep["vae"])


@unittest.skipIf(TORCH2, "the Debian build's behaviour")
class DebianBuild(unittest.TestCase):
    def test_compile_needs_the_torch2_build(self):
        p = run("compile", "--models", TINY)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("scripts/setup.sh --torch pip", p.stderr)

    def test_bench_times_torchscript_beside_python_eager(self):
        with tmpdir() as d:
            out = Path(d) / "bench.json"
            p = run("bench", "--models", TINY, "--seconds", "1", "--repeat", "1", "--warmup", "0", "--json", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            rep = json.loads(out.read_text())
        check_bench_report(self, rep, ["C++ TorchScript", "Python eager"])
        eager = rep["runs"][0]["runners"][1]
        self.assertEqual(eager["speedup_over_python_eager"], 1.0)
        self.assertTrue(eager["python"]["torch"].startswith("1.13"))  # the same torch as this build's libtorch

    def test_compiled_backend_is_refused_and_auto_falls_back(self):
        with tmpdir() as d:
            p = run(AUDIO / "short.wav", "-o", Path(d) / "o.wav", "--models", TINY, "--backend", "compiled")
            self.assertEqual(p.returncode, 4, p.stderr)
            p = run(AUDIO / "short.wav", "-o", Path(d) / "o.wav", "--models", TINY, "--json")
            self.assertEqual(backend_of(p), "TorchScript")


if __name__ == "__main__":
    unittest.main()
