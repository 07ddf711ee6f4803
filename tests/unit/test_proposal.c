/*
 * test_proposal.c - unit tests for lib/proposal.c: the proposal state
 * machine and its canonical encodings.
 *
 * Parties P1, P2 (ids 0x11.., 0x22..), mediator M (0x33..), observer O
 * (0x44..), outsider X (0x55..). Every refusal is checked to leave the
 * encoded state byte-for-byte unchanged and to give the expected reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "proposal.h"

#define NOW 1800000000u

static uint8_t PARTIES[2][BC_MEMBER_ID_LEN];
static uint8_t M[BC_MEMBER_ID_LEN], O[BC_MEMBER_ID_LEN], X[BC_MEMBER_ID_LEN];
static const uint8_t PID[BC_PROPOSAL_ID_LEN] = { 0xab, 1, 2, 3 };

static bc_term T1[] = {
	{ "price", "100 units" },
	{ "delivery", "within 30 days\nby sea" },
};
static bc_term T2[] = {
	{ "price", "120 units" },
	{ "delivery", "within 20 days" },
	{ "penalty", "none" },
};

static bc_proposal_event ev(uint8_t type, const uint8_t *actor, uint32_t version)
{
	bc_proposal_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	memcpy(e.proposal_id, PID, sizeof(PID));
	memcpy(e.actor, actor, BC_MEMBER_ID_LEN);
	e.version = version;
	return e;
}

static int apply(bc_proposal *p, const bc_proposal_event *e, int role, uint64_t now,
		 const char **why)
{
	return bc_proposal_apply(p, e, role, (const uint8_t (*)[BC_MEMBER_ID_LEN])PARTIES, 2,
				 now, why);
}

/* Apply e, which must fail with err and reason (substring), and check
 * that p is unchanged. */
static void refused(bc_proposal *p, const bc_proposal_event *e, int role, uint64_t now,
		    int err, const char *reason)
{
	uint8_t *before = NULL, *after = NULL;
	size_t bl = 0, al = 0;
	const char *why = NULL;

	assert_int_equal(bc_proposal_encode(p, &before, &bl), BC_OK);
	assert_int_equal(apply(p, e, role, now, &why), err);
	assert_non_null(why);
	assert_non_null(strstr(why, reason));
	assert_int_equal(bc_proposal_encode(p, &after, &al), BC_OK);
	assert_int_equal(bl, al);
	assert_memory_equal(before, after, bl);
	bc_free(before);
	bc_free(after);
}

/* P1 proposes T1 (expiry exp). */
static void start(bc_proposal *p, uint64_t exp)
{
	bc_proposal_event e = ev(BC_PEV_PROPOSE, PARTIES[0], 1);
	const char *why = "x";

	e.terms = T1;
	e.nterms = 2;
	e.expiry = exp;
	bc_proposal_init(p);
	assert_int_equal(apply(p, &e, BC_ROLE_PARTY, NOW, &why), BC_OK);
	assert_null(why);
	assert_int_equal(p->status, BC_PROPOSAL_OPEN);
	assert_int_equal(p->nversions, 1);
}

static void counter(bc_proposal *p, const uint8_t *actor, int role, uint32_t v)
{
	bc_proposal_event e = ev(BC_PEV_COUNTER, actor, v);

	e.terms = T2;
	e.nterms = 3;
	assert_int_equal(apply(p, &e, role, NOW, NULL), BC_OK);
}

static void test_agree_flow(void **state)
{
	bc_proposal p;
	(void)state;

	start(&p, 0);
	counter(&p, PARTIES[1], BC_ROLE_PARTY, 2);
	counter(&p, M, BC_ROLE_MEDIATOR, 3);
	bc_proposal_event a1 = ev(BC_PEV_ACCEPT, PARTIES[0], 3);
	bc_proposal_event a2 = ev(BC_PEV_ACCEPT, PARTIES[1], 3);
	assert_int_equal(apply(&p, &a1, BC_ROLE_PARTY, NOW, NULL), BC_OK);
	assert_int_equal(p.status, BC_PROPOSAL_OPEN);
	/* accepting twice is refused */
	refused(&p, &a1, BC_ROLE_PARTY, NOW, BC_ERR_STATE, "already accepted");
	assert_int_equal(apply(&p, &a2, BC_ROLE_PARTY, NOW, NULL), BC_OK);
	assert_int_equal(p.status, BC_PROPOSAL_AGREED);
	assert_int_equal(p.agreed_version, 3);
	assert_string_equal(bc_proposal_status_name(p.status), "agreed");
	/* nothing happens to an agreed proposal */
	bc_proposal_event c = ev(BC_PEV_COUNTER, PARTIES[0], 4);
	c.terms = T1;
	c.nterms = 2;
	refused(&p, &c, BC_ROLE_PARTY, NOW, BC_ERR_STATE, "already agreed");
	bc_proposal_clear(&p);
}

