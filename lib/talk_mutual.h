/*
 * talk_mutual.h - double-blind mutual questions inside a talk (DESIGN.md
 * §4; wire format: docs/PROTOCOL.md §20). Not a public API.
 *
 * The mediator asks every party the same question (mutual.h ASK, sealed
 * for exactly the talk's parties: observers never read it); each party
 * answers yes or no to the asking mediator alone (mutual.h ANSWER); when
 * every party has answered, the mediator's client (the trusted decider of
 * this first version) sends every party the same RESULT: "match" with the
 * question's text iff all said yes, otherwise only "no match".
 *
 * Invariants:
 *   - a question is one store record (kind "mutual", key talk id || qid)
 *     holding the ASK exactly as sent or received;
 *   - a party answers a question at most once and never after its result;
 *   - the mediator keeps how each party answered only while the question
 *     is open; once decided only who answered (and the message id of the
 *     answer, to recognise a re-delivery) and the outcome remain;
 *   - nothing a party stores or shows tells how another party answered.
 */
#ifndef BC_TALK_MUTUAL_H
#define BC_TALK_MUTUAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mutual.h"
#include "talk.h"

#define BC_TQ_SHOW 4 /* bytes of a question id shown: "Q" + 8 hex digits */

enum bc_tq_answer {
	BC_TQ_NONE = 0,
	BC_TQ_YES = 1,
	BC_TQ_NO = 2,
};

/* A question as this member knows it (bc_talk_mutual_get / _list). */
typedef struct bc_talk_question {
	uint8_t qid[BC_MUTUAL_QID_LEN];
	uint8_t asker[BC_E2E_ID_LEN];
	uint8_t ask_msg[16];   /* message id of the ASK */
	uint64_t time;         /* when it was asked (sent or received) */
	bool mine;             /* this member asked it (the mediator) */
	char text[BC_MUTUAL_MAX_TEXT + 1];
	size_t nparties;
	uint8_t parties[BC_MUTUAL_MAX_PARTIES][BC_E2E_ID_LEN];
	bool decided;          /* the result is known (sent or received) */
	uint8_t outcome;       /* 0 while open, else enum bc_mutual_outcome */
	uint8_t my_answer;     /* a party's own answer: enum bc_tq_answer */
	/* the asking mediator only: who answered (never how) */
	size_t nanswered;
	uint8_t answered[BC_MUTUAL_MAX_PARTIES][BC_E2E_ID_LEN];
	bool result_pending;   /* decided, result not sent yet (suspended) */
} bc_talk_question;

/* "Q" + the first 8 hex digits of qid, NUL-terminated. */
void bc_talk_mutual_label(const uint8_t qid[BC_MUTUAL_QID_LEN], char out[10]);

/* The mediator asks every party of the talk `text` (1..1024 bytes of
 * UTF-8 without control characters). qid gets the new question's id.
 * BC_ERR_FORBIDDEN: not a joined mediator; BC_ERR_INVALID / BC_ERR_TOOBIG:
 * bad text; BC_ERR_NOTFOUND: fewer than 2 parties; BC_ERR_STATE: the talk
 * is suspended or closed; else network and storage errors. */
int bc_talk_mutual_ask(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		       const char *text, uint8_t qid[BC_MUTUAL_QID_LEN],
		       bc_talk_event_fn fn, void *ctx) BC_MUST_CHECK;

/* A party answers the question qid to the mediator who asked it.
 * BC_ERR_FORBIDDEN: this member is not a party asked; BC_ERR_NOTFOUND: no
 * such question; BC_ERR_CONFLICT: already answered, or already decided;
 * BC_ERR_STATE: the talk is suspended or closed. */
int bc_talk_mutual_answer(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			  const uint8_t qid[BC_MUTUAL_QID_LEN], bool yes,
			  bc_talk_event_fn fn, void *ctx) BC_MUST_CHECK;

/* Resolve a question typed as "Q1a2b3c4d", "1a2b3c4d" or any hex prefix
 * (>= 4 digits) of its id among the questions this member knows in the
 * talk. BC_ERR_INVALID: not such a string; BC_ERR_NOTFOUND; BC_ERR_CONFLICT:
 * several match. */
int bc_talk_mutual_find(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			const char *s,
			uint8_t qid[BC_MUTUAL_QID_LEN]) BC_MUST_CHECK;

/* The question qid as this member knows it (BC_ERR_NOTFOUND). */
int bc_talk_mutual_get(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		       const uint8_t qid[BC_MUTUAL_QID_LEN],
		       bc_talk_question *q) BC_MUST_CHECK;

/* Every question this member knows in the talk, oldest first. */
int bc_talk_mutual_list(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			int (*fn)(void *ctx, const bc_talk_question *q),
			void *ctx) BC_MUST_CHECK;

/* The asking mediator: send the results that could not be sent when the
 * last answer came in (the talk was suspended). Does nothing (BC_OK) while
 * the talk is not open or for anyone else. */
int bc_talk_mutual_flush(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			 bc_talk_event_fn fn, void *ctx) BC_MUST_CHECK;

#endif
