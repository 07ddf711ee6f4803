/*
 * talk_text.h - the single negotiating text of a talk (DESIGN.md §4):
 * a mediator-owned, versioned draft; parties comment privately to the
 * mediator(s); the mediator revises; at the end each party answers yes or
 * no, and the text is adopted when every party said yes.
 *
 * Messages travel as talk messages of kind BC_TK_TEXT (talk_int.h); the
 * body is one of (docs/PROTOCOL.md §19 is the normative layout):
 *   1 DRAFT    u32 version (= 1) || string text || string note
 *   2 REVISE   u32 version (>= 2) || string text || string note
 *   3 COMMENT  u32 version || fixed[32] digest || string text
 *   4 CALL     u32 round || u32 version || fixed[32] digest
 *   5 VOTE     u32 round || u32 version || fixed[32] digest || u8 answer
 *              || string reason
 * where digest = BLAKE2b-256("backchannel v1 text" || talk id ||
 * u32 version || text) binds comments, calls and votes to the exact text
 * the sender holds: a mediator that sent different texts to different
 * members cannot have them adopted.
 *
 * Invariants every member keeps, on sending and on receipt alike:
 * versions are numbered 1, 2, ... without gaps and come only from a
 * mediator, sealed for every member; at most one vote round is open (the
 * last one), and no revision is made while it is; a vote comes from a
 * party, sealed for every member, once per round, for the open round's
 * version and digest; a comment comes from a party and is sealed for
 * exactly the mediators; once a version is adopted the text is final.
 *
 * Store records of the member (all encrypted by the store):
 *   "text"    key talk id           the state (versions, rounds, votes)
 *   "textver" key talk id || u32 v  the text of version v
 *   "textcmt" appended log          the comments this member may read
 */
#ifndef BC_TALK_TEXT_H
#define BC_TALK_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"
#include "codec.h"
#include "talk.h"

#define BC_TEXT_MAX BC_TALK_TEXT_MAX /* bytes of a version's text */
#define BC_TEXT_NOTE_MAX 1024	     /* a version's note, a vote's reason */
#define BC_TEXT_COMMENT_MAX 16384    /* bytes of a comment */
#define BC_TEXT_VERSIONS_MAX 1000    /* versions of one talk's text */
#define BC_TEXT_ROUNDS_MAX 1000	     /* vote rounds of one talk's text */
#define BC_TEXT_DIGEST_LEN 32

/* Message types (the body's first byte). */
enum {
	BC_TEXT_DRAFT = 1,
	BC_TEXT_REVISE = 2,
	BC_TEXT_COMMENT = 3,
	BC_TEXT_CALL = 4,
	BC_TEXT_VOTE = 5,
};

/* Answers. */
enum {
	BC_TEXT_YES = 1,
	BC_TEXT_NO = 2,
};

/* Round states. */
enum {
	BC_TEXT_OPEN = 1,	 /* votes are being collected */
	BC_TEXT_ADOPTED = 2,	 /* every party said yes */
	BC_TEXT_NOT_ADOPTED = 3, /* a party said no */
};

/* A decoded message. text: DRAFT/REVISE text, COMMENT text; note:
 * DRAFT/REVISE note, VOTE reason (NULL where the type has none). */
typedef struct bc_text_msg {
	uint8_t type;
	uint32_t version;
	uint32_t round;
	uint8_t digest[BC_TEXT_DIGEST_LEN];
	uint8_t answer;
	char *text;
	char *note;
} bc_text_msg;

/* Decode a body strictly and canonically (bc_rd_end is called): every
 * field in range, strings valid UTF-8 within their caps. On failure *m is
 * cleared. BC_ERR_MALFORMED, BC_ERR_TOOBIG, BC_ERR_NOMEM. */
int bc_text_msg_read(bc_rd *r, bc_text_msg *m) BC_MUST_CHECK;
int bc_text_msg_decode(const uint8_t *in, size_t len,
		       bc_text_msg *m) BC_MUST_CHECK;
/* Encode a message that satisfies the same rules (BC_ERR_INVALID
 * otherwise); *out is bc_malloc'd. */
int bc_text_msg_encode(const bc_text_msg *m, uint8_t **out,
		       size_t *len) BC_MUST_CHECK;
/* Free the strings of m and zero it. */
void bc_text_msg_clear(bc_text_msg *m);

/* digest = BLAKE2b-256("backchannel v1 text" || talk id || u32 version ||
 * text). */
