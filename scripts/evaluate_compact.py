#!/usr/bin/env python3
"""Measure a model pair on the held-out prompts: the figures of docs/models.md's "The compact model pair" table.

  scripts/evaluate_compact.py [--models models] [--every 2] [--runs full,vocoder,gl] [--json eval.json]

For the test split (held-out prompts and speakers), the unseen languages (it, ru) and the held-out music
of prepare_data.py's manifest, runs ldmrecon three ways on the same files: the whole path, the vocoder
alone on the true feature, and 32 iterations of Griffin-Lim on the true feature (--runs picks some);
prints the mean log-mel L1, MR-STFT, SI-SDR, STOI, ESTOI and the pitch measures (vuv_f1, f0_rmse_cents)
of each, and the real-time factor; then, per voice (the manifest's folder: it_IT_m_Carlo is the unseen
male voice), STOI and the pitch measures, because the pitch errors are not spread evenly over voices.
The unseen split has one voice per language, so its per-voice lines are also its Russian-free
(it_IT_m_Carlo) and Italian-free (ru_RU_f_IvrvoiceRU) figures, comparable whatever Festival's Russian or
Italian diphone voice (other speakers) did in training.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("mel_l1", "mrstft", "si_sdr_db", "stoi", "estoi", "vuv_f1", "f0_rmse_cents", "f0_gross_error",
        "f0_fine_rmse_cents")
RUNS = {"full path": [], "vocoder alone": ["--stage", "vocoder"],
        "Griffin-Lim 32": ["--stage", "vocoder", "--vocoder", "griffin-lim", "--gl-iterations", "32"]}
RUN_NAMES = {"full": "full path", "vocoder": "vocoder alone", "gl": "Griffin-Lim 32"}
SPLITS = ("test", "unseen", "music")


VOICE_KEYS = ("stoi", "vuv_f1", "f0_rmse_cents", "f0_gross_error", "f0_fine_rmse_cents")


def means(records) -> dict:
    # Pitch measures are null for a file without frames voiced in both: such files are left out.
    vals = {k: [r["metrics"][k] for r in records if r["metrics"].get(k) is not None] for k in KEYS}
    return {k: sum(v) / len(v) if v else float("nan") for k, v in vals.items()}


def by_voice(records, data: Path) -> dict:
    """Means per voice: the folder after the language in the manifest's path (wav/LANG/VOICE/...)."""
    groups = {}
    for r in records:
        groups.setdefault(Path(r["input"]).relative_to(data).parts[2], []).append(r)
    return {v: dict(means(rs), files=len(rs)) for v, rs in sorted(groups.items())}


def common_arguments(description: str, default_bin: str, default_every: int) -> argparse.ArgumentParser:
    """The options every evaluation over prepare_data.py's manifest takes (this script, precision_cost.py)."""
    default_data = os.environ.get("LDMRECON_DATA") or str(Path.home() / ".cache" / "ldmrecon" / "data")
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(default_data))
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--bin", default=os.environ.get("LDMRECON_BIN", str(ROOT / default_bin / "ldmrecon")))
    ap.add_argument("--every", type=int, default=default_every, help="take every N-th file of each split (sorted)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    return ap


def manifest_rows(data: Path) -> list:
    """prepare_data.py's manifest, a list of fields per file (split first, the path under DATA seventh)."""
    man = data / "manifest.tsv"
    if not man.exists():
        raise SystemExit(f"{man}: missing; run scripts/prepare_data.py first")
    return [ln.split("\t") for ln in man.read_text().splitlines()[1:] if ln]


def measured(args, files, extra, out: Path) -> list:
    """ldmrecon's report records for `files`, one batch per folder: prompts of different voices share names
    (it/.../agent-pass.wav, ru/.../agent-pass.wav), and one --out-dir would refuse the second of each pair.
    Every file must be measured: a failure stops the evaluation rather than leave the file out."""
    recs = []
    groups = {}
    for f in files:
        groups.setdefault(f.parent, []).append(f)
    out.mkdir(parents=True, exist_ok=True)
    for i, group in enumerate(groups.values()):
        lst, rep = out / f"{i}.txt", out / f"{i}.jsonl"
        lst.write_text("\n".join(map(str, group)) + "\n")
        cmd = [args.bin, f"@{lst}", "--out-dir", str(out / str(i)), "--report", str(rep), "-q", *extra]
        if "griffin-lim" not in extra:
            cmd += ["--models", str(args.models)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
        recs += [json.loads(ln) for ln in rep.read_text().splitlines() if ln.strip()]
    return recs


def main() -> int:
    ap = common_arguments(__doc__, "build", 1)
    ap.add_argument("--runs", default="full,vocoder,gl", help="which of full, vocoder, gl (comma-separated)")
    args = ap.parse_args()
    unknown = set(args.runs.split(",")) - set(RUN_NAMES)
    if unknown:
        ap.error(f"--runs: unknown {', '.join(sorted(unknown))} (full, vocoder, gl)")
    runs = {RUN_NAMES[k]: RUNS[RUN_NAMES[k]] for k in args.runs.split(",")}
    rows = manifest_rows(args.data)
    results = {}
    with tempfile.TemporaryDirectory(prefix="ldmrecon-eval-") as tmp:
        for split in SPLITS:
            files = sorted(args.data / r[6] for r in rows if r[0] == split)[:: args.every]
            seconds = sum(float(r[5]) for r in rows if r[0] == split and args.data / r[6] in set(files))
            if not files:
                continue
            for name, extra in runs.items():
                ok = measured(args, files, extra, Path(tmp) / split / name.replace(" ", "_"))
                mean = means(ok)
                mean["files"] = len(ok)
                mean["seconds"] = round(seconds, 1)
                mean["x_realtime"] = sum(r["input_audio"]["seconds"] for r in ok) / sum(
                    sum(r["timings_s"].get(k, 0) for k in ("feature", "encode", "decode", "vocode")) for r in ok)
                results[f"{split} / {name}"] = mean
                print(f"{split:7s} {name:15s} " + " ".join(f"{k} {mean[k]:.4f}" for k in KEYS)
                      + f"  ({len(ok)} files, {seconds / 60:.1f} min, x{mean['x_realtime']:.0f} real time)", flush=True)
                for voice, m in by_voice(ok, args.data).items():
                    results[f"{split} / {name} / {voice}"] = m
                    print(f"{'':7s} {'':15s} {voice:28s} " + " ".join(f"{k} {m[k]:.4f}" for k in VOICE_KEYS)
                          + f"  ({m['files']} files)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
