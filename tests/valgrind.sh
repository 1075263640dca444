#!/usr/bin/env bash
# Run the unit test binaries and the end-to-end tests' tcbscope invocations
# under valgrind memcheck: zero errors and zero definite leaks, or it fails.
#   --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
# Uses its own plain build (no sanitizer: valgrind and ASan do not mix) in
# BUILD (default build-vg).  The C test binaries run through meson test
# --wrapper; the Python end-to-end tests are run with a wrapper script in place
# of the tcbscope executable, so every tcbscope they start runs under valgrind
# and writes its report to BUILD/valgrind-logs/.
# Usage: bash tests/valgrind.sh [BUILD] [E2E_TEST...]
#   default E2E tests: samples_expected cookbook sinks_roundtrip cli
#                      malformed_captures output_faults zeek_conformance
# Ends with "valgrind: N runs, N with errors" and exits non-zero on any error,
# definite leak or failed test.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-vg}
shift || true
e2e=("$@")
[ ${#e2e[@]} -gt 0 ] || e2e=(samples_expected cookbook sinks_roundtrip cli malformed_captures
                             output_faults zeek_conformance)
command -v valgrind >/dev/null || { echo "valgrind: not installed (bash tests/deps.sh)" >&2; exit 1; }

if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dtests=true >/dev/null || { echo "valgrind: meson setup failed" >&2; exit 1; }
fi
meson compile -C "$dir" >/dev/null || { echo "valgrind: build failed" >&2; exit 1; }

logs=$dir/valgrind-logs
rm -rf "$logs"
mkdir -p "$logs"
logs=$(cd "$logs" && pwd)
vg=(valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --track-origins=yes)
status=0

# 1. The C unit test binaries (their tests, not python3).
mapfile -t unit < <(meson introspect --tests "$dir" | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if not t["cmd"][0].endswith("python3") and "slow" not in " ".join(t["suite"]):
        print(t["name"])')
echo "== valgrind: ${#unit[@]} unit test binaries"
if ! meson test -C "$dir" --print-errorlogs --timeout-multiplier 20 --num-processes 2 \
    --wrapper "${vg[*]} --log-file=$logs/unit.%p.log" "${unit[@]}"; then
    echo "valgrind: a unit test failed under valgrind (see $dir/meson-logs/testlog.txt)" >&2
    status=1
fi

# 2. End-to-end tests: their tcbscope runs under valgrind.
exe=$(cd "$dir/cli" && pwd -P)/tcbscope
wrap=$logs/tcbscope
cat >"$wrap" <<WRAP
#!/bin/sh
exec ${vg[*]} --log-file=$logs/tcbscope.%p.log "$exe" "\$@"
WRAP
chmod +x "$wrap"
for t in "${e2e[@]}"; do
    # The test's command with tcbscope (however named: relative to the build
    # directory, where meson runs tests, or absolute) replaced by the wrapper.
    mapfile -d '' -t cmd < <(meson introspect --tests "$dir" | python3 -c '
import json, os, sys
name, exe, wrap, bdir = sys.argv[1:5]
for t in json.load(sys.stdin):
    if t["name"] == name:
        cmd = [wrap if os.path.realpath(os.path.join(bdir, a)) == exe else a for a in t["cmd"]]
        sys.stdout.write("\0".join(cmd) + "\0")' "$t" "$exe" "$wrap" "$(cd "$dir" && pwd)")
    if [ ${#cmd[@]} -eq 0 ]; then
        echo "valgrind: no test named $t" >&2; status=1; continue
    fi
    echo "== valgrind: e2e $t"
    out=$(cd "$dir" && "${cmd[@]}" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        echo "$out" | tail -20
        echo "valgrind: e2e test $t failed under valgrind (exit $rc)" >&2
        status=1
    fi
done

# 3. Every report: errors or definite leaks fail the run.
runs=0
bad=0
for f in "$logs"/*.log; do
    [ -e "$f" ] || continue
    runs=$((runs + 1))
    if grep -qE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]|are definitely lost|Invalid (read|write)|uninitialised' "$f"; then
        bad=$((bad + 1))
        echo "--- $f"
        head -60 "$f"
    fi
done
echo "valgrind: $runs runs, $bad with errors"
[ $bad -eq 0 ] || status=1
exit $status
