/*
 * test_x3dh.c - tests for lib/prekey.c and lib/x3dh.c: bundles, one-time
 * blobs, the owner's prekey supply, and session setup with replay
 * detection.
 *
 * Sources of the expected values: tests/vectors/x3dh_vectors.h, generated
 * by tests/vectors/gen_x3dh.py (an independent Python implementation of
 * docs/PROTOCOL.md §12). Fixed private keys enter the C code through the
 * test-only hooks bc_prekey_supply_new_test (prekey private keys) and
 * bc_x3dh_initiate_with_ephemeral (EK_A). Every byte of the bundle, the
 * one-time blobs, the DH outputs, the identity-sealing key, the initial
 * header, SK / HKA / NHKB, AD and the replay tag is compared.
 *
 * "This forgery must fail" cases: a bundle tampered in any bit, signed by
 * another identity or for another identity, stale; an initial header
 * tampered in any bit, replayed, carrying another identity, or carrying
 * small-order keys. The last test runs the Double Ratchet (lib/ratchet.c)
 * on the outputs, as the session layer will.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <sodium.h>

#include "identity.h"
#include "internal.h"
#include "prekey.h"
#include "ratchet.h"
#include "x3dh.h"
#include "../vectors/x3dh_vectors.h"

#define NOW xv_spk_created
#define DAY ((uint64_t)24 * 3600)

/* ---- fixtures ----------------------------------------------------------------- */

/* Hands out keys[0..n), then random keys if then_random, else fails. */
struct feed {
	const uint8_t *keys[8];
	size_t n, i;
	bool then_random;
};

static int feed_fn(void *ctx, uint8_t priv[BC_PREKEY_KEY_LEN])
{
	struct feed *f = ctx;

	if (f->i >= f->n) {
		if (!f->then_random)
			return -1;
		randombytes_buf(priv, BC_PREKEY_KEY_LEN);
		return 0;
	}
	memcpy(priv, f->keys[f->i++], BC_PREKEY_KEY_LEN);
	return 0;
}

static struct feed vector_feed;

static void make_id(bc_identity *id, const uint8_t seed[32], const uint8_t dh[32])
{
	assert_int_equal(bc_identity_from_seed(id, seed, dh), BC_OK);
}

/* B of the vectors: identity, supply with SPK 1 and OPKs 1, 2. */
static bc_prekey_supply *vector_b(bc_identity *b)
{
	bc_prekey_supply *s = NULL;
	uint8_t blobs[2][BC_PREKEY_ONETIME_LEN];

	make_id(b, xv_b_sign_seed, xv_b_dh_priv);
	vector_feed = (struct feed){ { xv_spk_priv, xv_opk1_priv, xv_opk2_priv, xv_spk2_priv }, 4,
				     0, true };
	assert_int_equal(bc_prekey_supply_new_test(&s, b, NOW, feed_fn, &vector_feed), BC_OK);
	assert_int_equal(bc_prekey_supply_add_onetime(s, 2, blobs), BC_OK);
	assert_memory_equal(blobs[0], xv_opk1_blob, BC_PREKEY_ONETIME_LEN);
	assert_memory_equal(blobs[1], xv_opk2_blob, BC_PREKEY_ONETIME_LEN);
	return s;
}

/* Fetch as a sender would: parse the supply's bundle for the expected
 * owner, and the one-time blob of the given index (or none). */
