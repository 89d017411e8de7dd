# shellcheck shell=bash
# The network lab: a small Internet in network namespaces (see docs/lab.md).
#
# Source this file, call lab_init once, build the topology with the lab_* helpers, and
# rely on the EXIT trap that lab_init installs to remove every namespace and process,
# also when a test fails. Nothing here touches the root namespace: every address, route
# and nftables rule lives inside a namespace the lab created.
#
# Addresses (documentation and private ranges only):
#   IPv4 "Internet"  198.51.100.0/24 on one bridge in the "inet" namespace
#   native IPv6      2001:db8:1::/64 on the same bridge
#   behind NAT n     10.n.0.0/24 (NAT at 10.n.0.1, its client at 10.n.0.2)

LAB_ID=${LAB_ID:-sw$$}
LAB_NODES=()
LAB_HOST_PIDS=() # helpers the lab runs outside its namespaces, killed by lab_down
LAB_TMP=""
SHIPWORM_TOP=${SHIPWORM_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SHIPWORMD=${SHIPWORMD:-$SHIPWORM_TOP/build/shipwormd}
SHIPWORM=${SHIPWORM:-$SHIPWORM_TOP/build/shipworm}

lab_ns() { echo "${LAB_ID}-$1"; }
lab_exec() { local n=$1; shift; ip netns exec "$(lab_ns "$n")" "$@"; }

lab_log() { printf '[lab %s] %s\n' "$(date +%T)" "$*" >&2; }

lab_init() {
	LAB_TMP=$(mktemp -d "/tmp/shipworm-lab.XXXXXX")
	# shipwormd drops to an unprivileged user after set-up: it must reach its files.
	chmod 755 "$LAB_TMP"
	mkdir -m 777 "$LAB_TMP/run"
	trap lab_down EXIT
	trap 'exit 130' INT TERM
	lab_newns inet
	lab_exec inet ip link add br0 type bridge
	lab_exec inet ip link set br0 up
	lab_exec inet sysctl -qw net.ipv6.conf.all.disable_ipv6=1
}

lab_newns() {
	ip netns add "$(lab_ns "$1")"
	LAB_NODES+=("$1")
	lab_exec "$1" ip link set lo up
	lab_exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# lab_link A IFA B IFB: a veth pair between namespaces A and B.
# Each end computes its checksums as a NIC on a wire does (no tx checksum offload):
# veth would otherwise carry a local sender's CHECKSUM_PARTIAL packets from namespace to
# namespace unfinished, which no real relay receives, and the kernel fast path (issue 10)
# would leave all of them to the daemon (docs/fastpath.md).
lab_link() {
	ip link add "$2" netns "$(lab_ns "$1")" type veth peer name "$4" netns "$(lab_ns "$3")"
	lab_exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1
	lab_exec "$3" ethtool -K "$4" tx off >/dev/null 2>&1
	lab_exec "$1" ip link set "$2" up
	lab_exec "$3" ip link set "$4" up
}

# lab_public NODE IPV4... : a node on the Internet bridge with the given /24 addresses;
# the first one is its source address.
lab_public() {
	local node=$1; shift
	lab_newns "$node"
	lab_link "$node" eth0 inet "p-$node"
	lab_exec inet ip link set "p-$node" master br0
	local a
	for a in "$@"; do lab_exec "$node" ip addr add "$a/24" dev eth0; done
}

# lab_v6 NODE ADDR: native IPv6 on the node's Internet link.
lab_v6() { lab_exec "$1" ip -6 addr add "$2/64" dev eth0 nodad; }

# lab_nat N KIND PUBLIC: namespace natN with PUBLIC on the Internet, and client cN behind
# it at 10.N.0.2. KIND selects the NAT's behaviour:
#   fullcone   endpoint-independent mapping and filtering (masquerade + DNAT of new UDP)
#   masquerade Linux's default: address-and-port-dependent filtering; unsolicited input
#              is answered with ICMP port unreachable (no socket behind the public port)
#   homerouter the same mapping and filtering, but unsolicited input is dropped silently,
#              as home routers do
#   addrrestricted  endpoint-independent mapping, address-dependent filtering: new UDP
#              to a mapping from an address that mapping has sent to goes in, whatever
#              its port (an nftables set of remote address . local port, 120 s; the
#              lab's masquerade keeps the local port, so it names the mapping)
#   symmetric  a new random port for every destination (masquerade random)
#   ppsymmetric  port-preserving symmetric (RFC 6081 §3.3): a local port's first
#              destination gets the same port outside, every later destination a random
#              one, for as long as the port sends (an nftables set of inside address .
#              port that each of its answered flows' packets keeps for 180 s more: a
#              fixed lifetime made the NAT keep ports again halfway through a slow run)
#   sequential sequential port-symmetric (RFC 6081 §3.4): every new destination gets the
#              next port of 20000-20999, whichever host asks (numgen inc)
#   upnp       ppsymmetric, and a UPnP IGD (miniupnpd, lab_igd) on its LAN: RFC 6081
#              §3.2's UPnP-enabled symmetric NAT; a mapping made by AddPortMapping
#              forwards its public port to the client whoever writes
# All of them filter as Linux's conntrack does (address and port), and drop unsolicited
# input silently, except masquerade and fullcone.
lab_nat() {
	local n=$1 kind=$2 pub=$3 nat="nat$1" cli="c$1"
	lab_public "$nat" "$pub"
	# The private side is a bridge, so that lab_lan_client can add more hosts to it.
	lab_exec "$nat" ip link add lan0 type bridge
	lab_exec "$nat" ip link set lan0 up
	lab_exec "$nat" ip addr add "10.$n.0.1/24" dev lan0
	lab_exec "$nat" sysctl -qw net.ipv4.ip_forward=1
	lab_lan_client "$n" "$cli" "10.$n.0.2"
	lab_nat_rules "$nat" "$kind" "10.$n.0.2"
	[ "$kind" != upnp ] || lab_igd "$n"
}

# lab_stun: a STUN server (Debian's stund) on 198.51.100.60 and .61, once per lab.
lab_stun() {
	[ ! -e "$LAB_TMP/stund.pid" ] || return 0
	lab_public stun 198.51.100.60 198.51.100.61
	lab_bg stun stund stund -h 198.51.100.60 -a 198.51.100.61
}

# lab_igd N: NAT n also runs a UPnP IGD, Debian's miniupnpd (nftables), for its LAN
# 10.N.0.0/24. It refuses a documentation-range external address unless STUN shows
# that address reachable, so it asks lab_stun's server, whose answers from its other
# address and port the NAT lets in (../shared/notes/upnp-in-the-lab.md). Returns once
# port forwarding is on.
lab_igd() {
	local n=$1 nat="nat$1"
	lab_stun
	lab_exec "$nat" nft insert rule ip lab input ip saddr '{ 198.51.100.60, 198.51.100.61 }' accept
	# The chains miniupnpd 2.3.1 fills, empty.
	lab_exec "$nat" nft -f - <<'NFT'
table inet filter {
	chain forward { type filter hook forward priority filter; jump miniupnpd; }
	chain miniupnpd { }
	chain prerouting { type nat hook prerouting priority dstnat; jump prerouting_miniupnpd; }
	chain postrouting { type nat hook postrouting priority srcnat - 1; jump postrouting_miniupnpd; }
	chain prerouting_miniupnpd { }
	chain postrouting_miniupnpd { }
}
NFT
	cat >"$LAB_TMP/igd-$n.conf" <<CONF
ext_ifname=eth0
listening_ip=lan0
http_port=5000
enable_upnp=yes
enable_natpmp=no
secure_mode=yes
system_uptime=yes
uuid=00000000-0000-4000-8000-$(printf '%012d' "$n")
allow 1024-65535 10.$n.0.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
ext_perform_stun=yes
ext_stun_host=198.51.100.60
ext_stun_port=3478
CONF
	lab_private_bg "$nat" "igd-$n" miniupnpd -f "$LAB_TMP/igd-$n.conf" -d
	lab_wait 20 grep -q "HTTP listening" "$LAB_TMP/igd-$n.log" &&
		grep -q "Port forwarding is now enabled" "$LAB_TMP/igd-$n.log" ||
		{ lab_log "nat$n: miniupnpd did not enable port forwarding"; return 1; }
}

# lab_igd_mappings N: the port mappings NAT n's IGD holds (external port -> internal).
lab_igd_mappings() {
	lab_exec "nat$1" nft list chain inet filter prerouting_miniupnpd 2>/dev/null |
		sed -nE 's/.*dport ([0-9]+) dnat ip to ([0-9.:]+).*/\1 \2/p'
}

# lab_nat_rules NODE KIND INSIDE: NODE translates from lan0 to eth0 as a NAT of KIND (see
# lab_nat); INSIDE is the host a full-cone or address-restricted NAT lets new input to.
lab_nat_rules() {
	local nat=$1 kind=$2 inside=$3
	local post="oifname \"eth0\" masquerade" pre="" input="" sets=""
	case $kind in
	fullcone) pre="iifname \"eth0\" meta l4proto udp ct state new dnat to $inside" ;;
	masquerade) ;;
	homerouter) input="iifname \"eth0\" ct state new drop" ;;
	addrrestricted)
		pre="iifname \"eth0\" meta l4proto udp ct state new ip saddr . udp dport @contacted dnat to $inside"
		input="iifname \"eth0\" ct state new drop"
		sets="set contacted { type ipv4_addr . inet_service; flags dynamic,timeout; timeout 120s; }
	chain outward { type filter hook forward priority filter; iifname \"lan0\" oifname \"eth0\" meta l4proto udp update @contacted { ip daddr . udp sport }; }" ;;
	symmetric) post="oifname \"eth0\" masquerade random" ;;
	ppsymmetric|upnp)
		sets="set used { type ipv4_addr . inet_service; flags dynamic,timeout; timeout 180s; }
	chain keep { type filter hook forward priority filter; iifname \"lan0\" oifname \"eth0\" meta l4proto udp ct state established update @used { ip saddr . udp sport }; }"
		post="oifname \"eth0\" meta l4proto udp ip saddr . udp sport @used masquerade random
		oifname \"eth0\" meta l4proto udp update @used { ip saddr . udp sport } masquerade
		oifname \"eth0\" masquerade"
		input="iifname \"eth0\" ct state new drop" ;;
	sequential)
		local seq i
		seq=$(for i in $(seq 0 999); do printf '%d : %d, ' "$i" $((20000 + i)); done)
		post="oifname \"eth0\" meta l4proto udp snat to $(lab_exec "$nat" ip -4 -o addr show dev eth0 | awk '{ sub("/.*", "", $4); print $4; exit }') : numgen inc mod 1000 map { ${seq%, } }
		oifname \"eth0\" masquerade"
		input="iifname \"eth0\" ct state new drop" ;;
	*) lab_log "unknown NAT kind $kind"; return 1 ;;
	esac
	lab_exec "$nat" nft -f - <<NFT
