/*
 * test_exchange.c - unit tests for commit-reveal rounds and sequenced
 * steps (lib/exchange.c).
 *
 * What is pinned down here: the commitment equals an independent
 * computation with libsodium's one-shot keyed BLAKE2b over the documented
 * input; a happy two-side round (commit, all-committed, reveal, release,
 * client checks); a reveal before all commitments is refused; a reveal
 * that does not open its commitment is refused and may be corrected; a
 * commitment made for another round, channel or author does not open; a
 * mediator that alters a text, a key or a commitment, swaps two reveals,
 * or drops a side is caught by the client's check; the client sees its
 * own commitment replaced; sequenced steps refuse out-of-order events,
 * done by a non-performer, confirmation by a non-receiver, confirmation
 * before done; and every message decodes canonically only (truncation,
 * trailing bytes, wrong kind/version, unsorted lists).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>

#include "codec.h"
#include "exchange.h"
#include "internal.h"

static const uint8_t CH[16] = { 0xce, 0x11, 2, 3, 4, 5, 6, 7,
				8, 9, 10, 11, 12, 13, 14, 15 };
#define ROUND 7u

static uint8_t A[32], B[32], M[32];
static const char *TA = "release 3 detainees";
static const char *TB = "accept 2 repatriation flights";

struct side {
	const uint8_t *id;
	const char *text;
	uint8_t key[32];
	uint8_t c[32];
};

static void setup_ids(void)
{
	memset(A, 0xaa, 32);
	memset(B, 0x0b, 32); /* B sorts before A */
	memset(M, 0x33, 32);
}

static void side_init(struct side *s, const uint8_t *id, const char *text)
{
	s->id = id;
	s->text = text;
	assert_int_equal(bc_exchange_commit_new(s->key, s->c, CH, ROUND, id,
						(const uint8_t *)text,
						strlen(text)), BC_OK);
}

static void commit_msg(bc_exchange_commit *m, const struct side *s)
{
	memset(m, 0, sizeof *m);
	memcpy(m->channel, CH, 16);
	m->round = ROUND;
	memcpy(m->c, s->c, 32);
}

static void reveal_msg(bc_exchange_reveal *m, const struct side *s)
{
	memset(m, 0, sizeof *m);
	memcpy(m->channel, CH, 16);
	m->round = ROUND;
	memcpy(m->key, s->key, 32);
	m->text = (const uint8_t *)s->text;
	m->text_len = strlen(s->text);
}

static bc_exround *new_round(void)
{
	uint8_t sides[2][32];
	bc_exround *r = NULL;
	memcpy(sides[0], A, 32);
	memcpy(sides[1], B, 32);
	assert_int_equal(bc_exround_new(&r, CH, ROUND,
					(const uint8_t(*)[32])sides, 2), BC_OK);
	return r;
}

/* Run a full honest round; returns the decoded all-committed list and
 * the release bytes. */
static uint8_t *run_round(struct side *sa, struct side *sb,
			  bc_exchange_allc *allc, uint8_t **allc_buf,
			  size_t *rel_len)
{
	bc_exround *r = new_round();
	bc_exchange_commit cm;
	bc_exchange_reveal rv;
	uint8_t *rel = NULL;
	size_t alen = 0;

	side_init(sa, A, TA);
	side_init(sb, B, TB);
	commit_msg(&cm, sa);
	assert_int_equal(bc_exround_commit(r, A, &cm), BC_OK);
	commit_msg(&cm, sb);
	assert_int_equal(bc_exround_commit(r, B, &cm), BC_OK);
	assert_int_equal(bc_exround_allc_msg(r, allc_buf, &alen), BC_OK);
	assert_int_equal(bc_exchange_allc_decode(allc, *allc_buf, alen), BC_OK);
	reveal_msg(&rv, sa);
	assert_int_equal(bc_exround_reveal(r, A, &rv), BC_OK);
	reveal_msg(&rv, sb);
	assert_int_equal(bc_exround_reveal(r, B, &rv), BC_OK);
	assert_int_equal(bc_exround_release_msg(r, &rel, rel_len), BC_OK);
	bc_exround_free(r);
	return rel;
}

