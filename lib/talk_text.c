/*
 * talk_text.c - the single negotiating text, wired into talks (see
 * talk_text.h for the messages and the rules; docs/PROTOCOL.md §19 is the
 * normative description).
 *
 * Invariants:
 *   - one function, check(), decides whether a message may be applied to
 *     this member's state, and it runs both before this member sends
 *     (nothing is sent that a receiver would refuse) and on receipt (a
 *     hostile member or relay gains nothing by skipping the sender's
 *     checks);
 *   - the state, the texts and the comments change only in apply(), in
 *     one store transaction with the timeline events that describe the
 *     change, so the timeline never says something the state does not;
 *   - every member computes adoption itself from the votes it holds: the
 *     text is adopted when every current party voted yes in the open
 *     round; the first no closes the round as not adopted;
 *   - comments, calls and votes carry the digest of the version they are
 *     about and are refused when it is not the digest of this member's
 *     copy of that version.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "talk_int.h"
#include "talk_text.h"

#define STATE_VERSION 1
#define VER_KEY_LEN (BC_TALK_ID_LEN + 4)

static const char K_TEXT[] = "text";
static const char K_VER[] = "textver";
static const char K_CMT[] = "textcmt";
static const char DIGEST_LABEL[] = "backchannel v1 text";

/* ---- messages ----------------------------------------------------------- */

static void free_str(char *s)
{
	if (s != NULL)
		bc_free_secret(s, strlen(s) + 1);
}

void bc_text_msg_clear(bc_text_msg *m)
{
	free_str(m->text);
	free_str(m->note);
	sodium_memzero(m, sizeof(*m));
}

/* The field rules of each type, shared by the encoder and the decoder. */
static bool msg_valid(const bc_text_msg *m)
{
	size_t tl = m->text ? strlen(m->text) : 0;
	size_t nl = m->note ? strlen(m->note) : 0;
	switch (m->type) {
	case BC_TEXT_DRAFT:
	case BC_TEXT_REVISE:
		return (m->type == BC_TEXT_DRAFT ? m->version == 1
						 : m->version >= 2) &&
		       m->version <= BC_TEXT_VERSIONS_MAX && tl >= 1 &&
		       tl <= BC_TEXT_MAX && nl <= BC_TEXT_NOTE_MAX;
	case BC_TEXT_COMMENT:
		return m->version >= 1 && m->version <= BC_TEXT_VERSIONS_MAX &&
		       tl >= 1 && tl <= BC_TEXT_COMMENT_MAX;
	case BC_TEXT_CALL:
		return m->round >= 1 && m->round <= BC_TEXT_ROUNDS_MAX &&
		       m->version >= 1 && m->version <= BC_TEXT_VERSIONS_MAX;
	case BC_TEXT_VOTE:
		return m->round >= 1 && m->round <= BC_TEXT_ROUNDS_MAX &&
		       m->version >= 1 && m->version <= BC_TEXT_VERSIONS_MAX &&
		       (m->answer == BC_TEXT_YES || m->answer == BC_TEXT_NO) &&
		       nl <= BC_TEXT_NOTE_MAX;
	default: return false;
	}
}

int bc_text_msg_read(bc_rd *r, bc_text_msg *m)
{
	int rc;
	memset(m, 0, sizeof(*m));
	bc_rd_u8(r, &m->type);
	switch (m->type) {
	case BC_TEXT_DRAFT:
	case BC_TEXT_REVISE:
		bc_rd_u32(r, &m->version);
		if (bc_rd_str(r, BC_TEXT_MAX, &m->text) == BC_OK)
			bc_rd_str(r, BC_TEXT_NOTE_MAX, &m->note);
		break;
	case BC_TEXT_COMMENT:
		bc_rd_u32(r, &m->version);
		bc_rd_raw(r, m->digest, BC_TEXT_DIGEST_LEN);
		bc_rd_str(r, BC_TEXT_COMMENT_MAX, &m->text);
		break;
	case BC_TEXT_CALL:
		bc_rd_u32(r, &m->round);
		bc_rd_u32(r, &m->version);
		bc_rd_raw(r, m->digest, BC_TEXT_DIGEST_LEN);
		break;
	case BC_TEXT_VOTE:
		bc_rd_u32(r, &m->round);
		bc_rd_u32(r, &m->version);
		bc_rd_raw(r, m->digest, BC_TEXT_DIGEST_LEN);
		bc_rd_u8(r, &m->answer);
		bc_rd_str(r, BC_TEXT_NOTE_MAX, &m->note);
		break;
	default: bc_rd_fail(r, BC_ERR_MALFORMED); break;
	}
	rc = bc_rd_end(r);
	if (rc == BC_OK && !msg_valid(m))
		rc = BC_ERR_MALFORMED;
	if (rc != BC_OK)
		bc_text_msg_clear(m);
	return rc;
}

int bc_text_msg_decode(const uint8_t *in, size_t len, bc_text_msg *m)
{
	bc_rd r;
	bc_rd_init(&r, in, len);
	return bc_text_msg_read(&r, m);
}

