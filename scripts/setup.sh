#!/usr/bin/env bash
# Installs what ldmrecon needs from Debian's packages (only what is missing), then configures and builds
# it. Safe to run again: a second run installs and rebuilds nothing that is up to date.
#   scripts/setup.sh [--tests] [--torch debian|pip|DIR] [extra cmake arguments]
# --tests        also the test tools (clang and its fuzzer runtime, for scripts/fuzz.sh) and the test build.
# --torch debian Debian's libtorch 1.13 (CPU only), into build/: the light default.
# --torch pip    PyTorch 2 from PyPI (a CUDA build) in the project's virtual environment
#                (scripts/python_env.sh torch, about 6 GB under ~/.cache/ldmrecon/), into build-torch2/.
#                Compiling against it needs the CUDA toolkit (nvcc) as well; running needs no GPU.
# --torch DIR    the libtorch in DIR (an unpacked libtorch, or a PyTorch's site-packages/torch), into
#                build-torch2/.
# $LDMRECON_BUILD_DIR overrides the build folder.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=0
torch=debian
while [ $# -gt 0 ]; do
  case $1 in
    --tests) tests=1; shift ;;
    --torch) torch=${2:?--torch needs debian, pip or a folder}; shift 2 ;;
    *) break ;;
  esac
done
((tests)) && set -- -DLDMRECON_BUILD_TESTS=ON "$@"

PACKAGES=(
  build-essential cmake pkg-config
  libtorch-dev libopenblas0-pthread       # libtorch; OpenBLAS instead of the reference BLAS (CPU speed)
  libsndfile1-dev libfftw3-dev libsoxr-dev libpng-dev libcli11-dev libspdlog-dev nlohmann-json3-dev catch2
  python3 python3-torch python3-numpy python3-scipy python3-soundfile   # exports, fixtures, references
)
((tests)) && PACKAGES+=(clang libclang-rt-14-dev groff-base zsh)   # fuzzers; the man page and zsh completion checks

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
if [ "$torch" != debian ]; then
  BUILD=${LDMRECON_BUILD_DIR:-build-torch2}
  if [ "$torch" = pip ]; then
    py=$(scripts/python_env.sh torch)
    torch=$("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
  fi
  [ -f "$torch/share/cmake/Torch/TorchConfig.cmake" ] ||
    { echo "setup: $torch has no share/cmake/Torch/TorchConfig.cmake: not a libtorch" >&2; exit 1; }
  command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || ! ls "$torch"/lib/libtorch_cuda.so >/dev/null 2>&1 ||
    { echo "setup: $torch is a CUDA libtorch; compiling against it needs the CUDA toolkit (nvcc)" >&2; exit 1; }
  # The prefix too, not only Torch_DIR: else the system's libtorch.so (Debian's) can be found first.
  set -- -DCMAKE_PREFIX_PATH="$torch" -DTorch_DIR="$torch/share/cmake/Torch" "$@"
  export PATH="$PATH:/usr/local/cuda/bin"
fi
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
echo "setup: built $BUILD/ldmrecon ($("$BUILD"/ldmrecon --version))"
