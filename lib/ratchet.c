/*
 * ratchet.c - the Double Ratchet with header encryption (see ratchet.h and
 * docs/PROTOCOL.md §13, which is the specification of every byte here).
 *
 * The code follows the pseudo-code of Signal's specification, §4 (the
 * header-encryption variant of §3): RatchetInitAliceHE / RatchetInitBobHE,
 * RatchetEncryptHE, RatchetDecryptHE with TrySkippedMessageKeysHE,
 * DecryptHeader, SkipMessageKeysHE and DHRatchetHE. It departs from the
 * pseudo-code in how state changes are applied, never in what they are:
 *
 *   - decryption works on a scratch copy of the fixed-size state (struct
 *     core) and collects newly skipped keys in a pending array; every step
 *     that can fail (allocations included) happens before the body is
 *     authenticated, and the commit that follows cannot fail. A failed call
 *     therefore leaves the handle bit-for-bit unchanged;
 *   - the skipped-key store is an array in insertion order (oldest first).
 *     Before the commit its capacity is grown (a logically invisible change)
 *     so that the commit never allocates; the commit then drops the used and
 *     the expired keys, evicts the oldest beyond BC_RATCHET_MAX_SKIPPED and
 *     appends the pending ones;
 *   - a header that authenticates under the current receiving header key
 *     with a message number already passed, or under the header key of some
 *     stored skipped keys without its number among them, is reported as
 *     BC_ERR_REPLAY instead of failing later on the body.
 *
 * Invariants of a ready handle (checked again by bc_ratchet_deserialize):
 *   - flags is one of 0 (responder before its first message),
 *     F_SEND|F_DHR (initiator before its first reply) or F_SEND|F_RECV|F_DHR;
 *     a field whose flag is clear is all zeros;
 *   - without F_RECV: nr == pn == 0 and no skipped keys; without F_SEND:
 *     ns == 0;
 *   - nsk <= BC_RATCHET_MAX_SKIPPED and nsk <= capsk; the array slots
 *     [nsk, capsk) are zero.
 * Every local that held key material is wiped on the way out (one "out:"
 * label per function).
 */
#include <stdbool.h>

#include <sodium.h>

#include "codec.h"
#include "hmac.h"
#include "internal.h"
#include "ratchet.h"

#define KEY BC_RATCHET_KEYLEN
#define NONCELEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAGLEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define HDRLEN BC_RATCHET_HEADER_LEN
#define ENCHDRLEN BC_RATCHET_ENC_HEADER_LEN

_Static_assert(NONCELEN == 24, "XChaCha20 nonce");
_Static_assert(TAGLEN == BC_RATCHET_TAGLEN, "Poly1305 tag");
_Static_assert(ENCHDRLEN == NONCELEN + HDRLEN + TAGLEN, "encrypted header");

static const char LABEL_ROOT[] = "backchannel v1 ratchet root";
static const char LABEL_MSG[] = "backchannel v1 ratchet message";
static const char LABEL_HDR[] = "backchannel v1 ratchet header";
#define LABEL(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

enum {
	F_SEND = 1, /* CKs and HKs are set */
	F_RECV = 2, /* CKr and HKr are set */
	F_DHR = 4,  /* DHRr is set */
};

/* The fixed-size part of the state: the variables of §3.2 and §4.2. */
struct core {
	uint8_t dhs_sk[KEY], dhs_pk[KEY]; /* DHRs */
	uint8_t dhr[KEY];                 /* DHRr */
	uint8_t rk[KEY];                  /* RK */
	uint8_t cks[KEY], ckr[KEY];       /* CKs, CKr */
	uint8_t hks[KEY], hkr[KEY];       /* HKs, HKr */
	uint8_t nhks[KEY], nhkr[KEY];     /* NHKs, NHKr */
	uint32_t ns, nr, pn;              /* Ns, Nr, PN */
	uint8_t flags;
};

/* One entry of MKSKIPPED: (HK, N) -> MK, stamped with the time stored. */
struct skipped {
	uint8_t hk[KEY];
	uint8_t mk[KEY];
	uint64_t t;
	uint32_t n;
};

struct bc_ratchet {
	struct core c;
	bool ready;
	struct skipped *sk; /* oldest first */
	size_t nsk, capsk;
	bc_ratchet_test_rng_fn rng;
	void *rng_ctx;
};

struct header {
	uint8_t dh[KEY];
	uint32_t pn, n;
};

/* Serialised sizes (docs/PROTOCOL.md §13.6). */
#define STATE_FIXED (1 + 1 + 9 * KEY + 3 * 4 + 2)
#define STATE_ENTRY (KEY + 4 + KEY + 8)

