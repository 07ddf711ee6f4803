/*
 * test_envelope_vectors.c - sealed envelopes against known answers from a
 * second implementation (tests/vectors/gen_envelope.py, written from
 * docs/PROTOCOL.md §14; its output is tests/vectors/envelope_vectors.h).
 *
 * Checked byte for byte: the bucket rule; inner plaintexts of 0, 1, 243,
 * 244 (the 256-byte edge), 1000, 65523 / 65524 (the 64 KiB edge) and 70000
 * bytes, with and without a meta-sized prefix; bodies of both kinds; the
 * transcript meta, audience id, content hash and link hash of three
 * messages (transcript.c); and a whole session as the engine plays it:
 *
 *   m1  A -> B  kind SETUP  the first message of the session
 *   m2  A -> B  kind SETUP  A has heard nothing yet: the setup repeats
 *   m3  B -> A  kind MSG    B's answer; A's session is then confirmed
 *
 * The sealing side calls the lower-level functions in exactly the order of
 * lib/e2e.c seal() / seal_one() (typed content, content hash, transcript
 * position, meta, inner, AD = session AD [|| setup header], ratchet,
 * body); the opening side follows bc_e2e_open() (body, trial or setup
 * path, ratchet under the same AD, inner, meta, sender and content-hash
 * checks). Fixed randomness enters through the test hooks
 * bc_x3dh_initiate_with_ephemeral and bc_ratchet_test_set_rng. Inputs a
 * reader must refuse are checked too ("this forgery must fail").
 *
 * The last test runs the real engine on stores (as test_e2e.c does) to
 * probe an envelope malleability: see its comment.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"
#include "envelope.h"
#include "identity.h"
#include "internal.h"
#include "prekey.h"
#include "ratchet.h"
#include "store.h"
#include "transcript.h"
#include "x3dh.h"
#include "../vectors/envelope_vectors.h"
#include "../vectors/x3dh_vectors.h"

#define CT_APP 1 /* lib/e2e.h: the type byte of an application message */
#define AD_MAX (BC_X3DH_AD_LEN + BC_X3DH_HEADER_MAX)

static uint8_t ev_pattern(size_t i, unsigned mul, unsigned add)
{
	return (uint8_t)((i * mul + add) & 0xffu);
}

static uint8_t *pattern_buf(size_t n, unsigned mul, unsigned add)
{
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = ev_pattern(i, mul, add);
	return p;
}

static int err_of(int code)
{
	return code == 1 ? BC_ERR_MALFORMED : BC_ERR_VERSION;
}

/* ---- codec vectors ------------------------------------------------------------ */

static void test_bucket_rule(void **state)
{
	(void)state;
	for (size_t i = 0; i < BC_ARRAY_LEN(ev_buckets); i++)
		assert_int_equal(bc_env_bucket(ev_buckets[i].n), ev_buckets[i].bucket);
}

static void test_inner_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < BC_ARRAY_LEN(ev_inner); i++) {
		const struct ev_inner *v = &ev_inner[i];
		uint8_t *meta = pattern_buf(v->mlen, 29, 101);
		uint8_t *content = pattern_buf(v->clen, 167, 13);
		uint8_t *enc = NULL, digest[32];
		const uint8_t *m, *c;
		size_t len = 0, ml, cl;

		assert_int_equal(bc_env_inner_encode(v->mlen ? meta : NULL, v->mlen,
						     v->clen ? content : NULL, v->clen, &enc, &len),
				 BC_OK);
		assert_int_equal(len, v->len);
		assert_int_equal(len, bc_env_bucket(13 + v->mlen + v->clen));
		if (v->enc != NULL)
			assert_memory_equal(enc, v->enc, len);
		crypto_hash_sha256(digest, enc, len);
		assert_memory_equal(digest, v->sha256, 32);
		/* And the C reader takes the Python bytes back apart. */
		assert_int_equal(bc_env_inner_decode(enc, len, &m, &ml, &c, &cl), BC_OK);
		assert_int_equal(ml, v->mlen);
		assert_int_equal(cl, v->clen);
		if (ml)
			assert_memory_equal(m, meta, ml);
		if (cl)
			assert_memory_equal(c, content, cl);
		bc_free_secret(enc, len);
		free(meta);
		free(content);
	}
}

