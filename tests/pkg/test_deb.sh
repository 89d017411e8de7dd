#!/usr/bin/env bash
# The Debian package in a throwaway root (issue 12): a copy-on-write overlay of this
# machine's root filesystem in a private mount namespace, with its upper layer on a
# tmpfs. dpkg installs the package chrooted there, maintainer scripts included; the
# checks look at what it installed and what its scripts did, then it is purged and the
# upper layer must hold nothing of it. The machine's own root is never written to.
#
#   tests/pkg/test_deb.sh build/shipworm_VERSION_ARCH.deb
set -u
deb=$(readlink -f "$1")
T=$(mktemp -d /tmp/swdeb.XXXXXX)
trap 'rm -rf "$T"' EXIT
host_passwd=$(sha256sum /etc/passwd)
host_had_sbin=$([ -e /usr/sbin/shipwormd ] && echo yes || echo no)

# Everything below runs in its own mount namespace: when it ends, the overlay and the
# tmpfs go with it.
unshare -m --propagation private bash -s "$deb" "$T" "$(dirname "$0")/../lab/lab.sh" <<'EOS'
set -u
deb=$1 T=$2 R=$2/root
# The lab's check (its output format and counters), without the lab: no lab_init, so
# no namespace and no trap.
. "$3"
mount -t tmpfs tmpfs "$T"
LAB_TMP=$T LAB_PASS=0 LAB_FAIL=0
mkdir -p "$T/upper" "$T/work" "$R"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$R"
for d in proc sys dev; do mount --rbind "/$d" "$R/$d"; done
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
cp "$deb" "$R/tmp/shipworm.deb"
in_root() { chroot "$R" "$@"; }

check "dpkg installs the package into the throwaway root" in_root dpkg -i /tmp/shipworm.deb
check "shipwormd and shipworm are installed and run" \
	bash -c "chroot '$R' /usr/sbin/shipwormd --version && chroot '$R' /usr/bin/shipworm --help >/dev/null"
check "the man pages are installed" \
	test -s "$R/usr/share/man/man8/shipwormd.8.gz" -a -s "$R/usr/share/man/man5/shipwormd.conf.5.gz" -a -s "$R/usr/share/man/man1/shipworm.1.gz"
check "/etc/shipwormd.conf is a conffile" bash -c "chroot '$R' dpkg-query -W -f '\${Conffiles}' shipworm | grep -q '/etc/shipwormd.conf '"
# The example starts nothing until the operator picks a role: --check says what is
# missing; with its client lines uncommented it passes.
check "the example configuration, untouched, is refused with the reason" \
	bash -c "! chroot '$R' /usr/sbin/shipwormd --check -c /etc/shipwormd.conf >'$T/refused' 2>&1 && grep 'needs ServerAddress' '$T/refused'"
sed -e 's/^#RelayType client/RelayType client/' -e 's/^#ServerAddress /ServerAddress /' "$R/etc/shipwormd.conf" >"$R/tmp/client.conf"
check "the example's client lines, uncommented, pass shipwormd --check" in_root /usr/sbin/shipwormd --check -c /tmp/client.conf
check "the units name the installed programs" \
	bash -c "grep -q 'ExecStart=/usr/sbin/shipwormd ' '$R/lib/systemd/system/shipwormd.service' && grep -q '/usr/sbin/shipwormd ' '$R/lib/systemd/system/shipwormd@.service' && grep -q '/usr/bin/shipworm metrics' '$R/lib/systemd/system/shipworm-metrics.service' && ! grep -rq /usr/local '$R/lib/systemd/system/shipworm'*"
check "systemd-analyze verify passes on every unit" in_root systemd-analyze verify /lib/systemd/system/shipwormd.service \
	/lib/systemd/system/shipwormd@demo.service /lib/systemd/system/shipworm-metrics.service /lib/systemd/system/shipworm-metrics.timer
check "the shipworm system user exists (sysusers.d), with no login shell" \
	bash -c "grep -q '^shipworm:x:[0-9]*:[0-9]*:.*:/nonexistent:/usr/sbin/nologin$' '$R/etc/passwd'"
check "installing enabled and started nothing (no network state)" \
	bash -c "! ls '$R'/etc/systemd/system/*.wants/ 2>/dev/null | grep -q shipworm && ! ip link show teredo >/dev/null 2>&1"

# What the package put there, for the purge check.
chroot "$R" dpkg -L shipworm >"$T/files"
check "dpkg --purge removes it" in_root dpkg --purge shipworm
left=""
while read -r f; do
	[ -d "$R$f" ] && continue # directories are shared (and /lib is /usr/lib)
	[ -e "$R$f" ] || [ -L "$R$f" ] && left="$left $f"
done <"$T/files"
check "no file of the package is left after the purge" bash -c "echo $left; test -z \"$left\""
# The upper layer holds every change the package and dpkg made: beyond dpkg's own
# records and the system user (kept on purge, as Debian does with system users), nothing.
(cd "$T/upper" && find . ! -type d) | grep -vE '^\./(var/lib/dpkg/|var/log/|var/cache/|var/lib/systemd/deb-systemd-helper|etc/(passwd|group|shadow|gshadow)-?$|etc/\.pwd\.lock$|etc/ld\.so\.cache$)' >"$T/leftovers" || true
check "no leftovers in the throwaway root besides dpkg's records and the system user" bash -c "! grep . '$T/leftovers'"
echo "deb: $LAB_PASS passed, $LAB_FAIL failed"
[ "$LAB_FAIL" = 0 ]
EOS
rc=$?
# The machine itself is untouched.
if [ "$(sha256sum /etc/passwd)" = "$host_passwd" ] && { [ "$host_had_sbin" = yes ] || [ ! -e /usr/sbin/shipwormd ]; }; then
	echo "ok - the machine's own root is untouched (/etc/passwd, /usr/sbin)"
else
	echo "not ok - the machine's own root changed"
	rc=1
fi
exit $rc
