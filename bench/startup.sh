#!/usr/bin/env bash
# Start-up figures of two ldmrecon binaries side by side: alternating runs, best of N, on one pair of files.
# Figures only (never a test). Run it on an idle machine.
#   bench/startup.sh OLD_BINARY NEW_BINARY REF.wav EST.wav [N=5]
set -euo pipefail
old=$1 new=$2 ref=$3 est=$4 n=${5:-5}
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }
for cmd in "--version" "--help" "metrics $ref $est"; do
  a=() b=()
  for _ in $(seq "$n"); do
    # shellcheck disable=SC2086
    a+=("$(seconds "$old" $cmd)"); b+=("$(seconds "$new" $cmd)")
  done
  printf '%-40s old %8.3f s   new %8.3f s\n' "$cmd" "$(printf '%s\n' "${a[@]}" | sort -n | head -1)" \
    "$(printf '%s\n' "${b[@]}" | sort -n | head -1)"
done
for bin in "$old" "$new"; do
  s=$(date +%s.%N)
  for _ in $(seq 10); do "$bin" metrics "$ref" "$est" >/dev/null 2>&1 || true; done
  printf 'ten metrics calls in a loop, %s: %.2f s\n' "$bin" "$(echo "$(date +%s.%N) - $s" | bc)"
done
