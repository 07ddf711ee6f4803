/*
 * test_text.c - the single negotiating text (lib/talk_text.c) without a
 * relay: the message and state codecs, and the receiving side's rules,
 * driven by handing bc_talk_on_text messages as talk.c would (sender,
 * sealed readers, body), including what an honest client never sends:
 * a party's draft, a comment sealed for another party, a skipped version,
 * a vote on another text, a second vote. Each refusal must leave the
 * state unchanged and one integrity event in the timeline.
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

#include "internal.h"
#include "talk_int.h"
#include "talk_text.h"

static char dir[128];
static int dbn;

/* ---- codec ------------------------------------------------------------- */

static void roundtrip(const bc_text_msg *m)
{
	uint8_t *buf = NULL, *again = NULL;
	size_t len = 0, alen = 0;
	bc_text_msg d;
	assert_int_equal(bc_text_msg_encode(m, &buf, &len), BC_OK);
	assert_int_equal(bc_text_msg_decode(buf, len, &d), BC_OK);
	assert_int_equal(d.type, m->type);
	assert_int_equal(bc_text_msg_encode(&d, &again, &alen), BC_OK);
	assert_int_equal(alen, len);
	assert_memory_equal(again, buf, len);
	bc_text_msg_clear(&d);
	/* every strict prefix and one trailing byte are refused */
	for (size_t i = 0; i < len; i++)
		assert_int_not_equal(bc_text_msg_decode(buf, i, &d), BC_OK);
	{
		uint8_t *longer = calloc(1, len + 1);
		assert_non_null(longer);
		memcpy(longer, buf, len);
		assert_int_equal(bc_text_msg_decode(longer, len + 1, &d),
				 BC_ERR_MALFORMED);
		assert_null(d.text);
		free(longer);
	}
	bc_free(buf);
	bc_free(again);
}

static void codec_roundtrips(void **state)
{
	bc_text_msg m;
	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = BC_TEXT_DRAFT;
	m.version = 1;
	m.text = "Article 1.";
	m.note = "first";
	roundtrip(&m);
	m.type = BC_TEXT_REVISE;
	m.version = 2;
	roundtrip(&m);
	m.type = BC_TEXT_COMMENT;
	m.note = NULL;
	randombytes_buf(m.digest, sizeof(m.digest));
	roundtrip(&m);
	m.type = BC_TEXT_CALL;
	m.text = NULL;
	m.round = 3;
	roundtrip(&m);
	m.type = BC_TEXT_VOTE;
	m.answer = BC_TEXT_NO;
	m.note = "too vague";
	roundtrip(&m);
}

