#!/bin/sh
# Prints the first Python that can import the given modules (default: torch), or fails saying what to
# install. `python3` on PATH may be a pyenv or venv Python without torch; Debian's python3-torch lives
# under /usr/bin/python3; scripts/python_env.sh torch makes a PyTorch 2 one in the project's venv.
# Override with LDMRECON_PYTHON=/path/to/python (used whenever it imports them).
# With LDMRECON_WANT_TORCH=2.15.0 a Python whose torch is that version is preferred (the bench compares a
# build with Python of the same torch); without one, the first that imports the modules is printed.
#   scripts/find_python.sh [module ...]
mods=${*:-torch}
imports=$(printf 'import %s;' $mods)
venv_py="${LDMRECON_VENV_ROOT:-$HOME/.cache/ldmrecon}/torch-venv/bin/python"
first=""
for py in "${LDMRECON_PYTHON:-}" python3 /usr/bin/python3 /usr/local/bin/python3 python "$venv_py"; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    "$py" -c "$imports" >/dev/null 2>&1 || continue
    if [ -z "${LDMRECON_WANT_TORCH:-}" ] || [ "$py" = "${LDMRECON_PYTHON:-}" ] ||
        "$py" -c "import sys, torch; sys.exit(not torch.__version__.startswith('$LDMRECON_WANT_TORCH'))" >/dev/null 2>&1; then
        command -v "$py"
        exit 0
    fi
    [ -n "$first" ] || first=$(command -v "$py")
done
if [ -n "$first" ]; then
    echo "$first"
    exit 0
fi
echo "find_python.sh: no Python with: $mods (on Debian: apt-get install python3-torch python3-numpy python3-scipy python3-soundfile; or set LDMRECON_PYTHON)" >&2
exit 1