/* ---- primitives ------------------------------------------------------------ */

int bc_ratchet_kdf_rk(const uint8_t rk[static KEY], const uint8_t dh_out[static KEY],
		      uint8_t out_rk[static KEY], uint8_t out_ck[static KEY],
		      uint8_t out_nhk[static KEY])
{
	uint8_t okm[3 * KEY];
	int err;

	err = bc_hkdf(BC_HASH_SHA256, rk, KEY, dh_out, KEY, LABEL(LABEL_ROOT), okm, sizeof(okm));
	if (err != BC_OK) {
		sodium_memzero(out_rk, KEY);
		sodium_memzero(out_ck, KEY);
		sodium_memzero(out_nhk, KEY);
		goto out;
	}
	memcpy(out_rk, okm, KEY);
	memcpy(out_ck, okm + KEY, KEY);
	memcpy(out_nhk, okm + 2 * KEY, KEY);
out:
	sodium_memzero(okm, sizeof(okm));
	return err;
}

int bc_ratchet_kdf_ck(const uint8_t ck[static KEY], uint8_t out_ck[static KEY],
		      uint8_t out_mk[static KEY])
{
	static const uint8_t c_mk = 0x01, c_ck = 0x02;
	uint8_t mk[KEY], next[KEY];
	int err;

	err = bc_hmac(BC_HASH_SHA256, ck, KEY, &c_mk, 1, mk);
	if (err != BC_OK)
		goto out;
	err = bc_hmac(BC_HASH_SHA256, ck, KEY, &c_ck, 1, next);
	if (err != BC_OK)
		goto out;
	memcpy(out_mk, mk, KEY);
	memcpy(out_ck, next, KEY);
out:
	if (err != BC_OK) {
		sodium_memzero(out_mk, KEY);
		sodium_memzero(out_ck, KEY);
	}
	sodium_memzero(mk, sizeof(mk));
	sodium_memzero(next, sizeof(next));
	return err;
}

int bc_ratchet_body_keys(const uint8_t mk[static KEY], uint8_t key[static KEY],
			 uint8_t nonce[static NONCELEN])
{
	static const uint8_t zero_salt[KEY];
	uint8_t okm[KEY + NONCELEN];
	int err;

	err = bc_hkdf(BC_HASH_SHA256, zero_salt, sizeof(zero_salt), mk, KEY, LABEL(LABEL_MSG), okm,
		      sizeof(okm));
	if (err != BC_OK) {
		sodium_memzero(key, KEY);
		sodium_memzero(nonce, NONCELEN);
		goto out;
	}
	memcpy(key, okm, KEY);
	memcpy(nonce, okm + KEY, NONCELEN);
out:
	sodium_memzero(okm, sizeof(okm));
	return err;
}

/* X25519; an all-zero output (a low-order public key) is BC_ERR_AUTH. */
static int dh(uint8_t out[KEY], const uint8_t sk[KEY], const uint8_t pk[KEY])
{
	if (crypto_scalarmult(out, sk, pk) != 0 || sodium_is_zero(out, KEY)) {
		sodium_memzero(out, KEY);
		return BC_ERR_AUTH;
	}
	return BC_OK;
}

static int rng_bytes(const bc_ratchet *r, int kind, uint8_t *buf, size_t len)
{
	if (r->rng == NULL) {
		randombytes_buf(buf, len);
		return BC_OK;
	}
	if (r->rng(r->rng_ctx, kind, buf, len) != 0) {
		sodium_memzero(buf, len);
		return BC_ERR_CRYPTO;
	}
	return BC_OK;
}

/* GENERATE_DH */
static int generate_dh(const bc_ratchet *r, uint8_t sk[KEY], uint8_t pk[KEY])
{
	int err = rng_bytes(r, BC_RATCHET_RNG_DH, sk, KEY);

	if (err == BC_OK && crypto_scalarmult_base(pk, sk) != 0)
		err = BC_ERR_CRYPTO;
	if (err != BC_OK) {
		sodium_memzero(sk, KEY);
		sodium_memzero(pk, KEY);
	}
	return err;
}

