/*
 * test_transport.c - unit tests for the record layer and the frame stream
 * (lib/transport.c).
 *
 * Every test runs over a real pair of cipher states: a
 * Noise_XX_25519_ChaChaPoly_BLAKE2b handshake is run in memory between an
 * initiator and a responder (lib/noise.h), and the initiator's send state
 * seals what the responder's receive state opens.
 *
 * What is pinned down here:
 *   - bc_tx_seal cuts a stream into records of at most 65519 plaintext
 *     bytes (u16 length || ciphertext || tag), and bc_rx_feed followed by
 *     bc_rx_next gives back exactly the frames that were sealed, whatever
 *     the split of the wire bytes into feeds (all at once, byte by byte,
 *     pseudo-random chunks), for streams of 0 to 3 records including the
 *     exact record boundaries, with many frames in one record and one frame
 *     over several records;
 *   - a frame header announcing more than max_frame is BC_ERR_TOOBIG as
 *     soon as its header is decrypted, before its body arrives; a frame
 *     length below 5 is BC_ERR_MALFORMED;
 *   - "this forgery must fail": any flipped bit of a record is
 *     BC_ERR_AUTH, a replayed or reordered record is BC_ERR_AUTH (the
 *     nonce has moved on), a record shorter than a tag is
 *     BC_ERR_PROTOCOL; a failed record does not advance the nonce;
 *   - an empty record (16 bytes: a tag only) is legal and carries nothing;
 *   - buffers exist only while bytes are pending: after draining,
 *     bc_rx_pending is 0 and bc_rx_compact releases both buffers;
 *   - every allocation failure (bc_alloc_fail_at) is BC_ERR_NOMEM, with
 *     no leak (run under ASan or valgrind).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include <sodium.h>

#include "codec.h"
#include "internal.h"
#include "noise.h"
#include "proto.h"
#include "transport.h"

/* ---- a connected pair --------------------------------------------------- */

struct pair {
	bc_noise_cs i_send, i_recv; /* initiator (client) */
	bc_noise_cs r_send, r_recv; /* responder (relay) */
};

static bc_noise_hs *hs_new(bool initiator)
{
	bc_noise_hs *hs = NULL;
	uint8_t sk[BC_NOISE_DHLEN];
	randombytes_buf(sk, sizeof(sk));
	assert_int_equal(bc_noise_hs_new(&hs, BC_PROTO_NOISE_NAME, initiator),
			 BC_OK);
	assert_int_equal(bc_noise_hs_set_prologue(
				 hs, (const uint8_t *)BC_PROTO_PROLOGUE,
				 sizeof(BC_PROTO_PROLOGUE) - 1),
			 BC_OK);
	assert_int_equal(bc_noise_hs_set_local_static(hs, sk), BC_OK);
	assert_int_equal(bc_noise_hs_start(hs), BC_OK);
	sodium_memzero(sk, sizeof(sk));
	return hs;
}

/* Run the XX handshake in memory and split both sides. */
static void pair_init(struct pair *p)
{
	bc_noise_hs *i = hs_new(true), *r = hs_new(false);
	uint8_t msg[BC_NOISE_MAX_MSG], pl[64];
	int turns = 0;
	while (bc_noise_hs_action(i) != BC_NOISE_ACTION_SPLIT ||
	       bc_noise_hs_action(r) != BC_NOISE_ACTION_SPLIT) {
		bc_noise_hs *w, *rd;
		size_t mlen, plen;
		if (bc_noise_hs_action(i) == BC_NOISE_ACTION_WRITE)
			w = i, rd = r;
		else
			w = r, rd = i;
		assert_int_equal(bc_noise_hs_action(w), BC_NOISE_ACTION_WRITE);
		assert_int_equal(bc_noise_hs_action(rd), BC_NOISE_ACTION_READ);
		assert_int_equal(bc_noise_hs_write_message(w, NULL, 0, msg,
							   sizeof(msg), &mlen),
				 BC_OK);
		assert_int_equal(bc_noise_hs_read_message(rd, msg, mlen, pl,
							  sizeof(pl), &plen),
				 BC_OK);
		assert_int_equal(plen, 0);
		assert_true(++turns <= 3);
	}
	assert_int_equal(turns, 3);
	assert_int_equal(bc_noise_hs_split(i, &p->i_send, &p->i_recv), BC_OK);
	assert_int_equal(bc_noise_hs_split(r, &p->r_send, &p->r_recv), BC_OK);
	bc_noise_hs_free(i);
	bc_noise_hs_free(r);
}