static void codec_refuses(void **state)
{
	static const uint8_t unknown[] = {9, 0, 0, 0, 1};
	/* DRAFT with version 2, REVISE with version 1 */
	static const uint8_t draft2[] = {1, 0, 0,   0, 2, 0, 0,
					 0, 1, 'x', 0, 0, 0, 0};
	static const uint8_t revise1[] = {2, 0, 0,   0, 1, 0, 0,
					  0, 1, 'x', 0, 0, 0, 0};
	/* an empty text; a NUL inside it */
	static const uint8_t empty[] = {1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t nul[] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0};
	uint8_t vote[1 + 4 + 4 + 32 + 1 + 4];
	uint8_t *big;
	size_t blen = 1 + 4 + 4 + BC_TEXT_MAX + 1 + 4;
	bc_text_msg m;
	(void)state;
	assert_int_equal(bc_text_msg_decode(unknown, sizeof(unknown), &m),
			 BC_ERR_MALFORMED);
	assert_int_equal(bc_text_msg_decode(draft2, sizeof(draft2), &m),
			 BC_ERR_MALFORMED);
	assert_int_equal(bc_text_msg_decode(revise1, sizeof(revise1), &m),
			 BC_ERR_MALFORMED);
	assert_int_equal(bc_text_msg_decode(empty, sizeof(empty), &m),
			 BC_ERR_MALFORMED);
	assert_int_not_equal(bc_text_msg_decode(nul, sizeof(nul), &m), BC_OK);
	assert_int_not_equal(bc_text_msg_decode(NULL, 0, &m), BC_OK);
	/* a vote whose answer is 3, and round 0 */
	memset(vote, 0, sizeof(vote));
	vote[0] = BC_TEXT_VOTE;
	vote[4] = 1;
	vote[8] = 1;
	vote[41] = 3;
	assert_int_equal(bc_text_msg_decode(vote, sizeof(vote), &m),
			 BC_ERR_MALFORMED);
	vote[41] = BC_TEXT_YES;
	assert_int_equal(bc_text_msg_decode(vote, sizeof(vote), &m), BC_OK);
	bc_text_msg_clear(&m);
	vote[4] = 0;
	assert_int_equal(bc_text_msg_decode(vote, sizeof(vote), &m),
			 BC_ERR_MALFORMED);
	/* a text of BC_TEXT_MAX + 1 bytes */
	big = calloc(1, blen);
	assert_non_null(big);
	big[0] = BC_TEXT_DRAFT;
	bc_store32(big + 1, 1);
	bc_store32(big + 5, BC_TEXT_MAX + 1);
	memset(big + 9, 'a', BC_TEXT_MAX + 1);
	assert_int_not_equal(bc_text_msg_decode(big, blen, &m), BC_OK);
	assert_null(m.text);
	free(big);
	/* the encoder refuses what the decoder would */
	memset(&m, 0, sizeof(m));
	m.type = BC_TEXT_VOTE;
	m.round = 1;
	m.version = 1;
	m.answer = 0;
	{
		uint8_t *out = NULL;
		size_t olen = 0;
		assert_int_equal(bc_text_msg_encode(&m, &out, &olen),
				 BC_ERR_INVALID);
		assert_null(out);
	}
}

static void state_codec(void **state)
{
	bc_text_version v[2];
	bc_text_round r[2];
	bc_text_state s, *d = NULL;
	uint8_t *buf = NULL, *again = NULL;
	size_t len = 0, alen = 0;
	(void)state;
	memset(v, 0, sizeof(v));
	memset(r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 2; i++) {
		v[i].number = (uint32_t)i + 1;
		v[i].size = 10;
		v[i].note = "n";
	}
	r[0].number = 1;
	r[0].version = 1;
	r[0].state = BC_TEXT_NOT_ADOPTED;
	r[0].nvotes = 1;
	r[0].votes[0].answer = BC_TEXT_NO;
	r[0].votes[0].reason = "why";
	r[1].number = 2;
	r[1].version = 2;
	r[1].state = BC_TEXT_OPEN;
	s.nversions = 2;
	s.versions = v;
	s.nrounds = 2;
	s.rounds = r;
	assert_int_equal(bc_text_state_encode(&s, &buf, &len), BC_OK);
	assert_int_equal(bc_text_state_decode(buf, len, &d), BC_OK);
	assert_int_equal(bc_text_state_encode(d, &again, &alen), BC_OK);
	assert_int_equal(alen, len);
	assert_memory_equal(buf, again, len);
	bc_text_state_free(d);
	bc_free(again);
	bc_free(buf);
	/* an open round that is not the last one is not a state */
	r[0].state = BC_TEXT_OPEN;
	assert_int_equal(bc_text_state_encode(&s, &buf, &len), BC_ERR_INVALID);
	r[0].state = BC_TEXT_NOT_ADOPTED;
	/* adopted must name the adopted round's version */
	r[1].state = BC_TEXT_ADOPTED;
	assert_int_equal(bc_text_state_encode(&s, &buf, &len), BC_ERR_INVALID);
	s.adopted = 2;
	assert_int_equal(bc_text_state_encode(&s, &buf, &len), BC_OK);
	bc_free(buf);
	/* versions numbered 1, 2 */
	v[1].number = 3;
	assert_int_equal(bc_text_state_encode(&s, &buf, &len), BC_ERR_INVALID);
}

/* ---- receiving ---------------------------------------------------------- */

enum {
	MED = 0,
	US = 1,
	VE = 2,
	OBS = 3,
	NMEM = 4
};

struct fixture {
	bc_store *st;
	bc_talks *t;
	bc_talk_info info;
	int self;	       /* which member this store is */
	uint8_t digest[8][32]; /* digest of version v (index v) */
	char texts[8][32];
};

