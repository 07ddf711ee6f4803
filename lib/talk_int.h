/*
 * talk_int.h - what the talk layer (talk.c) offers the mediation tools
 * built on it: proposals and agreements (talk_proposal.c), the single
 * negotiating text (talk_text.c), mutual questions (talk_mutual.c) and
 * exchanges (talk_exchange.c). Not a public API.
 *
 * A tool's message travels as a talk message (PROTOCOL.md §16.1):
 *   u8 version (1) || fixed[16] talk id || u8 kind || body
 * where kind is one of BC_TK_* below and the body is the tool's own
 * encoding. talk.c seals it end to end for the readers the tool names and
 * posts it; on the receiving side talk.c opens it, checks that the talk
 * exists, that the sender is a member and the talk is not closed, and
 * hands the body to the tool's handler. A handler that refuses a message
 * returns BC_ERR_MALFORMED (bad encoding), BC_ERR_FORBIDDEN (the sender
 * may not send it) or BC_ERR_AUTH (its real readers do not match what it
 * claims); talk.c then records one integrity event and carries on. Any
 * other error stops the sync and the relay message is offered again.
 *
 * Each tool keeps its state in the member's store under kinds of its own
 * (e.g. "proposal"), keyed by talk id || its own ids, and records what
 * happened in the member's timeline with bc_talk_emit.
 */
#ifndef BC_TALK_INT_H
#define BC_TALK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "e2e.h"
#include "identity.h"
#include "store.h"
#include "talk.h"

/* Talk message kinds; also the kind of the timeline event they leave. */
enum {
	BC_TK_JOIN = 1,
	BC_TK_MEMBERS = 2,
	BC_TK_SAY = 3,
	BC_TK_STATE = 4,
	BC_TK_PASSON = 5,
	BC_TK_AUDIT = 6,
	BC_TK_LEAVE = 7,
	BC_TK_PROPOSAL = 8, /* propose/counter/accept/reject/withdraw */
	BC_TK_SIGN = 9,     /* a party's signature on an agreed version */
	BC_TK_TEXT = 10,    /* single negotiating text */
	BC_TK_MUTUAL = 11,  /* double-blind mutual questions */
	BC_TK_EXCHANGE = 12 /* commit-reveal exchanges and their steps */
};
#define BC_TEV_INTEGRITY 100 /* timeline only: something was refused */

/* The member's own identity (with its secret signing key) and id. */
const bc_identity *bc_talks_identity(bc_talks *t);
const uint8_t *bc_talks_self(bc_talks *t);
bc_store *bc_talks_store(bc_talks *t);
uint64_t bc_talks_now(void);

/* The member record of id in info, or NULL. */
const bc_talk_member *bc_talk_member_of(const bc_talk_info *info,
					const uint8_t id[BC_E2E_ID_LEN]);
/* How a member is named in timeline lines: its side, else its role, else
 * "a former member". The side is the member's own text (untrusted): the
 * CLI escapes it on output. */
const char *bc_talk_member_name(const bc_talk_info *info,
				const uint8_t id[BC_E2E_ID_LEN]);
/* The ids of the talk's parties, in member order; returns their number. */
size_t bc_talk_parties(const bc_talk_info *info,
		       uint8_t (*out)[BC_E2E_ID_LEN]);

/*
 * Send a tool message of `kind` with `body` to the members `to` (nto of
 * them; to == NULL: every other member). The sender must have joined, not
 * be an observer unless `observer_ok`, and the talk must be open
 * (BC_ERR_FORBIDDEN, BC_ERR_STATE). An id in `to` that is not a member, or
 * is the sender, is BC_ERR_NOTFOUND. msg_id_out (may be NULL) gets the
 * message id every reader sees as its statement id.
 */
int bc_talk_send(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		 uint8_t kind, const uint8_t *body, size_t blen,
		 const uint8_t (*to)[BC_E2E_ID_LEN], size_t nto,
		 bool observer_ok, uint8_t msg_id_out[16]) BC_MUST_CHECK;

/*
 * Record an event in this member's timeline of the talk (kind: a BC_TK_*;
 * text: a one-line description, shown by `log`) and pass it to fn (may be
 * NULL). to/nto: who it went to or came to (may be NULL/0); msg_id may be
 * NULL.
 */
int bc_talk_emit(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		 const uint8_t *msg_id, uint8_t kind,
		 const uint8_t from[BC_E2E_ID_LEN], const char *text,
		 const uint8_t (*to)[BC_E2E_ID_LEN], size_t nto,
		 bc_talk_event_fn fn, void *ctx) BC_MUST_CHECK;

/*
 * The handlers talk.c calls for a received tool message. info is the
 * talk's current state (the sender is a member of it; the talk is not
 * closed), m the opened message (m->meta.sender, m->meta.msg_id, and
 * m->meta.audience: the readers the sender sealed it for, which every
 * reader's copy names), r the reader positioned on the body.
 */
typedef int (*bc_talk_tool_fn)(bc_talks *t, const bc_talk_info *info,
			       const bc_e2e_msg *m, bc_rd *r,
			       bc_talk_event_fn fn, void *ctx);
int bc_talk_on_proposal(bc_talks *t, const bc_talk_info *info,
			const bc_e2e_msg *m, bc_rd *r, bc_talk_event_fn fn,
			void *ctx) BC_MUST_CHECK;
int bc_talk_on_sign(bc_talks *t, const bc_talk_info *info,
		    const bc_e2e_msg *m, bc_rd *r, bc_talk_event_fn fn,
		    void *ctx) BC_MUST_CHECK;
int bc_talk_on_text(bc_talks *t, const bc_talk_info *info,
		    const bc_e2e_msg *m, bc_rd *r, bc_talk_event_fn fn,
		    void *ctx) BC_MUST_CHECK;
int bc_talk_on_mutual(bc_talks *t, const bc_talk_info *info,
		      const bc_e2e_msg *m, bc_rd *r, bc_talk_event_fn fn,
		      void *ctx) BC_MUST_CHECK;
int bc_talk_on_exchange(bc_talks *t, const bc_talk_info *info,
			const bc_e2e_msg *m, bc_rd *r, bc_talk_event_fn fn,
			void *ctx) BC_MUST_CHECK;

/* True if the message's sealed readers (minus its sender) are exactly the
 * members `ids` (n of them), in any order. */
bool bc_talk_readers_are(const bc_e2e_msg *m,
			 const uint8_t (*ids)[BC_E2E_ID_LEN], size_t n);
/* True if every other member of the talk is among the message's readers. */
bool bc_talk_readers_all(const bc_talk_info *info, const bc_e2e_msg *m);

#endif
