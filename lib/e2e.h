/*
 * e2e.h - a member's end-to-end engine: identity, prekeys, pairwise
 * sessions, sealed envelopes and the transcript, persisted in the store.
 *
 * It ties x3dh.h, ratchet.h, envelope.h and transcript.h together over one
 * bc_store, and does no networking: the caller fetches bundles, posts the
 * bodies bc_e2e_seal returns and feeds received bodies to bc_e2e_open
 * (docs/PROTOCOL.md §11 describes the whole flow).
 *
 * Crash rule (docs/ARCHITECTURE.md ("Client store") §6): every call that changes state does
 * so in one store transaction and returns only after it committed.
 *   - bc_e2e_seal commits the advanced ratchets, the transcript and the
 *     sealed bodies (an outbox record) BEFORE it hands out the bodies, so
 *     a crash never makes a message key be used twice nor loses the
 *     message: after a restart bc_e2e_outbox lists what was sealed and not
 *     yet reported posted (bc_e2e_sent), to be posted again under the same
 *     relay message id (the message id), which the relay stores once.
 *   - bc_e2e_open commits the ratchet, the transcript and the delivered
 *     message together, and only then may the caller acknowledge the
 *     relay message; a redelivery of an already processed relay message
 *     is recognised by its relay message id and reported as a duplicate.
 * A failed call leaves the store and the handle as they were.
 *
 * Sessions: at most two per peer: the current one (used to send) and a
 * previous one (receive only), which covers a peer that restarted its
 * session and two members that opened sessions to each other at once
 * (both then send on the session opened by the lower fingerprint). Until
 * an initiator has received a message on a session, every message it
 * sends carries the session's setup header.
 *
 * Content: the engine prefixes each inner content with a type byte:
 * 1 = application message, 2 = checkpoint (handled here, never delivered).
 */
#ifndef BC_E2E_H
#define BC_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"
#include "identity.h"
#include "prekey.h"
#include "store.h"
#include "transcript.h"

#define BC_E2E_ID_LEN BC_FINGERPRINT_LEN
#define BC_E2E_MAX_READERS (BC_TX_AUDIENCE_MAX - 1)

typedef struct bc_e2e bc_e2e;

/* Open the engine on st (which it uses but does not own), creating the
 * identity, the prekey supply and the transcript on first use. */
int bc_e2e_new(bc_e2e **out, bc_store *st, uint64_t now) BC_MUST_CHECK;
void bc_e2e_free(bc_e2e *e);

const bc_identity_pub *bc_e2e_identity(const bc_e2e *e);
/* The identity with its secret keys (for signing agreements). */
const bc_identity *bc_e2e_self(const bc_e2e *e);
/* This member's id (its identity fingerprint). */
const uint8_t *bc_e2e_id(const bc_e2e *e);

/* The prekeys to upload to this member's mailbox after the relay said it
 * holds relay_remaining one-time prekeys: the signed blob, and *n one-time
 * blobs in a new array (bc_free). The supply is saved first. */
int bc_e2e_prekeys(bc_e2e *e, uint32_t relay_remaining, uint64_t now,
		   uint8_t signed_blob[BC_PREKEY_BUNDLE_LEN],
		   uint8_t (**blobs)[BC_PREKEY_ONETIME_LEN],
		   size_t *n) BC_MUST_CHECK;

/* Open a session to peer from the prekey blobs its mailbox handed out
 * (onetime may be NULL when the relay had none left). The bundle must be
 * peer's (BC_ERR_AUTH otherwise). BC_ERR_STATE if a usable session exists.
 * A session this member opened and nobody answered becomes stale once its
 * signed prekey may have been dropped (rotation + grace, 14 days after the
 * bundle was made): bc_e2e_seal then refuses it with BC_ERR_STATE, and
 * bc_e2e_start replaces it (keeping the old one to receive). */
int bc_e2e_start(bc_e2e *e, const bc_identity_pub *peer,
		 const uint8_t *signed_blob, size_t slen,
		 const uint8_t *onetime, size_t olen,
		 uint64_t now) BC_MUST_CHECK;
bool bc_e2e_has_session(bc_e2e *e, const uint8_t peer[BC_E2E_ID_LEN]);
/* The public identity of a peer this member has (had) a session with.
 * BC_ERR_NOTFOUND. */
int bc_e2e_peer_identity(bc_e2e *e, const uint8_t peer[BC_E2E_ID_LEN],
			 bc_identity_pub *out) BC_MUST_CHECK;

/* Seal content for readers (ids of peers with a session; this member is
 * added to the audience). bodies[i] / lens[i] go to readers[i]; free them
 * with bc_e2e_bodies_free. BC_ERR_NOTFOUND: no session with a reader;
 * BC_ERR_STATE: a reader's session is stale (bc_e2e_start again). The
 * caller keeps content within what the relay accepts (max_body of the
 * server hello, minus BC_RATCHET_OVERHEAD and the envelope's few bytes,
 * after padding). */