static void fixture_open(struct fixture *f, int self)
{
	char path[256];
	static const uint8_t roles[NMEM] = {BC_ROLE_MEDIATOR, BC_ROLE_PARTY,
					    BC_ROLE_PARTY, BC_ROLE_OBSERVER};
	static const char *sides[NMEM] = {"", "US", "VE", ""};
	memset(f, 0, sizeof(*f));
	snprintf(path, sizeof(path), "%s/m%d.db", dir, dbn++);
	assert_int_equal(bc_store_open(&f->st, path, NULL, 0,
				       BC_STORE_CREATE | BC_STORE_UNPROTECTED),
			 BC_OK);
	assert_int_equal(bc_talks_open(&f->t, f->st, 1800000000ull), BC_OK);
	randombytes_buf(f->info.id, BC_TALK_ID_LEN);
	f->info.joined = true;
	f->info.state = BC_TALK_OPEN;
	f->info.nmembers = NMEM;
	f->self = self;
	f->info.my_role = roles[self];
	for (int i = 0; i < NMEM; i++) {
		bc_talk_member *m = &f->info.members[i];
		if (i == self)
			memcpy(m->id, bc_talks_self(f->t), BC_E2E_ID_LEN);
		else
			randombytes_buf(m->id, BC_E2E_ID_LEN);
		m->role = roles[i];
		snprintf(m->side, sizeof(m->side), "%s", sides[i]);
	}
	for (uint32_t v = 1; v < 8; v++) {
		snprintf(f->texts[v], sizeof(f->texts[v]), "Text version %u",
			 v);
		assert_int_equal(bc_text_digest(f->info.id, v, f->texts[v],
						strlen(f->texts[v]),
						f->digest[v]),
				 BC_OK);
	}
}

static void fixture_close(struct fixture *f)
{
	bc_talks_free(f->t);
	bc_store_close(f->st);
}

/* Deliver m from member `from`, sealed for the members in `readers` (a
 * bit mask; the sender is always in its audience). */
static int deliver_to(struct fixture *f, int from, unsigned readers,
		      const bc_text_msg *msg)
{
	bc_e2e_msg m;
	uint8_t *body = NULL;
	size_t blen = 0;
	bc_rd r;
	int rc;
	memset(&m, 0, sizeof(m));
	assert_int_equal(bc_text_msg_encode(msg, &body, &blen), BC_OK);
	randombytes_buf(m.meta.msg_id, sizeof(m.meta.msg_id));
	memcpy(m.meta.sender, f->info.members[from].id, BC_E2E_ID_LEN);
	readers |= 1u << from;
	for (int i = 0; i < NMEM; i++)
		if (readers & (1u << i))
			memcpy(m.meta.audience.ids[m.meta.audience.count++],
			       f->info.members[i].id, BC_E2E_ID_LEN);
	m.content = body;
	m.clen = blen;
	bc_rd_init(&r, body, blen);
	rc = bc_talk_on_text(f->t, &f->info, &m, &r, NULL, NULL);
	bc_free(body);
	return rc;
}

#define ALL ((1u << NMEM) - 1)

static int deliver(struct fixture *f, int from, const bc_text_msg *msg)
{
	return deliver_to(f, from, ALL, msg);
}

struct count {
	int integrity, text;
	char last[512];
};

static int count_one(void *ctx, const bc_talk_event *ev)
{
	struct count *c = ctx;
	if (ev->kind == BC_TEV_INTEGRITY)
		c->integrity++;
	if (ev->kind == BC_TK_TEXT)
		c->text++;
	snprintf(c->last, sizeof(c->last), "%s", ev->text);
	return BC_OK;
}

static struct count events(struct fixture *f)
{
	struct count c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(bc_talk_log(f->t, f->info.id, count_one, &c), BC_OK);
	return c;
}

/* The next message must be refused: one more integrity event, and the
 * state unchanged. */
