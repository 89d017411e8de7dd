#!/usr/bin/env bash
# A Teredo server and a relay on one host (RFC 4380 §5.4.3, S-21: a server able to act as
# a relay, here as a second daemon), as an operator runs them with the templated
# unit (shipwormd@server, shipwormd@relay; issue 12: "one host running a server and a
# relay is common"), each with its kernel fast path (issue 10): the server's XDP program
# and the relay's tc programs share the host's one IPv4 interface. Both roles must work
# side by side, either daemon's stop must leave the other's programs and service alone,
# and what an operator gets wrong on such a host (a relay on the server's port or on the
# other's interface name, an address the host lacks, IPv6 forwarding off) must be said.
#
#   srv  shipworm server 198.51.100.10/.11:3544 and shipworm relay 198.51.100.10:3545,
#        2001:db8:1::10; the native host v6host routes 2001::/32 to it
#   c1   shipworm client behind a full-cone NAT (198.51.100.21)
#   c2   Miredo client behind Linux's default masquerade (198.51.100.22)
set -u
. "$(dirname "$0")/lab.sh"
LAB_ID=${LAB_ID:-swo$$}

lab_init
lab_internet
lab_exec v6host ip -6 route replace 2001::/32 via 2001:db8:1::10
lab_nat 1 fullcone 198.51.100.21
lab_nat 2 masquerade 198.51.100.22
# The server's XDP program forwards bubbles where IPv4 forwarding is on (test_server.sh);
# the relay forwards IPv6 once the operator turns it on (below).
lab_exec srv sysctl -qw net.ipv4.conf.eth0.forwarding=1
lab_exec srv sysctl -qw net.ipv6.conf.all.forwarding=0

ssock=$LAB_TMP/run/server.sock
rsock=$LAB_TMP/run/relay.sock
# The two daemons run with what the templated unit gives them, as every lab daemon does
# (lab_shipwormd): its capability bounding set (the fast path's programs load within it
# or not at all) and no_new_privs.
start_server() { lab_shipwormd srv server "ServerBindAddress 198.51.100.10"; }
start_relay() { lab_shipwormd srv relay "$(printf 'RelayType cone\nInterfaceName teredo\nBindAddress 198.51.100.10\nBindPort 3545')"; }
# stop NAME: SIGTERM that one of the host's two daemons, wait for it to exit, and fail
# on a sanitizer's report in its log.
stop() {
	local pid p
	for p in $(lab_pids srv shipwormd); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "-c $LAB_TMP/$1.conf " && pid=$p
	done
	[ -n "${pid:-}" ] || { echo "no shipwormd runs $1.conf"; return 1; }
	kill -TERM "$pid" && lab_wait 10 sh -c "! kill -0 $pid 2>/dev/null" &&
		! grep -E 'Sanitizer|runtime error' "$LAB_TMP/$1.log"
}
check "the server starts" start_server
# A relay with the default port (3544, every address) would share the server's port:
# the two sockets would split the traffic and the relay would send from the server's
# address. It refuses to start and says why, and leaves nothing behind.
printf 'RelayType cone\nInterfaceName teredo\n' >"$LAB_TMP/clash.conf"
lab_exec srv timeout 10 "$SHIPWORMD" -f -c "$LAB_TMP/clash.conf" -s "$LAB_TMP/run/clash.sock" >"$LAB_TMP/clash.log" 2>&1
check_eq "a relay on the server's port refuses to start" "$?" 1
check "... saying another daemon holds the port" grep -q 'cannot bind UDP port 3544 (BindAddress/BindPort): Address already in use (another daemon on this host holds that port' "$LAB_TMP/clash.log"
check "... leaving no tunnel interface and no filter" sh -c "! ip -n $(lab_ns srv) link show dev teredo 2>/dev/null && ! tc -n $(lab_ns srv) filter show dev eth0 ingress | grep -q ."
# A server given an address the host does not have says so.
printf 'ServerBindAddress 198.51.100.98\n' >"$LAB_TMP/notours.conf"
lab_exec srv timeout 10 "$SHIPWORMD" -f -c "$LAB_TMP/notours.conf" -s "$LAB_TMP/run/notours.sock" >"$LAB_TMP/notours.log" 2>&1
check_eq "a server on an address the host does not have refuses to start" "$?" 1
check "... saying so" grep -q 'cannot bind UDP 198.51.100.98:3544 (ServerBindAddress): Cannot assign requested address (no interface of this host has that address)' "$LAB_TMP/notours.log"
check "a relay starts beside it on the same host and address, on its own port" start_relay
# R-01: with IPv6 forwarding off nothing would cross the relay; it says so, in its log
# and its status, and notices when the operator turns it on.
check "the relay warns that IPv6 forwarding is off" grep -q 'IPv6 forwarding is off (net.ipv6.conf.all.forwarding = 0)' "$LAB_TMP/relay.log"
check "... and its status says so" sh -c "'$SHIPWORM' -s '$rsock' status | grep -qx 'ipv6_forwarding: no'"
lab_exec srv sysctl -qw net.ipv6.conf.all.forwarding=1
check "... and then that it is on" sh -c "'$SHIPWORM' -s '$rsock' status | grep -qx 'ipv6_forwarding: yes'"
# A second relay on a port of its own but the first one's interface name is refused too.
printf 'RelayType cone\nInterfaceName teredo\nBindAddress 198.51.100.10\nBindPort 3546\n' >"$LAB_TMP/clash2.conf"
lab_exec srv timeout 10 "$SHIPWORMD" -f -c "$LAB_TMP/clash2.conf" -s "$LAB_TMP/run/clash2.sock" >"$LAB_TMP/clash2.log" 2>&1
check_eq "a second relay on the first one's interface name refuses to start" "$?" 1
check "... saying another daemon has that interface" grep -q 'cannot create tunnel interface teredo: Device or resource busy (another daemon on this host' "$LAB_TMP/clash2.log"
lab_shipworm_client c1 198.51.100.10
lab_miredo_client c2 198.51.100.10

