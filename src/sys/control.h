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
/* A connection's time for its request and answer together, and how many may be open. */
#define CONTROL_CONN_MS 2000
#define CONTROL_CONNS 8

/* Writes the answer to a well-formed request into out; returns its length. */
typedef size_t (*control_fn)(void *ctx, const struct control_req *req, char *out, size_t cap);

struct control;
/* Create the socket at path (its directory made 0755 if missing). The socket is mode
 * 0600, only root talks to the daemon; with a group (not (gid_t)-1) it is 0660 and
 * owned by that group, whose members may ask too. One per process. Returns it, or NULL
 * with errno set. */
struct control *control_open(const char *path, gid_t group);
/* What the daemon's loop waits on (readable when a connection needs serving). */
int control_fd(const struct control *c);
/* Serve whatever is ready, never waiting for a peer: a connection has CONTROL_CONN_MS
 * for its request and answer together, and at most CONTROL_CONNS are open at once.
 * A malformed request gets "error: <reason>" and the connection is closed. */
void control_serve(struct control *c, control_fn fn, void *ctx);
/* Close the socket and its connections (the path stays: the caller unlinks it). */
void control_close(struct control *c);

/* Client side: send request and copy the answer to fd `out`, or to `err` when the daemon
 * refused it ("error: ..."). Gives up after CONTROL_CLIENT_TIMEOUT_S without progress
 * (errno ETIMEDOUT). Returns 0, 1 when refused, or -1 with errno. */
#define CONTROL_CLIENT_TIMEOUT_S 5
int control_request(const char *path, const char *request, int out, int err);
/* The same into buf (cap bytes: more than CONTROL_ANSWER_MAX holds any answer), its
 * length in *len, NUL-terminated. Returns 0, 1 when refused, or -1 with errno (EMSGSIZE:
 * it did not fit). */
int control_ask(const char *path, const char *request, char *buf, size_t cap, size_t *len);

#endif
