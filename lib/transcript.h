/*
 * transcript.h - transcript integrity: hash chains per (sender, audience),
 * checkpoints, and the events that report a relay (or a sender) that
 * drops, reorders, replays, forks or equivocates.
 *
 * This module is pure logic: no I/O, no keys, no clock. It sits on top of
 * the envelope layer, which encrypts one copy of each message per reader
 * and hands this module the message's authenticated metadata ("meta").
 * docs/PROTOCOL.md §15 is the specification of every byte and every
 * rule; in short:
 *
 *   audience_id  = BLAKE2b-256("backchannel v1 audience" || u16 n || ids)
 *   content_hash = BLAKE2b-256("backchannel v1 content" || plaintext)
 *   link(m)      = BLAKE2b-256("backchannel v1 chain" || audience_id ||
 *                  sender || u64 seq || prev || msg_id || content_hash ||
 *                  u64 timestamp)
 *   meta         = fixed[16] msg_id || fixed[32] sender ||
 *                  list<fixed[32]> audience || u64 seq || fixed[32] prev ||
 *                  fixed[32] content_hash || u64 timestamp
 *
 * A chain is the sequence of messages one sender sent to one audience: seq
 * 1, 2, 3, ... each naming the link hash of its predecessor as prev (32
 * zero bytes for seq 1). Every member keeps every chain of every audience
 * it belongs to, its own included, and reports what it sees as events
 * (enum bc_tx_event).
 *
 * Trust model. The caller passes a meta to bc_transcript_receive only once
 * the envelope layer has authenticated it as written by meta.sender: the
 * relay cannot forge a meta, only drop, delay, reorder, replay or withhold
 * copies. A FORK or an EQUIVOCATION therefore always means that the sender
 * itself (its software, someone holding its keys, or a rolled-back copy of
 * its state) wrote two histories; GAP, REORDER and REPLAY are what a relay
 * alone can cause. Likewise a checkpoint must come from an authenticated
 * message of its author.
 *
 * Guarantees (the invariants of transcript.c):
 *   - every call either succeeds or returns an error and leaves the handle
 *     exactly as it was; reports are not errors (a FORK is BC_OK with a
 *     FORK report);
 *   - memory is bounded by the BC_TX_MAX_* caps below; a call that would
 *     exceed one fails with BC_ERR_QUOTA instead of growing (the link-hash
 *     history is a window that forgets its oldest entry, by design);
 *   - a message is delivered (reported OK, REORDER or RELEASED) at most once
 *     per (sender, audience, seq), in seq order, and only if its prev is
 *     the link hash of the message delivered before it;
 *   - nothing is ever silently repaired: a message that is not delivered is
 *     reported with the reason.
 *
 * A handle is not thread-safe. Persist it (bc_transcript_serialize) in the
 * same store transaction as the message that changed it.
 */
#ifndef BC_TRANSCRIPT_H
#define BC_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"

/* ---- sizes and caps ------------------------------------------------------- */

#define BC_TX_ID_LEN 32      /* a member id: its identity fingerprint */
#define BC_TX_MSGID_LEN 16   /* a message id (== BC_MSGID_LEN) */
#define BC_TX_HASH_LEN 32    /* audience id, content hash, link hash */

#define BC_TX_AUDIENCE_MIN 2  /* members of an audience, sender included */
#define BC_TX_AUDIENCE_MAX 16
/* Largest valid seq (2^63 - 1): a chain never wraps, and seq survives a
 * round trip through a signed 64-bit integer (SQLite, JSON). */
#define BC_TX_SEQ_MAX ((uint64_t)INT64_MAX)

/* Chains (sender, audience) one member keeps; a message that would start
 * one more is refused with BC_ERR_QUOTA. */
#define BC_TX_MAX_CHAINS 128
/* Link hashes remembered per chain (the last ones; a power of two). Older
 * messages cannot be compared any more: BC_TX_UNVERIFIABLE. */
#define BC_TX_HISTORY 1024
/* Messages held because an earlier one of their chain is missing: in all,
 * and per chain. Beyond either, bc_transcript_receive fails BC_ERR_QUOTA. */
