#!/usr/bin/env bash
# The relay and the host-specific relay (issue: relay and host-specific relay).
#
#   srv  Miredo server 198.51.100.10/.11      srv2 shipworm server 198.51.100.12/.13
#   rel  shipworm relay 198.51.100.30         v6host native IPv6 host 2001:db8:1::100
#   hr   a dual-stack host 198.51.100.40 / 2001:db8:1::40 with shipworm's host relay
#   c1   Miredo client behind a full-cone NAT, of srv
#   c2   shipworm client behind a masquerade NAT, of srv2
set -u
. "$(dirname "$0")/lab.sh"
LAB_ID=${LAB_ID:-swr$$}

lab_init
lab_internet
lab_public srv2 198.51.100.12 198.51.100.13
lab_v6 srv2 2001:db8:1::12
lab_public hr 198.51.100.40
lab_v6 hr 2001:db8:1::40
lab_public gen 198.51.100.50
lab_bg v6host iperf3 iperf3 -s
lab_bg hr iperf3-hr iperf3 -s
lab_nat 1 fullcone 198.51.100.21
lab_nat 2 masquerade 198.51.100.22

lab_miredo_server srv 198.51.100.10
lab_shipworm_server srv2 198.51.100.12
# Issue 10, FastPath off: the relay's link does GRO as a NIC's driver does (veth does
# not by default), so that the client's UDP GSO rows can arrive whole (UDP GRO).
[ "${LAB_FASTPATH:-auto}" = off ] && lab_exec rel ethtool -K eth0 gro on >/dev/null
# Issue 10: a filter left under the fast path's handle and priority by anything else (an
# older version's, for every protocol) is taken off and replaced, never doubled.
if [ "${LAB_FASTPATH:-auto}" != off ]; then
	lab_exec rel tc qdisc add dev eth0 clsact
	lab_exec rel tc filter add dev eth0 ingress protocol all pref 21335 handle 0x5357 bpf bytecode '1,6 0 0 0,'
	# ... and the operator's own filter, there before the daemon (the priority `tc filter
	# add` gives the first filter on a hook), drops echo requests to the relay.
	lab_exec rel tc filter add dev eth0 ingress protocol ip pref 49152 bpf da \
		obj "$SHIPWORM_TOP/build/lab/op_drop_ping.bpf.o" sec tc
fi
check "shipwormd starts as a relay from a miredo.conf (RelayType cone)" lab_shipworm_relay rel
[ "${LAB_FASTPATH:-auto}" != off ] && check "... with its fast path on, in place of the filter left under its handle" \
	eval "lab_sw rel status | grep -q '^fast_path: on'"
check "shipwormd starts as a host-specific relay (Mode host-relay)" \
	lab_shipwormd hr shipworm-hr "$(printf 'Mode host-relay\nInterfaceName teredo\nMaxPeers 1000')"
check_eq "MaxPeers sizes its peer table" "$(lab_counter "$LAB_TMP/run/shipworm-hr.sock" peers_max)" 1000
lab_miredo_client c1 198.51.100.10
lab_shipworm_client c2 198.51.100.12
for n in c1 c2; do lab_wait 25 lab_has_teredo_addr "$n"; done
a1=$(lab_teredo_addr c1); a2=$(lab_teredo_addr c2)
check "both clients qualify ($a1, $a2)" test -n "$a1" -a -n "$a2"
rsock=$LAB_TMP/run/shipworm-rel.sock

