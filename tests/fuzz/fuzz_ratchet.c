/*
 * fuzz_ratchet.c - libFuzzer target for the Double Ratchet (lib/ratchet.c).
 *
 * Two modes, chosen by the low two bits of the first byte:
 *
 * 3 = state: bytes 1-2 (big-endian) give a length L; bytes 3 .. 3+L are
 *     fed to bc_ratchet_deserialize and the rest, as a message, to
 *     bc_ratchet_decrypt on the state obtained. A state that decodes must
 *     re-encode to exactly the same bytes (canonical); a failed decrypt
 *     must leave it unchanged; encrypting must then work or say STATE.
 *
 * else = session: Alice and Bob start from fixed keys, with deterministic
 *     randomness (the test hook), and the rest of the input is a program,
 *     one op byte (low nibble) followed by its operands:
 *       0 / 1  Alice / Bob encrypts a plaintext of (next byte & 63) bytes
 *              taken from the input
 *       2      deliver message [u16] unmodified
 *       3      deliver it mutated: [kind] flip bits [u16 pos][mask] /
 *              truncate [u16 len] / splice its header with the body of
 *              message [u16] / append [n][bytes] / wrong AD / twice
 *       4      feed [n] raw input bytes to Alice's or Bob's decrypt (op bit 4)
 *       5      advance the clock by [u16] minutes, or days with op bit 4
 *       6      bc_ratchet_expire(party, now, [u16] * 97 seconds)
 *       7      serialise a party, deserialise it, check it re-encodes the
 *              same, and carry on with the copy
 *       8      fail the [n & 15]th allocation of the next en/decrypt
 *       9      Alice / Bob (op bit 4) sends 1 + 4 * [n] empty messages at
 *              once (so that short inputs reach MAX_SKIP and eviction);
 *              at most MAX_MSGS messages are sent per input
 *     Message indices are taken modulo the number sent so far.
 *
 * Invariants (each violation is __builtin_trap):
 *   - any failed decrypt leaves the receiver's serialised state unchanged;
 *   - a decrypt succeeds only for a message that was sent to that party and
 *     not delivered before, and yields exactly what was sent;
 *   - a message delivered unmodified for the first time decrypts, unless:
 *     an injected allocation failure hit (BC_ERR_NOMEM); the sender had sent
 *     more than MAX_SKIP messages (BC_ERR_QUOTA); or, as BC_ERR_REPLAY or
 *     BC_ERR_AUTH, its key may have been dropped: the receiver's skipped
 *     store was full or bc_ratchet_expire removed keys after the message
 *     was sent, or it is older than BC_RATCHET_MAX_AGE;
 *   - a successful encrypt is always possible for Alice, and for Bob once
 *     he has decrypted something; no other error codes appear.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "ratchet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

#define MAX_MSGS 4096
#define PTMAX 63
#define K BC_RATCHET_KEYLEN

static const uint8_t AD[] = "fuzz ad";
#define ADLEN (sizeof(AD) - 1)

struct in {
	const uint8_t *p;
	size_t n, pos;
};

static uint8_t in_u8(struct in *in)
{
	return in->pos < in->n ? in->p[in->pos++] : 0;
}

static uint16_t in_u16(struct in *in)
{
	uint16_t hi = in_u8(in);
	return (uint16_t)(hi << 8 | in_u8(in));
}

/* Deterministic randomness: BLAKE2b(party || kind || counter). */
struct rng {
	uint8_t party;
	uint64_t counter;
};

static int rng_fn(void *ctx, int kind, uint8_t *buf, size_t len)
{
	struct rng *g = ctx;
	uint8_t seed[10];

	seed[0] = g->party;
	seed[1] = (uint8_t)kind;
	bc_store64(seed + 2, g->counter++);
	return crypto_generichash(buf, len, seed, sizeof(seed), NULL, 0);
}

struct msg {
	uint8_t *ct;
	size_t ctlen;
	uint8_t pt[PTMAX];
	size_t ptlen;
	int to;
	bool delivered;
	uint64_t created;
	unsigned long loss_epoch; /* receiver's loss_epoch when sent */
};