int bc_text_msg_encode(const bc_text_msg *m, uint8_t **out, size_t *len)
{
	bc_wr w;
	*out = NULL;
	*len = 0;
	if (!msg_valid(m))
		return BC_ERR_INVALID;
	bc_wr_init(&w, 1 + 8 + BC_TEXT_DIGEST_LEN + 4 + BC_TEXT_MAX + 4 +
			       BC_TEXT_NOTE_MAX + 1);
	bc_wr_u8(&w, m->type);
	switch (m->type) {
	case BC_TEXT_DRAFT:
	case BC_TEXT_REVISE:
		bc_wr_u32(&w, m->version);
		bc_wr_str(&w, m->text);
		bc_wr_str(&w, m->note ? m->note : "");
		break;
	case BC_TEXT_COMMENT:
		bc_wr_u32(&w, m->version);
		bc_wr_raw(&w, m->digest, BC_TEXT_DIGEST_LEN);
		bc_wr_str(&w, m->text);
		break;
	case BC_TEXT_CALL:
		bc_wr_u32(&w, m->round);
		bc_wr_u32(&w, m->version);
		bc_wr_raw(&w, m->digest, BC_TEXT_DIGEST_LEN);
		break;
	default: /* BC_TEXT_VOTE */
		bc_wr_u32(&w, m->round);
		bc_wr_u32(&w, m->version);
		bc_wr_raw(&w, m->digest, BC_TEXT_DIGEST_LEN);
		bc_wr_u8(&w, m->answer);
		bc_wr_str(&w, m->note ? m->note : "");
		break;
	}
	return bc_wr_finish(&w, out, len);
}

int bc_text_digest(const uint8_t talk_id[BC_TALK_ID_LEN], uint32_t version,
		   const char *text, size_t len,
		   uint8_t out[BC_TEXT_DIGEST_LEN])
{
	crypto_generichash_state h;
	uint8_t v[4];
	int rc = BC_OK;
	bc_store32(v, version);
	if (crypto_generichash_init(&h, NULL, 0, BC_TEXT_DIGEST_LEN) != 0 ||
	    crypto_generichash_update(&h, (const uint8_t *)DIGEST_LABEL,
				      sizeof(DIGEST_LABEL) - 1) != 0 ||
	    crypto_generichash_update(&h, talk_id, BC_TALK_ID_LEN) != 0 ||
	    crypto_generichash_update(&h, v, sizeof(v)) != 0 ||
	    crypto_generichash_update(&h, (const uint8_t *)text, len) != 0 ||
	    crypto_generichash_final(&h, out, BC_TEXT_DIGEST_LEN) != 0)
		rc = BC_ERR_CRYPTO;
	sodium_memzero(&h, sizeof(h));
	return rc;
}

/* ---- the state record --------------------------------------------------- */

void bc_text_state_free(bc_text_state *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; s->versions && i < s->nversions; i++)
		free_str(s->versions[i].note);
	for (uint32_t i = 0; s->rounds && i < s->nrounds; i++)
		for (uint16_t j = 0; j < s->rounds[i].nvotes; j++)
			free_str(s->rounds[i].votes[j].reason);
	bc_free(s->versions);
	bc_free(s->rounds);
	bc_free_secret(s, sizeof(*s));
}

/* The invariants of talk_text.h, checked on every record read and
 * written (a store that holds something else is corrupt). */
static bool state_valid(const bc_text_state *s)
{
	uint32_t adopted_rounds = 0;
	if (s->nversions > BC_TEXT_VERSIONS_MAX ||
	    s->nrounds > BC_TEXT_ROUNDS_MAX)
		return false;
	for (uint32_t i = 0; i < s->nversions; i++) {
		const bc_text_version *v = &s->versions[i];
		if (v->number != i + 1 || v->size == 0 ||
		    v->size > BC_TEXT_MAX || v->note == NULL ||
		    strlen(v->note) > BC_TEXT_NOTE_MAX)
			return false;
	}
	for (uint32_t i = 0; i < s->nrounds; i++) {
		const bc_text_round *r = &s->rounds[i];
		bool last = i + 1 == s->nrounds;
		if (r->number != i + 1 || r->version == 0 ||
		    r->version > s->nversions || r->state < BC_TEXT_OPEN ||
		    r->state > BC_TEXT_NOT_ADOPTED ||
		    (r->state != BC_TEXT_NOT_ADOPTED && !last) ||
		    r->nvotes > BC_TALK_MAX_MEMBERS)
			return false;
		if (r->state == BC_TEXT_ADOPTED) {
			adopted_rounds++;
			if (s->adopted != r->version)
				return false;
		}
		for (uint16_t j = 0; j < r->nvotes; j++) {
			const bc_text_ballot *v = &r->votes[j];
			if ((v->answer != BC_TEXT_YES &&
			     v->answer != BC_TEXT_NO) ||
			    v->reason == NULL ||
			    strlen(v->reason) > BC_TEXT_NOTE_MAX ||
			    (v->late && r->state != BC_TEXT_NOT_ADOPTED))
				return false;
			for (uint16_t k = 0; k < j; k++)
				if (memcmp(r->votes[k].party, v->party,
					   BC_E2E_ID_LEN) == 0)
					return false;
		}
	}
	return adopted_rounds == (s->adopted != 0 ? 1u : 0u);
}

