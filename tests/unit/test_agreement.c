/*
 * test_agreement.c - unit tests for lib/agreement.c: building the
 * canonical document, party signatures, export and offline verification,
 * with the forgeries that verification must refuse: a flipped byte in the
 * armored block, an edited visible term, a truncated file, a non-party's
 * signature, a missing signature, a duplicated signature, a signature
 * moved to another document.
 *
 * Identities are deterministic (bc_identity_from_seed) so that failures
 * reproduce; parties A and B, outsider C.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agreement.h"
#include "internal.h"

static bc_identity A, B, C;
static const uint8_t CHAN[16] = { 0xc4, 0xa1 };
static const uint8_t PID[16] = { 0x9e, 0x01 };

static bc_term TERMS[] = {
	{ "ceasefire", "All parties cease hostilities from 2026-12-01 00:00 UTC." },
	{ "monitoring", "A joint commission of six members,\nthree named by each side." },
	{ "escape", "back\\slash and \x1b[2J and \xe2\x80\xae reversed" },
};

static void mkid(bc_identity *id, uint8_t tag)
{
	uint8_t seed[32], dh[32];

	memset(seed, tag, sizeof(seed));
	memset(dh, (uint8_t)(tag + 1), sizeof(dh));
	assert_int_equal(bc_identity_from_seed(id, seed, dh), BC_OK);
}

static bc_agreement *build(void)
{
	bc_agreement *a = NULL;
	bc_agreement_party_in in[2] = { { &A.pub, "North" }, { &B.pub, "South" } };

	assert_int_equal(bc_agreement_build(&a, CHAN, "Talks on the border", PID, 3, TERMS, 3,
					    in, 2, 1795000000u),
			 BC_OK);
	return a;
}

static void sign_by(bc_agreement *a, const bc_identity *id)
{
	uint8_t sig[64], fp[32];

	assert_int_equal(bc_agreement_sign(a, id, sig), BC_OK);
	assert_int_equal(bc_identity_fingerprint(&id->pub, fp), BC_OK);
	assert_int_equal(bc_agreement_add_signature(a, fp, sig), BC_OK);
}

static char *signed_export(void)
{
	bc_agreement *a = build();
	char *text = NULL;

	sign_by(a, &B);
	sign_by(a, &A);
	assert_true(bc_agreement_is_complete(a));
	assert_int_equal(bc_agreement_export(a, &text), BC_OK);
	bc_agreement_free(a);
	return text;
}

static int verify(const char *text, size_t len, const char **why)
{
	bc_agreement *out = (bc_agreement *)1;
	int rc = bc_agreement_verify(text, len, &out, why);

	if (rc != BC_OK)
		assert_null(out);
	bc_agreement_free(out);
	return rc;
}

static void test_build_sign_verify(void **state)
{
	char *text = signed_export();
	bc_agreement *out = NULL;
	const char *why = "x";
	(void)state;

	assert_int_equal(bc_agreement_verify(text, strlen(text), &out, &why), BC_OK);
	assert_null(why);
	assert_non_null(out);
	assert_int_equal(out->version, 3);
	assert_int_equal(out->nterms, 3);
	assert_string_equal(out->terms[1].text, TERMS[1].text);
	assert_int_equal(out->nparties, 2);
	assert_int_equal(out->nsigs, 2);
	assert_memory_equal(out->channel_id, CHAN, 16);
	/* the header shows the terms, escaped where needed */
	assert_non_null(strstr(text, "three named by each side."));
	assert_non_null(strstr(text, "back\\\\slash and \\x1b[2J and \\u{202e} reversed"));
	assert_null(strchr(text, 0x1b));
	assert_non_null(strstr(text, "Agreed at: 2026-11-18 11:06:40 UTC (unix 1795000000)\n"));
	assert_non_null(strstr(text, "\n" BC_AGREEMENT_BEGIN "\nbca:"));
	/* lines are wrapped at 72 columns */
	for (const char *p = text; *p; ) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		if (strncmp(p, "bca:", 4) == 0)
			assert_true(nl - p <= 72);
		p = nl + 1;
	}
	/* export is deterministic: re-export of the parsed agreement matches */
	char *again = NULL;
	assert_int_equal(bc_agreement_export(out, &again), BC_OK);
	assert_string_equal(again, text);
	bc_free(again);
	bc_agreement_free(out);
	bc_free(text);
}

