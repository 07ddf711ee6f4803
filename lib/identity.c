/*
 * identity.c - long-term identities (Ed25519 + certified X25519),
 * fingerprints, safety numbers, and their encodings.
 *
 * Purpose: everything a client needs to hold an identity, show it to a
 * person, and accept someone else's. The formats are in identity.h and
 * docs/PROTOCOL.md §12.2; every byte layout is written and read with the
 * codec (codec.h), every hash is libsodium's (through hmac.h where it offers
 * the function).
 *
 * Invariants:
 *   - a public identity leaves bc_identity_read_public only if its version
 *     is 1, its dh_pub passes bc_x25519_check_public and its certificate
 *     verifies under its sign_pub; the order of the checks is fixed
 *     (version, length, key, signature) so that each input has one error;
 *   - key material (seeds, private keys, encodings of them) is held in
 *     automatic variables only for the duration of a call and wiped at the
 *     single exit of each function, on success and failure alike;
 *   - a bc_identity output is either fully valid or wiped.
 */
#include <string.h>

#include <sodium.h>

#include "encoding.h"
#include "hmac.h"
#include "identity.h"
#include "internal.h"

#define CERT_LABEL_LEN (sizeof(BC_IDENTITY_CERT_LABEL) - 1)
#define FP_LABEL_LEN (sizeof(BC_FINGERPRINT_LABEL) - 1)
#define SAFETY_LABEL_LEN (sizeof(BC_SAFETY_LABEL) - 1)
#define CERT_MSG_LEN (CERT_LABEL_LEN + BC_IDENTITY_DH_LEN)
#define FP_MSG_LEN (FP_LABEL_LEN + BC_IDENTITY_SIGN_PUB_LEN + BC_IDENTITY_DH_LEN)
#define SAFETY_MSG_LEN (SAFETY_LABEL_LEN + BC_IDENTITY_SIGN_PUB_LEN + BC_IDENTITY_DH_LEN)
#define SAFETY_HALF_DIGITS 30



/* ---- X25519 public keys ------------------------------------------------- */

/* Any scalar does: libsodium clamps it to a non-zero multiple of 8 below
 * the prime order of the curve and of its twist, so the product is the
 * identity (all-zero output, reported as -1) iff pub has small order. */
static const uint8_t probe_scalar[32] = {
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
};

int bc_x25519_check_public(const uint8_t pub[static 32])
{
	uint8_t q[crypto_scalarmult_BYTES];
	int err = BC_OK;

	if (pub[31] & 0x80) /* X25519 ignores the bit: a second encoding */
		return BC_ERR_AUTH;
	if (pub[31] == 0x7f && pub[0] >= 0xed) { /* u >= 2^255 - 19 ? */
		bool high = true;
		for (size_t i = 1; i < 31; i++)
			high = high && pub[i] == 0xff;
		if (high)
			return BC_ERR_AUTH;
	}
	if (crypto_scalarmult(q, probe_scalar, pub) != 0)
		err = BC_ERR_AUTH;
	sodium_memzero(q, sizeof(q));
	return err;
}

/* ---- certificates ---------------------------------------------------------- */

static int cert_message(const uint8_t dh_pub[static BC_IDENTITY_DH_LEN],
			uint8_t msg[static CERT_MSG_LEN])
{
	bc_wr w;

	bc_wr_init_fixed(&w, msg, CERT_MSG_LEN);
	bc_wr_raw(&w, BC_IDENTITY_CERT_LABEL, CERT_LABEL_LEN);
	bc_wr_raw(&w, dh_pub, BC_IDENTITY_DH_LEN);
	return bc_wr_finish_exact(&w, CERT_MSG_LEN);
}

static int cert_verify(const bc_identity_pub *p)
{
	uint8_t msg[CERT_MSG_LEN];
	int err = cert_message(p->dh_pub, msg);

	if (err != BC_OK)
		return err;
	if (crypto_sign_verify_detached(p->cert_sig, msg, sizeof(msg), p->sign_pub) != 0)
		return BC_ERR_AUTH;
	return BC_OK;
}

/* ---- creating and wiping -------------------------------------------------- */

