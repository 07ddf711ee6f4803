/*
 * server.h - the relay's network side: accept, Noise handshake, frames,
 * group commit, push.
 *
 * One libuv loop, one thread. Storage is reached only through the
 * bc_storage_ops vtable. Every request handled during one loop pass runs in
 * one storage transaction; the transaction is committed (durably) in the
 * loop's check phase, and only then are the responses and pushes of that
 * pass written out. If the commit fails, every request of the pass is
 * answered with an "unavailable" error instead and nothing is kept.
 */
#ifndef BC_RELAY_SERVER_H
#define BC_RELAY_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "backchannel/error.h"
#include "config.h"
#include "storage.h"

typedef struct bc_server bc_server;

typedef struct bc_server_stats {
	uint64_t conns_accepted, conns_refused, conns_open;
	uint64_t posts, posts_dup, pushes, acks, commits, commit_failures;
	uint64_t protocol_errors;
} bc_server_stats;

/* Create a server on loop with configuration cfg (copied), the relay's
 * X25519 private key (copied, wiped on free) and an opened storage handle
 * (ownership stays with the caller, which closes it after bc_server_free). */
int bc_server_new(bc_server **out, uv_loop_t *loop,
		  const bc_relay_config *cfg, const uint8_t static_priv[32],
		  const bc_storage_ops *ops, bc_storage *st) BC_MUST_CHECK;

/* Bind and listen on cfg->listen; *port receives the bound port (useful
 * with port 0). */
int bc_server_listen(bc_server *s, uint16_t *port) BC_MUST_CHECK;

/* Stop accepting, commit what is pending, close every connection. The loop
 * then runs out of handles and uv_run returns. */
void bc_server_shutdown(bc_server *s);

/* Free after uv_run has returned. NULL is a no-op. */
void bc_server_free(bc_server *s);

void bc_server_get_stats(const bc_server *s, bc_server_stats *out);

#endif
