# The kernel fast path's bench lab (issue 10), shared by run.sh (make bench) and ab.sh:
# a client c1 behind the full-cone NAT 1 (shipworm server in srv), the native host
# v6host through the relay rel, and the plain IPv4 path over the same hosts. Sourced
# after tests/lab/lab.sh, with the lab's Internet, the generator gen, NAT 1 and v6host's
# iperf3 server up.

# fp_lab_setup: the plain path's addresses and routes, the relay host's forwarding, the
# generator's iperf3 server and the shipworm server.
fp_lab_setup() {
	lab_exec gen ip addr add 198.51.100.51/24 dev eth0 2>/dev/null
	# The same hosts as the Teredo rows: the native host -> the relay's host (plain IPv4
	# forwarding) -> the NAT -> the client. The native host's IPv4 address is one the others
	# reach only through the relay's host (no redirects: in and out by the same link).
	lab_exec v6host ip addr add 192.0.2.100/32 dev eth0
	lab_exec v6host ip route add 198.51.100.21/32 via 198.51.100.30 dev eth0 onlink src 192.0.2.100
	lab_exec nat1 ip route add 192.0.2.100/32 via 198.51.100.30
	lab_exec rel sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
	lab_exec rel ip route add 192.0.2.100/32 dev eth0
	lab_bg gen iperf3-gen iperf3 -s
	lab_shipworm_server srv 198.51.100.10 >/dev/null
	# A shipworm relay started with lab_shipwormd (fp_start) forwards IPv6 only with this.
	lab_exec rel sysctl -qw net.ipv6.conf.all.forwarding=1
}
# udp_delivered FAMILY DST: 64-byte UDP from the far end to c1 at the generator's full
# rate for BENCH_SECONDS (c1 starts it, so the plain path needs no port forward for the
# replies: the NAT's mapping is c1's own); prints the packets delivered.
udp_delivered() {
	local j
	j=$(lab_exec c1 timeout 60 iperf3 "$1" -u -b 0 -l 64 -R -c "$2" -t "$BENCH_SECONDS" -J 2>/dev/null)
	awk '/"sum_received"/ { f = 1 } f && /"lost_packets"/ { gsub(/,/, ""); l = $2 }
		f && /"packets"/ && !/lost/ { gsub(/,/, ""); print $2 - l; f = 0; p = 1 } END { if (!p) print 0 }' <<<"$j"
}
fp_start() { # IMPL [FASTPATH [MORE CONFIG]]: relay and client of one implementation
	if [ "$1" = shipworm ]; then
		lab_shipwormd rel shipworm-rel "$(printf 'RelayType cone\nInterfaceName teredo\nFastPath %s\n%s' "$2" "${3:-}")"
		lab_shipworm_client c1 198.51.100.10 "$(printf 'FastPath %s\n%s' "$2" "${3:-}")" >/dev/null
	else
		lab_miredo_relay rel
		lab_miredo_client c1 198.51.100.10
	fi
	lab_wait 20 lab_has_teredo_addr c1
	local fa
	fa=$(lab_teredo_addr c1)
	sleep 1
	lab_ping6 v6host "$fa" 3 >/dev/null
	lab_ping6 c1 2001:db8:1::100 3 >/dev/null
}
fp_stop() { # PROCESS-NAME
	kill $(lab_pids rel "$1") $(lab_pids c1 "$1") 2>/dev/null
	lab_wait 10 lab_no_proc rel "$1"
	lab_wait 10 lab_no_proc c1 "$1"
	lab_wait 5 sh -c "! ip netns exec $(lab_ns rel) ip link show teredo 2>/dev/null"
	lab_wait 5 sh -c "! ip netns exec $(lab_ns c1) ip link show teredo 2>/dev/null"
}
# prog_run NODE in|out: "RUNS NS", the kernel's count of the runs of the shipworm
# daemon's teredo_in or teredo_out on NODE and of their time (kernel.bpf_stats_enabled),
# as its status shows them; 0 for what it does not show.
prog_run() {
	local st
	st=$("$SHIPWORM" -s "$LAB_TMP/run/shipworm-$1.sock" status --json)
	printf '%s %s\n' "$(sed -nE "s/.*\"fastpath_$2_prog_runs\":([0-9]+).*/\1/p" <<<"$st" | grep . || echo 0)" \
		"$(sed -nE "s/.*\"fastpath_$2_prog_run_ns\":([0-9]+).*/\1/p" <<<"$st" | grep . || echo 0)"
}
