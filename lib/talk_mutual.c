/*
 * talk_mutual.c - double-blind mutual questions carried by talk messages
 * of kind BC_TK_MUTUAL (talk_mutual.h; wire format and rules:
 * docs/PROTOCOL.md §20). The body of every such message is exactly one
 * mutual.h message (ASK, ANSWER or RESULT); its kind byte says which.
 *
 * Who sends what to whom (checked on sending AND on receipt):
 *   ASK     the mediator -> exactly the talk's parties (one message, the
 *           same bytes for all; it names them, and they must be the talk's
 *           parties as the receiver sees them)
 *   ANSWER  a party asked -> the asking mediator only
 *   RESULT  the asking mediator -> every party asked (still a member),
 *           one message, the same bytes for all
 *
 * Store: kind "mutual", key talk id || qid, one record per question (see
 * rec_encode). The asking mediator keeps how each party answered only
 * while the question is open (bc_mutual does the tally); on decision the
 * answers are wiped from the record, as bc_mutual wipes them from memory.
 *
 * Refusals: a malformed body is BC_ERR_MALFORMED, a sender in the wrong
 * role BC_ERR_FORBIDDEN, readers that are not the ones the rules demand
 * BC_ERR_AUTH (talk.c logs those). A well-formed message that contradicts
 * what this member knows (an unknown question, a second answer, a result
 * that lies about its own answer) is logged here as one integrity event
 * saying exactly what was wrong, and changes nothing.
 */
#include "talk_mutual.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "encoding.h"
#include "internal.h"
#include "talk_int.h"

#define REC_VERSION 1
#define KEY_LEN (BC_TALK_ID_LEN + BC_MUTUAL_QID_LEN)
/* The largest mutual.h message (an ASK with the longest text and every
 * party): anything longer is refused before it is decoded. */
#define BODY_MAX                                                   \
	(2 + BC_MUTUAL_CHANNEL_LEN + BC_MUTUAL_QID_LEN + 4 +       \
	 BC_MUTUAL_MAX_TEXT + 2 + BC_MUTUAL_MAX_PARTIES * BC_MUTUAL_ID_LEN)
#define REC_MAX (BODY_MAX + 256 + BC_MUTUAL_MAX_PARTIES * 64)

static const char K_MUTUAL[] = "mutual";

/* One answer as the asking mediator records it. value is BC_TQ_YES/NO
 * while the question is open and BC_TQ_NONE (wiped) once decided. */
struct ans {
	uint8_t id[BC_E2E_ID_LEN];
	uint8_t msg[16]; /* the ANSWER's message id: spots a re-delivery */
	uint8_t value;
};

/* A question record in memory. `a` points into `ask`. */
struct qrec {
	bool mine;
	uint8_t asker[BC_E2E_ID_LEN];
	uint8_t ask_msg[16];
	uint64_t time;
	uint8_t *ask;
	size_t ask_len;
	bc_mutual_ask a;
	bool decided;
	uint8_t outcome;
	uint8_t my_answer;
	bool pending;
	size_t nans;
	struct ans ans[BC_MUTUAL_MAX_PARTIES];
};

static void rec_clear(struct qrec *q)
{
	bc_free_secret(q->ask, q->ask_len);
	sodium_memzero(q, sizeof(*q));
}

static void rec_key(const uint8_t talk[BC_TALK_ID_LEN],
		    const uint8_t qid[BC_MUTUAL_QID_LEN], uint8_t key[KEY_LEN])
{
	memcpy(key, talk, BC_TALK_ID_LEN);
	memcpy(key + BC_TALK_ID_LEN, qid, BC_MUTUAL_QID_LEN);
}

void bc_talk_mutual_label(const uint8_t qid[BC_MUTUAL_QID_LEN], char out[10])
{
	static const char hx[] = "0123456789abcdef";
	out[0] = 'Q';
	for (size_t i = 0; i < BC_TQ_SHOW; i++) {
		out[1 + 2 * i] = hx[qid[i] >> 4];
		out[2 + 2 * i] = hx[qid[i] & 15];
	}
	out[9] = '\0';
}

/*
 * A question's text must be printable on one line: valid UTF-8 (checked by
 * the mutual.h codec) without C0 controls, DEL or C1 controls (U+0080 ..
 * U+009F, encoded C2 80 .. C2 9F), which could drive a terminal or forge
 * timeline lines. The asker checks it, and so does every receiver.
 */
static bool text_ok(const uint8_t *s, size_t n)
{
	if (n == 0 || n > BC_MUTUAL_MAX_TEXT || !bc_utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
		if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 &&
		    s[i + 1] <= 0x9f)
			return false;
	}
	return true;
}

/* ---- the store record ---------------------------------------------------- */

/*
 * u8 version (1) || bool mine || fixed[32] asker || fixed[16] ask msg id ||
 * u64 time || bytes ask (the mutual.h ASK) || bool decided || u8 outcome ||
 * u8 my answer || bool result pending ||
 * list<fixed[32] party || fixed[16] answer msg id || u8 value> answers
 */
