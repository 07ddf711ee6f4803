/*
 * ratchet.h - the Double Ratchet with header encryption.
 *
 * Signal's "The Double Ratchet Algorithm" (revision 1, 2016-11-20), §3 and
 * its header-encryption variant §4, with the algorithms of §5.2 and
 * Backchannel's own versioned labels. docs/PROTOCOL.md §13 specifies every
 * byte (KDF inputs, header, wire message, stored state) so that a second
 * implementation can interoperate; tests/vectors/gen_ratchet.py is one.
 *
 *   KDF_RK(rk, dh)  HKDF-SHA256(salt = rk, ikm = dh,
 *                   info = "backchannel v1 ratchet root", 96)
 *                   = rk' || ck || nhk
 *   KDF_CK(ck)      mk = HMAC-SHA256(ck, 0x01), ck' = HMAC-SHA256(ck, 0x02)
 *   body keys       HKDF-SHA256(salt = 32 zero bytes, ikm = mk,
 *                   info = "backchannel v1 ratchet message", 56)
 *                   = key || nonce
 *   message         0x01 || hnonce(24) || XChaCha20-Poly1305(hk, header(40),
 *                   ad = "backchannel v1 ratchet header") (56)
 *                   || XChaCha20-Poly1305(key, pt, ad = AD || enc_header)
 *
 * Lifecycle: bc_ratchet_new, then exactly one of bc_ratchet_init_initiator
 * / bc_ratchet_init_responder (or get a ready handle from
 * bc_ratchet_deserialize), then any number of encrypt / decrypt / expire /
 * serialize calls, then bc_ratchet_free. A handle is not thread-safe.
 *
 * Guarantees (the invariants of ratchet.c):
 *   - every failing call leaves the handle exactly as it was: decryption
 *     runs on a scratch copy and commits only after the body authenticated;
 *     a caller that serialises after every successful call and stores that
 *     together with the processed message never needs to roll back;
 *   - a message key is used for one message and then forgotten; chain keys
 *     are overwritten as they advance; nothing of a consumed message key
 *     stays in the state;
 *   - skipped message keys: at most BC_RATCHET_MAX_SKIP per step, at most
 *     BC_RATCHET_MAX_SKIPPED in total (oldest evicted first), none older than
 *     BC_RATCHET_MAX_AGE seconds is ever used, and each is deleted once used.
 */
#ifndef BC_RATCHET_H
#define BC_RATCHET_H

#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"

#define BC_RATCHET_KEYLEN 32          /* every key: X25519, root, chain, header */
#define BC_RATCHET_VERSION 1          /* first byte of every message */
#define BC_RATCHET_HEADER_LEN 40      /* dh_pub(32) || u32 pn || u32 n */
#define BC_RATCHET_ENC_HEADER_LEN 80  /* nonce(24) || header ciphertext(40+16) */
#define BC_RATCHET_TAGLEN 16
/* Bytes a message adds to its plaintext: version + encrypted header + tag. */
#define BC_RATCHET_OVERHEAD (1 + BC_RATCHET_ENC_HEADER_LEN + BC_RATCHET_TAGLEN)
/* Largest plaintext and associated data accepted (64 MiB minus overhead). */
#define BC_RATCHET_MAX_PLAINTEXT (((size_t)64 << 20) - BC_RATCHET_OVERHEAD)
#define BC_RATCHET_MAX_AD ((size_t)64 << 20)

/* Most message keys one received message may make us skip in one chain. */
#define BC_RATCHET_MAX_SKIP 1000u
/* Most skipped message keys held at once; beyond it the oldest go. */
#define BC_RATCHET_MAX_SKIPPED 2000u
/* Skipped message keys older than this (seconds) are dropped by decrypt. */
#define BC_RATCHET_MAX_AGE ((uint64_t)7 * 24 * 3600)

/* Version byte of bc_ratchet_serialize's output. */
#define BC_RATCHET_STATE_VERSION 1

typedef struct bc_ratchet bc_ratchet;

/* A new, uninitialised handle: the only valid calls on it are
 * bc_ratchet_test_set_rng, one bc_ratchet_init_* and bc_ratchet_free
 * (everything else returns BC_ERR_STATE). BC_ERR_NOMEM, BC_ERR_INVALID. */
int bc_ratchet_new(bc_ratchet **out) BC_MUST_CHECK;

/* Wipe every secret of r and free it. NULL is ignored. */
void bc_ratchet_free(bc_ratchet *r);

