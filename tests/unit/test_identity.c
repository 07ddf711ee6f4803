/*
 * test_identity.c - tests for lib/identity.c: identities, their public and
 * private encodings, b32c export, fingerprints and safety numbers.
 *
 * Sources of the expected values: tests/vectors/x3dh_vectors.h, generated
 * by tests/vectors/gen_x3dh.py (an independent Python implementation of
 * docs/PROTOCOL.md §12; Ed25519 and X25519 from PyNaCl). Every byte of every
 * derived value is compared. The negative tests are "this forgery must
 * fail" cases: a flipped bit anywhere, a certificate moved to another key,
 * small-order and non-canonical DH keys under a valid certificate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "encoding.h"
#include "identity.h"
#include "internal.h"
#include "../vectors/x3dh_vectors.h"

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

static void make(bc_identity *id, const uint8_t seed[32], const uint8_t dh[32])
{
	assert_int_equal(bc_identity_from_seed(id, seed, dh), BC_OK);
}

/* A public identity whose certificate over dh_pub is made with signer's
 * key, whatever dh_pub is (the building block of the forgeries below). */
static void certify(const bc_identity *signer, const uint8_t dh_pub[32], bc_identity_pub *out)
{
	uint8_t msg[sizeof(BC_IDENTITY_CERT_LABEL) - 1 + 32];

	memcpy(msg, BC_IDENTITY_CERT_LABEL, sizeof(BC_IDENTITY_CERT_LABEL) - 1);
	memcpy(msg + sizeof(BC_IDENTITY_CERT_LABEL) - 1, dh_pub, 32);
	memcpy(out->sign_pub, signer->pub.sign_pub, 32);
	memcpy(out->dh_pub, dh_pub, 32);
	assert_int_equal(crypto_sign_detached(out->cert_sig, NULL, msg, sizeof(msg), signer->sign_sk), 0);
}

static int decode_pub(const bc_identity_pub *p)
{
	uint8_t enc[BC_IDENTITY_PUBLIC_LEN];
	bc_identity_pub q;

	assert_int_equal(bc_identity_encode_public(p, enc), BC_OK);
	return bc_identity_decode_public(&q, enc, sizeof(enc));
}

/* ---- round trips -------------------------------------------------------------- */