table ip lab {
	$sets
	chain post { type nat hook postrouting priority srcnat; $post; }
	chain pre { type nat hook prerouting priority dstnat; $pre; }
	chain input { type filter hook input priority filter; $input; }
}
NFT
}

# lab_cascade N OUTER INNER PUBLIC: two NATs in cascade. natN (kind OUTER) on the
# Internet at PUBLIC with its LAN 10.N.0.0/24; behind it cN, itself a NAT (kind INNER)
# at 10.N.0.2 with its LAN 10.(100+N).0.0/24; and the client cNx at 10.(100+N).0.2.
lab_cascade() {
	local n=$1 outer=$2 inner=$3 pub=$4 in="c$1" cli="c$1x" m=$((100 + $1))
	lab_nat "$n" "$outer" "$pub"
	lab_exec "$in" ip link add lan0 type bridge
	lab_exec "$in" ip link set lan0 up
	lab_exec "$in" ip addr add "10.$m.0.1/24" dev lan0
	lab_exec "$in" sysctl -qw net.ipv4.ip_forward=1
	lab_newns "$cli"
	lab_link "$in" "l-$cli" "$cli" eth0
	lab_exec "$in" ip link set "l-$cli" master lan0
	lab_exec "$cli" ip addr add "10.$m.0.2/24" dev eth0
	lab_exec "$cli" ip route add default via "10.$m.0.1"
	lab_nat_rules "$in" "$inner" "10.$m.0.2"
}