struct world {
	bc_ratchet *p[2]; /* 0 = Alice, 1 = Bob */
	struct rng rng[2];
	unsigned long sent[2];
	unsigned long loss_epoch[2];
	bool received[2];
	struct msg *m;
	size_t nm;
	uint64_t now;
	unsigned long fail_next; /* 0 = none */
};

static void snapshot(const bc_ratchet *r, uint8_t **buf, size_t *len)
{
	CHECK(bc_ratchet_serialize(r, buf, len) == BC_OK);
}

static void check_unchanged(const bc_ratchet *r, uint8_t *before, size_t blen)
{
	uint8_t *after = NULL;
	size_t alen = 0;

	snapshot(r, &after, &alen);
	CHECK(alen == blen && memcmp(after, before, alen) == 0);
	bc_free_secret(after, alen);
}

static void note_losses(struct world *w, int to)
{
	if (bc_ratchet_skipped_count(w->p[to]) >= BC_RATCHET_MAX_SKIPPED)
		w->loss_epoch[to]++;
}

/* Decrypt buf (under ad) for party `to` and check every invariant. Whether
 * buf is a message sent to `to` is decided by comparing bytes, so a
 * mutation that happens to change nothing counts as an unmodified delivery. */
static void deliver(struct world *w, int to, const uint8_t *buf, size_t len, const uint8_t *ad,
		    size_t adlen)
{
	bc_ratchet *r = w->p[to];
	uint8_t *before = NULL, *pt = NULL;
	size_t blen = 0, ptlen = 0, match = SIZE_MAX;
	bool injected = w->fail_next != 0;
	int err;

	for (size_t i = 0; i < w->nm; i++) {
		if (w->m[i].to == to && w->m[i].ctlen == len && memcmp(w->m[i].ct, buf, len) == 0 &&
		    adlen == ADLEN && memcmp(ad, AD, ADLEN) == 0) {
			match = i;
			break;
		}
	}
	snapshot(r, &before, &blen);
	if (injected)
		bc_alloc_fail_at(w->fail_next);
	err = bc_ratchet_decrypt(r, ad, adlen, buf, len, w->now, &pt, &ptlen);
	bc_alloc_fail_at(0);
	w->fail_next = 0;

	if (err == BC_OK) {
		struct msg *m;

		CHECK(match != SIZE_MAX);
		m = &w->m[match];
		CHECK(!m->delivered);
		CHECK(ptlen == m->ptlen && memcmp(pt, m->pt, ptlen) == 0);
		m->delivered = true;
		w->received[to] = true;
		bc_free_secret(pt, ptlen);
		note_losses(w, to);
	} else {
		check_unchanged(r, before, blen);
		CHECK(err == BC_ERR_MALFORMED || err == BC_ERR_AUTH || err == BC_ERR_REPLAY ||
		      err == BC_ERR_QUOTA || (err == BC_ERR_NOMEM && injected));
		if (match != SIZE_MAX && !w->m[match].delivered) {
			const struct msg *m = &w->m[match];
			bool lost = w->loss_epoch[to] > m->loss_epoch ||
				    w->now - m->created > BC_RATCHET_MAX_AGE;

			CHECK(err == BC_ERR_NOMEM ||
			      (err == BC_ERR_QUOTA && w->sent[1 - to] > BC_RATCHET_MAX_SKIP) ||
			      ((err == BC_ERR_REPLAY || err == BC_ERR_AUTH) && lost));
		}
	}
	bc_free_secret(before, blen);
}

