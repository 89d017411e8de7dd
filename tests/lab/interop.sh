#!/usr/bin/env bash
# make interop: the NAT matrix (issue 9, part 3). Every cell is a first contact: an
# initiator client pings a responder client that it has never talked to, or a native
# host pings a client, or a client pings a native host. Initiators and responders are
# separate instances, one per NAT kind and implementation, so that every pair of
# (initiator, responder) is a fresh peer pair and all cells can run at once.
#
#   INTEROP_OUT=FILE   also write the table as Markdown to FILE (docs/interop.md)
#   SHIPWORMD, SHIPWORM  the programs (default: the production build)
#
# Prints one table: rows are (initiator NAT kind -> responder NAT kind), columns the
# implementations (sw = shipworm, mi = Miredo 1.2.6 from Debian); then the native rows
# and the same-NAT rows. Each cell: ok, or FAIL with what the status counters say.
set -u
. "$(dirname "$0")/lab.sh"
LAB_ID=${LAB_ID:-swm$$}
KINDS=(fullcone addrrestricted homerouter masquerade symmetric)
IMPLS=(sw mi)

lab_init
lab_internet
lab_public srvm 198.51.100.12 198.51.100.13
lab_v6 srvm 2001:db8:1::12
lab_miredo_server srvm 198.51.100.12
lab_shipworm_server srv 198.51.100.10 >/dev/null
lab_shipworm_relay rel >/dev/null

declare -A node # node[role.kind.impl] = cN
n=0
start_client() { # NODE IMPL
	if [ "$2" = sw ]; then lab_shipworm_client "$1" 198.51.100.10 >/dev/null; else lab_miredo_client "$1" 198.51.100.12; fi
}
for role in i r; do
	for kind in "${KINDS[@]}"; do
		for impl in "${IMPLS[@]}"; do
			n=$((n + 1))
			lab_nat "$n" "$kind" "198.51.100.$((100 + n))"
			node[$role.$kind.$impl]=c$n
			start_client "c$n" "$impl"
		done
	done
done
# Two clients of each implementation behind one masquerade NAT (no hairpinning).
n=$((n + 1))
same=$n
lab_nat "$same" masquerade "198.51.100.$((100 + n))"
lab_lan_client "$same" "c${same}b" "10.$same.0.3"
lab_lan_client "$same" "c${same}c" "10.$same.0.4"
lab_lan_client "$same" "c${same}d" "10.$same.0.5"
node[i.same.sw]=c$same; node[r.same.sw]=c${same}b; node[i.same.mi]=c${same}c; node[r.same.mi]=c${same}d
for x in i.same.sw r.same.sw; do start_client "${node[$x]}" sw; done
for x in i.same.mi r.same.mi; do start_client "${node[$x]}" mi; done
# Two shipworm clients behind one masquerade NAT with local discovery off: only RFC
# 6081's hairpinning extension (alternate address trailers) brings them together.
n=$((n + 1))
lab_nat "$n" masquerade "198.51.100.$((100 + n))"
lab_lan_client "$n" "c${n}b" "10.$n.0.3"
node[i.nodisc.sw]=c$n; node[r.nodisc.sw]=c${n}b
for x in i.nodisc.sw r.nodisc.sw; do
	lab_shipworm_client "${node[$x]}" 198.51.100.10 "LocalDiscovery no" >/dev/null
done

declare -A addr
for x in "${!node[@]}"; do
	lab_wait 30 lab_has_teredo_addr "${node[$x]}"
	addr[$x]=$(lab_teredo_addr "${node[$x]}")
done
missing=0
for x in "${!node[@]}"; do [ -n "${addr[$x]}" ] || { echo "# ${node[$x]} ($x) did not qualify"; missing=1; }; done

# cell NAME FROM-NODE DEST: one bounded ping, its result in $LAB_TMP/cell.NAME.
cell() {
	if lab_exec "$2" ping -6 -n -c 3 -i 0.3 -W 2 -w 8 "$3" >/dev/null 2>&1; then r=ok; else r=FAIL; fi
	echo "$r" >"$LAB_TMP/cell.$1"
}
pids=()
for ik in "${KINDS[@]}"; do
	for rk in "${KINDS[@]}"; do
		for ii in "${IMPLS[@]}"; do
			for ri in "${IMPLS[@]}"; do
				to=${addr[r.$rk.$ri]:-}
				[ -n "$to" ] || continue
				cell "$ik.$rk.$ii.$ri" "${node[i.$ik.$ii]}" "$to" &
				pids+=($!)
			done
		done
	done
done
for ii in "${IMPLS[@]}"; do
	for ri in "${IMPLS[@]}"; do
		cell "same.same.$ii.$ri" "${node[i.same.$ii]}" "${addr[r.same.$ri]}" &
		pids+=($!)
	done
