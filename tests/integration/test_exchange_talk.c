/*
 * test_exchange_talk.c - commit-reveal exchanges in a talk through a real
 * relay, with a mediator (or a member posing as one) that cheats: the
 * test sends hand-built exchange messages with bc_talk_send, as a hostile
 * client would, and checks each party refuses them.
 *
 *   - a RELEASE whose text for VE is not the one VE committed to is
 *     refused by US, VE and the observer: the round is marked broken,
 *     one integrity event is logged, and the changed text is not kept;
 *   - an ALLCOMMITTED list with US's commitment changed is refused by US
 *     (broken), which then cannot reveal;
 *   - control: the same hand-built RELEASE, honest, is accepted (so the
 *     refusals above are for the forgery, not for the way it was sent);
 *     the same message from a party instead of the mediator is refused.
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

#include "addr.h"
#include "exchange.h"
#include "harness.h"
#include "internal.h"
#include "talk.h"
#include "talk_exchange.h"
#include "talk_int.h"

#define RULES "No public statements."
#define OFFER_US "The US releases 10 detainees"
#define OFFER_VE "Venezuela accepts 2 repatriation flights a week"

static struct relay R;
static char dir[128];

struct who {
	bc_store *st;
	bc_talks *t;
};

static struct who qa, us, ve, obs;

static void open_who(struct who *w, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	assert_int_equal(bc_store_open(&w->st, path, NULL, 0,
				       BC_STORE_CREATE | BC_STORE_UNPROTECTED),
			 BC_OK);
	assert_int_equal(bc_talks_open(&w->t, w->st, (uint64_t)time(NULL)),
			 BC_OK);
}

static void close_who(struct who *w)
{
	bc_talks_free(w->t);
	bc_store_close(w->st);
}

/* A talk among qa (mediator), us (US), ve (VE) and obs (observer). */
static void new_talk(uint8_t id[16])
{
	char *addr = NULL, *inv = NULL;
	uint8_t id2[16];
	struct {
		struct who *w;
		uint8_t role;
		const char *side;
	} m[] = {{&us, BC_ROLE_PARTY, "US"},
		 {&ve, BC_ROLE_PARTY, "VE"},
		 {&obs, BC_ROLE_OBSERVER, NULL}};
	assert_int_equal(bc_relay_addr_format(&R.addr, &addr), BC_OK);
	assert_int_equal(bc_talk_create(qa.t, addr, "Exchange", RULES,
					BC_ROLE_MEDIATOR, NULL, id),
			 BC_OK);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(bc_talk_invite(qa.t, id, m[i].role, m[i].side,
						0, &inv),
				 BC_OK);
		assert_int_equal(bc_talk_join(m[i].w->t, inv, RULES, id2, NULL,
					      0),
				 BC_OK);
		sodium_memzero(inv, strlen(inv));
		bc_free(inv);
	}
	assert_int_equal(bc_talk_sync(qa.t, id, NULL, NULL), BC_OK);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(bc_talk_sync(m[i].w->t, id, NULL, NULL), BC_OK);
	bc_free(addr);
}

/* A member's record of a round (a copy; 0 = none). */
struct pick {
	uint32_t round;
	bc_talk_exround *x;
};

static int pick_one(void *ctx, const bc_talk_exround *x)
{
	struct pick *p = ctx;
	if (x->round == p->round)
		memcpy(p->x, x, sizeof(*x));
	return BC_OK;
}

static bc_talk_exround *round_of(struct who *w, const uint8_t id[16],
				 uint32_t round)
{
	struct pick p = {round, bc_calloc(1, sizeof(bc_talk_exround))};
	assert_non_null(p.x);
	assert_int_equal(bc_talk_exchange_list(w->t, id, pick_one, &p), BC_OK);
	return p.x;
}

/* Integrity events in a member's timeline, and whether one holds needle. */
struct integ {
	const char *needle;
	int n, hits;
};

static int count_integ(void *ctx, const bc_talk_event *ev)
{
	struct integ *c = ctx;
	if (ev->kind == BC_TEV_INTEGRITY) {
		c->n++;
		if (c->needle && strstr(ev->text, c->needle) != NULL)
			c->hits++;
	}
	return BC_OK;
}

static struct integ integrity(struct who *w, const uint8_t id[16],
			      const char *needle)
{
	struct integ c = {needle, 0, 0};
	assert_int_equal(bc_talk_log(w->t, id, count_integ, &c), BC_OK);
	return c;
}

