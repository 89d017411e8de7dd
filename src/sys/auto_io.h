/* Mode auto (issue 11; RFC 4380 §5.5, C-70, H-02): a supervisor that follows the host's
 * IPv6 addresses and routes and runs the host-specific relay while the host has native
 * IPv6 (a global address and a default route), the client otherwise. Each role runs in
 * a child process exactly as when configured, privilege drop and sandbox included; the
 * supervisor keeps root only to start the next one, and switches by stopping one child
 * and starting the other. */
#ifndef SW_SYS_AUTO_IO_H
#define SW_SYS_AUTO_IO_H

#include "conf/config.h"
#include "sys/daemon.h"

#define AUTO_SETTLE_MS 1000 /* after the last IPv6 change (DAD, routers' RAs come in bursts) */

int auto_io_run(const struct sw_config *cfg, const struct run_opts *opts);

#endif
