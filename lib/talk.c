/*
 * talk.c - talks over the relay client and the e2e engine (see talk.h).
 *
 * Invariants: a talk record is written only inside a store transaction of
 * its own (after the network step it describes succeeded, or before a
 * network step that must not be lost); a member list is changed only by a
 * MEMBERS message from the talk's registrar, authenticated end to end; a
 * JOIN is accepted only for an invite this member issued and not used.
 */
#include <sodium.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "client.h"
#include "codec.h"
#include "encoding.h"
#include "internal.h"
#include "invite.h"
#include "prekey.h"
#include "talk.h"
#include "talk_exchange.h"
#include "talk_int.h"
#include "talk_mutual.h"
#include "talk_proposal.h"
#include "transcript.h"

#define TALK_VERSION 1
#define MSG_VERSION 1
#define K_JOIN BC_TK_JOIN
#define K_MEMBERS BC_TK_MEMBERS
#define K_SAY BC_TK_SAY
#define K_STATE BC_TK_STATE
#define K_PASSON BC_TK_PASSON
#define K_AUDIT BC_TK_AUDIT
#define K_LEAVE BC_TK_LEAVE
#define EV_INTEGRITY BC_TEV_INTEGRITY
#define MAX_INVITES 256
#define MAX_CLIENTS 8
#define TAG_LEN 32

struct invite_rec {
	uint8_t tag[TAG_LEN];
	uint64_t expires;
	uint8_t role;
	char side[BC_TALK_SIDE_MAX + 1];
	bool used;
};

struct talk {
	bc_talk_info info;
	char relay[BC_TALK_RELAY_MAX + 1]; /* where my mailbox is */
	uint8_t tkey[32];                  /* transport key for this talk */
	uint8_t mailbox[32], cap[32];
	uint8_t registrar[BC_E2E_ID_LEN];
	bool members_pending; /* registrar: MEMBERS not yet sent to all */
	uint16_t ninv;
	struct invite_rec inv[MAX_INVITES];
};

struct conn {
	char relay[BC_TALK_RELAY_MAX + 1];
	uint8_t key[32];
	bc_client *c;
};

struct bc_talks {
	bc_store *st;
	bc_e2e *e;
	int retry_ms; /* the clients' retry budget (0: the default) */
	struct conn conns[MAX_CLIENTS];
};

static const char K_TALK[] = "talk";
static const uint8_t nobody[BC_E2E_ID_LEN];
static const char K_LOG[] = "talklog";
static const char K_OUT[] = "talkout"; /* message id -> talk id */

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

/* ---- names -------------------------------------------------------------- */

const char *bc_talk_role_name(uint8_t r)
{
	switch (r) {
	case BC_ROLE_PARTY: return "party";
	case BC_ROLE_MEDIATOR: return "mediator";
	case BC_ROLE_OBSERVER: return "observer";
	default: return "member";
	}
}

const char *bc_talk_state_name(uint8_t st)
{
	switch (st) {
	case BC_TALK_OPEN: return "open";
	case BC_TALK_SUSPENDED: return "suspended";
	case BC_TALK_CLOSED: return "closed";
	default: return "?";
	}
}

const char *bc_talk_audience_name(uint8_t a)
{
	switch (a) {
	case BC_AUD_CAUCUS: return "caucus";
	case BC_AUD_DIRECT: return "direct";
	case BC_AUD_PLENARY: return "plenary";
	default: return "?";
	}
}

const char *bc_talk_label_name(uint8_t l)
{
	switch (l) {
	case BC_LABEL_PRIVATE: return "private";
	case BC_LABEL_PARAPHRASE: return "paraphrase";
	case BC_LABEL_VERBATIM: return "verbatim";
	case BC_LABEL_ATTRIBUTED: return "attributed";
	default: return "";
	}
}

/* ---- records ------------------------------------------------------------ */

static void write_member(bc_wr *w, const bc_talk_member *m)
{
	if (bc_identity_write_public(w, &m->identity) != BC_OK)
		return;
	bc_wr_u8(w, m->role);
	bc_wr_str(w, m->side);
	bc_wr_str(w, m->relay);
	bc_wr_raw(w, m->mailbox, 32);
	bc_wr_raw(w, m->cap, 32);
}

static int read_str_into(bc_rd *r, char *out, size_t cap)
{
	char *s = NULL;
	int rc = bc_rd_str(r, cap - 1, &s);
	if (rc == BC_OK) {
		snprintf(out, cap, "%s", s);
		bc_free(s);
	}
	return rc;
}

static int read_member(bc_rd *r, bc_talk_member *m)
{
	int rc;
	memset(m, 0, sizeof(*m));
	if ((rc = bc_identity_read_public(r, &m->identity)) != BC_OK)
		return rc;
	bc_rd_u8(r, &m->role);
	read_str_into(r, m->side, sizeof(m->side));
	read_str_into(r, m->relay, sizeof(m->relay));
	bc_rd_raw(r, m->mailbox, 32);
	if ((rc = bc_rd_raw(r, m->cap, 32)) != BC_OK)
		return rc;
	return bc_identity_fingerprint(&m->identity, m->id);
}

static int talk_save(bc_talks *t, const struct talk *k)
{
	bc_wr w;
	uint8_t *buf;
	size_t len;
	int rc;
	bc_wr_init(&w, BC_STORE_VALUE_MAX);
	bc_wr_u8(&w, TALK_VERSION);
	bc_wr_raw(&w, k->info.id, BC_TALK_ID_LEN);
	bc_wr_str(&w, k->info.title);
	bc_wr_str(&w, k->info.rules);
	bc_wr_bool(&w, k->info.registrar);
	bc_wr_u8(&w, k->info.my_role);
	bc_wr_str(&w, k->info.my_side);
	bc_wr_bool(&w, k->info.joined);
	bc_wr_bool(&w, k->info.left);
	bc_wr_u8(&w, k->info.state);
	bc_wr_raw(&w, k->info.state_by, BC_E2E_ID_LEN);
	bc_wr_str(&w, k->info.state_reason);
	bc_wr_str(&w, k->relay);
	bc_wr_raw(&w, k->tkey, 32);
	bc_wr_raw(&w, k->mailbox, 32);
	bc_wr_raw(&w, k->cap, 32);
	bc_wr_raw(&w, k->registrar, BC_E2E_ID_LEN);
	bc_wr_bool(&w, k->members_pending);
	bc_wr_u16(&w, (uint16_t)k->info.nmembers);
	for (size_t i = 0; i < k->info.nmembers; i++)
		write_member(&w, &k->info.members[i]);
	bc_wr_u16(&w, k->ninv);
	for (uint16_t i = 0; i < k->ninv; i++) {
		bc_wr_raw(&w, k->inv[i].tag, TAG_LEN);
		bc_wr_u64(&w, k->inv[i].expires);
		bc_wr_u8(&w, k->inv[i].role);
		bc_wr_str(&w, k->inv[i].side);
		bc_wr_bool(&w, k->inv[i].used);
	}
	if ((rc = bc_wr_finish(&w, &buf, &len)) != BC_OK)
		return rc;
	rc = bc_store_put(t->st, K_TALK, k->info.id, BC_TALK_ID_LEN, buf, len);
	bc_free_secret(buf, len);
	return rc;
}

static int talk_decode(struct talk *k, const uint8_t *in, size_t len)
{
	bc_rd r;
	uint8_t ver = 0;
	uint16_t n = 0;
	int rc;
	memset(k, 0, sizeof(*k));
	bc_rd_init(&r, in, len);
	bc_rd_u8(&r, &ver);
	if (r.err != BC_OK || ver != TALK_VERSION)
		return BC_ERR_MALFORMED;
	bc_rd_raw(&r, k->info.id, BC_TALK_ID_LEN);
	read_str_into(&r, k->info.title, sizeof(k->info.title));
	read_str_into(&r, k->info.rules, sizeof(k->info.rules));
	bc_rd_bool(&r, &k->info.registrar);
	bc_rd_u8(&r, &k->info.my_role);
	read_str_into(&r, k->info.my_side, sizeof(k->info.my_side));
	bc_rd_bool(&r, &k->info.joined);
	bc_rd_bool(&r, &k->info.left);
	bc_rd_u8(&r, &k->info.state);
	bc_rd_raw(&r, k->info.state_by, BC_E2E_ID_LEN);
	read_str_into(&r, k->info.state_reason, sizeof(k->info.state_reason));
	read_str_into(&r, k->relay, sizeof(k->relay));
	bc_rd_raw(&r, k->tkey, 32);
	bc_rd_raw(&r, k->mailbox, 32);
	bc_rd_raw(&r, k->cap, 32);
	bc_rd_raw(&r, k->registrar, BC_E2E_ID_LEN);
	bc_rd_bool(&r, &k->members_pending);
	if ((rc = bc_rd_count(&r, BC_TALK_MAX_MEMBERS, &n)) != BC_OK)
		return rc;
	k->info.nmembers = n;
	for (uint16_t i = 0; i < n; i++)
		if ((rc = read_member(&r, &k->info.members[i])) != BC_OK)
			return rc;
	if ((rc = bc_rd_count(&r, MAX_INVITES, &k->ninv)) != BC_OK)
		return rc;
	for (uint16_t i = 0; i < k->ninv; i++) {
		bc_rd_raw(&r, k->inv[i].tag, TAG_LEN);
		bc_rd_u64(&r, &k->inv[i].expires);
		bc_rd_u8(&r, &k->inv[i].role);
		read_str_into(&r, k->inv[i].side, sizeof(k->inv[i].side));
		bc_rd_bool(&r, &k->inv[i].used);
	}
	return bc_rd_end(&r);
}

static int talk_load(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		     struct talk *k)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = bc_store_get(t->st, K_TALK, id, BC_TALK_ID_LEN, &buf, &len);
	if (rc == BC_OK)
		rc = talk_decode(k, buf, len);
	bc_free_secret(buf, len);
	return rc;
}

/* Save k in its own transaction. */
static int talk_commit(bc_talks *t, const struct talk *k)
{
	int rc = bc_store_begin(t->st);
	if (rc != BC_OK)
		return rc;
	rc = talk_save(t, k);
	if (rc == BC_OK)
		rc = bc_store_commit(t->st);
	else
		bc_store_rollback(t->st);
	return rc;
}

/* ---- the timeline ------------------------------------------------------- */

static int log_event_id(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
			const uint8_t *msg_id, uint8_t kind,
			const uint8_t from[BC_E2E_ID_LEN], uint8_t audience,
			uint8_t label, const char *text,
			const uint8_t (*to)[BC_E2E_ID_LEN], size_t nto);

static int log_event(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		     uint8_t kind, const uint8_t from[BC_E2E_ID_LEN],
		     uint8_t audience, uint8_t label, const char *text,
		     const uint8_t (*to)[BC_E2E_ID_LEN], size_t nto)
{
	return log_event_id(t, id, NULL, kind, from, audience, label, text,
			    to, nto);
}

