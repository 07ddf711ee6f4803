/*
 * proposal.h - the proposal state machine of a talk (DESIGN.md §4):
 * pure logic and canonical encodings, no I/O, no crypto.
 *
 * A proposal has a 16-byte id, an author (a member id: the 32-byte
 * fingerprint of the member's identity), a kind (general, or meeting:
 * a meeting proposal must carry the terms "level", "place" and "window")
 * and versions 1, 2, ... Each version has an author, ordered terms (unique
 * non-empty keys of <= 64 bytes, texts of <= 4096 bytes, both UTF-8 without
 * NUL, 1..64 terms) and an optional expiry (unix seconds, 0 = none).
 *
 * Events are applied by bc_proposal_apply. The caller has authenticated
 * the actor of the event and passes its role and the talk's party set:
 *
 *   propose   (party or mediator) creates version 1 on an empty state;
 *   counter   (party or mediator) creates version latest+1; the event
 *             names that number, so a counter built on a stale view is
 *             refused; acceptances of older versions no longer count
 *             (acceptance is of a whole, current version);
 *   accept    (party) of the latest version, which must not be expired
 *             (now >= expiry), rejected or withdrawn; when every party of
 *             the talk has accepted it the proposal is AGREED (final);
 *   reject    (party, with a reason of <= 1024 bytes) of the latest
 *             version: it can no longer be accepted; a counter continues
 *             the negotiation. A party that accepted a version cannot then
 *             reject it;
 *   withdraw  by the author of the latest version only (it withdraws the
 *             offer on the table; an author whose offer was countered
 *             rejects the counter instead). Final: the proposal is
 *             WITHDRAWN, nothing more can happen to it.
 * Observers can do nothing (BC_ERR_FORBIDDEN). Every refusal leaves the
 * state byte-for-byte unchanged and yields a static textual reason.
 *
 * Invariants of a bc_proposal in state OPEN / WITHDRAWN / AGREED:
 * nversions >= 1, versions[i].number == i + 1, versions[0].author ==
 * author, accepted[] strictly ascending (memcmp), agreed_version ==
 * nversions iff AGREED (0 otherwise), withdrawn_by zero unless WITHDRAWN,
 * reject_reason != NULL iff rejected. bc_proposal_decode enforces them all.
 *
 * Encodings (codec.h; docs/PROTOCOL.md §18 gives every byte):
 *   term     string key || string text
 *   event    u8 fmt (1) || u8 type || fixed[16] proposal id || fixed[32]
 *            actor || u32 version || per type: propose: u8 kind || u64
 *            expiry || list terms; counter: u64 expiry || list terms;
 *            reject: string reason; accept, withdraw: nothing
 *   state    u8 fmt (1) || fixed[16] id || fixed[32] author || u8 kind ||
 *            u8 status || u32 agreed_version || fixed[32] withdrawn_by ||
 *            list versions: u32 number || fixed[32] author || u64 expiry ||
 *            list terms || list fixed[32] accepted || bool rejected ||
 *            fixed[32] rejected_by || string reject_reason
 */
#ifndef BC_PROPOSAL_H
#define BC_PROPOSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"
#include "codec.h"
#include "roles.h"

#define BC_PROPOSAL_FORMAT 1
#define BC_PROPOSAL_ID_LEN 16
#define BC_MEMBER_ID_LEN 32
#define BC_PROPOSAL_MAX_TERMS 64
#define BC_PROPOSAL_KEY_MAX 64
#define BC_PROPOSAL_TEXT_MAX 4096
#define BC_PROPOSAL_REASON_MAX 1024
#define BC_PROPOSAL_MAX_VERSIONS 32
#define BC_PROPOSAL_MAX_PARTIES 16

/* Conventional term keys of a meeting proposal (all three required). */
#define BC_MEETING_KEY_LEVEL "level"
#define BC_MEETING_KEY_PLACE "place"
#define BC_MEETING_KEY_WINDOW "window"

enum { BC_PROPOSAL_GENERAL = 0, BC_PROPOSAL_MEETING = 1 };
enum {
	BC_PROPOSAL_EMPTY = 0, /* nothing proposed yet (never encoded) */
	BC_PROPOSAL_OPEN = 1,
	BC_PROPOSAL_WITHDRAWN = 2,
	BC_PROPOSAL_AGREED = 3,
};
enum {
	BC_PEV_PROPOSE = 1,
	BC_PEV_COUNTER = 2,
	BC_PEV_ACCEPT = 3,
	BC_PEV_REJECT = 4,
	BC_PEV_WITHDRAW = 5,
};

typedef struct bc_term {
	char *key;  /* NUL-terminated UTF-8 */
	char *text;
} bc_term;

typedef struct bc_proposal_version {
	uint32_t number;
	uint8_t author[BC_MEMBER_ID_LEN];
	uint64_t expiry; /* 0: none */
	uint16_t nterms;
	bc_term *terms;
	uint16_t naccepted;
	uint8_t accepted[BC_PROPOSAL_MAX_PARTIES][BC_MEMBER_ID_LEN];
	bool rejected;
	uint8_t rejected_by[BC_MEMBER_ID_LEN];
	char *reject_reason; /* non-NULL iff rejected */
} bc_proposal_version;

