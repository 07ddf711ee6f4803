/*
 * mutual.c - double-blind mutual questions, mediator as trusted decider.
 *
 * Invariants of a bc_mutual:
 *   - parties[0..nparties) are distinct and strictly ascending (memcmp);
 *   - while !decided, answered[i] says whether parties[i] answered and
 *     yes[i] holds that answer; nothing else is recorded about answers;
 *   - once decided, answered[] and yes[] are wiped and only the outcome
 *     remains, so a later compromise of the mediator's memory does not
 *     reveal who said no;
 *   - the result message is a function of (channel, qid, text, outcome)
 *     only, hence byte-identical for every party.
 * The encoders validate every field so that a value they accept decodes
 * back to itself, and the decoders accept exactly what the encoders emit.
 */
#include "mutual.h"

#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "internal.h"

struct bc_mutual {
	uint8_t channel[BC_MUTUAL_CHANNEL_LEN];
	uint8_t qid[BC_MUTUAL_QID_LEN];
	uint8_t *text;
	size_t text_len;
	size_t nparties;
	uint8_t parties[BC_MUTUAL_MAX_PARTIES][BC_MUTUAL_ID_LEN];
	bool answered[BC_MUTUAL_MAX_PARTIES];
	bool yes[BC_MUTUAL_MAX_PARTIES];
	bool decided;
	int outcome;
};

/* Upper bound of an encoded ask. */
#define ASK_MAX (2 + 16 + 16 + 4 + BC_MUTUAL_MAX_TEXT + 2 + \
		 BC_MUTUAL_MAX_PARTIES * BC_MUTUAL_ID_LEN)

/* ---- field checks ------------------------------------------------------- */

static int check_text(const uint8_t *t, size_t n)
{
	if (n > BC_MUTUAL_MAX_TEXT)
		return BC_ERR_TOOBIG;
	if (n == 0 || t == NULL || !bc_utf8_valid(t, n))
		return BC_ERR_INVALID;
	return BC_OK;
}

static bool parties_sorted(const uint8_t (*p)[BC_MUTUAL_ID_LEN], size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (memcmp(p[i - 1], p[i], BC_MUTUAL_ID_LEN) >= 0)
			return false;
	return true;
}

static int rd_header(bc_rd *r, uint8_t kind)
{
	uint8_t v = 0, k = 0;
	(void)bc_rd_u8(r, &v);
	(void)bc_rd_u8(r, &k);
	if (r->err)
		return r->err;
	if (v != BC_MUTUAL_VERSION)
		return bc_rd_fail(r, BC_ERR_VERSION);
	if (k != kind)
		return bc_rd_fail(r, BC_ERR_MALFORMED);
	return BC_OK;
}

/* ---- encodings ---------------------------------------------------------- */

