#!/usr/bin/env bash
# Sets up (Debian packages, builds with tests) and runs the whole test suite with CTest, in both build
# flavours: Debian's libtorch 1.13 (build/) and PyTorch 2 from PyPI with CUDA compiled in, run on the CPU
# (build-torch2/). The fuzzers run once, in the first. $LDMRECON_FLAVOURS="debian" runs one flavour.
#   scripts/test.sh [ctest arguments, e.g. -R unit.metrics]
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
# A test that hangs fails after 10 minutes (a test's own TIMEOUT, as python.upstream's, overrides it)
# rather than holding the whole run past CI's limit.
ctest_args=(--output-on-failure -j"$(nproc)" --timeout 600)
for flavour in ${LDMRECON_FLAVOURS:-debian pip}; do
  echo "test.sh: flavour $flavour"
  scripts/setup.sh --tests --torch "$flavour"
  if [ "$flavour" = debian ]; then
    ctest --test-dir "${LDMRECON_BUILD_DIR:-build}" "${ctest_args[@]}" "$@" || status=1
  else
    ctest --test-dir "${LDMRECON_BUILD_DIR:-build-torch2}" "${ctest_args[@]}" -E '^fuzz$' "$@" || status=1
  fi
done
exit $status