/* Encrypt a plaintext of n bytes from the input (zeros once exhausted). */
static void encrypt_one(struct world *w, struct in *in, int from, size_t n)
{
	struct msg *m;
	bool injected = w->fail_next != 0;
	uint8_t *before = NULL;
	size_t blen = 0;
	int err;

	if (w->nm >= MAX_MSGS)
		return;
	m = &w->m[w->nm];
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++)
		m->pt[i] = in_u8(in);
	m->ptlen = n;
	if (injected || (from == 1 && !w->received[1])) /* may fail: keep a copy */
		snapshot(w->p[from], &before, &blen);
	if (injected)
		bc_alloc_fail_at(w->fail_next);
	err = bc_ratchet_encrypt(w->p[from], AD, ADLEN, m->pt, n, &m->ct, &m->ctlen);
	bc_alloc_fail_at(0);
	w->fail_next = 0;
	if (err != BC_OK) {
		CHECK((err == BC_ERR_NOMEM && injected) ||
		      (err == BC_ERR_STATE && from == 1 && !w->received[1]));
		CHECK(before != NULL);
		check_unchanged(w->p[from], before, blen);
	} else {
		CHECK(from == 0 || w->received[1]);
		CHECK(m->ctlen == n + BC_RATCHET_OVERHEAD);
		m->to = 1 - from;
		m->created = w->now;
		m->loss_epoch = w->loss_epoch[m->to];
		w->sent[from]++;
		w->nm++;
	}
	bc_free_secret(before, blen);
}

static void op_encrypt(struct world *w, struct in *in, int from)
{
	encrypt_one(w, in, from, in_u8(in) & PTMAX);
}

static void op_mutate(struct world *w, struct in *in)
{
	const struct msg *m = &w->m[in_u16(in) % w->nm];
	uint8_t kind = in_u8(in) % 6;
	uint8_t *c = NULL, ad[ADLEN];
	size_t clen = m->ctlen;

	switch (kind) {
	case 0: { /* flip bits */
		size_t pos = in_u16(in) % m->ctlen;

		c = bc_memdup(m->ct, clen);
		CHECK(c != NULL);
		c[pos] ^= in_u8(in);
		break;
	}
	case 1: /* truncate */
		clen = in_u16(in) % m->ctlen;
		c = bc_memdup(m->ct, m->ctlen);
		CHECK(c != NULL);
		break;
	case 2: { /* header of m, body of another */
		const struct msg *o = &w->m[in_u16(in) % w->nm];
		size_t hl = 1 + BC_RATCHET_ENC_HEADER_LEN;

		clen = hl + (o->ctlen - hl);
		c = bc_malloc(clen);
		CHECK(c != NULL);
		memcpy(c, m->ct, hl);
		memcpy(c + hl, o->ct + hl, o->ctlen - hl);
		break;
	}
	case 3: { /* append */
		size_t n = in_u8(in) & 15;

		c = bc_malloc(m->ctlen + n);
		CHECK(c != NULL);
		memcpy(c, m->ct, m->ctlen);
		for (size_t i = 0; i < n; i++)
			c[m->ctlen + i] = in_u8(in);
		clen = m->ctlen + n;
		break;
	}
	case 4: /* the right bytes under another AD */
		memcpy(ad, AD, ADLEN);
		ad[in_u8(in) % ADLEN] ^= (uint8_t)(in_u8(in) | 1);
		deliver(w, m->to, m->ct, m->ctlen, ad, ADLEN);
		return;
	default: /* twice in a row: the second is a replay */
		deliver(w, m->to, m->ct, m->ctlen, AD, ADLEN);
		deliver(w, m->to, m->ct, m->ctlen, AD, ADLEN);
		return;
	}
	deliver(w, m->to, c, clen, AD, ADLEN);
	bc_free(c);
}

static void op_roundtrip(struct world *w, int who)
{
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	bc_ratchet *copy = NULL;

	snapshot(w->p[who], &a, &alen);
	CHECK(bc_ratchet_deserialize(&copy, a, alen) == BC_OK);
	snapshot(copy, &b, &blen);
	CHECK(alen == blen && memcmp(a, b, alen) == 0);
	bc_ratchet_test_set_rng(copy, rng_fn, &w->rng[who]);
	bc_ratchet_free(w->p[who]);
	w->p[who] = copy;
	bc_free_secret(a, alen);
	bc_free_secret(b, blen);
}

static void fixed_key(uint8_t out[K], const char *name)
{
	CHECK(crypto_generichash(out, K, (const uint8_t *)name, strlen(name), NULL, 0) == 0);
}

