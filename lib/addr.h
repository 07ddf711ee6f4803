/*
 * addr.h - relay addresses: "HOST:PORT/bck:KEY".
 *
 * The string a relay operator hands out and a client pins (docs/PROTOCOL.md
 * §3.1): the TCP endpoint, then '/', then the relay's X25519 static public
 * key as a b32c string of kind "bck" (checksummed, so a mistyped address is
 * refused rather than connecting to the wrong key). IPv6 hosts are written
 * in brackets: "[::1]:7737/bck:...".
 */
#ifndef BC_ADDR_H
#define BC_ADDR_H

#include <stdint.h>

#include "backchannel/error.h"

#define BC_HOST_MAX 255

typedef struct bc_relay_addr {
	char host[BC_HOST_MAX + 1];
	uint16_t port;
	uint8_t key[32];
} bc_relay_addr;

/* Split "host:port" or "[v6]:port" (host non-empty, port 0..65535). */
int bc_split_hostport(const char *s, char *host, size_t hostlen,
		      uint16_t *port) BC_MUST_CHECK;

/* Parse a relay address. BC_ERR_MALFORMED for a bad shape,
 * BC_ERR_CHECKSUM for a mistyped key. */
int bc_relay_addr_parse(const char *s, bc_relay_addr *out) BC_MUST_CHECK;

/* Format; *out is a new string (bc_free). */
int bc_relay_addr_format(const bc_relay_addr *a, char **out) BC_MUST_CHECK;

#endif
