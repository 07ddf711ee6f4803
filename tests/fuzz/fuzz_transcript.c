/*
 * fuzz_transcript.c - libFuzzer target for lib/transcript.c.
 *
 * Byte 0 picks a mode (mod 4); the rest is its input:
 *
 *   0  meta decoding. If the bytes decode, they re-encode to exactly the
 *      same bytes (canonical), the meta is valid and has a link hash.
 *   1  checkpoint decoding, likewise canonical; a decoded checkpoint is
 *      also checked against a small fixed transcript (which must not
 *      crash, must report at most its bound, and must change nothing but
 *      "known" seqs).
 *   2  state deserialisation, canonical (serialize(deserialize(x)) == x);
 *      a decoded state must then accept, for each chain it holds, the
 *      message that extends its head (the state is internally
 *      consistent).
 *   3  a driver: members M0..M3 (M0 and M1 are the receivers watched),
 *      four audiences (one without M0), honest senders using
 *      bc_transcript_next, and a relay that delivers any sent message to
 *      M0 or M1 in any order, any number of times. Ops (one byte each,
 *      low 3 bits; operands follow):
 *        0 s a      sender s sends to audience a (if s is in it)
 *        1 i        deliver pool[i] to M0         2 i   ... to M1
 *        3 i f      a forged variant of pool[i]: field f changed (the
 *                   sender misbehaves: content, msg_id, prev, timestamp,
 *                   seq or audience) - the run is "tainted" from then on
 *        4 a        checkpoints for audience a, M1 -> M0 and M0 -> M1
 *        5          M0 is serialised and restored (must round-trip)
 *        6 k i      deliver pool[i] to M0 with the k-th allocation failing
 *        7 a i      M0 checks a checkpoint of M1 whose chain i was dropped
 *      Invariants checked on every step (a violation traps):
 *        - receive returns BC_OK with >= 1 report, BC_ERR_QUOTA, or (with
 *          an injected failure) BC_ERR_NOMEM; on an error the serialised
 *          state is unchanged;
 *        - a (sender, audience, seq) is delivered (OK/REORDER/RELEASED) at
 *          most once, in seq order, and only for a seq the sender wrote;
 *        - held, chain and missing-range counts stay within the caps;
 *        - an untainted run never reports FORK or EQUIVOCATION, neither
 *          on receipt nor at a checkpoint; and at the end, delivering
 *          every sent message in order makes each chain's head equal to
 *          its sender's.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                           \
	do {                               \
		if (!(c))                  \
			__builtin_trap();  \
	} while (0)

#define NMEMBERS 4
#define NAUD 4
#define POOL 128
#define MAX_OPS 400

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t take(struct in *in)
{
	uint8_t v;

	if (in->n == 0)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

static uint8_t ids[NMEMBERS][BC_TX_ID_LEN];
static bc_tx_audience auds[NAUD];

static void setup(void)
{
	static bool done;
	static const uint8_t members[NAUD][NMEMBERS] = {
		{ 1, 1, 0, 0 }, { 1, 1, 1, 0 }, { 1, 1, 1, 1 }, { 0, 1, 1, 0 },
	};

	if (done)
		return;
	for (unsigned i = 0; i < NMEMBERS; i++)
		memset(ids[i], 0x31 + (int)i * 0x22, BC_TX_ID_LEN);
	for (unsigned a = 0; a < NAUD; a++) {
		uint8_t sel[NMEMBERS][BC_TX_ID_LEN];
		size_t n = 0;
		for (unsigned i = 0; i < NMEMBERS; i++)
			if (members[a][i])
				memcpy(sel[n++], ids[i], BC_TX_ID_LEN);
		CHECK(bc_transcript_audience_set(&auds[a], (const uint8_t(*)[BC_TX_ID_LEN])sel, n) ==
		      BC_OK);
	}
	done = true;
}

/* ---- modes 0-2: decoders --------------------------------------------------------- */

static void fuzz_meta(const uint8_t *p, size_t n)
{
	uint8_t enc[BC_TX_META_MAX], h[BC_TX_HASH_LEN];
	bc_tx_meta m;
	size_t len;

	if (bc_transcript_meta_decode(p, n, &m) != BC_OK)
		return;
	CHECK(bc_transcript_meta_check(&m) == BC_OK);
	CHECK(bc_transcript_meta_encode(&m, enc, &len) == BC_OK);
	CHECK(len == n && memcmp(enc, p, n) == 0);
	CHECK(bc_transcript_link(&m, h) == BC_OK);
}

