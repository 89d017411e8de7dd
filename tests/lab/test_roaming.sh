#!/usr/bin/env bash
# A client that lives on a laptop (issue 11): server fail-over between the addresses a
# name resolves to, a move from one NAT to another, and a network that goes away and
# comes back. Each time is measured and printed; none is judged.
#
#   srv   shipworm's server, 198.51.100.10/.11     srvb  Miredo's server, 198.51.100.14/.15
#   c1    shipworm client behind nat1 (home router), ServerAddress teredo.lab.example,
#         which its own /etc/hosts (a private mount namespace) resolves to both servers
#   c2    shipworm client behind nat2 (home router); nat3 (home router) waits for it
#   c5    shipwormd Mode auto behind nat5 (home router), Miredo's server: a client until
#         the host gets native IPv6 (a global address and a default route on a link of its
#         own), a host-specific relay while it has it
#   c4    shipworm client of Miredo's server behind nat4, a home router that forgets idle
#         UDP after 8 s (an nftables conntrack timeout policy), RefreshInterval 12,
#         RefreshMinimum 3
#   c6    shipworm client of Miredo's server behind nat6, which forgets idle UDP after
#         5 s, in dormant mode (Dormant yes, DormantIdle 10)
# The moves come first: the fail-over stops the server c2 uses too.
set -u
. "$(dirname "$0")/lab.sh"
LAB_ID=${LAB_ID:-swr$$}

lab_init
lab_internet
lab_shipworm_server srv 198.51.100.10 >/dev/null
lab_public srvb 198.51.100.14 198.51.100.15
lab_v6 srvb 2001:db8:1::14
lab_miredo_server srvb 198.51.100.14
lab_shipworm_relay rel >/dev/null
lab_nat 1 homerouter 198.51.100.101
lab_nat 2 homerouter 198.51.100.102
lab_nat 3 homerouter 198.51.100.103
# udp_forgets N SECONDS: NAT n forgets an idle UDP mapping after SECONDS (an nftables
# conntrack timeout policy for every new UDP flow).
udp_forgets() {
	lab_exec "nat$1" nft -f - <<NFT
table ip lab {
	ct timeout udp$2 { protocol udp; l3proto ip; policy = { unreplied : $2, replied : $2 }; }
	chain ctt { type filter hook prerouting priority filter; meta l4proto udp ct state new ct timeout set "udp$2"; }
}
NFT
}
lab_nat 4 homerouter 198.51.100.104
udp_forgets 4 8
lab_nat 5 homerouter 198.51.100.105
lab_nat 6 homerouter 198.51.100.106
udp_forgets 6 5
lab_shipworm_client c6 198.51.100.14 "$(printf 'Dormant yes\nDormantIdle 10\nRefreshDiscovery no')" >/dev/null
# Under a 1 s systemd watchdog, which the supervisor answers (NotifyAccess=main).
lab_notify c5 4
export WATCHDOG_USEC=1000000
lab_shipwormd c5 shipworm-c5 "$(printf 'Mode auto\nServerAddress 198.51.100.14\nInterfaceName teredo')"
unset WATCHDOG_USEC
# Its search (RFC 4380 §5.2.7) takes about a minute: it runs beside the rest.
lab_shipworm_client c4 198.51.100.14 "$(printf 'RefreshInterval 12\nRefreshMinimum 3')" >/dev/null

# c1 resolves the name through its own hosts file: two addresses, two candidates.
printf '198.51.100.10 teredo.lab.example\n198.51.100.14 teredo.lab.example\n' >"$LAB_TMP/hosts"
printf 'RelayType client\nServerAddress teredo.lab.example\nInterfaceName teredo\nRefreshInterval 10\n' \
	>"$LAB_TMP/shipworm-c1.conf"
lab_bg c1 shipworm-c1 unshare -m sh -c 'mount --make-rprivate / && mount --bind "$1" /etc/hosts &&
	exec "$2" -f -c "$3" -s "$4"' sh "$LAB_TMP/hosts" "$SHIPWORMD" "$LAB_TMP/shipworm-c1.conf" \
	"$LAB_TMP/run/shipworm-c1.sock"
lab_wait 10 test -S "$LAB_TMP/run/shipworm-c1.sock"
lab_shipworm_client c2 198.51.100.10 >/dev/null
lab_wait 30 lab_has_teredo_addr c1
lab_wait 30 lab_has_teredo_addr c2

