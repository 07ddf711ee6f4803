/*
 * test_mutual_talk.c - mutual questions through a real relay, with
 * hostile members: messages the honest client never sends (forged with
 * bc_talk_send, below the tool's own checks) must be refused on receipt
 * and change nothing. A lying mediator's "match" to a party that said no
 * (or never answered), a result for a question never asked, a result that
 * changes the text or leaves a party out; an observer's answer, a party's
 * ASK, an answer also sealed for another party, a second answer, an
 * answer to a question the mediator never asked.
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
#include <time.h>

#include "harness.h"
#include "internal.h"
#include "mutual.h"
#include "talk.h"
#include "talk_int.h"
#include "talk_mutual.h"

#define RULES "No recording."
#define TEXT "Would you accept a leader-level meeting?"

static struct relay R;
static char dir[128];

struct who {
	bc_store *st;
	bc_talks *t;
	uint8_t id[32];
};

static void open_who(struct who *w, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	assert_int_equal(bc_store_open(&w->st, path, NULL, 0,
				       BC_STORE_CREATE | BC_STORE_UNPROTECTED),
			 BC_OK);
	assert_int_equal(bc_talks_open(&w->t, w->st, (uint64_t)time(NULL)),
			 BC_OK);
	memcpy(w->id, bc_talks_self(w->t), 32);
}

static void close_who(struct who *w)
{
	bc_talks_free(w->t);
	bc_store_close(w->st);
}

/* Events of one kind whose text contains a needle. */
struct count {
	uint8_t kind;
	const char *needle;
	int n;
};

static int count_cb(void *ctx, const bc_talk_event *ev)
{
	struct count *c = ctx;
	if (ev->kind == c->kind && strstr(ev->text, c->needle) != NULL)
		c->n++;
	return BC_OK;
}

static int count(struct who *w, const uint8_t *talk, uint8_t kind,
		 const char *needle)
{
	struct count c = {kind, needle, 0};
	assert_int_equal(bc_talk_log(w->t, talk, count_cb, &c), BC_OK);
	return c.n;
}

static void sync_(struct who *w, const uint8_t *talk)
{
	assert_int_equal(bc_talk_sync(w->t, talk, NULL, NULL), BC_OK);
}

static void join(struct who *qa, struct who *w, const uint8_t *talk,
		 uint8_t role, const char *side)
{
	char *inv = NULL;
	uint8_t id2[16];
	assert_int_equal(bc_talk_invite(qa->t, talk, role, side, 0, &inv),
			 BC_OK);
	assert_int_equal(bc_talk_join(w->t, inv, RULES, id2, NULL, 0), BC_OK);
	assert_memory_equal(id2, talk, 16);
	sodium_memzero(inv, strlen(inv));
	bc_free(inv);
}

/* Send a forged mutual body (below bc_talk_mutual_*'s checks). */
static void forge(struct who *w, const uint8_t *talk, const uint8_t *body,
		  size_t blen, const uint8_t (*to)[32], size_t nto,
		  bool observer_ok)
{
	assert_int_equal(bc_talk_send(w->t, talk, BC_TK_MUTUAL, body, blen, to,
				      nto, observer_ok, NULL),
			 BC_OK);
}

static void forge_result(struct who *w, const uint8_t *talk,
			 const uint8_t qid[16], uint8_t outcome,
			 const char *text, const uint8_t (*to)[32], size_t nto)
{
	bc_mutual_result r;
	uint8_t *b = NULL;
	size_t bl = 0;
	memset(&r, 0, sizeof(r));
	memcpy(r.channel, talk, 16);
	memcpy(r.qid, qid, 16);
	r.outcome = outcome;
	if (text != NULL) {
		r.text = (const uint8_t *)text;
		r.text_len = strlen(text);
	}
	assert_int_equal(bc_mutual_result_encode(&r, &b, &bl), BC_OK);
	forge(w, talk, b, bl, to, nto, false);
	bc_free(b);
}

static void forge_answer(struct who *w, const uint8_t *talk,
			 const uint8_t qid[16], bool yes,
			 const uint8_t (*to)[32], size_t nto, bool observer_ok)
{
	bc_mutual_answer a;
	uint8_t *b = NULL;
	size_t bl = 0;
	memset(&a, 0, sizeof(a));
	memcpy(a.channel, talk, 16);
	memcpy(a.qid, qid, 16);
	a.yes = yes;
	assert_int_equal(bc_mutual_answer_encode(&a, &b, &bl), BC_OK);
	forge(w, talk, b, bl, to, nto, observer_ok);
	bc_free(b);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bc-mutual-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	memset(&R, 0, sizeof(R));
	return relay_start(&R);
}

