"""The learned measures against their references, called directly: CREPE against torchcrepe.predict
(0.0.24, its Viterbi decoder, dither off) for every frame and Vocos's calculate_periodicity_metrics
(gemelo-ai/vocos metrics/periodicity.py) for the three keys; DistillMOS against the distillmos package's
model (0.9.1); DNSMOS against speechmos.dnsmos.run (0.0.1.1, Microsoft's ONNX graphs in onnxruntime). Run in
the PyTorch 2 environment (scripts/python_env.sh torch), which has the packages."""
import json
import subprocess
import sys
import types
import unittest
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from common import BIN, ROOT, run, tmpdir

for _name in ("torchaudio", "resampy"):  # imported at the packages' tops, unused here (export_measure_models.py)
    try:
        __import__(_name)
    except ImportError:
        sys.modules[_name] = types.ModuleType(_name)
import librosa  # noqa: E402
import distillmos  # noqa: E402
import torchcrepe  # noqa: E402
from speechmos import dnsmos  # noqa: E402
from torchcrepe.loudness import REF_DB  # noqa: E402

torchcrepe.convert.dither = lambda cents: cents  # the reference undithered, as ldmrecon reports it
SPEECH = sorted((ROOT / "tests" / "data").glob("*.flac"))
SR = 16000


def reference_track(audio, capacity):
    """Vocos predict_pitch (metrics/periodicity.py lines 16-67), its spectrogram through torch.stft (what
    torchaudio.functional.spectrogram with power=2, normalized=False, center=False computes)."""
    x = torch.tensor(audio, dtype=torch.float32)[None]
    pitch, periodicity = torchcrepe.predict(x, fmin=50.0, fmax=550, sample_rate=SR, model=capacity,
                                            return_periodicity=True, device="cpu", pad=False)
    pitch, periodicity = pitch.numpy(), periodicity.numpy()
    stft = torch.stft(x, n_fft=1024, hop_length=160, win_length=1024, window=torch.hann_window(1024),
                      center=False, return_complex=True).abs().pow(2)
    freqs = librosa.fft_frequencies(sr=SR, n_fft=1024)
    silence = (librosa.perceptual_weighting(stft.numpy(), freqs) - REF_DB).mean(axis=1) < -60
    periodicity[silence] = 0
    pitch[periodicity < 0.21] = np.nan
    return pitch[0], periodicity[0]


def reference_measures(y, y_hat, capacity):
    """Vocos calculate_periodicity_metrics (lines 70-105)."""
    true_pitch, true_periodicity = reference_track(y, capacity)
    pred_pitch, pred_periodicity = reference_track(y_hat, capacity)
    true_voiced, pred_voiced = ~np.isnan(true_pitch), ~np.isnan(pred_pitch)
    periodicity_loss = np.sqrt(((pred_periodicity - true_periodicity) ** 2).mean())
    voiced = true_voiced & pred_voiced
    pitch_loss = np.sqrt(((1200 * (np.log2(true_pitch[voiced]) - np.log2(pred_pitch[voiced]))) ** 2).mean())
    tp = (true_voiced & pred_voiced).sum()
    fp = (~true_voiced & pred_voiced).sum()
    fn = (true_voiced & ~pred_voiced).sum()
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return {"crepe_f0_rmse_cents": pitch_loss, "crepe_periodicity_rmse": periodicity_loss,
            "crepe_vuv_f1": 2 * precision * recall / (precision + recall)}


def degraded(y, kind, seed=0):
    if kind == "noise":  # white noise 15 dB below the speech
        rng = np.random.default_rng(seed)
        return (y + rng.standard_normal(len(y)) * np.sqrt(np.mean(y ** 2)) * 10 ** (-15 / 20)).astype(np.float32)
    spec = np.fft.rfft(y)  # low-pass at 1 kHz: the harmonics above it gone
    spec[int(1000 / (SR / 2) * (len(spec) - 1)):] = 0
    return np.fft.irfft(spec, len(y)).astype(np.float32)


def metrics_of_long_speech(metrics):
    """The five files of tests/data end to end (24 s), and `metrics` of that signal against itself."""
    y = np.concatenate([sf.read(p, dtype="float32")[0] for p in SPEECH])
    with tmpdir() as d:
        p = Path(d) / "long.wav"
        sf.write(p, y, SR, subtype="FLOAT")
        return y, metrics(p, p)


EXPORTS = {}


def setUpModule():
    """The exports of scripts/export_measure_models.py, made once for every test here."""
    tmp = tmpdir()
    EXPORTS["tmp"] = tmp
    subprocess.run([sys.executable, str(ROOT / "scripts" / "export_measure_models.py"), "-o", tmp.name,
                    "--crepe", "full", "tiny"], check=True, capture_output=True)


