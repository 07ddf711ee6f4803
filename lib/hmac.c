/*
 * hmac.c - hashes, HMAC (RFC 2104) and HKDF (RFC 5869) over libsodium.
 *
 * Purpose: the one place where Backchannel turns libsodium's hash functions
 * into keyed primitives. The Noise engine (noise.c) uses bc_hash for HASH()
 * and bc_hkdf for HKDF(); other modules use bc_hkdf for their own KDF
 * labels. No primitive is implemented here: SHA-256, SHA-512 and BLAKE2b
 * come from libsodium, and this file only arranges their inputs as the two
 * RFCs say.
 *
 * HMAC (RFC 2104, B = block length, L = digest length):
 *   K0   = H(K) zero-padded to B bytes if |K| > B, else K zero-padded to B
 *   HMAC = H((K0 ^ opad) || H((K0 ^ ipad) || m)),  ipad = 0x36.., opad = 0x5c..
 * The incremental form absorbs K0 ^ ipad into the inner state and K0 ^ opad
 * into the outer state at init, so K0 itself is wiped before init returns.
 *
 * Invariants: see hmac.h. In short, every key-dependent temporary is wiped
 * on every path through the single `out:` label of each function, and a
 * failed call leaves its state wiped rather than half-updated.
 */
#include <string.h>

#include <sodium.h>

#include "hmac.h"
#include "internal.h"

size_t bc_hash_len(bc_hash_alg a)
{
	switch (a) {
	case BC_HASH_SHA256:
		return crypto_hash_sha256_BYTES;
	case BC_HASH_SHA512:
		return crypto_hash_sha512_BYTES;
	case BC_HASH_BLAKE2B:
		return crypto_generichash_BYTES_MAX;
	}
	return 0;
}

size_t bc_hash_blocklen(bc_hash_alg a)
{
	switch (a) {
	case BC_HASH_SHA256:
		return 64;
	case BC_HASH_SHA512:
	case BC_HASH_BLAKE2B:
		return 128;
	}
	return 0;
}

/* ---- plain hashing -------------------------------------------------------- */

void bc_hash_wipe(bc_hash_state *st)
{
	if (st != NULL)
		sodium_memzero(st, sizeof *st);
}

int bc_hash_init(bc_hash_state *st, bc_hash_alg a)
{
	int rc = BC_ERR_CRYPTO;

	if (st == NULL)
		return BC_ERR_INVALID;
	sodium_memzero(st, sizeof *st);
	st->alg = a;
	switch (a) {
	case BC_HASH_SHA256:
		if (crypto_hash_sha256_init(&st->u.sha256) != 0)
			goto out;
		break;
	case BC_HASH_SHA512:
		if (crypto_hash_sha512_init(&st->u.sha512) != 0)
			goto out;
		break;
	case BC_HASH_BLAKE2B:
		if (crypto_generichash_init(&st->u.blake2b, NULL, 0, crypto_generichash_BYTES_MAX) != 0)
			goto out;
		break;
	default:
		rc = BC_ERR_INVALID;
		goto out;
	}
	rc = BC_OK;
out:
	if (rc != BC_OK)
		bc_hash_wipe(st);
	return rc;
}

int bc_hash_update(bc_hash_state *st, const uint8_t *in, size_t len)
{
	int rc = BC_ERR_CRYPTO;

	if (st == NULL)
		return BC_ERR_INVALID;
	if (in == NULL && len > 0) {
		rc = BC_ERR_INVALID;
		goto out;
	}
	if (len == 0)
		return BC_OK;
	switch (st->alg) {
	case BC_HASH_SHA256:
		if (crypto_hash_sha256_update(&st->u.sha256, in, len) != 0)
			goto out;
		break;
	case BC_HASH_SHA512:
		if (crypto_hash_sha512_update(&st->u.sha512, in, len) != 0)
			goto out;
		break;
	case BC_HASH_BLAKE2B:
		if (crypto_generichash_update(&st->u.blake2b, in, len) != 0)
			goto out;
		break;
	default:
		rc = BC_ERR_INVALID;
		goto out;
	}
	rc = BC_OK;
out:
	if (rc != BC_OK)
		bc_hash_wipe(st);
	return rc;
}