static void pair_wipe(struct pair *p)
{
	bc_noise_cs_wipe(&p->i_send);
	bc_noise_cs_wipe(&p->i_recv);
	bc_noise_cs_wipe(&p->r_send);
	bc_noise_cs_wipe(&p->r_recv);
}

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64*: reproducible chunk sizes */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A stream of frames of the given total sizes (each >= 9): u32 length,
 * type, request id, then a counting pattern. */
static uint8_t *make_stream(const size_t *sizes, size_t n, size_t *total)
{
	size_t len = 0, off = 0;
	uint8_t *s;
	for (size_t i = 0; i < n; i++)
		len += sizes[i];
	s = malloc(len ? len : 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		assert_true(sizes[i] >= 9);
		bc_store32(s + off, (uint32_t)(sizes[i] - 4));
		s[off + 4] = BC_T_PING;
		bc_store32(s + off + 5, (uint32_t)(i + 1));
		for (size_t k = 9; k < sizes[i]; k++)
			s[off + k] = (uint8_t)(k * 7 + i);
		off += sizes[i];
	}
	*total = len;
	return s;
}

/* Seal plain into a new wire buffer. */
static uint8_t *seal(bc_noise_cs *cs, const uint8_t *plain, size_t len,
		     size_t *wlen)
{
	bc_wr w;
	uint8_t *out = NULL;
	bc_wr_init(&w, BC_CODEC_MAX);
	assert_int_equal(bc_tx_seal(cs, plain, len, &w), BC_OK);
	assert_int_equal(bc_wr_finish(&w, &out, wlen), BC_OK);
	return out;
}

/* Pull every complete frame out of rx, checking each against the expected
 * stream at *off. */
static void drain(bc_rx *rx, const uint8_t *want, size_t want_len,
		  size_t *off, size_t *frames)
{
	for (;;) {
		const uint8_t *fr = (const uint8_t *)1;
		size_t len = 1;
		int rc = bc_rx_next(rx, &fr, &len);
		if (rc == 0) {
			assert_null(fr);
			assert_int_equal(len, 0);
			return;
		}
		assert_int_equal(rc, 1);
		assert_true(*off + len <= want_len);
		assert_int_equal(len, 4 + (size_t)bc_load32(want + *off));
		assert_memory_equal(fr, want + *off, len);
		*off += len;
		(*frames)++;
	}
}

enum split { SPLIT_ALL, SPLIT_BYTES, SPLIT_RANDOM, SPLIT_RECORDS };