/* A small transcript of M0 that has seen a little of everything. */
static bc_transcript *fixture(void)
{
	bc_transcript *s = NULL, *t = NULL;
	uint8_t mid[BC_TX_MSGID_LEN] = { 0 }, ch[BC_TX_HASH_LEN] = { 0 };
	const bc_tx_report *r;
	size_t nr;
	bc_tx_meta m;

	CHECK(bc_transcript_new(ids[0], &t) == BC_OK);
	CHECK(bc_transcript_new(ids[1], &s) == BC_OK);
	for (unsigned i = 0; i < 6; i++) {
		mid[0] = (uint8_t)i;
		ch[0] = (uint8_t)i;
		CHECK(bc_transcript_next(s, &auds[i % 3], mid, ch, i, &m) == BC_OK);
		if (i != 3)
			CHECK(bc_transcript_receive(t, &m, &r, &nr) == BC_OK);
		mid[1] = 1;
		CHECK(bc_transcript_next(t, &auds[i % 3], mid, ch, i, &m) == BC_OK);
		mid[1] = 0;
	}
	bc_transcript_free(s);
	return t;
}

static void fuzz_checkpoint(const uint8_t *p, size_t n)
{
	bc_tx_checkpoint cp;
	bc_transcript *t;
	const bc_tx_report *r;
	uint8_t *enc = NULL, *before = NULL, *after = NULL;
	size_t len, blen, alen, nr;
	int rc;

	if (bc_transcript_checkpoint_decode(p, n, &cp) != BC_OK) {
		CHECK(cp.chains == NULL && cp.nchains == 0);
		return;
	}
	CHECK(bc_transcript_checkpoint_encode(&cp, &enc, &len) == BC_OK);
	CHECK(len == n && memcmp(enc, p, n) == 0);
	bc_free(enc);

	t = fixture();
	CHECK(bc_transcript_serialize(t, &before, &blen) == BC_OK);
	rc = bc_transcript_check(t, cp.author, &cp, &r, &nr);
	CHECK(rc == BC_OK || rc == BC_ERR_NOMEM);
	if (rc == BC_OK) {
		CHECK(nr <= (size_t)cp.nchains * (BC_TX_CP_RECENT + 3) + BC_TX_MAX_CHAINS + 1);
		for (size_t i = 0; i < nr; i++)
			CHECK(r[i].from_checkpoint && (unsigned)r[i].kind < BC_TX_EVENT_COUNT);
	}
	/* only "known" may have moved: chain count and delivered seqs not */
	CHECK(bc_transcript_serialize(t, &after, &alen) == BC_OK);
	CHECK(alen == blen);
	bc_free(before);
	bc_free(after);
	/* another author than the authenticated one is refused */
	if (cp.author[0] != 0xff) {
		uint8_t other[BC_TX_ID_LEN];
		memset(other, 0xff, sizeof(other));
		CHECK(bc_transcript_check(t, other, &cp, &r, &nr) == BC_ERR_AUTH);
	}
	bc_transcript_free(t);
	bc_transcript_checkpoint_clear(&cp);
}

