/* shipwormd: the Teredo daemon. One process runs one role, chosen by the configuration. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/config.h"
#include "sys/control.h"
#include "sys/daemon.h"
#include "sys/log.h"
#include "sys/auto_io.h"
#include "sys/client_io.h"
#include "sys/relay_io.h"
#include "sys/server_io.h"

#define DEFAULT_CONFIG "/etc/shipwormd.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: shipwormd [-f] [-c FILE] [-u USER] [-p PIDFILE] [-s SOCKET]\n"
		"Teredo (RFC 4380, 5991, 6081) client, server, relay or host-specific relay.\n"
		"\n"
		"  -c, --config FILE    configuration file (default " DEFAULT_CONFIG ");\n"
		"                       Miredo's miredo.conf and miredo-server.conf work unchanged\n"
		"  -f, --foreground     stay in the foreground and log to standard error\n"
		"  -u, --user USER      run as USER once set up (default: shipworm, else nobody;\n"
		"                       root keeps root)\n"
		"  -p, --pidfile FILE   write the process ID to FILE (default: none)\n"
		"  -s, --socket PATH    control socket for `shipworm` (default " CONTROL_DEFAULT ")\n"
		"  -t, --check          check the configuration file and exit\n"
		"  -h, --help           show this help and exit\n"
		"  -V, --version        show the version and exit\n"
		"\n"
		"See shipwormd(8) and shipwormd.conf(5).\n");
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		if (cap >= (1u << 20)) { /* no sane configuration is a megabyte */
			free(buf);
			buf = NULL;
			errno = EFBIG;
			break;
		}
		char *nb = realloc(buf, cap *= 2);
		if (!nb) {
			free(buf);
			buf = NULL;
		}
		buf = nb;
	}
	int e = errno;
	fclose(f);
	errno = e;
	*len = n;
	return buf;
}

/* A group name, or a number as groupadd would refuse to name a group. */
static int resolve_group(const char *name, gid_t *gid)
{
	struct group *g = getgrnam(name);
	if (g) {
		*gid = g->gr_gid;
		return 0;
	}
	char *end;
	unsigned long n = strtoul(name, &end, 10);
	if (*name && !*end && n < (gid_t)-1) {
		*gid = (gid_t)n;
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "user", required_argument, NULL, 'u' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ "check", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	daemon_mark_start();
	const char *config = DEFAULT_CONFIG;
	struct run_opts opts = { .control = CONTROL_DEFAULT, .control_gid = (gid_t)-1 };
	bool check_only = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:fu:p:s:thV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'f': opts.foreground = true; break;
		case 'u': opts.user = optarg; break;
		case 'p': opts.pidfile = optarg; break;
		case 's': opts.control = optarg; break;
		case 't': check_only = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("shipwormd %s\n", SHIPWORM_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "shipwormd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	size_t len;
	char *text = read_file(config, &len);
	if (!text) {
		fprintf(stderr, "shipwormd: %s: %s\n", config, strerror(errno));
		return 1;
	}
	struct sw_config cfg;
	char err[512];
	int r = config_parse(text, len, config, &cfg, err, sizeof err);
	free(text);
	if (r < 0) {
		fprintf(stderr, "shipwormd: %s\n", err);
		return 1;
	}
	if (cfg.control_group[0] && resolve_group(cfg.control_group, &opts.control_gid) < 0) {
		fprintf(stderr, "shipwormd: %s:%d: ControlGroup: no group \"%s\" on this system\n",
			config, config_line(&cfg, "ControlGroup"), cfg.control_group);
		return 1;
	}
	if (check_only) {
		printf("%s: OK (mode %s)\n", config, config_mode_name(cfg.mode));
		return 0;
	}

	log_init("shipwormd", opts.foreground, cfg.syslog_facility);
	if (daemon_start(&opts) < 0) {
		fprintf(stderr, "shipwormd: cannot detach: %s\n", strerror(errno));
		return 1;
	}
	if (opts.pidfile && daemon_write_pidfile(opts.pidfile) < 0) {
		log_err("cannot write PID file %s: %s", opts.pidfile, strerror(errno));
		return 1;
	}
	switch (cfg.mode) {
	case MODE_SERVER:
		return server_io_run(&cfg, &opts);
	case MODE_CLIENT:
		return client_io_run(&cfg, &opts);
	case MODE_AUTO:
		return auto_io_run(&cfg, &opts);
	default:
		return relay_io_run(&cfg, &opts);
	}
}
