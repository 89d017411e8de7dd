/* The Linux shell around core/server: sockets, event loop, control socket. */
#ifndef SW_SYS_SERVER_IO_H
#define SW_SYS_SERVER_IO_H

#include "conf/config.h"
#include "sys/daemon.h"

/* Run the server until SIGTERM or SIGINT; returns the process exit status. */
int server_io_run(const struct sw_config *cfg, const struct run_opts *opts);

#endif
