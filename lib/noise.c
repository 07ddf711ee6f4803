/*
 * noise.c - the Noise Protocol Framework, revision 34: CipherState,
 * SymmetricState and HandshakeState over libsodium.
 *
 * Purpose: the secure channel under every relay connection
 * (Noise_XX_25519_ChaChaPoly_BLAKE2b), written as a small interpreter of
 * handshake patterns so that the same code can be checked against the
 * published test vectors for every fundamental pattern and psk modifier.
 *
 * Layout, following the specification section by section:
 *   - patterns: a table of token sequences (§7.2, §7.3); psk modifiers (§9.4)
 *     are a bit mask applied when a message's tokens are listed;
 *   - protocol name parsing (§8), strict;
 *   - CipherState (§5.1, §12.3): ChaChaPoly with nonce 0^32 || LE64(n);
 *   - SymmetricState (§5.2): MixKey, MixHash, MixKeyAndHash,
 *     EncryptAndHash, DecryptAndHash, Split, with HKDF = RFC 5869 with the
 *     chaining key as salt and empty info (§4.3, hmac.c);
 *   - HandshakeState (§5.3): Initialize (hs_new + configuration + start),
 *     WriteMessage, ReadMessage.
 *
 * Invariants:
 *   - a handshake is in exactly one state: CONFIG -> RUN -> SPLIT -> DONE,
 *     or FAILED from RUN/SPLIT on any processing error. Entering FAILED
 *     wipes the whole object; every call on a FAILED object returns
 *     BC_ERR_STATE;
 *   - message sizes are computed from the pattern before any byte is
 *     processed, so length errors never leave a half-processed state, and no
 *     read or write goes past a buffer: every offset is checked against the
 *     precomputed size;
 *   - X25519 outputs of all zeros (low-order remote keys) are rejected with
 *     BC_ERR_AUTH (libsodium's crypto_scalarmult reports them);
 *   - a failed AEAD decryption writes nothing and does not advance n;
 *   - all secrets (keys, chaining key, DH outputs, HKDF outputs, PSKs) are
 *     wiped on every path; the object is wiped when freed.
 */
#include <string.h>

#include <sodium.h>

#include "hmac.h"
#include "internal.h"
#include "noise.h"

/* ---- patterns as data (spec §7) ----------------------------------------- */

enum token { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS, T_PSK };

#define MAX_MSGS 3       /* longest fundamental pattern */
#define MAX_PAT_TOKENS 6 /* 5 tokens (KX, IX message 2) + T_END */
#define MAX_MSG_TOKENS 8 /* plus a leading and a trailing psk */

struct pattern {
	char name[3];
	bool pre_i_s;  /* "-> s" pre-message: initiator's static known */
	bool pre_r_s;  /* "<- s" pre-message: responder's static known */
	uint8_t nmsgs; /* 1 = one-way pattern */
	uint8_t msg[MAX_MSGS][MAX_PAT_TOKENS];
};

/* Message i is sent by the initiator when i is even. */
static const struct pattern patterns[] = {
	/* one-way (§7.2) */
	{ "N", false, true, 1, { { T_E, T_ES } } },
	{ "K", true, true, 1, { { T_E, T_ES, T_SS } } },
	{ "X", false, true, 1, { { T_E, T_ES, T_S, T_SS } } },
	/* interactive (§7.3) */
	{ "NN", false, false, 2, { { T_E }, { T_E, T_EE } } },
	{ "NK", false, true, 2, { { T_E, T_ES }, { T_E, T_EE } } },
	{ "NX", false, false, 2, { { T_E }, { T_E, T_EE, T_S, T_ES } } },
	{ "KN", true, false, 2, { { T_E }, { T_E, T_EE, T_SE } } },
	{ "KK", true, true, 2, { { T_E, T_ES, T_SS }, { T_E, T_EE, T_SE } } },
	{ "KX", true, false, 2, { { T_E }, { T_E, T_EE, T_SE, T_S, T_ES } } },
	{ "XN", false, false, 3, { { T_E }, { T_E, T_EE }, { T_S, T_SE } } },
	{ "XK", false, true, 3, { { T_E, T_ES }, { T_E, T_EE }, { T_S, T_SE } } },
	{ "XX", false, false, 3, { { T_E }, { T_E, T_EE, T_S, T_ES }, { T_S, T_SE } } },
	{ "IN", false, false, 2, { { T_E, T_S }, { T_E, T_EE, T_SE } } },
	{ "IK", false, true, 2, { { T_E, T_ES, T_S, T_SS }, { T_E, T_EE, T_SE } } },
	{ "IX", false, false, 2, { { T_E, T_S }, { T_E, T_EE, T_SE, T_S, T_ES } } },
};

/* ---- the handshake object ------------------------------------------------ */

enum hs_state { ST_CONFIG = 0, ST_RUN, ST_SPLIT, ST_DONE, ST_FAILED };

