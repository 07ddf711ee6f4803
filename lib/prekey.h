/*
 * prekey.h - signed prekeys, one-time prekeys, the blobs the relay serves
 * for them, and the owner's supply of their private keys.
 *
 * docs/PROTOCOL.md §12.3 specifies every byte; in short (codec layouts,
 * integers big-endian, labels ASCII without terminator):
 *
 *   spk_sig   Ed25519(sign_sk, "backchannel v1 signed prekey" || u32 spk_id
 *             || fixed[32] spk_pub || u64 created)
 *   bundle    the relay's "signed" blob (238 bytes):
 *             u8 version (1) || public identity (129, identity.h)
 *             || u32 spk_id || fixed[32] spk_pub || u64 created
 *             || fixed[64] spk_sig
 *   one-time  a one-time blob (37 bytes): u8 version (1) || u32 opk_id
 *             || fixed[32] opk_pub           (unsigned, as in Signal)
 *
 * The sender side only parses: bc_prekey_bundle_parse checks the identity
 * certificate, the prekey signature, that the identity is the one the
 * sender expects, and the bundle's age; bc_prekey_onetime_parse checks the
 * key. The owner side keeps a bc_prekey_supply: the current signed prekey,
 * the previous one during a grace period, the one-time private keys not
 * yet used, and the replay cache of initial messages that used no one-time
 * prekey (x3dh.h). It is serialised whole for the client store.
 *
 * Ids: signed and one-time prekey ids start at 1 and increase by one per
 * key; id 0 is never used; an id is never reused within one supply.
 *
 * Times are unix seconds passed in by the caller (the library reads no
 * clock).
 */
#ifndef BC_PREKEY_H
#define BC_PREKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"
#include "identity.h"

#define BC_PREKEY_VERSION 1
#define BC_PREKEY_KEY_LEN 32
#define BC_PREKEY_SIG_LEN 64
#define BC_PREKEY_SPK_LABEL "backchannel v1 signed prekey"
#define BC_PREKEY_BUNDLE_LEN (1 + BC_IDENTITY_PUBLIC_LEN + 4 + 32 + 8 + 64)
#define BC_PREKEY_ONETIME_LEN (1 + 4 + 32)

/* Policy (docs/PROTOCOL.md §12.3.4). One previous signed prekey is kept, so
 * the grace period must not exceed the rotation interval: the next regular
 * rotation would cut it short. */
#define BC_PREKEY_ROTATE_INTERVAL ((uint64_t)7 * 24 * 3600)  /* new SPK after */
#define BC_PREKEY_GRACE ((uint64_t)7 * 24 * 3600)            /* old SPK kept */
#define BC_PREKEY_DEFAULT_MAX_AGE ((uint64_t)30 * 24 * 3600) /* sender refuses older */
#define BC_PREKEY_MAX_FUTURE ((uint64_t)24 * 3600)           /* clock skew allowed */
#define BC_PREKEY_LOW_WATER 20u   /* replenish when the relay holds fewer */
#define BC_PREKEY_TARGET 100u     /* ... up to this many */

/* Bounds of a supply. */
#define BC_PREKEY_MAX_ONETIME 2000u /* one-time private keys held */
#define BC_PREKEY_MAX_BATCH 100u    /* one-time keys per bc_prekey_supply_add_onetime
				       (= BC_PROTO_MAX_PREKEYS, one upload) */
#define BC_PREKEY_REPLAY_MAX 2048u  /* replay-cache entries held */
#define BC_PREKEY_REPLAY_TAG_LEN 32

/* A parsed bundle (all public). */
typedef struct bc_prekey_bundle {
	bc_identity_pub id;
	uint32_t spk_id;
	uint8_t spk_pub[BC_PREKEY_KEY_LEN];
	uint64_t created;
	uint8_t spk_sig[BC_PREKEY_SIG_LEN];
} bc_prekey_bundle;

/* A parsed one-time blob (public). */
typedef struct bc_prekey_onetime {
	uint32_t opk_id;
	uint8_t opk_pub[BC_PREKEY_KEY_LEN];
} bc_prekey_onetime;

/* ---- signatures and blobs ------------------------------------------------- */

/* spk_sig of (spk_id, spk_pub, created) under id's signing key. */
int bc_prekey_sign(const bc_identity *id, uint32_t spk_id,
		   const uint8_t spk_pub[static BC_PREKEY_KEY_LEN], uint64_t created,
		   uint8_t sig[static BC_PREKEY_SIG_LEN]) BC_MUST_CHECK;

/* The 238-byte encoding of b (no check, no signing: b's fields as they
 * are). BC_ERR_INVALID on NULL. */
int bc_prekey_bundle_encode(const bc_prekey_bundle *b,
			    uint8_t out[static BC_PREKEY_BUNDLE_LEN]) BC_MUST_CHECK;

