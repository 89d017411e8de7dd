#!/bin/sh
# Install the Debian packages shipworm needs and the machine lacks.
#   scripts/deps.sh build   to compile
#   scripts/deps.sh test    to compile, run `make check`, `make bench` and `make demo`
#   scripts/deps.sh deb     to build the Debian package (`make deb`)
# Miredo's packages come with init scripts that would start a Teredo tunnel in the
# machine's own network namespace; a temporary policy-rc.d stops that, because the lab
# runs Miredo only inside namespaces it creates.
set -eu

build="gcc make libc6-dev pkg-config libmnl-dev libcap-dev libseccomp-dev libminiupnpc-dev
       clang llvm libbpf-dev bpftool linux-libc-dev"
test="$build libcmocka-dev clang libclang-rt-dev iproute2 nftables iputils-ping tcpdump
      iperf3 miredo miredo-server procps util-linux psmisc python3 miniupnpd-nftables
      stun-server miniupnpc systemd python3-prometheus-client debhelper lintian fakeroot dpkg-dev
      bird2 ethtool qemu-system-x86 busybox-static"
deb="$build debhelper lintian fakeroot dpkg-dev"

case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
deb) want=$deb ;;
*) echo "usage: $0 build|test|deb" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing Debian packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
