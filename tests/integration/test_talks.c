/*
 * test_talks.c - talks through a real relay: create, invite, join, the
 * registrar's member list, statements to caucus / direct / plenary
 * audiences and who sees what; a reused invite; a stranger's JOIN.
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
#include "harness.h"
#include "internal.h"
#include "talk.h"

#define RULES "No public statements."

static struct relay R;
static char dir[128];

struct who {
	bc_store *st;
	bc_talks *t;
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
}

static void close_who(struct who *w)
{
	bc_talks_free(w->t);
	bc_store_close(w->st);
}

struct seen {
	char texts[32][128];
	int n;
};

static int saw(void *ctx, const bc_talk_event *ev)
{
	struct seen *s = ctx;
	if (ev->kind == 3 && s->n < 32)
		snprintf(s->texts[s->n++], 128, "%s", ev->text);
	return BC_OK;
}

static bool has(const struct seen *s, const char *text)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->texts[i], text) == 0)
			return true;
	return false;
}

/* Every event's text (not only statements). */
static int saw_any(void *ctx, const bc_talk_event *ev)
{
	struct seen *s = ctx;
	if (s->n < 32)
		snprintf(s->texts[s->n++], 128, "%s", ev->text);
	return BC_OK;
}

/* The id (hex) of the statement with the given text. */
static int find_stmt(void *ctx, const bc_talk_event *ev)
{
	struct {
		const char *text;
		char hex[33];
	} *f = ctx;
	if (ev->kind == 3 && strcmp(ev->text, f->text) == 0)
		for (int i = 0; i < 16; i++)
			snprintf(f->hex + 2 * i, 3, "%02x", ev->msg_id[i]);
	return BC_OK;
}

