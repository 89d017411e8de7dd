/* One writer for the control socket's answers, in text ("key: value", indented
 * sections), JSON, or the Prometheus text exposition format (`shipworm metrics`), so
 * every role reports the same way in each. */
#ifndef SW_SYS_STATUS_FMT_H
#define SW_SYS_STATUS_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum st_format { ST_TEXT = 0, ST_JSON = 1, ST_PROM = 2 };

struct status_out {
	char *buf;
	size_t cap, len;
	bool json, prom;
	int depth;
	bool first[8]; /* per depth: no member written yet */
	/* Prometheus: the section names above the current member, the role (the first
	 * "mode" member), and whether the current section's family has its header. */
	char path[8][32];
	char role[16];
	bool family_open[8];
};

/* fmt: an enum st_format (false and true still mean text and JSON). In ST_PROM, numbers
 * become metrics named shipworm_<section>_<key> with a role label: members of a
 * "counters" section are counters (_total), of a "dropped" section one counter
 * shipworm_dropped_total with a reason label, the rest gauges; strings become
 * shipworm_<key>_info{<key>="..."} 1, and booleans gauges of 0 or 1. */
void st_begin(struct status_out *o, char *buf, size_t cap, int fmt);
void st_str(struct status_out *o, const char *key, const char *val);
void st_u64(struct status_out *o, const char *key, uint64_t val);
void st_bool(struct status_out *o, const char *key, bool val);
void st_obj_begin(struct status_out *o, const char *key);
void st_obj_end(struct status_out *o);
/* Arrays of objects: st_arr_begin, then st_obj_begin(o, NULL) per element. */
void st_arr_begin(struct status_out *o, const char *key);
void st_arr_end(struct status_out *o);
size_t st_end(struct status_out *o);
/* Every role's first members: its mode (the Prometheus role label), this program's
 * version (did the upgrade take?) and the daemon's age. */
void st_daemon(struct status_out *o, const char *mode, uint64_t uptime_s);
/* A one-line answer (an error) into out, cut to fit: returns what was written, never
 * more than cap - 1 (unlike snprintf's return value). */
size_t st_line(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