/* HENCRYPT(hk, HEADER(dhs_pk, pn, n)) into enc[0..ENCHDRLEN). */
static int header_encrypt(const bc_ratchet *r, const uint8_t hk[KEY], const uint8_t dh_pub[KEY],
			  uint32_t pn, uint32_t n, uint8_t enc[ENCHDRLEN])
{
	uint8_t hdr[HDRLEN];
	uint8_t *p = NULL;
	size_t plen = 0;
	bc_wr w;
	int err;

	bc_wr_init_fixed(&w, hdr, sizeof(hdr));
	(void)bc_wr_raw(&w, dh_pub, KEY);
	(void)bc_wr_u32(&w, pn);
	(void)bc_wr_u32(&w, n);
	err = bc_wr_finish(&w, &p, &plen);
	if (err == BC_OK && plen != HDRLEN)
		err = BC_ERR_INTERNAL;
	if (err != BC_OK)
		goto out;
	err = rng_bytes(r, BC_RATCHET_RNG_NONCE, enc, NONCELEN);
	if (err != BC_OK)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(enc + NONCELEN, NULL, hdr, HDRLEN,
						       LABEL(LABEL_HDR), NULL, enc, hk) != 0)
		err = BC_ERR_CRYPTO;
out:
	sodium_memzero(hdr, sizeof(hdr));
	return err;
}

/* HDECRYPT: BC_OK and *h, or BC_ERR_AUTH (and *h zeroed). */
static int header_decrypt(const uint8_t hk[KEY], const uint8_t enc[ENCHDRLEN], struct header *h)
{
	uint8_t hdr[HDRLEN];
	bc_rd rd;
	int err = BC_ERR_AUTH;

	memset(h, 0, sizeof(*h));
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(hdr, NULL, NULL, enc + NONCELEN,
						       ENCHDRLEN - NONCELEN, LABEL(LABEL_HDR),
						       enc, hk) != 0)
		goto out;
	bc_rd_init(&rd, hdr, sizeof(hdr));
	(void)bc_rd_raw(&rd, h->dh, KEY);
	(void)bc_rd_u32(&rd, &h->pn);
	(void)bc_rd_u32(&rd, &h->n);
	err = bc_rd_end(&rd);
	if (err != BC_OK)
		memset(h, 0, sizeof(*h));
out:
	sodium_memzero(hdr, sizeof(hdr));
	return err;
}

/* The body's associated data: ad || enc_header, in a new buffer. */
static int body_ad(const uint8_t *ad, size_t adlen, const uint8_t enc[ENCHDRLEN], uint8_t **out,
		   size_t *outlen)
{
	uint8_t *b = bc_malloc(adlen + ENCHDRLEN);

	if (b == NULL)
		return BC_ERR_NOMEM;
	if (adlen > 0)
		memcpy(b, ad, adlen);
	memcpy(b + adlen, enc, ENCHDRLEN);
	*out = b;
	*outlen = adlen + ENCHDRLEN;
	return BC_OK;
}

/* DECRYPT(mk, body, fad) into pt (body_len - TAGLEN bytes). */
static int body_decrypt(const uint8_t mk[KEY], const uint8_t *body, size_t body_len,
			const uint8_t *fad, size_t fadlen, uint8_t *pt)
{
	uint8_t key[KEY], nonce[NONCELEN];
	int err = bc_ratchet_body_keys(mk, key, nonce);

	if (err != BC_OK)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, body, body_len, fad, fadlen,
						       nonce, key) != 0) {
		sodium_memzero(pt, body_len - TAGLEN);
		err = BC_ERR_AUTH;
	}
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(nonce, sizeof(nonce));
	return err;
}

/* ---- the skipped-key store ------------------------------------------------- */

static bool expired(const struct skipped *e, uint64_t now, uint64_t max_age)
{
	return now > e->t && now - e->t > max_age;
}

/* Drop entry `used` (SIZE_MAX: none) and every expired entry, keeping the
 * order; wipes the freed slots. Returns how many were dropped. */
static size_t skipped_filter(bc_ratchet *r, size_t used, uint64_t now, uint64_t max_age)
{
	size_t i, j = 0, n = r->nsk;

	for (i = 0; i < n; i++) {
		if (i == used || expired(&r->sk[i], now, max_age))
			continue;
		if (j != i)
			r->sk[j] = r->sk[i];
		j++;
	}
	if (j < n)
		sodium_memzero(r->sk + j, (n - j) * sizeof(*r->sk));
	r->nsk = j;
	return n - j;
}

/* Make room for `want` entries (capped at the maximum) without changing the
 * contents: a new array, the old one wiped. */
