/*
 * client.h - the relay client of libbackchannel.
 *
 * A bc_client is one authenticated connection to one relay, re-established
 * on demand. It is blocking (poll() with timeouts), which suits the CLI and
 * tests; the load generator drives the lower-level frame calls directly.
 *
 * Pinning: the relay's static key comes from its address string; a relay
 * that presents another key is refused with BC_ERR_PINNING before the
 * client reveals its own static key (the check runs after handshake message
 * 2, before message 3 is sent).
 *
 * Retries: every request is retried across reconnects with exponential
 * backoff while the retry budget lasts, when the connection fails or the
 * relay answers "unavailable". Posts are retried under the same message id,
 * so the relay stores them once (docs/PROTOCOL.md §5.4). Subscriptions are
 * re-established after a reconnect. Other relay errors are returned at
 * once, with the relay's text in bc_client_last_error().
 *
 * Pushes that arrive while a response is awaited are queued (bounded) and
 * handed out by bc_client_next_push().
 *
 * Threads: a client is used by one thread at a time, except that one thread
 * may call bc_client_send_frame while another calls bc_client_recv_frame.
 */
#ifndef BC_CLIENT_H
#define BC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "backchannel/error.h"
#include "codec.h"
#include "proto.h"

typedef struct bc_client bc_client;

typedef struct bc_client_opts {
	int connect_timeout_ms; /* TCP connect + handshake; default 5000 */
	int io_timeout_ms;      /* waiting for a response; default 15000 */
	int retry_budget_ms;    /* total time spent retrying; default 30000 */
	int backoff_initial_ms; /* first pause between attempts; default 100 */
	int backoff_max_ms;     /* longest pause; default 5000 */
} bc_client_opts;

void bc_client_opts_default(bc_client_opts *o);

/* Create a client for relay (copied) authenticating with the X25519
 * private key static_priv (copied; wiped on free). Does not connect. */
int bc_client_new(bc_client **out, const bc_relay_addr *relay,
		  const uint8_t static_priv[32],
		  const bc_client_opts *opts) BC_MUST_CHECK;
void bc_client_free(bc_client *c);

/* One connection attempt (no retry). BC_ERR_PINNING, BC_ERR_VERSION,
 * BC_ERR_AUTH (handshake failed), BC_ERR_IO, BC_ERR_TIMEOUT. */
int bc_client_connect(bc_client *c) BC_MUST_CHECK;
void bc_client_disconnect(bc_client *c);
bool bc_client_connected(const bc_client *c);
/* The relay's parameters from the last handshake. */
const bc_server_hello *bc_client_hello(const bc_client *c);
/* Text of the last error (relay's error text or a local description). */
const char *bc_client_last_error(const bc_client *c);
/* Number of (re)connections made so far. */
unsigned bc_client_connects(const bc_client *c);

/* ---- requests (retrying) ------------------------------------------------ */

int bc_client_ping(bc_client *c, uint64_t *rtt_us) BC_MUST_CHECK;
int bc_client_open(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
		   bc_mbox_status *st) BC_MUST_CHECK;
/* Register / revoke capability token (its hash is what the relay sees). */
int bc_client_cap_add(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
		      const uint8_t token[BC_CAP_LEN]) BC_MUST_CHECK;
int bc_client_cap_revoke(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
			 const uint8_t token[BC_CAP_LEN]) BC_MUST_CHECK;

typedef struct bc_client_copy {
	const uint8_t *mailbox; /* BC_MAILBOX_LEN */
	const uint8_t *cap;     /* BC_CAP_LEN token */
	const uint8_t *body;
	size_t body_len;
} bc_client_copy;

/* Post n copies atomically under msg_id; returns once the relay has made
 * them durable. *dup (may be NULL) tells that the relay already had it. */
int bc_client_post(bc_client *c, const uint8_t msg_id[BC_MSGID_LEN],
		   const bc_client_copy *copies, size_t n,
		   bool *dup) BC_MUST_CHECK;

/* Called for each message; return BC_OK to go on. */
typedef int (*bc_client_msg_cb)(void *ctx, const uint8_t *mailbox,
				const bc_msg_item *m);

int bc_client_fetch(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
		    uint64_t after_seq, uint32_t max, bc_client_msg_cb cb,
		    void *ctx, bool *more) BC_MUST_CHECK;
int bc_client_subscribe(bc_client *c,
			const uint8_t mailbox[BC_MAILBOX_LEN]) BC_MUST_CHECK;
int bc_client_unsubscribe(bc_client *c,
			  const uint8_t mailbox[BC_MAILBOX_LEN]) BC_MUST_CHECK;
/* Wait up to timeout_ms for pushed messages and hand each one queued to
 * cb. Returns the number delivered (>= 0) or an error. Reconnects (and
 * re-subscribes) if the connection drops. */
int bc_client_poll_push(bc_client *c, int timeout_ms, bc_client_msg_cb cb,
			void *ctx) BC_MUST_CHECK;
/* Acknowledge (delete) messages; *acked (may be NULL) = how many were
 * still there. */
int bc_client_ack(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
		  const uint8_t (*ids)[BC_MSGID_LEN], size_t n,
		  uint16_t *acked) BC_MUST_CHECK;

int bc_client_prekey_put(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
			 const uint8_t *signed_blob, size_t signed_len,
			 const uint8_t *const *blobs, const size_t *lens,
			 size_t n, uint32_t *remaining) BC_MUST_CHECK;
/* *signed_blob and *onetime_blob are new buffers (bc_free); *onetime_blob
 * is NULL when the relay has none left. */
int bc_client_prekey_get(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
			 const uint8_t token[BC_CAP_LEN], uint8_t **signed_blob,
			 size_t *signed_len, uint8_t **onetime_blob,
			 size_t *onetime_len) BC_MUST_CHECK;

/* ---- low level (load generator, tests) ---------------------------------- */

/* Next request id (never 0). */
uint32_t bc_client_next_id(bc_client *c);
/* Encrypt and send the frames in plain[0..len) (complete frames). */
int bc_client_send_frames(bc_client *c, const uint8_t *plain,
			  size_t len) BC_MUST_CHECK;
/* Receive one frame (any type) within timeout_ms; f's pointers stay valid
 * until the next receive. BC_ERR_TIMEOUT if none arrived. */
int bc_client_recv_frame(bc_client *c, int timeout_ms,
			 bc_frame *f) BC_MUST_CHECK;
/* Send raw bytes on the socket, bypassing encryption (tests only). */
int bc_client_send_raw(bc_client *c, const uint8_t *p,
		       size_t len) BC_MUST_CHECK;

#endif