static void fetch(const bc_prekey_supply *s, bc_prekey_bundle *b)
{
	uint8_t blob[BC_PREKEY_BUNDLE_LEN];

	assert_int_equal(bc_prekey_supply_bundle(s, blob), BC_OK);
	assert_int_equal(bc_prekey_bundle_parse(b, blob, sizeof(blob), bc_prekey_supply_owner(s),
						bc_prekey_supply_spk_created(s), BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_OK);
}

/* A supply for a random identity with n one-time prekeys; their blobs are
 * returned parsed in opks[0..n). */
static bc_prekey_supply *random_b(bc_identity *b, size_t n, bc_prekey_onetime *opks)
{
	bc_prekey_supply *s = NULL;
	uint8_t blobs[BC_PREKEY_MAX_BATCH][BC_PREKEY_ONETIME_LEN];

	assert_int_equal(bc_identity_generate(b), BC_OK);
	assert_int_equal(bc_prekey_supply_new(&s, b, NOW), BC_OK);
	if (n > 0) {
		assert_int_equal(bc_prekey_supply_add_onetime(s, n, blobs), BC_OK);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(bc_prekey_onetime_parse(&opks[i], blobs[i], BC_PREKEY_ONETIME_LEN),
					 BC_OK);
	}
	return s;
}

static void assert_same_keys(const bc_x3dh_keys *a, const bc_x3dh_keys *b)
{
	assert_memory_equal(a->sk, b->sk, BC_X3DH_KEY_LEN);
	assert_memory_equal(a->hka, b->hka, BC_X3DH_KEY_LEN);
	assert_memory_equal(a->nhkb, b->nhkb, BC_X3DH_KEY_LEN);
	assert_memory_equal(a->ad, b->ad, BC_X3DH_AD_LEN);
	assert_memory_equal(a->spk_pub, b->spk_pub, BC_X3DH_KEY_LEN);
}

/* ---- bundles and one-time blobs --------------------------------------------------- */

static void test_bundle_vectors(void **state)
{
	bc_identity b;
	bc_prekey_supply *s = vector_b(&b);
	bc_prekey_bundle pb;
	bc_prekey_onetime o;
	uint8_t blob[BC_PREKEY_BUNDLE_LEN], sig[64], enc[BC_PREKEY_ONETIME_LEN];
	(void)state;

	assert_int_equal(bc_prekey_sign(&b, xv_spk_id, xv_spk_pub, xv_spk_created, sig), BC_OK);
	assert_memory_equal(sig, xv_spk_sig, 64);
	assert_int_equal(bc_prekey_supply_bundle(s, blob), BC_OK);
	assert_memory_equal(blob, xv_bundle, sizeof(blob));
	assert_int_equal(bc_prekey_supply_spk_id(s), xv_spk_id);

	assert_int_equal(bc_prekey_bundle_parse(&pb, xv_bundle, sizeof(xv_bundle), &b.pub, NOW,
						BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_OK);
	assert_true(bc_identity_equal(&pb.id, &b.pub));
	assert_int_equal(pb.spk_id, xv_spk_id);
	assert_memory_equal(pb.spk_pub, xv_spk_pub, 32);
	assert_true(pb.created == xv_spk_created);
	assert_int_equal(bc_prekey_bundle_encode(&pb, blob), BC_OK);
	assert_memory_equal(blob, xv_bundle, sizeof(blob));

	assert_int_equal(bc_prekey_onetime_parse(&o, xv_opk2_blob, sizeof(xv_opk2_blob)), BC_OK);
	assert_int_equal(o.opk_id, xv_opk2_id);
	assert_memory_equal(o.opk_pub, xv_opk2_pub, 32);
	assert_int_equal(bc_prekey_onetime_encode(&o, enc), BC_OK);
	assert_memory_equal(enc, xv_opk2_blob, sizeof(enc));
	assert_int_equal(bc_prekey_supply_onetime_count(s), 2);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&b);
}

static void test_bundle_bitflips(void **state)
{
	uint8_t blob[BC_PREKEY_BUNDLE_LEN];
	bc_identity b;
	bc_prekey_bundle pb;
	(void)state;

	make_id(&b, xv_b_sign_seed, xv_b_dh_priv);
	memcpy(blob, xv_bundle, sizeof(blob));
	for (size_t bit = 0; bit < 8 * sizeof(blob); bit++) {
		size_t at = bit / 8;
		int err;
		blob[at] ^= (uint8_t)(1u << (bit % 8));
		err = bc_prekey_bundle_parse(&pb, blob, sizeof(blob), &b.pub, NOW,
					     BC_PREKEY_DEFAULT_MAX_AGE);
		if (at == 0 || at == 1)      /* bundle / identity version */
			assert_int_equal(err, BC_ERR_VERSION);
		else if (at == 1 + 129 + 3 && bit % 8 == 0) /* spk_id 1 -> 0 */
			assert_int_equal(err, BC_ERR_MALFORMED);
		else /* identity, spk_id, spk_pub, created, spk_sig */
			assert_int_equal(err, BC_ERR_AUTH);
		blob[at] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(bc_prekey_bundle_parse(&pb, blob, sizeof(blob), &b.pub, NOW,
						BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_OK);
	bc_identity_wipe(&b);
}

static void test_bundle_other_identity(void **state)
{
	bc_identity a, b, c;
	bc_prekey_bundle pb, forged;
	uint8_t blob[BC_PREKEY_BUNDLE_LEN];
	(void)state;

	make_id(&a, xv_a_sign_seed, xv_a_dh_priv);
	make_id(&b, xv_b_sign_seed, xv_b_dh_priv);
	make_id(&c, xv_c_sign_seed, xv_c_dh_priv);

	/* B's genuine bundle is not A's. */
	assert_int_equal(bc_prekey_bundle_parse(&pb, xv_bundle, sizeof(xv_bundle), &a.pub, NOW,
						BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_ERR_AUTH);

	/* C signs a prekey of its own choice and puts B's identity on it. */
	assert_int_equal(bc_prekey_bundle_parse(&pb, xv_bundle, sizeof(xv_bundle), &b.pub, NOW,
						BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_OK);
	forged = pb;
	randombytes_buf(forged.spk_pub, 32);
	assert_int_equal(crypto_scalarmult_base(forged.spk_pub, forged.spk_pub), 0);
	assert_int_equal(bc_prekey_sign(&c, forged.spk_id, forged.spk_pub, forged.created,
					forged.spk_sig),
			 BC_OK);
	assert_int_equal(bc_prekey_bundle_encode(&forged, blob), BC_OK);
	assert_int_equal(bc_prekey_bundle_parse(&pb, blob, sizeof(blob), &b.pub, NOW,
						BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_ERR_AUTH);
	/* The same under C's own identity is a valid bundle - of C, which a
	 * sender expecting B refuses. */
	forged.id = c.pub;
	assert_int_equal(bc_prekey_bundle_encode(&forged, blob), BC_OK);
	assert_int_equal(bc_prekey_bundle_parse(&pb, blob, sizeof(blob), &c.pub, NOW,
						BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_OK);
	assert_int_equal(bc_prekey_bundle_parse(&pb, blob, sizeof(blob), &b.pub, NOW,
						BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_ERR_AUTH);
	/* B's signature moved to another key or id: refused. */
	assert_int_equal(bc_prekey_bundle_parse(&pb, xv_bundle, sizeof(xv_bundle), &b.pub, NOW,
						BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_OK);
	forged = pb;
	forged.spk_id = 2;
	assert_int_equal(bc_prekey_bundle_encode(&forged, blob), BC_OK);
	assert_int_equal(bc_prekey_bundle_parse(&pb, blob, sizeof(blob), &b.pub, NOW,
						BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_ERR_AUTH);

	/* A small-order prekey, genuinely signed by B: refused. */
	forged = pb;
	memset(forged.spk_pub, 0, 32);
	forged.spk_pub[0] = 1;
	assert_int_equal(bc_prekey_sign(&b, forged.spk_id, forged.spk_pub, forged.created,
					forged.spk_sig),
			 BC_OK);
	assert_int_equal(bc_prekey_bundle_encode(&forged, blob), BC_OK);
	assert_int_equal(bc_prekey_bundle_parse(&pb, blob, sizeof(blob), &b.pub, NOW,
						BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_ERR_AUTH);
	assert_int_equal(bc_prekey_bundle_parse(&pb, blob, sizeof(blob), NULL, NOW,
						BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_ERR_INVALID);
	bc_identity_wipe(&a);
	bc_identity_wipe(&b);
	bc_identity_wipe(&c);
}

static void test_bundle_length_and_age(void **state)
{
	uint8_t blob[BC_PREKEY_BUNDLE_LEN + 1];
	bc_identity b;
	bc_prekey_bundle pb;
	const uint64_t max = BC_PREKEY_DEFAULT_MAX_AGE;
	(void)state;

	make_id(&b, xv_b_sign_seed, xv_b_dh_priv);
	memcpy(blob, xv_bundle, BC_PREKEY_BUNDLE_LEN);
	blob[BC_PREKEY_BUNDLE_LEN] = 0;
	for (size_t n = 0; n < BC_PREKEY_BUNDLE_LEN; n++)
		assert_int_equal(bc_prekey_bundle_parse(&pb, blob, n, &b.pub, NOW, max),
				 BC_ERR_MALFORMED);
	assert_int_equal(bc_prekey_bundle_parse(&pb, blob, sizeof(blob), &b.pub, NOW, max),
			 BC_ERR_MALFORMED);

	/* Age: up to max_age old, up to BC_PREKEY_MAX_FUTURE ahead. */
	assert_int_equal(bc_prekey_bundle_parse(&pb, xv_bundle, BC_PREKEY_BUNDLE_LEN, &b.pub,
						NOW + max, max),
			 BC_OK);
	memset(&pb, 0x55, sizeof(pb));
	assert_int_equal(bc_prekey_bundle_parse(&pb, xv_bundle, BC_PREKEY_BUNDLE_LEN, &b.pub,
						NOW + max + 1, max),
			 BC_ERR_STATE);
	assert_int_equal(pb.spk_id, 0x55555555); /* untouched on failure */
	assert_int_equal(bc_prekey_bundle_parse(&pb, xv_bundle, BC_PREKEY_BUNDLE_LEN, &b.pub,
						NOW + 8 * DAY, 7 * DAY),
			 BC_ERR_STATE);
	assert_int_equal(bc_prekey_bundle_parse(&pb, xv_bundle, BC_PREKEY_BUNDLE_LEN, &b.pub,
						NOW - BC_PREKEY_MAX_FUTURE, max),
			 BC_OK);
	assert_int_equal(bc_prekey_bundle_parse(&pb, xv_bundle, BC_PREKEY_BUNDLE_LEN, &b.pub,
						NOW - BC_PREKEY_MAX_FUTURE - 1, max),
			 BC_ERR_STATE);
	bc_identity_wipe(&b);
}

static void test_onetime_blob(void **state)
{
	uint8_t blob[BC_PREKEY_ONETIME_LEN + 1];
	bc_prekey_onetime o;
	(void)state;

	memcpy(blob, xv_opk1_blob, BC_PREKEY_ONETIME_LEN);
	blob[BC_PREKEY_ONETIME_LEN] = 0;
	for (size_t n = 0; n < BC_PREKEY_ONETIME_LEN; n++)
		assert_int_equal(bc_prekey_onetime_parse(&o, blob, n), BC_ERR_MALFORMED);
	assert_int_equal(bc_prekey_onetime_parse(&o, blob, sizeof(blob)), BC_ERR_MALFORMED);
	blob[0] = 2;
	assert_int_equal(bc_prekey_onetime_parse(&o, blob, BC_PREKEY_ONETIME_LEN), BC_ERR_VERSION);
	blob[0] = 1;
	memset(blob + 1, 0, 4);
	assert_int_equal(bc_prekey_onetime_parse(&o, blob, BC_PREKEY_ONETIME_LEN), BC_ERR_MALFORMED);
	blob[4] = 7;
	assert_int_equal(bc_prekey_onetime_parse(&o, blob, BC_PREKEY_ONETIME_LEN), BC_OK);
	assert_int_equal(o.opk_id, 7);
	memset(blob + 5, 0, 32); /* the zero key */
	assert_int_equal(bc_prekey_onetime_parse(&o, blob, BC_PREKEY_ONETIME_LEN), BC_ERR_AUTH);
	blob[5] = 1; /* a small-order key */
	assert_int_equal(bc_prekey_onetime_parse(&o, blob, BC_PREKEY_ONETIME_LEN), BC_ERR_AUTH);
	memcpy(blob + 5, xv_opk1_pub, 32);
	blob[5 + 31] |= 0x80; /* a non-canonical encoding */
	assert_int_equal(bc_prekey_onetime_parse(&o, blob, BC_PREKEY_ONETIME_LEN), BC_ERR_AUTH);

	assert_int_equal(bc_prekey_wanted(0), BC_PREKEY_TARGET);
	assert_int_equal(bc_prekey_wanted(BC_PREKEY_LOW_WATER - 1),
			 BC_PREKEY_TARGET - BC_PREKEY_LOW_WATER + 1);
	assert_int_equal(bc_prekey_wanted(BC_PREKEY_LOW_WATER), 0);
	assert_int_equal(bc_prekey_wanted(1000), 0);
}

/* ---- X3DH known answers ------------------------------------------------------------- */

struct xcase {
	const uint8_t *ek_priv, *ek_pub, *dh1, *dh2, *dh3, *dh4, *idkey, *header, *sk, *hka, *nhkb,
		*ad, *tag;
	size_t header_len;
};

static void check_case(const struct xcase *x)
{
	bc_identity a, b;
	bc_prekey_supply *s = vector_b(&b);
	bc_prekey_bundle pb;
	bc_prekey_onetime o;
	bc_x3dh_keys ka;
	bc_x3dh_pending p;
	uint8_t hdr[BC_X3DH_HEADER_MAX], d[4][32], k[32], sk[32], hka[32], nhkb[32], ad[BC_X3DH_AD_LEN];
	uint8_t ek_pub[32], tag[32];
	size_t hlen = 0;

	make_id(&a, xv_a_sign_seed, xv_a_dh_priv);
	fetch(s, &pb);
	assert_int_equal(bc_prekey_onetime_parse(&o, xv_opk1_blob, sizeof(xv_opk1_blob)), BC_OK);

	/* The pieces, computed here from the private keys. */
	assert_int_equal(crypto_scalarmult_base(ek_pub, x->ek_priv), 0);
	assert_memory_equal(ek_pub, x->ek_pub, 32);
	assert_int_equal(crypto_scalarmult(d[0], xv_a_dh_priv, xv_spk_pub), 0);
	assert_int_equal(crypto_scalarmult(d[1], x->ek_priv, xv_b_dh_pub), 0);
	assert_int_equal(crypto_scalarmult(d[2], x->ek_priv, xv_spk_pub), 0);
	assert_int_equal(crypto_scalarmult(d[3], x->ek_priv, xv_opk1_pub), 0);
	assert_memory_equal(d[0], x->dh1, 32);
	assert_memory_equal(d[1], x->dh2, 32);
	assert_memory_equal(d[2], x->dh3, 32);
	if (x->dh4 != NULL)
		assert_memory_equal(d[3], x->dh4, 32);
	assert_int_equal(bc_x3dh_kdf(d[0], d[1], d[2], x->dh4 != NULL ? d[3] : NULL, sk, hka, nhkb),
			 BC_OK);
	assert_memory_equal(sk, x->sk, 32);
	assert_memory_equal(hka, x->hka, 32);
	assert_memory_equal(nhkb, x->nhkb, 32);
	assert_int_equal(bc_x3dh_identity_key(d[2], k), BC_OK);
	assert_memory_equal(k, x->idkey, 32);
	assert_int_equal(bc_x3dh_ad(&a.pub, &b.pub, ad), BC_OK);
	assert_memory_equal(ad, x->ad, sizeof(ad));
	assert_int_equal(bc_x3dh_replay_tag(x->ek_pub, xv_spk_id, tag), BC_OK);
	assert_memory_equal(tag, x->tag, 32);

	/* The initiator. */
	assert_int_equal(bc_x3dh_initiate_with_ephemeral(&a, &pb, x->dh4 != NULL ? &o : NULL,
							 x->ek_priv, &ka, hdr, &hlen),
			 BC_OK);
	assert_int_equal(hlen, x->header_len);
	assert_memory_equal(hdr, x->header, hlen);
	assert_memory_equal(ka.sk, x->sk, 32);
	assert_memory_equal(ka.hka, x->hka, 32);
	assert_memory_equal(ka.nhkb, x->nhkb, 32);
	assert_memory_equal(ka.ad, x->ad, BC_X3DH_AD_LEN);
	assert_memory_equal(ka.spk_pub, xv_spk_pub, 32);
	assert_true(bc_identity_equal(&ka.peer, &b.pub));

	/* The responder, from the committed header bytes. */
	assert_int_equal(bc_x3dh_respond(s, &b, x->header, x->header_len, &p), BC_OK);
	assert_same_keys(&p.keys, &ka);
	assert_true(bc_identity_equal(&p.keys.peer, &a.pub));
	assert_memory_equal(p.spk_priv, xv_spk_priv, 32);
	assert_memory_equal(p.replay_tag, x->tag, 32);
	assert_int_equal(p.has_opk, x->dh4 != NULL);

	bc_x3dh_keys_wipe(&ka);
	bc_x3dh_pending_wipe(&p);
	sodium_memzero(d, sizeof(d));
	bc_prekey_supply_free(s);
	bc_identity_wipe(&a);
	bc_identity_wipe(&b);
}

static void test_vectors_with_opk(void **state)
{
	const struct xcase x = { xv_ek1_priv, xv_x1_ek_pub, xv_x1_dh1, xv_x1_dh2, xv_x1_dh3,
				 xv_x1_dh4, xv_x1_idkey, xv_x1_header, xv_x1_sk, xv_x1_hka,
				 xv_x1_nhkb, xv_x1_ad, xv_x1_replay_tag, sizeof(xv_x1_header) };
	(void)state;
	assert_int_equal(sizeof(xv_x1_header), BC_X3DH_HEADER_MAX);
	check_case(&x);
}

static void test_vectors_without_opk(void **state)
{
	const struct xcase x = { xv_ek2_priv, xv_x2_ek_pub, xv_x2_dh1, xv_x2_dh2, xv_x2_dh3,
				 NULL, xv_x2_idkey, xv_x2_header, xv_x2_sk, xv_x2_hka,
				 xv_x2_nhkb, xv_x2_ad, xv_x2_replay_tag, sizeof(xv_x2_header) };
	(void)state;
	assert_int_equal(sizeof(xv_x2_header), BC_X3DH_HEADER_MIN);
	check_case(&x);
}

/* ---- agreement with random keys -------------------------------------------------------- */

static void test_random_agreement(void **state)
{
	bc_identity a, b;
	bc_prekey_onetime opks[3];
	bc_prekey_supply *s = NULL;
	bc_prekey_bundle pb;
	bc_x3dh_keys ka, ka2;
	bc_x3dh_pending p;
	uint8_t hdr[BC_X3DH_HEADER_MAX], hdr2[BC_X3DH_HEADER_MAX], sk0[32];
	size_t hlen, hlen2, sz;
	(void)state;

	assert_int_equal(bc_identity_generate(&a), BC_OK);
	s = random_b(&b, 3, opks);
	fetch(s, &pb);
	for (int with = 0; with < 2; with++) {
		const bc_prekey_onetime *o = with ? &opks[1] : NULL;
		assert_int_equal(bc_x3dh_initiate(&a, &pb, o, &ka, hdr, &hlen), BC_OK);
		assert_int_equal(hlen, with ? BC_X3DH_HEADER_MAX : BC_X3DH_HEADER_MIN);
		assert_int_equal(bc_x3dh_header_size(hdr, hlen, &sz), BC_OK);
		assert_int_equal(sz, hlen);
		assert_int_equal(bc_x3dh_respond(s, &b, hdr, hlen, &p), BC_OK);
		assert_same_keys(&p.keys, &ka);
		assert_true(bc_identity_equal(&p.keys.peer, &a.pub));
		assert_true(bc_identity_equal(&ka.peer, &b.pub));
		/* A second agreement has fresh keys (fresh EK). */
		assert_int_equal(bc_x3dh_initiate(&a, &pb, o, &ka2, hdr2, &hlen2), BC_OK);
		assert_memory_not_equal(ka.sk, ka2.sk, 32);
		assert_memory_not_equal(ka.hka, ka2.hka, 32);
		assert_memory_equal(ka.ad, ka2.ad, BC_X3DH_AD_LEN);
		if (!with)
			memcpy(sk0, ka.sk, sizeof(sk0));
		else
			assert_memory_not_equal(ka.sk, sk0, sizeof(sk0));
		assert_int_equal(bc_x3dh_commit(s, &p), BC_OK);
		bc_x3dh_pending_wipe(&p);
	}
	assert_int_equal(bc_prekey_supply_onetime_count(s), 2);
	assert_int_equal(bc_prekey_supply_replay_count(s), 1);
	sodium_memzero(sk0, sizeof(sk0));
	bc_x3dh_keys_wipe(&ka);
	bc_x3dh_keys_wipe(&ka2);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&a);
	bc_identity_wipe(&b);
}

/* ---- responder refusals ------------------------------------------------------------------ */

static void test_unknown_prekey_ids(void **state)
{
	bc_identity b;
	bc_prekey_supply *s = vector_b(&b);
	bc_x3dh_pending p;
	uint8_t hdr[BC_X3DH_HEADER_MAX];
	(void)state;

	memcpy(hdr, xv_x1_header, sizeof(hdr));
	bc_store32(hdr + 33, 99); /* spk_id */
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, sizeof(hdr), &p), BC_ERR_NOTFOUND);
	assert_int_equal(p.spk_id, 0); /* wiped */
	memcpy(hdr, xv_x1_header, sizeof(hdr));
	bc_store32(hdr + 38, 99); /* opk_id */
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, sizeof(hdr), &p), BC_ERR_NOTFOUND);
	/* opk 2 exists, but the header was sealed for opk 1: */
	bc_store32(hdr + 38, 2);
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, sizeof(hdr), &p), BC_ERR_AUTH);
	memcpy(hdr, xv_x2_header, BC_X3DH_HEADER_MIN);
	bc_store32(hdr + 33, 2);
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, BC_X3DH_HEADER_MIN, &p), BC_ERR_NOTFOUND);
	/* and the originals are fine */
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x1_header, sizeof(xv_x1_header), &p), BC_OK);
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p), BC_OK);
	bc_x3dh_pending_wipe(&p);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&b);
}