#define BC_TX_MAX_HELD 256
#define BC_TX_MAX_HELD_PER_CHAIN 64
/* Messages per chain a checkpoint lists by (msg_id, content_hash, link). */
#define BC_TX_CP_RECENT 16

/* Encoded sizes: a meta, a checkpoint, a serialised state (all at most). */
#define BC_TX_META_MAX                                                        \
	(BC_TX_MSGID_LEN + BC_TX_ID_LEN + 2 + BC_TX_AUDIENCE_MAX * BC_TX_ID_LEN + \
	 8 + 2 * BC_TX_HASH_LEN + 8)
#define BC_TX_CP_CHAIN_MAX                                                 \
	(BC_TX_ID_LEN + 2 + BC_TX_AUDIENCE_MAX * BC_TX_ID_LEN + 8 + 2 +         \
	 BC_TX_CP_RECENT * (BC_TX_MSGID_LEN + 2 * BC_TX_HASH_LEN))
#define BC_TX_CP_MAX                                                   \
	(BC_TX_ID_LEN + 2 + BC_TX_AUDIENCE_MAX * BC_TX_ID_LEN + 2 +         \
	 (size_t)BC_TX_MAX_CHAINS * BC_TX_CP_CHAIN_MAX)
#define BC_TX_STATE_MAX                                                        \
	(1 + BC_TX_ID_LEN + 2 +                                                \
	 (size_t)BC_TX_MAX_CHAINS *                                            \
		 (BC_TX_ID_LEN + 2 + BC_TX_AUDIENCE_MAX * BC_TX_ID_LEN + 8 +    \
		  8 + 2 + BC_TX_HISTORY * (BC_TX_MSGID_LEN + 2 * BC_TX_HASH_LEN) + \
		  2) +                                                         \
	 (size_t)BC_TX_MAX_HELD *                                              \
		 (8 + BC_TX_HASH_LEN + BC_TX_MSGID_LEN + BC_TX_HASH_LEN + 8))

/* First byte of bc_transcript_serialize's output. */
#define BC_TX_STATE_VERSION 1

/* ---- values ----------------------------------------------------------------- */

/* A set of members: ids strictly ascending (memcmp order), count in
 * [BC_TX_AUDIENCE_MIN, BC_TX_AUDIENCE_MAX]. Build one with
 * bc_transcript_audience_set. */
typedef struct bc_tx_audience {
	uint16_t count;
	uint8_t ids[BC_TX_AUDIENCE_MAX][BC_TX_ID_LEN];
} bc_tx_audience;

/* The authenticated metadata of one message, identical in every reader's
 * copy. Valid iff: the audience is valid and contains sender; 1 <= seq <=
 * BC_TX_SEQ_MAX; prev is all zeros when seq == 1. */
typedef struct bc_tx_meta {
	uint8_t msg_id[BC_TX_MSGID_LEN];
	uint8_t sender[BC_TX_ID_LEN];
	bc_tx_audience audience;
	uint64_t seq;
	uint8_t prev[BC_TX_HASH_LEN];
	uint8_t content_hash[BC_TX_HASH_LEN];
	uint64_t timestamp; /* sender's clock, seconds; informational, hashed */
} bc_tx_meta;

/* What happened. The numeric values are stable (they may be stored in a
 * client's event log); add new kinds at the end. */
typedef enum bc_tx_event {
	BC_TX_OK = 0,           /* delivered, in order */
	BC_TX_REORDER = 1,      /* delivered; it arrived after a later message
	                           of its chain (it filled a gap) */
	BC_TX_RELEASED = 2,     /* delivered now: a held message whose missing
	                           predecessors have arrived */
	BC_TX_GAP = 3,          /* messages first..last are missing here: the
	                           message is held (receive), or a peer has seen
	                           them (check) */
	BC_TX_PEER_GAP = 4,     /* check: the peer has not seen first..last */
	BC_TX_REPLAY = 5,       /* exact copy of a message already processed;
	                           dropped, nothing changed */
	BC_TX_FORK = 6,         /* two different link hashes for one position
	                           of one chain: two histories */
	BC_TX_EQUIVOCATION = 7, /* one msg_id of one sender with two different
	                           contents, or at two positions */
	BC_TX_BAD_AUDIENCE = 8, /* we are not in the message's (checkpoint's)
	                           audience, or its author is not */
	BC_TX_UNVERIFIABLE = 9, /* older than the remembered history: cannot be
	                           told from a replay or a fork; dropped (receive)
	                           or not compared (check) */
} bc_tx_event;

