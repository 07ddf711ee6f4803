/*
 * x3dh.h - session setup: an X3DH-style key agreement (Signal's "The X3DH
 * Key Agreement Protocol", revision 1, 2016-11-04) with Backchannel's own
 * versioned labels, feeding the Double Ratchet with header encryption
 * (ratchet.h).
 *
 * docs/PROTOCOL.md §12.4 specifies every byte. Initiator A, responder B;
 * IK = the identity DH keys, SPK/OPK = B's signed / one-time prekey, EK =
 * A's fresh ephemeral key; labels ASCII without terminator:
 *
 *   DH1 = X25519(IK_A, SPK_B)   DH2 = X25519(EK_A, IK_B)
 *   DH3 = X25519(EK_A, SPK_B)   DH4 = X25519(EK_A, OPK_B)  (if an OPK)
 *   SK || HKA || NHKB = HKDF-SHA256(salt = 32 zero bytes,
 *       ikm = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4],
 *       info = "backchannel v1 x3dh", 96 bytes)
 *   AD = "backchannel v1 ad" || sign_pub_A || dh_pub_A || sign_pub_B
 *        || dh_pub_B                                        (145 bytes)
 *
 *   initial header (in clear in front of the first ratchet message):
 *     u8 version (1) || fixed[32] EK_A || u32 spk_id || bool has_opk
 *     || [u32 opk_id] || fixed[145] sealed_id
 *   sealed_id = ChaCha20-Poly1305-IETF(key = HKDF-SHA256(salt = 32 zero
 *       bytes, ikm = 0xFF * 32 || DH3, info = "backchannel v1 x3dh
 *       identity", 32), nonce = 12 zero bytes, ad = the header bytes before
 *       sealed_id, plaintext = A's public identity (129 bytes, identity.h))
 *
 * The identity of A travels encrypted to B's signed prekey, so the relay
 * that stores the header does not learn who opens a session with whom
 * (docs/PROTOCOL.md §12.4.3 explains this departure from sending it in
 * clear). The key is used once: EK_A is fresh for every header.
 *
 * Ratchet: the initiator calls bc_ratchet_init_initiator(sk, spk_pub, hka,
 * nhkb) and sends first; the responder calls bc_ratchet_init_responder(sk,
 * spk_priv, hka, nhkb). Both pass AD to every ratchet encrypt / decrypt.
 *
 * Responder in two phases, so that nothing is consumed by an initial
 * message that does not authenticate:
 *   1. bc_x3dh_respond: parse, look up the prekeys, compute the keys; the
 *      supply is read only;
 *   2. the caller initialises its ratchet and decrypts the first message
 *      with the keys; only if that succeeds
 *   3. bc_x3dh_commit: delete the one-time prekey, or (without one) record
 *      the header in the replay cache; then the caller saves the supply
 *      together with the new session, in one store transaction.
 * A replayed header is refused by respond (or, for two copies in flight at
 * once, by the second commit): with a one-time prekey as BC_ERR_NOTFOUND
 * (the key is gone: the replay cannot even be decrypted), without one as
 * BC_ERR_REPLAY (the cache), and once the signed prekey itself is dropped
 * as BC_ERR_NOTFOUND.
 *
 * Deniability: nothing here is signed. A's identity key enters only
 * through DH1, which B can compute alone; B can show no third party proof
 * that A took part.
 */
#ifndef BC_X3DH_H
#define BC_X3DH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"
#include "identity.h"
#include "prekey.h"

#define BC_X3DH_VERSION 1
#define BC_X3DH_KEY_LEN 32
#define BC_X3DH_INFO "backchannel v1 x3dh"
#define BC_X3DH_ID_INFO "backchannel v1 x3dh identity"
#define BC_X3DH_AD_LABEL "backchannel v1 ad"
#define BC_X3DH_REPLAY_LABEL "backchannel v1 x3dh replay"
#define BC_X3DH_AD_LEN (17 + 4 * 32)
#define BC_X3DH_SEALED_ID_LEN (BC_IDENTITY_PUBLIC_LEN + 16)
/* Header without / with a one-time prekey id. */
#define BC_X3DH_HEADER_MIN (1 + 32 + 4 + 1 + BC_X3DH_SEALED_ID_LEN)
#define BC_X3DH_HEADER_MAX (BC_X3DH_HEADER_MIN + 4)