/*
 * Parse and verify the signed blob in[0..len) that the relay returned for
 * the mailbox of the identity *expected (the sender knows whom it invited
 * or was invited by: the invite or the store names it). now is the current
 * time, max_age the oldest bundle accepted (BC_PREKEY_DEFAULT_MAX_AGE
 * unless the application knows better). Checks, in this order:
 *   BC_ERR_INVALID    out or expected NULL
 *   BC_ERR_VERSION    the bundle's version byte is not 1
 *   BC_ERR_MALFORMED  wrong length (truncated or trailing bytes), spk_id 0
 *   BC_ERR_VERSION    the identity's version byte is not 1
 *   BC_ERR_AUTH       the identity's key or certificate is bad, the
 *                     identity is not *expected, spk_pub fails
 *                     bc_x25519_check_public, or spk_sig does not verify
 *   BC_ERR_STATE      now - created > max_age (stale: the owner has not
 *                     rotated, or the relay serves an old blob), or
 *                     created - now > BC_PREKEY_MAX_FUTURE
 * *out is set only on success; a bundle is usable by bc_x3dh_initiate only
 * if it came from here.
 */
int bc_prekey_bundle_parse(bc_prekey_bundle *out, const uint8_t *in, size_t len,
			   const bc_identity_pub *expected, uint64_t now,
			   uint64_t max_age) BC_MUST_CHECK;

/* The 37-byte encoding of o. BC_ERR_INVALID on NULL. */
int bc_prekey_onetime_encode(const bc_prekey_onetime *o,
			     uint8_t out[static BC_PREKEY_ONETIME_LEN]) BC_MUST_CHECK;

/* Parse the one-time blob in[0..len): BC_ERR_MALFORMED (length, or id 0),
 * BC_ERR_VERSION, BC_ERR_AUTH (opk_pub fails bc_x25519_check_public).
 * Nothing else can be checked: the blob is unsigned (docs/PROTOCOL.md §12
 * §3.2 says what a relay substituting it can and cannot do). */
int bc_prekey_onetime_parse(bc_prekey_onetime *out, const uint8_t *in,
			    size_t len) BC_MUST_CHECK;

/* How many one-time prekeys to generate and upload when the relay reports
 * that it holds relay_remaining of them (PREKEY_PUT / OPEN responses):
 * 0 while relay_remaining >= BC_PREKEY_LOW_WATER, else enough to reach
 * BC_PREKEY_TARGET. Never more than BC_PREKEY_MAX_BATCH. */
size_t bc_prekey_wanted(uint32_t relay_remaining);

/* ---- the owner's supply --------------------------------------------------- */

typedef struct bc_prekey_supply bc_prekey_supply;

/* A new supply for identity id with a fresh signed prekey (id 1, created
 * now) and no one-time prekeys. Free with bc_prekey_supply_free.
 * BC_ERR_INVALID, BC_ERR_NOMEM, BC_ERR_CRYPTO. *out is set only on
 * success. */
int bc_prekey_supply_new(bc_prekey_supply **out, const bc_identity *id,
			 uint64_t now) BC_MUST_CHECK;

/* Wipe every secret and free. NULL is ignored. */
void bc_prekey_supply_free(bc_prekey_supply *s);

/* The signed blob to upload (PREKEY_PUT with has_signed): the current
 * signed prekey with the owner's public identity. */
int bc_prekey_supply_bundle(const bc_prekey_supply *s,
			    uint8_t out[static BC_PREKEY_BUNDLE_LEN]) BC_MUST_CHECK;

/* Accessors (s must not be NULL). The owner's public identity (the one
 * the supply was created for): */
const bc_identity_pub *bc_prekey_supply_owner(const bc_prekey_supply *s);

/* Id and creation time of the current signed prekey. */
uint32_t bc_prekey_supply_spk_id(const bc_prekey_supply *s);
uint64_t bc_prekey_supply_spk_created(const bc_prekey_supply *s);

/*
 * Replace the current signed prekey by a new one (id + 1, created now,
 * signed with id, which must be the supply's owner: else BC_ERR_INVALID).
 * The replaced one becomes the previous one, kept (for messages in flight)
 * until bc_prekey_supply_expire drops it; a previous one still held is
 * dropped now, with its replay-cache entries. Upload the new bundle
 * afterwards. BC_ERR_STATE when the ids are exhausted, BC_ERR_CRYPTO.
 * On failure s is unchanged.
 */
int bc_prekey_supply_rotate(bc_prekey_supply *s, const bc_identity *id,
			    uint64_t now) BC_MUST_CHECK;

/* Drop (wiping) the previous signed prekey and its replay-cache entries if
 * it was replaced at least grace seconds before now. Returns true if
 * something was dropped. Cannot fail. */
bool bc_prekey_supply_expire(bc_prekey_supply *s, uint64_t now, uint64_t grace);

/* The periodic chore: expire with BC_PREKEY_GRACE, then rotate if the
 * current signed prekey is BC_PREKEY_ROTATE_INTERVAL old. *rotated (may be
 * NULL) tells whether the bundle changed and must be uploaded again. Call
 * it after processing the mailbox, not before, so that waiting initial
 * messages still find their prekeys. Errors of bc_prekey_supply_rotate. */
int bc_prekey_supply_maintain(bc_prekey_supply *s, const bc_identity *id, uint64_t now,
			      bool *rotated) BC_MUST_CHECK;

