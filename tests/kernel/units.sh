#!/bin/bash
# In the virtual machine of tests/kernel/run.sh: the fast path's programs through
# BPF_PROG_TEST_RUN (the unit tests test_bpf and test_bpf_srv, built by make check),
# loaded by the daemon's own loader, so that Debian 12's verifier and helpers judge them
# (and printing what its probes find there: GSO encapsulation, one-step decapsulation).
set -u
p=0 f=0
for t in test_bpf test_bpf_srv; do
	build/unit/$t >"/tmp/$t.log" 2>&1
	rc=$?
	grep "^# this kernel" "/tmp/$t.log"
	sed -n 's/^\[  *\(OK\|FAILED\|ERROR\)  *\] \(.*\)$/\1 \2/p' "/tmp/$t.log" | grep -v ' test(s)' |
		sed "s/^OK /ok - $t: /; s/^FAILED /not ok - $t: /; s/^ERROR /not ok - $t: /"
	n=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\.$/\1/p' "/tmp/$t.log")
	m=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s).*$/\1/p' "/tmp/$t.log")
	p=$((p + ${n:-0})) f=$((f + ${m:-0}))
	if [ "$rc" -ne 0 ] && [ -z "$m" ]; then
		echo "not ok - $t exited with status $rc"; f=$((f + 1))
		tail -n 20 "/tmp/$t.log" | sed 's/^/#   /'
	elif [ -n "$m" ]; then
		grep -E 'cannot|refused|error' "/tmp/$t.log" | head -n 20 | sed 's/^/#   /'
	fi
done
echo "kernel $(uname -r): $p passed, $f failed"
[ "$f" -eq 0 ]
