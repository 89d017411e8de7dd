#!/usr/bin/env bash
# make bench: side-by-side measurements against Miredo, in one lab and one run.
# Prints figures and ratios; never fails on timing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export SHIPWORMD=${SHIPWORMD:-$top/build/shipwormd}
export SHIPWORM=${SHIPWORM:-$top/build/shipworm}
. "$top/tests/lab/lab.sh"
. "$here/fastpath_lab.sh"
LAB_ID=${LAB_ID:-swb$$}
BENCH_SECONDS=${BENCH_SECONDS:-5}
BENCH_COUNT=${BENCH_COUNT:-20000000}
BENCH_FP_ROUNDS=${BENCH_FP_ROUNDS:-3}

mkdir -p "$top/build/bench"
cc -O2 -D_GNU_SOURCE -I"$top/src" -o "$top/build/bench/rsflood" "$here/rsflood.c" \
	"$top/src/wire/encap.c" "$top/src/wire/icmpv6.c" "$top/src/wire/ipv6.c" || exit 1

# CPU seconds (user + system) of a process, from /proc/PID/stat.
cpu_seconds() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / hz }' "/proc/$1/stat"
}
cpu_split() { awk -v hz="$(getconf CLK_TCK)" '{ printf "user %.2f s sys %.2f s", $14 / hz, $15 / hz }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

lab_init
lab_internet
lab_public gen 198.51.100.50

# Whole-machine busy CPU-seconds so far (/proc/stat: user, nice, system, irq, softirq).
machine_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { printf "%.3f\n", ($2 + $3 + $4 + $7 + $8) / hz; exit }' /proc/stat
}

clang -O2 -g -ffreestanding -target bpf -I/usr/include/"$(gcc -dumpmachine)" \
	-c -o "$top/build/bench/xdp_reflect.bpf.o" "$here/xdp_reflect.bpf.c" || exit 1

declare -A rate mrate frac
# bench_server LABEL PROCESS-NAME|-: flood the server in srv (already started, or the
# XDP reference with "-") with RSs; per-process and whole-machine CPU.
bench_server() {
	local label=$1 pname=$2 pid="" c0 c1 m0 m1 out sent answered cpu mcpu
	sleep 1
	[ "$pname" != - ] && pid=$(lab_pids srv "$pname" | tail -n 1)
	[ -n "$pid" ] && c0=$(cpu_seconds "$pid")
	m0=$(machine_cpu)
	out=$(lab_exec gen "$top/build/bench/rsflood" 198.51.100.10 "$BENCH_SECONDS" "$BENCH_COUNT")
	m1=$(machine_cpu)
	sent=$(awk '{ print $2 }' <<<"$out")
	answered=$(awk '{ print $4 }' <<<"$out")
	mcpu=$(awk -v a="$m0" -v b="$m1" 'BEGIN { printf "%.2f", b - a }')
	mrate[$label]=$(awk -v n="$answered" -v c="$mcpu" 'BEGIN { printf "%.0f", (c > 0 ? n / c : 0) }')
	frac[$label]=$(awk -v n="$answered" -v s="$sent" 'BEGIN { printf "%.3f", (s > 0 ? n / s : 0) }')
	local proc="no process"
	if [ -n "$pid" ]; then
		c1=$(cpu_seconds "$pid")
		cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
		rate[$label]=$(awk -v n="$answered" -v c="$cpu" 'BEGIN { printf "%.0f", (c > 0 ? n / c : 0) }')
		proc="$pname CPU $cpu s ($(cpu_split "$pid")), RSS $(rss_kib "$pid") KiB"
		# The XDP program's work is charged to no process.
		[ "${rate[$label]}" -gt 0 ] && awk -v c="$cpu" 'BEGIN { exit !(c >= 0.1) }' &&
			proc="$proc, ${rate[$label]} RS per process CPU-s"
	fi
	printf '%-13s %s (%.0f/s, fraction answered %s); machine CPU %s s: %s RS per machine CPU-s; %s\n' \
		"$label" "$out" "$(awk -v n="$answered" -v t="$BENCH_SECONDS" 'BEGIN { print n / t }')" \
		"${frac[$label]}" "$mcpu" "${mrate[$label]}" "$proc"
	if [ "$pname" != - ]; then
		kill $(lab_pids srv "$pname")
		lab_wait 5 sh -c "test -z \"\$(ip netns pids $(lab_ns srv))\""
	fi
}