static int skipped_reserve(bc_ratchet *r, size_t want)
{
	struct skipped *a;
	size_t cap;

	if (want > BC_RATCHET_MAX_SKIPPED)
		want = BC_RATCHET_MAX_SKIPPED;
	if (want <= r->capsk)
		return BC_OK;
	cap = r->capsk < 16 ? 16 : r->capsk * 2;
	if (cap < want)
		cap = want;
	if (cap > BC_RATCHET_MAX_SKIPPED)
		cap = BC_RATCHET_MAX_SKIPPED;
	a = bc_calloc(cap, sizeof(*a));
	if (a == NULL)
		return BC_ERR_NOMEM;
	if (r->nsk > 0)
		memcpy(a, r->sk, r->nsk * sizeof(*a));
	bc_free_secret(r->sk, r->capsk * sizeof(*r->sk));
	r->sk = a;
	r->capsk = cap;
	return BC_OK;
}

/* The commit of a successful decrypt; never fails. Requires
 * capsk >= min(MAX_SKIPPED, nsk + npend) (skipped_reserve). */
static void skipped_commit(bc_ratchet *r, size_t used, const struct skipped *pend, size_t npend,
			   uint64_t now)
{
	size_t drop;

	(void)skipped_filter(r, used, now, BC_RATCHET_MAX_AGE);
	if (npend > BC_RATCHET_MAX_SKIPPED) {
		pend += npend - BC_RATCHET_MAX_SKIPPED;
		npend = BC_RATCHET_MAX_SKIPPED;
	}
	if (r->nsk + npend > BC_RATCHET_MAX_SKIPPED) {
		drop = r->nsk + npend - BC_RATCHET_MAX_SKIPPED;
		memmove(r->sk, r->sk + drop, (r->nsk - drop) * sizeof(*r->sk));
		sodium_memzero(r->sk + (r->nsk - drop), drop * sizeof(*r->sk));
		r->nsk -= drop;
	}
	if (npend > 0)
		memcpy(r->sk + r->nsk, pend, npend * sizeof(*pend));
	r->nsk += npend;
}

/* TrySkippedMessageKeysHE, the lookup half: the index of the unexpired
 * entry whose header key opens enc with that entry's message number, or
 * SIZE_MAX. *opened tells whether any held header key opened it. Each
 * distinct header key is tried once per run of equal keys (entries of one
 * chain are stored contiguously). */
static size_t skipped_find(const bc_ratchet *r, const uint8_t enc[ENCHDRLEN], uint64_t now,
			   bool *opened)
{
	struct header h;
	const uint8_t *last = NULL;
	bool last_ok = false;
	size_t i, hit = SIZE_MAX;

	*opened = false;
	memset(&h, 0, sizeof(h));
	for (i = 0; i < r->nsk; i++) {
		const struct skipped *e = &r->sk[i];

		if (expired(e, now, BC_RATCHET_MAX_AGE))
			continue;
		if (last == NULL || sodium_memcmp(last, e->hk, KEY) != 0) {
			last = e->hk;
			last_ok = header_decrypt(e->hk, enc, &h) == BC_OK;
			if (last_ok)
				*opened = true;
		}
		if (last_ok && h.n == e->n) {
			hit = i;
			break;
		}
	}
	sodium_memzero(&h, sizeof(h));
	return hit;
}

/* SkipMessageKeysHE on the scratch state: derive the keys of messages
 * s->nr .. until-1 of the receiving chain into pend[*k..]. The caller has
 * checked the MAX_SKIP bound and sized pend. */
static int skip_keys(struct core *s, uint32_t until, uint64_t now, struct skipped *pend,
		     size_t *k)
{
	int err = BC_OK;

	if (!(s->flags & F_RECV))
		return BC_OK;
	while (s->nr < until) {
		struct skipped *e = &pend[*k];

		err = bc_ratchet_kdf_ck(s->ckr, s->ckr, e->mk);
		if (err != BC_OK)
			return err;
		memcpy(e->hk, s->hkr, KEY);
		e->n = s->nr;
		e->t = now;
		(*k)++;
		s->nr++;
	}
	return err;
}

/* DHRatchetHE on the scratch state. */
static int dh_ratchet(const bc_ratchet *r, struct core *s, const struct header *h)
{
	uint8_t dh_out[KEY];
	int err;

	s->pn = s->ns;
	s->ns = 0;
	s->nr = 0;
	memcpy(s->dhr, h->dh, KEY);
	memcpy(s->hks, s->nhks, KEY);
	memcpy(s->hkr, s->nhkr, KEY);
	err = dh(dh_out, s->dhs_sk, s->dhr);
	if (err != BC_OK)
		goto out;
	err = bc_ratchet_kdf_rk(s->rk, dh_out, s->rk, s->ckr, s->nhkr);
	if (err != BC_OK)
		goto out;
	err = generate_dh(r, s->dhs_sk, s->dhs_pk);
	if (err != BC_OK)
		goto out;
	err = dh(dh_out, s->dhs_sk, s->dhr);
	if (err != BC_OK)
		goto out;
	err = bc_ratchet_kdf_rk(s->rk, dh_out, s->rk, s->cks, s->nhks);
	if (err != BC_OK)
		goto out;
	s->flags = F_SEND | F_RECV | F_DHR;
out:
	sodium_memzero(dh_out, sizeof(dh_out));
	return err;
}