struct bc_noise_hs {
	bc_noise_cs cs;                 /* SymmetricState's CipherState */
	uint8_t ck[BC_HASH_MAXLEN];     /* chaining key */
	uint8_t h[BC_HASH_MAXLEN];      /* handshake hash */
	uint8_t s[BC_NOISE_DHLEN], s_pub[BC_NOISE_DHLEN];
	uint8_t e[BC_NOISE_DHLEN], e_pub[BC_NOISE_DHLEN];
	uint8_t rs[BC_NOISE_DHLEN], re[BC_NOISE_DHLEN];
	uint8_t psk[BC_NOISE_MAX_PSKS][BC_NOISE_KEYLEN];
	const struct pattern *pat;
	uint8_t hash;       /* bc_hash_alg */
	uint8_t hashlen;    /* 32 or 64 */
	uint8_t psk_mask;   /* bit 0: psk0; bit i: psk at the end of message i */
	uint8_t npsk;       /* PSKs added */
	uint8_t psk_next;   /* next PSK a psk token consumes */
	uint8_t msg_idx;    /* next handshake message */
	uint8_t state;      /* enum hs_state */
	bool initiator, has_s, has_e, has_rs, has_re, prologue_done;
};

/* The AEAD expansion of a field encrypted (or not) under the current key. */
static size_t tag_if(bool has_key)
{
	return has_key ? (size_t)BC_NOISE_TAGLEN : 0;
}

static unsigned popcount8(unsigned v)
{
	unsigned n = 0;

	for (; v != 0; v &= v - 1)
		n++;
	return n;
}

/* The tokens of message i, psk tokens included; returns their number. */
static size_t msg_tokens(const bc_noise_hs *hs, unsigned i, uint8_t toks[MAX_MSG_TOKENS])
{
	size_t n = 0;

	if (i == 0 && (hs->psk_mask & 1u))
		toks[n++] = T_PSK;
	for (size_t j = 0; j < MAX_PAT_TOKENS && hs->pat->msg[i][j] != T_END; j++)
		toks[n++] = hs->pat->msg[i][j];
	if (hs->psk_mask & (1u << (i + 1)))
		toks[n++] = T_PSK;
	return n;
}

/* Is message i sent by this side? */
static bool sends_msg(const bc_noise_hs *hs, unsigned i)
{
	return ((i % 2) == 0) == hs->initiator;
}

/* Does this side send token t in any of its messages? */
static bool side_sends(const bc_noise_hs *hs, uint8_t t)
{
	for (unsigned i = 0; i < hs->pat->nmsgs; i++) {
		if (!sends_msg(hs, i))
			continue;
		for (size_t j = 0; j < MAX_PAT_TOKENS && hs->pat->msg[i][j] != T_END; j++)
			if (hs->pat->msg[i][j] == t)
				return true;
	}
	return false;
}

/* The size of a message with the given tokens, before its payload, and
 * whether its payload will be encrypted: every DH and psk token calls MixKey,
 * and so does "e" in a psk handshake (§9.2). */
static void msg_shape(const bc_noise_hs *hs, const uint8_t *toks, size_t ntok, size_t *fixed,
		      bool *encrypted)
{
	bool has_key = hs->cs.has_key;
	size_t f = 0;

	for (size_t i = 0; i < ntok; i++) {
		switch (toks[i]) {
		case T_E:
			f += BC_NOISE_DHLEN;
			if (hs->psk_mask != 0)
				has_key = true;
			break;
		case T_S:
			f += BC_NOISE_DHLEN + tag_if(has_key);
			break;
		default:
			has_key = true;
			break;
		}
	}
	*fixed = f;
	*encrypted = has_key;
}

/* Enter FAILED: the spec deletes the HandshakeState; we wipe it. */
static void hs_fail(bc_noise_hs *hs)
{
	sodium_memzero(hs, sizeof *hs);
	hs->state = ST_FAILED;
}

/* ---- protocol names (spec §8) --------------------------------------------- */

struct proto {
	const struct pattern *pat;
	uint8_t psk_mask;
	bc_hash_alg hash;
	uint8_t cipher;
};

static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c) { return is_upper(c) || is_lower(c) || is_digit(c); }

static bool span_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* A crypto section: one or more algorithm names of [A-Za-z0-9/], separated
 * by single '+' (§8.2). */
static bool crypto_section_ok(const char *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			if (run == 0)
				return false;
			run = 0;
		} else if (is_alnum(s[i]) || s[i] == '/') {
			run++;
		} else {
			return false;
		}
	}
	return run > 0;
}

/* One pattern modifier m[0..n): psk0..pskN is supported, every other
 * well-formed modifier is not. *last is the previous psk number (-1 at
 * first): psk modifiers must be strictly ascending (sorted, §8.1, and each
 * at most once). */
static int parse_modifier(const char *m, size_t n, const struct pattern *pat, int *last,
			  uint8_t *mask)
{
	unsigned num = 0;

	if (n < 4 || memcmp(m, "psk", 3) != 0)
		return BC_ERR_UNSUPPORTED;
	for (size_t i = 3; i < n; i++)
		if (!is_digit(m[i]))
			return BC_ERR_UNSUPPORTED; /* "pskfoo": some other modifier */
	if (n > 5 || (n > 4 && m[3] == '0'))
		return BC_ERR_INVALID; /* leading zero or absurd number */
	for (size_t i = 3; i < n; i++)
		num = num * 10 + (unsigned)(m[i] - '0');
	if (num > pat->nmsgs || (int)num <= *last)
		return BC_ERR_INVALID;
	*last = (int)num;
	*mask = (uint8_t)(*mask | (1u << num));
	return BC_OK;
}

