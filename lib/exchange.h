/*
 * exchange.h - coordinated exchanges through the mediator: simultaneous
 * commit-reveal, and sequenced steps with confirmation (DESIGN.md §1.8,
 * §4).
 *
 * Commit-reveal. Each side commits to its step text with a fresh random
 * 32-byte key:
 *   c = BLAKE2b-256(key = key,
 *                   "backchannel v1 exchange commit" || fixed[16] channel
 *                   || u32 round || fixed[32] author || bytes text)
 * (the label without NUL; u32/bytes per codec.h). The mediator collects
 * one commitment per expected side, then sends every side the
 * "all committed" list; only then does it accept reveals (key, text), each
 * checked against its commitment; when every reveal is in it sends one
 * "release" carrying every side's (commitment, key, text). Because no
 * reveal is accepted before all commitments are in, no side's step can
 * depend on another's. A client checks the release against the
 * all-committed list it saw and recomputes every commitment, so a mediator
 * that swaps or alters anything is caught (BC_ERR_AUTH).
 *
 * Sequenced steps. An exchange may list ordered steps, each performed by
 * one side and confirmed by a receiving side; step i+1 opens only when
 * step i is confirmed. Every participant can run the same bc_exseq state
 * machine on the step-done / step-confirmed messages it sees.
 *
 * Messages (canonical codec; docs/PROTOCOL.md §20.8):
 *   commit        u8 1, u8 0x11, fixed[16] channel, u32 round, fixed[32] c
 *   all-committed u8 1, u8 0x12, fixed[16] channel, u32 round,
 *                 list<(fixed[32] author, fixed[32] c)>  2..16, ascending
 *   reveal        u8 1, u8 0x13, fixed[16] channel, u32 round,
 *                 fixed[32] key, bytes text (UTF-8, no NUL, 1..4096)
 *   release       u8 1, u8 0x14, fixed[16] channel, u32 round,
 *                 list<(fixed[32] author, fixed[32] c, fixed[32] key,
 *                       bytes text)>  2..16, ascending by author
 *   step-done     u8 1, u8 0x15, fixed[16] channel, u32 round, u32 step,
 *                 bytes note (UTF-8, no NUL, 0..1024)
 *   step-confirmed u8 1, u8 0x16, fixed[16] channel, u32 round, u32 step
 *   steps         u8 1, u8 0x17, fixed[16] channel, u32 round,
 *                 list<(fixed[32] performer, fixed[32] receiver,
 *                       bytes text)>  1..64 steps, in order;
 *                 performer != receiver; text UTF-8, no NUL, 1..512
 * Commit, reveal, step-done and step-confirmed name no author: it is the
 * authenticated sender of the end-to-end layer, passed in by the caller.
 * Decoded messages never own memory: texts point into the input.
 */
#ifndef BC_EXCHANGE_H
#define BC_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"

#define BC_EXCHANGE_VERSION 1
#define BC_EXCHANGE_LABEL "backchannel v1 exchange commit"
#define BC_EXCHANGE_CHANNEL_LEN 16
#define BC_EXCHANGE_ID_LEN 32
#define BC_EXCHANGE_KEY_LEN 32
#define BC_EXCHANGE_COMMIT_LEN 32
#define BC_EXCHANGE_MAX_TEXT 4096
#define BC_EXCHANGE_MAX_NOTE 1024
#define BC_EXCHANGE_MIN_SIDES 2
#define BC_EXCHANGE_MAX_SIDES 16
#define BC_EXCHANGE_MAX_STEPS 64
#define BC_EXCHANGE_MAX_STEP_TEXT 512

enum bc_exchange_kind {
	BC_EXCHANGE_K_COMMIT = 0x11,
	BC_EXCHANGE_K_ALLCOMMITTED = 0x12,
	BC_EXCHANGE_K_REVEAL = 0x13,
	BC_EXCHANGE_K_RELEASE = 0x14,
	BC_EXCHANGE_K_STEPDONE = 0x15,
	BC_EXCHANGE_K_STEPCONFIRMED = 0x16,
	BC_EXCHANGE_K_STEPS = 0x17, /* the mediator's list of steps */
};

/* ---- commitments -------------------------------------------------------- */

/* c = the commitment above. text: 1..BC_EXCHANGE_MAX_TEXT bytes of UTF-8
 * without NUL (else BC_ERR_INVALID / BC_ERR_TOOBIG). */