static void test_old_version_refused(void **state)
{
	bc_proposal p;
	(void)state;

	start(&p, 0);
	counter(&p, PARTIES[1], BC_ROLE_PARTY, 2);
	bc_proposal_event a = ev(BC_PEV_ACCEPT, PARTIES[0], 1);
	refused(&p, &a, BC_ROLE_PARTY, NOW, BC_ERR_STATE, "superseded");
	a.version = 3;
	refused(&p, &a, BC_ROLE_PARTY, NOW, BC_ERR_STATE, "no such version");
	/* a stale counter (built on version 1) is refused too */
	bc_proposal_event c = ev(BC_PEV_COUNTER, PARTIES[0], 2);
	c.terms = T1;
	c.nterms = 2;
	refused(&p, &c, BC_ROLE_PARTY, NOW, BC_ERR_STATE, "latest version");
	bc_proposal_clear(&p);
}

static void test_counter_resets(void **state)
{
	bc_proposal p;
	(void)state;

	start(&p, 0);
	bc_proposal_event a = ev(BC_PEV_ACCEPT, PARTIES[0], 1);
	assert_int_equal(apply(&p, &a, BC_ROLE_PARTY, NOW, NULL), BC_OK);
	assert_int_equal(p.versions[0].naccepted, 1);
	counter(&p, PARTIES[1], BC_ROLE_PARTY, 2);
	assert_int_equal(bc_proposal_latest(&p)->naccepted, 0);
	/* P2 accepting v2 alone does not agree: P1's acceptance was of v1 */
	a = ev(BC_PEV_ACCEPT, PARTIES[1], 2);
	assert_int_equal(apply(&p, &a, BC_ROLE_PARTY, NOW, NULL), BC_OK);
	assert_int_equal(p.status, BC_PROPOSAL_OPEN);
	a = ev(BC_PEV_ACCEPT, PARTIES[0], 2);
	assert_int_equal(apply(&p, &a, BC_ROLE_PARTY, NOW, NULL), BC_OK);
	assert_int_equal(p.status, BC_PROPOSAL_AGREED);
	assert_int_equal(p.agreed_version, 2);
	bc_proposal_clear(&p);
}

static void test_withdraw(void **state)
{
	bc_proposal p;
	(void)state;

	start(&p, 0);
	counter(&p, PARTIES[1], BC_ROLE_PARTY, 2);
	/* P1 authored the proposal but not the offer on the table */
	bc_proposal_event w = ev(BC_PEV_WITHDRAW, PARTIES[0], 2);
	refused(&p, &w, BC_ROLE_PARTY, NOW, BC_ERR_FORBIDDEN, "author of the latest");
	w = ev(BC_PEV_WITHDRAW, PARTIES[1], 1);
	refused(&p, &w, BC_ROLE_PARTY, NOW, BC_ERR_STATE, "not the latest");
	w.version = 2;
	assert_int_equal(apply(&p, &w, BC_ROLE_PARTY, NOW, NULL), BC_OK);
	assert_int_equal(p.status, BC_PROPOSAL_WITHDRAWN);
	bc_proposal_event a = ev(BC_PEV_ACCEPT, PARTIES[0], 2);
	refused(&p, &a, BC_ROLE_PARTY, NOW, BC_ERR_STATE, "withdrawn");
	bc_proposal_clear(&p);
}