static int rec_encode(const struct qrec *q, uint8_t **out, size_t *outlen)
{
	bc_wr w;
	bc_wr_init(&w, REC_MAX);
	(void)bc_wr_u8(&w, REC_VERSION);
	(void)bc_wr_bool(&w, q->mine);
	(void)bc_wr_raw(&w, q->asker, sizeof(q->asker));
	(void)bc_wr_raw(&w, q->ask_msg, sizeof(q->ask_msg));
	(void)bc_wr_u64(&w, q->time);
	(void)bc_wr_bytes(&w, q->ask, q->ask_len);
	(void)bc_wr_bool(&w, q->decided);
	(void)bc_wr_u8(&w, q->outcome);
	(void)bc_wr_u8(&w, q->my_answer);
	(void)bc_wr_bool(&w, q->pending);
	(void)bc_wr_u16(&w, (uint16_t)q->nans);
	for (size_t i = 0; i < q->nans; i++) {
		(void)bc_wr_raw(&w, q->ans[i].id, BC_E2E_ID_LEN);
		(void)bc_wr_raw(&w, q->ans[i].msg, 16);
		(void)bc_wr_u8(&w, q->ans[i].value);
	}
	return bc_wr_finish(&w, out, outlen);
}

static int rec_decode(struct qrec *q, const uint8_t *buf, size_t len)
{
	const uint8_t *ask = NULL;
	uint8_t ver = 0;
	uint16_t n = 0;
	bc_rd r;
	int rc;
	memset(q, 0, sizeof(*q));
	bc_rd_init(&r, buf, len);
	(void)bc_rd_u8(&r, &ver);
	if (!r.err && ver != REC_VERSION)
		(void)bc_rd_fail(&r, BC_ERR_VERSION);
	(void)bc_rd_bool(&r, &q->mine);
	(void)bc_rd_raw(&r, q->asker, sizeof(q->asker));
	(void)bc_rd_raw(&r, q->ask_msg, sizeof(q->ask_msg));
	(void)bc_rd_u64(&r, &q->time);
	(void)bc_rd_bytes(&r, BODY_MAX, &ask, &q->ask_len);
	(void)bc_rd_bool(&r, &q->decided);
	(void)bc_rd_u8(&r, &q->outcome);
	(void)bc_rd_u8(&r, &q->my_answer);
	(void)bc_rd_bool(&r, &q->pending);
	(void)bc_rd_count(&r, BC_MUTUAL_MAX_PARTIES, &n);
	for (uint16_t i = 0; !r.err && i < n; i++) {
		(void)bc_rd_raw(&r, q->ans[i].id, BC_E2E_ID_LEN);
		(void)bc_rd_raw(&r, q->ans[i].msg, 16);
		(void)bc_rd_u8(&r, &q->ans[i].value);
		if (!r.err && q->ans[i].value > BC_TQ_NO)
			(void)bc_rd_fail(&r, BC_ERR_MALFORMED);
	}
	q->nans = n;
	if (!r.err && (q->outcome > BC_MUTUAL_NO_MATCH ||
		       q->my_answer > BC_TQ_NO ||
		       (q->decided != (q->outcome != 0))))
		(void)bc_rd_fail(&r, BC_ERR_MALFORMED);
	if ((rc = bc_rd_end(&r)) != BC_OK) {
		sodium_memzero(q, sizeof(*q));
		return rc;
	}
	if ((q->ask = bc_memdup(ask, q->ask_len)) == NULL) {
		q->ask_len = 0;
		return BC_ERR_NOMEM;
	}
	if ((rc = bc_mutual_ask_decode(&q->a, q->ask, q->ask_len)) != BC_OK)
		rec_clear(q);
	return rc;
}

static int rec_load(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		    const uint8_t qid[BC_MUTUAL_QID_LEN], struct qrec *q)
{
	uint8_t key[KEY_LEN];
	uint8_t *val = NULL;
	size_t vlen = 0;
	int rc;
	memset(q, 0, sizeof(*q));
	rec_key(talk, qid, key);
	rc = bc_store_get(bc_talks_store(t), K_MUTUAL, key, sizeof(key), &val,
			  &vlen);
	if (rc != BC_OK)
		return rc;
	rc = rec_decode(q, val, vlen);
	bc_free_secret(val, vlen);
	if (rc == BC_OK &&
	    (memcmp(q->a.channel, talk, BC_TALK_ID_LEN) != 0 ||
	     memcmp(q->a.qid, qid, BC_MUTUAL_QID_LEN) != 0)) {
		rec_clear(q);
		rc = BC_ERR_MALFORMED; /* a record under the wrong key */
	}
	return rc;
}

static int rec_save(bc_talks *t, const struct qrec *q)
{
	uint8_t key[KEY_LEN];
	uint8_t *val = NULL;
	size_t vlen = 0;
	int rc;
	rec_key(q->a.channel, q->a.qid, key);
	if ((rc = rec_encode(q, &val, &vlen)) != BC_OK)
		return rc;
	rc = bc_store_put(bc_talks_store(t), K_MUTUAL, key, sizeof(key), val,
			  vlen);
	bc_free_secret(val, vlen);
	return rc;
}