static void test_replay_with_opk(void **state)
{
	bc_identity b;
	bc_prekey_supply *s = vector_b(&b);
	bc_x3dh_pending p1, p2;
	uint8_t priv[32];
	(void)state;

	/* Nothing is consumed before commit: respond twice. */
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x1_header, sizeof(xv_x1_header), &p1), BC_OK);
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x1_header, sizeof(xv_x1_header), &p2), BC_OK);
	assert_int_equal(bc_prekey_supply_onetime_count(s), 2);
	assert_int_equal(bc_x3dh_commit(s, &p1), BC_OK);
	assert_int_equal(bc_prekey_supply_onetime_count(s), 1);
	assert_int_equal(bc_prekey_supply_find_onetime(s, xv_opk1_id, priv), BC_ERR_NOTFOUND);
	assert_int_equal(bc_prekey_supply_find_onetime(s, xv_opk2_id, priv), BC_OK);
	/* The copy in flight cannot commit; the replay cannot even open. */
	assert_int_equal(bc_x3dh_commit(s, &p2), BC_ERR_NOTFOUND);
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x1_header, sizeof(xv_x1_header), &p2),
			 BC_ERR_NOTFOUND);
	assert_int_equal(bc_prekey_supply_replay_count(s), 0);
	sodium_memzero(priv, sizeof(priv));
	bc_x3dh_pending_wipe(&p1);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&b);
}