int bc_exchange_commitment(uint8_t c[BC_EXCHANGE_COMMIT_LEN],
			   const uint8_t key[BC_EXCHANGE_KEY_LEN],
			   const uint8_t channel[BC_EXCHANGE_CHANNEL_LEN],
			   uint32_t round,
			   const uint8_t author[BC_EXCHANGE_ID_LEN],
			   const uint8_t *text, size_t text_len) BC_MUST_CHECK;
/* Draw a fresh random key and compute its commitment. The caller keeps
 * key secret until it reveals, and wipes it afterwards. */
int bc_exchange_commit_new(uint8_t key[BC_EXCHANGE_KEY_LEN],
			   uint8_t c[BC_EXCHANGE_COMMIT_LEN],
			   const uint8_t channel[BC_EXCHANGE_CHANNEL_LEN],
			   uint32_t round,
			   const uint8_t author[BC_EXCHANGE_ID_LEN],
			   const uint8_t *text, size_t text_len) BC_MUST_CHECK;
/* BC_OK iff (key, text) opens c for (channel, round, author), compared in
 * constant time; BC_ERR_AUTH if not. */
int bc_exchange_verify(const uint8_t c[BC_EXCHANGE_COMMIT_LEN],
		       const uint8_t key[BC_EXCHANGE_KEY_LEN],
		       const uint8_t channel[BC_EXCHANGE_CHANNEL_LEN],
		       uint32_t round, const uint8_t author[BC_EXCHANGE_ID_LEN],
		       const uint8_t *text, size_t text_len) BC_MUST_CHECK;

/* ---- messages ----------------------------------------------------------- */

typedef struct bc_exchange_commit {
	uint8_t channel[BC_EXCHANGE_CHANNEL_LEN];
	uint32_t round;
	uint8_t c[BC_EXCHANGE_COMMIT_LEN];
} bc_exchange_commit;

typedef struct bc_exchange_allc {
	uint8_t channel[BC_EXCHANGE_CHANNEL_LEN];
	uint32_t round;
	size_t n;
	uint8_t author[BC_EXCHANGE_MAX_SIDES][BC_EXCHANGE_ID_LEN];
	uint8_t c[BC_EXCHANGE_MAX_SIDES][BC_EXCHANGE_COMMIT_LEN];
} bc_exchange_allc;

typedef struct bc_exchange_reveal {
	uint8_t channel[BC_EXCHANGE_CHANNEL_LEN];
	uint32_t round;
	uint8_t key[BC_EXCHANGE_KEY_LEN];
	const uint8_t *text;
	size_t text_len;
} bc_exchange_reveal;

typedef struct bc_exchange_release {
	uint8_t channel[BC_EXCHANGE_CHANNEL_LEN];
	uint32_t round;
	size_t n;
	uint8_t author[BC_EXCHANGE_MAX_SIDES][BC_EXCHANGE_ID_LEN];
	uint8_t c[BC_EXCHANGE_MAX_SIDES][BC_EXCHANGE_COMMIT_LEN];
	uint8_t key[BC_EXCHANGE_MAX_SIDES][BC_EXCHANGE_KEY_LEN];
	const uint8_t *text[BC_EXCHANGE_MAX_SIDES];
	size_t text_len[BC_EXCHANGE_MAX_SIDES];
} bc_exchange_release;

typedef struct bc_exchange_step {
	uint8_t channel[BC_EXCHANGE_CHANNEL_LEN];
	uint32_t round;
	uint32_t step;
	const uint8_t *note; /* step-done only; may be empty */
	size_t note_len;
} bc_exchange_step;

/* The ordered steps of a released round, as the mediator lists them. */
typedef struct bc_exchange_steps {
	uint8_t channel[BC_EXCHANGE_CHANNEL_LEN];
	uint32_t round;
	size_t n;
	uint8_t performer[BC_EXCHANGE_MAX_STEPS][BC_EXCHANGE_ID_LEN];
	uint8_t receiver[BC_EXCHANGE_MAX_STEPS][BC_EXCHANGE_ID_LEN];
	const uint8_t *text[BC_EXCHANGE_MAX_STEPS];
	size_t text_len[BC_EXCHANGE_MAX_STEPS];
} bc_exchange_steps;

/* Encoders: a new buffer in *out (free with bc_free). Every field is
 * validated as the decoder would (lists 2..16 strictly ascending by
 * author, texts UTF-8 within caps): BC_ERR_INVALID / BC_ERR_TOOBIG.
 * Decoders: exactly one canonical message of that kind, else
 * BC_ERR_VERSION (version byte), BC_ERR_TOOBIG (a cap) or
 * BC_ERR_MALFORMED (anything else); on error the struct is zeroed. */
