# bench/corpus.sh: sourced by the bench scripts.  With $name (small|large)
# set, makes the standard corpus of ../shared/bench once into the cache
# directory ($TCBSCOPE_BENCH_CACHE, default ~/.cache/tcbscope-bench, outside
# the repository) and sets here, shared, cache and pcap.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${TCBSCOPE_SHARED:-$here/../shared}
cache=${TCBSCOPE_BENCH_CACHE:-$HOME/.cache/tcbscope-bench}
mkdir -p "$cache"
pcap=$cache/$name.pcap
if [ ! -s "$pcap" ] || [ ! -s "$cache/$name.truth.jsonl" ]; then
    echo "making the $name corpus in $cache (once)" >&2
    sh "$shared/bench/make_corpus.sh" "$name" "$cache" >&2
fi
