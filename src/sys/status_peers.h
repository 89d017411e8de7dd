/* `shipworm peers`: the peer table of a client or relay, for the control socket. */
#ifndef SW_SYS_STATUS_PEERS_H
#define SW_SYS_STATUS_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/peer.h"

size_t status_peers(const struct peer_table *t, uint32_t prefix, uint64_t now, bool json,
		    char *out, size_t cap);

#endif