static void refused(struct fixture *f, int from, unsigned readers,
		    const bc_text_msg *msg)
{
	struct count before = events(f), after;
	bc_text_state *s0 = NULL, *s1 = NULL;
	uint8_t *e0 = NULL, *e1 = NULL;
	size_t l0 = 0, l1 = 0;
	int rc0 = bc_text_get(f->t, f->info.id, &s0), rc;
	if (rc0 == BC_OK)
		assert_int_equal(bc_text_state_encode(s0, &e0, &l0), BC_OK);
	rc = deliver_to(f, from, readers, msg);
	assert_true(rc == BC_OK || rc == BC_ERR_FORBIDDEN ||
		    rc == BC_ERR_MALFORMED || rc == BC_ERR_AUTH);
	after = events(f);
	if (rc == BC_OK) /* refused with its own event */
		assert_int_equal(after.integrity, before.integrity + 1);
	assert_int_equal(after.text, before.text);
	assert_int_equal(bc_text_get(f->t, f->info.id, &s1), rc0);
	if (rc0 == BC_OK) {
		assert_int_equal(bc_text_state_encode(s1, &e1, &l1), BC_OK);
		assert_int_equal(l0, l1);
		assert_memory_equal(e0, e1, l0);
	}
	bc_free(e0);
	bc_free(e1);
	bc_text_state_free(s0);
	bc_text_state_free(s1);
}

static bc_text_msg mk(struct fixture *f, uint8_t type, uint32_t version,
		      uint32_t round, uint8_t answer)
{
	bc_text_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.version = version;
	m.round = round;
	m.answer = answer;
	if (type == BC_TEXT_DRAFT || type == BC_TEXT_REVISE)
		m.text = f->texts[version];
	else if (type == BC_TEXT_COMMENT)
		m.text = "a comment";
	if (version < 8)
		memcpy(m.digest, f->digest[version], 32);
	return m;
}