/* Both parties commit; the parties' own records give keys and texts. */
static void both_commit(const uint8_t id[16])
{
	char why[256];
	uint32_t r = 0;
	assert_int_equal(bc_talk_exchange_commit(us.t, id, OFFER_US, &r, why,
						 sizeof(why), NULL, NULL),
			 BC_OK);
	assert_int_equal(r, 1);
	assert_int_equal(bc_talk_exchange_commit(ve.t, id, OFFER_VE, &r, why,
						 sizeof(why), NULL, NULL),
			 BC_OK);
}

/* A RELEASE for round 1 built from the parties' own records; VE's text
 * replaced by ve_text if not NULL. */
static void build_release(const uint8_t id[16], const char *ve_text,
			  uint8_t **msg, size_t *mlen)
{
	bc_talk_exround *xu = round_of(&us, id, 1), *xv = round_of(&ve, id, 1);
	bc_exchange_release *rel = bc_calloc(1, sizeof(*rel));
	const uint8_t *ve_id = bc_talks_self(ve.t);
	assert_non_null(rel);
	/* after ALLCOMMITTED us knows both sides, ascending */
	assert_int_equal(xu->nsides, 2);
	memcpy(rel->channel, id, 16);
	rel->round = 1;
	rel->n = 2;
	for (size_t i = 0; i < 2; i++) {
		bool is_ve = memcmp(xu->sides[i].id, ve_id, 32) == 0;
		const bc_talk_exround *own = is_ve ? xv : xu;
		const char *text = is_ve && ve_text ? ve_text : own->my_text;
		memcpy(rel->author[i], xu->sides[i].id, 32);
		memcpy(rel->c[i], xu->sides[i].c, 32);
		memcpy(rel->key[i], own->my_key, 32);
		rel->text[i] = (const uint8_t *)text;
		rel->text_len[i] = strlen(text);
	}
	assert_int_equal(bc_exchange_release_encode(rel, msg, mlen), BC_OK);
	bc_free_secret(rel, sizeof(*rel));
	bc_free_secret(xu, sizeof(*xu));
	bc_free_secret(xv, sizeof(*xv));
}

static void sync_all(const uint8_t id[16])
{
	/* the mediator too: the e2e layer delivers each sender's messages in
	 * order across talks, so a message left unread here would hold back
	 * the next test's */
	assert_int_equal(bc_talk_sync(qa.t, id, NULL, NULL), BC_OK);
	assert_int_equal(bc_talk_sync(us.t, id, NULL, NULL), BC_OK);
	assert_int_equal(bc_talk_sync(ve.t, id, NULL, NULL), BC_OK);
	assert_int_equal(bc_talk_sync(obs.t, id, NULL, NULL), BC_OK);
}

static void forged_release_refused(void **state)
{
	uint8_t id[16], *msg = NULL;
	size_t mlen = 0;
	struct who *all[] = {&us, &ve, &obs};
	(void)state;
	new_talk(id);
	both_commit(id);
	/* the mediator's sync sends the real ALLCOMMITTED */
	assert_int_equal(bc_talk_sync(qa.t, id, NULL, NULL), BC_OK);
	sync_all(id);
	/* the mediator "releases" an offer VE never made */
	build_release(id, "Venezuela accepts 0 flights", &msg, &mlen);
	assert_int_equal(bc_talk_send(qa.t, id, BC_TK_EXCHANGE, msg, mlen,
				      NULL, 0, false, NULL),
			 BC_OK);
	bc_free_secret(msg, mlen);
	sync_all(id);
	for (size_t k = 0; k < 3; k++) {
		bc_talk_exround *x = round_of(all[k], id, 1);
		struct integ c = integrity(all[k], id, "does not match");
		assert_int_equal(x->phase, BC_TEX_BROKEN);
		assert_non_null(strstr(x->reason, "VE's offer in the release "
					    "of round 1 does not match its "
					    "commitment"));
		assert_int_equal(c.n, 1);
		assert_int_equal(c.hits, 1);
		for (size_t i = 0; i < x->nsides; i++)
			assert_null(strstr(x->sides[i].text, "0 flights"));
		bc_free_secret(x, sizeof(*x));
	}
	/* a broken round cannot be revealed into */
	{
		char why[256] = "";
		assert_int_equal(bc_talk_exchange_reveal(us.t, id, NULL, why,
							 sizeof(why), NULL,
							 NULL),
				 BC_ERR_STATE);
		assert_non_null(strstr(why, "broken"));
	}
}