int bc_text_digest(const uint8_t talk_id[BC_TALK_ID_LEN], uint32_t version,
		   const char *text, size_t len,
		   uint8_t out[BC_TEXT_DIGEST_LEN]) BC_MUST_CHECK;

/* ---- this member's view ------------------------------------------------- */

typedef struct bc_text_version {
	uint32_t number;
	uint64_t time; /* when this member sent or received it */
	uint8_t author[BC_E2E_ID_LEN];
	uint8_t digest[BC_TEXT_DIGEST_LEN];
	uint32_t size; /* bytes of the text */
	char *note;
} bc_text_version;

typedef struct bc_text_ballot {
	uint8_t party[BC_E2E_ID_LEN];
	uint8_t answer;
	uint64_t time;
	bool late; /* arrived after the round had closed: not counted */
	char *reason;
} bc_text_ballot;

typedef struct bc_text_round {
	uint32_t number;
	uint32_t version;
	uint64_t time;
	uint8_t caller[BC_E2E_ID_LEN];
	uint8_t state; /* BC_TEXT_OPEN, _ADOPTED, _NOT_ADOPTED */
	uint16_t nvotes;
	bc_text_ballot votes[BC_TALK_MAX_MEMBERS];
} bc_text_round;

typedef struct bc_text_state {
	uint32_t adopted; /* the adopted version, 0: none */
	uint32_t nversions;
	bc_text_version *versions; /* versions[i].number == i + 1 */
	uint32_t nrounds;
	bc_text_round *rounds; /* rounds[i].number == i + 1; only the last
				  may be open */
} bc_text_state;

/* The state record's codec (exposed for tests and fuzzing). decode checks
 * the numbering and the invariants above; encode(decode(x)) == x. */
int bc_text_state_decode(const uint8_t *in, size_t len,
			 bc_text_state **out) BC_MUST_CHECK;
int bc_text_state_encode(const bc_text_state *s, uint8_t **out,
			 size_t *len) BC_MUST_CHECK;
void bc_text_state_free(bc_text_state *s);

/* This member's view of the talk's text: BC_ERR_NOTFOUND if there is
 * none yet. Free with bc_text_state_free. */
int bc_text_get(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		bc_text_state **out) BC_MUST_CHECK;
/* The text of a version (a new NUL-terminated string; bc_free_secret it
 * with strlen + 1). */
int bc_text_body(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		 uint32_t version, char **text) BC_MUST_CHECK;

/* A comment this member can read (its own, or, for a mediator, every
 * party's). */
typedef struct bc_text_comment {
	uint32_t version;
	uint8_t author[BC_E2E_ID_LEN];
	uint64_t time;
	uint8_t msg_id[16];
	const char *text;
} bc_text_comment;
int bc_text_comments(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		     int (*fn)(void *ctx, const bc_text_comment *c),
		     void *ctx) BC_MUST_CHECK;

/* ---- actions -------------------------------------------------------------
 *
 * Each checks this member's role and the text's state with the same rules
 * a receiver applies, sends, then records the action in this member's
 * state and timeline. On a refusal nothing is sent and *why (may be NULL)
 * is a static sentence saying why:
 *   BC_ERR_STATE      the talk is not open (suspended, closed), or the
 *                     text's state does not allow it (no draft yet, a
 *                     round open or not, already voted, adopted)
 *   BC_ERR_FORBIDDEN  not joined, or the wrong role
 *   BC_ERR_NOTFOUND   no such version; no mediator to comment to
 *   BC_ERR_INVALID    empty or over-long text, note or reason
 * *version_out (may be NULL) gets the version acted on.
 */
int bc_text_draft(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		  const char *text, const char *note, uint32_t *version_out,
		  const char **why) BC_MUST_CHECK;
int bc_text_revise(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		   const char *text, const char *note, uint32_t *version_out,
		   const char **why) BC_MUST_CHECK;
/* version 0: the latest. */
int bc_text_comment_on(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		       uint32_t version, const char *text,
		       uint32_t *version_out, const char **why) BC_MUST_CHECK;
/* version 0: the latest. */
int bc_text_call(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		 uint32_t version, uint32_t *version_out,
		 const char **why) BC_MUST_CHECK;
int bc_text_vote(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN], bool yes,
		 const char *reason, uint32_t *version_out,
		 const char **why) BC_MUST_CHECK;

#endif
