/*
 * talk_exchange.h - commit-reveal exchanges with sequenced steps inside a
 * talk (DESIGN.md §4; wire format and state machine: docs/PROTOCOL.md §21).
 * Not a public API.
 *
 * An exchange runs in numbered rounds (1, 2, ...). In a round every party
 * (a "side") commits to its offer (exchange.h COMMIT, sealed for the
 * talk's lead mediator alone); when every party of the talk has committed,
 * the lead mediator's client sends ALLCOMMITTED (every commitment) to
 * every other member; only then do parties reveal (REVEAL: key and text,
 * to the lead mediator alone), and when every reveal opens its commitment
 * the lead mediator's client sends RELEASE (every side's commitment, key
 * and text) to every other member. Every receiver checks the release
 * against the commitments it accepted: a mediator that changed or swapped
 * an offer is caught and the round is marked broken on that member. After
 * the release the lead mediator may list ordered steps (STEPS), each done
 * by one side and confirmed by another (STEPDONE, STEPCONFIRMED, sent to
 * every other member); every member runs the same bc_exseq machine on
 * them, so step i+1 can be done only after step i was confirmed.
 *
 * The lead mediator is the first member with role mediator in the talk's
 * member list (normally the registrar); any other mediator follows an
 * exchange like an observer.
 *
 * Invariants:
 *   - one store record per round (kind "exchange", key talk id || u32
 *     round), written in a transaction of its own;
 *   - a party commits once per round; a round's sides are the talk's
 *     parties when its first commitment reached the lead mediator;
 *   - a party reveals only after it accepted an ALLCOMMITTED list holding
 *     its own commitment unchanged; the lead mediator accepts reveals only
 *     once every side committed, and sends RELEASE only once every side
 *     revealed an opening of its commitment;
 *   - nothing a party stores or shows holds another side's offer before a
 *     release it verified;
 *   - what the lead mediator must send but could not (the talk was
 *     suspended, the network failed) is marked pending and sent by the
 *     next bc_talk_exchange_flush (each exchange command and each
 *     exchange message received calls it).
 */
#ifndef BC_TALK_EXCHANGE_H
#define BC_TALK_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exchange.h"
#include "talk.h"

#define BC_TEX_REASON_MAX 255 /* bytes of a "broken" reason */
#define BC_TEX_ROUNDS_MAX 1000 /* rounds of one talk */

/* A round's phase as this member sees it. */
enum bc_tex_phase {
	BC_TEX_COMMITTING = 1, /* not every commitment is known to be in */
	BC_TEX_REVEALING = 2,  /* all committed (ALLCOMMITTED sent/accepted) */
	BC_TEX_RELEASED = 3,   /* every offer released (and verified) */
	BC_TEX_BROKEN = 4,     /* a check failed: see reason */
};

/* One side of a round. */
typedef struct bc_talk_exside {
	uint8_t id[BC_E2E_ID_LEN];
	bool committed;        /* its commitment c is known */
	bool revealed;         /* key and text are known and open c */
	uint8_t c[BC_EXCHANGE_COMMIT_LEN];
	uint8_t key[BC_EXCHANGE_KEY_LEN];
	char text[BC_EXCHANGE_MAX_TEXT + 1];
} bc_talk_exside;

/* One step of a round's sequence. */
typedef struct bc_talk_exstep {
	uint8_t performer[BC_E2E_ID_LEN];
	uint8_t receiver[BC_E2E_ID_LEN];
	char text[BC_EXCHANGE_MAX_STEP_TEXT + 1];
	char note[BC_EXCHANGE_MAX_NOTE + 1]; /* the performer's, once done */
} bc_talk_exstep;

/* A round as this member knows it. Holds secrets (a party's own key and
 * text before the release): wipe it (bc_free_secret) after use. */
typedef struct bc_talk_exround {
	uint32_t round;
	uint8_t phase;             /* enum bc_tex_phase */
	char reason[BC_TEX_REASON_MAX + 1]; /* why BROKEN */
	/* a party's own offer */
	bool i_committed, i_revealed;
	uint8_t my_key[BC_EXCHANGE_KEY_LEN];
	char my_text[BC_EXCHANGE_MAX_TEXT + 1];
	/* the lead mediator: messages still to send */
	bool allc_pending, release_pending;
	/* the sides: for a party before ALLCOMMITTED only itself; sorted
	 * ascending by id once the list is known */
	size_t nsides;
	bc_talk_exside sides[BC_EXCHANGE_MAX_SIDES];
	/* the steps (once STEPS was sent or accepted) */
	bool steps_set;
	size_t nsteps;
	bc_talk_exstep steps[BC_EXCHANGE_MAX_STEPS];
	uint32_t cur;   /* the open step (0-based; nsteps when complete) */
	bool cur_done;  /* the open step was reported done */
} bc_talk_exround;

/*
 * Each call below fills why (may be NULL; whycap bytes) with one line
 * saying why it refused, and sends nothing when it refuses. Codes:
 * BC_ERR_FORBIDDEN (not this member's role or turn), BC_ERR_STATE (not
 * now: already done, too early, the talk suspended or closed),
 * BC_ERR_NOTFOUND (no such round or step, no mediator), BC_ERR_INVALID /
 * BC_ERR_TOOBIG (bad text), else network and storage errors. fn (may be
 * NULL) gets the timeline events recorded.
 */

/* A party commits to text (1..4096 bytes of UTF-8) for the current round
 * (the first, or the one after the last released/broken round); *round
 * gets its number. */
int bc_talk_exchange_commit(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			    const char *text, uint32_t *round, char *why,
			    size_t whycap, bc_talk_event_fn fn,
			    void *ctx) BC_MUST_CHECK;

/* A party reveals its offer of its latest round (only after it accepted
 * the ALLCOMMITTED list of that round). */
int bc_talk_exchange_reveal(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			    uint32_t *round, char *why, size_t whycap,
			    bc_talk_event_fn fn, void *ctx) BC_MUST_CHECK;

/* The lead mediator lists the n steps of a released round (round 0: the
 * latest round); each performer and receiver must be sides of the round
 * and differ; texts 1..512 bytes of UTF-8. */
int bc_talk_exchange_steps(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			   uint32_t round, const bc_exseq_def *defs,
			   const char *const *texts, size_t n, char *why,
			   size_t whycap, bc_talk_event_fn fn,
			   void *ctx) BC_MUST_CHECK;

/* The performer of step `step` (1-based) of round (0: the latest round
 * with steps) reports it done, with an optional note (0..1024 bytes). */
int bc_talk_exchange_done(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			  uint32_t round, uint32_t step, const char *note,
			  char *why, size_t whycap, bc_talk_event_fn fn,
			  void *ctx) BC_MUST_CHECK;

/* The receiver of step `step` (1-based) confirms it. */
int bc_talk_exchange_confirm(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			     uint32_t round, uint32_t step, char *why,
			     size_t whycap, bc_talk_event_fn fn,
			     void *ctx) BC_MUST_CHECK;

/* Every round this member knows in the talk, in round order. */
int bc_talk_exchange_list(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			  int (*fn)(void *ctx, const bc_talk_exround *x),
			  void *ctx) BC_MUST_CHECK;

/* The lead mediator sends what is pending (ALLCOMMITTED, RELEASE). Does
 * nothing (BC_OK) for any other member or while the talk is not open. */
int bc_talk_exchange_flush(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			   bc_talk_event_fn fn, void *ctx) BC_MUST_CHECK;

/* A static lower-case name of a phase ("committing", ...). */
const char *bc_talk_exchange_phase_name(uint8_t phase);

#endif