/* RatchetInitAliceHE (§4.3): the side that sends first. sk is the shared
 * secret of the key agreement, remote_ratchet_pub the responder's ratchet
 * public key (its signed prekey), shared_hka / shared_nhkb the two shared
 * header keys. Generates the first ratchet key pair. The inputs are copied;
 * the caller wipes its own copies.
 * BC_ERR_STATE if r is already initialised; BC_ERR_AUTH if the DH output is
 * all zeros (a low-order remote key); BC_ERR_CRYPTO if the randomness
 * source failed. On failure r stays uninitialised. */
int bc_ratchet_init_initiator(bc_ratchet *r, const uint8_t sk[static BC_RATCHET_KEYLEN],
			      const uint8_t remote_ratchet_pub[static BC_RATCHET_KEYLEN],
			      const uint8_t shared_hka[static BC_RATCHET_KEYLEN],
			      const uint8_t shared_nhkb[static BC_RATCHET_KEYLEN]) BC_MUST_CHECK;

/* RatchetInitBobHE (§4.3): the side that answers. own_ratchet_priv is the
 * X25519 private key of the signed prekey the initiator used (its public key
 * is derived from it). The responder can send only after it has decrypted a
 * first message (bc_ratchet_encrypt returns BC_ERR_STATE until then). Same
 * errors as bc_ratchet_init_initiator except BC_ERR_AUTH. */
int bc_ratchet_init_responder(bc_ratchet *r, const uint8_t sk[static BC_RATCHET_KEYLEN],
			      const uint8_t own_ratchet_priv[static BC_RATCHET_KEYLEN],
			      const uint8_t shared_hka[static BC_RATCHET_KEYLEN],
			      const uint8_t shared_nhkb[static BC_RATCHET_KEYLEN]) BC_MUST_CHECK;

/* RatchetEncryptHE: encrypt pt[0..ptlen) bound to ad[0..adlen) (ad may be
 * NULL when adlen is 0; pt may be NULL when ptlen is 0). On success *out is a
 * new buffer of *outlen = ptlen + BC_RATCHET_OVERHEAD bytes (free with
 * bc_free) and the sending chain has advanced by one.
 * Errors (r unchanged, *out untouched): BC_ERR_INVALID, BC_ERR_STATE (not
 * initialised, a responder that has not received yet, or 2^32 - 1 messages
 * sent in this chain), BC_ERR_TOOBIG (ptlen > BC_RATCHET_MAX_PLAINTEXT or
 * adlen > BC_RATCHET_MAX_AD), BC_ERR_NOMEM, BC_ERR_CRYPTO. */
int bc_ratchet_encrypt(bc_ratchet *r, const uint8_t *ad, size_t adlen, const uint8_t *pt,
		       size_t ptlen, uint8_t **out, size_t *outlen) BC_MUST_CHECK;

/* RatchetDecryptHE: decrypt msg[0..mlen) bound to ad[0..adlen). now is the
 * current time in seconds (any monotonic-enough clock; it stamps newly
 * skipped keys and expires those older than BC_RATCHET_MAX_AGE). On success
 * *pt is a new buffer of *ptlen = mlen - BC_RATCHET_OVERHEAD bytes (it holds
 * a plaintext: free with bc_free_secret(*pt, *ptlen)) and the state has
 * advanced. On failure r is bit-for-bit unchanged and *pt, *ptlen untouched:
 *   BC_ERR_MALFORMED  shorter than BC_RATCHET_OVERHEAD, or a version byte
 *                     other than BC_RATCHET_VERSION;
 *   BC_ERR_TOOBIG     a plaintext or AD above the caps;
 *   BC_ERR_AUTH       no held header key opens the header (forged, another
 *                     session, or a message whose keys are gone for good),
 *                     the body does not authenticate, or the DH output is
 *                     all zeros;
 *   BC_ERR_REPLAY     the header authenticates under a header key of this
 *                     session but its message key is no longer held: it was
 *                     consumed already (a replay), or it was skipped and has
 *                     since expired or been evicted;
 *   BC_ERR_QUOTA      accepting it would skip more than BC_RATCHET_MAX_SKIP
 *                     message keys in one chain (or the counter would wrap);
 *   BC_ERR_STATE, BC_ERR_INVALID, BC_ERR_NOMEM, BC_ERR_CRYPTO. */
int bc_ratchet_decrypt(bc_ratchet *r, const uint8_t *ad, size_t adlen, const uint8_t *msg,
		       size_t mlen, uint64_t now, uint8_t **pt, size_t *ptlen) BC_MUST_CHECK;

