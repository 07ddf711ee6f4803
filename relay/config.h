/*
 * config.h - backchanneld configuration: defaults, config file, flags.
 *
 * The config file holds lines "key = value"; '#' starts a comment. Flags
 * given on the command line override the file. Every limit of DESIGN §5 is
 * here; docs/DEPLOY.md and relay/backchanneld.conf.example list them.
 */
#ifndef BC_RELAY_CONFIG_H
#define BC_RELAY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "storage.h"

typedef struct bc_relay_config {
	char listen[256];          /* host:port; [v6]:port */
	char data_dir[1024];
	uint32_t max_frame;        /* bytes */
	uint32_t max_connections;
	uint32_t handshake_timeout; /* seconds */
	uint32_t idle_timeout;     /* seconds */
	uint32_t posts_per_second; /* per connection; 0 = unlimited */
	uint32_t post_burst;
	uint16_t max_copies;       /* per post */
	uint32_t push_window;      /* unacknowledged pushes per subscription */
	uint32_t max_subscriptions;/* per connection */
	int log_level;
	bool max_body_set;         /* max_body given explicitly */
	bc_storage_limits lim;
} bc_relay_config;

void bc_config_defaults(bc_relay_config *c);
/* Set one key (as in the file or a --key=value flag). On error writes a
 * message into err (errlen bytes) and returns BC_ERR_INVALID. */
int bc_config_set(bc_relay_config *c, const char *key, const char *value,
		  char *err, size_t errlen);
/* Read a config file. BC_ERR_IO if unreadable; BC_ERR_INVALID with a
 * "file:line: message" in err for a bad line. */
int bc_config_load(bc_relay_config *c, const char *path, char *err,
		   size_t errlen);
/* Check cross-field consistency (e.g. max_body fits in a frame); an
 * unset max_body is lowered to fit a smaller max_frame. */
int bc_config_check(bc_relay_config *c, char *err, size_t errlen);
/* Split "host:port" / "[v6]:port". */
int bc_config_split_hostport(const char *s, char *host, size_t hostlen,
			     uint16_t *port);

#endif