int bc_exchange_commit_encode(const bc_exchange_commit *m, uint8_t **out,
			      size_t *outlen) BC_MUST_CHECK;
int bc_exchange_commit_decode(bc_exchange_commit *m, const uint8_t *buf,
			      size_t len) BC_MUST_CHECK;
int bc_exchange_allc_encode(const bc_exchange_allc *m, uint8_t **out,
			    size_t *outlen) BC_MUST_CHECK;
int bc_exchange_allc_decode(bc_exchange_allc *m, const uint8_t *buf,
			    size_t len) BC_MUST_CHECK;
int bc_exchange_reveal_encode(const bc_exchange_reveal *m, uint8_t **out,
			      size_t *outlen) BC_MUST_CHECK;
int bc_exchange_reveal_decode(bc_exchange_reveal *m, const uint8_t *buf,
			      size_t len) BC_MUST_CHECK;
int bc_exchange_release_encode(const bc_exchange_release *m, uint8_t **out,
			       size_t *outlen) BC_MUST_CHECK;
int bc_exchange_release_decode(bc_exchange_release *m, const uint8_t *buf,
			       size_t len) BC_MUST_CHECK;
int bc_exchange_stepdone_encode(const bc_exchange_step *m, uint8_t **out,
				size_t *outlen) BC_MUST_CHECK;
int bc_exchange_stepdone_decode(bc_exchange_step *m, const uint8_t *buf,
				size_t len) BC_MUST_CHECK;
/* step-confirmed ignores / zeroes note. */
int bc_exchange_stepconf_encode(const bc_exchange_step *m, uint8_t **out,
				size_t *outlen) BC_MUST_CHECK;
int bc_exchange_stepconf_decode(bc_exchange_step *m, const uint8_t *buf,
				size_t len) BC_MUST_CHECK;

/* steps: 1..64 steps, each performer != receiver, each text 1..512
 * bytes of UTF-8 (BC_ERR_INVALID / BC_ERR_TOOBIG when encoding). */
int bc_exchange_steps_encode(const bc_exchange_steps *m, uint8_t **out,
			     size_t *outlen) BC_MUST_CHECK;
int bc_exchange_steps_decode(bc_exchange_steps *m, const uint8_t *buf,
			     size_t len) BC_MUST_CHECK;

/* The kind (enum bc_exchange_kind) of an encoded message, from its first
 * two bytes: BC_ERR_VERSION for another version, BC_ERR_MALFORMED if too
 * short or not a known kind. The message itself is not checked. */
int bc_exchange_kind_of(const uint8_t *buf, size_t len,
			uint8_t *kind) BC_MUST_CHECK;

/* ---- client checks ------------------------------------------------------ */

/* A side checks the all-committed list: right channel and round, and its
 * own commitment (me, my_c) listed unchanged. BC_ERR_PROTOCOL for another
 * channel/round, BC_ERR_AUTH if my commitment is absent or altered. */
int bc_exchange_check_allc(const bc_exchange_allc *allc,
			   const uint8_t channel[BC_EXCHANGE_CHANNEL_LEN],
			   uint32_t round, const uint8_t me[BC_EXCHANGE_ID_LEN],
			   const uint8_t my_c[BC_EXCHANGE_COMMIT_LEN])
	BC_MUST_CHECK;
/* A side checks a release against the all-committed list it accepted:
 * same channel, round, authors and commitments (constant-time compare),
 * and every (key, text) opens its author's commitment. BC_ERR_AUTH on any
 * difference (a swapped, altered, added or dropped reveal). */
int bc_exchange_check_release(const bc_exchange_allc *allc,
			      const bc_exchange_release *rel) BC_MUST_CHECK;

/* ---- mediator: one commit-reveal round ---------------------------------- */

typedef struct bc_exround bc_exround;

enum bc_exround_phase {
	BC_EXROUND_COMMITTING = 1, /* waiting for commitments */
	BC_EXROUND_REVEALING = 2,  /* all committed; waiting for reveals */
	BC_EXROUND_RELEASED = 3,   /* every reveal in and valid */
	BC_EXROUND_ABORTED = 4,
};

/* sides: nsides (2..16) distinct ids, any order. BC_ERR_INVALID,
 * BC_ERR_NOMEM. Free with bc_exround_free. */