/* ---- tests -------------------------------------------------------------- */

static void test_commitment_vector(void **state)
{
	uint8_t key[32], c[32], want[32], msg[256];
	size_t n = 0, tl = strlen(TA);
	(void)state;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	memcpy(msg, "backchannel v1 exchange commit", 30);
	n = 30;
	memcpy(msg + n, CH, 16);
	n += 16;
	bc_store32(msg + n, ROUND);
	n += 4;
	memcpy(msg + n, A, 32);
	n += 32;
	bc_store32(msg + n, (uint32_t)tl);
	n += 4;
	memcpy(msg + n, TA, tl);
	n += tl;
	assert_int_equal(crypto_generichash(want, 32, msg, n, key, 32), 0);
	assert_int_equal(bc_exchange_commitment(c, key, CH, ROUND, A,
						(const uint8_t *)TA, tl), BC_OK);
	assert_memory_equal(c, want, 32);
	assert_int_equal(bc_exchange_verify(c, key, CH, ROUND, A,
					    (const uint8_t *)TA, tl), BC_OK);
	/* bad text refused */
	assert_int_equal(bc_exchange_commitment(c, key, CH, ROUND, A,
						(const uint8_t *)"", 0),
			 BC_ERR_INVALID);
	assert_int_equal(bc_exchange_commitment(c, key, CH, ROUND, A,
						(const uint8_t *)"a\0b", 3),
			 BC_ERR_INVALID);
}

static void test_binding(void **state)
{
	struct side s;
	uint8_t ch2[16];
	size_t tl = strlen(TA);
	(void)state;

	side_init(&s, A, TA);
	memcpy(ch2, CH, 16);
	ch2[15] ^= 1;
	assert_int_equal(bc_exchange_verify(s.c, s.key, CH, ROUND, A,
					    (const uint8_t *)TA, tl), BC_OK);
	assert_int_equal(bc_exchange_verify(s.c, s.key, CH, ROUND + 1, A,
					    (const uint8_t *)TA, tl),
			 BC_ERR_AUTH);
	assert_int_equal(bc_exchange_verify(s.c, s.key, ch2, ROUND, A,
					    (const uint8_t *)TA, tl),
			 BC_ERR_AUTH);
	assert_int_equal(bc_exchange_verify(s.c, s.key, CH, ROUND, B,
					    (const uint8_t *)TA, tl),
			 BC_ERR_AUTH);
	assert_int_equal(bc_exchange_verify(s.c, s.key, CH, ROUND, A,
					    (const uint8_t *)TA, tl - 1),
			 BC_ERR_AUTH);
	s.key[0] ^= 1;
	assert_int_equal(bc_exchange_verify(s.c, s.key, CH, ROUND, A,
					    (const uint8_t *)TA, tl),
			 BC_ERR_AUTH);
}

static void test_happy_path(void **state)
{
	struct side sa, sb;
	bc_exchange_allc allc;
	bc_exchange_release rel;
	uint8_t *ab = NULL, *rb;
	size_t rlen = 0;
	(void)state;

	rb = run_round(&sa, &sb, &allc, &ab, &rlen);
	assert_int_equal(allc.n, 2);
	assert_memory_equal(allc.author[0], B, 32); /* ascending */
	assert_int_equal(bc_exchange_check_allc(&allc, CH, ROUND, A, sa.c),
			 BC_OK);
	assert_int_equal(bc_exchange_check_allc(&allc, CH, ROUND, B, sb.c),
			 BC_OK);
	assert_int_equal(bc_exchange_release_decode(&rel, rb, rlen), BC_OK);
	assert_int_equal(bc_exchange_check_release(&allc, &rel), BC_OK);
	assert_int_equal(rel.text_len[1], strlen(TA));
	assert_memory_equal(rel.text[1], TA, strlen(TA));
	assert_memory_equal(rel.text[0], TB, strlen(TB));
	bc_free(ab);
	bc_free(rb);
}