def tearDownModule():
    EXPORTS["tmp"].cleanup()


class Exported(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        d = Path(EXPORTS["tmp"].name)
        cls.model = {c: str(d / f"crepe_{c}.pt") for c in ("full", "tiny")}
        cls.distillmos = str(d / "distillmos.pt")
        cls.dnsmos = str(d / "dnsmos.pt")


class DistillMos(Exported):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reference = distillmos.ConvTransformerSQAModel().eval()  # segmenting_in_forward=True, as its CLI

    def package(self, audio):
        with torch.no_grad():
            return self.reference(torch.tensor(audio, dtype=torch.float32)[None]).item()

    def metrics(self, ref, est):
        return json.loads(run("metrics", ref, est, "--metrics", "distillmos", "--distillmos", self.distillmos,
                              "--json", check=True).stdout)

    def test_equals_the_package_on_real_speech_and_its_degradations(self):
        for path in SPEECH:  # 4-6 s each: one segment, zero-padded to 7.68 s
            y = sf.read(path, dtype="float32")[0]
            with tmpdir() as d:
                est = Path(d) / "est.wav"
                sf.write(est, degraded(y, "noise"), SR, subtype="FLOAT")
                ours = self.metrics(path, est)
            self.assertAlmostEqual(ours["distillmos_in"], self.package(y), delta=1e-4, msg=path.name)
            self.assertAlmostEqual(ours["distillmos_out"], self.package(degraded(y, "noise")), delta=1e-4, msg=path.name)
            self.assertGreater(ours["distillmos_in"], ours["distillmos_out"] + 0.3, path.name)  # noise costs

    def test_long_signal_is_cut_as_the_package_cuts_it(self):
        # 24 s: ceil((384000 - 122880) / 16000) + 1 = 18 overlapping segments, averaged
        y, ours = metrics_of_long_speech(self.metrics)
        self.assertAlmostEqual(ours["distillmos_in"], self.package(y), delta=1e-4)
        self.assertEqual(ours["distillmos_in"], ours["distillmos_out"])

    def test_missing_export_is_one_line(self):
        with tmpdir() as d:
            r = run("metrics", SPEECH[0], SPEECH[0], "--metrics", "distillmos", "--distillmos", str(Path(d) / "no.pt"))
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("export_measure_models.py", r.stderr)


DNSMOS_KEYS = {"sig": "sig_mos", "bak": "bak_mos", "ovrl": "ovrl_mos", "p808": "p808_mos"}


class Dnsmos(Exported):
    def metrics(self, ref, est):
        return json.loads(run("metrics", ref, est, "--metrics", "dnsmos", "--dnsmos", self.dnsmos, "--json",
                              check=True).stdout)

    def check(self, ours, side, audio, what):
        want = dnsmos.run(np.asarray(audio, dtype=np.float64), SR)
        for key, ref_key in DNSMOS_KEYS.items():
            self.assertAlmostEqual(ours[f"dnsmos_{key}_{side}"], float(want[ref_key]), delta=1e-4, msg=f"{what} {key}")

    def test_equals_the_package_on_real_speech_and_its_degradations(self):
        # 4-6 s each: repeated to 9.01 s as the package repeats it, one segment (or two)
        for path in SPEECH:
            y = sf.read(path, dtype="float32")[0]
            noisy = np.clip(degraded(y, "noise"), -1, 1)
            with tmpdir() as d:
                est = Path(d) / "est.wav"
                sf.write(est, noisy, SR, subtype="FLOAT")
                ours = self.metrics(path, est)
            self.check(ours, "in", y, path.name)
            self.check(ours, "out", noisy, path.name + " noisy")
            self.assertGreater(ours["dnsmos_bak_in"], ours["dnsmos_bak_out"] + 0.3, path.name)  # noise costs BAK

    def test_long_signal_hops_a_second_as_the_package(self):
        # 24 s: 15 hops a second apart, 8 of them skipped by the package (their ends round a sample short)
        y, ours = metrics_of_long_speech(self.metrics)
        self.check(ours, "in", y, "24 s")
        self.assertEqual(ours["dnsmos_ovrl_in"], ours["dnsmos_ovrl_out"])

    def test_missing_export_is_one_line(self):
        with tmpdir() as d:
            r = run("metrics", SPEECH[0], SPEECH[0], "--metrics", "dnsmos", "--dnsmos", str(Path(d) / "no.pt"))
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("export_measure_models.py", r.stderr)


class Crepe(Exported):
    def track(self, path, capacity):
        return json.loads(run("pitch", path, "--crepe", self.model[capacity], "--json", check=True).stdout)

    def assert_same_track(self, path, audio, capacity):
        ours = self.track(path, capacity)
        pitch, periodicity = reference_track(audio, capacity)
        self.assertEqual(len(ours["crepe_f0_hz"]), len(pitch), path)
        np.testing.assert_allclose(ours["periodicity"], periodicity, atol=1e-4, err_msg=str(path))
        voiced = ~np.isnan(pitch)
        self.assertEqual(ours["voiced"], voiced.tolist(), path)
        f0 = np.array([np.nan if v is None else v for v in ours["f0_hz"]])
        np.testing.assert_allclose(f0[voiced], pitch[voiced], rtol=1e-4, err_msg=str(path))

    def test_every_frame_equals_torchcrepe_tiny(self):
        for path in SPEECH:
            self.assert_same_track(path, sf.read(path, dtype="float32")[0], "tiny")

    def test_every_frame_equals_torchcrepe_full(self):
        # CREPE full is about 280 GFLOP a second of audio: two seconds of one file.
        y = sf.read(SPEECH[1], dtype="float32")[0][: 2 * SR]
        with tmpdir() as d:
            p = Path(d) / "two_seconds.wav"
            sf.write(p, y, SR, subtype="FLOAT")
            self.assert_same_track(p, y, "full")

    def test_measures_equal_vocos(self):
        for path in SPEECH[:3]:
            y = sf.read(path, dtype="float32")[0]
            for kind in ("noise", "lowpass"):
                with tmpdir() as d:
                    est = Path(d) / "est.wav"
                    sf.write(est, degraded(y, kind), SR, subtype="FLOAT")
                    ours = json.loads(run("metrics", path, est, "--metrics", "crepe", "--max-lag-ms", "0",
                                          "--crepe", self.model["tiny"], "--json", check=True).stdout)
                ref = reference_measures(y, degraded(y, kind), "tiny")
                for key, value in ref.items():
                    # torchcrepe's F0 is float32: its cents carry about 1e-4 of rounding
                    delta = 1e-3 if key == "crepe_f0_rmse_cents" else 1e-6
                    self.assertAlmostEqual(ours[key], value, delta=delta, msg=f"{path.name} {kind} {key}")
                self.assertGreater(ours["crepe_voiced_frames_both"], 50)

    def test_reconstruction_and_pairs_report_what_metrics_computes(self):
        # The whole path (the shipped compact pair) with the crepe group; then the same pair through
        # `metrics --pairs` beside a pair that cannot be read, which fails alone.
        with tmpdir() as d:
            out = Path(d) / "out.wav"
            rec = json.loads(run(SPEECH[0], "-o", out, "--format", "float", "--metrics", "sample,crepe", "--crepe",
                                 self.model["tiny"], "--json", check=True).stdout)
            m = rec["files"][0]["metrics"] if "files" in rec else rec["metrics"]
            pairs = Path(d) / "pairs.tsv"
            pairs.write_text(f"{SPEECH[0]}\t{out}\n{SPEECH[0]}\t{Path(d) / 'missing.wav'}\n")
            report = Path(d) / "r.jsonl"
            r = run("metrics", "--pairs", pairs, "--metrics", "crepe", "--crepe", self.model["tiny"], "--report", report)
            self.assertEqual(r.returncode, 6, r.stderr)
            records = [json.loads(line) for line in report.read_text().splitlines()]
        self.assertEqual([x["status"] for x in records], ["ok", "failed"])
        for key in ("crepe_f0_rmse_cents", "crepe_periodicity_rmse", "crepe_vuv_f1"):
            self.assertAlmostEqual(records[0]["metrics"][key], m[key], delta=1e-6, msg=key)
        self.assertIn("snr_db", m)

    def test_identical_signals(self):
        ours = json.loads(run("metrics", SPEECH[0], SPEECH[0], "--metrics", "crepe", "--crepe", self.model["tiny"],
                              "--json", check=True).stdout)
        self.assertEqual(ours["crepe_f0_rmse_cents"], 0.0)
        self.assertEqual(ours["crepe_periodicity_rmse"], 0.0)
        self.assertEqual(ours["crepe_vuv_f1"], 1.0)

    def test_not_in_the_default_and_missing_model_is_one_line(self):
        default = json.loads(run("metrics", SPEECH[0], SPEECH[1], "--json", check=True).stdout)
        self.assertFalse([k for k in default if k.startswith("crepe")])
        with tmpdir() as d:
            r = run("metrics", SPEECH[0], SPEECH[0], "--metrics", "crepe", "--crepe", str(Path(d) / "none.pt"))
        self.assertNotEqual(r.returncode, 0)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("export_measure_models.py", lines[0])
        self.assertIn("none.pt", lines[0])

    def test_wrong_rate_is_refused(self):
        r = run("metrics", SPEECH[0], SPEECH[1], "--metrics", "crepe", "--crepe", self.model["tiny"],
                "--sample-rate", "22050")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("16 kHz", r.stderr)


if __name__ == "__main__":
    unittest.main()