int bc_exround_new(bc_exround **out,
		   const uint8_t channel[BC_EXCHANGE_CHANNEL_LEN],
		   uint32_t round, const uint8_t (*sides)[BC_EXCHANGE_ID_LEN],
		   size_t nsides) BC_MUST_CHECK;
/* Wipe (keys, texts) and free; NULL does nothing. */
void bc_exround_free(bc_exround *r);
int bc_exround_phase(const bc_exround *r);

/* A commitment from side. BC_ERR_FORBIDDEN: not a side; BC_ERR_STATE:
 * this side already committed, or the phase is past committing;
 * BC_ERR_PROTOCOL: message for another channel/round. */
int bc_exround_commit(bc_exround *r, const uint8_t side[BC_EXCHANGE_ID_LEN],
		      const bc_exchange_commit *m) BC_MUST_CHECK;
/* The all-committed message; BC_ERR_STATE until every side committed. */
int bc_exround_allc_msg(const bc_exround *r, uint8_t **out,
			size_t *outlen) BC_MUST_CHECK;
/* A reveal from side. BC_ERR_FORBIDDEN: not a side; BC_ERR_STATE: not all
 * commitments are in yet, this side already revealed, or released/
 * aborted; BC_ERR_PROTOCOL: another channel/round; BC_ERR_INVALID /
 * BC_ERR_TOOBIG: bad text; BC_ERR_AUTH: does not open the side's
 * commitment (nothing recorded; the side may send the right opening). */
int bc_exround_reveal(bc_exround *r, const uint8_t side[BC_EXCHANGE_ID_LEN],
		      const bc_exchange_reveal *m) BC_MUST_CHECK;
/* The release message; BC_ERR_STATE until every reveal is in. */
int bc_exround_release_msg(const bc_exround *r, uint8_t **out,
			   size_t *outlen) BC_MUST_CHECK;
/* Abandon the round (a side will not reveal); nothing is released.
 * BC_ERR_STATE once released. */
int bc_exround_abort(bc_exround *r) BC_MUST_CHECK;

/* ---- sequenced steps ---------------------------------------------------- */

typedef struct bc_exseq bc_exseq;

typedef struct bc_exseq_def {
	uint8_t performer[BC_EXCHANGE_ID_LEN];
	uint8_t receiver[BC_EXCHANGE_ID_LEN];
} bc_exseq_def;

/* Why a step event was refused (also returned as an error code). */
enum bc_exseq_refusal {
	BC_EXSEQ_OK = 0,
	BC_EXSEQ_WRONG_EXCHANGE,  /* channel/round differ   BC_ERR_PROTOCOL */
	BC_EXSEQ_COMPLETE,        /* every step confirmed   BC_ERR_STATE */
	BC_EXSEQ_OUT_OF_ORDER,    /* not the open step      BC_ERR_STATE */
	BC_EXSEQ_ALREADY_DONE,    /* done twice             BC_ERR_STATE */
	BC_EXSEQ_NOT_DONE,        /* confirm before done    BC_ERR_STATE */
	BC_EXSEQ_NOT_PERFORMER,   /* done by another side   BC_ERR_FORBIDDEN */
	BC_EXSEQ_NOT_RECEIVER,    /* confirmed by another   BC_ERR_FORBIDDEN */
};

/* steps: n (1..64) definitions; performer != receiver for each
 * (BC_ERR_INVALID). Free with bc_exseq_free. */
int bc_exseq_new(bc_exseq **out, const uint8_t channel[BC_EXCHANGE_CHANNEL_LEN],
		 uint32_t round, const bc_exseq_def *steps,
		 size_t n) BC_MUST_CHECK;
void bc_exseq_free(bc_exseq *s);
/* who (authenticated sender) reports step m->step done. On refusal *why
 * (may be NULL) says why and the matching code is returned; the state is
 * unchanged. */
int bc_exseq_done(bc_exseq *s, const uint8_t who[BC_EXCHANGE_ID_LEN],
		  const bc_exchange_step *m, int *why) BC_MUST_CHECK;
/* who confirms step m->step; the next step opens. Same refusal rules. */
int bc_exseq_confirm(bc_exseq *s, const uint8_t who[BC_EXCHANGE_ID_LEN],
		     const bc_exchange_step *m, int *why) BC_MUST_CHECK;
/* The open step index (== n when complete) and whether it is done. */
uint32_t bc_exseq_current(const bc_exseq *s, bool *done);
bool bc_exseq_complete(const bc_exseq *s);
/* A static lower-case name for a refusal reason. */
const char *bc_exseq_refusal_name(int why);

#endif