echo "== Router Solicitations answered (server), ${BENCH_SECONDS} s of load from one generator;"
echo "   machine CPU is the whole machine's, generator included (issue 10's measure)"
# The lab's limit: an XDP program that only sends each datagram back (generic mode, as
# shipworm's on veth). The generator's own speed varies from run to run and weighs in
# both, so the two alternate for BENCH_SERVER_ROUNDS rounds and the median ratio counts.
# The flood comes from one address; Miredo has no RA limit, so neither has shipworm here.
xratios=()
for round in $(seq "${BENCH_SERVER_ROUNDS:-3}"); do
	lab_exec srv ip link set dev eth0 xdpgeneric obj "$top/build/bench/xdp_reflect.bpf.o" sec xdp
	bench_server xdp_tx-limit -
	lab_exec srv ip link set dev eth0 xdpgeneric off
	lab_shipworm_server srv 198.51.100.10 "ServerMaxRSRate 0"
	bench_server shipworm-xdp shipwormd
	xratios+=("$(awk -v x="${mrate[shipworm-xdp]}" -v l="${mrate[xdp_tx-limit]}" 'BEGIN { printf "%.2f", (l > 0 ? x / l : 0) }')")
done
xmedian=$(printf '%s\n' "${xratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "shipworm XDP / XDP_TX limit per machine CPU-second, by round: ${xratios[*]}; median $xmedian"
lab_shipworm_server srv 198.51.100.10 "ServerMaxRSRate 0
FastPath off"
bench_server shipworm-sock shipwormd
lab_miredo_server srv 198.51.100.10
bench_server miredo miredo-server
awk -v x="${mrate[shipworm-xdp]}" -v s="${mrate[shipworm-sock]}" -v m="${mrate[miredo]}" -v l="${mrate[xdp_tx-limit]}" \
	-v ps="${rate[shipworm-sock]}" -v pm="${rate[miredo]}" 'BEGIN {
	printf "ratio per machine CPU-second to the XDP_TX limit (its last round): shipworm XDP %.2f, shipworm sockets %.2f, miredo %.2f\n",
		(l > 0 ? x / l : 0), (l > 0 ? s / l : 0), (l > 0 ? m / l : 0)
	printf "ratio shipworm XDP / miredo: %.2fx RS per machine CPU-second; per process CPU (sockets): shipworm/miredo %.2fx\n",
		(m > 0 ? x / m : 0), (pm > 0 ? ps / pm : 0) }'


# ---------------------------------------------------------------------------------
echo
echo "== Client: TCP through the client (Miredo server and relay; shipworm's client with FastPath off,"
echo "   with the TUN's offloads and without: TunOffload), iperf3 ${BENCH_SECONDS} s each way"
lab_bg v6host iperf3 iperf3 -s
lab_nat 1 fullcone 198.51.100.21
lab_miredo_server srv 198.51.100.10
lab_miredo_relay rel

# CPU seconds of every process named COMM in NODE (Miredo's client is two processes).
cpu_of() { # NODE COMM
	local t=0 pid
	for pid in $(lab_pids "$1" "$2"); do t=$(awk -v t="$t" -v s="$(cpu_seconds "$pid")" 'BEGIN { print t + s }'); done
	echo "$t"
}
declare -A tput cpugb qual
bench_client() { # LABEL COMM [CONFIG]: a shipwormd client with CONFIG, or Miredo's
	local impl=$1 comm=$2
	# The user-space paths side by side: the client's own CPU is the measure here, and
	# the kernel fast path's work is charged to no process (its section is below).
	if [ "$comm" = shipwormd ]; then lab_shipworm_client c1 198.51.100.10 "$3"; else lab_miredo_client c1 198.51.100.10; fi
	lab_wait 20 lab_has_teredo_addr c1 || { echo "$impl: no address"; return; }
	lab_ping6 c1 2001:db8:1::100 2 >/dev/null
	local dir total_bits=0 total_bytes=0 c0 c1v
	c0=$(cpu_of c1 "$comm")
	for dir in "" "-R"; do
		local j
		j=$(lab_exec c1 timeout 60 iperf3 -6 -c 2001:db8:1::100 -t "$BENCH_SECONDS" $dir -J 2>/dev/null)
		local bps bytes
		bps=$(awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/,/, ""); print $2; exit }' <<<"$j")
		bytes=$(awk '/"sum_received"/ { f = 1 } f && /"bytes"/ { gsub(/,/, ""); print $2; exit }' <<<"$j")
		printf '  %-8s %-9s %7.1f Mbit/s\n' "$impl" "${dir:-upload}" "$(awk -v b="${bps:-0}" 'BEGIN { print b / 1e6 }')"
		total_bits=$(awk -v a="$total_bits" -v b="${bps:-0}" 'BEGIN { print a + b }')
		total_bytes=$(awk -v a="$total_bytes" -v b="${bytes:-0}" 'BEGIN { print a + b }')
	done
	c1v=$(cpu_of c1 "$comm")
	tput[$impl]=$(awk -v b="$total_bits" 'BEGIN { printf "%.1f", b / 2e6 }')
	cpugb[$impl]=$(awk -v a="$c0" -v b="$c1v" -v n="$total_bytes" 'BEGIN { r = n > 0 ? (b - a) / (n / 1e9) : 0; printf "%.2f", r }')
	printf '%-9s mean %s Mbit/s; %s CPU-seconds per GB (client daemon)\n' "$impl" "${tput[$impl]}" "${cpugb[$impl]}"
	[ "$comm" = shipwormd ] && "$SHIPWORM" -s "$LAB_TMP/run/shipworm-c1.sock" status |
		grep -E '^(tun_offload|  tun_gso_packets|  tun_gso_segments|  tun_csum_completed):' | tr -s ' ' | paste -sd' ' | sed 's/^/    /'
	kill $(lab_pids c1 "$comm") 2>/dev/null
	lab_wait 10 sh -c "test -z \"\$(ip netns pids $(lab_ns c1))\""
}
bench_client shipworm shipwormd "FastPath off"
bench_client shipworm-no-offload shipwormd "$(printf 'FastPath off\nTunOffload no')"
bench_client miredo miredo
awk -v a="${tput[shipworm]:-0}" -v b="${tput[miredo]:-0}" -v c="${cpugb[shipworm]:-0}" -v d="${cpugb[miredo]:-0}" \
    -v e="${tput[shipworm-no-offload]:-0}" -v f="${cpugb[shipworm-no-offload]:-0}" 'BEGIN {
	r1 = b > 0 ? a / b : 0; r2 = c > 0 ? d / c : 0
	printf "ratio shipworm/miredo: %.2fx throughput, %.2fx GB per CPU-second\n", r1, r2
	printf "ratio TUN offloads on/off: %.2fx throughput, %.2fx GB per CPU-second\n", (e > 0 ? a / e : 0), (c > 0 ? f / c : 0) }'