/* Delete (wiping) every skipped message key stored more than max_age
 * seconds before now; keys stamped after now are kept. Returns how many
 * were deleted (0 for a NULL or uninitialised r). Cannot fail. */
size_t bc_ratchet_expire(bc_ratchet *r, uint64_t now, uint64_t max_age);

/* Number of skipped message keys currently held (0 for NULL). */
size_t bc_ratchet_skipped_count(const bc_ratchet *r);

/* Encode the whole state (docs/PROTOCOL.md §13.6) into a new buffer. It
 * holds every secret of the session: the caller stores it encrypted and
 * frees it with bc_free_secret(*out, *outlen). BC_ERR_STATE if r is not
 * initialised, BC_ERR_INVALID, BC_ERR_NOMEM. */
int bc_ratchet_serialize(const bc_ratchet *r, uint8_t **out, size_t *outlen) BC_MUST_CHECK;

/* Decode a state written by bc_ratchet_serialize into a new ready handle
 * (free with bc_ratchet_free). Strict and canonical: exactly one encoding
 * per state is accepted, so serialize(deserialize(x)) == x.
 * BC_ERR_VERSION (unknown state version), BC_ERR_MALFORMED (truncated,
 * trailing bytes, unknown flags, inconsistent fields), BC_ERR_TOOBIG (more
 * than BC_RATCHET_MAX_SKIPPED skipped keys), BC_ERR_NOMEM, BC_ERR_INVALID.
 * *out is set only on success. */
int bc_ratchet_deserialize(bc_ratchet **out, const uint8_t *in, size_t len) BC_MUST_CHECK;

/* ---- the three KDFs, exposed for the known-answer tests ------------------ */

/* KDF_RK: (out_rk, out_ck, out_nhk) from rk and a DH output. out_rk may
 * alias rk. BC_OK or BC_ERR_CRYPTO (outputs then zeroed). */
int bc_ratchet_kdf_rk(const uint8_t rk[static BC_RATCHET_KEYLEN],
		      const uint8_t dh_out[static BC_RATCHET_KEYLEN],
		      uint8_t out_rk[static BC_RATCHET_KEYLEN],
		      uint8_t out_ck[static BC_RATCHET_KEYLEN],
		      uint8_t out_nhk[static BC_RATCHET_KEYLEN]) BC_MUST_CHECK;

/* KDF_CK: the next chain key and the message key. out_ck may alias ck. */
int bc_ratchet_kdf_ck(const uint8_t ck[static BC_RATCHET_KEYLEN],
		      uint8_t out_ck[static BC_RATCHET_KEYLEN],
		      uint8_t out_mk[static BC_RATCHET_KEYLEN]) BC_MUST_CHECK;

/* The XChaCha20-Poly1305 key and nonce of a message body, from its mk. */
int bc_ratchet_body_keys(const uint8_t mk[static BC_RATCHET_KEYLEN],
			 uint8_t key[static BC_RATCHET_KEYLEN], uint8_t nonce[static 24]) BC_MUST_CHECK;

/* ---- TEST ONLY: deterministic randomness ----------------------------------
 *
 * Never use outside tests, vectors and fuzzers: a predictable ratchet key
 * or a repeated header nonce destroys the security of the session.
 *
 * The ratchet draws randomness for two things only: the private key of each
 * new ratchet key pair (kind BC_RATCHET_RNG_DH, 32 bytes, used as an X25519
 * scalar as is) and the nonce of each encrypted header (kind
 * BC_RATCHET_RNG_NONCE, 24 bytes). With a hook installed both come from
 * fn(ctx, kind, buf, len) instead of randombytes_buf; a non-zero return
 * fails the operation with BC_ERR_CRYPTO (state unchanged). The hook is per
 * handle, is not serialised, and a failed decrypt may have drawn from it. */
enum {
	BC_RATCHET_RNG_DH = 1,
	BC_RATCHET_RNG_NONCE = 2,
};
typedef int (*bc_ratchet_test_rng_fn)(void *ctx, int kind, uint8_t *buf, size_t len);
/* Install (fn != NULL) or remove (fn == NULL) the hook. Call it before
 * bc_ratchet_init_* for the initiator's first key pair to be covered. */
void bc_ratchet_test_set_rng(bc_ratchet *r, bc_ratchet_test_rng_fn fn, void *ctx);

#endif