# lab_hairpin N PORT HOST: NAT n hairpins its public PORT to HOST:PORT for hosts on its
# own LAN, with the public address as their source (as a hairpinning NAT with
# endpoint-independent mapping does); the host keeps PORT as its local port (BindPort),
# which the lab's masquerade keeps outside too.
lab_hairpin() {
	local n=$1 port=$2 host=$3 pub
	pub=$(lab_exec "nat$n" ip -4 -o addr show dev eth0 | awk '{ sub("/.*", "", $4); print $4; exit }')
	lab_exec "nat$n" nft add rule ip lab pre iifname "lan0" ip daddr "$pub" udp dport "$port" dnat to "$host:$port"
	lab_exec "nat$n" nft list chain ip lab post | grep -q "ip daddr 10.$n.0.0/24 snat" ||
		lab_exec "nat$n" nft insert rule ip lab post ip saddr "10.$n.0.0/24" ip daddr "10.$n.0.0/24" snat to "$pub"
}

# lab_lan_client N NODE IP: one more host on NAT n's private link (no hairpinning: hosts
# behind one NAT reach each other only by their private addresses).
lab_lan_client() {
	local n=$1 cli=$2
	lab_newns "$cli"
	lab_link "nat$n" "l-$cli" "$cli" eth0
	lab_exec "nat$n" ip link set "l-$cli" master lan0
	lab_exec "$cli" ip addr add "$3/24" dev eth0
	lab_exec "$cli" ip route add default via "10.$n.0.1"
}

