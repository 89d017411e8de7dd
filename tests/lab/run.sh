#!/usr/bin/env bash
# Run every lab test; print each test's lines and one total line.
#
#   LAB_JOBS=N   run N tests at a time (default 1). The tests wait far more than they
#                compute, and each builds its own namespaces (named after its PID), its own
#                /tmp directory and a mount namespace for every Miredo, so nothing is shared;
#                a test marked "alone" runs with nothing beside it (the flood measures loss
#                under a CPU-bound flood). Two at a time brought out timing faults that one
#                at a time never showed (docs/lab.md, all fixed); make check runs two.
#   LAB_FULL=1   also the passes marked "full": the three longest scenarios (inbound,
#                host-NAT, flood) with the kernel fast path off too (issue 10) — about 11
#                minutes two at a time in all, against make check's 8.
set -u
here=$(cd "$(dirname "$0")" && pwd)
san=$here/../../build/san
prod=$here/../../build
export SHIPWORMD=${SHIPWORMD:-$san/shipwormd}
export SHIPWORM=${SHIPWORM:-$san/shipworm}
# ASan: a leak or error in the daemon fails loudly in its log; keep going otherwise.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
jobs=${LAB_JOBS:-1}
full=${LAB_FULL:-0}
out=$(mktemp -d /tmp/shipworm-labrun.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$out"' EXIT
trap 'exit 130' INT TERM

# The queue, longest first so that parallel lanes end together:
# "[alone] [heavy] [full] [VAR=value...] -- test args". A heavy test never runs beside
# another heavy one: two interop matrices at once (some 90 daemons and 320 first
# contacts, each given 8 s, on two cores) failed most of their cells, Miredo's too. Every scenario runs with FastPath auto (on
# here), and again with FastPath off: the server, client and relay ones (and the interop
# matrix) as the production build (no sanitizers, seccomp trapping any system call
# outside its filter); the three longest only with LAB_FULL.
queue=(
	"-- test_inbound.sh"
	"-- test_hostnat.sh"
	"heavy SHIPWORMD=$prod/shipwormd SHIPWORM=$prod/shipworm -- interop.sh"
	"full LAB_FASTPATH=off -- test_inbound.sh"
	"full LAB_FASTPATH=off -- test_hostnat.sh"
	"-- test_roaming.sh"
	"LAB_FASTPATH=off -- test_roaming.sh"
	"heavy SHIPWORMD=$prod/shipwormd SHIPWORM=$prod/shipworm LAB_FASTPATH=off -- interop.sh"
	"-- test_client.sh miredo"
	"-- test_client.sh shipworm"
	"SHIPWORMD=$prod/shipwormd LAB_FASTPATH=off -- test_client.sh shipworm"
	"-- test_anycast.sh"
	"LAB_FASTPATH=off -- test_anycast.sh"
	"-- test_replay.sh"
	"LAB_FASTPATH=off -- test_replay.sh"
	"-- test_relay.sh"
	"SHIPWORMD=$prod/shipwormd LAB_FASTPATH=off -- test_relay.sh"
	"-- test_upnp.sh"
	"LAB_FASTPATH=off -- test_upnp.sh"
	"-- test_server.sh shipworm"
	"SHIPWORMD=$prod/shipwormd LAB_FASTPATH=off -- test_server.sh shipworm"
	"-- test_server.sh miredo"
	"-- test_cli.sh"
	"-- test_onehost.sh"
	"LAB_FASTPATH=off -- test_onehost.sh"
	# Hostile traffic (issue 5): the spoofed flood against the production build.
	"alone -- test_flood.sh"
	"full alone LAB_FASTPATH=off -- test_flood.sh"
)

pass=0 fail=0
declare -A name started
tally() { # I RC: print job I's output and add its counts.
	local i=$1 rc=$2 line
	echo "=== lab: ${name[$i]}"
	echo "# ${name[$i]} took $((SECONDS - started[$i])) s"
	cat "$out/$i"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out/$i" | tail -n 1)
	if [ -n "$line" ]; then
		pass=$((pass + $(cut -d' ' -f1 <<<"$line")))
		fail=$((fail + $(cut -d' ' -f3 <<<"$line")))
	fi
	if [ "$rc" -ne 0 ] && { [ -z "$line" ] || [ "$(cut -d' ' -f3 <<<"$line")" = 0 ]; }; then
		echo "not ok - ${name[$i]} exited with status $rc"
		fail=$((fail + 1))
	fi
}
declare -A pidof_job heavy
running=0 heavy_running=0
reap() { # wait for any one job and report it
	local pid rc
	wait -n -p pid
	rc=$?
	tally "${pidof_job[$pid]}" "$rc"
	[ "${heavy[${pidof_job[$pid]}]}" = 1 ] && heavy_running=$((heavy_running - 1))
	unset "pidof_job[$pid]"
	running=$((running - 1))
}
i=0
for entry in "${queue[@]}"; do
	read -ra pre <<<"${entry%%--*}"
	read -ra args <<<"${entry#*--}"
	env=() alone=0 label="" isfull=0 isheavy=0
	for w in "${pre[@]}"; do
		case $w in
		alone) alone=1 ;;
		heavy) isheavy=1 ;;
		full) isfull=1 ;;
		*) env+=("$w") ;;
		esac
	done
	[ $isfull = 1 ] && [ "$full" != 1 ] && continue
	case " ${env[*]} " in *" SHIPWORMD=$prod/"*) label+=", production build" ;; esac
	case " ${env[*]} " in *" LAB_FASTPATH=off "*) label+=", FastPath off" ;; esac
	limit=$jobs
	[ $alone = 1 ] && limit=1
	while [ $running -ge "$limit" ]; do reap; done
	if [ $isheavy = 1 ]; then
		while [ $heavy_running -gt 0 ]; do reap; done
		heavy_running=$((heavy_running + 1))
	fi
	heavy[$i]=$isheavy
	name[$i]="${args[*]}${label}"
	started[$i]=$SECONDS
	env "${env[@]}" LAB_ID="sw$$j$i" timeout 600 "$here/${args[0]}" "${args[@]:1}" >"$out/$i" 2>&1 &
	pidof_job[$!]=$i
	running=$((running + 1))
	# A test marked alone also keeps the others from starting until it is done.
	if [ $alone = 1 ]; then
		while [ $running -gt 0 ]; do reap; done
	fi
	i=$((i + 1))
done
while [ $running -gt 0 ]; do reap; done

# Only this run's namespaces (each job's are named sw<run>j<job>-<node>): another lab
# running beside it on the machine is none of its business.
left=$(ip netns list | grep -c "^sw$$j" || true)
if [ "$left" -ne 0 ]; then
	echo "not ok - $left lab namespace(s) left behind"
	fail=$((fail + 1))
fi
echo "lab: $pass passed, $fail failed"
[ $fail -eq 0 ]
