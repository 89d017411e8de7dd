/* shipwormd configuration: Miredo's file syntax and directives (miredo.conf(5),
 * miredo-server.conf(5)) plus shipworm's own; see shipwormd.conf(5). */
#ifndef SW_CONF_CONFIG_H
#define SW_CONF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sw_mode { MODE_UNSET, MODE_CLIENT, MODE_SERVER, MODE_RELAY, MODE_HOST_RELAY, MODE_AUTO };
enum sw_relay_type { RT_UNSET, RT_CLIENT, RT_AUTOCLIENT, RT_RELAY, RT_CONE, RT_RESTRICTED };

#define CONFIG_STR_MAX 256
#define CONFIG_SERVERS_MAX 4 /* ServerAddress lines a client takes */

struct sw_config {
	enum sw_mode mode;
	enum sw_relay_type relay_type;
	char server_address[CONFIG_STR_MAX];  /* client: host name or IPv4 */
	/* client: further ServerAddress lines, candidates after the first (issue 11) */
	char server_more[CONFIG_SERVERS_MAX - 1][CONFIG_STR_MAX];
	unsigned nserver_more;
	uint32_t refresh_s;     /* client: RefreshInterval, RFC 4380 §5.2 (C-27), default 30 */
	bool refresh_discovery; /* client: RFC 4380 §5.2.7 search (C-60..C-62), default on */
	uint32_t refresh_min_s; /* client: RefreshMinimum, its floor, default 10 */
	bool dormant;           /* client: Dormant, default off (issue 11) */
	uint32_t dormant_idle_s; /* client: DormantIdle, default 600 */
	uint8_t fast_path;      /* relay, host relay: FastPath (issue 10) */
#define FASTPATH_CFG_OFF 0
#define FASTPATH_CFG_AUTO 1
#define FASTPATH_CFG_ON 2
	bool tun_offload;       /* client, relays: TunOffload (issue 10), yes by default */
	bool udp_offload;       /* client, relays: UdpOffload (issue 10), yes by default */
	uint32_t max_peers;     /* client, relay: MaxPeers, 0 = the role's default */
	/* Mode auto: why the supervisor (sys/auto_io.c) runs this role, for the status;
	 * "" when the mode was configured. */
	char auto_reason[64];
	char server_address2[CONFIG_STR_MAX];
	uint32_t server_bind;   /* server: primary IPv4, network byte order; 0 = unset */
	uint32_t server_bind2;  /* server: secondary; 0 = primary + 1 */
	uint32_t prefix;        /* host byte order, top 32 bits */
	uint32_t mtu;
	char ifname[16];
	uint32_t bind_address;  /* network byte order; 0 = any */
	uint16_t bind_port;     /* host byte order; 0 = unset */
	int syslog_facility;
	uint16_t max_icmp_payload; /* server: S-24 */
	uint32_t max_rs_rate;   /* server: RAs per second to one IPv4 address, 0 = no limit */
	char client_hook[CONFIG_STR_MAX]; /* client: script run after each change, or "" */
	bool local_discovery;   /* client: RFC 4380 §5.2.8, default on */
	bool symmetric_nat;     /* client: RFC 6081 §5.2 (nonce trailers), default on */
	bool load_reduction;    /* client: RFC 6081 §5.7 (ND option trailers), default on */
	bool hairpinning;       /* client: RFC 6081 §5.6 (alternate address trailers), default on */
	bool port_preserving_nat; /* client: RFC 6081 §5.4 (random ports), default on */
	bool sequential_nat;    /* client: RFC 6081 §5.5 (port prediction), default on */
	bool upnp;              /* client: RFC 6081 §5.3 (a UPnP IGD port mapping), default on */
	uint32_t relay_unknown_rate; /* relay: new clients taken per second, UINT32_MAX all */
	uint32_t relay_new_per_source; /* relay: new peers a second per native /64, 0 no limit */
	char control_group[33]; /* group allowed on the control socket besides root, or "" */
	int line_of[40];        /* line of each directive seen, 0 if not (for messages) */
};

/* Parse text (the whole file) named `file` into cfg, defaults first. On error returns
 * -1 and writes "file:line: message" into err. Resolves the mode, fills defaults that
 * depend on it and checks contradictions; does no I/O. */
int config_parse(const char *text, size_t len, const char *file, struct sw_config *cfg,
		 char *err, size_t errlen);

const char *config_mode_name(enum sw_mode m);
/* The line a directive was set on, 0 if it was not (for messages about its value). */
int config_line(const struct sw_config *cfg, const char *directive);

#endif
