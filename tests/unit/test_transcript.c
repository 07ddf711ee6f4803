/*
 * test_transcript.c - unit tests for lib/transcript.c: hash chains,
 * checkpoints and the integrity events.
 *
 * Three members A, B, C (ids 0xaa.., 0xbb.., 0xcc..) with the audiences
 * {A,B} and {A,B,C}; D (0xdd..) is in neither. The "relay" is the test
 * itself: it hands each reader the metas it chooses, in the order it
 * chooses, which is all a relay can do (metas are authenticated by the
 * envelope layer, which is out of scope here). A malicious sender is
 * simulated by two copies of its transcript (a fork) or by changing the
 * content hash of one reader's copy (an equivocation).
 *
 * The known-answer values of test_kat come from the independent Python
 * implementation in docs/PROTOCOL.md §15, appendix A (hashlib only).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "transcript.h"

static uint8_t A[BC_TX_ID_LEN], B[BC_TX_ID_LEN], C[BC_TX_ID_LEN], D[BC_TX_ID_LEN];
static bc_tx_audience AB, ABC;

/* ---- helpers ------------------------------------------------------------------- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t len = 0;

	assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &len, NULL), 0);
	assert_int_equal(len * 2, strlen(hex));
	return len;
}

static bc_tx_audience mkaud(const uint8_t *x, const uint8_t *y, const uint8_t *z)
{
	uint8_t ids[3][BC_TX_ID_LEN];
	bc_tx_audience a;

	memcpy(ids[0], x, BC_TX_ID_LEN);
	memcpy(ids[1], y, BC_TX_ID_LEN);
	if (z != NULL)
		memcpy(ids[2], z, BC_TX_ID_LEN);
	assert_int_equal(bc_transcript_audience_set(&a, (const uint8_t(*)[BC_TX_ID_LEN])ids,
						    z != NULL ? 3 : 2),
			 BC_OK);
	return a;
}

static void aid_of(const bc_tx_audience *a, uint8_t out[BC_TX_HASH_LEN])
{
	assert_int_equal(bc_transcript_audience_id(a, out), BC_OK);
}

static void mid_of(unsigned n, uint8_t out[BC_TX_MSGID_LEN])
{
	memset(out, 0x5a, BC_TX_MSGID_LEN);
	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
}

static bc_transcript *member(const uint8_t *id)
{
	bc_transcript *t = NULL;

	assert_int_equal(bc_transcript_new(id, &t), BC_OK);
	assert_non_null(t);
	return t;
}

/* t sends text to aud as message number n (its msg_id). */
static bc_tx_meta send_msg(bc_transcript *t, const bc_tx_audience *aud, unsigned n,
			   const char *text)
{
	uint8_t mid[BC_TX_MSGID_LEN], ch[BC_TX_HASH_LEN];
	bc_tx_meta m;

	mid_of(n, mid);
	assert_int_equal(bc_transcript_content_hash((const uint8_t *)text, strlen(text), ch), BC_OK);
	assert_int_equal(bc_transcript_next(t, aud, mid, ch, 1700000000u + n, &m), BC_OK);
	return m;
}

/* A meta built by hand (for senders that have no transcript here). */
static bc_tx_meta craft(const uint8_t *sender, const bc_tx_audience *aud, uint64_t seq,
			const uint8_t *prev, unsigned n)
{
	bc_tx_meta m;

	memset(&m, 0, sizeof(m));
	mid_of(n, m.msg_id);
	memcpy(m.sender, sender, BC_TX_ID_LEN);
	m.audience = *aud;
	m.seq = seq;
	if (prev != NULL)
		memcpy(m.prev, prev, BC_TX_HASH_LEN);
	memset(m.content_hash, (int)(n & 0xff), BC_TX_HASH_LEN);
	m.timestamp = seq;
	return m;
}

static void link_of(const bc_tx_meta *m, uint8_t out[BC_TX_HASH_LEN])
{
	assert_int_equal(bc_transcript_link(m, out), BC_OK);
}

#define KINDS(...)                                  \
	((const bc_tx_event[]){ __VA_ARGS__ }),     \
		(sizeof((const bc_tx_event[]){ __VA_ARGS__ }) / sizeof(bc_tx_event))

/* No report at all. */
#define NO_REPORTS NULL, 0

/* The reports are exactly of the kinds want, in order (printed if not). */
static void kinds_are(const bc_tx_report *r, size_t nr, const bc_tx_event *want, size_t nw)
{
	char line[256];
	bool ok = nr == nw;

	for (size_t i = 0; ok && i < nw; i++)
		ok = r[i].kind == want[i];
	if (ok)
		return;
	for (size_t i = 0; i < nr; i++) {
		(void)bc_transcript_report_format(&r[i], line, sizeof(line));
		print_message("    report %zu: %s\n", i, line);
	}
	for (size_t i = 0; i < nw; i++)
		print_message("    wanted %zu: %s\n", i, bc_transcript_event_name(want[i]));
	fail_msg("unexpected reports");
}

/* t receives m, which fills a gap and releases the next nrel held ones. */
static void recv_fill(bc_transcript *t, const bc_tx_meta *m, size_t nrel)
{
	const bc_tx_report *r = NULL;
	size_t nr = 0;

	assert_int_equal(bc_transcript_receive(t, m, &r, &nr), BC_OK);
	assert_int_equal(nr, 1 + nrel);
	assert_int_equal(r[0].kind, BC_TX_REORDER);
	assert_int_equal(r[0].seq, m->seq);
	for (size_t i = 1; i < nr; i++) {
		assert_int_equal(r[i].kind, BC_TX_RELEASED);
		assert_int_equal(r[i].seq, m->seq + i);
	}
}

/* Two metas are equal (compared encoded: the struct has padding). */
static void same_meta(const bc_tx_meta *a, const bc_tx_meta *b)
{
	uint8_t ea[BC_TX_META_MAX], eb[BC_TX_META_MAX];
	size_t la, lb;

	assert_int_equal(bc_transcript_meta_encode(a, ea, &la), BC_OK);
	assert_int_equal(bc_transcript_meta_encode(b, eb, &lb), BC_OK);
	assert_int_equal(la, lb);
	assert_memory_equal(ea, eb, la);
}

/* n linked metas of sender to aud, seqs 1..n, msg ids base.. */
static void craft_chain(const uint8_t *sender, const bc_tx_audience *aud, unsigned base,
			size_t n, bc_tx_meta *out)
{
	uint8_t l[BC_TX_HASH_LEN];

	for (size_t i = 0; i < n; i++) {
		out[i] = craft(sender, aud, i + 1, i ? l : NULL, base + (unsigned)i);
		link_of(&out[i], l);
	}
}

/* t receives m; the kinds reported must be exactly want. */
static const bc_tx_report *recv_expect(bc_transcript *t, const bc_tx_meta *m,
				       const bc_tx_event *want, size_t nw)
{
	const bc_tx_report *r = NULL;
	size_t nr = 0;

	assert_int_equal(bc_transcript_receive(t, m, &r, &nr), BC_OK);
	assert_non_null(r);
	kinds_are(r, nr, want, nw);
	return r;
}

/* from's checkpoint for aud, checked by to; the kinds must be exactly want. */
static const bc_tx_report *exchange(bc_transcript *from, bc_transcript *to,
				    const bc_tx_audience *aud, const bc_tx_event *want,
				    size_t nw)
{
	bc_tx_checkpoint cp, cp2;
	const bc_tx_report *r = NULL;
	uint8_t *enc = NULL;
	size_t len = 0, nr = 99;

	assert_int_equal(bc_transcript_checkpoint(from, aud, &cp), BC_OK);
	/* it travels encoded */
	assert_int_equal(bc_transcript_checkpoint_encode(&cp, &enc, &len), BC_OK);
	assert_true(len <= BC_TX_CP_MAX);
	assert_int_equal(bc_transcript_checkpoint_decode(enc, len, &cp2), BC_OK);
	assert_int_equal(bc_transcript_check(to, bc_transcript_self(from), &cp2, &r, &nr), BC_OK);
	kinds_are(r, nr, want, nw);
	bc_free(enc);
	bc_transcript_checkpoint_clear(&cp);
	bc_transcript_checkpoint_clear(&cp2);
	return r;
}

static void snapshot(const bc_transcript *t, uint8_t **buf, size_t *len)
{
	assert_int_equal(bc_transcript_serialize(t, buf, len), BC_OK);
	assert_true(*len <= BC_TX_STATE_MAX);
}

static void same_state(const bc_transcript *t, const uint8_t *buf, size_t len)
{
	uint8_t *now = NULL;
	size_t nlen = 0;

	snapshot(t, &now, &nlen);
	assert_int_equal(nlen, len);
	assert_memory_equal(now, buf, len);
	bc_free(now);
}

static bc_transcript *clone(const bc_transcript *t)
{
	bc_transcript *c = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	snapshot(t, &buf, &len);
	assert_int_equal(bc_transcript_deserialize(buf, len, &c), BC_OK);
	same_state(c, buf, len);
	bc_free(buf);
	return c;
}

static const bc_tx_chain_info *chain(const bc_transcript *t, const uint8_t *sender,
				     const bc_tx_audience *aud)
{
	static bc_tx_chain_info info;
	uint8_t aid[BC_TX_HASH_LEN];

	aid_of(aud, aid);
	for (size_t i = 0; i < bc_transcript_chain_count(t); i++) {
		assert_int_equal(bc_transcript_chain_info(t, i, &info), BC_OK);
		if (memcmp(info.sender, sender, BC_TX_ID_LEN) == 0 &&
		    memcmp(info.audience_id, aid, BC_TX_HASH_LEN) == 0)
			return &info;
	}
	return NULL;
}