/*
 * Generate n (1..BC_PREKEY_MAX_BATCH) one-time prekeys with the next ids
 * and write their blobs to blobs[0..n) for upload (PREKEY_PUT). If more
 * than BC_PREKEY_MAX_ONETIME would then be held, the oldest are dropped
 * (wiped) first: with the relay's FIFO they are the ones handed out longest
 * ago and never used, or lost. BC_ERR_INVALID, BC_ERR_STATE (ids
 * exhausted), BC_ERR_CRYPTO. On failure s is unchanged and blobs zeroed.
 */
int bc_prekey_supply_add_onetime(bc_prekey_supply *s, size_t n,
				 uint8_t (*blobs)[BC_PREKEY_ONETIME_LEN]) BC_MUST_CHECK;

/* Number of one-time private keys held. */
size_t bc_prekey_supply_onetime_count(const bc_prekey_supply *s);

/* ---- lookups used by x3dh.c ------------------------------------------------ */

/* Copy the key pair of the signed prekey spk_id (current, or previous
 * while held) to priv / pub; the caller wipes priv. BC_ERR_NOTFOUND. */
int bc_prekey_supply_find_spk(const bc_prekey_supply *s, uint32_t spk_id,
			      uint8_t priv[static BC_PREKEY_KEY_LEN],
			      uint8_t pub[static BC_PREKEY_KEY_LEN]) BC_MUST_CHECK;

/* Copy the private key of one-time prekey opk_id to priv (caller wipes).
 * BC_ERR_NOTFOUND if it was never issued, was used, or was dropped. */
int bc_prekey_supply_find_onetime(const bc_prekey_supply *s, uint32_t opk_id,
				  uint8_t priv[static BC_PREKEY_KEY_LEN]) BC_MUST_CHECK;

/* Delete (wipe) one-time prekey opk_id: after this no initial message
 * that used it can be opened again. BC_ERR_NOTFOUND. */
int bc_prekey_supply_delete_onetime(bc_prekey_supply *s, uint32_t opk_id) BC_MUST_CHECK;

/* The replay cache: tags of initial messages accepted without a one-time
 * prekey, per signed prekey (x3dh.c computes the tag).
 * check: BC_OK if tag may be added, BC_ERR_REPLAY if it is present,
 * BC_ERR_NOTFOUND if spk_id is not held, BC_ERR_QUOTA if the cache holds
 * BC_PREKEY_REPLAY_MAX entries (new sessions without a one-time prekey are
 * refused, never is an entry forgotten, until a rotation plus
 * BC_PREKEY_GRACE frees the entries of the old signed prekey).
 * add: check, then insert. */
int bc_prekey_supply_replay_check(const bc_prekey_supply *s, uint32_t spk_id,
				  const uint8_t tag[static BC_PREKEY_REPLAY_TAG_LEN]) BC_MUST_CHECK;
int bc_prekey_supply_replay_add(bc_prekey_supply *s, uint32_t spk_id,
				const uint8_t tag[static BC_PREKEY_REPLAY_TAG_LEN]) BC_MUST_CHECK;
size_t bc_prekey_supply_replay_count(const bc_prekey_supply *s);

/* ---- serialisation (for the client store; holds secrets) ------------------ */

/* Encode the whole supply (docs/PROTOCOL.md §12.3.5) into a new buffer;
 * the caller stores it encrypted and frees it with
 * bc_free_secret(*out, *outlen). BC_ERR_INVALID, BC_ERR_NOMEM. */
int bc_prekey_supply_serialize(const bc_prekey_supply *s, uint8_t **out,
			       size_t *outlen) BC_MUST_CHECK;

/* Decode into a new supply. Strict and canonical (serialize(deserialize(x))
 * == x): BC_ERR_VERSION, BC_ERR_MALFORMED (truncated, trailing, ids not
 * increasing, replay entries unsorted or for a prekey not held), BC_ERR_TOOBIG
 * (over the bounds), BC_ERR_AUTH (owner certificate or a prekey signature
 * does not verify, or a private key gives an unusable public key),
 * BC_ERR_NOMEM. *out is set only on success. */
int bc_prekey_supply_deserialize(bc_prekey_supply **out, const uint8_t *in,
				 size_t len) BC_MUST_CHECK;

/* ---- TEST ONLY: deterministic keys ----------------------------------------
 *
 * Never outside tests, vectors and fuzzers. With a hook, every prekey
 * private key (signed, at creation and rotation; one-time) comes from
 * fn(ctx, priv) instead of randombytes_buf, in the order the keys are
 * made; a non-zero return fails the operation with BC_ERR_CRYPTO. The hook
 * stays with the supply (not serialised). */
typedef int (*bc_prekey_test_rng_fn)(void *ctx, uint8_t priv[BC_PREKEY_KEY_LEN]);
int bc_prekey_supply_new_test(bc_prekey_supply **out, const bc_identity *id, uint64_t now,
			      bc_prekey_test_rng_fn fn, void *ctx) BC_MUST_CHECK;

#endif
