/* The control socket: a Unix stream socket on which `shipworm` asks a running daemon
 * for its status. One request line in, one answer out, then the daemon closes. */
#ifndef SW_SYS_CONTROL_H
#define SW_SYS_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#include "sys/control_req.h"

#define CONTROL_DIR "/run/shipworm"
#define CONTROL_DEFAULT CONTROL_DIR "/shipwormd.sock"
#define CONTROL_ANSWER_MAX 65536

/* Writes the answer to a well-formed request into out; returns its length. */
typedef size_t (*control_fn)(void *ctx, const struct control_req *req, char *out, size_t cap);

/* Create the socket at path (its directory made 0755 if missing). The socket is mode
 * 0600, only root talks to the daemon; with a group (not (gid_t)-1) it is 0660 and
 * owned by that group, whose members may ask too. Returns the listening fd or -1 with
 * errno set. */
int control_listen(const char *path, gid_t group);
/* Accept and serve one waiting connection, without blocking the caller for long.
 * A malformed request gets "error: <reason>" and the connection is closed. */
void control_serve(int lfd, control_fn fn, void *ctx);

/* Client side: send request and copy the answer to fd `out`, or to `err` when the daemon
 * refused it ("error: ..."). Returns 0, 1 when refused, or -1 with errno. */
int control_request(const char *path, const char *request, int out, int err);

#endif