static void test_reveal_before_all_committed(void **state)
{
	bc_exround *r = new_round();
	struct side sa, sb;
	bc_exchange_commit cm;
	bc_exchange_reveal rv;
	uint8_t *out = NULL;
	size_t len = 0;
	(void)state;

	side_init(&sa, A, TA);
	side_init(&sb, B, TB);
	commit_msg(&cm, &sa);
	assert_int_equal(bc_exround_commit(r, A, &cm), BC_OK);
	assert_int_equal(bc_exround_commit(r, A, &cm), BC_ERR_STATE);
	assert_int_equal(bc_exround_commit(r, M, &cm), BC_ERR_FORBIDDEN);
	reveal_msg(&rv, &sa);
	assert_int_equal(bc_exround_reveal(r, A, &rv), BC_ERR_STATE);
	assert_int_equal(bc_exround_allc_msg(r, &out, &len), BC_ERR_STATE);
	assert_int_equal(bc_exround_release_msg(r, &out, &len), BC_ERR_STATE);
	assert_int_equal(bc_exround_phase(r), BC_EXROUND_COMMITTING);
	/* a commit for another round is not taken */
	commit_msg(&cm, &sb);
	cm.round++;
	assert_int_equal(bc_exround_commit(r, B, &cm), BC_ERR_PROTOCOL);
	cm.round--;
	assert_int_equal(bc_exround_commit(r, B, &cm), BC_OK);
	assert_int_equal(bc_exround_phase(r), BC_EXROUND_REVEALING);
	/* no more commitments once revealing */
	assert_int_equal(bc_exround_commit(r, B, &cm), BC_ERR_STATE);
	assert_int_equal(bc_exround_reveal(r, A, &rv), BC_OK);
	assert_int_equal(bc_exround_reveal(r, A, &rv), BC_ERR_STATE);
	assert_int_equal(bc_exround_release_msg(r, &out, &len), BC_ERR_STATE);
	assert_int_equal(bc_exround_abort(r), BC_OK);
	reveal_msg(&rv, &sb);
	assert_int_equal(bc_exround_reveal(r, B, &rv), BC_ERR_STATE);
	assert_int_equal(bc_exround_release_msg(r, &out, &len), BC_ERR_STATE);
	bc_exround_free(r);
}

static void test_bad_reveal(void **state)
{
	bc_exround *r = new_round();
	struct side sa, sb, other;
	bc_exchange_commit cm;
	bc_exchange_reveal rv;
	(void)state;

	side_init(&sa, A, TA);
	side_init(&sb, B, TB);
	commit_msg(&cm, &sa);
	assert_int_equal(bc_exround_commit(r, A, &cm), BC_OK);
	commit_msg(&cm, &sb);
	assert_int_equal(bc_exround_commit(r, B, &cm), BC_OK);
	/* changed text */
	reveal_msg(&rv, &sa);
	rv.text = (const uint8_t *)"release 2 detainees";
	assert_int_equal(bc_exround_reveal(r, A, &rv), BC_ERR_AUTH);
	/* B's opening sent by A */
	reveal_msg(&rv, &sb);
	assert_int_equal(bc_exround_reveal(r, A, &rv), BC_ERR_AUTH);
	/* a valid opening for another round */
	assert_int_equal(bc_exchange_commit_new(other.key, other.c, CH,
						ROUND + 1, A,
						(const uint8_t *)TA,
						strlen(TA)), BC_OK);
	memcpy(rv.key, other.key, 32);
	rv.text = (const uint8_t *)TA;
	rv.text_len = strlen(TA);
	assert_int_equal(bc_exround_reveal(r, A, &rv), BC_ERR_AUTH);
	/* the right one is still accepted */
	reveal_msg(&rv, &sa);
	assert_int_equal(bc_exround_reveal(r, A, &rv), BC_OK);
	assert_int_equal(bc_exround_reveal(r, M, &rv), BC_ERR_FORBIDDEN);
	bc_exround_free(r);
}

/* A commitment made for another author (B copies A's) cannot be opened
 * by its copier. */