static void fuzz_state(const uint8_t *p, size_t n)
{
	bc_transcript *t = NULL;
	uint8_t *out = NULL;
	size_t len, count = 0, nchains;
	bc_tx_chain_info info[8];

	if (bc_transcript_deserialize(p, n, &t) != BC_OK) {
		CHECK(t == NULL);
		return;
	}
	CHECK(bc_transcript_serialize(t, &out, &len) == BC_OK);
	CHECK(len == n && memcmp(out, p, n) == 0);
	bc_free(out);
	CHECK(bc_transcript_held_count(t) <= BC_TX_MAX_HELD);
	CHECK(bc_transcript_missing(t, NULL, 0, &count) == BC_OK);
	CHECK(count <= BC_TX_MAX_HELD + BC_TX_MAX_CHAINS);
	nchains = bc_transcript_chain_count(t);
	CHECK(nchains <= BC_TX_MAX_CHAINS);
	if (nchains > 8)
		nchains = 8;
	for (size_t i = 0; i < nchains; i++)
		CHECK(bc_transcript_chain_info(t, i, &info[i]) == BC_OK);
	/* the message that extends a chain's head is delivered */
	for (size_t i = 0; i < nchains; i++) {
		const bc_tx_report *r;
		bc_tx_meta m;
		size_t nr;
		bool delivered = false;

		if (info[i].last >= BC_TX_SEQ_MAX ||
		    memcmp(info[i].sender, bc_transcript_self(t), BC_TX_ID_LEN) == 0)
			continue;
		memset(&m, 0, sizeof(m));
		memset(m.msg_id, 0xfe, sizeof(m.msg_id));
		memcpy(m.sender, info[i].sender, BC_TX_ID_LEN);
		m.audience = info[i].audience;
		m.seq = info[i].last + 1;
		memcpy(m.prev, info[i].head, BC_TX_HASH_LEN);
		CHECK(bc_transcript_receive(t, &m, &r, &nr) == BC_OK);
		for (size_t k = 0; k < nr; k++)
			if (r[k].seq == m.seq && bc_tx_delivers(r[k].kind))
				delivered = true;
		CHECK(delivered);
	}
	bc_transcript_free(t);
}

/* ---- mode 3: the driver ------------------------------------------------------------- */

struct sent {
	bc_tx_meta m;
	bool forged;
};

struct world {
	bc_transcript *senders[NMEMBERS]; /* each member's own transcript */
	bc_transcript *rx[2];             /* M0, M1 as receivers (== senders[0..1]) */
	struct sent pool[POOL];
	size_t npool;
	unsigned next_id;
	bool tainted;
	/* delivered seqs: per receiver, per (sender, audience) */
	uint64_t last[2][NMEMBERS][NAUD];
};

static int member_index(const uint8_t id[BC_TX_ID_LEN])
{
	for (int i = 0; i < NMEMBERS; i++)
		if (memcmp(ids[i], id, BC_TX_ID_LEN) == 0)
			return i;
	return -1;
}

static int aud_index(const uint8_t aid[BC_TX_HASH_LEN])
{
	uint8_t x[BC_TX_HASH_LEN];

	for (int a = 0; a < NAUD; a++) {
		CHECK(bc_transcript_audience_id(&auds[a], x) == BC_OK);
		if (memcmp(x, aid, BC_TX_HASH_LEN) == 0)
			return a;
	}
	return -1;
}

static void snapshot(bc_transcript *t, uint8_t **buf, size_t *len)
{
	CHECK(bc_transcript_serialize(t, buf, len) == BC_OK);
	CHECK(*len <= BC_TX_STATE_MAX);
}

static void check_limits(bc_transcript *t)
{
	size_t count = 0;

	CHECK(bc_transcript_held_count(t) <= BC_TX_MAX_HELD);
	CHECK(bc_transcript_chain_count(t) <= BC_TX_MAX_CHAINS);
	CHECK(bc_transcript_missing(t, NULL, 0, &count) == BC_OK);
	CHECK(count <= BC_TX_MAX_HELD + BC_TX_MAX_CHAINS);
}

static void check_reports(struct world *w, int who, const bc_tx_report *r, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		CHECK((unsigned)r[i].kind < BC_TX_EVENT_COUNT);
		if (!w->tainted)
			CHECK(r[i].kind != BC_TX_FORK && r[i].kind != BC_TX_EQUIVOCATION);
		if (bc_tx_delivers(r[i].kind)) {
			int s = member_index(r[i].sender), a = aud_index(r[i].audience_id);
			CHECK(s >= 0 && a >= 0 && !r[i].from_checkpoint);
			/* in order, once: a second OK for one seq fails here */
			CHECK(r[i].seq == w->last[who][s][a] + 1);
			w->last[who][s][a] = r[i].seq;
		}
		if (r[i].kind == BC_TX_GAP || r[i].kind == BC_TX_PEER_GAP)
			CHECK(r[i].first <= r[i].last);
	}
}

