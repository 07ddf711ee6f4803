/*
 * talk_exchange.c - commit-reveal exchanges and sequenced steps wired into
 * talks (see talk_exchange.h; wire format: docs/PROTOCOL.md §21).
 *
 * The body of a BC_TK_EXCHANGE talk message is exactly one exchange.h
 * message (COMMIT .. STEPS) whose channel is the talk id. The lead
 * mediator's round state is rebuilt from the store into a bc_exround (and
 * every member's step state into a bc_exseq) for each event, so the
 * checks of exchange.c are the ones applied, on sending and on receipt.
 *
 * Invariants (besides those of talk_exchange.h):
 *   - a round record is read and written whole, in its own transaction;
 *     a refused message changes no record (it leaves one integrity event);
 *   - a record's sides are strictly ascending by id once the side list is
 *     known (the lead mediator's at the round's start, everyone else's
 *     from ALLCOMMITTED), so they are the ALLCOMMITTED / RELEASE order;
 *   - buffers that held a key or an unreleased text are wiped.
 */
#include "talk_exchange.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "encoding.h"
#include "internal.h"
#include "talk_int.h"

#define REC_VERSION 1
#define KEY_LEN (BC_TALK_ID_LEN + 4)
#define EX_LINE_MAX 24576 /* a timeline line: 16 sides x a clipped offer */
#define CLIP 1024      /* bytes of another member's text in one line */
/* The largest body: a RELEASE of 16 sides with 4096-byte texts. */
#define BODY_MAX (2 + BC_EXCHANGE_CHANNEL_LEN + 4 + 2 + \
		  BC_EXCHANGE_MAX_SIDES * (32 + 32 + 32 + 4 + BC_EXCHANGE_MAX_TEXT))

static const char K_EX[] = "exchange";

const char *bc_talk_exchange_phase_name(uint8_t phase)
{
	switch (phase) {
	case BC_TEX_COMMITTING: return "committing";
	case BC_TEX_REVEALING: return "revealing";
	case BC_TEX_RELEASED: return "released";
	case BC_TEX_BROKEN: return "broken";
	default: return "?";
	}
}

/* ---- small helpers ------------------------------------------------------ */