static void test_copied_commitment(void **state)
{
	bc_exround *r = new_round();
	struct side sa;
	bc_exchange_commit cm;
	bc_exchange_reveal rv;
	(void)state;

	side_init(&sa, A, TA);
	commit_msg(&cm, &sa);
	assert_int_equal(bc_exround_commit(r, A, &cm), BC_OK);
	assert_int_equal(bc_exround_commit(r, B, &cm), BC_OK);
	reveal_msg(&rv, &sa);
	assert_int_equal(bc_exround_reveal(r, B, &rv), BC_ERR_AUTH);
	assert_int_equal(bc_exround_reveal(r, A, &rv), BC_OK);
	bc_exround_free(r);
}

static void test_mediator_tampering(void **state)
{
	struct side sa, sb;
	bc_exchange_allc allc, allc2;
	bc_exchange_release rel, bad;
	uint8_t *ab = NULL, *rb;
	size_t rlen = 0;
	uint8_t tmp[32];
	const uint8_t *tp;
	size_t tl;
	(void)state;

	rb = run_round(&sa, &sb, &allc, &ab, &rlen);
	assert_int_equal(bc_exchange_release_decode(&rel, rb, rlen), BC_OK);
	assert_int_equal(bc_exchange_check_release(&allc, &rel), BC_OK);

	/* altered text */
	bad = rel;
	bad.text[1] = (const uint8_t *)"release 0 detainees";
	bad.text_len[1] = strlen("release 0 detainees");
	assert_int_equal(bc_exchange_check_release(&allc, &bad), BC_ERR_AUTH);
	/* swapped reveals (keys and texts) between the two sides */
	bad = rel;
	memcpy(tmp, bad.key[0], 32);
	memcpy(bad.key[0], bad.key[1], 32);
	memcpy(bad.key[1], tmp, 32);
	tp = bad.text[0];
	tl = bad.text_len[0];
	bad.text[0] = bad.text[1];
	bad.text_len[0] = bad.text_len[1];
	bad.text[1] = tp;
	bad.text_len[1] = tl;
	assert_int_equal(bc_exchange_check_release(&allc, &bad), BC_ERR_AUTH);
	/* swapped commitments too (whole entries under the other author) */
	memcpy(tmp, bad.c[0], 32);
	memcpy(bad.c[0], bad.c[1], 32);
	memcpy(bad.c[1], tmp, 32);
	assert_int_equal(bc_exchange_check_release(&allc, &bad), BC_ERR_AUTH);
	/* altered key */
	bad = rel;
	bad.key[0][5] ^= 0x10;
	assert_int_equal(bc_exchange_check_release(&allc, &bad), BC_ERR_AUTH);
	/* a commitment in the release other than the one forwarded */
	bad = rel;
	bad.c[0][0] ^= 1;
	assert_int_equal(bc_exchange_check_release(&allc, &bad), BC_ERR_AUTH);
	/* dropped side */
	bad = rel;
	bad.n = 1;
	assert_int_equal(bc_exchange_check_release(&allc, &bad), BC_ERR_AUTH);
	/* another round */
	bad = rel;
	bad.round++;
	assert_int_equal(bc_exchange_check_release(&allc, &bad), BC_ERR_AUTH);
	/* the mediator forwarded a substitute for A's commitment */
	allc2 = allc;
	allc2.c[1][31] ^= 1;
	assert_int_equal(bc_exchange_check_allc(&allc2, CH, ROUND, A, sa.c),
			 BC_ERR_AUTH);
	assert_int_equal(bc_exchange_check_allc(&allc, CH, ROUND, M, sa.c),
			 BC_ERR_AUTH);
	assert_int_equal(bc_exchange_check_allc(&allc, CH, ROUND + 1, A, sa.c),
			 BC_ERR_PROTOCOL);
	bc_free(ab);
	bc_free(rb);
}

/* ---- canonical encodings ------------------------------------------------ */

typedef int (*decode_fn)(void *m, const uint8_t *buf, size_t len);
typedef int (*encode_fn)(const void *m, uint8_t **out, size_t *len);

