/* The seccomp filter (libseccomp) each role enters once its set-up is done. */
#ifndef SW_SYS_SANDBOX_H
#define SW_SYS_SANDBOX_H

enum sandbox_role { SANDBOX_SERVER, SANDBOX_CLIENT, SANDBOX_RELAY, SANDBOX_UPNP };

/* Allow only the system calls the role makes after start-up; any other kills the
 * process after one log line naming the call. Returns 0, or -1 with errno. */
int sandbox_enter(enum sandbox_role role);
/* Before sandbox_enter: also allow bpf() for map lookups, updates and deletes only (the
 * kernel fast path, issue 10). */
void sandbox_allow_bpf_maps(void);

#endif
