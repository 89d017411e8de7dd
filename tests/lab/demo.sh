#!/usr/bin/env bash
# make demo: all four shipworm roles in network namespaces, next to a Miredo client:
# a shipworm server, a shipworm relay for a native IPv6 host, a dual-stack host running
# shipworm's host-specific relay, shipworm clients behind a home router and behind a
# port-preserving symmetric NAT, and a Miredo client behind a full-cone NAT. Shows
# qualification with each client's NAT kind, contact between them, native IPv6 in both
# directions, the host relay, then the relay's peer table; removes everything.
set -u
. "$(dirname "$0")/lab.sh"
LAB_ID=${LAB_ID:-swd$$}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ok=0
step() { # DESCRIPTION CMD...: run CMD, say how it went
	local what=$1; shift
	if "$@" >"$LAB_TMP/step.out" 2>&1; then
		echo "ok    $what"
		grep -E 'packets transmitted' "$LAB_TMP/step.out" | sed 's/^/      /'
	else
		echo "FAIL  $what"; sed 's/^/      /' "$LAB_TMP/step.out" | tail -n 5; ok=1
	fi
}

say "A small Internet in network namespaces"
lab_init
lab_internet
lab_public hr 198.51.100.40
lab_v6 hr 2001:db8:1::40
lab_nat 1 homerouter 198.51.100.21
lab_nat 2 ppsymmetric 198.51.100.22
lab_nat 3 fullcone 198.51.100.23
cat <<'EOF'
srv     shipworm server          198.51.100.10 + .11
rel     shipworm relay           198.51.100.30, 2001:db8:1::30 (routes 2001::/32 for the native side)
v6host  native IPv6 host         2001:db8:1::100
hr      dual-stack host          198.51.100.40, 2001:db8:1::40, shipworm host-specific relay
c1      shipworm client          10.1.0.2 behind a home router (198.51.100.21)
c2      shipworm client          10.2.0.2 behind a port-preserving symmetric NAT (198.51.100.22)
c3      Miredo client            10.3.0.2 behind a full-cone NAT (198.51.100.23)
EOF

say "Starting the roles"
step "shipwormd: server (ServerBindAddress 198.51.100.10)" lab_shipworm_server srv 198.51.100.10
step "shipwormd: relay (RelayType cone)" lab_shipworm_relay rel
step "shipwormd: host-specific relay (Mode host-relay)" lab_shipwormd hr shipworm-hr "$(printf 'Mode host-relay\nInterfaceName teredo')"
step "shipwormd: client c1" lab_shipworm_client c1 198.51.100.10
step "shipwormd: client c2" lab_shipworm_client c2 198.51.100.10
lab_miredo_client c3 198.51.100.10

say "Clients qualify with the shipworm server"
declare -A addr
for n in 1 2 3; do
	if lab_wait 20 lab_has_teredo_addr "c$n"; then
		addr[$n]=$(lab_teredo_addr "c$n")
		printf 'c%s  %s' "$n" "${addr[$n]}"
		# A shipworm client's NAT kind: qualification, then its filtering probe.
		[ "$n" = 3 ] && echo "  (Miredo)" || {
			lab_wait 8 sh -c "! '$SHIPWORM' -s '$LAB_TMP/run/shipworm-c$n.sock' status | grep -q '^nat: cone-or-restricted'"
			echo "  nat: $(lab_sw "c$n" status | sed -n 's/^nat: //p')"
		}
	else
		echo "c$n did not qualify"; ok=1
	fi
done
echo
echo "shipworm decode ${addr[2]:-}:"
"$SHIPWORM" decode "${addr[2]:-2001::}" | sed 's/^/    /'

say "Contact (first packets each way go through bubbles, then direct)"
step "c1 (home router) -> c2 (symmetric NAT, RFC 6081 random ports)" lab_ping6 c1 "${addr[2]:-}" 3
step "c3 (Miredo) -> c2" lab_ping6 c3 "${addr[2]:-}" 3
step "c3 (Miredo) -> c1" lab_ping6 c3 "${addr[1]:-}" 3
step "c1 -> native host, through shipworm's relay" lab_ping6 c1 2001:db8:1::100 3
step "native host -> c2, first contact from the native side" lab_ping6 v6host "${addr[2]:-}" 3
step "host relay -> c1, no relay in between" lab_ping6 hr "${addr[1]:-}" 3
step "c3 (Miredo) -> host relay" lab_ping6 c3 2001:db8:1::40 3

say "shipworm status (client c2)"
lab_sw c2 status | sed -n '1,/^limits:/p' | grep -v '^limits:'
say "shipworm peers (the relay)"
"$SHIPWORM" -s "$LAB_TMP/run/shipworm-rel.sock" peers

say "Tearing the lab down"
[ $ok -eq 0 ] && echo "demo: everything worked" || echo "demo: something failed (see above)"
exit $ok
