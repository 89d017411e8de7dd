#!/bin/bash
# In the virtual machine of tests/kernel/run.sh: the lab's server, client and relay
# scenarios, and a server and a relay on one host, with the kernel fast path on
# (FastPath auto, which the status must show on), on Debian 12's kernel. About 7
# minutes under emulation; make lab-6.1 runs it.
set -u
p=0 f=0
for t in "test_server.sh shipworm" "test_client.sh shipworm" "test_relay.sh" "test_onehost.sh"; do
	echo "=== lab on $(uname -r): $t"
	start=$SECONDS
	# shellcheck disable=SC2086
	timeout 900 tests/lab/$t >/tmp/lab.out 2>&1
	rc=$?
	cat /tmp/lab.out
	echo "# $t took $((SECONDS - start)) s"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' /tmp/lab.out | tail -n 1)
	p=$((p + ${line%% *}))
	n=${line#*, }
	f=$((f + ${n%% *}))
	if [ -z "$line" ] || { [ "$rc" -ne 0 ] && [ "${n%% *}" = 0 ]; }; then
		echo "not ok - $t exited with status $rc"; f=$((f + 1))
	fi
done
echo "lab on $(uname -r): $p passed, $f failed"
[ "$f" -eq 0 ]