int bc_text_state_encode(const bc_text_state *s, uint8_t **out, size_t *len)
{
	bc_wr w;
	*out = NULL;
	*len = 0;
	if (!state_valid(s))
		return BC_ERR_INVALID;
	bc_wr_init(&w, BC_STORE_VALUE_MAX);
	bc_wr_u8(&w, STATE_VERSION);
	bc_wr_u32(&w, s->adopted);
	bc_wr_u16(&w, (uint16_t)s->nversions);
	for (uint32_t i = 0; i < s->nversions; i++) {
		const bc_text_version *v = &s->versions[i];
		bc_wr_u32(&w, v->number);
		bc_wr_u64(&w, v->time);
		bc_wr_raw(&w, v->author, BC_E2E_ID_LEN);
		bc_wr_raw(&w, v->digest, BC_TEXT_DIGEST_LEN);
		bc_wr_u32(&w, v->size);
		bc_wr_str(&w, v->note);
	}
	bc_wr_u16(&w, (uint16_t)s->nrounds);
	for (uint32_t i = 0; i < s->nrounds; i++) {
		const bc_text_round *r = &s->rounds[i];
		bc_wr_u32(&w, r->number);
		bc_wr_u32(&w, r->version);
		bc_wr_u64(&w, r->time);
		bc_wr_raw(&w, r->caller, BC_E2E_ID_LEN);
		bc_wr_u8(&w, r->state);
		bc_wr_u16(&w, r->nvotes);
		for (uint16_t j = 0; j < r->nvotes; j++) {
			const bc_text_ballot *v = &r->votes[j];
			bc_wr_raw(&w, v->party, BC_E2E_ID_LEN);
			bc_wr_u8(&w, v->answer);
			bc_wr_u64(&w, v->time);
			bc_wr_bool(&w, v->late);
			bc_wr_str(&w, v->reason);
		}
	}
	return bc_wr_finish(&w, out, len);
}

int bc_text_state_decode(const uint8_t *in, size_t len, bc_text_state **out)
{
	bc_text_state *s = bc_calloc(1, sizeof(*s));
	uint8_t ver = 0;
	uint16_t n = 0;
	bc_rd r;
	int rc;
	*out = NULL;
	if (s == NULL)
		return BC_ERR_NOMEM;
	bc_rd_init(&r, in, len);
	bc_rd_u8(&r, &ver);
	if (r.err == BC_OK && ver != STATE_VERSION)
		bc_rd_fail(&r, BC_ERR_VERSION);
	bc_rd_u32(&r, &s->adopted);
	if ((rc = bc_rd_count(&r, BC_TEXT_VERSIONS_MAX, &n)) != BC_OK)
		goto out;
	if (n > 0 &&
	    (s->versions = bc_calloc(n, sizeof(*s->versions))) == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	for (uint16_t i = 0; i < n && r.err == BC_OK; i++) {
		bc_text_version *v = &s->versions[i];
		s->nversions = i + 1u;
		bc_rd_u32(&r, &v->number);
		bc_rd_u64(&r, &v->time);
		bc_rd_raw(&r, v->author, BC_E2E_ID_LEN);
		bc_rd_raw(&r, v->digest, BC_TEXT_DIGEST_LEN);
		bc_rd_u32(&r, &v->size);
		bc_rd_str(&r, BC_TEXT_NOTE_MAX, &v->note);
	}
	if ((rc = bc_rd_count(&r, BC_TEXT_ROUNDS_MAX, &n)) != BC_OK)
		goto out;
	if (n > 0 && (s->rounds = bc_calloc(n, sizeof(*s->rounds))) == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	for (uint16_t i = 0; i < n && r.err == BC_OK; i++) {
		bc_text_round *rd = &s->rounds[i];
		uint16_t nv = 0;
		s->nrounds = i + 1u;
		bc_rd_u32(&r, &rd->number);
		bc_rd_u32(&r, &rd->version);
		bc_rd_u64(&r, &rd->time);
		bc_rd_raw(&r, rd->caller, BC_E2E_ID_LEN);
		bc_rd_u8(&r, &rd->state);
		if (bc_rd_count(&r, BC_TALK_MAX_MEMBERS, &nv) != BC_OK)
			break;
		for (uint16_t j = 0; j < nv && r.err == BC_OK; j++) {
			bc_text_ballot *v = &rd->votes[j];
			rd->nvotes = j + 1u;
			bc_rd_raw(&r, v->party, BC_E2E_ID_LEN);
			bc_rd_u8(&r, &v->answer);
			bc_rd_u64(&r, &v->time);
			bc_rd_bool(&r, &v->late);
			bc_rd_str(&r, BC_TEXT_NOTE_MAX, &v->reason);
		}
	}
	rc = bc_rd_end(&r);
	if (rc == BC_OK && !state_valid(s))
		rc = BC_ERR_MALFORMED;
out:
	if (rc != BC_OK)
		bc_text_state_free(s);
	else
		*out = s;
	return rc;
}

/* ---- store -------------------------------------------------------------- */

static void ver_key(uint8_t key[VER_KEY_LEN], const uint8_t id[BC_TALK_ID_LEN],
		    uint32_t v)
{
	memcpy(key, id, BC_TALK_ID_LEN);
	bc_store32(key + BC_TALK_ID_LEN, v);
}

/* The state of the talk's text; an empty one (and *found false) if none. */
static int state_load(bc_store *st, const uint8_t id[BC_TALK_ID_LEN],
		      bc_text_state **out, bool *found)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = bc_store_get(st, K_TEXT, id, BC_TALK_ID_LEN, &buf, &len);
	*out = NULL;
	if (found)
		*found = rc == BC_OK;
	if (rc == BC_ERR_NOTFOUND) {
		*out = bc_calloc(1, sizeof(**out));
		return *out != NULL ? BC_OK : BC_ERR_NOMEM;
	}
	if (rc == BC_OK)
		rc = bc_text_state_decode(buf, len, out);
	bc_free_secret(buf, len);
	return rc;
}

static int state_save(bc_store *st, const uint8_t id[BC_TALK_ID_LEN],
		      const bc_text_state *s)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = bc_text_state_encode(s, &buf, &len);
	if (rc == BC_OK)
		rc = bc_store_put(st, K_TEXT, id, BC_TALK_ID_LEN, buf, len);
	bc_free_secret(buf, len);
	return rc;
}

