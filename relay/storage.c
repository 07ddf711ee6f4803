/*
 * storage.c - the backend-independent part of the relay's storage
 * interface (storage.h): the default limits.
 *
 * Every backend enforces the same bc_storage_limits; the defaults live here
 * so that a second backend (PostgreSQL) and the daemon's configuration
 * share one set of numbers, the ones documented in docs/PROTOCOL.md.
 */
#include <string.h>

#include "storage.h"

void bc_storage_limits_default(bc_storage_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->mailbox_max_msgs = 100000;
	lim->mailbox_max_bytes = (uint64_t)256 << 20; /* 256 MiB */
	lim->max_body = (uint32_t)1 << 20;	      /* 1 MiB */
	lim->max_caps_per_mailbox = 1024;
	lim->max_onetime_prekeys = 1000;
	lim->max_prekey_blob = 8192;
}