#define BC_TX_EVENT_COUNT 10

/* true for the kinds that deliver a message to the application. */
static inline bool bc_tx_delivers(bc_tx_event k)
{
	return k == BC_TX_OK || k == BC_TX_REORDER || k == BC_TX_RELEASED;
}

/*
 * One reported event, with enough detail for a UI line. A field that does
 * not apply is zero. "Local" is what this member recorded; "other" is what
 * the incoming message or the peer's checkpoint shows.
 *
 *   kind            sender/audience_id/seq     msg_id        other_*           hashes (local / other)
 *   OK REORDER      the message                its id        -                 its link / -
 *     RELEASED
 *   GAP (receive)   the held message           its id        -                 its link / -
 *                   first..last = the seqs not yet delivered before it
 *   GAP (check)     our chain, seq = peer's    -             peer's last id    our head / peer's head
 *                   first..last = the seqs the peer has and we lack
 *   PEER_GAP        our chain, seq = ours      our last id   -                 our head / peer's head
 *                   first..last = the seqs we have and the peer lacks
 *   REPLAY          the message                its id        -                 its link / -
 *   FORK            the position with two      ours at seq   the message that  our link(seq) /
 *                   links                      (or zero)     revealed it,      theirs
 *                                                            other_seq
 *   EQUIVOCATION    our recorded position      the id        other_msg_id ==   our content hash /
 *                                                            msg_id, at        theirs
 *                                                            other_audience_id
 *                                                            / other_seq
 *   BAD_AUDIENCE    the claimed audience       its id        -                 - / -
 *   UNVERIFIABLE    the message (receive) or   its id        -                 - / its link
 *                   the peer's chain (check)
 *
 * first..last is seq..seq unless stated. peer is the checkpoint's author
 * for events found by bc_transcript_check (from_checkpoint is then true).
 */
typedef struct bc_tx_report {
	bc_tx_event kind;
	bool from_checkpoint;
	uint8_t peer[BC_TX_ID_LEN];
	uint8_t sender[BC_TX_ID_LEN];
	uint8_t audience_id[BC_TX_HASH_LEN];
	uint64_t seq;
	uint64_t first, last;
	uint8_t msg_id[BC_TX_MSGID_LEN];
	uint8_t other_msg_id[BC_TX_MSGID_LEN];
	uint8_t other_audience_id[BC_TX_HASH_LEN];
	uint64_t other_seq;
	uint8_t local_hash[BC_TX_HASH_LEN];
	uint8_t other_hash[BC_TX_HASH_LEN];
} bc_tx_report;

/* A range of messages this member knows to exist but has not delivered. */
typedef struct bc_tx_gap {
	uint8_t sender[BC_TX_ID_LEN];
	uint8_t audience_id[BC_TX_HASH_LEN];
	uint64_t first, last;
} bc_tx_gap;

/* A summary of one chain, for display and tests. */
typedef struct bc_tx_chain_info {
	uint8_t sender[BC_TX_ID_LEN];
	bc_tx_audience audience;
	uint8_t audience_id[BC_TX_HASH_LEN];
	uint64_t last;        /* last delivered seq (0: none) */
	uint8_t head[BC_TX_HASH_LEN]; /* link(last), zeros if last == 0 */
	uint64_t known;       /* highest seq known to exist (>= last) */
	size_t held;          /* messages held for this chain */
} bc_tx_chain_info;

/* One message of a checkpoint's recent window. */
typedef struct bc_tx_cp_msg {
	uint8_t msg_id[BC_TX_MSGID_LEN];
	uint8_t content_hash[BC_TX_HASH_LEN];
	uint8_t link[BC_TX_HASH_LEN];
} bc_tx_cp_msg;

/* The author's view of one chain: the last delivered seq and the last
 * nrecent = min(seq, BC_TX_CP_RECENT) messages, seqs seq-nrecent+1 .. seq
 * in order (so recent[nrecent-1].link is the head). */