int bc_text_get(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		bc_text_state **out)
{
	bool found = false;
	int rc = state_load(bc_talks_store(t), id, out, &found);
	if (rc == BC_OK && !found) {
		bc_text_state_free(*out);
		*out = NULL;
		rc = BC_ERR_NOTFOUND;
	}
	return rc;
}

int bc_text_body(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		 uint32_t version, char **text)
{
	uint8_t key[VER_KEY_LEN];
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;
	*text = NULL;
	ver_key(key, id, version);
	rc = bc_store_get(bc_talks_store(t), K_VER, key, sizeof(key), &buf,
			  &len);
	if (rc != BC_OK)
		return rc;
	/* what was stored was checked on receipt; checked again all the
	 * same before it becomes a C string */
	if (len == 0 || len > BC_TEXT_MAX || !bc_utf8_valid(buf, len))
		rc = BC_ERR_MALFORMED;
	else if ((*text = bc_malloc(len + 1)) == NULL)
		rc = BC_ERR_NOMEM;
	else {
		memcpy(*text, buf, len);
		(*text)[len] = '\0';
	}
	bc_free_secret(buf, len);
	return rc;
}

/* A comment record: fixed[16] talk id || u32 version || fixed[32] author
 * || u64 time || fixed[16] msg id || string text. */
static int comment_put(bc_store *st, const uint8_t id[BC_TALK_ID_LEN],
		       uint32_t version, const uint8_t author[BC_E2E_ID_LEN],
		       uint64_t time, const uint8_t msg_id[16],
		       const char *text)
{
	bc_wr w;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;
	bc_wr_init(&w, BC_TEXT_COMMENT_MAX + 256);
	bc_wr_raw(&w, id, BC_TALK_ID_LEN);
	bc_wr_u32(&w, version);
	bc_wr_raw(&w, author, BC_E2E_ID_LEN);
	bc_wr_u64(&w, time);
	bc_wr_raw(&w, msg_id, 16);
	bc_wr_str(&w, text);
	if ((rc = bc_wr_finish(&w, &buf, &len)) != BC_OK)
		return rc;
	rc = bc_store_append(st, K_CMT, buf, len, NULL);
	bc_free_secret(buf, len);
	return rc;
}

struct cmt_ctx {
	const uint8_t *id;
	int (*fn)(void *ctx, const bc_text_comment *c);
	void *ctx;
};

static int comment_one(void *vctx, const uint8_t *key, size_t klen,
		       const uint8_t *val, size_t vlen)
{
	struct cmt_ctx *cc = vctx;
	bc_text_comment c;
	const uint8_t *tid = NULL;
	char *text = NULL;
	bc_rd r;
	int rc;
	(void)key;
	(void)klen;
	memset(&c, 0, sizeof(c));
	bc_rd_init(&r, val, vlen);
	bc_rd_ref(&r, BC_TALK_ID_LEN, &tid);
	bc_rd_u32(&r, &c.version);
	bc_rd_raw(&r, c.author, BC_E2E_ID_LEN);
	bc_rd_u64(&r, &c.time);
	bc_rd_raw(&r, c.msg_id, 16);
	bc_rd_str(&r, BC_TEXT_COMMENT_MAX, &text);
	if ((rc = bc_rd_end(&r)) != BC_OK)
		return rc;
	if (memcmp(tid, cc->id, BC_TALK_ID_LEN) == 0) {
		c.text = text;
		rc = cc->fn(cc->ctx, &c);
	}
	free_str(text);
	return rc;
}

int bc_text_comments(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		     int (*fn)(void *ctx, const bc_text_comment *c), void *ctx)
{
	struct cmt_ctx cc = {id, fn, ctx};
	return bc_store_list(bc_talks_store(t), K_CMT, comment_one, &cc);
}

/* ---- the rules ---------------------------------------------------------- */

#define REFUSE(code, sentence)   \
	do {                     \
		*why = sentence; \
		return code;     \
	} while (0)

static const char *type_name(uint8_t type)
{
	switch (type) {
	case BC_TEXT_DRAFT: return "draft";
	case BC_TEXT_REVISE: return "revision";
	case BC_TEXT_COMMENT: return "comment";
	case BC_TEXT_CALL: return "call";
	case BC_TEXT_VOTE: return "vote";
	default: return "message";
	}
}

static const bc_text_round *last_round(const bc_text_state *s)
{
	return s->nrounds > 0 ? &s->rounds[s->nrounds - 1] : NULL;
}

/*
 * May a member of `role` (`sender`) apply m to state s? On receipt
 * (`recv`), a vote that arrives after its round closed as not adopted is
 * kept for the record but not counted (*late): its sender could not know.
 * A sender never sends one.
 */