echo
echo "== Client qualification time (start to address), median of ${BENCH_STARTS:-5} starts"
# From the daemon's start to the kernel's notice of its global address (rtnetlink's own
# timestamp, ip -ts monitor), not to the lab's next look (every 0.2 s: both clients
# came out at 228 ms, a poll's worth, whatever they took).
qual_time() { # IMPL COMM: milliseconds from start to a global address
	local t0 t1 mon ts
	lab_exec c1 ip -ts -6 monitor address >"$LAB_TMP/qual.mon" 2>/dev/null &
	mon=$!
	sleep 0.3
	t0=$(date +%s%N)
	if [ "$1" = shipworm ]; then lab_shipworm_client c1 198.51.100.10; else lab_miredo_client c1 198.51.100.10; fi
	lab_wait 20 lab_has_teredo_addr c1
	kill "$mon" 2>/dev/null
	wait "$mon" 2>/dev/null
	ts=$(sed -nE 's/^\[([^]]+)\].* inet6 2001:0:.* scope global.*/\1/p' "$LAB_TMP/qual.mon" | head -n 1)
	if [ -n "$ts" ] && t1=$(date -d "$ts" +%s%N 2>/dev/null); then
		echo $(((t1 - t0) / 1000000))
	else
		echo "?"
	fi
	kill $(lab_pids c1 "$2") 2>/dev/null
	lab_wait 10 sh -c "test -z \"\$(ip netns pids $(lab_ns c1))\""
	lab_wait 5 sh -c "! ip netns exec $(lab_ns c1) ip link show teredo"
}
for impl in shipworm miredo; do
	comm=$([ $impl = shipworm ] && echo shipwormd || echo miredo)
	ts=()
	for _ in $(seq "${BENCH_STARTS:-5}"); do ts+=("$(qual_time $impl $comm)"); done
	qual[$impl]=$(printf '%s\n' "${ts[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	echo "$impl: ${ts[*]} ms; median ${qual[$impl]} ms (the daemon's start, its set-up included, to its address)"
done

# ---------------------------------------------------------------------------------
echo
echo "== Relay: Miredo server, Miredo client behind a full-cone NAT; shipworm's relay (FastPath off), then Miredo's"
kill $(lab_pids rel miredo) 2>/dev/null
lab_wait 10 sh -c "test -z \"\$(ip netns pids $(lab_ns rel))\""
lab_miredo_client c1 198.51.100.10
lab_wait 20 lab_has_teredo_addr c1
ca=$(lab_teredo_addr c1)
lab_bg c1 iperf3-c1 iperf3 -s
declare -A rtcp rpps rcpu
tx_packets() { lab_exec "$1" cat /proc/net/dev | awk -v i="$2:" '$1 == i { print $11 }'; }
bench_relay() { # IMPL COMM
	local impl=$1 comm=$2
	# Per-process CPU says nothing of work done in the kernel: this section compares the
	# user-space paths (FastPath off); the fast path's section below counts the machine.
	if [ "$impl" = shipworm ]; then LAB_FASTPATH=off lab_shipworm_relay rel; else lab_miredo_relay rel; fi
	sleep 1
	lab_ping6 v6host "$ca" 3 >/dev/null
	local c0 c1v j bps out_bps pk
	c0=$(cpu_of rel "$comm")
	j=$(lab_exec v6host timeout 60 iperf3 -6 -c "$ca" -t "$BENCH_SECONDS" -J 2>/dev/null)
	bps=$(awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/,/, ""); print $2; exit }' <<<"$j")
	j=$(lab_exec v6host timeout 60 iperf3 -6 -c "$ca" -t "$BENCH_SECONDS" -R -J 2>/dev/null)
	out_bps=$(awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/,/, ""); print $2; exit }' <<<"$j")
	c1v=$(cpu_of rel "$comm")
	local tcp_cpu
	tcp_cpu=$(awk -v a="$c0" -v b="$c1v" 'BEGIN { printf "%.2f", b - a }')
	# Small packets, native host -> client: 64-byte UDP payloads as fast as iperf3 sends.
	# Packets forwarded = UDP datagrams the relay sent out of its IPv4 interface (the
	# same count for both implementations; packets lost further on still cost the relay).
	local tx0 tx1
	tx0=$(tx_packets rel eth0)
	c0=$(cpu_of rel "$comm")
	lab_exec v6host timeout 60 iperf3 -6 -u -b 0 -l 64 -c "$ca" -t "$BENCH_SECONDS" >/dev/null 2>&1
	c1v=$(cpu_of rel "$comm")
	tx1=$(tx_packets rel eth0)
	pk=$((tx1 - tx0))
	local ucpu
	ucpu=$(awk -v a="$c0" -v b="$c1v" 'BEGIN { printf "%.2f", b - a }')
	rtcp[$impl]=$(awk -v a="${bps:-0}" -v b="${out_bps:-0}" 'BEGIN { printf "%.1f", (a + b) / 2e6 }')
	rpps[$impl]=$(awk -v p="${pk:-0}" -v c="$ucpu" 'BEGIN { r = c > 0 ? p / c : 0; printf "%.0f", r }')
	rcpu[$impl]=$(awk -v p="${pk:-0}" -v c="$ucpu" 'BEGIN { r = p > 0 ? c / (p / 1e6) : 0; printf "%.2f", r }')
	printf '%-9s TCP native->client %.1f Mbit/s, client->native %.1f Mbit/s (relay CPU %s s)\n' "$impl" \
		"$(awk -v b="${bps:-0}" 'BEGIN { print b / 1e6 }')" "$(awk -v b="${out_bps:-0}" 'BEGIN { print b / 1e6 }')" "$tcp_cpu"
	printf '%-9s small UDP: %s packets forwarded in %s s; relay CPU %s s: %s packets per CPU-second, %s CPU-s per million\n' \
		"$impl" "${pk:-0}" "$BENCH_SECONDS" "$ucpu" "${rpps[$impl]}" "${rcpu[$impl]}"
	kill $(lab_pids rel "$comm") 2>/dev/null
	lab_wait 10 sh -c "test -z \"\$(ip netns pids $(lab_ns rel))\""
	lab_wait 5 sh -c "! ip netns exec $(lab_ns rel) ip link show teredo"
}
bench_relay shipworm shipwormd
bench_relay miredo miredo
awk -v a="${rtcp[shipworm]:-0}" -v b="${rtcp[miredo]:-0}" -v c="${rpps[shipworm]:-0}" -v d="${rpps[miredo]:-0}" 'BEGIN {
	r1 = b > 0 ? a / b : 0; r2 = d > 0 ? c / d : 0
	printf "ratio shipworm/miredo: %.2fx TCP throughput, %.2fx packets per CPU-second\n", r1, r2 }'