static void receive_versions_and_votes(void **state)
{
	struct fixture f;
	bc_text_state *s = NULL;
	bc_text_msg m;
	char *body = NULL;
	(void)state;
	fixture_open(&f, OBS); /* the observer sees every plenary step */

	/* a party's draft; a draft not sealed for every member */
	m = mk(&f, BC_TEXT_DRAFT, 1, 0, 0);
	refused(&f, US, ALL, &m);
	refused(&f, MED, ALL & ~(1u << VE), &m);
	assert_int_equal(bc_text_get(f.t, f.info.id, &s), BC_ERR_NOTFOUND);
	/* a revision before any draft */
	m = mk(&f, BC_TEXT_REVISE, 2, 0, 0);
	refused(&f, MED, ALL, &m);
	/* the draft */
	m = mk(&f, BC_TEXT_DRAFT, 1, 0, 0);
	assert_int_equal(deliver(&f, MED, &m), BC_OK);
	assert_int_equal(bc_text_body(f.t, f.info.id, 1, &body), BC_OK);
	assert_string_equal(body, "Text version 1");
	bc_free_secret(body, strlen(body) + 1);
	/* a second draft, a skipped version, a party's revision */
	refused(&f, MED, ALL, &m);
	m = mk(&f, BC_TEXT_REVISE, 3, 0, 0);
	refused(&f, MED, ALL, &m);
	m = mk(&f, BC_TEXT_REVISE, 2, 0, 0);
	refused(&f, VE, ALL, &m);
	assert_int_equal(deliver(&f, MED, &m), BC_OK);
	/* calls: by a party, on an unknown version, on another text, with a
	 * skipped round number */
	m = mk(&f, BC_TEXT_CALL, 2, 1, 0);
	refused(&f, US, ALL, &m);
	m = mk(&f, BC_TEXT_CALL, 5, 1, 0);
	refused(&f, MED, ALL, &m);
	m = mk(&f, BC_TEXT_CALL, 2, 1, 0);
	m.digest[0] ^= 1;
	refused(&f, MED, ALL, &m);
	m = mk(&f, BC_TEXT_CALL, 2, 2, 0);
	refused(&f, MED, ALL, &m);
	m = mk(&f, BC_TEXT_CALL, 2, 1, 0);
	refused(&f, MED, ALL & ~(1u << US), &m);
	assert_int_equal(deliver(&f, MED, &m), BC_OK);
	/* no revision and no second call while the round is open */
	m = mk(&f, BC_TEXT_REVISE, 3, 0, 0);
	refused(&f, MED, ALL, &m);
	m = mk(&f, BC_TEXT_CALL, 2, 2, 0);
	refused(&f, MED, ALL, &m);
	/* votes: by the mediator, by an observer, on another version, on
	 * another text, not sealed for every member, for another round */
	m = mk(&f, BC_TEXT_VOTE, 2, 1, BC_TEXT_YES);
	refused(&f, MED, ALL, &m);
	refused(&f, OBS, ALL, &m);
	m = mk(&f, BC_TEXT_VOTE, 1, 1, BC_TEXT_YES);
	refused(&f, US, ALL, &m);
	m = mk(&f, BC_TEXT_VOTE, 2, 1, BC_TEXT_YES);
	m.digest[31] ^= 0x80;
	refused(&f, US, ALL, &m);
	m = mk(&f, BC_TEXT_VOTE, 2, 1, BC_TEXT_YES);
	refused(&f, US, ALL & ~(1u << MED), &m);
	m = mk(&f, BC_TEXT_VOTE, 2, 2, BC_TEXT_YES);
	refused(&f, US, ALL, &m);
	/* US yes: still open; US again: refused; VE no: not adopted */
	m = mk(&f, BC_TEXT_VOTE, 2, 1, BC_TEXT_YES);
	assert_int_equal(deliver(&f, US, &m), BC_OK);
	assert_int_equal(bc_text_get(f.t, f.info.id, &s), BC_OK);
	assert_int_equal(s->rounds[0].state, BC_TEXT_OPEN);
	bc_text_state_free(s);
	m = mk(&f, BC_TEXT_VOTE, 2, 1, BC_TEXT_NO);
	refused(&f, US, ALL, &m);
	assert_int_equal(deliver(&f, VE, &m), BC_OK);
	assert_int_equal(bc_text_get(f.t, f.info.id, &s), BC_OK);
	assert_int_equal(s->rounds[0].state, BC_TEXT_NOT_ADOPTED);
	assert_int_equal(s->adopted, 0);
	bc_text_state_free(s);
	assert_string_equal(events(&f).last, "text v2 not adopted: VE said no");

	/* round 2 on v3: VE yes, US yes: adopted; then everything refused */
	m = mk(&f, BC_TEXT_REVISE, 3, 0, 0);
	assert_int_equal(deliver(&f, MED, &m), BC_OK);
	m = mk(&f, BC_TEXT_CALL, 3, 2, 0);
	assert_int_equal(deliver(&f, MED, &m), BC_OK);
	m = mk(&f, BC_TEXT_VOTE, 3, 2, BC_TEXT_YES);
	assert_int_equal(deliver(&f, VE, &m), BC_OK);
	assert_int_equal(deliver(&f, US, &m), BC_OK);
	assert_int_equal(bc_text_get(f.t, f.info.id, &s), BC_OK);
	assert_int_equal(s->rounds[1].state, BC_TEXT_ADOPTED);
	assert_int_equal(s->adopted, 3);
	bc_text_state_free(s);
	assert_string_equal(events(&f).last,
			    "text v3 adopted: every party said yes");
	m = mk(&f, BC_TEXT_REVISE, 4, 0, 0);
	refused(&f, MED, ALL, &m);
	m = mk(&f, BC_TEXT_CALL, 3, 3, 0);
	refused(&f, MED, ALL, &m);
	fixture_close(&f);
}

static void late_vote_is_kept_not_counted(void **state)
{
	struct fixture f;
	bc_text_state *s = NULL;
	bc_text_msg m;
	(void)state;
	fixture_open(&f, OBS);
	m = mk(&f, BC_TEXT_DRAFT, 1, 0, 0);
	assert_int_equal(deliver(&f, MED, &m), BC_OK);
	m = mk(&f, BC_TEXT_CALL, 1, 1, 0);
	assert_int_equal(deliver(&f, MED, &m), BC_OK);
	m = mk(&f, BC_TEXT_VOTE, 1, 1, BC_TEXT_NO);
	assert_int_equal(deliver(&f, VE, &m), BC_OK);
	m.answer = BC_TEXT_YES;
	assert_int_equal(deliver(&f, US, &m), BC_OK);
	assert_int_equal(bc_text_get(f.t, f.info.id, &s), BC_OK);
	assert_int_equal(s->rounds[0].state, BC_TEXT_NOT_ADOPTED);
	assert_int_equal(s->rounds[0].nvotes, 2);
	assert_true(s->rounds[0].votes[1].late);
	bc_text_state_free(s);
	/* but not twice */
	refused(&f, US, ALL, &m);
	fixture_close(&f);
}