static int log_event_id(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
			const uint8_t *msg_id, uint8_t kind,
			const uint8_t from[BC_E2E_ID_LEN], uint8_t audience,
			uint8_t label, const char *text,
			const uint8_t (*to)[BC_E2E_ID_LEN], size_t nto)
{
	static const uint8_t zero[BC_MSGID_LEN];
	bc_wr w;
	uint8_t *buf;
	size_t len;
	uint64_t seq;
	int rc;
	bc_wr_init(&w, BC_STORE_VALUE_MAX);
	bc_wr_raw(&w, id, BC_TALK_ID_LEN);
	bc_wr_raw(&w, msg_id ? msg_id : zero, BC_MSGID_LEN);
	bc_wr_u64(&w, now_s());
	bc_wr_u8(&w, kind);
	bc_wr_raw(&w, from, BC_E2E_ID_LEN);
	bc_wr_u8(&w, audience);
	bc_wr_u8(&w, label);
	bc_wr_bytes(&w, text, strlen(text));
	bc_wr_u16(&w, (uint16_t)nto);
	for (size_t i = 0; i < nto; i++)
		bc_wr_raw(&w, to[i], BC_E2E_ID_LEN);
	if ((rc = bc_wr_finish(&w, &buf, &len)) != BC_OK)
		return rc;
	rc = bc_store_append(t->st, K_LOG, buf, len, &seq);
	bc_free_secret(buf, len);
	return rc;
}

struct log_ctx {
	const uint8_t *id;
	bc_talk_event_fn fn;
	void *ctx;
	int rc;
};

static int log_one(void *ctx, const uint8_t *key, size_t klen,
		   const uint8_t *val, size_t vlen)
{
	struct log_ctx *l = ctx;
	uint8_t (*to)[BC_E2E_ID_LEN] = NULL;
	const uint8_t *tid, *from, *txt;
	size_t tlen;
	uint16_t nto;
	bc_talk_event ev;
	char *text;
	bc_rd r;
	int rc;
	(void)key;
	(void)klen;
	memset(&ev, 0, sizeof(ev));
	bc_rd_init(&r, val, vlen);
	bc_rd_ref(&r, BC_TALK_ID_LEN, &tid);
	bc_rd_raw(&r, ev.msg_id, BC_MSGID_LEN);
	bc_rd_u64(&r, &ev.time);
	bc_rd_u8(&r, &ev.kind);
	bc_rd_ref(&r, BC_E2E_ID_LEN, &from);
	bc_rd_u8(&r, &ev.audience);
	bc_rd_u8(&r, &ev.label);
	bc_rd_bytes(&r, BC_TALK_TEXT_MAX, &txt, &tlen);
	if ((rc = bc_rd_count(&r, BC_TALK_MAX_MEMBERS, &nto)) != BC_OK)
		return rc;
	if (memcmp(tid, l->id, BC_TALK_ID_LEN) != 0)
		return BC_OK;
	if (nto > 0 && (to = bc_calloc(nto, BC_E2E_ID_LEN)) == NULL)
		return BC_ERR_NOMEM;
	for (uint16_t i = 0; i < nto; i++)
		bc_rd_raw(&r, to[i], BC_E2E_ID_LEN);
	if ((rc = bc_rd_end(&r)) != BC_OK || (text = bc_malloc(tlen + 1)) == NULL) {
		bc_free(to);
		return rc != BC_OK ? rc : BC_ERR_NOMEM;
	}
	memcpy(text, txt, tlen);
	text[tlen] = '\0';
	memcpy(ev.from, from, BC_E2E_ID_LEN);
	ev.text = text;
	ev.to = (const uint8_t(*)[BC_E2E_ID_LEN])to;
	ev.nto = nto;
	rc = l->fn ? l->fn(l->ctx, &ev) : BC_OK;
	bc_free_secret(text, tlen + 1);
	bc_free(to);
	return rc;
}

int bc_talk_log(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		bc_talk_event_fn fn, void *ctx)
{
	struct log_ctx l = {id, fn, ctx, BC_OK};
	return bc_store_list(t->st, K_LOG, log_one, &l);
}

/* ---- setup -------------------------------------------------------------- */

int bc_talks_open(bc_talks **out, bc_store *st, uint64_t now)
{
	bc_talks *t = bc_calloc(1, sizeof(*t));
	int rc;
	*out = NULL;
	if (t == NULL)
		return BC_ERR_NOMEM;
	t->st = st;
	if ((rc = bc_e2e_new(&t->e, st, now)) != BC_OK) {
		bc_free(t);
		return rc;
	}
	*out = t;
	return BC_OK;
}

void bc_talks_free(bc_talks *t)
{
	if (t == NULL)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++)
		bc_client_free(t->conns[i].c);
	bc_e2e_free(t->e);
	bc_free_secret(t, sizeof(*t));
}

void bc_talks_set_retry(bc_talks *t, int ms)
{
	t->retry_ms = ms > 0 ? ms : 0;
}

bc_e2e *bc_talks_e2e(bc_talks *t)
{
	return t->e;
}

/* A client for relay authenticating with key (cached). */
static int client_for(bc_talks *t, const char *relay, const uint8_t key[32],
		      bc_client **out)
{
	bc_relay_addr a;
	int rc, slot = -1;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (t->conns[i].c != NULL && strcmp(t->conns[i].relay, relay) == 0 &&
		    sodium_memcmp(t->conns[i].key, key, 32) == 0) {
			*out = t->conns[i].c;
			return BC_OK;
		}
		if (t->conns[i].c == NULL && slot < 0)
			slot = i;
	}
	if (slot < 0) { /* evict the first */
		bc_client_free(t->conns[0].c);
		t->conns[0].c = NULL;
		slot = 0;
	}
	if ((rc = bc_relay_addr_parse(relay, &a)) != BC_OK)
		return rc;
	{
		bc_client_opts o;
		bc_client_opts_default(&o);
		o.retry_budget_ms = t->retry_ms;
		if ((rc = bc_client_new(&t->conns[slot].c, &a, key,
					t->retry_ms > 0 ? &o : NULL)) != BC_OK)
			return rc;
	}
	snprintf(t->conns[slot].relay, sizeof(t->conns[slot].relay), "%s",
		 relay);
	memcpy(t->conns[slot].key, key, 32);
	*out = t->conns[slot].c;
	return BC_OK;
}

/* Open our mailbox, register our capability, upload prekeys. */
static int setup_mailbox(bc_talks *t, struct talk *k)
{
	bc_client *c;
	bc_mbox_status ms;
	uint8_t sb[BC_PREKEY_BUNDLE_LEN];
	uint8_t(*ot)[BC_PREKEY_ONETIME_LEN] = NULL;
	const uint8_t *blobs[BC_PREKEY_MAX_BATCH];
	size_t lens[BC_PREKEY_MAX_BATCH], n = 0;
	uint32_t left = 0;
	int rc = client_for(t, k->relay, k->tkey, &c);
	if (rc == BC_OK)
		rc = bc_client_open(c, k->mailbox, &ms);
	if (rc == BC_OK)
		rc = bc_client_cap_add(c, k->mailbox, k->cap);
	if (rc == BC_OK)
		rc = bc_e2e_prekeys(t->e, ms.onetime_prekeys, now_s(), sb, &ot,
				    &n);
	for (size_t i = 0; rc == BC_OK && i < n; i++) {
		blobs[i] = ot[i];
		lens[i] = BC_PREKEY_ONETIME_LEN;
	}
	if (rc == BC_OK)
		rc = bc_client_prekey_put(c, k->mailbox, sb, sizeof(sb), blobs,
					  lens, n, &left);
	bc_free(ot);
	return rc;
}

static void self_member(bc_talks *t, const struct talk *k, bc_talk_member *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->id, bc_e2e_id(t->e), BC_E2E_ID_LEN);
	m->identity = *bc_e2e_identity(t->e);
	m->role = k->info.my_role;
	snprintf(m->side, sizeof(m->side), "%s", k->info.my_side);
	snprintf(m->relay, sizeof(m->relay), "%s", k->relay);
	memcpy(m->mailbox, k->mailbox, 32);
	memcpy(m->cap, k->cap, 32);
}

static bool role_ok(uint8_t role, const char *side)
{
	size_t n = side ? strlen(side) : 0;
	if (role == BC_ROLE_PARTY)
		return n >= 1 && n <= BC_TALK_SIDE_MAX;
	return (role == BC_ROLE_MEDIATOR || role == BC_ROLE_OBSERVER) &&
	       n == 0;
}

int bc_talk_create(bc_talks *t, const char *relay, const char *title,
		   const char *rules, uint8_t role, const char *side,
		   uint8_t id[BC_TALK_ID_LEN])
{
	struct talk *k = bc_calloc(1, sizeof(*k));
	bc_relay_addr a;
	int rc;
	if (k == NULL)
		return BC_ERR_NOMEM;
	rc = bc_relay_addr_parse(relay, &a);
	if (rc == BC_OK && (strlen(title) > BC_TALK_TITLE_MAX ||
			    strlen(relay) > BC_TALK_RELAY_MAX ||
			    (rules && strlen(rules) > BC_TALK_RULES_MAX) ||
			    !role_ok(role, side)))
		rc = BC_ERR_INVALID;
	if (rc != BC_OK)
		goto out;
	randombytes_buf(k->info.id, BC_TALK_ID_LEN);
	snprintf(k->info.title, sizeof(k->info.title), "%s", title);
	snprintf(k->info.rules, sizeof(k->info.rules), "%s", rules ? rules : "");
	k->info.registrar = true;
	k->info.joined = true;
	k->info.state = BC_TALK_OPEN;
	k->info.my_role = role;
	snprintf(k->info.my_side, sizeof(k->info.my_side), "%s", side ? side : "");
	snprintf(k->relay, sizeof(k->relay), "%s", relay);
	randombytes_buf(k->tkey, 32);
	randombytes_buf(k->mailbox, 32);
	randombytes_buf(k->cap, 32);
	memcpy(k->registrar, bc_e2e_id(t->e), BC_E2E_ID_LEN);
	self_member(t, k, &k->info.members[0]);
	k->info.nmembers = 1;
	/* The record first: a crash after the relay step leaves a talk whose
	 * mailbox setup is simply repeated. */
	if ((rc = talk_commit(t, k)) != BC_OK)
		goto out;
	if ((rc = setup_mailbox(t, k)) != BC_OK)
		goto out;
	memcpy(id, k->info.id, BC_TALK_ID_LEN);
	rc = log_event(t, k->info.id, K_MEMBERS, bc_e2e_id(t->e), 0, 0,
		       "created the talk", NULL, 0);
out:
	bc_free_secret(k, sizeof(*k));
	return rc;
}

int bc_talk_get(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		bc_talk_info *info)
{
	struct talk *k = bc_calloc(1, sizeof(*k));
	int rc;
	if (k == NULL)
		return BC_ERR_NOMEM;
	rc = talk_load(t, id, k);
	if (rc == BC_OK)
		*info = k->info;
	bc_free_secret(k, sizeof(*k));
	return rc;
}

struct list_ctx {
	int (*fn)(void *ctx, const bc_talk_info *info);
	void *ctx;
};

