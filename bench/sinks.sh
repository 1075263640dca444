#!/usr/bin/env bash
# bench/sinks.sh [small|large] [RUNS]: what the SQLite and NDJSON sinks cost
# on a standard corpus (bench/corpus.sh), without reading and analysis.
#
# Builds tests/storage/bench_storage in a release build with tests
# (build-bench/), which runs the corpus through the decoder and the engine
# once, keeps every finished connection in memory, then writes them RUNS
# times (default 5) with each sink into $TMPDIR and prints every run and the
# medians: SQLite rows per second (rows = connections + transitions; time =
# every conn() call plus finish(): index build, commit, rename) and NDJSON
# MB/s.  The issue's targets: >= 1 M rows/s and >= 100 MB/s on `small`.
# A benchmark, not a test: nothing here is run by CI.
set -euo pipefail
name=${1:-small}
case $name in
    small | large) runs=${2:-5} ;;
    *) echo "usage: bench/sinks.sh [small|large] [RUNS]" >&2; exit 2 ;;
esac
. "$(dirname "$0")/corpus.sh"
if [ ! -f "$here/build-bench/build.ninja" ]; then
    rm -rf "$here/build-bench"
    meson setup "$here/build-bench" "$here" --buildtype=release -Db_ndebug=true -Db_lto=true >/dev/null
fi
meson compile -C "$here/build-bench" tests/storage/bench_storage >/dev/null ||
    { echo "release build failed" >&2; exit 1; }
"$here/build-bench/tests/storage/bench_storage" --pcap "$pcap" "$runs"
