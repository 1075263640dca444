#!/bin/bash
# Regenerate the tcbscope sample captures (run as root):
#     sudo bash samples/make_samples.sh            # all captures
#     sudo bash samples/make_samples.sh rst-abort  # only the named ones
# Everything happens inside network namespaces named tcbs-* created here
# (10.231.0.0/16, fd00:231::/32); they are removed on exit.
# See README.md for the topology and per-capture *.md for details.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$HERE"
SCN="$HERE/scenario.py"
WIRE="$HERE/tunwire.py"
RELINK="$HERE/relink.py"
PY="$(python3 -c 'import sys; print(sys.executable)')"   # real binary: fast start-up
TMP="$(mktemp -d /tmp/tcbs-samples.XXXXXX)"
ALL_NS="tcbs-c tcbs-r tcbs-s tcbs-a tcbs-b tcbs-m tcbs-u tcbs-v"
BG_PIDS=()

C4=10.231.1.2  R4C=10.231.1.1  R4S=10.231.2.1  S4=10.231.2.2
C6=fd00:231:1::2 R6C=fd00:231:1::1 R6S=fd00:231:2::1 S6=fd00:231:2::2
A4=10.231.30.1 B4=10.231.30.2         # tap/tun wire between tcbs-a and tcbs-b

log() { echo "== $*" >&2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

cleanup() {
    local rc=$?
    set +e
    if [ $rc != 0 ] && [ -e "$TMP/scenario.log" ]; then
        echo "FAILED (rc=$rc); scenario log:" >&2; tail -n 30 "$TMP/scenario.log" >&2
    fi
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for ns in $ALL_NS; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }

want() {   # want NAME -> true if NAME was requested (or nothing was)
    [ ${#SELECT[@]} = 0 ] && return 0
    local x; for x in "${SELECT[@]}"; do [ "$x" = "$1" ] && return 0; done
    return 1
}
SELECT=("$@")

# ---------------------------------------------------------------- topology
ns_new() {
    ip netns del "$1" 2>/dev/null || true
    ip netns add "$1"
    nsx "$1" ip link set lo up
    nsx "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    nsx "$1" sysctl -qw net.ipv6.conf.default.router_solicitations=0
}
nooffload() {  # real MSS-sized segments and correct checksums in captures
    nsx "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
}

topo_up() {  # client ns -- router ns -- server ns
    for ns in tcbs-c tcbs-r tcbs-s; do ns_new $ns; done
    ip link add c0 netns tcbs-c address 02:31:00:01:00:02 type veth \
        peer name r0 netns tcbs-r address 02:31:00:01:00:01
    ip link add r1 netns tcbs-r address 02:31:00:02:00:01 type veth \
        peer name s0 netns tcbs-s address 02:31:00:02:00:02
    nsx tcbs-c ip addr add $C4/24 dev c0
    nsx tcbs-c ip addr add $C6/64 dev c0 nodad
    nsx tcbs-r ip addr add $R4C/24 dev r0
    nsx tcbs-r ip addr add $R6C/64 dev r0 nodad
    nsx tcbs-r ip addr add $R4S/24 dev r1
    nsx tcbs-r ip addr add $R6S/64 dev r1 nodad
    nsx tcbs-s ip addr add $S4/24 dev s0
    nsx tcbs-s ip addr add $S6/64 dev s0 nodad
    for x in "tcbs-c c0" "tcbs-r r0" "tcbs-r r1" "tcbs-s s0"; do
        set -- $x; nsx $1 ip link set $2 up; nooffload $1 $2
    done
    nsx tcbs-c ip route add default via $R4C
    nsx tcbs-c ip -6 route add default via $R6C
    nsx tcbs-s ip route add default via $R4S
    nsx tcbs-s ip -6 route add default via $R6S
    nsx tcbs-r sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    # static neighbours: no ARP/ND exchanges in the middle of a scenario
    nsx tcbs-c ip neigh replace $R4C lladdr 02:31:00:01:00:01 dev c0 nud permanent
    nsx tcbs-c ip neigh replace $R6C lladdr 02:31:00:01:00:01 dev c0 nud permanent
    nsx tcbs-r ip neigh replace $C4 lladdr 02:31:00:01:00:02 dev r0 nud permanent
    nsx tcbs-r ip neigh replace $C6 lladdr 02:31:00:01:00:02 dev r0 nud permanent
    nsx tcbs-r ip neigh replace $S4 lladdr 02:31:00:02:00:02 dev r1 nud permanent
    nsx tcbs-r ip neigh replace $S6 lladdr 02:31:00:02:00:02 dev r1 nud permanent
    nsx tcbs-s ip neigh replace $R4S lladdr 02:31:00:02:00:01 dev s0 nud permanent
    nsx tcbs-s ip neigh replace $R6S lladdr 02:31:00:02:00:01 dev s0 nud permanent
    sleep 1   # let link-up noise (IPv6 MLD reports) pass before capturing
}

fw_reset() {
    for ns in tcbs-c tcbs-r tcbs-s; do
        nsx $ns iptables -F; nsx $ns ip6tables -F
    done
}

# wire_up MODE [relay args...]: tcbs-a/tcbs-b joined by tunwire.py
# (device "w0" in each); MODE tun or tap.
WIRE_PID=
wire_up() {
    local mode=$1; shift
    for ns in tcbs-a tcbs-b tcbs-m; do ns_new $ns; done
    "$PY" "$WIRE" --mode "$mode" tcbs-a:w0 tcbs-b:w0 "$@" >"$TMP/wire.out" 2>"$TMP/wire.err" &
    WIRE_PID=$!; BG_PIDS+=($WIRE_PID)
    for _ in $(seq 200); do grep -q ready "$TMP/wire.out" && break; sleep 0.05; done
    grep -q ready "$TMP/wire.out" || { cat "$TMP/wire.err"; exit 1; }
    if [ "$mode" = tap ]; then
        nsx tcbs-a ip link set w0 address 02:31:00:30:00:01
        nsx tcbs-b ip link set w0 address 02:31:00:30:00:02
    fi
    nsx tcbs-a ip addr add $A4/24 dev w0
    nsx tcbs-b ip addr add $B4/24 dev w0
    nsx tcbs-a ip link set w0 up
    nsx tcbs-b ip link set w0 up
    if [ "$mode" = tap ]; then
        nsx tcbs-a ip neigh replace $B4 lladdr 02:31:00:30:00:02 dev w0 nud permanent
        nsx tcbs-b ip neigh replace $A4 lladdr 02:31:00:30:00:01 dev w0 nud permanent
    fi
    if nsx tcbs-m ip link show w0 >/dev/null 2>&1; then
        nsx tcbs-m ip link set w0 up
    fi
    sleep 1
}
wire_down() {
    kill "$WIRE_PID" 2>/dev/null || true; wait "$WIRE_PID" 2>/dev/null || true
    for ns in tcbs-a tcbs-b tcbs-m; do ip netns del $ns 2>/dev/null || true; done
}

# ---------------------------------------------------------------- capture
CAP_PID=
cap_start() {  # cap_start NS IFACE FILE [tcpdump args...]
    local ns=$1 ifc=$2 file=$3; shift 3
    rm -f "$file"
    ip netns exec "$ns" tcpdump -Z root -U --immediate-mode -n -i "$ifc" "$@" -w "$file" 2>"$TMP/cap.err" &
    CAP_PID=$!; BG_PIDS+=($CAP_PID)
    for _ in $(seq 200); do grep -q "listening on" "$TMP/cap.err" && break; sleep 0.05; done
    grep -q "listening on" "$TMP/cap.err" || { cat "$TMP/cap.err"; exit 1; }
    sleep 0.3
}
cap_stop() {
    sleep 1
    kill -INT "$CAP_PID"
    for _ in $(seq 40); do kill -0 "$CAP_PID" 2>/dev/null || break; sleep 0.05; done
    kill -TERM "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" || true
    log "$(tail -n 3 "$TMP/cap.err" | head -n 1)"
}

SRV_PID=
srv() {  # srv NS scenario-server-args...
    local ns=$1; shift
    rm -f "$TMP/ready"
    ip netns exec "$ns" "$PY" "$SCN" server --ready "$TMP/ready" "$@" 2>>"$TMP/scenario.log" &
    SRV_PID=$!; BG_PIDS+=($SRV_PID)
    for _ in $(seq 200); do [ -e "$TMP/ready" ] && break; sleep 0.02; done
    [ -e "$TMP/ready" ] || { cat "$TMP/scenario.log"; exit 1; }
}
srv_wait() { wait "$SRV_PID"; }
cli() { local ns=$1; shift; nsx "$ns" "$PY" "$SCN" client "$@" 2>>"$TMP/scenario.log"; }

HDR=$'client\tserver\tincarnation\topen_kind\tclient_open\tserver_open\thandshake\tclose_kind\tclient_final_state\tserver_final_state\tsyn_retransmits\tdata_bytes_c2s\tdata_bytes_s2c\ttfo'
expect() {  # expect NAME row... (fields separated by single spaces)
    local name=$1; shift
    { echo "$HDR"; for r in "$@"; do echo "$r" | tr ' ' '\t'; done; } > "$OUT/$name.expected.tsv"
}
count_syn_rtx() {  # bare-SYN retransmissions as tshark flags them
    tshark -r "$1" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.analysis.retransmission' 2>/dev/null | wc -l
}
check_syn_rtx() {  # check_syn_rtx FILE EXPECTED
    local n; n=$(count_syn_rtx "$1")
    [ "$n" = "$2" ] || log "WARNING: $1: $n SYN retransmissions, expected $2"
}

# the standard exchange: 100 bytes request, 2000 bytes response,
# client closes first, server closes after reading EOF
STD_SRV="recv:100,send:2000,eof,close"
STD_CLI="send:100,recv:2000,close"
std_row() {  # std_row CLIENT SERVER
    echo "$1 $2 1 active_passive active passive complete active_client TIME-WAIT CLOSED 0 100 2000 0"
}

std_exchange() {  # std_exchange CLIENT_NS SERVER_NS SERVER_ADDR CLIENT_BIND
    local any=0.0.0.0; case $3 in *:*) any=::;; esac
    srv "$2" --listen $any --port 8080 --steps "$STD_SRV"
    cli "$1" --connect "$3" --port 8080 --bind "$4" --steps "$STD_CLI"
    srv_wait
}

# ================================================================ scenarios
topo_up
fw_reset

if want ipv4-basic; then
    log ipv4-basic
    cap_start tcbs-r r0 "$OUT/ipv4-basic.pcap"
    std_exchange tcbs-c tcbs-s $S4 $C4:40001
    cap_stop
    expect ipv4-basic "$(std_row $C4:40001 $S4:8080)"
fi

if want ipv6-basic; then
    log ipv6-basic
    cap_start tcbs-r r0 "$OUT/ipv6-basic.pcap"
    std_exchange tcbs-c tcbs-s $S6 "[$C6]:40002"
    cap_stop
    expect ipv6-basic "$(std_row "[$C6]:40002" "[$S6]:8080")"
fi

if want close-server-first; then
    log close-server-first
    cap_start tcbs-r r0 "$OUT/close-server-first.pcap"
    srv tcbs-s --listen 0.0.0.0 --steps "recv:100,send:2000,close"
    cli tcbs-c --connect $S4 --bind $C4:40003 --steps "send:100,eof,close"
    srv_wait
    cap_stop
    expect close-server-first "$C4:40003 $S4:8080 1 active_passive active passive complete active_server CLOSED TIME-WAIT 0 100 2000 0"
fi

if want sll2-any; then
    log sll2-any
    cap_start tcbs-c any "$OUT/sll2-any.pcap"
    std_exchange tcbs-c tcbs-s $S4 $C4:40004
    cap_stop
    expect sll2-any "$(std_row $C4:40004 $S4:8080)"
fi

if want sll; then
    log sll
    cap_start tcbs-c any "$OUT/sll.pcap" -y LINUX_SLL
    std_exchange tcbs-c tcbs-s $S4 $C4:40005
    cap_stop
    expect sll "$(std_row $C4:40005 $S4:8080)"
fi

if want ipv4-ns; then
    log ipv4-ns
    cap_start tcbs-r r0 "$OUT/ipv4-ns.pcap" --time-stamp-precision=nano
    std_exchange tcbs-c tcbs-s $S4 $C4:40006
    cap_stop
    expect ipv4-ns "$(std_row $C4:40006 $S4:8080)"
fi

if want snaplen-64; then
    log snaplen-64
    cap_start tcbs-r r0 "$OUT/snaplen-64.pcap" -s 64
    std_exchange tcbs-c tcbs-s $S4 $C4:40007
    cap_stop
    expect snaplen-64 "$(std_row $C4:40007 $S4:8080)"
fi

if want refused; then
    log refused
    cap_start tcbs-r r0 "$OUT/refused.pcap"
    cli tcbs-c --connect $S4 --port 8081 --bind $C4:40009 --expect-fail --steps ""
    cap_stop
    expect refused "$C4:40009 $S4:8081 1 none active - refused refused CLOSED CLOSED 0 0 0 0"
fi

if want unanswered; then
    log unanswered
    nsx tcbs-s iptables -A INPUT -p tcp --dport 8082 --tcp-flags SYN,ACK SYN -j DROP
    OLD_LIN=$(nsx tcbs-c sysctl -n net.ipv4.tcp_syn_linear_timeouts 2>/dev/null || true)
    nsx tcbs-c sysctl -qw net.ipv4.tcp_syn_retries=2
    # kernels >= 6.x retransmit the first SYNs at linear 1 s intervals; use
    # the classic exponential backoff (SYN at 0, 1, 3 s)
    nsx tcbs-c sysctl -qw net.ipv4.tcp_syn_linear_timeouts=0 2>/dev/null || true
    cap_start tcbs-r r0 "$OUT/unanswered.pcap"
    # kernel sends SYN at t=0, 1 s, 3 s and gives up at ~7 s; the capture is
    # stopped at ~4.5 s, while the client is still in SYN-SENT.
    cli tcbs-c --connect $S4 --port 8082 --bind $C4:40010 --timeout 20 --expect-fail --steps "" &
    UPID=$!
    sleep 4.5
    cap_stop
    wait $UPID || true
    nsx tcbs-c sysctl -qw net.ipv4.tcp_syn_retries=6
    [ -n "$OLD_LIN" ] && nsx tcbs-c sysctl -qw net.ipv4.tcp_syn_linear_timeouts=$OLD_LIN
    fw_reset
    check_syn_rtx "$OUT/unanswered.pcap" 2
    expect unanswered "$C4:40010 $S4:8082 1 none active - unanswered none SYN-SENT - 2 0 0 0"
fi

if want rst-abort; then
    log rst-abort
    cap_start tcbs-r r0 "$OUT/rst-abort.pcap"
    srv tcbs-s --listen 0.0.0.0 --steps "recv:100,send:2000,eof,close"
    cli tcbs-c --connect $S4 --bind $C4:40011 --steps "send:100,recv:2000,sleep:0.2,linger0,close"
    srv_wait
    cap_stop
    expect rst-abort "$C4:40011 $S4:8080 1 active_passive active passive complete reset_client CLOSED CLOSED 0 100 2000 0"
fi

if want half-close; then
    log half-close
    cap_start tcbs-r r0 "$OUT/half-close.pcap"
    srv tcbs-s --listen 0.0.0.0 --steps "recv:100,eof,chunks:1000:4:0.2,close"
    cli tcbs-c --connect $S4 --bind $C4:40012 --steps "send:100,shut,eof,close"
    srv_wait
    cap_stop
    expect half-close "$C4:40012 $S4:8080 1 active_passive active passive complete active_client TIME-WAIT CLOSED 0 100 4000 0"
fi

if want port-reuse; then
    log port-reuse
    cap_start tcbs-r r0 "$OUT/port-reuse.pcap"
    srv tcbs-s --listen 0.0.0.0 --conns 3 --steps "recv:100,send:1000,close"
    cli tcbs-c --connect $S4 --bind $C4:40013 --reuseaddr --repeat 3 --gap 0.5 --steps "send:100,eof,close"
    srv_wait
    cap_stop
    expect port-reuse \
        "$C4:40013 $S4:8080 1 active_passive active passive complete active_server CLOSED CLOSED 0 100 1000 0" \
        "$C4:40013 $S4:8080 2 active_passive active passive complete active_server CLOSED CLOSED 0 100 1000 0" \
        "$C4:40013 $S4:8080 3 active_passive active passive complete active_server CLOSED TIME-WAIT 0 100 1000 0"
fi

if want midstream; then
    log midstream
    rm -f "$TMP/mid-ready" "$TMP/mid-go"
    srv tcbs-s --listen 0.0.0.0 --steps "recv:1000,send:1000,recv:500,send:3000,eof,close"
    cli tcbs-c --connect $S4 --bind $C4:40014 \
        --steps "send:1000,recv:1000,touch:$TMP/mid-ready,wait:$TMP/mid-go,send:500,recv:3000,close" &
    MPID=$!
    while [ ! -e "$TMP/mid-ready" ]; do sleep 0.02; done
    sleep 0.5
    cap_start tcbs-r r0 "$OUT/midstream.pcap"
    touch "$TMP/mid-go"
    wait $MPID
    srv_wait
    cap_stop
    expect midstream "$C4:40014 $S4:8080 1 midstream unknown unknown not_seen active_client TIME-WAIT CLOSED 0 500 3000 0"
fi

if want synack-lost; then
    log synack-lost
    # tap = r1 (server side of the router): the SYN/ACK is captured on r1
    # ingress, then dropped by FORWARD (first SYN/ACK only).  Client SYN
    # timer and server SYN/ACK timer both fire at ~1 s; in the rare run where
    # the server's retransmitted SYN/ACK reaches the client before its SYN
    # retransmission, the scenario is repeated (up to 3 times).
    for attempt in 1 2 3; do
        nsx tcbs-r iptables -A FORWARD -i r1 -p tcp --sport 8080 --tcp-flags SYN,ACK SYN,ACK \
            -m statistic --mode nth --every 1000 --packet 0 -j DROP
        cap_start tcbs-r r1 "$OUT/synack-lost.pcap"
        std_exchange tcbs-c tcbs-s $S4 $C4:40015
        cap_stop
        nsx tcbs-r iptables -L FORWARD -v -n | grep DROP >&2
        fw_reset
        [ "$(count_syn_rtx "$OUT/synack-lost.pcap")" = 1 ] && break
        log "synack-lost: retrying"; topo_up   # fresh namespaces: no TIME-WAIT left
    done
    check_syn_rtx "$OUT/synack-lost.pcap" 1
    expect synack-lost "$C4:40015 $S4:8080 1 active_passive active passive complete active_client TIME-WAIT CLOSED 1 100 2000 0"
fi

if want loss-retrans; then
    log loss-retrans
    # tap = r1; server->client data segments (IP length >= 1000) dropped in
    # FORWARD after the tap: every 8th such segment (4th, 12th, 20th, ...).
    nsx tcbs-r iptables -A FORWARD -i r1 -p tcp --sport 8080 -m length --length 1000:65535 \
        -m statistic --mode nth --every 8 --packet 4 -j DROP
    cap_start tcbs-r r1 "$OUT/loss-retrans.pcap"
    srv tcbs-s --listen 0.0.0.0 --steps "recv:100,send:30000,eof,close"
    cli tcbs-c --connect $S4 --bind $C4:40016 --steps "send:100,recv:30000,close"
    srv_wait
    cap_stop
    nsx tcbs-r iptables -L FORWARD -v -n | grep DROP >&2
    fw_reset
    expect loss-retrans "$C4:40016 $S4:8080 1 active_passive active passive complete active_client TIME-WAIT CLOSED 0 100 30000 0"
fi

if want tfo; then
    log tfo
    nsx tcbs-c sysctl -qw net.ipv4.tcp_fastopen=3
    nsx tcbs-s sysctl -qw net.ipv4.tcp_fastopen=3
    nsx tcbs-c ip tcp_metrics flush all 2>/dev/null || true
    cap_start tcbs-r r0 "$OUT/tfo.pcap"
    srv tcbs-s --listen 0.0.0.0 --tfo --conns 2 --steps "recv:100,send:500,eof,close"
    cli tcbs-c --connect $S4 --bind $C4:40017 --tfo-data 100 --steps "recv:500,close"
    sleep 0.3
    cli tcbs-c --connect $S4 --bind $C4:40018 --tfo-data 100 --steps "recv:500,close"
    srv_wait
    cap_stop
    nsx tcbs-c sysctl -qw net.ipv4.tcp_fastopen=1
    nsx tcbs-s sysctl -qw net.ipv4.tcp_fastopen=1
    expect tfo \
        "$C4:40017 $S4:8080 1 active_passive active passive complete active_client TIME-WAIT CLOSED 0 100 500 0" \
        "$C4:40018 $S4:8080 1 active_passive active passive complete active_client TIME-WAIT CLOSED 0 100 500 1"
fi

if want pcapng-multi; then
    log pcapng-multi
    # tcbs-c gets a second interface: tun "w0" wired by tunwire.py to a tun
    # "w0" in tcbs-s (10.231.60.0/24). dumpcap captures c0 + w0 into one file.
    "$PY" "$WIRE" --mode tun tcbs-c:w0 tcbs-s:w0 >"$TMP/wire.out" 2>"$TMP/wire.err" &
    WIRE_PID=$!; BG_PIDS+=($WIRE_PID)
    for _ in $(seq 200); do grep -q ready "$TMP/wire.out" && break; sleep 0.05; done
    nsx tcbs-c ip addr add 10.231.60.1/24 dev w0; nsx tcbs-c ip link set w0 up
    nsx tcbs-s ip addr add 10.231.60.2/24 dev w0; nsx tcbs-s ip link set w0 up
    sleep 1
    rm -f "$OUT/pcapng-multi.pcapng"
    ip netns exec tcbs-c dumpcap -q -i c0 -i w0 -w "$OUT/pcapng-multi.pcapng" 2>"$TMP/dumpcap.err" &
    DPID=$!; BG_PIDS+=($DPID)
    for _ in $(seq 200); do grep -q "Capturing on" "$TMP/dumpcap.err" && break; sleep 0.05; done
    sleep 1
    srv tcbs-s --listen 0.0.0.0 --conns 2 --steps "$STD_SRV"
    cli tcbs-c --connect $S4 --bind $C4:40022 --steps "$STD_CLI"
    cli tcbs-c --connect 10.231.60.2 --bind 10.231.60.1:40023 --steps "$STD_CLI"
    srv_wait
    sleep 1
    kill -INT $DPID; wait $DPID || true
    kill $WIRE_PID; wait $WIRE_PID 2>/dev/null || true
    expect pcapng-multi "$(std_row $C4:40022 $S4:8080)" "$(std_row 10.231.60.1:40023 10.231.60.2:8080)"
fi

# ---------------------------------------------------------- tun/tap wires
if want raw-tun; then
    log raw-tun
    wire_up tun
    cap_start tcbs-a w0 "$OUT/raw-tun.pcap"
    std_exchange tcbs-a tcbs-b $B4 $A4:40021
    cap_stop
    wire_down
    expect raw-tun "$(std_row $A4:40021 $B4:8080)"
fi

if want vlan; then
    log vlan
    wire_up tap --mirror tcbs-m:w0 --vlan 100
    cap_start tcbs-m w0 "$OUT/vlan.pcap"
    std_exchange tcbs-a tcbs-b $B4 $A4:40019
    cap_stop
    wire_down
    expect vlan "$(std_row $A4:40019 $B4:8080)"
fi

if want qinq; then
    log qinq
    wire_up tap --mirror tcbs-m:w0 --vlan 100 --svlan 200
    cap_start tcbs-m w0 "$OUT/qinq.pcap"
    std_exchange tcbs-a tcbs-b $B4 $A4:40020
    cap_stop
    wire_down
    expect qinq "$(std_row $A4:40020 $B4:8080)"
fi

if want simultaneous-open; then
    log simultaneous-open
    wire_up tap --delay 50
    rm -f "$TMP/go"
    cap_start tcbs-a w0 "$OUT/simultaneous-open.pcap"
    cli tcbs-a --connect $B4 --port 5001 --bind $A4:5000 --wait "$TMP/go" \
        --steps "send:100,recv:200,close" &
    P1=$!
    cli tcbs-b --connect $A4 --port 5000 --bind $B4:5001 --wait "$TMP/go" \
        --steps "recv:100,send:200,eof,close" &
    P2=$!
    sleep 2
    touch "$TMP/go"
    wait $P1; wait $P2
    cap_stop
    wire_down
    expect simultaneous-open "$A4:5000 $B4:5001 1 simultaneous simultaneous simultaneous complete active_client TIME-WAIT CLOSED 0 100 200 0"
fi

if want simultaneous-close; then
    log simultaneous-close
    wire_up tap --delay 50
    rm -f "$TMP/go"
    cap_start tcbs-a w0 "$OUT/simultaneous-close.pcap"
    srv tcbs-b --listen 0.0.0.0 --steps "recv:100,send:2000,wait:$TMP/go,shut,eof,close"
    cli tcbs-a --connect $B4 --bind $A4:40024 --steps "send:100,recv:2000,wait:$TMP/go,shut,eof,close" &
    P1=$!
    sleep 1.5
    touch "$TMP/go"
    wait $P1; srv_wait
    cap_stop
    wire_down
    expect simultaneous-close "$A4:40024 $B4:8080 1 active_passive active passive complete simultaneous TIME-WAIT TIME-WAIT 0 100 2000 0"
fi

if want rtt-delay; then
    log rtt-delay
    # 50 ms one-way delay on the wire between the tap (in the client's
    # namespace) and the server: tap->server->tap ~ 100 ms, tap->client ~ 0.
    # The wire drops the server's first full-size segment (IP length 1500)
    # before the tap; the server's INPUT drops the client's 41st full-size
    # segment after the tap; the capture filter leaves out the server's
    # second (777-byte) segment (IP length 20 + 32 + 777 = 829), which the client
    # receives and ACKs.  The server's small receive buffer and its 1 s nap
    # before reading fill the client's window: zero-window advertisements.
    wire_up tap --delay 50 --drop-ba 1500
    nooffload tcbs-a w0; nooffload tcbs-b w0
    nsx tcbs-b iptables -A INPUT -p tcp --dport 8080 -m length --length 1500 \
        -m statistic --mode nth --every 1000000 --packet 40 -j DROP
    cap_start tcbs-a w0 "$OUT/rtt-delay.pcap" -s 128 'not (tcp src port 8080 and ip[2:2] = 829)'
    srv tcbs-b --listen 0.0.0.0 --port 8080 --rcvbuf 16384 \
        --steps "sleep:1,recv:100000,send:500,sleep:0.3,send:777,sleep:0.3,send:4000,eof,close"
    cli tcbs-a --connect $B4 --port 8080 --bind $A4:40030 --steps "send:100000,recv:5277,close"
    srv_wait
    cap_stop
    nsx tcbs-b iptables -F
    wire_down
    {
        printf '%s\trtt_c2s_min_ns\trtt_c2s_avg_ns\ttap_to_server_ns\ttap_to_client_ns\trtt_s2c_min_ns' "$HDR"
        printf '\tretrans_packets_c2s\tretrans_bytes_c2s\tout_of_order_c2s\tmissed_bytes_c2s'
        printf '\tretrans_packets_s2c\tretrans_bytes_s2c\tout_of_order_s2c\tmissed_bytes_s2c'
        printf '\tzero_windows_c2s\tzero_windows_s2c\n'
        # RTTs: 2 x 50 ms plus up to 15 ms of userspace wire and scheduling for the
        # minimum and the handshake, up to 50 ms more for the mean (delayed ACKs, the
        # window probes); tap->client: the client's own stack (its delayed ACK: 40 ms).
        printf '%s:40030\t%s:8080\t1\tactive_passive\tactive\tpassive\tcomplete\tactive_client' $A4 $B4
        printf '\tTIME-WAIT\tCLOSED\t0\t100000\t5277\t0'
        printf '\t100000000..115000000\t100000000..165000000\t100000000..115000000\t0..5000000\t0..45000000'
        printf '\t1\t1448\t0\t0\t0\t0\t1\t777\t0\t1..1000\n'
    } > "$OUT/rtt-delay.expected.tsv"
fi

# ------------------------------------------------------------- tunnels
# tcbs-u [u0 10.231.40.1 fd00:231:40::1] -- veth (underlay) -- tcbs-v [u0
# 10.231.40.2 fd00:231:40::2]; a kernel tunnel device t0 over it in each
# (inner 10.231.41.1 / .2, fd00:231:41::1 / ::2); the standard exchange
# runs over t0 and tcpdump captures the underlay u0 in tcbs-u.
UU4=10.231.40.1 UV4=10.231.40.2 UU6=fd00:231:40::1 UV6=fd00:231:40::2
TU4=10.231.41.1 TV4=10.231.41.2 TU6=fd00:231:41::1 TV6=fd00:231:41::2
tunnel_up() {  # tunnel_up KIND (vxlan geneve gre gretap erspan erspan3 ipip sit ip4in6)
    local kind=$1 ns l r l6 r6 mac peer args ether=0
    for ns in tcbs-u tcbs-v; do ns_new $ns; done
    ip link add u0 netns tcbs-u address 02:31:00:40:00:01 type veth \
        peer name u0 netns tcbs-v address 02:31:00:40:00:02
    for ns in tcbs-u tcbs-v; do
        if [ $ns = tcbs-u ]; then
            l=$UU4 r=$UV4 l6=$UU6 r6=$UV6 mac=02:31:00:41:00:01 peer=02:31:00:41:00:02
        else
            l=$UV4 r=$UU4 l6=$UV6 r6=$UU6 mac=02:31:00:41:00:02 peer=02:31:00:41:00:01
        fi
        nsx $ns ip addr add $l/24 dev u0
        nsx $ns ip addr add $l6/64 dev u0 nodad
        nsx $ns ip link set u0 up
        nooffload $ns u0
        nsx $ns ip neigh replace $r lladdr "$([ $ns = tcbs-u ] && echo 02:31:00:40:00:02 || echo 02:31:00:40:00:01)" dev u0 nud permanent
        nsx $ns ip neigh replace $r6 lladdr "$([ $ns = tcbs-u ] && echo 02:31:00:40:00:02 || echo 02:31:00:40:00:01)" dev u0 nud permanent
        case $kind in
        vxlan)   args="type vxlan id 4242 local $l remote $r dstport 4789"; ether=1 ;;
        geneve)  args="type geneve id 4243 remote $r"; ether=1 ;;
        gre)     args="type gre local $l remote $r key 4244" ;;
        gretap)  args="type gretap local $l remote $r key 4245"; ether=1 ;;
        erspan)  args="type erspan seq key 4246 local $l remote $r erspan_ver 1 erspan 123"; ether=1 ;;
        erspan3) args="type erspan seq key 4247 local $l remote $r erspan_ver 2 erspan 456 erspan_dir ingress erspan_hwid 7"; ether=1 ;;
        ipip)    args="type ipip local $l remote $r" ;;
        sit)     args="type sit local $l remote $r" ;;
        ip4in6)  args="type ip6tnl mode ipip6 local $l6 remote $r6" ;;
        esac
        nsx $ns ip link add t0 $args || return 1   # this kernel may lack the type
        [ $ether = 1 ] && nsx $ns ip link set t0 address $mac
        # below the underlay's 1500 minus any tunnel header: no outer fragments
        nsx $ns ip link set t0 mtu 1400 up
        nooffload $ns t0
        if [ $ns = tcbs-u ]; then
            nsx $ns ip addr add $TU4/24 dev t0; nsx $ns ip addr add $TU6/64 dev t0 nodad
            [ $ether = 1 ] && { nsx $ns ip neigh replace $TV4 lladdr $peer dev t0 nud permanent
                                nsx $ns ip neigh replace $TV6 lladdr $peer dev t0 nud permanent; }
        else
            nsx $ns ip addr add $TV4/24 dev t0; nsx $ns ip addr add $TV6/64 dev t0 nodad
            [ $ether = 1 ] && { nsx $ns ip neigh replace $TU4 lladdr $peer dev t0 nud permanent
                                nsx $ns ip neigh replace $TU6 lladdr $peer dev t0 nud permanent; }
        fi
    done
    sleep 1
}
tunnel_down() { for ns in tcbs-u tcbs-v; do ip netns del $ns 2>/dev/null || true; done; }

