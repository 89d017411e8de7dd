#!/usr/bin/env bash
# make demo: a shipworm Teredo server with two Miredo clients behind NATs, a Miredo
# relay and a native IPv6 host, all in network namespaces; shows qualification and
# ping6, then removes everything.
set -u
. "$(dirname "$0")/lab.sh"
LAB_ID=${LAB_ID:-swd$$}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Building a small Internet in network namespaces"
lab_init
lab_internet
lab_nat 1 fullcone 198.51.100.21
lab_nat 2 fullcone 198.51.100.22
echo "server 198.51.100.10+.11, Miredo relay 198.51.100.30, native host 2001:db8:1::100"
echo "client c1 at 10.1.0.2 behind NAT 198.51.100.21; client c2 at 10.2.0.2 behind NAT 198.51.100.22"

say "Starting shipwormd as the Teredo server (config: ServerBindAddress 198.51.100.10)"
lab_shipworm_server srv 198.51.100.10 || { echo "shipwormd did not start"; exit 1; }
lab_miredo_relay rel
lab_miredo_client c1 198.51.100.10
lab_miredo_client c2 198.51.100.10

say "Miredo clients qualify with the shipworm server"
ok=0
for n in 1 2; do
	if lab_wait 20 lab_has_teredo_addr "c$n"; then
		a=$(lab_teredo_addr "c$n")
		echo "c$n: $a"
		"$SHIPWORM" decode "$a" | sed -n 's/^\(server\|mapped port\|mapped IPv4\):/    &/p'
	else
		echo "c$n did not qualify"; ok=1
	fi
done
a1=$(lab_teredo_addr c1); a2=$(lab_teredo_addr c2)

say "c1 -> c2 (Teredo to Teredo: bubbles through the server, then direct)"
lab_ping6 c1 "$a2" 4 || ok=1
say "c2 -> native IPv6 host (connectivity test through the server, data through the relay)"
lab_ping6 c2 2001:db8:1::100 4 || ok=1

say "shipworm status"
"$SHIPWORM" -s "$LAB_TMP/run/shipworm-server-srv.sock" status

say "Tearing the lab down"
[ $ok -eq 0 ] && echo "demo: everything worked" || echo "demo: something failed (see above)"
exit $ok