/* Feed wire to rx in the given split, draining after every feed. */
static void feed_split(bc_rx *rx, bc_noise_cs *cs, const uint8_t *wire,
		       size_t wlen, enum split how, const uint8_t *want,
		       size_t want_len, size_t *frames)
{
	size_t pos = 0, off = 0;
	*frames = 0;
	while (pos < wlen) {
		size_t n;
		switch (how) {
		case SPLIT_ALL:
			n = wlen;
			break;
		case SPLIT_BYTES:
			n = 1;
			break;
		case SPLIT_RANDOM:
			n = 1 + (size_t)(rng() % 70000);
			if (rng() % 4 == 0)
				n = 1 + (size_t)(rng() % 40);
			break;
		default: /* one record (or a record and a bit) at a time */
			n = wlen - pos < 2
				    ? 1
				    : 2 + (size_t)bc_load16(wire + pos);
			if (rng() % 2)
				n += (size_t)(rng() % 20);
			break;
		}
		if (n > wlen - pos)
			n = wlen - pos;
		/* Copy into an exact-size block: catches overreads. */
		{
			uint8_t *c = malloc(n);
			assert_non_null(c);
			memcpy(c, wire + pos, n);
			assert_int_equal(bc_rx_feed(rx, cs, c, n), BC_OK);
			free(c);
		}
		pos += n;
		drain(rx, want, want_len, &off, frames);
	}
	assert_int_equal(off, want_len);
	assert_int_equal(bc_rx_pending(rx), 0);
	bc_rx_compact(rx);
	assert_null(rx->raw);
	assert_null(rx->plain);
}

/* ---- seal / feed round trips -------------------------------------------- */

#define RP BC_RECORD_MAX_PLAIN /* 65519 */

static void check_stream(struct pair *p, const size_t *sizes, size_t n,
			 uint32_t max_frame)
{
	size_t len, wlen, records, frames;
	uint8_t *plain = make_stream(sizes, n, &len);
	for (int how = SPLIT_ALL; how <= SPLIT_RECORDS; how++) {
		bc_rx rx;
		uint8_t *wire = seal(&p->i_send, plain, len, &wlen);
		/* record layout: ceil(len / 65519) records, each with a u16
		 * length and a tag, all full but the last */
		records = (len + RP - 1) / RP;
		assert_int_equal(wlen, len + records * (2 + BC_NOISE_TAGLEN));
		for (size_t r = 0, pos = 0; r < records; r++) {
			size_t pl = r + 1 < records ? RP : len - r * RP;
			assert_int_equal(bc_load16(wire + pos),
					 pl + BC_NOISE_TAGLEN);
			pos += 2 + pl + BC_NOISE_TAGLEN;
		}
		bc_rx_init(&rx, max_frame);
		feed_split(&rx, &p->r_recv, wire, wlen, (enum split)how, plain,
			   len, &frames);
		assert_int_equal(frames, n);
		bc_rx_free(&rx);
		bc_free(wire);
	}
	free(plain);
}

static void test_one_frame_sizes(void **state)
{
	/* one frame whose total size sits on and around each record
	 * boundary, up to three records */
	static const size_t sizes[] = {
		9, 10, 100, RP - 1, RP, RP + 1, 2 * RP - 1, 2 * RP, 2 * RP + 1,
		3 * RP - 1, 3 * RP,
	};
	struct pair p;
	(void)state;
	pair_init(&p);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_stream(&p, &sizes[i], 1, 4 * RP);
	pair_wipe(&p);
}

static void test_empty_stream(void **state)
{
	struct pair p;
	bc_wr w;
	bc_rx rx;
	const uint8_t *fr;
	size_t len;
	(void)state;
	pair_init(&p);
	/* sealing nothing writes nothing and uses no nonce */
	bc_wr_init(&w, BC_CODEC_MAX);
	assert_int_equal(bc_tx_seal(&p.i_send, (const uint8_t *)"", 0, &w),
			 BC_OK);
	assert_int_equal(w.len, 0);
	assert_int_equal(p.i_send.n, 0);
	bc_wr_free(&w);
	/* feeding nothing holds nothing */
	bc_rx_init(&rx, 4096);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, NULL, 0), BC_OK);
	assert_int_equal(bc_rx_next(&rx, &fr, &len), 0);
	assert_int_equal(bc_rx_pending(&rx), 0);
	assert_null(rx.raw);
	assert_null(rx.plain);
	bc_rx_free(&rx);
	pair_wipe(&p);
}