static int parse_name(const char *name, struct proto *p)
{
	const char *sec[4];
	size_t seclen[4], nsec = 0, len, i, base;
	const char *cur;
	int last = -1, rc;

	memset(p, 0, sizeof *p);
	len = strnlen(name, BC_NOISE_NAME_MAX + 1);
	if (len > BC_NOISE_NAME_MAX || len < 6 || memcmp(name, "Noise_", 6) != 0)
		return BC_ERR_INVALID;

	/* Lexical pass: exactly four '_'-separated, non-empty sections. */
	cur = name + 6;
	for (;;) {
		const char *u = memchr(cur, '_', len - (size_t)(cur - name));
		size_t n = u ? (size_t)(u - cur) : len - (size_t)(cur - name);

		if (nsec == 4 || n == 0)
			return BC_ERR_INVALID;
		sec[nsec] = cur;
		seclen[nsec++] = n;
		if (u == NULL)
			break;
		cur = u + 1;
	}
	if (nsec != 4)
		return BC_ERR_INVALID;

	/* Pattern section: [A-Z]+ then modifiers [a-z0-9]+ joined by '+'. */
	for (base = 0; base < seclen[0] && is_upper(sec[0][base]); base++)
		;
	if (base == 0)
		return BC_ERR_INVALID;
	if (base < seclen[0]) {
		size_t run = 0;

		for (i = base; i < seclen[0]; i++) {
			char c = sec[0][i];

			if (c == '+') {
				if (run == 0)
					return BC_ERR_INVALID;
				run = 0;
			} else if (is_lower(c) || is_digit(c)) {
				run++;
			} else {
				return BC_ERR_INVALID;
			}
		}
		if (run == 0)
			return BC_ERR_INVALID;
	}
	for (i = 1; i < 4; i++)
		if (!crypto_section_ok(sec[i], seclen[i]))
			return BC_ERR_INVALID;

	/* Semantic pass. */
	for (i = 0; i < BC_ARRAY_LEN(patterns); i++)
		if (span_eq(sec[0], base, patterns[i].name))
			p->pat = &patterns[i];
	if (p->pat == NULL)
		return BC_ERR_UNSUPPORTED;
	for (i = base; i < seclen[0];) {
		const char *plus = memchr(sec[0] + i, '+', seclen[0] - i);
		size_t n = plus ? (size_t)(plus - (sec[0] + i)) : seclen[0] - i;

		if ((rc = parse_modifier(sec[0] + i, n, p->pat, &last, &p->psk_mask)) != BC_OK)
			return rc;
		i += n + 1;
	}
	if (!span_eq(sec[1], seclen[1], "25519"))
		return BC_ERR_UNSUPPORTED; /* 448, hybrids, ... */
	if (!span_eq(sec[2], seclen[2], "ChaChaPoly"))
		return BC_ERR_UNSUPPORTED; /* AESGCM, ... */
	p->cipher = BC_NOISE_CIPHER_CHACHAPOLY;
	if (span_eq(sec[3], seclen[3], "SHA256"))
		p->hash = BC_HASH_SHA256;
	else if (span_eq(sec[3], seclen[3], "SHA512"))
		p->hash = BC_HASH_SHA512;
	else if (span_eq(sec[3], seclen[3], "BLAKE2b"))
		p->hash = BC_HASH_BLAKE2B;
	else
		return BC_ERR_UNSUPPORTED; /* BLAKE2s (not in libsodium), ... */
	return BC_OK;
}

/* ---- CipherState (spec §5.1, §12.3) ---------------------------------------- */

static bool cs_usable(const bc_noise_cs *cs)
{
	return cs->cipher == BC_NOISE_CIPHER_CHACHAPOLY;
}

/* The 96-bit ChaChaPoly nonce: 32 zero bits || little-endian n. */
static void chachapoly_nonce(uint8_t nonce[12], uint64_t n)
{
	memset(nonce, 0, 4);
	bc_store64le(nonce + 4, n);
}

int bc_noise_cs_init(bc_noise_cs *cs, uint8_t cipher, const uint8_t key[BC_NOISE_KEYLEN])
{
	if (cs == NULL || key == NULL || cipher != BC_NOISE_CIPHER_CHACHAPOLY)
		return BC_ERR_INVALID;
	memmove(cs->k, key, BC_NOISE_KEYLEN);
	cs->n = 0;
	cs->cipher = cipher;
	cs->has_key = true;
	return BC_OK;
}

void bc_noise_cs_wipe(bc_noise_cs *cs)
{
	if (cs != NULL)
		sodium_memzero(cs, sizeof *cs);
}

