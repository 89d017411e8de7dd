#!/usr/bin/env bash
# The programs' command lines: help, version, configuration errors, decode. A bad
# configuration must make shipwormd exit non-zero before it touches the network, so this
# runs in a namespace of its own and checks that nothing was bound or created there.
set -u
. "$(dirname "$0")/lab.sh"
LAB_ID=${LAB_ID:-swc$$}
lab_init
lab_newns box

check "shipwormd --help" sh -c "'$SHIPWORMD' --help | grep -q 'Usage: shipwormd'"
check "shipwormd --version" sh -c "'$SHIPWORMD' --version | grep -q '^shipwormd [0-9]'"
check "shipworm --help" sh -c "'$SHIPWORM' --help | grep -q 'shipworm decode ADDRESS'"
check "shipworm --version" sh -c "'$SHIPWORM' --version | grep -q '^shipworm [0-9]'"
check "shipwormd rejects an unknown option" sh -c "! '$SHIPWORMD' --bogus 2>/dev/null"

bad() { # NAME TEXT WANT: shipwormd -f must fail, print WANT, and leave no socket behind.
	printf '%s' "$2" >"$LAB_TMP/$1.conf"
	local out rc
	out=$(lab_exec box "$SHIPWORMD" -f -c "$LAB_TMP/$1.conf" -s "$LAB_TMP/$1.sock" 2>&1)
	rc=$?
	check "bad config ($1) exits non-zero" test $rc -ne 0
	check "bad config ($1) says \"$3\"" grep -qF -- "$3" <<<"$out"
	check "bad config ($1) touched nothing" sh -c "! test -e '$LAB_TMP/$1.sock' && test -z \"\$(ip netns exec $(lab_ns box) ss -Hua)\""
}
bad unknown $'ServerBindAddress 198.51.100.10\nFrob 1\n' "$LAB_TMP/unknown.conf:2: unknown directive \"Frob\""
bad address $'ServerBindAddress 198.51.100.256\n' "$LAB_TMP/address.conf:1: ServerBindAddress"
bad contradiction $'RelayType cone\nServerBindAddress 198.51.100.10\n' "$LAB_TMP/contradiction.conf:1: RelayType and ServerBindAddress"
check "a missing configuration file is reported" sh -c "'$SHIPWORMD' -f -c /nonexistent/x.conf 2>&1 | grep -q '/nonexistent/x.conf: No such file'"
printf 'ServerBindAddress 198.51.100.10\n' >"$LAB_TMP/ok.conf"
check "shipwormd --check accepts a miredo-server.conf" sh -c "'$SHIPWORMD' --check -c '$LAB_TMP/ok.conf' | grep -q 'mode server'"
check "shipwormd accepts Debian's own miredo-server.conf syntax" sh -c "! test -e /etc/miredo/miredo-server.conf || '$SHIPWORMD' --check -c /etc/miredo/miredo-server.conf 2>&1 | grep -q 'needs ServerBindAddress\|mode server'"

# The systemd units, as they ship (with the programs under test in their ExecStart
# lines, so that systemd-analyze finds them): the single unit and an instance of the
# template that runs several roles on one host (issue 12).
mkdir -p "$LAB_TMP/units"
for u in shipwormd.service shipwormd@.service shipworm-metrics.service shipworm-metrics.timer; do
	dest=$LAB_TMP/units/${u/@/@lab}
	sed "s#/usr/local/sbin/shipwormd#$SHIPWORMD#g; s#/usr/local/bin/shipworm#$SHIPWORM#g" "$SHIPWORM_TOP/packaging/$u" >"$dest"
	check "systemd-analyze verify accepts $u" sh -c "systemd-analyze verify --man=no '$dest' 2>&1 | tee '$LAB_TMP/verify.out'; ! test -s '$LAB_TMP/verify.out'"
done
check "the single unit and the template give a daemon the same capabilities" test \
	"$(grep '^CapabilityBoundingSet=' "$SHIPWORM_TOP/packaging/shipwormd.service")" = \
	"$(grep '^CapabilityBoundingSet=' "$SHIPWORM_TOP/packaging/shipwormd@.service")"
