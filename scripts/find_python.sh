#!/bin/sh
# Prints the first Python that can import the given modules (default: torch), or fails saying what to
# install. `python3` on PATH may be a pyenv or venv Python without torch; Debian's python3-torch lives
# under /usr/bin/python3. Override with LDMRECON_PYTHON=/path/to/python.
#   scripts/find_python.sh [module ...]
mods=${*:-torch}
imports=$(printf 'import %s;' $mods)
for py in "${LDMRECON_PYTHON:-}" python3 /usr/bin/python3 /usr/local/bin/python3 python; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c "$imports" >/dev/null 2>&1; then
        command -v "$py"
        exit 0
    fi
done
echo "find_python.sh: no Python with: $mods (on Debian: apt-get install python3-torch python3-numpy python3-scipy python3-soundfile; or set LDMRECON_PYTHON)" >&2
exit 1
