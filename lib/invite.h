/*
 * invite.h - invites: the out-of-band string that lets someone join a talk.
 *
 * A member (usually the mediator) creates an invite and hands it over by
 * some other channel (in person, by phone, by mail). It carries everything
 * the joiner needs to reach the inviter through the relay and to prove that
 * it holds the invite: the relay address (host, port and pinned key), the
 * inviter's public identity, the inviter's mailbox and a capability to post
 * to it, the channel id and title, the offered role (with a side label for
 * a party), a one-time secret and an optional expiry.
 *
 * docs/PROTOCOL.md §17 specifies every byte; in short (codec of codec.h,
 * big-endian):
 *
 *   u8 version (1) || string relay (<= 300, canonical "HOST:PORT/bck:KEY")
 *   || fixed[129] inviter || fixed[32] mailbox || fixed[32] capability
 *   || fixed[16] channel || string title (<= 200)
 *   || string ground rules (<= 4096) || u8 role (1..3)
 *   || string side (party: 1..64 bytes; otherwise empty)
 *   || fixed[32] secret || u64 expires (0 = never)
 *
 *   text form   b32c of the binary form, kind "bci"
 *   secret tag  BLAKE2b-256("backchannel v1 invite secret" || channel
 *               || secret)
 *
 * Invariants:
 *   - the format is canonical: every accepted encoding is the one
 *     bc_invite_encode produces for the decoded value (the relay string
 *     included: it must be exactly what bc_relay_addr_format gives);
 *   - a bc_invite obtained from bc_invite_decode / _import / _new always
 *     passes every check of bc_invite_encode (valid relay, certified
 *     inviter identity, role and side label consistent, UTF-8 strings);
 *   - capability and secret are secrets, so the whole struct is wiped with
 *     bc_invite_wipe on every path; it holds no heap pointers, so it may
 *     live anywhere (stack, sodium_malloc'ed memory); the binary and text
 *     forms hold the same secrets and are wiped by whoever holds them;
 *   - a failing call leaves its bc_invite output wiped and its buffer
 *     outputs wiped or NULL.
 */
#ifndef BC_INVITE_H
#define BC_INVITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "backchannel/error.h"
#include "identity.h"

#define BC_INVITE_VERSION 1
/* b32c kind of the text form. */
#define BC_INVITE_B32C_PREFIX "bci"
/* Domain label of the secret tag (28 bytes, no NUL). */
#define BC_INVITE_SECRET_LABEL "backchannel v1 invite secret"

#define BC_INVITE_RELAY_MAX 300   /* bytes of the relay address string */
#define BC_INVITE_TITLE_MAX 200   /* bytes of the channel title */
#define BC_INVITE_RULES_MAX 4096  /* bytes of the ground rules */
#define BC_INVITE_SIDE_MAX 64     /* bytes of a party's side label */
#define BC_INVITE_MAILBOX_LEN 32
#define BC_INVITE_CAP_LEN 32
#define BC_INVITE_CHANNEL_LEN 16
#define BC_INVITE_SECRET_LEN 32
#define BC_INVITE_TAG_LEN 32

/* Longest binary invite: every variable field at its cap. */
#define BC_INVITE_MAX_LEN                                                        \
	(1 + 4 + BC_INVITE_RELAY_MAX + BC_IDENTITY_PUBLIC_LEN + BC_INVITE_MAILBOX_LEN + \
	 BC_INVITE_CAP_LEN + BC_INVITE_CHANNEL_LEN + 4 + BC_INVITE_TITLE_MAX + 4 +    \
	 BC_INVITE_RULES_MAX + 1 + 4 + BC_INVITE_SIDE_MAX + BC_INVITE_SECRET_LEN + 8)
/* Shortest binary invite: every string empty (not itself valid, since a
 * relay address is never empty; a lower bound for parsers). */
#define BC_INVITE_MIN_LEN (BC_INVITE_MAX_LEN - BC_INVITE_RELAY_MAX - \
			   BC_INVITE_TITLE_MAX - BC_INVITE_RULES_MAX - \
			   BC_INVITE_SIDE_MAX)

/* The offered role (wire values; anything else is malformed). */
typedef enum bc_invite_role {
	BC_INVITE_PARTY = 1,
	BC_INVITE_MEDIATOR = 2,
	BC_INVITE_OBSERVER = 3,
} bc_invite_role;

/* A parsed invite. Strings are NUL-terminated UTF-8 within their arrays.
 * Holds secrets (capability, secret): wipe with bc_invite_wipe. */
typedef struct bc_invite {
	bc_relay_addr relay;
	bc_identity_pub inviter;
	uint8_t mailbox[BC_INVITE_MAILBOX_LEN];
	uint8_t capability[BC_INVITE_CAP_LEN];   /* secret */
	uint8_t channel[BC_INVITE_CHANNEL_LEN];
	char title[BC_INVITE_TITLE_MAX + 1];
	char rules[BC_INVITE_RULES_MAX + 1];      /* the ground rules to accept */
	uint8_t role;                             /* a bc_invite_role */
	char side[BC_INVITE_SIDE_MAX + 1];
	uint8_t secret[BC_INVITE_SECRET_LEN];    /* secret, one-time */
	uint64_t expires;                         /* unix seconds, 0 = never */
} bc_invite;