int bc_identity_from_seed(bc_identity *id, const uint8_t sign_seed[static BC_IDENTITY_SEED_LEN],
			  const uint8_t dh_priv[static BC_IDENTITY_DH_LEN])
{
	uint8_t seed[BC_IDENTITY_SEED_LEN], priv[BC_IDENTITY_DH_LEN];
	uint8_t msg[CERT_MSG_LEN];
	int err;

	if (id == NULL)
		return BC_ERR_INVALID;
	/* The inputs may point into *id: copy them before touching it. */
	memcpy(seed, sign_seed, sizeof(seed));
	memcpy(priv, dh_priv, sizeof(priv));
	sodium_memzero(id, sizeof(*id));

	err = BC_ERR_CRYPTO;
	if (crypto_sign_seed_keypair(id->pub.sign_pub, id->sign_sk, seed) != 0)
		goto out;
	if (crypto_scalarmult_base(id->pub.dh_pub, priv) != 0)
		goto out;
	if (bc_x25519_check_public(id->pub.dh_pub) != BC_OK)
		goto out;
	memcpy(id->dh_priv, priv, sizeof(priv));
	if ((err = cert_message(id->pub.dh_pub, msg)) != BC_OK)
		goto out;
	err = BC_ERR_CRYPTO;
	if (crypto_sign_detached(id->pub.cert_sig, NULL, msg, sizeof(msg), id->sign_sk) != 0)
		goto out;
	err = BC_OK;
out:
	if (err != BC_OK)
		sodium_memzero(id, sizeof(*id));
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(priv, sizeof(priv));
	return err;
}

int bc_identity_generate(bc_identity *id)
{
	uint8_t seed[BC_IDENTITY_SEED_LEN], priv[BC_IDENTITY_DH_LEN];
	int err;

	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(priv, sizeof(priv));
	err = bc_identity_from_seed(id, seed, priv);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(priv, sizeof(priv));
	return err;
}

void bc_identity_wipe(bc_identity *id)
{
	if (id != NULL)
		sodium_memzero(id, sizeof(*id));
}

void bc_identity_public(const bc_identity *id, bc_identity_pub *out)
{
	memcpy(out, &id->pub, sizeof(*out));
}

bool bc_identity_equal(const bc_identity_pub *a, const bc_identity_pub *b)
{
	return sodium_memcmp(a->sign_pub, b->sign_pub, sizeof(a->sign_pub)) == 0 &&
	       sodium_memcmp(a->dh_pub, b->dh_pub, sizeof(a->dh_pub)) == 0;
}

/* ---- public encoding ------------------------------------------------------ */

int bc_identity_write_public(bc_wr *w, const bc_identity_pub *p)
{
	bc_wr_u8(w, BC_IDENTITY_VERSION);
	bc_wr_raw(w, p->sign_pub, sizeof(p->sign_pub));
	bc_wr_raw(w, p->dh_pub, sizeof(p->dh_pub));
	return bc_wr_raw(w, p->cert_sig, sizeof(p->cert_sig));
}

int bc_identity_read_public(bc_rd *r, bc_identity_pub *out)
{
	bc_identity_pub p;
	uint8_t version;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = bc_rd_u8(r, &version)) != BC_OK)
		return err;
	if (version != BC_IDENTITY_VERSION)
		return bc_rd_fail(r, BC_ERR_VERSION);
	bc_rd_raw(r, p.sign_pub, sizeof(p.sign_pub));
	bc_rd_raw(r, p.dh_pub, sizeof(p.dh_pub));
	if ((err = bc_rd_raw(r, p.cert_sig, sizeof(p.cert_sig))) != BC_OK)
		return err;
	if ((err = bc_x25519_check_public(p.dh_pub)) != BC_OK)
		return bc_rd_fail(r, err);
	if ((err = cert_verify(&p)) != BC_OK)
		return bc_rd_fail(r, err);
	memcpy(out, &p, sizeof(p));
	return BC_OK;
}

int bc_identity_encode_public(const bc_identity_pub *p, uint8_t out[static BC_IDENTITY_PUBLIC_LEN])
{
	bc_wr w;

	if (p == NULL)
		return BC_ERR_INVALID;
	bc_wr_init_fixed(&w, out, BC_IDENTITY_PUBLIC_LEN);
	bc_identity_write_public(&w, p);
	return bc_wr_finish_exact(&w, BC_IDENTITY_PUBLIC_LEN);
}

