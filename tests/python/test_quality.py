"""The shipped compact pair (models/) on held-out speech: real reconstructions, pinned quality.

The clips in tests/data are Asterisk prompts never used in training (Italian and Russian: unseen
languages; one held-out French prompt) and examples/example.wav (a held-out English prompt). The bounds
are the figures measured when the pair was trained (docs/models.md, "The compact model pair") with a margin, so a
change that degrades the audio fails here.
"""
import json
import os
import re
import unittest
from pathlib import Path

from common import ROOT, run, tmpdir

# LDMRECON_COMPACT_MODELS: measure a candidate pair (tests/python/measure_quality.py) before it replaces models/
MODELS = Path(os.environ.get("LDMRECON_COMPACT_MODELS", str(ROOT / "models")))
DATA = ROOT / "tests" / "data"
UNSEEN = sorted(DATA.glob("it-*.flac")) + sorted(DATA.glob("ru-*.flac"))
HELD_OUT = [DATA / "fr-dir-firstlast.flac", ROOT / "examples" / "example.wav"]

# Measured means (see docs/models.md) and the margins the tests allow.
PINNED = {  # measured 2026-12-04 with the shipped models/ (v4 vocoder) by tests/python/measure_quality.py, Debian build
    "unseen": {
        "full": {"stoi": 0.7760, "mel_l1": 0.4951, "mrstft": 1.3836, "vae_mel_l1": 0.2290, "vuv_f1": 0.9000, "f0_rmse_cents": 212.5442, "f0_gross_error": 0.0326, "f0_fine_rmse_cents": 56.8261},
        "vocoder": {"stoi": 0.7853, "mel_l1": 0.4846, "mrstft": 1.3548, "vuv_f1": 0.8983, "f0_rmse_cents": 215.9284, "f0_gross_error": 0.0263, "f0_fine_rmse_cents": 52.7803},
        "vae_griffin_lim": {"stoi": 0.8723, "mel_l1": 0.2836, "mrstft": 1.1834, "vae_mel_l1": 0.2290},
        "griffin_lim_32": {"stoi": 0.9471, "mel_l1": 0.1432, "mrstft": 0.9836},
    },
    "held_out": {
        "full": {"stoi": 0.7712, "mel_l1": 0.5092, "mrstft": 1.2927, "vae_mel_l1": 0.2169, "vuv_f1": 0.9263, "f0_rmse_cents": 236.2912, "f0_gross_error": 0.0277, "f0_fine_rmse_cents": 83.7455},
        "vocoder": {"stoi": 0.7834, "mel_l1": 0.5055, "mrstft": 1.2505, "vuv_f1": 0.9586, "f0_rmse_cents": 195.2767, "f0_gross_error": 0.0135, "f0_fine_rmse_cents": 46.1819},
        "vae_griffin_lim": {"stoi": 0.8942, "mel_l1": 0.2702, "mrstft": 1.1172, "vae_mel_l1": 0.2169},
        "griffin_lim_32": {"stoi": 0.9447, "mel_l1": 0.1404, "mrstft": 0.9793},
    },
}
MARGIN = {"stoi": 0.03, "estoi": 0.04, "mel_l1": 0.05, "mrstft": 0.08, "vae_mel_l1": 0.03, "vuv_f1": 0.03,
          "f0_rmse_cents": 25.0, "f0_gross_error": 0.03, "f0_fine_rmse_cents": 10.0}
HIGHER_IS_BETTER = {"stoi", "estoi", "vuv_f1"}
FLOOR = {"stoi": 0.6, "mel_l1": 0.75}  # every single file of the full path, far from random weights


def reconstruct(files, *extra):
    """Runs ldmrecon on the files; returns {file name: metrics}."""
    with tmpdir() as d:
        lst = Path(d) / "list.txt"
        lst.write_text("\n".join(map(str, files)) + "\n")
        rep = Path(d) / "r.jsonl"
        p = run(f"@{lst}", "--out-dir", Path(d) / "out", "--report", rep, "-q", *extra)
        if p.returncode != 0:
            raise AssertionError(p.stderr)
        recs = [json.loads(ln) for ln in rep.read_text().splitlines() if ln.strip()]
        return {Path(r["input"]).name: r for r in recs}


def mean(recs, key):
    """Mean of a metric over a run's files; "vae_mel_l1" is the VAE's own feature error."""
    if key == "vae_mel_l1":
        return sum(r["vae"]["mel_l1"] for r in recs.values()) / len(recs)
    return sum(r["metrics"][key] for r in recs.values()) / len(recs)