static void deliver(struct world *w, int who, size_t i, unsigned long fail_at)
{
	bc_transcript *t = w->rx[who];
	const bc_tx_report *r = NULL;
	uint8_t *before, *after;
	size_t blen, alen, nr = 0;
	int rc;

	snapshot(t, &before, &blen);
	bc_alloc_fail_at(fail_at);
	rc = bc_transcript_receive(t, &w->pool[i].m, &r, &nr);
	bc_alloc_fail_at(0);
	if (rc == BC_OK) {
		CHECK(r != NULL && nr >= 1 && nr <= 3 + BC_TX_MAX_HELD_PER_CHAIN);
		check_reports(w, who, r, nr);
	} else {
		CHECK(rc == BC_ERR_QUOTA || (fail_at != 0 && rc == BC_ERR_NOMEM));
		CHECK(r == NULL && nr == 0);
		snapshot(t, &after, &alen);
		CHECK(alen == blen && memcmp(after, before, blen) == 0);
		bc_free(after);
	}
	bc_free(before);
	check_limits(t);
}

static void send_one(struct world *w, unsigned s, unsigned a)
{
	uint8_t mid[BC_TX_MSGID_LEN], ch[BC_TX_HASH_LEN];
	bc_tx_meta m;

	if (w->npool >= POOL || !bc_transcript_audience_has(&auds[a], ids[s]))
		return;
	memset(mid, 0, sizeof(mid));
	bc_store32(mid, ++w->next_id);
	mid[15] = (uint8_t)s;
	CHECK(bc_transcript_content_hash(mid, sizeof(mid), ch) == BC_OK);
	CHECK(bc_transcript_next(w->senders[s], &auds[a], mid, ch, w->next_id, &m) == BC_OK);
	w->pool[w->npool].m = m;
	w->pool[w->npool].forged = false;
	w->npool++;
}

static void forge(struct world *w, size_t i, uint8_t f)
{
	bc_tx_meta m;

	if (w->npool >= POOL)
		return;
	m = w->pool[i].m;
	switch (f % 6) {
	case 0:
		m.content_hash[f & 31] ^= 1;
		break;
	case 1:
		m.msg_id[f & 15] ^= 0x80;
		break;
	case 2:
		m.prev[f & 31] ^= 1;
		break;
	case 3:
		m.timestamp += 1 + f;
		break;
	case 4:
		m.seq += (f & 8) ? 1 : (uint64_t)-1;
		break;
	default:
		m.audience = auds[(f >> 4) % NAUD];
		break;
	}
	if (bc_transcript_meta_check(&m) != BC_OK)
		return;
	w->pool[w->npool].m = m;
	w->pool[w->npool].forged = true;
	w->npool++;
	w->tainted = true;
}

static void exchange(struct world *w, unsigned a, int from, int drop)
{
	bc_transcript *src = w->rx[from], *dst = w->rx[1 - from];
	bc_tx_checkpoint cp, cp2;
	const bc_tx_report *r;
	uint8_t *enc = NULL;
	size_t len, nr;
	int rc;

	if (!bc_transcript_audience_has(&auds[a], ids[0]) ||
	    !bc_transcript_audience_has(&auds[a], ids[1]))
		return;
	CHECK(bc_transcript_checkpoint(src, &auds[a], &cp) == BC_OK);
	if (drop >= 0 && cp.nchains > 0) {
		/* a checkpoint that omits a chain (its author lost it) */
		size_t k = (size_t)drop % cp.nchains;
		memmove(&cp.chains[k], &cp.chains[k + 1],
			(cp.nchains - k - 1) * sizeof(cp.chains[0]));
		cp.nchains--;
	}
	CHECK(bc_transcript_checkpoint_encode(&cp, &enc, &len) == BC_OK);
	CHECK(len <= BC_TX_CP_MAX);
	CHECK(bc_transcript_checkpoint_decode(enc, len, &cp2) == BC_OK);
	bc_free(enc);
	rc = bc_transcript_check(dst, ids[from], &cp2, &r, &nr);
	CHECK(rc == BC_OK);
	for (size_t i = 0; i < nr; i++) {
		CHECK(r[i].from_checkpoint);
		CHECK(!bc_tx_delivers(r[i].kind));
	}
	check_reports(w, 1 - from, r, nr);
	check_limits(dst);
	bc_transcript_checkpoint_clear(&cp);
	bc_transcript_checkpoint_clear(&cp2);
}