static void test_tampered_block(void **state)
{
	char *text = signed_export();
	size_t len = strlen(text);
	char *b = strstr(text, BC_AGREEMENT_BEGIN);
	int n = 0;
	(void)state;

	/* flip characters at several places of the armored block */
	char *end = strstr(b, BC_AGREEMENT_END);
	assert_non_null(end);
	for (char *p = strstr(b, "bca:") + 4; p < end; p += 97) {
		if (*p == '\n' || *p == '-')
			continue;
		char old = *p;
		*p = *p == '0' ? '2' : '0';
		assert_int_not_equal(verify(text, len, NULL), BC_OK);
		*p = old;
		n++;
	}
	assert_true(n > 5);
	assert_int_equal(verify(text, len, NULL), BC_OK);
	bc_free(text);
}

static void test_tampered_binary(void **state)
{
	/* a byte of the document changed and re-armored with a valid b32c
	 * checksum: only the signatures can catch it */
	bc_agreement *a = build(), *d = NULL;
	uint8_t *bin = NULL;
	size_t len = 0;
	char *text = NULL;
	const char *why = NULL;
	(void)state;

	sign_by(a, &A);
	sign_by(a, &B);
	assert_int_equal(bc_agreement_encode(a, &bin, &len), BC_OK);
	/* the last byte of agreed_at, inside the document */
	size_t off = 4 + a->doc_len - 1;
	bin[off] ^= 1;
	assert_int_equal(bc_agreement_decode(&d, bin, len), BC_OK);
	assert_int_equal(bc_agreement_check(d, &why), BC_ERR_AUTH);
	assert_string_equal(why, "a party's signature does not verify");
	assert_int_equal(bc_agreement_render(d, &text), BC_OK);
	assert_int_equal(verify(text, strlen(text), &why), BC_ERR_AUTH);
	assert_string_equal(why, "a party's signature does not verify");
	bc_free(text);
	bc_agreement_free(d);
	bc_free(bin);
	bc_agreement_free(a);
}

static void test_edited_header(void **state)
{
	char *text = signed_export();
	const char *why = NULL;
	(void)state;

	char *p = strstr(text, "six members");
	assert_non_null(p);
	p[0] = 'n'; p[1] = 'i'; p[2] = 'n'; /* "nin members" */
	assert_int_equal(verify(text, strlen(text), &why), BC_ERR_AUTH);
	assert_string_equal(why, "the human-readable text differs from the signed agreement");
	bc_free(text);

	/* an appended line, a changed side label */
	text = signed_export();
	size_t len = strlen(text);
	char *t2 = malloc(len + 8);
	assert_non_null(t2);
	memcpy(t2, text, len);
	memcpy(t2 + len, "extra\n", 7);
	assert_int_equal(verify(t2, len + 6, &why), BC_ERR_AUTH);
	free(t2);
	p = strstr(text, "  North");
	assert_non_null(p);
	p[2] = 'S';
	assert_int_equal(verify(text, len, &why), BC_ERR_AUTH);
	bc_free(text);
}

static void test_truncated(void **state)
{
	char *text = signed_export();
	size_t len = strlen(text);
	const char *why = NULL;
	(void)state;

	for (size_t cut = 0; cut < len; cut += len / 37 + 1)
		assert_int_not_equal(verify(text, cut, &why), BC_OK);
	assert_int_not_equal(verify(text, len - 1, &why), BC_OK);
	/* without the END line */
	char *e = strstr(text, BC_AGREEMENT_END);
	assert_int_equal(verify(text, (size_t)(e - text), &why), BC_ERR_MALFORMED);
	assert_string_equal(why, "no END BACKCHANNEL AGREEMENT line");
	assert_int_equal(verify("", 0, &why), BC_ERR_MALFORMED);
	bc_free(text);
}

static void test_non_party(void **state)
{
	bc_agreement *a = build();
	uint8_t sig[64], fpc[32];
	char *text = NULL;
	const char *why = NULL;
	(void)state;

	/* C cannot sign, and its signature is not accepted */
	assert_int_equal(bc_agreement_sign(a, &C, sig), BC_ERR_FORBIDDEN);
	assert_int_equal(bc_identity_fingerprint(&C.pub, fpc), BC_OK);
	uint8_t msg[34 + 64];
	memcpy(msg, BC_AGREEMENT_SIG_LABEL, 34);
	assert_int_equal(crypto_generichash(msg + 34, 64, a->doc, a->doc_len, NULL, 0), 0);
	assert_int_equal(crypto_sign_detached(sig, NULL, msg, sizeof(msg), C.sign_sk), 0);
	assert_int_equal(bc_agreement_add_signature(a, fpc, sig), BC_ERR_AUTH);
	sign_by(a, &A);
	sign_by(a, &B);
	/* smuggle C's signature into the list, keeping it sorted */
	bc_agreement_sig s;
	memcpy(s.fingerprint, fpc, 32);
	memcpy(s.sig, sig, 64);
	uint16_t i = a->nsigs;
	while (i > 0 && memcmp(a->sigs[i - 1].fingerprint, fpc, 32) > 0) {
		a->sigs[i] = a->sigs[i - 1];
		i--;
	}
	a->sigs[i] = s;
	a->nsigs++;
	assert_false(bc_agreement_is_complete(a));
	assert_int_equal(bc_agreement_export(a, &text), BC_ERR_STATE);
	assert_int_equal(bc_agreement_render(a, &text), BC_OK);
	assert_int_equal(verify(text, strlen(text), &why), BC_ERR_AUTH);
	assert_string_equal(why, "a signature is from someone who is not a party");
	bc_free(text);
	bc_agreement_free(a);
}

