#!/usr/bin/env bash
# Installs what ldmrecon needs from Debian's packages (only what is missing), then configures and builds
# it into build/ (or $LDMRECON_BUILD_DIR). Safe to run again: a second run installs and rebuilds nothing
# that is up to date.
#   scripts/setup.sh [--tests] [extra cmake arguments]
# --tests: also the test tools (clang and its fuzzer runtime, for scripts/fuzz.sh) and the test build.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=0
if [ "${1:-}" = "--tests" ]; then
  tests=1
  shift
  set -- -DLDMRECON_BUILD_TESTS=ON "$@"
fi

PACKAGES=(
  build-essential cmake pkg-config
  libtorch-dev libopenblas0-pthread       # libtorch; OpenBLAS instead of the reference BLAS (CPU speed)
  libsndfile1-dev libfftw3-dev libsoxr-dev libpng-dev libcli11-dev libspdlog-dev nlohmann-json3-dev catch2
  python3 python3-torch python3-numpy python3-scipy python3-soundfile   # exports, fixtures, references
)
((tests)) && PACKAGES+=(clang libclang-rt-14-dev)   # libFuzzer + sanitizers for scripts/fuzz.sh

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD=${LDMRECON_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
echo "setup: built $BUILD/ldmrecon ($("$BUILD"/ldmrecon --version))"