static void test_many_frames(void **state)
{
	size_t sizes[600];
	struct pair p;
	(void)state;
	pair_init(&p);
	/* many small frames: several per record, some across records */
	for (size_t i = 0; i < 600; i++)
		sizes[i] = 9 + (size_t)(rng() % 700);
	/* max_frame is generous here: bc_rx_feed bounds all the plaintext
	 * it holds (complete frames included) by max_frame + 2 records, and
	 * SPLIT_ALL feeds these ~200 KiB in one call. */
	check_stream(&p, sizes, 600, 4 * RP);
	/* mixed: small, huge, small */
	sizes[0] = 9;
	sizes[1] = 2 * RP + 17;
	sizes[2] = 9;
	sizes[3] = 12;
	check_stream(&p, sizes, 4, 3 * RP);
	pair_wipe(&p);
}

/* Several seal calls, each its own records, fed as one wire. */
static void test_several_seals(void **state)
{
	static const size_t sizes[] = {9, 50, RP + 3, 9};
	struct pair p;
	uint8_t *plain, *wire = NULL;
	size_t len, wlen = 0, off = 0, frames = 0, pos = 0;
	bc_rx rx;
	(void)state;
	pair_init(&p);
	plain = make_stream(sizes, 4, &len);
	for (size_t i = 0; i < 4; i++) {
		size_t n;
		uint8_t *w = seal(&p.i_send, plain + pos, sizes[i], &n);
		wire = realloc(wire, wlen + n);
		assert_non_null(wire);
		memcpy(wire + wlen, w, n);
		wlen += n;
		pos += sizes[i];
		bc_free(w);
	}
	bc_rx_init(&rx, 2 * RP);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, wire, wlen), BC_OK);
	drain(&rx, plain, len, &off, &frames);
	assert_int_equal(frames, 4);
	assert_int_equal(off, len);
	bc_rx_free(&rx);
	free(wire);
	free(plain);
	pair_wipe(&p);
}

/* ---- frame headers ------------------------------------------------------ */

/* A record holding only a header "u32 flen | type | id". */
static uint8_t *header_record(bc_noise_cs *cs, uint32_t flen, size_t *wlen)
{
	uint8_t h[9];
	bc_store32(h, flen);
	h[4] = BC_T_PING;
	bc_store32(h + 5, 1);
	return seal(cs, h, sizeof(h), wlen);
}

static void test_header_toobig(void **state)
{
	struct pair p;
	(void)state;
	pair_init(&p);
	/* max_frame counts the whole frame, length prefix included */
	for (int mode = 0; mode < 2; mode++) {
		static const struct {
			uint32_t flen;
			int rc;
		} cases[] = {
			{4096 - 4, BC_OK},
			{4096 - 3, BC_ERR_TOOBIG},
			{UINT32_MAX - 3, BC_ERR_TOOBIG},
			{UINT32_MAX, BC_ERR_TOOBIG},
		};
		for (size_t i = 0; i < 4; i++) {
			bc_rx rx;
			size_t wlen;
			int rc = BC_OK;
			uint8_t *w = header_record(&p.i_send, cases[i].flen,
						   &wlen);
			bc_rx_init(&rx, 4096);
			if (mode == 0) { /* the whole record at once */
				rc = bc_rx_feed(&rx, &p.r_recv, w, wlen);
			} else { /* byte by byte: the partial-record path */
				for (size_t k = 0; k < wlen && rc == BC_OK;
				     k++)
					rc = bc_rx_feed(&rx, &p.r_recv, w + k,
							1);
			}
			/* decided on the header alone: no body was sent */
			assert_int_equal(rc, cases[i].rc);
			if (rc == BC_OK) {
				const uint8_t *fr;
				size_t len;
				assert_int_equal(bc_rx_next(&rx, &fr, &len), 0);
				assert_int_equal(bc_rx_pending(&rx), 9);
			}
			bc_rx_free(&rx);
			bc_free(w);
			if (rc != BC_OK) { /* the receiver is dead: resync */
				pair_wipe(&p);
				pair_init(&p);
			}
		}
	}
	pair_wipe(&p);
}

