#!/usr/bin/env bash
# RFC 6081 §5.3 (UPnP-enabled symmetric NAT) against a real UPnP IGD: Debian's miniupnpd
# on port-preserving symmetric NATs (lab_nat ... upnp), libminiupnpc in shipworm's helper.
#
#   c1  shipworm behind nat1 (upnp)
#   c2  shipworm behind nat2 (upnp), PortPreservingNAT no: only §5.3 helps it
#   c5  shipworm behind nat5 (upnp), PortPreservingNAT no
#   c3  shipworm behind nat3 (homerouter: no IGD)
#   c4  shipworm behind nat4 (upnp), UPnP no
#   c6  Miredo behind nat6 (upnp)
set -u
. "$(dirname "$0")/lab.sh"
LAB_ID=${LAB_ID:-swu$$}

lab_init
lab_internet
lab_shipworm_server srv 198.51.100.10 >/dev/null
lab_shipworm_relay rel >/dev/null
for n in 1 2 4 5 6; do lab_nat "$n" upnp "198.51.100.$((100 + n))" || exit 1; done
lab_nat 3 homerouter 198.51.100.103
lab_shipworm_client c1 198.51.100.10 >/dev/null
lab_shipworm_client c2 198.51.100.10 "PortPreservingNAT no" >/dev/null
lab_shipworm_client c5 198.51.100.10 "PortPreservingNAT no" >/dev/null
lab_shipworm_client c3 198.51.100.10 >/dev/null
lab_shipworm_client c4 198.51.100.10 "UPnP no" >/dev/null
lab_miredo_client c6 198.51.100.10
for c in c1 c2 c3 c4 c5 c6; do lab_wait 30 lab_has_teredo_addr "$c"; done
declare -A addr
for c in c1 c2 c3 c4 c5 c6; do addr[$c]=$(lab_teredo_addr "$c"); done

st() { lab_sw "$1" status --json | sed -nE "s/.*\"$2\":\"?([^\",}]*)\"?.*/\1/p"; }
upnp_known() { [ "$(st "$1" upnp)" != searching ]; }
for c in c1 c2 c3 c5; do lab_wait 10 upnp_known "$c"; done
port1=$(st c1 local_port)

# X-22, X-24: the mapping on the IGD, as the RFC asks for it, seen from both ends.
check "c1 found its IGD and a single NAT (status upnp: $(st c1 upnp))" test "$(st c1 upnp)" = mapped-single-nat
check "c1's UPnP mapping is its server mapping ($(st c1 upnp_mapped))" \
	test "$(st c1 upnp_mapped)" = "$(st c1 mapped)" -a "$(st c1 upnp_mapped)" = "198.51.100.101:$port1"
