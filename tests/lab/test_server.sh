#!/usr/bin/env bash
# Interop with shipworm as the Teredo server (issue: foundation and server), and the
# same scenarios with Miredo's server as the lab's own sanity check.
#
#   test_server.sh shipworm|miredo
#
# Four Debian `miredo` clients: c1 and c2 behind full-cone NATs, c3 and c4 behind Linux's
# default masquerade; a Miredo relay and a native IPv6 host.
set -u
. "$(dirname "$0")/lab.sh"
impl=${1:-shipworm}
LAB_ID=${LAB_ID:-sws$$}

lab_init
lab_internet
lab_nat 1 fullcone 198.51.100.21
lab_nat 2 fullcone 198.51.100.22
lab_nat 3 masquerade 198.51.100.23
lab_nat 4 masquerade 198.51.100.24

echo "# server: $impl"
if [ "$impl" = shipworm ]; then
	# The XDP program (issue 10) forwards bubbles only where the kernel answers its route
	# lookups, i.e. with IPv4 forwarding on for the interface; RAs need nothing.
	lab_exec srv sysctl -qw net.ipv4.conf.eth0.forwarding=1
	lab_notify srv 4
	# ControlGroup by number: the lab creates no users or groups on the machine. The
	# server runs under a 1 s systemd watchdog (WatchdogSec=, as its units set 30 s).
	export WATCHDOG_USEC=1000000
	check "shipwormd starts as a server from a miredo-server.conf" lab_shipworm_server srv 198.51.100.10 "ControlGroup 4243"
	unset WATCHDOG_USEC
	check "the server tells systemd it is ready (READY=1)" lab_wait 10 grep -qx 'READY=1' "$LAB_TMP/srv.notify"
	# Pinged from the daemon's loop, whose wait the watchdog bounds (the server's loop
	# has no timer of its own): three pings, 0.5 s apart, after READY=1.
	check "the server pings systemd's watchdog at half WATCHDOG_USEC" lab_wait 10 \
		sh -c "[ \$(grep -cx 'WATCHDOG=1' '$LAB_TMP/srv.notify') -ge 3 ]"
	check "shipworm metrics of the server parse as Prometheus text (role server)" lab_metrics "$LAB_TMP/run/shipworm-server-srv.sock" server
else
	lab_miredo_server srv 198.51.100.10
fi
lab_miredo_relay rel
for n in 1 2 3 4; do lab_miredo_client "c$n" 198.51.100.10; done

declare -A addr
for n in 1 2 3 4; do
	lab_wait 20 lab_has_teredo_addr "c$n"
	addr[$n]=$(lab_teredo_addr "c$n")
	check "Miredo client c$n qualifies (${addr[$n]:-no address})" test -n "${addr[$n]}"
done

# Each address decodes to this server and to its NAT's public address and port.
for n in 1 2 3 4; do
	[ -n "${addr[$n]}" ] || continue
	dec=$("$SHIPWORM" decode "${addr[$n]}")
	check_eq "c$n address names server 198.51.100.10" "$(awk '/^server:/ { print $2 }' <<<"$dec")" 198.51.100.10
	check_eq "c$n address carries NAT public IPv4" "$(awk '/^mapped IPv4:/ { print $3 }' <<<"$dec")" "198.51.100.2$n"
	check_eq "c$n address carries NAT mapped port" "$(awk '/^mapped port:/ { print $3 }' <<<"$dec")" "$(lab_nat_mapping "$n" 198.51.100.10 3544)"
	check_eq "c$n address has C = 0 (RFC 5991)" "$(awk '/cone \(C\)/ { print $3 }' <<<"$dec")" 0
done

# Full-cone NATs: client to client through the bubbles the server forwards.
if [ -n "${addr[1]}" ] && [ -n "${addr[2]}" ]; then
	check "c1 pings c2 behind full-cone NATs" lab_ping6 c1 "${addr[2]}"
	check "c2 pings c1 behind full-cone NATs" lab_ping6 c2 "${addr[1]}"