/* An oversized header behind a complete frame in the same record is
 * reported by bc_rx_next as soon as the frame before it is taken. */
static void test_header_toobig_second(void **state)
{
	struct pair p;
	uint8_t plain[9 + 9], *w;
	const uint8_t *fr;
	size_t wlen, len;
	bc_rx rx;
	(void)state;
	pair_init(&p);
	bc_store32(plain, 5);
	plain[4] = BC_T_PING;
	bc_store32(plain + 5, 1);
	bc_store32(plain + 9, 1u << 30);
	plain[13] = BC_T_PING;
	bc_store32(plain + 14, 2);
	w = seal(&p.i_send, plain, sizeof(plain), &wlen);
	bc_rx_init(&rx, 4096);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w, wlen), BC_OK);
	assert_int_equal(bc_rx_next(&rx, &fr, &len), 1);
	assert_int_equal(len, 9);
	assert_memory_equal(fr, plain, 9);
	assert_int_equal(bc_rx_next(&rx, &fr, &len), BC_ERR_TOOBIG);
	assert_null(fr);
	bc_rx_free(&rx);
	bc_free(w);
	pair_wipe(&p);
}

/* A header split over two records is checked once it is whole. */
static void test_header_split_records(void **state)
{
	struct pair p;
	uint8_t h[4], *w1, *w2;
	size_t l1, l2;
	bc_rx rx;
	(void)state;
	pair_init(&p);
	bc_store32(h, 100000);
	w1 = seal(&p.i_send, h, 2, &l1);
	w2 = seal(&p.i_send, h + 2, 2, &l2);
	bc_rx_init(&rx, 4096);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w1, l1), BC_OK);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w2, l2), BC_ERR_TOOBIG);
	bc_rx_free(&rx);
	bc_free(w1);
	bc_free(w2);
	pair_wipe(&p);
}

static void test_frame_too_short(void **state)
{
	struct pair p;
	(void)state;
	pair_init(&p);
	for (uint32_t flen = 0; flen <= 5; flen++) {
		uint8_t plain[9] = {0};
		const uint8_t *fr;
		size_t wlen, len;
		bc_rx rx;
		uint8_t *w;
		bc_store32(plain, flen);
		w = seal(&p.i_send, plain, 4 + flen, &wlen);
		bc_rx_init(&rx, 4096);
		assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w, wlen), BC_OK);
		if (flen < 5) {
			assert_int_equal(bc_rx_next(&rx, &fr, &len),
					 BC_ERR_MALFORMED);
		} else {
			assert_int_equal(bc_rx_next(&rx, &fr, &len), 1);
			assert_int_equal(len, 9);
		}
		bc_rx_free(&rx);
		bc_free(w);
	}
	pair_wipe(&p);
}

/* ---- forgeries ---------------------------------------------------------- */

static void test_flipped_bit(void **state)
{
	struct pair p;
	size_t sizes[1] = {40}, len, wlen, off = 0, frames = 0;
	uint8_t *plain, *w;
	bc_rx rx;
	(void)state;
	pair_init(&p);
	plain = make_stream(sizes, 1, &len);
	w = seal(&p.i_send, plain, len, &wlen);
	/* every bit of the ciphertext and the tag (not the length) */
	for (size_t i = 2; i < wlen; i++) {
		for (int b = 0; b < 8; b++) {
			uint8_t *c = malloc(wlen);
			uint64_t n0 = p.r_recv.n;
			assert_non_null(c);
			memcpy(c, w, wlen);
			c[i] ^= (uint8_t)(1u << b);
			bc_rx_init(&rx, 4096);
			assert_int_equal(bc_rx_feed(&rx, &p.r_recv, c, wlen),
					 BC_ERR_AUTH);
			assert_int_equal(p.r_recv.n, n0);
			bc_rx_free(&rx);
			free(c);
		}
	}
	/* the nonce did not move: the genuine record still opens */
	bc_rx_init(&rx, 4096);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w, wlen), BC_OK);
	drain(&rx, plain, len, &off, &frames);
	assert_int_equal(frames, 1);
	bc_rx_free(&rx);
	bc_free(w);
	free(plain);
	pair_wipe(&p);
}

