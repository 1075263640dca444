#!/usr/bin/env bash
# Run the whole tcbscope test suite: a normal build (warnings are errors) and an
# ASan+UBSan build, each running every unit and end-to-end test, then a short
# libFuzzer run of each fuzz target when clang can build them.
# Ends with one line "N passed, N failed" counted over every test that ran.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tests/deps.sh || { echo "tcbscope: installing dependencies failed" >&2; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
skipped=0
count() { # count results of a meson testlog.json
    local log=$1 p f s
    read -r p f s < <(python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): p += 1
        elif r == "SKIP": s += 1
        else: f += 1
except OSError:
    pass
print(p, f, s)
PY
)
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

run_build() { # name, meson setup args...
    local dir=$1; shift
    echo "== $dir: meson setup $*"
    if ! { meson setup --wipe "$dir" "$@" >/dev/null 2>&1 || meson setup "$dir" "$@"; }; then
        echo "tcbscope: meson setup of $dir failed"; failed=$((failed + 1)); return
    fi
    if ! meson compile -C "$dir"; then
        echo "tcbscope: build of $dir failed"; failed=$((failed + 1)); return
    fi
    meson test -C "$dir" --print-errorlogs --num-processes 2 || true
    count "$dir/meson-logs/testlog.json"
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_build build-ci -Dwerror=true
run_build build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all

if [ -x tests/fuzz/run.sh ] && command -v clang >/dev/null; then
    echo "== fuzz: short bounded run of every target"
    if bash tests/fuzz/run.sh "${FUZZ_SECONDS:-30}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi

[ "$skipped" -gt 0 ] && echo "($skipped skipped: see meson-logs/testlog.txt for why)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
