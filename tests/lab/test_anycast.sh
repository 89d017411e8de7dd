#!/usr/bin/env bash
# Two shipworm relays announce 2001::/32 by anycast (issue 12): each relay host runs BIRD 2
# with a static route to the prefix through the relay's tunnel interface ("via
# teredo"), which exists only while shipwormd runs, and exports it over BGP to the
# native side's router. A TCP transfer from a native host to a Teredo client runs while
# the relay carrying it stops: traffic must go on through the other relay. Prints the
# time the route took to move and the time the flow stalled (docs/scaling.md).
#
#   inet 198.51.100.0/24, 2001:db8:1::/64   srv  shipworm server .10/.11
#   rel1 .31, 2001:db8:1::31 (AS 65001)      rel2 .32, 2001:db8:1::32 (AS 65002)
#   rtr  2001:db8:1::1 (AS 65000), routes 2001::/32 by BGP; behind it, on its own
#        link, the native host v6host 2001:db8:2::100
#   c1   shipworm client behind a home router (198.51.100.21)
set -u
. "$(dirname "$0")/lab.sh"
LAB_ID=${LAB_ID:-swa$$}

lab_init
lab_public srv 198.51.100.10 198.51.100.11
lab_v6 srv 2001:db8:1::10
lab_public rtr
lab_v6 rtr 2001:db8:1::1
lab_newns v6host
lab_link rtr eth1 v6host eth0
lab_exec rtr ip -6 addr add 2001:db8:2::1/64 dev eth1 nodad
lab_exec v6host ip -6 addr add 2001:db8:2::100/64 dev eth0 nodad
lab_exec v6host ip -6 route add default via 2001:db8:2::1
lab_exec rtr sysctl -qw net.ipv6.conf.all.forwarding=1
for n in 1 2; do
	lab_public "rel$n" "198.51.100.3$n"
	lab_v6 "rel$n" "2001:db8:1::3$n"
done
for node in srv rel1 rel2; do lab_exec "$node" ip -6 route add 2001:db8:2::/64 via 2001:db8:1::1; done
lab_nat 1 homerouter 198.51.100.21

# bird_conf NODE: BIRD's configuration for the router or a relay.
bird_conf() {
	case $1 in
	rtr)
		cat <<'EOF'
router id 198.51.100.1;
protocol device { scan time 1; }
protocol kernel { ipv6 { import none; export all; }; }
template bgp relay { local 2001:db8:1::1 as 65000; hold time 3; keepalive time 1; connect retry time 1;
	ipv6 { import where net = 2001::/32; export none; }; }
protocol bgp rel1 from relay { neighbor 2001:db8:1::31 as 65001; }
protocol bgp rel2 from relay { neighbor 2001:db8:1::32 as 65002; }
EOF
		;;
	rel*)
		local n=${1#rel}
		cat <<EOF
router id 198.51.100.3$n;
protocol device { scan time 1; }
# The prefix, through the relay's tunnel: up only while the interface exists, that is
# while shipwormd runs (the kernel removes a TUN interface with its last descriptor).
protocol static teredo6 { ipv6; route 2001::/32 via "teredo"; }
protocol bgp rtr { local 2001:db8:1::3$n as 6500$n; neighbor 2001:db8:1::1 as 65000;
	hold time 3; keepalive time 1; connect retry time 1;
	ipv6 { import none; export where net = 2001::/32; }; }
EOF
		;;
	esac
}
for node in rtr rel1 rel2; do
	bird_conf "$node" >"$LAB_TMP/bird-$node.conf"
	lab_bg "$node" "bird-$node" bird -f -c "$LAB_TMP/bird-$node.conf" -s "$LAB_TMP/run/bird-$node.ctl"
done

check "shipworm server starts" lab_shipworm_server srv 198.51.100.10
for n in 1 2; do check "shipworm relay rel$n starts" lab_shipworm_relay "rel$n"; done
lab_shipworm_client c1 198.51.100.10 >/dev/null
lab_wait 20 lab_has_teredo_addr c1
a1=$(lab_teredo_addr c1)
check "c1 qualifies ($a1)" test -n "$a1"

# via: the relay the router's kernel sends 2001::/32 to now ("" if none); paths N: BIRD on
# the router has N BGP paths for it.
via() { lab_exec rtr ip -6 route show 2001::/32 | sed -nE 's/.*via 2001:db8:1::3([12]).*/rel\1/p'; }
paths() { [ "$(lab_exec rtr birdc -s "$LAB_TMP/run/bird-rtr.ctl" show route 2001::/32 2>/dev/null | grep -c 'via 2001:db8:1::3')" = "$1" ]; }
via_is() { [ "$(via)" = "$1" ]; }
check "the router learns 2001::/32 from both relays by BGP" lab_wait 20 paths 2
check "the native host reaches c1 through the anycast prefix" lab_ping6 v6host "$a1" 3
active=$(via)
other=$([ "$active" = rel1 ] && echo rel2 || echo rel1)
echo "# the router sends 2001::/32 to $active"

# A TCP transfer from the native host to c1; the active relay stops 4 s in. It runs 20 s:
# if a retransmission is lost while the client tests its new relay, TCP backs off to the
# next 3.2-6.4 s timer, and the flow must still have time to come back. The stall is
# printed, not judged (a figure, not a check).
lab_iperf_server c1 iperf3-c1 -1
lab_bg v6host iperf3-v6 iperf3 -c "$a1" -t 20 -i 0.2 -J
sleep 4
t0=$(date +%s.%N)
check "$active stops (SIGTERM)" lab_kill_wait "$active" shipwormd
check "the route moves to $other when $active's daemon stops" lab_wait 10 via_is "$other"
t1=$(date +%s.%N)
moved=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
echo "# the route moved $moved s after $active stopped"
lab_wait 25 sh -c "! kill -0 $(cat "$LAB_TMP/iperf3-v6.pid") 2>/dev/null"
# The longest run of 0.2 s intervals without data, and what came after the stop.
stall=$(/usr/bin/python3 - "$LAB_TMP/iperf3-v6.log" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
iv = [(i["sum"]["start"], i["sum"]["end"], i["sum"]["bytes"]) for i in j["intervals"]]
run = best = 0.0
for s, e, b in iv:
    run = run + (e - s) if b == 0 else 0.0
    best = max(best, run)
after = sum(b for s, e, b in iv if s >= 6.0)
print("%.1f %d" % (best, after))
EOF
)
echo "# the TCP flow stalled ${stall% *} s at most; $(( ${stall#* } / 1000 )) kB arrived after the switch"
check "TCP data still flows through $other after $active stopped" test "${stall#* }" -gt 0 2>/dev/null
[ "${stall#* }" -gt 0 ] 2>/dev/null || { lab_sw c1 status | sed 's/^/#   /'; lab_sw c1 peers | sed 's/^/#   /'; }
# A relay that dies (SIGKILL, no clean-up) loses its route as well: its TUN interface
# goes with its last descriptor.
check "$active starts again" lab_shipworm_relay "$active"
check "the router has both paths again" lab_wait 20 paths 2
check "$other is killed (SIGKILL)" lab_kill_wait "$other" shipwormd KILL
check "the router withdraws $other's path after the crash" lab_wait 10 paths 1
check "the router's route goes to $active" lab_wait 10 via_is "$active"
check "the native host reaches c1 again, through $active" lab_ping6 v6host "$a1" 3
for n in rtr rel1 rel2; do lab_kill_wait "$n" bird; done
lab_summary