int bc_e2e_seal(bc_e2e *e, const uint8_t (*readers)[BC_E2E_ID_LEN],
		size_t n, const uint8_t msg_id[BC_TX_MSGID_LEN],
		const uint8_t *content, size_t clen, uint64_t now,
		uint8_t ***bodies, size_t **lens) BC_MUST_CHECK;
/* Seal this member's checkpoint for the audience {self} + readers. */
int bc_e2e_seal_checkpoint(bc_e2e *e, const uint8_t (*readers)[BC_E2E_ID_LEN],
			   size_t n, const uint8_t msg_id[BC_TX_MSGID_LEN],
			   uint64_t now, uint8_t ***bodies,
			   size_t **lens) BC_MUST_CHECK;
void bc_e2e_bodies_free(uint8_t **bodies, size_t *lens, size_t n);

/* The relay acknowledged the post of msg_id: drop its outbox record. */
int bc_e2e_sent(bc_e2e *e, const uint8_t msg_id[BC_TX_MSGID_LEN]) BC_MUST_CHECK;
/* Every sealed message not yet reported sent, oldest first. fn must not
 * call into e; return BC_OK to go on. */
typedef int (*bc_e2e_outbox_fn)(void *ctx, const uint8_t *msg_id,
				const uint8_t (*readers)[BC_E2E_ID_LEN],
				const uint8_t *const *bodies,
				const size_t *lens, size_t n);
int bc_e2e_outbox(bc_e2e *e, bc_e2e_outbox_fn fn, void *ctx) BC_MUST_CHECK;

/* TEST ONLY: an equivocating sender. One message id and sequence number,
 * but contents[i] for readers[i]. Exists so tests can show that the
 * readers catch it at the next checkpoint. */
int bc_e2e_seal_equivocating_test(bc_e2e *e,
				  const uint8_t (*readers)[BC_E2E_ID_LEN],
				  size_t n, const uint8_t msg_id[BC_TX_MSGID_LEN],
				  const uint8_t *const *contents,
				  const size_t *clens, uint64_t now,
				  uint8_t ***bodies, size_t **lens) BC_MUST_CHECK;

/* A message handed to the application. */
typedef struct bc_e2e_msg {
	bc_tx_meta meta;
	bc_tx_event kind; /* OK, REORDER or RELEASED */
	uint8_t *content; /* the application content (type byte removed) */
	size_t clen;
} bc_e2e_msg;

typedef struct bc_e2e_result {
	bool duplicate;        /* this relay message was processed before */
	bool from_known;       /* the body opened under a session */
	uint8_t sender[BC_E2E_ID_LEN];
	bc_e2e_msg *msgs;      /* delivered now, in order */
	size_t nmsgs;
	bc_tx_report *reports; /* transcript events (copies) */
	size_t nreports;
} bc_e2e_result;

/*
 * Process one body received in the relay message relay_id. On BC_OK the
 * result says what was delivered and what the transcript noticed (a body
 * the transcript refuses, e.g. a replay, is BC_OK with no message and the
 * report). Errors mean the body was not accepted and nothing changed:
 * BC_ERR_AUTH (opens under no session, or a forged setup),
 * BC_ERR_MALFORMED, BC_ERR_REPLAY (the ratchet saw this message before:
 * a replay under a new relay id), BC_ERR_NOTFOUND (a setup for prekeys we
 * no longer hold), BC_ERR_QUOTA, BC_ERR_STORAGE... The caller may
 * acknowledge the relay message after any return except BC_ERR_STORAGE,
 * BC_ERR_NOMEM and BC_ERR_QUOTA (the transcript holds as many
 * out-of-order messages as it may: keep this one on the relay and offer it
 * again once the gap before it is filled). A replay is refused with
 * BC_ERR_REPLAY while its session still knows the header key, and with
 * BC_ERR_AUTH or BC_ERR_NOTFOUND once that key is gone too.
 * Clear res with bc_e2e_result_clear.
 */
int bc_e2e_open(bc_e2e *e, const uint8_t relay_id[BC_TX_MSGID_LEN],
		const uint8_t *body, size_t len, uint64_t now,
		bc_e2e_result *res) BC_MUST_CHECK;
void bc_e2e_result_clear(bc_e2e_result *res);

/* The relay acknowledged (deleted) relay message relay_id: its
 * "processed" marker is no longer needed and is dropped, so the store does
 * not grow with every message ever received. Safe: should a relay replay
 * that body under the same id later, the ratchet refuses it as a replay. */
int bc_e2e_acked(bc_e2e *e, const uint8_t relay_id[BC_TX_MSGID_LEN]) BC_MUST_CHECK;

/* Ranges of messages known to exist and not delivered (transcript.h). */
int bc_e2e_missing(bc_e2e *e, bc_tx_gap *out, size_t cap,
		   size_t *count) BC_MUST_CHECK;

/* Periodic chores: prekey rotation and expiry, skipped-key expiry.
 * *reupload tells that the signed blob changed. */
int bc_e2e_maintain(bc_e2e *e, uint64_t now, bool *reupload) BC_MUST_CHECK;

#endif