int bc_hash_final(bc_hash_state *st, uint8_t *out)
{
	int rc = BC_ERR_CRYPTO;

	if (st == NULL)
		return BC_ERR_INVALID;
	if (out == NULL) {
		rc = BC_ERR_INVALID;
		goto out;
	}
	switch (st->alg) {
	case BC_HASH_SHA256:
		if (crypto_hash_sha256_final(&st->u.sha256, out) != 0)
			goto out;
		break;
	case BC_HASH_SHA512:
		if (crypto_hash_sha512_final(&st->u.sha512, out) != 0)
			goto out;
		break;
	case BC_HASH_BLAKE2B:
		if (crypto_generichash_final(&st->u.blake2b, out, crypto_generichash_BYTES_MAX) != 0)
			goto out;
		break;
	default:
		rc = BC_ERR_INVALID;
		goto out;
	}
	rc = BC_OK;
out:
	bc_hash_wipe(st);
	return rc;
}

int bc_hash(bc_hash_alg a, const uint8_t *in, size_t inlen, uint8_t *out)
{
	bc_hash_state st;
	int rc;

	if (out == NULL || (in == NULL && inlen > 0))
		return BC_ERR_INVALID;
	if ((rc = bc_hash_init(&st, a)) != BC_OK)
		goto out;
	if ((rc = bc_hash_update(&st, in, inlen)) != BC_OK)
		goto out;
	rc = bc_hash_final(&st, out);
out:
	bc_hash_wipe(&st);
	return rc;
}

/* ---- HMAC ----------------------------------------------------------------- */

void bc_hmac_wipe(bc_hmac_state *st)
{
	if (st != NULL)
		sodium_memzero(st, sizeof *st);
}

int bc_hmac_init(bc_hmac_state *st, bc_hash_alg a, const uint8_t *key, size_t keylen)
{
	uint8_t k0[BC_HASH_MAXBLOCK];
	uint8_t pad[BC_HASH_MAXBLOCK];
	size_t blen = bc_hash_blocklen(a);
	int rc = BC_ERR_INVALID;

	if (st == NULL)
		return BC_ERR_INVALID;
	sodium_memzero(k0, sizeof k0);
	sodium_memzero(pad, sizeof pad);
	if (blen == 0 || (key == NULL && keylen > 0))
		goto out;

	/* K0: the key hashed if longer than the block, then zero-padded. */
	if (keylen > blen) {
		if ((rc = bc_hash(a, key, keylen, k0)) != BC_OK)
			goto out;
	} else if (keylen > 0) {
		memcpy(k0, key, keylen);
	}

	for (size_t i = 0; i < blen; i++)
		pad[i] = (uint8_t)(k0[i] ^ 0x36);
	if ((rc = bc_hash_init(&st->inner, a)) != BC_OK)
		goto out;
	if ((rc = bc_hash_update(&st->inner, pad, blen)) != BC_OK)
		goto out;

	for (size_t i = 0; i < blen; i++)
		pad[i] = (uint8_t)(k0[i] ^ 0x5c);
	if ((rc = bc_hash_init(&st->outer, a)) != BC_OK)
		goto out;
	rc = bc_hash_update(&st->outer, pad, blen);
out:
	sodium_memzero(k0, sizeof k0);
	sodium_memzero(pad, sizeof pad);
	if (rc != BC_OK)
		bc_hmac_wipe(st);
	return rc;
}

int bc_hmac_update(bc_hmac_state *st, const uint8_t *msg, size_t msglen)
{
	int rc;

	if (st == NULL)
		return BC_ERR_INVALID;
	rc = bc_hash_update(&st->inner, msg, msglen);
	if (rc != BC_OK)
		bc_hmac_wipe(st);
	return rc;
}

int bc_hmac_final(bc_hmac_state *st, uint8_t *out)
{
	uint8_t ihash[BC_HASH_MAXLEN];
	size_t hlen;
	int rc = BC_ERR_INVALID;

	if (st == NULL)
		return BC_ERR_INVALID;
	hlen = bc_hash_len(st->inner.alg);
	if (out == NULL || hlen == 0)
		goto out;
	if ((rc = bc_hash_final(&st->inner, ihash)) != BC_OK)
		goto out;
	if ((rc = bc_hash_update(&st->outer, ihash, hlen)) != BC_OK)
		goto out;
	rc = bc_hash_final(&st->outer, out);
out:
	sodium_memzero(ihash, sizeof ihash);
	bc_hmac_wipe(st);
	return rc;
}