static void test_expiry(void **state)
{
	bc_proposal p;
	(void)state;

	start(&p, NOW + 100);
	bc_proposal_event a = ev(BC_PEV_ACCEPT, PARTIES[0], 1);
	refused(&p, &a, BC_ROLE_PARTY, NOW + 100, BC_ERR_STATE, "expired");
	refused(&p, &a, BC_ROLE_PARTY, NOW + 5000, BC_ERR_STATE, "expired");
	assert_int_equal(apply(&p, &a, BC_ROLE_PARTY, NOW + 99, NULL), BC_OK);
	/* an expiry in the past is refused at counter time */
	bc_proposal_event c = ev(BC_PEV_COUNTER, PARTIES[1], 2);
	c.terms = T2;
	c.nterms = 3;
	c.expiry = NOW;
	refused(&p, &c, BC_ROLE_PARTY, NOW, BC_ERR_INVALID, "expiry");
	/* a counter revives an expired proposal */
	counter(&p, PARTIES[1], BC_ROLE_PARTY, 2);
	a.version = 2;
	assert_int_equal(apply(&p, &a, BC_ROLE_PARTY, NOW + 5000, NULL), BC_OK);
	bc_proposal_clear(&p);
}

static void test_reject(void **state)
{
	bc_proposal p;
	(void)state;

	start(&p, 0);
	bc_proposal_event r = ev(BC_PEV_REJECT, PARTIES[1], 1);
	r.reason = "price too low";
	assert_int_equal(apply(&p, &r, BC_ROLE_PARTY, NOW, NULL), BC_OK);
	assert_true(p.versions[0].rejected);
	assert_string_equal(p.versions[0].reject_reason, "price too low");
	bc_proposal_event a = ev(BC_PEV_ACCEPT, PARTIES[0], 1);
	refused(&p, &a, BC_ROLE_PARTY, NOW, BC_ERR_STATE, "rejected");
	refused(&p, &r, BC_ROLE_PARTY, NOW, BC_ERR_STATE, "rejected");
	/* the mediator does not reject */
	bc_proposal_event rm = ev(BC_PEV_REJECT, M, 1);
	refused(&p, &rm, BC_ROLE_MEDIATOR, NOW, BC_ERR_FORBIDDEN, "only parties");
	/* too long a reason */
	counter(&p, PARTIES[0], BC_ROLE_PARTY, 2);
	char *big = malloc(BC_PROPOSAL_REASON_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', BC_PROPOSAL_REASON_MAX + 1);
	big[BC_PROPOSAL_REASON_MAX + 1] = 0;
	r.version = 2;
	r.reason = big;
	refused(&p, &r, BC_ROLE_PARTY, NOW, BC_ERR_TOOBIG, "reason");
	free(big);
	/* having accepted, a party cannot reject the same version */
	a.version = 2;
	assert_int_equal(apply(&p, &a, BC_ROLE_PARTY, NOW, NULL), BC_OK);
	r = ev(BC_PEV_REJECT, PARTIES[0], 2);
	refused(&p, &r, BC_ROLE_PARTY, NOW, BC_ERR_STATE, "already accepted");
	bc_proposal_clear(&p);
}

static void test_roles(void **state)
{
	bc_proposal p;
	(void)state;

	start(&p, 0);
	bc_proposal_event a = ev(BC_PEV_ACCEPT, O, 1);
	refused(&p, &a, BC_ROLE_OBSERVER, NOW, BC_ERR_FORBIDDEN, "observers");
	bc_proposal_event c = ev(BC_PEV_COUNTER, O, 2);
	c.terms = T2;
	c.nterms = 3;
	refused(&p, &c, BC_ROLE_OBSERVER, NOW, BC_ERR_FORBIDDEN, "observers");
	a = ev(BC_PEV_ACCEPT, M, 1);
	refused(&p, &a, BC_ROLE_MEDIATOR, NOW, BC_ERR_FORBIDDEN, "only parties accept");
	a = ev(BC_PEV_ACCEPT, X, 1);
	refused(&p, &a, BC_ROLE_PARTY, NOW, BC_ERR_FORBIDDEN, "not a party");
	/* a party may not pose as the mediator */
	c = ev(BC_PEV_COUNTER, PARTIES[0], 2);
	c.terms = T2;
	c.nterms = 3;
	refused(&p, &c, BC_ROLE_MEDIATOR, NOW, BC_ERR_FORBIDDEN, "mediator");
	/* wrong proposal id */
	a = ev(BC_PEV_ACCEPT, PARTIES[0], 1);
	a.proposal_id[0] ^= 1;
	refused(&p, &a, BC_ROLE_PARTY, NOW, BC_ERR_INVALID, "another proposal");
	/* a second propose */
	bc_proposal_event pr = ev(BC_PEV_PROPOSE, PARTIES[0], 1);
	pr.terms = T1;
	pr.nterms = 2;
	refused(&p, &pr, BC_ROLE_PARTY, NOW, BC_ERR_STATE, "already exists");
	bc_proposal_clear(&p);
}

static void test_terms_and_meeting(void **state)
{
	bc_proposal p;
	bc_term dup[] = { { "a", "x" }, { "a", "y" } };
	bc_term bad[] = { { "a", "\xc3\x28" } };
	bc_term meet[] = { { "level", "principals" }, { "place", "Geneva" },
			   { "window", "2026-12-01/2026-12-03" } };
	(void)state;

	bc_proposal_init(&p);
	bc_proposal_event e = ev(BC_PEV_PROPOSE, M, 1);
	const char *why = NULL;
	e.terms = dup;
	e.nterms = 2;
	assert_int_equal(apply(&p, &e, BC_ROLE_MEDIATOR, NOW, &why), BC_ERR_INVALID);
	assert_string_equal(why, "duplicate term key");
	e.terms = bad;
	e.nterms = 1;
	assert_int_equal(apply(&p, &e, BC_ROLE_MEDIATOR, NOW, &why), BC_ERR_INVALID);
	e.nterms = 0;
	assert_int_equal(apply(&p, &e, BC_ROLE_MEDIATOR, NOW, &why), BC_ERR_INVALID);
	e.kind = BC_PROPOSAL_MEETING;
	e.terms = meet;
	e.nterms = 2;
	assert_int_equal(apply(&p, &e, BC_ROLE_MEDIATOR, NOW, &why), BC_ERR_INVALID);
	assert_int_equal(p.status, BC_PROPOSAL_EMPTY);
	e.nterms = 3;
	assert_int_equal(apply(&p, &e, BC_ROLE_MEDIATOR, NOW, &why), BC_OK);
	assert_int_equal(p.kind, BC_PROPOSAL_MEETING);
	bc_proposal_clear(&p);
}

static void roundtrip(const bc_proposal *p)
{
	uint8_t *a = NULL, *b = NULL;
	size_t al = 0, bl = 0;
	bc_proposal q;

	assert_int_equal(bc_proposal_encode(p, &a, &al), BC_OK);
	assert_int_equal(bc_proposal_decode(&q, a, al), BC_OK);
	assert_int_equal(bc_proposal_encode(&q, &b, &bl), BC_OK);
	assert_int_equal(al, bl);
	assert_memory_equal(a, b, al);
	/* trailing byte, truncation, bad format byte */
	bc_proposal r;
	uint8_t *c = malloc(al + 1);
	assert_non_null(c);
	memcpy(c, a, al);
	c[al] = 0;
	assert_int_equal(bc_proposal_decode(&r, c, al + 1), BC_ERR_MALFORMED);
	assert_int_not_equal(bc_proposal_decode(&r, c, al - 1), BC_OK);
	c[0] = 2;
	assert_int_equal(bc_proposal_decode(&r, c, al), BC_ERR_VERSION);
	free(c);
	bc_proposal_clear(&q);
	bc_free(a);
	bc_free(b);
}

static void test_state_roundtrip(void **state)
{
	bc_proposal p;
	(void)state;

	start(&p, NOW + 10);
	roundtrip(&p);
	bc_proposal_event r = ev(BC_PEV_REJECT, PARTIES[1], 1);
	r.reason = "no";
	assert_int_equal(apply(&p, &r, BC_ROLE_PARTY, NOW, NULL), BC_OK);
	counter(&p, M, BC_ROLE_MEDIATOR, 2);
	bc_proposal_event a = ev(BC_PEV_ACCEPT, PARTIES[1], 2);
	assert_int_equal(apply(&p, &a, BC_ROLE_PARTY, NOW, NULL), BC_OK);
	roundtrip(&p);
	a = ev(BC_PEV_ACCEPT, PARTIES[0], 2);
	assert_int_equal(apply(&p, &a, BC_ROLE_PARTY, NOW, NULL), BC_OK);
	roundtrip(&p);

	/* a decoded state with unsorted acceptances is refused */
	uint8_t *enc = NULL;
	size_t len = 0;
	assert_int_equal(bc_proposal_encode(&p, &enc, &len), BC_OK);
	size_t off = len - (1 + 32 + 4) - 2 * 32; /* the accepted ids of v2 */
	uint8_t tmp[32];
	memcpy(tmp, enc + off, 32);
	memcpy(enc + off, enc + off + 32, 32);
	memcpy(enc + off + 32, tmp, 32);
	bc_proposal q;
	assert_int_equal(bc_proposal_decode(&q, enc, len), BC_ERR_MALFORMED);
	bc_free(enc);
	bc_proposal_clear(&p);
}

static void test_event_roundtrip(void **state)
{
	bc_proposal_event evs[3];
	(void)state;

	evs[0] = ev(BC_PEV_PROPOSE, PARTIES[0], 1);
	evs[0].terms = T2;
	evs[0].nterms = 3;
	evs[0].expiry = 77;
	evs[1] = ev(BC_PEV_REJECT, PARTIES[1], 4);
	evs[1].reason = "because";
	evs[2] = ev(BC_PEV_ACCEPT, PARTIES[1], 9);
	for (size_t i = 0; i < 3; i++) {
		uint8_t *a = NULL, *b = NULL;
		size_t al = 0, bl = 0;
		bc_proposal_event d;
		assert_int_equal(bc_proposal_event_encode(&evs[i], &a, &al), BC_OK);
		assert_int_equal(bc_proposal_event_decode(&d, a, al), BC_OK);
		assert_int_equal(d.type, evs[i].type);
		assert_int_equal(d.version, evs[i].version);
		assert_memory_equal(d.actor, evs[i].actor, 32);
		assert_int_equal(bc_proposal_event_encode(&d, &b, &bl), BC_OK);
		assert_int_equal(al, bl);
		assert_memory_equal(a, b, al);
		assert_int_not_equal(bc_proposal_event_decode(&d, a, al - 1), BC_OK);
		bc_proposal_event_free(&d);
		bc_free(a);
		bc_free(b);
	}
	/* the decoded propose applies like the original */
	uint8_t *enc = NULL;
	size_t len = 0;
	bc_proposal_event d;
	bc_proposal p;
	assert_int_equal(bc_proposal_event_encode(&evs[0], &enc, &len), BC_OK);
	assert_int_equal(bc_proposal_event_decode(&d, enc, len), BC_OK);
	assert_string_equal(d.terms[2].key, "penalty");
	bc_proposal_init(&p);
	assert_int_equal(apply(&p, &d, BC_ROLE_PARTY, 10, NULL), BC_OK);
	bc_proposal_clear(&p);
	bc_proposal_event_free(&d);
	bc_free(enc);
}

static void test_oom(void **state)
{
	(void)state;
	/* Every allocation failure in propose / counter / reject leaves the
	 * state unchanged and reports NOMEM. */
	for (unsigned long k = 1; k < 40; k++) {
		bc_proposal p;
		start(&p, 0);
		bc_proposal_event c = ev(BC_PEV_COUNTER, PARTIES[1], 2);
		c.terms = T2;
		c.nterms = 3;
		uint8_t *before = NULL;
		size_t bl = 0;
		assert_int_equal(bc_proposal_encode(&p, &before, &bl), BC_OK);
		bc_alloc_fail_at(k);
		int rc = apply(&p, &c, BC_ROLE_PARTY, NOW, NULL);
		bc_alloc_fail_at(0);
		if (rc == BC_OK) {
			assert_int_equal(p.nversions, 2);
		} else {
			uint8_t *after = NULL;
			size_t al = 0;
			assert_int_equal(rc, BC_ERR_NOMEM);
			assert_int_equal(bc_proposal_encode(&p, &after, &al), BC_OK);
			assert_int_equal(al, bl);
			assert_memory_equal(before, after, al);
			bc_free(after);
		}
		bc_free(before);
		bc_proposal_clear(&p);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	memset(PARTIES[0], 0x11, BC_MEMBER_ID_LEN);
	memset(PARTIES[1], 0x22, BC_MEMBER_ID_LEN);
	memset(M, 0x33, sizeof(M));
	memset(O, 0x44, sizeof(O));
	memset(X, 0x55, sizeof(X));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agree_flow),
		cmocka_unit_test(test_old_version_refused),
		cmocka_unit_test(test_counter_resets),
		cmocka_unit_test(test_withdraw),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_terms_and_meeting),
		cmocka_unit_test(test_state_roundtrip),
		cmocka_unit_test(test_event_roundtrip),
		cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