tunnel_sample() {  # tunnel_sample KIND CLIENT_PORT [6]: the standard exchange through KIND
    local kind=$1 port=$2 cli=$TU4 srvr=$TV4
    [ "${3:-}" = 6 ] && { cli="[$TU6]"; srvr="[$TV6]"; }
    log "$kind"
    if ! tunnel_up "$kind"; then
        log "$kind: this kernel cannot make the device; no capture (see $kind.md)"
        tunnel_down; return 0
    fi
    cap_start tcbs-u u0 "$OUT/$kind.pcap"
    if [ "${3:-}" = 6 ]; then
        std_exchange tcbs-u tcbs-v $TV6 "[$TU6]:$port"
    else
        std_exchange tcbs-u tcbs-v $TV4 $TU4:$port
    fi
    cap_stop
    tunnel_down
    expect "$kind" "$(std_row "$cli:$port" "$srvr:8080")"
}

want vxlan && tunnel_sample vxlan 40041
want geneve && tunnel_sample geneve 40042
want gre && tunnel_sample gre 40043
want gretap && tunnel_sample gretap 40044
want erspan && tunnel_sample erspan 40045
want erspan3 && tunnel_sample erspan3 40046
want ipip && tunnel_sample ipip 40047
want sit && tunnel_sample sit 40048 6
want ip4in6 && tunnel_sample ip4in6 40049