union anymsg {
	bc_exchange_commit a;
	bc_exchange_allc b;
	bc_exchange_reveal c;
	bc_exchange_release d;
	bc_exchange_step e;
	bc_exchange_steps f;
};

static void canonical(decode_fn dec, encode_fn enc, const uint8_t *msg,
		      size_t len)
{
	union anymsg *u = bc_malloc(sizeof *u);
	uint8_t *x, *re = NULL;
	size_t relen = 0;

	assert_non_null(u);
	assert_int_equal(dec(u, msg, len), BC_OK);
	assert_int_equal(enc(u, &re, &relen), BC_OK);
	assert_int_equal(relen, len);
	assert_memory_equal(re, msg, len);
	bc_free(re);
	for (size_t i = 0; i < len; i++) {
		x = bc_malloc(i ? i : 1);
		assert_non_null(x);
		memcpy(x, msg, i);
		assert_int_not_equal(dec(u, x, i), BC_OK);
		bc_free(x);
	}
	x = bc_malloc(len + 1);
	assert_non_null(x);
	memcpy(x, msg, len);
	x[len] = 0;
	assert_int_equal(dec(u, x, len + 1), BC_ERR_MALFORMED);
	x[0] = 9;
	assert_int_equal(dec(u, x, len), BC_ERR_VERSION);
	x[0] = 1;
	x[1] ^= 0x07;
	assert_int_equal(dec(u, x, len), BC_ERR_MALFORMED);
	bc_free(x);
	bc_free(u);
}

#define WRAP(name, type)                                                   \
	static int dec_##name(void *m, const uint8_t *b, size_t n)          \
	{                                                                  \
		return bc_exchange_##name##_decode((type *)m, b, n);       \
	}                                                                  \
	static int enc_##name(const void *m, uint8_t **o, size_t *n)       \
	{                                                                  \
		return bc_exchange_##name##_encode((const type *)m, o, n); \
	}
WRAP(commit, bc_exchange_commit)
WRAP(allc, bc_exchange_allc)
WRAP(reveal, bc_exchange_reveal)
WRAP(release, bc_exchange_release)
WRAP(stepdone, bc_exchange_step)
WRAP(stepconf, bc_exchange_step)
WRAP(steps, bc_exchange_steps)

static void test_canonical(void **state)
{
	struct side sa, sb;
	bc_exchange_allc allc;
	bc_exchange_commit cm;
	bc_exchange_reveal rv;
	bc_exchange_step st;
	uint8_t *ab = NULL, *rb, *b = NULL;
	size_t rlen = 0, len = 0, alen = 2 + 16 + 4 + 2 + 128;
	(void)state;

	rb = run_round(&sa, &sb, &allc, &ab, &rlen);
	canonical(dec_allc, enc_allc, ab, alen);
	canonical(dec_release, enc_release, rb, rlen);
	assert_int_equal(rlen, 2 + 16 + 4 + 2 + 2 * (96 + 4) + strlen(TA) +
				       strlen(TB));
	/* unsorted all-committed list: swap the two entries */
	{
		uint8_t e[64];
		memcpy(e, ab + 24, 64);
		memcpy(ab + 24, ab + 88, 64);
		memcpy(ab + 88, e, 64);
		assert_int_equal(bc_exchange_allc_decode(&allc, ab, alen),
				 BC_ERR_MALFORMED);
	}
	commit_msg(&cm, &sa);
	assert_int_equal(bc_exchange_commit_encode(&cm, &b, &len), BC_OK);
	assert_int_equal(len, 2 + 16 + 4 + 32);
	assert_int_equal(b[1], BC_EXCHANGE_K_COMMIT);
	assert_int_equal(bc_load32(b + 18), ROUND);
	canonical(dec_commit, enc_commit, b, len);
	bc_free(b);
	reveal_msg(&rv, &sa);
	assert_int_equal(bc_exchange_reveal_encode(&rv, &b, &len), BC_OK);
	assert_int_equal(len, 2 + 16 + 4 + 32 + 4 + strlen(TA));
	canonical(dec_reveal, enc_reveal, b, len);
	b[len - 1] = 0; /* NUL inside the text */
	assert_int_equal(bc_exchange_reveal_decode(&rv, b, len),
			 BC_ERR_MALFORMED);
	bc_free(b);
	memset(&st, 0, sizeof st);
	memcpy(st.channel, CH, 16);
	st.round = ROUND;
	st.step = 3;
	st.note = (const uint8_t *)"flight landed 14:05";
	st.note_len = strlen("flight landed 14:05");
	assert_int_equal(bc_exchange_stepdone_encode(&st, &b, &len), BC_OK);
	assert_int_equal(len, 2 + 16 + 4 + 4 + 4 + st.note_len);
	canonical(dec_stepdone, enc_stepdone, b, len);
	bc_free(b);
	st.note_len = 0;
	assert_int_equal(bc_exchange_stepdone_encode(&st, &b, &len), BC_OK);
	canonical(dec_stepdone, enc_stepdone, b, len);
	bc_free(b);
	assert_int_equal(bc_exchange_stepconf_encode(&st, &b, &len), BC_OK);
	assert_int_equal(len, 2 + 16 + 4 + 4);
	assert_int_equal(b[1], BC_EXCHANGE_K_STEPCONFIRMED);
	canonical(dec_stepconf, enc_stepconf, b, len);
	bc_free(b);
	bc_free(ab);
	bc_free(rb);
}