int bc_mutual_ask_encode(const bc_mutual_ask *m, uint8_t **out, size_t *outlen)
{
	bc_wr w;
	int rc;

	if (m == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	if ((rc = check_text(m->text, m->text_len)) != BC_OK)
		return rc;
	if (m->nparties < BC_MUTUAL_MIN_PARTIES ||
	    m->nparties > BC_MUTUAL_MAX_PARTIES ||
	    !parties_sorted((const uint8_t(*)[BC_MUTUAL_ID_LEN])m->parties,
			    m->nparties))
		return BC_ERR_INVALID;
	bc_wr_init(&w, ASK_MAX);
	(void)bc_wr_u8(&w, BC_MUTUAL_VERSION);
	(void)bc_wr_u8(&w, BC_MUTUAL_K_ASK);
	(void)bc_wr_raw(&w, m->channel, sizeof m->channel);
	(void)bc_wr_raw(&w, m->qid, sizeof m->qid);
	(void)bc_wr_bytes(&w, m->text, m->text_len);
	(void)bc_wr_u16(&w, (uint16_t)m->nparties);
	for (size_t i = 0; i < m->nparties; i++)
		(void)bc_wr_raw(&w, m->parties[i], BC_MUTUAL_ID_LEN);
	return bc_wr_finish(&w, out, outlen);
}

int bc_mutual_ask_decode(bc_mutual_ask *m, const uint8_t *buf, size_t len)
{
	bc_rd r;
	uint16_t n = 0;
	int rc;

	if (m == NULL || (buf == NULL && len))
		return BC_ERR_INVALID;
	memset(m, 0, sizeof *m);
	bc_rd_init(&r, buf, len);
	if (rd_header(&r, BC_MUTUAL_K_ASK) == BC_OK) {
		(void)bc_rd_raw(&r, m->channel, sizeof m->channel);
		(void)bc_rd_raw(&r, m->qid, sizeof m->qid);
		(void)bc_rd_bytes(&r, BC_MUTUAL_MAX_TEXT, &m->text,
				  &m->text_len);
		if (!r.err && check_text(m->text, m->text_len) != BC_OK)
			(void)bc_rd_fail(&r, BC_ERR_MALFORMED);
		(void)bc_rd_count(&r, BC_MUTUAL_MAX_PARTIES, &n);
		if (!r.err && n < BC_MUTUAL_MIN_PARTIES)
			(void)bc_rd_fail(&r, BC_ERR_MALFORMED);
		for (uint16_t i = 0; !r.err && i < n; i++)
			(void)bc_rd_raw(&r, m->parties[i], BC_MUTUAL_ID_LEN);
		m->nparties = n;
		if (!r.err &&
		    !parties_sorted((const uint8_t(*)[BC_MUTUAL_ID_LEN])
					    m->parties, n))
			(void)bc_rd_fail(&r, BC_ERR_MALFORMED);
	}
	rc = bc_rd_end(&r);
	if (rc != BC_OK)
		memset(m, 0, sizeof *m);
	return rc;
}

int bc_mutual_answer_encode(const bc_mutual_answer *m, uint8_t **out,
			    size_t *outlen)
{
	bc_wr w;

	if (m == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	bc_wr_init(&w, 64);
	(void)bc_wr_u8(&w, BC_MUTUAL_VERSION);
	(void)bc_wr_u8(&w, BC_MUTUAL_K_ANSWER);
	(void)bc_wr_raw(&w, m->channel, sizeof m->channel);
	(void)bc_wr_raw(&w, m->qid, sizeof m->qid);
	(void)bc_wr_bool(&w, m->yes);
	return bc_wr_finish(&w, out, outlen);
}

int bc_mutual_answer_decode(bc_mutual_answer *m, const uint8_t *buf,
			    size_t len)
{
	bc_rd r;
	int rc;

	if (m == NULL || (buf == NULL && len))
		return BC_ERR_INVALID;
	memset(m, 0, sizeof *m);
	bc_rd_init(&r, buf, len);
	if (rd_header(&r, BC_MUTUAL_K_ANSWER) == BC_OK) {
		(void)bc_rd_raw(&r, m->channel, sizeof m->channel);
		(void)bc_rd_raw(&r, m->qid, sizeof m->qid);
		(void)bc_rd_bool(&r, &m->yes);
	}
	rc = bc_rd_end(&r);
	if (rc != BC_OK)
		memset(m, 0, sizeof *m);
	return rc;
}

int bc_mutual_result_encode(const bc_mutual_result *m, uint8_t **out,
			    size_t *outlen)
{
	bc_wr w;
	int rc;

	if (m == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	if (m->outcome == BC_MUTUAL_MATCH) {
		if ((rc = check_text(m->text, m->text_len)) != BC_OK)
			return rc;
	} else if (m->outcome != BC_MUTUAL_NO_MATCH || m->text_len != 0) {
		return BC_ERR_INVALID;
	}
	bc_wr_init(&w, ASK_MAX);
	(void)bc_wr_u8(&w, BC_MUTUAL_VERSION);
	(void)bc_wr_u8(&w, BC_MUTUAL_K_RESULT);
	(void)bc_wr_raw(&w, m->channel, sizeof m->channel);
	(void)bc_wr_raw(&w, m->qid, sizeof m->qid);
	(void)bc_wr_u8(&w, m->outcome);
	if (m->outcome == BC_MUTUAL_MATCH)
		(void)bc_wr_bytes(&w, m->text, m->text_len);
	return bc_wr_finish(&w, out, outlen);
}

int bc_mutual_result_decode(bc_mutual_result *m, const uint8_t *buf,
			    size_t len)
{
	bc_rd r;
	int rc;

	if (m == NULL || (buf == NULL && len))
		return BC_ERR_INVALID;
	memset(m, 0, sizeof *m);
	bc_rd_init(&r, buf, len);
	if (rd_header(&r, BC_MUTUAL_K_RESULT) == BC_OK) {
		(void)bc_rd_raw(&r, m->channel, sizeof m->channel);
		(void)bc_rd_raw(&r, m->qid, sizeof m->qid);
		(void)bc_rd_u8(&r, &m->outcome);
		if (!r.err && m->outcome == BC_MUTUAL_MATCH) {
			(void)bc_rd_bytes(&r, BC_MUTUAL_MAX_TEXT, &m->text,
					  &m->text_len);
			if (!r.err && check_text(m->text, m->text_len) != BC_OK)
				(void)bc_rd_fail(&r, BC_ERR_MALFORMED);
		} else if (!r.err && m->outcome != BC_MUTUAL_NO_MATCH) {
			(void)bc_rd_fail(&r, BC_ERR_MALFORMED);
		}
	}
	rc = bc_rd_end(&r);
	if (rc != BC_OK)
		memset(m, 0, sizeof *m);
	return rc;
}

int bc_mutual_result_check(const bc_mutual_ask *ask,
			   const bc_mutual_result *res)
{
	if (ask == NULL || res == NULL)
		return BC_ERR_INVALID;
	if (memcmp(ask->channel, res->channel, sizeof ask->channel) != 0 ||
	    memcmp(ask->qid, res->qid, sizeof ask->qid) != 0)
		return BC_ERR_PROTOCOL;
	if (res->outcome == BC_MUTUAL_NO_MATCH)
		return res->text_len == 0 ? BC_OK : BC_ERR_PROTOCOL;
	if (res->outcome != BC_MUTUAL_MATCH || res->text_len != ask->text_len ||
	    res->text == NULL || ask->text == NULL ||
	    memcmp(res->text, ask->text, ask->text_len) != 0)
		return BC_ERR_PROTOCOL;
	return BC_OK;
}

/* ---- mediator state ----------------------------------------------------- */

int bc_mutual_new(bc_mutual **out, const uint8_t channel[BC_MUTUAL_CHANNEL_LEN],
		  const uint8_t qid[BC_MUTUAL_QID_LEN], const char *text,
		  const uint8_t (*parties)[BC_MUTUAL_ID_LEN], size_t nparties)
{
	bc_mutual *m = NULL;
	size_t tlen;
	int rc;

	if (out == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	if (channel == NULL || qid == NULL || text == NULL || parties == NULL)
		return BC_ERR_INVALID;
	if (nparties < BC_MUTUAL_MIN_PARTIES || nparties > BC_MUTUAL_MAX_PARTIES)
		return BC_ERR_INVALID;
	tlen = strnlen(text, BC_MUTUAL_MAX_TEXT + 1);
	if ((rc = check_text((const uint8_t *)text, tlen)) != BC_OK)
		return rc;
	m = bc_calloc(1, sizeof *m);
	if (m == NULL)
		return BC_ERR_NOMEM;
	m->text = bc_memdup(text, tlen);
	if (m->text == NULL) {
		bc_free(m);
		return BC_ERR_NOMEM;
	}
	m->text_len = tlen;
	memcpy(m->channel, channel, sizeof m->channel);
	memcpy(m->qid, qid, sizeof m->qid);
	/* insertion sort into ascending order, rejecting duplicates */
	for (size_t i = 0; i < nparties; i++) {
		size_t j = i;
		while (j > 0 && memcmp(m->parties[j - 1], parties[i],
				       BC_MUTUAL_ID_LEN) > 0) {
			memcpy(m->parties[j], m->parties[j - 1],
			       BC_MUTUAL_ID_LEN);
			j--;
		}
		if (j > 0 && memcmp(m->parties[j - 1], parties[i],
				    BC_MUTUAL_ID_LEN) == 0) {
			bc_mutual_free(m);
			return BC_ERR_INVALID;
		}
		memcpy(m->parties[j], parties[i], BC_MUTUAL_ID_LEN);
		m->nparties = i + 1;
	}
	*out = m;
	return BC_OK;
}

void bc_mutual_free(bc_mutual *m)
{
	if (m == NULL)
		return;
	bc_free_secret(m->text, m->text_len);
	sodium_memzero(m, sizeof *m);
	bc_free(m);
}

int bc_mutual_ask_msg(const bc_mutual *m, uint8_t **out, size_t *outlen)
{
	bc_mutual_ask a;

	if (m == NULL)
		return BC_ERR_INVALID;
	memset(&a, 0, sizeof a);
	memcpy(a.channel, m->channel, sizeof a.channel);
	memcpy(a.qid, m->qid, sizeof a.qid);
	a.text = m->text;
	a.text_len = m->text_len;
	a.nparties = m->nparties;
	memcpy(a.parties, m->parties, sizeof a.parties);
	return bc_mutual_ask_encode(&a, out, outlen);
}

static int find_party(const bc_mutual *m, const uint8_t id[BC_MUTUAL_ID_LEN])
{
	for (size_t i = 0; i < m->nparties; i++)
		if (memcmp(m->parties[i], id, BC_MUTUAL_ID_LEN) == 0)
			return (int)i;
	return -1;
}

/* Decide and forget the individual answers. */
static void decide(bc_mutual *m, int outcome)
{
	m->outcome = outcome;
	m->decided = true;
	sodium_memzero(m->answered, sizeof m->answered);
	sodium_memzero(m->yes, sizeof m->yes);
}

int bc_mutual_record(bc_mutual *m, const uint8_t party[BC_MUTUAL_ID_LEN],
		     bool yes)
{
	int i;
	bool all = true, allyes = true;

	if (m == NULL || party == NULL)
		return BC_ERR_INVALID;
	i = find_party(m, party);
	if (i < 0)
		return BC_ERR_FORBIDDEN;
	if (m->decided || m->answered[i])
		return BC_ERR_STATE;
	m->answered[i] = true;
	m->yes[i] = yes;
	for (size_t k = 0; k < m->nparties; k++) {
		all = all && m->answered[k];
		allyes = allyes && m->yes[k];
	}
	if (all)
		decide(m, allyes ? BC_MUTUAL_MATCH : BC_MUTUAL_NO_MATCH);
	return BC_OK;
}

int bc_mutual_record_msg(bc_mutual *m, const uint8_t sender[BC_MUTUAL_ID_LEN],
			 const bc_mutual_answer *a)
{
	if (m == NULL || sender == NULL || a == NULL)
		return BC_ERR_INVALID;
	if (memcmp(a->channel, m->channel, sizeof m->channel) != 0 ||
	    memcmp(a->qid, m->qid, sizeof m->qid) != 0)
		return BC_ERR_PROTOCOL;
	return bc_mutual_record(m, sender, a->yes);
}

int bc_mutual_cancel(bc_mutual *m)
{
	if (m == NULL)
		return BC_ERR_INVALID;
	if (m->decided)
		return BC_ERR_STATE;
	decide(m, BC_MUTUAL_NO_MATCH);
	return BC_OK;
}

bool bc_mutual_decided(const bc_mutual *m)
{
	return m != NULL && m->decided;
}

size_t bc_mutual_pending(const bc_mutual *m)
{
	size_t n = 0;

	if (m == NULL || m->decided)
		return 0;
	for (size_t i = 0; i < m->nparties; i++)
		n += !m->answered[i];
	return n;
}

int bc_mutual_outcome(const bc_mutual *m, int *outcome)
{
	if (m == NULL || outcome == NULL)
		return BC_ERR_INVALID;
	if (!m->decided)
		return BC_ERR_STATE;
	*outcome = m->outcome;
	return BC_OK;
}

int bc_mutual_result_msg(const bc_mutual *m, uint8_t **out, size_t *outlen)
{
	bc_mutual_result r;

	if (m == NULL)
		return BC_ERR_INVALID;
	if (!m->decided)
		return BC_ERR_STATE;
	memset(&r, 0, sizeof r);
	memcpy(r.channel, m->channel, sizeof r.channel);
	memcpy(r.qid, m->qid, sizeof r.qid);
	r.outcome = (uint8_t)m->outcome;
	if (m->outcome == BC_MUTUAL_MATCH) {
		r.text = m->text;
		r.text_len = m->text_len;
	}
	return bc_mutual_result_encode(&r, out, outlen);
}
