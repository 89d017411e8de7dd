/* The control socket: a Unix stream socket on which `shipworm` asks a running daemon
 * for its status. One request line in, one answer out, then the daemon closes. */
#ifndef SW_SYS_CONTROL_H
#define SW_SYS_CONTROL_H

#include <stddef.h>

#define CONTROL_DIR "/run/shipworm"
#define CONTROL_DEFAULT CONTROL_DIR "/shipwormd.sock"
#define CONTROL_ANSWER_MAX 65536

/* Writes the answer to `request` (without newline) into out; returns its length. */
typedef size_t (*control_fn)(void *ctx, const char *request, char *out, size_t cap);

/* Create the socket at path (its directory made 0755 if missing), mode 0600: only
 * root talks to the daemon. Returns the listening fd or -1 with errno set. */
int control_listen(const char *path);
/* Accept and serve one waiting connection, without blocking the caller for long. */
void control_serve(int lfd, control_fn fn, void *ctx);

/* Client side: send request, copy the answer to fd `out`. Returns 0, or -1 with errno. */
int control_request(const char *path, const char *request, int out);

#endif
