/*
 * talk_proposal.h - proposals and signed agreements inside a talk (the
 * mediation tool built on talk_int.h; wire format and rules in
 * docs/PROTOCOL.md §18).
 *
 * Every member keeps, per proposal, the state of proposal.h plus what the
 * talk adds: the time each version was made and each acceptance given
 * (times carried in the messages, never a reader's clock, so that every
 * member computes the same thing), and, once a version is agreed, the
 * canonical agreement document (agreement.h) with the parties' verified
 * signatures.
 *
 * Messages (talk kind, body; always to every other member):
 *   BC_TK_PROPOSAL  u8 1 || u64 time || bytes event   (proposal.h event)
 *   BC_TK_SIGN      u8 1 || fixed[16] proposal id || u32 version ||
 *                   fixed[32] BLAKE2b-256(document) || fixed[64] signature
 *
 * Invariants of a bc_talk_proposal from this module: p is not EMPTY;
 * created[i] is the time of version i + 1; accepts[] holds only
 * acceptances the state machine took; agreement != NULL only if p is
 * AGREED, and then it is the document of p's agreed version and every
 * signature in it verified; sign_pending only if this member is a party
 * whose own signature is in agreement but not yet sent.
 */
#ifndef BC_TALK_PROPOSAL_H
#define BC_TALK_PROPOSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agreement.h"
#include "proposal.h"
#include "talk.h"

#define BC_TP_FORMAT 1
#define BC_TP_MAX_ACCEPTS (BC_PROPOSAL_MAX_VERSIONS * BC_PROPOSAL_MAX_PARTIES)
/* How far a message's own time may be from its sealed timestamp. */
#define BC_TP_SKEW 600
/* Largest PROPOSAL body bc_talk_send carries (talk.c's cap). */
#define BC_TP_BODY_MAX ((size_t)65536 + 8192)
#define BC_TP_SIGN_LEN (1 + 16 + 4 + 32 + 64)
/* Text of a proposal as "P" + 8 hex digits. */
#define BC_TP_SHORT_SIZE 10

typedef struct bc_tp_accept {
	uint32_t version;
	uint8_t party[BC_MEMBER_ID_LEN];
	uint64_t time; /* the time carried in the accept message */
} bc_tp_accept;

/* A signature that came before its version was agreed here. */
typedef struct bc_tp_held {
	uint32_t version;
	uint8_t party[BC_MEMBER_ID_LEN];
	uint8_t doc_hash[32];
	uint8_t sig[BC_IDENTITY_SIG_LEN];
} bc_tp_held;

typedef struct bc_talk_proposal {
	uint8_t talk_id[BC_TALK_ID_LEN];
	bc_proposal p;
	uint64_t created[BC_PROPOSAL_MAX_VERSIONS];
	uint16_t naccepts;
	bc_tp_accept accepts[BC_TP_MAX_ACCEPTS];
	uint64_t agreed_at;       /* latest acceptance time of the agreed version */
	bc_agreement *agreement;  /* NULL unless agreed */
	bool sign_pending;        /* our signature is not sent yet */
	uint16_t nheld;
	bc_tp_held held[BC_PROPOSAL_MAX_PARTIES];
} bc_talk_proposal;

/*
 * The actions. Each checks exactly what every receiver will check (the
 * talk is open, the member joined and not an observer, and the proposal
 * state machine with the time now), sends nothing if a check fails, and
 * returns the error with *why (why may be NULL) a static reason:
 * BC_ERR_STATE (talk suspended/closed, or the state machine: withdrawn,
 * expired, superseded, already accepted...), BC_ERR_FORBIDDEN (observer,
 * not a party, not the author), BC_ERR_NOTFOUND (no such proposal),
 * BC_ERR_INVALID / BC_ERR_TOOBIG (terms, expiry, size). On success the
 * event was sent to every other member, recorded and put in the timeline
 * (fn/ctx get the new timeline events, may be NULL). An accept that
 * completes the agreement also signs it and sends the signature.
 */
int bc_talk_propose(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		    uint8_t kind, uint64_t expiry, const bc_term *terms,
		    uint16_t nterms, uint8_t pid_out[BC_PROPOSAL_ID_LEN],
		    bc_talk_event_fn fn, void *ctx,
		    const char **why) BC_MUST_CHECK;
