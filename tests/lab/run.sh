#!/usr/bin/env bash
# Run every lab test; print each test's lines and one total line.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export SHIPWORMD=${SHIPWORMD:-$here/../../build/san/shipwormd}
export SHIPWORM=${SHIPWORM:-$here/../../build/san/shipworm}
# ASan: a leak or error in the daemon fails loudly in its log; keep going otherwise.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
pass=0 fail=0
run() {
	echo "=== lab: $*"
	local out t0=$SECONDS
	out=$(timeout 600 "$here/$1" "${@:2}" 2>&1)
	local rc=$?
	echo "# $1 took $((SECONDS - t0)) s"
	printf '%s\n' "$out"
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -n 1)
	if [ -n "$line" ]; then
		pass=$((pass + $(cut -d' ' -f1 <<<"$line")))
		fail=$((fail + $(cut -d' ' -f3 <<<"$line")))
	fi
	if [ $rc -ne 0 ] && { [ -z "$line" ] || [ "$(cut -d' ' -f3 <<<"$line")" = 0 ]; }; then
		echo "not ok - $1 exited with status $rc"
		fail=$((fail + 1))
	fi
}
run test_cli.sh
run test_server.sh shipworm
run test_server.sh miredo
run test_client.sh miredo
run test_client.sh shipworm
run test_relay.sh
# Contact opened by native hosts (issue 9): every relay kind, every NAT kind, fresh and
# after every timeout, against Miredo's client in the same cells.
run test_inbound.sh
# A host-specific relay behind a NAT (issue 9, 1b).
run test_hostnat.sh
# RFC 6081 §5.3 against a real UPnP IGD (miniupnpd), with and without random ports.
run test_upnp.sh
# A client on the move (issue 11): server fail-over, a new NAT, no network and back.
run test_roaming.sh
# Two relays announcing 2001::/32 by anycast with BIRD 2 (issue 12): a relay stops
# during a TCP transfer; the route and the flow move to the other.
run test_anycast.sh
# Malformed and adversarial packets at every role, under the sanitizers (issue 5).
run test_replay.sh
# The NAT matrix (make interop) as a check: every client qualifies, and no cell where
# Miredo <-> Miredo works fails with shipworm on either side (production build).
SHIPWORMD=$here/../../build/shipwormd SHIPWORM=$here/../../build/shipworm run interop.sh
# The production build (no sanitizers) traps any system call outside its seccomp filter,
# so the roles run once more as they ship; the server and the clients without the kernel
# fast path (issue 10), which every other shipworm daemon in the lab runs with.
SHIPWORMD=$here/../../build/shipwormd LAB_FASTPATH=off run test_server.sh shipworm
SHIPWORMD=$here/../../build/shipwormd LAB_FASTPATH=off run test_client.sh shipworm
# ... the relays without the kernel fast path (issue 10): FastPath is auto, so every
# other relay in the lab runs with it.
SHIPWORMD=$here/../../build/shipwormd LAB_FASTPATH=off run test_relay.sh
# Hostile traffic (issue 5): the spoofed flood against the production build.
run test_flood.sh
left=$(ip netns list | grep -c '^sw' || true)
if [ "$left" -ne 0 ]; then
	echo "not ok - $left lab namespace(s) left behind"
	fail=$((fail + 1))
fi
echo "lab: $pass passed, $fail failed"
[ $fail -eq 0 ]