/* ---- hashes and meta codec --------------------------------------------------------- */

static void test_kat(void **state)
{
	uint8_t want[BC_TX_META_MAX], got[BC_TX_META_MAX], h[BC_TX_HASH_LEN], w[BC_TX_HASH_LEN];
	bc_tx_meta m1, m2, d;
	size_t len, wlen;
	(void)state;

	aid_of(&AB, h);
	unhex("d668e58bc9e8045cbc84dc2d7823502ab98b4ca6884fec671d766075932c0414", w, sizeof(w));
	assert_memory_equal(h, w, 32);
	aid_of(&ABC, h);
	unhex("2295da4dd05b2a15ff5a3a03b3762170ad5cfe2683c654a8608ce6af519007ca", w, sizeof(w));
	assert_memory_equal(h, w, 32);
	assert_int_equal(bc_transcript_content_hash(NULL, 0, h), BC_OK);
	unhex("07cf1dfbcf48e81632d95841ff0c05c3f94c6c17e7791a4ec2c59bafb2c7b774", w, sizeof(w));
	assert_memory_equal(h, w, 32);
	assert_int_equal(bc_transcript_content_hash((const uint8_t *)"hello", 5, h), BC_OK);
	unhex("eb3af622183250a9fc508c7c3a49a236903bb48c3982deb88880dd5ae3de1c3e", w, sizeof(w));
	assert_memory_equal(h, w, 32);

	/* A's chain to {A,B}: "hello" then "" */
	memset(&m1, 0, sizeof(m1));
	memset(m1.msg_id, 1, 16);
	memcpy(m1.sender, A, 32);
	m1.audience = AB;
	m1.seq = 1;
	assert_int_equal(bc_transcript_content_hash((const uint8_t *)"hello", 5, m1.content_hash),
			 BC_OK);
	m1.timestamp = 1700000000;
	link_of(&m1, h);
	unhex("6544044f93f2fb7108642d4dd5e533ca9c7e376883956ddf2dc3d0356456d6f8", w, sizeof(w));
	assert_memory_equal(h, w, 32);

	m2 = m1;
	memset(m2.msg_id, 2, 16);
	m2.seq = 2;
	memcpy(m2.prev, h, 32);
	assert_int_equal(bc_transcript_content_hash(NULL, 0, m2.content_hash), BC_OK);
	m2.timestamp = 1700000060;
	link_of(&m2, h);
	unhex("7e89e592fe6e283340a05a716d187b8f986528dd662e4c8793e32dc9fecd5920", w, sizeof(w));
	assert_memory_equal(h, w, 32);

	wlen = unhex("02020202020202020202020202020202aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0002aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb00000000000000026544044f93f2"
		     "fb7108642d4dd5e533ca9c7e376883956ddf2dc3d0356456d6f807cf1dfbcf48"
		     "e81632d95841ff0c05c3f94c6c17e7791a4ec2c59bafb2c7b774000000006553"
		     "f13c",
		     want, sizeof(want));
	assert_int_equal(bc_transcript_meta_encode(&m2, got, &len), BC_OK);
	assert_int_equal(len, wlen);
	assert_memory_equal(got, want, len);
	assert_int_equal(bc_transcript_meta_decode(want, wlen, &d), BC_OK);
	same_meta(&d, &m2);

	/* a sender's first messages, produced by next(), link the same way */
	{
		bc_transcript *ta = member(A);
		bc_tx_meta n1;
		uint8_t ch[32];
		assert_int_equal(bc_transcript_content_hash((const uint8_t *)"hello", 5, ch), BC_OK);
		assert_int_equal(bc_transcript_next(ta, &AB, m1.msg_id, ch, 1700000000, &n1), BC_OK);
		same_meta(&n1, &m1);
		assert_int_equal(bc_transcript_next(ta, &AB, m2.msg_id, m2.content_hash, 1700000060,
						    &n1),
				 BC_OK);
		same_meta(&n1, &m2);
		bc_transcript_free(ta);
	}
}

static void test_labels_prefix_free(void **state)
{
	/* the three hash domains are told apart by their labels alone */
	const char *l[] = { "backchannel v1 audience", "backchannel v1 content",
			    "backchannel v1 chain" };
	(void)state;
	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < 3; j++)
			if (i != j)
				assert_true(strncmp(l[i], l[j], strlen(l[i])) != 0);
}

static void test_audience_set(void **state)
{
	uint8_t ids[17][BC_TX_ID_LEN];
	bc_tx_audience a, b;
	(void)state;

	a = mkaud(C, A, B);
	assert_int_equal(a.count, 3);
	assert_memory_equal(a.ids[0], A, 32);
	assert_memory_equal(a.ids[1], B, 32);
	assert_memory_equal(a.ids[2], C, 32);
	assert_true(bc_transcript_audience_has(&a, B));
	assert_false(bc_transcript_audience_has(&a, D));
	b = a;
	memcpy(ids[0], A, 32);
	memcpy(ids[1], A, 32);
	assert_int_equal(bc_transcript_audience_set(&b, (const uint8_t(*)[32])ids, 2),
			 BC_ERR_INVALID);
	assert_memory_equal(&b, &a, sizeof(a)); /* untouched */
	assert_int_equal(bc_transcript_audience_set(&b, (const uint8_t(*)[32])ids, 1),
			 BC_ERR_INVALID);
	for (unsigned i = 0; i < 17; i++)
		memset(ids[i], (int)(i + 1), 32);
	assert_int_equal(bc_transcript_audience_set(&b, (const uint8_t(*)[32])ids, 16), BC_OK);
	assert_int_equal(bc_transcript_audience_set(&b, (const uint8_t(*)[32])ids, 17),
			 BC_ERR_INVALID);
	/* an unsorted audience is not valid */
	b = a;
	memcpy(b.ids[0], C, 32);
	memcpy(b.ids[2], A, 32);
	assert_false(bc_transcript_audience_has(&b, A));
	assert_int_equal(bc_transcript_audience_id(&b, ids[0]), BC_ERR_INVALID);
}

static void test_meta_decode_rejects(void **state)
{
	uint8_t enc[BC_TX_META_MAX + 8], h[32];
	bc_transcript *ta = member(A);
	bc_tx_meta m, d, bad;
	size_t len;
	(void)state;

	(void)send_msg(ta, &ABC, 1, "one");
	m = send_msg(ta, &ABC, 2, "two");
	assert_int_equal(bc_transcript_meta_encode(&m, enc, &len), BC_OK);
	assert_int_equal(len, 16 + 32 + 2 + 3 * 32 + 8 + 32 + 32 + 8);
	assert_int_equal(bc_transcript_meta_decode(enc, len, &d), BC_OK);
	same_meta(&d, &m);

	/* every truncation, and a trailing byte */
	for (size_t n = 0; n < len; n++) {
		assert_int_equal(bc_transcript_meta_decode(enc, n, &d), BC_ERR_MALFORMED);
		assert_true(sodium_is_zero((const unsigned char *)&d, sizeof(d)));
	}
	enc[len] = 0;
	assert_int_equal(bc_transcript_meta_decode(enc, len + 1, &d), BC_ERR_MALFORMED);

	/* the audience count at offset 48: 17 is over the cap, 1 and 0 are
	 * below the minimum, 4 runs into the other fields */
	enc[48] = 0;
	enc[49] = 17;
	assert_int_equal(bc_transcript_meta_decode(enc, len, &d), BC_ERR_TOOBIG);
	enc[49] = 0xff;
	enc[48] = 0xff;
	assert_int_equal(bc_transcript_meta_decode(enc, len, &d), BC_ERR_TOOBIG);
	enc[48] = 0;
	enc[49] = 1;
	assert_int_equal(bc_transcript_meta_decode(enc, len, &d), BC_ERR_MALFORMED);
	enc[49] = 0;
	assert_int_equal(bc_transcript_meta_decode(enc, len, &d), BC_ERR_MALFORMED);
	enc[49] = 3;
	/* unsorted audience: swap B and C */
	memcpy(enc + 50 + 32, C, 32);
	memcpy(enc + 50 + 64, B, 32);
	assert_int_equal(bc_transcript_meta_decode(enc, len, &d), BC_ERR_MALFORMED);
	/* duplicate member */
	memcpy(enc + 50 + 64, C, 32);
	assert_int_equal(bc_transcript_meta_decode(enc, len, &d), BC_ERR_MALFORMED);
	memcpy(enc + 50 + 32, B, 32);
	assert_int_equal(bc_transcript_meta_decode(enc, len, &d), BC_OK);

	/* semantic rules, on the struct and on the wire */
	bad = m;
	memcpy(bad.sender, D, 32); /* not in its own audience */
	assert_int_equal(bc_transcript_meta_check(&bad), BC_ERR_MALFORMED);
	assert_int_equal(bc_transcript_meta_encode(&bad, enc, &len), BC_ERR_MALFORMED);
	bad = m;
	bad.seq = 0;
	assert_int_equal(bc_transcript_meta_encode(&bad, enc, &len), BC_ERR_MALFORMED);
	bad.seq = BC_TX_SEQ_MAX + 1;
	assert_int_equal(bc_transcript_meta_encode(&bad, enc, &len), BC_ERR_MALFORMED);
	bad.seq = 1; /* with a non-zero prev */
	assert_int_equal(bc_transcript_meta_encode(&bad, enc, &len), BC_ERR_MALFORMED);
	assert_int_equal(bc_transcript_link(&bad, h), BC_ERR_MALFORMED);
	bad.seq = BC_TX_SEQ_MAX;
	assert_int_equal(bc_transcript_meta_encode(&bad, enc, &len), BC_OK);
	enc[16 + 32 + 2 + 96] = 0x80; /* seq 2^63 + ... */
	assert_int_equal(bc_transcript_meta_decode(enc, len, &d), BC_ERR_MALFORMED);
	bad.seq = 1;
	memset(bad.prev, 0, 32);
	assert_int_equal(bc_transcript_meta_encode(&bad, enc, &len), BC_OK);
	enc[16 + 32 + 2 + 96 + 8 + 31] = 1; /* prev of seq 1 not zero */
	assert_int_equal(bc_transcript_meta_decode(enc, len, &d), BC_ERR_MALFORMED);

	assert_int_equal(bc_transcript_meta_decode(NULL, 1, &d), BC_ERR_INVALID);
	assert_int_equal(bc_transcript_meta_decode(NULL, 0, &d), BC_ERR_MALFORMED);
	bc_transcript_free(ta);
}