static int fail(char *why, size_t cap, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t cap, int rc, const char *fmt, ...)
{
	va_list ap;
	if (why != NULL && cap > 0) {
		va_start(ap, fmt);
		vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* The member who runs exchanges: the first mediator in member order. */
static const bc_talk_member *lead_of(const bc_talk_info *info)
{
	for (size_t i = 0; i < info->nmembers; i++)
		if (info->members[i].role == BC_ROLE_MEDIATOR)
			return &info->members[i];
	return NULL;
}

static bool is_lead(const bc_talk_info *info, const uint8_t *id)
{
	const bc_talk_member *l = lead_of(info);
	return l != NULL && memcmp(l->id, id, BC_E2E_ID_LEN) == 0;
}

static bool is_party(const bc_talk_info *info, const uint8_t *id)
{
	const bc_talk_member *m = bc_talk_member_of(info, id);
	return m != NULL && m->role == BC_ROLE_PARTY;
}

/* A member's name for messages: its side, its role, else hex digits. */
static void name_of(const bc_talk_info *info, const uint8_t *id, char out[72])
{
	const bc_talk_member *m = bc_talk_member_of(info, id);
	if (m != NULL && m->side[0] != '\0')
		snprintf(out, 72, "%s", m->side);
	else if (m != NULL)
		snprintf(out, 72, "the %s", bc_talk_role_name(m->role));
	else if (bc_hex_encode(id, 4, out, 72) != BC_OK)
		snprintf(out, 72, "?");
}

/* Append s to out (cap bytes, always NUL-terminated), at most max bytes
 * of it cut at a UTF-8 boundary, "..." marking a cut. */
static void append(char *out, size_t cap, const char *s, size_t max)
{
	size_t len = strlen(out), n = strlen(s);
	bool cut = n > max;
	if (cut) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	if (len + n + 4 >= cap)
		return;
	memcpy(out + len, s, n);
	memcpy(out + len + n, cut ? "..." : "", cut ? 4 : 1);
}

static void rd_cstr(bc_rd *r, char *out, size_t cap)
{
	const uint8_t *p = NULL;
	size_t n = 0;
	out[0] = '\0';
	if (bc_rd_bytes(r, cap - 1, &p, &n) == BC_OK) {
		memcpy(out, p, n);
		out[n] = '\0';
		if (memchr(out, '\0', n) != NULL)
			(void)bc_rd_fail(r, BC_ERR_MALFORMED);
	}
}

static int side_index(const bc_talk_exround *x, const uint8_t *id)
{
	for (size_t i = 0; i < x->nsides; i++)
		if (memcmp(x->sides[i].id, id, BC_E2E_ID_LEN) == 0)
			return (int)i;
	return -1;
}

static bc_talk_exround *xr_alloc(void)
{
	return bc_calloc(1, sizeof(bc_talk_exround));
}

static void xr_free(bc_talk_exround *x)
{
	bc_free_secret(x, sizeof(*x));
}

/* ---- the round record --------------------------------------------------- */

static void key_of(uint8_t key[KEY_LEN], const uint8_t talk[BC_TALK_ID_LEN],
		   uint32_t round)
{
	memcpy(key, talk, BC_TALK_ID_LEN);
	bc_store32(key + BC_TALK_ID_LEN, round);
}

static int rec_encode(const bc_talk_exround *x, uint8_t **out, size_t *len)
{
	bc_wr w;
	bc_wr_init(&w, BC_STORE_VALUE_MAX);
	(void)bc_wr_u8(&w, REC_VERSION);
	(void)bc_wr_u32(&w, x->round);
	(void)bc_wr_u8(&w, x->phase);
	(void)bc_wr_bytes(&w, x->reason, strlen(x->reason));
	(void)bc_wr_bool(&w, x->i_committed);
	(void)bc_wr_bool(&w, x->i_revealed);
	(void)bc_wr_raw(&w, x->my_key, sizeof(x->my_key));
	(void)bc_wr_bytes(&w, x->my_text, strlen(x->my_text));
	(void)bc_wr_bool(&w, x->allc_pending);
	(void)bc_wr_bool(&w, x->release_pending);
	(void)bc_wr_u16(&w, (uint16_t)x->nsides);
	for (size_t i = 0; i < x->nsides; i++) {
		const bc_talk_exside *s = &x->sides[i];
		(void)bc_wr_raw(&w, s->id, BC_E2E_ID_LEN);
		(void)bc_wr_bool(&w, s->committed);
		(void)bc_wr_bool(&w, s->revealed);
		(void)bc_wr_raw(&w, s->c, sizeof(s->c));
		(void)bc_wr_raw(&w, s->key, sizeof(s->key));
		(void)bc_wr_bytes(&w, s->text, strlen(s->text));
	}
	(void)bc_wr_bool(&w, x->steps_set);
	(void)bc_wr_u16(&w, (uint16_t)x->nsteps);
	for (size_t i = 0; i < x->nsteps; i++) {
		const bc_talk_exstep *s = &x->steps[i];
		(void)bc_wr_raw(&w, s->performer, BC_E2E_ID_LEN);
		(void)bc_wr_raw(&w, s->receiver, BC_E2E_ID_LEN);
		(void)bc_wr_bytes(&w, s->text, strlen(s->text));
		(void)bc_wr_bytes(&w, s->note, strlen(s->note));
	}
	(void)bc_wr_u32(&w, x->cur);
	(void)bc_wr_bool(&w, x->cur_done);
	return bc_wr_finish(&w, out, len);
}

static int rec_decode(bc_talk_exround *x, const uint8_t *buf, size_t len)
{
	bc_rd r;
	uint8_t ver = 0;
	uint16_t n = 0;
	int rc;
	memset(x, 0, sizeof(*x));
	bc_rd_init(&r, buf, len);
	(void)bc_rd_u8(&r, &ver);
	if (r.err == BC_OK && ver != REC_VERSION)
		(void)bc_rd_fail(&r, BC_ERR_VERSION);
	(void)bc_rd_u32(&r, &x->round);
	(void)bc_rd_u8(&r, &x->phase);
	rd_cstr(&r, x->reason, sizeof(x->reason));
	(void)bc_rd_bool(&r, &x->i_committed);
	(void)bc_rd_bool(&r, &x->i_revealed);
	(void)bc_rd_raw(&r, x->my_key, sizeof(x->my_key));
	rd_cstr(&r, x->my_text, sizeof(x->my_text));
	(void)bc_rd_bool(&r, &x->allc_pending);
	(void)bc_rd_bool(&r, &x->release_pending);
	(void)bc_rd_count(&r, BC_EXCHANGE_MAX_SIDES, &n);
	x->nsides = n;
	for (size_t i = 0; r.err == BC_OK && i < x->nsides; i++) {
		bc_talk_exside *s = &x->sides[i];
		(void)bc_rd_raw(&r, s->id, BC_E2E_ID_LEN);
		(void)bc_rd_bool(&r, &s->committed);
		(void)bc_rd_bool(&r, &s->revealed);
		(void)bc_rd_raw(&r, s->c, sizeof(s->c));
		(void)bc_rd_raw(&r, s->key, sizeof(s->key));
		rd_cstr(&r, s->text, sizeof(s->text));
	}
	(void)bc_rd_bool(&r, &x->steps_set);
	n = 0;
	(void)bc_rd_count(&r, BC_EXCHANGE_MAX_STEPS, &n);
	x->nsteps = n;
	for (size_t i = 0; r.err == BC_OK && i < x->nsteps; i++) {
		bc_talk_exstep *s = &x->steps[i];
		(void)bc_rd_raw(&r, s->performer, BC_E2E_ID_LEN);
		(void)bc_rd_raw(&r, s->receiver, BC_E2E_ID_LEN);
		rd_cstr(&r, s->text, sizeof(s->text));
		rd_cstr(&r, s->note, sizeof(s->note));
	}
	(void)bc_rd_u32(&r, &x->cur);
	(void)bc_rd_bool(&r, &x->cur_done);
	rc = bc_rd_end(&r);
	if (rc == BC_OK &&
	    (x->phase < BC_TEX_COMMITTING || x->phase > BC_TEX_BROKEN ||
	     x->cur > x->nsteps || (x->cur_done && x->cur == x->nsteps)))
		rc = BC_ERR_MALFORMED;
	if (rc != BC_OK)
		sodium_memzero(x, sizeof(*x));
	return rc;
}

static int rec_load(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		    uint32_t round, bc_talk_exround *x)
{
	uint8_t key[KEY_LEN], *buf = NULL;
	size_t len = 0;
	int rc;
	key_of(key, talk, round);
	rc = bc_store_get(bc_talks_store(t), K_EX, key, sizeof(key), &buf,
			  &len);
	if (rc == BC_OK)
		rc = rec_decode(x, buf, len);
	if (rc == BC_OK && x->round != round)
		rc = BC_ERR_MALFORMED;
	bc_free_secret(buf, len);
	return rc;
}

/* Write x in a transaction of its own. */
static int rec_save(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		    const bc_talk_exround *x)
{
	bc_store *st = bc_talks_store(t);
	uint8_t key[KEY_LEN], *buf = NULL;
	size_t len = 0;
	int rc;
	key_of(key, talk, x->round);
	if ((rc = rec_encode(x, &buf, &len)) != BC_OK)
		return rc;
	if ((rc = bc_store_begin(st)) == BC_OK) {
		rc = bc_store_put(st, K_EX, key, sizeof(key), buf, len);
		if (rc == BC_OK)
			rc = bc_store_commit(st);
		else
			bc_store_rollback(st);
	}
	bc_free_secret(buf, len);
	return rc;
}

static int rec_delete(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		      uint32_t round)
{
	bc_store *st = bc_talks_store(t);
	uint8_t key[KEY_LEN];
	int rc;
	key_of(key, talk, round);
	if ((rc = bc_store_begin(st)) != BC_OK)
		return rc;
	rc = bc_store_del(st, K_EX, key, sizeof(key));
	if (rc == BC_OK || rc == BC_ERR_NOTFOUND)
		rc = bc_store_commit(st);
	else
		bc_store_rollback(st);
	return rc;
}

struct rounds {
	const uint8_t *talk;
	uint32_t v[BC_TEX_ROUNDS_MAX];
	size_t n;
};

static int collect_round(void *ctx, const uint8_t *key, size_t klen,
			 const uint8_t *val, size_t vlen)
{
	struct rounds *rs = ctx;
	(void)val;
	(void)vlen;
	if (klen != KEY_LEN || memcmp(key, rs->talk, BC_TALK_ID_LEN) != 0)
		return BC_OK;
	if (rs->n == BC_TEX_ROUNDS_MAX)
		return BC_ERR_TOOBIG;
	rs->v[rs->n++] = bc_load32(key + BC_TALK_ID_LEN);
	return BC_OK;
}

/* The rounds of a talk this member has a record of, ascending. */
static int rounds_of(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		     struct rounds *rs)
{
	int rc;
	rs->talk = talk;
	rs->n = 0;
	rc = bc_store_list(bc_talks_store(t), K_EX, collect_round, rs);
	for (size_t i = 1; rc == BC_OK && i < rs->n; i++)
		for (size_t j = i; j > 0 && rs->v[j - 1] > rs->v[j]; j--) {
			uint32_t tmp = rs->v[j];
			rs->v[j] = rs->v[j - 1];
			rs->v[j - 1] = tmp;
		}
	return rc;
}

static int latest_round(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			uint32_t *round)
{
	struct rounds *rs = bc_calloc(1, sizeof(*rs));
	int rc;
	*round = 0;
	if (rs == NULL)
		return BC_ERR_NOMEM;
	rc = rounds_of(t, talk, rs);
	if (rc == BC_OK && rs->n > 0)
		*round = rs->v[rs->n - 1];
	bc_free(rs);
	return rc;
}

/* ---- exchange.h state machines from a record ---------------------------- */

static void allc_of(const uint8_t talk[BC_TALK_ID_LEN],
		    const bc_talk_exround *x, bc_exchange_allc *a)
{
	memset(a, 0, sizeof(*a));
	memcpy(a->channel, talk, BC_TALK_ID_LEN);
	a->round = x->round;
	a->n = x->nsides;
	for (size_t i = 0; i < x->nsides; i++) {
		memcpy(a->author[i], x->sides[i].id, BC_E2E_ID_LEN);
		memcpy(a->c[i], x->sides[i].c, BC_EXCHANGE_COMMIT_LEN);
	}
}

/* The lead mediator's bc_exround for x: every recorded commitment, then
 * every recorded reveal, replayed. */
static int exround_of(const uint8_t talk[BC_TALK_ID_LEN],
		      const bc_talk_exround *x, bc_exround **out)
{
	uint8_t ids[BC_EXCHANGE_MAX_SIDES][BC_E2E_ID_LEN];
	bc_exround *r = NULL;
	int rc;
	for (size_t i = 0; i < x->nsides; i++)
		memcpy(ids[i], x->sides[i].id, BC_E2E_ID_LEN);
	rc = bc_exround_new(&r, talk, x->round,
			    (const uint8_t(*)[BC_E2E_ID_LEN])ids, x->nsides);
	for (size_t i = 0; rc == BC_OK && i < x->nsides; i++) {
		bc_exchange_commit c;
		if (!x->sides[i].committed)
			continue;
		memcpy(c.channel, talk, BC_TALK_ID_LEN);
		c.round = x->round;
		memcpy(c.c, x->sides[i].c, sizeof(c.c));
		rc = bc_exround_commit(r, x->sides[i].id, &c);
	}
	for (size_t i = 0; rc == BC_OK && i < x->nsides; i++) {
		bc_exchange_reveal v;
		if (!x->sides[i].revealed)
			continue;
		memcpy(v.channel, talk, BC_TALK_ID_LEN);
		v.round = x->round;
		memcpy(v.key, x->sides[i].key, sizeof(v.key));
		v.text = (const uint8_t *)x->sides[i].text;
		v.text_len = strlen(x->sides[i].text);
		rc = bc_exround_reveal(r, x->sides[i].id, &v);
		sodium_memzero(&v, sizeof(v));
	}
	if (rc != BC_OK) {
		bc_exround_free(r);
		return rc == BC_ERR_NOMEM ? rc : BC_ERR_INTERNAL;
	}
	*out = r;
	return BC_OK;
}

/* Every member's bc_exseq for x: the confirmed steps, then the open one's
 * done report, replayed. */
static int exseq_of(const uint8_t talk[BC_TALK_ID_LEN],
		    const bc_talk_exround *x, bc_exseq **out)
{
	bc_exseq_def defs[BC_EXCHANGE_MAX_STEPS];
	bc_exchange_step st;
	bc_exseq *s = NULL;
	int rc;
	for (size_t i = 0; i < x->nsteps; i++) {
		memcpy(defs[i].performer, x->steps[i].performer, BC_E2E_ID_LEN);
		memcpy(defs[i].receiver, x->steps[i].receiver, BC_E2E_ID_LEN);
	}
	rc = bc_exseq_new(&s, talk, x->round, defs, x->nsteps);
	memset(&st, 0, sizeof(st));
	memcpy(st.channel, talk, BC_TALK_ID_LEN);
	st.round = x->round;
	for (uint32_t i = 0; rc == BC_OK && i <= x->cur && i < x->nsteps;
	     i++) {
		st.step = i;
		if (i < x->cur || x->cur_done)
			rc = bc_exseq_done(s, defs[i].performer, &st, NULL);
		if (rc == BC_OK && i < x->cur)
			rc = bc_exseq_confirm(s, defs[i].receiver, &st, NULL);
	}
	if (rc != BC_OK) {
		bc_exseq_free(s);
		return rc == BC_ERR_NOMEM ? rc : BC_ERR_INTERNAL;
	}
	*out = s;
	return BC_OK;
}

/* ---- timeline lines ----------------------------------------------------- */

static int emit(bc_talks *t, const bc_talk_info *info, const uint8_t *msg_id,
		uint8_t kind, const uint8_t *from, bc_talk_event_fn fn,
		void *ctx, const char *text)
{
	return bc_talk_emit(t, info->id, msg_id, kind, from, text, NULL, 0, fn,
			    ctx);
}

/* "round N released: US: ...; VE: ..." in member order (a side that left
 * the talk last, by fingerprint). */
static int release_line(const bc_talk_info *info, const bc_talk_exround *x,
			char **out)
{
	char *line = bc_calloc(1, EX_LINE_MAX), name[72], head[64];
	bool done[BC_EXCHANGE_MAX_SIDES] = {false};
	size_t k = 0;
	if (line == NULL)
		return BC_ERR_NOMEM;
	snprintf(line, EX_LINE_MAX, "round %u released: ", x->round);
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t m = 0; m < (pass ? x->nsides : info->nmembers); m++) {
			int i = pass ? (int)m
				     : side_index(x, info->members[m].id);
			if (i < 0 || done[i])
				continue;
			done[i] = true;
			name_of(info, x->sides[i].id, name);
			snprintf(head, sizeof(head), "%s", k++ ? "; " : "");
			append(line, EX_LINE_MAX, head, sizeof(head));
			append(line, EX_LINE_MAX, name, sizeof(name));
			append(line, EX_LINE_MAX, ": ", 2);
			append(line, EX_LINE_MAX, x->sides[i].text, CLIP);
		}
	*out = line;
	return BC_OK;
}

static int steps_line(const bc_talk_info *info, const bc_talk_exround *x,
		      char **out)
{
	char *line = bc_calloc(1, EX_LINE_MAX), a[72], b[72], head[200];
	if (line == NULL)
		return BC_ERR_NOMEM;
	snprintf(line, EX_LINE_MAX, "steps of round %u:", x->round);
	for (size_t i = 0; i < x->nsteps; i++) {
		name_of(info, x->steps[i].performer, a);
		name_of(info, x->steps[i].receiver, b);
		snprintf(head, sizeof(head), "%s %zu. %s (confirmed by %s): ",
			 i ? ";" : "", i + 1, a, b);
		append(line, EX_LINE_MAX, head, sizeof(head));
		append(line, EX_LINE_MAX, x->steps[i].text, 200);
	}
	*out = line;
	return BC_OK;
}

static int done_line(const bc_talk_info *info, const bc_talk_exround *x,
		     uint32_t step, char **out)
{
	char *line = bc_calloc(1, EX_LINE_MAX), who[72];
	const bc_talk_exstep *s = &x->steps[step];
	if (line == NULL)
		return BC_ERR_NOMEM;
	name_of(info, s->performer, who);
	snprintf(line, EX_LINE_MAX, "step %u done by %s: ", step + 1, who);
	append(line, EX_LINE_MAX, s->text, CLIP);
	if (s->note[0] != '\0') {
		append(line, EX_LINE_MAX, " (note: ", 8);
		append(line, EX_LINE_MAX, s->note, CLIP);
		append(line, EX_LINE_MAX, ")", 1);
	}
	*out = line;
	return BC_OK;
}

/* ---- receiving ---------------------------------------------------------- */

/* Refuse a message: one integrity event saying why; the records are left
 * as they were. Returns BC_OK so the sync goes on. */
static int refuse(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		  bc_talk_event_fn fn, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static int refuse(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		  bc_talk_event_fn fn, void *ctx, const char *fmt, ...)
{
	char text[512];
	int n;
	va_list ap;
	n = snprintf(text, sizeof(text), "refused an exchange message: ");
	va_start(ap, fmt);
	vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	va_end(ap);
	return emit(t, info, m->meta.msg_id, BC_TEV_INTEGRITY, m->meta.sender,
		    fn, ctx, text);
}

/* Mark x broken (saved), with one integrity event from `from`. */
static int broken(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		  bc_talk_exround *x, bc_talk_event_fn fn, void *ctx,
		  const char *reason)
{
	char text[BC_TEX_REASON_MAX + 128];
	int rc;
	x->phase = BC_TEX_BROKEN;
	snprintf(x->reason, sizeof(x->reason), "%s", reason);
	if ((rc = rec_save(t, info->id, x)) != BC_OK)
		return rc;
	snprintf(text, sizeof(text),
		 "REFUSED by the exchange check: %s; round %u is broken",
		 reason, x->round);
	return emit(t, info, m->meta.msg_id, BC_TEV_INTEGRITY,
		    m->meta.sender, fn, ctx, text);
}

static int on_commit(bc_talks *t, const bc_talk_info *info,
		     const bc_e2e_msg *m, const uint8_t *body, size_t blen,
		     bc_talk_exround *x, bc_talk_event_fn fn, void *ctx)
{
	const bc_talk_member *lead = lead_of(info);
	const uint8_t *from = m->meta.sender;
	bc_exchange_commit c;
	bc_exround *xr = NULL;
	uint8_t parties[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	uint32_t latest = 0;
	char who[72], line[64];
	int rc, i;
	if (bc_exchange_commit_decode(&c, body, blen) != BC_OK ||
	    memcmp(c.channel, info->id, BC_TALK_ID_LEN) != 0)
		return BC_ERR_MALFORMED;
	name_of(info, from, who);
	if (lead == NULL || !is_lead(info, bc_talks_self(t)))
		return refuse(t, info, m, fn, ctx,
			      "a commitment from %s to a member who does not "
			      "run the exchange", who);
	if (!is_party(info, from))
		return refuse(t, info, m, fn, ctx,
			      "a commitment from %s, who is not a party", who);
	if (!bc_talk_readers_are(m, (const uint8_t(*)[BC_E2E_ID_LEN])lead->id,
				 1))
		return refuse(t, info, m, fn, ctx,
			      "%s's commitment was sealed for other readers "
			      "than the mediator alone", who);
	rc = rec_load(t, info->id, c.round, x);
	if (rc == BC_ERR_NOTFOUND) {
		size_t n;
		if ((rc = latest_round(t, info->id, &latest)) != BC_OK)
			return rc;
		if (latest > 0 && (rc = rec_load(t, info->id, latest, x)) !=
					  BC_OK)
			return rc;
		if (c.round != latest + 1 || c.round > BC_TEX_ROUNDS_MAX ||
		    (latest > 0 && x->phase != BC_TEX_RELEASED &&
		     x->phase != BC_TEX_BROKEN))
			return refuse(t, info, m, fn, ctx,
				      "%s committed to round %u, but the "
				      "current round is %u", who, c.round,
				      latest > 0 && x->phase != BC_TEX_RELEASED
					      ? latest : latest + 1);
		n = bc_talk_parties(info, parties);
		if (n < BC_EXCHANGE_MIN_SIDES || n > BC_EXCHANGE_MAX_SIDES)
			return refuse(t, info, m, fn, ctx,
				      "%s committed, but the talk has fewer "
				      "than 2 parties", who);
		memset(x, 0, sizeof(*x));
		x->round = c.round;
		x->phase = BC_TEX_COMMITTING;
		/* the sides, ascending (the order of ALLCOMMITTED) */
		for (size_t k = 0; k < n; k++) {
			size_t j = x->nsides++;
			while (j > 0 && memcmp(x->sides[j - 1].id, parties[k],
					       BC_E2E_ID_LEN) > 0) {
				x->sides[j] = x->sides[j - 1];
				j--;
			}
			memset(&x->sides[j], 0, sizeof(x->sides[j]));
			memcpy(x->sides[j].id, parties[k], BC_E2E_ID_LEN);
		}
	} else if (rc != BC_OK) {
		return rc;
	} else if (x->phase != BC_TEX_COMMITTING) {
		return refuse(t, info, m, fn, ctx,
			      "%s committed to round %u after every side had "
			      "committed", who, c.round);
	}
	if ((rc = exround_of(info->id, x, &xr)) != BC_OK)
		return rc;
	rc = bc_exround_commit(xr, from, &c);
	if (rc == BC_ERR_FORBIDDEN || rc == BC_ERR_STATE) {
		bc_exround_free(xr);
		return refuse(t, info, m, fn, ctx,
			      rc == BC_ERR_FORBIDDEN
				      ? "%s is not a side of round %u (it "
					"joined after the round began)"
				      : "%s committed twice to round %u",
			      who, c.round);
	}
	if (rc == BC_OK && bc_exround_phase(xr) == BC_EXROUND_REVEALING) {
		x->phase = BC_TEX_REVEALING;
		x->allc_pending = true;
	}
	bc_exround_free(xr);
	if (rc != BC_OK)
		return rc;
	i = side_index(x, from);
	x->sides[i].committed = true;
	memcpy(x->sides[i].c, c.c, sizeof(c.c));
	if ((rc = rec_save(t, info->id, x)) != BC_OK)
		return rc;
	snprintf(line, sizeof(line), "committed to round %u", c.round);
	return emit(t, info, m->meta.msg_id, BC_TK_EXCHANGE, from, fn, ctx,
		    line);
}

static int on_reveal(bc_talks *t, const bc_talk_info *info,
		     const bc_e2e_msg *m, const uint8_t *body, size_t blen,
		     bc_talk_exround *x, bc_talk_event_fn fn, void *ctx)
{
	const bc_talk_member *lead = lead_of(info);
	const uint8_t *from = m->meta.sender;
	bc_exchange_reveal v;
	bc_exround *xr = NULL;
	char who[72], line[64];
	int rc, i;
	if (bc_exchange_reveal_decode(&v, body, blen) != BC_OK ||
	    memcmp(v.channel, info->id, BC_TALK_ID_LEN) != 0)
		return BC_ERR_MALFORMED;
	name_of(info, from, who);
	if (lead == NULL || !is_lead(info, bc_talks_self(t)))
		rc = refuse(t, info, m, fn, ctx,
			    "a reveal from %s to a member who does not run "
			    "the exchange", who);
	else if (!is_party(info, from))
		rc = refuse(t, info, m, fn, ctx,
			    "a reveal from %s, who is not a party", who);
	else if (!bc_talk_readers_are(
			 m, (const uint8_t(*)[BC_E2E_ID_LEN])lead->id, 1))
		rc = refuse(t, info, m, fn, ctx,
			    "%s's reveal was sealed for other readers than "
			    "the mediator alone", who);
	else if ((rc = rec_load(t, info->id, v.round, x)) == BC_ERR_NOTFOUND)
		rc = refuse(t, info, m, fn, ctx,
			    "a reveal from %s for round %u, which has no "
			    "commitments", who, v.round);
	else if (rc == BC_OK && (rc = exround_of(info->id, x, &xr)) == BC_OK) {
		rc = bc_exround_reveal(xr, from, &v);
		if (rc == BC_OK &&
		    bc_exround_phase(xr) == BC_EXROUND_RELEASED) {
			x->phase = BC_TEX_RELEASED;
			x->release_pending = true;
		}
		bc_exround_free(xr);
		if (rc == BC_OK) {
			i = side_index(x, from);
			x->sides[i].revealed = true;
			memcpy(x->sides[i].key, v.key, sizeof(v.key));
			memcpy(x->sides[i].text, v.text, v.text_len);
			x->sides[i].text[v.text_len] = '\0';
			if ((rc = rec_save(t, info->id, x)) == BC_OK) {
				snprintf(line, sizeof(line),
					 "revealed round %u", v.round);
				rc = emit(t, info, m->meta.msg_id,
					  BC_TK_EXCHANGE, from, fn, ctx, line);
			}
		} else if (rc == BC_ERR_FORBIDDEN) {
			rc = refuse(t, info, m, fn, ctx,
				    "%s is not a side of round %u", who,
				    v.round);
		} else if (rc == BC_ERR_STATE) {
			rc = refuse(t, info, m, fn, ctx,
				    "%s revealed round %u before every side "
				    "had committed, or twice", who, v.round);
		} else if (rc == BC_ERR_AUTH) {
			rc = refuse(t, info, m, fn, ctx,
				    "%s's reveal for round %u does not open "
				    "its commitment", who, v.round);
		} else if (rc == BC_ERR_INVALID || rc == BC_ERR_TOOBIG) {
			rc = BC_ERR_MALFORMED;
		}
	}
	sodium_memzero(&v, sizeof(v));
	return rc;
}

/* Checks common to what the lead mediator sends every other member. */
static bool from_lead_to_all(bc_talks *t, const bc_talk_info *info,
			     const bc_e2e_msg *m, const char *what,
			     bc_talk_event_fn fn, void *ctx, int *rc)
{
	char who[72];
	name_of(info, m->meta.sender, who);
	if (!is_lead(info, m->meta.sender) ||
	    is_lead(info, bc_talks_self(t)))
		*rc = refuse(t, info, m, fn, ctx,
			     "%s from %s, who does not run the exchange", what,
			     who);
	else if (!bc_talk_readers_all(info, m))
		*rc = refuse(t, info, m, fn, ctx,
			     "%s from %s was not sealed for every member",
			     what, who);
	else
		return true;
	return false;
}

static int on_allc(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		   const uint8_t *body, size_t blen, bc_talk_exround *x,
		   bc_talk_event_fn fn, void *ctx)
{
	const uint8_t *self = bc_talks_self(t);
	bool party = info->my_role == BC_ROLE_PARTY;
	bc_exchange_allc a;
	char line[160], who[72];
	int rc = BC_OK;
	if (bc_exchange_allc_decode(&a, body, blen) != BC_OK ||
	    memcmp(a.channel, info->id, BC_TALK_ID_LEN) != 0)
		return BC_ERR_MALFORMED;
	if (!from_lead_to_all(t, info, m, "a list of commitments", fn, ctx,
			      &rc))
		return rc;
	rc = rec_load(t, info->id, a.round, x);
	if (rc != BC_OK && rc != BC_ERR_NOTFOUND)
		return rc;
	if (party && (rc == BC_ERR_NOTFOUND || !x->i_committed))
		return refuse(t, info, m, fn, ctx,
			      "the mediator listed commitments for round %u, "
			      "to which you did not commit", a.round);
	if (rc == BC_OK && x->phase != BC_TEX_COMMITTING)
		return refuse(t, info, m, fn, ctx,
			      "a second list of commitments for round %u",
			      a.round);
	if (rc == BC_ERR_NOTFOUND) {
		if (a.round == 0 || a.round > BC_TEX_ROUNDS_MAX)
			return refuse(t, info, m, fn, ctx,
				      "a list of commitments for round %u",
				      a.round);
		memset(x, 0, sizeof(*x));
		x->round = a.round;
		x->phase = BC_TEX_COMMITTING;
	}
	if (party && bc_exchange_check_allc(&a, info->id, a.round, self,
					    x->sides[0].c) != BC_OK)
		return broken(t, info, m, x, fn, ctx,
			      "the mediator's list of commitments does not "
			      "hold your commitment unchanged");
	for (size_t k = 0; k < a.n; k++)
		if (!is_party(info, a.author[k])) {
			name_of(info, a.author[k], who);
			snprintf(line, sizeof(line),
				 "the mediator's list of commitments names "
				 "%s, who is not a party", who);
			return broken(t, info, m, x, fn, ctx, line);
		}
	/* the list replaces what this member knew (for a party: only its
	 * own entry, now checked to be in it unchanged) */
	x->nsides = a.n;
	for (size_t k = 0; k < a.n; k++) {
		memset(&x->sides[k], 0, sizeof(x->sides[k]));
		memcpy(x->sides[k].id, a.author[k], BC_E2E_ID_LEN);
		memcpy(x->sides[k].c, a.c[k], BC_EXCHANGE_COMMIT_LEN);
		x->sides[k].committed = true;
	}
	x->phase = BC_TEX_REVEALING;
	if ((rc = rec_save(t, info->id, x)) != BC_OK)
		return rc;
	snprintf(line, sizeof(line), "all sides committed to round %u",
		 a.round);
	return emit(t, info, m->meta.msg_id, BC_TK_EXCHANGE, m->meta.sender,
		    fn, ctx, line);
}

/* Why check_release refused: the first difference found. */
static void release_diag(const bc_talk_info *info, const bc_talk_exround *x,
			 const bc_exchange_allc *a,
			 const bc_exchange_release *rel, char *out, size_t cap)
{
	char who[72];
	if (rel->n != a->n) {
		snprintf(out, cap, "the release of round %u lists %zu sides, "
			 "the commitments %zu", x->round, rel->n, a->n);
		return;
	}
	for (size_t i = 0; i < rel->n; i++) {
		name_of(info, a->author[i], who);
		if (memcmp(a->author[i], rel->author[i], BC_E2E_ID_LEN) != 0) {
			snprintf(out, cap, "the release of round %u does not "
				 "list the sides that committed", x->round);
			return;
		}
		if (sodium_memcmp(a->c[i], rel->c[i],
				  BC_EXCHANGE_COMMIT_LEN) != 0) {
			snprintf(out, cap, "the release of round %u changed "
				 "%s's commitment", x->round, who);
			return;
		}
		if (bc_exchange_verify(a->c[i], rel->key[i], rel->channel,
				       rel->round, rel->author[i], rel->text[i],
				       rel->text_len[i]) != BC_OK) {
			snprintf(out, cap, "%s's offer in the release of round "
				 "%u does not match its commitment", who,
				 x->round);
			return;
		}
	}
	snprintf(out, cap, "the release of round %u does not match the "
		 "commitments", x->round);
}

static int on_release(bc_talks *t, const bc_talk_info *info,
		      const bc_e2e_msg *m, const uint8_t *body, size_t blen,
		      bc_talk_exround *x, bc_talk_event_fn fn, void *ctx)
{
	bc_exchange_release *rel = bc_calloc(1, sizeof(*rel));
	bc_exchange_allc a;
	char reason[BC_TEX_REASON_MAX + 1], *line = NULL;
	int rc = BC_OK, mine;
	if (rel == NULL)
		return BC_ERR_NOMEM;
	if (bc_exchange_release_decode(rel, body, blen) != BC_OK ||
	    memcmp(rel->channel, info->id, BC_TALK_ID_LEN) != 0) {
		rc = BC_ERR_MALFORMED;
		goto out;
	}
	if (!from_lead_to_all(t, info, m, "a release", fn, ctx, &rc))
		goto out;
	rc = rec_load(t, info->id, rel->round, x);
	if (rc == BC_ERR_NOTFOUND ||
	    (rc == BC_OK && x->phase == BC_TEX_COMMITTING)) {
		rc = refuse(t, info, m, fn, ctx,
			    "a release of round %u before its list of "
			    "commitments", rel->round);
		goto out;
	}
	if (rc != BC_OK)
		goto out;
	if (x->phase != BC_TEX_REVEALING) {
		rc = refuse(t, info, m, fn, ctx,
			    "a release of round %u, which is %s", rel->round,
			    bc_talk_exchange_phase_name(x->phase));
		goto out;
	}
	allc_of(info->id, x, &a);
	mine = side_index(x, bc_talks_self(t));
	if (bc_exchange_check_release(&a, rel) != BC_OK) {
		release_diag(info, x, &a, rel, reason, sizeof(reason));
		rc = broken(t, info, m, x, fn, ctx, reason);
		goto out;
	}
	/* A party's own offer, as it committed it (implied by the binding
	 * commitment; checked again because it costs nothing). */
	if (x->i_committed && mine >= 0 &&
	    (rel->text_len[mine] != strlen(x->my_text) ||
	     sodium_memcmp(rel->text[mine], x->my_text,
			   rel->text_len[mine]) != 0)) {
		rc = broken(t, info, m, x, fn, ctx,
			    "the release does not hold your own offer");
		goto out;
	}
	for (size_t i = 0; i < rel->n; i++) {
		memcpy(x->sides[i].key, rel->key[i], BC_EXCHANGE_KEY_LEN);
		memcpy(x->sides[i].text, rel->text[i], rel->text_len[i]);
		x->sides[i].text[rel->text_len[i]] = '\0';
		x->sides[i].revealed = true;
	}
	x->phase = BC_TEX_RELEASED;
	if ((rc = rec_save(t, info->id, x)) != BC_OK)
		goto out;
	if ((rc = release_line(info, x, &line)) == BC_OK)
		rc = emit(t, info, m->meta.msg_id, BC_TK_EXCHANGE,
			  m->meta.sender, fn, ctx, line);
out:
	if (line != NULL)
		bc_free_secret(line, EX_LINE_MAX);
	bc_free_secret(rel, sizeof(*rel));
	return rc;
}

static int on_steps(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		    const uint8_t *body, size_t blen, bc_talk_exround *x,
		    bc_talk_event_fn fn, void *ctx)
{
	bc_exchange_steps *s = bc_calloc(1, sizeof(*s));
	char *line = NULL;
	int rc = BC_OK;
	if (s == NULL)
		return BC_ERR_NOMEM;
	if (bc_exchange_steps_decode(s, body, blen) != BC_OK ||
	    memcmp(s->channel, info->id, BC_TALK_ID_LEN) != 0) {
		rc = BC_ERR_MALFORMED;
		goto out;
	}
	if (!from_lead_to_all(t, info, m, "a list of steps", fn, ctx, &rc))
		goto out;
	rc = rec_load(t, info->id, s->round, x);
	if (rc == BC_ERR_NOTFOUND ||
	    (rc == BC_OK && x->phase != BC_TEX_RELEASED)) {
		rc = refuse(t, info, m, fn, ctx,
			    "steps for round %u, which is not released%s",
			    s->round, rc == BC_OK && x->phase == BC_TEX_BROKEN
					      ? " (it is broken)" : "");
		goto out;
	}
	if (rc != BC_OK)
		goto out;
	if (x->steps_set) {
		rc = refuse(t, info, m, fn, ctx,
			    "a second list of steps for round %u", s->round);
		goto out;
	}
	for (size_t i = 0; i < s->n; i++)
		if (side_index(x, s->performer[i]) < 0 ||
		    side_index(x, s->receiver[i]) < 0) {
			rc = refuse(t, info, m, fn, ctx,
				    "step %zu of round %u names a member who "
				    "is not a side of the round", i + 1,
				    s->round);
			goto out;
		}
	x->steps_set = true;
	x->nsteps = s->n;
	x->cur = 0;
	x->cur_done = false;
	for (size_t i = 0; i < s->n; i++) {
		memset(&x->steps[i], 0, sizeof(x->steps[i]));
		memcpy(x->steps[i].performer, s->performer[i], BC_E2E_ID_LEN);
		memcpy(x->steps[i].receiver, s->receiver[i], BC_E2E_ID_LEN);
		memcpy(x->steps[i].text, s->text[i], s->text_len[i]);
	}
	if ((rc = rec_save(t, info->id, x)) != BC_OK)
		goto out;
	if ((rc = steps_line(info, x, &line)) == BC_OK)
		rc = emit(t, info, m->meta.msg_id, BC_TK_EXCHANGE,
			  m->meta.sender, fn, ctx, line);
out:
	if (line != NULL)
		bc_free_secret(line, EX_LINE_MAX);
	bc_free_secret(s, sizeof(*s));
	return rc;
}

static int on_step(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		   const uint8_t *body, size_t blen, bool confirm,
		   bc_talk_exround *x, bc_talk_event_fn fn, void *ctx)
{
	const uint8_t *from = m->meta.sender;
	bc_exchange_step st;
	bc_exseq *seq = NULL;
	char who[72], *line = NULL;
	int rc, why = BC_EXSEQ_OK;
	if ((confirm ? bc_exchange_stepconf_decode(&st, body, blen)
		     : bc_exchange_stepdone_decode(&st, body, blen)) != BC_OK ||
	    memcmp(st.channel, info->id, BC_TALK_ID_LEN) != 0)
		return BC_ERR_MALFORMED;
	name_of(info, from, who);
	if (!bc_talk_readers_all(info, m))
		return refuse(t, info, m, fn, ctx,
			      "%s's step %s was not sealed for every member",
			      who, confirm ? "confirmation" : "report");
	rc = rec_load(t, info->id, st.round, x);
	if (rc == BC_ERR_NOTFOUND || (rc == BC_OK && !x->steps_set))
		return refuse(t, info, m, fn, ctx,
			      "%s reported on a step of round %u, whose steps "
			      "are not known", who, st.round);
	if (rc != BC_OK)
		return rc;
	if ((rc = exseq_of(info->id, x, &seq)) != BC_OK)
		return rc;
	rc = confirm ? bc_exseq_confirm(seq, from, &st, &why)
		     : bc_exseq_done(seq, from, &st, &why);
	bc_exseq_free(seq);
	if (why != BC_EXSEQ_OK)
		return refuse(t, info, m, fn, ctx,
			      "%s %s step %u of round %u: %s", who,
			      confirm ? "confirmed" : "reported done",
			      st.step + 1, st.round,
			      bc_exseq_refusal_name(why));
	if (rc != BC_OK)
		return rc;
	if (confirm) {
		x->cur++;
		x->cur_done = false;
	} else {
		x->cur_done = true;
		memcpy(x->steps[st.step].note, st.note, st.note_len);
		x->steps[st.step].note[st.note_len] = '\0';
	}
	if ((rc = rec_save(t, info->id, x)) != BC_OK)
		return rc;
	if (confirm) {
		char l[160];
		snprintf(l, sizeof(l), "step %u confirmed by %s%s",
			 st.step + 1, who,
			 x->cur == x->nsteps ? "; every step is confirmed" : "");
		return emit(t, info, m->meta.msg_id, BC_TK_EXCHANGE, from, fn,
			    ctx, l);
	}
	if ((rc = done_line(info, x, st.step, &line)) == BC_OK)
		rc = emit(t, info, m->meta.msg_id, BC_TK_EXCHANGE, from, fn,
			  ctx, line);
	if (line != NULL)
		bc_free_secret(line, EX_LINE_MAX);
	return rc;
}

int bc_talk_on_exchange(bc_talks *t, const bc_talk_info *info,
			const bc_e2e_msg *m, bc_rd *r, bc_talk_event_fn fn,
			void *ctx)
{
	const uint8_t *body = NULL;
	size_t blen = bc_rd_left(r);
	bc_talk_exround *x;
	uint8_t kind = 0;
	int rc;
	if (blen > BODY_MAX || bc_rd_ref(r, blen, &body) != BC_OK ||
	    bc_rd_end(r) != BC_OK ||
	    bc_exchange_kind_of(body, blen, &kind) != BC_OK)
		return BC_ERR_MALFORMED;
	if ((x = xr_alloc()) == NULL)
		return BC_ERR_NOMEM;
	switch (kind) {
	case BC_EXCHANGE_K_COMMIT:
		rc = on_commit(t, info, m, body, blen, x, fn, ctx);
		break;
	case BC_EXCHANGE_K_REVEAL:
		rc = on_reveal(t, info, m, body, blen, x, fn, ctx);
		break;
	case BC_EXCHANGE_K_ALLCOMMITTED:
		rc = on_allc(t, info, m, body, blen, x, fn, ctx);
		break;
	case BC_EXCHANGE_K_RELEASE:
		rc = on_release(t, info, m, body, blen, x, fn, ctx);
		break;
	case BC_EXCHANGE_K_STEPS:
		rc = on_steps(t, info, m, body, blen, x, fn, ctx);
		break;
	case BC_EXCHANGE_K_STEPDONE:
	case BC_EXCHANGE_K_STEPCONFIRMED:
		rc = on_step(t, info, m, body, blen,
			     kind == BC_EXCHANGE_K_STEPCONFIRMED, x, fn, ctx);
		break;
	default:
		rc = BC_ERR_MALFORMED;
		break;
	}
	xr_free(x);
	/* The lead mediator answers a completed round at once. */
	if (rc == BC_OK && (kind == BC_EXCHANGE_K_COMMIT ||
			    kind == BC_EXCHANGE_K_REVEAL))
		rc = bc_talk_exchange_flush(t, info->id, fn, ctx);
	return rc;
}

/* ---- sending ------------------------------------------------------------ */

/* Load the talk and check this member may send in it now. */
static int talk_ready(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		      bc_talk_info *info, char *why, size_t cap)
{
	int rc = bc_talk_get(t, talk, info);
	if (rc != BC_OK)
		return fail(why, cap, rc, "cannot read the talk: %s",
			    bc_strerror(rc));
	if (!info->joined)
		return fail(why, cap, BC_ERR_FORBIDDEN,
			    info->left ? "you left this talk"
				       : "your membership is not confirmed "
					 "yet (sync after the registrar did)");
	if (info->state == BC_TALK_SUSPENDED)
		return fail(why, cap, BC_ERR_STATE,
			    "the talk is suspended: nothing can be sent until "
			    "a party resumes it");
	if (info->state != BC_TALK_OPEN)
		return fail(why, cap, BC_ERR_STATE,
			    "the talk is closed: nothing more can be sent");
	if (lead_of(info) == NULL)
		return fail(why, cap, BC_ERR_NOTFOUND,
			    "the talk has no mediator to run an exchange");
	return BC_OK;
}

static int send_failed(int rc, char *why, size_t cap)
{
	if (rc == BC_ERR_STATE)
		return fail(why, cap, rc,
			    "the talk is suspended or closed: nothing was "
			    "sent");
	return fail(why, cap, rc, "cannot send: %s", bc_strerror(rc));
}

/* Send body to `to` (NULL: every other member) as an exchange message. */
static int send_ex(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		   const uint8_t *body, size_t blen,
		   const uint8_t (*to)[BC_E2E_ID_LEN], size_t nto,
		   uint8_t msg_id[16])
{
	return bc_talk_send(t, talk, BC_TK_EXCHANGE, body, blen, to, nto,
			    false, msg_id);
}

int bc_talk_exchange_commit(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			    const char *text, uint32_t *round, char *why,
			    size_t whycap, bc_talk_event_fn fn, void *ctx)
{
	const uint8_t *self = bc_talks_self(t);
	bc_talk_info *info = bc_calloc(1, sizeof(*info));
	bc_talk_exround *x = xr_alloc();
	const bc_talk_member *lead;
	bc_exchange_commit c;
	uint8_t *msg = NULL, msg_id[16];
	size_t mlen = 0, tlen = text ? strlen(text) : 0;
	uint32_t latest = 0, r = 1;
	char line[64];
	int rc;
	if (info == NULL || x == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	if ((rc = talk_ready(t, talk, info, why, whycap)) != BC_OK)
		goto out;
	lead = lead_of(info);
	if (info->my_role != BC_ROLE_PARTY) {
		rc = fail(why, whycap, BC_ERR_FORBIDDEN,
			  "only a party commits to an offer (you are the %s)",
			  bc_talk_role_name(info->my_role));
		goto out;
	}
	if (tlen == 0 || !bc_utf8_valid((const uint8_t *)text, tlen)) {
		rc = fail(why, whycap, BC_ERR_INVALID,
			  "the offer must be 1..%d bytes of UTF-8",
			  BC_EXCHANGE_MAX_TEXT);
		goto out;
	}
	if (tlen > BC_EXCHANGE_MAX_TEXT) {
		rc = fail(why, whycap, BC_ERR_TOOBIG,
			  "the offer is limited to %d bytes",
			  BC_EXCHANGE_MAX_TEXT);
		goto out;
	}
	if ((rc = latest_round(t, talk, &latest)) != BC_OK)
		goto out;
	if (latest > 0) {
		if ((rc = rec_load(t, talk, latest, x)) != BC_OK)
			goto out;
		r = latest + 1;
		if (x->phase == BC_TEX_COMMITTING ||
		    x->phase == BC_TEX_REVEALING) {
			if (x->i_committed) {
				rc = fail(why, whycap, BC_ERR_STATE,
					  "you already committed to round %u "
					  "(%s)", latest,
					  x->phase == BC_TEX_COMMITTING
						  ? "waiting for the other "
						    "sides"
						  : "reveal it next");
				goto out;
			}
			r = latest;
		}
		if (r > BC_TEX_ROUNDS_MAX) {
			rc = fail(why, whycap, BC_ERR_QUOTA,
				  "this talk has had %d exchange rounds",
				  BC_TEX_ROUNDS_MAX);
			goto out;
		}
	}
	memset(x, 0, sizeof(*x));
	x->round = r;
	x->phase = BC_TEX_COMMITTING;
	x->i_committed = true;
	memcpy(x->my_text, text, tlen);
	memset(&c, 0, sizeof(c));
	memcpy(c.channel, talk, BC_TALK_ID_LEN);
	c.round = r;
	rc = bc_exchange_commit_new(x->my_key, c.c, talk, r, self,
				    (const uint8_t *)text, tlen);
	if (rc == BC_OK)
		rc = bc_exchange_commit_encode(&c, &msg, &mlen);
	if (rc != BC_OK) {
		rc = fail(why, whycap, rc, "cannot commit: %s",
			  bc_strerror(rc));
		goto out;
	}
	x->nsides = 1;
	memcpy(x->sides[0].id, self, BC_E2E_ID_LEN);
	memcpy(x->sides[0].c, c.c, sizeof(c.c));
	x->sides[0].committed = true;
	/* The key first: once the commitment is out, losing the key would
	 * leave a round nobody can finish. Undone if nothing went out. */
	if ((rc = rec_save(t, talk, x)) != BC_OK) {
		rc = fail(why, whycap, rc, "cannot save the offer: %s",
			  bc_strerror(rc));
		goto out;
	}
	rc = send_ex(t, talk, msg, mlen,
		     (const uint8_t(*)[BC_E2E_ID_LEN])lead->id, 1, msg_id);
	if (rc == BC_ERR_STATE || rc == BC_ERR_FORBIDDEN ||
	    rc == BC_ERR_NOTFOUND || rc == BC_ERR_INVALID ||
	    rc == BC_ERR_TOOBIG) {
		/* refused before anything was sealed: no commitment exists */
		(void)rec_delete(t, talk, r);
		rc = send_failed(rc, why, whycap);
		goto out;
	}
	if (rc != BC_OK) {
		/* Sealed but not posted (a relay down): the commitment stays
		 * in the outbox and goes out with the next sync, so the key
		 * that opens it must stay too. */
		rc = fail(why, whycap, rc,
			  "the commitment to round %u could not be posted yet "
			  "(%s); it goes out with your next sync",
			  r, bc_strerror(rc));
		goto out;
	}
	if (round)
		*round = r;
	snprintf(line, sizeof(line), "committed to round %u", r);
	rc = emit(t, info, msg_id, BC_TK_EXCHANGE, self, fn, ctx, line);
out:
	bc_free(msg);
	xr_free(x);
	bc_free(info);
	return rc;
}

int bc_talk_exchange_reveal(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			    uint32_t *round, char *why, size_t whycap,
			    bc_talk_event_fn fn, void *ctx)
{
	bc_talk_info *info = bc_calloc(1, sizeof(*info));
	bc_talk_exround *x = xr_alloc();
	const bc_talk_member *lead;
	bc_exchange_reveal v;
	uint8_t *msg = NULL, msg_id[16];
	size_t mlen = 0;
	uint32_t r = 0;
	char line[64];
	int rc;
	memset(&v, 0, sizeof(v));
	if (info == NULL || x == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	if ((rc = talk_ready(t, talk, info, why, whycap)) != BC_OK)
		goto out;
	lead = lead_of(info);
	if (info->my_role != BC_ROLE_PARTY) {
		rc = fail(why, whycap, BC_ERR_FORBIDDEN,
			  "only a party reveals an offer (you are the %s)",
			  bc_talk_role_name(info->my_role));
		goto out;
	}
	if ((rc = latest_round(t, talk, &r)) != BC_OK)
		goto out;
	if (r == 0 || (rc = rec_load(t, talk, r, x)) == BC_ERR_NOTFOUND ||
	    (rc == BC_OK && !x->i_committed)) {
		rc = fail(why, whycap, BC_ERR_NOTFOUND,
			  "you have not committed to an offer yet");
		goto out;
	}
	if (rc != BC_OK)
		goto out;
	if (x->phase == BC_TEX_COMMITTING)
		rc = fail(why, whycap, BC_ERR_STATE,
			  "not every side has committed to round %u yet: "
			  "nothing can be revealed before the mediator's "
			  "list of commitments (sync to receive it)", r);
	else if (x->phase == BC_TEX_BROKEN)
		rc = fail(why, whycap, BC_ERR_STATE, "round %u is broken: %s",
			  r, x->reason);
	else if (x->phase == BC_TEX_RELEASED)
		rc = fail(why, whycap, BC_ERR_STATE,
			  "round %u is already released", r);
	else if (x->i_revealed)
		rc = fail(why, whycap, BC_ERR_STATE,
			  "you already revealed round %u", r);
	if (rc != BC_OK)
		goto out;
	memcpy(v.channel, talk, BC_TALK_ID_LEN);
	v.round = r;
	memcpy(v.key, x->my_key, sizeof(v.key));
	v.text = (const uint8_t *)x->my_text;
	v.text_len = strlen(x->my_text);
	if ((rc = bc_exchange_reveal_encode(&v, &msg, &mlen)) != BC_OK) {
		rc = fail(why, whycap, rc, "cannot reveal: %s",
			  bc_strerror(rc));
		goto out;
	}
	rc = send_ex(t, talk, msg, mlen,
		     (const uint8_t(*)[BC_E2E_ID_LEN])lead->id, 1, msg_id);
	if (rc != BC_OK) {
		rc = send_failed(rc, why, whycap);
		goto out;
	}
	x->i_revealed = true;
	if ((rc = rec_save(t, talk, x)) != BC_OK)
		goto out;
	if (round)
		*round = r;
	snprintf(line, sizeof(line), "revealed round %u", r);
	rc = emit(t, info, msg_id, BC_TK_EXCHANGE, bc_talks_self(t), fn, ctx,
		  line);
out:
	sodium_memzero(&v, sizeof(v));
	bc_free_secret(msg, mlen);
	xr_free(x);
	bc_free(info);
	return rc;
}

int bc_talk_exchange_steps(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			   uint32_t round, const bc_exseq_def *defs,
			   const char *const *texts, size_t n, char *why,
			   size_t whycap, bc_talk_event_fn fn, void *ctx)
{
	bc_talk_info *info = bc_calloc(1, sizeof(*info));
	bc_talk_exround *x = xr_alloc();
	bc_exchange_steps *s = bc_calloc(1, sizeof(*s));
	uint8_t *msg = NULL, msg_id[16];
	size_t mlen = 0;
	char *line = NULL;
	int rc;
	if (info == NULL || x == NULL || s == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	if ((rc = talk_ready(t, talk, info, why, whycap)) != BC_OK)
		goto out;
	if (!is_lead(info, bc_talks_self(t))) {
		rc = fail(why, whycap, BC_ERR_FORBIDDEN,
			  "only the mediator running the exchange lists its "
			  "steps");
		goto out;
	}
	if (n == 0 || n > BC_EXCHANGE_MAX_STEPS) {
		rc = fail(why, whycap, BC_ERR_INVALID,
			  "an exchange has 1..%d steps", BC_EXCHANGE_MAX_STEPS);
		goto out;
	}
	if (round == 0 && (rc = latest_round(t, talk, &round)) != BC_OK)
		goto out;
	if (round == 0 || (rc = rec_load(t, talk, round, x)) == BC_ERR_NOTFOUND) {
		rc = fail(why, whycap, BC_ERR_NOTFOUND,
			  "there is no exchange round %u", round);
		goto out;
	}
	if (rc != BC_OK)
		goto out;
	if (x->phase != BC_TEX_RELEASED) {
		rc = fail(why, whycap, BC_ERR_STATE,
			  "round %u is not released yet: steps come after the "
			  "release", round);
		goto out;
	}
	if (x->steps_set) {
		rc = fail(why, whycap, BC_ERR_STATE,
			  "the steps of round %u are already set", round);
		goto out;
	}
	memcpy(s->channel, talk, BC_TALK_ID_LEN);
	s->round = round;
	s->n = n;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(texts[i]);
		if (side_index(x, defs[i].performer) < 0 ||
		    side_index(x, defs[i].receiver) < 0) {
			rc = fail(why, whycap, BC_ERR_INVALID,
				  "step %zu: both sides of a step must be "
				  "sides of round %u", i + 1, round);
			goto out;
		}
		if (memcmp(defs[i].performer, defs[i].receiver,
			   BC_E2E_ID_LEN) == 0) {
			rc = fail(why, whycap, BC_ERR_INVALID,
				  "step %zu: a side cannot confirm its own "
				  "step", i + 1);
			goto out;
		}
		if (len == 0 || len > BC_EXCHANGE_MAX_STEP_TEXT ||
		    !bc_utf8_valid((const uint8_t *)texts[i], len)) {
			rc = fail(why, whycap, BC_ERR_INVALID,
				  "step %zu: the text must be 1..%d bytes of "
				  "UTF-8", i + 1, BC_EXCHANGE_MAX_STEP_TEXT);
			goto out;
		}
		memcpy(s->performer[i], defs[i].performer, BC_E2E_ID_LEN);
		memcpy(s->receiver[i], defs[i].receiver, BC_E2E_ID_LEN);
		s->text[i] = (const uint8_t *)texts[i];
		s->text_len[i] = len;
	}
	if ((rc = bc_exchange_steps_encode(s, &msg, &mlen)) != BC_OK) {
		rc = fail(why, whycap, rc, "cannot list the steps: %s",
			  bc_strerror(rc));
		goto out;
	}
	if ((rc = send_ex(t, talk, msg, mlen, NULL, 0, msg_id)) != BC_OK) {
		rc = send_failed(rc, why, whycap);
		goto out;
	}
	x->steps_set = true;
	x->nsteps = n;
	x->cur = 0;
	x->cur_done = false;
	for (size_t i = 0; i < n; i++) {
		memset(&x->steps[i], 0, sizeof(x->steps[i]));
		memcpy(x->steps[i].performer, defs[i].performer, BC_E2E_ID_LEN);
		memcpy(x->steps[i].receiver, defs[i].receiver, BC_E2E_ID_LEN);
		memcpy(x->steps[i].text, texts[i], s->text_len[i]);
	}
	if ((rc = rec_save(t, talk, x)) != BC_OK)
		goto out;
	if ((rc = steps_line(info, x, &line)) == BC_OK)
		rc = emit(t, info, msg_id, BC_TK_EXCHANGE, bc_talks_self(t), fn,
			  ctx, line);
out:
	if (line != NULL)
		bc_free_secret(line, EX_LINE_MAX);
	bc_free(msg);
	bc_free(s);
	xr_free(x);
	bc_free(info);
	return rc;
}

/* The round a step command means: `round`, or the latest with steps. */
static int steps_round(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		       uint32_t round, bc_talk_exround *x, char *why,
		       size_t whycap)
{
	struct rounds *rs;
	int rc;
	if (round != 0) {
		rc = rec_load(t, talk, round, x);
		if (rc == BC_ERR_NOTFOUND || (rc == BC_OK && !x->steps_set))
			return fail(why, whycap, BC_ERR_NOTFOUND,
				    "round %u has no steps", round);
		return rc;
	}
	if ((rs = bc_calloc(1, sizeof(*rs))) == NULL)
		return BC_ERR_NOMEM;
	rc = rounds_of(t, talk, rs);
	for (size_t i = rs->n; rc == BC_OK && i > 0; i--) {
		if ((rc = rec_load(t, talk, rs->v[i - 1], x)) != BC_OK)
			break;
		if (x->steps_set) {
			bc_free(rs);
			return BC_OK;
		}
	}
	bc_free(rs);
	if (rc != BC_OK)
		return rc;
	return fail(why, whycap, BC_ERR_NOTFOUND,
		    "no exchange round has steps yet (the mediator lists them "
		    "after the release)");
}

static int step_act(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		    uint32_t round, uint32_t step, const char *note,
		    bool confirm, char *why, size_t whycap,
		    bc_talk_event_fn fn, void *ctx)
{
	const uint8_t *self = bc_talks_self(t);
	bc_talk_info *info = bc_calloc(1, sizeof(*info));
	bc_talk_exround *x = xr_alloc();
	bc_exseq *seq = NULL;
	bc_exchange_step st;
	uint8_t *msg = NULL, msg_id[16];
	size_t mlen = 0, nlen = note ? strlen(note) : 0;
	char other[72], *line = NULL;
	int rc, reason = BC_EXSEQ_OK;
	if (info == NULL || x == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	if ((rc = talk_ready(t, talk, info, why, whycap)) != BC_OK)
		goto out;
	if (info->my_role != BC_ROLE_PARTY) {
		rc = fail(why, whycap, BC_ERR_FORBIDDEN,
			  "only a party %s a step (you are the %s)",
			  confirm ? "confirms" : "does",
			  bc_talk_role_name(info->my_role));
		goto out;
	}
	if (nlen > BC_EXCHANGE_MAX_NOTE ||
	    (nlen && !bc_utf8_valid((const uint8_t *)note, nlen))) {
		rc = fail(why, whycap, BC_ERR_INVALID,
			  "the note must be 0..%d bytes of UTF-8",
			  BC_EXCHANGE_MAX_NOTE);
		goto out;
	}
	if ((rc = steps_round(t, talk, round, x, why, whycap)) != BC_OK)
		goto out;
	if (step == 0 || step > x->nsteps) {
		rc = fail(why, whycap, BC_ERR_NOTFOUND,
			  "round %u has steps 1..%zu", x->round, x->nsteps);
		goto out;
	}
	if ((rc = exseq_of(talk, x, &seq)) != BC_OK)
		goto out;
	memset(&st, 0, sizeof(st));
	memcpy(st.channel, talk, BC_TALK_ID_LEN);
	st.round = x->round;
	st.step = step - 1;
	st.note = (const uint8_t *)note;
	st.note_len = nlen;
	rc = confirm ? bc_exseq_confirm(seq, self, &st, &reason)
		     : bc_exseq_done(seq, self, &st, &reason);
	bc_exseq_free(seq);
	if (reason != BC_EXSEQ_OK) {
		const bc_talk_exstep *s = &x->steps[step - 1];
		name_of(info, confirm ? s->receiver : s->performer, other);
		switch (reason) {
		case BC_EXSEQ_COMPLETE:
			rc = fail(why, whycap, rc,
				  "every step of round %u is already "
				  "confirmed", x->round);
			break;
		case BC_EXSEQ_OUT_OF_ORDER:
			if (step - 1 < x->cur)
				rc = fail(why, whycap, rc,
					  "step %u is already confirmed",
					  step);
			else
				rc = fail(why, whycap, rc,
					  "step %u cannot be %s before step %u "
					  "is confirmed", step,
					  confirm ? "confirmed" : "done",
					  x->cur + 1);
			break;
		case BC_EXSEQ_NOT_PERFORMER:
			rc = fail(why, whycap, rc,
				  "step %u is %s's to do, not yours", step,
				  other);
			break;
		case BC_EXSEQ_NOT_RECEIVER:
			rc = fail(why, whycap, rc,
				  "step %u is %s's to confirm, not yours",
				  step, other);
			break;
		case BC_EXSEQ_ALREADY_DONE:
			name_of(info, s->receiver, other);
			rc = fail(why, whycap, rc,
				  "step %u is already done: %s has to confirm "
				  "it", step, other);
			break;
		case BC_EXSEQ_NOT_DONE:
			name_of(info, s->performer, other);
			rc = fail(why, whycap, rc,
				  "step %u is not done yet: %s has to do it "
				  "first", step, other);
			break;
		default:
			rc = fail(why, whycap, rc, "step %u: %s", step,
				  bc_exseq_refusal_name(reason));
			break;
		}
		goto out;
	}
	if (rc != BC_OK)
		goto out;
	rc = confirm ? bc_exchange_stepconf_encode(&st, &msg, &mlen)
		     : bc_exchange_stepdone_encode(&st, &msg, &mlen);
	if (rc != BC_OK)
		goto out;
	if ((rc = send_ex(t, talk, msg, mlen, NULL, 0, msg_id)) != BC_OK) {
		rc = send_failed(rc, why, whycap);
		goto out;
	}
	if (confirm) {
		x->cur++;
		x->cur_done = false;
	} else {
		x->cur_done = true;
		memcpy(x->steps[step - 1].note, note ? note : "", nlen);
		x->steps[step - 1].note[nlen] = '\0';
	}
	if ((rc = rec_save(t, talk, x)) != BC_OK)
		goto out;
	if (confirm) {
		char l[160];
		name_of(info, self, other);
		snprintf(l, sizeof(l), "step %u confirmed by %s%s", step, other,
			 x->cur == x->nsteps ? "; every step is confirmed" : "");
		rc = emit(t, info, msg_id, BC_TK_EXCHANGE, self, fn, ctx, l);
	} else if ((rc = done_line(info, x, step - 1, &line)) == BC_OK) {
		rc = emit(t, info, msg_id, BC_TK_EXCHANGE, self, fn, ctx, line);
	}
out:
	if (line != NULL)
		bc_free_secret(line, EX_LINE_MAX);
	bc_free(msg);
	xr_free(x);
	bc_free(info);
	return rc;
}

int bc_talk_exchange_done(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			  uint32_t round, uint32_t step, const char *note,
			  char *why, size_t whycap, bc_talk_event_fn fn,
			  void *ctx)
{
	return step_act(t, talk, round, step, note, false, why, whycap, fn,
			ctx);
}

int bc_talk_exchange_confirm(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			     uint32_t round, uint32_t step, char *why,
			     size_t whycap, bc_talk_event_fn fn, void *ctx)
{
	return step_act(t, talk, round, step, NULL, true, why, whycap, fn,
			ctx);
}

int bc_talk_exchange_list(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			  int (*fn)(void *ctx, const bc_talk_exround *x),
			  void *ctx)
{
	struct rounds *rs = bc_calloc(1, sizeof(*rs));
	bc_talk_exround *x = xr_alloc();
	int rc = BC_ERR_NOMEM;
	if (rs != NULL && x != NULL)
		rc = rounds_of(t, talk, rs);
	for (size_t i = 0; rc == BC_OK && i < rs->n; i++)
		if ((rc = rec_load(t, talk, rs->v[i], x)) == BC_OK)
			rc = fn(ctx, x);
	bc_free(rs);
	if (x != NULL)
		xr_free(x);
	return rc;
}

int bc_talk_exchange_flush(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			   bc_talk_event_fn fn, void *ctx)
{
	bc_talk_info *info = bc_calloc(1, sizeof(*info));
	struct rounds *rs = bc_calloc(1, sizeof(*rs));
	bc_talk_exround *x = xr_alloc();
	const uint8_t *self = bc_talks_self(t);
	int rc;
	if (info == NULL || rs == NULL || x == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	if ((rc = bc_talk_get(t, talk, info)) != BC_OK)
		goto out;
	if (!info->joined || info->state != BC_TALK_OPEN ||
	    !is_lead(info, self))
		goto out;
	if ((rc = rounds_of(t, talk, rs)) != BC_OK)
		goto out;
	for (size_t i = 0; rc == BC_OK && i < rs->n; i++) {
		bc_exround *xr = NULL;
		uint8_t *msg = NULL, msg_id[16];
		size_t mlen = 0;
		char *line = NULL, l[64];
		if ((rc = rec_load(t, talk, rs->v[i], x)) != BC_OK)
			break;
		if (!x->allc_pending && !x->release_pending)
			continue;
		if ((rc = exround_of(talk, x, &xr)) != BC_OK)
			break;
		if (x->allc_pending) {
			rc = bc_exround_allc_msg(xr, &msg, &mlen);
			if (rc == BC_OK)
				rc = send_ex(t, talk, msg, mlen, NULL, 0,
					     msg_id);
			bc_free(msg);
			msg = NULL;
			if (rc == BC_OK) {
				x->allc_pending = false;
				rc = rec_save(t, talk, x);
			}
			snprintf(l, sizeof(l),
				 "all sides committed to round %u", x->round);
			if (rc == BC_OK)
				rc = emit(t, info, msg_id, BC_TK_EXCHANGE,
					  self, fn, ctx, l);
		}
		if (rc == BC_OK && x->release_pending) {
			rc = bc_exround_release_msg(xr, &msg, &mlen);
			if (rc == BC_OK)
				rc = send_ex(t, talk, msg, mlen, NULL, 0,
					     msg_id);
			bc_free_secret(msg, mlen);
			if (rc == BC_OK) {
				x->release_pending = false;
				rc = rec_save(t, talk, x);
			}
			if (rc == BC_OK &&
			    (rc = release_line(info, x, &line)) == BC_OK)
				rc = emit(t, info, msg_id, BC_TK_EXCHANGE,
					  self, fn, ctx, line);
			if (line != NULL)
				bc_free_secret(line, EX_LINE_MAX);
		}
		bc_exround_free(xr);
	}
	/* suspended since: sent at the next flush */
	if (rc == BC_ERR_STATE)
		rc = BC_OK;
out:
	bc_free(info);
	bc_free(rs);
	if (x != NULL)
		xr_free(x);
	return rc;
}
