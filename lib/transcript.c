/*
 * transcript.c - hash chains per (sender, audience), checkpoints and
 * integrity events (see transcript.h; docs/PROTOCOL.md §15 is the
 * specification of every byte and every rule implemented here).
 *
 * Data structures.
 *   - t->chains: an array of at most BC_TX_MAX_CHAINS chains in insertion
 *     order; chains are never removed, so an index stays valid.
 *   - A chain delivers seqs 1 .. next-1 in order. Its history is a ring of
 *     cap slots (cap a power of two, 0 < cap <= BC_TX_HISTORY, grown
 *     lazily) holding the last count = min(next-1, BC_TX_HISTORY) delivered
 *     messages; the message of seq p sits in slot (p-1) & (cap-1). The ring
 *     grows only while it has not wrapped (next-1 <= cap whenever cap <
 *     BC_TX_HISTORY), so growing keeps every slot where it was.
 *   - Held messages (arrived early) live in a per-chain array sorted by
 *     seq, each with next < seq <= known; at most BC_TX_MAX_HELD_PER_CHAIN
 *     per chain and BC_TX_MAX_HELD in all (t->nheld is the sum).
 *   - head is link(next-1) (zeros while next == 1); known >= next-1 is the
 *     highest seq known to exist (held messages, peers' checkpoints).
 *   - Chains of this member (sender == self) never hold messages.
 *
 * Atomicity. Every mutating call first validates, then reserves whatever
 * the change needs (ring and held capacity, the chain array, the report
 * array: growing them is invisible), computes every hash, and only then
 * commits with code that cannot fail. A failing call therefore leaves the
 * state exactly as it was; only the report array is reset.
 *
 * Cost. The msg_id reuse check scans the sender's remembered history: at
 * most BC_TX_MAX_CHAINS * (BC_TX_HISTORY + BC_TX_MAX_HELD_PER_CHAIN)
 * comparisons of 16 bytes for one message, a fraction of a millisecond;
 * everything else is linear in the per-chain caps.
 */
#include <stdio.h>

#include <sodium.h>

#include "codec.h"
#include "internal.h"
#include "proto.h"
#include "transcript.h"

#define ID BC_TX_ID_LEN
#define MSGID BC_TX_MSGID_LEN
#define HASH BC_TX_HASH_LEN
#define HIST BC_TX_HISTORY

_Static_assert(MSGID == BC_MSGID_LEN, "message ids are the relay's");
_Static_assert(HASH == crypto_generichash_BYTES, "BLAKE2b-256");
_Static_assert((HIST & (HIST - 1)) == 0, "history is a power of two");
_Static_assert(HIST >= BC_TX_CP_RECENT, "a checkpoint window fits the history");
_Static_assert(HIST <= UINT32_MAX / 2, "ring indices fit u32");
_Static_assert(BC_TX_MAX_CHAINS <= UINT16_MAX && HIST <= UINT16_MAX &&
		       BC_TX_MAX_HELD_PER_CHAIN <= UINT16_MAX,
	       "list counts fit u16");
_Static_assert(BC_TX_STATE_MAX <= BC_CODEC_MAX, "a state fits the codec");
_Static_assert(BC_TX_CP_MAX <= BC_CODEC_MAX, "a checkpoint fits the codec");

static const char LABEL_AUDIENCE[] = "backchannel v1 audience";
static const char LABEL_CONTENT[] = "backchannel v1 content";
static const char LABEL_CHAIN[] = "backchannel v1 chain";
#define LABEL(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

/* Reports one bc_transcript_receive can produce: an EQUIVOCATION warning,
 * the message's own report, a RELEASED per held message of its chain, and
 * one FORK for a held message that does not link. */
#define RECEIVE_REPORTS (3 + BC_TX_MAX_HELD_PER_CHAIN)
/* Smallest encodings, to refuse a count the input cannot hold before
 * allocating for it. */
#define CP_CHAIN_MIN (ID + 2 + BC_TX_AUDIENCE_MIN * ID + 8 + 2)
#define ST_CHAIN_MIN (ID + 2 + BC_TX_AUDIENCE_MIN * ID + 8 + 8 + 2 + 2)

static const uint8_t zero_hash[HASH];

struct hist {
	uint8_t msg_id[MSGID];
	uint8_t content[HASH];
	uint8_t link[HASH];
};

struct held {
	uint64_t seq;
	uint64_t ts;
	uint8_t prev[HASH];
	uint8_t msg_id[MSGID];
	uint8_t content[HASH];
	uint8_t link[HASH]; /* computed on arrival (and on deserialisation) */
};

struct chain {
	uint8_t sender[ID];
	bc_tx_audience aud;
	uint8_t aid[HASH];
	uint64_t next;  /* next seq to deliver, 1 .. BC_TX_SEQ_MAX + 1 */
	uint64_t known; /* >= next - 1 */
	uint8_t head[HASH];
	struct hist *ring;
	uint32_t cap, count;
	struct held *held;
	uint32_t nheld, capheld;
};

struct bc_transcript {
	uint8_t self[ID];
	struct chain *chains;
	uint32_t nchains, capchains;
	size_t nheld;
	bc_tx_report *rep;
	size_t nrep, caprep;
};

/* ---- audiences and hashes ------------------------------------------------------ */

static bool audience_valid(const bc_tx_audience *a)
{
	if (a->count < BC_TX_AUDIENCE_MIN || a->count > BC_TX_AUDIENCE_MAX)
		return false;
	for (unsigned i = 1; i < a->count; i++)
		if (memcmp(a->ids[i - 1], a->ids[i], ID) >= 0)
			return false;
	return true;
}

/* a must be valid (sorted). */
static bool aud_has(const bc_tx_audience *a, const uint8_t id[ID])
{
	for (unsigned i = 0; i < a->count; i++) {
		int c = memcmp(a->ids[i], id, ID);
		if (c == 0)
			return true;
		if (c > 0)
			break;
	}
	return false;
}

/* Every member of sub is in sup (both valid). */
static bool aud_subset(const bc_tx_audience *sub, const bc_tx_audience *sup)
{
	for (unsigned i = 0; i < sub->count; i++)
		if (!aud_has(sup, sub->ids[i]))
			return false;
	return true;
}

int bc_transcript_audience_set(bc_tx_audience *a, const uint8_t (*ids)[BC_TX_ID_LEN], size_t n)
{
	bc_tx_audience tmp;

	if (a == NULL || ids == NULL || n < BC_TX_AUDIENCE_MIN || n > BC_TX_AUDIENCE_MAX)
		return BC_ERR_INVALID;
	memset(&tmp, 0, sizeof(tmp));
	/* insertion sort: at most 16 ids */
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		while (j > 0 && memcmp(tmp.ids[j - 1], ids[i], ID) > 0) {
			memcpy(tmp.ids[j], tmp.ids[j - 1], ID);
			j--;
		}
		memcpy(tmp.ids[j], ids[i], ID);
	}
	tmp.count = (uint16_t)n;
	if (!audience_valid(&tmp))
		return BC_ERR_INVALID; /* a duplicate */
	*a = tmp;
	return BC_OK;
}

bool bc_transcript_audience_has(const bc_tx_audience *a, const uint8_t id[static BC_TX_ID_LEN])
{
	return a != NULL && id != NULL && audience_valid(a) && aud_has(a, id);
}

static void wr_audience(bc_wr *w, const bc_tx_audience *a)
{
	(void)bc_wr_u16(w, a->count);
	for (unsigned i = 0; i < a->count; i++)
		(void)bc_wr_raw(w, a->ids[i], ID);
}

/* A list<fixed[32]> that must form a valid audience. */
static int rd_audience(bc_rd *r, bc_tx_audience *a)
{
	uint16_t n;

	memset(a, 0, sizeof(*a));
	if (bc_rd_count(r, BC_TX_AUDIENCE_MAX, &n) != BC_OK)
		return r->err;
	for (unsigned i = 0; i < n; i++)
		if (bc_rd_raw(r, a->ids[i], ID) != BC_OK)
			return r->err;
	a->count = n;
	if (!audience_valid(a)) {
		r->err = BC_ERR_MALFORMED;
		return r->err;
	}
	return BC_OK;
}