st() { lab_sw "$1" status --json | sed -nE "s/.*\"$2\":\"?([^\",}]*)\"?.*/\1/p"; }
servers() { lab_sw "$1" status --json | sed -nE 's/.*"servers":\[([^]]*)\].*/\1/p' | tr -d '"'; }
ms() { date +%s%3N; }
# ping_ok NODE: one echo to the native host, within a second.
ping_ok() { lab_exec "$1" ping -6 -n -c 1 -W 1 2001:db8:1::100 >/dev/null 2>&1; }
check "c1: the name gave two candidates ($(servers c1))" test "$(servers c1)" = "198.51.100.10,198.51.100.14"
check "c1 qualified with the first one" test "$(st c1 server)" = 198.51.100.10
check "c1 reaches the native host" ping_ok c1
check_eq "the refresh interval in use is the configured one" "$(st c1 refresh_interval_ms) $(st c1 refresh_interval_from)" "10000 configuration"

# A move to another NAT: a new link to nat3's LAN, the old one removed.
mapped_on() { case "$(st c2 mapped)" in "$1":*) ping_ok c2 ;; *) return 1 ;; esac; }
t=$(ms)
lab_link nat3 l-c2b c2 eth1
lab_exec nat3 ip link set l-c2b master lan0
lab_exec c2 ip addr add 10.3.0.5/24 dev eth1
lab_exec c2 ip link del eth0
lab_exec c2 ip route add default via 10.3.0.1
check "c2 moved to nat3 and its new address works" lab_wait 30 mapped_on 198.51.100.103
echo "# network change: traffic from c2's new address $(($(ms) - t)) ms after the move began"
check "the log says why (network changed)" grep -q "network changed: to the server from 10.3.0.5 via 10.3.0.1" "$LAB_TMP/shipworm-c2.log"
check "the change was counted" test "$(lab_counter "$LAB_TMP/run/shipworm-c2.sock" network_changes)" -ge 1
# Issue 10: the kernel fast path moved with the route: its ingress filter is on eth1 now
# (moved by the unprivileged daemon itself), and carries c2's traffic there.
if [ "${LAB_FASTPATH:-auto}" != off ]; then
	check "c2's fast path followed it to eth1" grep -q '^fast_path: on (tc ingress eth1, tc egress teredo)' \
		<<<"$(lab_sw c2 status)"
	d0=$(lab_counter "$LAB_TMP/run/shipworm-c2.sock" fastpath_in_decapsulated)
	decap_grew() {
		ping_ok c2
		[ "$(lab_counter "$LAB_TMP/run/shipworm-c2.sock" fastpath_in_decapsulated)" -ge $((d0 + 3)) ]
	}
	check "... and decapsulates its relay's packets arriving there" lab_wait 10 decap_grew
	check "... its filter is on eth1" sh -c "tc -n $(lab_ns c2) filter show dev eth1 ingress | grep -q teredo_in"
	check "... where its status finds it" grep -q '"fast_path_in_attached":true' <<<"$(lab_sw c2 status --json)"
fi

# No IPv4 route: offline quietly (no RS into the void), back by itself.
lab_exec c2 ip route del default
offline() { [ "$(st c2 state)" = offline-no-network ]; }
check "without a route c2 is offline, waiting for a network" lab_wait 10 offline
# Issue 10 with C-26: offline, the core has forgotten every peer, and the kernel's map
# with it (one reset in the trust journal): the kernel carries nothing the core does
# not know. The map is found through the ingress program's, as bpftool shows them.
if [ "${LAB_FASTPATH:-auto}" != off ]; then
	kmap_entries() { # NODE: entries in its fast path's peer map (-1: not found)
		local m
		for m in $(bpftool prog show id "$(st "$1" fastpath_in_prog_id)" --json |
			sed -nE 's/.*"map_ids":\[([0-9,]*)\].*/\1/p' | tr , ' '); do
			if bpftool map show id "$m" | grep -q ' name peers '; then
				bpftool map dump id "$m" --json | grep -o '"key":\["0x' | wc -l # raw keys only
				return
			fi
		done
		echo -1
	}
	check_eq "... and its kernel map holds no peer" "$(kmap_entries c2)" 0
