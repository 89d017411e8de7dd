#include "sys/status_fmt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void put(struct status_out *o, const char *fmt, ...)
{
	if (o->len >= o->cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
}

static void json_string(struct status_out *o, const char *s)
{
	put(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			put(o, "\\%c", c);
		else if (c < 0x20)
			put(o, "\\u%04x", c);
		else
			put(o, "%c", c);
	}
	put(o, "\"");
}

/* Start a member: separator and key in JSON, indentation and key in text. */
static void key(struct status_out *o, const char *k)
{
	if (o->json) {
		if (!o->first[o->depth])
			put(o, ",");
		o->first[o->depth] = false;
		if (k) {
			json_string(o, k);
			put(o, ":");
		}
	} else {
		for (int i = 1; i < o->depth; i++)
			put(o, "  ");
		if (k)
			put(o, "%s:", k);
	}
}

void st_begin(struct status_out *o, char *buf, size_t cap, bool json)
{
	memset(o, 0, sizeof *o);
	o->buf = buf;
	o->cap = cap;
	o->json = json;
	o->buf[0] = 0;
	o->depth = 1;
	o->first[1] = true;
	if (json)
		put(o, "{");
}

void st_str(struct status_out *o, const char *k, const char *v)
{
	key(o, k);
	if (o->json)
		json_string(o, v);
	else
		put(o, " %s\n", v);
}

void st_u64(struct status_out *o, const char *k, uint64_t v)
{
	key(o, k);
	put(o, o->json ? "%" PRIu64 : " %" PRIu64 "\n", v);
}

void st_bool(struct status_out *o, const char *k, bool v)
{
	key(o, k);
	put(o, o->json ? "%s" : " %s\n", v ? (o->json ? "true" : "yes") : (o->json ? "false" : "no"));
}

void st_obj_begin(struct status_out *o, const char *k)
{
	key(o, k);
	put(o, o->json ? "{" : (k ? "\n" : "-\n"));
	if (o->depth < 7)
		o->depth++;
	o->first[o->depth] = true;
}

void st_obj_end(struct status_out *o)
{
	if (o->json)
		put(o, "}");
	if (o->depth > 1)
		o->depth--;
}

void st_arr_begin(struct status_out *o, const char *k)
{
	key(o, k);
	put(o, o->json ? "[" : "\n");
	if (o->depth < 7)
		o->depth++;
	o->first[o->depth] = true;
}

void st_arr_end(struct status_out *o)
{
	if (o->json)
		put(o, "]");
	if (o->depth > 1)
		o->depth--;
}

size_t st_end(struct status_out *o)
{
	if (o->json)
		put(o, "}\n");
	return o->len;
}

size_t st_line(char *out, size_t cap, const char *fmt, ...)
{
	if (!cap)
		return 0;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	if (n < 0) {
		out[0] = 0;
		return 0;
	}
	return (size_t)n < cap ? (size_t)n : cap - 1;
}
