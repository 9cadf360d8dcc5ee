"""Commands that need no model never load libtorch (they start in milliseconds); the model commands load the
model module that holds it, once, on first use. Checked with the dynamic loader's own log (LD_DEBUG=files)."""
import unittest
from pathlib import Path

from common import AUDIO, TINY, run, tmpdir

SPEECH = AUDIO / "speech16k.wav"


def loaded(*args):
    """The shared objects the loader opened for `ldmrecon ARGS`, and the run."""
    p = run(*args, env={"LD_DEBUG": "files"})
    return [l for l in p.stderr.splitlines() if "file=" in l or "calling init:" in l], p


class ModelFreeCommands(unittest.TestCase):
    def test_no_libtorch_for_commands_without_models(self):
        with tmpdir() as d:
            d = Path(d)
            run(SPEECH, "-o", d / "o.wav", "--models", TINY, "--report", d / "r.jsonl", "-q", check=True)
            for args in (["--version"], ["--help"], ["metrics", SPEECH, d / "o.wav"], ["pitch", SPEECH],
                         ["mel", SPEECH, "-o", d / "m.npy", "--models", TINY], ["info", TINY], ["info", TINY / "vae.pt"],
                         ["report", "merge", d / "r.jsonl"]):
                lines, p = loaded(*args)
                self.assertEqual(p.returncode, 0, (args, p.stderr[-2000:]))
                self.assertFalse([l for l in lines if "libtorch" in l or "ldmrecon_torch" in l], args)
                self.assertTrue([l for l in lines if "libsndfile" in l], "the loader log was read")

    def test_model_commands_load_the_module(self):
        with tmpdir() as d:
            lines, p = loaded(SPEECH, "-o", Path(d) / "o.wav", "--models", TINY, "-q")
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertTrue([l for l in lines if "ldmrecon_torch.so" in l])
        self.assertTrue([l for l in lines if "libtorch" in l])

    def test_openmp_waits_passively_unless_the_user_chose(self):
        # The binary starts itself again with OMP_WAIT_POLICY=PASSIVE before libtorch loads (libgomp reads it
        # once, at load): libtorch still loads once, and the report says which policy ran.
        import json
        with tmpdir() as d:
            d = Path(d)
            lines, p = loaded(SPEECH, "-o", d / "o.wav", "--models", TINY, "-q", "--report", d / "r.json")
            self.assertEqual(p.returncode, 0, p.stderr[-2000:])
            inits = [l for l in lines if "calling init:" in l and "libtorch_cpu.so" in l]
            self.assertEqual(len(inits), 1, inits)
            self.assertEqual(json.loads((d / "r.json").read_text())["runtime"]["omp_wait_policy"], "PASSIVE")
            run(SPEECH, "-o", d / "o2.wav", "--models", TINY, "-q", "--report", d / "r2.json",
                env={"OMP_WAIT_POLICY": "ACTIVE"}, check=True)
            self.assertEqual(json.loads((d / "r2.json").read_text())["runtime"]["omp_wait_policy"], "ACTIVE")

    def test_a_missing_module_is_one_line_and_spares_the_rest(self):
        env = {"LDMRECON_MODULE": "/nonexistent/ldmrecon_torch.so"}
        with tmpdir() as d:
            p = run(SPEECH, "-o", Path(d) / "o.wav", "--models", TINY, env=env)
            self.assertEqual(p.returncode, 4, p.stderr)
            errors = [l for l in p.stderr.splitlines() if "error" in l]
            self.assertEqual(len(errors), 1, p.stderr)
            self.assertIn("model module", errors[0])
            self.assertFalse((Path(d) / "o.wav").exists())
            self.assertEqual(run("metrics", SPEECH, SPEECH, env=env).returncode, 0)

    def test_a_module_that_is_not_one_is_refused(self):
        with tmpdir() as d:
            p = run(SPEECH, "-o", Path(d) / "o.wav", "--models", TINY, env={"LDMRECON_MODULE": str(SPEECH)})
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("cannot load the model module", p.stderr)


if __name__ == "__main__":
    unittest.main()