typedef struct bc_tx_cp_chain {
	uint8_t sender[BC_TX_ID_LEN];
	bc_tx_audience audience;
	uint64_t seq;
	uint16_t nrecent;
	bc_tx_cp_msg recent[BC_TX_CP_RECENT];
} bc_tx_cp_chain;

/* A checkpoint: its author's view of every chain whose audience contains
 * the whole checkpoint audience (so no reader learns of a chain it is not
 * in), sorted by (sender, audience_id), strictly. Owns chains: release with
 * bc_transcript_checkpoint_clear. */
typedef struct bc_tx_checkpoint {
	uint8_t author[BC_TX_ID_LEN];
	bc_tx_audience audience;
	uint16_t nchains;
	bc_tx_cp_chain *chains;
} bc_tx_checkpoint;

/* ---- hashes and codec (no handle) ------------------------------------------ */

/* Build a valid audience from n ids in any order (sorted here).
 * BC_ERR_INVALID: NULL argument, n outside [2, 16], or a duplicate id
 * (*a then untouched). */
int bc_transcript_audience_set(bc_tx_audience *a, const uint8_t (*ids)[BC_TX_ID_LEN],
			       size_t n) BC_MUST_CHECK;

/* true iff a is a valid audience and id is in it. */
bool bc_transcript_audience_has(const bc_tx_audience *a,
				const uint8_t id[static BC_TX_ID_LEN]);

/* audience_id of a valid audience. BC_ERR_INVALID (not valid),
 * BC_ERR_CRYPTO (out zeroed). */
int bc_transcript_audience_id(const bc_tx_audience *a,
			      uint8_t out[static BC_TX_HASH_LEN]) BC_MUST_CHECK;

/* content_hash of pt[0..len) (pt may be NULL when len is 0).
 * BC_ERR_INVALID, BC_ERR_CRYPTO. */
int bc_transcript_content_hash(const uint8_t *pt, size_t len,
			       uint8_t out[static BC_TX_HASH_LEN]) BC_MUST_CHECK;

/* link(m) of a valid meta. BC_ERR_MALFORMED (m not valid), BC_ERR_INVALID,
 * BC_ERR_CRYPTO. */
int bc_transcript_link(const bc_tx_meta *m, uint8_t out[static BC_TX_HASH_LEN]) BC_MUST_CHECK;

/* BC_OK iff m is a valid meta, else BC_ERR_MALFORMED (BC_ERR_INVALID for
 * NULL). */
int bc_transcript_meta_check(const bc_tx_meta *m) BC_MUST_CHECK;

/* Encode a valid meta into out (at least BC_TX_META_MAX bytes); *outlen is
 * the length. BC_ERR_MALFORMED (m not valid), BC_ERR_INVALID. */
int bc_transcript_meta_encode(const bc_tx_meta *m, uint8_t out[static BC_TX_META_MAX],
			      size_t *outlen) BC_MUST_CHECK;

/* Decode in[0..len) into *m. Strict and canonical: truncated input,
 * trailing bytes, an audience that is not strictly sorted or outside
 * [2, 16] (BC_ERR_TOOBIG above 16), or an invalid meta is rejected, so
 * encode(decode(x)) == x. On error *m is zeroed. */
int bc_transcript_meta_decode(const uint8_t *in, size_t len, bc_tx_meta *m) BC_MUST_CHECK;

/* Encode a checkpoint into a new buffer (free with bc_free; at most
 * BC_TX_CP_MAX bytes). BC_ERR_MALFORMED (cp breaks a rule of
 * bc_transcript_checkpoint_decode; *out untouched), BC_ERR_INVALID,
 * BC_ERR_NOMEM (*out NULL). */
int bc_transcript_checkpoint_encode(const bc_tx_checkpoint *cp, uint8_t **out,
				    size_t *outlen) BC_MUST_CHECK;