/* What both sides get out of the agreement (holds secrets: wipe it with
 * bc_x3dh_keys_wipe once the ratchet is initialised). */
typedef struct bc_x3dh_keys {
	uint8_t sk[BC_X3DH_KEY_LEN];   /* the ratchet's root key */
	uint8_t hka[BC_X3DH_KEY_LEN];  /* shared_hka: A's first sending header key */
	uint8_t nhkb[BC_X3DH_KEY_LEN]; /* shared_nhkb: B's first sending header key */
	uint8_t ad[BC_X3DH_AD_LEN];    /* associated data of every ratchet message */
	uint8_t spk_pub[BC_X3DH_KEY_LEN]; /* B's signed prekey: A's first remote
					     ratchet key */
	bc_identity_pub peer;          /* the other side (for B: from the header) */
} bc_x3dh_keys;

void bc_x3dh_keys_wipe(bc_x3dh_keys *k);

/* ---- initiator -------------------------------------------------------------- */

/*
 * Agree on keys with the owner of bundle (which must come from
 * bc_prekey_bundle_parse, for the identity self means to reach), using the
 * one-time prekey opk when the relay handed one out (else NULL). Writes
 * *keys and the initial header to header[0..*header_len).
 * Errors: BC_ERR_INVALID (NULL argument), BC_ERR_AUTH (a DH output is all
 * zeros: a bundle or one-time key that was not parsed by prekey.c),
 * BC_ERR_CRYPTO. On failure *keys is wiped and *header_len is 0.
 */
int bc_x3dh_initiate(const bc_identity *self, const bc_prekey_bundle *bundle,
		     const bc_prekey_onetime *opk, bc_x3dh_keys *keys,
		     uint8_t header[static BC_X3DH_HEADER_MAX], size_t *header_len) BC_MUST_CHECK;

/* TEST ONLY (known-answer vectors, fuzzers): bc_x3dh_initiate with the
 * ephemeral private key given instead of drawn. A repeated ephemeral key
 * repeats the session keys: never use it elsewhere. */
int bc_x3dh_initiate_with_ephemeral(const bc_identity *self, const bc_prekey_bundle *bundle,
				    const bc_prekey_onetime *opk,
				    const uint8_t ek_priv[static BC_X3DH_KEY_LEN],
				    bc_x3dh_keys *keys, uint8_t header[static BC_X3DH_HEADER_MAX],
				    size_t *header_len) BC_MUST_CHECK;

/* ---- the initial header ------------------------------------------------------ */

typedef struct bc_x3dh_header {
	uint8_t ek_pub[BC_X3DH_KEY_LEN];
	uint32_t spk_id;
	bool has_opk;
	uint32_t opk_id; /* 0 unless has_opk */
	uint8_t sealed_id[BC_X3DH_SEALED_ID_LEN];
} bc_x3dh_header;

/* Parse exactly len bytes: BC_ERR_MALFORMED (length, a bool other than 0
 * or 1, a prekey id 0), BC_ERR_VERSION, BC_ERR_AUTH (ek_pub fails
 * bc_x25519_check_public). The sealed identity is opened by
 * bc_x3dh_respond, which needs the signed prekey. *h set only on success. */
int bc_x3dh_header_parse(bc_x3dh_header *h, const uint8_t *in, size_t len) BC_MUST_CHECK;

/* The canonical encoding of h into out[0..*len). BC_ERR_INVALID on NULL. */
int bc_x3dh_header_encode(const bc_x3dh_header *h, uint8_t out[static BC_X3DH_HEADER_MAX],
			  size_t *len) BC_MUST_CHECK;

/* The length of the header at the start of in[0..len) (the header is
 * self-delimiting: BC_X3DH_HEADER_MIN, plus 4 with a one-time prekey), for
 * a caller that sends header and first message back to back. Looks only at
 * the version and has_opk bytes: BC_ERR_MALFORMED (too short, bad bool),
 * BC_ERR_VERSION. */
int bc_x3dh_header_size(const uint8_t *in, size_t len, size_t *hlen) BC_MUST_CHECK;

/* ---- responder ----------------------------------------------------------------- */

/* Phase-1 result: the keys, the responder's ratchet key, and what commit
 * needs. Holds secrets: bc_x3dh_pending_wipe. */