declare -A addr
for n in 1 2; do
	lab_wait 20 lab_has_teredo_addr "c$n"
	addr[$n]=$(lab_teredo_addr "c$n")
	check "client c$n qualifies with the server (${addr[$n]:-no address})" test -n "${addr[$n]}"
done
a1=${addr[1]:-2001::1} a2=${addr[2]:-2001::2}

check "shipworm client pings the native host through the relay on the server's host" lab_ping6 c1 2001:db8:1::100
check "Miredo client pings the native host through it" lab_ping6 c2 2001:db8:1::100
check "the native host pings the shipworm client" lab_ping6 v6host "$a1"
check "the native host pings the Miredo client" lab_ping6 v6host "$a2"
check "the clients reach each other through the server's bubbles" lab_ping6 c1 "$a2"
lab_iperf_server v6host iperf3
mbit=$(lab_iperf c1 2001:db8:1::100)
check "the shipworm client carries TCP through the relay (${mbit:-0} Mbit/s)" test -n "$mbit"
check "the relay's log says when forwarding came on (its 10-s look)" lab_wait 12 grep -q 'IPv6 forwarding is on: relaying' "$LAB_TMP/relay.log"

xdpid() { ip -n "$(lab_ns srv)" link show dev eth0 | sed -nE 's/.*prog\/xdp id ([0-9]+).*/\1/p'; }
tcid() { lab_exec srv tc filter show dev eth0 ingress | sed -nE 's/.* id ([0-9]+) name teredo_in.*/\1/p'; }
onpath=1
[ "${LAB_FASTPATH:-auto}" = off ] && onpath=0
if [ $onpath = 1 ]; then
	check "the server's fast path is on: XDP on the shared interface" sh -c "'$SHIPWORM' -s '$ssock' status | grep -q '^fast_path: on (xdp'"
	check "the relay's fast path is on: tc on the same interface" sh -c "'$SHIPWORM' -s '$rsock' status | grep -q '^fast_path: on'"
	check "the server's XDP program answered the clients' solicitations" test "$(lab_counter "$ssock" fastpath_rs_answered)" -gt 0
	check "the relay's programs carried the data each way" sh -c "test $(lab_counter "$rsock" fastpath_in_decapsulated) -gt 0 && test $(lab_counter "$rsock" fastpath_out_encapsulated) -gt 0"
	check "the relay's programs are on their hooks" sh -c "'$SHIPWORM' -s '$rsock' status | grep -qx 'fast_path_in_attached: yes'"
fi

# The relay stops: the server's program stays, the server still qualifies clients.
xdp=$(xdpid)
check "the relay stops" stop relay
check "and takes its own filter away" sh -c "! tc -n $(lab_ns srv) filter show dev eth0 ingress | grep -q teredo_in"
check_eq "the server's XDP program is still on the interface" "$(xdpid)" "$xdp"
lab_kill_wait c1 shipwormd
lab_shipworm_client c1 198.51.100.10
check "the server still qualifies a client after the relay stopped" lab_wait 20 lab_has_teredo_addr c1
a1=$(lab_teredo_addr c1)
check "and its clients still reach each other" lab_ping6 c1 "$a2"

# The server stops: the relay's programs stay, its clients keep their native traffic
# (a trusted peer needs no server for data, RFC 4380 §5.4.2).
check "the relay starts again" start_relay
check "the shipworm client pings the native host again" lab_ping6 c1 2001:db8:1::100
tc=$(tcid)
check "the server stops" stop server
check "and takes its XDP program away" sh -c "! ip -n $(lab_ns srv) link show dev eth0 | grep -q xdp"
check_eq "the relay's filter is still on the interface" "$(tcid)" "$tc"
check "the relay still carries the client's traffic without the server" lab_ping6 c1 2001:db8:1::100
if [ $onpath = 1 ]; then
	before=$(lab_counter "$rsock" fastpath_in_decapsulated)
	lab_ping6 c1 2001:db8:1::100 >/dev/null
	check "through its fast path" test "$(lab_counter "$rsock" fastpath_in_decapsulated)" -gt "$before"
fi
lab_summary
