/*
 * mutual.h - double-blind mutual questions ("would you accept a
 * leader-level meeting?"), first version: the mediator's software is the
 * trusted decider (DESIGN.md §1.9, §4).
 *
 * The mediator creates a question for a set of 2..16 parties, sends each
 * the same "ask" message, and records one yes/no answer per party. When
 * every party has answered the outcome is MATCH iff all said yes, else
 * NO_MATCH. The mediator then sends every party the same "result"
 * message: byte-identical for all parties, carrying either "match" and
 * the question, or only "no match". A party that said no therefore learns
 * nothing about the others' answers, and a party that said yes cannot
 * tell which party (or how many) said no. A cancel before all answers are
 * in yields the very same "no match" bytes. Once the outcome is decided
 * the per-party answers are wiped from the mediator's memory.
 *
 * Messages (canonical codec, codec.h; docs/PROTOCOL.md §20.8):
 *   ask     u8 version=1, u8 kind=0x01, fixed[16] channel, fixed[16] qid,
 *           bytes text (UTF-8, no NUL, <= 1024),
 *           list<fixed[32]> parties (2..16, strictly ascending)
 *   answer  u8 version=1, u8 kind=0x02, fixed[16] channel, fixed[16] qid,
 *           bool yes
 *   result  u8 version=1, u8 kind=0x03, fixed[16] channel, fixed[16] qid,
 *           u8 outcome (1 = match, 2 = no match),
 *           if match: bytes text (the question, as in the ask)
 * The answering party is not named in the answer: it is the authenticated
 * sender of the end-to-end layer, which the caller passes in.
 *
 * Decoded messages never own memory: text points into the input buffer,
 * which must outlive the decoded struct.
 */
#ifndef BC_MUTUAL_H
#define BC_MUTUAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"

#define BC_MUTUAL_VERSION 1
#define BC_MUTUAL_CHANNEL_LEN 16
#define BC_MUTUAL_QID_LEN 16
#define BC_MUTUAL_ID_LEN 32
#define BC_MUTUAL_MAX_TEXT 1024
#define BC_MUTUAL_MIN_PARTIES 2
#define BC_MUTUAL_MAX_PARTIES 16

enum bc_mutual_kind {
	BC_MUTUAL_K_ASK = 0x01,
	BC_MUTUAL_K_ANSWER = 0x02,
	BC_MUTUAL_K_RESULT = 0x03,
};

enum bc_mutual_outcome {
	BC_MUTUAL_MATCH = 1,
	BC_MUTUAL_NO_MATCH = 2,
};

typedef struct bc_mutual_ask {
	uint8_t channel[BC_MUTUAL_CHANNEL_LEN];
	uint8_t qid[BC_MUTUAL_QID_LEN];
	const uint8_t *text; /* UTF-8, no NUL, not NUL-terminated */
	size_t text_len;
	size_t nparties;
	uint8_t parties[BC_MUTUAL_MAX_PARTIES][BC_MUTUAL_ID_LEN];
} bc_mutual_ask;

typedef struct bc_mutual_answer {
	uint8_t channel[BC_MUTUAL_CHANNEL_LEN];
	uint8_t qid[BC_MUTUAL_QID_LEN];
	bool yes;
} bc_mutual_answer;

typedef struct bc_mutual_result {
	uint8_t channel[BC_MUTUAL_CHANNEL_LEN];
	uint8_t qid[BC_MUTUAL_QID_LEN];
	uint8_t outcome;     /* enum bc_mutual_outcome */
	const uint8_t *text; /* match only; NULL/0 for no match */
	size_t text_len;
} bc_mutual_result;

/* ---- encodings ---------------------------------------------------------- */

/* Encode into a new buffer (*out, free with bc_free). Fields are checked:
 * text valid UTF-8 without NUL and <= BC_MUTUAL_MAX_TEXT, parties 2..16
 * strictly ascending, outcome 1 or 2, text present iff match; else
 * BC_ERR_INVALID (BC_ERR_TOOBIG for an over-long text). */
int bc_mutual_ask_encode(const bc_mutual_ask *m, uint8_t **out,
			 size_t *outlen) BC_MUST_CHECK;