/* ---- delivery -------------------------------------------------------------------- */

static void test_in_order(void **state)
{
	bc_transcript *ta = member(A), *tb = member(B), *tc = member(C);
	bc_tx_meta ab[3], abc[2], ba;
	uint8_t lnk[32];
	const bc_tx_chain_info *ci;
	size_t nmiss = 9;
	(void)state;

	ab[0] = send_msg(ta, &AB, 1, "a1");
	abc[0] = send_msg(ta, &ABC, 2, "plenary 1");
	ab[1] = send_msg(ta, &AB, 3, "a2");
	ab[2] = send_msg(ta, &AB, 4, "a3");
	abc[1] = send_msg(ta, &ABC, 5, "plenary 2");
	assert_int_equal(ab[0].seq, 1);
	assert_int_equal(ab[2].seq, 3);
	assert_int_equal(abc[1].seq, 2);
	assert_true(sodium_is_zero(ab[0].prev, 32));
	link_of(&ab[1], lnk);
	assert_memory_equal(ab[2].prev, lnk, 32);

	for (int i = 0; i < 3; i++) {
		const bc_tx_report *r = recv_expect(tb, &ab[i], KINDS(BC_TX_OK));
		assert_int_equal(r[0].seq, ab[i].seq);
		assert_memory_equal(r[0].msg_id, ab[i].msg_id, 16);
		assert_memory_equal(r[0].sender, A, 32);
		assert_false(r[0].from_checkpoint);
	}
	for (int i = 0; i < 2; i++) {
		recv_expect(tb, &abc[i], KINDS(BC_TX_OK));
		recv_expect(tc, &abc[i], KINDS(BC_TX_OK));
	}
	ba = send_msg(tb, &AB, 1, "b1");
	recv_expect(ta, &ba, KINDS(BC_TX_OK));

	ci = chain(tb, A, &AB);
	assert_non_null(ci);
	assert_int_equal(ci->last, 3);
	assert_int_equal(ci->known, 3);
	assert_int_equal(ci->held, 0);
	link_of(&ab[2], lnk);
	assert_memory_equal(ci->head, lnk, 32);
	/* the sender's own chain has the same head */
	ci = chain(ta, A, &AB);
	assert_non_null(ci);
	assert_int_equal(ci->last, 3);
	assert_memory_equal(ci->head, lnk, 32);
	assert_int_equal(bc_transcript_chain_count(tc), 1);
	assert_int_equal(bc_transcript_missing(tb, NULL, 0, &nmiss), BC_OK);
	assert_int_equal(nmiss, 0);

	/* everyone agrees: checkpoints report nothing */
	exchange(tb, tc, &ABC, NO_REPORTS);
	exchange(tc, tb, &ABC, NO_REPORTS);
	exchange(ta, tb, &AB, NO_REPORTS);
	exchange(tb, ta, &AB, NO_REPORTS);
	bc_transcript_free(ta);
	bc_transcript_free(tb);
	bc_transcript_free(tc);
}

static void test_not_in_audience(void **state)
{
	bc_transcript *ta = member(A), *tc = member(C), *td = member(D);
	uint8_t *snap = NULL, aid[32];
	size_t len = 0;
	bc_tx_meta m;
	const bc_tx_report *r;
	(void)state;

	m = send_msg(ta, &AB, 1, "for B only");
	snapshot(tc, &snap, &len);
	r = recv_expect(tc, &m, KINDS(BC_TX_BAD_AUDIENCE));
	aid_of(&AB, aid);
	assert_memory_equal(r[0].audience_id, aid, 32);
	assert_memory_equal(r[0].msg_id, m.msg_id, 16);
	same_state(tc, snap, len);
	assert_int_equal(bc_transcript_chain_count(tc), 0);
	/* nor can a member write to an audience it is not in */
	assert_int_equal(bc_transcript_next(td, &AB, m.msg_id, m.content_hash, 0, &m),
			 BC_ERR_INVALID);
	/* a checkpoint addressed to others */
	{
		bc_tx_checkpoint cp;
		const bc_tx_report *rr;
		size_t nr;
		assert_int_equal(bc_transcript_checkpoint(ta, &AB, &cp), BC_OK);
		assert_int_equal(bc_transcript_check(tc, A, &cp, &rr, &nr), BC_OK);
		kinds_are(rr, nr, KINDS(BC_TX_BAD_AUDIENCE));
		assert_true(rr[0].from_checkpoint);
		bc_transcript_checkpoint_clear(&cp);
	}
	same_state(tc, snap, len);
	bc_free(snap);
	bc_transcript_free(ta);
	bc_transcript_free(tc);
	bc_transcript_free(td);
}

