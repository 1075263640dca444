#!/usr/bin/env bash
# Build the libFuzzer targets with clang in build-fuzz and run each built
# tests/fuzz/fuzz_* target for SECONDS seconds on a seed corpus made from the
# captures of samples/ and tests/zeek/traces/: fuzz_dissect
# gets one seed per frame (seeds.py), every other target the small capture
# files themselves; each also gets its tests/fuzz/regressions/TARGET-* files.
# Exits non-zero when a target crashes, leaks or times out; the crash input is
# kept under build-fuzz/fuzz-artifacts/ (copy it into tests/fuzz/regressions/).
# Usage: bash tests/fuzz/run.sh SECONDS
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
dir=build-fuzz
san='-fsanitize=fuzzer-no-link,address,undefined'

if [ ! -f "$dir/build.ninja" ]; then
    # Coverage instrumentation for every library the targets link.
    CC=clang meson setup "$dir" -Dfuzz=true -Dtests=false -Db_lundef=false \
        -Dc_args="$san -fno-sanitize-recover=all" -Dc_link_args=-fsanitize=address,undefined \
        >/dev/null || { echo "fuzz: meson setup failed" >&2; exit 1; }
fi
# Build everything; when someone else's module does not build yet, build the
# fuzz targets alone.
if ! meson compile -C "$dir" >/dev/null 2>&1; then
    for src in tests/fuzz/fuzz_*.c; do
        t=$(basename "$src" .c)
        meson compile -C "$dir" "$t" || { echo "fuzz: build of $t failed" >&2; exit 1; }
    done
fi

corpus=$dir/fuzz-corpus
mkdir -p "$corpus" "$dir/fuzz-artifacts"
caps=()
for d in samples tests/zeek/traces; do
    [ -d "$d" ] || continue
    while IFS= read -r -d '' f; do caps+=("$f"); done \
        < <(find "$d" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0)
done
mkdir -p "$corpus/seeds-fuzz_dissect" "$corpus/seeds-files"
if [ ${#caps[@]} -gt 0 ]; then
    python3 tests/fuzz/seeds.py "$corpus/seeds-fuzz_dissect" 400 "${caps[@]}" || exit 1
    for f in "${caps[@]}"; do
        [ "$(stat -c %s "$f")" -le 65536 ] && cp "$f" "$corpus/seeds-files/"
    done
fi
# Compressed captures (gzip, zstd) seed the file targets too (the reader decompresses).
find samples -maxdepth 1 -type f \( -name '*.gz' -o -name '*.zst' \) -exec cp {} "$corpus/seeds-files/" \;

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
ran=0
for exe in "$dir"/tests/fuzz/fuzz_*; do
    [ -f "$exe" ] && [ -x "$exe" ] || continue
    t=$(basename "$exe")
    mkdir -p "$corpus/$t"
    seeds=$corpus/seeds-fuzz_dissect
    [ "$t" = fuzz_dissect ] || seeds=$corpus/seeds-files
    # Past crashes of this target stay in its corpus.
    find tests/fuzz/regressions -maxdepth 1 -type f -name "$t-*" -exec cp {} "$corpus/$t/" \; \
        2>/dev/null
    echo "== fuzz: $t for ${secs}s"
    # Only this target's corpus is written to; seeds are read-only input.
    if ! "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$dir/fuzz-artifacts/$t-" "$corpus/$t" "$seeds" 2>"$dir/$t.log"; then
        echo "fuzz: $t failed, see $dir/$t.log and $dir/fuzz-artifacts/" >&2
        tail -40 "$dir/$t.log" >&2
        status=1
    else
        grep -E '^(stat::number_of_executed_units|#[0-9]+ *DONE)' "$dir/$t.log" | tail -2
    fi
    ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || { echo "fuzz: no fuzz target was built" >&2; exit 1; }
exit $status
