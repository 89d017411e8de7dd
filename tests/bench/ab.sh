#!/usr/bin/env bash
# tests/bench/ab.sh OLD-SHIPWORMD NEW-SHIPWORMD: two builds of the daemon side by side in
# one lab (make bench's fast-path lab, tests/bench/fastpath_lab.sh), for a change to the
# kernel fast path (issue 10). Each of AB_ROUNDS rounds measures the plain path through
# the relay's host, then each build's relay and client with FastPath on: 64-byte UDP
# delivered from the native host to the client, and TCP each way. The builds alternate
# within a round, since the machine's own speed moves from round to round by more than
# such a change. The last round also reads the kernel's count of each program's time
# (kernel.bpf_stats_enabled, set back after it). Prints figures; never fails on timing.
#
#   git worktree add /tmp/old HEAD~1 && make -C /tmp/old build/shipwormd
#   make build/shipwormd build/shipworm && tests/bench/ab.sh /tmp/old/build/shipwormd build/shipwormd
set -u
if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
	echo "usage: $0 OLD-SHIPWORMD NEW-SHIPWORMD (two built daemons)" >&2
	exit 2
fi
old=$(realpath "$1") new=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export SHIPWORM=${SHIPWORM:-$top/build/shipworm}
. "$top/tests/lab/lab.sh"
. "$here/fastpath_lab.sh"
LAB_ID=${LAB_ID:-swab$$}
BENCH_SECONDS=${BENCH_SECONDS:-5}
AB_ROUNDS=${AB_ROUNDS:-5}

stats0=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled='"$stats0"'; lab_down' EXIT
lab_init
lab_internet
lab_public gen 198.51.100.50
lab_bg v6host iperf3 iperf3 -s
lab_nat 1 fullcone 198.51.100.21
fp_lab_setup

# Each program's mean time a run, from the daemons' status (their kernel counts).
prog_times() {
	local sock p runs t
	for sock in rel c1; do
		for p in in out; do
			read -r runs t < <(prog_run "$sock" "$p")
			printf ' %s teredo_%s %s ns' "$sock" "$p" \
				"$(awk -v t="${t:-0}" -v r="${runs:-0}" 'BEGIN { printf "%.0f", (r > 0 ? t / r : 0) }')"
		done
	done
}
tcp_mbit() { # [-R]: c1 -> the native host (with -R, the other way)
	lab_exec c1 timeout 60 iperf3 -6 -c 2001:db8:1::100 -t "$BENCH_SECONDS" -J "$@" 2>/dev/null |
		awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/,/, ""); printf "%.0f", $2 / 1e6; exit }'
}

declare -A ratios times
for ((r = 1; r <= AB_ROUNDS; r++)); do
	pl=$(udp_delivered -4 192.0.2.100)
	line="round $r: plain through the relay's host $((pl / BENCH_SECONDS))/s"
	for v in old new; do
		if [ "$v" = old ]; then SHIPWORMD=$old; else SHIPWORMD=$new; fi
		fp_start shipworm on
		[ "$r" -eq "$AB_ROUNDS" ] && sysctl -qw kernel.bpf_stats_enabled=1
		on=$(udp_delivered -6 2001:db8:1::100)
		if [ "$r" -eq "$AB_ROUNDS" ]; then
			sysctl -qw kernel.bpf_stats_enabled="$stats0"
			times[$v]=$(prog_times)
		fi
		ratios[$v]+="$(awk -v a="$on" -v b="$pl" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }') "
		line+="; $v $((on / BENCH_SECONDS))/s, TCP from the client $(tcp_mbit) Mbit/s, to it $(tcp_mbit -R)"
		fp_stop shipwormd
	done
	echo "$line"
done
for v in old new; do
	printf '%s: small packets / plain by round: %s; median %s;%s\n' "$v" "${ratios[$v]}" \
		"$(tr ' ' '\n' <<<"${ratios[$v]}" | grep . | sort -n | awk '{ x[NR] = $1 } END { print x[int((NR + 1) / 2)] }')" \
		"${times[$v]:-}"
done
