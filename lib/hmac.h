/*
 * hmac.h - hashes, HMAC (RFC 2104) and HKDF (RFC 5869) over libsodium.
 *
 * Three hash functions are offered, named by bc_hash_alg: SHA-256 and
 * SHA-512 (crypto_hash_sha256/512) and unkeyed BLAKE2b with a 64-byte digest
 * (crypto_generichash). On top of each, HMAC is the textbook RFC 2104
 * construction H((K0 ^ opad) || H((K0 ^ ipad) || m)) with the hash's block
 * length B (64 for SHA-256, 128 for SHA-512 and BLAKE2b). HMAC-BLAKE2b is
 * therefore what the Noise Protocol Framework calls HMAC-HASH for BLAKE2b;
 * it is NOT libsodium's keyed BLAKE2b, which is a different function.
 * HKDF is RFC 5869 extract-then-expand built on that HMAC.
 *
 * Invariants:
 *   - every function returns BC_OK or a negative bc_err and never aborts;
 *   - every intermediate that depends on a key (padded key blocks, inner
 *     digests, PRKs, T(i) blocks, hash states) is wiped before return, on
 *     success and failure alike;
 *   - outputs are written only on success; the one exception is a
 *     bc_hkdf_expand / bc_hkdf that fails part-way (a libsodium failure),
 *     which leaves out[0..outlen) zeroed, never partial key material;
 *     argument errors (BC_ERR_INVALID) write nothing at all;
 *   - lengths are size_t end to end; nothing is truncated silently.
 *
 * The state structs below contain libsodium hash states, which require
 * 64-byte alignment for BLAKE2b: declare them as automatic variables (the
 * compiler aligns them) rather than inside plain malloc'ed memory.
 */
#ifndef BC_HMAC_H
#define BC_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "backchannel/error.h"

typedef enum bc_hash_alg {
	BC_HASH_SHA256 = 1,
	BC_HASH_SHA512 = 2,
	BC_HASH_BLAKE2B = 3,
} bc_hash_alg;

/* The largest digest (and HMAC tag) length of any bc_hash_alg. */
#define BC_HASH_MAXLEN 64
/* The largest block length of any bc_hash_alg. */
#define BC_HASH_MAXBLOCK 128

/* Digest length in bytes of a (32, 64, 64), or 0 for an unknown value. */
size_t bc_hash_len(bc_hash_alg a);
/* Block length in bytes of a (64, 128, 128), or 0 for an unknown value. */
size_t bc_hash_blocklen(bc_hash_alg a);

/* ---- plain hashing -------------------------------------------------------- */

typedef struct bc_hash_state {
	union {
		crypto_hash_sha256_state sha256;
		crypto_hash_sha512_state sha512;
		crypto_generichash_state blake2b;
	} u;
	bc_hash_alg alg;
} bc_hash_state;

/* Start hashing with algorithm a. BC_ERR_INVALID for an unknown a or a NULL
 * st; BC_ERR_CRYPTO if libsodium fails. On failure *st is wiped. */
int bc_hash_init(bc_hash_state *st, bc_hash_alg a) BC_MUST_CHECK;
/* Absorb len bytes at in (in may be NULL when len is 0). On failure the
 * state is wiped and must not be used again except with bc_hash_wipe. */
int bc_hash_update(bc_hash_state *st, const uint8_t *in, size_t len) BC_MUST_CHECK;
/* Write bc_hash_len(st->alg) bytes to out and wipe the state (always,
 * success or failure). */
int bc_hash_final(bc_hash_state *st, uint8_t *out) BC_MUST_CHECK;
/* Wipe a state that will not be finalised (safe on any state). */
void bc_hash_wipe(bc_hash_state *st);

/* One-shot: out = H(in), bc_hash_len(a) bytes. BC_ERR_INVALID for an
 * unknown a or a NULL out (or NULL in with inlen > 0). */
int bc_hash(bc_hash_alg a, const uint8_t *in, size_t inlen, uint8_t *out) BC_MUST_CHECK;

/* ---- HMAC ----------------------------------------------------------------- */

typedef struct bc_hmac_state {
	bc_hash_state inner; /* H((K0 ^ ipad) || ...) in progress */
	bc_hash_state outer; /* H((K0 ^ opad) || ...), awaiting the inner digest */
} bc_hmac_state;

/* Start an HMAC under key[0..keylen) (any length; keys longer than the block
 * are hashed first, as RFC 2104 says). key may be NULL when keylen is 0.
 * BC_ERR_INVALID for an unknown a or NULL arguments; on failure *st is
 * wiped. */
int bc_hmac_init(bc_hmac_state *st, bc_hash_alg a, const uint8_t *key, size_t keylen) BC_MUST_CHECK;
/* Absorb msg[0..msglen) (msg may be NULL when msglen is 0). On failure the
 * state is wiped. */
int bc_hmac_update(bc_hmac_state *st, const uint8_t *msg, size_t msglen) BC_MUST_CHECK;
/* Write the bc_hash_len(a)-byte tag to out and wipe the state (always). */
int bc_hmac_final(bc_hmac_state *st, uint8_t *out) BC_MUST_CHECK;
/* Wipe a state that will not be finalised. */
void bc_hmac_wipe(bc_hmac_state *st);

/* One-shot HMAC: out = HMAC-H(key, msg), bc_hash_len(a) bytes. out may
 * alias key or msg (it is written only at the end). */
int bc_hmac(bc_hash_alg a, const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen,
	    uint8_t *out) BC_MUST_CHECK;

/* ---- HKDF (RFC 5869) ----------------------------------------------------- */

/* PRK = HMAC-H(salt, ikm), bc_hash_len(a) bytes. A NULL/empty salt means
 * HashLen zero bytes (which is the same HMAC key as the empty string). */
int bc_hkdf_extract(bc_hash_alg a, const uint8_t *salt, size_t saltlen, const uint8_t *ikm,
		    size_t ikmlen, uint8_t *prk) BC_MUST_CHECK;

/* OKM = T(1) || T(2) || ... truncated to outlen bytes, where
 * T(i) = HMAC-H(PRK, T(i-1) || info || i). prklen must be at least
 * bc_hash_len(a) (RFC 5869 §2.3) and 1 <= outlen <= 255 * bc_hash_len(a);
 * otherwise BC_ERR_INVALID, with nothing written. out must not overlap prk
 * or info. A later failure (BC_ERR_CRYPTO) leaves out zeroed. */
int bc_hkdf_expand(bc_hash_alg a, const uint8_t *prk, size_t prklen, const uint8_t *info,
		   size_t infolen, uint8_t *out, size_t outlen) BC_MUST_CHECK;

/* Extract then expand; the PRK never leaves the function. Same limits and
 * failure behaviour as bc_hkdf_expand. */
int bc_hkdf(bc_hash_alg a, const uint8_t *salt, size_t saltlen, const uint8_t *ikm, size_t ikmlen,
	    const uint8_t *info, size_t infolen, uint8_t *out, size_t outlen) BC_MUST_CHECK;

#endif