/* A changed length field makes a different record: either one that is
 * still incomplete, or one that fails. Never a frame. */
static void test_length_field_changed(void **state)
{
	struct pair p;
	size_t sizes[1] = {40}, len, wlen;
	uint8_t *plain, *w;
	(void)state;
	pair_init(&p);
	plain = make_stream(sizes, 1, &len);
	w = seal(&p.i_send, plain, len, &wlen);
	for (int b = 0; b < 16; b++) {
		uint8_t *c = malloc(wlen);
		const uint8_t *fr;
		size_t flen;
		uint16_t l;
		bc_rx rx;
		int rc;
		assert_non_null(c);
		memcpy(c, w, wlen);
		l = (uint16_t)(bc_load16(c) ^ (1u << b));
		bc_store16(c, l);
		bc_rx_init(&rx, 4096);
		rc = bc_rx_feed(&rx, &p.r_recv, c, wlen);
		if (l < BC_NOISE_TAGLEN)
			assert_int_equal(rc, BC_ERR_PROTOCOL);
		else if (l <= wlen - 2)
			assert_int_equal(rc, BC_ERR_AUTH);
		else
			assert_int_equal(rc, BC_OK); /* waits for more */
		if (rc == BC_OK)
			assert_int_equal(bc_rx_next(&rx, &fr, &flen), 0);
		bc_rx_free(&rx);
		free(c);
	}
	bc_free(w);
	free(plain);
	pair_wipe(&p);
}

static void test_short_record(void **state)
{
	struct pair p;
	(void)state;
	pair_init(&p);
	for (uint16_t l = 0; l < BC_NOISE_TAGLEN; l++) {
		uint8_t rec[2 + BC_NOISE_TAGLEN] = {0};
		bc_rx rx;
		bc_store16(rec, l);
		bc_rx_init(&rx, 4096);
		assert_int_equal(bc_rx_feed(&rx, &p.r_recv, rec, 2u + l),
				 BC_ERR_PROTOCOL);
		bc_rx_free(&rx);
		/* the same through the partial-record path */
		bc_rx_init(&rx, 4096);
		assert_int_equal(bc_rx_feed(&rx, &p.r_recv, rec, 1), BC_OK);
		assert_int_equal(bc_rx_feed(&rx, &p.r_recv, rec + 1, 1u + l),
				 BC_ERR_PROTOCOL);
		bc_rx_free(&rx);
	}
	assert_int_equal(p.r_recv.n, 0);
	pair_wipe(&p);
}

static void test_replay_reorder(void **state)
{
	struct pair p;
	size_t sizes[1] = {30}, len, l1, l2, off, frames;
	uint8_t *plain, *w1, *w2;
	bc_rx rx;
	(void)state;
	pair_init(&p);
	plain = make_stream(sizes, 1, &len);
	w1 = seal(&p.i_send, plain, len, &l1);
	w2 = seal(&p.i_send, plain, len, &l2);
	assert_int_equal(l1, l2);
	assert_memory_not_equal(w1, w2, l1); /* another nonce */

	/* reordered: the second record first */
	bc_rx_init(&rx, 4096);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w2, l2), BC_ERR_AUTH);
	bc_rx_free(&rx);

	/* in order, then the first again */
	bc_rx_init(&rx, 4096);
	off = frames = 0;
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w1, l1), BC_OK);
	drain(&rx, plain, len, &off, &frames);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w1, l1), BC_ERR_AUTH);
	bc_rx_free(&rx);

	/* a record sealed for the other direction does not open either */
	{
		size_t l3;
		uint8_t *w3 = seal(&p.r_send, plain, len, &l3);
		bc_rx_init(&rx, 4096);
		assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w3, l3),
				 BC_ERR_AUTH);
		bc_rx_free(&rx);
		bc_free(w3);
	}
	bc_free(w1);
	bc_free(w2);
	free(plain);
	pair_wipe(&p);
}