int bc_noise_cs_encrypt(bc_noise_cs *cs, const uint8_t *ad, size_t adlen, const uint8_t *pt,
			size_t ptlen, uint8_t *out)
{
	uint8_t nonce[12];
	unsigned long long clen = 0;

	if (cs == NULL || out == NULL || (pt == NULL && ptlen > 0) || (ad == NULL && adlen > 0))
		return BC_ERR_INVALID;
	if (!cs_usable(cs))
		return BC_ERR_STATE;
	if (!cs->has_key) {
		if (ptlen > BC_NOISE_MAX_MSG)
			return BC_ERR_TOOBIG;
		if (ptlen > 0)
			memmove(out, pt, ptlen);
		return BC_OK;
	}
	if (ptlen > BC_NOISE_MAX_MSG - BC_NOISE_TAGLEN)
		return BC_ERR_TOOBIG;
	if (cs->n == UINT64_MAX)
		return BC_ERR_STATE; /* nonce 2^64-1 is reserved (§5.1) */
	chachapoly_nonce(nonce, cs->n);
	if (crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, pt, ptlen, ad, adlen, NULL, nonce,
						      cs->k) != 0 ||
	    clen != ptlen + BC_NOISE_TAGLEN)
		return BC_ERR_CRYPTO;
	cs->n++;
	return BC_OK;
}

int bc_noise_cs_decrypt(bc_noise_cs *cs, const uint8_t *ad, size_t adlen, const uint8_t *ct,
			size_t ctlen, uint8_t *out)
{
	uint8_t nonce[12];
	size_t mlen;

	if (cs == NULL || out == NULL || (ct == NULL && ctlen > 0) || (ad == NULL && adlen > 0))
		return BC_ERR_INVALID;
	if (!cs_usable(cs))
		return BC_ERR_STATE;
	if (ctlen > BC_NOISE_MAX_MSG)
		return BC_ERR_TOOBIG;
	if (!cs->has_key) {
		if (ctlen > 0)
			memmove(out, ct, ctlen);
		return BC_OK;
	}
	if (ctlen < BC_NOISE_TAGLEN)
		return BC_ERR_MALFORMED;
	if (cs->n == UINT64_MAX)
		return BC_ERR_STATE;
	mlen = ctlen - BC_NOISE_TAGLEN;
	chachapoly_nonce(nonce, cs->n);
	/* libsodium zeroes m when the tag is wrong, so verify first with
	 * m = NULL (verification only) and decrypt only a valid message:
	 * on failure out - which may be the caller's ciphertext - is untouched. */
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(NULL, NULL, ct, mlen, ct + mlen, ad,
							       adlen, nonce, cs->k) != 0)
		return BC_ERR_AUTH;
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL, ct, mlen, ct + mlen, ad,
							       adlen, nonce, cs->k) != 0)
		return BC_ERR_INTERNAL; /* verified a moment ago */
	cs->n++;
	return BC_OK;
}

int bc_noise_cs_rekey(bc_noise_cs *cs)
{
	static const uint8_t zeros[BC_NOISE_KEYLEN];
	uint8_t nonce[12], k[BC_NOISE_KEYLEN], tag[BC_NOISE_TAGLEN];
	int rc = BC_ERR_CRYPTO;

	if (cs == NULL)
		return BC_ERR_INVALID;
	if (!cs_usable(cs) || !cs->has_key)
		return BC_ERR_STATE;
	chachapoly_nonce(nonce, UINT64_MAX);
	if (crypto_aead_chacha20poly1305_ietf_encrypt_detached(k, tag, NULL, zeros, sizeof zeros, NULL,
							       0, NULL, nonce, cs->k) != 0)
		goto out;
	memcpy(cs->k, k, sizeof k);
	rc = BC_OK;
out:
	sodium_memzero(k, sizeof k);
	sodium_memzero(tag, sizeof tag);
	return rc;
}

/* ---- SymmetricState (spec §5.2) --------------------------------------------- */

/* h = HASH(h || data), written to out (which may be hs->h). */
static int hash_with_h(const bc_noise_hs *hs, const uint8_t *data, size_t len, uint8_t *out)
{
	bc_hash_state st;
	int rc;

	if ((rc = bc_hash_init(&st, (bc_hash_alg)hs->hash)) != BC_OK)
		goto out;
	if ((rc = bc_hash_update(&st, hs->h, hs->hashlen)) != BC_OK)
		goto out;
	if ((rc = bc_hash_update(&st, data, len)) != BC_OK)
		goto out;
	rc = bc_hash_final(&st, out);
out:
	bc_hash_wipe(&st);
	return rc;
}

static int mix_hash(bc_noise_hs *hs, const uint8_t *data, size_t len)
{
	return hash_with_h(hs, data, len, hs->h);
}

/* ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k[0..32)). */
static int mix_key(bc_noise_hs *hs, const uint8_t *ikm, size_t ikmlen)
{
	uint8_t out[2 * BC_HASH_MAXLEN];
	int rc;

	if ((rc = bc_hkdf((bc_hash_alg)hs->hash, hs->ck, hs->hashlen, ikm, ikmlen, NULL, 0, out,
			  2u * hs->hashlen)) != BC_OK)
		goto out;
	memcpy(hs->ck, out, hs->hashlen);
	rc = bc_noise_cs_init(&hs->cs, hs->cs.cipher, out + hs->hashlen);
out:
	sodium_memzero(out, sizeof out);
	return rc;
}