/* ---- lifecycle ------------------------------------------------------------- */

int bc_ratchet_new(bc_ratchet **out)
{
	bc_ratchet *r;

	if (out == NULL)
		return BC_ERR_INVALID;
	r = bc_calloc(1, sizeof(*r));
	if (r == NULL)
		return BC_ERR_NOMEM;
	*out = r;
	return BC_OK;
}

void bc_ratchet_free(bc_ratchet *r)
{
	if (r == NULL)
		return;
	bc_free_secret(r->sk, r->capsk * sizeof(*r->sk));
	bc_free_secret(r, sizeof(*r));
}

void bc_ratchet_test_set_rng(bc_ratchet *r, bc_ratchet_test_rng_fn fn, void *ctx)
{
	if (r == NULL)
		return;
	r->rng = fn;
	r->rng_ctx = fn != NULL ? ctx : NULL;
}

int bc_ratchet_init_initiator(bc_ratchet *r, const uint8_t sk[static KEY],
			      const uint8_t remote_ratchet_pub[static KEY],
			      const uint8_t shared_hka[static KEY],
			      const uint8_t shared_nhkb[static KEY])
{
	struct core s;
	uint8_t dh_out[KEY];
	int err;

	memset(&s, 0, sizeof(s));
	memset(dh_out, 0, sizeof(dh_out));
	if (r == NULL || sk == NULL || remote_ratchet_pub == NULL || shared_hka == NULL ||
	    shared_nhkb == NULL) {
		err = BC_ERR_INVALID;
		goto out;
	}
	if (r->ready) {
		err = BC_ERR_STATE;
		goto out;
	}
	err = generate_dh(r, s.dhs_sk, s.dhs_pk);
	if (err != BC_OK)
		goto out;
	memcpy(s.dhr, remote_ratchet_pub, KEY);
	err = dh(dh_out, s.dhs_sk, s.dhr);
	if (err != BC_OK)
		goto out;
	err = bc_ratchet_kdf_rk(sk, dh_out, s.rk, s.cks, s.nhks);
	if (err != BC_OK)
		goto out;
	memcpy(s.hks, shared_hka, KEY);
	memcpy(s.nhkr, shared_nhkb, KEY);
	s.flags = F_SEND | F_DHR;
	r->c = s;
	r->ready = true;
out:
	sodium_memzero(&s, sizeof(s));
	sodium_memzero(dh_out, sizeof(dh_out));
	return err;
}

int bc_ratchet_init_responder(bc_ratchet *r, const uint8_t sk[static KEY],
			      const uint8_t own_ratchet_priv[static KEY],
			      const uint8_t shared_hka[static KEY],
			      const uint8_t shared_nhkb[static KEY])
{
	struct core s;
	int err = BC_OK;

	memset(&s, 0, sizeof(s));
	if (r == NULL || sk == NULL || own_ratchet_priv == NULL || shared_hka == NULL ||
	    shared_nhkb == NULL) {
		err = BC_ERR_INVALID;
		goto out;
	}
	if (r->ready) {
		err = BC_ERR_STATE;
		goto out;
	}
	memcpy(s.dhs_sk, own_ratchet_priv, KEY);
	if (crypto_scalarmult_base(s.dhs_pk, s.dhs_sk) != 0) {
		err = BC_ERR_INVALID;
		goto out;
	}
	memcpy(s.rk, sk, KEY);
	memcpy(s.nhks, shared_nhkb, KEY);
	memcpy(s.nhkr, shared_hka, KEY);
	s.flags = 0;
	r->c = s;
	r->ready = true;
out:
	sodium_memzero(&s, sizeof(s));
	return err;
}

/* ---- encrypt / decrypt ------------------------------------------------------ */