static void test_replay_without_opk(void **state)
{
	bc_identity b;
	bc_prekey_supply *s = vector_b(&b);
	bc_x3dh_pending p1, p2;
	(void)state;

	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p1), BC_OK);
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p2), BC_OK);
	assert_int_equal(bc_prekey_supply_replay_count(s), 0);
	assert_int_equal(bc_x3dh_commit(s, &p1), BC_OK);
	assert_int_equal(bc_prekey_supply_replay_count(s), 1);
	assert_int_equal(bc_x3dh_commit(s, &p2), BC_ERR_REPLAY);
	assert_int_equal(bc_x3dh_commit(s, &p1), BC_ERR_REPLAY);
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p2),
			 BC_ERR_REPLAY);
	assert_int_equal(bc_prekey_supply_replay_count(s), 1);
	assert_int_equal(bc_prekey_supply_onetime_count(s), 2);
	bc_x3dh_pending_wipe(&p1);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&b);
}

/* A header claiming C's identity (re-sealed by someone who knows EK_A, the
 * strongest position short of holding C's keys) gives different keys: the
 * first ratchet message will not open. Without EK_A (the relay), the
 * identity cannot even be replaced. */
static void test_identity_swap(void **state)
{
	bc_identity a, b, c;
	bc_prekey_supply *s = vector_b(&b);
	bc_x3dh_pending p;
	uint8_t hdr[BC_X3DH_HEADER_MAX], dh3[32], key[32], cpub[BC_IDENTITY_PUBLIC_LEN];
	static const uint8_t nonce[12];
	const size_t prefix = BC_X3DH_HEADER_MAX - BC_X3DH_SEALED_ID_LEN;
	unsigned long long clen;
	(void)state;

	make_id(&a, xv_a_sign_seed, xv_a_dh_priv);
	make_id(&c, xv_c_sign_seed, xv_c_dh_priv);
	memcpy(hdr, xv_x1_header, sizeof(hdr));
	assert_int_equal(crypto_scalarmult(dh3, xv_ek1_priv, xv_spk_pub), 0);
	assert_int_equal(bc_x3dh_identity_key(dh3, key), BC_OK);
	assert_int_equal(bc_identity_encode_public(&c.pub, cpub), BC_OK);
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(hdr + prefix, &clen, cpub,
								   sizeof(cpub), hdr, prefix, NULL,
								   nonce, key),
			 0);
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, sizeof(hdr), &p), BC_OK);
	assert_true(bc_identity_equal(&p.keys.peer, &c.pub));
	assert_memory_not_equal(p.keys.sk, xv_x1_sk, 32);
	assert_memory_not_equal(p.keys.hka, xv_x1_hka, 32);
	assert_memory_not_equal(p.keys.nhkb, xv_x1_nhkb, 32);
	assert_memory_not_equal(p.keys.ad, xv_x1_ad, BC_X3DH_AD_LEN);

	/* The relay swaps the sealed identity for one sealed elsewhere (the
	 * no-OPK header's): it does not open. */
	memcpy(hdr, xv_x1_header, sizeof(hdr));
	memcpy(hdr + prefix, xv_x2_header + BC_X3DH_HEADER_MIN - BC_X3DH_SEALED_ID_LEN,
	       BC_X3DH_SEALED_ID_LEN);
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, sizeof(hdr), &p), BC_ERR_AUTH);

	/* An identity that opens but is not valid (a bad certificate) is
	 * refused even though the sealing key was right. */
	cpub[BC_IDENTITY_PUBLIC_LEN - 1] ^= 1;
	memcpy(hdr, xv_x1_header, sizeof(hdr));
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(hdr + prefix, &clen, cpub,
								   sizeof(cpub), hdr, prefix, NULL,
								   nonce, key),
			 0);
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, sizeof(hdr), &p), BC_ERR_AUTH);

	sodium_memzero(dh3, sizeof(dh3));
	sodium_memzero(key, sizeof(key));
	bc_x3dh_pending_wipe(&p);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&a);
	bc_identity_wipe(&b);
	bc_identity_wipe(&c);
}

static void test_header_bitflips(void **state)
{
	bc_identity b;
	bc_prekey_supply *s = vector_b(&b);
	bc_x3dh_pending p;
	uint8_t hdr[BC_X3DH_HEADER_MAX];
	size_t counts[25] = { 0 };
	(void)state;

	memcpy(hdr, xv_x1_header, sizeof(hdr));
	for (size_t bit = 0; bit < 8 * sizeof(hdr); bit++) {
		size_t at = bit / 8;
		int err;
		hdr[at] ^= (uint8_t)(1u << (bit % 8));
		err = bc_x3dh_respond(s, &b, hdr, sizeof(hdr), &p);
		assert_int_not_equal(err, BC_OK);
		if (at == 0)
			assert_int_equal(err, BC_ERR_VERSION);
		else if (at < 33 || at >= 42) /* EK (bad key or no longer opens), sealed_id */
			assert_int_equal(err, BC_ERR_AUTH);
		counts[-err]++;
		hdr[at] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_true(counts[-BC_ERR_NOTFOUND] > 0);
	assert_true(counts[-BC_ERR_MALFORMED] > 0);
	assert_int_equal(bc_prekey_supply_onetime_count(s), 2);
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, sizeof(hdr), &p), BC_OK);
	bc_x3dh_pending_wipe(&p);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&b);
}