typedef struct bc_x3dh_pending {
	bc_x3dh_keys keys;  /* keys.peer is the initiator's verified identity */
	uint8_t spk_priv[BC_X3DH_KEY_LEN]; /* for bc_ratchet_init_responder */
	uint32_t spk_id;
	bool has_opk;
	uint32_t opk_id;
	uint8_t replay_tag[BC_PREKEY_REPLAY_TAG_LEN];
} bc_x3dh_pending;

void bc_x3dh_pending_wipe(bc_x3dh_pending *p);

/*
 * Phase 1 for the owner self of supply s: process the initial header
 * in[0..len) and compute the keys into *p, changing nothing. The caller
 * then decides whether it wants a session with p->keys.peer (someone it
 * invited?) - this function only proves that the header was made by the
 * holder of that identity's keys or that the first message will not
 * decrypt. Errors, in this order (on failure *p is wiped):
 *   BC_ERR_INVALID    NULL argument, or self is not the supply's owner
 *   BC_ERR_MALFORMED, BC_ERR_VERSION, BC_ERR_AUTH   bc_x3dh_header_parse
 *   BC_ERR_NOTFOUND   spk_id not held (unknown, or dropped after rotation)
 *                     or opk_id not held (unknown, used: a replay, or
 *                     dropped)
 *   BC_ERR_REPLAY     no one-time prekey, and this header was committed
 *   BC_ERR_QUOTA      no one-time prekey, and the replay cache is full
 *   BC_ERR_AUTH       a DH output is all zeros, sealed_id does not open
 *                     (tampered, or not made for this signed prekey), or
 *                     the identity inside has a bad key or certificate
 *   BC_ERR_VERSION    the identity inside has another version
 *   BC_ERR_CRYPTO
 */
int bc_x3dh_respond(const bc_prekey_supply *s, const bc_identity *self, const uint8_t *in,
		    size_t len, bc_x3dh_pending *p) BC_MUST_CHECK;

/*
 * Phase 3, after the first ratchet message authenticated under p's keys:
 * delete the one-time prekey p used, or record p's header in the replay
 * cache. BC_ERR_INVALID (NULL, or p was not made for this supply's owner),
 * BC_ERR_NOTFOUND (the one-time prekey is gone: another copy of the header
 * was committed first), BC_ERR_REPLAY (the same, without a one-time
 * prekey), BC_ERR_QUOTA (replay cache full). If p's signed prekey has been
 * dropped in between, nothing needs recording (any copy of the header is
 * now refused as NOTFOUND) and BC_OK is returned. On failure the caller
 * must discard the session. s is unchanged on failure.
 */
int bc_x3dh_commit(bc_prekey_supply *s, const bc_x3dh_pending *p) BC_MUST_CHECK;

/* ---- the KDFs, exposed for the known-answer tests ------------------------------ */

/* SK, HKA, NHKB from the DH outputs (dh4 NULL without a one-time prekey).
 * BC_ERR_CRYPTO (outputs zeroed). */
int bc_x3dh_kdf(const uint8_t dh1[static 32], const uint8_t dh2[static 32],
		const uint8_t dh3[static 32], const uint8_t *dh4,
		uint8_t sk[static BC_X3DH_KEY_LEN], uint8_t hka[static BC_X3DH_KEY_LEN],
		uint8_t nhkb[static BC_X3DH_KEY_LEN]) BC_MUST_CHECK;

/* The key that seals A's identity in the header, from DH3. */
int bc_x3dh_identity_key(const uint8_t dh3[static 32],
			 uint8_t key[static BC_X3DH_KEY_LEN]) BC_MUST_CHECK;

/* AD for initiator a and responder b. */
int bc_x3dh_ad(const bc_identity_pub *a, const bc_identity_pub *b,
	       uint8_t ad[static BC_X3DH_AD_LEN]) BC_MUST_CHECK;

/* The replay-cache tag of a header: BLAKE2b-256("backchannel v1 x3dh
 * replay" || ek_pub || u32 spk_id). */
int bc_x3dh_replay_tag(const uint8_t ek_pub[static 32], uint32_t spk_id,
		       uint8_t tag[static BC_PREKEY_REPLAY_TAG_LEN]) BC_MUST_CHECK;

#endif