static void restore(struct world *w)
{
	bc_transcript *t = NULL;
	uint8_t *buf, *again;
	size_t len, alen;

	snapshot(w->rx[0], &buf, &len);
	CHECK(bc_transcript_deserialize(buf, len, &t) == BC_OK);
	snapshot(t, &again, &alen);
	CHECK(alen == len && memcmp(again, buf, len) == 0);
	bc_free(buf);
	bc_free(again);
	bc_transcript_free(w->rx[0]);
	w->rx[0] = w->senders[0] = t;
}

/* Untainted: deliver everything in the order it was sent; every chain of
 * M0 then ends where its sender's own chain ends. */
static void converge(struct world *w)
{
	for (size_t i = 0; i < w->npool; i++)
		deliver(w, 0, i, 0);
	CHECK(bc_transcript_held_count(w->rx[0]) == 0);
	for (size_t i = 0; i < bc_transcript_chain_count(w->rx[0]); i++) {
		bc_tx_chain_info ci, si;
		bool found = false;
		int s;
		CHECK(bc_transcript_chain_info(w->rx[0], i, &ci) == BC_OK);
		s = member_index(ci.sender);
		CHECK(s >= 0);
		for (size_t k = 0; k < bc_transcript_chain_count(w->senders[s]); k++) {
			CHECK(bc_transcript_chain_info(w->senders[s], k, &si) == BC_OK);
			if (memcmp(si.audience_id, ci.audience_id, BC_TX_HASH_LEN) == 0 &&
			    memcmp(si.sender, ci.sender, BC_TX_ID_LEN) == 0) {
				CHECK(si.last == ci.last);
				CHECK(memcmp(si.head, ci.head, BC_TX_HASH_LEN) == 0);
				found = true;
			}
		}
		CHECK(found);
	}
}

static void fuzz_driver(const uint8_t *p, size_t n)
{
	struct world *w = bc_calloc(1, sizeof(*w));
	struct in in = { p, n };

	if (w == NULL)
		return;
	for (unsigned i = 0; i < NMEMBERS; i++)
		CHECK(bc_transcript_new(ids[i], &w->senders[i]) == BC_OK);
	w->rx[0] = w->senders[0];
	w->rx[1] = w->senders[1];
	/* a member's own messages count as delivered to itself */
	for (unsigned ops = 0; in.n > 0 && ops < MAX_OPS; ops++) {
		uint8_t op = take(&in);
		switch (op & 7) {
		case 0: {
			unsigned s = (op >> 3) % NMEMBERS, a = (op >> 5) % NAUD;
			size_t before = w->npool;
			send_one(w, s, a);
			if (w->npool > before && s < 2)
				w->last[s][s][a] = w->pool[before].m.seq;
			break;
		}
		case 1:
		case 2:
			if (w->npool)
				deliver(w, (op & 7) - 1, take(&in) % w->npool, 0);
			break;
		case 3: {
			uint8_t i = take(&in), f = take(&in);
			if (w->npool)
				forge(w, i % w->npool, f);
			break;
		}
		case 4:
			exchange(w, (op >> 3) % NAUD, (op >> 5) & 1, -1);
			break;
		case 5:
			restore(w);
			break;
		case 6: {
			uint8_t k = take(&in), i = take(&in);
			if (w->npool)
				deliver(w, 0, i % w->npool, 1 + (k & 7));
			break;
		}
		default:
			exchange(w, (op >> 3) % NAUD, 1, take(&in));
			break;
		}
	}
	if (!w->tainted)
		converge(w);
	for (unsigned i = 0; i < NMEMBERS; i++)
		bc_transcript_free(w->senders[i]);
	bc_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	size_t n;

	if (size < 1)
		return 0;
	setup();
	/* an exact-size copy: ASan sees any overread */
	n = size - 1;
	copy = bc_malloc(n ? n : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 1, n);
	switch (data[0] & 3) {
	case 0:
		fuzz_meta(copy, n);
		break;
	case 1:
		fuzz_checkpoint(copy, n);
		break;
	case 2:
		fuzz_state(copy, n);
		break;
	default:
		fuzz_driver(copy, n);
		break;
	}
	bc_free(copy);
	return 0;
}
