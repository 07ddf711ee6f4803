/*
 * test_e2e.c - the end-to-end engine on real stores, without a relay: the
 * test plays the relay, so it can drop, reorder, replay and splice.
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
#include "internal.h"

#define T0 1800000000ull

struct member {
	char path[256];
	bc_store *st;
	bc_e2e *e;
	uint8_t id[32];
};

static char dir[128];

static void member_open(struct member *m, const char *name)
{
	snprintf(m->path, sizeof(m->path), "%s/%s.db", dir, name);
	assert_int_equal(bc_store_open(&m->st, m->path, NULL, 0,
				       BC_STORE_CREATE | BC_STORE_UNPROTECTED),
			 BC_OK);
	assert_int_equal(bc_e2e_new(&m->e, m->st, T0), BC_OK);
	memcpy(m->id, bc_e2e_id(m->e), 32);
}

static void member_close(struct member *m)
{
	bc_e2e_free(m->e);
	bc_store_close(m->st);
	m->e = NULL;
	m->st = NULL;
}

/* a opens a session to b through b's prekeys (as fetched from b's
 * mailbox); with_opk false models an exhausted relay. */
static void connect(struct member *a, struct member *b, bool with_opk)
{
	uint8_t sb[BC_PREKEY_BUNDLE_LEN];
	uint8_t(*ot)[BC_PREKEY_ONETIME_LEN] = NULL;
	size_t n = 0;
	assert_int_equal(bc_e2e_prekeys(b->e, 0, T0, sb, &ot, &n), BC_OK);
	assert_true(n > 0);
	assert_int_equal(bc_e2e_start(a->e, bc_e2e_identity(b->e), sb,
				      sizeof(sb), with_opk ? ot[0] : NULL,
				      with_opk ? BC_PREKEY_ONETIME_LEN : 0, T0),
			 BC_OK);
	bc_free(ot);
}

struct sealed {
	uint8_t id[16];
	uint8_t **bodies;
	size_t *lens;
	size_t n;
};

static void send_to(struct member *from, struct member **to, size_t n,
		    const char *text, struct sealed *out)
{
	uint8_t readers[8][32];
	for (size_t i = 0; i < n; i++)
		memcpy(readers[i], to[i]->id, 32);
	randombytes_buf(out->id, sizeof(out->id));
	out->n = n;
	assert_int_equal(bc_e2e_seal(from->e,
				     (const uint8_t(*)[32])readers, n, out->id,
				     (const uint8_t *)text, strlen(text), T0,
				     &out->bodies, &out->lens),
			 BC_OK);
	assert_int_equal(bc_e2e_sent(from->e, out->id), BC_OK);
}

static void sealed_free(struct sealed *s)
{
	bc_e2e_bodies_free(s->bodies, s->lens, s->n);
	memset(s, 0, sizeof(*s));
}

/* Deliver copy i of s to m under relay id rid (random if NULL). */
static int recv_copy(struct member *m, const struct sealed *s, size_t i,
		     const uint8_t *rid, bc_e2e_result *res)
{
	uint8_t r[16];
	if (rid == NULL) {
		randombytes_buf(r, sizeof(r));
		rid = r;
	}
	return bc_e2e_open(m->e, rid, s->bodies[i], s->lens[i], T0 + 1, res);
}

static void expect_text(const bc_e2e_result *res, size_t k, const char *text)
{
	assert_true(res->nmsgs > k);
	assert_int_equal(res->msgs[k].clen, strlen(text));
	assert_memory_equal(res->msgs[k].content, text, strlen(text));
}