int bc_hmac(bc_hash_alg a, const uint8_t *key, size_t keylen, const uint8_t *msg, size_t msglen,
	    uint8_t *out)
{
	bc_hmac_state st;
	uint8_t tag[BC_HASH_MAXLEN];
	int rc;

	if (out == NULL)
		return BC_ERR_INVALID;
	sodium_memzero(&st, sizeof st);
	if ((rc = bc_hmac_init(&st, a, key, keylen)) != BC_OK)
		goto out;
	if ((rc = bc_hmac_update(&st, msg, msglen)) != BC_OK)
		goto out;
	if ((rc = bc_hmac_final(&st, tag)) != BC_OK)
		goto out;
	memcpy(out, tag, bc_hash_len(a));
out:
	sodium_memzero(tag, sizeof tag);
	bc_hmac_wipe(&st);
	return rc;
}

/* ---- HKDF (RFC 5869) ----------------------------------------------------- */

int bc_hkdf_extract(bc_hash_alg a, const uint8_t *salt, size_t saltlen, const uint8_t *ikm,
		    size_t ikmlen, uint8_t *prk)
{
	static const uint8_t zeros[BC_HASH_MAXLEN];
	size_t hlen = bc_hash_len(a);

	if (hlen == 0 || prk == NULL || (salt == NULL && saltlen > 0))
		return BC_ERR_INVALID;
	if (saltlen == 0) {
		/* RFC 5869 §2.2: "if not provided, [salt] is set to a string
		 * of HashLen zeros". */
		salt = zeros;
		saltlen = hlen;
	}
	return bc_hmac(a, salt, saltlen, ikm, ikmlen, prk);
}

int bc_hkdf_expand(bc_hash_alg a, const uint8_t *prk, size_t prklen, const uint8_t *info,
		   size_t infolen, uint8_t *out, size_t outlen)
{
	bc_hmac_state st;
	uint8_t t[BC_HASH_MAXLEN];
	size_t hlen = bc_hash_len(a);
	size_t done = 0, tlen = 0;
	int rc = BC_OK;

	/* Argument errors return before anything is written: out may be
	 * smaller than a bogus outlen. */
	if (out == NULL || hlen == 0 || prk == NULL || prklen < hlen ||
	    (info == NULL && infolen > 0) || outlen == 0 || outlen > 255 * hlen)
		return BC_ERR_INVALID;
	sodium_memzero(&st, sizeof st);
	sodium_memzero(t, sizeof t);

	for (unsigned i = 1; done < outlen; i++) {
		uint8_t ctr = (uint8_t)i;
		size_t n;

		if ((rc = bc_hmac_init(&st, a, prk, prklen)) != BC_OK)
			goto out;
		if ((rc = bc_hmac_update(&st, t, tlen)) != BC_OK)
			goto out;
		if ((rc = bc_hmac_update(&st, info, infolen)) != BC_OK)
			goto out;
		if ((rc = bc_hmac_update(&st, &ctr, 1)) != BC_OK)
			goto out;
		if ((rc = bc_hmac_final(&st, t)) != BC_OK)
			goto out;
		tlen = hlen;
		n = outlen - done < hlen ? outlen - done : hlen;
		memcpy(out + done, t, n);
		done += n;
	}
out:
	sodium_memzero(t, sizeof t);
	bc_hmac_wipe(&st);
	if (rc != BC_OK)
		sodium_memzero(out, done);
	return rc;
}

int bc_hkdf(bc_hash_alg a, const uint8_t *salt, size_t saltlen, const uint8_t *ikm, size_t ikmlen,
	    const uint8_t *info, size_t infolen, uint8_t *out, size_t outlen)
{
	uint8_t prk[BC_HASH_MAXLEN];
	size_t hlen = bc_hash_len(a);
	int rc;

	/* The expand limits are checked first, so a bad outlen costs no
	 * hashing and writes nothing. */
	if (out == NULL || hlen == 0 || outlen == 0 || outlen > 255 * hlen)
		return BC_ERR_INVALID;
	sodium_memzero(prk, sizeof prk);
	if ((rc = bc_hkdf_extract(a, salt, saltlen, ikm, ikmlen, prk)) != BC_OK)
		goto out;
	rc = bc_hkdf_expand(a, prk, hlen, info, infolen, out, outlen);
out:
	sodium_memzero(prk, sizeof prk);
	return rc;
}
