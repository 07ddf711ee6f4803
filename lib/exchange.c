/*
 * exchange.c - commit-reveal rounds and sequenced steps (see exchange.h).
 *
 * Invariants of a bc_exround:
 *   - sides[0..n) distinct, strictly ascending; committed[i] / revealed[i]
 *     say what side i has sent; revealed[i] implies committed[i] and that
 *     (key[i], text[i]) opens c[i];
 *   - phase COMMITTING until every side committed, then REVEALING until
 *     every side revealed, then RELEASED; a reveal is never stored while
 *     any commitment is missing;
 *   - keys and texts are wiped on free.
 * Invariants of a bc_exseq: cur is the open step (n when complete);
 * cur_done says whether its performer reported it; steps before cur are
 * confirmed, steps after cur untouched. A refused event changes nothing.
 *
 * All messages are built and parsed with the canonical codec (codec.h).
 */
#include "exchange.h"

#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "internal.h"

#define LABEL_LEN (sizeof BC_EXCHANGE_LABEL - 1)
#define HDR_LEN (2 + BC_EXCHANGE_CHANNEL_LEN + 4)
#define RELEASE_MAX (HDR_LEN + 2 + BC_EXCHANGE_MAX_SIDES * \
		     (32 + 32 + 32 + 4 + BC_EXCHANGE_MAX_TEXT))
#define STEPS_MAX (HDR_LEN + 2 + BC_EXCHANGE_MAX_STEPS * \
		   (32 + 32 + 4 + BC_EXCHANGE_MAX_STEP_TEXT))

/* ---- helpers ------------------------------------------------------------ */

static int check_text(const uint8_t *t, size_t n, size_t min, size_t max)
{
	if (n > max)
		return BC_ERR_TOOBIG;
	if (n < min || (n && t == NULL))
		return BC_ERR_INVALID;
	if (n && !bc_utf8_valid(t, n))
		return BC_ERR_INVALID;
	return BC_OK;
}

static bool ids_sorted(const uint8_t (*p)[BC_EXCHANGE_ID_LEN], size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (memcmp(p[i - 1], p[i], BC_EXCHANGE_ID_LEN) >= 0)
			return false;
	return true;
}

/* Sort n ids ascending into dst; BC_ERR_INVALID on a duplicate. */
static int sort_ids(uint8_t (*dst)[BC_EXCHANGE_ID_LEN],
		    const uint8_t (*src)[BC_EXCHANGE_ID_LEN], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		while (j > 0 &&
		       memcmp(dst[j - 1], src[i], BC_EXCHANGE_ID_LEN) > 0) {
			memcpy(dst[j], dst[j - 1], BC_EXCHANGE_ID_LEN);
			j--;
		}
		if (j > 0 && memcmp(dst[j - 1], src[i], BC_EXCHANGE_ID_LEN) == 0)
			return BC_ERR_INVALID;
		memcpy(dst[j], src[i], BC_EXCHANGE_ID_LEN);
	}
	return BC_OK;
}

static void wr_header(bc_wr *w, uint8_t kind, const uint8_t *channel,
		      uint32_t round)
{
	(void)bc_wr_u8(w, BC_EXCHANGE_VERSION);
	(void)bc_wr_u8(w, kind);
	(void)bc_wr_raw(w, channel, BC_EXCHANGE_CHANNEL_LEN);
	(void)bc_wr_u32(w, round);
}

static int rd_header(bc_rd *r, uint8_t kind, uint8_t *channel, uint32_t *round)
{
	uint8_t v = 0, k = 0;
	(void)bc_rd_u8(r, &v);
	(void)bc_rd_u8(r, &k);
	if (r->err)
		return r->err;
	if (v != BC_EXCHANGE_VERSION)
		return bc_rd_fail(r, BC_ERR_VERSION);
	if (k != kind)
		return bc_rd_fail(r, BC_ERR_MALFORMED);
	(void)bc_rd_raw(r, channel, BC_EXCHANGE_CHANNEL_LEN);
	return bc_rd_u32(r, round);
}

/* Read a bytes field and check it as check_text would, as MALFORMED. */
static void rd_text(bc_rd *r, size_t min, size_t max, const uint8_t **t,
		    size_t *n)
{
	if (bc_rd_bytes(r, max, t, n) == BC_OK &&
	    check_text(*t, *n, min, max) != BC_OK)
		(void)bc_rd_fail(r, BC_ERR_MALFORMED);
}