static bool has_event(const bc_e2e_result *res, bc_tx_event k)
{
	for (size_t i = 0; i < res->nreports; i++)
		if (res->reports[i].kind == k)
			return true;
	return false;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bc-e2e-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[200];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void two_members_talk(void **state)
{
	struct member a, b;
	struct member *tb[1] = {&b}, *ta[1] = {&a};
	struct sealed s;
	bc_e2e_result res;
	(void)state;
	member_open(&a, "a1");
	member_open(&b, "b1");
	connect(&a, &b, true);
	send_to(&a, tb, 1, "hello b", &s);
	assert_int_equal(recv_copy(&b, &s, 0, NULL, &res), BC_OK);
	expect_text(&res, 0, "hello b");
	assert_memory_equal(res.sender, a.id, 32);
	assert_int_equal(res.msgs[0].kind, BC_TX_OK);
	bc_e2e_result_clear(&res);
	sealed_free(&s);
	/* b answers on the session a opened. */
	assert_true(bc_e2e_has_session(b.e, a.id));
	send_to(&b, ta, 1, "hello a", &s);
	assert_int_equal(recv_copy(&a, &s, 0, NULL, &res), BC_OK);
	expect_text(&res, 0, "hello a");
	bc_e2e_result_clear(&res);
	sealed_free(&s);
	/* many turns, both ways, across reopen of the stores */
	for (int i = 0; i < 20; i++) {
		char t[32];
		snprintf(t, sizeof(t), "turn %d", i);
		send_to(i % 2 ? &a : &b, i % 2 ? tb : ta, 1, t, &s);
		assert_int_equal(recv_copy(i % 2 ? &b : &a, &s, 0, NULL, &res),
				 BC_OK);
		expect_text(&res, 0, t);
		bc_e2e_result_clear(&res);
		sealed_free(&s);
		if (i == 10) {
			member_close(&a);
			member_close(&b);
			member_open(&a, "a1");
			member_open(&b, "b1");
		}
	}
	member_close(&a);
	member_close(&b);
}

static void three_members_out_of_order_and_loss(void **state)
{
	struct member a, b, c;
	struct member *bc[2] = {&b, &c};
	struct sealed s[5];
	bc_e2e_result res;
	size_t gaps = 0;
	(void)state;
	member_open(&a, "a2");
	member_open(&b, "b2");
	member_open(&c, "c2");
	connect(&a, &b, true);
	connect(&a, &c, false); /* c's relay had no one-time prekey left */
	for (int i = 0; i < 5; i++) {
		char t[16];
		snprintf(t, sizeof(t), "m%d", i);
		send_to(&a, bc, 2, t, &s[i]);
	}
	/* b: 0, then 2 (gap), 3 (gap), then 1: reorder + releases */
	assert_int_equal(recv_copy(&b, &s[0], 0, NULL, &res), BC_OK);
	expect_text(&res, 0, "m0");
	bc_e2e_result_clear(&res);
	assert_int_equal(recv_copy(&b, &s[2], 0, NULL, &res), BC_OK);
	assert_int_equal(res.nmsgs, 0);
	assert_true(has_event(&res, BC_TX_GAP));
	bc_e2e_result_clear(&res);
	assert_int_equal(recv_copy(&b, &s[3], 0, NULL, &res), BC_OK);
	assert_int_equal(res.nmsgs, 0);
	bc_e2e_result_clear(&res);
	assert_int_equal(bc_e2e_missing(b.e, NULL, 0, &gaps), BC_OK);
	assert_true(gaps >= 1);
	assert_int_equal(recv_copy(&b, &s[1], 0, NULL, &res), BC_OK);
	assert_int_equal(res.nmsgs, 3);
	expect_text(&res, 0, "m1");
	assert_int_equal(res.msgs[0].kind, BC_TX_REORDER);
	expect_text(&res, 1, "m2");
	assert_int_equal(res.msgs[1].kind, BC_TX_RELEASED);
	expect_text(&res, 2, "m3");
	bc_e2e_result_clear(&res);
	/* c loses m1..m3 for good: m4 opens (skipped keys), gap reported */
	assert_int_equal(recv_copy(&c, &s[0], 1, NULL, &res), BC_OK);
	expect_text(&res, 0, "m0");
	bc_e2e_result_clear(&res);
	assert_int_equal(recv_copy(&c, &s[4], 1, NULL, &res), BC_OK);
	assert_int_equal(res.nmsgs, 0);
	assert_true(has_event(&res, BC_TX_GAP));
	bc_e2e_result_clear(&res);
	assert_int_equal(bc_e2e_missing(c.e, NULL, 0, &gaps), BC_OK);
	assert_int_equal(gaps, 1);
	/* A copy for b cannot be opened by c. */
	assert_int_equal(recv_copy(&c, &s[4], 0, NULL, &res), BC_ERR_AUTH);
	for (int i = 0; i < 5; i++)
		sealed_free(&s[i]);
	member_close(&a);
	member_close(&b);
	member_close(&c);
}

static void replay_tamper_splice_change_nothing(void **state)
{
	struct member a, b, c;
	struct member *tb[1] = {&b}, *tc[1] = {&c};
	struct sealed s1, s2, sc;
	bc_e2e_result res;
	uint8_t rid[16];
	(void)state;
	member_open(&a, "a3");
	member_open(&b, "b3");
	member_open(&c, "c3");
	connect(&a, &b, true);
	connect(&a, &c, true);
	send_to(&a, tb, 1, "first", &s1);
	send_to(&a, tb, 1, "second", &s2);
	send_to(&a, tc, 1, "for c", &sc);
	randombytes_buf(rid, sizeof(rid));
	assert_int_equal(recv_copy(&b, &s1, 0, rid, &res), BC_OK);
	bc_e2e_result_clear(&res);
	/* The same relay message again (a crash before the ack): dup. */
	assert_int_equal(recv_copy(&b, &s1, 0, rid, &res), BC_OK);
	assert_true(res.duplicate);
	assert_int_equal(res.nmsgs, 0);
	bc_e2e_result_clear(&res);
	/* Once the relay has deleted it, the marker goes; a relay that
	 * replays the body under the same id is still refused. */
	assert_int_equal(bc_e2e_acked(b.e, rid), BC_OK);
	assert_int_not_equal(recv_copy(&b, &s1, 0, rid, &res), BC_OK);
	/* The same body under another relay id: a replay, refused. */
	assert_int_equal(recv_copy(&b, &s1, 0, NULL, &res), BC_ERR_REPLAY);
	/* Every single-byte change of the next message is refused... */
	for (size_t k = 0; k < s2.lens[0]; k += 7) {
		s2.bodies[0][k] ^= 0x20;
		assert_int_not_equal(recv_copy(&b, &s2, 0, NULL, &res), BC_OK);
		s2.bodies[0][k] ^= 0x20;
	}
	/* ...truncation too... */
	{
		size_t keep = s2.lens[0];
		s2.lens[0] = keep - 1;
		assert_int_not_equal(recv_copy(&b, &s2, 0, NULL, &res), BC_OK);
		s2.lens[0] = keep;
	}
	/* ...a body spliced from another session too (c's copy to b)... */
	assert_int_not_equal(recv_copy(&b, &sc, 0, NULL, &res), BC_OK);
	/* ...and none of it changed b's state: the real one still opens. */
	assert_int_equal(recv_copy(&b, &s2, 0, NULL, &res), BC_OK);
	expect_text(&res, 0, "second");
	assert_int_equal(res.msgs[0].kind, BC_TX_OK);
	bc_e2e_result_clear(&res);
	sealed_free(&s1);
	sealed_free(&s2);
	sealed_free(&sc);
	member_close(&a);
	member_close(&b);
	member_close(&c);
}

static void simultaneous_sessions_converge(void **state)
{
	struct member a, b;
	struct member *tb[1] = {&b}, *ta[1] = {&a};
	struct sealed sa, sb, s;
	bc_e2e_result res;
	(void)state;
	member_open(&a, "a4");
	member_open(&b, "b4");
	connect(&a, &b, true);
	connect(&b, &a, true);
	send_to(&a, tb, 1, "from a", &sa);
	send_to(&b, ta, 1, "from b", &sb);
	assert_int_equal(recv_copy(&b, &sa, 0, NULL, &res), BC_OK);
	expect_text(&res, 0, "from a");
	bc_e2e_result_clear(&res);
	assert_int_equal(recv_copy(&a, &sb, 0, NULL, &res), BC_OK);
	expect_text(&res, 0, "from b");
	bc_e2e_result_clear(&res);
	/* Both now send on one session and keep understanding each other. */
	for (int i = 0; i < 6; i++) {
		send_to(i % 2 ? &a : &b, i % 2 ? tb : ta, 1, "again", &s);
		assert_int_equal(recv_copy(i % 2 ? &b : &a, &s, 0, NULL, &res),
				 BC_OK);
		expect_text(&res, 0, "again");
		bc_e2e_result_clear(&res);
		sealed_free(&s);
	}
	sealed_free(&sa);
	sealed_free(&sb);
	member_close(&a);
	member_close(&b);
}

static void equivocation_caught_at_checkpoint(void **state)
{
	struct member a, b, c;
	struct member *bc_[2] = {&b, &c};
	uint8_t readers[2][32], id[16];
	const uint8_t *contents[2] = {(const uint8_t *)"we accept",
				      (const uint8_t *)"we refuse"};
	size_t clens[2] = {9, 9};
	uint8_t **bodies;
	size_t *lens;
	struct sealed s;
	bc_e2e_result res;
	bool caught = false;
	(void)state;
	member_open(&a, "a5");
	member_open(&b, "b5");
	member_open(&c, "c5");
	connect(&a, &b, true);
	connect(&a, &c, true);
	connect(&b, &c, true);
	memcpy(readers[0], b.id, 32);
	memcpy(readers[1], c.id, 32);
	randombytes_buf(id, sizeof(id));
	assert_int_equal(bc_e2e_seal_equivocating_test(
				 a.e, (const uint8_t(*)[32])readers, 2, id,
				 contents, clens, T0, &bodies, &lens),
			 BC_OK);
	/* Each reader alone sees a well-formed message. */
	assert_int_equal(bc_e2e_open(b.e, id, bodies[0], lens[0], T0, &res),
			 BC_OK);
	expect_text(&res, 0, "we accept");
	bc_e2e_result_clear(&res);
	assert_int_equal(bc_e2e_open(c.e, id, bodies[1], lens[1], T0, &res),
			 BC_OK);
	expect_text(&res, 0, "we refuse");
	bc_e2e_result_clear(&res);
	bc_e2e_bodies_free(bodies, lens, 2);
	/* b's checkpoint to {b, a, c} reaches c: caught. */
	{
		uint8_t r2[2][32];
		memcpy(r2[0], a.id, 32);
		memcpy(r2[1], c.id, 32);
		randombytes_buf(s.id, sizeof(s.id));
		s.n = 2;
		assert_int_equal(bc_e2e_seal_checkpoint(
					 b.e, (const uint8_t(*)[32])r2, 2, s.id,
					 T0, &s.bodies, &s.lens),
				 BC_OK);
	}
	assert_int_equal(recv_copy(&c, &s, 1, NULL, &res), BC_OK);
	assert_int_equal(res.nmsgs, 0); /* checkpoints are not messages */
	for (size_t i = 0; i < res.nreports; i++)
		if (res.reports[i].kind == BC_TX_EQUIVOCATION &&
		    memcmp(res.reports[i].msg_id, id, 16) == 0)
			caught = true;
	assert_true(caught);
	bc_e2e_result_clear(&res);
	sealed_free(&s);
	(void)bc_;
	member_close(&a);
	member_close(&b);
	member_close(&c);
}

static int outbox_count(void *ctx, const uint8_t *mid,
			const uint8_t (*r)[32], const uint8_t *const *b,
			const size_t *l, size_t n)
{
	(void)mid;
	(void)r;
	(void)b;
	(void)l;
	(*(int *)ctx) += n == 1 ? 1 : 100;
	return BC_OK;
}

static void outbox_survives_until_sent(void **state)
{
	struct member a, b;
	uint8_t readers[1][32], id[16];
	uint8_t **bodies;
	size_t *lens;
	int count = 0;
	(void)state;
	member_open(&a, "a6");
	member_open(&b, "b6");
	connect(&a, &b, true);
	memcpy(readers[0], b.id, 32);
	randombytes_buf(id, sizeof(id));
	assert_int_equal(bc_e2e_seal(a.e, (const uint8_t(*)[32])readers, 1, id,
				     (const uint8_t *)"x", 1, T0, &bodies, &lens),
			 BC_OK);
	bc_e2e_bodies_free(bodies, lens, 1);
	/* "crash": reopen; the sealed message is still in the outbox */
	member_close(&a);
	member_open(&a, "a6");
	assert_int_equal(bc_e2e_outbox(a.e, outbox_count, &count), BC_OK);
	assert_int_equal(count, 1);
	assert_int_equal(bc_e2e_sent(a.e, id), BC_OK);
	count = 0;
	assert_int_equal(bc_e2e_outbox(a.e, outbox_count, &count), BC_OK);
	assert_int_equal(count, 0);
	member_close(&a);
	member_close(&b);
}

/* Two handles on one profile (a CLI command while another runs): each
 * sees the other's commits, so sequence numbers and message keys are
 * never used twice. */
static void two_processes_one_profile(void **state)
{
	struct member a, a2, b;
	struct member *tb[1] = {&b};
	struct sealed s[3];
	bc_e2e_result res;
	(void)state;
	member_open(&a, "a7");
	member_open(&b, "b7");
	connect(&a, &b, true);
	member_open(&a2, "a7"); /* a second connection to a's store */
	send_to(&a, tb, 1, "one", &s[0]);
	send_to(&a2, tb, 1, "two", &s[1]);
	send_to(&a, tb, 1, "three", &s[2]);
	for (int i = 0; i < 3; i++) {
		static const char *want[] = {"one", "two", "three"};
		assert_int_equal(recv_copy(&b, &s[i], 0, NULL, &res), BC_OK);
		assert_int_equal(res.nmsgs, 1);
		expect_text(&res, 0, want[i]);
		assert_int_equal(res.msgs[0].kind, BC_TX_OK);
		assert_false(has_event(&res, BC_TX_FORK));
		bc_e2e_result_clear(&res);
		sealed_free(&s[i]);
	}
	member_close(&a2);
	member_close(&a);
	member_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_members_talk),
		cmocka_unit_test(three_members_out_of_order_and_loss),
		cmocka_unit_test(replay_tamper_splice_change_nothing),
		cmocka_unit_test(simultaneous_sessions_converge),
		cmocka_unit_test(equivocation_caught_at_checkpoint),
		cmocka_unit_test(outbox_survives_until_sent),
		cmocka_unit_test(two_processes_one_profile),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("e2e", tests, setup, teardown);
}
