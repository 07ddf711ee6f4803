/*
 * test_sessions.c - end-to-end sessions through the real relay: two and
 * three members, out-of-order delivery and loss, long offline periods,
 * prekey exhaustion, and kill -9 of a receiver, of a sender and of the
 * relay while messages flow (issue "sessions", must-hold list).
 *
 * A "member" is what an application is: an encrypted store, the e2e
 * engine on it, a relay client, and a mailbox it owns (ownership is the
 * Noise static key, kept constant across reconnects). Invites (mailbox,
 * capability, identity) are handed over in memory. The crash tests run a
 * member in a forked child and SIGKILL it; everything the child knows
 * lives in its store, apart from the invite data the parent gave it.
 *
 * What the crash tests check is the crash rule of e2e.h: after any number
 * of kills, every message the sender sealed reaches the reader's
 * application (its store's inbox log) exactly once, in order, and the
 * session still works both ways afterwards.
 *
 * SESS_MSGS (environment, 11..2000, default 200) changes the length of
 * the crash streams.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "e2e.h"
#include "harness.h"
#include "internal.h"

#define T0 1800000000ull
#define DAY ((uint64_t)24 * 3600)
#define MAX_CONTACTS 8
#define MAX_GOT 2100 /* deliveries one test records */
#define TEXT_MAX 48

static struct relay R;
static char TMPD[128];
static uint64_t NOW = T0;
static int crash_msgs = 200;

/* ---- members -------------------------------------------------------------- */

/* What an invite tells a member about another one. */
struct contact {
	uint8_t id[BC_E2E_ID_LEN];
	bc_identity_pub pub;
	uint8_t mb[BC_MAILBOX_LEN];
	uint8_t cap[BC_CAP_LEN];
};

struct member {
	char name[16];
	char path[300];
	uint8_t key[32]; /* Noise static key: owns mb */
	uint8_t mb[BC_MAILBOX_LEN];
	bc_store *st;
	bc_e2e *e;
	bc_client *c;
	uint8_t id[BC_E2E_ID_LEN];
	bc_identity_pub pub;
	struct contact ct[MAX_CONTACTS];
	int nct;
	uint32_t relay_opk; /* one-time prekeys the relay last reported */
};

/* None of the glue asserts: forked children use it too. */

static int m_open(struct member *m)
{
	int rc = bc_store_open(&m->st, m->path, NULL, 0,
			       BC_STORE_CREATE | BC_STORE_UNPROTECTED);
	if (rc != BC_OK)
		return rc;
	if ((rc = bc_e2e_new(&m->e, m->st, NOW)) != BC_OK) {
		bc_store_close(m->st);
		m->st = NULL;
		return rc;
	}
	memcpy(m->id, bc_e2e_id(m->e), BC_E2E_ID_LEN);
	m->pub = *bc_e2e_identity(m->e);
	if ((m->c = test_client(&R, m->key)) == NULL)
		return BC_ERR_NOMEM;
	return BC_OK;
}

static void m_close(struct member *m)
{
	bc_client_free(m->c);
	bc_e2e_free(m->e);
	bc_store_close(m->st);
	m->c = NULL;
	m->e = NULL;
	m->st = NULL;
}

/* A member with a new store and identity; with_mailbox also creates its
 * mailbox on the relay. */
static int m_create_ex(struct member *m, const char *name, bool with_mailbox)
{
	bc_mbox_status s;
	int rc;
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->path, sizeof(m->path), "%s/%s.db", TMPD, name);
	randombytes_buf(m->key, sizeof(m->key));
	randombytes_buf(m->mb, sizeof(m->mb));
	if ((rc = m_open(m)) != BC_OK || !with_mailbox)
		return rc;
	memset(&s, 0, sizeof(s));
	if ((rc = bc_client_open(m->c, m->mb, &s)) != BC_OK)
		return rc;
	m->relay_opk = s.onetime_prekeys;
	return BC_OK;
}

static int m_create(struct member *m, const char *name)
{
	return m_create_ex(m, name, true);
}

/* Upload the signed bundle and at most max of the one-time prekeys the
 * engine wants after the relay reported m->relay_opk. */
static int m_upload(struct member *m, size_t max)
{
	uint8_t sb[BC_PREKEY_BUNDLE_LEN];
	uint8_t(*ot)[BC_PREKEY_ONETIME_LEN] = NULL;
	const uint8_t *ptr[BC_PREKEY_MAX_BATCH];
	size_t lens[BC_PREKEY_MAX_BATCH], n = 0;
	int rc = bc_e2e_prekeys(m->e, m->relay_opk, NOW, sb, &ot, &n);
	if (rc != BC_OK)
		return rc;
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		ptr[i] = ot[i];
		lens[i] = BC_PREKEY_ONETIME_LEN;
	}
	rc = bc_client_prekey_put(m->c, m->mb, sb, sizeof(sb), ptr, lens, n,
				  &m->relay_opk);
	bc_free(ot);
	return rc;
}

/* owner lets guest post to its mailbox: a new capability, and the invite
 * data in guest's contacts. */
static int invite(struct member *owner, struct member *guest)
{
	struct contact *k;
	int rc;
	if (guest->nct == MAX_CONTACTS)
		return BC_ERR_QUOTA;
	k = &guest->ct[guest->nct];
	randombytes_buf(k->cap, sizeof(k->cap));
	if ((rc = bc_client_cap_add(owner->c, owner->mb, k->cap)) != BC_OK)
		return rc;
	memcpy(k->id, owner->id, BC_E2E_ID_LEN);
	k->pub = owner->pub;
	memcpy(k->mb, owner->mb, BC_MAILBOX_LEN);
	guest->nct++;
	return BC_OK;
}

static int invite_both(struct member *a, struct member *b)
{
	int rc = invite(a, b);
	return rc != BC_OK ? rc : invite(b, a);
}

static const struct contact *contact(const struct member *m,
				     const uint8_t id[BC_E2E_ID_LEN])
{
	for (int i = 0; i < m->nct; i++)
		if (memcmp(m->ct[i].id, id, BC_E2E_ID_LEN) == 0)
			return &m->ct[i];
	return NULL;
}

/* m opens a session to peer from the prekeys peer's mailbox hands out;
 * *otp tells whether the relay still had a one-time prekey. */
static int m_start(struct member *m, const uint8_t peer[BC_E2E_ID_LEN],
		   bool *otp)
{
	const struct contact *k = contact(m, peer);
	uint8_t *sb = NULL, *ob = NULL;
	size_t sl = 0, ol = 0;
	int rc;
	if (k == NULL)
		return BC_ERR_NOTFOUND;
	rc = bc_client_prekey_get(m->c, k->mb, k->cap, &sb, &sl, &ob, &ol);
	if (rc != BC_OK)
		return rc;
	if (otp != NULL)
		*otp = ob != NULL;
	rc = bc_e2e_start(m->e, &k->pub, sb, sl, ob, ol, NOW);
	bc_free(sb);
	bc_free(ob);
	return rc;
}

struct sealed {
	uint8_t id[BC_MSGID_LEN];
	uint8_t **bodies;
	size_t *lens;
	size_t n;
};

static void sealed_free(struct sealed *s)
{
	bc_e2e_bodies_free(s->bodies, s->lens, s->n);
	memset(s, 0, sizeof(*s));
}

/* The application's send: seal (committed, in the outbox), ONE post with
 * a copy per reader under the message id, then report it sent. keep (may
 * be NULL) receives the sealed bodies. */
static int m_send_ids(struct member *m, const uint8_t (*readers)[BC_E2E_ID_LEN],
		      size_t n, const uint8_t *msg_id, const char *text,
		      struct sealed *keep)
{
	bc_client_copy cp[BC_E2E_MAX_READERS];
	uint8_t id[BC_MSGID_LEN];
	uint8_t **bodies = NULL;
	size_t *lens = NULL;
	int rc;
	if (n == 0 || n > BC_E2E_MAX_READERS)
		return BC_ERR_INVALID;
	if (msg_id != NULL)
		memcpy(id, msg_id, sizeof(id));
	else
		randombytes_buf(id, sizeof(id));
	rc = bc_e2e_seal(m->e, readers, n, id, (const uint8_t *)text,
			 strlen(text), NOW, &bodies, &lens);
	if (rc != BC_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct contact *k = contact(m, readers[i]);
		if (k == NULL) {
			rc = BC_ERR_NOTFOUND;
			goto out;
		}
		cp[i] = (bc_client_copy){k->mb, k->cap, bodies[i], lens[i]};
	}
	if ((rc = bc_client_post(m->c, id, cp, n, NULL)) != BC_OK)
		goto out;
	rc = bc_e2e_sent(m->e, id);
out:
	if (keep != NULL && rc == BC_OK) {
		memcpy(keep->id, id, sizeof(id));
		keep->bodies = bodies;
		keep->lens = lens;
		keep->n = n;
	} else {
		bc_e2e_bodies_free(bodies, lens, n);
	}
	return rc;
}

static int m_send(struct member *m, struct member *const *to, size_t n,
		  const char *text, struct sealed *keep)
{
	uint8_t readers[BC_E2E_MAX_READERS][BC_E2E_ID_LEN];
	if (n > BC_E2E_MAX_READERS)
		return BC_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		memcpy(readers[i], to[i]->id, BC_E2E_ID_LEN);
	return m_send_ids(m, (const uint8_t(*)[BC_E2E_ID_LEN])readers, n, NULL,
			  text, keep);
}