static void test_missing_signature(void **state)
{
	bc_agreement *a = build();
	char *text = NULL;
	const char *why = NULL;
	(void)state;

	sign_by(a, &A);
	assert_false(bc_agreement_is_complete(a));
	assert_int_equal(bc_agreement_export(a, &text), BC_ERR_STATE);
	assert_null(text);
	assert_int_equal(bc_agreement_render(a, &text), BC_OK);
	assert_non_null(strstr(text, "Signatures: 1 of 2 parties"));
	assert_int_equal(verify(text, strlen(text), &why), BC_ERR_AUTH);
	assert_string_equal(why, "a party has not signed");
	bc_free(text);
	bc_agreement_free(a);
}

static void test_duplicate_signature(void **state)
{
	bc_agreement *a = build();
	uint8_t sig[64], fp[32];
	char *text = NULL;
	const char *why = NULL;
	(void)state;

	sign_by(a, &A);
	assert_int_equal(bc_agreement_sign(a, &A, sig), BC_OK);
	assert_int_equal(bc_identity_fingerprint(&A.pub, fp), BC_OK);
	assert_int_equal(bc_agreement_add_signature(a, fp, sig), BC_ERR_CONFLICT);
	/* A's signature twice (replacing B's) in the file */
	a->sigs[1] = a->sigs[0];
	a->nsigs = 2;
	assert_int_equal(bc_agreement_render(a, &text), BC_OK);
	assert_int_equal(verify(text, strlen(text), &why), BC_ERR_AUTH);
	assert_string_equal(why, "a party signed more than once");
	bc_free(text);
	bc_agreement_free(a);
}

static void test_signature_other_document(void **state)
{
	/* B's signature of version 3 does not count for version 4 */
	bc_agreement *a = build(), *b = NULL;
	bc_agreement_party_in in[2] = { { &A.pub, "North" }, { &B.pub, "South" } };
	uint8_t sig[64], fp[32];
	(void)state;

	assert_int_equal(bc_agreement_build(&b, CHAN, "Talks on the border", PID, 4, TERMS, 3,
					    in, 2, 1795000000u),
			 BC_OK);
	assert_int_equal(bc_agreement_sign(a, &B, sig), BC_OK);
	assert_int_equal(bc_identity_fingerprint(&B.pub, fp), BC_OK);
	assert_int_equal(bc_agreement_add_signature(b, fp, sig), BC_ERR_AUTH);
	assert_int_equal(b->nsigs, 0);
	/* the same parties given in another order give the same document */
	bc_agreement *c = NULL;
	bc_agreement_party_in rev[2] = { in[1], in[0] };
	assert_int_equal(bc_agreement_build(&c, CHAN, "Talks on the border", PID, 3, TERMS, 3,
					    rev, 2, 1795000000u),
			 BC_OK);
	assert_int_equal(c->doc_len, a->doc_len);
	assert_memory_equal(c->doc, a->doc, a->doc_len);
	bc_agreement_free(a);
	bc_agreement_free(b);
	bc_agreement_free(c);
}

static void test_build_invalid(void **state)
{
	bc_agreement *a = NULL;
	bc_agreement_party_in dup[2] = { { &A.pub, "North" }, { &A.pub, "South" } };
	bc_agreement_party_in empty_side[1] = { { &A.pub, "" } };
	bc_term dupt[] = { { "k", "1" }, { "k", "2" } };
	(void)state;

	assert_int_equal(bc_agreement_build(&a, CHAN, "t", PID, 1, TERMS, 3, dup, 2, 0),
			 BC_ERR_INVALID);
	assert_null(a);
	assert_int_equal(bc_agreement_build(&a, CHAN, "t", PID, 1, TERMS, 3, empty_side, 1, 0),
			 BC_ERR_INVALID);
	assert_int_equal(bc_agreement_build(&a, CHAN, "t", PID, 1, dupt, 2, dup, 1, 0),
			 BC_ERR_INVALID);
	assert_int_equal(bc_agreement_build(&a, CHAN, "t", PID, 1, TERMS, 0, dup, 1, 0),
			 BC_ERR_INVALID);
}