int bc_talk_counter(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		    const uint8_t pid[BC_PROPOSAL_ID_LEN], uint64_t expiry,
		    const bc_term *terms, uint16_t nterms, uint32_t *version_out,
		    bc_talk_event_fn fn, void *ctx,
		    const char **why) BC_MUST_CHECK;
/* version 0: the latest. */
int bc_talk_accept(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		   const uint8_t pid[BC_PROPOSAL_ID_LEN], uint32_t version,
		   uint32_t *version_out, bc_talk_event_fn fn, void *ctx,
		   const char **why) BC_MUST_CHECK;
int bc_talk_reject(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		   const uint8_t pid[BC_PROPOSAL_ID_LEN], const char *reason,
		   uint32_t *version_out, bc_talk_event_fn fn, void *ctx,
		   const char **why) BC_MUST_CHECK;
int bc_talk_withdraw(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		     const uint8_t pid[BC_PROPOSAL_ID_LEN], bc_talk_event_fn fn,
		     void *ctx, const char **why) BC_MUST_CHECK;

/* Send this member's signatures that could not be sent yet (the talk was
 * suspended, or the network failed) for the talk's proposals. *sent (may
 * be NULL) counts those sent; *left (may be NULL) those still pending. */
int bc_talk_proposal_flush(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
			   size_t *sent, size_t *left) BC_MUST_CHECK;

/* Find a proposal of the talk by its id in hex or a unique prefix of at
 * least 4 hex digits, optionally preceded by 'P'. BC_ERR_INVALID (not
 * hex / too short), BC_ERR_NOTFOUND, BC_ERR_CONFLICT (ambiguous). */
int bc_talk_proposal_find(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
			  const char *s,
			  uint8_t pid[BC_PROPOSAL_ID_LEN]) BC_MUST_CHECK;
/* One proposal (BC_ERR_NOTFOUND); *out new (bc_talk_proposal_free). */
int bc_talk_proposal_get(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
			 const uint8_t pid[BC_PROPOSAL_ID_LEN],
			 bc_talk_proposal **out) BC_MUST_CHECK;
/* Every proposal of the talk, in the order they were first recorded. */
int bc_talk_proposal_list(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
			  int (*fn)(void *ctx, const bc_talk_proposal *p),
			  void *ctx) BC_MUST_CHECK;
void bc_talk_proposal_free(bc_talk_proposal *p);

/* "open", "withdrawn", "agreed" (not every signature in yet) or "signed". */
const char *bc_talk_proposal_status(const bc_talk_proposal *p);
/* "P" + the first 8 hex digits of the id. */
void bc_talk_proposal_short(const uint8_t pid[BC_PROPOSAL_ID_LEN],
			    char out[BC_TP_SHORT_SIZE]);

/* ---- encodings (exposed for tests and fuzzing) ---------------------------- */

/* The stored record (kind "proposal", key talk id || proposal id). decode:
 * exactly len bytes, canonical, invariants checked (BC_ERR_MALFORMED...);
 * *out new on success. */
int bc_talk_proposal_encode(const bc_talk_proposal *p, uint8_t **out,
			    size_t *len) BC_MUST_CHECK;
int bc_talk_proposal_decode(bc_talk_proposal **out,
			    const uint8_t talk_id[BC_TALK_ID_LEN],
			    const uint8_t *in, size_t len) BC_MUST_CHECK;
/* The PROPOSAL body: time and event (ev owns its memory on success:
 * bc_proposal_event_free). */
int bc_tp_body_decode(const uint8_t *in, size_t len, uint64_t *time,
		      bc_proposal_event *ev) BC_MUST_CHECK;
/* The SIGN body. */
typedef struct bc_tp_sign {
	uint8_t proposal_id[BC_PROPOSAL_ID_LEN];
	uint32_t version;
	uint8_t doc_hash[32];
	uint8_t sig[BC_IDENTITY_SIG_LEN];
} bc_tp_sign;
int bc_tp_sign_decode(const uint8_t *in, size_t len,
		      bc_tp_sign *out) BC_MUST_CHECK;

#endif
