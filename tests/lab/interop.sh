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
# cascade: a home router behind another (lab_cascade), the client behind both.
# ppsymmetric, sequential: the symmetric NATs of RFC 6081 §3.3 and §3.4 (lab_nat).
# upnp: ppsymmetric with a UPnP IGD (miniupnpd) on its LAN, RFC 6081 §3.2.
KINDS=(fullcone addrrestricted homerouter masquerade symmetric ppsymmetric sequential upnp cascade)
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
			if [ "$kind" = cascade ]; then
				lab_cascade "$n" homerouter homerouter "198.51.100.$((100 + n))"
				node[$role.$kind.$impl]=c${n}x
			else
				lab_nat "$n" "$kind" "198.51.100.$((100 + n))"
				node[$role.$kind.$impl]=c$n
			fi
			start_client "${node[$role.$kind.$impl]}" "$impl"
		done
	done
done
# four_behind_one ROW: a new masquerade NAT (number $n) with four hosts on its LAN, the
# initiator and responder of each implementation for that row.
four_behind_one() {
	n=$((n + 1))
	lab_nat "$n" masquerade "198.51.100.$((100 + n))"
	lab_lan_client "$n" "c${n}b" "10.$n.0.3"
	lab_lan_client "$n" "c${n}c" "10.$n.0.4"
	lab_lan_client "$n" "c${n}d" "10.$n.0.5"
	node[i.$1.sw]=c$n; node[r.$1.sw]=c${n}b; node[i.$1.mi]=c${n}c; node[r.$1.mi]=c${n}d
}
# Two clients of each implementation behind one masquerade NAT (no hairpinning).
four_behind_one same
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
# Four clients behind one NAT that hairpins (lab_hairpin: each on a fixed port); the
# shipworm ones with local discovery off, so that only the hairpin can bring them together.
four_behind_one hairpin
hp=$n
port=3545
for x in i.hairpin.sw r.hairpin.sw i.hairpin.mi r.hairpin.mi; do
	lab_hairpin "$hp" "$port" "$(lab_exec "${node[$x]}" ip -4 -o addr show dev eth0 | awk '{ sub("/.*", "", $4); print $4 }')"
	case $x in
	*.sw) lab_shipworm_client "${node[$x]}" 198.51.100.10 "$(printf 'LocalDiscovery no\nHairpinning no\nBindPort %s' "$port")" >/dev/null ;;
	*.mi) lab_miredo_client "${node[$x]}" 198.51.100.12 "BindPort $port" ;;
	esac
	port=$((port + 1))
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
# Cells with a sequential NAT run after the others: its Echo Test bubble (RFC 6081
# §3.4) reaches the peer's NAT before the peer writes to the predicted port, and Linux's
# masquerade, which keeps a conntrack entry for such unsolicited input, then moves the
# peer's mapping for every new flow of its socket until the entry expires (30 s): one
# initiator would carry that into its cells with other responders (interop-notes.md).
pids=()
pairs() { # PHASE: phase 1 without the sequential kind, phase 2 only with it
	local ik rk ii ri to
	for ik in "${KINDS[@]}"; do
		for rk in "${KINDS[@]}"; do
			case "$ik$rk" in *sequential*) [ "$1" = 2 ] || continue ;; *) [ "$1" = 1 ] || continue ;; esac
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
}
pairs 1
for ii in "${IMPLS[@]}"; do
	for ri in "${IMPLS[@]}"; do
		cell "same.same.$ii.$ri" "${node[i.same.$ii]}" "${addr[r.same.$ri]}" &
		pids+=($!)
		cell "hairpin.hairpin.$ii.$ri" "${node[i.hairpin.$ii]}" "${addr[r.hairpin.$ri]}" &
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
pids=()
pairs 2
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
	for ik in "${KINDS[@]}" same hairpin; do
		for rk in "${KINDS[@]}" same hairpin; do
			case "$ik$rk" in *same*|*hairpin*) [ "$ik" = "$rk" ] || continue ;; esac
			local label="$ik -> $rk"
			[ "$ik" = same ] && label="both behind one masquerade NAT, no hairpinning"
			[ "$ik" = hairpin ] && label="both behind one NAT that hairpins (shipworm: local discovery and RFC 6081 hairpinning off)"
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
rows=()
for ik in "${KINDS[@]}"; do for rk in "${KINDS[@]}"; do rows+=("$ik.$rk"); done; done
rows+=(same.same hairpin.hairpin)
for row in "${rows[@]}"; do
	[ "$(res "$row.mi.mi")" = ok ] || continue
	for c in sw.sw sw.mi mi.sw; do
		[ "$(res "$row.$c")" = ok ] || { echo "# worse than Miredo: ${row/./ -> } $c"; worse=$((worse + 1)); }
	done
done
check "every client qualified" test "$missing" = 0
check "two shipworm clients behind one NAT, local discovery off, meet by RFC 6081 hairpinning" test "$(res nodisc.nodisc.sw.sw)" = ok
# What each shipworm client found of its NAT (RFC 6081 §3's terms).
declare -A want=([fullcone]=cone [addrrestricted]=restricted [homerouter]=port-restricted [masquerade]=port-restricted
	[symmetric]=symmetric [ppsymmetric]=port-preserving-symmetric [sequential]=symmetric [cascade]=port-restricted
	[upnp]=port-preserving-symmetric)