igd_has() { lab_igd_mappings "$1" | grep -qx "$2"; }
described() { lab_exec c1 upnpc -u http://10.1.0.1:5000/rootDesc.xml -l 2>/dev/null | grep -q "UDP *$1->10.1.0.2:$1 *'TEREDO'"; }
check "the IGD forwards UDP $port1 to c1's Teredo port (X-22)" igd_has 1 "$port1 10.1.0.2:$port1"
check "the mapping is described TEREDO (RFC 6081 §5.3.3)" described "$port1"
check_eq "status lists the extension" "$(lab_sw c1 status | grep -c upnp-enabled-symmetric-nat)" 1
# A NAT without an IGD costs nothing: the address came before the search ended.
check "behind a NAT without UPnP: status upnp none ($(st c3 upnp))" test "$(st c3 upnp)" = none
first() { grep -n "$2" "$LAB_TMP/shipworm-$1.log" | head -n 1 | cut -d: -f1; }
check "behind a NAT without UPnP, qualification did not wait for the search" \
	test "$(first c3 'Teredo address')" -lt "$(first c3 'UPnP:')"
upnp_off() { [ "$(st c4 upnp)" = off ] && [ -z "$(lab_pids c4 shipworm-upnp)" ] && [ -z "$(lab_igd_mappings 4)" ]; }
check "UPnP no: status upnp off, no helper, no mapping on the IGD" upnp_off

ping6() { lab_exec "$1" ping -6 -n -c 3 -i 0.3 -W 2 -w 8 "$2" >/dev/null 2>&1; }
# X-25, X-26 (random ports off): two single UPnP-enabled symmetric NATs reach each other,
# each sending to the mapping embedded in the other's address.
check "c2 -> c5, both behind UPnP-enabled symmetric NATs, random ports off (RFC 6081 §3.2)" ping6 c2 "${addr[c5]}"
check "c5 -> c2 (RFC 6081 §3.2)" ping6 c5 "${addr[c2]}"
sends=$(($(lab_counter "$LAB_TMP/run/shipworm-c2.sock" upnp_embedded_sends) + $(lab_counter "$LAB_TMP/run/shipworm-c5.sock" upnp_embedded_sends)))
check "... through the embedded mapping (X-26: $sends sends)" test "$sends" -gt 0
# Issue 10 with X-26: the kernel's fast path sends to a symmetric peer where the core
# does, at the mapping its address names, and takes its data from where it writes from
# (before, every packet of such a peer went through the daemons).
if [ "${LAB_FASTPATH:-auto}" != off ]; then
	peer_of() { lab_sw "$1" peer "${addr[$2]}"; }
	named() { st "$1" mapped; } # the mapping its address names
	at_address=0
	for pair in c2.c5 c5.c2; do
		x=${pair%.*} y=${pair#*.}
		pe=$(peer_of "$x" "$y")
		check "$x's entry for $y is in the kernel (shipworm peer: $(grep '^fast_path' <<<"$pe" | tr '\n' ' '))" \
			grep -qx 'fast_path: kernel' <<<"$pe"
		grep -qx "fast_path_sends_to: $(named "$y")" <<<"$pe" && at_address=$((at_address + 1))
	done
	check "... sent to at the mapping its address names (X-26) by $at_address of the two" test "$at_address" -gt 0
	fpc() { lab_counter "$LAB_TMP/run/shipworm-$1.sock" "fastpath_$2"; }
	declare -A fp0
	for x in c2 c5; do for c in in_decapsulated out_encapsulated; do fp0[$x.$c]=$(fpc "$x" "$c"); done; done
	lab_exec c2 ping -6 -n -c 20 -i 0.05 -W 2 -w 8 "${addr[c5]}" >/dev/null 2>&1
	for x in c2 c5; do
		for c in in_decapsulated out_encapsulated; do
			got=$(($(fpc "$x" "$c") - ${fp0[$x.$c]:-0}))
			check "... and $x's kernel carried the 20 pings' packets: fastpath_$c +$got (>= 15)" test "$got" -ge 15
		done
	done
fi
# With random ports on too (the RFC does not say how §5.3 and §5.4 meet): a
# port-restricted peer without an IGD, both ways, and another UPnP client.
check "c1 (UPnP, random ports) -> c3 (home router)" ping6 c1 "${addr[c3]}"
check "c3 (home router) -> c1 (UPnP, random ports)" ping6 c3 "${addr[c1]}"
check "c1 -> c5 (UPnP, random ports off)" ping6 c1 "${addr[c5]}"
check "c2 -> c1" ping6 c2 "${addr[c1]}"
# Miredo behind the same kind of NAT knows no UPnP; what the NAT keeps still works.
check "c1 -> Miredo behind a UPnP-enabled symmetric NAT" ping6 c1 "${addr[c6]}"
check "native host -> c1 (through the relay)" ping6 v6host "${addr[c1]}"
check "c1 -> native host" ping6 c1 2001:db8:1::100

# X-27: the mapping leaves with the daemon, however it ends.
gone() { [ -z "$(lab_igd_mappings "$1")" ]; }
lab_kill_wait c1 shipwormd TERM
check "stopped (SIGTERM): the IGD mapping is removed (X-27)" lab_wait 10 gone 1
lab_kill_wait c2 shipwormd KILL
check "killed (SIGKILL): the helper still removes the mapping (X-27)" lab_wait 10 gone 2
helpers_gone() { [ -z "$(lab_pids c1 shipworm-upnp)$(lab_pids c2 shipworm-upnp)" ]; }
check "... and the helpers are gone" lab_wait 10 helpers_gone
check "c5 stops cleanly" lab_stop_clean c5 shipworm-c5
lab_summary
