/*
 * test_envelope.c - envelope and inner-plaintext encoding, and sealing a
 * message for several readers over real ratchet sessions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "envelope.h"
#include "internal.h"
#include "ratchet.h"

static void buckets(void **state)
{
	(void)state;
	assert_int_equal(bc_env_bucket(0), 256);
	assert_int_equal(bc_env_bucket(256), 256);
	assert_int_equal(bc_env_bucket(257), 1024);
	assert_int_equal(bc_env_bucket(4097), 16384);
	assert_int_equal(bc_env_bucket(65536), 65536);
	assert_int_equal(bc_env_bucket(65537), 131072);
	assert_int_equal(bc_env_bucket(200000), 262144);
}

static void inner_round_trip_and_padding(void **state)
{
	const uint8_t meta[] = "meta-bytes";
	uint8_t content[5000];
	uint8_t *in = NULL;
	size_t n;
	const uint8_t *m, *c;
	size_t ml, cl;
	(void)state;
	randombytes_buf(content, sizeof(content));
	for (size_t clen = 0; clen < sizeof(content); clen += 997) {
		assert_int_equal(bc_env_inner_encode(meta, sizeof(meta), content,
						     clen, &in, &n),
				 BC_OK);
		assert_int_equal(n, bc_env_bucket(13 + sizeof(meta) + clen));
		assert_int_equal(bc_env_inner_decode(in, n, &m, &ml, &c, &cl),
				 BC_OK);
		assert_int_equal(ml, sizeof(meta));
		assert_memory_equal(m, meta, ml);
		assert_int_equal(cl, clen);
		if (clen)
			assert_memory_equal(c, content, clen);
		/* Non-zero padding is refused. */
		in[n - 1] ^= 1;
		assert_int_equal(bc_env_inner_decode(in, n, &m, &ml, &c, &cl),
				 BC_ERR_MALFORMED);
		assert_null(m);
		in[n - 1] ^= 1;
		/* A size that is not a bucket is refused. */
		assert_int_equal(bc_env_inner_decode(in, n - 1, &m, &ml, &c,
						     &cl),
				 BC_ERR_MALFORMED);
		bc_free_secret(in, n);
	}
}

static void inner_rejects(void **state)
{
	uint8_t buf[256] = {0};
	const uint8_t *m, *c;
	size_t ml, cl;
	(void)state;
	/* Wrong version. */
	buf[0] = 2;
	assert_int_equal(bc_env_inner_decode(buf, sizeof(buf), &m, &ml, &c, &cl),
			 BC_ERR_VERSION);
	/* A bigger bucket than the content needs (not minimal). */
	{
		uint8_t *in;
		size_t n;
		assert_int_equal(bc_env_inner_encode(NULL, 0, NULL, 0, &in, &n),
				 BC_OK);
		assert_int_equal(n, 256);
		bc_free(in);
		memset(buf, 0, sizeof(buf));
		buf[0] = 1;
		/* meta 0, content 0, pad announces 1024 - 13 inside 256 */
		assert_int_equal(bc_env_inner_decode(buf, sizeof(buf), &m, &ml,
						     &c, &cl),
				 BC_ERR_MALFORMED);
	}
	{
		uint8_t *in;
		size_t n;
		assert_int_equal(bc_env_inner_encode(NULL, BC_ENV_MAX_META + 1,
						     NULL, 0, &in, &n),
				 BC_ERR_TOOBIG);
	}
}

static void body_round_trip_and_rejects(void **state)
{
	uint8_t *b;
	size_t n, sl, rl;
	uint8_t kind;
	const uint8_t *s, *r;
	(void)state;
	assert_int_equal(bc_env_body_encode(BC_ENV_KIND_SETUP,
					    (const uint8_t *)"hdr", 3,
					    (const uint8_t *)"ratchet", 7, &b, &n),
			 BC_OK);
	assert_int_equal(bc_env_body_decode(b, n, &kind, &s, &sl, &r, &rl),
			 BC_OK);
	assert_int_equal(kind, BC_ENV_KIND_SETUP);
	assert_int_equal(sl, 3);
	assert_memory_equal(s, "hdr", 3);
	assert_int_equal(rl, 7);
	/* every truncation fails */
	for (size_t k = 0; k < n; k++)
		assert_int_not_equal(bc_env_body_decode(b, k, &kind, &s, &sl, &r,
							&rl),
				     BC_OK);
	b[1] = 3; /* unknown kind */
	assert_int_equal(bc_env_body_decode(b, n, &kind, &s, &sl, &r, &rl),
			 BC_ERR_MALFORMED);
	bc_free(b);
	assert_int_equal(bc_env_body_encode(BC_ENV_KIND_MSG, NULL, 0,
					    (const uint8_t *)"x", 1, &b, &n),
			 BC_OK);
	assert_int_equal(bc_env_body_decode(b, n, &kind, &s, &sl, &r, &rl),
			 BC_OK);
	assert_null(s);
	bc_free(b);
	/* MSG with a setup header, SETUP without one: refused */
	assert_int_equal(bc_env_body_encode(BC_ENV_KIND_MSG,
					    (const uint8_t *)"h", 1,
					    (const uint8_t *)"x", 1, &b, &n),
			 BC_ERR_INVALID);
	assert_int_equal(bc_env_body_encode(BC_ENV_KIND_SETUP, NULL, 0,
					    (const uint8_t *)"x", 1, &b, &n),
			 BC_ERR_INVALID);
}