static int check(const bc_text_state *s, uint8_t role,
		 const uint8_t sender[BC_E2E_ID_LEN], const bc_text_msg *m,
		 bool recv, bool *late, const char **why)
{
	const bc_text_round *last = last_round(s);
	bool open = last != NULL && last->state == BC_TEXT_OPEN;
	*late = false;
	switch (m->type) {
	case BC_TEXT_DRAFT:
	case BC_TEXT_REVISE:
		if (role != BC_ROLE_MEDIATOR)
			REFUSE(BC_ERR_FORBIDDEN,
			       "only a mediator drafts and revises the text");
		if (s->adopted != 0)
			REFUSE(BC_ERR_STATE,
			       "the text has been adopted: it is final");
		if (m->type == BC_TEXT_DRAFT && s->nversions > 0)
			REFUSE(BC_ERR_STATE,
			       "the text is drafted already: revise it");
		if (m->type == BC_TEXT_REVISE && s->nversions == 0)
			REFUSE(BC_ERR_STATE,
			       "there is no draft to revise: draft the text "
			       "first");
		if (open)
			REFUSE(BC_ERR_STATE,
			       "a vote round is open: the text cannot change "
			       "until it closes");
		if (s->nversions >= BC_TEXT_VERSIONS_MAX)
			REFUSE(BC_ERR_STATE, "the text has too many versions");
		if (m->version != s->nversions + 1)
			REFUSE(BC_ERR_STATE,
			       "the version is not the next one of this "
			       "member's text");
		return BC_OK;
	case BC_TEXT_COMMENT:
		if (role != BC_ROLE_PARTY)
			REFUSE(BC_ERR_FORBIDDEN,
			       "only a party comments on the text");
		if (s->adopted != 0)
			REFUSE(BC_ERR_STATE,
			       "the text has been adopted: it is final");
		if (m->version == 0 || m->version > s->nversions)
			REFUSE(BC_ERR_NOTFOUND, "there is no such version of "
						"the text");
		if (sodium_memcmp(m->digest, s->versions[m->version - 1].digest,
				  BC_TEXT_DIGEST_LEN) != 0)
			REFUSE(BC_ERR_AUTH,
			       "the comment is about another text than this "
			       "member's copy of that version");
		return BC_OK;
	case BC_TEXT_CALL:
		if (role != BC_ROLE_MEDIATOR)
			REFUSE(BC_ERR_FORBIDDEN,
			       "only a mediator calls the final vote");
		if (s->adopted != 0)
			REFUSE(BC_ERR_STATE,
			       "the text has been adopted: it is final");
		if (open)
			REFUSE(BC_ERR_STATE, "a vote round is open already");
		if (m->version == 0 || m->version > s->nversions)
			REFUSE(BC_ERR_NOTFOUND, "there is no such version of "
						"the text");
		if (s->nrounds >= BC_TEXT_ROUNDS_MAX)
			REFUSE(BC_ERR_STATE, "the text has had too many vote "
					     "rounds");
		if (m->round != s->nrounds + 1)
			REFUSE(BC_ERR_STATE, "the round is not the next one "
					     "of this member's text");
		if (sodium_memcmp(m->digest, s->versions[m->version - 1].digest,
				  BC_TEXT_DIGEST_LEN) != 0)
			REFUSE(BC_ERR_AUTH,
			       "the vote is called on another text than this "
			       "member's copy of that version");
		return BC_OK;
	case BC_TEXT_VOTE:
		if (role != BC_ROLE_PARTY)
			REFUSE(BC_ERR_FORBIDDEN, "only a party votes");
		if (last == NULL || m->round != last->number)
			REFUSE(BC_ERR_STATE, "no vote round is open");
		if (last->state != BC_TEXT_OPEN &&
		    (!recv || last->state != BC_TEXT_NOT_ADOPTED))
			REFUSE(BC_ERR_STATE, "no vote round is open");
		for (uint16_t i = 0; i < last->nvotes; i++)
			if (memcmp(last->votes[i].party, sender,
				   BC_E2E_ID_LEN) == 0)
				REFUSE(BC_ERR_STATE,
				       "this party has voted in this round "
				       "already");
		*late = last->state != BC_TEXT_OPEN;
		if (m->version != last->version)
			REFUSE(BC_ERR_STATE,
			       "the vote is not on the version of the open "
			       "round");
		if (sodium_memcmp(m->digest, s->versions[m->version - 1].digest,
				  BC_TEXT_DIGEST_LEN) != 0)
			REFUSE(BC_ERR_AUTH,
			       "the vote is on another text than this "
			       "member's copy of that version");
		if (last->nvotes >= BC_TALK_MAX_MEMBERS)
			REFUSE(BC_ERR_STATE, "the round has all its votes");
		return BC_OK;
	default: REFUSE(BC_ERR_MALFORMED, "unknown text message");
	}
}

/* The ids of the talk's mediators other than self; returns their number. */
static size_t mediators(const bc_talk_info *info, const uint8_t *self,
			uint8_t (*out)[BC_E2E_ID_LEN])
{
	size_t n = 0;
	for (size_t i = 0; i < info->nmembers; i++)
		if (info->members[i].role == BC_ROLE_MEDIATOR &&
		    memcmp(info->members[i].id, self, BC_E2E_ID_LEN) != 0)
			memcpy(out[n++], info->members[i].id, BC_E2E_ID_LEN);
	return n;
}

/* ---- applying ----------------------------------------------------------- */

struct pending_event {
	char *text;
	const uint8_t *from;
};

