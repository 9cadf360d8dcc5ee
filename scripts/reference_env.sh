#!/usr/bin/env bash
# Creates (once) and prints the path of the Python of the reference environment: a virtual environment
# under ~/.cache/ldmrecon/ (or $LDMRECON_REF_VENV) with the PyPI packages the tests hold ldmrecon to:
# librosa (YIN, pYIN), praat-parselmouth (Praat's pitch) and pesq (ITU-T P.862). Never the system Python.
# Versions are pinned so the pinned agreements stay meaningful; a second run reuses the environment.
#   scripts/reference_env.sh        -> /root/.cache/ldmrecon/ref-venv/bin/python
set -euo pipefail
venv=${LDMRECON_REF_VENV:-$HOME/.cache/ldmrecon/ref-venv}
packages=(numpy==2.4.6 scipy==1.17.1 soundfile==0.14.0 librosa==0.11.0 praat-parselmouth==0.4.7 pesq==0.0.4)
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
  echo "reference_env.sh: no Python can make a virtual environment (apt-get install python3-venv)" >&2
  exit 1
fi
rm -rf "$venv"
"$maker" -m venv "$venv" >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${packages[@]}" >&2
echo "${packages[*]}" >"$stamp"
echo "$venv/bin/python"