struct cmts {
	int n;
	char last[64];
};

static int cmt_one(void *ctx, const bc_text_comment *c)
{
	struct cmts *x = ctx;
	x->n++;
	snprintf(x->last, sizeof(x->last), "%s", c->text);
	return BC_OK;
}

static void receive_comments(void **state)
{
	struct fixture f, p;
	struct cmts c = {0, ""};
	bc_text_msg m;
	const unsigned med_only = 1u << MED;
	(void)state;
	fixture_open(&f, MED); /* the mediator reads comments */
	/* the draft comes from a co-mediator (member OBS made one here):
	 * this member's own draft would need the network */
	f.info.members[OBS].role = BC_ROLE_MEDIATOR;
	m = mk(&f, BC_TEXT_DRAFT, 1, 0, 0);
	assert_int_equal(deliver(&f, OBS, &m), BC_OK);
	/* comments must be sealed for exactly the mediators (MED and OBS) */
	m = mk(&f, BC_TEXT_COMMENT, 1, 0, 0);
	refused(&f, US, med_only, &m); /* the co-mediator left out */
	refused(&f, US, ALL, &m);      /* VE would read it */
	refused(&f, US, med_only | (1u << OBS) | (1u << VE), &m);
	/* by a mediator; on an unknown version; on another text */
	refused(&f, OBS, med_only, &m);
	m = mk(&f, BC_TEXT_COMMENT, 2, 0, 0);
	refused(&f, US, med_only | (1u << OBS), &m);
	m = mk(&f, BC_TEXT_COMMENT, 1, 0, 0);
	m.digest[5] ^= 4;
	refused(&f, US, med_only | (1u << OBS), &m);
	assert_int_equal(bc_text_comments(f.t, f.info.id, cmt_one, &c), BC_OK);
	assert_int_equal(c.n, 0);
	m = mk(&f, BC_TEXT_COMMENT, 1, 0, 0);
	assert_int_equal(deliver_to(&f, US, med_only | (1u << OBS), &m), BC_OK);
	assert_int_equal(bc_text_comments(f.t, f.info.id, cmt_one, &c), BC_OK);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.last, "a comment");
	fixture_close(&f);

	/* a party never takes in a comment (it is never sealed for it) */
	fixture_open(&p, VE);
	m = mk(&p, BC_TEXT_DRAFT, 1, 0, 0);
	assert_int_equal(deliver(&p, MED, &m), BC_OK);
	m = mk(&p, BC_TEXT_COMMENT, 1, 0, 0);
	refused(&p, US, ALL, &m);
	c.n = 0;
	assert_int_equal(bc_text_comments(p.t, p.info.id, cmt_one, &c), BC_OK);
	assert_int_equal(c.n, 0);
	fixture_close(&p);
}

static void malformed_body_is_refused(void **state)
{
	static const uint8_t junk[] = {BC_TEXT_CALL, 0, 0};
	struct fixture f;
	bc_e2e_msg m;
	bc_rd r;
	(void)state;
	fixture_open(&f, US);
	memset(&m, 0, sizeof(m));
	memcpy(m.meta.sender, f.info.members[MED].id, BC_E2E_ID_LEN);
	bc_rd_init(&r, junk, sizeof(junk));
	assert_int_equal(bc_talk_on_text(f.t, &f.info, &m, &r, NULL, NULL),
			 BC_ERR_MALFORMED);
	fixture_close(&f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bc-text-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[200];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(codec_roundtrips),
		cmocka_unit_test(codec_refuses),
		cmocka_unit_test(state_codec),
		cmocka_unit_test(receive_versions_and_votes),
		cmocka_unit_test(late_vote_is_kept_not_counted),
		cmocka_unit_test(receive_comments),
		cmocka_unit_test(malformed_body_is_refused),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("text", tests, setup, teardown);
}
