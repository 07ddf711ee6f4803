/*
 * test_mutual.c - unit tests for double-blind mutual questions
 * (lib/mutual.c).
 *
 * What is pinned down here: all yes gives MATCH and a result carrying the
 * question; any no gives every party byte-identical "no match" results
 * that do not depend on who said no (compared across every choice of the
 * no-sayer) and equal a cancel's result; a second answer, a non-party's
 * answer, an answer for another question, a result before all answered
 * are refused; the exact byte layout of each message; canonical decoding
 * rejects every truncation, trailing bytes, a bad bool, a bad outcome,
 * unsorted or duplicate parties, a wrong kind and a wrong version.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>

#include "codec.h"
#include "internal.h"
#include "mutual.h"

static const uint8_t CH[16] = { 0xc0, 1, 2, 3, 4, 5, 6, 7,
				8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t QID[16] = { 0x0a, 0x0b, 0x0c };
static const char *TEXT = "Would you accept a leader-level meeting?";

static void ids(uint8_t (*p)[32], size_t n)
{
	/* deliberately unsorted: 0x30, 0x2f, ... */
	for (size_t i = 0; i < n; i++)
		memset(p[i], (int)(0x30 - i), 32);
}

static bc_mutual *mk(size_t n, uint8_t (*p)[32])
{
	bc_mutual *m = NULL;
	ids(p, n);
	assert_int_equal(bc_mutual_new(&m, CH, QID, TEXT,
				       (const uint8_t(*)[32])p, n), BC_OK);
	return m;
}

static void test_all_yes_match(void **state)
{
	uint8_t p[3][32];
	bc_mutual *m = mk(3, p);
	uint8_t *res = NULL, *ask = NULL;
	size_t rlen = 0, alen = 0;
	int oc = 0;
	bc_mutual_result r;
	bc_mutual_ask a;
	(void)state;

	assert_int_equal(bc_mutual_ask_msg(m, &ask, &alen), BC_OK);
	assert_int_equal(bc_mutual_ask_decode(&a, ask, alen), BC_OK);
	assert_int_equal(a.nparties, 3);
	assert_memory_equal(a.parties[0], p[2], 32); /* sorted */
	for (size_t i = 0; i < 3; i++) {
		assert_false(bc_mutual_decided(m));
		assert_int_equal(bc_mutual_pending(m), 3 - i);
		assert_int_equal(bc_mutual_result_msg(m, &res, &rlen),
				 BC_ERR_STATE);
		assert_int_equal(bc_mutual_outcome(m, &oc), BC_ERR_STATE);
		assert_int_equal(bc_mutual_record(m, p[i], true), BC_OK);
	}
	assert_true(bc_mutual_decided(m));
	assert_int_equal(bc_mutual_outcome(m, &oc), BC_OK);
	assert_int_equal(oc, BC_MUTUAL_MATCH);
	assert_int_equal(bc_mutual_result_msg(m, &res, &rlen), BC_OK);
	assert_int_equal(bc_mutual_result_decode(&r, res, rlen), BC_OK);
	assert_int_equal(r.outcome, BC_MUTUAL_MATCH);
	assert_int_equal(r.text_len, strlen(TEXT));
	assert_memory_equal(r.text, TEXT, strlen(TEXT));
	assert_int_equal(bc_mutual_result_check(&a, &r), BC_OK);
	/* a decided question takes no more answers, nor a cancel */
	assert_int_equal(bc_mutual_record(m, p[0], false), BC_ERR_STATE);
	assert_int_equal(bc_mutual_cancel(m), BC_ERR_STATE);
	bc_free(res);
	bc_free(ask);
	bc_mutual_free(m);
}

/* The no-match result for n parties where party `no` says no (or
 * cancel when no < 0, after the others answered yes). */
static uint8_t *nomatch(size_t n, int no, size_t *len)
{
	uint8_t p[16][32];
	bc_mutual *m = mk(n, p);
	uint8_t *res = NULL;
	int oc = 0;

	for (size_t i = 0; i < n; i++) {
		if (no < 0 && i == n - 1)
			break;
		assert_int_equal(bc_mutual_record(m, p[i], (int)i != no),
				 BC_OK);
	}
	if (no < 0)
		assert_int_equal(bc_mutual_cancel(m), BC_OK);
	assert_int_equal(bc_mutual_outcome(m, &oc), BC_OK);
	assert_int_equal(oc, BC_MUTUAL_NO_MATCH);
	assert_int_equal(bc_mutual_pending(m), 0);
	assert_int_equal(bc_mutual_result_msg(m, &res, len), BC_OK);
	bc_mutual_free(m);
	return res;
}