static int rd_finish(bc_rd *r, void *m, size_t msize)
{
	int rc = bc_rd_end(r);
	if (rc != BC_OK)
		memset(m, 0, msize);
	return rc;
}

/* ---- commitments -------------------------------------------------------- */

int bc_exchange_commitment(uint8_t c[BC_EXCHANGE_COMMIT_LEN],
			   const uint8_t key[BC_EXCHANGE_KEY_LEN],
			   const uint8_t channel[BC_EXCHANGE_CHANNEL_LEN],
			   uint32_t round,
			   const uint8_t author[BC_EXCHANGE_ID_LEN],
			   const uint8_t *text, size_t text_len)
{
	crypto_generichash_state st;
	uint8_t num[4];
	int rc;

	if (c == NULL || key == NULL || channel == NULL || author == NULL)
		return BC_ERR_INVALID;
	if ((rc = check_text(text, text_len, 1, BC_EXCHANGE_MAX_TEXT)) != BC_OK)
		return rc;
	rc = BC_ERR_CRYPTO;
	if (crypto_generichash_init(&st, key, BC_EXCHANGE_KEY_LEN,
				    BC_EXCHANGE_COMMIT_LEN) != 0)
		goto out;
	bc_store32(num, round);
	if (crypto_generichash_update(&st, (const uint8_t *)BC_EXCHANGE_LABEL,
				      LABEL_LEN) != 0 ||
	    crypto_generichash_update(&st, channel, BC_EXCHANGE_CHANNEL_LEN) != 0 ||
	    crypto_generichash_update(&st, num, sizeof num) != 0 ||
	    crypto_generichash_update(&st, author, BC_EXCHANGE_ID_LEN) != 0)
		goto out;
	bc_store32(num, (uint32_t)text_len);
	if (crypto_generichash_update(&st, num, sizeof num) != 0 ||
	    crypto_generichash_update(&st, text, text_len) != 0 ||
	    crypto_generichash_final(&st, c, BC_EXCHANGE_COMMIT_LEN) != 0)
		goto out;
	rc = BC_OK;
out:
	sodium_memzero(&st, sizeof st);
	return rc;
}

int bc_exchange_commit_new(uint8_t key[BC_EXCHANGE_KEY_LEN],
			   uint8_t c[BC_EXCHANGE_COMMIT_LEN],
			   const uint8_t channel[BC_EXCHANGE_CHANNEL_LEN],
			   uint32_t round,
			   const uint8_t author[BC_EXCHANGE_ID_LEN],
			   const uint8_t *text, size_t text_len)
{
	int rc;

	if (key == NULL)
		return BC_ERR_INVALID;
	randombytes_buf(key, BC_EXCHANGE_KEY_LEN);
	rc = bc_exchange_commitment(c, key, channel, round, author, text,
				    text_len);
	if (rc != BC_OK)
		sodium_memzero(key, BC_EXCHANGE_KEY_LEN);
	return rc;
}

int bc_exchange_verify(const uint8_t c[BC_EXCHANGE_COMMIT_LEN],
		       const uint8_t key[BC_EXCHANGE_KEY_LEN],
		       const uint8_t channel[BC_EXCHANGE_CHANNEL_LEN],
		       uint32_t round, const uint8_t author[BC_EXCHANGE_ID_LEN],
		       const uint8_t *text, size_t text_len)
{
	uint8_t want[BC_EXCHANGE_COMMIT_LEN];
	int rc;

	if (c == NULL)
		return BC_ERR_INVALID;
	rc = bc_exchange_commitment(want, key, channel, round, author, text,
				    text_len);
	if (rc == BC_OK && sodium_memcmp(want, c, sizeof want) != 0)
		rc = BC_ERR_AUTH;
	sodium_memzero(want, sizeof want);
	return rc;
}

/* ---- messages ----------------------------------------------------------- */