static int m_send1(struct member *m, struct member *to, const char *text)
{
	struct member *t[1] = {to};
	return m_send(m, t, 1, text, NULL);
}

/* ---- receiving -------------------------------------------------------------- */

/* Relay messages copied out of a fetch / push callback. */
struct item {
	uint8_t id[BC_MSGID_LEN];
	uint64_t seq;
	uint8_t *body;
	size_t len;
};

struct items {
	struct item *v;
	size_t n, cap;
};

static int items_add(void *ctx, const uint8_t *mb, const bc_msg_item *m)
{
	struct items *it = ctx;
	struct item *x;
	(void)mb;
	if (it->n == it->cap) {
		size_t nc = it->cap ? it->cap * 2 : 16;
		struct item *nv = realloc(it->v, nc * sizeof(*nv));
		if (nv == NULL)
			return BC_ERR_NOMEM;
		it->v = nv;
		it->cap = nc;
	}
	x = &it->v[it->n];
	memcpy(x->id, m->msg_id, BC_MSGID_LEN);
	x->seq = m->seq;
	x->len = m->body_len;
	if ((x->body = malloc(m->body_len ? m->body_len : 1)) == NULL)
		return BC_ERR_NOMEM;
	memcpy(x->body, m->body, m->body_len);
	it->n++;
	return BC_OK;
}

static void items_free(struct items *it)
{
	for (size_t i = 0; i < it->n; i++)
		free(it->v[i].body);
	free(it->v);
	memset(it, 0, sizeof(*it));
}

/* What one member's application saw. */
struct got {
	int n; /* messages delivered */
	char text[MAX_GOT][TEXT_MAX];
	uint8_t sender[MAX_GOT][BC_E2E_ID_LEN];
	bc_tx_event kind[MAX_GOT];
	uint16_t audience[MAX_GOT];
	int events[BC_TX_EVENT_COUNT];
	int opened, dups, errors, last_err;
	int fatal; /* a storage error or a failed ack */
};

static struct got *got_new(void)
{
	struct got *g = calloc(1, sizeof(*g));
	assert_non_null(g);
	return g;
}

/* Open one relay message, record what it delivered, acknowledge it (if
 * ack) once the engine returned anything but a storage error. Returns the
 * engine's code. */