static void test_one_no_indistinguishable(void **state)
{
	size_t len0 = 0, len = 0;
	uint8_t *ref = nomatch(4, 0, &len0);
	bc_mutual_result r;
	(void)state;

	assert_int_equal(bc_mutual_result_decode(&r, ref, len0), BC_OK);
	assert_int_equal(r.outcome, BC_MUTUAL_NO_MATCH);
	assert_null(r.text);
	assert_int_equal(r.text_len, 0);
	/* exactly: version, kind, channel, qid, outcome; nothing else */
	assert_int_equal(len0, 2 + 16 + 16 + 1);
	for (int no = -1; no < 4; no++) {
		uint8_t *x = nomatch(4, no, &len);
		assert_int_equal(len, len0);
		assert_memory_equal(x, ref, len0);
		bc_free(x);
	}
	bc_free(ref);
}

static void test_all_no_same_bytes(void **state)
{
	uint8_t p[2][32];
	bc_mutual *m = mk(2, p);
	uint8_t *res = NULL, *ref;
	size_t len = 0, len0 = 0;
	(void)state;

	assert_int_equal(bc_mutual_record(m, p[1], false), BC_OK);
	assert_int_equal(bc_mutual_record(m, p[0], false), BC_OK);
	assert_int_equal(bc_mutual_result_msg(m, &res, &len), BC_OK);
	ref = nomatch(2, 1, &len0);
	assert_int_equal(len, len0);
	assert_memory_equal(res, ref, len);
	bc_free(ref);
	bc_free(res);
	bc_mutual_free(m);
}

static void test_refusals(void **state)
{
	uint8_t p[2][32], stranger[32];
	bc_mutual *m = mk(2, p);
	bc_mutual_answer a;
	(void)state;

	memset(stranger, 0x77, 32);
	assert_int_equal(bc_mutual_record(m, stranger, true), BC_ERR_FORBIDDEN);
	assert_int_equal(bc_mutual_record(m, p[0], true), BC_OK);
	assert_int_equal(bc_mutual_record(m, p[0], true), BC_ERR_STATE);
	assert_int_equal(bc_mutual_record(m, p[0], false), BC_ERR_STATE);
	assert_int_equal(bc_mutual_pending(m), 1);
	/* an answer message for another question */
	memset(&a, 0, sizeof a);
	memcpy(a.channel, CH, 16);
	memcpy(a.qid, QID, 16);
	a.qid[15] ^= 1;
	a.yes = true;
	assert_int_equal(bc_mutual_record_msg(m, p[1], &a), BC_ERR_PROTOCOL);
	a.qid[15] ^= 1;
	a.channel[0] ^= 1;
	assert_int_equal(bc_mutual_record_msg(m, p[1], &a), BC_ERR_PROTOCOL);
	a.channel[0] ^= 1;
	assert_int_equal(bc_mutual_record_msg(m, stranger, &a),
			 BC_ERR_FORBIDDEN);
	assert_false(bc_mutual_decided(m));
	assert_int_equal(bc_mutual_record_msg(m, p[1], &a), BC_OK);
	assert_true(bc_mutual_decided(m));
	bc_mutual_free(m);
}

static void test_new_invalid(void **state)
{
	uint8_t p[17][32];
	bc_mutual *m = NULL;
	char big[BC_MUTUAL_MAX_TEXT + 2];
	(void)state;

	ids(p, 17);
	assert_int_equal(bc_mutual_new(&m, CH, QID, TEXT,
				       (const uint8_t(*)[32])p, 1),
			 BC_ERR_INVALID);
	assert_int_equal(bc_mutual_new(&m, CH, QID, TEXT,
				       (const uint8_t(*)[32])p, 17),
			 BC_ERR_INVALID);
	assert_null(m);
	memcpy(p[3], p[1], 32);
	assert_int_equal(bc_mutual_new(&m, CH, QID, TEXT,
				       (const uint8_t(*)[32])p, 4),
			 BC_ERR_INVALID);
	assert_null(m);
	ids(p, 17);
	assert_int_equal(bc_mutual_new(&m, CH, QID, "",
				       (const uint8_t(*)[32])p, 2),
			 BC_ERR_INVALID);
	assert_int_equal(bc_mutual_new(&m, CH, QID, "\xff\xfe",
				       (const uint8_t(*)[32])p, 2),
			 BC_ERR_INVALID);
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	assert_int_equal(bc_mutual_new(&m, CH, QID, big,
				       (const uint8_t(*)[32])p, 2),
			 BC_ERR_TOOBIG);
	big[BC_MUTUAL_MAX_TEXT] = 0;
	assert_int_equal(bc_mutual_new(&m, CH, QID, big,
				       (const uint8_t(*)[32])p, 16), BC_OK);
	bc_mutual_free(m);
	bc_mutual_free(NULL);
}