/* ---- sequenced steps ---------------------------------------------------- */

static void step_msg(bc_exchange_step *m, uint32_t i)
{
	memset(m, 0, sizeof *m);
	memcpy(m->channel, CH, 16);
	m->round = ROUND;
	m->step = i;
}

static void test_steps(void **state)
{
	bc_exseq_def d[2];
	bc_exseq *s = NULL;
	bc_exchange_step m;
	int why = -1;
	bool done = true;
	(void)state;

	memcpy(d[0].performer, A, 32); /* A releases detainees to B */
	memcpy(d[0].receiver, B, 32);
	memcpy(d[1].performer, B, 32); /* B's flight lands at A */
	memcpy(d[1].receiver, A, 32);
	assert_int_equal(bc_exseq_new(&s, CH, ROUND, d, 2), BC_OK);
	assert_int_equal(bc_exseq_current(s, &done), 0);
	assert_false(done);

	step_msg(&m, 1); /* step 1 before step 0 */
	assert_int_equal(bc_exseq_done(s, B, &m, &why), BC_ERR_STATE);
	assert_int_equal(why, BC_EXSEQ_OUT_OF_ORDER);
	step_msg(&m, 0);
	assert_int_equal(bc_exseq_confirm(s, B, &m, &why), BC_ERR_STATE);
	assert_int_equal(why, BC_EXSEQ_NOT_DONE);
	assert_int_equal(bc_exseq_done(s, B, &m, &why), BC_ERR_FORBIDDEN);
	assert_int_equal(why, BC_EXSEQ_NOT_PERFORMER);
	m.round++;
	assert_int_equal(bc_exseq_done(s, A, &m, &why), BC_ERR_PROTOCOL);
	assert_int_equal(why, BC_EXSEQ_WRONG_EXCHANGE);
	m.round--;
	assert_int_equal(bc_exseq_done(s, A, &m, &why), BC_OK);
	assert_int_equal(why, BC_EXSEQ_OK);
	assert_int_equal(bc_exseq_done(s, A, &m, &why), BC_ERR_STATE);
	assert_int_equal(why, BC_EXSEQ_ALREADY_DONE);
	/* confirmation by the wrong side: the performer, the mediator */
	assert_int_equal(bc_exseq_confirm(s, A, &m, &why), BC_ERR_FORBIDDEN);
	assert_int_equal(why, BC_EXSEQ_NOT_RECEIVER);
	assert_int_equal(bc_exseq_confirm(s, M, &m, &why), BC_ERR_FORBIDDEN);
	assert_int_equal(bc_exseq_current(s, &done), 0);
	assert_true(done);
	/* the next step is not open yet */
	step_msg(&m, 1);
	assert_int_equal(bc_exseq_done(s, B, &m, &why), BC_ERR_STATE);
	assert_int_equal(why, BC_EXSEQ_OUT_OF_ORDER);
	step_msg(&m, 0);
	assert_int_equal(bc_exseq_confirm(s, B, &m, &why), BC_OK);
	assert_int_equal(bc_exseq_current(s, &done), 1);
	assert_false(done);
	/* step 0 is closed */
	assert_int_equal(bc_exseq_confirm(s, B, &m, &why), BC_ERR_STATE);
	assert_int_equal(why, BC_EXSEQ_OUT_OF_ORDER);
	step_msg(&m, 1);
	assert_int_equal(bc_exseq_done(s, B, &m, NULL), BC_OK);
	assert_false(bc_exseq_complete(s));
	assert_int_equal(bc_exseq_confirm(s, A, &m, NULL), BC_OK);
	assert_true(bc_exseq_complete(s));
	assert_int_equal(bc_exseq_done(s, B, &m, &why), BC_ERR_STATE);
	assert_int_equal(why, BC_EXSEQ_COMPLETE);
	assert_string_equal(bc_exseq_refusal_name(BC_EXSEQ_NOT_RECEIVER),
			    "not-receiver");
	bc_exseq_free(s);
	/* a step whose performer is its receiver is refused */
	memcpy(d[1].receiver, B, 32);
	assert_int_equal(bc_exseq_new(&s, CH, ROUND, d, 2), BC_ERR_INVALID);
	assert_null(s);
	assert_int_equal(bc_exseq_new(&s, CH, ROUND, d, 0), BC_ERR_INVALID);
}