static void test_header_codec(void **state)
{
	bc_x3dh_header h;
	uint8_t buf[BC_X3DH_HEADER_MAX + 1], out[BC_X3DH_HEADER_MAX];
	size_t len, sz;
	(void)state;

	assert_int_equal(bc_x3dh_header_parse(&h, xv_x1_header, sizeof(xv_x1_header)), BC_OK);
	assert_true(h.has_opk);
	assert_int_equal(h.spk_id, xv_spk_id);
	assert_int_equal(h.opk_id, xv_opk1_id);
	assert_memory_equal(h.ek_pub, xv_x1_ek_pub, 32);
	assert_int_equal(bc_x3dh_header_encode(&h, out, &len), BC_OK);
	assert_int_equal(len, sizeof(xv_x1_header));
	assert_memory_equal(out, xv_x1_header, len);
	assert_int_equal(bc_x3dh_header_parse(&h, xv_x2_header, sizeof(xv_x2_header)), BC_OK);
	assert_false(h.has_opk);
	assert_int_equal(h.opk_id, 0);
	assert_int_equal(bc_x3dh_header_encode(&h, out, &len), BC_OK);
	assert_memory_equal(out, xv_x2_header, len);

	memcpy(buf, xv_x1_header, BC_X3DH_HEADER_MAX);
	buf[BC_X3DH_HEADER_MAX] = 0;
	for (size_t n = 0; n < BC_X3DH_HEADER_MAX; n++)
		assert_int_equal(bc_x3dh_header_parse(&h, buf, n), BC_ERR_MALFORMED);
	assert_int_equal(bc_x3dh_header_parse(&h, buf, sizeof(buf)), BC_ERR_MALFORMED);
	/* self-delimiting: the size is known from the first 38 bytes */
	assert_int_equal(bc_x3dh_header_size(buf, sizeof(buf), &sz), BC_OK);
	assert_int_equal(sz, BC_X3DH_HEADER_MAX);
	assert_int_equal(bc_x3dh_header_size(buf, 38, &sz), BC_OK);
	assert_int_equal(bc_x3dh_header_size(buf, 37, &sz), BC_ERR_MALFORMED);
	assert_int_equal(bc_x3dh_header_size(xv_x2_header, 38, &sz), BC_OK);
	assert_int_equal(sz, BC_X3DH_HEADER_MIN);
	buf[37] = 2;
	assert_int_equal(bc_x3dh_header_parse(&h, buf, BC_X3DH_HEADER_MAX), BC_ERR_MALFORMED);
	assert_int_equal(bc_x3dh_header_size(buf, sizeof(buf), &sz), BC_ERR_MALFORMED);
	buf[37] = 1;
	buf[0] = 2;
	assert_int_equal(bc_x3dh_header_parse(&h, buf, BC_X3DH_HEADER_MAX), BC_ERR_VERSION);
	assert_int_equal(bc_x3dh_header_size(buf, sizeof(buf), &sz), BC_ERR_VERSION);
	buf[0] = 1;
	bc_store32(buf + 33, 0);
	assert_int_equal(bc_x3dh_header_parse(&h, buf, BC_X3DH_HEADER_MAX), BC_ERR_MALFORMED);
	bc_store32(buf + 33, 1);
	bc_store32(buf + 38, 0);
	assert_int_equal(bc_x3dh_header_parse(&h, buf, BC_X3DH_HEADER_MAX), BC_ERR_MALFORMED);
	bc_store32(buf + 38, 1);
	assert_int_equal(bc_x3dh_header_parse(&h, buf, BC_X3DH_HEADER_MAX), BC_OK);
}

/* Low-order and zero keys wherever a key comes from outside: refused. */
static void test_low_order_keys(void **state)
{
	static const uint8_t one[32] = { 1 };
	bc_identity a, b;
	bc_prekey_supply *s = vector_b(&b);
	bc_prekey_bundle pb, bad;
	bc_prekey_onetime o, bado;
	bc_x3dh_keys k;
	bc_x3dh_pending p;
	uint8_t hdr[BC_X3DH_HEADER_MAX];
	size_t hlen = 99;
	(void)state;

	make_id(&a, xv_a_sign_seed, xv_a_dh_priv);
	fetch(s, &pb);
	assert_int_equal(bc_prekey_onetime_parse(&o, xv_opk1_blob, sizeof(xv_opk1_blob)), BC_OK);

	/* in the header: EK */
	memcpy(hdr, xv_x1_header, sizeof(hdr));
	memset(hdr + 1, 0, 32);
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, sizeof(hdr), &p), BC_ERR_AUTH);
	memcpy(hdr + 1, one, 32);
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, sizeof(hdr), &p), BC_ERR_AUTH);

	/* given to the initiator by a caller that skipped the parsers */
	bad = pb;
	memset(bad.spk_pub, 0, 32);
	assert_int_equal(bc_x3dh_initiate(&a, &bad, &o, &k, hdr, &hlen), BC_ERR_AUTH);
	assert_int_equal(hlen, 0);
	bad = pb;
	memcpy(bad.id.dh_pub, one, 32);
	assert_int_equal(bc_x3dh_initiate(&a, &bad, NULL, &k, hdr, &hlen), BC_ERR_AUTH);
	bado = o;
	memset(bado.opk_pub, 0, 32);
	assert_int_equal(bc_x3dh_initiate(&a, &pb, &bado, &k, hdr, &hlen), BC_ERR_AUTH);
	{
		uint8_t z[sizeof(k)];
		memset(z, 0, sizeof(z));
		assert_memory_equal(&k, z, sizeof(k)); /* wiped */
	}
	assert_int_equal(bc_x3dh_initiate(&a, &pb, &o, &k, hdr, &hlen), BC_OK);
	bc_x3dh_keys_wipe(&k);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&a);
	bc_identity_wipe(&b);
}

static void test_wrong_owner(void **state)
{
	bc_identity b, c;
	bc_prekey_supply *s = vector_b(&b), *sc = NULL;
	bc_x3dh_pending p;
	(void)state;

	assert_int_equal(bc_identity_generate(&c), BC_OK);
	assert_int_equal(bc_prekey_supply_new(&sc, &c, NOW), BC_OK);
	assert_int_equal(bc_x3dh_respond(s, &c, xv_x1_header, sizeof(xv_x1_header), &p),
			 BC_ERR_INVALID);
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x1_header, sizeof(xv_x1_header), &p), BC_OK);
	assert_int_equal(bc_x3dh_commit(sc, &p), BC_ERR_INVALID);
	assert_int_equal(bc_prekey_supply_rotate(s, &c, NOW), BC_ERR_INVALID);
	assert_int_equal(bc_x3dh_commit(s, &p), BC_OK);
	bc_x3dh_pending_wipe(&p);
	bc_prekey_supply_free(s);
	bc_prekey_supply_free(sc);
	bc_identity_wipe(&b);
	bc_identity_wipe(&c);
}

/* ---- the supply ---------------------------------------------------------------------------- */

