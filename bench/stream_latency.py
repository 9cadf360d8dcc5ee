#!/usr/bin/env python3
"""Latency against quality and cost for `ldmrecon --stream`: the table in docs/usage.md. Figures only
(never a test); run it on an idle machine for the CPU figures.

  bench/stream_latency.py [--models models] [--threads 1] FILE...     (default: tests/data/*.flac)

For each --latency (and the offline run, whole-signal level, 1024-frame windows), streams every file
through ldmrecon and prints the mean log-mel L1, MR-STFT, STOI and V/UV F1 of the stream's final record,
and the CPU seconds (user + system, the whole process, start-up included) and the models' compute per
second of audio, with the worst window against the hop it must beat.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LATENCIES = (0.25, 0.5, 1.0, 2.0, 5.12)
KEYS = ("mel_l1", "mrstft", "stoi", "vuv_f1")


def cpu_of(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--bin", default=os.environ.get("LDMRECON_BIN", str(ROOT / "build" / "ldmrecon")))
    args = ap.parse_args()
    files = args.files or sorted((ROOT / "tests" / "data").glob("*.flac"))
    print("| latency | window / overlap (frames) | " + " | ".join(KEYS) +
          " | CPU s per s of audio (models) | worst window / hop |")
    print("| --- | --- |" + " --- |" * len(KEYS) + " --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for lat in (None,) + LATENCIES:
            recs, cpu, seconds = [], 0.0, 0.0
            for f in files:
                rep = Path(tmp) / "r.jsonl"
                cmd = [args.bin, str(f), "-o", str(Path(tmp) / "o.wav"), "--models", str(args.models), "-q",
                       "--threads", args.threads, "--report", str(rep), "--jobs", "0"]
                cmd += ["--stream", "--latency", str(lat)] if lat else []
                cpu += cpu_of(cmd)
                rec = json.loads(rep.read_text().splitlines()[-1])
                recs.append(rec)
                seconds += rec["input_audio"]["seconds"]
            mean = {k: sum(r["metrics"][k] for r in recs) / len(recs) for k in KEYS}
            if lat:
                s = recs[0]["stream"]
                geometry = f"{s['window_frames']} / {s['overlap_frames']}"
                compute = sum(r["stream"]["compute_s"] for r in recs)
                worst = max(r["stream"]["worst_window_s"] for r in recs)
                rt = f"{worst:.3f} / {s['hop_s']:.3f} s"
            else:
                geometry = "1024 / 64 (offline)"
                compute = sum(sum(r["timings_s"][k] for k in ("feature", "encode", "decode", "vocode")) for r in recs)
                rt = "-"
            print(f"| {f'{lat:g} s' if lat else 'offline'} | {geometry} | "
                  + " | ".join(f"{mean[k]:.3f}" for k in KEYS)
                  + f" | {cpu / seconds:.3f} ({compute / seconds:.3f}) | {rt} |", flush=True)
    print(f"\n{len(files)} files, {seconds:.1f} s of audio; --threads {args.threads}; {args.models}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