typedef struct bc_proposal {
	uint8_t id[BC_PROPOSAL_ID_LEN];
	uint8_t author[BC_MEMBER_ID_LEN];
	uint8_t kind;
	uint8_t status;
	uint32_t agreed_version;
	uint8_t withdrawn_by[BC_MEMBER_ID_LEN];
	uint16_t nversions;
	bc_proposal_version *versions;
} bc_proposal;

/* An event. When the caller builds one, terms/reason point at its own
 * memory and it must not call bc_proposal_event_free; an event from
 * bc_proposal_event_decode owns them (free with bc_proposal_event_free). */
typedef struct bc_proposal_event {
	uint8_t type;
	uint8_t proposal_id[BC_PROPOSAL_ID_LEN];
	uint8_t actor[BC_MEMBER_ID_LEN];
	uint32_t version; /* created (propose/counter) or acted on */
	uint8_t kind;     /* propose */
	uint64_t expiry;  /* propose, counter */
	uint16_t nterms;  /* propose, counter */
	bc_term *terms;
	char *reason;     /* reject (NULL = "") */
} bc_proposal_event;

/* ---- terms (shared with agreement.c) ------------------------------------- */

/* BC_OK iff terms[0..n) is a valid term list (see top); else
 * BC_ERR_INVALID (empty, bad UTF-8, empty or duplicate key) or
 * BC_ERR_TOOBIG (a cap). *why (if non-NULL) gets a static reason. */
int bc_proposal_terms_check(const bc_term *terms, size_t n, const char **why) BC_MUST_CHECK;
/* Append "list of term" to w (sticky codec error). */
int bc_proposal_terms_write(bc_wr *w, const bc_term *terms, uint16_t n);
/* Read and validate a term list; on success *out (n entries) is owned by
 * the caller (bc_proposal_terms_free). On error r's sticky error is set
 * and *out is NULL. */
int bc_proposal_terms_read(bc_rd *r, bc_term **out, uint16_t *n) BC_MUST_CHECK;
/* Deep copy (BC_ERR_NOMEM). */
int bc_proposal_terms_copy(const bc_term *in, uint16_t n, bc_term **out) BC_MUST_CHECK;
void bc_proposal_terms_free(bc_term *terms, uint16_t n);

/* ---- state --------------------------------------------------------------- */

/* An EMPTY state (no allocation). */
void bc_proposal_init(bc_proposal *p);
/* Release everything p owns and make it EMPTY. NULL is ignored. */
void bc_proposal_clear(bc_proposal *p);

/*
 * Apply ev, performed by ev->actor acting with role, to p. parties is the
 * talk's party set (nparties member ids, 1..BC_PROPOSAL_MAX_PARTIES, no
 * duplicates); now is the current unix time. On success returns BC_OK
 * and *why = NULL; on any error p is unchanged and *why (why may be NULL)
 * is a static English reason. Errors: BC_ERR_INVALID (bad arguments,
 * wrong proposal id, bad terms or expiry), BC_ERR_TOOBIG (a cap),
 * BC_ERR_FORBIDDEN (role or actor may not do this), BC_ERR_STATE (not
 * valid now: see the top of this file), BC_ERR_NOMEM.
 */
int bc_proposal_apply(bc_proposal *p, const bc_proposal_event *ev, int role,
		      const uint8_t (*parties)[BC_MEMBER_ID_LEN], size_t nparties,
		      uint64_t now, const char **why) BC_MUST_CHECK;

/* The latest version, or NULL for an EMPTY state. */
const bc_proposal_version *bc_proposal_latest(const bc_proposal *p);
/* "empty", "open", "withdrawn", "agreed" (static). */
const char *bc_proposal_status_name(int status);

/* Canonical encodings. encode: *out is a new buffer (bc_free);
 * BC_ERR_INVALID for an EMPTY state. decode: exactly len bytes, all
 * invariants checked (BC_ERR_MALFORMED, BC_ERR_TOOBIG, BC_ERR_VERSION);
 * *p is overwritten only on success (it must not own anything). */
int bc_proposal_encode(const bc_proposal *p, uint8_t **out, size_t *outlen) BC_MUST_CHECK;
int bc_proposal_decode(bc_proposal *p, const uint8_t *in, size_t len) BC_MUST_CHECK;

int bc_proposal_event_encode(const bc_proposal_event *ev, uint8_t **out,
			     size_t *outlen) BC_MUST_CHECK;
/* Decode exactly len bytes; on success *ev owns its terms and reason. */
int bc_proposal_event_decode(bc_proposal_event *ev, const uint8_t *in,
			     size_t len) BC_MUST_CHECK;
void bc_proposal_event_free(bc_proposal_event *ev);

#endif
