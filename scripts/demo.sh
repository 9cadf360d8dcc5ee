#!/usr/bin/env bash
# The main job on a fresh machine: set up, then reconstruct the bundled example clip and print the report.
#   scripts/demo.sh [--models DIR] [other ldmrecon options]
# Models: --models DIR, else $LDMRECON_MODELS, else the ones shipped in models/. When none of these
# exist, random-weight models are made so the whole path runs, and the output is noise: say so loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD=${LDMRECON_BUILD_DIR:-build}

args=("$@")
have_models=0
for a in "$@"; do [ "$a" = "--models" ] && have_models=1; done
if [ $have_models = 0 ] && [ -z "${LDMRECON_MODELS:-}" ] && ! [ -f models/vae.pt -a -f models/vocoder.pt ]; then
  random="$BUILD/models/random-tiny"
  if ! [ -f "$random/vae.pt" ]; then
    "$(scripts/find_python.sh torch)" scripts/make_test_models.py -o "$random" >/dev/null
  fi
  cat >&2 <<MSG
demo: no trained models found (models/ is empty, no --models, no \$LDMRECON_MODELS).
demo: running on RANDOM-WEIGHT test models: the output is noise and the metrics say nothing about AudioLDM2.
demo: for real results export AudioLDM2 on a machine with its weights:
demo:   python3 scripts/export_models.py cvssp/audioldm2 -o ~/audioldm2 && scripts/demo.sh --models ~/audioldm2
MSG
  args+=(--models "$random")
fi
out="$BUILD/example.recon.wav"
"$BUILD"/ldmrecon examples/example.wav -o "$out" --report "$BUILD/example.report.json" "${args[@]}"
echo "demo: wrote $out and $BUILD/example.report.json"