int bc_mutual_answer_encode(const bc_mutual_answer *m, uint8_t **out,
			    size_t *outlen) BC_MUST_CHECK;
int bc_mutual_result_encode(const bc_mutual_result *m, uint8_t **out,
			    size_t *outlen) BC_MUST_CHECK;

/* Decode a canonical message. BC_ERR_VERSION for another version byte,
 * BC_ERR_MALFORMED for anything else that is not exactly one canonical
 * message of that kind (wrong kind, truncation, trailing bytes, bad bool,
 * bad outcome, unsorted or duplicate parties, bad UTF-8), BC_ERR_TOOBIG
 * for a text or list over its cap. On error *m is zeroed. */
int bc_mutual_ask_decode(bc_mutual_ask *m, const uint8_t *buf,
			 size_t len) BC_MUST_CHECK;
int bc_mutual_answer_decode(bc_mutual_answer *m, const uint8_t *buf,
			    size_t len) BC_MUST_CHECK;
int bc_mutual_result_decode(bc_mutual_result *m, const uint8_t *buf,
			    size_t len) BC_MUST_CHECK;

/* Party side: check that a result belongs to the ask it answered (same
 * channel and question id; for a match, the same question text).
 * BC_ERR_PROTOCOL if not. */
int bc_mutual_result_check(const bc_mutual_ask *ask,
			   const bc_mutual_result *res) BC_MUST_CHECK;

/* ---- mediator state ----------------------------------------------------- */

typedef struct bc_mutual bc_mutual;

/* Create a question. text: NUL-terminated UTF-8, 1..1024 bytes; parties:
 * nparties (2..16) distinct ids, in any order (stored sorted). Errors:
 * BC_ERR_INVALID (bad count, duplicate, bad text), BC_ERR_TOOBIG,
 * BC_ERR_NOMEM. Free with bc_mutual_free. */
int bc_mutual_new(bc_mutual **out, const uint8_t channel[BC_MUTUAL_CHANNEL_LEN],
		  const uint8_t qid[BC_MUTUAL_QID_LEN], const char *text,
		  const uint8_t (*parties)[BC_MUTUAL_ID_LEN],
		  size_t nparties) BC_MUST_CHECK;
/* Wipe and free; NULL does nothing. */
void bc_mutual_free(bc_mutual *m);

/* The ask message, identical for every party. */
int bc_mutual_ask_msg(const bc_mutual *m, uint8_t **out,
		      size_t *outlen) BC_MUST_CHECK;

/* Record party's answer. BC_ERR_FORBIDDEN if party is not asked,
 * BC_ERR_STATE if it already answered or the question is decided
 * (answered by all or cancelled). */
int bc_mutual_record(bc_mutual *m, const uint8_t party[BC_MUTUAL_ID_LEN],
		     bool yes) BC_MUST_CHECK;
/* Apply a decoded answer message from the authenticated sender: also
 * BC_ERR_PROTOCOL if its channel or question id is not this question's. */
int bc_mutual_record_msg(bc_mutual *m,
			 const uint8_t sender[BC_MUTUAL_ID_LEN],
			 const bc_mutual_answer *a) BC_MUST_CHECK;

/* Cancel before all answers are in: the outcome becomes NO_MATCH.
 * BC_ERR_STATE if already decided. */
int bc_mutual_cancel(bc_mutual *m) BC_MUST_CHECK;

/* true once every party answered or the question was cancelled. */
bool bc_mutual_decided(const bc_mutual *m);
/* Number of parties that have not answered yet (0 once decided). */
size_t bc_mutual_pending(const bc_mutual *m);

/* The outcome (enum bc_mutual_outcome); BC_ERR_STATE before decided. */
int bc_mutual_outcome(const bc_mutual *m, int *outcome) BC_MUST_CHECK;
/* The result message, the same bytes for every party; BC_ERR_STATE before
 * the question is decided. */
int bc_mutual_result_msg(const bc_mutual *m, uint8_t **out,
			 size_t *outlen) BC_MUST_CHECK;

#endif
