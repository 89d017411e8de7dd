#include "sys/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int use_stderr = 1;
static const char *log_ident = "shipwormd";

void log_init(const char *ident, int foreground, int facility)
{
	log_ident = ident;
	use_stderr = foreground;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (use_stderr) {
		static const char *const names[] = { "emerg", "alert", "crit", "error",
						     "warning", "notice", "info", "debug" };
		fprintf(stderr, "%s: %s: ", log_ident, names[prio & 7]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(prio, fmt, ap);
	}
	va_end(ap);
}
