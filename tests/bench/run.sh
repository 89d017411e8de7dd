#!/usr/bin/env bash
# make bench: side-by-side measurements against Miredo, in one lab and one run.
# Prints figures and ratios; never fails on timing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export SHIPWORMD=${SHIPWORMD:-$top/build/shipwormd}
export SHIPWORM=${SHIPWORM:-$top/build/shipworm}
. "$top/tests/lab/lab.sh"
LAB_ID=${LAB_ID:-swb$$}
BENCH_SECONDS=${BENCH_SECONDS:-5}
BENCH_COUNT=${BENCH_COUNT:-20000000}

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
lab_public srv 198.51.100.10 198.51.100.11
lab_public gen 198.51.100.50

declare -A rate rss
bench_server() { # IMPL PROCESS-NAME
	local impl=$1 pname=$2 pid c0 c1 out
	if [ "$impl" = shipworm ]; then lab_shipworm_server srv 198.51.100.10; else lab_miredo_server srv 198.51.100.10; fi
	sleep 1
	pid=$(lab_pids srv "$pname" | tail -n 1)
	c0=$(cpu_seconds "$pid")
	out=$(lab_exec gen "$top/build/bench/rsflood" 198.51.100.10 "$BENCH_SECONDS" "$BENCH_COUNT")
	c1=$(cpu_seconds "$pid")
	rss[$impl]=$(rss_kib "$pid")
	echo "  ($impl CPU: $(cpu_split "$pid"))"
	local answered cpu
	answered=$(awk '{ print $4 }' <<<"$out")
	cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
	rate[$impl]=$(awk -v n="$answered" -v c="$cpu" 'BEGIN { printf "%.0f", (c > 0 ? n / c : 0) }')
	printf '%-9s %s; server CPU %s s; %s RS answered per CPU-second; RSS %s KiB\n' \
		"$impl" "$out" "$cpu" "${rate[$impl]}" "${rss[$impl]}"
	kill $(lab_pids srv "$pname")
	lab_wait 5 sh -c "test -z \"\$(ip netns pids $(lab_ns srv))\""
}

echo "== Router Solicitations answered per CPU-second (server), ${BENCH_SECONDS} s of load"
bench_server shipworm shipwormd
bench_server miredo miredo-server
awk -v a="${rate[shipworm]}" -v b="${rate[miredo]}" \
	'BEGIN { printf "ratio shipworm/miredo: %.2fx RS per CPU-second\n", (b > 0 ? a / b : 0) }'
echo "reproduce: make bench   (BENCH_SECONDS=$BENCH_SECONDS)"