static void test_generate_roundtrip(void **state)
{
	bc_identity id, id2;
	bc_identity_pub pub, back;
	uint8_t enc[BC_IDENTITY_PUBLIC_LEN], priv[BC_IDENTITY_PRIVATE_LEN];
	char *s = NULL;
	(void)state;

	assert_int_equal(bc_identity_generate(&id), BC_OK);
	bc_identity_public(&id, &pub);
	assert_int_equal(bc_identity_encode_public(&pub, enc), BC_OK);
	assert_int_equal(enc[0], BC_IDENTITY_VERSION);
	assert_int_equal(bc_identity_decode_public(&back, enc, sizeof(enc)), BC_OK);
	assert_memory_equal(&back, &pub, sizeof(pub));
	assert_true(bc_identity_equal(&back, &pub));

	assert_int_equal(bc_identity_export(&pub, &s), BC_OK);
	assert_non_null(s);
	assert_int_equal(strncmp(s, "bcid:", 5), 0);
	memset(&back, 0, sizeof(back));
	assert_int_equal(bc_identity_import(&back, s), BC_OK);
	assert_memory_equal(&back, &pub, sizeof(pub));
	/* People retype: upper case is accepted too. */
	for (char *c = s; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	memset(&back, 0, sizeof(back));
	assert_int_equal(bc_identity_import(&back, s), BC_OK);
	assert_memory_equal(&back, &pub, sizeof(pub));
	bc_free(s);

	assert_int_equal(bc_identity_encode_private(&id, priv), BC_OK);
	assert_int_equal(bc_identity_decode_private(&id2, priv, sizeof(priv)), BC_OK);
	assert_memory_equal(&id2, &id, sizeof(id));
	sodium_memzero(priv, sizeof(priv));

	/* Two fresh identities differ. */
	assert_int_equal(bc_identity_generate(&id2), BC_OK);
	assert_false(bc_identity_equal(&id.pub, &id2.pub));
	bc_identity_wipe(&id);
	bc_identity_wipe(&id2);
	assert_true(all_zero(&id, sizeof(id)));
	bc_identity_wipe(NULL);
}

/* ---- known answers ---------------------------------------------------------------- */

struct kat {
	const uint8_t *seed, *dh_priv, *sign_pub, *dh_pub, *cert_sig, *pub, *priv, *fp;
	const char *fp_text, *export;
};

static void check_kat(const struct kat *k)
{
	bc_identity id, id2;
	bc_identity_pub back;
	uint8_t enc[BC_IDENTITY_PUBLIC_LEN], priv[BC_IDENTITY_PRIVATE_LEN], fp[BC_FINGERPRINT_LEN];
	char text[BC_FINGERPRINT_TEXT_SIZE];
	char *s = NULL;

	make(&id, k->seed, k->dh_priv);
	assert_memory_equal(id.pub.sign_pub, k->sign_pub, 32);
	assert_memory_equal(id.pub.dh_pub, k->dh_pub, 32);
	assert_memory_equal(id.pub.cert_sig, k->cert_sig, 64);
	assert_memory_equal(id.dh_priv, k->dh_priv, 32);
	assert_int_equal(bc_identity_encode_public(&id.pub, enc), BC_OK);
	assert_memory_equal(enc, k->pub, sizeof(enc));
	assert_int_equal(bc_identity_decode_public(&back, k->pub, BC_IDENTITY_PUBLIC_LEN), BC_OK);
	assert_memory_equal(&back, &id.pub, sizeof(back));

	assert_int_equal(bc_identity_encode_private(&id, priv), BC_OK);
	assert_memory_equal(priv, k->priv, sizeof(priv));
	assert_int_equal(bc_identity_decode_private(&id2, k->priv, BC_IDENTITY_PRIVATE_LEN), BC_OK);
	assert_memory_equal(&id2, &id, sizeof(id));

	assert_int_equal(bc_identity_fingerprint(&id.pub, fp), BC_OK);
	assert_memory_equal(fp, k->fp, sizeof(fp));
	assert_int_equal(bc_identity_fingerprint_text(&id.pub, text), BC_OK);
	assert_string_equal(text, k->fp_text);

	assert_int_equal(bc_identity_export(&id.pub, &s), BC_OK);
	assert_string_equal(s, k->export);
	bc_free(s);
	assert_int_equal(bc_identity_import(&back, k->export), BC_OK);
	assert_memory_equal(&back, &id.pub, sizeof(back));
	bc_identity_wipe(&id);
	bc_identity_wipe(&id2);
	sodium_memzero(priv, sizeof(priv));
}

static void test_vectors(void **state)
{
	const struct kat kats[] = {
		{ xv_a_sign_seed, xv_a_dh_priv, xv_a_sign_pub, xv_a_dh_pub, xv_a_cert_sig, xv_a_public,
		  xv_a_private, xv_a_fingerprint, xv_a_fingerprint_text, xv_a_export },
		{ xv_b_sign_seed, xv_b_dh_priv, xv_b_sign_pub, xv_b_dh_pub, xv_b_cert_sig, xv_b_public,
		  xv_b_private, xv_b_fingerprint, xv_b_fingerprint_text, xv_b_export },
		{ xv_c_sign_seed, xv_c_dh_priv, xv_c_sign_pub, xv_c_dh_pub, xv_c_cert_sig, xv_c_public,
		  xv_c_private, xv_c_fingerprint, xv_c_fingerprint_text, xv_c_export },
	};
	(void)state;

	for (size_t i = 0; i < BC_ARRAY_LEN(kats); i++)
		check_kat(&kats[i]);
}

static void test_safety_vectors(void **state)
{
	bc_identity a, b, c;
	char sn[BC_SAFETY_TEXT_SIZE];
	(void)state;

	make(&a, xv_a_sign_seed, xv_a_dh_priv);
	make(&b, xv_b_sign_seed, xv_b_dh_priv);
	make(&c, xv_c_sign_seed, xv_c_dh_priv);
	assert_int_equal(bc_identity_safety_number(&a.pub, &b.pub, sn), BC_OK);
	assert_string_equal(sn, xv_safety_ab);
	assert_int_equal(bc_identity_safety_number(&b.pub, &a.pub, sn), BC_OK);
	assert_string_equal(sn, xv_safety_ab);
	assert_int_equal(bc_identity_safety_number(&a.pub, &c.pub, sn), BC_OK);
	assert_string_equal(sn, xv_safety_ac);
	assert_int_equal(bc_identity_safety_number(&c.pub, &b.pub, sn), BC_OK);
	assert_string_equal(sn, xv_safety_bc);
	bc_identity_wipe(&a);
	bc_identity_wipe(&b);
	bc_identity_wipe(&c);
}

/* ---- fingerprints and safety numbers ---------------------------------------------- */

static void test_fingerprint_and_safety(void **state)
{
	bc_identity a, b, c;
	char fp[BC_FINGERPRINT_TEXT_SIZE];
	char ab[BC_SAFETY_TEXT_SIZE], ba[BC_SAFETY_TEXT_SIZE], ac[BC_SAFETY_TEXT_SIZE];
	char aa[BC_SAFETY_TEXT_SIZE];
	(void)state;

	assert_int_equal(bc_identity_generate(&a), BC_OK);
	assert_int_equal(bc_identity_generate(&b), BC_OK);
	assert_int_equal(bc_identity_generate(&c), BC_OK);

	assert_int_equal(bc_identity_fingerprint_text(&a.pub, fp), BC_OK);
	assert_int_equal(strlen(fp), BC_FINGERPRINT_TEXT_SIZE - 1);
	for (size_t i = 0; i < strlen(fp); i++) {
		if (i % 5 == 4)
			assert_int_equal(fp[i], ' ');
		else
			assert_non_null(strchr("0123456789abcdef", fp[i]));
	}

	assert_int_equal(bc_identity_safety_number(&a.pub, &b.pub, ab), BC_OK);
	assert_int_equal(bc_identity_safety_number(&b.pub, &a.pub, ba), BC_OK);
	assert_int_equal(bc_identity_safety_number(&a.pub, &c.pub, ac), BC_OK);
	assert_int_equal(bc_identity_safety_number(&a.pub, &a.pub, aa), BC_OK);
	assert_string_equal(ab, ba);
	assert_string_not_equal(ab, ac);
	assert_int_equal(strlen(ab), BC_SAFETY_TEXT_SIZE - 1);
	for (size_t i = 0; i < strlen(ab); i++) {
		if (i % 6 == 5)
			assert_int_equal(ab[i], ' ');
		else
			assert_true(ab[i] >= '0' && ab[i] <= '9');
	}
	/* Half of the number belongs to each identity: A's half is shared by
	 * (A,B) and (A,C), and (A,A) is that half twice. */
	assert_true(strncmp(aa, aa + 36, 35) == 0);
	{
		char half[36];
		memcpy(half, aa, 35);
		half[35] = '\0';
		assert_non_null(strstr(ab, half));
		assert_non_null(strstr(ac, half));
	}
	assert_int_equal(bc_identity_safety_number(NULL, &b.pub, ab), BC_ERR_INVALID);
	bc_identity_wipe(&a);
	bc_identity_wipe(&b);
	bc_identity_wipe(&c);
}

/* ---- this forgery must fail -------------------------------------------------------- */

static void test_public_bitflips(void **state)
{
	uint8_t enc[BC_IDENTITY_PUBLIC_LEN];
	bc_identity_pub out;
	(void)state;

	memcpy(enc, xv_a_public, sizeof(enc));
	for (size_t bit = 0; bit < 8 * sizeof(enc); bit++) {
		enc[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(&out, 0xAA, sizeof(out));
		int err = bc_identity_decode_public(&out, enc, sizeof(enc));
		if (bit < 8)
			assert_int_equal(err, BC_ERR_VERSION);
		else
			assert_int_equal(err, BC_ERR_AUTH);
		enc[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(bc_identity_decode_public(&out, enc, sizeof(enc)), BC_OK);
}

static void test_export_tamper(void **state)
{
	static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
	char s[sizeof(xv_a_export)];
	bc_identity_pub out;
	size_t changed = 0;
	(void)state;

	memcpy(s, xv_a_export, sizeof(s));
	for (size_t i = 5; s[i] != '\0'; i++) {
		char orig = s[i];
		if (orig == '-')
			continue;
		/* Two substitutes per position: the next letter of the
		 * alphabet and the one 16 places on. */
		for (size_t k = 1; k <= 16; k += 15) {
			const char *p = strchr(alphabet, orig);
			assert_non_null(p);
			s[i] = alphabet[((size_t)(p - alphabet) + k) % 32];
			int err = bc_identity_import(&out, s);
			assert_true(err == BC_ERR_CHECKSUM || err == BC_ERR_MALFORMED);
			changed++;
		}
		s[i] = orig;
	}
	assert_true(changed > 400);
	assert_int_equal(bc_identity_import(&out, s), BC_OK);
	/* Another kind of b32c string is not an identity. */
	{
		char *k = NULL;
		assert_int_equal(bc_b32c_encode("bck", xv_a_public, BC_IDENTITY_PUBLIC_LEN, &k), BC_OK);
		assert_int_equal(bc_identity_import(&out, k), BC_ERR_INVALID);
		bc_free(k);
	}
}

static void test_truncated_trailing(void **state)
{
	uint8_t buf[BC_IDENTITY_PUBLIC_LEN + 1];
	bc_identity_pub out;
	char *s = NULL;
	(void)state;

	memcpy(buf, xv_a_public, BC_IDENTITY_PUBLIC_LEN);
	buf[BC_IDENTITY_PUBLIC_LEN] = 0;
	for (size_t n = 0; n < BC_IDENTITY_PUBLIC_LEN; n++)
		assert_int_equal(bc_identity_decode_public(&out, buf, n), BC_ERR_MALFORMED);
	assert_int_equal(bc_identity_decode_public(&out, buf, sizeof(buf)), BC_ERR_MALFORMED);
	assert_int_equal(bc_identity_decode_public(&out, NULL, 0), BC_ERR_MALFORMED);

	/* A well-formed b32c string whose data is one byte short / long. */
	assert_int_equal(bc_b32c_encode("bcid", buf, BC_IDENTITY_PUBLIC_LEN - 1, &s), BC_OK);
	assert_int_equal(bc_identity_import(&out, s), BC_ERR_MALFORMED);
	bc_free(s);
	assert_int_equal(bc_b32c_encode("bcid", buf, sizeof(buf), &s), BC_OK);
	assert_int_equal(bc_identity_import(&out, s), BC_ERR_TOOBIG);
	bc_free(s);
	assert_int_equal(bc_identity_import(&out, ""), BC_ERR_MALFORMED);
	assert_int_equal(bc_identity_import(NULL, xv_a_export), BC_ERR_INVALID);
}

/* A's certificate does not make B's or C's DH key A's. */
static void test_moved_certificate(void **state)
{
	bc_identity a, b;
	bc_identity_pub p;
	(void)state;

	make(&a, xv_a_sign_seed, xv_a_dh_priv);
	make(&b, xv_b_sign_seed, xv_b_dh_priv);

	p = a.pub; /* A's signing key and certificate, B's DH key */
	memcpy(p.dh_pub, b.pub.dh_pub, 32);
	assert_int_equal(decode_pub(&p), BC_ERR_AUTH);
	p = a.pub; /* A's keys, B's certificate */
	memcpy(p.cert_sig, b.pub.cert_sig, 64);
	assert_int_equal(decode_pub(&p), BC_ERR_AUTH);
	p = b.pub; /* B's DH key and certificate under A's signing key */
	memcpy(p.sign_pub, a.pub.sign_pub, 32);
	assert_int_equal(decode_pub(&p), BC_ERR_AUTH);
	/* A certificate over B's DH key made by A's signing key is a valid
	 * identity - a different one, not B: */
	certify(&a, b.pub.dh_pub, &p);
	assert_int_equal(decode_pub(&p), BC_OK);
	assert_false(bc_identity_equal(&p, &b.pub));
	assert_false(bc_identity_equal(&p, &a.pub));
	bc_identity_wipe(&a);
	bc_identity_wipe(&b);
}

/* Small-order points of Curve25519 and their non-canonical encodings (the
 * list libsodium and the X25519 literature use). */
static const uint8_t bad_points[][32] = {
	{ 0 }, /* 0 */
	{ 1 }, /* 1 */
	{ 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
	  0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00 },
	{ 0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
	  0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57 },
	{ 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, /* p-1 */
	{ 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, /* p */
	{ 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, /* p+1 */
};

static void test_small_order_and_noncanonical(void **state)
{
	bc_identity a;
	bc_identity_pub p;
	uint8_t k[32], q[32], scalar[32];
	(void)state;

	make(&a, xv_a_sign_seed, xv_a_dh_priv);
	randombytes_buf(scalar, sizeof(scalar));
	for (size_t i = 0; i < BC_ARRAY_LEN(bad_points); i++) {
		/* libsodium agrees that a DH with it is worthless */
		assert_int_not_equal(crypto_scalarmult(q, scalar, bad_points[i]), 0);
		assert_int_equal(bc_x25519_check_public(bad_points[i]), BC_ERR_AUTH);
		/* and the same with bit 255 set */
		memcpy(k, bad_points[i], 32);
		k[31] |= 0x80;
		assert_int_equal(bc_x25519_check_public(k), BC_ERR_AUTH);
		/* A valid certificate by A over a small-order key: refused. */
		certify(&a, bad_points[i], &p);
		assert_int_equal(decode_pub(&p), BC_ERR_AUTH);
	}
	/* Non-canonical encodings of valid points: u + p for u < 19 (u = 2,
	 * 3, ... are points of large order), and a valid key with bit 255. */
	for (uint8_t u = 2; u < 19; u++) {
		memset(k, 0xff, 32);
		k[0] = (uint8_t)(0xed + u);
		k[31] = 0x7f;
		assert_int_equal(bc_x25519_check_public(k), BC_ERR_AUTH);
		memset(k, 0, 32);
		k[0] = u;
		if (crypto_scalarmult(q, scalar, k) == 0)
			assert_int_equal(bc_x25519_check_public(k), BC_OK);
	}
	memcpy(k, a.pub.dh_pub, 32);
	k[31] |= 0x80;
	assert_int_equal(crypto_scalarmult(q, a.dh_priv, k), 0); /* X25519 would accept it */
	assert_int_equal(bc_x25519_check_public(k), BC_ERR_AUTH);
	certify(&a, k, &p);
	assert_int_equal(decode_pub(&p), BC_ERR_AUTH);
	/* while the canonical key under the same kind of certificate is fine */
	certify(&a, a.pub.dh_pub, &p);
	assert_int_equal(decode_pub(&p), BC_OK);

	for (int i = 0; i < 64; i++) {
		randombytes_buf(k, sizeof(k));
		assert_int_equal(crypto_scalarmult_base(q, k), 0);
		assert_int_equal(bc_x25519_check_public(q), BC_OK);
	}
	sodium_memzero(scalar, sizeof(scalar));
	bc_identity_wipe(&a);
}

static void test_private_encoding_errors(void **state)
{
	uint8_t buf[BC_IDENTITY_PRIVATE_LEN + 1];
	bc_identity id;
	(void)state;

	memcpy(buf, xv_a_private, BC_IDENTITY_PRIVATE_LEN);
	buf[BC_IDENTITY_PRIVATE_LEN] = 0;
	for (size_t n = 0; n < BC_IDENTITY_PRIVATE_LEN; n++) {
		memset(&id, 0xAA, sizeof(id));
		assert_int_equal(bc_identity_decode_private(&id, buf, n), BC_ERR_MALFORMED);
		assert_true(all_zero(&id, sizeof(id)));
	}
	assert_int_equal(bc_identity_decode_private(&id, buf, sizeof(buf)), BC_ERR_MALFORMED);
	buf[0] = 2;
	memset(&id, 0xAA, sizeof(id));
	assert_int_equal(bc_identity_decode_private(&id, buf, BC_IDENTITY_PRIVATE_LEN), BC_ERR_VERSION);
	assert_true(all_zero(&id, sizeof(id)));
	buf[0] = BC_IDENTITY_VERSION;
	assert_int_equal(bc_identity_decode_private(&id, buf, BC_IDENTITY_PRIVATE_LEN), BC_OK);
	assert_memory_equal(id.pub.sign_pub, xv_a_sign_pub, 32);
	/* from_seed may be given pointers into its own output */
	assert_int_equal(bc_identity_from_seed(&id, id.sign_sk, id.dh_priv), BC_OK);
	assert_memory_equal(id.pub.sign_pub, xv_a_sign_pub, 32);
	assert_memory_equal(id.pub.cert_sig, xv_a_cert_sig, 64);
	bc_identity_wipe(&id);
	sodium_memzero(buf, sizeof(buf));
	assert_int_equal(bc_identity_decode_private(NULL, buf, 1), BC_ERR_INVALID);
}

/* Every allocation of export / import may fail; nothing leaks (ASan and
 * valgrind check) and the error is NOMEM. */
static void test_alloc_failures(void **state)
{
	bc_identity_pub out;
	char *s;
	int err;
	unsigned long n;
	(void)state;

	{
		bc_identity a;
		make(&a, xv_a_sign_seed, xv_a_dh_priv);
		for (n = 1;; n++) {
			s = NULL;
			bc_alloc_fail_at(n);
			err = bc_identity_export(&a.pub, &s);
			bc_alloc_fail_at(0);
			if (err == BC_OK) {
				assert_string_equal(s, xv_a_export);
				bc_free(s);
				break;
			}
			assert_int_equal(err, BC_ERR_NOMEM);
			assert_null(s);
		}
		assert_true(n > 1);
		for (n = 1;; n++) {
			bc_alloc_fail_at(n);
			err = bc_identity_import(&out, xv_a_export);
			bc_alloc_fail_at(0);
			if (err == BC_OK)
				break;
			assert_int_equal(err, BC_ERR_NOMEM);
		}
		assert_true(n > 1);
		assert_true(bc_identity_equal(&out, &a.pub));
		bc_identity_wipe(&a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_roundtrip),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_safety_vectors),
		cmocka_unit_test(test_fingerprint_and_safety),
		cmocka_unit_test(test_public_bitflips),
		cmocka_unit_test(test_export_tamper),
		cmocka_unit_test(test_truncated_trailing),
		cmocka_unit_test(test_moved_certificate),
		cmocka_unit_test(test_small_order_and_noncanonical),
		cmocka_unit_test(test_private_encoding_errors),
		cmocka_unit_test(test_alloc_failures),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("identity", tests, NULL, NULL);
}