/* Decode a checkpoint into *cp (clear it with
 * bc_transcript_checkpoint_clear). Strict and canonical: valid audiences,
 * author in the checkpoint audience, each chain's sender in its audience
 * and its audience containing the checkpoint audience, chains strictly
 * sorted by (sender, audience_id), at most BC_TX_MAX_CHAINS of them,
 * seq <= BC_TX_SEQ_MAX, nrecent == min(seq, BC_TX_CP_RECENT), no trailing
 * bytes. BC_ERR_MALFORMED, BC_ERR_TOOBIG, BC_ERR_NOMEM, BC_ERR_INVALID, BC_ERR_CRYPTO;
 * on error *cp is empty. */
int bc_transcript_checkpoint_decode(const uint8_t *in, size_t len,
				    bc_tx_checkpoint *cp) BC_MUST_CHECK;

/* Free cp's chains and zero *cp. NULL is ignored. */
void bc_transcript_checkpoint_clear(bc_tx_checkpoint *cp);

/* ---- the handle --------------------------------------------------------------- */

typedef struct bc_transcript bc_transcript;

/* A new, empty transcript for the member self. BC_ERR_INVALID,
 * BC_ERR_NOMEM. *out is set only on success. */
int bc_transcript_new(const uint8_t self[static BC_TX_ID_LEN], bc_transcript **out) BC_MUST_CHECK;

/* Free t and everything it owns (reports included). NULL is ignored. */
void bc_transcript_free(bc_transcript *t);

/*
 * Sender side: the metadata of this member's next message to audience, and
 * record it in its own chain (seq and prev assigned here). Call it once per
 * message; persist t before posting, and on a retry resend the same meta:
 * a seq that is taken and never sent is a gap for every reader.
 * Errors (t unchanged): BC_ERR_INVALID (NULL, invalid audience, self not in
 * it), BC_ERR_CONFLICT (msg_id already used by this member within the
 * remembered history), BC_ERR_QUOTA (a new chain beyond BC_TX_MAX_CHAINS),
 * BC_ERR_STATE (the chain has reached BC_TX_SEQ_MAX), BC_ERR_NOMEM,
 * BC_ERR_CRYPTO.
 */
int bc_transcript_next(bc_transcript *t, const bc_tx_audience *audience,
		       const uint8_t msg_id[static BC_TX_MSGID_LEN],
		       const uint8_t content_hash[static BC_TX_HASH_LEN], uint64_t timestamp,
		       bc_tx_meta *out) BC_MUST_CHECK;

/*
 * Receiver side: process the authenticated meta m of a received message.
 * On BC_OK *reports points to *nreports >= 1 reports, owned by t and valid
 * until the next call on t that takes reports; the message itself is
 * delivered iff a report naming its msg_id has a delivering kind
 * (bc_tx_delivers). The possible outcomes (docs/PROTOCOL.md §15.5):
 *   OK | REORDER, then RELEASED for each held successor now in order (and a
 *            FORK if one of them does not link);
 *   GAP      held until its predecessors arrive;
 *   REPLAY | FORK | EQUIVOCATION | BAD_AUDIENCE | UNVERIFIABLE: dropped;
 *   EQUIVOCATION first, then OK/REORDER/GAP: the message is in its place in
 *            its chain but reuses a msg_id of its sender.
 * Errors (t unchanged, *reports NULL, *nreports 0): BC_ERR_MALFORMED (m not
 * valid), BC_ERR_QUOTA (holding it would exceed BC_TX_MAX_HELD or
 * BC_TX_MAX_HELD_PER_CHAIN, or it starts a chain beyond BC_TX_MAX_CHAINS:
 * keep the message and offer it again later), BC_ERR_INVALID,
 * BC_ERR_NOMEM, BC_ERR_CRYPTO.
 */
int bc_transcript_receive(bc_transcript *t, const bc_tx_meta *m, const bc_tx_report **reports,
			  size_t *nreports) BC_MUST_CHECK;

/*
 * Build this member's checkpoint for audience (which must contain self):
 * every chain whose audience contains the whole of audience, sorted.
 * Send it to that audience as an ordinary message; clear *cp afterwards.
 * BC_ERR_INVALID (self not in audience, NULL), BC_ERR_NOMEM,
 * BC_ERR_CRYPTO; *cp is empty on error.
 */
