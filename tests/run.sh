#!/usr/bin/env bash
# Run the whole tcbscope test suite: a normal build (warnings are errors) and an
# ASan+UBSan build, each running every unit, end-to-end and malformed-input
# test (the SYN flood only in the normal build), then a bounded libFuzzer run
# of each fuzz target (FUZZ_SECONDS, default 60 s each) when clang can build
# them.  valgrind is not run here (tests/valgrind.sh; see the README).
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

run_build() { # name, meson test args (one word, may be ""), meson setup args...
    local dir=$1 targs=$2; shift 2
    echo "== $dir: meson setup $*"
    if ! { meson setup --wipe "$dir" "$@" >/dev/null 2>&1 || meson setup "$dir" "$@"; }; then
        echo "tcbscope: meson setup of $dir failed"; failed=$((failed + 1)); return
    fi
    if ! meson compile -C "$dir"; then
        echo "tcbscope: build of $dir failed"; failed=$((failed + 1)); return
    fi
    # shellcheck disable=SC2086 # targs is a word list
    meson test -C "$dir" --print-errorlogs --num-processes 2 $targs || true
    count "$dir/meson-logs/testlog.json"
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The normal build runs every suite, the slow SYN flood too (about a minute,
# 2 GiB); under ASan the flood would need several times the memory: left out.
run_build build-ci "" -Dwerror=true
run_build build-asan "--no-suite slow" -Dwerror=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dc_args=-fno-sanitize-recover=all

if [ -x tests/fuzz/run.sh ] && command -v clang >/dev/null; then
    echo "== fuzz: short bounded run of every target"
    if bash tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi

[ "$skipped" -gt 0 ] && echo "($skipped skipped: see meson-logs/testlog.txt for why)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