class CompactPair(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.runs = {}
        for split, files in (("unseen", UNSEEN), ("held_out", HELD_OUT)):
            cls.runs[split] = {
                "full": reconstruct(files, "--models", MODELS),
                "vocoder": reconstruct(files, "--models", MODELS, "--stage", "vocoder"),
                "vae_griffin_lim": reconstruct(files, "--models", MODELS, "--vocoder", "griffin-lim"),
                "griffin_lim_32": reconstruct(files, "--stage", "vocoder", "--vocoder", "griffin-lim",
                                              "--gl-iterations", "32"),
            }

    def test_quality_is_pinned(self):
        for split, runs in PINNED.items():
            for name, metrics in runs.items():
                for key, measured in metrics.items():
                    got = mean(self.runs[split][name], key)
                    with self.subTest(split=split, run=name, metric=key):
                        if key in HIGHER_IS_BETTER:
                            self.assertGreaterEqual(got, measured - MARGIN[key])
                        else:
                            self.assertLessEqual(got, measured + MARGIN[key])

    def test_compact_vae_keeps_unseen_speech_intelligible(self):
        # The VAE's share of the target: with Griffin-Lim as the vocoder the whole path keeps
        # STOI >= 0.85 on unseen languages. (The compact HiFi-GAN does not reach it yet: docs/models.md.)
        self.assertGreaterEqual(mean(self.runs["unseen"]["vae_griffin_lim"], "stoi"), 0.85)

    def test_every_file_is_reconstructed_not_noise(self):
        # Random weights give STOI about 0.4 and log-mel L1 above 2 on these clips.
        for split in self.runs:
            for name, r in self.runs[split]["full"].items():
                with self.subTest(split=split, file=name):
                    self.assertGreater(r["metrics"]["stoi"], FLOOR["stoi"])
                    self.assertLess(r["metrics"]["mel_l1"], FLOOR["mel_l1"])
                    self.assertLess(r["vae"]["mel_l1"], 0.3)  # measured 0.21-0.23

    def test_report_says_which_models_ran(self):
        r = next(iter(self.runs["unseen"]["full"].values()))
        self.assertIn("compact pair trained by this project", r["models"]["description"])
        self.assertIn("not AudioLDM2", r["models"]["description"])


def libtorch_version():
    """The version the binary's libtorch says ("1.13.0", "2.15.0"), from --version."""
    m = re.search(r"libtorch (\d+\.\d+)", run("--version", check=True).stdout)
    return tuple(int(v) for v in m.group(1).split("."))


# What bf16 on the CPU may cost against fp32, on the same clips (the precision issue's bounds: 0.01 STOI,
# 0.02 log-mel L1), and how near fp32's own output it stays: measured 2026-12-01 with the PyTorch 2.15
# build on these clips (docs/speed.md, "What bf16 costs"; scripts/precision_cost.py for the splits).
BF16_COST = {"stoi": 0.01, "mel_l1": 0.02, "mrstft": 0.03}
# Measured: changes STOI -0.0004, log-mel L1 +0.0007, MR-STFT -0.0029; SNR against fp32's output 24.9-30.5 dB.
BF16_VS_FP32 = {"min_snr_db": 21.0, "max_snr_db": 45.0}


class Bf16OnTheCpu(unittest.TestCase):
    """bf16 against fp32 on the whole path: each measure's change within its bound, and an output near fp32's but
    not equal to it (equal would mean bf16 never ran). A libtorch that cannot run bf16 on the CPU refuses it."""

    def test_bf16_costs_no_more_than_its_bounds(self):
        files = UNSEEN + HELD_OUT
        with tmpdir() as d:
            d = Path(d)
            lst = d / "list.txt"
            lst.write_text("\n".join(map(str, files)) + "\n")
            if libtorch_version() < (2, 0):  # Debian's 1.13: no bf16 convolutions on the CPU
                p = run(f"@{lst}", "--out-dir", d / "bf16", "--models", MODELS, "--dtype", "bf16")
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("--dtype fp32", p.stderr)
                self.assertFalse((d / "bf16").exists())
                return
            recs = {}
            for dt in ("fp32", "bf16"):
                rep = d / f"{dt}.jsonl"
                run(f"@{lst}", "--out-dir", d / dt, "--report", rep, "-q", "--models", MODELS, "--dtype", dt, check=True)
                recs[dt] = {Path(r["input"]).name: r["metrics"] for r in map(json.loads, rep.read_text().splitlines())}
            for key, bound in BF16_COST.items():
                change = sum(recs["bf16"][f][key] - recs["fp32"][f][key] for f in recs["fp32"]) / len(files)
                with self.subTest(metric=key, change=change):
                    self.assertLessEqual(abs(change), bound)
            rep = d / "vs.jsonl"
            run("metrics", d / "fp32", d / "bf16", "--report", rep, "--metrics", "snr_db", check=True)
            snr = [json.loads(ln)["metrics"]["snr_db"] for ln in rep.read_text().splitlines()]
            self.assertGreaterEqual(min(snr), BF16_VS_FP32["min_snr_db"], snr)
            self.assertLessEqual(max(snr), BF16_VS_FP32["max_snr_db"], snr)


class DefaultModels(unittest.TestCase):
    def test_shipped_pair_is_the_default(self):
        with tmpdir() as d:
            p = run(DATA / "fr-dir-firstlast.flac", "-o", Path(d) / "o.wav", "--json")  # no --models, no env
            self.assertEqual(p.returncode, 0, p.stderr)
            rec = json.loads(p.stdout)
            self.assertEqual(Path(rec["models"]["dir"]).resolve(), MODELS.resolve())
            self.assertIn("compact pair trained by this project", rec["models"]["description"])

    def test_pair_fits_the_size_budget(self):
        size = sum((MODELS / f).stat().st_size for f in ("vae.pt", "vocoder.pt"))
        self.assertLessEqual(size, 25 * 1024 * 1024)

    def test_info_names_the_training_data_and_licence(self):
        p = run("info", MODELS, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        meta = json.loads(p.stdout)
        vae = meta["vae"]
        self.assertIn("training", vae)
        self.assertIn("CC-BY-SA-3.0", vae["weights_licence"])
        self.assertGreater(vae["scaling_factor"], 0)


if __name__ == "__main__":
    unittest.main()