int bc_ratchet_encrypt(bc_ratchet *r, const uint8_t *ad, size_t adlen, const uint8_t *pt,
		       size_t ptlen, uint8_t **out, size_t *outlen)
{
	struct core s;
	uint8_t mk[KEY], key[KEY], nonce[NONCELEN];
	uint8_t *msg = NULL, *fad = NULL;
	size_t msglen = 0, fadlen = 0;
	int err;

	memset(&s, 0, sizeof(s));
	memset(mk, 0, sizeof(mk));
	memset(key, 0, sizeof(key));
	memset(nonce, 0, sizeof(nonce));
	if (r == NULL || out == NULL || outlen == NULL || (ad == NULL && adlen > 0) ||
	    (pt == NULL && ptlen > 0)) {
		err = BC_ERR_INVALID;
		goto out;
	}
	if (!r->ready || !(r->c.flags & F_SEND) || r->c.ns == UINT32_MAX) {
		err = BC_ERR_STATE;
		goto out;
	}
	if (ptlen > BC_RATCHET_MAX_PLAINTEXT || adlen > BC_RATCHET_MAX_AD) {
		err = BC_ERR_TOOBIG;
		goto out;
	}
	s = r->c;
	err = bc_ratchet_kdf_ck(s.cks, s.cks, mk);
	if (err != BC_OK)
		goto out;
	msglen = BC_RATCHET_OVERHEAD + ptlen;
	msg = bc_malloc(msglen);
	if (msg == NULL) {
		err = BC_ERR_NOMEM;
		goto out;
	}
	msg[0] = BC_RATCHET_VERSION;
	err = header_encrypt(r, s.hks, s.dhs_pk, s.pn, s.ns, msg + 1);
	if (err != BC_OK)
		goto out;
	err = body_ad(ad, adlen, msg + 1, &fad, &fadlen);
	if (err != BC_OK)
		goto out;
	err = bc_ratchet_body_keys(mk, key, nonce);
	if (err != BC_OK)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(msg + 1 + ENCHDRLEN, NULL, pt, ptlen, fad,
						       fadlen, NULL, nonce, key) != 0) {
		err = BC_ERR_CRYPTO;
		goto out;
	}
	s.ns++;
	/* commit */
	r->c = s;
	*out = msg;
	*outlen = msglen;
	msg = NULL;
out:
	sodium_memzero(&s, sizeof(s));
	sodium_memzero(mk, sizeof(mk));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(nonce, sizeof(nonce));
	bc_free_secret(msg, msglen);
	bc_free(fad);
	return err;
}