done
cell "nodisc.nodisc.sw.sw" "${node[i.nodisc.sw]}" "${addr[r.nodisc.sw]}" &
pids+=($!)
for kind in "${KINDS[@]}"; do
	for impl in "${IMPLS[@]}"; do
		cell "native-to.$kind.$impl" v6host "${addr[r.$kind.$impl]}" &
		pids+=($!)
		cell "to-native.$kind.$impl" "${node[i.$kind.$impl]}" 2001:db8:1::100 &
		pids+=($!)
	done
done
wait "${pids[@]}"

res() { cat "$LAB_TMP/cell.$1" 2>/dev/null || echo "n/a"; }
commit=$(git -C "$SHIPWORM_TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)
table() {
	echo "NAT matrix, $(date -u +%Y-%m-%d), commit $commit: first contact, ping6 (3 echo requests within 8 s)."
	echo "sw = shipworm, mi = Miredo $(dpkg-query -W -f '${Version}' miredo 2>/dev/null); initiator -> responder."
	echo
	echo "| initiator NAT -> responder NAT | sw -> sw | sw -> mi | mi -> sw | mi -> mi |"
	echo "|---|---|---|---|---|"
	local ik rk
	for ik in "${KINDS[@]}" same; do
		for rk in "${KINDS[@]}" same; do
			{ [ "$ik" = same ] || [ "$rk" = same ]; } && { [ "$ik" = "$rk" ] || continue; }
			local label="$ik -> $rk"
			[ "$ik" = same ] && label="both behind one masquerade NAT, no hairpinning"
			echo "| $label | $(res "$ik.$rk.sw.sw") | $(res "$ik.$rk.sw.mi") | $(res "$ik.$rk.mi.sw") | $(res "$ik.$rk.mi.mi") |"
		done
	done
	echo "| both behind one masquerade NAT, no hairpinning, local discovery off (RFC 6081 §5.6) | $(res nodisc.nodisc.sw.sw) | n/a | n/a | n/a |"
	echo
	echo "| client NAT | native -> sw | native -> mi | sw -> native | mi -> native |"
	echo "|---|---|---|---|---|"
	for kind in "${KINDS[@]}"; do
		echo "| $kind | $(res "native-to.$kind.sw") | $(res "native-to.$kind.mi") | $(res "to-native.$kind.sw") | $(res "to-native.$kind.mi") |"
	done
	echo
	echo "Native cells go through shipworm's relay (the native host routes 2001::/32 to it)."
}
table | tee "$LAB_TMP/table.md"
if [ -n "${INTEROP_OUT:-}" ]; then
	{
		echo "# Interoperability: the NAT matrix"
		echo
		echo "Written by \`make interop\` (\`tests/lab/interop.sh\`); run it again to refresh this file."
		echo "How each NAT kind behaves is in [lab.md](lab.md); how to read a failing cell is below."
		echo
		cat "$LAB_TMP/table.md"
		cat "$SHIPWORM_TOP/tests/lab/interop-notes.md"
	} >"$INTEROP_OUT"
fi

# Regressions the matrix guards, as checks: shipworm pairs are never worse than the same
# cell with Miredo on that side.
worse=0
for ik in "${KINDS[@]}"; do
	for rk in "${KINDS[@]}"; do
		mm=$(res "$ik.$rk.mi.mi")
		[ "$mm" = ok ] || continue
		for c in sw.sw sw.mi mi.sw; do
			[ "$(res "$ik.$rk.$c")" = ok ] || { echo "# worse than Miredo: $ik -> $rk $c"; worse=$((worse + 1)); }
		done
	done
done
check "every client qualified" test "$missing" = 0
check "two shipworm clients behind one NAT, local discovery off, meet by RFC 6081 hairpinning" test "$(res nodisc.nodisc.sw.sw)" = ok
# What each shipworm client found of its NAT (RFC 6081 §3's terms).
declare -A want=([fullcone]=cone [addrrestricted]=restricted [homerouter]=port-restricted [masquerade]=port-restricted [symmetric]=symmetric)
for kind in "${KINDS[@]}"; do
	got=$("$SHIPWORM" -s "$LAB_TMP/run/shipworm-${node[i.$kind.sw]}.sock" status --json | sed -nE 's/.*"nat":"([a-z-]+)".*/\1/p')
	check "a shipworm client behind a $kind NAT says nat: ${want[$kind]} ($got)" test "$got" = "${want[$kind]}"
done
check "no cell where Miredo <-> Miredo works and a pair with shipworm does not ($worse)" test "$worse" = 0
lab_summary