static void test_loss(void **state)
{
	bc_transcript *ta = member(A), *tb = member(B);
	bc_tx_meta m[6];
	bc_tx_gap g[4];
	size_t n = 0;
	const bc_tx_report *r;
	(void)state;

	for (unsigned i = 1; i <= 5; i++)
		m[i] = send_msg(ta, &AB, i, "x");
	recv_expect(tb, &m[1], KINDS(BC_TX_OK));
	recv_expect(tb, &m[2], KINDS(BC_TX_OK));
	/* 3 and 4 dropped by the relay */
	r = recv_expect(tb, &m[5], KINDS(BC_TX_GAP));
	assert_int_equal(r[0].seq, 5);
	assert_int_equal(r[0].first, 3);
	assert_int_equal(r[0].last, 4);
	assert_memory_equal(r[0].msg_id, m[5].msg_id, 16);
	assert_int_equal(bc_transcript_held_count(tb), 1);
	assert_int_equal(chain(tb, A, &AB)->last, 2);

	assert_int_equal(bc_transcript_missing(tb, g, 4, &n), BC_OK);
	assert_int_equal(n, 1);
	assert_memory_equal(g[0].sender, A, 32);
	assert_int_equal(g[0].first, 3);
	assert_int_equal(g[0].last, 4);
	/* the count is reported even without room */
	assert_int_equal(bc_transcript_missing(tb, NULL, 0, &n), BC_OK);
	assert_int_equal(n, 1);

	/* 4 arrives, 3 never does: still held, the gap is now just 3 */
	r = recv_expect(tb, &m[4], KINDS(BC_TX_GAP));
	assert_int_equal(r[0].first, 3);
	assert_int_equal(r[0].last, 3);
	assert_int_equal(bc_transcript_missing(tb, g, 4, &n), BC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(g[0].first, 3);
	assert_int_equal(g[0].last, 3);
	bc_transcript_free(ta);
	bc_transcript_free(tb);
}

static void test_reorder(void **state)
{
	bc_transcript *ta = member(A), *tb = member(B);
	bc_tx_meta m[6];
	bc_tx_gap g[4];
	size_t n = 0;
	const bc_tx_report *r;
	(void)state;

	for (unsigned i = 1; i <= 5; i++)
		m[i] = send_msg(ta, &AB, i, "x");
	recv_expect(tb, &m[1], KINDS(BC_TX_OK));
	r = recv_expect(tb, &m[4], KINDS(BC_TX_GAP));
	assert_int_equal(r[0].first, 2);
	assert_int_equal(r[0].last, 3);
	recv_expect(tb, &m[5], KINDS(BC_TX_GAP));
	r = recv_expect(tb, &m[3], KINDS(BC_TX_GAP));
	assert_int_equal(r[0].first, 2);
	assert_int_equal(r[0].last, 2);
	assert_int_equal(bc_transcript_missing(tb, g, 4, &n), BC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(g[0].first, 2);
	assert_int_equal(g[0].last, 2);

	/* the late one is REORDER, then the held ones in order */
	r = recv_expect(tb, &m[2],
			KINDS(BC_TX_REORDER, BC_TX_RELEASED, BC_TX_RELEASED, BC_TX_RELEASED));
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(r[i].seq, 2 + i);
		assert_memory_equal(r[i].msg_id, m[2 + i].msg_id, 16);
		assert_true(bc_tx_delivers(r[i].kind));
	}
	assert_int_equal(bc_transcript_held_count(tb), 0);
	assert_int_equal(bc_transcript_missing(tb, NULL, 0, &n), BC_OK);
	assert_int_equal(n, 0);
	assert_memory_equal(chain(tb, A, &AB)->head, chain(ta, A, &AB)->head, 32);

	/* a gap with several holes, then a fill that releases only part */
	{
		bc_transcript *tb2 = member(B);
		recv_expect(tb2, &m[2], KINDS(BC_TX_GAP));
		recv_expect(tb2, &m[4], KINDS(BC_TX_GAP));
		assert_int_equal(bc_transcript_missing(tb2, g, 4, &n), BC_OK);
		assert_int_equal(n, 2);
		assert_int_equal(g[0].first, 1);
		assert_int_equal(g[0].last, 1);
		assert_int_equal(g[1].first, 3);
		assert_int_equal(g[1].last, 3);
		recv_expect(tb2, &m[1], KINDS(BC_TX_REORDER, BC_TX_RELEASED));
		recv_expect(tb2, &m[3], KINDS(BC_TX_REORDER, BC_TX_RELEASED));
		recv_expect(tb2, &m[5], KINDS(BC_TX_OK));
		bc_transcript_free(tb2);
	}
	bc_transcript_free(ta);
	bc_transcript_free(tb);
}

static void test_replay(void **state)
{
	bc_transcript *ta = member(A), *tb = member(B);
	uint8_t *snap = NULL;
	size_t len = 0;
	bc_tx_meta m[4];
	const bc_tx_report *r;
	(void)state;

	for (unsigned i = 1; i <= 3; i++)
		m[i] = send_msg(ta, &AB, i, "x");
	recv_expect(tb, &m[1], KINDS(BC_TX_OK));
	recv_expect(tb, &m[3], KINDS(BC_TX_GAP));
	snapshot(tb, &snap, &len);
	r = recv_expect(tb, &m[1], KINDS(BC_TX_REPLAY));
	assert_int_equal(r[0].seq, 1);
	assert_memory_equal(r[0].msg_id, m[1].msg_id, 16);
	same_state(tb, snap, len);
	/* a replay of a held message */
	recv_expect(tb, &m[3], KINDS(BC_TX_REPLAY));
	same_state(tb, snap, len);
	recv_expect(tb, &m[2], KINDS(BC_TX_REORDER, BC_TX_RELEASED));
	/* never delivered twice */
	for (unsigned i = 1; i <= 3; i++)
		recv_expect(tb, &m[i], KINDS(BC_TX_REPLAY));
	/* the sender's own message reflected back */
	recv_expect(ta, &m[2], KINDS(BC_TX_REPLAY));
	bc_free(snap);
	bc_transcript_free(ta);
	bc_transcript_free(tb);
}

/* A's state is copied, and the two copies write different seq 2 and 3:
 * B is shown one history, C the other. */
static void test_fork(void **state)
{
	bc_transcript *ta = member(A), *ta2, *tb = member(B), *tc = member(C);
	bc_tx_meta m1, x2, x3, y2, y3;
	uint8_t lx2[32], ly2[32];
	const bc_tx_report *r;
	(void)state;

	m1 = send_msg(ta, &ABC, 1, "one");
	ta2 = clone(ta);
	x2 = send_msg(ta, &ABC, 2, "two");
	x3 = send_msg(ta, &ABC, 3, "three");
	y2 = send_msg(ta2, &ABC, 12, "TWO");
	y3 = send_msg(ta2, &ABC, 13, "THREE");
	link_of(&x2, lx2);
	link_of(&y2, ly2);

	recv_expect(tb, &m1, KINDS(BC_TX_OK));
	recv_expect(tc, &m1, KINDS(BC_TX_OK));
	recv_expect(tb, &x2, KINDS(BC_TX_OK));
	recv_expect(tb, &x3, KINDS(BC_TX_OK));
	recv_expect(tc, &y2, KINDS(BC_TX_OK));
	recv_expect(tc, &y3, KINDS(BC_TX_OK));

	/* at receive time, when one member sees both */
	r = recv_expect(tb, &y2, KINDS(BC_TX_FORK));
	assert_int_equal(r[0].seq, 2);
	assert_memory_equal(r[0].msg_id, x2.msg_id, 16);
	assert_memory_equal(r[0].other_msg_id, y2.msg_id, 16);
	assert_memory_equal(r[0].local_hash, lx2, 32);
	assert_memory_equal(r[0].other_hash, ly2, 32);
	/* a later message of the other branch: its prev is the other link */
	{
		bc_transcript *tb2 = member(B);
		bc_tx_meta y4 = send_msg(ta2, &ABC, 14, "FOUR");
		recv_expect(tb2, &m1, KINDS(BC_TX_OK));
		recv_expect(tb2, &x2, KINDS(BC_TX_OK));
		recv_expect(tb2, &y3, KINDS(BC_TX_FORK));
		recv_expect(tb2, &y4, KINDS(BC_TX_GAP));
		recv_expect(tb2, &x3, KINDS(BC_TX_REORDER, BC_TX_FORK));
		assert_int_equal(bc_transcript_held_count(tb2), 0);
		bc_transcript_free(tb2);
	}

	/* at checkpoint comparison between B and C: both directions */
	r = exchange(tb, tc, &ABC, KINDS(BC_TX_FORK));
	assert_int_equal(r[0].seq, 2);
	assert_memory_equal(r[0].sender, A, 32);
	assert_memory_equal(r[0].peer, B, 32);
	assert_memory_equal(r[0].local_hash, ly2, 32);
	assert_memory_equal(r[0].other_hash, lx2, 32);
	assert_memory_equal(r[0].msg_id, y2.msg_id, 16);
	assert_memory_equal(r[0].other_msg_id, x2.msg_id, 16);
	assert_true(r[0].from_checkpoint);
	r = exchange(tc, tb, &ABC, KINDS(BC_TX_FORK));
	assert_int_equal(r[0].seq, 2);
	assert_memory_equal(r[0].local_hash, lx2, 32);
	assert_memory_equal(r[0].other_hash, ly2, 32);
	/* and A itself sees that C holds messages in its name it never wrote */
	r = exchange(tc, ta, &ABC, KINDS(BC_TX_FORK));
	assert_int_equal(r[0].seq, 2);

	bc_transcript_free(ta);
	bc_transcript_free(ta2);
	bc_transcript_free(tb);
	bc_transcript_free(tc);
}

/* A sends message X with content P to B and P' to C. */
static void test_equivocation(void **state)
{
	bc_transcript *ta = member(A), *ta2, *tb = member(B), *tc = member(C);
	bc_tx_meta m1, xb, xc, next_b, next_c;
	uint8_t hp[32], hq[32];
	const bc_tx_report *r;
	(void)state;

	m1 = send_msg(ta, &ABC, 1, "opening");
	ta2 = clone(ta);
	xb = send_msg(ta, &ABC, 7, "we accept term 3");
	xc = send_msg(ta2, &ABC, 7, "we reject term 3");
	assert_memory_equal(xb.msg_id, xc.msg_id, 16);
	memcpy(hp, xb.content_hash, 32);
	memcpy(hq, xc.content_hash, 32);
	recv_expect(tb, &m1, KINDS(BC_TX_OK));
	recv_expect(tc, &m1, KINDS(BC_TX_OK));
	/* neither can know yet */
	recv_expect(tb, &xb, KINDS(BC_TX_OK));
	recv_expect(tc, &xc, KINDS(BC_TX_OK));
	/* A goes on with both histories */
	next_b = send_msg(ta, &ABC, 8, "next");
	next_c = send_msg(ta2, &ABC, 8, "next");
	recv_expect(tb, &next_b, KINDS(BC_TX_OK));
	recv_expect(tc, &next_c, KINDS(BC_TX_OK));

	/* the next checkpoint: EQUIVOCATION on both sides, with the msg_id,
	 * and no separate FORK for the links that follow from it */
	r = exchange(tb, tc, &ABC, KINDS(BC_TX_EQUIVOCATION));
	assert_int_equal(r[0].seq, 2);
	assert_memory_equal(r[0].sender, A, 32);
	assert_memory_equal(r[0].msg_id, xb.msg_id, 16);
	assert_memory_equal(r[0].other_msg_id, xb.msg_id, 16);
	assert_memory_equal(r[0].local_hash, hq, 32);
	assert_memory_equal(r[0].other_hash, hp, 32);
	assert_memory_equal(r[0].peer, B, 32);
	r = exchange(tc, tb, &ABC, KINDS(BC_TX_EQUIVOCATION));
	assert_memory_equal(r[0].msg_id, xb.msg_id, 16);
	assert_memory_equal(r[0].local_hash, hp, 32);
	assert_memory_equal(r[0].other_hash, hq, 32);

	/* a reader that gets both copies catches it on receipt */
	r = recv_expect(tb, &xc, KINDS(BC_TX_EQUIVOCATION));
	assert_int_equal(r[0].seq, 2);
	assert_memory_equal(r[0].local_hash, hp, 32);
	assert_memory_equal(r[0].other_hash, hq, 32);

	bc_transcript_free(ta);
	bc_transcript_free(ta2);
	bc_transcript_free(tb);
	bc_transcript_free(tc);
}

/* One msg_id of one sender in two chains: reported, and the second copy is
 * still delivered in its place (its chain is intact). */
static void test_equivocation_across_audiences(void **state)
{
	bc_transcript *ta = member(A), *tb = member(B);
	bc_tx_meta x1, x2;
	uint8_t aid_ab[32], aid_abc[32];
	const bc_tx_report *r;
	(void)state;

	x1 = send_msg(ta, &AB, 9, "just between us: yes");
	/* next() refuses to reuse the id: craft A's lying copy by hand */
	x2 = craft(A, &ABC, 1, NULL, 9);
	assert_int_equal(bc_transcript_next(ta, &ABC, x2.msg_id, x2.content_hash, 0, &x2),
			 BC_ERR_CONFLICT);
	x2 = craft(A, &ABC, 1, NULL, 9);
	recv_expect(tb, &x1, KINDS(BC_TX_OK));
	r = recv_expect(tb, &x2, KINDS(BC_TX_EQUIVOCATION, BC_TX_OK));
	aid_of(&AB, aid_ab);
	aid_of(&ABC, aid_abc);
	assert_memory_equal(r[0].audience_id, aid_ab, 32);
	assert_memory_equal(r[0].other_audience_id, aid_abc, 32);
	assert_memory_equal(r[0].msg_id, x1.msg_id, 16);
	assert_memory_equal(r[0].local_hash, x1.content_hash, 32);
	assert_memory_equal(r[0].other_hash, x2.content_hash, 32);
	assert_int_equal(r[1].seq, 1);

	/* the first copy is still held when the second arrives */
	{
		bc_transcript *t2 = member(B);
		bc_tx_meta h = craft(A, &AB, 3, NULL, 60), y = craft(A, &ABC, 1, NULL, 60);
		h.prev[0] = 1;
		y.content_hash[0] ^= 1;
		recv_expect(t2, &h, KINDS(BC_TX_GAP));
		r = recv_expect(t2, &y, KINDS(BC_TX_EQUIVOCATION, BC_TX_OK));
		assert_int_equal(r[0].seq, 3);
		assert_memory_equal(r[0].audience_id, aid_ab, 32);
		assert_int_equal(r[0].other_seq, 1);
		assert_memory_equal(r[0].local_hash, h.content_hash, 32);
		assert_memory_equal(r[0].other_hash, y.content_hash, 32);
		bc_transcript_free(t2);
	}
	bc_transcript_free(ta);
	bc_transcript_free(tb);
}

static void test_release_fork(void **state)
{
	bc_transcript *tb = member(B);
	bc_tx_meta m1, m2, m3, bad3, other2;
	uint8_t l1[32], l2[32], junk[32];
	const bc_tx_report *r;
	(void)state;

	m1 = craft(A, &AB, 1, NULL, 1);
	link_of(&m1, l1);
	m2 = craft(A, &AB, 2, l1, 2);
	link_of(&m2, l2);
	m3 = craft(A, &AB, 3, l2, 3);
	memset(junk, 0x77, 32);
	bad3 = craft(A, &AB, 3, junk, 33);

	recv_expect(tb, &m1, KINDS(BC_TX_OK));
	recv_expect(tb, &bad3, KINDS(BC_TX_GAP));
	/* m2 links to the chain: delivered; the held 3 does not link to it */
	r = recv_expect(tb, &m2, KINDS(BC_TX_REORDER, BC_TX_FORK));
	assert_int_equal(r[1].seq, 2);
	assert_memory_equal(r[1].local_hash, l2, 32);
	assert_memory_equal(r[1].other_hash, junk, 32);
	assert_memory_equal(r[1].other_msg_id, bad3.msg_id, 16);
	assert_int_equal(bc_transcript_held_count(tb), 0);
	recv_expect(tb, &m3, KINDS(BC_TX_OK));

	/* held neighbours that do not link are caught on arrival */
	{
		bc_transcript *t2 = member(B);
		bc_tx_meta m4 = craft(A, &AB, 4, junk, 4);
		recv_expect(t2, &m1, KINDS(BC_TX_OK));
		recv_expect(t2, &m3, KINDS(BC_TX_GAP));
		r = recv_expect(t2, &m4, KINDS(BC_TX_FORK)); /* m4.prev != link(m3) */
		assert_int_equal(r[0].seq, 3);
		recv_expect(t2, &bad3, KINDS(BC_TX_FORK)); /* same seq as held m3 */
		bc_transcript_free(t2);
		/* seq 1 missing: m2's link is checked against the held m3 */
		t2 = member(B);
		recv_expect(t2, &m3, KINDS(BC_TX_GAP));
		other2 = craft(A, &AB, 2, l1, 22);
		r = recv_expect(t2, &other2, KINDS(BC_TX_FORK));
		assert_int_equal(r[0].seq, 2);
		assert_memory_equal(r[0].local_hash, l2, 32); /* what m3 says link(2) is */
		recv_expect(t2, &m2, KINDS(BC_TX_GAP));
		recv_expect(t2, &m1, KINDS(BC_TX_REORDER, BC_TX_RELEASED, BC_TX_RELEASED));
		bc_transcript_free(t2);
	}
	bc_transcript_free(tb);
}

static void test_own_chain(void **state)
{
	bc_transcript *ta = member(A), *ta2, *tb = member(B);
	bc_tx_meta m1, m2, m3, other;
	uint8_t mid[16], ch[32];
	const bc_tx_report *r;
	(void)state;

	m1 = send_msg(ta, &AB, 1, "x");
	ta2 = clone(ta); /* A's state as it was after m1: a rolled-back A */
	m2 = send_msg(ta, &AB, 2, "y");
	m3 = send_msg(ta, &AB, 3, "z");
	/* a message in A's name beyond what this A wrote */
	recv_expect(ta2, &m3, KINDS(BC_TX_FORK));
	recv_expect(ta2, &m1, KINDS(BC_TX_REPLAY));
	/* an audience A never wrote to */
	other = craft(A, &ABC, 1, NULL, 50);
	recv_expect(ta2, &other, KINDS(BC_TX_FORK));
	/* a msg_id already used, in any audience */
	mid_of(2, mid);
	memset(ch, 0, 32);
	assert_int_equal(bc_transcript_next(ta, &AB, mid, ch, 0, &other), BC_ERR_CONFLICT);
	assert_int_equal(bc_transcript_next(ta, &ABC, mid, ch, 0, &other), BC_ERR_CONFLICT);

	/* B has A's real 1..3; the rolled-back A sees B's checkpoint */
	recv_expect(tb, &m1, KINDS(BC_TX_OK));
	recv_expect(tb, &m2, KINDS(BC_TX_OK));
	recv_expect(tb, &m3, KINDS(BC_TX_OK));
	r = exchange(tb, ta2, &AB, KINDS(BC_TX_FORK));
	assert_int_equal(r[0].seq, 2);
	assert_true(sodium_is_zero(r[0].local_hash, 32));
	assert_memory_equal(r[0].other_msg_id, m2.msg_id, 16);
	exchange(tb, ta, &AB, NO_REPORTS);
	/* and when it writes again, it forks for real: B catches it */
	other = send_msg(ta2, &AB, 20, "y'");
	assert_int_equal(other.seq, 2);
	recv_expect(tb, &other, KINDS(BC_TX_FORK));
	bc_transcript_free(ta);
	bc_transcript_free(ta2);
	bc_transcript_free(tb);
}

/* A chain at the largest seq refuses to go on. */
static void test_seq_exhaustion(void **state)
{
	bc_transcript *ta = member(A), *tx = NULL, *tb = member(B);
	uint8_t *buf = NULL, mid[16], ch[32] = { 0 };
	size_t len = 0;
	bc_tx_meta m;
	(void)state;

	for (unsigned i = 0; i < BC_TX_HISTORY; i++)
		(void)send_msg(ta, &AB, i, "x");
	snapshot(ta, &buf, &len);
	/* version, self, u16 count, sender, u16 + 2 ids: then next, known */
	{
		size_t off = 1 + 32 + 2 + 32 + 2 + 64;
		assert_int_equal(bc_load64(buf + off), BC_TX_HISTORY + 1);
		bc_store64(buf + off, BC_TX_SEQ_MAX + 1);
		bc_store64(buf + off + 8, BC_TX_SEQ_MAX);
		assert_int_equal(bc_transcript_deserialize(buf, len, &tx), BC_OK);
		mid_of(5000, mid);
		assert_int_equal(bc_transcript_next(tx, &AB, mid, ch, 0, &m), BC_ERR_STATE);
		bc_transcript_free(tx);
		tx = NULL;
		bc_store64(buf + off, BC_TX_SEQ_MAX + 2);
		assert_int_equal(bc_transcript_deserialize(buf, len, &tx), BC_ERR_MALFORMED);
		bc_store64(buf + off, BC_TX_SEQ_MAX);
		bc_store64(buf + off + 8, BC_TX_SEQ_MAX + 1);
		assert_int_equal(bc_transcript_deserialize(buf, len, &tx), BC_ERR_MALFORMED);
		bc_store64(buf + off + 8, BC_TX_SEQ_MAX - 2); /* known < next - 1 */
		assert_int_equal(bc_transcript_deserialize(buf, len, &tx), BC_ERR_MALFORMED);
		assert_null(tx);
	}
	/* the largest seq can be held */
	m = craft(A, &AB, BC_TX_SEQ_MAX, NULL, 1);
	m.prev[0] = 1;
	recv_expect(tb, &m, KINDS(BC_TX_GAP));
	assert_int_equal(chain(tb, A, &AB)->known, BC_TX_SEQ_MAX);
	bc_free(buf);
	bc_transcript_free(ta);
	bc_transcript_free(tb);
}

/* ---- checkpoints ----------------------------------------------------------------- */

static void test_checkpoint_gaps(void **state)
{
	bc_transcript *ta = member(A), *tb = member(B), *tc = member(C);
	bc_tx_meta m[6];
	bc_tx_gap g[4];
	size_t n = 0;
	const bc_tx_report *r;
	(void)state;

	for (unsigned i = 1; i <= 5; i++)
		m[i] = send_msg(ta, &ABC, i, "x");
	for (unsigned i = 1; i <= 5; i++)
		recv_expect(tb, &m[i], KINDS(BC_TX_OK));
	/* the relay drops C's copies of the last two: no later message of A
	 * reveals it, only a checkpoint does */
	for (unsigned i = 1; i <= 3; i++)
		recv_expect(tc, &m[i], KINDS(BC_TX_OK));
	r = exchange(tb, tc, &ABC, KINDS(BC_TX_GAP));
	assert_int_equal(r[0].first, 4);
	assert_int_equal(r[0].last, 5);
	assert_memory_equal(r[0].peer, B, 32);
	assert_int_equal(bc_transcript_missing(tc, g, 4, &n), BC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(g[0].first, 4);
	assert_int_equal(g[0].last, 5);
	r = exchange(tc, tb, &ABC, KINDS(BC_TX_PEER_GAP));
	assert_int_equal(r[0].first, 4);
	assert_int_equal(r[0].last, 5);
	/* delivery catches up and clears the gap */
	recv_expect(tc, &m[4], KINDS(BC_TX_OK));
	recv_expect(tc, &m[5], KINDS(BC_TX_OK));
	assert_int_equal(bc_transcript_missing(tc, NULL, 0, &n), BC_OK);
	assert_int_equal(n, 0);
	exchange(tb, tc, &ABC, NO_REPORTS);

	/* B's own chain: the checkpoint never covers its carrier, not news */
	{
		bc_tx_checkpoint cp;
		bc_tx_meta carrier;
		uint8_t *enc;
		size_t len, nr;
		assert_int_equal(bc_transcript_checkpoint(tb, &ABC, &cp), BC_OK);
		assert_int_equal(bc_transcript_checkpoint_encode(&cp, &enc, &len), BC_OK);
		carrier = send_msg(tb, &ABC, 100, "(checkpoint)");
		recv_expect(tc, &carrier, KINDS(BC_TX_OK));
		assert_int_equal(bc_transcript_check(tc, B, &cp, &r, &nr), BC_OK);
		kinds_are(r, nr, NO_REPORTS);
		bc_free(enc);
		bc_transcript_checkpoint_clear(&cp);
	}
	/* ... nor when it lists the author's chain one behind its carrier */
	{
		bc_tx_checkpoint cp;
		bc_tx_meta carrier;
		size_t nr;
		assert_int_equal(bc_transcript_checkpoint(tb, &ABC, &cp), BC_OK);
		assert_int_equal(cp.nchains, 2);
		carrier = send_msg(tb, &ABC, 101, "(checkpoint)");
		recv_expect(tc, &carrier, KINDS(BC_TX_OK));
		assert_int_equal(bc_transcript_check(tc, B, &cp, &r, &nr), BC_OK);
		kinds_are(r, nr, NO_REPORTS);
		/* while A, who has none of B's messages, learns of one */
		assert_int_equal(bc_transcript_check(ta, B, &cp, &r, &nr), BC_OK);
		kinds_are(r, nr, KINDS(BC_TX_GAP));
		bc_transcript_checkpoint_clear(&cp);
	}
	/* a chain B's checkpoint does not list at all: C's own message that
	 * the relay never gave B */
	{
		bc_tx_meta c1 = send_msg(tc, &ABC, 200, "from C");
		(void)c1;
		r = exchange(tb, tc, &ABC, KINDS(BC_TX_PEER_GAP));
		assert_memory_equal(r[0].sender, C, 32);
		assert_int_equal(r[0].first, 1);
		assert_int_equal(r[0].last, 1);
	}
	/* a chain A has nothing of: a GAP, and no chain is created */
	{
		size_t before = bc_transcript_chain_count(ta);
		r = exchange(tb, ta, &ABC, KINDS(BC_TX_GAP));
		assert_int_equal(r[0].first, 1);
		assert_int_equal(r[0].last, 2);
		assert_int_equal(bc_transcript_chain_count(ta), before);
	}
	bc_transcript_free(ta);
	bc_transcript_free(tb);
	bc_transcript_free(tc);
}

/* Only chains whose audience contains the whole checkpoint audience. */
static void test_checkpoint_privacy(void **state)
{
	bc_transcript *ta = member(A), *tb = member(B);
	bc_tx_audience ac;
	bc_tx_checkpoint cp;
	uint8_t aid[32];
	(void)state;

	bc_tx_meta m = send_msg(ta, &AB, 1, "caucus");
	recv_expect(tb, &m, KINDS(BC_TX_OK));
	m = send_msg(ta, &ABC, 2, "plenary");
	recv_expect(tb, &m, KINDS(BC_TX_OK));
	assert_int_equal(bc_transcript_checkpoint(tb, &ABC, &cp), BC_OK);
	assert_int_equal(cp.nchains, 1);
	aid_of(&ABC, aid);
	assert_int_equal(cp.chains[0].audience.count, 3);
	bc_transcript_checkpoint_clear(&cp);
	assert_int_equal(bc_transcript_checkpoint(tb, &AB, &cp), BC_OK);
	assert_int_equal(cp.nchains, 2);
	bc_transcript_checkpoint_clear(&cp);
	ac = mkaud(A, C, NULL);
	assert_int_equal(bc_transcript_checkpoint(tb, &ac, &cp), BC_ERR_INVALID);
	assert_int_equal(cp.nchains, 0);
	assert_null(cp.chains);
	bc_transcript_free(ta);
	bc_transcript_free(tb);
}

static void test_checkpoint_codec(void **state)
{
	bc_transcript *ta = member(A), *tb = member(B);
	bc_tx_checkpoint cp, d, bad;
	uint8_t *enc = NULL, *enc2 = NULL, *buf;
	size_t len = 0, len2 = 0, nr;
	const bc_tx_report *r;
	(void)state;

	for (unsigned i = 1; i <= 20; i++) {
		bc_tx_meta m = send_msg(ta, i % 2 ? &AB : &ABC, i, "x");
		recv_expect(tb, &m, KINDS(BC_TX_OK));
	}
	{
		bc_tx_meta m = send_msg(tb, &AB, 1, "b");
		recv_expect(ta, &m, KINDS(BC_TX_OK));
	}
	assert_int_equal(bc_transcript_checkpoint(tb, &AB, &cp), BC_OK);
	assert_int_equal(cp.nchains, 3);
	assert_int_equal(cp.chains[0].nrecent, BC_TX_CP_RECENT - 6); /* A's 10 in each */
	assert_int_equal(bc_transcript_checkpoint_encode(&cp, &enc, &len), BC_OK);
	assert_int_equal(bc_transcript_checkpoint_decode(enc, len, &d), BC_OK);
	assert_int_equal(bc_transcript_checkpoint_encode(&d, &enc2, &len2), BC_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(enc2, enc, len);
	bc_free(enc2);
	bc_transcript_checkpoint_clear(&d);

	/* truncations and a trailing byte */
	buf = bc_malloc(len + 1);
	assert_non_null(buf);
	memcpy(buf, enc, len);
	buf[len] = 0;
	for (size_t n = 0; n < len; n += 7) {
		assert_int_not_equal(bc_transcript_checkpoint_decode(buf, n, &d), BC_OK);
		assert_null(d.chains);
	}
	assert_int_equal(bc_transcript_checkpoint_decode(buf, len + 1, &d), BC_ERR_MALFORMED);
	/* a chain count the input cannot hold */
	buf[32 + 2 + 64] = 0;
	buf[32 + 2 + 64 + 1] = 100;
	assert_int_equal(bc_transcript_checkpoint_decode(buf, len, &d), BC_ERR_MALFORMED);
	buf[32 + 2 + 64 + 1] = 200; /* above BC_TX_MAX_CHAINS */
	assert_int_equal(bc_transcript_checkpoint_decode(buf, len, &d), BC_ERR_TOOBIG);
	bc_free(buf);

	/* the rules, on the struct */
	bad = cp;
	bad.chains = bc_malloc(cp.nchains * sizeof(*cp.chains));
	assert_non_null(bad.chains);
	memcpy(bad.chains, cp.chains, cp.nchains * sizeof(*cp.chains));
	bad.chains[0] = cp.chains[1];
	bad.chains[1] = cp.chains[0]; /* unsorted */
	assert_int_equal(bc_transcript_checkpoint_encode(&bad, &enc2, &len2), BC_ERR_MALFORMED);
	assert_int_equal(bc_transcript_check(ta, B, &bad, &r, &nr), BC_ERR_MALFORMED);
	bad.chains[1] = cp.chains[1];
	assert_int_equal(bc_transcript_check(ta, B, &bad, &r, &nr), BC_ERR_MALFORMED); /* dup */
	memcpy(bad.chains, cp.chains, cp.nchains * sizeof(*cp.chains));
	bad.chains[2].nrecent--; /* not min(seq, RECENT) */
	assert_int_equal(bc_transcript_checkpoint_encode(&bad, &enc2, &len2), BC_ERR_MALFORMED);
	bad.chains[2] = cp.chains[2];
	bad.audience = ABC; /* a chain of {A,B} in a checkpoint for {A,B,C} */
	assert_int_equal(bc_transcript_checkpoint_encode(&bad, &enc2, &len2), BC_ERR_MALFORMED);
	bad.audience = cp.audience;
	memcpy(bad.author, D, 32); /* author outside its audience */
	assert_int_equal(bc_transcript_checkpoint_encode(&bad, &enc2, &len2), BC_ERR_MALFORMED);
	memcpy(bad.author, B, 32);
	assert_int_equal(bc_transcript_checkpoint_encode(&bad, &enc2, &len2), BC_OK);
	bc_free(enc2);
	/* the author must be the authenticated sender */
	assert_int_equal(bc_transcript_check(ta, C, &bad, &r, &nr), BC_ERR_AUTH);
	assert_null(r);
	assert_int_equal(nr, 0);
	assert_int_equal(bc_transcript_check(ta, B, &bad, &r, &nr), BC_OK);
	bc_free(bad.chains);

	bc_free(enc);
	bc_transcript_checkpoint_clear(&cp);
	bc_transcript_checkpoint_clear(NULL);
	bc_transcript_free(ta);
	bc_transcript_free(tb);
}

/* ---- caps, history window, serialisation -------------------------------------------- */

static void test_cap_held(void **state)
{
	enum { N = BC_TX_MAX_HELD_PER_CHAIN + 2 };
	static bc_tx_meta m[5][N];
	bc_transcript *tb = member(B);
	uint8_t *snap = NULL, ids[5][32];
	bc_tx_audience auds[5];
	size_t len = 0, nr;
	const bc_tx_report *r;
	(void)state;

	/* one chain: seq 2 .. 65 are held, 66 is refused */
	craft_chain(A, &AB, 0, N, m[0]);
	for (unsigned i = 1; i <= BC_TX_MAX_HELD_PER_CHAIN; i++)
		recv_expect(tb, &m[0][i], KINDS(BC_TX_GAP));
	snapshot(tb, &snap, &len);
	assert_int_equal(bc_transcript_receive(tb, &m[0][N - 1], &r, &nr), BC_ERR_QUOTA);
	assert_null(r);
	assert_int_equal(nr, 0);
	same_state(tb, snap, len);
	bc_free(snap);
	/* seq 1 releases all 64 in one call */
	recv_fill(tb, &m[0][0], BC_TX_MAX_HELD_PER_CHAIN);
	assert_int_equal(bc_transcript_held_count(tb), 0);
	assert_int_equal(chain(tb, A, &AB)->last, N - 1);
	recv_expect(tb, &m[0][N - 1], KINDS(BC_TX_OK));
	bc_transcript_free(tb);

	/* in all: four chains of 64 fill BC_TX_MAX_HELD, a fifth is refused */
	tb = member(B);
	for (unsigned k = 0; k < 5; k++) {
		memset(ids[k], 0x10 + (int)k, 32);
		auds[k] = mkaud(B, ids[k], NULL);
		craft_chain(ids[k], &auds[k], 0, N, m[k]);
	}
	for (unsigned k = 0; k < 4; k++)
		for (unsigned i = 1; i <= BC_TX_MAX_HELD_PER_CHAIN; i++)
			recv_expect(tb, &m[k][i], KINDS(BC_TX_GAP));
	assert_int_equal(bc_transcript_held_count(tb), BC_TX_MAX_HELD);
	snapshot(tb, &snap, &len);
	assert_int_equal(bc_transcript_receive(tb, &m[4][1], &r, &nr), BC_ERR_QUOTA);
	same_state(tb, snap, len);
	assert_int_equal(bc_transcript_chain_count(tb), 4);
	/* in-order messages still flow; a fill frees room */
	recv_expect(tb, &m[4][0], KINDS(BC_TX_OK));
	recv_fill(tb, &m[0][0], BC_TX_MAX_HELD_PER_CHAIN);
	recv_expect(tb, &m[4][2], KINDS(BC_TX_GAP));
	bc_free(snap);
	bc_transcript_free(tb);
}

static void test_cap_chains(void **state)
{
	bc_transcript *tb = member(B);
	uint8_t *snap = NULL, id[32], mid[16] = { 0 }, ch[32] = { 0 };
	size_t len = 0, nr;
	const bc_tx_report *r;
	bc_tx_audience aud;
	bc_tx_meta m;
	(void)state;

	for (unsigned i = 0; i < BC_TX_MAX_CHAINS; i++) {
		memset(id, 0, 32);
		id[0] = 0xe0;
		id[1] = (uint8_t)i;
		aud = mkaud(B, id, NULL);
		m = craft(id, &aud, 1, NULL, i);
		recv_expect(tb, &m, KINDS(BC_TX_OK));
	}
	snapshot(tb, &snap, &len);
	id[1] = 0xff;
	id[2] = 1;
	aud = mkaud(B, id, NULL);
	m = craft(id, &aud, 1, NULL, 1);
	assert_int_equal(bc_transcript_receive(tb, &m, &r, &nr), BC_ERR_QUOTA);
	assert_int_equal(bc_transcript_next(tb, &aud, mid, ch, 0, &m), BC_ERR_QUOTA);
	same_state(tb, snap, len);
	/* existing chains go on */
	id[1] = 0;
	id[2] = 0;
	aud = mkaud(B, id, NULL);
	assert_int_equal(bc_transcript_next(tb, &aud, mid, ch, 0, &m), BC_ERR_QUOTA);
	{
		uint8_t l[32];
		bc_tx_meta m1 = craft(id, &aud, 1, NULL, 0);
		link_of(&m1, l);
		m = craft(id, &aud, 2, l, 7);
		recv_expect(tb, &m, KINDS(BC_TX_OK));
	}
	bc_free(snap);
	bc_transcript_free(tb);
}

static void test_history_window(void **state)
{
	const unsigned total = BC_TX_HISTORY + 100;
	bc_transcript *ta = member(A), *tb = member(B), *tc = member(C);
	bc_tx_meta first, m, edge_out, edge_in;
	uint8_t *snap = NULL;
	size_t len = 0;
	const bc_tx_report *r;
	(void)state;

	for (unsigned i = 1; i <= total; i++) {
		m = send_msg(ta, &ABC, i, "x");
		if (i == 1)
			first = m;
		if (i == total - BC_TX_HISTORY)
			edge_out = m;
		if (i == total - BC_TX_HISTORY + 1)
			edge_in = m;
		recv_expect(tb, &m, KINDS(BC_TX_OK));
		if (i <= 10)
			recv_expect(tc, &m, KINDS(BC_TX_OK));
	}
	/* seq 1 is forgotten by now */
	snapshot(tb, &snap, &len);
	r = recv_expect(tb, &first, KINDS(BC_TX_UNVERIFIABLE));
	assert_int_equal(r[0].seq, 1);
	same_state(tb, snap, len);
	bc_free(snap);
	/* exactly the last BC_TX_HISTORY are remembered */
	recv_expect(tb, &edge_out, KINDS(BC_TX_UNVERIFIABLE));
	recv_expect(tb, &edge_in, KINDS(BC_TX_REPLAY));
	recv_expect(tb, &m, KINDS(BC_TX_REPLAY));
	/* C is 1090 behind: B cannot compare C's seq 10; C cannot compare
	 * B's window (it starts at 1085); both see the gap */
	exchange(tc, tb, &ABC, KINDS(BC_TX_UNVERIFIABLE, BC_TX_PEER_GAP));
	r = exchange(tb, tc, &ABC, KINDS(BC_TX_UNVERIFIABLE, BC_TX_GAP));
	assert_int_equal(r[1].first, 11);
	assert_int_equal(r[1].last, total);
	/* the serialised history is capped */
	{
		uint8_t *buf;
		size_t blen;
		snapshot(tb, &buf, &blen);
		assert_true(blen < 1 + 32 + 2 + 32 + 2 + 96 + 8 + 8 + 2 +
					   (size_t)BC_TX_HISTORY * 80 + 2 + 1);
		bc_free(buf);
	}
	bc_transcript_free(ta);
	bc_transcript_free(tb);
	bc_transcript_free(tc);
}

static void test_serialize_midstream(void **state)
{
	bc_transcript *ta = member(A), *tb = member(B), *tb2 = NULL;
	uint8_t *buf = NULL, *buf2 = NULL, *bad;
	size_t len = 0, len2 = 0;
	bc_tx_meta m[7];
	(void)state;

	for (unsigned i = 1; i <= 6; i++)
		m[i] = send_msg(ta, &AB, i, "x");
	recv_expect(tb, &m[1], KINDS(BC_TX_OK));
	recv_expect(tb, &m[3], KINDS(BC_TX_GAP));
	recv_expect(tb, &m[5], KINDS(BC_TX_GAP));
	snapshot(tb, &buf, &len);
	assert_int_equal(bc_transcript_deserialize(buf, len, &tb2), BC_OK);
	same_state(tb2, buf, len);
	assert_int_equal(bc_transcript_held_count(tb2), 2);
	assert_memory_equal(bc_transcript_self(tb2), B, 32);
	/* the restored one carries on exactly like the original */
	recv_expect(tb2, &m[1], KINDS(BC_TX_REPLAY));
	recv_expect(tb2, &m[2], KINDS(BC_TX_REORDER, BC_TX_RELEASED));
	recv_expect(tb2, &m[4], KINDS(BC_TX_REORDER, BC_TX_RELEASED));
	recv_expect(tb2, &m[6], KINDS(BC_TX_OK));
	recv_expect(tb, &m[2], KINDS(BC_TX_REORDER, BC_TX_RELEASED));
	recv_expect(tb, &m[4], KINDS(BC_TX_REORDER, BC_TX_RELEASED));
	recv_expect(tb, &m[6], KINDS(BC_TX_OK));
	snapshot(tb2, &buf2, &len2);
	same_state(tb, buf2, len2);
	/* A restarted from its stored state continues its chain */
	{
		bc_transcript *ta2 = clone(ta);
		bc_tx_meta m7 = send_msg(ta2, &AB, 7, "after restart");
		assert_int_equal(m7.seq, 7);
		recv_expect(tb2, &m7, KINDS(BC_TX_OK));
		bc_transcript_free(ta2);
	}

	/* strictness: every truncation, a trailing byte, another version */
	bad = bc_malloc(len + 1);
	assert_non_null(bad);
	memcpy(bad, buf, len);
	bad[len] = 0;
	for (size_t n = 0; n < len; n++) {
		bc_transcript *x = NULL;
		assert_int_not_equal(bc_transcript_deserialize(bad, n, &x), BC_OK);
		assert_null(x);
	}
	{
		/* the first held message's seq (3; next is 2, the other held 5):
		 * version, self, count, sender, audience(2), next, known,
		 * history(1), held count */
		size_t off = 1 + 32 + 2 + 32 + 2 + 64 + 8 + 8 + 2 + 80 + 2;
		bc_transcript *x = NULL;
		assert_int_equal(bc_load64(bad + off), 3);
		bc_store64(bad + off, 2); /* == next: it would have been delivered */
		assert_int_equal(bc_transcript_deserialize(bad, len, &x), BC_ERR_MALFORMED);
		bc_store64(bad + off, 5); /* not strictly ascending */
		assert_int_equal(bc_transcript_deserialize(bad, len, &x), BC_ERR_MALFORMED);
		bc_store64(bad + off, 4); /* fine, but the link is recomputed */
		assert_int_equal(bc_transcript_deserialize(bad, len, &x), BC_OK);
		bc_transcript_free(x);
		x = NULL;
		bc_store64(bad + off, 3);
		assert_int_equal(bc_transcript_deserialize(bad, len + 1, &x), BC_ERR_MALFORMED);
		bad[0] = 2;
		assert_int_equal(bc_transcript_deserialize(bad, len, &x), BC_ERR_VERSION);
		assert_null(x);
	}
	bc_free(bad);
	bc_free(buf);
	bc_free(buf2);
	bc_transcript_free(ta);
	bc_transcript_free(tb);
	bc_transcript_free(tb2);
}

/* Every allocation failure leaves the state as it was; retrying succeeds. */
static void test_alloc_failures(void **state)
{
	bc_transcript *ta = member(A), *tb = member(B);
	bc_tx_meta m[5];
	uint8_t *snap, *buf;
	size_t len, blen, nr;
	const bc_tx_report *r;
	int failures = 0;
	(void)state;

	for (unsigned i = 1; i <= 4; i++)
		m[i] = send_msg(ta, &ABC, i, "x");
	for (unsigned step = 0; step < 4; step++) {
		const bc_tx_meta *mm = &m[(unsigned[]){ 4, 2, 3, 1 }[step]];
		for (unsigned long k = 1;; k++) {
			int rc;
			snapshot(tb, &snap, &len);
			bc_alloc_fail_at(k);
			rc = bc_transcript_receive(tb, mm, &r, &nr);
			bc_alloc_fail_at(0);
			if (rc == BC_OK) {
				bc_free(snap);
				break;
			}
			assert_int_equal(rc, BC_ERR_NOMEM);
			same_state(tb, snap, len);
			bc_free(snap);
			failures++;
		}
	}
	assert_true(failures > 0);
	assert_int_equal(chain(tb, A, &ABC)->last, 4);
	/* deserialize and check under failures */
	snapshot(tb, &buf, &blen);
	for (unsigned long k = 1;; k++) {
		bc_transcript *x = NULL;
		int rc;
		bc_alloc_fail_at(k);
		rc = bc_transcript_deserialize(buf, blen, &x);
		bc_alloc_fail_at(0);
		if (rc == BC_OK) {
			bc_transcript_free(x);
			break;
		}
		assert_int_equal(rc, BC_ERR_NOMEM);
		assert_null(x);
	}
	for (unsigned long k = 1;; k++) {
		bc_tx_checkpoint cp;
		int rc;
		bc_alloc_fail_at(k);
		rc = bc_transcript_checkpoint(ta, &ABC, &cp);
		if (rc == BC_OK)
			rc = bc_transcript_check(tb, A, &cp, &r, &nr);
		bc_alloc_fail_at(0);
		bc_transcript_checkpoint_clear(&cp);
		if (rc == BC_OK)
			break;
		assert_int_equal(rc, BC_ERR_NOMEM);
		same_state(tb, buf, blen);
	}
	bc_free(buf);

	/* decoding a checkpoint */
	{
		bc_tx_checkpoint cp, d;
		uint8_t *enc;
		size_t elen;
		assert_int_equal(bc_transcript_checkpoint(ta, &ABC, &cp), BC_OK);
		assert_int_equal(bc_transcript_checkpoint_encode(&cp, &enc, &elen), BC_OK);
		bc_alloc_fail_at(1);
		assert_int_equal(bc_transcript_checkpoint_decode(enc, elen, &d), BC_ERR_NOMEM);
		bc_alloc_fail_at(0);
		assert_null(d.chains);
		bc_free(enc);
		bc_alloc_fail_at(1);
		assert_int_equal(bc_transcript_checkpoint_encode(&cp, &enc, &elen), BC_ERR_NOMEM);
		bc_alloc_fail_at(0);
		assert_null(enc);
		bc_transcript_checkpoint_clear(&cp);
	}
	/* a checkpoint of four chains: check must grow its report array
	 * (4 * (BC_TX_CP_RECENT + 3) + 1 > the 3 + 64 a handle starts with) */
	{
		const uint8_t *who[4] = { A, B, C, D };
		uint8_t ids[4][32];
		bc_transcript *tc = member(C), *fresh;
		bc_tx_audience abcd;
		bc_tx_checkpoint cp;
		int before = failures;
		for (unsigned k = 0; k < 4; k++)
			memcpy(ids[k], who[k], 32);
		assert_int_equal(bc_transcript_audience_set(&abcd, (const uint8_t(*)[32])ids, 4), BC_OK);
		for (unsigned k = 0; k < 4; k++) {
			bc_tx_meta x = craft(who[k], &abcd, 1, NULL, 70 + k);
			recv_expect(tc, &x, KINDS(k == 2 ? BC_TX_FORK : BC_TX_OK)); /* C: own */
		}
		(void)send_msg(tc, &abcd, 90, "c");
		for (unsigned long k = 1;; k++) {
			int rc;
			fresh = member(B);
			assert_int_equal(bc_transcript_checkpoint(tc, &abcd, &cp), BC_OK);
			assert_int_equal(cp.nchains, 4);
			bc_alloc_fail_at(k);
			rc = bc_transcript_check(fresh, C, &cp, &r, &nr);
			bc_alloc_fail_at(0);
			bc_transcript_checkpoint_clear(&cp);
			if (rc == BC_OK) {
				/* B never wrote the "B" message C holds: FORK */
				kinds_are(r, nr, KINDS(BC_TX_GAP, BC_TX_FORK, BC_TX_GAP, BC_TX_GAP));
				bc_transcript_free(fresh);
				break;
			}
			assert_int_equal(rc, BC_ERR_NOMEM);
			assert_int_equal(bc_transcript_chain_count(fresh), 0);
			bc_transcript_free(fresh);
			failures++;
		}
		assert_true(failures >= before + 2); /* the aids, then the reports */
		bc_transcript_free(tc);
	}
	bc_transcript_free(ta);
	bc_transcript_free(tb);
}

static void test_report_format(void **state)
{
	bc_transcript *tb = member(B);
	bc_tx_meta m = craft(A, &AB, 3, NULL, 0x0102);
	const bc_tx_report *r;
	char line[200], tiny[8];
	size_t n;
	(void)state;

	m.prev[0] = 1;
	r = recv_expect(tb, &m, KINDS(BC_TX_GAP));
	n = bc_transcript_report_format(&r[0], line, sizeof(line));
	assert_int_equal(n, strlen(line));
	assert_non_null(strstr(line, "gap: sender aaaaaaaa audience d668e58b seq 1..2 msg 01025a5a"));
	assert_int_equal(bc_transcript_report_format(&r[0], tiny, sizeof(tiny)), n);
	assert_string_equal(tiny, "gap: se");
	assert_string_equal(bc_transcript_event_name(BC_TX_EQUIVOCATION), "equivocation");
	assert_string_equal(bc_transcript_event_name((bc_tx_event)99), "unknown");
	bc_transcript_free(tb);
}

static void test_bad_arguments(void **state)
{
	bc_transcript *t = member(A), *x = NULL;
	const bc_tx_report *r;
	bc_tx_meta m = craft(A, &AB, 1, NULL, 1);
	size_t nr;
	(void)state;

	assert_int_equal(bc_transcript_new(A, NULL), BC_ERR_INVALID);
	assert_int_equal(bc_transcript_receive(NULL, &m, &r, &nr), BC_ERR_INVALID);
	assert_int_equal(bc_transcript_receive(t, NULL, &r, &nr), BC_ERR_INVALID);
	m.seq = 0;
	assert_int_equal(bc_transcript_receive(t, &m, &r, &nr), BC_ERR_MALFORMED);
	assert_int_equal(bc_transcript_deserialize(NULL, 0, &x), BC_ERR_MALFORMED);
	assert_int_equal(bc_transcript_chain_info(t, 0, &(bc_tx_chain_info){ 0 }), BC_ERR_NOTFOUND);
	bc_transcript_free(NULL);
	bc_transcript_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kat),
		cmocka_unit_test(test_labels_prefix_free),
		cmocka_unit_test(test_audience_set),
		cmocka_unit_test(test_meta_decode_rejects),
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_not_in_audience),
		cmocka_unit_test(test_loss),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_equivocation),
		cmocka_unit_test(test_equivocation_across_audiences),
		cmocka_unit_test(test_release_fork),
		cmocka_unit_test(test_own_chain),
		cmocka_unit_test(test_seq_exhaustion),
		cmocka_unit_test(test_checkpoint_gaps),
		cmocka_unit_test(test_checkpoint_privacy),
		cmocka_unit_test(test_checkpoint_codec),
		cmocka_unit_test(test_cap_held),
		cmocka_unit_test(test_cap_chains),
		cmocka_unit_test(test_history_window),
		cmocka_unit_test(test_serialize_midstream),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_report_format),
		cmocka_unit_test(test_bad_arguments),
	};

	if (sodium_init() < 0)
		return 1;
	memset(A, 0xaa, sizeof(A));
	memset(B, 0xbb, sizeof(B));
	memset(C, 0xcc, sizeof(C));
	memset(D, 0xdd, sizeof(D));
	AB = mkaud(B, A, NULL);
	ABC = mkaud(C, A, B);
	return cmocka_run_group_tests_name("transcript", tests, NULL, NULL);
}
