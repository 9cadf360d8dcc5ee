#!/usr/bin/env bash
# Creates (once) and prints the path of the Python of one of the project's virtual environments, under
# ~/.cache/ldmrecon/ (or $LDMRECON_VENV_ROOT), never the system Python. Versions are pinned so that pinned
# agreements and builds stay reproducible; a second run reuses the environment.
#   scripts/python_env.sh reference   librosa (YIN, pYIN), praat-parselmouth, pesq, visqol-python (with
#                                     libsvm-official, its audio mode's SVR): the tests' references
#   scripts/python_env.sh torch       PyTorch 2 (a CUDA build; its libtorch is the second build flavour),
#                                     diffusers and transformers (the upstream models, for parity tests),
#                                     librosa, pystoi and soxr (bench/e2e.sh's Python job on torch 2),
#                                     torchcrepe, distillmos, speechmos with onnx and onnxruntime (the learned
#                                     measures' references and exports), torchao (compile --dtype int8's
#                                     PT2E quantiser)
#   scripts/python_env.sh bench       Debian's Python and torch (1.13, the Debian build's libtorch) with
#                                     librosa, pystoi and soxr: the plain-Python job of bench/e2e.sh
set -euo pipefail
name=${1:?usage: python_env.sh reference|torch}
common=(numpy==2.4.6 scipy==1.17.1 soundfile==0.14.0)
# Installed without their dependencies: torchcrepe and distillmos ask for torchaudio (no wheel matches
# torch 2.15; pip would replace torch to satisfy it), torchcrepe also for resampy (numba); neither is
# called by the exports or the tests. xls-r-sqa is distillmos's own model code. speechmos asks for
# librosa, onnxruntime and requests (its dnsmos module imports it), listed above, and tqdm and pandas,
# which its DNSMOS of one signal does not use.
nodeps=()
case $name in
  reference) packages=("${common[@]}" librosa==0.11.0 praat-parselmouth==0.4.7 pesq==0.0.4 visqol-python==3.8.0
                      libsvm-official==3.37.0) ;;
  torch) packages=("${common[@]}" torch==2.15.0 diffusers==0.42.1 transformers==5.24.0 safetensors==0.8.0
                  librosa==0.11.0 pystoi==0.4.1 soxr==1.1.0 onnx==1.23.2 onnxruntime==1.32.0
                  requests==2.34.2 torchao==0.18.0)
         nodeps=(torchcrepe==0.0.24 distillmos==0.9.1 xls-r-sqa==0.1.0 speechmos==0.0.1.1) ;;
  # On top of Debian's own numpy, scipy and torch (--system-site-packages), so the same libtorch runs.
  bench) packages=(librosa==0.11.0 pystoi==0.4.1 soxr==1.1.0) ;;
  *) echo "python_env.sh: unknown environment '$name' (reference, torch or bench)" >&2; exit 2 ;;
esac
root=${LDMRECON_VENV_ROOT:-$HOME/.cache/ldmrecon}
venv="$root/$name-venv"
stamp="$venv/.ldmrecon-packages"
wanted="${packages[*]}${nodeps[*]:+ --no-deps ${nodeps[*]}}"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  echo "$venv/bin/python"
  exit 0
fi
# A Python that can make virtual environments: pyenv's or Debian's (which needs python3-venv).
maker="" venv_args=()
candidates=(python3 /usr/bin/python3)
if [ "$name" = bench ]; then
  candidates=(/usr/bin/python3) venv_args=(--system-site-packages)
  /usr/bin/python3 -c "import torch, numpy, scipy, soundfile" 2>/dev/null ||
    { echo "python_env.sh: bench needs Debian's python3-torch, python3-scipy and python3-soundfile" >&2; exit 1; }
fi
for py in "${candidates[@]}"; do
  if command -v "$py" >/dev/null && "$py" -c "import venv, ensurepip" 2>/dev/null; then maker=$py; break; fi
done
if [ -z "$maker" ]; then
  echo "python_env.sh: no Python can make a virtual environment (apt-get install python3-venv)" >&2
  exit 1
fi
# An environment whose list changed is brought up to it in place (pip keeps what already matches: torch
# is not downloaded again for one package more); a broken one is made afresh.
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import sys" 2>/dev/null; then
  echo "python_env.sh: updating $venv (${packages[*]})" >&2
else
  echo "python_env.sh: creating $venv (${packages[*]})" >&2
  rm -rf "$venv"
  mkdir -p "$root"
  "$maker" -m venv "${venv_args[@]}" "$venv" >&2
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${packages[@]}" >&2
if [ ${#nodeps[@]} -gt 0 ]; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "${nodeps[@]}" >&2
fi
echo "$wanted" >"$stamp"
echo "$venv/bin/python"