static char *fmt_alloc(size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static char *fmt_alloc(size_t cap, const char *fmt, ...)
{
	char *s = bc_malloc(cap);
	va_list ap;
	if (s == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, cap, fmt, ap);
	va_end(ap);
	return s;
}

static void tally(const bc_talk_info *info, bc_text_state *s, bc_text_round *rd,
		  const bc_text_ballot *v)
{
	uint8_t parties[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	size_t np = bc_talk_parties(info, parties), yes = 0;
	if (v->answer == BC_TEXT_NO) {
		rd->state = BC_TEXT_NOT_ADOPTED;
		return;
	}
	for (size_t i = 0; i < np; i++)
		for (uint16_t j = 0; j < rd->nvotes; j++)
			if (memcmp(rd->votes[j].party, parties[i],
				   BC_E2E_ID_LEN) == 0 &&
			    rd->votes[j].answer == BC_TEXT_YES &&
			    !rd->votes[j].late) {
				yes++;
				break;
			}
	if (np > 0 && yes == np) {
		rd->state = BC_TEXT_ADOPTED;
		s->adopted = rd->version;
	}
}

/*
 * Apply m (already checked) from sender to s and record it: state, text or
 * comment, and the timeline events, in one transaction; then tell fn.
 */
static int apply(bc_talks *t, const bc_talk_info *info, bc_text_state *s,
		 const uint8_t sender[BC_E2E_ID_LEN], const uint8_t msg_id[16],
		 const bc_text_msg *m, bool late, bc_talk_event_fn fn,
		 void *ctx)
{
	bc_store *st = bc_talks_store(t);
	const uint8_t *id = info->id;
	struct pending_event ev[2] = {{NULL, NULL}, {NULL, NULL}};
	uint64_t now = bc_talks_now();
	bool save = true;
	size_t nev = 0;
	int rc = BC_OK;

	switch (m->type) {
	case BC_TEXT_DRAFT:
	case BC_TEXT_REVISE: {
		bc_text_version *nv, *v;
		size_t tl = strlen(m->text);
		nv = bc_realloc(s->versions,
				(s->nversions + 1) * sizeof(*s->versions));
		if (nv == NULL)
			return BC_ERR_NOMEM;
		s->versions = nv;
		v = &s->versions[s->nversions];
		memset(v, 0, sizeof(*v));
		v->number = m->version;
		v->time = now;
		memcpy(v->author, sender, BC_E2E_ID_LEN);
		v->size = (uint32_t)tl;
		if ((v->note = bc_strdup(m->note ? m->note : "")) == NULL)
			return BC_ERR_NOMEM;
		s->nversions++;
		if ((rc = bc_text_digest(id, m->version, m->text, tl,
					 v->digest)) != BC_OK)
			return rc;
		ev[nev].from = sender;
		ev[nev++].text =
			m->type == BC_TEXT_DRAFT
				? fmt_alloc(BC_TEXT_NOTE_MAX + 128,
					    "drafted text v%u (%zu bytes)%s%s",
					    m->version, tl,
					    v->note[0] ? ": " : "", v->note)
				: fmt_alloc(
					  BC_TEXT_NOTE_MAX + 128,
					  "revised the text: v%u (%zu bytes)%s%s",
					  m->version, tl,
					  v->note[0] ? ": " : "", v->note);
		break;
	}
	case BC_TEXT_COMMENT:
		save = false;
		ev[nev].from = sender;
		ev[nev++].text = fmt_alloc(BC_TEXT_COMMENT_MAX + 64,
					   "commented on text v%u: %s",
					   m->version, m->text);
		break;
	case BC_TEXT_CALL: {
		bc_text_round *nr, *rd;
		nr = bc_realloc(s->rounds,
				(s->nrounds + 1) * sizeof(*s->rounds));
		if (nr == NULL)
			return BC_ERR_NOMEM;
		s->rounds = nr;
		rd = &s->rounds[s->nrounds++];
		memset(rd, 0, sizeof(*rd));
		rd->number = m->round;
		rd->version = m->version;
		rd->time = now;
		memcpy(rd->caller, sender, BC_E2E_ID_LEN);
		rd->state = BC_TEXT_OPEN;
		ev[nev].from = sender;
		ev[nev++].text = fmt_alloc(
			64, "called the final vote on text v%u", m->version);
		break;
	}
	default: { /* BC_TEXT_VOTE */
		bc_text_round *rd = &s->rounds[s->nrounds - 1];
		bc_text_ballot *v = &rd->votes[rd->nvotes];
		const char *reason = m->note ? m->note : "";
		memset(v, 0, sizeof(*v));
		memcpy(v->party, sender, BC_E2E_ID_LEN);
		v->answer = m->answer;
		v->time = now;
		v->late = late;
		if ((v->reason = bc_strdup(reason)) == NULL)
			return BC_ERR_NOMEM;
		rd->nvotes++;
		ev[nev].from = sender;
		ev[nev++].text = fmt_alloc(
			BC_TEXT_NOTE_MAX + 128, "voted %s on text v%u%s%s%s",
			m->answer == BC_TEXT_YES ? "yes" : "no", m->version,
			late ? " (after the round had closed: not counted)"
			     : "",
			reason[0] ? ": " : "", reason);
		if (late)
			break;
		tally(info, s, rd, v);
		if (rd->state == BC_TEXT_ADOPTED) {
			ev[nev].from = sender;
			ev[nev++].text = fmt_alloc(
				64, "text v%u adopted: every party said yes",
				rd->version);
		} else if (rd->state == BC_TEXT_NOT_ADOPTED) {
			ev[nev].from = sender;
			ev[nev++].text =
				fmt_alloc(BC_TALK_SIDE_MAX + 64,
					  "text v%u not adopted: %s said no",
					  rd->version, bc_talk_member_name(info, sender));
		}
		break;
	}
	}
	for (size_t i = 0; i < nev; i++)
		if (ev[i].text == NULL)
			rc = BC_ERR_NOMEM;
	if (rc == BC_OK && (rc = bc_store_begin(st)) == BC_OK) {
		if (save)
			rc = state_save(st, id, s);
		if (rc == BC_OK &&
		    (m->type == BC_TEXT_DRAFT || m->type == BC_TEXT_REVISE)) {
			uint8_t key[VER_KEY_LEN];
			ver_key(key, id, m->version);
			rc = bc_store_put(st, K_VER, key, sizeof(key),
					  (const uint8_t *)m->text,
					  strlen(m->text));
		}
		if (rc == BC_OK && m->type == BC_TEXT_COMMENT)
			rc = comment_put(st, id, m->version, sender, now,
					 msg_id, m->text);
		for (size_t i = 0; rc == BC_OK && i < nev; i++)
			rc = bc_talk_emit(t, id, msg_id, BC_TK_TEXT, ev[i].from,
					  ev[i].text, NULL, 0, NULL, NULL);
		if (rc == BC_OK)
			rc = bc_store_commit(st);
		else
			bc_store_rollback(st);
	}
	/* told only once it is durable */
	for (size_t i = 0; rc == BC_OK && fn != NULL && i < nev; i++) {
		bc_talk_event e;
		memset(&e, 0, sizeof(e));
		memcpy(e.msg_id, msg_id, 16);
		e.time = now;
		e.kind = BC_TK_TEXT;
		memcpy(e.from, ev[i].from, BC_E2E_ID_LEN);
		e.text = ev[i].text;
		rc = fn(ctx, &e);
	}
	for (size_t i = 0; i < nev; i++)
		free_str(ev[i].text);
	return rc;
}

/* ---- receiving ---------------------------------------------------------- */

/* Refuse a message with a specific reason in the timeline (the generic
 * line talk.c would log says less). */
static int refuse(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		  uint8_t type, const char *why, bc_talk_event_fn fn, void *ctx)
{
	char line[300];
	snprintf(line, sizeof(line), "refused a text %s: %s", type_name(type),
		 why);
	return bc_talk_emit(t, info->id, m->meta.msg_id, BC_TEV_INTEGRITY,
			    m->meta.sender, line, NULL, 0, fn, ctx);
}

int bc_talk_on_text(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		    bc_rd *r, bc_talk_event_fn fn, void *ctx)
{
	uint8_t meds[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	const bc_talk_member *who = bc_talk_member_of(info, m->meta.sender);
	bc_text_state *s = NULL;
	const char *why = NULL;
	bc_text_msg msg;
	bool late = false;
	size_t nmed;
	int rc;

	if ((rc = bc_text_msg_read(r, &msg)) != BC_OK)
		return rc == BC_ERR_NOMEM ? rc : BC_ERR_MALFORMED;
	if (who == NULL) { /* talk.c checked it; kept for the reader */
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	/* Who may read it: a comment exactly the mediators (no other party,
	 * no observer), everything else every member. */
	if (msg.type == BC_TEXT_COMMENT) {
		nmed = mediators(info, m->meta.sender, meds);
		if (nmed == 0 ||
		    !bc_talk_readers_are(
			    m, (const uint8_t(*)[BC_E2E_ID_LEN])meds, nmed)) {
			rc = refuse(t, info, m, msg.type,
				    "a comment must be sealed for exactly the "
				    "mediators",
				    fn, ctx);
			goto out;
		}
	} else if (!bc_talk_readers_all(info, m)) {
		rc = refuse(t, info, m, msg.type,
			    "it must be sealed for every member", fn, ctx);
		goto out;
	}
	if ((rc = state_load(bc_talks_store(t), info->id, &s, NULL)) != BC_OK)
		goto out;
	if (check(s, who->role, m->meta.sender, &msg, true, &late, &why) !=
	    BC_OK) {
		rc = refuse(t, info, m, msg.type, why, fn, ctx);
		goto out;
	}
	rc = apply(t, info, s, m->meta.sender, m->meta.msg_id, &msg, late, fn,
		   ctx);
out:
	bc_text_state_free(s);
	bc_text_msg_clear(&msg);
	return rc;
}

/* ---- acting ------------------------------------------------------------- */

/*
 * Fill in what this member knows (version, round, digest), check m as a
 * receiver would, send it, and apply it to this member's own state.
 */
static int act(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN], bc_text_msg *m,
	       uint32_t *version_out, const char **why)
{
	uint8_t meds[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	const uint8_t *self = bc_talks_self(t);
	bc_talk_info *info = bc_calloc(1, sizeof(*info));
	bc_text_state *s = NULL;
	uint8_t msg_id[16];
	uint8_t *body = NULL;
	size_t blen = 0, nmed = 0;
	bool late = false;
	int rc;

	if (info == NULL)
		return BC_ERR_NOMEM;
	if ((rc = bc_talk_get(t, id, info)) != BC_OK)
		goto out;
	if (!info->joined || info->left) {
		*why = "you are not a member of this talk (yet: after the "
		       "registrar has synced, run sync)";
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if (info->state != BC_TALK_OPEN) {
		*why = info->state == BC_TALK_SUSPENDED
			       ? "the talk is suspended: nothing but resume "
				 "and close may be sent"
			       : "the talk is closed";
		rc = BC_ERR_STATE;
		goto out;
	}
	/* the role first: it is the first thing check() looks at, and the
	 * defaults below mean nothing for the wrong role */
	if ((m->type == BC_TEXT_COMMENT || m->type == BC_TEXT_VOTE) &&
	    info->my_role != BC_ROLE_PARTY) {
		*why = m->type == BC_TEXT_VOTE
			       ? "only a party votes"
			       : "only a party comments on the text";
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if (m->type != BC_TEXT_COMMENT && m->type != BC_TEXT_VOTE &&
	    info->my_role != BC_ROLE_MEDIATOR) {
		*why = m->type == BC_TEXT_CALL
			       ? "only a mediator calls the final vote"
			       : "only a mediator drafts and revises the text";
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if ((rc = state_load(bc_talks_store(t), id, &s, NULL)) != BC_OK)
		goto out;
	switch (m->type) {
	case BC_TEXT_DRAFT:
	case BC_TEXT_REVISE:
		m->version = s->nversions + 1;
		if (m->type == BC_TEXT_REVISE && m->version < 2)
			m->version = 2; /* check() says there is no draft */
		break;
	case BC_TEXT_COMMENT:
	case BC_TEXT_CALL:
		if (s->nversions == 0) {
			*why = "there is no text yet (the mediator drafts it "
			       "first)";
			rc = BC_ERR_NOTFOUND;
			goto out;
		}
		if (m->version == 0)
			m->version = s->nversions;
		m->round = s->nrounds + 1;
		if (m->version <= s->nversions)
			memcpy(m->digest, s->versions[m->version - 1].digest,
			       BC_TEXT_DIGEST_LEN);
		break;
	default: { /* BC_TEXT_VOTE */
		const bc_text_round *last = last_round(s);
		if (last == NULL) {
			*why = "no vote round is open (the mediator calls "
			       "one)";
			rc = BC_ERR_STATE;
			goto out;
		}
		m->round = last->number;
		m->version = last->version;
		memcpy(m->digest, s->versions[m->version - 1].digest,
		       BC_TEXT_DIGEST_LEN);
		break;
	}
	}
	if ((rc = check(s, info->my_role, self, m, false, &late, why)) != BC_OK)
		goto out;
	if ((rc = bc_text_msg_encode(m, &body, &blen)) != BC_OK) {
		*why = "the text, note or reason is empty, too long or not "
		       "UTF-8";
		goto out;
	}
	if (m->type == BC_TEXT_COMMENT &&
	    (nmed = mediators(info, self, meds)) == 0) {
		*why = "the talk has no mediator to comment to";
		rc = BC_ERR_NOTFOUND;
		goto out;
	}
	rc = bc_talk_send(t, id, BC_TK_TEXT, body, blen,
			  m->type == BC_TEXT_COMMENT
				  ? (const uint8_t(*)[BC_E2E_ID_LEN])meds
				  : NULL,
			  nmed, false, msg_id);
	if (rc == BC_ERR_STATE) {
		*why = "the talk is suspended or closed";
		goto out;
	} else if (rc == BC_ERR_FORBIDDEN) {
		*why = "you may not send in this talk";
		goto out;
	} else if (rc != BC_OK) {
		goto out;
	}
	if (version_out != NULL)
		*version_out = m->version;
	rc = apply(t, info, s, self, msg_id, m, false, NULL, NULL);
out:
	bc_free_secret(body, blen);
	bc_text_state_free(s);
	sodium_memzero(info, sizeof(*info));
	bc_free(info);
	return rc;
}

static bool str_ok(const char *s, size_t min, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	return n >= min && n <= max &&
	       (n == 0 || bc_utf8_valid((const uint8_t *)s, n));
}

static int put_version(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		       uint8_t type, const char *text, const char *note,
		       uint32_t *version_out, const char **why)
{
	bc_text_msg m;
	const char *dummy;
	if (why == NULL)
		why = &dummy;
	if (!str_ok(text, 1, BC_TEXT_MAX) ||
	    !str_ok(note, 0, BC_TEXT_NOTE_MAX)) {
		*why = "the text must be 1..65536 bytes and the note at most "
		       "1024, in UTF-8";
		return BC_ERR_INVALID;
	}
	memset(&m, 0, sizeof(m));
	m.type = type;
	/* borrowed: never freed here */
	m.text = (char *)(uintptr_t)text;
	m.note = (char *)(uintptr_t)(note ? note : "");
	return act(t, id, &m, version_out, why);
}

int bc_text_draft(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		  const char *text, const char *note, uint32_t *version_out,
		  const char **why)
{
	return put_version(t, id, BC_TEXT_DRAFT, text, note, version_out, why);
}

int bc_text_revise(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		   const char *text, const char *note, uint32_t *version_out,
		   const char **why)
{
	return put_version(t, id, BC_TEXT_REVISE, text, note, version_out, why);
}

int bc_text_comment_on(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		       uint32_t version, const char *text,
		       uint32_t *version_out, const char **why)
{
	bc_text_msg m;
	const char *dummy;
	if (why == NULL)
		why = &dummy;
	if (!str_ok(text, 1, BC_TEXT_COMMENT_MAX)) {
		*why = "a comment must be 1..16384 bytes of UTF-8";
		return BC_ERR_INVALID;
	}
	memset(&m, 0, sizeof(m));
	m.type = BC_TEXT_COMMENT;
	m.version = version;
	m.text = (char *)(uintptr_t)text;
	return act(t, id, &m, version_out, why);
}

int bc_text_call(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN],
		 uint32_t version, uint32_t *version_out, const char **why)
{
	bc_text_msg m;
	const char *dummy;
	if (why == NULL)
		why = &dummy;
	memset(&m, 0, sizeof(m));
	m.type = BC_TEXT_CALL;
	m.version = version;
	return act(t, id, &m, version_out, why);
}

int bc_text_vote(bc_talks *t, const uint8_t id[BC_TALK_ID_LEN], bool yes,
		 const char *reason, uint32_t *version_out, const char **why)
{
	bc_text_msg m;
	const char *dummy;
	if (why == NULL)
		why = &dummy;
	if (!str_ok(reason, 0, BC_TEXT_NOTE_MAX)) {
		*why = "a reason must be at most 1024 bytes of UTF-8";
		return BC_ERR_INVALID;
	}
	memset(&m, 0, sizeof(m));
	m.type = BC_TEXT_VOTE;
	m.answer = yes ? BC_TEXT_YES : BC_TEXT_NO;
	m.note = (char *)(uintptr_t)(reason ? reason : "");
	return act(t, id, &m, version_out, why);
}
