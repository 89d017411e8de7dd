#!/usr/bin/env bash
# Malformed and adversarial packets over real sockets (issue 5; RFC 4380 §5.1.1, §7;
# SEC-18): every case of `flood -l` is sent REPLAY_COUNT times (default 10) to each
# running role. Each role must count every one of them as a drop (by reason, printed),
# keep serving, and let none of them through: captures on the native host and on the
# client's tunnel look for the flow label every crafted IPv6 header carries (0x5badf).
#
#   srv shipworm server   rel shipworm relay   c1 shipworm client (full-cone NAT)
#   v6host native host    gen the sender; 203.0.113.0/24 is routed to it
set -u
. "$(dirname "$0")/lab.sh"
LAB_ID=${LAB_ID:-swp$$}
FLOOD=$SHIPWORM_TOP/build/lab/flood
K=${REPLAY_COUNT:-10}
MARK='ip6 and (ip6[1] & 0x0f) = 5 and ip6[2] = 0xba and ip6[3] = 0xdf'

lab_init
lab_internet
lab_public gen 198.51.100.50
lab_nat 1 fullcone 198.51.100.21
lab_spoof_routes srv rel nat1

check "shipworm server starts" lab_shipworm_server srv 198.51.100.10
check "shipworm relay starts" lab_shipworm_relay rel
lab_shipworm_client c1 198.51.100.10
lab_wait 25 lab_has_teredo_addr c1
a1=$(lab_teredo_addr c1)
check "client c1 qualifies ($a1)" test -n "$a1"
check "c1 reaches the native host" lab_ping6 c1 2001:db8:1::100
port=$(lab_nat_mapping 1 198.51.100.10 3544 "$(lab_client_port c1)")

# Captures on the far sides, bounded in time and count (not through lab_exec, so that
# $! is the capture itself and can be stopped).
ip netns exec "$(lab_ns v6host)" timeout 300 tcpdump -i eth0 -n -U -c 10000 -w "$LAB_TMP/v6host.pcap" "$MARK" 2>"$LAB_TMP/cap1.err" &
cap1=$!
ip netns exec "$(lab_ns c1)" timeout 300 tcpdump -i teredo -n -U -c 10000 -w "$LAB_TMP/c1tun.pcap" "$MARK" 2>"$LAB_TMP/cap2.err" &
cap2=$!
LAB_HOST_PIDS+=($cap1 $cap2)
# Both captures are running before anything is sent.
lab_wait 10 grep -q 'listening on' "$LAB_TMP/cap1.err"
lab_wait 10 grep -q 'listening on' "$LAB_TMP/cap2.err"