# ---------------------------------------------------------------------------------
echo
BENCH_FLOOD=${BENCH_FLOOD:-1000000}
echo "== Relay under a flood: $BENCH_FLOOD packets from 100,000 spoofed sources at 100,000/s,"
echo "   from the IPv4 side (gen), then from the native side (v6host); the Miredo client's"
echo "   ping6 and TCP (native host -> client) measured during each, the relay's memory after"
cc -O2 -D_GNU_SOURCE -I"$top/src" -o "$top/build/bench/flood" "$top/tests/lab/flood.c" "$top"/src/wire/*.c || exit 1
lab_spoof_routes srv rel nat1
flood_during() { # FLOODER ARGS...: prints "loss% Mbit/s" measured during the flood
	local from=$1; shift
	lab_exec "$from" "$top/build/bench/flood" -n "$BENCH_FLOOD" -s 100000 -r 100000 "$@" >/dev/null &
	local fp=$! loss mbit
	sleep 1
	loss=$(lab_exec v6host ping -6 -n -c 20 -i 0.1 -W 1 -w 8 "$ca" 2>/dev/null | sed -nE 's/.* ([0-9.]+)% packet loss.*/\1/p')
	mbit=$(lab_exec v6host timeout 30 iperf3 -6 -c "$ca" -t 3 -J 2>/dev/null |
		awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/,/, ""); printf "%.1f", $2 / 1e6; exit }')
	wait $fp
	echo "${loss:-100} ${mbit:-0}"
}
bench_relay_flood() { # IMPL COMM
	local impl=$1 comm=$2 pid r0 r1 r2 v4 v6
	if [ "$impl" = shipworm ]; then lab_shipworm_relay rel; else lab_miredo_relay rel; fi
	sleep 1
	lab_ping6 v6host "$ca" 3 >/dev/null
	pid=$(lab_pids rel "$comm" | tail -n 1)
	r0=$(rss_kib "$pid")
	v4=$(flood_during gen -t 198.51.100.30:3544 -m relay -S 198.51.100.10 -6 2001:db8:1::100)
	r1=$(rss_kib "$pid")
	v6=$(flood_during v6host -m native -S 198.51.100.10 -6 2001:db8:1::100)
	r2=$(rss_kib "$pid")
	printf '%-9s IPv4-side flood: ping6 loss %s%%, TCP %s Mbit/s; native-side flood: ping6 loss %s%%, TCP %s Mbit/s\n' \
		"$impl" ${v4% *} ${v4#* } ${v6% *} ${v6#* }
	printf '%-9s RSS %s KiB before, %s KiB after the IPv4-side flood, %s KiB after the native-side flood\n' \
		"$impl" "$r0" "$r1" "$r2"
	kill $(lab_pids rel "$comm") 2>/dev/null
	lab_wait 10 sh -c "test -z \"\$(ip netns pids $(lab_ns rel))\""
	lab_wait 5 sh -c "! ip netns exec $(lab_ns rel) ip link show teredo"
}
bench_relay_flood shipworm shipwormd
bench_relay_flood miredo miredo

echo
echo "== Client under a flood through its full-cone NAT's hole: $BENCH_FLOOD packets from 100,000"
echo "   spoofed sources at 100,000/s (Miredo server and relay); its ping6 and TCP to the native"
echo "   host measured during the flood, its memory before and after"
kill $(lab_pids c1 miredo) 2>/dev/null
lab_wait 10 lab_no_proc c1 miredo
lab_miredo_relay rel
bench_client_flood() { # IMPL COMM
	local impl=$1 comm=$2 pid r0 r1 a port loss mbit fp cpu0
	if [ "$impl" = shipworm ]; then lab_shipworm_client c1 198.51.100.10; else lab_miredo_client c1 198.51.100.10; fi
	lab_wait 20 lab_has_teredo_addr c1 || { echo "$impl: no address"; return; }
	a=$(lab_teredo_addr c1)
	lab_ping6 c1 2001:db8:1::100 2 >/dev/null
	# The mapping its address names (the Teredo socket's). Not the NAT's first entry to
	# the server: the client of the row before left its own there for the next 30 s or
	# more, and until 2026-12-01 Miredo's row flooded that dead port in most runs (its
	# daemon spent 0.05 s of CPU "during the flood").
	port=$("$SHIPWORM" decode "$a" | awk '/^mapped port:/ { print $3 }')
	pid=$(lab_pids c1 "$comm" | tail -n 1)
	r0=$(rss_kib "$pid")
	cpu0=$(cpu_of c1 "$comm")
	lab_exec gen "$top/build/bench/flood" -t "198.51.100.21:$port" -m client -n "$BENCH_FLOOD" -s 100000 -r 100000 \
		-S 198.51.100.10 -d "$a" >/dev/null &
	fp=$!
	sleep 1
	loss=$(lab_exec c1 ping -6 -n -c 20 -i 0.1 -W 1 -w 8 2001:db8:1::100 2>/dev/null | sed -nE 's/.* ([0-9.]+)% packet loss.*/\1/p')
	mbit=$(lab_iperf c1 2001:db8:1::100 4M)
	wait $fp
	r1=$(rss_kib "$pid")
	# The daemon's CPU says the flood reached it (Miredo's client is two processes).
	printf '%-9s during the flood: ping6 loss %s%%, TCP %s Mbit/s; daemon CPU %s s; RSS %s KiB before, %s KiB after\n' \
		"$impl" "${loss:-100}" "${mbit:-0}" "$(awk -v a="$cpu0" -v b="$(cpu_of c1 "$comm")" 'BEGIN { printf "%.2f", b - a }')" "$r0" "$r1"
	kill $(lab_pids c1 "$comm") 2>/dev/null
	lab_wait 10 lab_no_proc c1 "$comm"
	lab_wait 5 sh -c "! ip netns exec $(lab_ns c1) ip link show teredo"
}
bench_client_flood shipworm shipwormd
bench_client_flood miredo miredo

# ---------------------------------------------------------------------------------
echo
echo "== Kernel fast path (issue 10): a client behind a full-cone NAT (shipworm server) and the"
echo "   native host through a relay: shipworm relay + shipworm client with FastPath on, then both"
echo "   off, then Miredo relay + Miredo client, and the lab's own limit: plain IPv4 (no Teredo)"
echo "   from another host straight to the NAT, and from the native host through the relay's host"
echo "   (plain IPv4 forwarding there): the same hosts and NAT as the Teredo rows."
echo "   CPU is the whole machine's (/proc/stat: user, nice, system, irq, softirq, all CPUs),"
echo "   generators and receivers included, since eBPF work is charged to no process."
kill $(lab_pids c1 miredo) $(lab_pids rel miredo) $(lab_pids srv miredo-server) 2>/dev/null
lab_wait 10 lab_no_proc c1 miredo
lab_wait 10 lab_no_proc rel miredo
lab_wait 10 lab_no_proc srv miredo-server
fp_lab_setup
declare -A ftcp_in ftcp_out fcpu fpps fppm
# fp_measure LABEL FAMILY TARGET-FROM-C1: TCP each way (the far end sends with -R) and
# 64-byte UDP far end -> client, all started by c1 (so the plain path needs no port
# forward for the replies: the NAT's mapping is c1's own).
fp_measure() {
	local label=$1 fam=$2 dst=$3 j b0 c0 c1v bin bout bytes pk
	c0=$(machine_cpu)
	j=$(lab_exec c1 timeout 60 iperf3 "$fam" -c "$dst" -t "$BENCH_SECONDS" -R -J 2>/dev/null)
	bin=$(awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/,/, ""); print $2; exit }' <<<"$j")
	bytes=$(awk '/"sum_received"/ { f = 1 } f && /"bytes"/ { gsub(/,/, ""); print $2; exit }' <<<"$j")
	j=$(lab_exec c1 timeout 60 iperf3 "$fam" -c "$dst" -t "$BENCH_SECONDS" -J 2>/dev/null)
	bout=$(awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/,/, ""); print $2; exit }' <<<"$j")
	b0=$(awk '/"sum_received"/ { f = 1 } f && /"bytes"/ { gsub(/,/, ""); print $2; exit }' <<<"$j")
	c1v=$(machine_cpu)
	bytes=$(awk -v a="${bytes:-0}" -v b="${b0:-0}" 'BEGIN { print a + b }')
	fcpu[$label]=$(awk -v a="$c0" -v b="$c1v" -v n="$bytes" 'BEGIN { r = n > 0 ? (b - a) / (n / 1e9) : 0; printf "%.2f", r }')
	ftcp_in[$label]=$(awk -v b="${bin:-0}" 'BEGIN { printf "%.0f", b / 1e6 }')
	ftcp_out[$label]=$(awk -v b="${bout:-0}" 'BEGIN { printf "%.0f", b / 1e6 }')
	c0=$(machine_cpu)
	pk=$(udp_delivered "$fam" "$dst")
	c1v=$(machine_cpu)
	fpps[$label]=$(awk -v p="${pk:-0}" 'BEGIN { printf "%.0f", p / '"$BENCH_SECONDS"' }')
	fppm[$label]=$(awk -v p="${pk:-0}" -v a="$c0" -v b="$c1v" 'BEGIN { r = p > 0 ? (b - a) / (p / 1e6) : 0; printf "%.1f", r }')
	printf '%-25s TCP to client %6s Mbit/s, from client %6s Mbit/s, %6s machine CPU-s/GB; 64-byte UDP delivered %7s/s, %6s machine CPU-s/M\n' \
		"$label" "${ftcp_in[$label]}" "${ftcp_out[$label]}" "${fcpu[$label]}" "${fpps[$label]}" "${fppm[$label]}"
}
fp_row() { # LABEL IMPL [FASTPATH [MORE CONFIG]]
	local comm=miredo sock
	[ "$2" = shipworm ] && comm=shipwormd
	fp_start "$2" "${3:-}" "${4:-}"
	fp_measure "$1" -6 2001:db8:1::100
	if [ "$2" = shipworm ]; then
		for sock in rel c1; do
			printf '    %-6s' "$sock:"
			"$SHIPWORM" -s "$LAB_TMP/run/shipworm-$sock.sock" status |
				grep -E 'fast_path:|fast_path_gso|fast_path_decap_l3|fastpath_(in_decapsulated|out_encapsulated|out_gso_encapsulated|in_to_daemon|out_to_daemon)|udp_gso_|tun_gro_' |
				tr -s ' ' | paste -sd' '
		done
	fi
	fp_stop "$comm"
}
# The small-packet aim in alternating rounds, as for the server (the generator's own
# speed moves from round to round by more than the difference measured): the plain path
# through the relay's host, then the fast path, BENCH_FP_ROUNDS times with the same
# daemons up (their programs see the plain packets too and pass them on at once), and
# the median ratio. Then where a small packet's time goes: the kernel's own count of each
# program's runs and their time (kernel.bpf_stats_enabled, on for that last run only and
# set back after it: it adds two clock reads to every run, so no other row has it),
# beside what a packet costs the sending CPU, which carries the whole chain (1 s / rate).
fp_small() {
	local r pl on ratios=() pls=() st0 pk ns=0 runs sock t p mr mp
	fp_start shipworm on
	for ((r = 1; r <= BENCH_FP_ROUNDS; r++)); do
		pl=$(udp_delivered -4 192.0.2.100)
		on=$(udp_delivered -6 2001:db8:1::100)
		pls+=("$((pl / BENCH_SECONDS))")
		ratios+=("$(awk -v a="$on" -v b="$pl" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')")
		printf '    round %d: plain through the relay host %d/s, FastPath on %d/s: %s\n' \
			"$r" "$((pl / BENCH_SECONDS))" "$((on / BENCH_SECONDS))" "${ratios[-1]}"
	done
	mr=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	mp=$(printf '%s\n' "${pls[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
	echo "small packets delivered, FastPath on / plain through the relay host, median of $BENCH_FP_ROUNDS alternating rounds: $mr"
	st0=$(sysctl -n kernel.bpf_stats_enabled)
	trap 'sysctl -qw kernel.bpf_stats_enabled='"$st0"'; lab_down' EXIT
	sysctl -qw kernel.bpf_stats_enabled=1
	pk=$(udp_delivered -6 2001:db8:1::100)
	sysctl -qw kernel.bpf_stats_enabled="$st0"
	trap lab_down EXIT
	for sock in rel c1; do
		for p in in out; do
			read -r runs t < <(prog_run "$sock" "$p")
			printf '    %-4s teredo_%-4s %9s runs, %4s ns each\n' "$sock" "$p" "${runs:-0}" \
				"$(awk -v t="${t:-0}" -v r="${runs:-0}" 'BEGIN { printf "%.0f", (r > 0 ? t / r : 0) }')"
			ns=$((ns + ${t:-0}))
		done
	done
	awk -v ns="$ns" -v p="${pk:-0}" -v s="$BENCH_SECONDS" -v plain="$mp" 'BEGIN {
		if (p <= 0 || plain <= 0) exit
		per = 1e9 * s / p; base = 1e9 / plain; progs = ns / p
		printf "a small packet with the programs counted: %.0f/s, %.0f ns on the sending CPU (plain through the relay host: %.0f ns, the rounds%s median);\n", p / s, per, base, "\047"
		printf "the programs take %.0f ns of it (their clock reads included), the kernel%s own extra passes the other %.0f ns of the %.0f ns difference\n", progs, "\047s", per - base - progs, per - base }'
	fp_stop shipwormd
}
fp_measure "plain IPv4 (no Teredo)" -4 198.51.100.50
fp_measure "plain IPv4 via relay host" -4 192.0.2.100
fp_row "shipworm FastPath on" shipworm on
fp_row "shipworm FastPath off" shipworm off
fp_row "FastPath off, UdpOffload no" shipworm off "UdpOffload no"
fp_row "Miredo relay + client" miredo
# The relay's link with GRO on, as a NIC's driver has it (the lab's veth links have it
# off): the native host's TCP reaches the relay joined into super-packets, which the
# fast path encapsulates whole; the plain path through the relay's host forwards them.
lab_exec rel ethtool -K eth0 gro on >/dev/null
fp_measure "plain via relay host, GRO" -4 192.0.2.100
fp_row "FastPath on, relay GRO" shipworm on
lab_exec rel ethtool -K eth0 gro off >/dev/null
awk -v on="${fcpu[shipworm FastPath on]:-0}" -v off="${fcpu[shipworm FastPath off]:-0}" -v m="${fcpu[Miredo relay + client]:-0}" \
    -v p="${fcpu[plain IPv4 (no Teredo)]:-0}" -v son="${fppm[shipworm FastPath on]:-0}" -v soff="${fppm[shipworm FastPath off]:-0}" \
    -v sm="${fppm[Miredo relay + client]:-0}" -v sp="${fppm[plain IPv4 (no Teredo)]:-0}" 'BEGIN {
	printf "ratios (machine CPU per GB, TCP): FastPath on / off %.2f, on / Miredo %.2f, on / plain %.2f\n", (off > 0 ? on / off : 0), (m > 0 ? on / m : 0), (p > 0 ? on / p : 0)
	printf "ratios (machine CPU per million small packets): on / off %.2f, on / Miredo %.2f, on / plain %.2f\n", (soff > 0 ? son / soff : 0), (sm > 0 ? son / sm : 0), (sp > 0 ? son / sp : 0) }'