int bc_transcript_checkpoint(const bc_transcript *t, const bc_tx_audience *audience,
			     bc_tx_checkpoint *cp) BC_MUST_CHECK;

/*
 * Compare a checkpoint, received in an authenticated message from
 * from_member, with the local view. Reports (possibly none: *nreports may
 * be 0): FORK and EQUIVOCATION for every disagreement within the
 * overlapping windows; GAP and PEER_GAP when one side is ahead (GAP also
 * raises the chain's "known" seq, so bc_transcript_missing lists it);
 * UNVERIFIABLE when the windows do not overlap; BAD_AUDIENCE when self or
 * the author is not in the checkpoint's audience. Only "known" seqs change.
 * Call it only for a checkpoint whose carrying message was delivered.
 * Errors (t unchanged, *reports NULL): BC_ERR_AUTH (cp->author !=
 * from_member), BC_ERR_MALFORMED (cp breaks a decode rule), BC_ERR_TOOBIG
 * (more than BC_TX_MAX_CHAINS chains), BC_ERR_INVALID, BC_ERR_NOMEM,
 * BC_ERR_CRYPTO.
 */
int bc_transcript_check(bc_transcript *t, const uint8_t from_member[static BC_TX_ID_LEN],
			const bc_tx_checkpoint *cp, const bc_tx_report **reports,
			size_t *nreports) BC_MUST_CHECK;

/*
 * The ranges this member knows to exist but has not delivered (held
 * messages excluded), chain by chain in chain order. Writes at most cap of
 * them to out (out may be NULL when cap is 0) and returns the total count
 * in *count, which may exceed cap. At most BC_TX_MAX_HELD +
 * BC_TX_MAX_CHAINS ranges exist. BC_ERR_INVALID.
 */
int bc_transcript_missing(const bc_transcript *t, bc_tx_gap *out, size_t cap,
			  size_t *count) BC_MUST_CHECK;

/* Number of chains, and chain i (0 <= i < count) in insertion order.
 * bc_transcript_chain_info: BC_ERR_INVALID, BC_ERR_NOTFOUND (i too big). */
size_t bc_transcript_chain_count(const bc_transcript *t);
int bc_transcript_chain_info(const bc_transcript *t, size_t i,
			     bc_tx_chain_info *out) BC_MUST_CHECK;

/* Total messages held, all chains. */
size_t bc_transcript_held_count(const bc_transcript *t);

/* The member id the transcript belongs to. */
const uint8_t *bc_transcript_self(const bc_transcript *t);

/*
 * Encode the whole state (docs/PROTOCOL.md §15.8) into a new buffer
 * of at most BC_TX_STATE_MAX bytes (free with bc_free). Canonical: chains
 * sorted by (sender, audience_id), so equal states give equal bytes.
 * Reports are not part of the state. BC_ERR_INVALID, BC_ERR_NOMEM (*out
 * NULL).
 */
int bc_transcript_serialize(const bc_transcript *t, uint8_t **out, size_t *outlen) BC_MUST_CHECK;

/*
 * Decode a state written by bc_transcript_serialize into a new handle.
 * Strict and canonical (serialize(deserialize(x)) == x), every cap
 * enforced before allocating. BC_ERR_VERSION, BC_ERR_MALFORMED,
 * BC_ERR_TOOBIG, BC_ERR_NOMEM, BC_ERR_INVALID, BC_ERR_CRYPTO. *out is set
 * only on success.
 */
int bc_transcript_deserialize(const uint8_t *in, size_t len, bc_transcript **out) BC_MUST_CHECK;

/* The stable lower-case name of an event kind ("ok", "reorder", ...);
 * "unknown" for anything else. Never NULL. */
const char *bc_transcript_event_name(bc_tx_event kind);

/*
 * One human-readable line for r, NUL-terminated in buf (truncated to cap),
 * e.g. "fork: sender 3f2a9c1e audience 77b0e2d4 seq 5: local 1c2d.. other
 * 9e8f..". Ids and hashes are shown as 8 hex digits. Returns the length
 * the full line needs (like snprintf), excluding the NUL.
 */
size_t bc_transcript_report_format(const bc_tx_report *r, char *buf, size_t cap);

#endif