static void test_rotation_and_grace(void **state)
{
	bc_identity a, b;
	bc_prekey_supply *s = vector_b(&b);
	bc_prekey_bundle pb;
	bc_x3dh_keys k;
	bc_x3dh_pending p;
	uint8_t hdr[BC_X3DH_HEADER_MAX], blob[BC_PREKEY_BUNDLE_LEN];
	size_t hlen;
	bool rotated = true;
	(void)state;

	make_id(&a, xv_a_sign_seed, xv_a_dh_priv);
	/* A no-OPK session under SPK 1, committed. */
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p), BC_OK);
	assert_int_equal(bc_x3dh_commit(s, &p), BC_OK);

	assert_int_equal(bc_prekey_supply_maintain(s, &b, NOW + BC_PREKEY_ROTATE_INTERVAL - 1,
						   &rotated),
			 BC_OK);
	assert_false(rotated);
	const uint64_t t1 = NOW + BC_PREKEY_ROTATE_INTERVAL;
	assert_int_equal(bc_prekey_supply_maintain(s, &b, t1, &rotated), BC_OK);
	assert_true(rotated);
	assert_int_equal(bc_prekey_supply_spk_id(s), 2);
	assert_true(bc_prekey_supply_spk_created(s) == t1);
	assert_int_equal(bc_prekey_supply_bundle(s, blob), BC_OK);
	assert_memory_not_equal(blob, xv_bundle, sizeof(blob));
	assert_int_equal(bc_prekey_bundle_parse(&pb, blob, sizeof(blob), &b.pub, t1,
						BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_OK);

	/* Within the grace period, headers for SPK 1 still open; the replay
	 * entry is still there. */
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x1_header, sizeof(xv_x1_header), &p), BC_OK);
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p),
			 BC_ERR_REPLAY);
	assert_false(bc_prekey_supply_expire(s, t1 + BC_PREKEY_GRACE - 1, BC_PREKEY_GRACE));
	/* A new session uses SPK 2. */
	assert_int_equal(bc_x3dh_initiate(&a, &pb, NULL, &k, hdr, &hlen), BC_OK);
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, hlen, &p), BC_OK);
	assert_int_equal(p.spk_id, 2);
	assert_same_keys(&p.keys, &k);
	assert_int_equal(bc_x3dh_commit(s, &p), BC_OK);
	assert_int_equal(bc_prekey_supply_replay_count(s), 2);

	/* After the grace period SPK 1 is gone, with its replay entry. */
	assert_int_equal(bc_prekey_supply_maintain(s, &b, t1 + BC_PREKEY_GRACE, &rotated), BC_OK);
	assert_true(rotated); /* also due for rotation by then: SPK 3 */
	assert_int_equal(bc_prekey_supply_spk_id(s), 3);
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x1_header, sizeof(xv_x1_header), &p),
			 BC_ERR_NOTFOUND);
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p),
			 BC_ERR_NOTFOUND);
	assert_int_equal(bc_prekey_supply_replay_count(s), 1);
	/* SPK 2 is now the previous one: the SPK-2 header is still a replay */
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, hlen, &p), BC_ERR_REPLAY);
	/* a second rotation drops SPK 2 at once */
	assert_int_equal(bc_prekey_supply_rotate(s, &b, t1 + BC_PREKEY_GRACE + 1), BC_OK);
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, hlen, &p), BC_ERR_NOTFOUND);
	assert_int_equal(bc_prekey_supply_replay_count(s), 0);

	bc_x3dh_keys_wipe(&k);
	bc_x3dh_pending_wipe(&p);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&a);
	bc_identity_wipe(&b);
}

/* A pending session whose signed prekey went away before commit. */
static void test_commit_after_expiry(void **state)
{
	bc_identity b;
	bc_prekey_supply *s = vector_b(&b);
	bc_x3dh_pending p;
	(void)state;

	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p), BC_OK);
	assert_int_equal(bc_prekey_supply_rotate(s, &b, NOW + 1), BC_OK);
	assert_int_equal(bc_prekey_supply_rotate(s, &b, NOW + 2), BC_OK);
	assert_int_equal(bc_x3dh_commit(s, &p), BC_OK);
	assert_int_equal(bc_prekey_supply_replay_count(s), 0);
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p),
			 BC_ERR_NOTFOUND);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&b);
}

static void test_onetime_supply(void **state)
{
	bc_identity b;
	bc_prekey_supply *s = NULL;
	uint8_t blobs[BC_PREKEY_MAX_BATCH][BC_PREKEY_ONETIME_LEN];
	uint8_t priv[32];
	bc_prekey_onetime o;
	struct feed f = { { xv_spk_priv, xv_opk1_priv }, 2, 0, false };
	(void)state;

	/* A failing key source changes nothing. */
	make_id(&b, xv_b_sign_seed, xv_b_dh_priv);
	assert_int_equal(bc_prekey_supply_new_test(&s, &b, NOW, feed_fn, &f), BC_OK);
	assert_int_equal(bc_prekey_supply_add_onetime(s, 2, blobs), BC_ERR_CRYPTO);
	assert_int_equal(bc_prekey_supply_onetime_count(s), 0);
	assert_int_equal(bc_prekey_supply_rotate(s, &b, NOW + 1), BC_ERR_CRYPTO);
	assert_int_equal(bc_prekey_supply_spk_id(s), 1);
	bc_prekey_supply_free(s);
	s = NULL;
	f.i = 0;
	f.n = 0;
	assert_int_equal(bc_prekey_supply_new_test(&s, &b, NOW, feed_fn, &f), BC_ERR_CRYPTO);
	assert_null(s);

	/* Fill to the bound; then the oldest go first. */
	assert_int_equal(bc_prekey_supply_new(&s, &b, NOW), BC_OK);
	assert_int_equal(bc_prekey_supply_add_onetime(s, 0, blobs), BC_ERR_INVALID);
	assert_int_equal(bc_prekey_supply_add_onetime(s, BC_PREKEY_MAX_BATCH + 1, blobs),
			 BC_ERR_INVALID);
	for (size_t i = 0; i < BC_PREKEY_MAX_ONETIME / BC_PREKEY_MAX_BATCH; i++)
		assert_int_equal(bc_prekey_supply_add_onetime(s, BC_PREKEY_MAX_BATCH, blobs), BC_OK);
	assert_int_equal(bc_prekey_supply_onetime_count(s), BC_PREKEY_MAX_ONETIME);
	assert_int_equal(bc_prekey_onetime_parse(&o, blobs[BC_PREKEY_MAX_BATCH - 1],
						 BC_PREKEY_ONETIME_LEN),
			 BC_OK);
	assert_int_equal(o.opk_id, BC_PREKEY_MAX_ONETIME);
	assert_int_equal(bc_prekey_supply_add_onetime(s, 3, blobs), BC_OK);
	assert_int_equal(bc_prekey_supply_onetime_count(s), BC_PREKEY_MAX_ONETIME);
	for (uint32_t id = 1; id <= 3; id++)
		assert_int_equal(bc_prekey_supply_find_onetime(s, id, priv), BC_ERR_NOTFOUND);
	for (uint32_t id = 4; id <= BC_PREKEY_MAX_ONETIME + 3; id += 499)
		assert_int_equal(bc_prekey_supply_find_onetime(s, id, priv), BC_OK);
	assert_int_equal(bc_prekey_supply_find_onetime(s, BC_PREKEY_MAX_ONETIME + 3, priv), BC_OK);
	assert_int_equal(bc_prekey_supply_find_onetime(s, BC_PREKEY_MAX_ONETIME + 4, priv),
			 BC_ERR_NOTFOUND);
	assert_int_equal(bc_prekey_supply_find_onetime(s, 0, priv), BC_ERR_NOTFOUND);
	/* delete in the middle; ids are never reused */
	assert_int_equal(bc_prekey_supply_delete_onetime(s, 1000), BC_OK);
	assert_int_equal(bc_prekey_supply_delete_onetime(s, 1000), BC_ERR_NOTFOUND);
	assert_int_equal(bc_prekey_supply_find_onetime(s, 999, priv), BC_OK);
	assert_int_equal(bc_prekey_supply_find_onetime(s, 1001, priv), BC_OK);
	assert_int_equal(bc_prekey_supply_add_onetime(s, 1, blobs), BC_OK);
	assert_int_equal(bc_prekey_onetime_parse(&o, blobs[0], BC_PREKEY_ONETIME_LEN), BC_OK);
	assert_int_equal(o.opk_id, BC_PREKEY_MAX_ONETIME + 4);
	sodium_memzero(priv, sizeof(priv));
	bc_prekey_supply_free(s);
	bc_identity_wipe(&b);
}

static void test_replay_quota(void **state)
{
	bc_identity b;
	bc_prekey_supply *s = vector_b(&b);
	bc_x3dh_pending p, p1;
	uint8_t tag[32];
	(void)state;

	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p1), BC_OK);
	for (size_t i = 0; i < BC_PREKEY_REPLAY_MAX; i++) {
		randombytes_buf(tag, sizeof(tag));
		assert_int_equal(bc_prekey_supply_replay_add(s, xv_spk_id, tag), BC_OK);
	}
	assert_int_equal(bc_prekey_supply_replay_add(s, xv_spk_id, tag), BC_ERR_REPLAY);
	randombytes_buf(tag, sizeof(tag));
	assert_int_equal(bc_prekey_supply_replay_add(s, xv_spk_id, tag), BC_ERR_QUOTA);
	assert_int_equal(bc_prekey_supply_replay_add(s, 77, tag), BC_ERR_NOTFOUND);
	/* Full: sessions without a one-time prekey are refused, with one
	 * they go on. */
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p),
			 BC_ERR_QUOTA);
	assert_int_equal(bc_x3dh_commit(s, &p1), BC_ERR_QUOTA);
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x1_header, sizeof(xv_x1_header), &p), BC_OK);
	assert_int_equal(bc_x3dh_commit(s, &p), BC_OK);
	assert_int_equal(bc_prekey_supply_replay_count(s), BC_PREKEY_REPLAY_MAX);
	/* A rotation and the grace period free the entries. */
	assert_int_equal(bc_prekey_supply_rotate(s, &b, NOW + 1), BC_OK);
	assert_true(bc_prekey_supply_expire(s, NOW + 1 + BC_PREKEY_GRACE, BC_PREKEY_GRACE));
	assert_int_equal(bc_prekey_supply_replay_count(s), 0);
	bc_x3dh_pending_wipe(&p);
	bc_x3dh_pending_wipe(&p1);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&b);
}

