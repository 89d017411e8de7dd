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

/* n bytes as they are, cut like put()'s: a large table's listing is mostly these, and a
 * vsnprintf per character made a 64 KiB page of `shipworm peers` hold the loop ~4 ms. */
static void put_raw(struct status_out *o, const char *s, size_t n)
{
	if (o->len >= o->cap)
		return;
	size_t room = o->cap - o->len - 1;
	if (n > room)
		n = room;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = 0;
}

static void json_string(struct status_out *o, const char *s)
{
	put_raw(o, "\"", 1);
	while (*s) {
		size_t run = 0;
		while (s[run] && s[run] != '"' && s[run] != '\\' && (unsigned char)s[run] >= 0x20)
			run++;
		put_raw(o, s, run);
		s += run;
		if (!*s)
			break;
		unsigned char c = (unsigned char)*s++;
		if (c == '"' || c == '\\')
			put(o, "\\%c", c);
		else
			put(o, "\\u%04x", c);
	}
	put_raw(o, "\"", 1);
}

/* Prometheus: a metric name made of the path and key, [a-z0-9_] only. */
static void prom_name(struct status_out *o, char *out, size_t cap, const char *k)
{
	size_t n = (size_t)snprintf(out, cap, "shipworm");
	for (int d = 1; d < o->depth && n < cap; d++)
		if (o->path[d][0])
			n += (size_t)snprintf(out + n, cap - n, "_%s", o->path[d]);
	if (k && n < cap)
		snprintf(out + n, cap - n, "_%s", k);
	for (char *c = out; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			*c = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : '_';
}

/* A label value: backslash, quote and newline escaped. */
static void prom_label(struct status_out *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			put(o, "\\%c", *v);
		else if (*v == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *v);
	}
}

static void prom_header(struct status_out *o, const char *name, const char *type)
{
	put(o, "# HELP %s shipwormd status: %s\n# TYPE %s %s\n", name, name + 9, name, type);
}

static const char *prom_section(const struct status_out *o)
{
	return o->depth > 1 ? o->path[o->depth - 1] : "";
}

static void prom_number(struct status_out *o, const char *k, uint64_t v)
{
	char name[160];
	if (!strcmp(prom_section(o), "dropped")) {
		/* One family for every reason, opened at its first member. */
		if (!o->family_open[o->depth]) {
			prom_header(o, "shipworm_dropped_total", "counter");
			o->family_open[o->depth] = true;
		}
		put(o, "shipworm_dropped_total{role=\"%s\",reason=\"", o->role);
		prom_label(o, k ? k : "");
		put(o, "\"} %" PRIu64 "\n", v);
		return;
	}
	bool counter = !strcmp(prom_section(o), "counters");
	char saved[32];
	snprintf(saved, sizeof saved, "%s", o->path[o->depth - 1]);
	if (counter) /* counters are top-level names: shipworm_from_udp_total */
		o->path[o->depth - 1][0] = 0;
	prom_name(o, name, sizeof name - 8, k);
	snprintf(o->path[o->depth - 1], sizeof o->path[0], "%s", saved);
	if (counter)
		strcat(name, "_total");
	prom_header(o, name, counter ? "counter" : "gauge");
	put(o, "%s{role=\"%s\"} %" PRIu64 "\n", name, o->role, v);
}

static void prom_string(struct status_out *o, const char *k, const char *v)
{
	char name[160];
	const char *label = k ? k : o->path[o->depth - 1]; /* array members: the array's name */
	if (!k && o->depth > 1) {
		/* An array of strings is one family; its header comes with the first one. */
		char saved[32];
		snprintf(saved, sizeof saved, "%s", o->path[o->depth - 1]);
		o->path[o->depth - 1][0] = 0;
		prom_name(o, name, sizeof name - 8, saved);
		snprintf(o->path[o->depth - 1], sizeof o->path[0], "%s", saved);
	} else {
		prom_name(o, name, sizeof name - 8, k);
	}
	strcat(name, "_info");
	if (k || !o->family_open[o->depth]) {
		prom_header(o, name, "gauge");
		o->family_open[o->depth] = !k;
	}
	put(o, "%s{role=\"%s\",%s=\"", name, o->role, label);
	prom_label(o, v);
	put(o, "\"} 1\n");
}