# lab_bg NODE NAME CMD...: run CMD in NODE in the background, output in $LAB_TMP/NAME.log.
lab_bg() {
	local node=$1 name=$2; shift 2
	lab_exec "$node" "$@" >"$LAB_TMP/$name.log" 2>&1 &
	echo $! >"$LAB_TMP/$name.pid"
}

# lab_private_run NODE NAME CMD...: like lab_bg, in a private mount namespace with its own
# /run and /var/run (Miredo always writes /run/miredo.pid and chroots to /var/run/miredo).
lab_private_bg() {
	local node=$1 name=$2; shift 2
	lab_bg "$node" "$name" unshare -m sh -c '
		mount --make-rprivate / &&
		mount -t tmpfs lab-run /run &&
		mkdir -p /run/miredo /run/miredo-server &&
		exec "$@"' lab-sh "$@"
}

lab_miredo_server() { # NODE PRIMARY
	cat >"$LAB_TMP/miredo-server-$1.conf" <<CONF
ServerBindAddress $2
CONF
	lab_private_bg "$1" "miredo-server-$1" miredo-server -f -c "$LAB_TMP/miredo-server-$1.conf"
}

lab_miredo_client() { # NODE SERVER [EXTRA CONFIG LINES]
	cat >"$LAB_TMP/miredo-$1.conf" <<CONF
RelayType client
ServerAddress $2
InterfaceName teredo
${3:-}
CONF
	lab_private_bg "$1" "miredo-$1" miredo -f -c "$LAB_TMP/miredo-$1.conf"
}

lab_miredo_relay() { # NODE [RELAYTYPE]
	cat >"$LAB_TMP/miredo-$1.conf" <<CONF
RelayType ${2:-cone}
InterfaceName teredo
BindPort 3544
CONF
	lab_exec "$1" sysctl -qw net.ipv6.conf.all.forwarding=1
	lab_private_bg "$1" "miredo-$1" miredo -f -c "$LAB_TMP/miredo-$1.conf"
}