/* An empty record (a tag only, L = 16) is legal: it carries nothing and
 * moves the nonce on, whether or not plaintext is already buffered. */
static void test_empty_record(void **state)
{
	struct pair p;
	uint8_t rec[2 + BC_NOISE_TAGLEN], *w;
	size_t sizes[1] = {20}, len, wlen, off = 0, frames = 0;
	uint8_t *plain;
	bc_rx rx;
	(void)state;
	pair_init(&p);
	plain = make_stream(sizes, 1, &len);

	bc_store16(rec, BC_NOISE_TAGLEN);
	assert_int_equal(bc_noise_cs_encrypt(&p.i_send, NULL, 0, rec, 0,
					     rec + 2),
			 BC_OK);
	bc_rx_init(&rx, 4096);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, rec, sizeof(rec)), BC_OK);
	assert_int_equal(p.r_recv.n, 1);
	assert_int_equal(bc_rx_pending(&rx), 0);
	bc_rx_compact(&rx);
	assert_null(rx.plain);
	assert_null(rx.raw);

	/* a frame after it still opens */
	w = seal(&p.i_send, plain, len, &wlen);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w, wlen), BC_OK);
	drain(&rx, plain, len, &off, &frames);
	assert_int_equal(frames, 1);
	bc_free(w);

	/* and one in the middle of a frame, with a buffer in use */
	w = seal(&p.i_send, plain, 5, &wlen);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w, wlen), BC_OK);
	bc_free(w);
	assert_int_equal(bc_noise_cs_encrypt(&p.i_send, NULL, 0, rec, 0,
					     rec + 2),
			 BC_OK);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, rec, sizeof(rec)), BC_OK);
	w = seal(&p.i_send, plain + 5, len - 5, &wlen);
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w, wlen), BC_OK);
	bc_free(w);
	off = frames = 0;
	drain(&rx, plain, len, &off, &frames);
	assert_int_equal(frames, 1);
	bc_rx_free(&rx);
	free(plain);
	pair_wipe(&p);
}

/* ---- buffers ------------------------------------------------------------ */

static void test_buffers_released(void **state)
{
	struct pair p;
	size_t sizes[2] = {100, RP + 50}, len, wlen, off = 0, frames = 0;
	uint8_t *plain, *w;
	const uint8_t *fr;
	size_t flen;
	bc_rx rx;
	(void)state;
	pair_init(&p);
	plain = make_stream(sizes, 2, &len);
	w = seal(&p.i_send, plain, len, &wlen);
	bc_rx_init(&rx, 2 * RP);
	assert_null(rx.raw);
	assert_null(rx.plain);

	/* half a record: held raw */
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w, 50), BC_OK);
	assert_int_equal(bc_rx_pending(&rx), 50);
	assert_non_null(rx.raw);
	assert_null(rx.plain);
	bc_rx_compact(&rx); /* nothing to release yet */
	assert_non_null(rx.raw);
	assert_int_equal(bc_rx_next(&rx, &fr, &flen), 0);

	/* the first record completes: one frame out, the second frame's
	 * start stays pending */
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv, w + 50,
				    2 + RP + BC_NOISE_TAGLEN - 50),
			 BC_OK);
	drain(&rx, plain, len, &off, &frames);
	assert_int_equal(frames, 1);
	assert_int_equal(bc_rx_pending(&rx), RP - 100);
	bc_rx_compact(&rx);
	assert_null(rx.raw); /* no partial record */
	assert_non_null(rx.plain);

	/* the rest: everything drains and both buffers go */
	assert_int_equal(bc_rx_feed(&rx, &p.r_recv,
				    w + 2 + RP + BC_NOISE_TAGLEN,
				    wlen - (2 + RP + BC_NOISE_TAGLEN)),
			 BC_OK);
	drain(&rx, plain, len, &off, &frames);
	assert_int_equal(frames, 2);
	assert_int_equal(bc_rx_pending(&rx), 0);
	bc_rx_compact(&rx);
	assert_null(rx.raw);
	assert_null(rx.plain);
	assert_int_equal(rx.plain_cap, 0);
	assert_int_equal(rx.raw_cap, 0);
	bc_rx_compact(&rx); /* idempotent */
	bc_rx_free(&rx);
	bc_rx_free(&rx); /* and so is free */
	bc_free(w);
	free(plain);
	pair_wipe(&p);
}