static int teardown(void **state)
{
	char cmd[200];
	(void)state;
	relay_stop(&R);
	relay_cleanup(&R);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void hostile_members(void **state)
{
	struct who qa, us, ve, obs;
	uint8_t talk[16], q1[16], q2[16], other[16];
	uint8_t parties[2][32], only_us[1][32], to_qa[1][32], qa_ve[2][32];
	bc_talk_question q;
	char *addr = NULL;
	(void)state;
	open_who(&qa, "qatar");
	open_who(&us, "us");
	open_who(&ve, "ve");
	open_who(&obs, "obs");
	assert_int_equal(bc_relay_addr_format(&R.addr, &addr), BC_OK);
	assert_int_equal(bc_talk_create(qa.t, addr, "Mutual", RULES,
					BC_ROLE_MEDIATOR, NULL, talk),
			 BC_OK);
	join(&qa, &us, talk, BC_ROLE_PARTY, "US");
	join(&qa, &ve, talk, BC_ROLE_PARTY, "VE");
	join(&qa, &obs, talk, BC_ROLE_OBSERVER, NULL);
	sync_(&qa, talk);
	sync_(&us, talk);
	sync_(&ve, talk);
	sync_(&obs, talk);
	memcpy(parties[0], us.id, 32);
	memcpy(parties[1], ve.id, 32);
	memcpy(only_us[0], us.id, 32);
	memcpy(to_qa[0], qa.id, 32);
	memcpy(qa_ve[0], qa.id, 32);
	memcpy(qa_ve[1], ve.id, 32);

	/* ---- a lying mediator ---- */
	assert_int_equal(bc_talk_mutual_ask(qa.t, talk, TEXT, q1, NULL, NULL),
			 BC_OK);
	sync_(&us, talk);
	sync_(&ve, talk);
	sync_(&obs, talk);
	assert_int_equal(bc_talk_mutual_get(obs.t, talk, q1, &q),
			 BC_ERR_NOTFOUND);
	assert_int_equal(bc_talk_mutual_get(us.t, talk, q1, &q), BC_OK);
	assert_string_equal(q.text, TEXT);
	assert_int_equal(bc_talk_mutual_answer(us.t, talk, q1, false, NULL,
					       NULL),
			 BC_OK);
	/* "match" although US said no (and VE has not answered) */
	forge_result(&qa, talk, q1, BC_MUTUAL_MATCH, TEXT,
		     (const uint8_t(*)[32])parties, 2);
	sync_(&us, talk);
	sync_(&ve, talk);
	assert_int_equal(count(&us, talk, BC_TEV_INTEGRITY,
			       "claims a match, but you answered no"),
			 1);
	assert_int_equal(count(&ve, talk, BC_TEV_INTEGRITY,
			       "claims a match, but you have not answered"),
			 1);
	assert_int_equal(count(&us, talk, BC_TK_MUTUAL, ": match"), 0);
	assert_int_equal(bc_talk_mutual_get(us.t, talk, q1, &q), BC_OK);
	assert_false(q.decided);
	assert_int_equal(q.my_answer, BC_TQ_NO);
	/* a result for a question never asked */
	randombytes_buf(other, sizeof(other));
	forge_result(&qa, talk, other, BC_MUTUAL_NO_MATCH, NULL,
		     (const uint8_t(*)[32])parties, 2);
	/* a "match" that changes the text */
	forge_result(&qa, talk, q1, BC_MUTUAL_MATCH, "Something else?",
		     (const uint8_t(*)[32])parties, 2);
	/* a result sealed for US alone: VE could be told otherwise */
	forge_result(&qa, talk, q1, BC_MUTUAL_NO_MATCH, NULL, only_us, 1);
	sync_(&us, talk);
	assert_int_equal(count(&us, talk, BC_TEV_INTEGRITY, "never asked"), 1);
	assert_int_equal(count(&us, talk, BC_TEV_INTEGRITY,
			       "does not match the question"),
			 1);
	assert_int_equal(count(&us, talk, BC_TEV_INTEGRITY,
			       "readers do not match"),
			 1);
	assert_int_equal(bc_talk_mutual_get(us.t, talk, q1, &q), BC_OK);
	assert_false(q.decided);

	/* the honest end: VE says yes, the mediator's client decides */
	sync_(&ve, talk);
	assert_int_equal(bc_talk_mutual_answer(ve.t, talk, q1, true, NULL,
					       NULL),
			 BC_OK);
	sync_(&qa, talk);
	assert_int_equal(count(&qa, talk, BC_TK_MUTUAL, ": no match"), 1);
	assert_int_equal(count(&qa, talk, BC_TEV_INTEGRITY, ""), 0);
	sync_(&us, talk);
	sync_(&ve, talk);
	assert_int_equal(bc_talk_mutual_get(us.t, talk, q1, &q), BC_OK);
	assert_true(q.decided);
	assert_int_equal(q.outcome, BC_MUTUAL_NO_MATCH);
	assert_int_equal(bc_talk_mutual_get(ve.t, talk, q1, &q), BC_OK);
	assert_true(q.decided);
	assert_int_equal(q.outcome, BC_MUTUAL_NO_MATCH);
	/* the mediator kept who answered, not how */
	assert_int_equal(bc_talk_mutual_get(qa.t, talk, q1, &q), BC_OK);
	assert_true(q.decided);
	assert_int_equal(q.nanswered, 2);

	/* ---- hostile parties and observers ---- */
	assert_int_equal(bc_talk_mutual_ask(qa.t, talk, "Second?", q2, NULL,
					    NULL),
			 BC_OK);
	sync_(&us, talk);
	sync_(&ve, talk);
	sync_(&obs, talk);
	/* the observer answers, to the mediator */
	forge_answer(&obs, talk, q2, true, to_qa, 1, true);
	/* US answers for the mediator and VE to read */
	forge_answer(&us, talk, q2, true, (const uint8_t(*)[32])qa_ve, 2,
		     false);
	/* an answer to a question the mediator never asked */
	forge_answer(&us, talk, other, true, to_qa, 1, false);
	/* a real answer, then a second one */
	assert_int_equal(bc_talk_mutual_answer(us.t, talk, q2, true, NULL,
					       NULL),
			 BC_OK);
	assert_int_equal(bc_talk_mutual_answer(us.t, talk, q2, false, NULL,
					       NULL),
			 BC_ERR_CONFLICT);
	forge_answer(&us, talk, q2, false, to_qa, 1, false);
	sync_(&qa, talk);
	assert_int_equal(count(&qa, talk, BC_TEV_INTEGRITY,
			       "may not send"),
			 1);
	assert_int_equal(count(&qa, talk, BC_TEV_INTEGRITY,
			       "readers do not match"),
			 1);
	assert_int_equal(count(&qa, talk, BC_TEV_INTEGRITY,
			       "a question you did not ask"),
			 1);
	assert_int_equal(count(&qa, talk, BC_TEV_INTEGRITY,
			       "second answer"),
			 1);
	assert_int_equal(bc_talk_mutual_get(qa.t, talk, q2, &q), BC_OK);
	assert_false(q.decided);
	assert_int_equal(q.nanswered, 1);
	assert_memory_equal(q.answered[0], us.id, 32);
	/* VE got US's mis-sealed answer: refused too */
	sync_(&ve, talk);
	assert_int_equal(count(&ve, talk, BC_TEV_INTEGRITY,
			       "readers do not match"),
			 1);
	/* a party asks; the mediator answers: refused by VE */
	{
		bc_mutual_ask a;
		uint8_t *b = NULL;
		size_t bl = 0;
		memset(&a, 0, sizeof(a));
		memcpy(a.channel, talk, 16);
		randombytes_buf(a.qid, 16);
		a.text = (const uint8_t *)"Party question?";
		a.text_len = strlen("Party question?");
		a.nparties = 2;
		memcpy(a.parties,
		       memcmp(us.id, ve.id, 32) < 0 ? us.id : ve.id, 32);
		memcpy(a.parties[1],
		       memcmp(us.id, ve.id, 32) < 0 ? ve.id : us.id, 32);
		assert_int_equal(bc_mutual_ask_encode(&a, &b, &bl), BC_OK);
		/* sealed for VE only (US itself is the sender) */
		forge(&us, talk, b, bl, (const uint8_t(*)[32])&parties[1], 1,
		      false);
		/* the mediator's ASK that leaves out a party */
		forge(&qa, talk, b, bl, (const uint8_t(*)[32])&parties[1], 1,
		      false);
		bc_free(b);
	}
	forge_answer(&qa, talk, q2, true, (const uint8_t(*)[32])&parties[1], 1,
		     false);
	sync_(&ve, talk);
	assert_int_equal(count(&ve, talk, BC_TEV_INTEGRITY, "may not send"),
			 2);
	assert_int_equal(count(&ve, talk, BC_TEV_INTEGRITY,
			       "readers do not match"),
			 2);
	assert_int_equal(count(&ve, talk, BC_TK_MUTUAL, "Party question?"), 0);
	/* VE's own view of Q2 is untouched: still open, to be answered */
	assert_int_equal(bc_talk_mutual_get(ve.t, talk, q2, &q), BC_OK);
	assert_false(q.decided);
	assert_int_equal(q.my_answer, BC_TQ_NONE);
	assert_int_equal(bc_talk_mutual_answer(ve.t, talk, q2, true, NULL,
					       NULL),
			 BC_OK);
	sync_(&qa, talk);
	sync_(&us, talk);
	sync_(&ve, talk);
	assert_int_equal(count(&us, talk, BC_TK_MUTUAL, "match: Second?"), 1);
	assert_int_equal(count(&ve, talk, BC_TK_MUTUAL, "match: Second?"), 1);
	assert_int_equal(count(&obs, talk, BC_TK_MUTUAL, ""), 0);

	bc_free(addr);
	close_who(&qa);
	close_who(&us);
	close_who(&ve);
	close_who(&obs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hostile_members),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("mutual questions", tests, setup,
					   teardown);
}
