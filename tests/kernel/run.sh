#!/usr/bin/env bash
# Run a script of this repository inside a virtual machine booted on Debian 12's own
# kernel (6.1, the oldest the fast path supports, issue 10), with this machine's files
# as its root file system: the kernel's verifier, helpers and tc/XDP attach code are
# then 6.1's, everything else (the build, the tools, the lab) is what the lab uses here.
#
#   tests/kernel/run.sh CMD [ARGS...]     run in the guest from the repository's top
#
# The kernel is Debian's package linux-image-6.1.0-N-amd64-unsigned, the newest this
# machine's apt sources offer, downloaded once into build/kernel/ (apt-get download: no
# package is installed). qemu boots it under emulation (TCG); the root is
# this machine's / shared read-only over 9p with a copy-on-write tmpfs on top, so
# nothing the guest does reaches this machine's files or network (no network device).
# The guest's output comes back on its serial console; the script's exit status is the
# guest script's, which the guest writes into a directory of this machine shared with it
# for that alone.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
dir=$top/build/kernel
mkdir -p "$dir"
mem=${KERNEL_VM_MEM:-2048}
limit=${KERNEL_VM_TIMEOUT:-600}

# The kernel, once: the newest 6.1 image package, unpacked, its module index made.
if [ ! -e "$dir/release" ]; then
	find_pkg() {
		apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' |
			cut -d' ' -f1 | sort -V | tail -n 1
	}
	pkg=$(find_pkg)
	[ -n "$pkg" ] || { apt-get update -qq && pkg=$(find_pkg); }
	[ -n "$pkg" ] || { echo "kernel: no linux-image-6.1.0-*-amd64-unsigned in apt's lists" >&2; exit 1; }
	rm -rf "$dir/pkg" "$dir/root" && mkdir -p "$dir/pkg"
	(cd "$dir/pkg" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
		{ apt-get update -qq && (cd "$dir/pkg" && apt-get download -q "$pkg" >/dev/null); }
	dpkg-deb -x "$dir"/pkg/*.deb "$dir/root"
	rel=$(basename "$(ls -d "$dir"/root/lib/modules/*)")
	busybox depmod -b "$dir/root" "$rel"
	rm -rf "$dir/pkg"
	echo "$rel" >"$dir/release"
fi
rel=$(cat "$dir/release")
mods=$dir/root/lib/modules/$rel

# The initramfs: busybox and the modules that mount the root (virtio, 9p, overlay),
# in the order their dependencies need.
initrd=$dir/initrd.gz
if [ ! -e "$initrd" ] || [ "$top/tests/kernel/init" -nt "$initrd" ]; then
	ir=$(mktemp -d)
	trap 'rm -rf "$ir"' EXIT
	mkdir -p "$ir/bin" "$ir/mods" "$ir/proc" "$ir/sys" "$ir/dev" "$ir/root" "$ir/lower" "$ir/upper"
	cp /bin/busybox "$ir/bin/"
	ln -s busybox "$ir/bin/sh"
	cp "$top/tests/kernel/init" "$ir/init"
	order=""
	add() { # MODULE: its dependencies first, then itself
		local m=$1 d
		case " $order " in *" $m "*) return ;; esac
		for d in $(sed -n "s|^\(.*/\)\?$m\.ko: *||p" "$mods/modules.dep"); do add "$(basename "$d" .ko)"; done
		order+=" $m"
	}
	for m in virtio_pci 9pnet_virtio 9p overlay; do add "$m"; done
	for m in $order; do cp "$(find "$mods/kernel" -name "$m.ko")" "$ir/mods/"; done
	echo "$order" >"$ir/mods/order"
	(cd "$ir" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$ir"
	trap - EXIT
fi

# Emulation (TCG), always: this machine's /dev/kvm is there but a guest hangs on it
# right after the kernel is decompressed, and an emulated run is the same everywhere.
accel="-accel tcg -cpu max"
log=$(mktemp /tmp/shipworm-kvm.XXXXXX)
out=$(mktemp -d /tmp/shipworm-kvm-rc.XXXXXX)
# The command reaches the guest as a script on the shared root (the kernel's command
# line would lose its quoting).
cmd=$(mktemp "$dir/cmd.XXXXXX")
trap 'rm -f "$cmd"; rm -rf "$out"; [ "${KERNEL_VM_KEEP:-0}" = 1 ] || rm -f "$log"' EXIT
{ echo "cd $(printf '%q' "$top")"; printf '%q ' "$@"; echo; } >"$cmd"
# shellcheck disable=SC2086
timeout "$limit" qemu-system-x86_64 $accel -m "$mem" -smp 2 -nographic -no-reboot -nic none \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$out",mount_tag=swout,security_model=none \
	-kernel "$dir/root/boot/vmlinuz-$rel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 quiet loglevel=3 sw_mods=$mods sw_cmd=$cmd" \
	>"$log" 2>&1 || true
# The console's lines from the guest script, between the markers the init writes.
tr -d '\r' <"$log" | sed -n '/=== shipworm guest start/,/^=== shipworm guest end/p' |
	sed '1d;$d' | grep -v '^=== shipworm guest' || true
rc=$(cat "$out/rc" 2>/dev/null || true)
if [ -z "$rc" ]; then
	echo "kernel: the guest did not finish (last lines of its console below)"
	tr -d '\r' <"$log" | tail -n 30
	rc=1
fi
[ "${KERNEL_VM_KEEP:-0}" = 1 ] && echo "kernel: console in $log"
exit "$rc"