static void test_inner_rejects(void **state)
{
	const uint8_t *m, *c;
	size_t ml, cl;
	uint8_t *big;
	size_t blen = bc_env_bucket(13 + BC_ENV_MAX_META + 1), pos = 0;
	(void)state;

	for (size_t i = 0; i < BC_ARRAY_LEN(ev_inner_rejects); i++) {
		const struct ev_reject *v = &ev_inner_rejects[i];

		print_message("inner reject %s\n", v->name);
		assert_int_equal(bc_env_inner_decode(v->in, v->len, &m, &ml, &c, &cl),
				 err_of(v->err));
		assert_null(m);
		assert_null(c);
		assert_int_equal(ml + cl, 0);
	}
	/* A meta over its cap in a bucket big enough to hold it (generated
	 * as "meta_over_cap" by the script, too big for the header). */
	big = calloc(1, blen);
	assert_non_null(big);
	big[pos++] = 1;
	bc_store32(big + pos, (uint32_t)(BC_ENV_MAX_META + 1));
	pos += 4 + BC_ENV_MAX_META + 1;
	bc_store32(big + pos, 0);
	pos += 4;
	bc_store32(big + pos, (uint32_t)(blen - pos - 4));
	assert_int_equal(bc_env_inner_decode(big, blen, &m, &ml, &c, &cl), BC_ERR_MALFORMED);
	free(big);
}

static void test_body_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < BC_ARRAY_LEN(ev_bodies); i++) {
		const struct ev_body *v = &ev_bodies[i];
		uint8_t *setup = pattern_buf(v->slen, 83, 5);
		uint8_t *rmsg = pattern_buf(v->rlen, 59, 3);
		uint8_t *enc = NULL, kind = 0;
		const uint8_t *s, *r;
		size_t len = 0, sl, rl;

		print_message("body %s\n", v->name);
		assert_int_equal(bc_env_body_encode(v->kind, v->has_setup ? setup : NULL, v->slen,
						    rmsg, v->rlen, &enc, &len),
				 BC_OK);
		assert_int_equal(len, v->len);
		assert_memory_equal(enc, v->enc, len);
		assert_int_equal(bc_env_body_decode(v->enc, v->len, &kind, &s, &sl, &r, &rl),
				 BC_OK);
		assert_int_equal(kind, v->kind);
		assert_int_equal(s != NULL, v->has_setup);
		assert_int_equal(sl, v->slen);
		assert_int_equal(rl, v->rlen);
		if (sl)
			assert_memory_equal(s, setup, sl);
		if (rl)
			assert_memory_equal(r, rmsg, rl);
		bc_free(enc);
		free(setup);
		free(rmsg);
	}
}

static void test_body_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < BC_ARRAY_LEN(ev_body_rejects); i++) {
		const struct ev_reject *v = &ev_body_rejects[i];
		const uint8_t *s, *r;
		size_t sl, rl;
		uint8_t kind;

		print_message("body reject %s\n", v->name);
		assert_int_equal(bc_env_body_decode(v->in, v->len, &kind, &s, &sl, &r, &rl),
				 err_of(v->err));
		assert_null(s);
		assert_null(r);
		assert_int_equal(sl + rl, 0);
	}
}

/* ---- the session ---------------------------------------------------------------- */

/* One message's expected values (envelope_vectors.h, ev_mN_*). */
struct expect {
	const uint8_t *msg_id, *typed, *audience_id, *content_hash, *meta, *link, *inner, *ad,
		*rheader, *mk, *rmsg, *body;
	size_t typed_len, meta_len, inner_len, ad_len, rmsg_len, body_len;
	uint64_t seq, ts;
};