fi
rs=$(lab_counter "$LAB_TMP/run/shipworm-c2.sock" rs_sent)
sleep 3
check_eq "... and sends no RS meanwhile" "$(lab_counter "$LAB_TMP/run/shipworm-c2.sock" rs_sent)" "$rs"
t=$(ms)
lab_exec c2 ip route add default via 10.3.0.1
check "the route is back: c2 qualifies by itself and reaches the native host" lab_wait 30 mapped_on 198.51.100.103
echo "# network back: traffic again $(($(ms) - t)) ms after the route returned"
# Server fail-over: shipworm's server stops; the next refresh (10 s) fails after its
# three RSs (RFC 4380 §5.2.5, C-13: 4 s each) and c1 qualifies with Miredo's at once.
old=$(lab_teredo_addr c1)
lab_kill_wait srv shipwormd
t=$(ms)
on_b() { [ "$(st c1 server)" = 198.51.100.14 ] && [ "$(st c1 state)" = qualified ]; }
check "after its server stopped, c1 qualified with the other candidate (Miredo's server)" lab_wait 40 on_b
flows() { a=$(lab_teredo_addr c1); [ -n "$a" ] && [ "$a" != "$old" ] && ping_ok c1; }
lab_wait 20 flows
echo "# server fail-over: traffic from c1's new address $(($(ms) - t)) ms after the server stopped (refresh 10 s, then 3 RSs 4 s apart)"
check "... and traffic flows from its new address, which names that server" \
	sh -c "case '$(lab_teredo_addr c1)' in 2001:0:c633:640e:*) exit 0;; *) exit 1;; esac"
check_eq "status: cause and fail-over counted" "$(st c1 state_cause) $(lab_counter "$LAB_TMP/run/shipworm-c1.sock" server_failovers)" "qualified 1"

# Mode auto (C-70, H-02): the client while the host has no native IPv6, the
# host-specific relay while it has, switching both ways without a restart.
mode_is() { [ "$(st c5 mode)" = "$1" ]; }
check "Mode auto without native IPv6: the client ($(st c5 auto))" lab_wait 20 lab_has_teredo_addr c5
check_eq "... says so" "$(st c5 mode)" client
check "its supervisor told systemd it is ready, and pings the watchdog" sh -c \
	"grep -qx 'READY=1' '$LAB_TMP/c5.notify' && [ \$(grep -cx 'WATCHDOG=1' '$LAB_TMP/c5.notify') -ge 3 ]"
t=$(ms)
# (A veth pair inside c5 stands for the native link: this kernel has no dummy driver.)
lab_exec c5 ip link add v6a type veth peer name v6b
lab_exec c5 ip link set v6b up
lab_exec c5 ip link set v6a up
lab_exec c5 ip -6 addr add 2001:db8:5::2/64 dev v6a nodad
lab_exec c5 ip -6 route add default via 2001:db8:5::1 dev v6a
check "native IPv6 appeared: it runs the host-specific relay" lab_wait 20 mode_is host-relay
echo "# Mode auto: host-specific relay $(($(ms) - t)) ms after the host got native IPv6"
host_relay_tunnel() {
	lab_exec c5 ip -6 route show 2001::/32 | grep -q "dev teredo" &&
		! lab_exec c5 ip -6 addr show dev teredo scope global | grep -q inet6
}
check "... 2001::/32 through the tunnel, and no Teredo address on it (H-03)" lab_wait 10 host_relay_tunnel
check_eq "... and says why" "$(st c5 auto)" "native IPv6 (a global address and a default route)"
t=$(ms)
lab_exec c5 ip link del v6a
client_again() { mode_is client && lab_has_teredo_addr c5; }
check "native IPv6 gone: the client again, qualified" lab_wait 30 client_again
echo "# Mode auto: client with a Teredo address again $(($(ms) - t)) ms after native IPv6 went away"
# The role's tunnel interface deleted under it: the role says why and stops (status 1),
# the supervisor starts it again, and it qualifies anew.
t=$(ms)
lab_exec c5 ip link del teredo
check "its tunnel interface deleted, the supervisor starts the client again, qualified" lab_wait 30 client_again
echo "# Mode auto: a new client qualified $(($(ms) - t)) ms after its tunnel interface was deleted"
check "... after the role said why it stopped, and the supervisor that it ended" sh -c \
	"grep -q 'the tunnel interface teredo is gone' '$LAB_TMP/shipworm-c5.log' && grep -q 'auto: the client ended (status 1)' '$LAB_TMP/shipworm-c5.log'"

