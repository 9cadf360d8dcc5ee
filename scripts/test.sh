#!/usr/bin/env bash
# Sets up (Debian packages, build with tests) and runs the whole test suite with CTest.
#   scripts/test.sh [ctest arguments, e.g. -R unit.metrics]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
BUILD=${LDMRECON_BUILD_DIR:-build}
ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)" "$@"