/*
 * Fill *inv from the caller's values and a fresh random one-time secret.
 * title and side are NUL-terminated (side may be NULL for a role without
 * a side label); inviter must come from identity.h (it is re-verified
 * anyway). Nothing is kept by reference.
 * Errors: BC_ERR_INVALID (a NULL pointer, or a value bc_invite_encode
 * would refuse: see there), BC_ERR_TOOBIG (relay, title or side too long).
 * On error *inv is wiped.
 */
int bc_invite_new(bc_invite *inv, const bc_relay_addr *relay,
		  const bc_identity_pub *inviter,
		  const uint8_t mailbox[static BC_INVITE_MAILBOX_LEN],
		  const uint8_t capability[static BC_INVITE_CAP_LEN],
		  const uint8_t channel[static BC_INVITE_CHANNEL_LEN],
		  const char *title, bc_invite_role role, const char *side,
		  uint64_t expires) BC_MUST_CHECK;

/* Set the ground rules the joiner accepts by joining (NUL-terminated
 * UTF-8, <= BC_INVITE_RULES_MAX bytes; bc_invite_new leaves them empty).
 * Errors: BC_ERR_INVALID (NULL, bad UTF-8), BC_ERR_TOOBIG. */
int bc_invite_set_rules(bc_invite *inv, const char *rules) BC_MUST_CHECK;
/* Wipe every byte of *inv. NULL is ignored. */
void bc_invite_wipe(bc_invite *inv);

/*
 * Write the binary form of *inv into out (outcap bytes; BC_INVITE_MAX_LEN
 * always suffices) and set *outlen. out then holds the secrets: wipe it.
 * Errors: BC_ERR_INVALID (NULL argument; unterminated or invalid UTF-8
 * string; role not 1..3; a party without side label or another role with
 * one; a relay address with port 0 or that does not format to a string
 * parsing back to itself; an inviter identity that does not verify),
 * BC_ERR_TOOBIG (the relay string, title or side label over its cap, or
 * outcap too small). On error out is wiped and *outlen is 0.
 */
int bc_invite_encode(const bc_invite *inv, uint8_t *out, size_t outcap,
		     size_t *outlen) BC_MUST_CHECK;

/*
 * Decode exactly len bytes of binary invite into *out. Errors:
 *   BC_ERR_INVALID    NULL argument
 *   BC_ERR_VERSION    the version byte is not 1 (or the inviter identity's)
 *   BC_ERR_MALFORMED  truncated, trailing bytes, bad UTF-8 or NUL in a
 *                     string, relay string empty, unparsable or not in
 *                     canonical form, role not 1..3, side label not as the
 *                     role requires
 *   BC_ERR_TOOBIG     a string over its cap
 *   BC_ERR_AUTH       the inviter identity does not verify
 * On error *out is wiped. Never allocates, except inside the relay key's
 * b32c decoding (BC_ERR_NOMEM).
 */
int bc_invite_decode(bc_invite *out, const uint8_t *in, size_t len) BC_MUST_CHECK;

/*
 * The text form: *out is a new NUL-terminated b32c string of kind "bci".
 * It holds the secrets: release it with bc_invite_text_free.
 * Errors: those of bc_invite_encode, BC_ERR_NOMEM, BC_ERR_CRYPTO; *out is
 * then NULL.
 */
int bc_invite_export(const bc_invite *inv, char **out) BC_MUST_CHECK;

/*
 * Parse a string made by bc_invite_export (forgiving about case and
 * separators as bc_b32c_decode is). Errors: those of bc_b32c_decode -
 * notably BC_ERR_INVALID for a string of another kind ("bck:", "bcid:"),
 * BC_ERR_CHECKSUM for a typo - then those of bc_invite_decode. On error
 * *out is wiped.
 */
int bc_invite_import(bc_invite *out, const char *s) BC_MUST_CHECK;

/* Wipe and free a string from bc_invite_export. NULL is ignored. */
void bc_invite_text_free(char *s);

/* true iff the invite has an expiry and now (unix seconds) has reached
 * it: expires != 0 && now >= expires (expires is the first second at which
 * the invite is no longer valid). A NULL inv counts as expired. */
bool bc_invite_expired(const bc_invite *inv, uint64_t now);

/*
 * out = BLAKE2b-256("backchannel v1 invite secret" || channel || secret):
 * what the inviter stores to recognise a used invite without keeping the
 * secret. Compare tags with sodium_memcmp.
 * Errors: BC_ERR_INVALID (NULL), BC_ERR_CRYPTO (out then wiped).
 */
int bc_invite_secret_tag(const bc_invite *inv,
			 uint8_t out[static BC_INVITE_TAG_LEN]) BC_MUST_CHECK;

#endif