# Issue 10: with the fast path, CAP_BPF stays only where the kernel (before 6.5) needs it
# for map updates; the seccomp filter admits only those bpf() commands.
capbpf() { [ "$(lab_sw "$1" status --json | sed -nE 's/.*"fast_path_keeps_cap_bpf":(true|false).*/\1/p')" = true ] && echo 8000000000 || echo 0; }
check "the relay runs unprivileged, with no capability ($(lab_sw rel status --json | sed -nE 's/.*"fast_path":"([^"]*)".*/\1/p'))" lab_privileges rel "$(capbpf rel)"
check "the host relay runs unprivileged, with no capability" lab_privileges hr "$(capbpf hr)"
check "shipworm metrics of the relay parse as Prometheus text (role relay)" lab_metrics "$rsock" relay
check "shipworm metrics of the host relay parse as Prometheus text (role host-relay)" lab_metrics "$LAB_TMP/run/shipworm-hr.sock" host-relay
check "the relay routes 2001::/32 into its tunnel" sh -c "ip netns exec $(lab_ns rel) ip -6 route show 2001::/32 | grep -q 'dev teredo'"
check "the relay's status shows its tunnel's link up" eval "lab_sw rel status | grep -qx 'interface_link: up'"
# Miredo client + Miredo server + shipworm relay <-> native host.
check "Miredo client pings the native host through shipworm's relay" lab_ping6 c1 2001:db8:1::100
check "the native host pings the Miredo client through shipworm's relay" lab_ping6 v6host "$a1"
mbit=$(lab_iperf c1 2001:db8:1::100)
check "Miredo client carries TCP through shipworm's relay (${mbit:-0} Mbit/s)" test -n "$mbit"
# shipworm client + shipworm server + shipworm relay <-> native host.
check "shipworm client pings the native host (all shipworm)" lab_ping6 c2 2001:db8:1::100
check "the native host pings the shipworm client (all shipworm)" lab_ping6 v6host "$a2"
mbit=$(lab_iperf c2 2001:db8:1::100)
check "shipworm client carries TCP (all shipworm: ${mbit:-0} Mbit/s)" test -n "$mbit"
check "relay peers lists both clients as trusted" sh -c "'$SHIPWORM' -s '$rsock' peers | grep -c 'trusted: yes' | grep -qx 2"

# R-11: a Teredo source that does not match its UDP source is dropped, and nothing
# reaches the native host.
before=$(lab_counter "$rsock" teredo_source_mismatch)
tun_before=$(lab_counter "$rsock" to_tun)
lab_exec gen python3 "$(dirname "$0")/spoof.py" 198.51.100.30 "$a1" 2001:db8:1::100 5
lab_wait_counter "$rsock" teredo_source_mismatch $((before + 5))
check_eq "5 spoofed packets are dropped as teredo_source_mismatch" "$(($(lab_counter "$rsock" teredo_source_mismatch) - before))" 5
check_eq "none of them reached the native side" "$(lab_counter "$rsock" to_tun)" "$tun_before"

# RFC 9601 §6.1.3 (P-18, E-13): no ECN negotiation in Teredo, so the relay zeroes the
# outer ECN field (its whole TOS) whatever the inner traffic class says; the inner one
# (DSCP EF with CE here) reaches the client unchanged. Through the daemon's socket (the
# off pass) and the program (this pass: the first packets before trust, then the kernel).
lab_bg rel tcpdump-rel tcpdump -n -v -i eth0 -U -c 8 udp and src 198.51.100.30 and dst 198.51.100.22
lab_bg c2 tcpdump-c2 tcpdump -n -v -i teredo -U -c 8 icmp6 and src 2001:db8:1::100
lab_wait 10 grep -q 'listening on' "$LAB_TMP/tcpdump-rel.log"
lab_wait 10 grep -q 'listening on' "$LAB_TMP/tcpdump-c2.log"
check "the native host pings c2 with traffic class 0xbb (EF, CE)" lab_exec v6host ping -6 -n -c 8 -i 0.2 -W 2 -w 10 -Q 0xbb "$a2"
lab_wait 5 grep -q '8 packets captured' "$LAB_TMP/tcpdump-rel.log"
lab_wait 5 grep -q '8 packets captured' "$LAB_TMP/tcpdump-c2.log"
lab_kill_wait rel tcpdump INT
lab_kill_wait c2 tcpdump INT
check_eq "the relay sent them with outer TOS 0 (ECN Not-ECT: P-18)" \
	"$(grep -c 'IP (tos 0x0,.*proto UDP' "$LAB_TMP/tcpdump-rel.log")/$(grep -c 'IP (tos' "$LAB_TMP/tcpdump-rel.log")" 8/8
check_eq "... and c2 received them with their traffic class 0xbb" "$(grep -c 'IP6 (class 0xbb,' "$LAB_TMP/tcpdump-c2.log")" 8

# The host's firewall sees the tunnel's traffic as received on the Teredo interface,
# also when the client's program decapsulates it (issue 10: delivered into that
# interface, so that rules written for it apply; SEC-15: filter it as a public one).
c2sock=$LAB_TMP/run/shipworm-c2.sock
lab_exec c2 nft -f - <<'NFT'
table inet swfw {
	chain input { type filter hook input priority 0; iifname "teredo" icmpv6 type echo-request counter drop; }
}
NFT
dec_before=$(lab_counter "$c2sock" fastpath_in_decapsulated)
check "c2's firewall rule for its teredo interface drops the native host's pings" \
	eval "! lab_exec v6host ping -6 -n -c 4 -i 0.2 -W 1 -w 3 '$a2' >/dev/null"
dropped=$(lab_exec c2 nft list table inet swfw | sed -nE 's/.*counter packets ([0-9]+).*/\1/p')
check "... all of them, counted by the rule ($dropped)" test "${dropped:-0}" -ge 4
[ "${LAB_FASTPATH:-auto}" = off ] ||
	check "... after c2's program decapsulated them" \
		test "$(($(lab_counter "$c2sock" fastpath_in_decapsulated) - dec_before))" -ge 4
lab_exec c2 nft delete table inet swfw
check "... and they pass again once the rule is gone" lab_ping6 v6host "$a2"

# A relay restart mid-transfer: the transfer resumes once the client re-bubbles.
lab_exec c1 timeout 40 iperf3 -6 -c 2001:db8:1::100 -t 8 -J >"$LAB_TMP/restart.json" 2>&1 &
ipid=$!
sleep 2
lab_kill_wait rel shipwormd
lab_shipworm_relay rel
wait $ipid
rc=$?
late=$(awk '/"intervals"/ { f = 1 } f && /"start":/ { gsub(/,/, ""); s = $2 } f && /"bytes":/ && s >= 5 { gsub(/,/, ""); b += $2 } END { print b + 0 }' "$LAB_TMP/restart.json")
check "iperf3 across a relay restart completes (exit $rc)" test "$rc" -eq 0
check "and data flows again after the restart (${late} bytes in the last seconds)" test "${late:-0}" -gt 0

# Host-specific relay: no relay on the path; the packets travel directly between the
# client's NAT and the host.
lab_bg hr tcpdump-hr tcpdump -n -i eth0 -U -w "$LAB_TMP/hr.pcap" udp port 3544
lab_wait 10 grep -q 'listening on' "$LAB_TMP/tcpdump-hr.log"
check "Miredo client pings the host-relay host" lab_ping6 c1 2001:db8:1::40
check "shipworm client pings the host-relay host" lab_ping6 c2 2001:db8:1::40
check "the host pings the Miredo client itself" lab_ping6 hr "$a1"
mbit=$(lab_iperf c1 2001:db8:1::40)
check "Miredo client carries TCP to the host-relay host (${mbit:-0} Mbit/s)" test -n "$mbit"
mbit=$(lab_iperf c2 2001:db8:1::40)
check "shipworm client carries TCP to the host-relay host (${mbit:-0} Mbit/s)" test -n "$mbit"
lab_kill_wait hr tcpdump INT
direct=$(tcpdump -n -r "$LAB_TMP/hr.pcap" 2>/dev/null | grep -cE '198\.51\.100\.2[12]\.[0-9]+ > 198\.51\.100\.40\.3544|198\.51\.100\.40\.3544 > 198\.51\.100\.2[12]\.')
check "a capture on the host shows the packets go directly to and from the clients' NATs ($direct)" test "$direct" -gt 100
hsock=$LAB_TMP/run/shipworm-hr.sock
check "host relay status lists its own addresses" sh -c "'$SHIPWORM' -s '$hsock' status | grep -q '2001:db8:1::40'"
# H-05: a host relay forwards nothing but the host's own traffic: from a source it
# accepts (Teredo, matching its UDP source; a new one is taken at RelayAcceptUnknown's
# rate), to the host it goes in, to anyone else not.
before=$(lab_counter "$hsock" destination_not_served)
# Into the host: by the daemon (to_tun), or, with the fast path, by the kernel once the
# daemon has trusted the source (the second packet can come after that).
into_host() {
	local st
	st=$(lab_sw hr status --json)
	echo $(($(sed -nE 's/.*"to_tun":([0-9]+).*/\1/p' <<<"$st") + $(sed -nE 's/.*"fastpath_in_decapsulated":([0-9]+).*/\1/p' <<<"$st" | grep . || echo 0)))
}
tun_before=$(into_host)
lab_exec gen python3 "$(dirname "$0")/spoof.py" --matching 198.51.100.50 198.51.100.40 2001:db8:1::100 3
lab_exec gen python3 "$(dirname "$0")/spoof.py" --matching 198.51.100.50 198.51.100.40 2001:db8:1::40 2
lab_wait_counter "$hsock" destination_not_served $((before + 3))
into_host_grew() { [ "$(into_host)" -ge $((tun_before + 2)) ]; }
lab_wait 5 into_host_grew
check_eq "3 packets for another host are dropped (H-05)" "$(($(lab_counter "$hsock" destination_not_served) - before))" 3
check_eq "2 packets for the host itself go in" "$(($(into_host) - tun_before))" 2

# Issue 10: which path carried the traffic above. With the fast path, the kernel did the
# relaying of trusted peers' data both ways (the daemon kept bubbles and first contacts);
# without it, nothing is attached.
fp_total() { lab_sw "$1" status --json | sed -nE "s/.*\"fastpath_$2\":([0-9]+).*/\1/p"; }
fpfilter() { lab_exec "$1" tc filter show dev eth0 ingress | grep -q teredo_in; }
if [ "${LAB_FASTPATH:-auto}" = off ]; then
	check_eq "FastPath off: the status says so" "$(lab_sw rel status --json | sed -nE 's/.*"fast_path":"([^"]*)".*/\1/p')" "off (FastPath off)"
	check "... and no program is attached" eval '! fpfilter rel'
	# The fallback path's socket offloads: c2's daemon sent the host's TCP segments in
	# rows (UDP GSO), and the relay received rows whole and cut them (UDP GRO); the TCP
	# transfers above checked every byte.
	u() { lab_sw "$1" status --json | sed -nE "s/.*\"udp_$2\":([0-9]+).*/\1/p"; }
	lab_check_udp_rows c2 "datagrams in UDP GSO rows"
	check "the relay received rows whole and cut them (UDP GRO: $(u rel gro_datagrams) in $(u rel gro_rows) rows)" \
		test "$(u rel gro_rows)" -gt 0
	# ... and wrote the clients' TCP segments to its TUN joined, as a NIC's GRO hands
	# them to the stack (wire/tcp_gro.c), which forwarded them to the native host.
	tg() { lab_sw "$1" status --json | sed -nE "s/.*\"tun_gro_$2\":([0-9]+).*/\1/p"; }
	check "the relay joined the clients' TCP segments before its TUN ($(tg rel segments) in $(tg rel packets) writes)" \
		test "$(tg rel packets)" -gt 10 -a "$(tg rel segments)" -gt "$(($(tg rel packets) * 2))"
else
	echo "# fast path: relay decapsulated $(fp_total rel in_decapsulated), encapsulated $(fp_total rel out_encapsulated), left $(fp_total rel in_to_daemon) + $(fp_total rel out_to_daemon) to the daemon; host relay $(fp_total hr in_decapsulated) / $(fp_total hr out_encapsulated)"
	check "the relay's kernel fast path carried trusted traffic both ways" \
		test "$(fp_total rel in_decapsulated)" -gt 1000 -a "$(fp_total rel out_encapsulated)" -gt 1000
	# A relay's NIC joins the forwarded TCP it receives (GRO, as drivers do; veth only
	# when asked): the super-packets are encapsulated whole where the kernel can, not
	# left to the daemon (which took every one of them before).
	lab_exec rel ethtool -K eth0 gro on >/dev/null
	g0=$(fp_total rel out_gso_encapsulated) d0=$(fp_total rel out_to_daemon)
	mbit=$(lab_iperf c2 2001:db8:1::100 8M -R)
	g=$(($(fp_total rel out_gso_encapsulated) - g0)) d=$(($(fp_total rel out_to_daemon) - d0))
	if lab_sw rel status | grep -q '^fast_path_gso: yes'; then
		check "with GRO on its link, the relay encapsulated the native host's TCP super-packets whole ($g, ${mbit:-0} Mbit/s)" \
			test -n "$mbit" -a "$g" -gt 10
		check "... and left next to none to the daemon ($d)" test "$d" -lt 10
	else
		check "with GRO on its link, the native host's TCP reaches the client through the daemon (${mbit:-0} Mbit/s)" test -n "$mbit"
	fi
	lab_exec rel ethtool -K eth0 gro off >/dev/null
	lab_sw hr status | grep fastpath | sed "s/^/#   /"
	check "so did the host relay's" test "$(fp_total hr in_decapsulated)" -gt 1000 -a "$(fp_total hr out_encapsulated)" -gt 1000
	check "its ingress program is on the relay's IPv4 interface" fpfilter rel
	# What the program leaves alone goes on to the filters after it: the operator's,
	# planted above, still drops the echo requests it is there for (before, the
	# program's verdict ended the hook, and every later filter saw nothing).
	check "the operator's own filter after it still sees what it leaves alone (drops echo requests to the relay)" \
		eval '! lab_exec gen ping -n -c 2 -i 0.3 -W 1 -w 3 198.51.100.30 >/dev/null'
	check "... while the fast path carries the Teredo traffic before it (the counts above)" \
		eval "lab_exec rel tc filter show dev eth0 ingress | grep -q 'pref 49152 bpf.*op_drop_ping'"
	# The status names the programs as tc shows them on each hook (for bpftool).
	tcid() { lab_exec rel tc filter show dev "$1" "$2" | sed -nE 's/.* id ([0-9]+) .*/\1/p' | head -n 1; }
	check_eq "the status gives the ids of the programs on both hooks" \
		"$(fp_total rel in_prog_id) $(fp_total rel out_prog_id)" "$(tcid eth0 ingress) $(tcid teredo egress)"
	# Each program is attached for its own protocol only: native IPv6 arriving by the
	# IPv4 interface never runs teredo_in (and the filter planted above is gone).
	tcf() { lab_exec rel tc filter show dev "$1" "$2" | grep '^filter.* handle ' | cut -d' ' -f2-5 | paste -sd' '; }
	check_eq "teredo_in is on the IPv4 interface for IPv4 only, in place of what was there, before the operator's" \
		"$(tcf eth0 ingress)" "protocol ip pref 21335 protocol ip pref 49152"
	check_eq "teredo_out is on the Teredo interface for IPv6 only" "$(tcf teredo egress)" "protocol ipv6 pref 21335"
	# The status says whether the programs are still on their hooks: anyone with
	# CAP_NET_ADMIN may take them off, and then the daemon carries everything.
	fpb() { lab_sw rel status --json | sed -nE "s/.*\"fast_path_$1_attached\":(true|false).*/\1/p"; }
	check_eq "the status finds both programs on their hooks" "$(fpb in) $(fpb out)" "true true"
	lab_exec rel tc filter del dev eth0 ingress pref 21335 handle 0x5357 bpf
	check_eq "... and, the ingress filter taken off by hand, says so" "$(fpb in) $(fpb out)" "false true"
	check "... while the daemon carries the clients' traffic in its place" lab_ping6 v6host "$a2"
	check "... and its log says so once, within its 10 s watch" \
		lab_wait 15 eval "[ \"\$(grep -c 'ingress (teredo_in) program is no longer on its hook' '$LAB_TMP/shipworm-rel.log')\" = 1 ]"
	# A crash leaves no program behind: the janitor detaches it (6.1 has no tc link).
	# The clsact qdisc the host relay made goes too, unless the operator has put a
	# filter of their own on it meanwhile, which removing the qdisc would take with it.
	lab_exec hr tc filter add dev eth0 egress protocol ip pref 100 handle 1 bpf bytecode '1,6 0 0 0,'
	lab_kill_wait hr shipwormd KILL
	check "after SIGKILL of the host relay, its janitor removed the filter" lab_wait 5 eval '! fpfilter hr'
	check_eq "... and is gone itself" "$(lab_pids hr shipworm-fpjan)" ""
	check "... leaving the operator's own filter on the clsact qdisc it made" \
		eval "lab_exec hr tc filter show dev eth0 egress | grep -q 'pref 100 bpf'"
fi

# The tunnel taken down and up again: the client puts its address and default route
# back; the relay, which cannot add a route once unprivileged, stops failing, for
# systemd to start it again with one (before, both carried on without, saying nothing).
lab_tun_bounce c2
c2_tunnel_back() {
	ip -n "$(lab_ns c2)" -6 addr show dev teredo scope global | grep -q inet6 &&
		ip -n "$(lab_ns c2)" -6 route show default dev teredo | grep -q default
}
check "c2's tunnel taken down and up: its address and default route are put back" lab_wait 10 c2_tunnel_back
check "... and it reaches the native host again" lab_ping6 c2 2001:db8:1::100
lab_exec rel ip link set teredo down
check "the relay's status says its tunnel's link is down" eval "lab_sw rel status | grep -qx 'interface_link: down'"
lab_exec rel ip link set teredo up
check "the relay's tunnel taken down and up: it stops (status 1), saying why" \
	lab_stops_failing shipworm-rel 'teredo is up without its route to 2001::/32'
lab_shipworm_relay rel
check "the relay whose tunnel interface is deleted stops by itself (status 1), saying why" \
	lab_tun_removed rel shipworm-rel
for n in c2 srv2; do
	check "shipwormd on $n stops cleanly, no sanitizer report" lab_stop_clean "$n" "shipworm-$n"
done
[ "${LAB_FASTPATH:-auto}" = off ] ||
	check "the relay's filter is gone with it" eval '! fpfilter rel'
# The client's interface had no clsact qdisc: the one it made is gone with it.
[ "${LAB_FASTPATH:-auto}" = off ] ||
	check "c2's clsact qdisc, which it made, is gone with it" eval "! lab_exec c2 tc qdisc show dev eth0 | grep -q clsact"
[ "${LAB_FASTPATH:-auto}" = off ] &&
	check "shipwormd on hr stops cleanly, no sanitizer report" lab_stop_clean hr shipworm-hr
lab_summary