if want nflog; then
    log nflog
    # the client's own TCP segments to and from port 8080, logged by
    # iptables to NFLOG group 5 and captured with tcpdump -i nflog:5
    nsx tcbs-c iptables -A OUTPUT -p tcp --dport 8080 -j NFLOG --nflog-group 5
    nsx tcbs-c iptables -A INPUT -p tcp --sport 8080 -j NFLOG --nflog-group 5
    cap_start tcbs-c nflog:5 "$OUT/nflog.pcap"
    std_exchange tcbs-c tcbs-s $S4 $C4:40050
    sleep 2   # nfnetlink_log batches messages; its flush timer is 1 s
    cap_stop
    fw_reset
    expect nflog "$(std_row $C4:40050 $S4:8080)"
fi

# ------------------------------------------------- header rewrites (relink)
if want derived; then
    log derived link types
    "$PY" "$RELINK" --to ipv4 -o "$OUT/ipv4-linktype228.pcap" "$OUT/ipv4-basic.pcap"
    "$PY" "$RELINK" --to ipv6 -o "$OUT/ipv6-linktype229.pcap" "$OUT/ipv6-basic.pcap"
    "$PY" "$RELINK" --to null -o "$OUT/null.pcap" "$OUT/ipv4-basic.pcap" "$OUT/ipv6-basic.pcap"
    "$PY" "$RELINK" --to loop -o "$OUT/loop.pcap" "$OUT/ipv4-basic.pcap" "$OUT/ipv6-basic.pcap"
    "$PY" "$RELINK" --to swap -o "$OUT/ipv4-bigendian.pcap" "$OUT/ipv4-basic.pcap"
    cp "$OUT/ipv4-basic.expected.tsv" "$OUT/ipv4-linktype228.expected.tsv"
    cp "$OUT/ipv4-basic.expected.tsv" "$OUT/ipv4-bigendian.expected.tsv"
    cp "$OUT/ipv6-basic.expected.tsv" "$OUT/ipv6-linktype229.expected.tsv"
    for f in null loop; do
        { cat "$OUT/ipv4-basic.expected.tsv"; tail -n +2 "$OUT/ipv6-basic.expected.tsv"; } > "$OUT/$f.expected.tsv"
    done
fi

# ------------------------------------------------------------ tshark counts
if command -v tshark >/dev/null; then
    log tshark-fields.tsv
    "$PY" "$HERE/tshark_fields.py" "$OUT"/*.pcap "$OUT"/*.pcapng > "$OUT/tshark-fields.tsv"
    log tshark-counts.tsv
    {
        echo "# frames=\$(tshark -r F | wc -l); tcp_frames=\$(tshark -r F -Y tcp | wc -l); tcp_conversations=\$(tshark -r F -q -z conv,tcp | grep -c '<->')"
        printf 'file\tframes\ttcp_frames\ttcp_conversations\n'
        for f in "$OUT"/*.pcap "$OUT"/*.pcapng; do
            [ -e "$f" ] || continue
            printf '%s\t%s\t%s\t%s\n' "$(basename "$f")" \
                "$(tshark -r "$f" 2>/dev/null | wc -l)" \
                "$(tshark -r "$f" -Y tcp 2>/dev/null | wc -l)" \
                "$(tshark -r "$f" -q -z conv,tcp 2>/dev/null | grep -c '<->')"
        done
    } > "$OUT/tshark-counts.tsv"
fi
log done