#define EXPECT(m)                                                                         \
	{ ev_##m##_msg_id, ev_##m##_typed, ev_##m##_audience_id, ev_##m##_content_hash,    \
	  ev_##m##_meta_enc, ev_##m##_link, ev_##m##_inner, ev_##m##_ad,                   \
	  ev_##m##_ratchet_header, ev_##m##_mk, ev_##m##_rmsg, ev_##m##_body,              \
	  sizeof(ev_##m##_typed), sizeof(ev_##m##_meta_enc), sizeof(ev_##m##_inner),      \
	  sizeof(ev_##m##_ad), sizeof(ev_##m##_rmsg), sizeof(ev_##m##_body), ev_##m##_seq, \
	  ev_##m##_timestamp }

/* The ratchet's randomness, served in order; anything more fails. */
struct rng {
	const uint8_t (*dh)[32];
	size_t ndh, idh;
	const uint8_t (*nonce)[24];
	size_t nnonce, inonce;
};

static int rng_fn(void *ctx, int kind, uint8_t *buf, size_t len)
{
	struct rng *g = ctx;

	if (kind == BC_RATCHET_RNG_DH && len == 32 && g->idh < g->ndh) {
		memcpy(buf, g->dh[g->idh++], len);
		return 0;
	}
	if (kind == BC_RATCHET_RNG_NONCE && len == 24 && g->inonce < g->nnonce) {
		memcpy(buf, g->nonce[g->inonce++], len);
		return 0;
	}
	return -1;
}

/* A session as the engine keeps it (e2e.c struct sess). */
struct sess {
	bc_ratchet *r;
	uint8_t ad[BC_X3DH_AD_LEN];
	bool confirmed;
	uint8_t setup[BC_X3DH_HEADER_MAX];
	size_t setup_len;
};

/* e2e.c body_ad(), as its comment states it: session AD || setup header. */
static size_t body_ad(const uint8_t sad[BC_X3DH_AD_LEN], const uint8_t *setup, size_t slen,
		      uint8_t out[AD_MAX])
{
	memcpy(out, sad, BC_X3DH_AD_LEN);
	if (setup != NULL && slen <= BC_X3DH_HEADER_MAX) {
		memcpy(out + BC_X3DH_AD_LEN, setup, slen);
		return BC_X3DH_AD_LEN + slen;
	}
	return BC_X3DH_AD_LEN;
}

static void assert_state(const bc_ratchet *r, const uint8_t *want, size_t wlen)
{
	uint8_t *s = NULL;
	size_t n = 0;

	assert_int_equal(bc_ratchet_serialize(r, &s, &n), BC_OK);
	assert_int_equal(n, wlen);
	assert_memory_equal(s, want, n);
	bc_free_secret(s, n);
}

/* Seal content for one reader exactly as e2e.c seal() + seal_one() do,
 * comparing every intermediate value with x. Returns the body. */
static void seal_copy(struct sess *s, bc_transcript *tx, const bc_tx_audience *aud,
		      const struct expect *x, uint8_t **body, size_t *blen)
{
	const uint8_t *content = x->typed + 1;
	size_t clen = x->typed_len - 1;
	uint8_t tc[256], h[BC_TX_HASH_LEN], menc[BC_TX_META_MAX], aid[BC_TX_HASH_LEN],
		link[BC_TX_HASH_LEN], ad[AD_MAX];
	uint8_t *inner = NULL, *rm = NULL;
	size_t mlen = 0, ilen = 0, rl = 0, adlen;
	bc_tx_meta meta;

	/* typed(): the type byte, then the application content. */
	assert_true(clen + 1 <= sizeof(tc));
	tc[0] = CT_APP;
	memcpy(tc + 1, content, clen);
	assert_memory_equal(tc, x->typed, x->typed_len);
	/* The content hash covers the typed content. */
	assert_int_equal(bc_transcript_content_hash(tc, clen + 1, h), BC_OK);
	assert_memory_equal(h, x->content_hash, BC_TX_HASH_LEN);
	assert_int_equal(bc_transcript_next(tx, aud, x->msg_id, h, x->ts, &meta), BC_OK);
	assert_true(meta.seq == x->seq);
	assert_int_equal(bc_transcript_meta_encode(&meta, menc, &mlen), BC_OK);
	assert_int_equal(mlen, x->meta_len);
	assert_memory_equal(menc, x->meta, mlen);
	assert_int_equal(bc_transcript_audience_id(aud, aid), BC_OK);
	assert_memory_equal(aid, x->audience_id, BC_TX_HASH_LEN);
	assert_int_equal(bc_transcript_link(&meta, link), BC_OK);
	assert_memory_equal(link, x->link, BC_TX_HASH_LEN);
	assert_int_equal(bc_env_inner_encode(menc, mlen, tc, clen + 1, &inner, &ilen), BC_OK);
	assert_int_equal(ilen, x->inner_len);
	assert_memory_equal(inner, x->inner, ilen);
	/* seal_one(): AD, ratchet, body. */
	adlen = body_ad(s->ad, s->confirmed ? NULL : s->setup, s->setup_len, ad);
	assert_int_equal(adlen, x->ad_len);
	assert_memory_equal(ad, x->ad, adlen);
	assert_int_equal(bc_ratchet_encrypt(s->r, ad, adlen, inner, ilen, &rm, &rl), BC_OK);
	assert_int_equal(rl, x->rmsg_len);
	assert_memory_equal(rm, x->rmsg, rl);
	assert_int_equal(bc_env_body_encode(s->confirmed ? BC_ENV_KIND_MSG : BC_ENV_KIND_SETUP,
					    s->confirmed ? NULL : s->setup,
					    s->confirmed ? 0 : s->setup_len, rm, rl, body, blen),
			 BC_OK);
	assert_int_equal(*blen, x->body_len);
	assert_memory_equal(*body, x->body, *blen);
	bc_free(rm);
	bc_free_secret(inner, ilen);
}

/* After the ratchet opened a body (pt): the checks of bc_e2e_open. */
static void check_inner(const uint8_t *pt, size_t ptlen, const uint8_t sender[32],
			const struct expect *x)
{
	const uint8_t *menc, *tc;
	size_t mlen, tlen;
	uint8_t h[BC_TX_HASH_LEN];
	bc_tx_meta meta;

	assert_int_equal(ptlen, x->inner_len);
	assert_memory_equal(pt, x->inner, ptlen);
	assert_int_equal(bc_env_inner_decode(pt, ptlen, &menc, &mlen, &tc, &tlen), BC_OK);
	assert_int_equal(bc_transcript_meta_decode(menc, mlen, &meta), BC_OK);
	assert_memory_equal(meta.sender, sender, 32);
	assert_true(tlen >= 1);
	assert_int_equal(bc_transcript_content_hash(tc, tlen, h), BC_OK);
	assert_memory_equal(h, meta.content_hash, sizeof(h));
	assert_int_equal(tc[0], CT_APP);
	assert_int_equal(tlen, x->typed_len);
	assert_memory_equal(tc, x->typed, tlen);
}

/* Open a body on a known session (e2e.c trial_open for one session). */
static int open_on(struct sess *s, const uint8_t *body, size_t len, uint64_t now,
		   uint8_t **pt, size_t *ptlen)
{
	const uint8_t *setup, *rmsg;
	size_t slen, rlen, adlen;
	uint8_t kind, ad[AD_MAX];
	int rc = bc_env_body_decode(body, len, &kind, &setup, &slen, &rmsg, &rlen);

	if (rc != BC_OK)
		return rc;
	adlen = body_ad(s->ad, setup, slen, ad);
	return bc_ratchet_decrypt(s->r, ad, adlen, rmsg, rlen, now, pt, ptlen);
}

struct world {
	bc_identity a, b;
	uint8_t fa[32], fb[32];
	bc_prekey_supply *supply; /* B's */
	struct sess sa, sb;       /* A's session to B, B's to A */
	struct rng ra, rb;
	bc_transcript *txa, *txb;
	bc_tx_audience aud;
};

static void world_init(struct world *w)
{
	bc_prekey_bundle bundle;
	bc_prekey_onetime opk;
	bc_x3dh_keys keys;
	uint8_t ids[2][32];

	memset(w, 0, sizeof(*w));
	assert_int_equal(bc_identity_from_seed(&w->a, ev_a_sign_seed, ev_a_dh_priv), BC_OK);
	assert_int_equal(bc_identity_from_seed(&w->b, ev_b_sign_seed, ev_b_dh_priv), BC_OK);
	assert_int_equal(bc_identity_fingerprint(&w->a.pub, w->fa), BC_OK);
	assert_int_equal(bc_identity_fingerprint(&w->b.pub, w->fb), BC_OK);
	assert_memory_equal(w->fa, ev_a_fingerprint, 32);
	assert_memory_equal(w->fb, ev_b_fingerprint, 32);
	assert_int_equal(bc_prekey_supply_deserialize(&w->supply, ev_b_supply, EV_B_SUPPLY_LEN),
			 BC_OK);

	/* A: bc_e2e_start with the ephemeral key given. */
	assert_int_equal(bc_prekey_bundle_parse(&bundle, ev_b_bundle, EV_B_BUNDLE_LEN, &w->b.pub,
						ev_created, BC_PREKEY_DEFAULT_MAX_AGE),
			 BC_OK);
	assert_int_equal(bc_prekey_onetime_parse(&opk, ev_b_opk1_blob, EV_B_OPK1_BLOB_LEN), BC_OK);
	assert_int_equal(bc_x3dh_initiate_with_ephemeral(&w->a, &bundle, &opk, ev_ek_priv, &keys,
							 w->sa.setup, &w->sa.setup_len),
			 BC_OK);
	assert_int_equal(w->sa.setup_len, EV_HEADER_LEN);
	assert_memory_equal(w->sa.setup, ev_header, EV_HEADER_LEN);
	assert_memory_equal(w->sa.setup, xv_x1_header, sizeof(xv_x1_header));
	assert_memory_equal(keys.ad, ev_session_ad, BC_X3DH_AD_LEN);
	assert_memory_equal(keys.sk, ev_sk, 32);
	assert_memory_equal(keys.hka, ev_hka, 32);
	assert_memory_equal(keys.nhkb, ev_nhkb, 32);
	w->ra = (struct rng){ ev_a_rng_dh, BC_ARRAY_LEN(ev_a_rng_dh), 0, ev_a_rng_nonce,
			      BC_ARRAY_LEN(ev_a_rng_nonce), 0 };
	w->rb = (struct rng){ ev_b_rng_dh, BC_ARRAY_LEN(ev_b_rng_dh), 0, ev_b_rng_nonce,
			      BC_ARRAY_LEN(ev_b_rng_nonce), 0 };
	assert_int_equal(bc_ratchet_new(&w->sa.r), BC_OK);
	bc_ratchet_test_set_rng(w->sa.r, rng_fn, &w->ra);
	assert_int_equal(bc_ratchet_init_initiator(w->sa.r, keys.sk, keys.spk_pub, keys.hka,
						   keys.nhkb),
			 BC_OK);
	memcpy(w->sa.ad, keys.ad, BC_X3DH_AD_LEN);
	w->sa.confirmed = false;
	bc_x3dh_keys_wipe(&keys);
	assert_state(w->sa.r, ev_state_a_init, EV_STATE_A_INIT_LEN);

	assert_int_equal(bc_transcript_new(w->fa, &w->txa), BC_OK);
	assert_int_equal(bc_transcript_new(w->fb, &w->txb), BC_OK);
	memcpy(ids[0], w->fa, 32);
	memcpy(ids[1], w->fb, 32);
	assert_int_equal(bc_transcript_audience_set(&w->aud, (const uint8_t(*)[32])ids, 2), BC_OK);
}

static void world_free(struct world *w)
{
	bc_ratchet_free(w->sa.r);
	bc_ratchet_free(w->sb.r);
	bc_prekey_supply_free(w->supply);
	bc_transcript_free(w->txa);
	bc_transcript_free(w->txb);
	bc_identity_wipe(&w->a);
	bc_identity_wipe(&w->b);
	memset(w, 0, sizeof(*w));
}

/* B opens m1: no session opens it, it carries a setup: e2e.c setup_open. */
static void b_opens_m1(struct world *w, const uint8_t *body, size_t len)
{
	const struct expect x = EXPECT(m1);
	const uint8_t *setup, *rmsg;
	size_t slen, rlen, adlen, ptlen = 0;
	uint8_t kind, ad[AD_MAX], fp[32], *pt = NULL;
	bc_x3dh_pending pend;

	assert_int_equal(bc_env_body_decode(body, len, &kind, &setup, &slen, &rmsg, &rlen), BC_OK);
	assert_int_equal(kind, BC_ENV_KIND_SETUP);
	assert_int_equal(bc_x3dh_respond(w->supply, &w->b, setup, slen, &pend), BC_OK);
	assert_int_equal(bc_ratchet_new(&w->sb.r), BC_OK);
	bc_ratchet_test_set_rng(w->sb.r, rng_fn, &w->rb);
	assert_int_equal(bc_ratchet_init_responder(w->sb.r, pend.keys.sk, pend.spk_priv,
						   pend.keys.hka, pend.keys.nhkb),
			 BC_OK);
	assert_state(w->sb.r, ev_state_b_init, EV_STATE_B_INIT_LEN);
	memcpy(w->sb.ad, pend.keys.ad, BC_X3DH_AD_LEN);
	w->sb.confirmed = true; /* a responder never sends the setup header */
	adlen = body_ad(w->sb.ad, setup, slen, ad);
	assert_int_equal(adlen, x.ad_len);
	assert_memory_equal(ad, x.ad, adlen);
	assert_int_equal(bc_ratchet_decrypt(w->sb.r, ad, adlen, rmsg, rlen, ev_t1 + 5, &pt, &ptlen),
			 BC_OK);
	assert_int_equal(bc_x3dh_commit(w->supply, &pend), BC_OK);
	assert_int_equal(bc_identity_fingerprint(&pend.keys.peer, fp), BC_OK);
	assert_memory_equal(fp, w->fa, 32);
	check_inner(pt, ptlen, fp, &x);
	bc_free_secret(pt, ptlen);
	bc_x3dh_pending_wipe(&pend);
	assert_state(w->sb.r, ev_state_b_m1, EV_STATE_B_M1_LEN);
}

static void test_setup_vectors(void **state)
{
	struct world w;
	(void)state;
	world_init(&w); /* the X3DH header, AD, keys and A's initial state */
	world_free(&w);
}

static void test_first_message(void **state)
{
	const struct expect x = EXPECT(m1);
	struct world w;
	uint8_t *body = NULL;
	size_t blen = 0;
	(void)state;

	world_init(&w);
	seal_copy(&w.sa, w.txa, &w.aud, &x, &body, &blen);
	assert_state(w.sa.r, ev_state_a_m1, EV_STATE_A_M1_LEN);
	b_opens_m1(&w, body, blen);
	bc_free(body);
	world_free(&w);
}

static void test_session_continues(void **state)
{
	const struct expect x1 = EXPECT(m1), x2 = EXPECT(m2), x3 = EXPECT(m3);
	const bc_tx_report *reps;
	struct world w;
	uint8_t *body = NULL, *pt = NULL;
	size_t blen = 0, ptlen = 0, nr;
	bc_tx_meta meta;
	(void)state;

	world_init(&w);
	seal_copy(&w.sa, w.txa, &w.aud, &x1, &body, &blen);
	b_opens_m1(&w, body, blen);
	bc_free(body);
	/* B's transcript takes m1's meta: seq 1 of A's chain, in order. */
	assert_int_equal(bc_transcript_meta_decode(x1.meta, x1.meta_len, &meta), BC_OK);
	assert_int_equal(bc_transcript_receive(w.txb, &meta, &reps, &nr), BC_OK);
	assert_int_equal(reps[0].kind, BC_TX_OK);

	/* m2: still unconfirmed, so kind SETUP again, prev = link(m1). */
	seal_copy(&w.sa, w.txa, &w.aud, &x2, &body, &blen);
	assert_state(w.sa.r, ev_state_a_m2, EV_STATE_A_M2_LEN);
	assert_int_equal(bc_transcript_meta_decode(x2.meta, x2.meta_len, &meta), BC_OK);
	assert_memory_equal(meta.prev, x1.link, 32);
	/* B has a session now: trial decryption under AD || setup. */
	assert_int_equal(open_on(&w.sb, body, blen, ev_t2 + 5, &pt, &ptlen), BC_OK);
	check_inner(pt, ptlen, w.fa, &x2);
	bc_free_secret(pt, ptlen);
	bc_free(body);
	assert_state(w.sb.r, ev_state_b_m2, EV_STATE_B_M2_LEN);
	assert_int_equal(bc_transcript_receive(w.txb, &meta, &reps, &nr), BC_OK);
	assert_int_equal(reps[0].kind, BC_TX_OK);

	/* m3: B answers, kind MSG, AD = the session AD alone. */
	seal_copy(&w.sb, w.txb, &w.aud, &x3, &body, &blen);
	assert_state(w.sb.r, ev_state_b_m3, EV_STATE_B_M3_LEN);
	assert_int_equal(open_on(&w.sa, body, blen, ev_t3 + 5, &pt, &ptlen), BC_OK);
	check_inner(pt, ptlen, w.fb, &x3);
	bc_free_secret(pt, ptlen);
	bc_free(body);
	w.sa.confirmed = true;
	assert_state(w.sa.r, ev_state_a_m3, EV_STATE_A_M3_LEN);
	/* Every fixed random value was drawn, none more. */
	assert_int_equal(w.ra.idh, w.ra.ndh);
	assert_int_equal(w.ra.inonce, w.ra.nnonce);
	assert_int_equal(w.rb.idh, w.rb.ndh);
	assert_int_equal(w.rb.inonce, w.rb.nnonce);
	world_free(&w);
}

/* Forgeries of the vector bodies must fail and leave the session as it was. */
static void expect_refused(struct sess *s, const uint8_t *body, size_t len,
			   const uint8_t *state, size_t slen)
{
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	int rc = open_on(s, body, len, ev_t3, &pt, &ptlen);

	assert_int_not_equal(rc, BC_OK);
	assert_null(pt);
	assert_state(s->r, state, slen);
}

static void test_forgeries(void **state)
{
	const struct expect x1 = EXPECT(m1);
	struct world w;
	uint8_t *body = NULL, buf[EV_M2_BODY_LEN + 8];
	size_t blen = 0, sl = EV_HEADER_LEN;
	(void)state;

	world_init(&w);
	seal_copy(&w.sa, w.txa, &w.aud, &x1, &body, &blen);
	b_opens_m1(&w, body, blen);
	bc_free(body);
	/* B holds the session after m1; m2 (kind SETUP) is next. */
	/* The setup header dropped: kind MSG, same ratchet message. */
	buf[0] = 1;
	buf[1] = BC_ENV_KIND_MSG;
	memcpy(buf + 2, ev_m2_body + 6 + sl, EV_M2_BODY_LEN - 6 - sl);
	expect_refused(&w.sb, buf, EV_M2_BODY_LEN - 4 - sl, ev_state_b_m1, EV_STATE_B_M1_LEN);
	/* Any bit of the setup header flipped. */
	for (size_t i = 0; i < sl; i++) {
		memcpy(buf, ev_m2_body, EV_M2_BODY_LEN);
		buf[6 + i] ^= (uint8_t)(1u << (i % 8));
		expect_refused(&w.sb, buf, EV_M2_BODY_LEN, ev_state_b_m1, EV_STATE_B_M1_LEN);
	}
	/* The setup header of another session (the x2 vector, no one-time
	 * prekey: 4 bytes shorter). */
	{
		size_t n = 0;
		buf[n++] = 1;
		buf[n++] = BC_ENV_KIND_SETUP;
		bc_store32(buf + n, (uint32_t)sizeof(xv_x2_header));
		n += 4;
		memcpy(buf + n, xv_x2_header, sizeof(xv_x2_header));
		n += sizeof(xv_x2_header);
		memcpy(buf + n, ev_m2_body + 6 + sl, EV_M2_BODY_LEN - 6 - sl);
		n += EV_M2_BODY_LEN - 6 - sl;
		expect_refused(&w.sb, buf, n, ev_state_b_m1, EV_STATE_B_M1_LEN);
	}
	/* Bits all over the ratchet message (every 7th byte). */
	for (size_t i = 6 + sl + 4; i < EV_M2_BODY_LEN; i += 7) {
		memcpy(buf, ev_m2_body, EV_M2_BODY_LEN);
		buf[i] ^= (uint8_t)(1u << (i % 8));
		expect_refused(&w.sb, buf, EV_M2_BODY_LEN, ev_state_b_m1, EV_STATE_B_M1_LEN);
	}
	/* Truncated, extended. */
	expect_refused(&w.sb, ev_m2_body, EV_M2_BODY_LEN - 1, ev_state_b_m1, EV_STATE_B_M1_LEN);
	memcpy(buf, ev_m2_body, EV_M2_BODY_LEN);
	buf[EV_M2_BODY_LEN] = 0;
	expect_refused(&w.sb, buf, EV_M2_BODY_LEN + 1, ev_state_b_m1, EV_STATE_B_M1_LEN);
	/* m1 again on the session it created: a replay. */
	{
		uint8_t *pt = NULL;
		size_t ptlen = 0;
		assert_int_equal(open_on(&w.sb, ev_m1_body, EV_M1_BODY_LEN, ev_t3, &pt, &ptlen),
				 BC_ERR_REPLAY);
		assert_state(w.sb.r, ev_state_b_m1, EV_STATE_B_M1_LEN);
	}
	/* And the genuine m2 still opens. */
	{
		const struct expect x2 = EXPECT(m2);
		uint8_t *pt = NULL;
		size_t ptlen = 0;
		assert_int_equal(open_on(&w.sb, ev_m2_body, EV_M2_BODY_LEN, ev_t2 + 5, &pt, &ptlen),
				 BC_OK);
		check_inner(pt, ptlen, w.fa, &x2);
		bc_free_secret(pt, ptlen);
	}
	world_free(&w);
}

/* ---- the real engine: a kind MSG body re-wrapped as kind SETUP -------------------- */

static char dir[128];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bc-envvec-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[200];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct member {
	bc_store *st;
	bc_e2e *e;
};

static void member_open(struct member *m, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	assert_int_equal(bc_store_open(&m->st, path, NULL, 0,
				       BC_STORE_CREATE | BC_STORE_UNPROTECTED),
			 BC_OK);
	assert_int_equal(bc_e2e_new(&m->e, m->st, ev_created), BC_OK);
}

static void member_close(struct member *m)
{
	bc_e2e_free(m->e);
	bc_store_close(m->st);
}

static int e2e_send(struct member *from, struct member *to, const char *text, uint8_t **body,
		    size_t *blen)
{
	uint8_t reader[1][BC_E2E_ID_LEN], id[16], **bodies = NULL;
	size_t *lens = NULL;
	int rc;

	memcpy(reader[0], bc_e2e_id(to->e), BC_E2E_ID_LEN);
	randombytes_buf(id, sizeof(id));
	rc = bc_e2e_seal(from->e, (const uint8_t(*)[BC_E2E_ID_LEN])reader, 1, id,
			 (const uint8_t *)text, strlen(text), ev_created, &bodies, &lens);
	if (rc != BC_OK)
		return rc;
	assert_int_equal(bc_e2e_sent(from->e, id), BC_OK);
	*body = bodies[0];
	*blen = lens[0];
	bodies[0] = NULL;
	bc_e2e_bodies_free(bodies, lens, 1);
	return BC_OK;
}

static int e2e_recv(struct member *m, const uint8_t *body, size_t len)
{
	uint8_t rid[16];
	bc_e2e_result res;
	int rc;

	randombytes_buf(rid, sizeof(rid));
	rc = bc_e2e_open(m->e, rid, body, len, ev_created + 1, &res);
	bc_e2e_result_clear(&res);
	return rc;
}

/*
 * The ratchet AD of a body is the session AD, plus the setup header when
 * the body has kind SETUP; the kind byte itself is not authenticated. So
 * a kind MSG body re-wrapped as kind SETUP with an EMPTY setup field (or
 * with one longer than BC_X3DH_HEADER_MAX, which body_ad() silently
 * leaves out of the AD) has the same AD and opens, on the reader's
 * existing session, exactly like the original: the relay can change the
 * envelope of a message without detection (the plaintext and the ratchet
 * are unaffected). This test states the property that should hold; while
 * lib/e2e.c still accepts such bodies it reports a skip with the reason
 * (see the report and docs/PROTOCOL.md §14.5).
 */
static void test_e2e_kind_switch(void **state)
{
	struct member a, b;
	uint8_t *body = NULL, *alt;
	size_t blen = 0, alen;
	int empty_rc, long_rc, orig_rc;
	(void)state;

	member_open(&a, "a");
	member_open(&b, "b");
	{
		uint8_t sb[BC_PREKEY_BUNDLE_LEN];
		uint8_t(*ot)[BC_PREKEY_ONETIME_LEN] = NULL;
		size_t n = 0;
		assert_int_equal(bc_e2e_prekeys(b.e, 0, ev_created, sb, &ot, &n), BC_OK);
		assert_int_equal(bc_e2e_start(a.e, bc_e2e_identity(b.e), sb, sizeof(sb), ot[0],
					      BC_PREKEY_ONETIME_LEN, ev_created),
				 BC_OK);
		bc_free(ot);
	}
	assert_int_equal(e2e_send(&a, &b, "hello", &body, &blen), BC_OK);
	assert_int_equal(body[1], BC_ENV_KIND_SETUP);
	assert_int_equal(e2e_recv(&b, body, blen), BC_OK);
	bc_free(body);
	/* Two answers from b, both kind MSG. */
	{
		uint8_t *b1 = NULL, *b2 = NULL;
		size_t l1 = 0, l2 = 0;
		assert_int_equal(e2e_send(&b, &a, "answer one", &b1, &l1), BC_OK);
		assert_int_equal(e2e_send(&b, &a, "answer two", &b2, &l2), BC_OK);
		assert_int_equal(b1[1], BC_ENV_KIND_MSG);
		/* b1 as kind SETUP with an empty setup field. */
		alen = l1 + 4;
		alt = malloc(alen);
		assert_non_null(alt);
		alt[0] = 1;
		alt[1] = BC_ENV_KIND_SETUP;
		bc_store32(alt + 2, 0);
		memcpy(alt + 6, b1 + 2, l1 - 2);
		empty_rc = e2e_recv(&a, alt, alen);
		free(alt);
		/* b2 as kind SETUP with 200 bytes of junk as setup. */
		alen = l2 + 4 + 200;
		alt = malloc(alen);
		assert_non_null(alt);
		alt[0] = 1;
		alt[1] = BC_ENV_KIND_SETUP;
		bc_store32(alt + 2, 200);
		memset(alt + 6, 0x5a, 200);
		memcpy(alt + 206, b2 + 2, l2 - 2);
		long_rc = e2e_recv(&a, alt, alen);
		free(alt);
		/* The genuine b1 afterwards: fresh if the forgery was refused. */
		orig_rc = e2e_recv(&a, b1, l1);
		bc_free(b1);
		bc_free(b2);
	}
	member_close(&a);
	member_close(&b);
	if (empty_rc == BC_OK || long_rc == BC_OK) {
		assert_int_equal(orig_rc, empty_rc == BC_OK ? BC_ERR_REPLAY : BC_OK);
		print_message("KNOWN ISSUE in lib/e2e.c: a kind MSG body re-wrapped as kind SETUP "
			      "(empty setup: %s; 200-byte setup: %s) opens on the existing "
			      "session; see docs/PROTOCOL.md §14.5\n",
			      empty_rc == BC_OK ? "accepted" : "refused",
			      long_rc == BC_OK ? "accepted" : "refused");
		skip();
	}
	assert_int_equal(orig_rc, BC_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_rule),
		cmocka_unit_test(test_inner_vectors),
		cmocka_unit_test(test_inner_rejects),
		cmocka_unit_test(test_body_vectors),
		cmocka_unit_test(test_body_rejects),
		cmocka_unit_test(test_setup_vectors),
		cmocka_unit_test(test_first_message),
		cmocka_unit_test(test_session_continues),
		cmocka_unit_test(test_forgeries),
		cmocka_unit_test_setup_teardown(test_e2e_kind_switch, setup_dir, teardown_dir),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
