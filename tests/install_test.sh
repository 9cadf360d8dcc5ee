#!/usr/bin/env bash
# Installs a build into a fresh prefix and uses it from there as a user would: the installed binary (with
# its model module and the shipped models), the installed scripts (one export from a checkpoint folder),
# and the installed library from two consumer programs (CMake package, pkg-config).
#   tests/install_test.sh BUILD_DIR FIXTURES_DIR
set -euo pipefail
build=$1 fixtures=$2
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
bin=$prefix/bin/ldmrecon
fail() { echo "install_test: $*" >&2; exit 1; }

"$bin" --version | grep -q '^ldmrecon ' || fail "--version"
# The README's first run, from the prefix: the example clip through the installed compact pair.
LD_DEBUG=files "$bin" "$src/examples/example.wav" -o "$tmp/out.wav" --report "$tmp/r.json" -q 2>"$tmp/ld.log" ||
  fail "the example did not run from the prefix"
grep -q "file=$prefix/lib/ldmrecon/ldmrecon_torch.so" "$tmp/ld.log" || fail "not the installed model module"
python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["models"]["dir"] != sys.argv[2])' "$tmp/r.json" "$prefix/share/ldmrecon/models" || fail "not the installed models: $(head -c 300 "$tmp/r.json")"

# The example speech is compile --dtype int8's default calibration; compiled packages are one machine's.
for f in share/man/man1/ldmrecon.1 share/bash-completion/completions/ldmrecon share/zsh/site-functions/_ldmrecon \
         share/ldmrecon/examples/example.wav; do
  [ -f "$prefix/$f" ] || fail "$f is not installed"
done
[ ! -e "$prefix/share/ldmrecon/models/compiled" ] || fail "models/compiled (this machine's packages) was installed"

# The installed scripts: an export from a checkpoint folder, then that export run by the installed binary.
scripts=$prefix/share/ldmrecon/scripts
python=$("$scripts/find_python.sh" torch) || fail "no Python with torch"
"$python" "$scripts/export_models.py" --help >/dev/null || fail "export_models.py --help"
"$python" "$scripts/export_models.py" "$fixtures/checkpoint" -o "$tmp/exported" >/dev/null || fail "export"
"$bin" info "$tmp/exported" >/dev/null || fail "info on the export"
"$bin" "$src/examples/example.wav" -o "$tmp/out2.wav" --models "$tmp/exported" -q || fail "the export did not run"

# The libraries: CMake consumers (find_package(ldmrecon): ldmrecon::core, ldmrecon::models) and a pkg-config one.
cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null || fail "find_package(ldmrecon)"
cmake --build "$tmp/consumer" >/dev/null || fail "building the CMake consumer"
"$tmp/consumer/consumer" || fail "the CMake consumer"
"$tmp/consumer/models_consumer" "$prefix/share/ldmrecon/models" || fail "the ldmrecon::models consumer"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046
g++ -o "$tmp/pc_consumer" "$src/tests/install/consumer.cpp" $(pkg-config --cflags --libs ldmrecon) \
  -Wl,-rpath,"$(pkg-config --variable=libdir ldmrecon)" || fail "building the pkg-config consumer"
"$tmp/pc_consumer" || fail "the pkg-config consumer"
echo "install_test: the prefix works ($prefix)"