/* A pair of ratchet sessions sharing fixed secrets. */
static void session_pair(bc_ratchet **a, bc_ratchet **b, uint8_t seed)
{
	uint8_t sk[32], hka[32], nhkb[32], bpriv[32], bpub[32];
	memset(sk, seed, 32);
	memset(hka, seed + 1, 32);
	memset(nhkb, seed + 2, 32);
	randombytes_buf(bpriv, 32);
	assert_int_equal(crypto_scalarmult_base(bpub, bpriv), 0);
	assert_int_equal(bc_ratchet_new(a), BC_OK);
	assert_int_equal(bc_ratchet_new(b), BC_OK);
	assert_int_equal(bc_ratchet_init_initiator(*a, sk, bpub, hka, nhkb),
			 BC_OK);
	assert_int_equal(bc_ratchet_init_responder(*b, sk, bpriv, hka, nhkb),
			 BC_OK);
}

/* One inner plaintext sealed for two readers; each opens only its copy. */
static void fan_out_copies_are_reader_bound(void **state)
{
	bc_ratchet *ab, *ba, *ac, *ca;
	uint8_t *inner, *cb, *cc, *bodyb, *bodyc, *pt;
	size_t ilen, lb, lc, blen, clen, ptlen;
	const uint8_t ad[] = "session-ad";
	uint8_t kind;
	const uint8_t *s, *r;
	size_t sl, rl;
	(void)state;
	session_pair(&ab, &ba, 1);
	session_pair(&ac, &ca, 7);
	assert_int_equal(bc_env_inner_encode((const uint8_t *)"m", 1,
					     (const uint8_t *)"offer", 5,
					     &inner, &ilen),
			 BC_OK);
	assert_int_equal(bc_ratchet_encrypt(ab, ad, sizeof(ad), inner, ilen, &cb,
					    &lb),
			 BC_OK);
	assert_int_equal(bc_ratchet_encrypt(ac, ad, sizeof(ad), inner, ilen, &cc,
					    &lc),
			 BC_OK);
	assert_int_equal(bc_env_body_encode(BC_ENV_KIND_MSG, NULL, 0, cb, lb,
					    &bodyb, &blen),
			 BC_OK);
	assert_int_equal(bc_env_body_encode(BC_ENV_KIND_MSG, NULL, 0, cc, lc,
					    &bodyc, &clen),
			 BC_OK);
	/* The relay sees the same size for both, and only the bucket. */
	assert_int_equal(blen, clen);
	/* C cannot open B's copy, and B's state is unaffected by trying. */
	assert_int_equal(bc_env_body_decode(bodyb, blen, &kind, &s, &sl, &r, &rl),
			 BC_OK);
	assert_int_equal(bc_ratchet_decrypt(ca, ad, sizeof(ad), r, rl, 0, &pt,
					    &ptlen),
			 BC_ERR_AUTH);
	assert_int_equal(bc_ratchet_decrypt(ba, ad, sizeof(ad), r, rl, 0, &pt,
					    &ptlen),
			 BC_OK);
	assert_int_equal(ptlen, ilen);
	assert_memory_equal(pt, inner, ilen);
	bc_free_secret(pt, ptlen);
	assert_int_equal(bc_env_body_decode(bodyc, clen, &kind, &s, &sl, &r, &rl),
			 BC_OK);
	assert_int_equal(bc_ratchet_decrypt(ca, ad, sizeof(ad), r, rl, 0, &pt,
					    &ptlen),
			 BC_OK);
	bc_free_secret(pt, ptlen);
	bc_free(cb);
	bc_free(cc);
	bc_free(bodyb);
	bc_free(bodyc);
	bc_free_secret(inner, ilen);
	bc_ratchet_free(ab);
	bc_ratchet_free(ba);
	bc_ratchet_free(ac);
	bc_ratchet_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buckets),
		cmocka_unit_test(inner_round_trip_and_padding),
		cmocka_unit_test(inner_rejects),
		cmocka_unit_test(body_round_trip_and_rejects),
		cmocka_unit_test(fan_out_copies_are_reader_bound),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("envelope", tests, NULL, NULL);
}
