/*
 * addr.c - relay address strings (see addr.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "addr.h"
#include "encoding.h"
#include "internal.h"

int bc_split_hostport(const char *s, char *host, size_t hostlen,
		      uint16_t *port)
{
	const char *colon, *hs = s, *he;
	char *end;
	unsigned long p;
	if (*s == '[') {
		he = strchr(s, ']');
		if (he == NULL || he[1] != ':')
			return BC_ERR_MALFORMED;
		hs = s + 1;
		colon = he + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
			return BC_ERR_MALFORMED;
		he = colon;
	}
	if (he == hs || (size_t)(he - hs) >= hostlen)
		return BC_ERR_MALFORMED;
	if (colon[1] < '0' || colon[1] > '9')
		return BC_ERR_MALFORMED;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || errno != 0 || p > 65535)
		return BC_ERR_MALFORMED;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*port = (uint16_t)p;
	return BC_OK;
}

int bc_relay_addr_parse(const char *s, bc_relay_addr *out)
{
	const char *slash = strchr(s, '/');
	char hp[BC_HOST_MAX + 16];
	uint8_t *key = NULL;
	size_t klen = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	if (slash == NULL || (size_t)(slash - s) >= sizeof(hp))
		return BC_ERR_MALFORMED;
	memcpy(hp, s, (size_t)(slash - s));
	hp[slash - s] = '\0';
	rc = bc_split_hostport(hp, out->host, sizeof(out->host), &out->port);
	if (rc != BC_OK)
		return rc;
	if (out->port == 0)
		return BC_ERR_MALFORMED;
	rc = bc_b32c_decode("bck", slash + 1, 32, &key, &klen);
	if (rc == BC_ERR_INVALID || rc == BC_ERR_TOOBIG) /* other kind, size */
		rc = BC_ERR_MALFORMED;
	if (rc == BC_OK && klen != 32)
		rc = BC_ERR_MALFORMED;
	if (rc == BC_OK)
		memcpy(out->key, key, 32);
	bc_free(key);
	return rc;
}

int bc_relay_addr_format(const bc_relay_addr *a, char **out)
{
	char *k = NULL, *s;
	size_t n;
	bool v6 = strchr(a->host, ':') != NULL;
	int rc = bc_b32c_encode("bck", a->key, 32, &k);
	*out = NULL;
	if (rc != BC_OK)
		return rc;
	n = strlen(a->host) + strlen(k) + 16;
	s = bc_malloc(n);
	if (s == NULL) {
		bc_free(k);
		return BC_ERR_NOMEM;
	}
	snprintf(s, n, v6 ? "[%s]:%u/%s" : "%s:%u/%s", a->host, a->port, k);
	bc_free(k);
	*out = s;
	return BC_OK;
}
