/*
 * identity.h - long-term identities: an Ed25519 signing key and an X25519
 * DH key certified by it; fingerprints and safety numbers; export and
 * import of public identities.
 *
 * docs/PROTOCOL.md §12.2 specifies every byte; in short (labels are ASCII
 * without terminator, integers big-endian, layouts in the codec of codec.h):
 *
 *   cert_sig     Ed25519(sign_sk, "backchannel v1 identity cert" || dh_pub)
 *   public       u8 version (1) || fixed[32] sign_pub || fixed[32] dh_pub
 *                || fixed[64] cert_sig                      (129 bytes)
 *   private      u8 version (1) || fixed[32] sign_seed || fixed[32] dh_priv
 *                                                            (65 bytes)
 *   export       b32c of the public encoding, kind "bcid"
 *   fingerprint  BLAKE2b-256("backchannel v1 fingerprint" || sign_pub
 *                || dh_pub), shown as 64 hex digits in 16 groups of 4
 *   safety no.   per identity: h0 = BLAKE2b-512("backchannel v1 safety
 *                number" || sign_pub || dh_pub), then 5200 times
 *                h = BLAKE2b-512(h || sign_pub || dh_pub); the first 30
 *                bytes as six 5-byte big-endian numbers, each mod 100000,
 *                give 30 digits. The pair's number is the two 30-digit
 *                halves, the one of the identity with the smaller
 *                fingerprint (memcmp order) first: 60 digits, shown in 12
 *                groups of 5. Both sides therefore see the same string.
 *
 * Invariants:
 *   - a bc_identity_pub obtained from this module (decode, import, or
 *     bc_identity_from_seed / _generate) always has a valid certificate and
 *     an X25519 key that passes bc_x25519_check_public: nothing downstream
 *     re-checks them;
 *   - the private parts of a bc_identity live only in its struct; callers
 *     wipe it with bc_identity_wipe on every path (the struct may live on
 *     the stack or in sodium_malloc'ed memory, as the caller prefers);
 *   - outputs are written only on success, except that a failing call
 *     leaves a bc_identity output wiped.
 */
#ifndef BC_IDENTITY_H
#define BC_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"
#include "codec.h"

#define BC_IDENTITY_VERSION 1
#define BC_IDENTITY_SIGN_PUB_LEN 32  /* crypto_sign_PUBLICKEYBYTES */
#define BC_IDENTITY_SIGN_SK_LEN 64   /* crypto_sign_SECRETKEYBYTES */
#define BC_IDENTITY_SEED_LEN 32      /* crypto_sign_SEEDBYTES */
#define BC_IDENTITY_DH_LEN 32        /* X25519 public and private keys */
#define BC_IDENTITY_SIG_LEN 64       /* crypto_sign_BYTES */
/* Encoded public identity: version + sign_pub + dh_pub + cert_sig. */
#define BC_IDENTITY_PUBLIC_LEN (1 + 32 + 32 + 64)
/* Encoded private identity: version + sign_seed + dh_priv. */
#define BC_IDENTITY_PRIVATE_LEN (1 + 32 + 32)
/* b32c kind of an exported public identity. */
#define BC_IDENTITY_B32C_PREFIX "bcid"

#define BC_IDENTITY_CERT_LABEL "backchannel v1 identity cert"
#define BC_FINGERPRINT_LABEL "backchannel v1 fingerprint"
#define BC_SAFETY_LABEL "backchannel v1 safety number"

#define BC_FINGERPRINT_LEN 32
/* "abcd abcd ... abcd": 16 groups of 4 hex digits, 15 spaces, NUL. */
#define BC_FINGERPRINT_TEXT_SIZE (64 + 15 + 1)
#define BC_SAFETY_ITERATIONS 5200
#define BC_SAFETY_DIGITS 60
/* "12345 12345 ... 12345": 12 groups of 5 digits, 11 spaces, NUL. */
#define BC_SAFETY_TEXT_SIZE (60 + 11 + 1)

/* A public identity. Obtain it only from this module (see invariants). */
typedef struct bc_identity_pub {
	uint8_t sign_pub[BC_IDENTITY_SIGN_PUB_LEN];
	uint8_t dh_pub[BC_IDENTITY_DH_LEN];
	uint8_t cert_sig[BC_IDENTITY_SIG_LEN];
} bc_identity_pub;

/* A full identity (holds secrets: wipe with bc_identity_wipe). sign_sk is
 * libsodium's 64-byte form (seed || sign_pub). */
typedef struct bc_identity {
	bc_identity_pub pub;
	uint8_t sign_sk[BC_IDENTITY_SIGN_SK_LEN];
	uint8_t dh_priv[BC_IDENTITY_DH_LEN];
} bc_identity;

/* ---- X25519 public keys ------------------------------------------------- */

/* BC_OK iff pub is an X25519 public key we accept from anyone: its top bit
 * is clear, it is canonical (u < 2^255 - 19), and it is not of small order
 * (the all-zero key included). Otherwise BC_ERR_AUTH. Every parser of this
 * module, prekey.c and x3dh.c applies it to every X25519 key it reads, so
 * that each accepted key has exactly one encoding (the replay cache of
 * x3dh.c relies on that) and no DH with it can give a predictable result. */