int bc_identity_decode_public(bc_identity_pub *out, const uint8_t *in, size_t len)
{
	bc_identity_pub p;
	bc_rd r;
	int err;

	if (out == NULL || (in == NULL && len > 0))
		return BC_ERR_INVALID;
	bc_rd_init(&r, in, len);
	if ((err = bc_identity_read_public(&r, &p)) == BC_OK)
		err = bc_rd_end(&r);
	if (err != BC_OK)
		return err;
	memcpy(out, &p, sizeof(p));
	return BC_OK;
}

int bc_identity_export(const bc_identity_pub *p, char **out)
{
	uint8_t buf[BC_IDENTITY_PUBLIC_LEN];
	int err;

	if (out == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	if ((err = bc_identity_encode_public(p, buf)) != BC_OK)
		return err;
	return bc_b32c_encode(BC_IDENTITY_B32C_PREFIX, buf, sizeof(buf), out);
}

int bc_identity_import(bc_identity_pub *out, const char *s)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int err;

	if (out == NULL || s == NULL)
		return BC_ERR_INVALID;
	err = bc_b32c_decode(BC_IDENTITY_B32C_PREFIX, s, BC_IDENTITY_PUBLIC_LEN, &data, &len);
	if (err != BC_OK)
		goto out;
	err = bc_identity_decode_public(out, data, len);
out:
	bc_free(data);
	return err;
}

/* ---- private encoding ----------------------------------------------------- */

int bc_identity_encode_private(const bc_identity *id, uint8_t out[static BC_IDENTITY_PRIVATE_LEN])
{
	uint8_t seed[BC_IDENTITY_SEED_LEN];
	bc_wr w;
	int err;

	if (id == NULL)
		return BC_ERR_INVALID;
	if (crypto_sign_ed25519_sk_to_seed(seed, id->sign_sk) != 0) {
		err = BC_ERR_CRYPTO;
		goto out;
	}
	bc_wr_init_fixed(&w, out, BC_IDENTITY_PRIVATE_LEN);
	bc_wr_u8(&w, BC_IDENTITY_VERSION);
	bc_wr_raw(&w, seed, sizeof(seed));
	bc_wr_raw(&w, id->dh_priv, sizeof(id->dh_priv));
	err = bc_wr_finish_exact(&w, BC_IDENTITY_PRIVATE_LEN);
	if (err != BC_OK)
		sodium_memzero(out, BC_IDENTITY_PRIVATE_LEN);
out:
	sodium_memzero(seed, sizeof(seed));
	return err;
}

int bc_identity_decode_private(bc_identity *id, const uint8_t *in, size_t len)
{
	uint8_t seed[BC_IDENTITY_SEED_LEN], priv[BC_IDENTITY_DH_LEN];
	uint8_t version = 0;
	bc_rd r;
	int err;

	if (id == NULL || (in == NULL && len > 0))
		return BC_ERR_INVALID;
	bc_rd_init(&r, in, len);
	if ((err = bc_rd_u8(&r, &version)) == BC_OK && version != BC_IDENTITY_VERSION)
		err = BC_ERR_VERSION;
	if (err != BC_OK)
		goto out;
	bc_rd_raw(&r, seed, sizeof(seed));
	bc_rd_raw(&r, priv, sizeof(priv));
	if ((err = bc_rd_end(&r)) != BC_OK)
		goto out;
	err = bc_identity_from_seed(id, seed, priv);
out:
	if (err != BC_OK)
		sodium_memzero(id, sizeof(*id));
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(priv, sizeof(priv));
	return err;
}

/* ---- fingerprints and safety numbers -------------------------------------- */

int bc_identity_fingerprint(const bc_identity_pub *p, uint8_t out[static BC_FINGERPRINT_LEN])
{
	uint8_t msg[FP_MSG_LEN];
	bc_wr w;
	int err;

	if (p == NULL)
		return BC_ERR_INVALID;
	bc_wr_init_fixed(&w, msg, sizeof(msg));
	bc_wr_raw(&w, BC_FINGERPRINT_LABEL, FP_LABEL_LEN);
	bc_wr_raw(&w, p->sign_pub, sizeof(p->sign_pub));
	bc_wr_raw(&w, p->dh_pub, sizeof(p->dh_pub));
	if ((err = bc_wr_finish_exact(&w, sizeof(msg))) != BC_OK)
		return err;
	if (crypto_generichash(out, BC_FINGERPRINT_LEN, msg, sizeof(msg), NULL, 0) != 0)
		return BC_ERR_CRYPTO;
	return BC_OK;
}