/* a must be valid. */
static int hash_audience(const bc_tx_audience *a, uint8_t out[HASH])
{
	uint8_t buf[sizeof(LABEL_AUDIENCE) - 1 + 2 + BC_TX_AUDIENCE_MAX * ID];
	uint8_t *p;
	size_t len;
	bc_wr w;
	int rc;

	bc_wr_init_fixed(&w, buf, sizeof(buf));
	(void)bc_wr_raw(&w, LABEL(LABEL_AUDIENCE));
	wr_audience(&w, a);
	rc = bc_wr_finish(&w, &p, &len);
	if (rc != BC_OK)
		return BC_ERR_INTERNAL;
	if (crypto_generichash(out, HASH, p, len, NULL, 0) != 0) {
		memset(out, 0, HASH);
		return BC_ERR_CRYPTO;
	}
	return BC_OK;
}

static int hash_link(const uint8_t aid[HASH], const uint8_t sender[ID], uint64_t seq,
		     const uint8_t prev[HASH], const uint8_t msg_id[MSGID],
		     const uint8_t content[HASH], uint64_t ts, uint8_t out[HASH])
{
	uint8_t buf[sizeof(LABEL_CHAIN) - 1 + HASH + ID + 8 + HASH + MSGID + HASH + 8];
	uint8_t *p;
	size_t len;
	bc_wr w;
	int rc;

	bc_wr_init_fixed(&w, buf, sizeof(buf));
	(void)bc_wr_raw(&w, LABEL(LABEL_CHAIN));
	(void)bc_wr_raw(&w, aid, HASH);
	(void)bc_wr_raw(&w, sender, ID);
	(void)bc_wr_u64(&w, seq);
	(void)bc_wr_raw(&w, prev, HASH);
	(void)bc_wr_raw(&w, msg_id, MSGID);
	(void)bc_wr_raw(&w, content, HASH);
	(void)bc_wr_u64(&w, ts);
	rc = bc_wr_finish(&w, &p, &len);
	if (rc != BC_OK || len != sizeof(buf))
		return BC_ERR_INTERNAL;
	if (crypto_generichash(out, HASH, p, len, NULL, 0) != 0) {
		memset(out, 0, HASH);
		return BC_ERR_CRYPTO;
	}
	return BC_OK;
}

int bc_transcript_audience_id(const bc_tx_audience *a, uint8_t out[static BC_TX_HASH_LEN])
{
	if (a == NULL || out == NULL || !audience_valid(a))
		return BC_ERR_INVALID;
	return hash_audience(a, out);
}

int bc_transcript_content_hash(const uint8_t *pt, size_t len, uint8_t out[static BC_TX_HASH_LEN])
{
	crypto_generichash_state st;
	int rc = BC_ERR_CRYPTO;

	if (out == NULL || (pt == NULL && len != 0))
		return BC_ERR_INVALID;
	if (crypto_generichash_init(&st, NULL, 0, HASH) != 0)
		goto out;
	if (crypto_generichash_update(&st, LABEL(LABEL_CONTENT)) != 0)
		goto out;
	if (len != 0 && crypto_generichash_update(&st, pt, len) != 0)
		goto out;
	if (crypto_generichash_final(&st, out, HASH) != 0)
		goto out;
	rc = BC_OK;
out:
	if (rc != BC_OK)
		memset(out, 0, HASH);
	sodium_memzero(&st, sizeof(st)); /* it absorbed a plaintext */
	return rc;
}

static bool meta_valid(const bc_tx_meta *m)
{
	if (!audience_valid(&m->audience) || !aud_has(&m->audience, m->sender))
		return false;
	if (m->seq < 1 || m->seq > BC_TX_SEQ_MAX)
		return false;
	if (m->seq == 1 && memcmp(m->prev, zero_hash, HASH) != 0)
		return false;
	return true;
}

int bc_transcript_meta_check(const bc_tx_meta *m)
{
	if (m == NULL)
		return BC_ERR_INVALID;
	return meta_valid(m) ? BC_OK : BC_ERR_MALFORMED;
}

static int meta_link(const bc_tx_meta *m, const uint8_t aid[HASH], uint8_t out[HASH])
{
	return hash_link(aid, m->sender, m->seq, m->prev, m->msg_id, m->content_hash,
			 m->timestamp, out);
}

int bc_transcript_link(const bc_tx_meta *m, uint8_t out[static BC_TX_HASH_LEN])
{
	uint8_t aid[HASH];
	int rc;

	if (m == NULL || out == NULL)
		return BC_ERR_INVALID;
	if (!meta_valid(m))
		return BC_ERR_MALFORMED;
	rc = hash_audience(&m->audience, aid);
	if (rc != BC_OK)
		return rc;
	return meta_link(m, aid, out);
}

/* ---- meta codec ------------------------------------------------------------------ */