/* ck, temp_h, temp_k = HKDF(ck, ikm, 3); MixHash(temp_h);
 * InitializeKey(temp_k[0..32)). */
static int mix_key_and_hash(bc_noise_hs *hs, const uint8_t *ikm, size_t ikmlen)
{
	uint8_t out[3 * BC_HASH_MAXLEN];
	int rc;

	if ((rc = bc_hkdf((bc_hash_alg)hs->hash, hs->ck, hs->hashlen, ikm, ikmlen, NULL, 0, out,
			  3u * hs->hashlen)) != BC_OK)
		goto out;
	memcpy(hs->ck, out, hs->hashlen);
	if ((rc = mix_hash(hs, out + hs->hashlen, hs->hashlen)) != BC_OK)
		goto out;
	rc = bc_noise_cs_init(&hs->cs, hs->cs.cipher, out + 2u * hs->hashlen);
out:
	sodium_memzero(out, sizeof out);
	return rc;
}

/* out = EncryptWithAd(h, pt); MixHash(out). *outlen = the ciphertext size. */
static int encrypt_and_hash(bc_noise_hs *hs, const uint8_t *pt, size_t ptlen, uint8_t *out,
			    size_t *outlen)
{
	size_t clen = ptlen + tag_if(hs->cs.has_key);
	int rc;

	if ((rc = bc_noise_cs_encrypt(&hs->cs, hs->h, hs->hashlen, pt, ptlen, out)) != BC_OK)
		return rc;
	*outlen = clen;
	return mix_hash(hs, out, clen);
}

/* out = DecryptWithAd(h, ct); MixHash(ct). The new h is computed first, so
 * that nothing can fail after out has been written. */
static int decrypt_and_hash(bc_noise_hs *hs, const uint8_t *ct, size_t ctlen, uint8_t *out)
{
	uint8_t next_h[BC_HASH_MAXLEN];
	int rc;

	if ((rc = hash_with_h(hs, ct, ctlen, next_h)) != BC_OK)
		goto out;
	if ((rc = bc_noise_cs_decrypt(&hs->cs, hs->h, hs->hashlen, ct, ctlen, out)) != BC_OK)
		goto out;
	memcpy(hs->h, next_h, hs->hashlen);
out:
	sodium_memzero(next_h, sizeof next_h);
	return rc;
}

/* ---- HandshakeState (spec §5.3) ---------------------------------------------- */

/* MixKey(DH(priv, pub)); an all-zero DH output is BC_ERR_AUTH. */
static int mix_dh(bc_noise_hs *hs, const uint8_t priv[BC_NOISE_DHLEN],
		  const uint8_t pub[BC_NOISE_DHLEN])
{
	uint8_t shared[crypto_scalarmult_curve25519_BYTES];
	int rc;

	if (crypto_scalarmult_curve25519(shared, priv, pub) != 0) {
		rc = BC_ERR_AUTH;
		goto out;
	}
	rc = mix_key(hs, shared, sizeof shared);
out:
	sodium_memzero(shared, sizeof shared);
	return rc;
}

/* ee, es, se, ss: which local private and remote public key (§5.3). */
static int dh_token(bc_noise_hs *hs, uint8_t tok)
{
	bool local_e, remote_e;

	switch (tok) {
	case T_EE:
		local_e = true, remote_e = true;
		break;
	case T_ES: /* initiator: DH(e, rs); responder: DH(s, re) */
		local_e = hs->initiator, remote_e = !hs->initiator;
		break;
	case T_SE: /* initiator: DH(s, re); responder: DH(e, rs) */
		local_e = !hs->initiator, remote_e = hs->initiator;
		break;
	case T_SS:
		local_e = false, remote_e = false;
		break;
	default:
		return BC_ERR_INTERNAL;
	}
	/* Valid patterns and bc_noise_hs_start guarantee the keys exist. */
	if (!(local_e ? hs->has_e : hs->has_s) || !(remote_e ? hs->has_re : hs->has_rs))
		return BC_ERR_INTERNAL;
	return mix_dh(hs, local_e ? hs->e : hs->s, remote_e ? hs->re : hs->rs);
}

static int psk_token(bc_noise_hs *hs)
{
	if (hs->psk_next >= hs->npsk)
		return BC_ERR_INTERNAL; /* start() checked the count */
	return mix_key_and_hash(hs, hs->psk[hs->psk_next++], BC_NOISE_KEYLEN);
}

/* An "e" public key was sent or received: MixHash, and MixKey in psk
 * handshakes (§9.2). */
static int mix_ephemeral(bc_noise_hs *hs, const uint8_t pub[BC_NOISE_DHLEN])
{
	int rc = mix_hash(hs, pub, BC_NOISE_DHLEN);

	if (rc == BC_OK && hs->psk_mask != 0)
		rc = mix_key(hs, pub, BC_NOISE_DHLEN);
	return rc;
}

static void advance(bc_noise_hs *hs)
{
	hs->msg_idx++;
	if (hs->msg_idx == hs->pat->nmsgs)
		hs->state = ST_SPLIT;
}

