/*
 * config.c - backchanneld configuration (see config.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "log.h"
#include "proto.h"

void bc_config_defaults(bc_relay_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:%d",
		 BC_PROTO_DEFAULT_PORT);
	snprintf(c->data_dir, sizeof(c->data_dir), "/var/lib/backchannel");
	c->max_frame = BC_PROTO_DEFAULT_MAX_FRAME;
	c->max_connections = 16384;
	c->handshake_timeout = 10;
	c->idle_timeout = 300;
	c->posts_per_second = 1000;
	c->post_burst = 2000;
	c->max_copies = BC_PROTO_MAX_COPIES;
	c->push_window = 256;
	c->max_subscriptions = 256;
	c->log_level = BC_LOG_INFO;
	bc_storage_limits_default(&c->lim);
	/* A body must fit in one frame with its headers. */
	if (c->lim.max_body > c->max_frame - 1024)
		c->lim.max_body = c->max_frame - 1024;
}

static int parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;
	/* Digits only: strtoull would also take leading space and a sign,
	 * and wraps a negative number ("-1") around to a huge one. */
	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < min || x > max)
		return -1;
	*out = x;
	return 0;
}

struct numkey {
	const char *name;
	uint64_t min, max;
	size_t off;
	int width; /* 2, 4 or 8 bytes */
};

#define NK(n, mn, mx, field)                                                  \
	{n, mn, mx, offsetof(bc_relay_config, field),                         \
	 (int)sizeof(((bc_relay_config *)0)->field)}

static const struct numkey numkeys[] = {
	NK("max_frame", BC_PROTO_MIN_MAX_FRAME, BC_PROTO_HARD_MAX_FRAME,
	   max_frame),
	NK("max_connections", 1, 1000000, max_connections),
	NK("handshake_timeout", 1, 3600, handshake_timeout),
	NK("idle_timeout", 1, 86400, idle_timeout),
	NK("posts_per_second", 0, 10000000, posts_per_second),
	NK("post_burst", 1, 100000000, post_burst),
	NK("max_copies", 1, BC_PROTO_MAX_COPIES, max_copies),
	NK("push_window", 1, 65536, push_window),
	NK("max_subscriptions", 1, 65536, max_subscriptions),
	NK("mailbox_max_msgs", 1, 100000000, lim.mailbox_max_msgs),
	NK("mailbox_max_bytes", 1, (uint64_t)1 << 50, lim.mailbox_max_bytes),
	NK("max_body", 1, BC_PROTO_HARD_MAX_FRAME, lim.max_body),
	NK("max_caps_per_mailbox", 1, 1000000, lim.max_caps_per_mailbox),
	NK("max_onetime_prekeys", 0, 100000, lim.max_onetime_prekeys),
};

int bc_config_set(bc_relay_config *c, const char *key, const char *value,
		  char *err, size_t errlen)
{
	if (strcmp(key, "listen") == 0) {
		char host[256];
		uint16_t port;
		if (strlen(value) >= sizeof(c->listen) ||
		    bc_config_split_hostport(value, host, sizeof(host), &port) !=
			    BC_OK) {
			snprintf(err, errlen, "listen: expected HOST:PORT, got '%s'",
				 value);
			return BC_ERR_INVALID;
		}
		snprintf(c->listen, sizeof(c->listen), "%s", value);
		return BC_OK;
	}
	if (strcmp(key, "data_dir") == 0) {
		if (*value == '\0' || strlen(value) >= sizeof(c->data_dir)) {
			snprintf(err, errlen, "data_dir: bad path");
			return BC_ERR_INVALID;
		}
		snprintf(c->data_dir, sizeof(c->data_dir), "%s", value);
		return BC_OK;
	}
	if (strcmp(key, "log_level") == 0) {
		int l = bc_log_parse_level(value);
		if (l < 0) {
			snprintf(err, errlen,
				 "log_level: expected error|warn|info|debug");
			return BC_ERR_INVALID;
		}
		c->log_level = l;
		return BC_OK;
	}
	for (size_t i = 0; i < sizeof(numkeys) / sizeof(numkeys[0]); i++) {
		const struct numkey *k = &numkeys[i];
		uint64_t v;
		uint8_t *p = (uint8_t *)c + k->off;
		if (strcmp(key, k->name) != 0)
			continue;
		if (parse_u64(value, k->min, k->max, &v) != 0) {
			snprintf(err, errlen,
				 "%s: expected an integer from %llu to %llu",
				 key, (unsigned long long)k->min,
				 (unsigned long long)k->max);
			return BC_ERR_INVALID;
		}
		if (strcmp(key, "max_body") == 0)
			c->max_body_set = true;
		if (k->width == 2) {
			uint16_t x = (uint16_t)v;
			memcpy(p, &x, 2);
		} else if (k->width == 4) {
			uint32_t x = (uint32_t)v;
			memcpy(p, &x, 4);
		} else {
			memcpy(p, &v, 8);
		}
		return BC_OK;
	}
	snprintf(err, errlen, "unknown setting '%s'", key);
	return BC_ERR_INVALID;
}

static char *trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int bc_config_load(bc_relay_config *c, const char *path, char *err,
		   size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[2048], msg[512];
	int lineno = 0, rc = BC_OK;
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return BC_ERR_IO;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s, *eq, *hash;
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path,
				 lineno);
			rc = BC_ERR_INVALID;
			break;
		}
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		s = trim(line);
		if (*s == '\0')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%d: expected 'key = value'",
				 path, lineno);
			rc = BC_ERR_INVALID;
			break;
		}
		*eq = '\0';
		if (bc_config_set(c, trim(s), trim(eq + 1), msg, sizeof(msg)) !=
		    BC_OK) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
			rc = BC_ERR_INVALID;
			break;
		}
	}
	if (rc == BC_OK && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = BC_ERR_IO;
	}
	fclose(f);
	return rc;
}

int bc_config_check(bc_relay_config *c, char *err, size_t errlen)
{
	/* Unless given, max_body follows max_frame (docs/PROTOCOL.md §8). */
	if (!c->max_body_set && (uint64_t)c->lim.max_body + 1024 > c->max_frame)
		c->lim.max_body = c->max_frame - 1024;
	if ((uint64_t)c->lim.max_body + 1024 > c->max_frame) {
		snprintf(err, errlen,
			 "max_body (%u) must be at least 1024 bytes below "
			 "max_frame (%u)",
			 c->lim.max_body, c->max_frame);
		return BC_ERR_INVALID;
	}
	if (c->lim.max_body > c->lim.mailbox_max_bytes) {
		snprintf(err, errlen, "max_body exceeds mailbox_max_bytes");
		return BC_ERR_INVALID;
	}
	return BC_OK;
}

int bc_config_split_hostport(const char *s, char *host, size_t hostlen,
			     uint16_t *port)
{
	return bc_split_hostport(s, host, hostlen, port) == BC_OK
		       ? BC_OK
		       : BC_ERR_INVALID;
}