/* Offsets in a serialised supply (docs/PROTOCOL.md §12.3.5). */
#define SER_CUR 130
#define SER_HAS_PREV (SER_CUR + 108)
#define SER_PREV (SER_HAS_PREV + 1)
#define SER_AFTER_PREV (SER_PREV + 116)

static void test_supply_serialize(void **state)
{
	bc_identity b;
	bc_prekey_supply *s = vector_b(&b), *s2 = NULL, *s3 = NULL;
	bc_x3dh_pending p, p2;
	uint8_t *enc = NULL, *enc2 = NULL, *bad = NULL, tag[32];
	size_t len = 0, len2 = 0;
	(void)state;

	/* A state with every part: previous SPK, OPKs, replay entries of both. */
	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p), BC_OK);
	assert_int_equal(bc_x3dh_commit(s, &p), BC_OK);
	assert_int_equal(bc_prekey_supply_rotate(s, &b, NOW + 10), BC_OK);
	for (int i = 0; i < 3; i++) {
		randombytes_buf(tag, sizeof(tag));
		assert_int_equal(bc_prekey_supply_replay_add(s, 2, tag), BC_OK);
	}
	assert_int_equal(bc_prekey_supply_delete_onetime(s, 2), BC_OK);

	assert_int_equal(bc_prekey_supply_serialize(s, &enc, &len), BC_OK);
	assert_int_equal(len, SER_AFTER_PREV + 4 + 2 + 1 * 36 + 2 + 4 * 36);
	assert_int_equal(bc_prekey_supply_deserialize(&s2, enc, len), BC_OK);
	assert_int_equal(bc_prekey_supply_serialize(s2, &enc2, &len2), BC_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(enc2, enc, len);
	bc_free_secret(enc2, len2);
	/* The reloaded supply behaves the same. */
	assert_int_equal(bc_x3dh_respond(s2, &b, xv_x1_header, sizeof(xv_x1_header), &p2), BC_OK);
	assert_memory_equal(p2.keys.sk, xv_x1_sk, 32);
	assert_int_equal(bc_x3dh_respond(s2, &b, xv_x2_header, sizeof(xv_x2_header), &p2),
			 BC_ERR_REPLAY);
	assert_int_equal(bc_prekey_supply_spk_id(s2), 2);

	/* Refusals. */
	for (size_t n = 0; n < len; n += (n < 400 ? 1 : 17))
		assert_int_not_equal(bc_prekey_supply_deserialize(&s3, enc, n), BC_OK);
	bad = bc_malloc(len + 1);
	assert_non_null(bad);
	memcpy(bad, enc, len);
	bad[len] = 0;
	assert_int_equal(bc_prekey_supply_deserialize(&s3, bad, len + 1), BC_ERR_MALFORMED);
	bad[0] = 2;
	assert_int_equal(bc_prekey_supply_deserialize(&s3, bad, len), BC_ERR_VERSION);
	bad[0] = 1;
	bad[5] ^= 1; /* owner's sign_pub */
	assert_int_equal(bc_prekey_supply_deserialize(&s3, bad, len), BC_ERR_AUTH);
	bad[5] ^= 1;
	bad[SER_CUR + 13] ^= 1; /* current SPK private key: signature no longer fits */
	assert_int_equal(bc_prekey_supply_deserialize(&s3, bad, len), BC_ERR_AUTH);
	bad[SER_CUR + 13] ^= 1;
	bad[SER_HAS_PREV] = 2;
	assert_int_equal(bc_prekey_supply_deserialize(&s3, bad, len), BC_ERR_MALFORMED);
	bad[SER_HAS_PREV] = 1;
	bc_store32(bad + SER_AFTER_PREV, 0); /* last_opk_id below the held id 1 */
	assert_int_equal(bc_prekey_supply_deserialize(&s3, bad, len), BC_ERR_MALFORMED);
	bc_store32(bad + SER_AFTER_PREV, 2);
	{
		/* replay entries out of order */
		size_t r0 = SER_AFTER_PREV + 4 + 2 + 36 + 2;
		uint8_t tmp[36];
		memcpy(tmp, bad + r0 + 36, 36);
		memcpy(bad + r0 + 36, bad + r0 + 72, 36);
		memcpy(bad + r0 + 72, tmp, 36);
		assert_int_equal(bc_prekey_supply_deserialize(&s3, bad, len), BC_ERR_MALFORMED);
		memcpy(bad + r0 + 72, bad + r0 + 36, 36);
		memcpy(bad + r0 + 36, tmp, 36);
		/* an entry for an SPK not held */
		bc_store32(bad + r0, 9);
		assert_int_equal(bc_prekey_supply_deserialize(&s3, bad, len), BC_ERR_MALFORMED);
		bc_store32(bad + r0, 1);
		/* a count over the bound */
		bc_store16(bad + r0 - 2, BC_PREKEY_REPLAY_MAX + 1);
		assert_int_equal(bc_prekey_supply_deserialize(&s3, bad, len), BC_ERR_TOOBIG);
		bc_store16(bad + r0 - 2, 4);
	}
	assert_int_equal(bc_prekey_supply_deserialize(&s3, bad, len), BC_OK);
	bc_prekey_supply_free(s3);
	bc_free_secret(bad, len + 1);
	bc_free_secret(enc, len);
	bc_x3dh_pending_wipe(&p);
	bc_x3dh_pending_wipe(&p2);
	bc_prekey_supply_free(s);
	bc_prekey_supply_free(s2);
	bc_identity_wipe(&b);
}

/* The serialised supply, byte for byte as the second implementation
 * writes it: as made, and after a committed no-OPK session and a rotation
 * (docs/PROTOCOL.md §12.3.5). */
static void test_supply_vectors(void **state)
{
	bc_identity b;
	bc_prekey_supply *s = vector_b(&b), *s2 = NULL;
	bc_x3dh_pending p;
	uint8_t *enc = NULL;
	size_t len = 0;
	bool rotated = false;
	(void)state;

	assert_int_equal(bc_prekey_supply_serialize(s, &enc, &len), BC_OK);
	assert_int_equal(len, sizeof(xv_supply1));
	assert_memory_equal(enc, xv_supply1, len);
	bc_free_secret(enc, len);

	assert_int_equal(bc_x3dh_respond(s, &b, xv_x2_header, sizeof(xv_x2_header), &p), BC_OK);
	assert_int_equal(bc_x3dh_commit(s, &p), BC_OK);
	assert_int_equal(bc_prekey_supply_maintain(s, &b, NOW + BC_PREKEY_ROTATE_INTERVAL, &rotated),
			 BC_OK);
	assert_true(rotated);
	assert_int_equal(bc_prekey_supply_serialize(s, &enc, &len), BC_OK);
	assert_int_equal(len, sizeof(xv_supply2));
	assert_memory_equal(enc, xv_supply2, len);
	bc_free_secret(enc, len);

	/* and the vectors load */
	assert_int_equal(bc_prekey_supply_deserialize(&s2, xv_supply2, sizeof(xv_supply2)), BC_OK);
	assert_int_equal(bc_prekey_supply_spk_id(s2), 2);
	assert_int_equal(bc_x3dh_respond(s2, &b, xv_x2_header, sizeof(xv_x2_header), &p),
			 BC_ERR_REPLAY);
	assert_int_equal(bc_x3dh_respond(s2, &b, xv_x1_header, sizeof(xv_x1_header), &p), BC_OK);
	assert_memory_equal(p.keys.sk, xv_x1_sk, 32);
	bc_x3dh_pending_wipe(&p);
	bc_prekey_supply_free(s2);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&b);
}

/* Every allocation may fail: the error is NOMEM, nothing leaks (ASan,
 * valgrind), and the operations that need no memory allocate none. */