int bc_identity_fingerprint_text(const bc_identity_pub *p, char out[static BC_FINGERPRINT_TEXT_SIZE])
{
	uint8_t fp[BC_FINGERPRINT_LEN];
	char hex[BC_HEX_SIZE(BC_FINGERPRINT_LEN)];
	size_t o = 0;
	int err;

	if ((err = bc_identity_fingerprint(p, fp)) != BC_OK)
		return err;
	if ((err = bc_hex_encode(fp, sizeof(fp), hex, sizeof(hex))) != BC_OK)
		return err;
	for (size_t i = 0; i < 2 * BC_FINGERPRINT_LEN; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = ' ';
		out[o++] = hex[i];
	}
	out[o] = '\0';
	return BC_OK;
}

/* The 30 digits of one identity (no NUL). */
static int safety_half(const bc_identity_pub *p, char digits[static SAFETY_HALF_DIGITS])
{
	uint8_t msg[SAFETY_MSG_LEN];
	uint8_t buf[BC_HASH_MAXLEN + BC_IDENTITY_SIGN_PUB_LEN + BC_IDENTITY_DH_LEN];
	uint8_t h[BC_HASH_MAXLEN];
	bc_wr w;
	int err;

	bc_wr_init_fixed(&w, msg, sizeof(msg));
	bc_wr_raw(&w, BC_SAFETY_LABEL, SAFETY_LABEL_LEN);
	bc_wr_raw(&w, p->sign_pub, sizeof(p->sign_pub));
	bc_wr_raw(&w, p->dh_pub, sizeof(p->dh_pub));
	if ((err = bc_wr_finish_exact(&w, sizeof(msg))) != BC_OK)
		return err;
	if ((err = bc_hash(BC_HASH_BLAKE2B, msg, sizeof(msg), h)) != BC_OK)
		return err;

	/* buf = h || sign_pub || dh_pub; only the h part changes. */
	bc_wr_init_fixed(&w, buf, sizeof(buf));
	bc_wr_raw(&w, h, sizeof(h));
	bc_wr_raw(&w, p->sign_pub, sizeof(p->sign_pub));
	bc_wr_raw(&w, p->dh_pub, sizeof(p->dh_pub));
	if ((err = bc_wr_finish_exact(&w, sizeof(buf))) != BC_OK)
		return err;
	for (unsigned i = 0; i < BC_SAFETY_ITERATIONS; i++) {
		if ((err = bc_hash(BC_HASH_BLAKE2B, buf, sizeof(buf), h)) != BC_OK)
			return err;
		memcpy(buf, h, sizeof(h));
	}

	for (size_t c = 0; c < 6; c++) {
		uint64_t v = 0;
		for (size_t i = 0; i < 5; i++)
			v = v << 8 | h[5 * c + i];
		v %= 100000;
		for (size_t d = 5; d-- > 0;) {
			digits[5 * c + d] = (char)('0' + v % 10);
			v /= 10;
		}
	}
	return BC_OK;
}

int bc_identity_safety_number(const bc_identity_pub *a, const bc_identity_pub *b,
			      char out[static BC_SAFETY_TEXT_SIZE])
{
	uint8_t fa[BC_FINGERPRINT_LEN], fb[BC_FINGERPRINT_LEN];
	char digits[2 * SAFETY_HALF_DIGITS];
	const bc_identity_pub *first, *second;
	size_t o = 0;
	int err;

	if (a == NULL || b == NULL || out == NULL)
		return BC_ERR_INVALID;
	if ((err = bc_identity_fingerprint(a, fa)) != BC_OK ||
	    (err = bc_identity_fingerprint(b, fb)) != BC_OK)
		return err;
	if (memcmp(fa, fb, sizeof(fa)) <= 0)
		first = a, second = b;
	else
		first = b, second = a;
	if ((err = safety_half(first, digits)) != BC_OK ||
	    (err = safety_half(second, digits + SAFETY_HALF_DIGITS)) != BC_OK)
		return err;
	for (size_t i = 0; i < sizeof(digits); i++) {
		if (i > 0 && i % 5 == 0)
			out[o++] = ' ';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return BC_OK;
}
