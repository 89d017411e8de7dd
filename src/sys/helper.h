/* Helper processes of the client: work that blocks or parses what others send (UPnP's
 * SSDP and HTTP, name resolution through NSS) runs in a child forked before the daemon
 * drops its privileges and enters its sandbox, and talks to it over a socketpair. */
#ifndef SW_SYS_HELPER_H
#define SW_SYS_HELPER_H

#include <stdbool.h>

#include "sys/sandbox.h"

/* Forks `body(fd, arg)` as process `name` (its comm) with the daemon's end of nothing
 * but a SOCK_SEQPACKET socketpair (fd 3) and stdio, as `user` with no capability, and
 * under seccomp filter `role` when sandboxed. The body never returns; it sees the
 * daemon's end close (EOF) when the daemon ends, however it ends. Returns the daemon's
 * end, or -1. `keep`: the capabilities it keeps (DROP_KEEP_*, sys/daemon.h), usually 0. */
int helper_fork(const char *name, const char *user, unsigned keep, bool sandboxed, enum sandbox_role role,
		void (*body)(int fd, void *arg), void *arg);

#endif
