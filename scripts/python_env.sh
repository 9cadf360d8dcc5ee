#!/usr/bin/env bash
# Creates (once) and prints the path of the Python of one of the project's virtual environments, under
# ~/.cache/ldmrecon/ (or $LDMRECON_VENV_ROOT), never the system Python. Versions are pinned so that pinned
# agreements and builds stay reproducible; a second run reuses the environment.
#   scripts/python_env.sh reference   librosa (YIN, pYIN), praat-parselmouth, pesq: the tests' references
#   scripts/python_env.sh torch       PyTorch 2 (a CUDA build; its libtorch is the second build flavour),
#                                     diffusers and transformers (the upstream models, for parity tests)
set -euo pipefail
name=${1:?usage: python_env.sh reference|torch}
common=(numpy==2.4.6 scipy==1.17.1 soundfile==0.14.0)
case $name in
  reference) packages=("${common[@]}" librosa==0.11.0 praat-parselmouth==0.4.7 pesq==0.0.4) ;;
  torch) packages=("${common[@]}" torch==2.15.0 diffusers==0.42.1 transformers==5.24.0 safetensors==0.8.0) ;;
  *) echo "python_env.sh: unknown environment '$name' (reference or torch)" >&2; exit 2 ;;
esac
root=${LDMRECON_VENV_ROOT:-$HOME/.cache/ldmrecon}
venv="$root/$name-venv"
stamp="$venv/.ldmrecon-packages"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${packages[*]}" ]; then
  echo "$venv/bin/python"
  exit 0
fi
# A Python that can make virtual environments: pyenv's or Debian's (which needs python3-venv).
maker=""
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null && "$py" -c "import venv, ensurepip" 2>/dev/null; then maker=$py; break; fi
done
if [ -z "$maker" ]; then
  echo "python_env.sh: no Python can make a virtual environment (apt-get install python3-venv)" >&2
  exit 1
fi
echo "python_env.sh: creating $venv (${packages[*]})" >&2
rm -rf "$venv"
mkdir -p "$root"
"$maker" -m venv "$venv" >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${packages[@]}" >&2
echo "${packages[*]}" >"$stamp"
echo "$venv/bin/python"