static void rec_to_question(const struct qrec *q, bc_talk_question *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->qid, q->a.qid, sizeof(out->qid));
	memcpy(out->asker, q->asker, sizeof(out->asker));
	memcpy(out->ask_msg, q->ask_msg, sizeof(out->ask_msg));
	out->time = q->time;
	out->mine = q->mine;
	memcpy(out->text, q->a.text, q->a.text_len);
	out->text[q->a.text_len] = '\0';
	out->nparties = q->a.nparties;
	memcpy(out->parties, q->a.parties, sizeof(out->parties));
	out->decided = q->decided;
	out->outcome = q->outcome;
	out->my_answer = q->my_answer;
	out->result_pending = q->pending;
	if (q->mine) {
		out->nanswered = q->nans;
		for (size_t i = 0; i < q->nans; i++)
			memcpy(out->answered[i], q->ans[i].id, BC_E2E_ID_LEN);
	}
}

/* ---- listing --------------------------------------------------------------- */

struct list_ctx {
	const uint8_t *talk;
	bc_talk_question *v;
	size_t n, cap;
	int rc;
};

static int list_one(void *vctx, const uint8_t *key, size_t klen,
		    const uint8_t *val, size_t vlen)
{
	struct list_ctx *l = vctx;
	struct qrec q;
	int rc;
	if (klen != KEY_LEN || memcmp(key, l->talk, BC_TALK_ID_LEN) != 0)
		return BC_OK;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 8;
		bc_talk_question *nv;
		if (nc > 4096)
			return BC_ERR_TOOBIG;
		nv = bc_calloc(nc, sizeof(*nv));
		if (nv == NULL)
			return BC_ERR_NOMEM;
		if (l->n > 0)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		bc_free_secret(l->v, l->cap * sizeof(*l->v));
		l->v = nv;
		l->cap = nc;
	}
	if ((rc = rec_decode(&q, val, vlen)) != BC_OK)
		return rc;
	if (memcmp(q.a.channel, key, BC_TALK_ID_LEN) != 0 ||
	    memcmp(q.a.qid, key + BC_TALK_ID_LEN, BC_MUTUAL_QID_LEN) != 0)
		rc = BC_ERR_MALFORMED;
	else
		rec_to_question(&q, &l->v[l->n++]);
	rec_clear(&q);
	return rc;
}

/* Every question of the talk, in l->v (free with list_free). */
static int list_all(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		    struct list_ctx *l)
{
	memset(l, 0, sizeof(*l));
	l->talk = talk;
	return bc_store_list(bc_talks_store(t), K_MUTUAL, list_one, l);
}

static void list_free(struct list_ctx *l)
{
	bc_free_secret(l->v, l->cap * sizeof(*l->v));
	l->v = NULL;
	l->n = l->cap = 0;
}

int bc_talk_mutual_list(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			int (*fn)(void *ctx, const bc_talk_question *q),
			void *ctx)
{
	struct list_ctx l;
	int rc;
	if (t == NULL || talk == NULL || fn == NULL)
		return BC_ERR_INVALID;
	rc = list_all(t, talk, &l);
	for (size_t i = 0; rc == BC_OK && i < l.n; i++)
		rc = fn(ctx, &l.v[i]);
	list_free(&l);
	return rc;
}