awk -v on="${fpps[shipworm FastPath on]:-0}" -v off="${fpps[shipworm FastPath off]:-0}" -v p="${fpps[plain IPv4 (no Teredo)]:-0}" \
    -v pr="${fpps[plain IPv4 via relay host]:-0}" -v son="${fppm[shipworm FastPath on]:-0}" -v spr="${fppm[plain IPv4 via relay host]:-0}" 'BEGIN {
	printf "small packets delivered, share of the plain path: FastPath on %.2f (through the relay host %.2f), off %.2f (%.2f); CPU per packet, on / plain through the relay host %.2f\n",
		(p > 0 ? on / p : 0), (pr > 0 ? on / pr : 0), (p > 0 ? off / p : 0), (pr > 0 ? off / pr : 0), (spr > 0 ? son / spr : 0) }'

fp_small

echo
echo "== Two clients behind port-preserving symmetric NATs, directly (RFC 6081 §5.4: each reaches"
echo "   the other from the random port it lent it): TCP each way with FastPath on, then off."
echo "   CPU is the whole machine's, as above."
lab_nat 12 ppsymmetric 198.51.100.62
lab_nat 13 ppsymmetric 198.51.100.63
lab_bg c13 iperf3-c13 iperf3 -s
declare -A rtcp rcpu
rport_row() { # FASTPATH
	local a13 j b0 b1 m0 m1 c0 c1v sock n
	for n in 12 13; do lab_shipworm_client "c$n" 198.51.100.10 "FastPath $1" >/dev/null; done
	lab_wait 20 lab_has_teredo_addr c12
	lab_wait 20 lab_has_teredo_addr c13
	a13=$(lab_teredo_addr c13)
	lab_exec c12 ping -6 -n -c 3 -i 0.3 -W 2 -w 8 "$a13" >/dev/null 2>&1
	sock=$("$SHIPWORM" -s "$LAB_TMP/run/shipworm-c12.sock" peer "$a13" | sed -nE 's/^socket: ([0-9]+)$/\1/p')
	c0=$(machine_cpu)
	j=$(lab_iperf_json 60 c12 "$a13" -t "$BENCH_SECONDS")
	b0=$(awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/,/, ""); print $2; exit }' <<<"$j")
	m0=$(awk '/"sum_received"/ { f = 1 } f && /"bytes"/ { gsub(/,/, ""); print $2; exit }' <<<"$j")
	j=$(lab_iperf_json 60 c12 "$a13" -t "$BENCH_SECONDS" -R)
	b1=$(awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/,/, ""); print $2; exit }' <<<"$j")
	m1=$(awk '/"sum_received"/ { f = 1 } f && /"bytes"/ { gsub(/,/, ""); print $2; exit }' <<<"$j")
	c1v=$(machine_cpu)
	rtcp[$1]=$(awk -v a="${b0:-0}" -v b="${b1:-0}" 'BEGIN { printf "%.0f / %.0f", a / 1e6, b / 1e6 }')
	rcpu[$1]=$(awk -v a="$c0" -v b="$c1v" -v n="$(( ${m0:-0} + ${m1:-0} ))" 'BEGIN { printf "%.2f", (n > 0 ? (b - a) / (n / 1e9) : 0) }')
	printf 'FastPath %-4s c12 -> c13 / c13 -> c12 %s Mbit/s, %s machine CPU-s/GB; c12 reaches c13 from its socket %s; ' \
		"$1" "${rtcp[$1]}" "${rcpu[$1]}" "${sock:-0}"
	"$SHIPWORM" -s "$LAB_TMP/run/shipworm-c12.sock" status | grep -E 'fastpath_(in_decapsulated|out_encapsulated):' |
		tr -s ' ' | paste -sd' ' | grep . || echo "(no fast path)"
	kill $(lab_pids c12 shipwormd) $(lab_pids c13 shipwormd) 2>/dev/null
	lab_wait 10 lab_no_proc c12 shipwormd
	lab_wait 10 lab_no_proc c13 shipwormd
}
rport_row on
rport_row off
awk -v on="${rcpu[on]:-0}" -v off="${rcpu[off]:-0}" 'BEGIN { printf "ratio machine CPU per GB, FastPath on / off: %.2f\n", (off > 0 ? on / off : 0) }'

echo
echo "== Relay memory per peer and lookup cost: 1,000,000 trusted clients in the core's table and"
echo "   the kernel fast path's peer map (issue 10: at most 256 MiB together is the aim), and"
echo "   what listing that table page by page (shipworm peers) holds the daemon's loop for"
# Built by make bench (build/bench/peermem) with the daemon's flags.
make -s -C "$top" build/bench/peermem && "$top/build/bench/peermem" 1000000
echo "reproduce: make bench   (BENCH_SECONDS, BENCH_STARTS, BENCH_FP_ROUNDS)"