int bc_ratchet_decrypt(bc_ratchet *r, const uint8_t *ad, size_t adlen, const uint8_t *msg,
		       size_t mlen, uint64_t now, uint8_t **pt, size_t *ptlen)
{
	struct core s;
	struct header h;
	uint8_t mk[KEY];
	struct skipped *pend = NULL;
	size_t npend = 0, k = 0, hit;
	uint8_t *fad = NULL, *plain = NULL;
	size_t fadlen = 0, plen = 0, bodylen;
	const uint8_t *enc, *body;
	bool opened = false, step = false;
	int err;

	memset(&s, 0, sizeof(s));
	memset(&h, 0, sizeof(h));
	memset(mk, 0, sizeof(mk));
	if (r == NULL || msg == NULL || pt == NULL || ptlen == NULL ||
	    (ad == NULL && adlen > 0)) {
		err = BC_ERR_INVALID;
		goto out;
	}
	if (!r->ready) {
		err = BC_ERR_STATE;
		goto out;
	}
	if (mlen < BC_RATCHET_OVERHEAD || msg[0] != BC_RATCHET_VERSION) {
		err = BC_ERR_MALFORMED;
		goto out;
	}
	if (mlen - BC_RATCHET_OVERHEAD > BC_RATCHET_MAX_PLAINTEXT || adlen > BC_RATCHET_MAX_AD) {
		err = BC_ERR_TOOBIG;
		goto out;
	}
	enc = msg + 1;
	body = enc + ENCHDRLEN;
	bodylen = mlen - 1 - ENCHDRLEN;
	plen = bodylen - TAGLEN;
	err = body_ad(ad, adlen, enc, &fad, &fadlen);
	if (err != BC_OK)
		goto out;
	plain = bc_malloc(plen);
	if (plain == NULL) {
		err = BC_ERR_NOMEM;
		goto out;
	}

	/* TrySkippedMessageKeysHE */
	hit = skipped_find(r, enc, now, &opened);
	if (hit != SIZE_MAX) {
		err = body_decrypt(r->sk[hit].mk, body, bodylen, fad, fadlen, plain);
		if (err != BC_OK)
			goto out;
		skipped_commit(r, hit, NULL, 0, now);
		goto done;
	}

	/* DecryptHeader */
	if ((r->c.flags & F_RECV) && header_decrypt(r->c.hkr, enc, &h) == BC_OK) {
		step = false;
	} else if (header_decrypt(r->c.nhkr, enc, &h) == BC_OK) {
		step = true;
	} else {
		err = opened ? BC_ERR_REPLAY : BC_ERR_AUTH;
		goto out;
	}

	/* The MAX_SKIP checks of SkipMessageKeysHE, before anything is derived. */
	s = r->c;
	if (!step) {
		if (h.n < s.nr) {
			err = BC_ERR_REPLAY;
			goto out;
		}
		if (h.n - s.nr > BC_RATCHET_MAX_SKIP || h.n == UINT32_MAX) {
			err = BC_ERR_QUOTA;
			goto out;
		}
		npend = h.n - s.nr;
	} else {
		if ((uint64_t)s.nr + BC_RATCHET_MAX_SKIP < h.pn || h.n > BC_RATCHET_MAX_SKIP) {
			err = BC_ERR_QUOTA;
			goto out;
		}
		if ((s.flags & F_RECV) && h.pn > s.nr)
			npend = h.pn - s.nr;
		npend += h.n;
	}
	if (npend > 0) {
		pend = bc_calloc(npend, sizeof(*pend));
		if (pend == NULL) {
			err = BC_ERR_NOMEM;
			goto out;
		}
	}
	err = skipped_reserve(r, r->nsk + npend);
	if (err != BC_OK)
		goto out;

	if (step) {
		err = skip_keys(&s, h.pn, now, pend, &k);
		if (err != BC_OK)
			goto out;
		err = dh_ratchet(r, &s, &h);
		if (err != BC_OK)
			goto out;
	}
	err = skip_keys(&s, h.n, now, pend, &k);
	if (err != BC_OK)
		goto out;
	if (k != npend) {
		err = BC_ERR_INTERNAL;
		goto out;
	}
	err = bc_ratchet_kdf_ck(s.ckr, s.ckr, mk);
	if (err != BC_OK)
		goto out;
	s.nr = h.n + 1;
	err = body_decrypt(mk, body, bodylen, fad, fadlen, plain);
	if (err != BC_OK)
		goto out;

	/* commit: nothing below can fail */
	r->c = s;
	skipped_commit(r, SIZE_MAX, pend, npend, now);
done:
	*pt = plain;
	*ptlen = plen;
	plain = NULL;
	err = BC_OK;
out:
	sodium_memzero(&s, sizeof(s));
	sodium_memzero(&h, sizeof(h));
	sodium_memzero(mk, sizeof(mk));
	bc_free_secret(pend, npend * sizeof(*pend));
	bc_free_secret(plain, plen);
	bc_free(fad);
	return err;
}

size_t bc_ratchet_expire(bc_ratchet *r, uint64_t now, uint64_t max_age)
{
	if (r == NULL || !r->ready)
		return 0;
	return skipped_filter(r, SIZE_MAX, now, max_age);
}

size_t bc_ratchet_skipped_count(const bc_ratchet *r)
{
	return r != NULL ? r->nsk : 0;
}

/* ---- serialisation ---------------------------------------------------------- */

int bc_ratchet_serialize(const bc_ratchet *r, uint8_t **out, size_t *outlen)
{
	const struct core *c;
	uint8_t *buf = NULL, *p = NULL;
	size_t size = 0, plen = 0, i;
	bc_wr w;
	int err;

	if (r == NULL || out == NULL || outlen == NULL) {
		err = BC_ERR_INVALID;
		goto out;
	}
	if (!r->ready) {
		err = BC_ERR_STATE;
		goto out;
	}
	c = &r->c;
	size = STATE_FIXED + r->nsk * STATE_ENTRY;
	buf = bc_malloc(size);
	if (buf == NULL) {
		err = BC_ERR_NOMEM;
		goto out;
	}
	bc_wr_init_fixed(&w, buf, size);
	(void)bc_wr_u8(&w, BC_RATCHET_STATE_VERSION);
	(void)bc_wr_u8(&w, c->flags);
	(void)bc_wr_raw(&w, c->dhs_sk, KEY);
	(void)bc_wr_raw(&w, c->dhr, KEY);
	(void)bc_wr_raw(&w, c->rk, KEY);
	(void)bc_wr_raw(&w, c->cks, KEY);
	(void)bc_wr_raw(&w, c->ckr, KEY);
	(void)bc_wr_raw(&w, c->hks, KEY);
	(void)bc_wr_raw(&w, c->hkr, KEY);
	(void)bc_wr_raw(&w, c->nhks, KEY);
	(void)bc_wr_raw(&w, c->nhkr, KEY);
	(void)bc_wr_u32(&w, c->ns);
	(void)bc_wr_u32(&w, c->nr);
	(void)bc_wr_u32(&w, c->pn);
	(void)bc_wr_u16(&w, (uint16_t)r->nsk);
	for (i = 0; i < r->nsk; i++) {
		(void)bc_wr_raw(&w, r->sk[i].hk, KEY);
		(void)bc_wr_u32(&w, r->sk[i].n);
		(void)bc_wr_raw(&w, r->sk[i].mk, KEY);
		(void)bc_wr_u64(&w, r->sk[i].t);
	}
	err = bc_wr_finish(&w, &p, &plen);
	if (err == BC_OK && (p != buf || plen != size))
		err = BC_ERR_INTERNAL;
	if (err != BC_OK)
		goto out;
	*out = buf;
	*outlen = size;
	buf = NULL;
out:
	bc_free_secret(buf, size);
	return err;
}