/* Every proper prefix and every one-byte extension must be refused. */
typedef int (*decode_fn)(void *m, const uint8_t *buf, size_t len);

static int dec_ask(void *m, const uint8_t *b, size_t n)
{
	return bc_mutual_ask_decode(m, b, n);
}
static int dec_answer(void *m, const uint8_t *b, size_t n)
{
	return bc_mutual_answer_decode(m, b, n);
}
static int dec_result(void *m, const uint8_t *b, size_t n)
{
	return bc_mutual_result_decode(m, b, n);
}

static void truncations(decode_fn f, const uint8_t *msg, size_t len)
{
	union {
		bc_mutual_ask a;
		bc_mutual_answer b;
		bc_mutual_result c;
	} u;
	uint8_t *x;

	assert_int_equal(f(&u, msg, len), BC_OK);
	for (size_t i = 0; i < len; i++) {
		x = bc_malloc(i ? i : 1);
		assert_non_null(x);
		memcpy(x, msg, i);
		assert_int_not_equal(f(&u, x, i), BC_OK);
		bc_free(x);
	}
	x = bc_malloc(len + 1);
	assert_non_null(x);
	memcpy(x, msg, len);
	x[len] = 0;
	assert_int_equal(f(&u, x, len + 1), BC_ERR_MALFORMED);
	/* wrong version, wrong kind */
	x[0] = 2;
	assert_int_equal(f(&u, x, len), BC_ERR_VERSION);
	x[0] = 1;
	x[1] ^= 0x40;
	assert_int_equal(f(&u, x, len), BC_ERR_MALFORMED);
	bc_free(x);
}

static void test_layouts_and_canonical(void **state)
{
	uint8_t p[2][32];
	bc_mutual *m = mk(2, p);
	uint8_t *ask = NULL, *ans = NULL, *res = NULL, *re = NULL;
	size_t alen = 0, blen = 0, rlen = 0, relen = 0;
	bc_mutual_answer a;
	bc_mutual_ask ad;
	bc_mutual_result rd;
	size_t tl = strlen(TEXT);
	(void)state;

	assert_int_equal(bc_mutual_ask_msg(m, &ask, &alen), BC_OK);
	assert_int_equal(alen, 2 + 16 + 16 + 4 + tl + 2 + 64);
	assert_int_equal(ask[0], 1);
	assert_int_equal(ask[1], BC_MUTUAL_K_ASK);
	assert_memory_equal(ask + 2, CH, 16);
	assert_memory_equal(ask + 18, QID, 16);
	assert_int_equal(bc_load32(ask + 34), tl);
	assert_memory_equal(ask + 38, TEXT, tl);
	assert_int_equal(bc_load16(ask + 38 + tl), 2);
	assert_memory_equal(ask + 40 + tl, p[1], 32);
	truncations(dec_ask, ask, alen);
	/* unsorted parties */
	memcpy(ask + 40 + tl, p[0], 32);
	memcpy(ask + 72 + tl, p[1], 32);
	assert_int_equal(bc_mutual_ask_decode(&ad, ask, alen),
			 BC_ERR_MALFORMED);
	/* duplicate parties */
	memcpy(ask + 40 + tl, p[1], 32);
	assert_int_equal(bc_mutual_ask_decode(&ad, ask, alen),
			 BC_ERR_MALFORMED);
	/* one party only */
	bc_store16(ask + 38 + tl, 1);
	assert_int_not_equal(bc_mutual_ask_decode(&ad, ask, alen), BC_OK);

	memset(&a, 0, sizeof a);
	memcpy(a.channel, CH, 16);
	memcpy(a.qid, QID, 16);
	a.yes = true;
	assert_int_equal(bc_mutual_answer_encode(&a, &ans, &blen), BC_OK);
	assert_int_equal(blen, 35);
	assert_int_equal(ans[34], 1);
	truncations(dec_answer, ans, blen);
	ans[34] = 2; /* bool must be 0 or 1 */
	assert_int_equal(bc_mutual_answer_decode(&a, ans, blen),
			 BC_ERR_MALFORMED);

	assert_int_equal(bc_mutual_record(m, p[0], true), BC_OK);
	assert_int_equal(bc_mutual_record(m, p[1], true), BC_OK);
	assert_int_equal(bc_mutual_result_msg(m, &res, &rlen), BC_OK);
	assert_int_equal(rlen, 2 + 16 + 16 + 1 + 4 + tl);
	assert_int_equal(res[34], BC_MUTUAL_MATCH);
	truncations(dec_result, res, rlen);
	assert_int_equal(bc_mutual_result_decode(&rd, res, rlen), BC_OK);
	assert_int_equal(bc_mutual_result_encode(&rd, &re, &relen), BC_OK);
	assert_int_equal(relen, rlen);
	assert_memory_equal(re, res, rlen);
	res[34] = 3; /* bad outcome */
	assert_int_equal(bc_mutual_result_decode(&rd, res, rlen),
			 BC_ERR_MALFORMED);
	res[34] = BC_MUTUAL_NO_MATCH; /* no match must not carry text */
	assert_int_equal(bc_mutual_result_decode(&rd, res, rlen),
			 BC_ERR_MALFORMED);
	assert_int_equal(bc_mutual_result_decode(&rd, res, 35), BC_OK);
	/* encoder refuses a no-match with text, a match without */
	rd.text = (const uint8_t *)"x";
	rd.text_len = 1;
	assert_int_equal(bc_mutual_result_encode(&rd, &re, &relen),
			 BC_ERR_INVALID);
	rd.outcome = BC_MUTUAL_MATCH;
	rd.text = NULL;
	rd.text_len = 0;
	assert_int_equal(bc_mutual_result_encode(&rd, &re, &relen),
			 BC_ERR_INVALID);
	bc_free(re);
	bc_free(res);
	bc_free(ans);
	bc_free(ask);
	bc_mutual_free(m);
}

