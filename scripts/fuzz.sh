#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer, UBSan) into build-fuzz/ and runs each for SECONDS
# (default 60) from the seed corpus in fuzz/corpus/ (re-made by fuzz/make_seeds.py). New inputs go to a
# scratch folder, never into the repository. A crash leaves the input that caused it in
# build-fuzz/artifacts/ and fails the run; reproduce it with build-fuzz/TARGET ARTIFACT.
#   scripts/fuzz.sh [SECONDS] [latent|audio ...]      e.g. scripts/fuzz.sh 3600 audio (an hour)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(latent audio)

BUILD=${LDMRECON_FUZZ_BUILD_DIR:-build-fuzz}
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLDMRECON_BUILD_FUZZERS=ON \
  -DLDMRECON_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target fuzz_latent_file fuzz_audio_frontend >/dev/null
mkdir -p "$BUILD/artifacts"
for t in "${targets[@]}"; do
  case $t in
    latent) bin=fuzz_latent_file max_len=65536 ;;
    audio) bin=fuzz_audio_frontend max_len=65536 ;;
    *) echo "fuzz.sh: unknown target '$t' (latent or audio)" >&2; exit 2 ;;
  esac
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  echo "fuzz.sh: $bin for ${seconds} s from fuzz/corpus/$t"
  # -rss_limit_mb: a hostile header must be refused by the memory limit long before this.
  "$BUILD/$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout=20 -rss_limit_mb=2048 \
    -artifact_prefix="$BUILD/artifacts/$bin-" -print_final_stats=1 "$scratch" "fuzz/corpus/$t" 2>"$BUILD/$bin.log" ||
    { tail -n 40 "$BUILD/$bin.log" >&2; echo "fuzz.sh: $bin FAILED (input saved in $BUILD/artifacts/)" >&2; exit 1; }
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$BUILD/$bin.log" | sed "s/^/fuzz.sh: $bin /"
  rm -rf "$scratch"
done
echo "fuzz.sh: no crash"