fi
# Every client reaches the native host through the Miredo relay.
for n in 1 2 3 4; do
	[ -n "${addr[$n]}" ] && check "c$n pings the native IPv6 host via the relay" lab_ping6 "c$n" 2001:db8:1::100
done

if [ "$impl" = shipworm ]; then
	sock=$LAB_TMP/run/shipworm-server-srv.sock
	st=$("$SHIPWORM" -s "$sock" status --json)
	echo "# $st"
	get() { sed -E "s/.*\"$1\":([0-9]+).*/\1/" <<<"$st"; }
	# The daemon's counters and the XDP program's (issue 10) together.
	fget() { local v; v=$(grep -o "\"$1\":[0-9]*" <<<"$st" | cut -d: -f2); echo "${v:-0}"; }
	check "status counts the RSs answered (>= 4)" test $(($(get rs_answered) + $(fget fastpath_rs_answered))) -ge 4
	check "status counts forwarded UDP (bubbles)" test $(($(get forwarded_udp) + $(fget fastpath_bubbles_forwarded))) -ge 2
	if [ "${LAB_FASTPATH:-auto}" = off ]; then
		check "FastPath off: the status says so" grep -q '"fast_path":"off (FastPath off)"' <<<"$st"
		check "FastPath off: the daemon answered every RS" test "$(get rs_answered)" -ge 4
	else
		check "the fast path is on: XDP on the server's interface" grep -q '"fast_path":"on (xdp generic on eth0)"' <<<"$st"
		check "XDP answered the Miredo clients' RSs ($(fget fastpath_rs_answered))" test "$(fget fastpath_rs_answered)" -ge 4
		check "XDP forwarded their bubbles ($(fget fastpath_bubbles_forwarded))" test "$(fget fastpath_bubbles_forwarded)" -ge 2
		check "an XDP program is on the interface" sh -c "ip -n $(lab_ns srv) link show dev eth0 | grep -q xdpgeneric"
		check_eq "the status gives the XDP program's id" "$(fget fastpath_prog_id)" \
			"$(ip -n "$(lab_ns srv)" link show dev eth0 | sed -nE 's/.*prog\/xdp id ([0-9]+).*/\1/p')"
	fi
	check "status counts forwarded IPv6 (connectivity tests)" test "$(get forwarded_ipv6)" -ge 4
	check "status counts no malformed packets" test "$(get malformed)" -eq 0
	check "status text names the addresses served" sh -c "'$SHIPWORM' -s '$sock' status | grep -q 'primary: 198.51.100.10:3544'"
	check_eq "status gives the daemon's version, as shipwormd -V does" \
		"$(sed -nE 's/.*"version":"([^"]*)".*/\1/p' <<<"$st")" "$("$SHIPWORMD" -V | cut -d' ' -f2)"
	# The control socket (issue 5): root or the ControlGroup only, strict requests.
	ctl() { python3 "$SHIPWORM_TOP/tests/lab/ctlpeer.py" "$sock" "$@"; }
	check_eq "control socket is mode 660, group 4243 (ControlGroup)" "$(stat -c '%a %g' "$sock")" "660 4243"
	check_eq "a user outside the group cannot connect" "$(ctl 4242 4244 'status\n')" EACCES
	check "a member of the group gets the status" sh -c "python3 '$SHIPWORM_TOP/tests/lab/ctlpeer.py' '$sock' 4242 4243 'status\n' | grep -q '^mode: server'"
	# A peer that trickles its request (a byte every 0.15 s) holds no one up while the
	# requests below are answered: the loop never waits for a peer, and refuses and
	# closes it after 2 s (CONTROL_CONN_MS, its own timer; the unterminated request below
	# is refused the same way). Before, the loop waited on each byte, about 9 s for this
	# one, the data path with it, and `shipworm status` meanwhile (which gives up after
	# 5 s now).
	ctl 0 0 "$(printf 'x%.0s' {1..60})\n" 0.15 >"$LAB_TMP/trickle.out" &
	trickle=$!
	sleep 0.5
	check "the control socket answers while a peer trickles its request" sh -c "'$SHIPWORM' -s '$sock' status | grep -q 'mode: server'"
	for bad in 'statu\n' 'status json extra\n' 'status' 'status\x00\n' 'status\nstatus\n' \
		"$(printf 'x%.0s' {1..100})\n" '\xff\xfe\n' 'peers\n'; do
		check "malformed request '$bad' gets an error line" sh -c "python3 '$SHIPWORM_TOP/tests/lab/ctlpeer.py' '$sock' 0 0 '$bad' | grep -q '^error: '"
	done
	check "shipworm status exits 1 with the daemon's reason for peers" sh -c "'$SHIPWORM' -s '$sock' peers 2>&1 | grep -q 'error: a server keeps no peers' && ! '$SHIPWORM' -s '$sock' peers 2>/dev/null"
	check "the control socket still answers after them" sh -c "'$SHIPWORM' -s '$sock' status | grep -q 'mode: server'"
	wait "$trickle"
	check_eq "the trickling peer is cut off after 2 s" "$(cat "$LAB_TMP/trickle.out")" CLOSED
	check "shipwormd is still running" test -n "$(lab_pids srv shipwormd)"
	check "the server runs unprivileged, with no capability" lab_privileges srv 0
	check "shipwormd stops cleanly on SIGTERM, no sanitizer report" lab_stop_clean srv shipworm-server-srv
	check "its control socket is removed" test ! -e "$sock"
	check "no XDP program is left on the interface" sh -c "! ip -n $(lab_ns srv) link show dev eth0 | grep -q xdp"
	if [ "${LAB_FASTPATH:-auto}" != off ]; then
		# A crash: the kernel detaches the program with the daemon's last descriptor.
		lab_shipworm_server srv 198.51.100.10
		lab_wait 10 sh -c "ip -n $(lab_ns srv) link show dev eth0 | grep -q xdpgeneric"
		kill -KILL $(lab_pids srv shipwormd)
		lab_wait 10 lab_no_proc srv shipwormd
		check "after SIGKILL no XDP program is left on the interface" lab_wait 5 sh -c "! ip -n $(lab_ns srv) link show dev eth0 | grep -q xdp"
		# The operator's own XDP program (a DDoS filter in front of the server, say) is
		# there first: an interface runs one, so the server's stays off and says why,
		# leaves the operator's in place, and answers from its socket behind it.
		lab_exec srv ip link set dev eth0 xdpgeneric obj "$SHIPWORM_TOP/build/lab/op_xdp_pass.bpf.o" sec xdp
		xdpid() { ip -n "$(lab_ns srv)" link show dev eth0 | sed -nE 's/.*prog\/xdp id ([0-9]+).*/\1/p'; }
		op=$(xdpid)
		rm -f "$sock" # the killed daemon's: wait for the new one's
		lab_shipworm_server srv 198.51.100.10
		check "with the operator's XDP program on its interface, the server's fast path is off and says why" \
			grep -q '"fast_path":"off (cannot attach XDP to the interface: it has an XDP program already' \
			<<<"$("$SHIPWORM" -s "$sock" status --json)"
		lab_kill_wait c1 miredo
		lab_miredo_client c1 198.51.100.10
		check "... a client qualifies again, the daemon answering behind the operator's program" \
			lab_wait 20 lab_has_teredo_addr c1
		check "... from its socket ($(lab_counter "$sock" rs_answered) RSs answered)" \
			test "$(lab_counter "$sock" rs_answered)" -ge 1
		check "shipwormd stops cleanly, no sanitizer report" lab_stop_clean srv shipworm-server-srv
		check_eq "... leaving the operator's XDP program in place" "$(xdpid)" "$op"
		lab_exec srv ip link set dev eth0 xdpgeneric off
	fi
fi
lab_summary
