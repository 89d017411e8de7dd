#!/bin/bash
# Run inside the virtual machine of tests/kernel/run.sh (Debian 12's kernel): the
# environment the lab and the unit tests expect, then the command given.
#
#   tests/kernel/guest.sh CMD [ARGS...]
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
# The daemons run in namespaces from other directories: every path absolute.
export SHIPWORMD=${SHIPWORMD:-$top/build/san/shipwormd}
export SHIPWORM=${SHIPWORM:-$top/build/san/shipworm}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
# Nothing opens /dev/net/tun's module on demand (the device node comes with it).
modprobe tun
echo "# kernel $(uname -r) ($(uname -v))"
"$@"