static int process(struct member *m, const struct item *x, struct got *g,
		   bool ack)
{
	bc_e2e_result res;
	int rc = bc_e2e_open(m->e, x->id, x->body, x->len, NOW, &res);
	if (rc == BC_OK) {
		g->opened++;
		if (res.duplicate)
			g->dups++;
		for (size_t i = 0; i < res.nmsgs && g->n < MAX_GOT; i++) {
			const bc_e2e_msg *d = &res.msgs[i];
			snprintf(g->text[g->n], TEXT_MAX, "%.*s",
				 (int)(d->clen < TEXT_MAX ? d->clen : TEXT_MAX - 1),
				 (const char *)d->content);
			memcpy(g->sender[g->n], d->meta.sender, BC_E2E_ID_LEN);
			g->kind[g->n] = d->kind;
			g->audience[g->n] = d->meta.audience.count;
			g->n++;
		}
		for (size_t i = 0; i < res.nreports; i++)
			if ((unsigned)res.reports[i].kind < BC_TX_EVENT_COUNT)
				g->events[res.reports[i].kind]++;
		bc_e2e_result_clear(&res);
	} else {
		g->errors++;
		g->last_err = rc;
	}
	if (rc == BC_ERR_STORAGE || rc == BC_ERR_NOMEM) {
		g->fatal++;
		return rc;
	}
	if (ack && bc_client_ack(m->c, m->mb,
				 (const uint8_t(*)[BC_MSGID_LEN])x->id, 1,
				 NULL) != BC_OK)
		g->fatal++;
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fetch and process m's mailbox until g holds want messages or ms pass. */
static void m_recv(struct member *m, struct got *g, int want, int ms)
{
	int64_t end = now_ms() + ms;
	while (g->n < want && now_ms() < end) {
		struct items it = {0};
		bool more = false;
		if (bc_client_fetch(m->c, m->mb, 0, 32, items_add, &it,
				    &more) != BC_OK) {
			g->fatal++;
			items_free(&it);
			return;
		}
		for (size_t i = 0; i < it.n; i++)
			(void)process(m, &it.v[i], g, true);
		if (it.n == 0)
			msleep(5);
		items_free(&it);
	}
}

/* The same through SUBSCRIBE / PUSH (m must be subscribed). */
static void m_recv_push(struct member *m, struct got *g, int want, int ms)
{
	int64_t end = now_ms() + ms;
	while (g->n < want && now_ms() < end) {
		struct items it = {0};
		int k = bc_client_poll_push(m->c, 100, items_add, &it);
		if (k < 0) {
			g->fatal++;
			items_free(&it);
			return;
		}
		for (size_t i = 0; i < it.n; i++)
			(void)process(m, &it.v[i], g, true);
		items_free(&it);
	}
}

/* Relay messages waiting in m's mailbox. */
static size_t m_waiting(struct member *m)
{
	struct items it = {0};
	size_t n;
	assert_int_equal(bc_client_fetch(m->c, m->mb, 0, 100, items_add, &it,
					 NULL),
			 BC_OK);
	n = it.n;
	items_free(&it);
	return n;
}

static int got_find(const struct got *g, const char *text)
{
	for (int i = 0; i < g->n; i++)
		if (strcmp(g->text[i], text) == 0)
			return i;
	return -1;
}

static int got_count(const struct got *g, const char *text)
{
	int k = 0;
	for (int i = 0; i < g->n; i++)
		k += strcmp(g->text[i], text) == 0;
	return k;
}

/* ---- the store's inbox log ------------------------------------------------ */

/* One record of the engine's "inbox" log: u8 kind || bytes meta ||
 * bytes content (deliver() in lib/e2e.c). */
struct inbox_rec {
	uint8_t kind;
	bc_tx_meta meta;
	char text[TEXT_MAX];
};

struct inbox {
	struct inbox_rec *v;
	size_t n, cap;
	int bad;
};

static int inbox_one(void *ctx, const uint8_t *key, size_t klen,
		     const uint8_t *val, size_t vlen)
{
	struct inbox *in = ctx;
	struct inbox_rec rec;
	const uint8_t *menc, *c;
	size_t mlen, clen;
	bc_rd r;
	(void)key;
	(void)klen;
	memset(&rec, 0, sizeof(rec));
	bc_rd_init(&r, val, vlen);
	bc_rd_u8(&r, &rec.kind);
	bc_rd_bytes(&r, BC_TX_META_MAX, &menc, &mlen);
	bc_rd_bytes(&r, BC_CODEC_MAX, &c, &clen);
	if (bc_rd_end(&r) != BC_OK ||
	    bc_transcript_meta_decode(menc, mlen, &rec.meta) != BC_OK) {
		in->bad++;
		return 0;
	}
	snprintf(rec.text, sizeof(rec.text), "%.*s",
		 (int)(clen < TEXT_MAX ? clen : TEXT_MAX - 1), (const char *)c);
	if (in->n == in->cap) {
		size_t nc = in->cap ? in->cap * 2 : 64;
		struct inbox_rec *nv = realloc(in->v, nc * sizeof(*nv));
		if (nv == NULL)
			return BC_ERR_NOMEM;
		in->v = nv;
		in->cap = nc;
	}
	in->v[in->n++] = rec;
	return 0;
}

static void inbox_read(bc_store *st, struct inbox *in)
{
	memset(in, 0, sizeof(*in));
	assert_int_equal(bc_store_list(st, "inbox", inbox_one, in), BC_OK);
	assert_int_equal(in->bad, 0);
}

/* Check that sender's messages "n=0".."n=<total-1>" are in the inbox
 * exactly once each and in order. Prints a summary; returns the number of
 * problems. */
static int inbox_check_stream(const struct inbox *in,
			      const uint8_t sender[BC_E2E_ID_LEN], int total,
			      const char *label, int kills_info)
{
	int *seen = calloc((size_t)total, sizeof(int));
	int delivered = 0, dups = 0, missing = 0, misorder = 0, foreign = 0;
	int last = -1, not_ok = 0;
	assert_non_null(seen);
	for (size_t i = 0; i < in->n; i++) {
		int v = -1;
		if (memcmp(in->v[i].meta.sender, sender, BC_E2E_ID_LEN) != 0)
			continue;
		if (sscanf(in->v[i].text, "n=%d", &v) != 1 || v < 0 ||
		    v >= total) {
			foreign++;
			continue;
		}
		delivered++;
		if (seen[v]++)
			dups++;
		if (v != last + 1)
			misorder++;
		if (in->v[i].kind != BC_TX_OK)
			not_ok++;
		last = v;
	}
	for (int i = 0; i < total; i++)
		missing += seen[i] == 0;
	free(seen);
	printf("# %s: kills: %d, sent: %d, delivered: %d, "
	       "duplicates: %d, missing: %d, out of order: %d, "
	       "not in order (kind): %d, foreign: %d\n",
	       label, kills_info, total, delivered, dups, missing,
	       misorder, not_ok, foreign);
	fflush(stdout);
	return dups + missing + misorder + foreign +
	       (delivered != total ? 1 : 0);
}

/* ---- fixtures -------------------------------------------------------------- */

static int setup(void **state)
{
	const char *e = getenv("SESS_MSGS");
	(void)state;
	if (e != NULL && atoi(e) > 10)
		crash_msgs = atoi(e) < 2000 ? atoi(e) : 2000;
	snprintf(TMPD, sizeof(TMPD), "/tmp/bc-sess-XXXXXX");
	if (mkdtemp(TMPD) == NULL)
		return -1;
	memset(&R, 0, sizeof(R));
	return relay_start(&R);
}

static int teardown(void **state)
{
	char cmd[200];
	int st;
	(void)state;
	st = relay_stop(&R);
	relay_cleanup(&R);
	if (getenv("BC_KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", TMPD);
		if (system(cmd) != 0)
			return -1;
	}
	return st == 0 ? 0 : -1;
}

static void pair(struct member *a, struct member *b, const char *na,
		 const char *nb)
{
	assert_int_equal(m_create(a, na), BC_OK);
	assert_int_equal(m_create(b, nb), BC_OK);
	assert_int_equal(invite_both(a, b), BC_OK);
	assert_int_equal(m_upload(a, BC_PREKEY_MAX_BATCH), BC_OK);
	assert_int_equal(m_upload(b, BC_PREKEY_MAX_BATCH), BC_OK);
}

/* ---- 1. two members ------------------------------------------------------- */

static void two_members_through_relay(void **state)
{
	struct member a, b;
	struct got *ga = got_new(), *gb = got_new();
	char t[64];
	bool otp = false;
	int expect_a = 0, expect_b = 0;
	(void)state;
	pair(&a, &b, "t1a", "t1b");
	assert_int_equal(bc_client_subscribe(b.c, b.mb), BC_OK);
	assert_int_equal(bc_client_subscribe(a.c, a.mb), BC_OK);
	assert_int_equal(m_start(&a, b.id, &otp), BC_OK);
	assert_true(otp);
	for (int i = 0; i < 5; i++) {
		snprintf(t, sizeof(t), "a%d", i);
		assert_int_equal(m_send1(&a, &b, t), BC_OK);
	}
	expect_b = 5;
	m_recv_push(&b, gb, expect_b, 10000);
	assert_int_equal(gb->n, 5);
	for (int i = 0; i < 5; i++) {
		snprintf(t, sizeof(t), "a%d", i);
		assert_string_equal(gb->text[i], t);
		assert_memory_equal(gb->sender[i], a.id, BC_E2E_ID_LEN);
		assert_int_equal(gb->kind[i], BC_TX_OK);
		assert_int_equal(gb->audience[i], 2);
	}
	/* Several turns both ways, 1..3 messages a turn. */
	for (int turn = 0; turn < 8; turn++) {
		struct member *from = turn % 2 ? &a : &b;
		struct member *to = turn % 2 ? &b : &a;
		struct got *g = turn % 2 ? gb : ga;
		int *exp = turn % 2 ? &expect_b : &expect_a;
		int k = 1 + turn % 3;
		for (int j = 0; j < k; j++) {
			snprintf(t, sizeof(t), "%s turn %d.%d", from->name, turn,
				 j);
			assert_int_equal(m_send1(from, to, t), BC_OK);
		}
		*exp += k;
		m_recv_push(to, g, *exp, 10000);
		assert_int_equal(g->n, *exp);
		for (int j = 0; j < k; j++) {
			snprintf(t, sizeof(t), "%s turn %d.%d", from->name, turn,
				 j);
			assert_string_equal(g->text[*exp - k + j], t);
			assert_memory_equal(g->sender[*exp - k + j], from->id,
					    BC_E2E_ID_LEN);
		}
	}
	assert_int_equal(ga->errors + gb->errors, 0);
	assert_int_equal(ga->fatal + gb->fatal, 0);
	assert_int_equal(ga->dups + gb->dups, 0);
	/* Everything acknowledged is gone from the relay. */
	assert_int_equal(m_waiting(&a), 0);
	assert_int_equal(m_waiting(&b), 0);
	{
		bc_mbox_status s;
		assert_int_equal(bc_client_open(b.c, b.mb, &s), BC_OK);
		assert_int_equal(s.msgs, 0);
	}
	printf("# two members: a got %d, b got %d, gaps/reorders: %d\n",
	       ga->n, gb->n,
	       ga->events[BC_TX_GAP] + gb->events[BC_TX_GAP] +
		       ga->events[BC_TX_REORDER] + gb->events[BC_TX_REORDER]);
	m_close(&a);
	m_close(&b);
	free(ga);
	free(gb);
}

/* ---- 2. three members ----------------------------------------------------- */

static void three_members_plenary(void **state)
{
	struct member m[3];
	struct got *g[3];
	const char *names[3] = {"t2a", "t2b", "t2c"};
	char t[32];
	int rounds = 3;
	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(m_create(&m[i], names[i]), BC_OK);
		g[i] = got_new();
	}
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			assert_int_equal(invite_both(&m[i], &m[j]), BC_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(m_upload(&m[i], BC_PREKEY_MAX_BATCH), BC_OK);
	/* A -> B, A -> C, B -> C; the others answer as responders. */
	assert_int_equal(m_start(&m[0], m[1].id, NULL), BC_OK);
	assert_int_equal(m_start(&m[0], m[2].id, NULL), BC_OK);
	assert_int_equal(m_start(&m[1], m[2].id, NULL), BC_OK);
	for (int r = 0; r < rounds; r++) {
		for (int s = 0; s < 3; s++) {
			struct member *to[2] = {&m[(s + 1) % 3], &m[(s + 2) % 3]};
			snprintf(t, sizeof(t), "%s round %d", names[s], r);
			assert_int_equal(m_send(&m[s], to, 2, t, NULL), BC_OK);
			/* The two readers read it before they speak. */
			for (int k = 1; k <= 2; k++) {
				int x = (s + k) % 3;
				m_recv(&m[x], g[x], g[x]->n + 1, 10000);
				assert_int_not_equal(got_find(g[x], t), -1);
			}
		}
	}
	for (int x = 0; x < 3; x++) {
		/* Everyone saw everyone else's messages, each once, in order. */
		assert_int_equal(g[x]->n, 2 * rounds);
		for (int s = 0; s < 3; s++) {
			int prev = -1;
			if (s == x)
				continue;
			for (int r = 0; r < rounds; r++) {
				int at;
				snprintf(t, sizeof(t), "%s round %d", names[s], r);
				at = got_find(g[x], t);
				assert_true(at > prev);
				assert_int_equal(got_count(g[x], t), 1);
				assert_memory_equal(g[x]->sender[at], m[s].id,
						    BC_E2E_ID_LEN);
				assert_int_equal(g[x]->audience[at], 3);
				assert_int_equal(g[x]->kind[at], BC_TX_OK);
				prev = at;
			}
		}
		assert_int_equal(g[x]->errors, 0);
		assert_int_equal(g[x]->fatal, 0);
	}
	/* Reader-bound copies: A's copy for B, posted (by a hostile relay or
	 * member) to C's mailbox, does not open for C. */
	{
		struct member *to[2] = {&m[1], &m[2]};
		struct sealed s;
		uint8_t rid[BC_MSGID_LEN];
		const struct contact *kc = contact(&m[0], m[2].id);
		bc_client_copy cp;
		int before = g[2]->n, errs = g[2]->errors;
		assert_non_null(kc);
		assert_int_equal(m_send(&m[0], to, 2, "for b and c", &s), BC_OK);
		randombytes_buf(rid, sizeof(rid));
		cp = (bc_client_copy){kc->mb, kc->cap, s.bodies[0], s.lens[0]};
		assert_int_equal(bc_client_post(m[0].c, rid, &cp, 1, NULL), BC_OK);
		m_recv(&m[2], g[2], before + 1, 10000);
		msleep(50);
		m_recv(&m[2], g[2], before + 2, 300); /* nothing more comes */
		assert_int_equal(g[2]->n, before + 1);
		assert_int_equal(got_count(g[2], "for b and c"), 1);
		assert_int_equal(g[2]->errors, errs + 1);
		assert_int_equal(g[2]->last_err, BC_ERR_AUTH);
		assert_int_equal(m_waiting(&m[2]), 0);
		m_recv(&m[1], g[1], g[1]->n + 1, 10000);
		assert_int_equal(got_count(g[1], "for b and c"), 1);
		sealed_free(&s);
	}
	printf("# three members: delivered %d/%d/%d, misdirected copy refused\n",
	       g[0]->n, g[1]->n, g[2]->n);
	for (int i = 0; i < 3; i++) {
		m_close(&m[i]);
		free(g[i]);
	}
}

/* ---- 3. out of order and loss --------------------------------------------- */

static bool has_report(const bc_e2e_result *res, bc_tx_event k, uint64_t first,
		       uint64_t last)
{
	for (size_t i = 0; i < res->nreports; i++)
		if (res->reports[i].kind == k &&
		    (first == 0 || (res->reports[i].first == first &&
				    res->reports[i].last == last)))
			return true;
	return false;
}

/* Fetch every waiting relay message of m (no ack). */
static void fetch_all(struct member *m, struct items *it)
{
	bool more = true;
	memset(it, 0, sizeof(*it));
	assert_int_equal(bc_client_fetch(m->c, m->mb, 0, 100, items_add, it,
					 &more),
			 BC_OK);
	assert_false(more);
}

static const struct item *item_by_id(const struct items *it,
				     const uint8_t id[BC_MSGID_LEN])
{
	for (size_t i = 0; i < it->n; i++)
		if (memcmp(it->v[i].id, id, BC_MSGID_LEN) == 0)
			return &it->v[i];
	return NULL;
}

static int open_item(struct member *m, const struct item *x,
		     bc_e2e_result *res)
{
	int rc = bc_e2e_open(m->e, x->id, x->body, x->len, NOW, res);
	/* the adversary is done with it either way */
	assert_int_equal(bc_client_ack(m->c, m->mb,
				       (const uint8_t(*)[BC_MSGID_LEN])x->id, 1,
				       NULL),
			 BC_OK);
	return rc;
}

static void expect_msg(const bc_e2e_result *res, size_t k, const char *text,
		       bc_tx_event kind)
{
	assert_true(res->nmsgs > k);
	assert_int_equal(res->msgs[k].clen, strlen(text));
	assert_memory_equal(res->msgs[k].content, text, strlen(text));
	assert_int_equal(res->msgs[k].kind, kind);
}

static void out_of_order_and_loss(void **state)
{
	struct member a, b;
	struct sealed s[8];
	struct items it;
	bc_e2e_result res;
	bc_tx_gap gaps[4];
	size_t ngaps = 0;
	const int order[5] = {1, 4, 2, 3, 6};
	struct member *tb[1];
	(void)state;
	pair(&a, &b, "t3a", "t3b");
	tb[0] = &b;
	assert_int_equal(m_start(&a, b.id, NULL), BC_OK);
	for (int i = 1; i <= 6; i++) {
		char t[16];
		snprintf(t, sizeof(t), "m%d", i);
		assert_int_equal(m_send(&a, tb, 1, t, &s[i]), BC_OK);
	}
	/* The network: everything is at the relay; feed 1,4,2,3,6, drop 5. */
	fetch_all(&b, &it);
	assert_int_equal(it.n, 6);
	for (int k = 0; k < 5; k++) {
		int i = order[k];
		const struct item *x = item_by_id(&it, s[i].id);
		assert_non_null(x);
		assert_int_equal(open_item(&b, x, &res), BC_OK);
		assert_false(res.duplicate);
		switch (i) {
		case 1:
			assert_int_equal(res.nmsgs, 1);
			expect_msg(&res, 0, "m1", BC_TX_OK);
			break;
		case 4: /* 2..3 missing: held */
			assert_int_equal(res.nmsgs, 0);
			assert_true(has_report(&res, BC_TX_GAP, 2, 3));
			break;
		case 2: /* fills the start of the gap; 4 still waits for 3 */
			assert_int_equal(res.nmsgs, 1);
			expect_msg(&res, 0, "m2", BC_TX_REORDER);
			break;
		case 3: /* fills the gap: 4 is released after it */
			assert_int_equal(res.nmsgs, 2);
			expect_msg(&res, 0, "m3", BC_TX_REORDER);
			expect_msg(&res, 1, "m4", BC_TX_RELEASED);
			assert_true(has_report(&res, BC_TX_RELEASED, 0, 0));
			break;
		case 6: /* skipped key for 5; 6 decrypts and is held */
			assert_int_equal(res.nmsgs, 0);
			assert_true(has_report(&res, BC_TX_GAP, 5, 5));
			break;
		}
		bc_e2e_result_clear(&res);
	}
	/* The relay drops m5 for good. */
	assert_int_equal(bc_client_ack(b.c, b.mb,
				       (const uint8_t(*)[BC_MSGID_LEN])s[5].id,
				       1, NULL),
			 BC_OK);
	items_free(&it);
	assert_int_equal(bc_e2e_missing(b.e, gaps, 4, &ngaps), BC_OK);
	assert_int_equal(ngaps, 1);
	assert_memory_equal(gaps[0].sender, a.id, BC_E2E_ID_LEN);
	assert_int_equal(gaps[0].first, 5);
	assert_int_equal(gaps[0].last, 5);
	/* The inbox holds 1,2,3,4 in chain order. */
	{
		struct inbox in;
		const char *want[4] = {"m1", "m2", "m3", "m4"};
		inbox_read(b.st, &in);
		assert_int_equal(in.n, 4);
		for (int i = 0; i < 4; i++) {
			assert_string_equal(in.v[i].text, want[i]);
			assert_int_equal(in.v[i].meta.seq, (uint64_t)i + 1);
		}
		free(in.v);
	}
	/* The session goes on both ways: B answers (a new DH step), A's next
	 * message decrypts on B (held behind the reported gap, never
	 * silently repaired). */
	{
		struct got *ga = got_new();
		assert_int_equal(m_send1(&b, &a, "b1"), BC_OK);
		m_recv(&a, ga, 1, 10000);
		assert_int_equal(ga->n, 1);
		assert_string_equal(ga->text[0], "b1");
		free(ga);
	}
	assert_int_equal(m_send(&a, tb, 1, "m7", &s[7]), BC_OK);
	fetch_all(&b, &it);
	assert_int_equal(it.n, 1);
	assert_int_equal(open_item(&b, &it.v[0], &res), BC_OK);
	assert_int_equal(res.nmsgs, 0);
	assert_true(has_report(&res, BC_TX_GAP, 5, 6));
	bc_e2e_result_clear(&res);
	items_free(&it);
	assert_int_equal(bc_e2e_missing(b.e, gaps, 4, &ngaps), BC_OK);
	assert_int_equal(ngaps, 1);
	assert_int_equal(gaps[0].first, 5);
	printf("# out of order: fed 1,4,2,3,6 (5 lost): delivered 1..4, "
	       "gap 5..5 reported, 6 and 7 held\n");
	for (int i = 1; i <= 7; i++)
		sealed_free(&s[i]);
	m_close(&a);
	m_close(&b);
}

/* A message delayed across a DH ratchet step is still opened with its
 * skipped key and releases what was held behind it. */
static void late_message_across_ratchet_step(void **state)
{
	struct member a, b;
	struct sealed s[9];
	struct items it;
	bc_e2e_result res;
	struct member *tb[1];
	size_t ngaps = 9;
	(void)state;
	pair(&a, &b, "t3c", "t3d");
	tb[0] = &b;
	assert_int_equal(m_start(&a, b.id, NULL), BC_OK);
	for (int i = 1; i <= 6; i++) {
		char t[16];
		snprintf(t, sizeof(t), "m%d", i);
		assert_int_equal(m_send(&a, tb, 1, t, &s[i]), BC_OK);
	}
	fetch_all(&b, &it);
	assert_int_equal(it.n, 6);
	for (int i = 1; i <= 6; i++) {
		if (i == 5)
			continue; /* delayed */
		assert_int_equal(open_item(&b, item_by_id(&it, s[i].id), &res),
				 BC_OK);
		bc_e2e_result_clear(&res);
	}
	/* B answers, A reads it: both take a DH ratchet step. */
	{
		struct got *ga = got_new();
		assert_int_equal(m_send1(&b, &a, "b1"), BC_OK);
		m_recv(&a, ga, 1, 10000);
		assert_int_equal(ga->n, 1);
		free(ga);
	}
	for (int i = 7; i <= 8; i++) {
		char t[16];
		struct items i2;
		snprintf(t, sizeof(t), "m%d", i);
		assert_int_equal(m_send(&a, tb, 1, t, &s[i]), BC_OK);
		/* s[5]'s copy is still at the relay; read only the new one */
		fetch_all(&b, &i2);
		assert_int_equal(open_item(&b, item_by_id(&i2, s[i].id), &res),
				 BC_OK);
		assert_int_equal(res.nmsgs, 0); /* held behind 5 */
		bc_e2e_result_clear(&res);
		items_free(&i2);
	}
	/* Now m5 arrives, two days late (skipped keys live 7 days). */
	NOW += 2 * DAY;
	assert_int_equal(open_item(&b, item_by_id(&it, s[5].id), &res), BC_OK);
	NOW = T0;
	assert_int_equal(res.nmsgs, 4);
	expect_msg(&res, 0, "m5", BC_TX_REORDER);
	expect_msg(&res, 1, "m6", BC_TX_RELEASED);
	expect_msg(&res, 2, "m7", BC_TX_RELEASED);
	expect_msg(&res, 3, "m8", BC_TX_RELEASED);
	bc_e2e_result_clear(&res);
	items_free(&it);
	assert_int_equal(bc_e2e_missing(b.e, NULL, 0, &ngaps), BC_OK);
	assert_int_equal(ngaps, 0);
	/* A replay of m5 under a new relay id is refused. (Its skipped key is
	 * gone with the old chain's header key, so no session recognises it:
	 * it is tried as a setup whose one-time prekey is used up.) */
	{
		uint8_t rid[BC_MSGID_LEN];
		struct inbox in;
		int rc;
		randombytes_buf(rid, sizeof(rid));
		rc = bc_e2e_open(b.e, rid, s[5].bodies[0], s[5].lens[0], NOW,
				 &res);
		assert_true(rc == BC_ERR_REPLAY || rc == BC_ERR_AUTH ||
			    rc == BC_ERR_NOTFOUND);
		inbox_read(b.st, &in);
		assert_int_equal(in.n, 8);
		free(in.v);
	}
	assert_int_equal(m_waiting(&b), 0);
	printf("# late message: m5 opened after a ratchet step, released 6..8\n");
	for (int i = 1; i <= 8; i++)
		sealed_free(&s[i]);
	m_close(&a);
	m_close(&b);
}

/* ---- 4. long offline period ---------------------------------------------- */

static void long_offline_period(void **state)
{
	struct member a, b;
	struct got *gb = got_new(), *ga = got_new();
	struct member *tb[1];
	bool reupload = false;
	char t[32];
	const int N = 50;
	(void)state;
	pair(&a, &b, "t4a", "t4b");
	tb[0] = &b;
	/* B goes offline before A even opens the session. */
	m_close(&b);
	assert_int_equal(m_start(&a, b.id, NULL), BC_OK);
	for (int i = 0; i < N; i++) {
		NOW = T0 + (uint64_t)i * 3600; /* one an hour */
		snprintf(t, sizeof(t), "n=%d", i);
		assert_int_equal(m_send(&a, tb, 1, t, NULL), BC_OK);
	}
	/* Twelve days later B comes back: same store, same transport key
	 * (the mailbox's owner); a new connection. */
	NOW = T0 + 12 * DAY;
	assert_int_equal(m_open(&b), BC_OK);
	assert_int_equal(bc_client_subscribe(b.c, b.mb), BC_OK);
	m_recv_push(&b, gb, N, 15000);
	assert_int_equal(gb->n, N);
	for (int i = 0; i < N; i++) {
		snprintf(t, sizeof(t), "n=%d", i);
		assert_string_equal(gb->text[i], t);
		assert_int_equal(gb->kind[i], BC_TX_OK);
	}
	assert_int_equal(gb->errors + gb->fatal, 0);
	/* Only after the mailbox: the chores (the signed prekey is old and
	 * rotates), then a new upload. */
	assert_int_equal(bc_e2e_maintain(b.e, NOW, &reupload), BC_OK);
	assert_true(reupload);
	assert_int_equal(m_upload(&b, BC_PREKEY_MAX_BATCH), BC_OK);
	/* The session works both ways after the rotation... */
	assert_int_equal(m_send1(&b, &a, "welcome back"), BC_OK);
	m_recv(&a, ga, 1, 10000);
	assert_int_equal(ga->n, 1);
	assert_string_equal(ga->text[0], "welcome back");
	assert_int_equal(m_send(&a, tb, 1, "after", NULL), BC_OK);
	m_recv_push(&b, gb, N + 1, 10000);
	assert_int_equal(gb->n, N + 1);
	assert_string_equal(gb->text[N], "after");
	/* ...and after another long absence, past the old prekey's grace. */
	m_close(&b);
	NOW = T0 + 30 * DAY;
	for (int i = 0; i < 5; i++) {
		snprintf(t, sizeof(t), "late %d", i);
		assert_int_equal(m_send(&a, tb, 1, t, NULL), BC_OK);
	}
	NOW = T0 + 40 * DAY;
	assert_int_equal(m_open(&b), BC_OK);
	m_recv(&b, gb, N + 6, 10000);
	assert_int_equal(gb->n, N + 6);
	assert_string_equal(gb->text[N + 5], "late 4");
	assert_int_equal(bc_e2e_maintain(b.e, NOW, &reupload), BC_OK);
	assert_int_equal(m_send1(&b, &a, "still here"), BC_OK);
	m_recv(&a, ga, 2, 10000);
	assert_int_equal(ga->n, 2);
	assert_string_equal(ga->text[1], "still here");
	assert_int_equal(gb->errors + gb->fatal + ga->errors + ga->fatal, 0);
	assert_int_equal(m_waiting(&b), 0);
	printf("# long offline: %d messages queued over %d hours, drained in "
	       "order after 12 days; 5 more after 40 days\n",
	       N, N);
	NOW = T0;
	m_close(&a);
	m_close(&b);
	free(ga);
	free(gb);
}

/* The other side of a long absence: A fetches B's bundle and opens the
 * session, then is away for 15 days while B does its daily chores (its
 * signed prekey rotates after 7 days and the old one is dropped 7 days
 * later). A's first message carries a setup header for a prekey B no
 * longer holds. It must not be lost without anyone knowing: either it
 * opens, or bc_e2e_seal refuses the stale session (BC_ERR_STATE) so that
 * A starts a new one from a fresh bundle and sends again. */
static void initiator_offline_past_prekey_grace(void **state)
{
	struct member a, b;
	struct got *ga = got_new(), *gb = got_new();
	bool reupload = false, restarted = false;
	int rc, rc_start = BC_OK, rc_reply;
	(void)state;
	pair(&a, &b, "t4c", "t4d");
	assert_int_equal(m_start(&a, b.id, NULL), BC_OK);
	for (int d = 1; d <= 15; d++) {
		NOW = T0 + (uint64_t)d * DAY;
		assert_int_equal(bc_e2e_maintain(b.e, NOW, &reupload), BC_OK);
		if (reupload)
			assert_int_equal(m_upload(&b, BC_PREKEY_MAX_BATCH), BC_OK);
	}
	rc = m_send1(&a, &b, "sorry, I was away");
	if (rc == BC_ERR_STATE) {
		restarted = true;
		rc_start = m_start(&a, b.id, NULL);
		rc = m_send1(&a, &b, "sorry, I was away");
	}
	m_recv(&b, gb, 1, 1500);
	rc_reply = m_send1(&b, &a, "welcome");
	if (rc_reply == BC_OK)
		m_recv(&a, ga, 1, 3000);
	printf("# initiator away 15 days: %s, delivered %d, B's open errors %d "
	       "(%s)\n",
	       restarted ? "stale session refused and restarted"
			 : "sent on the old session",
	       gb->n, gb->errors,
	       gb->errors ? bc_strerror(gb->last_err) : "none");
	NOW = T0;
	/* Clean up first: the checks below fail on today's engine. */
	{
		int b_errors = gb->errors, b_n = gb->n, a_n = ga->n;
		bool text_ok = gb->n == 1 &&
			       strcmp(gb->text[0], "sorry, I was away") == 0;
		m_close(&a);
		m_close(&b);
		free(ga);
		free(gb);
		assert_int_equal(rc_start, BC_OK);
		assert_int_equal(rc, BC_OK);
		assert_int_equal(b_errors, 0);
		assert_int_equal(b_n, 1);
		assert_true(text_ok);
		assert_int_equal(rc_reply, BC_OK);
		assert_int_equal(a_n, 1);
	}
}

/* ---- 5. prekey exhaustion -------------------------------------------------- */

static void prekey_exhaustion(void **state)
{
	struct member b, c[5];
	struct got *gb = got_new();
	struct sealed first[5];
	bool otp[5] = {0};
	char t[32];
	(void)state;
	memset(first, 0, sizeof(first));
	assert_int_equal(m_create(&b, "t5b"), BC_OK);
	for (int i = 0; i < 5; i++) {
		char n[16];
		snprintf(n, sizeof(n), "t5c%d", i);
		assert_int_equal(m_create(&c[i], n), BC_OK);
		assert_int_equal(invite_both(&b, &c[i]), BC_OK);
		assert_int_equal(m_upload(&c[i], BC_PREKEY_MAX_BATCH), BC_OK);
	}
	/* B's relay holds only two one-time prekeys. */
	assert_int_equal(m_upload(&b, 2), BC_OK);
	assert_int_equal(b.relay_opk, 2);
	for (int i = 0; i < 4; i++) {
		struct member *tb[1] = {&b};
		assert_int_equal(m_start(&c[i], b.id, &otp[i]), BC_OK);
		snprintf(t, sizeof(t), "hello from %d", i);
		assert_int_equal(m_send(&c[i], tb, 1, t, &first[i]), BC_OK);
	}
	assert_true(otp[0] && otp[1]);
	assert_false(otp[2] || otp[3]);
	m_recv(&b, gb, 4, 10000);
	assert_int_equal(gb->n, 4);
	for (int i = 0; i < 4; i++) {
		int at;
		snprintf(t, sizeof(t), "hello from %d", i);
		at = got_find(gb, t);
		assert_int_not_equal(at, -1);
		assert_memory_equal(gb->sender[at], c[i].id, BC_E2E_ID_LEN);
	}
	assert_int_equal(gb->errors, 0);
	/* A session set up without a one-time prekey: its first message,
	 * replayed under a new relay id, is refused and delivers nothing. */
	{
		const struct contact *k = contact(&c[3], b.id);
		uint8_t rid[BC_MSGID_LEN];
		bc_client_copy cp = {k->mb, k->cap, first[3].bodies[0],
				     first[3].lens[0]};
		int before = gb->n;
		randombytes_buf(rid, sizeof(rid));
		assert_int_equal(bc_client_post(c[3].c, rid, &cp, 1, NULL),
				 BC_OK);
		m_recv(&b, gb, before + 1, 500);
		assert_int_equal(gb->n, before);
		assert_int_equal(gb->errors, 1);
		assert_true(gb->last_err == BC_ERR_REPLAY ||
			    gb->last_err == BC_ERR_AUTH);
		assert_int_equal(m_waiting(&b), 0);
	}
	/* All four sessions work both ways. */
	for (int i = 0; i < 4; i++) {
		struct got *g = got_new();
		snprintf(t, sizeof(t), "reply to %d", i);
		assert_int_equal(m_send1(&b, &c[i], t), BC_OK);
		m_recv(&c[i], g, 1, 10000);
		assert_int_equal(g->n, 1);
		assert_string_equal(g->text[0], t);
		snprintf(t, sizeof(t), "again from %d", i);
		assert_int_equal(m_send1(&c[i], &b, t), BC_OK);
		free(g);
	}
	m_recv(&b, gb, 8, 10000);
	assert_int_equal(gb->n, 8);
	/* B replenishes with the count the relay reports. */
	{
		bc_mbox_status s;
		assert_int_equal(bc_client_open(b.c, b.mb, &s), BC_OK);
		assert_int_equal(s.onetime_prekeys, 0);
		b.relay_opk = s.onetime_prekeys;
		assert_int_equal(m_upload(&b, BC_PREKEY_MAX_BATCH), BC_OK);
		assert_int_equal(b.relay_opk, BC_PREKEY_TARGET);
	}
	{
		struct got *g = got_new();
		assert_int_equal(m_start(&c[4], b.id, &otp[4]), BC_OK);
		assert_true(otp[4]);
		assert_int_equal(m_send1(&c[4], &b, "hello from 4"), BC_OK);
		m_recv(&b, gb, 9, 10000);
		assert_int_equal(gb->n, 9);
		assert_string_equal(gb->text[8], "hello from 4");
		assert_int_equal(m_send1(&b, &c[4], "reply to 4"), BC_OK);
		m_recv(&c[4], g, 1, 10000);
		assert_int_equal(g->n, 1);
		free(g);
	}
	assert_int_equal(gb->fatal, 0);
	printf("# prekeys: one-time prekeys given: %d %d %d %d, after "
	       "replenishing: %d (relay holds %u)\n",
	       otp[0], otp[1], otp[2], otp[3], otp[4], b.relay_opk);
	for (int i = 0; i < 5; i++) {
		sealed_free(&first[i]);
		m_close(&c[i]);
	}
	m_close(&b);
	free(gb);
}

/* ---- more peers than the trial-decryption table -------------------------- */

/* A member who has talked with many others (sessions are never deleted)
 * still opens messages from every one of them, old peers included. */
static void many_peers(void **state)
{
	struct member b, c0, c;
	struct got *gb = got_new();
	const int npeers = 70;
	int first_fail = -1, fail_rc = 0, old_peer_rc = 0;
	int64_t t0 = now_ms();
	(void)state;
	assert_int_equal(m_create(&b, "t8b"), BC_OK);
	assert_int_equal(m_upload(&b, BC_PREKEY_MAX_BATCH), BC_OK);
	for (int i = 0; i < npeers; i++) {
		struct member *m = i == 0 ? &c0 : &c;
		char n[16], t[32];
		snprintf(n, sizeof(n), "t8c%d", i);
		snprintf(t, sizeof(t), "hello from %d", i);
		/* senders only: no mailbox of their own */
		assert_int_equal(m_create_ex(m, n, false), BC_OK);
		if (i == 0) {
			assert_int_equal(invite(&b, m), BC_OK);
		} else { /* the same invite, passed on (saves time) */
			m->ct[0] = c0.ct[0];
			m->nct = 1;
		}
		assert_int_equal(m_start(m, b.id, NULL), BC_OK);
		assert_int_equal(m_send1(m, &b, t), BC_OK);
		if (m != &c0)
			m_close(m);
		m_recv(&b, gb, i + 1, 1500);
		if (gb->n != i + 1) {
			first_fail = i;
			fail_rc = gb->last_err;
			break;
		}
	}
	/* The first peer writes again. */
	{
		int before = gb->n, errs = gb->errors;
		assert_int_equal(m_send1(&c0, &b, "first peer again"), BC_OK);
		m_recv(&b, gb, before + 1, 1500);
		if (gb->errors != errs)
			old_peer_rc = gb->last_err;
	}
	printf("# many peers: %d of %d first messages opened (first failure: "
	       "%s%d, %s); the first peer's next message: %s; %.1f s\n",
	       first_fail < 0 ? npeers : first_fail, npeers,
	       first_fail < 0 ? "-" : "peer #", first_fail + 1,
	       first_fail < 0 ? "none" : bc_strerror(fail_rc),
	       old_peer_rc == 0 ? "opened" : bc_strerror(old_peer_rc),
	       (double)(now_ms() - t0) / 1000.0);
	m_close(&c0);
	m_close(&b);
	{
		int n = gb->n, errs = gb->errors + gb->fatal;
		free(gb);
		assert_int_equal(first_fail, -1);
		assert_int_equal(old_peer_rc, 0);
		assert_int_equal(n, npeers + 1);
		assert_int_equal(errs, 0);
	}
}

/* ---- both open a session at once --------------------------------------------- */

static void simultaneous_start(void **state)
{
	struct member a, b;
	struct got *ga = got_new(), *gb = got_new();
	(void)state;
	pair(&a, &b, "t9a", "t9b");
	assert_int_equal(m_start(&a, b.id, NULL), BC_OK);
	assert_int_equal(m_start(&b, a.id, NULL), BC_OK);
	assert_int_equal(m_send1(&a, &b, "from a"), BC_OK);
	assert_int_equal(m_send1(&b, &a, "from b"), BC_OK);
	m_recv(&b, gb, 1, 10000);
	m_recv(&a, ga, 1, 10000);
	assert_int_equal(gb->n, 1);
	assert_int_equal(ga->n, 1);
	assert_string_equal(gb->text[0], "from a");
	assert_string_equal(ga->text[0], "from b");
	for (int i = 0; i < 8; i++) {
		char t[32];
		struct member *from = i % 2 ? &a : &b, *to = i % 2 ? &b : &a;
		struct got *g = i % 2 ? gb : ga;
		snprintf(t, sizeof(t), "turn %d", i);
		assert_int_equal(m_send1(from, to, t), BC_OK);
		m_recv(to, g, g->n + 1, 10000);
		assert_string_equal(g->text[g->n - 1], t);
	}
	assert_int_equal(ga->n + gb->n, 10);
	assert_int_equal(ga->errors + gb->errors + ga->fatal + gb->fatal, 0);
	printf("# simultaneous start: converged, %d messages\n", ga->n + gb->n);
	m_close(&a);
	m_close(&b);
	free(ga);
	free(gb);
}

/* ---- 6. kill -9 of a receiver and of a sender --------------------------- */

/* Shared with forked children (MAP_SHARED). */
struct shm {
	int busy;  /* receiver: between fetch and ack */
	int sent;  /* sender: messages posted and reported sent */
	int errors, last_err, dups, reposts;
	int stop;  /* receiver: exit when the mailbox is empty */
};

#define LD(p) __atomic_load_n(&(p), __ATOMIC_SEQ_CST)
#define ST(p, v) __atomic_store_n(&(p), (v), __ATOMIC_SEQ_CST)
#define INC(p) __atomic_add_fetch(&(p), 1, __ATOMIC_SEQ_CST)

static void stream_id(uint8_t id[BC_MSGID_LEN], uint32_t tag, uint32_t i)
{
	memset(id, 0, BC_MSGID_LEN);
	bc_store32(id, 0x5E550000u);
	bc_store32(id + 4, tag);
	bc_store32(id + 12, i);
}

static void die(void)
{
	raise(SIGKILL);
	_exit(99);
}

/* The receiver process: open the store, then fetch / open / ack in a loop.
 * It kills itself (SIGKILL) after opening its die_at-th message and before
 * acknowledging it, when die_at > 0. */
static void receiver_child(struct member *m, struct shm *sh, int die_at)
{
	int n = 0;
	if (m_open(m) != BC_OK)
		_exit(10);
	for (;;) {
		struct items it = {0};
		bool more = false;
		ST(sh->busy, 1);
		if (bc_client_fetch(m->c, m->mb, 0, 8, items_add, &it, &more) !=
		    BC_OK)
			_exit(11);
		if (it.n == 0) {
			ST(sh->busy, 0);
			if (LD(sh->stop)) {
				m_close(m);
				_exit(0);
			}
			msleep(2);
			continue;
		}
		for (size_t i = 0; i < it.n; i++) {
			const struct item *x = &it.v[i];
			bc_e2e_result res;
			int rc = bc_e2e_open(m->e, x->id, x->body, x->len, NOW,
					     &res);
			if (rc == BC_OK) {
				if (res.duplicate)
					INC(sh->dups);
				bc_e2e_result_clear(&res);
			} else if (rc == BC_ERR_STORAGE || rc == BC_ERR_NOMEM) {
				_exit(12);
			} else {
				INC(sh->errors);
				ST(sh->last_err, rc);
			}
			if (++n == die_at)
				die();
			if (bc_client_ack(m->c, m->mb,
					  (const uint8_t(*)[BC_MSGID_LEN])x->id,
					  1, NULL) != BC_OK)
				_exit(13);
		}
		items_free(&it);
	}
}

static pid_t spawn_receiver(struct member *m, struct shm *sh, int die_at)
{
	pid_t pid;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		receiver_child(m, sh, die_at);
	return pid;
}

/* Reap pid if it has ended: 0 = still running, 1 = killed by SIGKILL,
 * 2 = exited 0, -1 = anything else (st in *how). */
static int reap(pid_t pid, int *how)
{
	int st = 0;
	pid_t r = waitpid(pid, &st, WNOHANG);
	*how = st;
	if (r == 0)
		return 0;
	if (r != pid)
		return -1;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		return 1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 2;
	return -1;
}

static void kill9(pid_t pid)
{
	int st;
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

static void *shm_new(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	memset(p, 0, n);
	return p;
}

static void kill9_receiver(void **state)
{
	struct member a, b;
	struct shm *sh = shm_new(sizeof(struct shm));
	const int total = crash_msgs, nkills = 8;
	int kill_after[8], parent_kills = 0, self_kills = 0, busy_kills = 0;
	int incarnation = 0, k = 0, bad_exits = 0, how = 0;
	pid_t pid;
	int64_t t0 = now_ms();
	(void)state;
	pair(&a, &b, "t6a", "t6b");
	assert_int_equal(m_start(&a, b.id, NULL), BC_OK);
	/* Kill points: spread over the stream, random within their slice. */
	for (int i = 0; i < nkills; i++)
		kill_after[i] = (i + 1) * total / (nkills + 1) -
				(int)randombytes_uniform(
					(uint32_t)(total / (nkills + 1) / 2 + 1));
	/* B lives in children from now on; the first one dies right after
	 * opening the session's first message, before the ack. */
	m_close(&b);
	pid = spawn_receiver(&b, sh, 1);
	assert_true(pid > 0);
	for (int i = 0; i < total; i++) {
		uint8_t id[BC_MSGID_LEN];
		char t[32];
		int r;
		snprintf(t, sizeof(t), "n=%d", i);
		stream_id(id, 6, (uint32_t)i);
		assert_int_equal(m_send_ids(&a, (const uint8_t(*)[32])b.id, 1,
					    id, t, NULL),
				 BC_OK);
		if (i == 0) {
			/* The first child dies on the session's setup message,
			 * after opening it and before the ack. */
			int64_t end = now_ms() + 10000;
			while ((r = reap(pid, &how)) == 0 && now_ms() < end)
				msleep(2);
			if (r == 0)
				kill9(pid);
			assert_int_equal(r, 1);
			self_kills++;
			incarnation++;
			pid = spawn_receiver(&b, sh, 0);
			assert_true(pid > 0);
			continue;
		}
		if ((r = reap(pid, &how)) != 0) {
			/* it killed itself (or failed): start the next one */
			if (r == 1)
				self_kills++;
			else
				bad_exits++;
			incarnation++;
			pid = spawn_receiver(&b, sh,
					     incarnation % 3 == 1
						     ? 1 + (int)randombytes_uniform(4)
						     : 0);
			assert_true(pid > 0);
		}
		if (k < nkills && i >= kill_after[k]) {
			/* let it get into the backlog, then kill it */
			usleep(randombytes_uniform(3000));
			if ((r = reap(pid, &how)) == 0) {
				busy_kills += LD(sh->busy);
				kill9(pid);
				parent_kills++;
			} else if (r == 1) {
				self_kills++;
			} else {
				bad_exits++;
			}
			k++;
			incarnation++;
			pid = spawn_receiver(&b, sh,
					     incarnation % 3 == 1
						     ? 1 + (int)randombytes_uniform(4)
						     : 0);
			assert_true(pid > 0);
		}
	}
	/* The last one drains the mailbox and exits. */
	ST(sh->stop, 1);
	for (int64_t end = now_ms() + 30000;;) {
		int r = reap(pid, &how);
		if (r == 2)
			break;
		if (r != 0) {
			if (r == 1)
				self_kills++;
			else
				bad_exits++;
			pid = spawn_receiver(&b, sh, 0);
			assert_true(pid > 0);
		}
		if (now_ms() > end) {
			kill9(pid);
			fail_msg("the last receiver did not finish");
		}
		msleep(5);
	}
	if (bad_exits)
		fprintf(stderr, "receiver exit status %d\n", how);
	assert_int_equal(bad_exits, 0);
	/* B, back in the parent: its application saw every message once. */
	assert_int_equal(m_open(&b), BC_OK);
	{
		struct inbox in;
		size_t ngaps = 9;
		int problems;
		inbox_read(b.st, &in);
		problems = inbox_check_stream(&in, a.id, total,
					      "kill -9 receiver",
					      parent_kills + self_kills);
		printf("# kill -9 receiver: %d by the parent (%d while it was "
		       "between fetch and ack), %d self-kills between open and "
		       "ack, %d redeliveries recognised, %d open errors "
		       "(last %d), %.1f s\n",
		       parent_kills, busy_kills, self_kills, LD(sh->dups),
		       LD(sh->errors),
		       LD(sh->last_err), (double)(now_ms() - t0) / 1000.0);
		assert_int_equal(problems, 0);
		assert_int_equal((int)in.n, total);
		free(in.v);
		assert_int_equal(bc_e2e_missing(b.e, NULL, 0, &ngaps), BC_OK);
		assert_int_equal(ngaps, 0);
	}
	assert_true(parent_kills >= 5);
	assert_true(self_kills >= 1);
	assert_int_equal(LD(sh->errors), 0);
	assert_true(LD(sh->dups) >= self_kills);
	assert_int_equal(m_waiting(&b), 0);
	/* The session is not broken: both ways. */
	{
		struct got *ga = got_new(), *gb = got_new();
		assert_int_equal(m_send1(&b, &a, "b after crashes"), BC_OK);
		m_recv(&a, ga, 1, 10000);
		assert_int_equal(ga->n, 1);
		assert_string_equal(ga->text[0], "b after crashes");
		assert_int_equal(m_send1(&a, &b, "a after crashes"), BC_OK);
		m_recv(&b, gb, 1, 10000);
		assert_int_equal(gb->n, 1);
		assert_string_equal(gb->text[0], "a after crashes");
		assert_int_equal(ga->errors + gb->errors, 0);
		free(ga);
		free(gb);
	}
	m_close(&a);
	m_close(&b);
	munmap(sh, sizeof(*sh));
}

/* The sender process: resume from the store, post the outbox again, then
 * seal / record progress / post / report sent for the rest. die_point
 * 0..2 kills it at the die_at-th message after the point it resumed from:
 * 0 after sealing, 1 after recording the progress, 2 after the post
 * (before bc_e2e_sent). */
struct obx {
	uint8_t id[BC_MSGID_LEN];
	uint8_t reader[BC_E2E_ID_LEN];
	uint8_t *body;
	size_t len;
};

struct obxs {
	struct obx v[64];
	int n;
	int bad;
};

static int obx_one(void *ctx, const uint8_t *msg_id,
		   const uint8_t (*readers)[BC_E2E_ID_LEN],
		   const uint8_t *const *bodies, const size_t *lens, size_t n)
{
	struct obxs *o = ctx;
	if (n != 1 || o->n == 64) {
		o->bad++;
		return BC_OK;
	}
	memcpy(o->v[o->n].id, msg_id, BC_MSGID_LEN);
	memcpy(o->v[o->n].reader, readers[0], BC_E2E_ID_LEN);
	o->v[o->n].body = malloc(lens[0]);
	if (o->v[o->n].body == NULL)
		return BC_ERR_NOMEM;
	memcpy(o->v[o->n].body, bodies[0], lens[0]);
	o->v[o->n].len = lens[0];
	o->n++;
	return BC_OK;
}

static const uint8_t PROGRESS[] = "next";

static void sender_child(struct member *m, const uint8_t reader[BC_E2E_ID_LEN],
			 int total, struct shm *sh, int die_point, int die_at)
{
	struct obxs *o = calloc(1, sizeof(*o));
	const struct contact *k = contact(m, reader);
	uint32_t next = 0;
	uint8_t *v = NULL;
	size_t vl = 0;
	int rc;
	if (o == NULL || k == NULL || m_open(m) != BC_OK)
		_exit(20);
	rc = bc_store_get(m->st, "app", PROGRESS, 4, &v, &vl);
	if (rc == BC_OK && vl == 4)
		next = bc_load32(v);
	else if (rc != BC_ERR_NOTFOUND)
		_exit(21);
	bc_free(v);
	/* Post again what was sealed and not reported sent. */
	if (bc_e2e_outbox(m->e, obx_one, o) != BC_OK || o->bad)
		_exit(22);
	for (int i = 0; i < o->n; i++) {
		bc_client_copy cp = {k->mb, k->cap, o->v[i].body, o->v[i].len};
		uint32_t at = bc_load32(o->v[i].id + 12);
		if (memcmp(o->v[i].reader, reader, BC_E2E_ID_LEN) != 0)
			_exit(23);
		if (bc_client_post(m->c, o->v[i].id, &cp, 1, NULL) != BC_OK)
			_exit(24);
		if (bc_e2e_sent(m->e, o->v[i].id) != BC_OK)
			_exit(25);
		if (at + 1 > next)
			next = at + 1;
		INC(sh->reposts);
		free(o->v[i].body);
	}
	free(o);
	die_at += (int)next;
	for (uint32_t i = next; i < (uint32_t)total; i++) {
		uint8_t id[BC_MSGID_LEN], **bodies = NULL, pv[4];
		size_t *lens = NULL;
		char t[32];
		bc_client_copy cp;
		snprintf(t, sizeof(t), "n=%u", i);
		stream_id(id, 7, i);
		if (bc_e2e_seal(m->e, (const uint8_t(*)[32])reader, 1, id,
				(const uint8_t *)t, strlen(t), NOW, &bodies,
				&lens) != BC_OK)
			_exit(26);
		if (die_point == 0 && (int)i == die_at)
			die();
		bc_store32(pv, i + 1);
		if (bc_store_put(m->st, "app", PROGRESS, 4, pv, 4) != BC_OK)
			_exit(27);
		if (die_point == 1 && (int)i == die_at)
			die();
		cp = (bc_client_copy){k->mb, k->cap, bodies[0], lens[0]};
		if (bc_client_post(m->c, id, &cp, 1, NULL) != BC_OK)
			_exit(28);
		bc_e2e_bodies_free(bodies, lens, 1);
		if (die_point == 2 && (int)i == die_at)
			die();
		if (bc_e2e_sent(m->e, id) != BC_OK)
			_exit(29);
		ST(sh->sent, (int)i + 1);
	}
	m_close(m);
	_exit(0);
}

static pid_t spawn_sender(struct member *m, const uint8_t *reader, int total,
			  struct shm *sh, int die_point, int die_at)
{
	pid_t pid;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		sender_child(m, reader, total, sh, die_point, die_at);
	return pid;
}

static void kill9_sender(void **state)
{
	struct member a, b;
	struct shm *sh = shm_new(sizeof(struct shm));
	struct got *gb = got_new();
	const int total = crash_msgs, nkills = 6;
	int kill_at[6], parent_kills = 0, self_kills = 0, bad = 0, k = 0;
	int incarnation = 0, how = 0;
	pid_t pid;
	int64_t t0 = now_ms(), end;
	(void)state;
	pair(&a, &b, "t6c", "t6d");
	assert_int_equal(m_start(&a, b.id, NULL), BC_OK);
	for (int i = 0; i < nkills; i++)
		kill_at[i] = (i + 1) * total / (nkills + 1) +
			     (int)randombytes_uniform(
				     (uint32_t)(total / (nkills + 1) / 2 + 1));
	m_close(&a);
	/* The first three die at a chosen point, then the parent kills. */
	pid = spawn_sender(&a, b.id, total, sh, 0, 3);
	assert_true(pid > 0);
	end = now_ms() + 45000;
	for (;;) {
		int r = reap(pid, &how);
		struct items it = {0};
		bool more = false;
		if (r == 2)
			break;
		if (r != 0 || (k < nkills && LD(sh->sent) >= kill_at[k])) {
			if (r == 0) {
				usleep(randombytes_uniform(2500));
				if ((r = reap(pid, &how)) == 0) {
					kill9(pid);
					parent_kills++;
				} else if (r == 1) {
					self_kills++;
				} else {
					bad++;
				}
				k++;
			} else if (r == 1) {
				self_kills++;
			} else {
				bad++;
				fprintf(stderr, "sender exit status %d\n", how);
			}
			incarnation++;
			{
				int dp = incarnation < 3 ? incarnation : -1;
				pid = spawn_sender(&a, b.id, total, sh, dp,
						   (int)randombytes_uniform(3));
			}
			assert_true(pid > 0);
		}
		if (bad > 3 || now_ms() > end) {
			kill9(pid);
			fail_msg("the sender did not finish (%d failures)", bad);
		}
		/* B reads along. */
		assert_int_equal(bc_client_fetch(b.c, b.mb, 0, 16, items_add,
						 &it, &more),
				 BC_OK);
		for (size_t i = 0; i < it.n; i++)
			(void)process(&b, &it.v[i], gb, true);
		if (it.n == 0)
			msleep(2);
		items_free(&it);
	}
	assert_int_equal(bad, 0);
	m_recv(&b, gb, total, 15000);
	msleep(100);
	m_recv(&b, gb, total + 1, 200); /* late duplicates, if any */
	{
		struct inbox in;
		size_t ngaps = 9;
		int problems;
		inbox_read(b.st, &in);
		problems = inbox_check_stream(&in, a.id, total, "kill -9 sender",
					      parent_kills + self_kills);
		printf("# kill -9 sender: %d by the parent, %d self-kills "
		       "(after seal / after progress / after post), outbox "
		       "reposts %d, redeliveries recognised %d, open errors %d "
		       "(last %d), %.1f s\n",
		       parent_kills, self_kills, LD(sh->reposts), gb->dups,
		       gb->errors, gb->last_err,
		       (double)(now_ms() - t0) / 1000.0);
		assert_int_equal(problems, 0);
		assert_int_equal((int)in.n, total);
		free(in.v);
		assert_int_equal(bc_e2e_missing(b.e, NULL, 0, &ngaps), BC_OK);
		assert_int_equal(ngaps, 0);
	}
	assert_int_equal(gb->n, total);
	assert_int_equal(gb->errors + gb->fatal, 0);
	assert_true(parent_kills >= 5);
	assert_true(self_kills >= 3);
	assert_true(LD(sh->reposts) >= 2);
	/* A, back in the parent: nothing left in its outbox; both ways. */
	assert_int_equal(m_open(&a), BC_OK);
	{
		struct obxs *o = calloc(1, sizeof(*o));
		struct got *ga = got_new();
		assert_non_null(o);
		assert_int_equal(bc_e2e_outbox(a.e, obx_one, o), BC_OK);
		assert_int_equal(o->n, 0);
		free(o);
		assert_int_equal(m_send1(&b, &a, "b after crashes"), BC_OK);
		m_recv(&a, ga, 1, 10000);
		assert_int_equal(ga->n, 1);
		assert_string_equal(ga->text[0], "b after crashes");
		assert_int_equal(m_send1(&a, &b, "a after crashes"), BC_OK);
		m_recv(&b, gb, total + 1, 10000);
		assert_int_equal(gb->n, total + 1);
		assert_string_equal(gb->text[total], "a after crashes");
		assert_int_equal(ga->errors + gb->errors, 0);
		free(ga);
	}
	m_close(&a);
	m_close(&b);
	free(gb);
	munmap(sh, sizeof(*sh));
}

/* ---- 7. kill -9 of the relay -------------------------------------------- */

struct stream {
	struct member *a;
	const uint8_t *reader;
	int total;
	int sent, failed, last_rc;
};

static void *stream_main(void *arg)
{
	struct stream *s = arg;
	for (int i = 0; i < s->total; i++) {
		uint8_t id[BC_MSGID_LEN];
		char t[32];
		int rc;
		snprintf(t, sizeof(t), "n=%d", i);
		stream_id(id, 8, (uint32_t)i);
		rc = m_send_ids(s->a, (const uint8_t(*)[32])s->reader, 1, id, t,
				NULL);
		if (rc != BC_OK) {
			s->failed++;
			s->last_rc = rc;
		}
		INC(s->sent);
	}
	return NULL;
}

static void kill9_relay(void **state)
{
	struct member a, b;
	struct got *gb = got_new();
	struct stream s;
	pthread_t th;
	const int total = 60, kills = 3;
	int64_t t0 = now_ms();
	(void)state;
	pair(&a, &b, "t7a", "t7b");
	assert_int_equal(m_start(&a, b.id, NULL), BC_OK);
	s = (struct stream){&a, b.id, total, 0, 0, 0};
	assert_int_equal(pthread_create(&th, NULL, stream_main, &s), 0);
	for (int k = 0; k < kills; k++) {
		int target = (k + 1) * total / (kills + 1);
		for (int spins = 0; LD(s.sent) < target && spins < 5000; spins++)
			msleep(1);
		msleep((int)randombytes_uniform(5));
		relay_kill9(&R);
		msleep(50 + (int)randombytes_uniform(100));
		assert_int_equal(relay_restart(&R), 0);
	}
	pthread_join(th, NULL);
	assert_int_equal(s.failed, 0);
	/* B opens everything, then the relay dies before the acks arrive:
	 * the relay delivers it all again, the engine knows it. */
	{
		struct items it;
		fetch_all(&b, &it);
		assert_int_equal(it.n, total);
		for (size_t i = 0; i < it.n; i++)
			assert_int_equal(process(&b, &it.v[i], gb, false), BC_OK);
		items_free(&it);
	}
	assert_int_equal(gb->n, total);
	relay_kill9(&R);
	assert_int_equal(relay_restart(&R), 0);
	m_recv(&b, gb, total + 1, 1000);
	assert_int_equal(gb->dups, total);
	assert_int_equal(gb->n, total);
	assert_int_equal(m_waiting(&b), 0);
	{
		struct inbox in;
		int problems;
		inbox_read(b.st, &in);
		problems = inbox_check_stream(&in, a.id, total, "kill -9 relay",
					      kills + 1);
		printf("# kill -9 relay: redeliveries recognised %d, %.1f s\n",
		       gb->dups, (double)(now_ms() - t0) / 1000.0);
		assert_int_equal(problems, 0);
		free(in.v);
	}
	{
		struct got *ga = got_new();
		assert_int_equal(m_send1(&b, &a, "b after relay crashes"), BC_OK);
		m_recv(&a, ga, 1, 10000);
		assert_int_equal(ga->n, 1);
		assert_int_equal(m_send1(&a, &b, "a after relay crashes"), BC_OK);
		m_recv(&b, gb, total + 1, 10000);
		assert_int_equal(gb->n, total + 1);
		free(ga);
	}
	assert_int_equal(gb->errors + gb->fatal, 0);
	m_close(&a);
	m_close(&b);
	free(gb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_members_through_relay),
		cmocka_unit_test(three_members_plenary),
		cmocka_unit_test(out_of_order_and_loss),
		cmocka_unit_test(late_message_across_ratchet_step),
		cmocka_unit_test(long_offline_period),
		cmocka_unit_test(initiator_offline_past_prekey_grace),
		cmocka_unit_test(prekey_exhaustion),
		cmocka_unit_test(many_peers),
		cmocka_unit_test(simultaneous_start),
		cmocka_unit_test(kill9_receiver),
		cmocka_unit_test(kill9_sender),
		cmocka_unit_test(kill9_relay),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("sessions", tests, setup, teardown);
}
