# bench/corpus.sh: sourced by the bench scripts.  With $name (small|large)
# set, makes the standard corpus once with bench/gencorpus.c into the cache
# directory ($TCBSCOPE_BENCH_CACHE, default ~/.cache/tcbscope-bench, outside
# the repository; corpus in its gencorpus/ subdirectory) and sets here, shared,
# cache, pcap and truth.  The corpus is made again when the generator's source
# or the arguments change (stamp file).
# TCBSCOPE_CORPUS_GEN=shared uses ../shared/bench/make_corpus.sh (the Python
# generator, for comparison) instead, into $cache/shared/.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${TCBSCOPE_SHARED:-$here/../shared}
cache=${TCBSCOPE_BENCH_CACHE:-$HOME/.cache/tcbscope-bench}
mkdir -p "$cache"
if [ "${TCBSCOPE_CORPUS_GEN:-}" = shared ]; then
    pcap=$cache/shared/$name.pcap
    truth=$cache/shared/$name.truth.jsonl
    if [ ! -s "$pcap" ] || [ ! -s "$truth" ]; then
        echo "making the $name corpus with ../shared/bench in $cache/shared (once)" >&2
        sh "$shared/bench/make_corpus.sh" "$name" "$cache/shared" >&2
    fi
else
    case $name in
        small) gen_args="--connections 50000 --seed 1 --snaplen 128" ;;
        large) gen_args="--connections 1000000 --seed 1 --snaplen 128" ;;
    esac
    gdir=$cache/gencorpus
    pcap=$gdir/$name.pcap
    truth=$gdir/$name.truth.jsonl
    stamp="$(sha256sum <"$here/bench/gencorpus.c" | cut -d' ' -f1) $gen_args"
    if [ ! -s "$pcap" ] || [ ! -s "$truth" ] || [ "$(cat "$gdir/$name.stamp" 2>/dev/null)" != "$stamp" ]; then
        echo "making the $name corpus in $gdir (once)" >&2
        mkdir -p "$gdir"
        rm -f "$gdir/$name.stamp"
        cc -O2 -std=c11 -D_GNU_SOURCE -o "$gdir/gencorpus" "$here/bench/gencorpus.c" -lm
        # shellcheck disable=SC2086
        "$gdir/gencorpus" $gen_args --out "$pcap" --truth "$truth" --quiet >&2
        echo "$stamp" >"$gdir/$name.stamp"
        sha256sum "$pcap" "$truth" >&2
    fi
fi
