/*
 * talk.h - talks (channels): membership, invites, statements, sync.
 *
 * A talk is a negotiation among members with roles (party with a side
 * label, mediator, observer). Each member has, per talk, its own mailbox
 * on a relay, owned by a transport key used for that talk only (so the
 * relay cannot link a member's talks), and one capability for it that it
 * hands to the other members. Everything members say travels end to end
 * (e2e.h); the relay sees only sealed bodies.
 *
 * Membership v1: the talk's creator (usually the mediator) is its
 * registrar. It issues invites (invite.h); a joiner sends it a JOIN
 * message carrying the invite's one-time secret and its own mailbox and
 * capability; the registrar checks the secret (each invite works once),
 * adds the member and sends every member the new member list (MEMBERS).
 * Members accept membership only from the registrar, authenticated end to
 * end: the relay cannot add anyone.
 *
 * Talk messages (the content of e2e application messages; codec):
 *   u8 version (1) || fixed[16] talk id || u8 kind || body
 *   kind 1 JOIN     fixed[32] secret || string relay || mailbox(32) ||
 *                   cap(32) || fixed[32] digest of the accepted rules
 *   kind 2 MEMBERS  string title || string rules || list<member>
 *                   member = identity(129) || u8 role || string side ||
 *                   string relay || mailbox(32) || cap(32)
 *   kind 3 SAY      u8 audience || u8 label || string text
 *   kind 4 STATE    u8 state || string reason (suspend/resume: a party;
 *                   close: a mediator)
 *   kind 5 PASSON   fixed[16] statement id || u8 mode || string text ||
 *                   string attribution        (mediator -> readers)
 *   kind 6 AUDIT    as PASSON || list<fixed[32]> readers (-> the author)
 *   kind 7 LEAVE    string reason        (a member -> every member; the
 *                   registrar then sends the new MEMBERS)
 * (docs/PROTOCOL.md §16 is normative.)
 *
 * Everything is persisted in the member's store: kind "talk" (one record
 * per talk) and "talklog" (the timeline as this member saw it).
 */
#ifndef BC_TALK_H
#define BC_TALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"
#include "e2e.h"
#include "identity.h"
#include "roles.h"
#include "store.h"

#define BC_TALK_ID_LEN 16
#define BC_TALK_MAX_MEMBERS 16
#define BC_TALK_TITLE_MAX 200
#define BC_TALK_RULES_MAX 4096
#define BC_TALK_SIDE_MAX 64
#define BC_TALK_RELAY_MAX 300
#define BC_TALK_TEXT_MAX 65536

enum bc_talk_state {
	BC_TALK_OPEN = 1,
	BC_TALK_SUSPENDED = 2, /* only resume and close may be sent */
	BC_TALK_CLOSED = 3,    /* nothing more */
};

enum bc_talk_audience {
	BC_AUD_CAUCUS = 1,  /* the author and the mediator(s) */
	BC_AUD_DIRECT = 2,  /* the named members only */
	BC_AUD_PLENARY = 3, /* every member */
};

enum bc_talk_label {
	BC_LABEL_NONE = 0,
	BC_LABEL_PRIVATE = 1,    /* never passed on */
	BC_LABEL_PARAPHRASE = 2, /* substance may be passed on, unattributed */
	BC_LABEL_VERBATIM = 3,   /* may be passed on word for word, unattributed */
	BC_LABEL_ATTRIBUTED = 4, /* may be passed on with the author's name */
};

typedef struct bc_talk_member {
	uint8_t id[BC_E2E_ID_LEN]; /* fingerprint */
	bc_identity_pub identity;
	uint8_t role;
	char side[BC_TALK_SIDE_MAX + 1];
	char relay[BC_TALK_RELAY_MAX + 1];
	uint8_t mailbox[32];
	uint8_t cap[32];
} bc_talk_member;

typedef struct bc_talk_info {
	uint8_t id[BC_TALK_ID_LEN];
	char title[BC_TALK_TITLE_MAX + 1];
	char rules[BC_TALK_RULES_MAX + 1];
	bool registrar;        /* this member created the talk */
	uint8_t my_role;
	char my_side[BC_TALK_SIDE_MAX + 1];
	bool joined;           /* the registrar's member list includes us */
	bool left;             /* we left: we send nothing more */
	uint8_t state;         /* bc_talk_state */
	uint8_t state_by[BC_E2E_ID_LEN]; /* who changed it last (zero: nobody) */
	char state_reason[257];
	size_t nmembers;
	bc_talk_member members[BC_TALK_MAX_MEMBERS];
} bc_talk_info;

/* One entry of a member's timeline. */
typedef struct bc_talk_event {
	uint8_t msg_id[16];    /* the statement's id (SAY, PASSON, AUDIT) */
	uint64_t time;
	uint8_t kind;          /* 1 JOIN, 2 MEMBERS, 3 SAY, 100 integrity */
	uint8_t from[BC_E2E_ID_LEN];
	uint8_t audience;      /* SAY */
	uint8_t label;         /* SAY */
	const char *text;      /* SAY text, or a description */
	size_t nto;            /* readers of a SAY */
	const uint8_t (*to)[BC_E2E_ID_LEN];
} bc_talk_event;

typedef int (*bc_talk_event_fn)(void *ctx, const bc_talk_event *ev);

typedef struct bc_talks bc_talks;