/* ---- allocation failures ------------------------------------------------ */

/* One full run (seal, feed in chunks, drain) with the nth allocation
 * failing. Returns true if the failure was hit. */
static bool nomem_run(unsigned long nth, size_t chunk)
{
	static const size_t sizes[] = {9, 300, RP + 10, 9, 2 * RP};
	struct pair p;
	size_t len, off = 0, frames = 0, pos = 0;
	uint8_t *plain, *wire = NULL;
	bool hit = false;
	bc_wr w;
	bc_rx rx;
	int rc;

	pair_init(&p);
	plain = make_stream(sizes, 5, &len);
	bc_rx_init(&rx, 3 * RP);
	bc_wr_init(&w, BC_CODEC_MAX);
	bc_alloc_fail_at(nth);
	rc = bc_tx_seal(&p.i_send, plain, len, &w);
	if (rc != BC_OK) {
		assert_int_equal(rc, BC_ERR_NOMEM);
		assert_int_equal(w.err, BC_ERR_NOMEM);
		hit = true;
		goto out;
	}
	wire = w.buf;
	while (pos < w.len) {
		size_t n = w.len - pos < chunk ? w.len - pos : chunk;
		rc = bc_rx_feed(&rx, &p.r_recv, wire + pos, n);
		if (rc != BC_OK) {
			assert_int_equal(rc, BC_ERR_NOMEM);
			hit = true;
			goto out;
		}
		pos += n;
		drain(&rx, plain, len, &off, &frames);
		bc_rx_compact(&rx);
	}
	assert_int_equal(frames, 5);
out:
	bc_alloc_fail_at(0);
	bc_wr_free(&w);
	bc_rx_free(&rx);
	free(plain);
	pair_wipe(&p);
	return hit;
}

static void test_nomem_every_allocation(void **state)
{
	static const size_t chunks[] = {1 << 20, 7000, 40000};
	(void)state;
	for (size_t c = 0; c < 3; c++) {
		unsigned long nth;
		for (nth = 1; nth < 1000; nth++)
			if (!nomem_run(nth, chunks[c]))
				break;
		assert_true(nth > 3);    /* there were failures to walk */
		assert_true(nth < 1000); /* and the walk ended */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_frame_sizes),
		cmocka_unit_test(test_empty_stream),
		cmocka_unit_test(test_many_frames),
		cmocka_unit_test(test_several_seals),
		cmocka_unit_test(test_header_toobig),
		cmocka_unit_test(test_header_toobig_second),
		cmocka_unit_test(test_header_split_records),
		cmocka_unit_test(test_frame_too_short),
		cmocka_unit_test(test_flipped_bit),
		cmocka_unit_test(test_length_field_changed),
		cmocka_unit_test(test_short_record),
		cmocka_unit_test(test_replay_reorder),
		cmocka_unit_test(test_empty_record),
		cmocka_unit_test(test_buffers_released),
		cmocka_unit_test(test_nomem_every_allocation),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("transport", tests, NULL, NULL);
}
