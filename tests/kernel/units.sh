#!/bin/bash
# In the virtual machine of tests/kernel/run.sh: the fast path's programs through
# BPF_PROG_TEST_RUN (the unit tests test_bpf and test_bpf_srv, built by make check),
# loaded by the daemon's own loader, so that Debian 12's verifier and helpers judge them
# (and printing what its probes find there: GSO encapsulation, one-step decapsulation);
# then the differential fuzzers of the programs against the cores (tests/fuzz/fuzz_bpf.c,
# fuzz_bpf_srv.c) for KERNEL_FUZZ_SECONDS each, since 6.1 takes paths of its own
# (two-step decapsulation, no GSO encapsulation, an older verifier).
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
secs=${KERNEL_FUZZ_SECONDS:-20}
for t in fuzz_bpf fuzz_bpf_srv; do
	mkdir -p "/tmp/$t"
	if build/fuzz/$t -max_total_time="$secs" -print_final_stats=1 "/tmp/$t" "tests/fuzz/corpus/$t" \
		>"/tmp/$t.log" 2>&1; then
		echo "ok - $t: $(sed -n 's/^stat::number_of_executed_units: *//p' "/tmp/$t.log") inputs in $secs s, the programs as the cores"
		p=$((p + 1))
	else
		echo "not ok - $t: a program differs from its core"
		grep -E "^$t|Base64" "/tmp/$t.log" | sed 's/^/#   /'
		f=$((f + 1))
	fi
	sed -n "s/^$t: /# /p" "/tmp/$t.log"
done
echo "kernel $(uname -r): $p passed, $f failed"
[ "$f" -eq 0 ]