int bc_exchange_commit_encode(const bc_exchange_commit *m, uint8_t **out,
			      size_t *outlen)
{
	bc_wr w;

	if (m == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	bc_wr_init(&w, 128);
	wr_header(&w, BC_EXCHANGE_K_COMMIT, m->channel, m->round);
	(void)bc_wr_raw(&w, m->c, sizeof m->c);
	return bc_wr_finish(&w, out, outlen);
}

int bc_exchange_commit_decode(bc_exchange_commit *m, const uint8_t *buf,
			      size_t len)
{
	bc_rd r;

	if (m == NULL || (buf == NULL && len))
		return BC_ERR_INVALID;
	memset(m, 0, sizeof *m);
	bc_rd_init(&r, buf, len);
	if (rd_header(&r, BC_EXCHANGE_K_COMMIT, m->channel, &m->round) == BC_OK)
		(void)bc_rd_raw(&r, m->c, sizeof m->c);
	return rd_finish(&r, m, sizeof *m);
}

static bool list_ok(const uint8_t (*author)[BC_EXCHANGE_ID_LEN], size_t n)
{
	return n >= BC_EXCHANGE_MIN_SIDES && n <= BC_EXCHANGE_MAX_SIDES &&
	       ids_sorted(author, n);
}

int bc_exchange_allc_encode(const bc_exchange_allc *m, uint8_t **out,
			    size_t *outlen)
{
	bc_wr w;

	if (m == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	if (!list_ok((const uint8_t(*)[BC_EXCHANGE_ID_LEN])m->author, m->n))
		return BC_ERR_INVALID;
	bc_wr_init(&w, HDR_LEN + 2 + BC_EXCHANGE_MAX_SIDES * 64);
	wr_header(&w, BC_EXCHANGE_K_ALLCOMMITTED, m->channel, m->round);
	(void)bc_wr_u16(&w, (uint16_t)m->n);
	for (size_t i = 0; i < m->n; i++) {
		(void)bc_wr_raw(&w, m->author[i], BC_EXCHANGE_ID_LEN);
		(void)bc_wr_raw(&w, m->c[i], BC_EXCHANGE_COMMIT_LEN);
	}
	return bc_wr_finish(&w, out, outlen);
}

int bc_exchange_allc_decode(bc_exchange_allc *m, const uint8_t *buf, size_t len)
{
	bc_rd r;
	uint16_t n = 0;

	if (m == NULL || (buf == NULL && len))
		return BC_ERR_INVALID;
	memset(m, 0, sizeof *m);
	bc_rd_init(&r, buf, len);
	if (rd_header(&r, BC_EXCHANGE_K_ALLCOMMITTED, m->channel, &m->round) ==
	    BC_OK) {
		(void)bc_rd_count(&r, BC_EXCHANGE_MAX_SIDES, &n);
		for (uint16_t i = 0; !r.err && i < n; i++) {
			(void)bc_rd_raw(&r, m->author[i], BC_EXCHANGE_ID_LEN);
			(void)bc_rd_raw(&r, m->c[i], BC_EXCHANGE_COMMIT_LEN);
		}
		m->n = n;
		if (!r.err &&
		    !list_ok((const uint8_t(*)[BC_EXCHANGE_ID_LEN])m->author, n))
			(void)bc_rd_fail(&r, BC_ERR_MALFORMED);
	}
	return rd_finish(&r, m, sizeof *m);
}

int bc_exchange_reveal_encode(const bc_exchange_reveal *m, uint8_t **out,
			      size_t *outlen)
{
	bc_wr w;
	int rc;

	if (m == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	rc = check_text(m->text, m->text_len, 1, BC_EXCHANGE_MAX_TEXT);
	if (rc != BC_OK)
		return rc;
	bc_wr_init(&w, HDR_LEN + 32 + 4 + BC_EXCHANGE_MAX_TEXT);
	wr_header(&w, BC_EXCHANGE_K_REVEAL, m->channel, m->round);
	(void)bc_wr_raw(&w, m->key, sizeof m->key);
	(void)bc_wr_bytes(&w, m->text, m->text_len);
	return bc_wr_finish(&w, out, outlen);
}

int bc_exchange_reveal_decode(bc_exchange_reveal *m, const uint8_t *buf,
			      size_t len)
{
	bc_rd r;

	if (m == NULL || (buf == NULL && len))
		return BC_ERR_INVALID;
	memset(m, 0, sizeof *m);
	bc_rd_init(&r, buf, len);
	if (rd_header(&r, BC_EXCHANGE_K_REVEAL, m->channel, &m->round) ==
	    BC_OK) {
		(void)bc_rd_raw(&r, m->key, sizeof m->key);
		rd_text(&r, 1, BC_EXCHANGE_MAX_TEXT, &m->text, &m->text_len);
	}
	return rd_finish(&r, m, sizeof *m);
}

int bc_exchange_release_encode(const bc_exchange_release *m, uint8_t **out,
			       size_t *outlen)
{
	bc_wr w;
	int rc;

	if (m == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	if (!list_ok((const uint8_t(*)[BC_EXCHANGE_ID_LEN])m->author, m->n))
		return BC_ERR_INVALID;
	for (size_t i = 0; i < m->n; i++) {
		rc = check_text(m->text[i], m->text_len[i], 1,
				BC_EXCHANGE_MAX_TEXT);
		if (rc != BC_OK)
			return rc;
	}
	bc_wr_init(&w, RELEASE_MAX);
	wr_header(&w, BC_EXCHANGE_K_RELEASE, m->channel, m->round);
	(void)bc_wr_u16(&w, (uint16_t)m->n);
	for (size_t i = 0; i < m->n; i++) {
		(void)bc_wr_raw(&w, m->author[i], BC_EXCHANGE_ID_LEN);
		(void)bc_wr_raw(&w, m->c[i], BC_EXCHANGE_COMMIT_LEN);
		(void)bc_wr_raw(&w, m->key[i], BC_EXCHANGE_KEY_LEN);
		(void)bc_wr_bytes(&w, m->text[i], m->text_len[i]);
	}
	return bc_wr_finish(&w, out, outlen);
}

int bc_exchange_release_decode(bc_exchange_release *m, const uint8_t *buf,
			       size_t len)
{
	bc_rd r;
	uint16_t n = 0;

	if (m == NULL || (buf == NULL && len))
		return BC_ERR_INVALID;
	memset(m, 0, sizeof *m);
	bc_rd_init(&r, buf, len);
	if (rd_header(&r, BC_EXCHANGE_K_RELEASE, m->channel, &m->round) ==
	    BC_OK) {
		(void)bc_rd_count(&r, BC_EXCHANGE_MAX_SIDES, &n);
		for (uint16_t i = 0; !r.err && i < n; i++) {
			(void)bc_rd_raw(&r, m->author[i], BC_EXCHANGE_ID_LEN);
			(void)bc_rd_raw(&r, m->c[i], BC_EXCHANGE_COMMIT_LEN);
			(void)bc_rd_raw(&r, m->key[i], BC_EXCHANGE_KEY_LEN);
			rd_text(&r, 1, BC_EXCHANGE_MAX_TEXT, &m->text[i],
				&m->text_len[i]);
		}
		m->n = n;
		if (!r.err &&
		    !list_ok((const uint8_t(*)[BC_EXCHANGE_ID_LEN])m->author, n))
			(void)bc_rd_fail(&r, BC_ERR_MALFORMED);
	}
	return rd_finish(&r, m, sizeof *m);
}

int bc_exchange_stepdone_encode(const bc_exchange_step *m, uint8_t **out,
				size_t *outlen)
{
	bc_wr w;
	int rc;

	if (m == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	rc = check_text(m->note, m->note_len, 0, BC_EXCHANGE_MAX_NOTE);
	if (rc != BC_OK)
		return rc;
	bc_wr_init(&w, HDR_LEN + 4 + 4 + BC_EXCHANGE_MAX_NOTE);
	wr_header(&w, BC_EXCHANGE_K_STEPDONE, m->channel, m->round);
	(void)bc_wr_u32(&w, m->step);
	(void)bc_wr_bytes(&w, m->note, m->note_len);
	return bc_wr_finish(&w, out, outlen);
}

int bc_exchange_stepdone_decode(bc_exchange_step *m, const uint8_t *buf,
				size_t len)
{
	bc_rd r;

	if (m == NULL || (buf == NULL && len))
		return BC_ERR_INVALID;
	memset(m, 0, sizeof *m);
	bc_rd_init(&r, buf, len);
	if (rd_header(&r, BC_EXCHANGE_K_STEPDONE, m->channel, &m->round) ==
	    BC_OK) {
		(void)bc_rd_u32(&r, &m->step);
		rd_text(&r, 0, BC_EXCHANGE_MAX_NOTE, &m->note, &m->note_len);
	}
	return rd_finish(&r, m, sizeof *m);
}

int bc_exchange_stepconf_encode(const bc_exchange_step *m, uint8_t **out,
				size_t *outlen)
{
	bc_wr w;

	if (m == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	bc_wr_init(&w, HDR_LEN + 4);
	wr_header(&w, BC_EXCHANGE_K_STEPCONFIRMED, m->channel, m->round);
	(void)bc_wr_u32(&w, m->step);
	return bc_wr_finish(&w, out, outlen);
}

int bc_exchange_stepconf_decode(bc_exchange_step *m, const uint8_t *buf,
				size_t len)
{
	bc_rd r;

	if (m == NULL || (buf == NULL && len))
		return BC_ERR_INVALID;
	memset(m, 0, sizeof *m);
	bc_rd_init(&r, buf, len);
	if (rd_header(&r, BC_EXCHANGE_K_STEPCONFIRMED, m->channel,
		      &m->round) == BC_OK)
		(void)bc_rd_u32(&r, &m->step);
	return rd_finish(&r, m, sizeof *m);
}

int bc_exchange_steps_encode(const bc_exchange_steps *m, uint8_t **out,
			     size_t *outlen)
{
	bc_wr w;
	int rc;

	if (m == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	if (m->n == 0 || m->n > BC_EXCHANGE_MAX_STEPS)
		return BC_ERR_INVALID;
	for (size_t i = 0; i < m->n; i++) {
		if (memcmp(m->performer[i], m->receiver[i],
			   BC_EXCHANGE_ID_LEN) == 0)
			return BC_ERR_INVALID;
		rc = check_text(m->text[i], m->text_len[i], 1,
				BC_EXCHANGE_MAX_STEP_TEXT);
		if (rc != BC_OK)
			return rc;
	}
	bc_wr_init(&w, STEPS_MAX);
	wr_header(&w, BC_EXCHANGE_K_STEPS, m->channel, m->round);
	(void)bc_wr_u16(&w, (uint16_t)m->n);
	for (size_t i = 0; i < m->n; i++) {
		(void)bc_wr_raw(&w, m->performer[i], BC_EXCHANGE_ID_LEN);
		(void)bc_wr_raw(&w, m->receiver[i], BC_EXCHANGE_ID_LEN);
		(void)bc_wr_bytes(&w, m->text[i], m->text_len[i]);
	}
	return bc_wr_finish(&w, out, outlen);
}

int bc_exchange_steps_decode(bc_exchange_steps *m, const uint8_t *buf,
			     size_t len)
{
	bc_rd r;
	uint16_t n = 0;

	if (m == NULL || (buf == NULL && len))
		return BC_ERR_INVALID;
	memset(m, 0, sizeof *m);
	bc_rd_init(&r, buf, len);
	if (rd_header(&r, BC_EXCHANGE_K_STEPS, m->channel, &m->round) ==
	    BC_OK) {
		(void)bc_rd_count(&r, BC_EXCHANGE_MAX_STEPS, &n);
		if (!r.err && n == 0)
			(void)bc_rd_fail(&r, BC_ERR_MALFORMED);
		for (uint16_t i = 0; !r.err && i < n; i++) {
			(void)bc_rd_raw(&r, m->performer[i], BC_EXCHANGE_ID_LEN);
			(void)bc_rd_raw(&r, m->receiver[i], BC_EXCHANGE_ID_LEN);
			rd_text(&r, 1, BC_EXCHANGE_MAX_STEP_TEXT, &m->text[i],
				&m->text_len[i]);
			if (!r.err && memcmp(m->performer[i], m->receiver[i],
					     BC_EXCHANGE_ID_LEN) == 0)
				(void)bc_rd_fail(&r, BC_ERR_MALFORMED);
		}
		m->n = n;
	}
	return rd_finish(&r, m, sizeof *m);
}

int bc_exchange_kind_of(const uint8_t *buf, size_t len, uint8_t *kind)
{
	if (kind == NULL || (buf == NULL && len))
		return BC_ERR_INVALID;
	*kind = 0;
	if (len < 2)
		return BC_ERR_MALFORMED;
	if (buf[0] != BC_EXCHANGE_VERSION)
		return BC_ERR_VERSION;
	if (buf[1] < BC_EXCHANGE_K_COMMIT || buf[1] > BC_EXCHANGE_K_STEPS)
		return BC_ERR_MALFORMED;
	*kind = buf[1];
	return BC_OK;
}

/* ---- client checks ------------------------------------------------------ */

int bc_exchange_check_allc(const bc_exchange_allc *allc,
			   const uint8_t channel[BC_EXCHANGE_CHANNEL_LEN],
			   uint32_t round, const uint8_t me[BC_EXCHANGE_ID_LEN],
			   const uint8_t my_c[BC_EXCHANGE_COMMIT_LEN])
{
	if (allc == NULL || channel == NULL || me == NULL || my_c == NULL)
		return BC_ERR_INVALID;
	if (memcmp(allc->channel, channel, BC_EXCHANGE_CHANNEL_LEN) != 0 ||
	    allc->round != round)
		return BC_ERR_PROTOCOL;
	for (size_t i = 0; i < allc->n && i < BC_EXCHANGE_MAX_SIDES; i++)
		if (memcmp(allc->author[i], me, BC_EXCHANGE_ID_LEN) == 0)
			return sodium_memcmp(allc->c[i], my_c,
					     BC_EXCHANGE_COMMIT_LEN) == 0
				       ? BC_OK
				       : BC_ERR_AUTH;
	return BC_ERR_AUTH;
}

int bc_exchange_check_release(const bc_exchange_allc *allc,
			      const bc_exchange_release *rel)
{
	int bad = 0;

	if (allc == NULL || rel == NULL)
		return BC_ERR_INVALID;
	if (memcmp(allc->channel, rel->channel, BC_EXCHANGE_CHANNEL_LEN) != 0 ||
	    allc->round != rel->round || allc->n != rel->n ||
	    rel->n > BC_EXCHANGE_MAX_SIDES)
		return BC_ERR_AUTH;
	for (size_t i = 0; i < rel->n; i++) {
		if (memcmp(allc->author[i], rel->author[i],
			   BC_EXCHANGE_ID_LEN) != 0)
			return BC_ERR_AUTH;
		bad |= sodium_memcmp(allc->c[i], rel->c[i],
				     BC_EXCHANGE_COMMIT_LEN);
		if (bc_exchange_verify(allc->c[i], rel->key[i], rel->channel,
				       rel->round, rel->author[i], rel->text[i],
				       rel->text_len[i]) != BC_OK)
			bad = -1;
	}
	return bad ? BC_ERR_AUTH : BC_OK;
}

/* ---- mediator: one commit-reveal round ---------------------------------- */

struct bc_exround {
	uint8_t channel[BC_EXCHANGE_CHANNEL_LEN];
	uint32_t round;
	int phase;
	size_t n;
	uint8_t side[BC_EXCHANGE_MAX_SIDES][BC_EXCHANGE_ID_LEN];
	bool committed[BC_EXCHANGE_MAX_SIDES];
	bool revealed[BC_EXCHANGE_MAX_SIDES];
	uint8_t c[BC_EXCHANGE_MAX_SIDES][BC_EXCHANGE_COMMIT_LEN];
	uint8_t key[BC_EXCHANGE_MAX_SIDES][BC_EXCHANGE_KEY_LEN];
	uint8_t *text[BC_EXCHANGE_MAX_SIDES];
	size_t text_len[BC_EXCHANGE_MAX_SIDES];
};

int bc_exround_new(bc_exround **out,
		   const uint8_t channel[BC_EXCHANGE_CHANNEL_LEN],
		   uint32_t round, const uint8_t (*sides)[BC_EXCHANGE_ID_LEN],
		   size_t nsides)
{
	bc_exround *r;

	if (out == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	if (channel == NULL || sides == NULL ||
	    nsides < BC_EXCHANGE_MIN_SIDES || nsides > BC_EXCHANGE_MAX_SIDES)
		return BC_ERR_INVALID;
	r = bc_calloc(1, sizeof *r);
	if (r == NULL)
		return BC_ERR_NOMEM;
	if (sort_ids(r->side, sides, nsides) != BC_OK) {
		bc_free(r);
		return BC_ERR_INVALID;
	}
	memcpy(r->channel, channel, sizeof r->channel);
	r->round = round;
	r->n = nsides;
	r->phase = BC_EXROUND_COMMITTING;
	*out = r;
	return BC_OK;
}

void bc_exround_free(bc_exround *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < BC_EXCHANGE_MAX_SIDES; i++)
		bc_free_secret(r->text[i], r->text_len[i]);
	sodium_memzero(r, sizeof *r);
	bc_free(r);
}

int bc_exround_phase(const bc_exround *r)
{
	return r ? r->phase : 0;
}

static int find_side(const bc_exround *r, const uint8_t id[BC_EXCHANGE_ID_LEN])
{
	for (size_t i = 0; i < r->n; i++)
		if (memcmp(r->side[i], id, BC_EXCHANGE_ID_LEN) == 0)
			return (int)i;
	return -1;
}

static bool same_exchange(const bc_exround *r, const uint8_t *channel,
			  uint32_t round)
{
	return memcmp(r->channel, channel, BC_EXCHANGE_CHANNEL_LEN) == 0 &&
	       r->round == round;
}

int bc_exround_commit(bc_exround *r, const uint8_t side[BC_EXCHANGE_ID_LEN],
		      const bc_exchange_commit *m)
{
	int i;
	bool all = true;

	if (r == NULL || side == NULL || m == NULL)
		return BC_ERR_INVALID;
	if ((i = find_side(r, side)) < 0)
		return BC_ERR_FORBIDDEN;
	if (!same_exchange(r, m->channel, m->round))
		return BC_ERR_PROTOCOL;
	if (r->phase != BC_EXROUND_COMMITTING || r->committed[i])
		return BC_ERR_STATE;
	memcpy(r->c[i], m->c, BC_EXCHANGE_COMMIT_LEN);
	r->committed[i] = true;
	for (size_t k = 0; k < r->n; k++)
		all = all && r->committed[k];
	if (all)
		r->phase = BC_EXROUND_REVEALING;
	return BC_OK;
}

int bc_exround_allc_msg(const bc_exround *r, uint8_t **out, size_t *outlen)
{
	bc_exchange_allc a;

	if (r == NULL)
		return BC_ERR_INVALID;
	if (r->phase != BC_EXROUND_REVEALING && r->phase != BC_EXROUND_RELEASED)
		return BC_ERR_STATE;
	memset(&a, 0, sizeof a);
	memcpy(a.channel, r->channel, sizeof a.channel);
	a.round = r->round;
	a.n = r->n;
	memcpy(a.author, r->side, sizeof a.author);
	memcpy(a.c, r->c, sizeof a.c);
	return bc_exchange_allc_encode(&a, out, outlen);
}

int bc_exround_reveal(bc_exround *r, const uint8_t side[BC_EXCHANGE_ID_LEN],
		      const bc_exchange_reveal *m)
{
	int i, rc;
	bool all = true;
	uint8_t *t;

	if (r == NULL || side == NULL || m == NULL)
		return BC_ERR_INVALID;
	if ((i = find_side(r, side)) < 0)
		return BC_ERR_FORBIDDEN;
	if (!same_exchange(r, m->channel, m->round))
		return BC_ERR_PROTOCOL;
	if (r->phase != BC_EXROUND_REVEALING || r->revealed[i])
		return BC_ERR_STATE;
	rc = bc_exchange_verify(r->c[i], m->key, r->channel, r->round,
				r->side[i], m->text, m->text_len);
	if (rc != BC_OK)
		return rc;
	t = bc_memdup(m->text, m->text_len);
	if (t == NULL)
		return BC_ERR_NOMEM;
	r->text[i] = t;
	r->text_len[i] = m->text_len;
	memcpy(r->key[i], m->key, BC_EXCHANGE_KEY_LEN);
	r->revealed[i] = true;
	for (size_t k = 0; k < r->n; k++)
		all = all && r->revealed[k];
	if (all)
		r->phase = BC_EXROUND_RELEASED;
	return BC_OK;
}

int bc_exround_release_msg(const bc_exround *r, uint8_t **out, size_t *outlen)
{
	bc_exchange_release *m;
	int rc;

	if (r == NULL)
		return BC_ERR_INVALID;
	if (r->phase != BC_EXROUND_RELEASED)
		return BC_ERR_STATE;
	m = bc_calloc(1, sizeof *m);
	if (m == NULL)
		return BC_ERR_NOMEM;
	memcpy(m->channel, r->channel, sizeof m->channel);
	m->round = r->round;
	m->n = r->n;
	memcpy(m->author, r->side, sizeof m->author);
	memcpy(m->c, r->c, sizeof m->c);
	memcpy(m->key, r->key, sizeof m->key);
	for (size_t i = 0; i < r->n; i++) {
		m->text[i] = r->text[i];
		m->text_len[i] = r->text_len[i];
	}
	rc = bc_exchange_release_encode(m, out, outlen);
	sodium_memzero(m, sizeof *m);
	bc_free(m);
	return rc;
}

int bc_exround_abort(bc_exround *r)
{
	if (r == NULL)
		return BC_ERR_INVALID;
	if (r->phase == BC_EXROUND_RELEASED)
		return BC_ERR_STATE;
	r->phase = BC_EXROUND_ABORTED;
	return BC_OK;
}

/* ---- sequenced steps ---------------------------------------------------- */

struct bc_exseq {
	uint8_t channel[BC_EXCHANGE_CHANNEL_LEN];
	uint32_t round;
	uint32_t n;
	uint32_t cur;
	bool cur_done;
	bc_exseq_def steps[BC_EXCHANGE_MAX_STEPS];
};

int bc_exseq_new(bc_exseq **out, const uint8_t channel[BC_EXCHANGE_CHANNEL_LEN],
		 uint32_t round, const bc_exseq_def *steps, size_t n)
{
	bc_exseq *s;

	if (out == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	if (channel == NULL || steps == NULL || n == 0 ||
	    n > BC_EXCHANGE_MAX_STEPS)
		return BC_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if (memcmp(steps[i].performer, steps[i].receiver,
			   BC_EXCHANGE_ID_LEN) == 0)
			return BC_ERR_INVALID;
	s = bc_calloc(1, sizeof *s);
	if (s == NULL)
		return BC_ERR_NOMEM;
	memcpy(s->channel, channel, sizeof s->channel);
	s->round = round;
	s->n = (uint32_t)n;
	memcpy(s->steps, steps, n * sizeof *steps);
	*out = s;
	return BC_OK;
}

void bc_exseq_free(bc_exseq *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, sizeof *s);
	bc_free(s);
}

static int refuse(int *why, int reason)
{
	if (why)
		*why = reason;
	switch (reason) {
	case BC_EXSEQ_WRONG_EXCHANGE:
		return BC_ERR_PROTOCOL;
	case BC_EXSEQ_NOT_PERFORMER:
	case BC_EXSEQ_NOT_RECEIVER:
		return BC_ERR_FORBIDDEN;
	case BC_EXSEQ_OK:
		return BC_OK;
	default:
		return BC_ERR_STATE;
	}
}

/* Checks common to done and confirm, in order of precedence. */
static int seq_check(const bc_exseq *s, const bc_exchange_step *m)
{
	if (memcmp(s->channel, m->channel, BC_EXCHANGE_CHANNEL_LEN) != 0 ||
	    s->round != m->round)
		return BC_EXSEQ_WRONG_EXCHANGE;
	if (s->cur >= s->n)
		return BC_EXSEQ_COMPLETE;
	if (m->step != s->cur)
		return BC_EXSEQ_OUT_OF_ORDER;
	return BC_EXSEQ_OK;
}

int bc_exseq_done(bc_exseq *s, const uint8_t who[BC_EXCHANGE_ID_LEN],
		  const bc_exchange_step *m, int *why)
{
	int reason;

	if (s == NULL || who == NULL || m == NULL)
		return BC_ERR_INVALID;
	if ((reason = seq_check(s, m)) != BC_EXSEQ_OK)
		return refuse(why, reason);
	if (memcmp(s->steps[s->cur].performer, who, BC_EXCHANGE_ID_LEN) != 0)
		return refuse(why, BC_EXSEQ_NOT_PERFORMER);
	if (s->cur_done)
		return refuse(why, BC_EXSEQ_ALREADY_DONE);
	s->cur_done = true;
	return refuse(why, BC_EXSEQ_OK);
}

int bc_exseq_confirm(bc_exseq *s, const uint8_t who[BC_EXCHANGE_ID_LEN],
		     const bc_exchange_step *m, int *why)
{
	int reason;

	if (s == NULL || who == NULL || m == NULL)
		return BC_ERR_INVALID;
	if ((reason = seq_check(s, m)) != BC_EXSEQ_OK)
		return refuse(why, reason);
	if (memcmp(s->steps[s->cur].receiver, who, BC_EXCHANGE_ID_LEN) != 0)
		return refuse(why, BC_EXSEQ_NOT_RECEIVER);
	if (!s->cur_done)
		return refuse(why, BC_EXSEQ_NOT_DONE);
	s->cur++;
	s->cur_done = false;
	return refuse(why, BC_EXSEQ_OK);
}

uint32_t bc_exseq_current(const bc_exseq *s, bool *done)
{
	if (done)
		*done = s ? s->cur_done : false;
	return s ? s->cur : 0;
}

bool bc_exseq_complete(const bc_exseq *s)
{
	return s != NULL && s->cur >= s->n;
}

const char *bc_exseq_refusal_name(int why)
{
	switch (why) {
	case BC_EXSEQ_OK: return "ok";
	case BC_EXSEQ_WRONG_EXCHANGE: return "wrong-exchange";
	case BC_EXSEQ_COMPLETE: return "complete";
	case BC_EXSEQ_OUT_OF_ORDER: return "out-of-order";
	case BC_EXSEQ_ALREADY_DONE: return "already-done";
	case BC_EXSEQ_NOT_DONE: return "not-done";
	case BC_EXSEQ_NOT_PERFORMER: return "not-performer";
	case BC_EXSEQ_NOT_RECEIVER: return "not-receiver";
	default: return "unknown";
	}
}
