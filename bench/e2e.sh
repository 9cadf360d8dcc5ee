#!/usr/bin/env bash
# The whole job side by side: `ldmrecon FILES --out-dir` against the same job in plain Python
# (bench/python_job.py), alternating, best of N, and where each spends its time. Figures only (never a
# test); run it on an idle machine.
#   bench/e2e.sh MODELS_DIR FILE... [-- N=2]      (LDMRECON=binary, PYTHON=a Python with torch, librosa,
#                                                  pystoi, soxr: scripts/python_env.sh bench makes one on
#                                                  Debian's torch, scripts/python_env.sh torch on torch 2)
# bench/make_clips.py makes the clips docs/speed.md's tables were measured on.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
models=$1; shift
files=() n=2
while [ $# -gt 0 ]; do [ "$1" = "--" ] && { n=${2:-2}; break; }; files+=("$1"); shift; done
bin=${LDMRECON:-$here/../build/ldmrecon}
py=${PYTHON:-$("$here/../scripts/python_env.sh" bench)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
tc=() tp=()
for i in $(seq "$n"); do
  rm -rf "$tmp/c" "$tmp/p"
  s=$(now); "$bin" "${files[@]}" --out-dir "$tmp/c" --models "$models" --report "$tmp/c.jsonl" -q >/dev/null; e=$(now)
  tc+=("$(echo "$e - $s" | bc)")
  s=$(now); "$py" "$here/python_job.py" "$models" "$tmp/p" "${files[@]}" >"$tmp/p.json"; e=$(now)
  tp+=("$(echo "$e - $s" | bc)")
done
echo "ldmrecon: ${tc[*]} s; Python: ${tp[*]} s"
best_c=$(printf '%s\n' "${tc[@]}" | sort -n | head -1)
best_p=$(printf '%s\n' "${tp[@]}" | sort -n | head -1)
"$py" - "$tmp/c.jsonl" "$tmp/p.json" "$best_c" "$best_p" <<'PY'
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
py = json.load(open(sys.argv[2]))
c, p = float(sys.argv[3]), float(sys.argv[4])
audio = py["audio_seconds"]
ct = {k: sum(r.get("timings_s", {}).get(k, 0.0) for r in recs) for k in ("read", "feature", "encode", "decode", "vocode", "metrics", "write")}
pt = py["seconds"]
cmodel = ct["encode"] + ct["decode"] + ct["vocode"]
pmodel = pt["encode"] + pt["decode"] + pt["vocode"]
crest = ct["read"] + ct["feature"] + ct["metrics"] + ct["write"]
prest = sum(pt.values()) - pmodel
cores = os.cpu_count()
print(f"{len(recs)} files, {audio:.1f} s of audio, {cores} cores; best of the runs, wall seconds")
print(f"{'':12} {'wall':>7} {'x real time':>12} {'models':>8} {'the rest':>9} {'start-up':>9}")
print(f"{'ldmrecon':12} {c:7.2f} {audio / c:12.1f} {cmodel:8.2f} {crest:9.2f} {'':>9}")
print(f"{'Python':12} {p:7.2f} {audio / p:12.1f} {pmodel:8.2f} {prest:9.2f} {py['start_up_seconds']:9.2f}")
print(f"ratio (Python / ldmrecon wall): {p / c:.2f}")
print("Seconds per stage (wall time of each), summed over the files (ldmrecon's read includes resampling; its")
print("measures and writes run beside the models, on the pipeline's workers):")
rows = [("read", ct["read"], pt["read"]), ("resample", None, pt["resample"]), ("feature", ct["feature"], pt["feature"]),
        ("encode", ct["encode"], pt["encode"]), ("decode", ct["decode"], pt["decode"]),
        ("vocode", ct["vocode"], pt["vocode"]), ("measures", ct["metrics"], pt["measures"]), ("write", ct["write"], pt["write"])]
for name, a, b in rows:
    print(f"  {name:10} {'' if a is None else f'{a:8.3f}':>8} {b:8.3f}")
print(f"ldmrecon's bound: models + the rest / {cores} cores = {cmodel + crest / cores:.2f} s "
      f"(wall is {100 * (c / (cmodel + crest / cores) - 1):+.0f} % of it); the rest alone allows "
      f"{audio / crest * cores:.0f}x real time on {cores} cores")
PY