/* A member's talks over its store (not owned). */
int bc_talks_open(bc_talks **out, bc_store *st, uint64_t now) BC_MUST_CHECK;
void bc_talks_free(bc_talks *t);
bc_e2e *bc_talks_e2e(bc_talks *t);
/* How long a request to a relay is retried before it fails (ms; 0: the
 * client's default, 30 s). */
void bc_talks_set_retry(bc_talks *t, int ms);

/* Create a talk hosted on relay (an address string), with this member as
 * registrar in role/side. */
int bc_talk_create(bc_talks *t, const char *relay, const char *title,
		   const char *rules, uint8_t role, const char *side,
		   uint8_t id[BC_TALK_ID_LEN]) BC_MUST_CHECK;
/* Issue an invite (registrar only: BC_ERR_FORBIDDEN). *text is a new
 * string (bc_free after wiping: it holds secrets). */
int bc_talk_invite(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN], uint8_t role,
		   const char *side, uint64_t expires,
		   char **text) BC_MUST_CHECK;
/* What an invite offers, to show before joining. */
typedef struct bc_talk_offer {
	uint8_t id[BC_TALK_ID_LEN];
	char title[BC_TALK_TITLE_MAX + 1];
	char rules[BC_TALK_RULES_MAX + 1];
	uint8_t role;
	char side[BC_TALK_SIDE_MAX + 1];
	uint64_t expires; /* 0: never */
} bc_talk_offer;
int bc_talk_offer_read(const char *invite, bc_talk_offer *out) BC_MUST_CHECK;
/* Join with an invite, accepting its ground rules: `rules` is the text the
 * joiner was shown and accepts, which must be the invite's
 * (BC_ERR_CONFLICT otherwise). The JOIN carries a digest of it, and the
 * registrar admits nobody who accepted other rules than the talk's. */
int bc_talk_join(bc_talks *t, const char *invite, const char *rules,
		 uint8_t id[BC_TALK_ID_LEN], char *title,
		 size_t titlecap) BC_MUST_CHECK;
/* The same, with this member's mailbox on the relay `home` (an address
 * string; NULL: the inviter's relay). Members of one talk may sit on
 * different relays: each posts to a member's mailbox on that member's. */
int bc_talk_join_at(bc_talks *t, const char *invite, const char *rules,
		    const char *home, uint8_t id[BC_TALK_ID_LEN], char *title,
		    size_t titlecap) BC_MUST_CHECK;
/* Say text to an audience (to/nto: the readers of a DIRECT statement). */
int bc_talk_say(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		uint8_t audience, const uint8_t (*to)[BC_E2E_ID_LEN],
		size_t nto, uint8_t label, const char *text) BC_MUST_CHECK;
/* Fetch and process everything waiting in this member's mailbox of the
 * talk (NULL: every talk); new events go to fn (may be NULL). */
int bc_talk_sync(bc_talks *t, const uint8_t *id, bc_talk_event_fn fn,
		 void *ctx) BC_MUST_CHECK;
/* The talk's state. */
int bc_talk_get(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		bc_talk_info *info) BC_MUST_CHECK;
/* Every talk, in creation order. */
int bc_talk_list(bc_talks *t, int (*fn)(void *ctx, const bc_talk_info *info),
		 void *ctx) BC_MUST_CHECK;
/* The timeline as this member saw it. */
int bc_talk_log(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		bc_talk_event_fn fn, void *ctx) BC_MUST_CHECK;
/* Parse a talk id given as hex or a unique hex prefix of a known talk. */
int bc_talk_find(bc_talks *t, const char *s,
		 uint8_t id[BC_TALK_ID_LEN]) BC_MUST_CHECK;

/* Leave the talk (any member but the registrar, who closes it instead:
 * BC_ERR_FORBIDDEN), telling every member why; the registrar drops the
 * member from the list. After it this member sends nothing to the talk. */
int bc_talk_leave(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		  const char *reason) BC_MUST_CHECK;

/* Suspend (with a reason) or resume the talk (a party), or close it (a
 * mediator); told to every member. While the talk is suspended members
 * send nothing but resume and close; once closed, nothing. BC_ERR_FORBIDDEN
 * for the wrong role, BC_ERR_STATE for a change that does not apply. */
int bc_talk_set_state(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		      uint8_t state, const char *reason) BC_MUST_CHECK;

/* The mediator passes on the caucus statement whose id starts with the
 * hex prefix `statement` (>= 4 digits), as `mode` (a label no stronger
 * than the statement's: paraphrase with the mediator's own words in
 * `paraphrase`, verbatim, or attributed), to every member (PLENARY) or to
 * the members `to` (DIRECT); the author is told what went out and to whom
 * and checks it against the label. BC_ERR_FORBIDDEN: not a mediator, or
 * the label forbids it (private statements are never passed on);
 * BC_ERR_NOTFOUND / BC_ERR_CONFLICT: no / several statements match. */
int bc_talk_pass_on(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		    const char *statement, uint8_t mode, uint8_t audience,
		    const uint8_t (*to)[BC_E2E_ID_LEN], size_t nto,
		    const char *paraphrase) BC_MUST_CHECK;

const char *bc_talk_role_name(uint8_t role);
const char *bc_talk_state_name(uint8_t state);
const char *bc_talk_audience_name(uint8_t a);
const char *bc_talk_label_name(uint8_t l);

#endif