static int list_one(void *ctx, const uint8_t *key, size_t klen,
		    const uint8_t *val, size_t vlen)
{
	struct list_ctx *l = ctx;
	struct talk *k = bc_calloc(1, sizeof(*k));
	int rc;
	(void)key;
	(void)klen;
	if (k == NULL)
		return BC_ERR_NOMEM;
	rc = talk_decode(k, val, vlen);
	if (rc == BC_OK)
		rc = l->fn(l->ctx, &k->info);
	bc_free_secret(k, sizeof(*k));
	return rc;
}

int bc_talk_list(bc_talks *t, int (*fn)(void *ctx, const bc_talk_info *info),
		 void *ctx)
{
	struct list_ctx l = {fn, ctx};
	return bc_store_list(t->st, K_TALK, list_one, &l);
}

struct find_ctx {
	const char *prefix;
	uint8_t id[BC_TALK_ID_LEN];
	int found;
};

static int find_one(void *ctx, const uint8_t *key, size_t klen,
		    const uint8_t *val, size_t vlen)
{
	struct find_ctx *f = ctx;
	char hex[BC_HEX_SIZE(BC_TALK_ID_LEN)];
	(void)val;
	(void)vlen;
	if (klen != BC_TALK_ID_LEN ||
	    bc_hex_encode(key, klen, hex, sizeof(hex)) != BC_OK)
		return BC_ERR_MALFORMED;
	if (strncasecmp(hex, f->prefix, strlen(f->prefix)) == 0) {
		memcpy(f->id, key, BC_TALK_ID_LEN);
		f->found++;
	}
	return BC_OK;
}

int bc_talk_find(bc_talks *t, const char *s, uint8_t id[BC_TALK_ID_LEN])
{
	struct find_ctx f;
	int rc;
	memset(&f, 0, sizeof(f));
	f.prefix = s;
	if (strlen(s) < 4 || strlen(s) > 2 * BC_TALK_ID_LEN)
		return BC_ERR_INVALID;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
		      (*p >= 'A' && *p <= 'F')))
			return BC_ERR_INVALID;
	if ((rc = bc_store_list(t->st, K_TALK, find_one, &f)) != BC_OK)
		return rc;
	if (f.found == 0)
		return BC_ERR_NOTFOUND;
	if (f.found > 1)
		return BC_ERR_CONFLICT;
	memcpy(id, f.id, BC_TALK_ID_LEN);
	return BC_OK;
}

/* ---- invites and joining ------------------------------------------------ */

int bc_talk_invite(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN], uint8_t role,
		   const char *side, uint64_t expires, char **text)
{
	struct talk *k = bc_calloc(1, sizeof(*k));
	bc_invite inv;
	bc_relay_addr a;
	int rc;
	*text = NULL;
	memset(&inv, 0, sizeof(inv));
	if (k == NULL)
		return BC_ERR_NOMEM;
	if ((rc = talk_load(t, id, k)) != BC_OK)
		goto out;
	if (!k->info.registrar) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if (!role_ok(role, side)) {
		rc = BC_ERR_INVALID;
		goto out;
	}
	if (k->ninv >= MAX_INVITES) {
		rc = BC_ERR_QUOTA;
		goto out;
	}
	if ((rc = bc_relay_addr_parse(k->relay, &a)) != BC_OK)
		goto out;
	rc = bc_invite_new(&inv, &a, bc_e2e_identity(t->e), k->mailbox, k->cap,
			   k->info.id, k->info.title, (bc_invite_role)role,
			   role == BC_ROLE_PARTY ? side : NULL, expires);
	if (rc == BC_OK)
		rc = bc_invite_set_rules(&inv, k->info.rules);
	if (rc == BC_OK)
		rc = bc_invite_secret_tag(&inv, k->inv[k->ninv].tag);
	if (rc != BC_OK)
		goto out;
	k->inv[k->ninv].role = role;
	k->inv[k->ninv].expires = expires;
	snprintf(k->inv[k->ninv].side, sizeof(k->inv[k->ninv].side), "%s",
		 side ? side : "");
	k->ninv++;
	if ((rc = talk_commit(t, k)) != BC_OK)
		goto out;
	rc = bc_invite_export(&inv, text);
out:
	bc_invite_wipe(&inv);
	bc_free_secret(k, sizeof(*k));
	return rc;
}

/* Make sure a session with member m exists (fetching its prekeys with its
 * capability). */
static int ensure_session(bc_talks *t, const struct talk *k,
			  const bc_talk_member *m)
{
	bc_client *c;
	uint8_t *sb = NULL, *ob = NULL;
	size_t sl = 0, ol = 0;
	int rc;
	if (bc_e2e_has_session(t->e, m->id))
		return BC_OK;
	if ((rc = client_for(t, m->relay, k->tkey, &c)) != BC_OK)
		return rc;
	rc = bc_client_prekey_get(c, m->mailbox, m->cap, &sb, &sl, &ob, &ol);
	if (rc == BC_OK)
		rc = bc_e2e_start(t->e, &m->identity, sb, sl, ob, ol, now_s());
	bc_free(sb);
	bc_free(ob);
	return rc;
}

static const bc_talk_member *member_by_id(const struct talk *k,
					  const uint8_t id[BC_E2E_ID_LEN])
{
	return bc_talk_member_of(&k->info, id);
}

/* Post the sealed bodies of msg_id to readers (member records of k): one
 * POST per relay. */
static int post_bodies(bc_talks *t, const struct talk *k,
		       const bc_talk_member *const *readers, size_t n,
		       const uint8_t msg_id[BC_MSGID_LEN],
		       const uint8_t *const *bodies, const size_t *lens)
{
	bool done[BC_TALK_MAX_MEMBERS] = {false};
	int rc = BC_OK;
	for (size_t i = 0; rc == BC_OK && i < n; i++) {
		bc_client_copy cp[BC_TALK_MAX_MEMBERS];
		size_t nc = 0;
		bc_client *c;
		if (done[i])
			continue;
		for (size_t j = i; j < n; j++) {
			if (done[j] || strcmp(readers[j]->relay, readers[i]->relay))
				continue;
			cp[nc].mailbox = readers[j]->mailbox;
			cp[nc].cap = readers[j]->cap;
			cp[nc].body = bodies[j];
			cp[nc].body_len = lens[j];
			nc++;
			done[j] = true;
		}
		rc = client_for(t, readers[i]->relay, k->tkey, &c);
		if (rc == BC_OK)
			rc = bc_client_post(c, msg_id, cp, nc, NULL);
	}
	return rc;
}

/* The message was posted to every reader: forget it. */
static int mark_sent(bc_talks *t, const uint8_t msg_id[BC_MSGID_LEN])
{
	int rc = bc_e2e_sent(t->e, msg_id);
	if (rc == BC_OK && (rc = bc_store_begin(t->st)) == BC_OK) {
		rc = bc_store_del(t->st, K_OUT, msg_id, BC_MSGID_LEN);
		if (rc == BC_ERR_NOTFOUND)
			rc = BC_OK;
		if (rc == BC_OK)
			rc = bc_store_commit(t->st);
		else
			bc_store_rollback(t->st);
	}
	return rc;
}

/* ---- the outbox: what was sealed and not yet posted ------------------------ */