int bc_talk_mutual_get(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		       const uint8_t qid[BC_MUTUAL_QID_LEN],
		       bc_talk_question *out)
{
	struct qrec q;
	int rc;
	if (t == NULL || talk == NULL || qid == NULL || out == NULL)
		return BC_ERR_INVALID;
	if ((rc = rec_load(t, talk, qid, &q)) != BC_OK)
		return rc;
	rec_to_question(&q, out);
	rec_clear(&q);
	return BC_OK;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int bc_talk_mutual_find(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			const char *s, uint8_t qid[BC_MUTUAL_QID_LEN])
{
	struct list_ctx l;
	size_t n, hits = 0;
	int rc;
	if (t == NULL || talk == NULL || s == NULL || qid == NULL)
		return BC_ERR_INVALID;
	if (s[0] == 'Q' || s[0] == 'q')
		s++;
	n = strnlen(s, 2 * BC_MUTUAL_QID_LEN + 1);
	if (n < 4 || n > 2 * BC_MUTUAL_QID_LEN)
		return BC_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if (hexval(s[i]) < 0)
			return BC_ERR_INVALID;
	if ((rc = list_all(t, talk, &l)) != BC_OK) {
		list_free(&l);
		return rc;
	}
	for (size_t i = 0; i < l.n; i++) {
		bool match = true;
		for (size_t j = 0; j < n && match; j++) {
			uint8_t b = l.v[i].qid[j / 2];
			match = (j % 2 ? b & 15 : b >> 4) == hexval(s[j]);
		}
		if (match && hits++ == 0)
			memcpy(qid, l.v[i].qid, BC_MUTUAL_QID_LEN);
	}
	list_free(&l);
	return hits == 0 ? BC_ERR_NOTFOUND
	       : hits > 1 ? BC_ERR_CONFLICT
			  : BC_OK;
}

/* ---- helpers --------------------------------------------------------------- */

/* The parties asked that are still members of the talk: the readers of
 * the question's RESULT, for its sender and its receivers alike. */
static size_t result_readers(const bc_talk_info *info, const struct qrec *q,
			     uint8_t (*out)[BC_E2E_ID_LEN])
{
	size_t n = 0;
	for (size_t i = 0; i < q->a.nparties; i++)
		if (bc_talk_member_of(info, q->a.parties[i]) != NULL)
			memcpy(out[n++], q->a.parties[i], BC_E2E_ID_LEN);
	return n;
}

/* Log one integrity event about a refused message m; changes nothing
 * else. Returns what logging returned (BC_OK: the sync goes on). */
static int refuse(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		  bc_talk_event_fn fn, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static int refuse(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		  bc_talk_event_fn fn, void *ctx, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return bc_talk_emit(t, info->id, m->meta.msg_id, BC_TEV_INTEGRITY,
			    m->meta.sender, line, NULL, 0, fn, ctx);
}

/* "Q1a2b3c4d: match: TEXT" or "Q1a2b3c4d: no match" into a new string. */
static int outcome_line(const struct qrec *q, char **out)
{
	char lbl[10];
	size_t cap = 32 + q->a.text_len;
	char *s = bc_malloc(cap);
	if (s == NULL)
		return BC_ERR_NOMEM;
	bc_talk_mutual_label(q->a.qid, lbl);
	if (q->outcome == BC_MUTUAL_MATCH)
		(void)snprintf(s, cap, "%s: match: %.*s", lbl,
			       (int)q->a.text_len, (const char *)q->a.text);
	else
		(void)snprintf(s, cap, "%s: no match", lbl);
	*out = s;
	return BC_OK;
}

/*
 * The asking mediator sends the result of a decided question to every
 * party asked, then records that it went out and logs the outcome. While
 * the talk is not open it stays pending (bc_talk_mutual_flush sends it
 * later); any other failure is returned, with the result still pending.
 */
static int send_result(bc_talks *t, const bc_talk_info *info,
		       const uint8_t qid[BC_MUTUAL_QID_LEN],
		       bc_talk_event_fn fn, void *ctx)
{
	uint8_t to[BC_MUTUAL_MAX_PARTIES][BC_E2E_ID_LEN];
	uint8_t msg_id[16] = {0};
	bc_mutual_result res;
	struct qrec q;
	uint8_t *body = NULL;
	size_t blen = 0, nto;
	char *line = NULL;
	int rc;
	if (info->state != BC_TALK_OPEN)
		return BC_OK;
	if ((rc = rec_load(t, info->id, qid, &q)) != BC_OK)
		return rc;
	if (!q.mine || !q.decided || !q.pending)
		goto out;
	memset(&res, 0, sizeof(res));
	memcpy(res.channel, q.a.channel, sizeof(res.channel));
	memcpy(res.qid, q.a.qid, sizeof(res.qid));
	res.outcome = q.outcome;
	if (q.outcome == BC_MUTUAL_MATCH) {
		res.text = q.a.text;
		res.text_len = q.a.text_len;
	}
	/* The same bytes for every party, whoever said no. */
	if ((rc = bc_mutual_result_encode(&res, &body, &blen)) != BC_OK)
		goto out;
	nto = result_readers(info, &q, to);
	if (nto > 0) {
		rc = bc_talk_send(t, info->id, BC_TK_MUTUAL, body, blen,
				  (const uint8_t(*)[BC_E2E_ID_LEN])to, nto,
				  false, msg_id);
		if (rc == BC_ERR_STATE) {
			rc = BC_OK; /* suspended meanwhile: later */
			goto out;
		}
		if (rc != BC_OK)
			goto out;
	}
	q.pending = false;
	if ((rc = rec_save(t, &q)) != BC_OK)
		goto out;
	if ((rc = outcome_line(&q, &line)) == BC_OK)
		rc = bc_talk_emit(t, info->id, msg_id, BC_TK_MUTUAL,
				  bc_talks_self(t), line, NULL, 0, fn, ctx);
out:
	if (line != NULL)
		bc_free_secret(line, strlen(line) + 1);
	bc_free(body);
	rec_clear(&q);
	return rc;
}

int bc_talk_mutual_flush(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			 bc_talk_event_fn fn, void *ctx)
{
	bc_talk_info *info;
	struct list_ctx l;
	int rc;
	if (t == NULL || talk == NULL)
		return BC_ERR_INVALID;
	if ((info = bc_calloc(1, sizeof(*info))) == NULL)
		return BC_ERR_NOMEM;
	if ((rc = bc_talk_get(t, talk, info)) != BC_OK)
		goto out;
	if (info->state != BC_TALK_OPEN || !info->joined ||
	    info->my_role != BC_ROLE_MEDIATOR)
		goto out;
	if ((rc = list_all(t, talk, &l)) == BC_OK)
		for (size_t i = 0; rc == BC_OK && i < l.n; i++)
			if (l.v[i].mine && l.v[i].result_pending)
				rc = send_result(t, info, l.v[i].qid, fn, ctx);
	list_free(&l);
out:
	bc_free_secret(info, sizeof(*info));
	return rc;
}

/* ---- sending --------------------------------------------------------------- */

int bc_talk_mutual_ask(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
		       const char *text, uint8_t qid[BC_MUTUAL_QID_LEN],
		       bc_talk_event_fn fn, void *ctx)
{
	uint8_t parties[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	uint8_t key[KEY_LEN];
	bc_talk_info *info = NULL;
	bc_mutual *mu = NULL;
	struct qrec q;
	size_t np, tlen;
	char *line = NULL;
	bool saved = false;
	int rc;
	memset(&q, 0, sizeof(q));
	if (t == NULL || talk == NULL || text == NULL || qid == NULL)
		return BC_ERR_INVALID;
	tlen = strnlen(text, BC_MUTUAL_MAX_TEXT + 1);
	if (tlen > BC_MUTUAL_MAX_TEXT)
		return BC_ERR_TOOBIG;
	if (!text_ok((const uint8_t *)text, tlen))
		return BC_ERR_INVALID;
	if ((info = bc_calloc(1, sizeof(*info))) == NULL)
		return BC_ERR_NOMEM;
	if ((rc = bc_talk_get(t, talk, info)) != BC_OK)
		goto out;
	if (!info->joined || info->left || info->my_role != BC_ROLE_MEDIATOR) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if (info->state != BC_TALK_OPEN) {
		rc = BC_ERR_STATE;
		goto out;
	}
	np = bc_talk_parties(info, parties);
	if (np < BC_MUTUAL_MIN_PARTIES || np > BC_MUTUAL_MAX_PARTIES) {
		rc = BC_ERR_NOTFOUND;
		goto out;
	}
	randombytes_buf(qid, BC_MUTUAL_QID_LEN);
	if ((rc = bc_mutual_new(&mu, talk, qid, text,
				(const uint8_t(*)[BC_MUTUAL_ID_LEN])parties,
				np)) != BC_OK)
		goto out;
	if ((rc = bc_mutual_ask_msg(mu, &q.ask, &q.ask_len)) != BC_OK)
		goto out;
	if ((rc = bc_mutual_ask_decode(&q.a, q.ask, q.ask_len)) != BC_OK)
		goto out;
	q.mine = true;
	memcpy(q.asker, bc_talks_self(t), BC_E2E_ID_LEN);
	q.time = bc_talks_now();
	/* Saved before it goes out: an answer may come back to a mediator
	 * that crashed right after sending. */
	if ((rc = rec_save(t, &q)) != BC_OK)
		goto out;
	saved = true;
	rc = bc_talk_send(t, talk, BC_TK_MUTUAL, q.ask, q.ask_len,
			  (const uint8_t(*)[BC_E2E_ID_LEN])parties, np, false,
			  q.ask_msg);
	if (rc != BC_OK)
		goto out;
	if ((rc = rec_save(t, &q)) != BC_OK)
		goto out;
	if ((line = bc_malloc(32 + tlen)) == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	{
		char lbl[10];
		bc_talk_mutual_label(qid, lbl);
		(void)snprintf(line, 32 + tlen, "asked %s: %s", lbl, text);
	}
	rc = bc_talk_emit(t, talk, q.ask_msg, BC_TK_MUTUAL, bc_talks_self(t),
			  line, (const uint8_t(*)[BC_E2E_ID_LEN])parties, np,
			  fn, ctx);
out:
	if (saved && (rc == BC_ERR_STATE || rc == BC_ERR_FORBIDDEN ||
		      rc == BC_ERR_NOTFOUND || rc == BC_ERR_TOOBIG)) {
		/* refused before anything went out: forget it (after a
		 * network failure it may have gone out, so it stays) */
		rec_key(talk, qid, key);
		if (bc_store_del(bc_talks_store(t), K_MUTUAL, key,
				 sizeof(key)) != BC_OK) {
			/* it stays listed as open: harmless, and the
			 * caller reports the first error */
		}
	}
	if (line != NULL)
		bc_free_secret(line, strlen(line) + 1);
	bc_mutual_free(mu);
	rec_clear(&q);
	bc_free_secret(info, sizeof(*info));
	return rc;
}

int bc_talk_mutual_answer(bc_talks *t, const uint8_t talk[BC_TALK_ID_LEN],
			  const uint8_t qid[BC_MUTUAL_QID_LEN], bool yes,
			  bc_talk_event_fn fn, void *ctx)
{
	const uint8_t *self;
	bc_talk_info *info = NULL;
	bc_mutual_answer a;
	struct qrec q;
	uint8_t *body = NULL;
	size_t blen = 0;
	uint8_t msg_id[16];
	bool asked = false;
	char line[40], lbl[10];
	int rc;
	memset(&q, 0, sizeof(q));
	if (t == NULL || talk == NULL || qid == NULL)
		return BC_ERR_INVALID;
	self = bc_talks_self(t);
	if ((info = bc_calloc(1, sizeof(*info))) == NULL)
		return BC_ERR_NOMEM;
	if ((rc = bc_talk_get(t, talk, info)) != BC_OK)
		goto out;
	if (!info->joined || info->left || info->my_role != BC_ROLE_PARTY) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if ((rc = rec_load(t, talk, qid, &q)) != BC_OK)
		goto out;
	for (size_t i = 0; i < q.a.nparties; i++)
		asked = asked || memcmp(q.a.parties[i], self, BC_E2E_ID_LEN) == 0;
	if (q.mine || !asked) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if (q.my_answer != BC_TQ_NONE || q.decided) {
		rc = BC_ERR_CONFLICT;
		goto out;
	}
	if (info->state != BC_TALK_OPEN) {
		rc = BC_ERR_STATE;
		goto out;
	}
	memset(&a, 0, sizeof(a));
	memcpy(a.channel, talk, sizeof(a.channel));
	memcpy(a.qid, qid, sizeof(a.qid));
	a.yes = yes;
	if ((rc = bc_mutual_answer_encode(&a, &body, &blen)) != BC_OK)
		goto out;
	/* To the asking mediator alone: nobody else learns how, or even
	 * whether, this party answered. */
	rc = bc_talk_send(t, talk, BC_TK_MUTUAL, body, blen,
			  (const uint8_t(*)[BC_E2E_ID_LEN])q.asker, 1, false,
			  msg_id);
	if (rc != BC_OK)
		goto out;
	q.my_answer = yes ? BC_TQ_YES : BC_TQ_NO;
	if ((rc = rec_save(t, &q)) != BC_OK)
		goto out;
	bc_talk_mutual_label(qid, lbl);
	(void)snprintf(line, sizeof(line), "answered %s: %s", lbl,
		       yes ? "yes" : "no");
	rc = bc_talk_emit(t, talk, msg_id, BC_TK_MUTUAL, self, line,
			  (const uint8_t(*)[BC_E2E_ID_LEN])q.asker, 1, fn, ctx);
out:
	if (body != NULL)
		bc_free_secret(body, blen);
	sodium_memzero(&a, sizeof(a));
	sodium_memzero(line, sizeof(line));
	rec_clear(&q);
	bc_free_secret(info, sizeof(*info));
	return rc;
}

/* ---- receiving ------------------------------------------------------------- */

static int on_ask(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		  const uint8_t *body, size_t blen, bc_talk_event_fn fn,
		  void *ctx)
{
	uint8_t parties[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	const bc_talk_member *from = bc_talk_member_of(info, m->meta.sender);
	bc_mutual_ask a;
	struct qrec q, old;
	size_t np;
	char lbl[10], *line = NULL;
	int rc;
	if (from == NULL || from->role != BC_ROLE_MEDIATOR)
		return BC_ERR_FORBIDDEN;
	if (bc_mutual_ask_decode(&a, body, blen) != BC_OK ||
	    memcmp(a.channel, info->id, BC_TALK_ID_LEN) != 0 ||
	    !text_ok(a.text, a.text_len))
		return BC_ERR_MALFORMED;
	/* It must name exactly the talk's parties, and be sealed for exactly
	 * them: no observer, no other mediator, no party left out. */
	np = bc_talk_parties(info, parties);
	if (np != a.nparties ||
	    !bc_talk_readers_are(m, (const uint8_t(*)[BC_E2E_ID_LEN])parties,
				 np) ||
	    !bc_talk_readers_are(m, (const uint8_t(*)[BC_E2E_ID_LEN])a.parties,
				 a.nparties))
		return BC_ERR_AUTH;
	bc_talk_mutual_label(a.qid, lbl);
	rc = rec_load(t, info->id, a.qid, &old);
	if (rc == BC_OK) {
		bool same = !old.mine && old.ask_len == blen &&
			    memcmp(old.asker, m->meta.sender, BC_E2E_ID_LEN) == 0 &&
			    memcmp(old.ask, body, blen) == 0;
		rec_clear(&old);
		if (same)
			return BC_OK; /* delivered twice: nothing new */
		return refuse(t, info, m, fn, ctx,
			      "refused a question reusing the id %s of "
			      "another one",
			      lbl);
	}
	if (rc != BC_ERR_NOTFOUND)
		return rc;
	memset(&q, 0, sizeof(q));
	memcpy(q.asker, m->meta.sender, BC_E2E_ID_LEN);
	memcpy(q.ask_msg, m->meta.msg_id, 16);
	q.time = bc_talks_now();
	if ((q.ask = bc_memdup(body, blen)) == NULL)
		return BC_ERR_NOMEM;
	q.ask_len = blen;
	if ((rc = bc_mutual_ask_decode(&q.a, q.ask, q.ask_len)) == BC_OK)
		rc = rec_save(t, &q);
	if (rc == BC_OK && (line = bc_malloc(32 + a.text_len)) == NULL)
		rc = BC_ERR_NOMEM;
	if (rc == BC_OK) {
		(void)snprintf(line, 32 + a.text_len, "asked %s: %.*s", lbl,
			       (int)a.text_len, (const char *)a.text);
		rc = bc_talk_emit(t, info->id, m->meta.msg_id, BC_TK_MUTUAL,
				  m->meta.sender, line,
				  (const uint8_t(*)[BC_E2E_ID_LEN])parties, np,
				  fn, ctx);
		bc_free_secret(line, strlen(line) + 1);
	}
	rec_clear(&q);
	return rc;
}

static int on_answer(bc_talks *t, const bc_talk_info *info,
		     const bc_e2e_msg *m, const uint8_t *body, size_t blen,
		     bc_talk_event_fn fn, void *ctx)
{
	const bc_talk_member *from = bc_talk_member_of(info, m->meta.sender);
	const uint8_t *self = bc_talks_self(t);
	bc_store *st = bc_talks_store(t);
	bc_mutual_answer a;
	bc_mutual *mu = NULL;
	struct qrec q;
	char lbl[10], line[32];
	char *text = NULL;
	bool in_tx = false, decided = false, asked = false;
	int rc, outcome = 0;
	memset(&q, 0, sizeof(q));
	if (from == NULL || from->role != BC_ROLE_PARTY)
		return BC_ERR_FORBIDDEN;
	if (bc_mutual_answer_decode(&a, body, blen) != BC_OK ||
	    memcmp(a.channel, info->id, BC_TALK_ID_LEN) != 0)
		return BC_ERR_MALFORMED;
	/* for the asking mediator's eyes only */
	if (!bc_talk_readers_are(m, (const uint8_t(*)[BC_E2E_ID_LEN])self, 1)) {
		rc = BC_ERR_AUTH;
		goto out;
	}
	bc_talk_mutual_label(a.qid, lbl);
	if ((rc = bc_store_begin(st)) != BC_OK)
		goto out;
	in_tx = true;
	rc = rec_load(t, info->id, a.qid, &q);
	if (rc == BC_ERR_NOTFOUND || (rc == BC_OK && !q.mine)) {
		bc_store_rollback(st);
		in_tx = false;
		rc = refuse(t, info, m, fn, ctx,
			    "refused an answer to %s, a question you did not "
			    "ask",
			    lbl);
		goto out;
	}
	if (rc != BC_OK)
		goto out;
	for (size_t i = 0; i < q.a.nparties; i++)
		asked = asked || memcmp(q.a.parties[i], m->meta.sender,
					BC_E2E_ID_LEN) == 0;
	if (!asked) {
		rc = BC_ERR_FORBIDDEN; /* a party who joined after the ask */
		goto out;
	}
	for (size_t i = 0; i < q.nans; i++) {
		if (memcmp(q.ans[i].id, m->meta.sender, BC_E2E_ID_LEN) != 0)
			continue;
		bc_store_rollback(st);
		in_tx = false;
		if (memcmp(q.ans[i].msg, m->meta.msg_id, 16) == 0) {
			/* the same answer offered again (after a failed
			 * sync): finish what it started */
			rc = q.pending ? send_result(t, info, a.qid, fn, ctx)
				       : BC_OK;
			goto out;
		}
		rc = refuse(t, info, m, fn, ctx,
			    "refused a second answer to %s", lbl);
		goto out;
	}
	if (q.decided) {
		bc_store_rollback(st);
		in_tx = false;
		rc = refuse(t, info, m, fn, ctx,
			    "refused an answer to %s, which is already decided",
			    lbl);
		goto out;
	}
	/* The tally: bc_mutual, rebuilt from the recorded answers. */
	if ((text = bc_malloc(q.a.text_len + 1)) == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	memcpy(text, q.a.text, q.a.text_len);
	text[q.a.text_len] = '\0';
	rc = bc_mutual_new(&mu, q.a.channel, q.a.qid, text,
			   (const uint8_t(*)[BC_MUTUAL_ID_LEN])q.a.parties,
			   q.a.nparties);
	for (size_t i = 0; rc == BC_OK && i < q.nans; i++)
		rc = bc_mutual_record(mu, q.ans[i].id,
				      q.ans[i].value == BC_TQ_YES);
	if (rc == BC_OK)
		rc = bc_mutual_record_msg(mu, m->meta.sender, &a);
	if (rc != BC_OK) {
		/* the record was checked above: this is a bug */
		rc = BC_ERR_INTERNAL;
		goto out;
	}
	memcpy(q.ans[q.nans].id, m->meta.sender, BC_E2E_ID_LEN);
	memcpy(q.ans[q.nans].msg, m->meta.msg_id, 16);
	q.ans[q.nans].value = a.yes ? BC_TQ_YES : BC_TQ_NO;
	q.nans++;
	if (bc_mutual_decided(mu)) {
		if ((rc = bc_mutual_outcome(mu, &outcome)) != BC_OK)
			goto out;
		decided = true;
		q.decided = true;
		q.outcome = (uint8_t)outcome;
		q.pending = true;
		/* forget how each party answered; keep who (re-delivery) */
		for (size_t i = 0; i < q.nans; i++)
			q.ans[i].value = BC_TQ_NONE;
	}
	if ((rc = rec_save(t, &q)) != BC_OK)
		goto out;
	rc = bc_store_commit(st);
	in_tx = false;
	if (rc != BC_OK)
		goto out;
	/* who answered, never how */
	(void)snprintf(line, sizeof(line), "answered %s", lbl);
	rc = bc_talk_emit(t, info->id, m->meta.msg_id, BC_TK_MUTUAL,
			  m->meta.sender, line, NULL, 0, fn, ctx);
	if (rc == BC_OK && decided)
		rc = send_result(t, info, a.qid, fn, ctx);
out:
	if (in_tx)
		bc_store_rollback(st);
	if (text != NULL)
		bc_free_secret(text, q.a.text_len + 1);
	bc_mutual_free(mu);
	sodium_memzero(&a, sizeof(a));
	rec_clear(&q);
	return rc;
}

static int on_result(bc_talks *t, const bc_talk_info *info,
		     const bc_e2e_msg *m, const uint8_t *body, size_t blen,
		     bc_talk_event_fn fn, void *ctx)
{
	uint8_t to[BC_MUTUAL_MAX_PARTIES][BC_E2E_ID_LEN];
	const bc_talk_member *from = bc_talk_member_of(info, m->meta.sender);
	bc_mutual_result res;
	struct qrec q;
	char lbl[10], *line = NULL;
	size_t nto;
	int rc;
	if (from == NULL || from->role != BC_ROLE_MEDIATOR)
		return BC_ERR_FORBIDDEN;
	if (bc_mutual_result_decode(&res, body, blen) != BC_OK ||
	    memcmp(res.channel, info->id, BC_TALK_ID_LEN) != 0)
		return BC_ERR_MALFORMED;
	bc_talk_mutual_label(res.qid, lbl);
	rc = rec_load(t, info->id, res.qid, &q);
	if (rc == BC_ERR_NOTFOUND || (rc == BC_OK && q.mine)) {
		rec_clear(&q);
		return refuse(t, info, m, fn, ctx,
			      "refused a result for %s, a question you were "
			      "never asked",
			      lbl);
	}
	if (rc != BC_OK)
		return rc;
	if (memcmp(q.asker, m->meta.sender, BC_E2E_ID_LEN) != 0) {
		rc = BC_ERR_FORBIDDEN; /* only the asker decides */
		goto out;
	}
	/* one message for every party asked: each can tell that all got
	 * the same result */
	nto = result_readers(info, &q, to);
	if (!bc_talk_readers_are(m, (const uint8_t(*)[BC_E2E_ID_LEN])to, nto)) {
		rc = BC_ERR_AUTH;
		goto out;
	}
	if (bc_mutual_result_check(&q.a, &res) != BC_OK) {
		rc = refuse(t, info, m, fn, ctx,
			    "refused a result for %s that does not match the "
			    "question",
			    lbl);
		goto out;
	}
	if (q.decided) {
		if (q.outcome == res.outcome)
			goto out; /* delivered twice */
		rc = refuse(t, info, m, fn, ctx,
			    "refused a second, different result for %s", lbl);
		goto out;
	}
	/* A match needs this party's yes: the mediator is lying otherwise. */
	if (res.outcome == BC_MUTUAL_MATCH && q.my_answer != BC_TQ_YES) {
		rc = refuse(t, info, m, fn, ctx,
			    "refused a result for %s: the mediator claims a "
			    "match, but you %s",
			    lbl,
			    q.my_answer == BC_TQ_NO ? "answered no"
						    : "have not answered");
		goto out;
	}
	q.decided = true;
	q.outcome = res.outcome;
	if ((rc = rec_save(t, &q)) != BC_OK)
		goto out;
	if ((rc = outcome_line(&q, &line)) == BC_OK)
		rc = bc_talk_emit(t, info->id, m->meta.msg_id, BC_TK_MUTUAL,
				  m->meta.sender, line, NULL, 0, fn, ctx);
out:
	if (line != NULL)
		bc_free_secret(line, strlen(line) + 1);
	rec_clear(&q);
	return rc;
}

int bc_talk_on_mutual(bc_talks *t, const bc_talk_info *info,
		      const bc_e2e_msg *m, bc_rd *r, bc_talk_event_fn fn,
		      void *ctx)
{
	const uint8_t *body = NULL;
	size_t blen = bc_rd_left(r);
	int rc;
	if (blen < 2 || blen > BODY_MAX)
		return BC_ERR_MALFORMED;
	(void)bc_rd_ref(r, blen, &body);
	if ((rc = bc_rd_end(r)) != BC_OK)
		return BC_ERR_MALFORMED;
	if (body[0] != BC_MUTUAL_VERSION)
		return BC_ERR_MALFORMED;
	switch (body[1]) {
	case BC_MUTUAL_K_ASK:
		return on_ask(t, info, m, body, blen, fn, ctx);
	case BC_MUTUAL_K_ANSWER:
		return on_answer(t, info, m, body, blen, fn, ctx);
	case BC_MUTUAL_K_RESULT:
		return on_result(t, info, m, body, blen, fn, ctx);
	default:
		return BC_ERR_MALFORMED;
	}
}