int bc_ratchet_deserialize(bc_ratchet **out, const uint8_t *in, size_t len)
{
	bc_ratchet *r = NULL;
	struct core *c;
	uint8_t version = 0, flags = 0;
	uint16_t count = 0;
	bc_rd rd;
	size_t i;
	int err;

	if (out == NULL || (in == NULL && len > 0)) {
		err = BC_ERR_INVALID;
		goto out;
	}
	bc_rd_init(&rd, in, len);
	err = bc_rd_u8(&rd, &version);
	if (err != BC_OK)
		goto out;
	if (version != BC_RATCHET_STATE_VERSION) {
		err = BC_ERR_VERSION;
		goto out;
	}
	err = bc_ratchet_new(&r);
	if (err != BC_OK)
		goto out;
	c = &r->c;
	(void)bc_rd_u8(&rd, &flags);
	(void)bc_rd_raw(&rd, c->dhs_sk, KEY);
	(void)bc_rd_raw(&rd, c->dhr, KEY);
	(void)bc_rd_raw(&rd, c->rk, KEY);
	(void)bc_rd_raw(&rd, c->cks, KEY);
	(void)bc_rd_raw(&rd, c->ckr, KEY);
	(void)bc_rd_raw(&rd, c->hks, KEY);
	(void)bc_rd_raw(&rd, c->hkr, KEY);
	(void)bc_rd_raw(&rd, c->nhks, KEY);
	(void)bc_rd_raw(&rd, c->nhkr, KEY);
	(void)bc_rd_u32(&rd, &c->ns);
	(void)bc_rd_u32(&rd, &c->nr);
	(void)bc_rd_u32(&rd, &c->pn);
	err = bc_rd_count(&rd, (uint16_t)BC_RATCHET_MAX_SKIPPED, &count);
	if (err != BC_OK)
		goto out;
	c->flags = flags;
	/* Only the three reachable flag sets; absent fields all zeros. */
	if ((flags != 0 && flags != (F_SEND | F_DHR) && flags != (F_SEND | F_RECV | F_DHR)) ||
	    (!(flags & F_DHR) && !sodium_is_zero(c->dhr, KEY)) ||
	    (!(flags & F_SEND) && (!sodium_is_zero(c->cks, KEY) || !sodium_is_zero(c->hks, KEY) ||
				   c->ns != 0)) ||
	    (!(flags & F_RECV) && (!sodium_is_zero(c->ckr, KEY) || !sodium_is_zero(c->hkr, KEY) ||
				   c->nr != 0 || c->pn != 0 || count != 0))) {
		err = BC_ERR_MALFORMED;
		goto out;
	}
	/* Exactly count entries must follow: check before allocating. */
	if (bc_rd_left(&rd) != (size_t)count * STATE_ENTRY) {
		err = BC_ERR_MALFORMED;
		goto out;
	}
	if (count > 0) {
		err = skipped_reserve(r, count);
		if (err != BC_OK)
			goto out;
	}
	for (i = 0; i < count; i++) {
		struct skipped *e = &r->sk[i];

		(void)bc_rd_raw(&rd, e->hk, KEY);
		(void)bc_rd_u32(&rd, &e->n);
		(void)bc_rd_raw(&rd, e->mk, KEY);
		(void)bc_rd_u64(&rd, &e->t);
	}
	err = bc_rd_end(&rd);
	if (err != BC_OK)
		goto out;
	r->nsk = count;
	if (crypto_scalarmult_base(c->dhs_pk, c->dhs_sk) != 0) {
		err = BC_ERR_MALFORMED;
		goto out;
	}
	r->ready = true;
	*out = r;
	r = NULL;
out:
	bc_ratchet_free(r);
	return err;
}