static void forged_allc_refused(void **state)
{
	uint8_t id[16], *msg = NULL;
	size_t mlen = 0;
	bc_talk_exround *xu, *xv;
	bc_exchange_allc a;
	char why[256] = "";
	(void)state;
	new_talk(id);
	both_commit(id);
	/* before the mediator's sync: a list with US's commitment changed */
	xu = round_of(&us, id, 1);
	xv = round_of(&ve, id, 1);
	memset(&a, 0, sizeof(a));
	memcpy(a.channel, id, 16);
	a.round = 1;
	a.n = 2;
	{
		int u = memcmp(xu->sides[0].id, xv->sides[0].id, 32) < 0 ? 0 : 1;
		memcpy(a.author[u], xu->sides[0].id, 32);
		memcpy(a.c[u], xu->sides[0].c, 32);
		a.c[u][0] ^= 1;
		memcpy(a.author[1 - u], xv->sides[0].id, 32);
		memcpy(a.c[1 - u], xv->sides[0].c, 32);
	}
	assert_int_equal(bc_exchange_allc_encode(&a, &msg, &mlen), BC_OK);
	assert_int_equal(bc_talk_send(qa.t, id, BC_TK_EXCHANGE, msg, mlen,
				      NULL, 0, false, NULL),
			 BC_OK);
	bc_free(msg);
	assert_int_equal(bc_talk_sync(us.t, id, NULL, NULL), BC_OK);
	bc_free_secret(xu, sizeof(*xu));
	xu = round_of(&us, id, 1);
	assert_int_equal(xu->phase, BC_TEX_BROKEN);
	assert_non_null(strstr(xu->reason, "does not hold your commitment"));
	assert_int_equal(integrity(&us, id, "does not hold").hits, 1);
	assert_int_equal(bc_talk_exchange_reveal(us.t, id, NULL, why,
						 sizeof(why), NULL, NULL),
			 BC_ERR_STATE);
	/* VE's own commitment is listed unchanged: it accepts the list */
	assert_int_equal(bc_talk_sync(ve.t, id, NULL, NULL), BC_OK);
	bc_free_secret(xv, sizeof(*xv));
	xv = round_of(&ve, id, 1);
	assert_int_equal(xv->phase, BC_TEX_REVEALING);
	sync_all(id);
	bc_free_secret(xu, sizeof(*xu));
	bc_free_secret(xv, sizeof(*xv));
}

static void honest_release_accepted(void **state)
{
	uint8_t id[16], *msg = NULL;
	size_t mlen = 0;
	bc_talk_exround *x;
	(void)state;
	new_talk(id);
	both_commit(id);
	assert_int_equal(bc_talk_sync(qa.t, id, NULL, NULL), BC_OK);
	sync_all(id);
	build_release(id, NULL, &msg, &mlen);
	/* from a party, the same release is refused: only the mediator
	 * running the exchange releases */
	assert_int_equal(bc_talk_send(ve.t, id, BC_TK_EXCHANGE, msg, mlen,
				      NULL, 0, false, NULL),
			 BC_OK);
	assert_int_equal(bc_talk_sync(us.t, id, NULL, NULL), BC_OK);
	x = round_of(&us, id, 1);
	assert_int_equal(x->phase, BC_TEX_REVEALING);
	bc_free_secret(x, sizeof(*x));
	assert_int_equal(integrity(&us, id, "does not run the exchange").hits,
			 1);
	/* from the mediator it is accepted */
	assert_int_equal(bc_talk_send(qa.t, id, BC_TK_EXCHANGE, msg, mlen,
				      NULL, 0, false, NULL),
			 BC_OK);
	bc_free_secret(msg, mlen);
	assert_int_equal(bc_talk_sync(us.t, id, NULL, NULL), BC_OK);
	x = round_of(&us, id, 1);
	assert_int_equal(x->phase, BC_TEX_RELEASED);
	for (size_t i = 0; i < 2; i++)
		assert_true(strcmp(x->sides[i].text, OFFER_US) == 0 ||
			    strcmp(x->sides[i].text, OFFER_VE) == 0);
	assert_string_not_equal(x->sides[0].text, x->sides[1].text);
	bc_free_secret(x, sizeof(*x));
	assert_int_equal(integrity(&us, id, NULL).n, 1);
	sync_all(id);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bc-extalk-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	memset(&R, 0, sizeof(R));
	if (relay_start(&R) != 0)
		return -1;
	open_who(&qa, "qatar");
	open_who(&us, "us");
	open_who(&ve, "ve");
	open_who(&obs, "obs");
	return 0;
}

static int teardown(void **state)
{
	char cmd[200];
	(void)state;
	close_who(&qa);
	close_who(&us);
	close_who(&ve);
	close_who(&obs);
	relay_stop(&R);
	relay_cleanup(&R);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forged_release_refused),
		cmocka_unit_test(forged_allc_refused),
		cmocka_unit_test(honest_release_accepted),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("exchange-talk", tests, setup,
					   teardown);
}