/* The mediator's list of steps (STEPS, 0x17) and bc_exchange_kind_of. */
static void test_steps_msg(void **state)
{
	static const char *T1 = "VE releases the 10 detainees";
	static const char *T2 = "US authorizes 2 flights a week";
	bc_exchange_steps *m = bc_calloc(1, sizeof *m);
	char big[BC_EXCHANGE_MAX_STEP_TEXT + 2];
	uint8_t *b = NULL, *z = NULL, k = 0;
	size_t len = 0, zlen = 0;
	(void)state;

	assert_non_null(m);
	memcpy(m->channel, CH, 16);
	m->round = ROUND;
	m->n = 2;
	memcpy(m->performer[0], B, 32);
	memcpy(m->receiver[0], A, 32);
	memcpy(m->performer[1], A, 32);
	memcpy(m->receiver[1], B, 32);
	m->text[0] = (const uint8_t *)T1;
	m->text_len[0] = strlen(T1);
	m->text[1] = (const uint8_t *)T2;
	m->text_len[1] = strlen(T2);
	assert_int_equal(bc_exchange_steps_encode(m, &b, &len), BC_OK);
	assert_int_equal(len, 2 + 16 + 4 + 2 + 2 * (64 + 4) + strlen(T1) +
				      strlen(T2));
	assert_int_equal(b[1], BC_EXCHANGE_K_STEPS);
	assert_int_equal(bc_load16(b + 22), 2);
	assert_memory_equal(b + 24, B, 32);
	assert_memory_equal(b + 56, A, 32);
	canonical(dec_steps, enc_steps, b, len);
	assert_int_equal(bc_exchange_kind_of(b, len, &k), BC_OK);
	assert_int_equal(k, BC_EXCHANGE_K_STEPS);
	/* a step its performer confirms: refused both ways */
	memcpy(b + 56, B, 32);
	assert_int_equal(bc_exchange_steps_decode(m, b, len),
			 BC_ERR_MALFORMED);
	assert_int_equal(m->n, 0); /* zeroed on error */
	memcpy(b + 56, A, 32);
	assert_int_equal(bc_exchange_steps_decode(m, b, len), BC_OK);
	memcpy(m->receiver[1], A, 32);
	assert_int_equal(bc_exchange_steps_encode(m, &z, &zlen),
			 BC_ERR_INVALID);
	memcpy(m->receiver[1], B, 32);
	/* 1..64 steps, texts 1..512 bytes of UTF-8 */
	m->n = 0;
	assert_int_equal(bc_exchange_steps_encode(m, &z, &zlen),
			 BC_ERR_INVALID);
	m->n = BC_EXCHANGE_MAX_STEPS + 1;
	assert_int_equal(bc_exchange_steps_encode(m, &z, &zlen),
			 BC_ERR_INVALID);
	m->n = 1;
	memset(big, 'x', sizeof big);
	big[sizeof big - 1] = '\0';
	m->text[0] = (const uint8_t *)big;
	m->text_len[0] = BC_EXCHANGE_MAX_STEP_TEXT + 1;
	assert_int_equal(bc_exchange_steps_encode(m, &z, &zlen),
			 BC_ERR_TOOBIG);
	m->text_len[0] = BC_EXCHANGE_MAX_STEP_TEXT;
	assert_int_equal(bc_exchange_steps_encode(m, &z, &zlen), BC_OK);
	bc_free(z);
	m->text_len[0] = 0;
	assert_int_equal(bc_exchange_steps_encode(m, &z, &zlen),
			 BC_ERR_INVALID);
	m->text[0] = (const uint8_t *)"\xff\xfe";
	m->text_len[0] = 2;
	assert_int_equal(bc_exchange_steps_encode(m, &z, &zlen),
			 BC_ERR_INVALID);
	/* an empty list does not decode */
	b[22] = 0;
	b[23] = 0;
	assert_int_equal(bc_exchange_steps_decode(m, b, 24),
			 BC_ERR_MALFORMED);
	/* kind_of: version, length and known kinds */
	assert_int_equal(bc_exchange_kind_of(b, 1, &k), BC_ERR_MALFORMED);
	b[1] = BC_EXCHANGE_K_COMMIT;
	assert_int_equal(bc_exchange_kind_of(b, 2, &k), BC_OK);
	assert_int_equal(k, BC_EXCHANGE_K_COMMIT);
	b[1] = 0x10;
	assert_int_equal(bc_exchange_kind_of(b, 2, &k), BC_ERR_MALFORMED);
	b[1] = 0x18;
	assert_int_equal(bc_exchange_kind_of(b, 2, &k), BC_ERR_MALFORMED);
	b[0] = 2;
	b[1] = BC_EXCHANGE_K_STEPS;
	assert_int_equal(bc_exchange_kind_of(b, 2, &k), BC_ERR_VERSION);
	bc_free(b);
	bc_free(m);
}

