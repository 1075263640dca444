#!/usr/bin/env bash
# bench/run.sh [small|large] [RUNS]: tcbscope against the libpcap read floor
# (and tshark / Argus when installed) on a standard corpus (bench/corpus.sh).
#
# Makes the corpus once into a cache directory outside the repository
# ($TCBSCOPE_BENCH_CACHE, default ~/.cache/tcbscope-bench), builds floor.c and
# a release build of tcbscope (build-release/), then times each configuration
# RUNS times (default 5 for small, 3 for large), alternating with the floor so
# that each ratio is taken against a floor run made next to it.  Prints one
# table (packets/s, MB/s, median ratio to the floor, peak RSS) and writes it as
# TSV to $CACHE/NAME.results.tsv.  Then checks every connection against the
# corpus truth.  A benchmark, not a test: nothing here is run by CI.
set -euo pipefail
name=${1:-small}
case $name in
    small) runs=${2:-5} ;;
    large) runs=${2:-3} ;;
    *) echo "usage: bench/run.sh [small|large] [RUNS]" >&2; exit 2 ;;
esac
. "$(dirname "$0")/corpus.sh"
cc -O2 -o "$cache/floor" "$here/bench/floor.c" -lpcap
if [ ! -f "$here/build-release/build.ninja" ]; then
    rm -rf "$here/build-release"
    meson setup "$here/build-release" "$here" --buildtype=release -Db_ndebug=true -Db_lto=true -Dtests=false >/dev/null
fi
meson configure "$here/build-release" -Db_lto=true >/dev/null # link-time inlining across modules
meson compile -C "$here/build-release" >/dev/null || { echo "release build failed" >&2; exit 1; }
tool=$here/build-release/cli/tcbscope
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

packets=$(python3 -c "import json;print(sum(json.loads(l)['packets'] for l in open('$truth')))")
mb=$(python3 -c "import os;print(os.path.getsize('$pcap')/1e6)")

# One timed run: prints "wall_seconds max_rss_kib".
timed() {
    /usr/bin/time -f '%e %M' -o "$out/time" "$@" >/dev/null 2>"$out/stderr" || {
        echo "failed: $*" >&2; cat "$out/stderr" >&2; exit 1; }
    cat "$out/time"
}

declare -A cmds
order=(floor summary sinks)
cmds[floor]="$cache/floor $pcap"
cmds[summary]="$tool analyze $pcap"
cmds[sinks]="$tool analyze $pcap --db $out/b.db --json $out/b.json --force -q"
if command -v tshark >/dev/null && [ "$name" = small ]; then
    order+=(tshark); cmds[tshark]="tshark -r $pcap -q -z conv,tcp"
fi
if command -v argus >/dev/null; then
    order+=(argus); cmds[argus]="argus -r $pcap -w $out/b.argus"
fi

declare -A walls rss ratios
for ((i = 0; i < runs; i++)); do
    for c in "${order[@]}"; do
        [ "$c" = floor ] && continue
        rm -f "$out/b.db" "$out/b.json" "$out/b.argus"
        read -r fw _ < <(timed ${cmds[floor]})
        read -r w m < <(timed ${cmds[$c]})
        walls[$c]+="$w "; rss[$c]+="$m "; walls[floor]+="$fw "
        ratios[$c]+="$(python3 -c "print($w/max($fw,1e-3))") "
    done
    echo "run $((i + 1))/$runs done" >&2
done
read -r _ rss[floor] < <(timed ${cmds[floor]})

med() { python3 -c "import statistics,sys;print(statistics.median(float(x) for x in sys.argv[1:]))" $1; }
tsv=$cache/$name.results.tsv
printf 'config\tcommand\tmedian_s\tkpkt_per_s\tMB_per_s\tx_floor\tpeak_rss_MiB\n' >"$tsv"
printf '%-8s %10s %12s %10s %9s %10s\n' config median_s kpkt/s MB/s x_floor RSS_MiB
for c in "${order[@]}"; do
    w=$(med "${walls[$c]}")
    r=1
    [ "$c" != floor ] && r=$(med "${ratios[$c]}")
    m=$(python3 -c "print(max(int(x) for x in '${rss[$c]}'.split())/1024)")
    kp=$(python3 -c "print(round($packets/$w/1000))")
    mbs=$(python3 -c "print(round($mb/$w))")
    printf '%-8s %10.3f %12s %10s %9.2f %10.1f\n' "$c" "$w" "$kp" "$mbs" "$r" "$m"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "${cmds[$c]//$out\//}" "$w" "$kp" "$mbs" "$r" "$m" >>"$tsv"
done
echo "table written to $tsv"
echo "truth agreement on $name:"
python3 "$here/tests/e2e/truth_check.py" "$tool" --pcap "$pcap" --truth "$truth" || true
