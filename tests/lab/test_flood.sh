#!/usr/bin/env bash
# Flood resistance (issue 5, RFC 4380 §7.3.5): FLOOD_COUNT packets (default 1,000,000)
# from FLOOD_SOURCES spoofed IPv4 (address, port) pairs (default 100,000) at each role in
# turn, paced at FLOOD_PPS (default 100,000/s). Each role's resident memory is read
# before and after, its tables must stay within their limits, and a ping6 and a TCP
# transfer of a real client are measured before and during the flood. Figures are
# printed; only working/not working is asserted, never a speed.
#
#   srv  shipworm server 198.51.100.10/.11   rel  shipworm relay 198.51.100.30
#   c1   shipworm client behind a full-cone NAT (nat1, 198.51.100.21)
#   c2   shipworm client behind a masquerade NAT, started during the server's flood
#   gen  the attacker at 198.51.100.50; 203.0.113.0/24 (the spoofed sources) is routed
#        to it, so that answers to spoofed sources stay in the lab and die there
#
# The production build runs here (the sanitizer build is ~3x slower under a flood, and
# the malformed packets reach it in test_replay.sh).
set -u
. "$(dirname "$0")/lab.sh"
LAB_ID=${LAB_ID:-swf$$}
SHIPWORMD=${FLOOD_SHIPWORMD:-$SHIPWORM_TOP/build/shipwormd}
FLOOD=$SHIPWORM_TOP/build/lab/flood
N=${FLOOD_COUNT:-1000000}
S=${FLOOD_SOURCES:-100000}
PPS=${FLOOD_PPS:-100000}

lab_init
lab_internet
lab_public gen 198.51.100.50
lab_nat 1 fullcone 198.51.100.21
lab_nat 2 masquerade 198.51.100.22
lab_spoof_routes srv rel nat1 nat2
lab_bg v6host iperf3 iperf3 -s

check "shipworm server starts" lab_shipworm_server srv 198.51.100.10
check "shipworm relay starts" lab_shipworm_relay rel
lab_shipworm_client c1 198.51.100.10
lab_wait 25 lab_has_teredo_addr c1
a1=$(lab_teredo_addr c1)
check "client c1 qualifies ($a1)" test -n "$a1"
check "c1 reaches the native host before any flood" lab_ping6 c1 2001:db8:1::100

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$(lab_pids "$1" shipwormd | head -n 1)/status"; }
json() { "$SHIPWORM" -s "$1" status --json; }
field() { sed -E "s/.*\"$2\":([0-9]+).*/\1/" <<<"$1"; }

# measure LABEL: c1's ping6 loss and TCP rate, printed and stored. The ping goes to the
# relay's own native address: the native host answers the flood's echo requests too, and
# Linux's global ICMP rate limit would make its losses, not ours.
measure() {
	local loss mbit
	loss=$(lab_exec c1 ping -6 -n -c 20 -i 0.1 -W 1 -w 8 2001:db8:1::30 2>/dev/null |
		sed -nE 's/.* ([0-9.]+)% packet loss.*/\1/p')
	mbit=$(lab_iperf c1 2001:db8:1::100 4M)
	echo "# $1: ping6 loss ${loss:-100}%, TCP ${mbit:-0} Mbit/s"
	m_loss=${loss:-100}
	m_mbit=${mbit:-0}
}