struct pending {
	uint8_t msg_id[BC_MSGID_LEN];
	size_t n;
	uint8_t readers[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	uint8_t *bodies[BC_TALK_MAX_MEMBERS];
	size_t lens[BC_TALK_MAX_MEMBERS];
};

struct pending_list {
	struct pending *v;
	size_t n;
};

static int collect_pending(void *ctx, const uint8_t *msg_id,
			   const uint8_t (*readers)[BC_E2E_ID_LEN],
			   const uint8_t *const *bodies, const size_t *lens,
			   size_t n)
{
	struct pending_list *l = ctx;
	struct pending *p;
	if (n > BC_TALK_MAX_MEMBERS || l->n == 64)
		return BC_OK; /* not a talk message; or enough for one pass */
	p = &l->v[l->n];
	memset(p, 0, sizeof(*p));
	memcpy(p->msg_id, msg_id, BC_MSGID_LEN);
	for (size_t i = 0; i < n; i++) {
		memcpy(p->readers[i], readers[i], BC_E2E_ID_LEN);
		if ((p->bodies[i] = bc_memdup(bodies[i], lens[i])) == NULL) {
			for (size_t j = 0; j < i; j++)
				bc_free(p->bodies[j]);
			return BC_ERR_NOMEM;
		}
		p->lens[i] = lens[i];
	}
	p->n = n;
	l->n++;
	return BC_OK;
}

/*
 * Post again what was sealed and not posted (a relay that was down, a
 * crash between seal and post), under the same message ids, which the
 * relays store once. Without this a failed post would leave a hole in the
 * sender's chain that holds back everything it says to those readers. The
 * talk of each message comes from its K_OUT record, written before the
 * seal. Returns the first error; what could not be posted stays pending.
 */
static int flush_outbox(bc_talks *t)
{
	struct pending_list l = {NULL, 0};
	struct talk *k = bc_calloc(1, sizeof(*k));
	int rc, first = BC_OK;
	if (k == NULL || (l.v = bc_calloc(64, sizeof(*l.v))) == NULL) {
		bc_free(k);
		return BC_ERR_NOMEM;
	}
	rc = bc_e2e_outbox(t->e, collect_pending, &l);
	for (size_t i = 0; rc == BC_OK && i < l.n; i++) {
		struct pending *p = &l.v[i];
		const bc_talk_member *readers[BC_TALK_MAX_MEMBERS];
		uint8_t *tid = NULL;
		size_t tlen = 0, nr = 0;
		int prc = bc_store_get(t->st, K_OUT, p->msg_id, BC_MSGID_LEN,
				       &tid, &tlen);
		if (prc == BC_OK && tlen == BC_TALK_ID_LEN)
			prc = talk_load(t, tid, k);
		else if (prc == BC_OK)
			prc = BC_ERR_MALFORMED;
		bc_free(tid);
		for (size_t j = 0; prc == BC_OK && j < p->n; j++)
			if ((readers[nr] = member_by_id(k, p->readers[j])) != NULL)
				nr++;
		/* readers that left since are skipped */
		if (prc == BC_OK)
			prc = post_bodies(t, k, readers, nr, p->msg_id,
					  (const uint8_t *const *)p->bodies,
					  p->lens);
		if (prc == BC_OK || prc == BC_ERR_NOTFOUND)
			prc = mark_sent(t, p->msg_id); /* posted, or no talk */
		if (prc == BC_ERR_STORAGE || prc == BC_ERR_NOMEM)
			rc = prc;
		else if (prc != BC_OK) {
			/* a relay is down: one retry budget per flush */
			first = prc;
			break;
		}
	}
	for (size_t i = 0; i < l.n; i++)
		for (size_t j = 0; j < l.v[i].n; j++)
			bc_free(l.v[i].bodies[j]);
	bc_free(l.v);
	bc_free_secret(k, sizeof(*k));
	return rc != BC_OK ? rc : first;
}

/* Seal a talk message for readers and post it. If the post fails the
 * message stays in the outbox and goes out with the next sync or send. */
static int send_msg(bc_talks *t, const struct talk *k,
		    const bc_talk_member *const *readers, size_t n,
		    const uint8_t *msg, size_t mlen, uint8_t *msg_id_out)
{
	uint8_t ids[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	uint8_t msg_id[BC_MSGID_LEN];
	uint8_t **bodies = NULL;
	size_t *lens = NULL;
	int rc;
	if (n == 0)
		return BC_OK;
	(void)flush_outbox(t); /* older messages first, where possible */
	for (size_t i = 0; i < n; i++) {
		if ((rc = ensure_session(t, k, readers[i])) != BC_OK)
			return rc;
		memcpy(ids[i], readers[i]->id, BC_E2E_ID_LEN);
	}
	randombytes_buf(msg_id, sizeof(msg_id));
	if (msg_id_out)
		memcpy(msg_id_out, msg_id, sizeof(msg_id));
	if ((rc = bc_store_begin(t->st)) != BC_OK)
		return rc;
	rc = bc_store_put(t->st, K_OUT, msg_id, BC_MSGID_LEN, k->info.id,
			  BC_TALK_ID_LEN);
	if (rc == BC_OK)
		rc = bc_store_commit(t->st);
	else
		bc_store_rollback(t->st);
	if (rc != BC_OK)
		return rc;
	rc = bc_e2e_seal(t->e, (const uint8_t(*)[BC_E2E_ID_LEN])ids, n, msg_id,
			 msg, mlen, now_s(), &bodies, &lens);
	if (rc != BC_OK)
		return rc;
	rc = post_bodies(t, k, readers, n, msg_id,
			 (const uint8_t *const *)bodies, lens);
	if (rc == BC_OK)
		rc = mark_sent(t, msg_id);
	bc_e2e_bodies_free(bodies, lens, n);
	return rc;
}

/* BLAKE2b-256("backchannel v1 ground rules" || rules): what a joiner
 * accepted, compared by the registrar with the talk's own rules. */
static int rules_digest(const char *rules, uint8_t out[32])
{
	static const char label[] = "backchannel v1 ground rules";
	crypto_generichash_state h;
	if (crypto_generichash_init(&h, NULL, 0, 32) != 0 ||
	    crypto_generichash_update(&h, (const uint8_t *)label,
				      sizeof(label) - 1) != 0 ||
	    crypto_generichash_update(&h, (const uint8_t *)rules,
				      strlen(rules)) != 0 ||
	    crypto_generichash_final(&h, out, 32) != 0)
		return BC_ERR_CRYPTO;
	return BC_OK;
}

int bc_talk_offer_read(const char *invite, bc_talk_offer *out)
{
	bc_invite inv;
	int rc;
	memset(out, 0, sizeof(*out));
	if ((rc = bc_invite_import(&inv, invite)) != BC_OK)
		return rc;
	memcpy(out->id, inv.channel, BC_TALK_ID_LEN);
	snprintf(out->title, sizeof(out->title), "%s", inv.title);
	snprintf(out->rules, sizeof(out->rules), "%s", inv.rules);
	out->role = inv.role;
	snprintf(out->side, sizeof(out->side), "%s", inv.side);
	out->expires = inv.expires;
	bc_invite_wipe(&inv);
	return BC_OK;
}

int bc_talk_join(bc_talks *t, const char *invite, const char *rules,
		 uint8_t id[BC_TALK_ID_LEN], char *title, size_t titlecap)
{
	return bc_talk_join_at(t, invite, rules, NULL, id, title, titlecap);
}

int bc_talk_join_at(bc_talks *t, const char *invite, const char *rules,
		    const char *home, uint8_t id[BC_TALK_ID_LEN], char *title,
		    size_t titlecap)
{
	char *home_s = NULL;
	uint8_t digest[32];
	struct talk *k = bc_calloc(1, sizeof(*k));
	bc_invite inv;
	bc_talk_member *reg;
	const bc_talk_member *readers[1];
	char *relay = NULL;
	bc_wr w;
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int rc;
	memset(&inv, 0, sizeof(inv));
	if (k == NULL)
		return BC_ERR_NOMEM;
	if ((rc = bc_invite_import(&inv, invite)) != BC_OK)
		goto out;
	if (rules == NULL || strcmp(rules, inv.rules) != 0) {
		rc = BC_ERR_CONFLICT; /* not the rules this invite offers */
		goto out;
	}
	if ((rc = rules_digest(inv.rules, digest)) != BC_OK)
		goto out;
	if (bc_invite_expired(&inv, now_s())) {
		rc = BC_ERR_STATE;
		goto out;
	}
	if (talk_load(t, inv.channel, k) == BC_OK) {
		rc = BC_ERR_CONFLICT; /* already in (or joining) this talk */
		goto out;
	}
	memset(k, 0, sizeof(*k));
	if ((rc = bc_relay_addr_format(&inv.relay, &relay)) != BC_OK)
		goto out;
	if (home != NULL) {
		bc_relay_addr ha;
		if ((rc = bc_relay_addr_parse(home, &ha)) != BC_OK ||
		    (rc = bc_relay_addr_format(&ha, &home_s)) != BC_OK)
			goto out;
		if (strlen(home_s) > BC_TALK_RELAY_MAX) {
			rc = BC_ERR_TOOBIG;
			goto out;
		}
	}
	memcpy(k->info.id, inv.channel, BC_TALK_ID_LEN);
	k->info.state = BC_TALK_OPEN;
	snprintf(k->info.title, sizeof(k->info.title), "%s", inv.title);
	snprintf(k->info.rules, sizeof(k->info.rules), "%s", inv.rules);
	k->info.my_role = inv.role;
	snprintf(k->info.my_side, sizeof(k->info.my_side), "%s", inv.side);
	snprintf(k->relay, sizeof(k->relay), "%s", home_s ? home_s : relay);
	randombytes_buf(k->tkey, 32);
	randombytes_buf(k->mailbox, 32);
	randombytes_buf(k->cap, 32);
	reg = &k->info.members[0];
	reg->identity = inv.inviter;
	if ((rc = bc_identity_fingerprint(&inv.inviter, reg->id)) != BC_OK)
		goto out;
	memcpy(k->registrar, reg->id, BC_E2E_ID_LEN);
	reg->role = BC_ROLE_MEDIATOR;
	snprintf(reg->relay, sizeof(reg->relay), "%s", relay);
	memcpy(reg->mailbox, inv.mailbox, 32);
	memcpy(reg->cap, inv.capability, 32);
	k->info.nmembers = 1;
	if ((rc = talk_commit(t, k)) != BC_OK)
		goto out;
	if ((rc = setup_mailbox(t, k)) != BC_OK)
		goto out;
	/* JOIN: the invite's secret, and how to reach us. */
	bc_wr_init(&w, 4096);
	bc_wr_u8(&w, MSG_VERSION);
	bc_wr_raw(&w, k->info.id, BC_TALK_ID_LEN);
	bc_wr_u8(&w, K_JOIN);
	bc_wr_raw(&w, inv.secret, sizeof(inv.secret));
	bc_wr_str(&w, k->relay);
	bc_wr_raw(&w, k->mailbox, 32);
	bc_wr_raw(&w, k->cap, 32);
	bc_wr_raw(&w, digest, sizeof(digest));
	if ((rc = bc_wr_finish(&w, &msg, &mlen)) != BC_OK)
		goto out;
	readers[0] = reg;
	if ((rc = send_msg(t, k, readers, 1, msg, mlen, NULL)) != BC_OK)
		goto out;
	memcpy(id, k->info.id, BC_TALK_ID_LEN);
	if (title)
		snprintf(title, titlecap, "%s", k->info.title);
	rc = log_event(t, k->info.id, K_JOIN, bc_e2e_id(t->e), 0, 0,
		       "asked to join", NULL, 0);
out:
	bc_free_secret(msg, mlen);
	bc_free(relay);
	bc_free(home_s);
	bc_invite_wipe(&inv);
	bc_free_secret(k, sizeof(*k));
	return rc;
}

/* ---- statements ---------------------------------------------------------- */

int bc_talk_say(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		uint8_t audience, const uint8_t (*to)[BC_E2E_ID_LEN], size_t nto,
		uint8_t label, const char *text)
{
	struct talk *k = bc_calloc(1, sizeof(*k));
	const bc_talk_member *readers[BC_TALK_MAX_MEMBERS];
	uint8_t rids[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	uint8_t sid[BC_MSGID_LEN];
	size_t n = 0;
	const uint8_t *self;
	bc_wr w;
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int rc;
	if (k == NULL)
		return BC_ERR_NOMEM;
	self = bc_e2e_id(t->e);
	if ((rc = talk_load(t, id, k)) != BC_OK)
		goto out;
	if (!k->info.joined || k->info.my_role == BC_ROLE_OBSERVER) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if (k->info.state != BC_TALK_OPEN) {
		rc = BC_ERR_STATE; /* suspended or closed: nothing but state */
		goto out;
	}
	if (strlen(text) > BC_TALK_TEXT_MAX ||
	    (label != BC_LABEL_NONE && audience != BC_AUD_CAUCUS)) {
		rc = BC_ERR_INVALID;
		goto out;
	}
	for (size_t i = 0; i < k->info.nmembers; i++) {
		const bc_talk_member *m = &k->info.members[i];
		bool take = false;
		if (memcmp(m->id, self, BC_E2E_ID_LEN) == 0)
			continue;
		if (audience == BC_AUD_PLENARY)
			take = true;
		else if (audience == BC_AUD_CAUCUS)
			take = m->role == BC_ROLE_MEDIATOR;
		else if (audience == BC_AUD_DIRECT)
			for (size_t j = 0; j < nto; j++)
				if (memcmp(to[j], m->id, BC_E2E_ID_LEN) == 0)
					take = true;
		if (take) {
			readers[n] = m;
			memcpy(rids[n], m->id, BC_E2E_ID_LEN);
			n++;
		}
	}
	if (n == 0 || (audience == BC_AUD_DIRECT && n != nto)) {
		rc = BC_ERR_NOTFOUND; /* nobody to say it to / unknown member */
		goto out;
	}
	bc_wr_init(&w, BC_TALK_TEXT_MAX + 256);
	bc_wr_u8(&w, MSG_VERSION);
	bc_wr_raw(&w, k->info.id, BC_TALK_ID_LEN);
	bc_wr_u8(&w, K_SAY);
	bc_wr_u8(&w, audience);
	bc_wr_u8(&w, label);
	bc_wr_str(&w, text);
	if ((rc = bc_wr_finish(&w, &msg, &mlen)) != BC_OK)
		goto out;
	if ((rc = send_msg(t, k, readers, n, msg, mlen, sid)) != BC_OK)
		goto out;
	rc = log_event_id(t, k->info.id, sid, K_SAY, self, audience, label,
			  text, (const uint8_t(*)[BC_E2E_ID_LEN])rids, n);
out:
	bc_free_secret(msg, mlen);
	bc_free_secret(k, sizeof(*k));
	return rc;
}

/* ---- receiving ------------------------------------------------------------ */

static int send_members(bc_talks *t, struct talk *k)
{
	const bc_talk_member *readers[BC_TALK_MAX_MEMBERS];
	size_t n = 0;
	bc_wr w;
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int rc;
	bc_wr_init(&w, BC_STORE_VALUE_MAX);
	bc_wr_u8(&w, MSG_VERSION);
	bc_wr_raw(&w, k->info.id, BC_TALK_ID_LEN);
	bc_wr_u8(&w, K_MEMBERS);
	bc_wr_str(&w, k->info.title);
	bc_wr_str(&w, k->info.rules);
	bc_wr_u16(&w, (uint16_t)k->info.nmembers);
	for (size_t i = 0; i < k->info.nmembers; i++) {
		write_member(&w, &k->info.members[i]);
		if (memcmp(k->info.members[i].id, bc_e2e_id(t->e),
			   BC_E2E_ID_LEN) != 0)
			readers[n++] = &k->info.members[i];
	}
	if ((rc = bc_wr_finish(&w, &msg, &mlen)) != BC_OK)
		return rc;
	rc = send_msg(t, k, readers, n, msg, mlen, NULL);
	bc_free_secret(msg, mlen);
	return rc;
}

static int on_join(bc_talks *t, struct talk *k, const uint8_t from[32],
		   bc_rd *r, bc_talk_event_fn fn, void *ctx)
{
	bc_invite probe;
	uint8_t tag[TAG_LEN], accepted[32], digest[32];
	bool rules_ok;
	bc_talk_member m;
	struct invite_rec *inv = NULL;
	int rc;
	memset(&probe, 0, sizeof(probe));
	memset(&m, 0, sizeof(m));
	bc_rd_raw(r, probe.secret, sizeof(probe.secret));
	read_str_into(r, m.relay, sizeof(m.relay));
	bc_rd_raw(r, m.mailbox, 32);
	bc_rd_raw(r, m.cap, 32);
	bc_rd_raw(r, accepted, sizeof(accepted));
	if ((rc = bc_rd_end(r)) != BC_OK)
		goto out;
	if (!k->info.registrar) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if ((rc = rules_digest(k->info.rules, digest)) != BC_OK)
		goto out;
	rules_ok = sodium_memcmp(accepted, digest, sizeof(digest)) == 0;
	memcpy(probe.channel, k->info.id, BC_TALK_ID_LEN);
	if ((rc = bc_invite_secret_tag(&probe, tag)) != BC_OK)
		goto out;
	for (uint16_t i = 0; i < k->ninv; i++)
		if (sodium_memcmp(k->inv[i].tag, tag, TAG_LEN) == 0)
			inv = &k->inv[i];
	if (inv == NULL || inv->used || !rules_ok ||
	    member_by_id(k, from) != NULL ||
	    k->info.nmembers >= BC_TALK_MAX_MEMBERS ||
	    (inv->expires != 0 && now_s() >= inv->expires)) {
		/* An unknown or reused invite: refused, and said so. */
		const char *why =
			inv == NULL ? "refused a join: unknown invite"
			  : inv->used ? "refused a join: invite already used"
			  : !rules_ok ? "refused a join: the joiner did not "
					"accept this talk's ground rules"
			  : member_by_id(k, from) != NULL
				  ? "refused a join: already a member"
			  : k->info.nmembers >= BC_TALK_MAX_MEMBERS
				  ? "refused a join: the talk is full"
				  : "refused a join: the invite has expired";
		rc = bc_talk_emit(t, k->info.id, NULL, K_JOIN, from, why, NULL,
				  0, fn, ctx);
		goto out;
	}
	memcpy(m.id, from, BC_E2E_ID_LEN);
	if ((rc = bc_e2e_peer_identity(t->e, from, &m.identity)) != BC_OK)
		goto out;
	m.role = inv->role;
	snprintf(m.side, sizeof(m.side), "%s", inv->side);
	inv->used = true;
	k->info.members[k->info.nmembers++] = m;
	/* Recorded with the new member: if sending the list fails now, the
	 * next sync sends it (the JOIN itself will not come again). */
	k->members_pending = true;
	if ((rc = talk_commit(t, k)) != BC_OK)
		goto out;
	if (send_members(t, k) == BC_OK) {
		k->members_pending = false;
		if ((rc = talk_commit(t, k)) != BC_OK)
			goto out;
	}
	rc = bc_talk_emit(t, k->info.id, NULL, K_JOIN, from, "joined", NULL, 0,
			  fn, ctx);
out:
	bc_invite_wipe(&probe);
	sodium_memzero(&m, sizeof(m));
	return rc;
}

static int on_members(bc_talks *t, struct talk *k, const uint8_t from[32],
		      bc_rd *r, bc_talk_event_fn fn, void *ctx)
{
	bc_talk_info ni;
	uint16_t n = 0;
	int rc;
	if (memcmp(from, k->registrar, BC_E2E_ID_LEN) != 0)
		return BC_ERR_FORBIDDEN; /* only the registrar says who is in */
	ni = k->info;
	read_str_into(r, ni.title, sizeof(ni.title));
	read_str_into(r, ni.rules, sizeof(ni.rules));
	if ((rc = bc_rd_count(r, BC_TALK_MAX_MEMBERS, &n)) != BC_OK)
		return rc;
	for (uint16_t i = 0; i < n; i++)
		if ((rc = read_member(r, &ni.members[i])) != BC_OK)
			return rc;
	if ((rc = bc_rd_end(r)) != BC_OK)
		return rc;
	ni.nmembers = n;
	ni.joined = false;
	for (uint16_t i = 0; i < n && !ni.left; i++)
		if (memcmp(ni.members[i].id, bc_e2e_id(t->e), BC_E2E_ID_LEN) ==
		    0)
			ni.joined = true;
	k->info = ni;
	if ((rc = talk_commit(t, k)) != BC_OK)
		return rc;
	return bc_talk_emit(t, k->info.id, NULL, K_MEMBERS, from,
			    "updated the member list", NULL, 0, fn, ctx);
}

static int on_say(bc_talks *t, struct talk *k, const bc_e2e_msg *m,
		  bc_rd *r, bc_talk_event_fn fn, void *ctx)
{
	bc_talk_event ev;
	char *text = NULL;
	uint8_t (*to)[BC_E2E_ID_LEN] = NULL;
	size_t nto = 0;
	int rc;
	memset(&ev, 0, sizeof(ev));
	bc_rd_u8(r, &ev.audience);
	bc_rd_u8(r, &ev.label);
	if ((rc = bc_rd_str(r, BC_TALK_TEXT_MAX, &text)) != BC_OK)
		return rc;
	if ((rc = bc_rd_end(r)) != BC_OK)
		goto out;
	if (member_by_id(k, m->meta.sender) == NULL ||
	    k->info.state == BC_TALK_CLOSED) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if (ev.audience < BC_AUD_CAUCUS || ev.audience > BC_AUD_PLENARY ||
	    ev.label > BC_LABEL_ATTRIBUTED ||
	    (ev.label != BC_LABEL_NONE && ev.audience != BC_AUD_CAUCUS)) {
		rc = BC_ERR_MALFORMED;
		goto out;
	}
	/* The claimed audience must be the real one (the readers the sender
	 * sealed it for, which every reader's copy names): a caucus goes to
	 * mediators only, a plenary statement to every member. */
	{
		size_t others = 0, readers = 0;
		for (uint16_t i = 0; i < m->meta.audience.count; i++) {
			const bc_talk_member *r2;
			if (memcmp(m->meta.audience.ids[i], m->meta.sender,
				   BC_E2E_ID_LEN) == 0)
				continue;
			readers++;
			r2 = member_by_id(k, m->meta.audience.ids[i]);
			if (r2 == NULL ||
			    (ev.audience == BC_AUD_CAUCUS &&
			     r2->role != BC_ROLE_MEDIATOR))
				rc = BC_ERR_AUTH;
		}
		for (size_t i = 0; i < k->info.nmembers; i++)
			if (memcmp(k->info.members[i].id, m->meta.sender,
				   BC_E2E_ID_LEN) != 0)
				others++;
		if (ev.audience == BC_AUD_PLENARY && readers != others)
			rc = BC_ERR_AUTH;
		if (rc != BC_OK)
			goto out;
	}
	/* The readers are the audience of the message, minus its author. */
	to = bc_calloc(BC_TALK_MAX_MEMBERS, BC_E2E_ID_LEN);
	if (to == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	for (uint16_t i = 0; i < m->meta.audience.count; i++)
		if (memcmp(m->meta.audience.ids[i], m->meta.sender,
			   BC_E2E_ID_LEN) != 0 &&
		    nto < BC_TALK_MAX_MEMBERS)
			memcpy(to[nto++], m->meta.audience.ids[i], BC_E2E_ID_LEN);
	memcpy(ev.from, m->meta.sender, BC_E2E_ID_LEN);
	ev.kind = K_SAY;
	ev.time = now_s();
	ev.text = text;
	ev.to = (const uint8_t(*)[BC_E2E_ID_LEN])to;
	ev.nto = nto;
	memcpy(ev.msg_id, m->meta.msg_id, BC_MSGID_LEN);
	rc = log_event_id(t, k->info.id, m->meta.msg_id, K_SAY, ev.from,
			  ev.audience, ev.label, text,
			  (const uint8_t(*)[BC_E2E_ID_LEN])to, nto);
	if (rc == BC_OK && fn)
		rc = fn(ctx, &ev);
out:
	bc_free(to);
	if (text)
		bc_free_secret(text, strlen(text) + 1);
	return rc;
}

/* Who may move a talk from one state to another (the same rule on both
 * ends). */
static int state_change_ok(uint8_t role, uint8_t from, uint8_t to)
{
	if (from == BC_TALK_CLOSED)
		return BC_ERR_STATE;
	if (to == BC_TALK_CLOSED)
		return role == BC_ROLE_MEDIATOR ? BC_OK : BC_ERR_FORBIDDEN;
	if (to == BC_TALK_SUSPENDED || to == BC_TALK_OPEN) {
		if (role != BC_ROLE_PARTY)
			return BC_ERR_FORBIDDEN;
		return from == to ? BC_ERR_STATE : BC_OK;
	}
	return BC_ERR_INVALID;
}

/* Record a state change by `who` (already allowed) and describe it. */
static int apply_state(bc_talks *t, struct talk *k, const uint8_t *who,
		       uint8_t state, const char *reason, char *text,
		       size_t textcap)
{
	k->info.state = state;
	memcpy(k->info.state_by, who, BC_E2E_ID_LEN);
	snprintf(k->info.state_reason, sizeof(k->info.state_reason), "%s",
		 reason);
	snprintf(text, textcap, "%s the talk%s%s",
		 state == BC_TALK_SUSPENDED ? "suspended"
		 : state == BC_TALK_OPEN    ? "resumed"
					    : "closed",
		 reason[0] ? ": " : "", reason);
	return talk_commit(t, k);
}

static int on_state(bc_talks *t, struct talk *k, const uint8_t from[32],
		    bc_rd *r, bc_talk_event_fn fn, void *ctx)
{
	const bc_talk_member *m = member_by_id(k, from);
	uint8_t st = 0;
	char reason[257] = "";
	char text[400];
	int rc;
	bc_rd_u8(r, &st);
	read_str_into(r, reason, sizeof(reason));
	if ((rc = bc_rd_end(r)) != BC_OK)
		return rc;
	if (m == NULL)
		return BC_ERR_FORBIDDEN;
	if ((rc = state_change_ok(m->role, k->info.state, st)) != BC_OK)
		return rc == BC_ERR_STATE ? BC_OK : BC_ERR_FORBIDDEN;
	if ((rc = apply_state(t, k, from, st, reason, text, sizeof(text))) !=
	    BC_OK)
		return rc;
	return bc_talk_emit(t, k->info.id, NULL, K_STATE, from, text, NULL, 0,
			    fn, ctx);
}

int bc_talk_set_state(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		      uint8_t state, const char *reason)
{
	struct talk *k = bc_calloc(1, sizeof(*k));
	const bc_talk_member *readers[BC_TALK_MAX_MEMBERS];
	size_t n = 0;
	const uint8_t *self;
	char text[400];
	bc_wr w;
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int rc;
	if (k == NULL)
		return BC_ERR_NOMEM;
	self = bc_e2e_id(t->e);
	if (reason == NULL)
		reason = "";
	if ((rc = talk_load(t, id, k)) != BC_OK)
		goto out;
	if (strlen(reason) > 256) {
		rc = BC_ERR_INVALID;
		goto out;
	}
	if (!k->info.joined) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if ((rc = state_change_ok(k->info.my_role, k->info.state, state)) !=
	    BC_OK)
		goto out;
	for (size_t i = 0; i < k->info.nmembers; i++)
		if (memcmp(k->info.members[i].id, self, BC_E2E_ID_LEN) != 0)
			readers[n++] = &k->info.members[i];
	bc_wr_init(&w, 1024);
	bc_wr_u8(&w, MSG_VERSION);
	bc_wr_raw(&w, k->info.id, BC_TALK_ID_LEN);
	bc_wr_u8(&w, K_STATE);
	bc_wr_u8(&w, state);
	bc_wr_str(&w, reason);
	if ((rc = bc_wr_finish(&w, &msg, &mlen)) != BC_OK)
		goto out;
	if ((rc = send_msg(t, k, readers, n, msg, mlen, NULL)) != BC_OK)
		goto out;
	if ((rc = apply_state(t, k, self, state, reason, text, sizeof(text))) !=
	    BC_OK)
		goto out;
	rc = log_event(t, k->info.id, K_STATE, self, 0, 0, text, NULL, 0);
out:
	bc_free_secret(msg, mlen);
	bc_free_secret(k, sizeof(*k));
	return rc;
}

/* ---- passing statements on (the mediator) ------------------------------ */

/* May a statement labelled `label` be passed on as `mode` with this text
 * and attribution? A statement may go out under its own label or a
 * weaker one: attributed > verbatim > paraphrase; private (and unlabelled)
 * never. Verbatim and attributed copy the words exactly; only attributed
 * names the author. */
static int label_allows(uint8_t label, uint8_t mode, const char *orig,
			const char *text, const char *attribution)
{
	if (label < BC_LABEL_PARAPHRASE || label > BC_LABEL_ATTRIBUTED ||
	    mode < BC_LABEL_PARAPHRASE || mode > label)
		return BC_ERR_FORBIDDEN;
	if (mode == BC_LABEL_PARAPHRASE)
		return attribution[0] == '\0' && text[0] != '\0'
			       ? BC_OK
			       : BC_ERR_FORBIDDEN;
	if (strcmp(text, orig) != 0)
		return BC_ERR_FORBIDDEN;
	if (mode == BC_LABEL_VERBATIM)
		return attribution[0] == '\0' ? BC_OK : BC_ERR_FORBIDDEN;
	return attribution[0] != '\0' ? BC_OK : BC_ERR_FORBIDDEN;
}

struct stmt_find {
	const char *prefix;     /* hex prefix, or NULL to match by id */
	const uint8_t *id;
	const uint8_t *author;  /* required author, or NULL */
	int found;
	uint8_t msg_id[BC_MSGID_LEN];
	uint8_t from[BC_E2E_ID_LEN];
	uint8_t audience, label;
	char *text;
};

static int stmt_cb(void *ctx, const bc_talk_event *ev)
{
	struct stmt_find *f = ctx;
	char hex[BC_HEX_SIZE(BC_MSGID_LEN)];
	if (ev->kind != K_SAY || ev->audience != BC_AUD_CAUCUS)
		return BC_OK;
	if (f->author && memcmp(ev->from, f->author, BC_E2E_ID_LEN) != 0)
		return BC_OK;
	if (f->prefix) {
		if (bc_hex_encode(ev->msg_id, BC_MSGID_LEN, hex, sizeof(hex)) !=
			    BC_OK ||
		    strncasecmp(hex, f->prefix, strlen(f->prefix)) != 0)
			return BC_OK;
	} else if (memcmp(ev->msg_id, f->id, BC_MSGID_LEN) != 0) {
		return BC_OK;
	}
	if (f->found++ > 0)
		return BC_OK;
	memcpy(f->msg_id, ev->msg_id, BC_MSGID_LEN);
	memcpy(f->from, ev->from, BC_E2E_ID_LEN);
	f->audience = ev->audience;
	f->label = ev->label;
	f->text = bc_strdup(ev->text);
	return f->text ? BC_OK : BC_ERR_NOMEM;
}

int bc_talk_pass_on(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		    const char *statement, uint8_t mode, uint8_t audience,
		    const uint8_t (*to)[BC_E2E_ID_LEN], size_t nto,
		    const char *paraphrase)
{
	struct talk *k = bc_calloc(1, sizeof(*k));
	struct stmt_find f;
	const bc_talk_member *readers[BC_TALK_MAX_MEMBERS], *author;
	uint8_t rids[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	const char *text, *attribution = "";
	char line[BC_TALK_TEXT_MAX + 128];
	size_t n = 0;
	const uint8_t *self;
	bc_wr w;
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int rc;
	memset(&f, 0, sizeof(f));
	if (k == NULL)
		return BC_ERR_NOMEM;
	self = bc_e2e_id(t->e);
	if ((rc = talk_load(t, id, k)) != BC_OK)
		goto out;
	if (k->info.my_role != BC_ROLE_MEDIATOR || !k->info.joined) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if (k->info.state != BC_TALK_OPEN) {
		rc = BC_ERR_STATE;
		goto out;
	}
	if (strlen(statement) < 4 ||
	    (audience != BC_AUD_PLENARY && audience != BC_AUD_DIRECT)) {
		rc = BC_ERR_INVALID;
		goto out;
	}
	f.prefix = statement;
	if ((rc = bc_talk_log(t, id, stmt_cb, &f)) != BC_OK)
		goto out;
	if (f.found == 0 || memcmp(f.from, self, BC_E2E_ID_LEN) == 0) {
		rc = BC_ERR_NOTFOUND;
		goto out;
	}
	if (f.found > 1) {
		rc = BC_ERR_CONFLICT;
		goto out;
	}
	author = member_by_id(k, f.from);
	if (author == NULL) {
		rc = BC_ERR_NOTFOUND;
		goto out;
	}
	if (mode == BC_LABEL_PARAPHRASE) {
		text = paraphrase ? paraphrase : "";
	} else {
		text = f.text;
		if (mode == BC_LABEL_ATTRIBUTED)
			attribution = author->side[0]
					      ? author->side
					      : bc_talk_role_name(author->role);
	}
	/* The label decides, here and again at the author's end. */
	if ((rc = label_allows(f.label, mode, f.text, text, attribution)) !=
	    BC_OK)
		goto out;
	for (size_t i = 0; i < k->info.nmembers; i++) {
		const bc_talk_member *m = &k->info.members[i];
		bool take = false;
		if (memcmp(m->id, self, BC_E2E_ID_LEN) == 0)
			continue;
		if (audience == BC_AUD_PLENARY)
			take = true;
		else
			for (size_t j = 0; j < nto; j++)
				if (memcmp(to[j], m->id, BC_E2E_ID_LEN) == 0)
					take = true;
		if (take) {
			readers[n] = m;
			memcpy(rids[n], m->id, BC_E2E_ID_LEN);
			n++;
		}
	}
	if (n == 0 || (audience == BC_AUD_DIRECT && n != nto)) {
		rc = BC_ERR_NOTFOUND;
		goto out;
	}
	/* To the readers: the words, attributed only if allowed. */
	bc_wr_init(&w, BC_TALK_TEXT_MAX + 512);
	bc_wr_u8(&w, MSG_VERSION);
	bc_wr_raw(&w, k->info.id, BC_TALK_ID_LEN);
	bc_wr_u8(&w, K_PASSON);
	bc_wr_raw(&w, f.msg_id, BC_MSGID_LEN);
	bc_wr_u8(&w, mode);
	bc_wr_str(&w, text);
	bc_wr_str(&w, attribution);
	if ((rc = bc_wr_finish(&w, &msg, &mlen)) != BC_OK)
		goto out;
	if ((rc = send_msg(t, k, readers, n, msg, mlen, NULL)) != BC_OK)
		goto out;
	bc_free_secret(msg, mlen);
	msg = NULL;
	/* To the author: what went out from the statement, and to whom. */
	bc_wr_init(&w, BC_TALK_TEXT_MAX + 1024);
	bc_wr_u8(&w, MSG_VERSION);
	bc_wr_raw(&w, k->info.id, BC_TALK_ID_LEN);
	bc_wr_u8(&w, K_AUDIT);
	bc_wr_raw(&w, f.msg_id, BC_MSGID_LEN);
	bc_wr_u8(&w, mode);
	bc_wr_str(&w, text);
	bc_wr_str(&w, attribution);
	bc_wr_u16(&w, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		bc_wr_raw(&w, rids[i], BC_E2E_ID_LEN);
	if ((rc = bc_wr_finish(&w, &msg, &mlen)) != BC_OK)
		goto out;
	readers[0] = author;
	if ((rc = send_msg(t, k, readers, 1, msg, mlen, NULL)) != BC_OK)
		goto out;
	snprintf(line, sizeof(line), "passed on (%s%s%s): %s",
		 bc_talk_label_name(mode), attribution[0] ? ", as " : "",
		 attribution, text);
	rc = log_event_id(t, k->info.id, f.msg_id, K_PASSON, f.from, audience,
			  mode, line, (const uint8_t(*)[BC_E2E_ID_LEN])rids, n);
out:
	bc_free_secret(msg, mlen);
	if (f.text)
		bc_free_secret(f.text, strlen(f.text) + 1);
	bc_free_secret(k, sizeof(*k));
	return rc;
}

static int on_passon(bc_talks *t, struct talk *k, const bc_e2e_msg *m,
		     bc_rd *r, bool audit, bc_talk_event_fn fn, void *ctx)
{
	const bc_talk_member *from = member_by_id(k, m->meta.sender);
	uint8_t src[BC_MSGID_LEN], mode = 0;
	char *text = NULL, *attribution = NULL;
	char line[BC_TALK_TEXT_MAX + 160];
	uint16_t nreaders = 0;
	bc_talk_event ev;
	int rc;
	bc_rd_raw(r, src, sizeof(src));
	bc_rd_u8(r, &mode);
	bc_rd_str(r, BC_TALK_TEXT_MAX, &text);
	bc_rd_str(r, BC_TALK_SIDE_MAX, &attribution);
	if (audit) {
		bc_rd_count(r, BC_TALK_MAX_MEMBERS, &nreaders);
		for (uint16_t i = 0; i < nreaders; i++) {
			const uint8_t *rid;
			bc_rd_ref(r, BC_E2E_ID_LEN, &rid);
		}
	}
	if ((rc = bc_rd_end(r)) != BC_OK)
		goto out;
	if (from == NULL || from->role != BC_ROLE_MEDIATOR) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.msg_id, src, sizeof(src));
	memcpy(ev.from, m->meta.sender, BC_E2E_ID_LEN);
	ev.time = now_s();
	ev.label = mode;
	if (audit) {
		/* Our own statement: check that the mediator kept its label. */
		struct stmt_find f;
		memset(&f, 0, sizeof(f));
		f.id = src;
		f.author = bc_e2e_id(t->e);
		if ((rc = bc_talk_log(t, k->info.id, stmt_cb, &f)) != BC_OK)
			goto out;
		if (f.found == 0 ||
		    label_allows(f.label, mode, f.text, text, attribution) !=
			    BC_OK)
			snprintf(line, sizeof(line),
				 "the mediator BROKE THE LABEL of your "
				 "statement: passed it on (%s%s%s) to %u "
				 "member(s): %s",
				 bc_talk_label_name(mode),
				 attribution[0] ? ", as " : "", attribution,
				 nreaders, text);
		else
			snprintf(line, sizeof(line),
				 "the mediator passed on your statement (%s) "
				 "to %u member(s): %s",
				 bc_talk_label_name(mode), nreaders, text);
		ev.kind = f.found == 0 ||
					  label_allows(f.label, mode, f.text,
						       text, attribution) != BC_OK
				  ? EV_INTEGRITY
				  : K_AUDIT;
		if (f.text)
			bc_free_secret(f.text, strlen(f.text) + 1);
	} else {
		snprintf(line, sizeof(line), "%s%s%s", attribution,
			 attribution[0] ? " said (passed on by the mediator): "
					: "passed on by the mediator: ",
			 text);
		ev.kind = K_PASSON;
	}
	ev.text = line;
	rc = log_event_id(t, k->info.id, src, ev.kind, ev.from, 0, mode, line,
			  NULL, 0);
	if (rc == BC_OK && fn)
		rc = fn(ctx, &ev);
out:
	bc_free(attribution);
	if (text)
		bc_free_secret(text, strlen(text) + 1);
	return rc;
}

/* Handle one delivered message in talk k. Problems with its content are
 * the sender's: they are logged, not fatal. */
/* ---- leaving ------------------------------------------------------------ */

int bc_talk_leave(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		  const char *reason)
{
	struct talk *k = bc_calloc(1, sizeof(*k));
	const bc_talk_member *readers[BC_TALK_MAX_MEMBERS];
	const uint8_t *self = bc_e2e_id(t->e);
	size_t n = 0;
	char text[300];
	bc_wr w;
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int rc;
	if (k == NULL)
		return BC_ERR_NOMEM;
	if (reason == NULL)
		reason = "";
	if ((rc = talk_load(t, id, k)) != BC_OK)
		goto out;
	if (strlen(reason) > 256) {
		rc = BC_ERR_INVALID;
		goto out;
	}
	if (k->info.left) {
		rc = BC_ERR_STATE;
		goto out;
	}
	if (k->info.registrar) {
		rc = BC_ERR_FORBIDDEN; /* the registrar closes the talk */
		goto out;
	}
	for (size_t i = 0; k->info.joined && i < k->info.nmembers; i++)
		if (memcmp(k->info.members[i].id, self, BC_E2E_ID_LEN) != 0)
			readers[n++] = &k->info.members[i];
	if (n == 0) /* not confirmed yet: tell the registrar */
		readers[n++] = &k->info.members[0];
	bc_wr_init(&w, 1024);
	bc_wr_u8(&w, MSG_VERSION);
	bc_wr_raw(&w, k->info.id, BC_TALK_ID_LEN);
	bc_wr_u8(&w, K_LEAVE);
	bc_wr_str(&w, reason);
	if ((rc = bc_wr_finish(&w, &msg, &mlen)) != BC_OK)
		goto out;
	/* Sent even while the talk is suspended: leaving is always allowed. */
	if ((rc = send_msg(t, k, readers, n, msg, mlen, NULL)) != BC_OK)
		goto out;
	k->info.left = true;
	k->info.joined = false;
	if ((rc = talk_commit(t, k)) != BC_OK)
		goto out;
	snprintf(text, sizeof(text), "left the talk%s%s", reason[0] ? ": " : "",
		 reason);
	rc = log_event(t, k->info.id, K_LEAVE, self, 0, 0, text, NULL, 0);
out:
	bc_free_secret(msg, mlen);
	bc_free_secret(k, sizeof(*k));
	return rc;
}

static int on_leave(bc_talks *t, struct talk *k, const uint8_t from[32],
		    bc_rd *r, bc_talk_event_fn fn, void *ctx)
{
	char reason[257] = "";
	char text[300];
	size_t i;
	int rc;
	read_str_into(r, reason, sizeof(reason));
	if ((rc = bc_rd_end(r)) != BC_OK)
		return rc;
	for (i = 0; i < k->info.nmembers; i++)
		if (memcmp(k->info.members[i].id, from, BC_E2E_ID_LEN) == 0)
			break;
	if (i == k->info.nmembers ||
	    memcmp(from, k->registrar, BC_E2E_ID_LEN) == 0)
		return BC_ERR_FORBIDDEN;
	if (k->info.registrar) {
		/* drop the member; the others learn it from MEMBERS */
		memmove(&k->info.members[i], &k->info.members[i + 1],
			(k->info.nmembers - i - 1) * sizeof(k->info.members[0]));
		k->info.nmembers--;
		sodium_memzero(&k->info.members[k->info.nmembers],
			       sizeof(k->info.members[0]));
		k->members_pending = true;
		if ((rc = talk_commit(t, k)) != BC_OK)
			return rc;
		if (send_members(t, k) == BC_OK) {
			k->members_pending = false;
			if ((rc = talk_commit(t, k)) != BC_OK)
				return rc;
		}
	}
	snprintf(text, sizeof(text), "left the talk%s%s", reason[0] ? ": " : "",
		 reason);
	return bc_talk_emit(t, k->info.id, NULL, K_LEAVE, from, text, NULL, 0,
			    fn, ctx);
}

/* ---- the mediation tools (talk_int.h) ------------------------------------ */

const bc_identity *bc_talks_identity(bc_talks *t)
{
	return bc_e2e_self(t->e);
}

const uint8_t *bc_talks_self(bc_talks *t)
{
	return bc_e2e_id(t->e);
}

bc_store *bc_talks_store(bc_talks *t)
{
	return t->st;
}

uint64_t bc_talks_now(void)
{
	return now_s();
}

const bc_talk_member *bc_talk_member_of(const bc_talk_info *info,
					const uint8_t id[BC_E2E_ID_LEN])
{
	for (size_t i = 0; i < info->nmembers; i++)
		if (memcmp(info->members[i].id, id, BC_E2E_ID_LEN) == 0)
			return &info->members[i];
	return NULL;
}

const char *bc_talk_member_name(const bc_talk_info *info,
				const uint8_t id[BC_E2E_ID_LEN])
{
	const bc_talk_member *m = bc_talk_member_of(info, id);
	if (m == NULL)
		return "a former member";
	if (m->side[0] != '\0')
		return m->side;
	return bc_talk_role_name(m->role);
}

size_t bc_talk_parties(const bc_talk_info *info,
		       uint8_t (*out)[BC_E2E_ID_LEN])
{
	size_t n = 0;
	for (size_t i = 0; i < info->nmembers; i++)
		if (info->members[i].role == BC_ROLE_PARTY)
			memcpy(out[n++], info->members[i].id, BC_E2E_ID_LEN);
	return n;
}

int bc_talk_send(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		 uint8_t kind, const uint8_t *body, size_t blen,
		 const uint8_t (*to)[BC_E2E_ID_LEN], size_t nto,
		 bool observer_ok, uint8_t msg_id_out[16])
{
	struct talk *k = bc_calloc(1, sizeof(*k));
	const bc_talk_member *readers[BC_TALK_MAX_MEMBERS];
	const uint8_t *self = bc_e2e_id(t->e);
	size_t n = 0;
	bc_wr w;
	uint8_t *msg = NULL;
	size_t mlen = 0;
	int rc;
	if (k == NULL)
		return BC_ERR_NOMEM;
	if ((rc = talk_load(t, talk_id, k)) != BC_OK)
		goto out;
	if (!k->info.joined ||
	    (k->info.my_role == BC_ROLE_OBSERVER && !observer_ok)) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if (k->info.state != BC_TALK_OPEN) {
		rc = BC_ERR_STATE;
		goto out;
	}
	if (blen > BC_TALK_TEXT_MAX + 8192 || nto > BC_TALK_MAX_MEMBERS) {
		rc = BC_ERR_TOOBIG;
		goto out;
	}
	if (to == NULL) {
		for (size_t i = 0; i < k->info.nmembers; i++)
			if (memcmp(k->info.members[i].id, self,
				   BC_E2E_ID_LEN) != 0)
				readers[n++] = &k->info.members[i];
	} else {
		for (size_t i = 0; i < nto; i++) {
			const bc_talk_member *m = member_by_id(k, to[i]);
			if (m == NULL || memcmp(to[i], self, BC_E2E_ID_LEN) == 0) {
				rc = BC_ERR_NOTFOUND;
				goto out;
			}
			for (size_t j = 0; j < n; j++)
				if (readers[j] == m)
					m = NULL;
			if (m != NULL)
				readers[n++] = m;
		}
	}
	if (n == 0) {
		rc = BC_ERR_NOTFOUND; /* nobody to send it to */
		goto out;
	}
	bc_wr_init(&w, BC_TALK_TEXT_MAX + 8192 + 64);
	bc_wr_u8(&w, MSG_VERSION);
	bc_wr_raw(&w, k->info.id, BC_TALK_ID_LEN);
	bc_wr_u8(&w, kind);
	bc_wr_raw(&w, body, blen);
	if ((rc = bc_wr_finish(&w, &msg, &mlen)) != BC_OK)
		goto out;
	rc = send_msg(t, k, readers, n, msg, mlen, msg_id_out);
out:
	bc_free_secret(msg, mlen);
	bc_free_secret(k, sizeof(*k));
	return rc;
}

int bc_talk_emit(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		 const uint8_t *msg_id, uint8_t kind,
		 const uint8_t from[BC_E2E_ID_LEN], const char *text,
		 const uint8_t (*to)[BC_E2E_ID_LEN], size_t nto,
		 bc_talk_event_fn fn, void *ctx)
{
	bc_talk_event ev;
	int rc;
	if (nto > BC_TALK_MAX_MEMBERS || strlen(text) > BC_TALK_TEXT_MAX)
		return BC_ERR_INVALID;
	rc = log_event_id(t, talk_id, msg_id, kind, from, 0, 0, text, to, nto);
	if (rc != BC_OK || fn == NULL)
		return rc;
	memset(&ev, 0, sizeof(ev));
	if (msg_id)
		memcpy(ev.msg_id, msg_id, BC_MSGID_LEN);
	ev.time = now_s();
	ev.kind = kind;
	memcpy(ev.from, from, BC_E2E_ID_LEN);
	ev.text = text;
	ev.to = to;
	ev.nto = nto;
	return fn(ctx, &ev);
}

bool bc_talk_readers_are(const bc_e2e_msg *m,
			 const uint8_t (*ids)[BC_E2E_ID_LEN], size_t n)
{
	size_t readers = 0;
	for (uint16_t i = 0; i < m->meta.audience.count; i++) {
		bool found = false;
		if (memcmp(m->meta.audience.ids[i], m->meta.sender,
			   BC_E2E_ID_LEN) == 0)
			continue;
		readers++;
		for (size_t j = 0; j < n && !found; j++)
			found = memcmp(ids[j], m->meta.audience.ids[i],
				       BC_E2E_ID_LEN) == 0;
		if (!found)
			return false;
	}
	return readers == n;
}

bool bc_talk_readers_all(const bc_talk_info *info, const bc_e2e_msg *m)
{
	for (size_t i = 0; i < info->nmembers; i++) {
		bool found = false;
		if (memcmp(info->members[i].id, m->meta.sender,
			   BC_E2E_ID_LEN) == 0)
			continue;
		for (uint16_t j = 0; j < m->meta.audience.count && !found; j++)
			found = memcmp(m->meta.audience.ids[j],
				       info->members[i].id, BC_E2E_ID_LEN) == 0;
		if (!found)
			return false;
	}
	return true;
}

static bc_talk_tool_fn tool_for(uint8_t kind)
{
	switch (kind) {
	case BC_TK_PROPOSAL: return bc_talk_on_proposal;
	case BC_TK_SIGN: return bc_talk_on_sign;
	case BC_TK_TEXT: return bc_talk_on_text;
	case BC_TK_MUTUAL: return bc_talk_on_mutual;
	case BC_TK_EXCHANGE: return bc_talk_on_exchange;
	default: return NULL;
	}
}

/* A tool message: from a member of a talk that is not closed. */
static int on_tool(bc_talks *t, struct talk *k, const bc_e2e_msg *m,
		   bc_rd *r, bc_talk_tool_fn tool, bc_talk_event_fn fn,
		   void *ctx)
{
	if (member_by_id(k, m->meta.sender) == NULL ||
	    k->info.state == BC_TALK_CLOSED || !k->info.joined)
		return BC_ERR_FORBIDDEN;
	return tool(t, &k->info, m, r, fn, ctx);
}

static int on_message(bc_talks *t, struct talk *k, const bc_e2e_msg *m,
		      bc_talk_event_fn fn, void *ctx)
{
	bc_talk_tool_fn tool = NULL;
	bc_rd r;
	uint8_t ver = 0, kind = 0;
	const uint8_t *tid;
	int rc = BC_OK;
	bc_rd_init(&r, m->content, m->clen);
	bc_rd_u8(&r, &ver);
	bc_rd_ref(&r, BC_TALK_ID_LEN, &tid);
	bc_rd_u8(&r, &kind);
	if (r.err != BC_OK || ver != MSG_VERSION ||
	    memcmp(tid, k->info.id, BC_TALK_ID_LEN) != 0)
		return BC_OK; /* not for this talk: ignored */
	if (kind == K_JOIN)
		rc = on_join(t, k, m->meta.sender, &r, fn, ctx);
	else if (kind == K_MEMBERS)
		rc = on_members(t, k, m->meta.sender, &r, fn, ctx);
	else if (kind == K_SAY)
		rc = on_say(t, k, m, &r, fn, ctx);
	else if (kind == K_STATE)
		rc = on_state(t, k, m->meta.sender, &r, fn, ctx);
	else if (kind == K_PASSON || kind == K_AUDIT)
		rc = on_passon(t, k, m, &r, kind == K_AUDIT, fn, ctx);
	else if (kind == K_LEAVE)
		rc = on_leave(t, k, m->meta.sender, &r, fn, ctx);
	else if ((tool = tool_for(kind)) != NULL)
		rc = on_tool(t, k, m, &r, tool, fn, ctx);
	if (rc == BC_ERR_MALFORMED || rc == BC_ERR_FORBIDDEN ||
	    rc == BC_ERR_TOOBIG || rc == BC_ERR_AUTH)
		rc = log_event(t, k->info.id, EV_INTEGRITY, m->meta.sender, 0, 0,
			       rc == BC_ERR_FORBIDDEN
				       ? "refused a message its sender may not "
					 "send"
			       : rc == BC_ERR_AUTH
				       ? "refused a statement whose readers do "
					 "not match its audience"
				       : "refused a malformed message",
			       NULL, 0);
	else if (rc == BC_OK && kind != K_JOIN && kind != K_MEMBERS &&
		 kind != K_SAY && kind != K_STATE && kind != K_PASSON &&
		 kind != K_AUDIT && kind != K_LEAVE && tool == NULL)
		rc = log_event(t, k->info.id, EV_INTEGRITY, m->meta.sender, 0, 0,
			       "skipped a message of an unknown kind", NULL, 0);
	return rc;
}

struct fetched {
	uint8_t id[BC_MSGID_LEN];
	uint8_t *body;
	size_t len;
};

struct fetch_ctx {
	struct fetched *f;
	size_t n, cap;
};

static int fetch_one(void *ctx, const uint8_t *mailbox, const bc_msg_item *m)
{
	struct fetch_ctx *c = ctx;
	(void)mailbox;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 16;
		struct fetched *nf = bc_realloc(c->f, nc * sizeof(*nf));
		if (nf == NULL)
			return BC_ERR_NOMEM;
		c->f = nf;
		c->cap = nc;
	}
	c->f[c->n].body = bc_memdup(m->body, m->body_len);
	if (c->f[c->n].body == NULL)
		return BC_ERR_NOMEM;
	memcpy(c->f[c->n].id, m->msg_id, BC_MSGID_LEN);
	c->f[c->n].len = m->body_len;
	c->n++;
	return BC_OK;
}

static int sync_talk(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		     bc_talk_event_fn fn, void *ctx)
{
	struct talk *k = bc_calloc(1, sizeof(*k));
	struct fetch_ctx fc = {NULL, 0, 0};
	bc_client *c;
	bool more = true;
	int rc;
	if (k == NULL)
		return BC_ERR_NOMEM;
	if ((rc = talk_load(t, id, k)) != BC_OK)
		goto out;
	if ((rc = client_for(t, k->relay, k->tkey, &c)) != BC_OK)
		goto out;
	(void)flush_outbox(t); /* a relay still down: retried next time */
	if (k->info.registrar && k->members_pending &&
	    (rc = send_members(t, k)) == BC_OK) {
		k->members_pending = false;
		rc = talk_commit(t, k);
	}
	while (rc == BC_OK && more) {
		fc.n = 0;
		rc = bc_client_fetch(c, k->mailbox, 0, 256, fetch_one, &fc,
				     &more);
		for (size_t i = 0; rc == BC_OK && i < fc.n; i++) {
			bc_e2e_result res;
			int orc = bc_e2e_open(t->e, fc.f[i].id, fc.f[i].body,
					      fc.f[i].len, now_s(), &res);
			if (orc == BC_ERR_STORAGE || orc == BC_ERR_NOMEM ||
			    orc == BC_ERR_QUOTA) {
				rc = orc;
				break;
			}
			if (orc == BC_OK) {
				for (size_t j = 0; rc == BC_OK && j < res.nreports;
				     j++) {
					const bc_tx_report *rep = &res.reports[j];
					char line[256];
					if (bc_tx_delivers(rep->kind) ||
					    rep->kind == BC_TX_GAP)
						continue;
					(void)bc_transcript_report_format(
						rep, line, sizeof(line));
					rc = log_event(t, k->info.id,
						       EV_INTEGRITY, rep->sender,
						       0, 0, line, NULL, 0);
				}
				for (size_t j = 0; rc == BC_OK && j < res.nmsgs;
				     j++) {
					/* a member list may have changed */
					if (j > 0 &&
					    (rc = talk_load(t, id, k)) != BC_OK)
						break;
					rc = on_message(t, k, &res.msgs[j], fn,
							ctx);
				}
				bc_e2e_result_clear(&res);
			} else {
				rc = log_event(t, k->info.id, EV_INTEGRITY,
					       nobody, 0, 0,
					       "refused a message that does not "
					       "authenticate (forged or replayed)",
					       NULL, 0);
			}
			if (rc == BC_OK)
				rc = bc_client_ack(
					c, k->mailbox,
					(const uint8_t(*)[BC_MSGID_LEN])fc.f[i].id,
					1, NULL);
			if (rc == BC_OK)
				rc = bc_e2e_acked(t->e, fc.f[i].id);
			if (rc == BC_OK && i + 1 < fc.n &&
			    (rc = talk_load(t, id, k)) != BC_OK)
				break;
		}
		for (size_t i = 0; i < fc.n; i++)
			bc_free_secret(fc.f[i].body, fc.f[i].len);
	}
	/* What the tools held back while the talk was suspended or a relay
	 * was down (a mediator's tally or release, a party's signature) goes
	 * out now; a failure leaves it pending for the next sync. */
	if (rc == BC_OK) {
		int frc[3];
		frc[0] = bc_talk_proposal_flush(t, id, NULL, NULL);
		frc[1] = bc_talk_mutual_flush(t, id, fn, ctx);
		frc[2] = bc_talk_exchange_flush(t, id, fn, ctx);
		for (int i = 0; i < 3; i++)
			if (frc[i] == BC_ERR_STORAGE || frc[i] == BC_ERR_NOMEM)
				rc = frc[i];
	}
out:
	bc_free(fc.f);
	bc_free_secret(k, sizeof(*k));
	return rc;
}

struct all_ctx {
	uint8_t ids[64][BC_TALK_ID_LEN];
	size_t n;
};

static int collect_id(void *ctx, const bc_talk_info *info)
{
	struct all_ctx *a = ctx;
	if (a->n < 64)
		memcpy(a->ids[a->n++], info->id, BC_TALK_ID_LEN);
	return BC_OK;
}

int bc_talk_sync(bc_talks *t, const uint8_t *id, bc_talk_event_fn fn,
		 void *ctx)
{
	struct all_ctx *a;
	int rc;
	if (id != NULL)
		return sync_talk(t, id, fn, ctx);
	if ((a = bc_calloc(1, sizeof(*a))) == NULL)
		return BC_ERR_NOMEM;
	rc = bc_talk_list(t, collect_id, a);
	for (size_t i = 0; rc == BC_OK && i < a->n; i++)
		rc = sync_talk(t, a->ids[i], fn, ctx);
	bc_free(a);
	return rc;
}