check "the template runs /etc/shipworm/NAME.conf with its own control socket" \
	grep -q -- "-c /etc/shipworm/%i.conf -s /run/shipworm/%i.sock" "$SHIPWORM_TOP/packaging/shipwormd@.service"

check "decode prints server, flags, port and IPv4" sh -c "'$SHIPWORM' decode 2001:0:4136:e378:8000:63bf:3fff:fdd2 | tr -s ' ' | grep -q 'mapped port: 40000' &&
	'$SHIPWORM' decode 2001:0:4136:e378:8000:63bf:3fff:fdd2 | grep -q 'server: *65.54.227.120' &&
	'$SHIPWORM' decode 2001:0:4136:e378:8000:63bf:3fff:fdd2 | grep -q 'mapped IPv4: *192.0.2.45' &&
	'$SHIPWORM' decode 2001:0:4136:e378:8000:63bf:3fff:fdd2 | grep -q 'cone (C): *1'"
check "decode --json gives the same fields as JSON" sh -c "'$SHIPWORM' decode 2001:0:4136:e378:8000:63bf:3fff:fdd2 --json |
	python3 -c 'import json,sys; d = json.load(sys.stdin); sys.exit(not (d[\"mapped_port\"] == 40000 and d[\"server\"] == \"65.54.227.120\" and d[\"mapped_ipv4\"] == \"192.0.2.45\" and d[\"cone\"] is True))'"
check "decode rejects a non-Teredo address clearly" sh -c "! '$SHIPWORM' decode 2001:db8::1 2>$LAB_TMP/d.err && grep -q 'not a Teredo address' $LAB_TMP/d.err"
check "decode rejects a non-address clearly" sh -c "! '$SHIPWORM' decode banana 2>$LAB_TMP/d.err && grep -q 'not an IPv6 address' $LAB_TMP/d.err"
check "status without a daemon says so" sh -c "! '$SHIPWORM' -s $LAB_TMP/none.sock status 2>$LAB_TMP/s.err && grep -q 'cannot reach shipwormd' $LAB_TMP/s.err"
# A daemon that takes the connection and never answers (stopped, or stuck): a clear error
# after 5 s, not a command that hangs (a monitoring timer would pile them up).
/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(4); time.sleep(20)' \
	"$LAB_TMP/mute.sock" &
LAB_HOST_PIDS+=($!)
lab_wait 5 test -S "$LAB_TMP/mute.sock"
check "status gives up on a daemon that does not answer, and says so" sh -c "! timeout 15 '$SHIPWORM' -s $LAB_TMP/mute.sock status 2>$LAB_TMP/m.err && grep -q 'did not answer in time' $LAB_TMP/m.err"
# `shipworm peers` pages through a table (issue 10's scale): a stand-in daemon answers
# "peers" and "peers from 2" with two pages of a table whose daemon then goes away (a
# restart, a role without peers): the command prints what it had, says where the
# listing stopped and why, and fails.
/usr/bin/python3 -c 'import socket, sys
pages = {b"peers\n": b"count: 2\npeers:\n  -\n    address: 2001:0:c633:640a::1\nlisted: 1\nnext: 2\n",
         b"peers from 2\n": b"error: a server keeps no peers\n"}
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(4); s.settimeout(20)
for _ in range(2):
    c, _ = s.accept(); c.sendall(pages.get(c.recv(64), b"error: ?\n")); c.close()' "$LAB_TMP/pages.sock" &
LAB_HOST_PIDS+=($!)
lab_wait 5 test -S "$LAB_TMP/pages.sock"
check "peers cut short midway fails, saying where and why" sh -c "! '$SHIPWORM' -s $LAB_TMP/pages.sock peers >$LAB_TMP/p.out 2>$LAB_TMP/p.err &&
	grep -qx 'shipworm: the listing stopped at slot 2: error: a server keeps no peers' $LAB_TMP/p.err &&
	grep -qx '    address: 2001:0:c633:640a::1' $LAB_TMP/p.out"
lab_summary