# Packets the kernel dropped at its per-CPU input backlogs (every veth hop of every
# namespace queues there; /proc/net/softnet_stat's second column): where a lab whose
# hosts share two CPUs loses packets that real hosts, each with its own, would not.
backlog_drops() {
	local s=0 cpu dropped rest
	while read -r cpu dropped rest; do s=$((s + 16#$dropped)); done </proc/net/softnet_stat
	echo "$s"
}

# flood_role NODE NAME SOCK TARGET MIX [FLOOD ARGS]: warm up with 5% of the flood (it
# touches every buffer once), then the whole flood with measurements during it.
flood_role() {
	local node=$1 sock=$3 target=$4 mix=$5; shift 5
	local r0 r1 r2 st out
	local from=${FLOODER:-gen} label=${LABEL:-$mix}
	[ "$target" = - ] || set -- -t "$target" "$@"
	# c1 keeps talking through the relay all along, as a client in use does: under a
	# slower flood (9,500 packets/s in a 6.1 guest under emulation: 110 s a pass) an idle
	# c1 would leave the relay's table by its 60 s sweep, which is not what the checks
	# of c1's trust ask about (that a flood displaces no active peer).
	lab_bg c1 keepalive ping -6 -n -q -i 1 -w 900 2001:db8:1::30
	local t0=$EPOCHREALTIME
	r0=$(rss_kib "$node")
	lab_exec "$from" "$FLOOD" -m "$mix" -n $((N / 20)) -s "$S" -r "$PPS" "$@" >/dev/null
	sleep 1
	r1=$(rss_kib "$node")
	measure "$label: before the flood"
	local b_loss=$m_loss b_mbit=$m_mbit r1m
	r1m=$(rss_kib "$node")
	local d0
	d0=$(backlog_drops)
	lab_exec "$from" "$FLOOD" -m "$mix" -n "$N" -s "$S" -r "$PPS" "$@" >"$LAB_TMP/flood.out" &
	local fpid=$!
	sleep 1
	measure "$label: during the flood"
	[ -n "${ON_FLOOD:-}" ] && $ON_FLOOD
	wait $fpid
	kill "$(cat "$LAB_TMP/keepalive.pid")" 2>/dev/null
	wait "$(cat "$LAB_TMP/keepalive.pid")" 2>/dev/null
	# Whole seconds from the warm-up's start to the flood's end, rounded up.
	FLOOD_SECS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { s = b - a; print int(s) + (s > int(s)) }')
	out=$(cat "$LAB_TMP/flood.out")
	echo "# $label flood: $out; the kernel's input backlogs dropped $(($(backlog_drops) - d0)) packets meanwhile"
	sleep 1
	r2=$(rss_kib "$node")
	st=$(json "$sock")
	echo "# $label: RSS ${r0} KiB at start, ${r1} KiB after warm-up, ${r1m} KiB after the measurement before the flood, ${r2} KiB after the flood"
	echo "# $label status: $st"
	check "$label: the flood went out whole ($out)" grep -q "^sent $N packets" "$LAB_TMP/flood.out"
	check "$label: shipwormd survives $N packets from $S sources" test -n "$(lab_pids "$node" shipwormd)"
	check "$label: resident memory stays flat (${r1} -> ${r2} KiB, limit +1024)" test "$r2" -le $((r1 + 1024))
	check "$label: the control socket still answers" test -n "$st"
	check "$label: c1's ping6 gets answers during the flood (loss ${m_loss}% vs ${b_loss}% before)" \
		awk -v l="$m_loss" 'BEGIN { exit !(l < 100) }'
	check "$label: c1's TCP transfer completes during the flood (${m_mbit} vs ${b_mbit} Mbit/s before)" \
		awk -v m="$m_mbit" 'BEGIN { exit !(m > 0) }'
	FLOOD_STATUS=$st
}

# limits STATUS: every table within its bound.
limits() {
	local st=$1
	[ "$(field "$st" peers)" -le "$(field "$st" peers_max)" ] &&
		[ "$(field "$st" queued_packets)" -le "$(field "$st" queued_packets_max)" ] &&
		[ "$((\
			$(field "$st" pending_bubbles) + $(field "$st" pending_tests)))" -le "$(field "$st" pending_max)" ]
}

# --- the server: RSs, bubbles and echo requests from spoofed clients, garbage ---------
ssock=$LAB_TMP/run/shipworm-server-srv.sock
start_c2() {
	local t0=$SECONDS
	lab_shipworm_client c2 198.51.100.10
	lab_wait 20 lab_has_teredo_addr c2
	C2_ADDR=$(lab_teredo_addr c2)
	echo "# c2 qualified during the server's flood in $((SECONDS - t0)) s: ${C2_ADDR:-no address}"
}
ON_FLOOD=start_c2 flood_role srv server "$ssock" 198.51.100.10:3544 server -S 198.51.100.10 -6 2001:db8:1::100
check "server: a new client qualifies during the flood" test -n "${C2_ADDR:-}"
# The daemon's and its XDP program's (issue 10) answers together; the program drops what
# the per-address RA limit refuses, as the daemon would.
xdp_rs=$(grep -q '"fastpath_rs_answered"' <<<"$FLOOD_STATUS" && field "$FLOOD_STATUS" fastpath_rs_answered || echo 0)
check "server: RSs were answered (the flood's RAs go to the spoofed sources; $xdp_rs by XDP)" \
	test $(($(field "$FLOOD_STATUS" rs_answered) + xdp_rs)) -gt 0
check "server: malformed packets were counted" test "$(field "$FLOOD_STATUS" malformed)" -gt 0
check "server: mismatched sources were counted" test "$(field "$FLOOD_STATUS" teredo_source_mismatch)" -gt 0

# --- the relay: bubbles and echo requests that create peers, mismatches, garbage -------
rsock=$LAB_TMP/run/shipworm-rel.sock
peers_before=$(field "$(json "$rsock")" peers)
flood_role rel relay "$rsock" 198.51.100.30:3544 relay -S 198.51.100.10 -6 2001:db8:1::100
check "relay: its tables stay within their limits" limits "$FLOOD_STATUS"
# R-12: clients the relay never sent to are taken at RelayAcceptUnknown's rate (1000/s,
# a burst of as many), so the spoofed ones create little state and little reaches the
# native side, whatever the flood's pace: at most 1000 a second of the warm-up and the
# flood (entries the 60 s sweep removed meanwhile only lower the count).
new=$(( $(field "$FLOOD_STATUS" peers) - peers_before ))
check "relay: spoofed new clients were taken at 1000/s at most ($new in $FLOOD_SECS s, $(field "$FLOOD_STATUS" unknown_peer) unknown_peer)" \
	test "$new" -le $((1000 * (FLOOD_SECS + 1))) -a "$(field "$FLOOD_STATUS" unknown_peer)" -gt 0
check "relay: mismatched sources were counted" test "$(field "$FLOOD_STATUS" teredo_source_mismatch)" -gt 0
check "relay: c1 is still a trusted peer" sh -c "'$SHIPWORM' -s '$rsock' peer '$a1' | grep -q 'trusted: yes'"

# --- the relay from the native side: packets to 100,000 Teredo clients that do not
# exist, each a new peer with a queued packet and a bubble exchange to start, from
# sources spread over 200 /64s (an attacker with many networks: R-14's per-source
# limit, RelayNewPeersPerSource, holds each to 1000 new peers a second, 200,000 in all,
# more than the flood's 100,000, so the whole flood reaches the tables) ---------------
# c2 has never talked to the native host: it is a new client for the relay, whose pool
# and pending list the flood keeps full.
ping_c2() {
	C2_LOSS=$(lab_exec c2 ping -6 -n -c 10 -i 0.2 -W 1 -w 8 2001:db8:1::100 2>/dev/null |
		sed -nE 's/.* ([0-9.]+)% packet loss.*/\1/p')
	echo "# c2, new to the relay, pings the native host during its flood: loss ${C2_LOSS:-100}%"
}
ON_FLOOD=ping_c2 FLOODER=v6host LABEL="relay (native side)" flood_role rel relay "$rsock" - native -S 198.51.100.10 -6 2001:db8:1::100 -P 200
check "relay (native side): a new client gets through during the flood (loss ${C2_LOSS:-100}%)" \
	awk -v l="${C2_LOSS:-100}" 'BEGIN { exit !(l < 100) }'
if [ "${C2_LOSS:-100}" = 100 ]; then
	# Seen in make check on 2026-11-29 and in CI on 2026-11-30: where the exchange stood.
	echo "# c2's status: $(lab_sw c2 status --json)"
	echo "# c2's entry for the native host: $(lab_sw c2 peer 2001:db8:1::100 | tr '\n' ' ')"
	echo "# the relay's entry for c2: $("$SHIPWORM" -s "$rsock" peer "${C2_ADDR:-::}" | tr '\n' ' ')"
	echo "# the server's status: $(json "$ssock")"
	tail -n 20 "$LAB_TMP/shipworm-c2.log" | sed 's/^/# c2 log: /'
	# Where datagrams died for want of a reader: each namespace's UDP receive errors.
	echo "# rel teredo: $(lab_exec rel ip -s link show teredo | tr -s ' \n' ' ')"
	for n in srv rel nat2 c2 v6host; do
		echo "# $n: $(lab_exec "$n" nstat -asz UdpRcvbufErrors UdpInErrors Udp6RcvbufErrors Udp6InErrors 2>/dev/null |
			awk 'NR > 1 { printf "%s=%s ", $1, $2 }')"
	done
fi
check "relay (native side): its tables stay within their limits" limits "$FLOOD_STATUS"
echo "# relay (native side): pending $(field "$FLOOD_STATUS" pending_bubbles)/$(field "$FLOOD_STATUS" pending_max), pending list full $(field "$FLOOD_STATUS" pending_full) times, queued $(field "$FLOOD_STATUS" queued_packets)/$(field "$FLOOD_STATUS" queued_packets_max), $(field "$FLOOD_STATUS" queue_drops) queue drops"
check "relay (native side): the pending list hit its limit and said so" test "$(field "$FLOOD_STATUS" pending_full)" -gt 0
# SEC-06, R-09: the full pool gave its oldest packets (for clients that never answered)
# to newer exchanges, c2's first echo reply among them.
check "relay (native side): the full pool gave its oldest packets to newer exchanges ($(field "$FLOOD_STATUS" queue_replaced))" \
	test "$(field "$FLOOD_STATUS" queue_replaced)" -gt 0
check "relay (native side): c1 is still a trusted peer" sh -c "'$SHIPWORM' -s '$rsock' peer '$a1' | grep -q 'trusted: yes'"
# The flood left the table with tens of thousands of entries, hundreds of 64 KiB
# answers' worth: `shipworm peers` lists them all, a page per request, as one document
# (valid JSON, each address once, "listed" what it holds; in text the same count), next
# to the table's count (entries the sweep removes while it lists may be missing).
whole_table() {
	"$SHIPWORM" -s "$rsock" peers --json >"$LAB_TMP/peers.json" && "$SHIPWORM" -s "$rsock" peers >"$LAB_TMP/peers.txt" &&
		/usr/bin/python3 - "$LAB_TMP/peers.json" "$LAB_TMP/peers.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
addrs = [p["address"] for p in d["peers"]]
text = open(sys.argv[2]).read().splitlines()
in_text = sum(1 for l in text if l.startswith("    address: "))
listed_text = int([l for l in text if l.startswith("listed: ")][-1].split()[1])
print(f"{d['listed']} of {d['count']} in JSON, {in_text} in text")
sys.exit(not (d["listed"] == len(addrs) == len(set(addrs)) and d["listed"] > 5000 and
              0.9 * d["count"] <= d["listed"] <= d["count"] + 100 and
              listed_text == in_text and abs(in_text - d["listed"]) <= d["count"] // 10))
PY
}
listing=$(whole_table)
listed=$?
check "relay (native side): shipworm peers lists the whole table, page by page (${listing:-nothing})" test "$listed" = 0

# --- R-14: the same from one source: held to RelayNewPeersPerSource (1000) new peers a
# second, so that one host can neither turn the table over nor make the relay reflect
# its flood at a Teredo server, one bubble per packet. 200,000 packets at 100,000/s, to
# addresses that name the server's second address (none of them in the table yet).
st0=$(json "$rsock")
out=$(lab_exec v6host "$FLOOD" -m native -n 200000 -s 100000 -r 100000 -S 198.51.100.11 -6 2001:db8:1::100)
st1=$(json "$rsock")
limited=$(($(field "$st1" new_peer_limited) - $(field "$st0" new_peer_limited)))
made=$(($(field "$st1" bubbles_sent) - $(field "$st0" bubbles_sent)))
secs=$(sed -nE 's/.* in ([0-9]+)\.[0-9]+ s .*/\1/p' <<<"$out")
echo "# relay (one native source): $out; $limited refused a new peer, $made bubbles sent"
# Each address comes twice: a new peer allowed (a burst of 1000, then 1000 a second)
# takes its second packet too. Whatever the flood's pace, at most 4000 a second go.
check "relay (one native source): held to its rate of new peers ($limited of 200000 refused)" \
	test "$limited" -ge $((200000 - 4000 * (${secs:-9} + 1)))
check "relay (one native source): c1 is still a trusted peer" sh -c "'$SHIPWORM' -s '$rsock' peer '$a1' | grep -q 'trusted: yes'"

# --- the client: through its full-cone NAT's hole ----------------------------------
csock=$LAB_TMP/run/shipworm-c1.sock
port=$(lab_nat_mapping 1 198.51.100.10 3544 "$(lab_client_port c1)")
check "c1's NAT mapping is known (${port:-none})" test -n "$port"
flood_role c1 client "$csock" "198.51.100.21:${port:-3544}" client -S 198.51.100.10 -d "$a1"
check "client: its tables stay within their limits" limits "$FLOOD_STATUS"
check "client: the flood created and evicted peers ($(field "$FLOOD_STATUS" peers_evicted) evicted)" \
	test "$(field "$FLOOD_STATUS" peers_evicted)" -gt 0
check "client: is still qualified with the same address" test "$(lab_teredo_addr c1)" = "$a1"

for n in srv rel c1; do
	check "$n: still unprivileged and sandboxed after the floods" lab_privileges "$n" "$([ $n = c1 ] && echo 1000 || echo 0)"
done
check "server stops cleanly" lab_stop_clean srv shipworm-server-srv
check "relay stops cleanly" lab_stop_clean rel shipworm-rel
check "client stops cleanly" lab_stop_clean c1 shipworm-c1
lab_summary