# drops SOCK: the daemon's drop counters as "reason count" lines.
drops() {
	"$SHIPWORM" -s "$1" status --json | sed -E 's/.*"dropped":\{([^}]*)\}.*/\1/' | tr ',' '\n' | tr -d '"' | tr ':' ' '
}
# delta BEFORE AFTER: "total reason+n ..." of what changed on the UDP side (host_packet_*
# counts what the host's own stack sends into the tunnel, e.g. MLD reports).
delta() {
	awk 'NR == FNR { b[$1] = $2; next } /^host_packet/ { next } { d = $2 - b[$1]; if (d) { t += d; s = s " " $1 "+" d } }
		END { print t + 0 s }' <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}

# replay ROLE SOCK TARGET [FLOOD ARGS]: every case; each must be counted as dropped.
replay() {
	local role=$1 sock=$2 target=$3; shift 3
	local c before after d from
	for c in $("$FLOOD" -l | awk '{ print $1 }'); do
		from=()
		[ "$c" = from-server ] && [ "$role" != server ] && from=(-f 198.51.100.10:3544)
		before=$(drops "$sock")
		lab_exec gen "$FLOOD" -t "$target" -c "$c" -n "$K" "${from[@]}" "$@" >/dev/null
		# Read the counters once the daemon has counted every copy (5 s at most).
		for _ in $(seq 50); do
			after=$(drops "$sock")
			d=$(delta "$before" "$after")
			[ "${d%% *}" -ge "$K" ] && break
			sleep 0.1
		done
		check "$role: $K x $c are dropped (${d#* })" test "${d%% *}" -eq "$K"
	done
	check "$role: shipwormd is still running" test -n "$(lab_pids "${node[$role]}" shipwormd)"
}
declare -A node=([server]=srv [relay]=rel [client]=c1)

replay server "$LAB_TMP/run/shipworm-server-srv.sock" 198.51.100.10:3544 -S 198.51.100.10 -d "$a1"
replay relay "$LAB_TMP/run/shipworm-rel.sock" 198.51.100.30:3544 -S 198.51.100.10 -d "$a1"
replay client "$LAB_TMP/run/shipworm-c1.sock" "198.51.100.21:$port" -S 198.51.100.10 -d "$a1" -6 2001:db8:1::100

sleep 1
count() { tcpdump -r "$1" -n 2>/dev/null | wc -l; }
check_eq "no crafted packet reached the native host" "$(count "$LAB_TMP/v6host.pcap")" 0
check_eq "no crafted packet reached the client's host stack" "$(count "$LAB_TMP/c1tun.pcap")" 0
# The captures' own control: marked packets that rightly pass are seen (ping -F sets
# the same flow label on a real client's and the native host's echo requests).
lab_exec c1 ping -6 -n -c 3 -i 0.2 -W 1 -F 0x5badf 2001:db8:1::100 >/dev/null
lab_exec v6host ping -6 -n -c 3 -i 0.2 -W 1 -F 0x5badf "$a1" >/dev/null
sleep 1
check "control: the native host's capture sees a real client's marked packets" test "$(count "$LAB_TMP/v6host.pcap")" -gt 0
check "control: the client's capture sees the native host's marked packets" test "$(count "$LAB_TMP/c1tun.pcap")" -gt 0
kill -INT $cap1 $cap2 2>/dev/null
wait $cap1 $cap2 2>/dev/null

# The RA rate limit per address (ServerMaxRSRate, default 100/s; SEC-17): 400 packets of
# the server mix from one source, 150 of them RSs, as fast as they go. (After the
# captures: the mix holds echo requests the server rightly forwards to the native host.)
# A third of those RSs carry an option, a form the XDP program (issue 10) leaves to the
# daemon; the two take from one set of buckets, so the address gets the limit once:
# the burst of 100 and what the rate refills while the test runs (one per 10 ms).
ssock=$LAB_TMP/run/shipworm-server-srv.sock
rs_sum() { # NAME-PATTERN: the daemon's counter and its XDP program's, added
	"$SHIPWORM" -s "$ssock" status --json | grep -oE "\"(fastpath_)?$1\":[0-9]+" |
		awk -F: '{ n += $2 } END { print n + 0 }'
}
before=$(rs_sum rs_rate_limited)
answered0=$(rs_sum rs_answered)
t0=$(date +%s%N)
lab_exec gen "$FLOOD" -t 198.51.100.10:3544 -m server -n 400 -s 1 -r 0 >/dev/null
# Until every RS is answered or refused (the daemon reads its share a little later): a
# token bucket gives at most its burst and the rate over that time.
all_handled() { [ $(( $(rs_sum rs_rate_limited) - before + $(rs_sum rs_answered) - answered0 )) -ge 150 ]; }
lab_wait 5 all_handled
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
limited=$(( $(rs_sum rs_rate_limited) - before ))
answered=$(( $(rs_sum rs_answered) - answered0 ))
check "server: RSs beyond 100 from one address are refused ($limited rs_rate_limited, daemon and XDP)" test "$limited" -gt 0
# + 3: the real client's own refreshes in that time.
check "server: one RA limit for the daemon and XDP ($answered of 150 answered in $ms ms, at most $((100 + ms / 10 + 3)))" \
	test "$answered" -le $((100 + ms / 10 + 3))

check "c1 still reaches the native host" lab_ping6 c1 2001:db8:1::100
check "the native host still reaches c1" lab_ping6 v6host "$a1"
check "server stops cleanly, no sanitizer report" lab_stop_clean srv shipworm-server-srv
check "relay stops cleanly, no sanitizer report" lab_stop_clean rel shipworm-rel
check "client stops cleanly, no sanitizer report" lab_stop_clean c1 shipworm-c1
lab_summary