static void session(const uint8_t *data, size_t size)
{
	static struct msg msgs[MAX_MSGS];
	uint8_t sk[K], hka[K], nhkb[K], spk[K], spk_pub[K];
	struct world w;
	struct in in = { data, size, 0 };

	memset(&w, 0, sizeof(w));
	w.m = msgs;
	w.now = 1000;
	fixed_key(sk, "sk");
	fixed_key(hka, "hka");
	fixed_key(nhkb, "nhkb");
	fixed_key(spk, "bob spk");
	CHECK(crypto_scalarmult_base(spk_pub, spk) == 0);
	for (int i = 0; i < 2; i++) {
		w.rng[i].party = (uint8_t)i;
		CHECK(bc_ratchet_new(&w.p[i]) == BC_OK);
		bc_ratchet_test_set_rng(w.p[i], rng_fn, &w.rng[i]);
	}
	CHECK(bc_ratchet_init_initiator(w.p[0], sk, spk_pub, hka, nhkb) == BC_OK);
	CHECK(bc_ratchet_init_responder(w.p[1], sk, spk, hka, nhkb) == BC_OK);

	while (in.pos < in.n) {
		uint8_t op = in_u8(&in);
		int who = (op >> 4) & 1;

		switch (op & 15) {
		case 0:
		case 1:
			op_encrypt(&w, &in, op & 1);
			break;
		case 2:
			if (w.nm > 0) {
				const struct msg *m = &w.m[in_u16(&in) % w.nm];

				deliver(&w, m->to, m->ct, m->ctlen, AD, ADLEN);
			}
			break;
		case 3:
			if (w.nm > 0)
				op_mutate(&w, &in);
			break;
		case 4: {
			size_t n = in_u8(&in);

			if (n > in.n - in.pos)
				n = in.n - in.pos;
			deliver(&w, who, in.p + in.pos, n, AD, ADLEN);
			in.pos += n;
			break;
		}
		case 5:
			w.now += (uint64_t)in_u16(&in) * (who ? 86400 : 60);
			break;
		case 6:
			if (bc_ratchet_expire(w.p[who], w.now, (uint64_t)in_u16(&in) * 97) > 0)
				w.loss_epoch[who]++;
			break;
		case 7:
			op_roundtrip(&w, who);
			break;
		case 8:
			w.fail_next = 1 + (in_u8(&in) & 15);
			break;
		case 9: {
			size_t n = 1 + 4 * (size_t)in_u8(&in);

			for (size_t i = 0; i < n && w.nm < MAX_MSGS; i++) {
				if (who == 1 && !w.received[1])
					break; /* Bob cannot send yet */
				encrypt_one(&w, &in, who, 0);
			}
			break;
		}
		default:
			break;
		}
	}
	for (size_t i = 0; i < w.nm; i++)
		bc_free(msgs[i].ct);
	bc_ratchet_free(w.p[0]);
	bc_ratchet_free(w.p[1]);
}

static void state_mode(const uint8_t *data, size_t size)
{
	struct in in = { data, size, 0 };
	size_t l = in_u16(&in), blen = 0, olen = 0, ptlen = 0;
	bc_ratchet *r = NULL;
	uint8_t *b = NULL, *o = NULL, *pt = NULL;
	int err;

	if (l > in.n - in.pos)
		l = in.n - in.pos;
	if (bc_ratchet_deserialize(&r, in.p + in.pos, l) != BC_OK)
		return;
	snapshot(r, &b, &blen);
	CHECK(blen == l && memcmp(b, in.p + in.pos, l) == 0);
	in.pos += l;
	err = bc_ratchet_decrypt(r, AD, ADLEN, in.p + in.pos, in.n - in.pos, 1000, &pt, &ptlen);
	if (err == BC_OK)
		bc_free_secret(pt, ptlen);
	else
		check_unchanged(r, b, blen);
	err = bc_ratchet_encrypt(r, AD, ADLEN, AD, ADLEN, &o, &olen);
	CHECK(err == BC_OK || err == BC_ERR_STATE);
	bc_free(o);
	bc_free_secret(b, blen);
	bc_ratchet_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;

	if (!init) {
		CHECK(sodium_init() >= 0);
		init = true;
	}
	if (size == 0)
		return 0;
	if ((data[0] & 3) == 3)
		state_mode(data + 1, size - 1);
	else
		session(data + 1, size - 1);
	return 0;
}