int bc_x25519_check_public(const uint8_t pub[static 32]) BC_MUST_CHECK;

/* ---- creating and wiping -------------------------------------------------- */

/* A new random identity. BC_ERR_CRYPTO if libsodium fails (id wiped). */
int bc_identity_generate(bc_identity *id) BC_MUST_CHECK;

/* The identity determined by sign_seed (the Ed25519 seed) and dh_priv (an
 * X25519 private key, used as is; X25519 clamps it). Deterministic: used by
 * bc_identity_decode_private and by the known-answer tests. A dh_priv
 * whose public key is unusable is BC_ERR_CRYPTO. On failure id is wiped. */
int bc_identity_from_seed(bc_identity *id, const uint8_t sign_seed[static BC_IDENTITY_SEED_LEN],
			  const uint8_t dh_priv[static BC_IDENTITY_DH_LEN]) BC_MUST_CHECK;

/* Wipe every byte of id (public part included). NULL is ignored. */
void bc_identity_wipe(bc_identity *id);

/* Copy the public part of id into *out. */
void bc_identity_public(const bc_identity *id, bc_identity_pub *out);

/* true iff a and b name the same identity (same sign_pub and dh_pub; the
 * certificates are then equal too, Ed25519 signatures being deterministic,
 * but they are not compared). */
bool bc_identity_equal(const bc_identity_pub *a, const bc_identity_pub *b);

/* ---- public encoding ------------------------------------------------------ */

/* Append the 129-byte public encoding of p to w (sticky codec error). */
int bc_identity_write_public(bc_wr *w, const bc_identity_pub *p);

/* Read a public identity from r and verify it: BC_ERR_MALFORMED (short:
 * the reader's sticky error), BC_ERR_VERSION (version byte not 1),
 * BC_ERR_AUTH (dh_pub fails bc_x25519_check_public, or the certificate
 * does not verify). On error r's sticky error is set to the same code and
 * *out is zeroed. Does not require the reader to end. */
int bc_identity_read_public(bc_rd *r, bc_identity_pub *out) BC_MUST_CHECK;

/* The canonical 129-byte encoding. BC_ERR_INVALID on NULL arguments. */
int bc_identity_encode_public(const bc_identity_pub *p,
			      uint8_t out[static BC_IDENTITY_PUBLIC_LEN]) BC_MUST_CHECK;

/* Decode and verify exactly len bytes (bc_identity_read_public's errors,
 * plus BC_ERR_MALFORMED for trailing bytes). *out is set only on success. */
int bc_identity_decode_public(bc_identity_pub *out, const uint8_t *in, size_t len) BC_MUST_CHECK;

/* The b32c string (kind "bcid") of p, for people to copy and compare. On
 * success *out is a new NUL-terminated string (bc_free). BC_ERR_NOMEM,
 * BC_ERR_INVALID, BC_ERR_CRYPTO; *out is NULL on error. */
int bc_identity_export(const bc_identity_pub *p, char **out) BC_MUST_CHECK;

/* Parse a string made by bc_identity_export (bc_b32c_decode's leniency on
 * case and separators applies). Errors: those of bc_b32c_decode
 * (BC_ERR_INVALID for a string of another kind, BC_ERR_MALFORMED,
 * BC_ERR_TOOBIG, BC_ERR_CHECKSUM for a typo, BC_ERR_NOMEM), then those of
 * bc_identity_decode_public. *out is set only on success. */
int bc_identity_import(bc_identity_pub *out, const char *s) BC_MUST_CHECK;

/* ---- private encoding (for the client store; holds secrets) --------------- */

/* The 65-byte private encoding of id; the caller wipes out after use. */
int bc_identity_encode_private(const bc_identity *id,
			       uint8_t out[static BC_IDENTITY_PRIVATE_LEN]) BC_MUST_CHECK;

/* Decode exactly len bytes written by bc_identity_encode_private and
 * rebuild the identity (keys derived, certificate re-signed).
 * BC_ERR_MALFORMED (length), BC_ERR_VERSION, BC_ERR_CRYPTO. On failure id
 * is wiped. */
int bc_identity_decode_private(bc_identity *id, const uint8_t *in, size_t len) BC_MUST_CHECK;

/* ---- comparing out of band ------------------------------------------------ */

/* The 32-byte fingerprint of p. */
int bc_identity_fingerprint(const bc_identity_pub *p,
			    uint8_t out[static BC_FINGERPRINT_LEN]) BC_MUST_CHECK;

/* The fingerprint as text: 16 groups of 4 lower-case hex digits separated
 * by single spaces, NUL-terminated. */
int bc_identity_fingerprint_text(const bc_identity_pub *p,
				 char out[static BC_FINGERPRINT_TEXT_SIZE]) BC_MUST_CHECK;

/* The safety number of the pair (a, b) as 12 groups of 5 digits separated
 * by single spaces, NUL-terminated. Symmetric: (a, b) and (b, a) give the
 * same string. BC_ERR_INVALID on NULL arguments, BC_ERR_CRYPTO. */
int bc_identity_safety_number(const bc_identity_pub *a, const bc_identity_pub *b,
			      char out[static BC_SAFETY_TEXT_SIZE]) BC_MUST_CHECK;

#endif