static void test_result_check(void **state)
{
	uint8_t p[2][32];
	bc_mutual *m = mk(2, p);
	uint8_t *ask = NULL;
	size_t alen = 0;
	bc_mutual_ask a;
	bc_mutual_result r;
	(void)state;

	assert_int_equal(bc_mutual_ask_msg(m, &ask, &alen), BC_OK);
	assert_int_equal(bc_mutual_ask_decode(&a, ask, alen), BC_OK);
	memset(&r, 0, sizeof r);
	memcpy(r.channel, CH, 16);
	memcpy(r.qid, QID, 16);
	r.outcome = BC_MUTUAL_MATCH;
	r.text = (const uint8_t *)"Another question?";
	r.text_len = strlen("Another question?");
	assert_int_equal(bc_mutual_result_check(&a, &r), BC_ERR_PROTOCOL);
	r.outcome = BC_MUTUAL_NO_MATCH;
	r.text = NULL;
	r.text_len = 0;
	assert_int_equal(bc_mutual_result_check(&a, &r), BC_OK);
	r.qid[0] ^= 1;
	assert_int_equal(bc_mutual_result_check(&a, &r), BC_ERR_PROTOCOL);
	bc_free(ask);
	bc_mutual_free(m);
}

static void test_nomem(void **state)
{
	uint8_t p[2][32];
	bc_mutual *m = NULL;
	int rc = BC_ERR_NOMEM;
	(void)state;

	ids(p, 2);
	for (unsigned long k = 1; k < 10 && rc == BC_ERR_NOMEM; k++) {
		bc_alloc_fail_at(k);
		rc = bc_mutual_new(&m, CH, QID, TEXT,
				   (const uint8_t(*)[32])p, 2);
		bc_alloc_fail_at(0);
		if (rc == BC_ERR_NOMEM)
			assert_null(m);
	}
	assert_int_equal(rc, BC_OK);
	bc_mutual_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_yes_match),
		cmocka_unit_test(test_one_no_indistinguishable),
		cmocka_unit_test(test_all_no_same_bytes),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_new_invalid),
		cmocka_unit_test(test_layouts_and_canonical),
		cmocka_unit_test(test_result_check),
		cmocka_unit_test(test_nomem),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("mutual", tests, NULL, NULL);
}