static void test_alloc_failures(void **state)
{
	bc_identity a, b;
	bc_prekey_supply *s = NULL;
	bc_prekey_bundle pb;
	bc_x3dh_keys k;
	bc_x3dh_pending p;
	uint8_t *enc = NULL, hdr[BC_X3DH_HEADER_MAX];
	size_t len = 0, hlen;
	unsigned long n, before;
	int err;
	(void)state;

	make_id(&a, xv_a_sign_seed, xv_a_dh_priv);
	make_id(&b, xv_b_sign_seed, xv_b_dh_priv);
	for (n = 1;; n++) {
		bc_alloc_fail_at(n);
		err = bc_prekey_supply_new(&s, &b, NOW);
		bc_alloc_fail_at(0);
		if (err == BC_OK)
			break;
		assert_int_equal(err, BC_ERR_NOMEM);
		assert_null(s);
	}
	for (n = 1;; n++) {
		bc_alloc_fail_at(n);
		err = bc_prekey_supply_serialize(s, &enc, &len);
		bc_alloc_fail_at(0);
		if (err == BC_OK)
			break;
		assert_int_equal(err, BC_ERR_NOMEM);
		assert_null(enc);
	}
	bc_prekey_supply_free(s);
	s = NULL;
	for (n = 1;; n++) {
		bc_alloc_fail_at(n);
		err = bc_prekey_supply_deserialize(&s, enc, len);
		bc_alloc_fail_at(0);
		if (err == BC_OK)
			break;
		assert_int_equal(err, BC_ERR_NOMEM);
		assert_null(s);
	}
	before = bc_alloc_count();
	fetch(s, &pb);
	assert_int_equal(bc_x3dh_initiate(&a, &pb, NULL, &k, hdr, &hlen), BC_OK);
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, hlen, &p), BC_OK);
	assert_int_equal(bc_x3dh_commit(s, &p), BC_OK);
	assert_int_equal(bc_alloc_count(), before);
	bc_free_secret(enc, len);
	bc_x3dh_keys_wipe(&k);
	bc_x3dh_pending_wipe(&p);
	bc_prekey_supply_free(s);
	bc_prekey_supply_free(NULL);
	bc_identity_wipe(&a);
	bc_identity_wipe(&b);
}

/* ---- with the Double Ratchet ---------------------------------------------------------------- */

/* The session layer's sequence: X3DH, ratchet init on both sides, the
 * first message decrypts only under the agreed keys; commit only then. */
static int first_message(const bc_x3dh_keys *ka, const bc_x3dh_pending *p, int *dec_err)
{
	bc_ratchet *ra = NULL, *rb = NULL;
	static const uint8_t msg[] = "would you accept a leader-level meeting?";
	uint8_t *ct = NULL, *pt = NULL;
	size_t ctlen = 0, ptlen = 0;
	int err;

	if ((err = bc_ratchet_new(&ra)) != BC_OK || (err = bc_ratchet_new(&rb)) != BC_OK)
		goto out;
	if ((err = bc_ratchet_init_initiator(ra, ka->sk, ka->spk_pub, ka->hka, ka->nhkb)) != BC_OK)
		goto out;
	if ((err = bc_ratchet_init_responder(rb, p->keys.sk, p->spk_priv, p->keys.hka,
					     p->keys.nhkb)) != BC_OK)
		goto out;
	if ((err = bc_ratchet_encrypt(ra, ka->ad, BC_X3DH_AD_LEN, msg, sizeof(msg), &ct, &ctlen)) !=
	    BC_OK)
		goto out;
	*dec_err = bc_ratchet_decrypt(rb, p->keys.ad, BC_X3DH_AD_LEN, ct, ctlen, NOW, &pt, &ptlen);
	if (*dec_err == BC_OK && (ptlen != sizeof(msg) || memcmp(pt, msg, ptlen) != 0))
		err = BC_ERR_INTERNAL;
out:
	bc_free(ct);
	bc_free_secret(pt, ptlen);
	bc_ratchet_free(ra);
	bc_ratchet_free(rb);
	return err;
}

static void test_with_ratchet(void **state)
{
	bc_identity a, b, c;
	bc_prekey_supply *s = vector_b(&b);
	bc_prekey_bundle pb;
	bc_prekey_onetime o;
	bc_x3dh_keys ka;
	bc_x3dh_pending p;
	uint8_t hdr[BC_X3DH_HEADER_MAX], dh3[32], key[32], cpub[BC_IDENTITY_PUBLIC_LEN];
	static const uint8_t nonce[12];
	unsigned long long clen;
	size_t hlen;
	int dec = -100;
	(void)state;

	make_id(&a, xv_a_sign_seed, xv_a_dh_priv);
	make_id(&c, xv_c_sign_seed, xv_c_dh_priv);
	fetch(s, &pb);
	assert_int_equal(bc_prekey_onetime_parse(&o, xv_opk2_blob, sizeof(xv_opk2_blob)), BC_OK);
	assert_int_equal(bc_x3dh_initiate_with_ephemeral(&a, &pb, &o, xv_ek2_priv, &ka, hdr, &hlen),
			 BC_OK);

	/* The same header with C's identity sealed in: B computes other keys
	 * and the first message does not authenticate: nothing committed. */
	{
		uint8_t forged[BC_X3DH_HEADER_MAX];
		const size_t prefix = hlen - BC_X3DH_SEALED_ID_LEN;
		memcpy(forged, hdr, hlen);
		assert_int_equal(crypto_scalarmult(dh3, xv_ek2_priv, xv_spk_pub), 0);
		assert_int_equal(bc_x3dh_identity_key(dh3, key), BC_OK);
		assert_int_equal(bc_identity_encode_public(&c.pub, cpub), BC_OK);
		assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(forged + prefix, &clen, cpub,
									   sizeof(cpub), forged, prefix,
									   NULL, nonce, key),
				 0);
		assert_int_equal(bc_x3dh_respond(s, &b, forged, hlen, &p), BC_OK);
		assert_true(bc_identity_equal(&p.keys.peer, &c.pub));
		assert_int_equal(first_message(&ka, &p, &dec), BC_OK);
		assert_int_equal(dec, BC_ERR_AUTH);
		bc_x3dh_pending_wipe(&p);
	}
	assert_int_equal(bc_prekey_supply_onetime_count(s), 2);

	/* The genuine header: the message opens, then commit. */
	assert_int_equal(bc_x3dh_respond(s, &b, hdr, hlen, &p), BC_OK);
	assert_int_equal(first_message(&ka, &p, &dec), BC_OK);
	assert_int_equal(dec, BC_OK);
	assert_int_equal(bc_x3dh_commit(s, &p), BC_OK);
	assert_int_equal(bc_prekey_supply_onetime_count(s), 1);

	sodium_memzero(dh3, sizeof(dh3));
	sodium_memzero(key, sizeof(key));
	bc_x3dh_keys_wipe(&ka);
	bc_x3dh_pending_wipe(&p);
	bc_prekey_supply_free(s);
	bc_identity_wipe(&a);
	bc_identity_wipe(&b);
	bc_identity_wipe(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_vectors),
		cmocka_unit_test(test_bundle_bitflips),
		cmocka_unit_test(test_bundle_other_identity),
		cmocka_unit_test(test_bundle_length_and_age),
		cmocka_unit_test(test_onetime_blob),
		cmocka_unit_test(test_vectors_with_opk),
		cmocka_unit_test(test_vectors_without_opk),
		cmocka_unit_test(test_random_agreement),
		cmocka_unit_test(test_unknown_prekey_ids),
		cmocka_unit_test(test_replay_with_opk),
		cmocka_unit_test(test_replay_without_opk),
		cmocka_unit_test(test_identity_swap),
		cmocka_unit_test(test_header_bitflips),
		cmocka_unit_test(test_header_codec),
		cmocka_unit_test(test_low_order_keys),
		cmocka_unit_test(test_wrong_owner),
		cmocka_unit_test(test_rotation_and_grace),
		cmocka_unit_test(test_commit_after_expiry),
		cmocka_unit_test(test_onetime_supply),
		cmocka_unit_test(test_replay_quota),
		cmocka_unit_test(test_supply_serialize),
		cmocka_unit_test(test_supply_vectors),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_with_ratchet),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("x3dh", tests, NULL, NULL);
}
