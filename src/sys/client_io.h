/* The Linux shell around core/client: UDP socket, TUN device, netlink, timers. */
#ifndef SW_SYS_CLIENT_IO_H
#define SW_SYS_CLIENT_IO_H

#include "conf/config.h"
#include "sys/daemon.h"

int client_io_run(const struct sw_config *cfg, const struct run_opts *opts);

#endif