static void logged(struct who *w, const uint8_t *id, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(bc_talk_log(w->t, id, saw, s), BC_OK);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bc-talks-XXXXXX");
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

static void mediated_talk(void **state)
{
	struct who qa, us, ve, eve;
	uint8_t id[16], id2[16];
	char *addr = NULL, *inv_us = NULL, *inv_ve = NULL, title[256];
	bc_talk_info info;
	struct seen s;
	(void)state;
	open_who(&qa, "qatar");
	open_who(&us, "us");
	open_who(&ve, "ve");
	open_who(&eve, "eve");
	assert_int_equal(bc_relay_addr_format(&R.addr, &addr), BC_OK);
	assert_int_equal(bc_talk_create(qa.t, addr, "Detainees and flights",
					RULES, BC_ROLE_MEDIATOR,
					NULL, id),
			 BC_OK);
	assert_int_equal(bc_talk_invite(qa.t, id, BC_ROLE_PARTY, "US", 0,
					&inv_us),
			 BC_OK);
	assert_int_equal(bc_talk_invite(qa.t, id, BC_ROLE_PARTY, "VE", 0,
					&inv_ve),
			 BC_OK);
	/* only the registrar invites */
	{
		char *x = NULL;
		assert_int_equal(bc_talk_join(us.t, inv_us, RULES, id2, title,
					      sizeof(title)),
				 BC_OK);
		assert_memory_equal(id, id2, 16);
		assert_string_equal(title, "Detainees and flights");
		assert_int_equal(bc_talk_invite(us.t, id, BC_ROLE_PARTY, "X", 0,
						&x),
				 BC_ERR_FORBIDDEN);
	}
	/* the rules accepted must be the invite's */
	assert_int_equal(bc_talk_join(ve.t, inv_ve, "Other rules.", id2, NULL,
				      0),
			 BC_ERR_CONFLICT);
	assert_int_equal(bc_talk_join(ve.t, inv_ve, NULL, id2, NULL, 0),
			 BC_ERR_CONFLICT);
	{
		bc_talk_offer of;
		assert_int_equal(bc_talk_offer_read(inv_ve, &of), BC_OK);
		assert_string_equal(of.rules, RULES);
		assert_string_equal(of.side, "VE");
		assert_memory_equal(of.id, id, 16);
	}
	assert_int_equal(bc_talk_join(ve.t, inv_ve, RULES, id2, NULL, 0), BC_OK);
	/* the registrar takes the joins and sends the member list */
	assert_int_equal(bc_talk_sync(qa.t, id, NULL, NULL), BC_OK);
	assert_int_equal(bc_talk_get(qa.t, id, &info), BC_OK);
	assert_int_equal(info.nmembers, 3);
	assert_int_equal(bc_talk_sync(us.t, id, NULL, NULL), BC_OK);
	assert_int_equal(bc_talk_sync(ve.t, id, NULL, NULL), BC_OK);
	assert_int_equal(bc_talk_get(ve.t, id, &info), BC_OK);
	assert_true(info.joined);
	assert_int_equal(info.nmembers, 3);
	assert_string_equal(info.rules, "No public statements.");

	/* caucus: US and the mediator only */
	assert_int_equal(bc_talk_say(us.t, id, BC_AUD_CAUCUS, NULL, 0,
				     BC_LABEL_PARAPHRASE,
				     "We could release six detainees."),
			 BC_OK);
	/* plenary from the mediator */
	assert_int_equal(bc_talk_say(qa.t, id, BC_AUD_PLENARY, NULL, 0,
				     BC_LABEL_NONE, "Welcome, both."),
			 BC_OK);
	/* direct US -> VE: the mediator does not read it */
	{
		uint8_t to[1][32];
		assert_int_equal(bc_talk_get(us.t, id, &info), BC_OK);
		for (size_t i = 0; i < info.nmembers; i++)
			if (strcmp(info.members[i].side, "VE") == 0)
				memcpy(to[0], info.members[i].id, 32);
		assert_int_equal(bc_talk_say(us.t, id, BC_AUD_DIRECT,
					     (const uint8_t(*)[32])to, 1,
					     BC_LABEL_NONE, "Just between us."),
				 BC_OK);
	}
	assert_int_equal(bc_talk_sync(qa.t, id, NULL, NULL), BC_OK);
	assert_int_equal(bc_talk_sync(us.t, id, NULL, NULL), BC_OK);
	assert_int_equal(bc_talk_sync(ve.t, id, NULL, NULL), BC_OK);
	logged(&qa, id, &s);
	assert_true(has(&s, "We could release six detainees."));
	assert_true(has(&s, "Welcome, both."));
	assert_false(has(&s, "Just between us."));
	logged(&ve, id, &s);
	assert_false(has(&s, "We could release six detainees."));
	assert_true(has(&s, "Welcome, both."));
	assert_true(has(&s, "Just between us."));
	logged(&us, id, &s);
	assert_true(has(&s, "Welcome, both."));

	/* The mediator passes statements on under their labels. */
	{
		struct find { const char *text; char hex[33]; } fu = {
			"We could release six detainees.", ""};
		assert_int_equal(bc_talk_log(qa.t, id, find_stmt, &fu), BC_OK);
		assert_true(fu.hex[0] != '\0');
		/* stronger than the label: refused */
		assert_int_equal(bc_talk_pass_on(qa.t, id, fu.hex,
						 BC_LABEL_VERBATIM,
						 BC_AUD_PLENARY, NULL, 0, NULL),
				 BC_ERR_FORBIDDEN);
		/* as labelled: the substance, in the mediator's words */
		assert_int_equal(bc_talk_pass_on(qa.t, id, fu.hex,
						 BC_LABEL_PARAPHRASE,
						 BC_AUD_PLENARY, NULL, 0,
						 "The other side may free some "
						 "detainees."),
				 BC_OK);
		assert_int_equal(bc_talk_sync(ve.t, id, NULL, NULL), BC_OK);
		assert_int_equal(bc_talk_sync(us.t, id, NULL, NULL), BC_OK);
		memset(&s, 0, sizeof(s));
		assert_int_equal(bc_talk_log(ve.t, id, saw_any, &s), BC_OK);
		assert_true(has(&s, "passed on by the mediator: The other side "
				    "may free some detainees."));
		memset(&s, 0, sizeof(s));
		assert_int_equal(bc_talk_log(us.t, id, saw_any, &s), BC_OK);
		assert_true(has(&s, "the mediator passed on your statement "
				    "(paraphrase) to 2 member(s): The other "
				    "side may free some detainees."));
	}
	/* a private statement is never passed on */
	assert_int_equal(bc_talk_say(ve.t, id, BC_AUD_CAUCUS, NULL, 0,
				     BC_LABEL_PRIVATE, "Only for you."),
			 BC_OK);
	assert_int_equal(bc_talk_sync(qa.t, id, NULL, NULL), BC_OK);
	{
		struct find { const char *text; char hex[33]; } fv = {
			"Only for you.", ""};
		assert_int_equal(bc_talk_log(qa.t, id, find_stmt, &fv), BC_OK);
		assert_true(fv.hex[0] != '\0');
		assert_int_equal(bc_talk_pass_on(qa.t, id, fv.hex,
						 BC_LABEL_PARAPHRASE,
						 BC_AUD_PLENARY, NULL, 0, "x"),
				 BC_ERR_FORBIDDEN);
	}
	/* a party cannot pass anything on */
	assert_int_equal(bc_talk_pass_on(us.t, id, "0000", BC_LABEL_PARAPHRASE,
					 BC_AUD_PLENARY, NULL, 0, "x"),
			 BC_ERR_FORBIDDEN);

	/* a reused invite adds nobody */
	{
		uint8_t id3[16];
		assert_int_equal(bc_talk_join(eve.t, inv_us, RULES, id3, NULL, 0),
				 BC_OK);
		assert_int_equal(bc_talk_sync(qa.t, id, NULL, NULL), BC_OK);
		assert_int_equal(bc_talk_get(qa.t, id, &info), BC_OK);
		assert_int_equal(info.nmembers, 3);
		assert_int_equal(bc_talk_sync(eve.t, id, NULL, NULL), BC_OK);
		assert_int_equal(bc_talk_get(eve.t, id, &info), BC_OK);
		assert_false(info.joined);
		assert_int_equal(bc_talk_say(eve.t, id, BC_AUD_PLENARY, NULL, 0,
					     BC_LABEL_NONE, "let me in"),
				 BC_ERR_FORBIDDEN);
	}
	sodium_memzero(inv_us, strlen(inv_us));
	sodium_memzero(inv_ve, strlen(inv_ve));
	bc_free(inv_us);
	bc_free(inv_ve);
	bc_free(addr);
	close_who(&qa);
	close_who(&us);
	close_who(&ve);
	close_who(&eve);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mediated_talk),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("talks", tests, setup, teardown);
}
