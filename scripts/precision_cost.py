#!/usr/bin/env python3
"""What a narrower type costs the compact pair: each measure's change against fp32, on real speech.

  scripts/precision_cost.py --bin build-torch2/ldmrecon [--models models] [--dtypes fp32,bf16] [--every 8]

On the unseen split of prepare_data.py's manifest (and the held-out test split), runs the whole path and the
vocoder alone once per type, on the same files, and prints for each type every measure's mean and its
change from fp32 (the mean of per-file differences), and how far the type's output is from fp32's own
(`ldmrecon metrics FP32_DIR TYPE_DIR`: SNR and log-mel L1 of the one against the other). Needs a build whose
libtorch runs the type on this device (bf16 on the CPU: the PyTorch 2 build; Debian's 1.13 refuses it).
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_compact import KEYS, common_arguments, manifest_rows  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RUNS = {"full path": [], "vocoder alone": ["--stage", "vocoder"]}


def run_ldmrecon(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in (0, 6):
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stderr}")


def records(path: Path) -> dict:
    recs = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    return {Path(r["input"]).name: r for r in recs if r.get("status") == "ok"}


def mean_change(base: dict, other: dict, key: str):
    """Mean of other - base over the files where both have the measure (pitch is null where unvoiced)."""
    d = [other[f]["metrics"][key] - base[f]["metrics"][key] for f in base
         if f in other and base[f]["metrics"].get(key) is not None and other[f]["metrics"].get(key) is not None]
    return sum(d) / len(d) if d else float("nan")


def mean_of(recs: dict, key: str):
    v = [r["metrics"][key] for r in recs.values() if r["metrics"].get(key) is not None]
    return sum(v) / len(v) if v else float("nan")


def main() -> int:
    ap = common_arguments(__doc__, "build-torch2", 8)
    ap.add_argument("--dtypes", default="fp32,bf16", help="the first is the baseline")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    rows = manifest_rows(args.data)
    dtypes = args.dtypes.split(",")
    results = {}
    with tempfile.TemporaryDirectory(prefix="ldmrecon-precision-") as tmp:
        tmp = Path(tmp)
        for split in ("test", "unseen"):
            files = sorted(args.data / r[6] for r in rows if r[0] == split)[:: args.every]
            lst = tmp / f"{split}.txt"
            lst.write_text("\n".join(map(str, files)) + "\n")
            for name, extra in RUNS.items():
                runs = {}
                for dt in dtypes:
                    out, rep = tmp / split / name.replace(" ", "_") / dt, tmp / f"{split}-{name}-{dt}.jsonl"
                    run_ldmrecon([args.bin, f"@{lst}", "--out-dir", out, "--report", rep, "-q", "--models",
                                  args.models, "--device", args.device, "--dtype", dt, *extra])
                    runs[dt] = (out, records(rep))
                base_dir, base = runs[dtypes[0]]
                for dt in dtypes:
                    out, recs = runs[dt]
                    row = {k: mean_of(recs, k) for k in KEYS}
                    row.update({f"change_{k}": mean_change(base, recs, k) for k in KEYS})
                    row["files"] = len(recs)
                    if dt != dtypes[0]:  # the type's output against the baseline's output
                        rep = tmp / f"{split}-{name}-{dt}-vs.jsonl"
                        run_ldmrecon([args.bin, "metrics", base_dir, out, "--report", rep, "--metrics", "snr_db,mel_l1"])
                        vs = [json.loads(ln)["metrics"] for ln in rep.read_text().splitlines() if ln.strip()]
                        row["snr_db_vs_baseline"] = sum(m["snr_db"] for m in vs) / len(vs)
                        row["mel_l1_vs_baseline"] = sum(m["mel_l1"] for m in vs) / len(vs)
                    results[f"{split} / {name} / {dt}"] = row
                    vs_txt = (f"  vs {dtypes[0]}: SNR {row['snr_db_vs_baseline']:.1f} dB, log-mel L1 "
                              f"{row['mel_l1_vs_baseline']:.4f}") if dt != dtypes[0] else ""
                    print(f"{split:7s} {name:14s} {dt:5s} " +
                          " ".join(f"{k} {row[k]:.4f} ({row['change_' + k]:+.4f})" for k in KEYS) +
                          f"  [{len(recs)} files]{vs_txt}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