static void test_round_new_invalid(void **state)
{
	uint8_t sides[3][32];
	bc_exround *r = NULL;
	(void)state;

	memcpy(sides[0], A, 32);
	memcpy(sides[1], B, 32);
	memcpy(sides[2], A, 32);
	assert_int_equal(bc_exround_new(&r, CH, 1, (const uint8_t(*)[32])sides,
					3), BC_ERR_INVALID);
	assert_null(r);
	assert_int_equal(bc_exround_new(&r, CH, 1, (const uint8_t(*)[32])sides,
					1), BC_ERR_INVALID);
	assert_int_equal(bc_exround_new(&r, CH, 1, (const uint8_t(*)[32])sides,
					17), BC_ERR_INVALID);
	bc_exround_free(NULL);
	bc_exseq_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commitment_vector),
		cmocka_unit_test(test_binding),
		cmocka_unit_test(test_happy_path),
		cmocka_unit_test(test_reveal_before_all_committed),
		cmocka_unit_test(test_bad_reveal),
		cmocka_unit_test(test_copied_commitment),
		cmocka_unit_test(test_mediator_tampering),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_steps_msg),
		cmocka_unit_test(test_round_new_invalid),
	};
	if (sodium_init() < 0)
		return 1;
	setup_ids();
	return cmocka_run_group_tests_name("exchange", tests, NULL, NULL);
}