int bc_transcript_meta_encode(const bc_tx_meta *m, uint8_t out[static BC_TX_META_MAX],
			      size_t *outlen)
{
	uint8_t *p;
	bc_wr w;
	int rc;

	if (m == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	if (!meta_valid(m))
		return BC_ERR_MALFORMED;
	bc_wr_init_fixed(&w, out, BC_TX_META_MAX);
	(void)bc_wr_raw(&w, m->msg_id, MSGID);
	(void)bc_wr_raw(&w, m->sender, ID);
	wr_audience(&w, &m->audience);
	(void)bc_wr_u64(&w, m->seq);
	(void)bc_wr_raw(&w, m->prev, HASH);
	(void)bc_wr_raw(&w, m->content_hash, HASH);
	(void)bc_wr_u64(&w, m->timestamp);
	rc = bc_wr_finish(&w, &p, outlen);
	return rc == BC_OK ? BC_OK : BC_ERR_INTERNAL;
}

int bc_transcript_meta_decode(const uint8_t *in, size_t len, bc_tx_meta *m)
{
	bc_rd r;
	int rc;

	if (m == NULL || (in == NULL && len != 0))
		return BC_ERR_INVALID;
	memset(m, 0, sizeof(*m));
	bc_rd_init(&r, in, len);
	(void)bc_rd_raw(&r, m->msg_id, MSGID);
	(void)bc_rd_raw(&r, m->sender, ID);
	if (r.err == BC_OK)
		(void)rd_audience(&r, &m->audience);
	(void)bc_rd_u64(&r, &m->seq);
	(void)bc_rd_raw(&r, m->prev, HASH);
	(void)bc_rd_raw(&r, m->content_hash, HASH);
	(void)bc_rd_u64(&r, &m->timestamp);
	rc = bc_rd_end(&r);
	if (rc == BC_OK && !meta_valid(m))
		rc = BC_ERR_MALFORMED;
	if (rc != BC_OK)
		memset(m, 0, sizeof(*m));
	return rc;
}

/* ---- checkpoint codec -------------------------------------------------------------- */

static int cmp_chain_key(const uint8_t sa[ID], const uint8_t aa[HASH], const uint8_t sb[ID],
			 const uint8_t ab[HASH])
{
	int c = memcmp(sa, sb, ID);
	return c != 0 ? c : memcmp(aa, ab, HASH);
}

/* The rules of a checkpoint (transcript.h, bc_transcript_checkpoint_decode).
 * If aids is not NULL it receives each chain's audience_id. */
static int cp_check(const bc_tx_checkpoint *cp, uint8_t (*aids)[HASH])
{
	uint8_t prev[HASH], cur[HASH];
	int rc;

	if (!audience_valid(&cp->audience) || !aud_has(&cp->audience, cp->author))
		return BC_ERR_MALFORMED;
	if (cp->nchains > BC_TX_MAX_CHAINS)
		return BC_ERR_TOOBIG;
	if (cp->nchains != 0 && cp->chains == NULL)
		return BC_ERR_INVALID;
	for (unsigned i = 0; i < cp->nchains; i++) {
		const bc_tx_cp_chain *e = &cp->chains[i];
		uint64_t want;

		if (!audience_valid(&e->audience) || !aud_has(&e->audience, e->sender) ||
		    !aud_subset(&cp->audience, &e->audience))
			return BC_ERR_MALFORMED;
		if (e->seq > BC_TX_SEQ_MAX)
			return BC_ERR_MALFORMED;
		want = e->seq < BC_TX_CP_RECENT ? e->seq : BC_TX_CP_RECENT;
		if (e->nrecent != want)
			return BC_ERR_MALFORMED;
		rc = hash_audience(&e->audience, cur);
		if (rc != BC_OK)
			return rc;
		if (i > 0 &&
		    cmp_chain_key(cp->chains[i - 1].sender, prev, e->sender, cur) >= 0)
			return BC_ERR_MALFORMED;
		memcpy(prev, cur, HASH);
		if (aids != NULL)
			memcpy(aids[i], cur, HASH);
	}
	return BC_OK;
}

int bc_transcript_checkpoint_encode(const bc_tx_checkpoint *cp, uint8_t **out, size_t *outlen)
{
	bc_wr w;
	int rc;

	if (cp == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	rc = cp_check(cp, NULL);
	if (rc != BC_OK)
		return rc;
	bc_wr_init(&w, BC_TX_CP_MAX);
	(void)bc_wr_raw(&w, cp->author, ID);
	wr_audience(&w, &cp->audience);
	(void)bc_wr_u16(&w, cp->nchains);
	for (unsigned i = 0; i < cp->nchains; i++) {
		const bc_tx_cp_chain *e = &cp->chains[i];
		(void)bc_wr_raw(&w, e->sender, ID);
		wr_audience(&w, &e->audience);
		(void)bc_wr_u64(&w, e->seq);
		(void)bc_wr_u16(&w, e->nrecent);
		for (unsigned k = 0; k < e->nrecent; k++) {
			(void)bc_wr_raw(&w, e->recent[k].msg_id, MSGID);
			(void)bc_wr_raw(&w, e->recent[k].content_hash, HASH);
			(void)bc_wr_raw(&w, e->recent[k].link, HASH);
		}
	}
	return bc_wr_finish(&w, out, outlen);
}

void bc_transcript_checkpoint_clear(bc_tx_checkpoint *cp)
{
	if (cp == NULL)
		return;
	bc_free(cp->chains);
	memset(cp, 0, sizeof(*cp));
}

int bc_transcript_checkpoint_decode(const uint8_t *in, size_t len, bc_tx_checkpoint *cp)
{
	bc_tx_checkpoint tmp;
	uint16_t n;
	bc_rd r;
	int rc;

	if (cp == NULL || (in == NULL && len != 0))
		return BC_ERR_INVALID;
	memset(cp, 0, sizeof(*cp));
	memset(&tmp, 0, sizeof(tmp));
	bc_rd_init(&r, in, len);
	(void)bc_rd_raw(&r, tmp.author, ID);
	if (r.err == BC_OK)
		(void)rd_audience(&r, &tmp.audience);
	if (bc_rd_count(&r, BC_TX_MAX_CHAINS, &n) != BC_OK) {
		rc = r.err;
		goto out;
	}
	if (n > bc_rd_left(&r) / CP_CHAIN_MIN) {
		rc = BC_ERR_MALFORMED; /* cannot hold n chains */
		goto out;
	}
	if (n != 0) {
		tmp.chains = bc_calloc(n, sizeof(*tmp.chains));
		if (tmp.chains == NULL) {
			rc = BC_ERR_NOMEM;
			goto out;
		}
	}
	tmp.nchains = n;
	for (unsigned i = 0; i < n && r.err == BC_OK; i++) {
		bc_tx_cp_chain *e = &tmp.chains[i];
		uint16_t k;

		(void)bc_rd_raw(&r, e->sender, ID);
		if (r.err == BC_OK)
			(void)rd_audience(&r, &e->audience);
		(void)bc_rd_u64(&r, &e->seq);
		if (bc_rd_count(&r, BC_TX_CP_RECENT, &k) != BC_OK)
			break;
		e->nrecent = k;
		for (unsigned j = 0; j < k; j++) {
			(void)bc_rd_raw(&r, e->recent[j].msg_id, MSGID);
			(void)bc_rd_raw(&r, e->recent[j].content_hash, HASH);
			(void)bc_rd_raw(&r, e->recent[j].link, HASH);
		}
	}
	rc = bc_rd_end(&r);
	if (rc == BC_OK)
		rc = cp_check(&tmp, NULL);
out:
	if (rc != BC_OK) {
		bc_transcript_checkpoint_clear(&tmp);
		return rc;
	}
	*cp = tmp;
	return BC_OK;
}

/* ---- chains ------------------------------------------------------------------------ */

static void chain_init(struct chain *c, const uint8_t sender[ID], const bc_tx_audience *aud,
		       const uint8_t aid[HASH])
{
	memset(c, 0, sizeof(*c));
	memcpy(c->sender, sender, ID);
	c->aud = *aud;
	memcpy(c->aid, aid, HASH);
	c->next = 1;
}

static void chain_release(struct chain *c)
{
	bc_free(c->ring);
	bc_free(c->held);
	c->ring = NULL;
	c->held = NULL;
}

static struct chain *find_chain(const bc_transcript *t, const uint8_t sender[ID],
				const uint8_t aid[HASH])
{
	for (uint32_t i = 0; i < t->nchains; i++) {
		struct chain *c = &t->chains[i];
		if (memcmp(c->sender, sender, ID) == 0 && memcmp(c->aid, aid, HASH) == 0)
			return c;
	}
	return NULL;
}

static uint64_t chain_last(const struct chain *c)
{
	return c->next - 1;
}

/* The lowest seq still in the history (== next when it is empty). */
static uint64_t ring_low(const struct chain *c)
{
	return c->next - c->count;
}

/* The history entry of seq p; ring_low(c) <= p < c->next. */
static struct hist *ring_at(const struct chain *c, uint64_t p)
{
	return &c->ring[(p - 1) & (uint64_t)(c->cap - 1)];
}

/* Make room for k more deliveries without reallocating during the commit. */
static int ring_reserve(struct chain *c, uint64_t k)
{
	uint64_t want = chain_last(c) + k;
	uint32_t ncap;
	struct hist *nr;

	if (want > HIST)
		want = HIST;
	if (c->cap >= want)
		return BC_OK;
	ncap = c->cap ? c->cap : 8;
	while (ncap < want)
		ncap *= 2;
	/* No wrap yet (next-1 <= cap): slot p-1 stays slot p-1. */
	nr = bc_realloc(c->ring, (size_t)ncap * sizeof(*nr));
	if (nr == NULL)
		return BC_ERR_NOMEM;
	memset(nr + c->cap, 0, (size_t)(ncap - c->cap) * sizeof(*nr));
	c->ring = nr;
	c->cap = ncap;
	return BC_OK;
}

/* Deliver the next message: cannot fail once ring_reserve succeeded. */
static void ring_push(struct chain *c, const uint8_t msg_id[MSGID], const uint8_t content[HASH],
		      const uint8_t link[HASH])
{
	struct hist *h;

	c->next++;
	if (c->count < HIST)
		c->count++;
	h = ring_at(c, c->next - 1);
	memcpy(h->msg_id, msg_id, MSGID);
	memcpy(h->content, content, HASH);
	memcpy(h->link, link, HASH);
	memcpy(c->head, link, HASH);
	if (c->known < c->next - 1)
		c->known = c->next - 1;
}

static struct held *held_find(const struct chain *c, uint64_t seq)
{
	for (uint32_t i = 0; i < c->nheld; i++) {
		if (c->held[i].seq == seq)
			return &c->held[i];
		if (c->held[i].seq > seq)
			break;
	}
	return NULL;
}

static int held_reserve(struct chain *c)
{
	uint32_t ncap;
	struct held *nh;

	if (c->nheld < c->capheld)
		return BC_OK;
	ncap = c->capheld ? c->capheld * 2 : 4;
	if (ncap > BC_TX_MAX_HELD_PER_CHAIN)
		ncap = BC_TX_MAX_HELD_PER_CHAIN;
	if (ncap <= c->nheld)
		return BC_ERR_QUOTA;
	nh = bc_realloc(c->held, (size_t)ncap * sizeof(*nh));
	if (nh == NULL)
		return BC_ERR_NOMEM;
	c->held = nh;
	c->capheld = ncap;
	return BC_OK;
}

static void held_insert(bc_transcript *t, struct chain *c, const struct held *h)
{
	uint32_t i = c->nheld;

	while (i > 0 && c->held[i - 1].seq > h->seq) {
		c->held[i] = c->held[i - 1];
		i--;
	}
	c->held[i] = *h;
	c->nheld++;
	t->nheld++;
	if (c->known < h->seq)
		c->known = h->seq;
}

/* Remove the first held message (the lowest seq). */
static void held_pop(bc_transcript *t, struct chain *c)
{
	memmove(&c->held[0], &c->held[1], (size_t)(c->nheld - 1) * sizeof(c->held[0]));
	c->nheld--;
	t->nheld--;
}

static int chains_reserve(bc_transcript *t)
{
	uint32_t ncap;
	struct chain *nc;

	if (t->nchains < t->capchains)
		return BC_OK;
	if (t->nchains >= BC_TX_MAX_CHAINS)
		return BC_ERR_QUOTA;
	ncap = t->capchains ? t->capchains * 2 : 8;
	if (ncap > BC_TX_MAX_CHAINS)
		ncap = BC_TX_MAX_CHAINS;
	nc = bc_realloc(t->chains, (size_t)ncap * sizeof(*nc));
	if (nc == NULL)
		return BC_ERR_NOMEM;
	t->chains = nc;
	t->capchains = ncap;
	return BC_OK;
}

/* Append a chain prepared on the side (capacity reserved): cannot fail. */
static struct chain *chains_add(bc_transcript *t, const struct chain *c)
{
	t->chains[t->nchains] = *c;
	return &t->chains[t->nchains++];
}

/* ---- reports ----------------------------------------------------------------------- */

static int reports_reserve(bc_transcript *t, size_t n)
{
	bc_tx_report *nr;

	t->nrep = 0;
	if (n <= t->caprep)
		return BC_OK;
	nr = bc_realloc(t->rep, n * sizeof(*nr));
	if (nr == NULL)
		return BC_ERR_NOMEM;
	t->rep = nr;
	t->caprep = n;
	return BC_OK;
}

/* A zeroed report of kind k for chain (sender, aid) at seq, range seq..seq.
 * Room was reserved (an overflow would be a bug: the report is dropped). */
static bc_tx_report *report(bc_transcript *t, bc_tx_event k, const uint8_t sender[ID],
			    const uint8_t aid[HASH], uint64_t seq)
{
	static _Thread_local bc_tx_report sink;
	bc_tx_report *r;

	if (t->nrep >= t->caprep) {
		r = &sink; /* unreachable: every caller reserved its bound */
	} else {
		r = &t->rep[t->nrep++];
	}
	memset(r, 0, sizeof(*r));
	r->kind = k;
	memcpy(r->sender, sender, ID);
	memcpy(r->audience_id, aid, HASH);
	r->seq = r->first = r->last = seq;
	return r;
}

/* ---- handle ------------------------------------------------------------------------ */

int bc_transcript_new(const uint8_t self[static BC_TX_ID_LEN], bc_transcript **out)
{
	bc_transcript *t;

	if (self == NULL || out == NULL)
		return BC_ERR_INVALID;
	t = bc_calloc(1, sizeof(*t));
	if (t == NULL)
		return BC_ERR_NOMEM;
	memcpy(t->self, self, ID);
	t->rep = bc_calloc(RECEIVE_REPORTS, sizeof(*t->rep));
	if (t->rep == NULL) {
		bc_free(t);
		return BC_ERR_NOMEM;
	}
	t->caprep = RECEIVE_REPORTS;
	*out = t;
	return BC_OK;
}

void bc_transcript_free(bc_transcript *t)
{
	if (t == NULL)
		return;
	for (uint32_t i = 0; i < t->nchains; i++)
		chain_release(&t->chains[i]);
	bc_free(t->chains);
	bc_free(t->rep);
	bc_free(t);
}

const uint8_t *bc_transcript_self(const bc_transcript *t)
{
	return t ? t->self : NULL;
}

size_t bc_transcript_chain_count(const bc_transcript *t)
{
	return t ? t->nchains : 0;
}

size_t bc_transcript_held_count(const bc_transcript *t)
{
	return t ? t->nheld : 0;
}

int bc_transcript_chain_info(const bc_transcript *t, size_t i, bc_tx_chain_info *out)
{
	const struct chain *c;

	if (t == NULL || out == NULL)
		return BC_ERR_INVALID;
	if (i >= t->nchains)
		return BC_ERR_NOTFOUND;
	c = &t->chains[i];
	memset(out, 0, sizeof(*out));
	memcpy(out->sender, c->sender, ID);
	out->audience = c->aud;
	memcpy(out->audience_id, c->aid, HASH);
	out->last = chain_last(c);
	memcpy(out->head, c->head, HASH);
	out->known = c->known;
	out->held = c->nheld;
	return BC_OK;
}

/* ---- msg_id reuse ------------------------------------------------------------------ */

struct dup {
	bool found;
	const struct chain *c;
	uint64_t seq;
	const uint8_t *content;
};

/*
 * Look for msg_id of sender anywhere in the remembered history and among
 * held messages, except at position (skip, skip_seq). A copy with another
 * content wins over one with the same content (it is the graver finding).
 */
static void find_dup(const bc_transcript *t, const uint8_t sender[ID], const uint8_t msg_id[MSGID],
		     const uint8_t content[HASH], const struct chain *skip, uint64_t skip_seq,
		     struct dup *d)
{
	memset(d, 0, sizeof(*d));
	for (uint32_t i = 0; i < t->nchains; i++) {
		const struct chain *c = &t->chains[i];
		if (memcmp(c->sender, sender, ID) != 0)
			continue;
		for (uint64_t p = ring_low(c); p < c->next; p++) {
			const struct hist *h = ring_at(c, p);
			if ((c == skip && p == skip_seq) || memcmp(h->msg_id, msg_id, MSGID) != 0)
				continue;
			if (!d->found || memcmp(h->content, content, HASH) != 0) {
				d->found = true;
				d->c = c;
				d->seq = p;
				d->content = h->content;
			}
		}
		for (uint32_t k = 0; k < c->nheld; k++) {
			const struct held *h = &c->held[k];
			if ((c == skip && h->seq == skip_seq) ||
			    memcmp(h->msg_id, msg_id, MSGID) != 0)
				continue;
			if (!d->found || memcmp(h->content, content, HASH) != 0) {
				d->found = true;
				d->c = c;
				d->seq = h->seq;
				d->content = h->content;
			}
		}
	}
}

/* ---- sender side ------------------------------------------------------------------- */

int bc_transcript_next(bc_transcript *t, const bc_tx_audience *audience,
		       const uint8_t msg_id[static BC_TX_MSGID_LEN],
		       const uint8_t content_hash[static BC_TX_HASH_LEN], uint64_t timestamp,
		       bc_tx_meta *out)
{
	struct chain tmp, *c;
	uint8_t aid[HASH], lnk[HASH];
	struct dup d;
	bc_tx_meta m;
	bool fresh = false;
	int rc;

	if (t == NULL || audience == NULL || msg_id == NULL || content_hash == NULL ||
	    out == NULL || !audience_valid(audience) || !aud_has(audience, t->self))
		return BC_ERR_INVALID;
	rc = hash_audience(audience, aid);
	if (rc != BC_OK)
		return rc;
	c = find_chain(t, t->self, aid);
	if (c == NULL) {
		rc = chains_reserve(t);
		if (rc != BC_OK)
			return rc;
		chain_init(&tmp, t->self, audience, aid);
		c = &tmp;
		fresh = true;
	}
	if (c->next > BC_TX_SEQ_MAX)
		return BC_ERR_STATE;
	find_dup(t, t->self, msg_id, content_hash, NULL, 0, &d);
	if (d.found)
		return BC_ERR_CONFLICT;

	memset(&m, 0, sizeof(m));
	memcpy(m.msg_id, msg_id, MSGID);
	memcpy(m.sender, t->self, ID);
	m.audience = *audience;
	m.seq = c->next;
	memcpy(m.prev, c->head, HASH);
	memcpy(m.content_hash, content_hash, HASH);
	m.timestamp = timestamp;
	rc = meta_link(&m, aid, lnk);
	if (rc != BC_OK)
		return rc;
	rc = ring_reserve(c, 1);
	if (rc != BC_OK) {
		if (fresh)
			chain_release(&tmp);
		return rc;
	}
	/* commit */
	if (fresh)
		c = chains_add(t, &tmp);
	ring_push(c, msg_id, content_hash, lnk);
	*out = m;
	return BC_OK;
}

/* ---- receiver side ----------------------------------------------------------------- */

/*
 * m is at a position p of chain c that already holds a message (delivered
 * or held) with the given msg_id, content and link: a REPLAY if the links
 * are equal, an EQUIVOCATION if only the content differs from the same
 * msg_id, else a FORK. Dropped in every case.
 */
static void same_position(bc_transcript *t, const struct chain *c, const bc_tx_meta *m,
			  const uint8_t lnk[HASH], const uint8_t msg_id[MSGID],
			  const uint8_t content[HASH], const uint8_t link[HASH])
{
	bc_tx_report *r;

	if (memcmp(link, lnk, HASH) == 0) {
		r = report(t, BC_TX_REPLAY, c->sender, c->aid, m->seq);
		memcpy(r->msg_id, m->msg_id, MSGID);
		memcpy(r->local_hash, lnk, HASH);
		return;
	}
	if (memcmp(msg_id, m->msg_id, MSGID) == 0 && memcmp(content, m->content_hash, HASH) != 0) {
		r = report(t, BC_TX_EQUIVOCATION, c->sender, c->aid, m->seq);
		memcpy(r->local_hash, content, HASH);
		memcpy(r->other_hash, m->content_hash, HASH);
	} else {
		r = report(t, BC_TX_FORK, c->sender, c->aid, m->seq);
		memcpy(r->local_hash, link, HASH);
		memcpy(r->other_hash, lnk, HASH);
	}
	memcpy(r->msg_id, msg_id, MSGID);
	memcpy(r->other_msg_id, m->msg_id, MSGID);
	memcpy(r->other_audience_id, c->aid, HASH);
	r->other_seq = m->seq;
}

/* A FORK at seq `at` of c, revealed by message m (other_*): two different
 * link hashes, local (ours, or what a held message says) and other. */
static void fork_at(bc_transcript *t, const struct chain *c, uint64_t at,
		    const uint8_t *local_msg_id, const uint8_t local[HASH], const uint8_t other[HASH],
		    const uint8_t other_msg_id[MSGID], uint64_t other_seq)
{
	bc_tx_report *r = report(t, BC_TX_FORK, c->sender, c->aid, at);

	if (local_msg_id != NULL)
		memcpy(r->msg_id, local_msg_id, MSGID);
	if (local != NULL)
		memcpy(r->local_hash, local, HASH);
	memcpy(r->other_hash, other, HASH);
	memcpy(r->other_msg_id, other_msg_id, MSGID);
	memcpy(r->other_audience_id, c->aid, HASH);
	r->other_seq = other_seq;
}

static void equivocation_warning(bc_transcript *t, const struct dup *d, const bc_tx_meta *m,
				 const uint8_t aid[HASH])
{
	bc_tx_report *r = report(t, BC_TX_EQUIVOCATION, d->c->sender, d->c->aid, d->seq);

	memcpy(r->msg_id, m->msg_id, MSGID);
	memcpy(r->other_msg_id, m->msg_id, MSGID);
	memcpy(r->other_audience_id, aid, HASH);
	r->other_seq = m->seq;
	memcpy(r->local_hash, d->content, HASH);
	memcpy(r->other_hash, m->content_hash, HASH);
}

int bc_transcript_receive(bc_transcript *t, const bc_tx_meta *m, const bc_tx_report **reports,
			  size_t *nreports)
{
	uint8_t aid[HASH], lnk[HASH];
	struct chain tmp, *c;
	bool fresh = false, own;
	bc_tx_report *r;
	struct held *h;
	struct dup d;
	uint64_t s, n;
	int rc;

	if (reports != NULL)
		*reports = NULL;
	if (nreports != NULL)
		*nreports = 0;
	if (t == NULL || m == NULL || reports == NULL || nreports == NULL)
		return BC_ERR_INVALID;
	t->nrep = 0;
	if (!meta_valid(m))
		return BC_ERR_MALFORMED;
	rc = hash_audience(&m->audience, aid);
	if (rc != BC_OK)
		return rc;
	if (!aud_has(&m->audience, t->self)) {
		r = report(t, BC_TX_BAD_AUDIENCE, m->sender, aid, m->seq);
		memcpy(r->msg_id, m->msg_id, MSGID);
		goto done;
	}
	rc = meta_link(m, aid, lnk);
	if (rc != BC_OK)
		return rc;
	s = m->seq;
	own = memcmp(m->sender, t->self, ID) == 0;
	c = find_chain(t, m->sender, aid);

	if (c != NULL && s < c->next) {
		if (s < ring_low(c)) {
			r = report(t, BC_TX_UNVERIFIABLE, c->sender, aid, s);
			memcpy(r->msg_id, m->msg_id, MSGID);
			memcpy(r->other_hash, lnk, HASH);
		} else {
			const struct hist *e = ring_at(c, s);
			same_position(t, c, m, lnk, e->msg_id, e->content, e->link);
		}
		goto done;
	}
	if (own) {
		/* a message in our name beyond what we wrote (or in an audience
		 * we never wrote to): someone holds our keys, or our state was
		 * rolled back */
		r = report(t, BC_TX_FORK, m->sender, aid, s);
		memcpy(r->other_hash, lnk, HASH);
		memcpy(r->other_msg_id, m->msg_id, MSGID);
		memcpy(r->other_audience_id, aid, HASH);
		r->other_seq = s;
		goto done;
	}
	if (c != NULL && (h = held_find(c, s)) != NULL) {
		same_position(t, c, m, lnk, h->msg_id, h->content, h->link);
		goto done;
	}

	/* A new position: s >= next. */
	n = c != NULL ? c->next : 1;
	if (c != NULL && s == n && memcmp(m->prev, c->head, HASH) != 0) {
		fork_at(t, c, s - 1, ring_at(c, s - 1)->msg_id, c->head, m->prev, m->msg_id, s);
		goto done;
	}
	if (c != NULL && s > n) {
		const struct held *lo = held_find(c, s - 1), *hi = held_find(c, s + 1);
		if (lo != NULL && memcmp(lo->link, m->prev, HASH) != 0) {
			fork_at(t, c, s - 1, lo->msg_id, lo->link, m->prev, m->msg_id, s);
			goto done;
		}
		if (hi != NULL && memcmp(hi->prev, lnk, HASH) != 0) {
			fork_at(t, c, s, NULL, hi->prev, lnk, m->msg_id, s);
			goto done;
		}
	}
	if (s > n && (t->nheld >= BC_TX_MAX_HELD ||
		      (c != NULL && c->nheld >= BC_TX_MAX_HELD_PER_CHAIN)))
		return BC_ERR_QUOTA;

	/* reserve */
	if (c == NULL) {
		rc = chains_reserve(t);
		if (rc != BC_OK)
			return rc;
		chain_init(&tmp, m->sender, &m->audience, aid);
		c = &tmp;
		fresh = true;
	}
	rc = s == n ? ring_reserve(c, 1 + (uint64_t)c->nheld) : held_reserve(c);
	if (rc != BC_OK) {
		if (fresh)
			chain_release(&tmp);
		return rc;
	}
	find_dup(t, m->sender, m->msg_id, m->content_hash, NULL, 0, &d);

	/* commit: nothing below can fail */
	if (fresh)
		c = chains_add(t, &tmp);
	if (d.found)
		equivocation_warning(t, &d, m, aid);
	if (s > n) {
		struct held nh;
		memset(&nh, 0, sizeof(nh));
		nh.seq = s;
		nh.ts = m->timestamp;
		memcpy(nh.prev, m->prev, HASH);
		memcpy(nh.msg_id, m->msg_id, MSGID);
		memcpy(nh.content, m->content_hash, HASH);
		memcpy(nh.link, lnk, HASH);
		held_insert(t, c, &nh);
		r = report(t, BC_TX_GAP, c->sender, aid, s);
		r->first = n;
		r->last = s - 1;
		memcpy(r->msg_id, m->msg_id, MSGID);
		memcpy(r->local_hash, lnk, HASH);
		goto done;
	}
	r = report(t, c->nheld > 0 ? BC_TX_REORDER : BC_TX_OK, c->sender, aid, s);
	memcpy(r->msg_id, m->msg_id, MSGID);
	memcpy(r->local_hash, lnk, HASH);
	ring_push(c, m->msg_id, m->content_hash, lnk);
	while (c->nheld > 0 && c->held[0].seq == c->next) {
		const struct held *x = &c->held[0];
		if (memcmp(x->prev, c->head, HASH) == 0) {
			r = report(t, BC_TX_RELEASED, c->sender, aid, x->seq);
			memcpy(r->msg_id, x->msg_id, MSGID);
			memcpy(r->local_hash, x->link, HASH);
			ring_push(c, x->msg_id, x->content, x->link);
			held_pop(t, c);
		} else {
			fork_at(t, c, c->next - 1, ring_at(c, c->next - 1)->msg_id, c->head,
				x->prev, x->msg_id, x->seq);
			held_pop(t, c);
			break;
		}
	}
done:
	*reports = t->rep;
	*nreports = t->nrep;
	return BC_OK;
}

/* ---- checkpoints -------------------------------------------------------------------- */

/* Sort chain indices by (sender, audience_id): insertion sort, n <= 128. */
static void sort_chains(const bc_transcript *t, uint32_t *idx, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		uint32_t v = idx[i], j = i;
		const struct chain *cv = &t->chains[v];
		while (j > 0) {
			const struct chain *cj = &t->chains[idx[j - 1]];
			if (cmp_chain_key(cj->sender, cj->aid, cv->sender, cv->aid) <= 0)
				break;
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
}

int bc_transcript_checkpoint(const bc_transcript *t, const bc_tx_audience *audience,
			     bc_tx_checkpoint *cp)
{
	uint32_t idx[BC_TX_MAX_CHAINS], n = 0;

	if (cp != NULL)
		memset(cp, 0, sizeof(*cp));
	if (t == NULL || audience == NULL || cp == NULL || !audience_valid(audience) ||
	    !aud_has(audience, t->self))
		return BC_ERR_INVALID;
	for (uint32_t i = 0; i < t->nchains; i++)
		if (aud_subset(audience, &t->chains[i].aud))
			idx[n++] = i;
	sort_chains(t, idx, n);
	if (n != 0) {
		cp->chains = bc_calloc(n, sizeof(*cp->chains));
		if (cp->chains == NULL)
			return BC_ERR_NOMEM;
	}
	memcpy(cp->author, t->self, ID);
	cp->audience = *audience;
	cp->nchains = (uint16_t)n;
	for (uint32_t i = 0; i < n; i++) {
		const struct chain *c = &t->chains[idx[i]];
		bc_tx_cp_chain *e = &cp->chains[i];
		uint64_t last = chain_last(c);
		uint64_t k = last < BC_TX_CP_RECENT ? last : BC_TX_CP_RECENT;

		memcpy(e->sender, c->sender, ID);
		e->audience = c->aud;
		e->seq = last;
		e->nrecent = (uint16_t)k;
		for (uint64_t j = 0; j < k; j++) {
			const struct hist *h = ring_at(c, last - k + 1 + j);
			memcpy(e->recent[j].msg_id, h->msg_id, MSGID);
			memcpy(e->recent[j].content_hash, h->content, HASH);
			memcpy(e->recent[j].link, h->link, HASH);
		}
	}
	return BC_OK;
}

/* Compare the peer's entry e with our chain c. */
static void check_chain(bc_transcript *t, const uint8_t peer[ID], const struct chain *c,
			const bc_tx_cp_chain *e, uint64_t *known)
{
	uint64_t ours = chain_last(c), theirs = e->seq;
	uint64_t plo = theirs - e->nrecent + 1; /* the peer's window: plo .. theirs */
	uint64_t lo = ring_low(c), hi = ours < theirs ? ours : theirs;
	const uint8_t *phead = e->nrecent ? e->recent[e->nrecent - 1].link : zero_hash;
	bool forked = false, explained = false;
	bool own = memcmp(c->sender, t->self, ID) == 0;
	bc_tx_report *r;

	if (lo < plo)
		lo = plo; /* ring_low(c) >= 1, so lo >= 1 */
	if (hi >= 1 && lo > hi) {
		r = report(t, BC_TX_UNVERIFIABLE, c->sender, c->aid, theirs);
		memcpy(r->peer, peer, ID);
		memcpy(r->msg_id, e->recent[e->nrecent - 1].msg_id, MSGID);
		memcpy(r->other_hash, phead, HASH);
	}
	for (uint64_t p = lo; hi >= 1 && p <= hi; p++) {
		const struct hist *l = ring_at(c, p);
		const bc_tx_cp_msg *x = &e->recent[p - plo];
		bool same_id = memcmp(l->msg_id, x->msg_id, MSGID) == 0;

		if (memcmp(l->link, x->link, HASH) == 0)
			continue;
		if (same_id && memcmp(l->content, x->content_hash, HASH) != 0) {
			r = report(t, BC_TX_EQUIVOCATION, c->sender, c->aid, p);
			memcpy(r->local_hash, l->content, HASH);
			memcpy(r->other_hash, x->content_hash, HASH);
			explained = true;
		} else if (!forked && (!same_id || !explained)) {
			/* different messages at p, or the same message whose
			 * link differs for a reason not already reported */
			r = report(t, BC_TX_FORK, c->sender, c->aid, p);
			memcpy(r->local_hash, l->link, HASH);
			memcpy(r->other_hash, x->link, HASH);
			forked = true;
		} else {
			continue;
		}
		memcpy(r->peer, peer, ID);
		memcpy(r->msg_id, l->msg_id, MSGID);
		memcpy(r->other_msg_id, x->msg_id, MSGID);
		memcpy(r->other_audience_id, c->aid, HASH);
		r->other_seq = p;
	}
	if (theirs > ours) {
		if (own) {
			/* the peer holds messages in our name we never wrote */
			if (!forked) {
				uint64_t at = ours + 1;
				const bc_tx_cp_msg *x =
					at >= plo ? &e->recent[at - plo] : &e->recent[e->nrecent - 1];
				r = report(t, BC_TX_FORK, c->sender, c->aid, at);
				memcpy(r->peer, peer, ID);
				memcpy(r->other_hash, x->link, HASH);
				memcpy(r->other_msg_id, x->msg_id, MSGID);
				memcpy(r->other_audience_id, c->aid, HASH);
				r->other_seq = at >= plo ? at : theirs;
			}
		} else {
			r = report(t, BC_TX_GAP, c->sender, c->aid, theirs);
			r->first = ours + 1;
			r->last = theirs;
			memcpy(r->peer, peer, ID);
			memcpy(r->other_msg_id, e->recent[e->nrecent - 1].msg_id, MSGID);
			memcpy(r->local_hash, c->head, HASH);
			memcpy(r->other_hash, phead, HASH);
			if (*known < theirs)
				*known = theirs;
		}
	} else if (theirs < ours && memcmp(c->sender, peer, ID) != 0) {
		/* (a checkpoint never covers the message that carries it, so
		 * its author is always "behind" on its own chain: not news) */
		r = report(t, BC_TX_PEER_GAP, c->sender, c->aid, ours);
		r->first = theirs + 1;
		r->last = ours;
		memcpy(r->peer, peer, ID);
		memcpy(r->msg_id, ring_at(c, ours)->msg_id, MSGID);
		memcpy(r->local_hash, c->head, HASH);
		memcpy(r->other_hash, phead, HASH);
	}
}

int bc_transcript_check(bc_transcript *t, const uint8_t from_member[static BC_TX_ID_LEN],
			const bc_tx_checkpoint *cp, const bc_tx_report **reports,
			size_t *nreports)
{
	uint8_t (*aids)[HASH] = NULL;
	uint64_t known[BC_TX_MAX_CHAINS];
	bool seen[BC_TX_MAX_CHAINS];
	uint8_t cpaid[HASH];
	bc_tx_report *r;
	int rc;

	if (reports != NULL)
		*reports = NULL;
	if (nreports != NULL)
		*nreports = 0;
	if (t == NULL || from_member == NULL || cp == NULL || reports == NULL || nreports == NULL)
		return BC_ERR_INVALID;
	t->nrep = 0;
	if (cp->nchains != 0) {
		if (cp->nchains > BC_TX_MAX_CHAINS)
			return BC_ERR_TOOBIG;
		aids = bc_malloc((size_t)cp->nchains * HASH);
		if (aids == NULL)
			return BC_ERR_NOMEM;
	}
	rc = cp_check(cp, aids);
	if (rc != BC_OK)
		goto out;
	if (memcmp(cp->author, from_member, ID) != 0) {
		rc = BC_ERR_AUTH;
		goto out;
	}
	rc = hash_audience(&cp->audience, cpaid);
	if (rc != BC_OK)
		goto out;
	/* each entry: <= BC_TX_CP_RECENT equivocations, a FORK, an
	 * UNVERIFIABLE and a GAP; each unlisted chain: a PEER_GAP */
	rc = reports_reserve(t, (size_t)cp->nchains * (BC_TX_CP_RECENT + 3) + t->nchains + 1);
	if (rc != BC_OK)
		goto out;
	if (!aud_has(&cp->audience, t->self)) {
		report(t, BC_TX_BAD_AUDIENCE, from_member, cpaid, 0);
		goto out;
	}
	for (uint32_t i = 0; i < t->nchains; i++) {
		known[i] = t->chains[i].known;
		seen[i] = false;
	}
	for (unsigned i = 0; i < cp->nchains; i++) {
		const bc_tx_cp_chain *e = &cp->chains[i];
		struct chain *c = find_chain(t, e->sender, aids[i]);

		if (c == NULL) {
			if (e->seq == 0)
				continue;
			if (memcmp(e->sender, t->self, ID) == 0) {
				const bc_tx_cp_msg *x = &e->recent[0];
				r = report(t, BC_TX_FORK, e->sender, aids[i], e->seq - e->nrecent + 1);
				memcpy(r->other_hash, x->link, HASH);
				memcpy(r->other_msg_id, x->msg_id, MSGID);
				memcpy(r->other_audience_id, aids[i], HASH);
				r->other_seq = r->seq;
			} else {
				/* a chain we have no message of (not created
				 * here: a peer must not make us allocate) */
				r = report(t, BC_TX_GAP, e->sender, aids[i], e->seq);
				r->first = 1;
				r->last = e->seq;
				memcpy(r->other_msg_id, e->recent[e->nrecent - 1].msg_id, MSGID);
				memcpy(r->other_hash, e->recent[e->nrecent - 1].link, HASH);
			}
			memcpy(r->peer, from_member, ID);
			continue;
		}
		seen[c - t->chains] = true;
		check_chain(t, from_member, c, e, &known[c - t->chains]);
	}
	for (uint32_t i = 0; i < t->nchains; i++) {
		const struct chain *c = &t->chains[i];
		if (seen[i] || chain_last(c) == 0 || !aud_subset(&cp->audience, &c->aud) ||
		    memcmp(c->sender, from_member, ID) == 0)
			continue;
		r = report(t, BC_TX_PEER_GAP, c->sender, c->aid, chain_last(c));
		r->first = 1;
		r->last = chain_last(c);
		memcpy(r->peer, from_member, ID);
		memcpy(r->msg_id, ring_at(c, chain_last(c))->msg_id, MSGID);
		memcpy(r->local_hash, c->head, HASH);
	}
	/* commit */
	for (uint32_t i = 0; i < t->nchains; i++)
		t->chains[i].known = known[i];
out:
	bc_free(aids);
	if (rc != BC_OK) {
		t->nrep = 0;
		return rc;
	}
	for (size_t i = 0; i < t->nrep; i++) {
		t->rep[i].from_checkpoint = true;
		memcpy(t->rep[i].peer, from_member, ID);
	}
	*reports = t->rep;
	*nreports = t->nrep;
	return BC_OK;
}

/* ---- queries ------------------------------------------------------------------------ */

int bc_transcript_missing(const bc_transcript *t, bc_tx_gap *out, size_t cap, size_t *count)
{
	size_t n = 0;

	if (count != NULL)
		*count = 0;
	if (t == NULL || count == NULL || (out == NULL && cap != 0))
		return BC_ERR_INVALID;
	for (uint32_t i = 0; i < t->nchains; i++) {
		const struct chain *c = &t->chains[i];
		uint64_t a = c->next;

		for (uint32_t k = 0; k <= c->nheld; k++) {
			uint64_t b = k < c->nheld ? c->held[k].seq - 1 : c->known;
			if (a <= b) {
				if (n < cap) {
					memcpy(out[n].sender, c->sender, ID);
					memcpy(out[n].audience_id, c->aid, HASH);
					out[n].first = a;
					out[n].last = b;
				}
				n++;
			}
			if (k < c->nheld)
				a = c->held[k].seq + 1;
		}
	}
	*count = n;
	return BC_OK;
}

/* ---- serialisation ------------------------------------------------------------------ */

int bc_transcript_serialize(const bc_transcript *t, uint8_t **out, size_t *outlen)
{
	uint32_t idx[BC_TX_MAX_CHAINS];
	bc_wr w;

	if (t == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	for (uint32_t i = 0; i < t->nchains; i++)
		idx[i] = i;
	sort_chains(t, idx, t->nchains);
	bc_wr_init(&w, BC_TX_STATE_MAX);
	(void)bc_wr_u8(&w, BC_TX_STATE_VERSION);
	(void)bc_wr_raw(&w, t->self, ID);
	(void)bc_wr_u16(&w, (uint16_t)t->nchains);
	for (uint32_t i = 0; i < t->nchains; i++) {
		const struct chain *c = &t->chains[idx[i]];
		(void)bc_wr_raw(&w, c->sender, ID);
		wr_audience(&w, &c->aud);
		(void)bc_wr_u64(&w, c->next);
		(void)bc_wr_u64(&w, c->known);
		(void)bc_wr_u16(&w, (uint16_t)c->count);
		for (uint64_t p = ring_low(c); p < c->next; p++) {
			const struct hist *h = ring_at(c, p);
			(void)bc_wr_raw(&w, h->msg_id, MSGID);
			(void)bc_wr_raw(&w, h->content, HASH);
			(void)bc_wr_raw(&w, h->link, HASH);
		}
		(void)bc_wr_u16(&w, (uint16_t)c->nheld);
		for (uint32_t k = 0; k < c->nheld; k++) {
			const struct held *h = &c->held[k];
			(void)bc_wr_u64(&w, h->seq);
			(void)bc_wr_raw(&w, h->prev, HASH);
			(void)bc_wr_raw(&w, h->msg_id, MSGID);
			(void)bc_wr_raw(&w, h->content, HASH);
			(void)bc_wr_u64(&w, h->ts);
		}
	}
	return bc_wr_finish(&w, out, outlen);
}

/* Read one chain of a state into c (arrays allocated). */
static int rd_chain(bc_rd *r, const bc_transcript *t, struct chain *c)
{
	uint8_t sender[ID], aid[HASH];
	bc_tx_audience aud;
	uint64_t next, known, want;
	uint16_t count, nheld;
	bool own;
	int rc;

	(void)bc_rd_raw(r, sender, ID);
	if (r->err == BC_OK)
		(void)rd_audience(r, &aud);
	(void)bc_rd_u64(r, &next);
	(void)bc_rd_u64(r, &known);
	if (bc_rd_count(r, HIST, &count) != BC_OK)
		return r->err;
	if (!aud_has(&aud, sender) || !aud_has(&aud, t->self) || next < 1 ||
	    next > BC_TX_SEQ_MAX + 1 || known < next - 1 || known > BC_TX_SEQ_MAX)
		return BC_ERR_MALFORMED;
	want = next - 1 < HIST ? next - 1 : HIST;
	if (count != want)
		return BC_ERR_MALFORMED;
	rc = hash_audience(&aud, aid);
	if (rc != BC_OK)
		return rc;
	chain_init(c, sender, &aud, aid);
	c->next = 1; /* ring_reserve sizes for next - 1 + k */
	rc = ring_reserve(c, count);
	if (rc != BC_OK)
		return rc;
	c->next = next;
	c->known = known;
	c->count = count;
	for (uint64_t p = ring_low(c); p < c->next; p++) {
		struct hist *h = ring_at(c, p);
		(void)bc_rd_raw(r, h->msg_id, MSGID);
		(void)bc_rd_raw(r, h->content, HASH);
		(void)bc_rd_raw(r, h->link, HASH);
	}
	if (r->err != BC_OK)
		return r->err;
	if (count != 0)
		memcpy(c->head, ring_at(c, next - 1)->link, HASH);

	if (bc_rd_count(r, BC_TX_MAX_HELD_PER_CHAIN, &nheld) != BC_OK)
		return r->err;
	own = memcmp(sender, t->self, ID) == 0;
	if (nheld != 0 && own)
		return BC_ERR_MALFORMED;
	if (nheld != 0) {
		c->held = bc_calloc(nheld, sizeof(*c->held));
		if (c->held == NULL)
			return BC_ERR_NOMEM;
		c->capheld = nheld;
	}
	for (uint32_t k = 0; k < nheld; k++) {
		struct held *h = &c->held[k];
		(void)bc_rd_u64(r, &h->seq);
		(void)bc_rd_raw(r, h->prev, HASH);
		(void)bc_rd_raw(r, h->msg_id, MSGID);
		(void)bc_rd_raw(r, h->content, HASH);
		(void)bc_rd_u64(r, &h->ts);
		if (r->err != BC_OK)
			return r->err;
		if (h->seq <= next || h->seq > known || (k > 0 && h->seq <= c->held[k - 1].seq))
			return BC_ERR_MALFORMED;
		rc = hash_link(aid, sender, h->seq, h->prev, h->msg_id, h->content, h->ts,
			       h->link);
		if (rc != BC_OK)
			return rc;
		c->nheld++;
	}
	return BC_OK;
}

int bc_transcript_deserialize(const uint8_t *in, size_t len, bc_transcript **out)
{
	bc_transcript *t = NULL;
	uint8_t self[ID], version;
	uint16_t n;
	bc_rd r;
	int rc;

	if (out == NULL || (in == NULL && len != 0))
		return BC_ERR_INVALID;
	bc_rd_init(&r, in, len);
	if (bc_rd_u8(&r, &version) != BC_OK)
		return r.err;
	if (version != BC_TX_STATE_VERSION)
		return BC_ERR_VERSION;
	(void)bc_rd_raw(&r, self, ID);
	if (bc_rd_count(&r, BC_TX_MAX_CHAINS, &n) != BC_OK)
		return r.err;
	if (n > bc_rd_left(&r) / ST_CHAIN_MIN)
		return BC_ERR_MALFORMED;
	rc = bc_transcript_new(self, &t);
	if (rc != BC_OK)
		return rc;
	if (n != 0) {
		t->chains = bc_calloc(n, sizeof(*t->chains));
		if (t->chains == NULL) {
			rc = BC_ERR_NOMEM;
			goto out;
		}
		t->capchains = n;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct chain *c = &t->chains[i];
		rc = rd_chain(&r, t, c);
		t->nchains = i + 1; /* c owns its arrays now: freed with t */
		if (rc != BC_OK)
			goto out;
		t->nheld += c->nheld;
		if (t->nheld > BC_TX_MAX_HELD) {
			rc = BC_ERR_TOOBIG;
			goto out;
		}
		if (i > 0 && cmp_chain_key(t->chains[i - 1].sender, t->chains[i - 1].aid,
					   c->sender, c->aid) >= 0) {
			rc = BC_ERR_MALFORMED;
			goto out;
		}
	}
	rc = bc_rd_end(&r);
out:
	if (rc != BC_OK) {
		bc_transcript_free(t);
		return rc;
	}
	*out = t;
	return BC_OK;
}

/* ---- names and lines ---------------------------------------------------------------- */

static const char *const event_names[BC_TX_EVENT_COUNT] = {
	[BC_TX_OK] = "ok",
	[BC_TX_REORDER] = "reorder",
	[BC_TX_RELEASED] = "released",
	[BC_TX_GAP] = "gap",
	[BC_TX_PEER_GAP] = "peer-gap",
	[BC_TX_REPLAY] = "replay",
	[BC_TX_FORK] = "fork",
	[BC_TX_EQUIVOCATION] = "equivocation",
	[BC_TX_BAD_AUDIENCE] = "bad-audience",
	[BC_TX_UNVERIFIABLE] = "unverifiable",
};

const char *bc_transcript_event_name(bc_tx_event kind)
{
	if ((unsigned)kind >= BC_TX_EVENT_COUNT)
		return "unknown";
	return event_names[kind];
}

/* An snprintf-like appender that counts what the full line needs. */
struct line {
	char *buf;
	size_t cap, len;
};

static void line_put(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (l->len < l->cap) {
		size_t room = l->cap - 1 - l->len;
		size_t k = n < room ? n : room;
		memcpy(l->buf + l->len, s, k);
		l->buf[l->len + k] = '\0';
	}
	l->len += n;
}

static void line_hex(struct line *l, const char *label, const uint8_t *p)
{
	char hex[9];

	sodium_bin2hex(hex, sizeof(hex), p, 4);
	line_put(l, label);
	line_put(l, hex);
}

static void line_u64(struct line *l, const char *label, uint64_t v)
{
	char num[24];

	(void)snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	line_put(l, label);
	line_put(l, num);
}

static bool nonzero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc != 0;
}

size_t bc_transcript_report_format(const bc_tx_report *r, char *buf, size_t cap)
{
	struct line l = { buf, buf != NULL ? cap : 0, 0 };

	if (l.cap != 0)
		buf[0] = '\0';
	if (r == NULL)
		return 0;
	line_put(&l, bc_transcript_event_name(r->kind));
	line_hex(&l, ": sender ", r->sender);
	line_hex(&l, " audience ", r->audience_id);
	if (r->first != r->last || r->kind == BC_TX_GAP || r->kind == BC_TX_PEER_GAP) {
		line_u64(&l, " seq ", r->first);
		line_u64(&l, "..", r->last);
	} else {
		line_u64(&l, " seq ", r->seq);
	}
	if (nonzero(r->msg_id, MSGID))
		line_hex(&l, " msg ", r->msg_id);
	if (nonzero(r->other_msg_id, MSGID) &&
	    (memcmp(r->other_msg_id, r->msg_id, MSGID) != 0 || r->other_seq != r->seq)) {
		line_hex(&l, " other msg ", r->other_msg_id);
		if (r->other_seq != 0)
			line_u64(&l, " at seq ", r->other_seq);
		if (nonzero(r->other_audience_id, HASH) &&
		    memcmp(r->other_audience_id, r->audience_id, HASH) != 0)
			line_hex(&l, " audience ", r->other_audience_id);
	}
	if (nonzero(r->local_hash, HASH))
		line_hex(&l, ": local ", r->local_hash);
	if (nonzero(r->other_hash, HASH))
		line_hex(&l, nonzero(r->local_hash, HASH) ? " other " : ": other ", r->other_hash);
	if (r->from_checkpoint) {
		line_hex(&l, " (checkpoint of ", r->peer);
		line_put(&l, ")");
	}
	return l.len;
}