# lab_wait SECONDS CMD...: retry CMD every 0.2 s until it succeeds or time runs out.
lab_wait() {
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

# lab_teredo_addr NODE [IFACE]: the global Teredo address on the node's tunnel.
lab_teredo_addr() {
	lab_exec "$1" ip -6 -o addr show dev "${2:-teredo}" scope global 2>/dev/null |
		awk '{ sub("/.*", "", $4); print $4; exit }'
}

lab_down() {
	local rc=$? n pid sock
	trap - EXIT
	# A failed test: what each shipworm daemon says of itself, before it is stopped.
	if [ $rc -ne 0 ] && [ -n "$LAB_TMP" ] && [ -z "${LAB_KEEP_LOGS:-}" ]; then
		for sock in "$LAB_TMP"/run/*.sock; do
			[ -S "$sock" ] || continue
			echo "----- $(basename "$sock" .sock) status -----" >&2
			timeout 3 "$SHIPWORM" -s "$sock" status 2>&1 | grep -vE '^  [a-z_0-9]+: 0$' | head -n 60 >&2
		done
	fi
	for pid in "${LAB_HOST_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for n in "${LAB_NODES[@]}"; do
		for pid in $(ip netns pids "$(lab_ns "$n")" 2>/dev/null); do kill "$pid" 2>/dev/null; done
	done
	# Until every process in the lab has exited (a daemon waits for its janitor to take
	# its filter off), 3 s at most; then SIGKILL what is left, and wait for that too.
	lab_wait 3 lab_empty
	for n in "${LAB_NODES[@]}"; do
		for pid in $(ip netns pids "$(lab_ns "$n")" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
	done
	lab_wait 3 lab_empty
	for n in "${LAB_NODES[@]}"; do ip netns del "$(lab_ns "$n")" 2>/dev/null; done
	if [ -n "$LAB_TMP" ] && [ -d "$LAB_TMP" ]; then
		if [ $rc -ne 0 ] && [ -z "${LAB_KEEP_LOGS:-}" ]; then
			for f in "$LAB_TMP"/*.log; do
				[ -s "$f" ] || continue
				echo "----- $(basename "$f") (last lines) -----" >&2
				tail -n 25 "$f" >&2
			done
		fi
		rm -rf "$LAB_TMP"
	fi
	exit $rc
}

# lab_empty: no process is left in any of the lab's namespaces.
lab_empty() {
	local n
	for n in "${LAB_NODES[@]}"; do
		[ -z "$(ip netns pids "$(lab_ns "$n")" 2>/dev/null)" ] || return 1
	done
}

# lab_no_proc NODE COMM: no process of that name is left in NODE.
lab_no_proc() { [ -z "$(lab_pids "$1" "$2")" ]; }

# lab_unit_bset: the capability bounding set of the systemd units, as setpriv's
# --bounding-set takes it ("-all,+net_admin,...").
lab_unit_bset() {
	printf -- '-all'
	sed -n 's/^CapabilityBoundingSet=//p' "$SHIPWORM_TOP/packaging/shipwormd@.service" | tr ' ' '\n' |
		sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sed 's/^/,+/' | tr -d '\n'
}

# lab_shipwormd NODE NAME CONFIG-TEXT: run shipwormd in NODE with that configuration;
# its control socket is $LAB_TMP/NAME.sock. It runs with what the systemd units give it
# (their capability bounding set and no_new_privs), so that what the lab proves holds
# for a daemon started by them (the fast path once failed to load there, unseen).
# LAB_FASTPATH (auto, on, off): the FastPath line every shipworm daemon gets (relay, host
# relay, server, client), so that run.sh can run a scenario with the kernel fast path
# (issue 10) and without.
lab_shipwormd() {
	local node=$1 name=$2
	printf '%s\n' "$3" >"$LAB_TMP/$name.conf"
	if [ -n "${LAB_FASTPATH:-}" ] && ! grep -qi '^FastPath' "$LAB_TMP/$name.conf"; then
		echo "FastPath $LAB_FASTPATH" >>"$LAB_TMP/$name.conf"
	fi
	lab_bg "$node" "$name" setpriv --no-new-privs --bounding-set "$(lab_unit_bset)" \
		"$SHIPWORMD" -f -c "$LAB_TMP/$name.conf" -s "$LAB_TMP/run/$name.sock"
	unset NOTIFY_SOCKET
	lab_wait 10 test -S "$LAB_TMP/run/$name.sock"
}

# lab_spoof_routes NODE...: route 203.0.113.0/24, the spoofed sources of build/lab/flood,
# from each NODE to the sender `gen` (198.51.100.50, made with lab_public), so that
# answers to spoofed sources stay in the lab and die there (gen does not forward).
lab_spoof_routes() {
	local n
	for n in "$@"; do lab_exec "$n" ip route replace 203.0.113.0/24 via 198.51.100.50; done
}

lab_shipworm_server() { # NODE PRIMARY [MORE-CONFIG-LINES]
	lab_shipwormd "$1" "shipworm-server-$1" "ServerBindAddress $2${3:+
$3}"
}

# lab_nat_mapping N DST DPORT [SPORT]: the public port NAT n maps its client's flow to
# DST:DPORT onto; with SPORT, only the flow from that local port (a shipworm client also
# talks to its server from the NAT probe's socket: lab_client_port names the other).
lab_nat_mapping() {
	lab_exec "nat$1" cat /proc/net/nf_conntrack 2>/dev/null |
		awk -v d="dst=$2" -v p="dport=$3" -v s="${4:+sport=$4}" '$3 == "udp" {
			nd = 0; np = 0; ns = 0; okd = 0; okp = 0; oks = (s == "")
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^dst=/ && ++nd == 1) okd = ($i == d)
				if ($i ~ /^sport=/ && ++ns == 1 && s != "") oks = ($i == s)
				if ($i ~ /^dport=/ && ++np == 1) okp = ($i == p)
				else if ($i ~ /^dport=/ && np == 2 && okd && okp && oks) { sub("dport=", "", $i); print $i; exit }
			} }'
}

# lab_client_port NODE: the local UDP port of NODE's shipworm client (its Teredo socket).
lab_client_port() {
	"$SHIPWORM" -s "$LAB_TMP/run/shipworm-$1.sock" status --json | sed -nE 's/.*"local_port":([0-9]+).*/\1/p'
}

# --- assertions: TAP-like lines, and "N passed, N failed" at the end ---------------
LAB_PASS=0
LAB_FAIL=0
check() { # DESCRIPTION CMD...
	local what=$1; shift
	if "$@" >"$LAB_TMP/check.out" 2>&1; then
		LAB_PASS=$((LAB_PASS + 1)); echo "ok - $what"
	else
		LAB_FAIL=$((LAB_FAIL + 1)); echo "not ok - $what"
		sed 's/^/#   /' "$LAB_TMP/check.out" | tail -n 15
	fi
}

# lab_check_udp_rows NODE WHAT: NODE's shipworm daemon sent WHAT (the rest of the check's
# name) in UDP GSO rows (issue 10), or, where the kernel refused a row on this route (6.1
# on the lab's links, which compute their own checksums: EIO), went on datagram by
# datagram, counts no row and says so in its status.
lab_check_udp_rows() {
	local node=$1 what=$2 st sends dgrams
	st=$(lab_sw "$node" status --json)
	sends=$(sed -nE 's/.*"udp_gso_sends":([0-9]+).*/\1/p' <<<"$st")
	dgrams=$(sed -nE 's/.*"udp_gso_datagrams":([0-9]+).*/\1/p' <<<"$st")
	if grep -q '"udp_offload":"off (the kernel refused' <<<"$st"; then
		check "$node's kernel refused UDP GSO rows on this route: the daemon went on without them and counts none ($sends sends)" \
			test "$sends" = 0
	else
		check "$node's daemon sent $what ($dgrams in $sends sends)" \
			test "$sends" -gt 10 -a "$dgrams" -gt "$((sends * 2))"
	fi
}
check_eq() { # DESCRIPTION GOT WANT
	if [ "$2" = "$3" ]; then
		LAB_PASS=$((LAB_PASS + 1)); echo "ok - $1"
	else
		LAB_FAIL=$((LAB_FAIL + 1)); echo "not ok - $1"; echo "#   got \"$2\", want \"$3\""
	fi
}
lab_summary() {
	echo "$LAB_PASS passed, $LAB_FAIL failed"
	[ "$LAB_FAIL" -eq 0 ]
}

# ping6 with a bounded count and time; passes when at least one reply came back.
lab_ping6() { # NODE DEST [COUNT]
	lab_exec "$1" ping -6 -n -c "${3:-4}" -i 0.3 -W 2 -w 10 "$2"
}
lab_has_teredo_addr() { [ -n "$(lab_teredo_addr "$@")" ]; }

# lab_pids NODE COMM: the processes named COMM in NODE's network namespace (pgrep alone
# would see every namespace's processes: the PID namespace is shared).
lab_pids() {
	local pid
	for pid in $(ip netns pids "$(lab_ns "$1")" 2>/dev/null); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
	done
}

# lab_kill_wait NODE COMM [SIGNAL]: signal every COMM process of NODE and wait until each
# has exited (not until a side effect such as its interface going away: a daemon
# restarted before the old one has exited finds its control socket still live).
lab_kill_wait() {
	local pids
	pids=$(lab_pids "$1" "$2")
	[ -n "$pids" ] || return 0
	kill "-${3:-TERM}" $pids 2>/dev/null
	lab_wait 15 sh -c "! kill -0 $(echo $pids | tr '\n' ' ') 2>/dev/null"
}

# lab_stop_clean NODE NAME: SIGTERM the shipwormd of NODE, wait for it to exit, and fail
# if its log holds a sanitizer report (ASan/UBSan builds in `make check`).
lab_stop_clean() {
	local pids
	pids=$(lab_pids "$1" shipwormd | tr '\n' ' ') # one line: Mode auto has two processes
	[ -n "$pids" ] || { echo "no shipwormd in $1"; return 1; }
	kill -TERM $pids
	lab_wait 10 sh -c "! kill -0 $pids 2>/dev/null" || { echo "still running: $pids"; return 1; }
	! grep -E 'Sanitizer|runtime error|LeakSanitizer' "$LAB_TMP/$2.log"
}

# lab_stops_failing NAME MESSAGE: the shipwormd started as NAME stops by itself with
# status 1 (for systemd's Restart=on-failure), having logged MESSAGE, with no sanitizer
# report.
lab_stops_failing() {
	local pid rc
	pid=$(cat "$LAB_TMP/$1.pid")
	lab_wait 10 sh -c "! kill -0 $pid 2>/dev/null" || { echo "still running: $pid"; return 1; }
	wait "$pid"
	rc=$?
	[ "$rc" -eq 1 ] || { echo "exit status $rc"; return 1; }
	grep -qF -- "$2" "$LAB_TMP/$1.log" && ! grep -E 'Sanitizer|runtime error|LeakSanitizer' "$LAB_TMP/$1.log"
}
# lab_tun_removed NODE NAME: delete NODE's teredo interface under its shipwormd (an
# operator's `ip link del`), which must then stop failing, saying why: before, it spun on
# the dead descriptor at full CPU, silently, for ever.
lab_tun_removed() {
	lab_exec "$1" ip link del teredo && lab_stops_failing "$2" 'the tunnel interface teredo is gone'
}
# lab_tun_bounce NODE: take NODE's teredo interface down and up again (an operator's
# reset): the kernel drops its IPv6 addresses and routes on the way down.
lab_tun_bounce() {
	lab_exec "$1" ip link set teredo down && lab_exec "$1" ip link set teredo up
}

# lab_notify NAME [COUNT]: a stand-in for systemd's notification socket; the daemon
# started next with lab_shipwormd (NOTIFY_SOCKET is exported for it) reports to
# $LAB_TMP/NAME.notify (its first COUNT datagrams, default 1, within 30 s).
lab_notify() {
	python3 "$SHIPWORM_TOP/tests/lab/notify-listen.py" "$LAB_TMP/run/$1.nsock" "$LAB_TMP/$1.notify" 30 "${2:-1}" &
	LAB_HOST_PIDS+=($!)
	lab_wait 5 test -S "$LAB_TMP/run/$1.nsock"
	export NOTIFY_SOCKET=$LAB_TMP/run/$1.nsock
}

lab_shipworm_client() { # NODE SERVER [EXTRA CONFIG LINES]
	lab_shipwormd "$1" "shipworm-$1" "$(printf 'RelayType client\nServerAddress %s\nInterfaceName teredo\n%s' "$2" "${3:-}")"
}
lab_sw() { # NODE ARGS...: the shipworm tool against NODE's client daemon
	local n=$1; shift
	"$SHIPWORM" -s "$LAB_TMP/run/shipworm-$n.sock" "$@"
}
# lab_iperf_json SECS NODE DEST ARGS...: iperf3 from NODE to DEST's listener (ARGS: its
# options), bounded by SECS; prints iperf3's JSON. iperf3 serves one test at a time and
# answers a client that comes while the last test is still closing "the server is busy"
# (an answer that crossed the path under test, so it says nothing against it): then
# again, at most 5 times, a second apart.
lab_iperf_json() {
	local secs=$1 node=$2 dst=$3 j i
	shift 3
	for i in 1 2 3 4 5; do
		j=$(lab_exec "$node" timeout "$secs" iperf3 -6 -c "$dst" "$@" -J 2>&1)
		grep -q 'the server is busy' <<<"$j" || break
		sleep 1
	done
	printf '%s\n' "$j"
}
# lab_iperf_ok: iperf3's JSON on stdin tells of data received.
lab_iperf_ok() { [ -n "$(awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { print; exit }')" ]; }
# lab_iperf NODE DEST [SIZE [OPTION]]: a bounded TCP transfer; prints Mbit/s.
# lab_iperf_server NODE NAME [IPERF3 ARGS...]: iperf3 -s in NODE (port 5201 unless -p is
# given), returned once it listens: a client started before that is refused and fails.
lab_iperf_server() {
	local node=$1 name=$2 port=5201 a prev=
	shift 2
	for a in "$@"; do [ "$prev" = -p ] && port=$a; prev=$a; done
	lab_bg "$node" "$name" iperf3 -s "$@"
	lab_wait 10 sh -c "ip netns exec '$(lab_ns "$node")' ss -Hltn 'sport = :$port' | grep -q ."
}
lab_iperf() {
	lab_iperf_json 30 "$1" "$2" -n "${3:-8M}" ${4:-} |
		awk '/"sum_received"/ { f = 1 } f && /"bits_per_second"/ { gsub(/[,]/, ""); printf "%.1f\n", $2 / 1e6; exit }'
}

# lab_internet: the common core of every scenario: a server node `srv` on 198.51.100.10
# and .11 (and 2001:db8:1::10), a relay node `rel` on .30 (2001:db8:1::30), and a native
# IPv6 host `v6host` at 2001:db8:1::100 that routes 2001::/32 to the relay.
lab_internet() {
	lab_public srv 198.51.100.10 198.51.100.11
	lab_v6 srv 2001:db8:1::10
	lab_public rel 198.51.100.30
	lab_v6 rel 2001:db8:1::30
	lab_public v6host
	lab_v6 v6host 2001:db8:1::100
	lab_exec v6host ip -6 route add 2001::/32 via 2001:db8:1::30
}

lab_shipworm_relay() { # NODE [RELAYTYPE]
	lab_exec "$1" sysctl -qw net.ipv6.conf.all.forwarding=1
	lab_shipwormd "$1" "shipworm-$1" "$(printf 'RelayType %s\nInterfaceName teredo' "${2:-cone}")"
}
# lab_counter SOCKET NAME: one counter from `shipworm status --json`.
lab_counter() {
	"$SHIPWORM" -s "$1" status --json | sed -E "s/.*\"$2\":([0-9]+).*/\1/"
}

# lab_wait_counter SOCKET NAME AT-LEAST: wait (5 s at most) until that counter of
# `shipworm status --json` reaches AT-LEAST, so that a check reads it after the daemon
# has handled what was sent rather than after a guessed delay.
lab_wait_counter() {
	local i v
	for i in $(seq 50); do
		v=$(lab_counter "$1" "$2")
		[ "${v:-0}" -ge "$3" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# lab_metrics SOCKET ROLE: `shipworm metrics` of that daemon parses with the Prometheus
# client library's parser, every sample labelled with ROLE (issue 12).
lab_metrics() {
	# Debian's python3 and its python3-prometheus-client, whatever python3 the PATH finds.
	"$SHIPWORM" -s "$1" metrics | /usr/bin/python3 "$SHIPWORM_TOP/tests/lab/metrics-parse.py" "$2"
}

# lab_privileges NODE CAPEFF-HEX: NODE's shipwormd runs as a non-root user with exactly
# these effective capabilities (0, or 1000 for CAP_NET_ADMIN), no_new_privs and a
# seccomp filter.
lab_privileges() {
	local pid
	pid=$(lab_pids "$1" shipwormd | head -n 1)
	[ -n "$pid" ] || return 1
	awk -v want="$(printf '%016x' "0x$2")" '
		/^Uid:/ { if ($2 == 0 || $3 == 0) bad = "runs as root" }
		/^CapEff:/ { if ($2 != want) bad = "CapEff " $2 " not " want }
		/^NoNewPrivs:/ { if ($2 != 1) bad = "no_new_privs not set" }
		/^Seccomp:/ { if ($2 != 2) bad = "no seccomp filter (Seccomp: " $2 ")" }
		END { if (bad) { print bad; exit 1 } }' "/proc/$pid/status"
}