int bc_noise_hs_new(bc_noise_hs **out, const char *protocol_name, bool initiator)
{
	bc_noise_hs *hs = NULL;
	struct proto p;
	size_t len;
	int rc;

	if (out == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	if (protocol_name == NULL)
		return BC_ERR_INVALID;
	if ((rc = parse_name(protocol_name, &p)) != BC_OK)
		return rc;
	if ((hs = bc_calloc(1, sizeof *hs)) == NULL)
		return BC_ERR_NOMEM;
	hs->pat = p.pat;
	hs->psk_mask = p.psk_mask;
	hs->hash = (uint8_t)p.hash;
	hs->hashlen = (uint8_t)bc_hash_len(p.hash);
	hs->cs.cipher = p.cipher;
	hs->initiator = initiator;
	hs->state = ST_CONFIG;

	/* InitializeSymmetric(protocol_name) */
	len = strlen(protocol_name);
	if (len <= hs->hashlen)
		memcpy(hs->h, protocol_name, len); /* zero-padded by calloc */
	else if ((rc = bc_hash(p.hash, (const uint8_t *)protocol_name, len, hs->h)) != BC_OK)
		goto out;
	memcpy(hs->ck, hs->h, hs->hashlen);
	*out = hs;
	hs = NULL;
	rc = BC_OK;
out:
	bc_noise_hs_free(hs);
	return rc;
}

void bc_noise_hs_free(bc_noise_hs *hs)
{
	bc_free_secret(hs, sizeof *hs);
}

int bc_noise_hs_set_prologue(bc_noise_hs *hs, const uint8_t *p, size_t len)
{
	int rc;

	if (hs == NULL || (p == NULL && len > 0))
		return BC_ERR_INVALID;
	if (hs->state != ST_CONFIG || hs->prologue_done)
		return BC_ERR_STATE;
	if ((rc = mix_hash(hs, p, len)) != BC_OK) {
		hs_fail(hs);
		return rc;
	}
	hs->prologue_done = true;
	return BC_OK;
}

/* Set a local key pair from its private key. */
static int set_keypair(bc_noise_hs *hs, const uint8_t *priv, uint8_t *sk, uint8_t *pk, bool *has)
{
	if (hs == NULL || priv == NULL)
		return BC_ERR_INVALID;
	if (hs->state != ST_CONFIG)
		return BC_ERR_STATE;
	memmove(sk, priv, BC_NOISE_DHLEN);
	if (crypto_scalarmult_curve25519_base(pk, sk) != 0) {
		sodium_memzero(sk, BC_NOISE_DHLEN);
		sodium_memzero(pk, BC_NOISE_DHLEN);
		*has = false;
		return BC_ERR_CRYPTO;
	}
	*has = true;
	return BC_OK;
}

int bc_noise_hs_set_local_static(bc_noise_hs *hs, const uint8_t priv[BC_NOISE_DHLEN])
{
	if (hs == NULL)
		return BC_ERR_INVALID;
	return set_keypair(hs, priv, hs->s, hs->s_pub, &hs->has_s);
}

int bc_noise_hs_set_local_ephemeral(bc_noise_hs *hs, const uint8_t priv[BC_NOISE_DHLEN])
{
	if (hs == NULL)
		return BC_ERR_INVALID;
	return set_keypair(hs, priv, hs->e, hs->e_pub, &hs->has_e);
}

int bc_noise_hs_set_remote_static(bc_noise_hs *hs, const uint8_t pub[BC_NOISE_DHLEN])
{
	if (hs == NULL || pub == NULL)
		return BC_ERR_INVALID;
	if (hs->state != ST_CONFIG)
		return BC_ERR_STATE;
	memmove(hs->rs, pub, BC_NOISE_DHLEN);
	hs->has_rs = true;
	return BC_OK;
}

int bc_noise_hs_add_psk(bc_noise_hs *hs, const uint8_t psk[BC_NOISE_KEYLEN])
{
	if (hs == NULL || psk == NULL)
		return BC_ERR_INVALID;
	if (hs->state != ST_CONFIG)
		return BC_ERR_STATE;
	if (hs->npsk >= popcount8(hs->psk_mask))
		return BC_ERR_INVALID;
	memmove(hs->psk[hs->npsk++], psk, BC_NOISE_KEYLEN);
	return BC_OK;
}

int bc_noise_hs_start(bc_noise_hs *hs)
{
	bool own_pre_s, remote_pre_s, need_s;
	int rc;

	if (hs == NULL)
		return BC_ERR_INVALID;
	if (hs->state != ST_CONFIG)
		return BC_ERR_STATE;
	own_pre_s = hs->initiator ? hs->pat->pre_i_s : hs->pat->pre_r_s;
	remote_pre_s = hs->initiator ? hs->pat->pre_r_s : hs->pat->pre_i_s;
	need_s = own_pre_s || side_sends(hs, T_S);
	/* Exactly the keys the pattern uses: a missing key cannot work, and an
	 * unexpected one means the caller has another pattern in mind (a
	 * remote static the pattern transmits must be empty, §5.3). */
	if (hs->has_s != need_s || hs->has_rs != remote_pre_s ||
	    (hs->has_e && !side_sends(hs, T_E)) || hs->npsk != popcount8(hs->psk_mask))
		return BC_ERR_INVALID;

	if (!hs->prologue_done && (rc = mix_hash(hs, NULL, 0)) != BC_OK)
		goto out;
	hs->prologue_done = true;
	/* Pre-message keys, initiator's first (§5.3, §7). */
	if (hs->pat->pre_i_s &&
	    (rc = mix_hash(hs, hs->initiator ? hs->s_pub : hs->rs, BC_NOISE_DHLEN)) != BC_OK)
		goto out;
	if (hs->pat->pre_r_s &&
	    (rc = mix_hash(hs, hs->initiator ? hs->rs : hs->s_pub, BC_NOISE_DHLEN)) != BC_OK)
		goto out;
	hs->state = ST_RUN;
	rc = BC_OK;
out:
	if (rc != BC_OK)
		hs_fail(hs);
	return rc;
}

int bc_noise_hs_action(const bc_noise_hs *hs)
{
	if (hs == NULL)
		return BC_NOISE_ACTION_FAILED;
	switch (hs->state) {
	case ST_CONFIG:
		return BC_NOISE_ACTION_START;
	case ST_RUN:
		return sends_msg(hs, hs->msg_idx) ? BC_NOISE_ACTION_WRITE : BC_NOISE_ACTION_READ;
	case ST_SPLIT:
		return BC_NOISE_ACTION_SPLIT;
	case ST_DONE:
		return BC_NOISE_ACTION_DONE;
	default:
		return BC_NOISE_ACTION_FAILED;
	}
}

int bc_noise_hs_write_message(bc_noise_hs *hs, const uint8_t *payload, size_t plen, uint8_t *out,
			      size_t outcap, size_t *outlen)
{
	uint8_t toks[MAX_MSG_TOKENS];
	size_t ntok, fixed, need, pos = 0, n = 0;
	bool encrypted;
	int rc = BC_OK;

	if (hs == NULL)
		return BC_ERR_INVALID;
	if (hs->state != ST_RUN || !sends_msg(hs, hs->msg_idx))
		return BC_ERR_STATE;
	if (out == NULL || outlen == NULL || (payload == NULL && plen > 0))
		return BC_ERR_INVALID;
	*outlen = 0;
	ntok = msg_tokens(hs, hs->msg_idx, toks);
	msg_shape(hs, toks, ntok, &fixed, &encrypted);
	if (plen > BC_NOISE_MAX_MSG)
		return BC_ERR_TOOBIG;
	need = fixed + plen + tag_if(encrypted);
	if (need > BC_NOISE_MAX_MSG)
		return BC_ERR_TOOBIG;
	if (outcap < need)
		return BC_ERR_INVALID;

	for (size_t i = 0; i < ntok && rc == BC_OK; i++) {
		switch (toks[i]) {
		case T_E:
			/* e is empty unless injected for a test vector */
			if (!hs->has_e) {
				randombytes_buf(hs->e, sizeof hs->e);
				if (crypto_scalarmult_curve25519_base(hs->e_pub, hs->e) != 0) {
					rc = BC_ERR_CRYPTO;
					break;
				}
				hs->has_e = true;
			}
			memcpy(out + pos, hs->e_pub, BC_NOISE_DHLEN);
			pos += BC_NOISE_DHLEN;
			rc = mix_ephemeral(hs, hs->e_pub);
			break;
		case T_S:
			if (!hs->has_s) {
				rc = BC_ERR_INTERNAL;
				break;
			}
			rc = encrypt_and_hash(hs, hs->s_pub, BC_NOISE_DHLEN, out + pos, &n);
			pos += n;
			break;
		case T_PSK:
			rc = psk_token(hs);
			break;
		default:
			rc = dh_token(hs, toks[i]);
			break;
		}
	}
	if (rc != BC_OK)
		goto out;
	if ((rc = encrypt_and_hash(hs, payload, plen, out + pos, &n)) != BC_OK)
		goto out;
	pos += n;
	if (pos != need) { /* msg_shape and the token loop disagree */
		rc = BC_ERR_INTERNAL;
		goto out;
	}
	*outlen = need;
	advance(hs);
out:
	if (rc != BC_OK) {
		sodium_memzero(out, need);
		hs_fail(hs);
	}
	return rc;
}

int bc_noise_hs_read_message(bc_noise_hs *hs, const uint8_t *msg, size_t mlen, uint8_t *payload,
			     size_t pcap, size_t *plen)
{
	uint8_t toks[MAX_MSG_TOKENS];
	uint8_t rs[BC_NOISE_DHLEN];
	uint8_t dummy[1];
	size_t ntok, fixed, min, p = 0, pos = 0, n = 0;
	bool encrypted;
	int rc = BC_OK;

	if (hs == NULL)
		return BC_ERR_INVALID;
	if (hs->state != ST_RUN || sends_msg(hs, hs->msg_idx))
		return BC_ERR_STATE;
	if (plen == NULL || (msg == NULL && mlen > 0) || (payload == NULL && pcap > 0))
		return BC_ERR_INVALID;
	*plen = 0;
	if (mlen > BC_NOISE_MAX_MSG) {
		rc = BC_ERR_TOOBIG;
		goto out;
	}
	ntok = msg_tokens(hs, hs->msg_idx, toks);
	msg_shape(hs, toks, ntok, &fixed, &encrypted);
	min = fixed + tag_if(encrypted);
	if (mlen < min) {
		rc = BC_ERR_MALFORMED;
		goto out;
	}
	p = mlen - min;
	if (pcap < p)
		return BC_ERR_INVALID; /* nothing processed yet: the caller may retry */

	for (size_t i = 0; i < ntok && rc == BC_OK; i++) {
		switch (toks[i]) {
		case T_E:
			memcpy(hs->re, msg + pos, BC_NOISE_DHLEN);
			hs->has_re = true;
			pos += BC_NOISE_DHLEN;
			rc = mix_ephemeral(hs, hs->re);
			break;
		case T_S:
			n = BC_NOISE_DHLEN + tag_if(hs->cs.has_key);
			rc = decrypt_and_hash(hs, msg + pos, n, rs);
			if (rc == BC_OK) {
				memcpy(hs->rs, rs, sizeof rs);
				hs->has_rs = true;
			}
			pos += n;
			break;
		case T_PSK:
			rc = psk_token(hs);
			break;
		default:
			rc = dh_token(hs, toks[i]);
			break;
		}
	}
	if (rc != BC_OK)
		goto out;
	if (pos + p + tag_if(encrypted) != mlen) {
		rc = BC_ERR_INTERNAL;
		goto out;
	}
	rc = decrypt_and_hash(hs, msg + pos, mlen - pos, payload != NULL ? payload : dummy);
	if (rc != BC_OK)
		goto out;
	*plen = p;
	advance(hs);
out:
	sodium_memzero(rs, sizeof rs);
	if (rc != BC_OK)
		hs_fail(hs);
	return rc;
}

int bc_noise_hs_get_remote_static(const bc_noise_hs *hs, uint8_t pub[BC_NOISE_DHLEN])
{
	if (hs == NULL || pub == NULL)
		return BC_ERR_INVALID;
	if (hs->state == ST_FAILED || !hs->has_rs)
		return BC_ERR_STATE;
	memcpy(pub, hs->rs, BC_NOISE_DHLEN);
	return BC_OK;
}

int bc_noise_hs_get_handshake_hash(const bc_noise_hs *hs, uint8_t *out, size_t *len)
{
	if (hs == NULL || out == NULL || len == NULL)
		return BC_ERR_INVALID;
	if (hs->state != ST_SPLIT && hs->state != ST_DONE)
		return BC_ERR_STATE;
	if (*len < hs->hashlen)
		return BC_ERR_INVALID;
	memcpy(out, hs->h, hs->hashlen);
	*len = hs->hashlen;
	return BC_OK;
}

int bc_noise_hs_split(bc_noise_hs *hs, bc_noise_cs *send, bc_noise_cs *recv)
{
	uint8_t k[2 * BC_HASH_MAXLEN];
	bc_noise_cs c1, c2;
	bool oneway;
	int rc;

	if (hs == NULL)
		return BC_ERR_INVALID;
	if (hs->state != ST_SPLIT)
		return BC_ERR_STATE;
	memset(&c1, 0, sizeof c1);
	memset(&c2, 0, sizeof c2);
	/* temp_k1, temp_k2 = HKDF(ck, zerolen, 2), truncated to 32 bytes */
	if ((rc = bc_hkdf((bc_hash_alg)hs->hash, hs->ck, hs->hashlen, NULL, 0, NULL, 0, k,
			  2u * hs->hashlen)) != BC_OK)
		goto out;
	if ((rc = bc_noise_cs_init(&c1, hs->cs.cipher, k)) != BC_OK ||
	    (rc = bc_noise_cs_init(&c2, hs->cs.cipher, k + hs->hashlen)) != BC_OK)
		goto out;
	/* One-way patterns: c2 must never be used (§7.2). */
	oneway = hs->pat->nmsgs == 1;
	if (oneway)
		bc_noise_cs_wipe(&c2);
	if (send != NULL)
		*send = hs->initiator ? c1 : c2;
	if (recv != NULL)
		*recv = hs->initiator ? c2 : c1;

	/* Keep only what can still be asked for: h and rs. */
	sodium_memzero(hs->ck, sizeof hs->ck);
	bc_noise_cs_wipe(&hs->cs);
	sodium_memzero(hs->s, sizeof hs->s);
	sodium_memzero(hs->e, sizeof hs->e);
	sodium_memzero(hs->psk, sizeof hs->psk);
	hs->has_s = hs->has_e = false;
	hs->state = ST_DONE;
	rc = BC_OK;
out:
	sodium_memzero(k, sizeof k);
	bc_noise_cs_wipe(&c1);
	bc_noise_cs_wipe(&c2);
	if (rc != BC_OK)
		hs_fail(hs);
	return rc;
}
