/* One writer for the control socket's answers, in text ("key: value", indented
 * sections) or JSON, so every role reports the same way. */
#ifndef SW_SYS_STATUS_FMT_H
#define SW_SYS_STATUS_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct status_out {
	char *buf;
	size_t cap, len;
	bool json;
	int depth;
	bool first[8]; /* per depth: no member written yet */
};

void st_begin(struct status_out *o, char *buf, size_t cap, bool json);
void st_str(struct status_out *o, const char *key, const char *val);
void st_u64(struct status_out *o, const char *key, uint64_t val);
void st_bool(struct status_out *o, const char *key, bool val);
void st_obj_begin(struct status_out *o, const char *key);
void st_obj_end(struct status_out *o);
/* Arrays of objects: st_arr_begin, then st_obj_begin(o, NULL) per element. */
void st_arr_begin(struct status_out *o, const char *key);
void st_arr_end(struct status_out *o);
size_t st_end(struct status_out *o);
/* A one-line answer (an error) into out, cut to fit: returns what was written, never
 * more than cap - 1 (unlike snprintf's return value). */
size_t st_line(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