for kind in "${KINDS[@]}"; do
	got=$("$SHIPWORM" -s "$LAB_TMP/run/shipworm-${node[i.$kind.sw]}.sock" status --json | sed -nE 's/.*"nat":"([a-z-]+)".*/\1/p')
	check "a shipworm client behind a $kind NAT says nat: ${want[$kind]} ($got)" test "$got" = "${want[$kind]}"
	if [ "$got" != "${want[$kind]}" ]; then
		# What the classification rests on (X-33: the first mapping kept the local port).
		st=$("$SHIPWORM" -s "$LAB_TMP/run/shipworm-${node[i.$kind.sw]}.sock" status)
		grep -E '^(local_port|mapped|mapped_secondary|upnp|upnp_detail|state_cause|seconds_since_change|refresh[a-z_]*|  (rs_sent|ra_accepted|qualifications|address_changes|mapping_jumps)):' <<<"$st" | sed 's/^/#   /'
		# The NAT's entries for the client's own port first (its mapping to the server).
		lport=$(sed -nE 's/^local_port: ([0-9]+)/\1/p' <<<"$st")
		ct=$(lab_exec "nat${node[i.$kind.sw]#c}" cat /proc/net/nf_conntrack 2>/dev/null | grep -w udp)
		{ grep -F "sport=${lport:-0} " <<<"$ct"; grep -vF "sport=${lport:-0} " <<<"$ct"; } | head -n 12 | sed 's/^/#   /'
	fi
done
# RFC 6081 §3.3 and §3.4: the cells its random ports open between shipworm clients.
for row in ppsymmetric.homerouter homerouter.ppsymmetric ppsymmetric.ppsymmetric ppsymmetric.masquerade \
	masquerade.ppsymmetric sequential.homerouter homerouter.sequential ppsymmetric.fullcone sequential.fullcone \
	upnp.upnp upnp.homerouter homerouter.upnp; do
	check "shipworm <-> shipworm ${row/./ -> } (RFC 6081 §3.2, §3.3, §3.4)" test "$(res "$row.sw.sw")" = ok
done
# Issue 10 with RFC 6081 §5.4: a shipworm pair behind port-preserving symmetric NATs
# meets through the random ports each lends the other (X-35, X-38 (d)); the kernel's
# fast path then carries their packets both ways, from and to those ports (before, it
# left every packet of such a peer to the daemons).
if [ "${LAB_FASTPATH:-auto}" != off ]; then
	ni=${node[i.ppsymmetric.sw]} nr=${node[r.ppsymmetric.sw]}
	fpc() { "$SHIPWORM" -s "$LAB_TMP/run/shipworm-$1.sock" status --json | sed -nE "s/.*\"fastpath_$2\":([0-9]+).*/\1/p"; }
	declare -A fp0
	for x in "$ni" "$nr"; do for c in in_decapsulated out_encapsulated; do fp0[$x.$c]=$(fpc "$x" "$c"); done; done
	lab_exec "$ni" ping -6 -n -c 20 -i 0.05 -W 2 -w 8 "${addr[r.ppsymmetric.sw]}" >/dev/null 2>&1
	# `shipworm peer`: the socket, and what the kernel's map holds (its local port is that
	# socket's, not the Teredo one's).
	on_rport() { # NODE PEER-ADDRESS
		local pe lp
		pe=$("$SHIPWORM" -s "$LAB_TMP/run/shipworm-$1.sock" peer "$2")
		lp=$("$SHIPWORM" -s "$LAB_TMP/run/shipworm-$1.sock" status | sed -nE 's/^local_port: ([0-9]+)$/\1/p')
		grep -qE '^socket: ([2-9]|[1-9][0-9])$' <<<"$pe" && grep -qx 'fast_path: kernel' <<<"$pe" &&
			! grep -qx "fast_path_local_port: ${lp:-0}" <<<"$pe"
	}
	both_on_rport() { on_rport "$ni" "${addr[r.ppsymmetric.sw]}" && on_rport "$nr" "${addr[i.ppsymmetric.sw]}"; }
	check "shipworm ppsymmetric -> ppsymmetric: each reaches the other from a random port (socket >= 2), in the kernel's map at that port" \
		both_on_rport
	for x in "$ni" "$nr"; do
		for c in in_decapsulated out_encapsulated; do
			got=$(($(fpc "$x" "$c") - ${fp0[$x.$c]:-0}))
			check "... and its kernel carried the 20 pings' packets: $x fastpath_$c +$got (>= 15)" test "$got" -ge 15
		done
	done
fi
# What the UPnP ones found (RFC 6081 §5.3.3, X-24).
for x in i.upnp.sw r.upnp.sw; do
	got=$("$SHIPWORM" -s "$LAB_TMP/run/shipworm-${node[$x]}.sock" status --json | sed -nE 's/.*"upnp":"([a-z-]+)".*/\1/p')
	check "a shipworm client behind a upnp NAT says upnp: mapped-single-nat ($got)" test "$got" = mapped-single-nat
done
check "no cell where Miredo <-> Miredo works and a pair with shipworm does not ($worse)" test "$worse" = 0
# Issue 10 as it ships (this pass runs the production build, seccomp enforcing): the
# server's XDP program answered the matrix's RSs, and the unprivileged daemon reads its
# counters (bpf() map lookups, the only commands its filter admits) and keeps serving.
if [ "${LAB_FASTPATH:-auto}" != off ]; then
	sst=$("$SHIPWORM" -s "$LAB_TMP/run/shipworm-server-srv.sock" status --json)
	check "the production server's XDP answered the clients' RSs ($(sed -nE 's/.*"fastpath_rs_answered":([0-9]+).*/\1/p' <<<"$sst"))" \
		test "$(sed -nE 's/.*"fastpath_rs_answered":([0-9]+).*/\1/p' <<<"$sst")" -gt 10
	check "... and the server still runs after reading them under its seccomp filter" test -n "$(lab_pids srv shipwormd)"
fi
lab_summary
