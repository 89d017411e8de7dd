/* The Linux shell around core/relay: UDP socket, TUN device with the Teredo route. */
#ifndef SW_SYS_RELAY_IO_H
#define SW_SYS_RELAY_IO_H

#include "conf/config.h"
#include "sys/daemon.h"

int relay_io_run(const struct sw_config *cfg, const struct run_opts *opts);

#endif