static void test_binary_roundtrip(void **state)
{
	bc_agreement *a = build(), *d = NULL;
	uint8_t *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0;
	(void)state;

	sign_by(a, &A);
	sign_by(a, &B);
	assert_int_equal(bc_agreement_encode(a, &x, &xl), BC_OK);
	assert_int_equal(bc_agreement_decode(&d, x, xl), BC_OK);
	assert_int_equal(bc_agreement_check(d, NULL), BC_OK);
	assert_int_equal(bc_agreement_encode(d, &y, &yl), BC_OK);
	assert_int_equal(xl, yl);
	assert_memory_equal(x, y, xl);
	bc_agreement_free(d);
	d = (bc_agreement *)1;
	assert_int_not_equal(bc_agreement_decode(&d, x, xl - 1), BC_OK);
	assert_null(d);
	bc_free(x);
	bc_free(y);
	bc_agreement_free(a);
}

static void test_large(void **state)
{
	/* 64 terms of 4096 bytes: several armor chunks */
	bc_term *t = calloc(BC_PROPOSAL_MAX_TERMS, sizeof(*t));
	bc_agreement_party_in in[2] = { { &A.pub, "North" }, { &B.pub, "South" } };
	bc_agreement *a = NULL, *out = NULL;
	char *text = NULL;
	(void)state;

	assert_non_null(t);
	for (int i = 0; i < BC_PROPOSAL_MAX_TERMS; i++) {
		t[i].key = malloc(24);
		t[i].text = malloc(BC_PROPOSAL_TEXT_MAX + 1);
		assert_non_null(t[i].key);
		assert_non_null(t[i].text);
		snprintf(t[i].key, 24, "term-%d", i);
		memset(t[i].text, 'a' + i % 26, BC_PROPOSAL_TEXT_MAX);
		t[i].text[BC_PROPOSAL_TEXT_MAX] = 0;
	}
	assert_int_equal(bc_agreement_build(&a, CHAN, "big", PID, 1, t, BC_PROPOSAL_MAX_TERMS,
					    in, 2, 1),
			 BC_OK);
	sign_by(a, &A);
	sign_by(a, &B);
	assert_int_equal(bc_agreement_export(a, &text), BC_OK);
	assert_int_equal(bc_agreement_verify(text, strlen(text), &out, NULL), BC_OK);
	assert_int_equal(out->nterms, BC_PROPOSAL_MAX_TERMS);
	bc_agreement_free(out);
	bc_free(text);
	bc_agreement_free(a);
	for (int i = 0; i < BC_PROPOSAL_MAX_TERMS; i++) {
		free(t[i].key);
		free(t[i].text);
	}
	free(t);
}

static void test_oom(void **state)
{
	/* every allocation failure in verify is reported as NOMEM (never a
	 * false accept or refusal reason) and leaks nothing (valgrind) */
	char *text = signed_export();
	size_t len = strlen(text);
	bool ok = false;
	(void)state;

	for (unsigned long k = 1; k < 200 && !ok; k++) {
		bc_agreement *out = NULL;
		bc_alloc_fail_at(k);
		int rc = bc_agreement_verify(text, len, &out, NULL);
		bc_alloc_fail_at(0);
		if (rc == BC_OK) {
			ok = true;
			bc_agreement_free(out);
		} else {
			assert_int_equal(rc, BC_ERR_NOMEM);
			assert_null(out);
		}
	}
	assert_true(ok);
	bc_free(text);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	mkid(&A, 0x10);
	mkid(&B, 0x20);
	mkid(&C, 0x30);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_sign_verify),
		cmocka_unit_test(test_tampered_block),
		cmocka_unit_test(test_tampered_binary),
		cmocka_unit_test(test_edited_header),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_non_party),
		cmocka_unit_test(test_missing_signature),
		cmocka_unit_test(test_duplicate_signature),
		cmocka_unit_test(test_signature_other_document),
		cmocka_unit_test(test_build_invalid),
		cmocka_unit_test(test_binary_roundtrip),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_oom),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	bc_identity_wipe(&A);
	bc_identity_wipe(&B);
	bc_identity_wipe(&C);
	return rc;
}