# A role whose loop stops turning (SIGSTOP stands for a hang) is not seen by systemd's
# watchdog, which the supervisor answers; the role beats to the supervisor instead,
# which, hearing nothing for 10 s (at least twice the watchdog's interval), kills it
# and starts it again.
role_pid() {
	local p pp
	for p in $(lab_pids c5 shipwormd); do
		pp=$(ps -o ppid= -p "$p" | tr -d ' ')
		[ "$(cat "/proc/$pp/comm" 2>/dev/null)" = shipwormd ] && echo "$p"
	done
}
hung=$(role_pid)
t=$(ms)
kill -STOP "$hung"
replaced() { local r; r=$(role_pid); [ -n "$r" ] && [ "$r" != "$hung" ] && client_again; }
check "a role whose loop stopped is killed by its supervisor and started again, qualified" lab_wait 40 replaced
echo "# Mode auto: a new client qualified $(($(ms) - t)) ms after the old one stopped turning"
check "... which said why" grep -q "auto: the client has not turned its loop for 1[0-9] s (pid $hung): killed" \
	"$LAB_TMP/shipworm-c5.log"

# RFC 4380 §5.2.7 (C-60..C-62): c4 found that its NAT forgets sooner than it refreshed.
searched() { [ "$(st c4 refresh_search)" = done ]; }
check "c4's refresh search finished" lab_wait 90 searched
ri=$(st c4 refresh_interval_ms)
echo "# refresh interval search: ${ri} ms behind a NAT that forgets idle UDP after 8 s ($(lab_counter "$LAB_TMP/run/shipworm-c4.sock" refresh_tests) tests, $(lab_counter "$LAB_TMP/run/shipworm-c4.sock" refresh_tests_kept) kept), $(st c4 seconds_since_change) s after qualifying"
check "c4 refreshes more often than its NAT forgets ($ri ms < 8000, $(st c4 refresh_interval_from))" \
	test "$ri" -lt 8000 -a "$(st c4 refresh_interval_from)" = discovered
c4_reached() { lab_exec v6host ping -6 -n -c 3 -i 0.3 -W 2 -w 8 "$(lab_teredo_addr c4)" >/dev/null 2>&1; }
check "... so that a native host still reaches it, idle since (the mapping stayed open)" c4_reached
# Dormant mode (issue 11): c6 has sent nothing since it qualified, so it stopped
# refreshing 10 s later, and its NAT has forgotten the mapping since (5 s).
check_eq "c6 went dormant when the host was idle" "$(st c6 state) $(st c6 state_cause)" "dormant idle"
rs=$(lab_counter "$LAB_TMP/run/shipworm-c6.sock" rs_sent)
echo "# dormant mode: c6 dormant for $(st c6 seconds_since_change) s, $rs RS sent in all since start"
check_eq "... its NAT forgot the mapping (nothing left to refresh it)" "$(lab_nat_mapping 6 198.51.100.14 3544)" ""
a6=$(lab_teredo_addr c6)
check "... the address stays on the interface for the host to write from" test -n "$a6"
t=$(ms)
check "the host's first packet wakes it and is answered (queued, not dropped)" \
	lab_exec c6 ping -6 -n -c 1 -W 8 2001:db8:1::100
echo "# dormant mode: the first echo answered $(($(ms) - t)) ms after the host sent it (one RS to wake, then the relay)"
check_eq "... awake and qualified again, same address" "$(st c6 state) $(lab_teredo_addr c6)" "qualified $a6"
check_eq "... one wake-up, one RS more, nothing lost" \
	"$(lab_counter "$LAB_TMP/run/shipworm-c6.sock" dormant_wakeups) $(lab_counter "$LAB_TMP/run/shipworm-c6.sock" rs_sent) $(lab_counter "$LAB_TMP/run/shipworm-c6.sock" dormant_packets_lost)" \
	"1 $((rs + 1)) 0"
check "c6 stops cleanly" lab_stop_clean c6 shipworm-c6
check "c1 stops cleanly" lab_stop_clean c1 shipworm-c1
[ "${LAB_FASTPATH:-auto}" != off ] &&
	check "c2's fast path raised no alarm while it moved (its filter left with its old interface)" \
		eval "! grep 'no longer on its hook' '$LAB_TMP/shipworm-c2.log'"
check "c2 stops cleanly" lab_stop_clean c2 shipworm-c2
[ "${LAB_FASTPATH:-auto}" != off ] &&
	check "... and its janitor took the moved filter off eth1" lab_wait 5 sh -c "! tc -n $(lab_ns c2) filter show dev eth1 ingress | grep -q teredo_in"
check "c4 stops cleanly" lab_stop_clean c4 shipworm-c4
check "c5 (Mode auto) stops cleanly, its role with it" lab_stop_clean c5 shipworm-c5
check_eq "... no shipwormd left in c5" "$(lab_pids c5 shipwormd)" ""
lab_summary