/* Start a member: separator and key in JSON, indentation and key in text. */
static void key(struct status_out *o, const char *k)
{
	if (o->json) {
		if (!o->first[o->depth])
			put_raw(o, ",", 1);
		o->first[o->depth] = false;
		if (k) {
			json_string(o, k);
			put_raw(o, ":", 1);
		}
	} else {
		for (int i = 1; i < o->depth; i++)
			put_raw(o, "  ", 2);
		if (k) {
			put_raw(o, k, strlen(k));
			put_raw(o, ":", 1);
		}
	}
}

void st_begin(struct status_out *o, char *buf, size_t cap, int fmt)
{
	memset(o, 0, sizeof *o);
	o->buf = buf;
	o->cap = cap;
	o->json = fmt == ST_JSON;
	o->prom = fmt == ST_PROM;
	bool json = o->json;
	o->buf[0] = 0;
	o->depth = 1;
	o->first[1] = true;
	if (json)
		put(o, "{");
}

void st_str(struct status_out *o, const char *k, const char *v)
{
	if (o->prom) {
		if (o->depth == 1 && k && !strcmp(k, "mode"))
			snprintf(o->role, sizeof o->role, "%s", v);
		prom_string(o, k, v);
		return;
	}
	key(o, k);
	if (o->json) {
		json_string(o, v);
	} else {
		put_raw(o, " ", 1);
		put_raw(o, v, strlen(v));
		put_raw(o, "\n", 1);
	}
}

void st_u64(struct status_out *o, const char *k, uint64_t v)
{
	if (o->prom) {
		prom_number(o, k, v);
		return;
	}
	key(o, k);
	put(o, o->json ? "%" PRIu64 : " %" PRIu64 "\n", v);
}

void st_bool(struct status_out *o, const char *k, bool v)
{
	if (o->prom) {
		prom_number(o, k, v);
		return;
	}
	key(o, k);
	put(o, o->json ? "%s" : " %s\n", v ? (o->json ? "true" : "yes") : (o->json ? "false" : "no"));
}

void st_obj_begin(struct status_out *o, const char *k)
{
	if (o->prom) {
		if (o->depth < 7) {
			o->depth++;
			snprintf(o->path[o->depth - 1], sizeof o->path[0], "%s", k ? k : "");
			o->family_open[o->depth] = false;
		}
		return;
	}
	key(o, k);
	put(o, o->json ? "{" : (k ? "\n" : "-\n"));
	if (o->depth < 7)
		o->depth++;
	o->first[o->depth] = true;
}

void st_obj_end(struct status_out *o)
{
	if (o->prom) {
		if (o->depth > 1)
			o->depth--;
		return;
	}
	if (o->json)
		put(o, "}");
	if (o->depth > 1)
		o->depth--;
}

void st_arr_begin(struct status_out *o, const char *k)
{
	if (o->prom) {
		st_obj_begin(o, k);
		return;
	}
	key(o, k);
	put(o, o->json ? "[" : "\n");
	if (o->depth < 7)
		o->depth++;
	o->first[o->depth] = true;
}

void st_arr_end(struct status_out *o)
{
	if (o->prom) {
		st_obj_end(o);
		return;
	}
	if (o->json)
		put(o, "]");
	if (o->depth > 1)
		o->depth--;
}

void st_daemon(struct status_out *o, const char *mode, uint64_t uptime_s)
{
	st_str(o, "mode", mode);
	st_str(o, "version", SHIPWORM_VERSION);
	st_u64(o, "uptime_seconds", uptime_s);
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
