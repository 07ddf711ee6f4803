/*
 * test_proto.c - unit tests for the relay protocol frames (lib/proto.c).
 *
 * What is pinned down here:
 *   - every request and every response type, encoded the way lib/client.c
 *     and relay/server.c encode them (bc_proto_begin, bc_wr_*,
 *     bc_proto_end), decodes back with every field equal, in its own
 *     direction only (requests with from_relay false; responses, push and
 *     error with from_relay true); the other direction is BC_ERR_PROTOCOL;
 *   - the byte layout of frames, byte by byte: u32 big-endian length of
 *     what follows, u8 type, u32 big-endian request id, then the fields
 *     (codec.h rules);
 *   - rejection, with the error proto.c documents, of: a frame truncated at
 *     every offset (with and without a length prefix patched to match),
 *     one trailing byte, a wrong length prefix, an unknown type, a push
 *     with a request id, a request or response with id 0, post with 0 or
 *     more than 64 copies, fetch with max 0 or above 1024, ack with 0 ids,
 *     a bool byte of 2, invalid UTF-8 in an error text, a list whose count
 *     exceeds its elements, lengths over their caps (BC_ERR_TOOBIG); after
 *     every rejection the decoded frame holds no pointer and no value;
 *   - the preamble and the server hello, with their bounds;
 *   - bc_proto_cap_hash against a value computed independently (Python's
 *     hashlib), and its dependence on every input byte;
 *   - bc_proto_write_error: absolute error code, text cut to 256 bytes on
 *     a UTF-8 boundary, and a text that is not UTF-8 sent as no text.
 *
 * Truncated and extended copies live in exact-size heap blocks, so that
 * ASan and valgrind catch any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "codec.h"
#include "internal.h"
#include "proto.h"

/* ---- fixtures ----------------------------------------------------------- */

static uint8_t MB[BC_MAILBOX_LEN];   /* 0xa0 .. 0xbf */
static uint8_t MB2[BC_MAILBOX_LEN];  /* 0x60 .. 0x7f */
static uint8_t CAPT[BC_CAP_LEN];     /* 0xc0 .. 0xdf: a token */
static uint8_t CAPH[BC_CAPHASH_LEN]; /* 0xe0 .. 0xff: a hash */
static uint8_t MID[BC_MSGID_LEN];    /* 0x10 .. 0x1f */
static uint8_t IDS[3][BC_MSGID_LEN]; /* 0x30.., 0x40.., 0x50.. */

static void fixtures(void)
{
	for (int i = 0; i < 32; i++) {
		MB[i] = (uint8_t)(0xa0 + i);
		MB2[i] = (uint8_t)(0x60 + i);
		CAPT[i] = (uint8_t)(0xc0 + i);
		CAPH[i] = (uint8_t)(0xe0 + i);
	}
	for (int i = 0; i < 16; i++) {
		MID[i] = (uint8_t)(0x10 + i);
		for (int k = 0; k < 3; k++)
			IDS[k][i] = (uint8_t)(0x30 + 0x10 * k + i);
	}
}

/* ---- helpers ------------------------------------------------------------ */

/* Start a frame in a fresh growable writer (start offset 0). */
static void begin(bc_wr *w, uint8_t type, uint32_t id)
{
	bc_wr_init(w, BC_CODEC_MAX);
	assert_int_equal(bc_proto_begin(w, type, id), BC_OK);
}

/* Patch the length and hand out the frame. */
static uint8_t *end(bc_wr *w, size_t *len)
{
	uint8_t *out = NULL;
	assert_int_equal(bc_proto_end(w, 0), BC_OK);
	assert_int_equal(bc_wr_finish(w, &out, len), BC_OK);
	assert_non_null(out);
	return out;
}

/* An exact-size heap copy of the first n bytes of p. */
static uint8_t *exact(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

/* A frame "u32 len | type | id | body" built by hand (len is right). */
static uint8_t *raw_frame(uint8_t type, uint32_t id, const uint8_t *body,
			  size_t blen, size_t *len)
{
	uint8_t *b = malloc(9 + blen);
	assert_non_null(b);
	bc_store32(b, (uint32_t)(5 + blen));
	b[4] = type;
	bc_store32(b + 5, id);
	if (blen)
		memcpy(b + 9, body, blen);
	*len = 9 + blen;
	return b;
}

/* Everything of a rejected frame is cleared; only the type may remain. */
static void assert_zeroed(const bc_frame *f)
{
	assert_int_equal(f->req_id, 0);
	assert_null(f->mailbox);
	assert_null(f->cap);
	assert_null(f->msg_id);
	assert_null(f->data);
	assert_int_equal(f->data_len, 0);
	assert_null(f->data2);
	assert_int_equal(f->data2_len, 0);
	assert_int_equal(f->seq, 0);
	assert_int_equal(f->n, 0);
	assert_int_equal(f->count, 0);
	assert_false(f->flag);
	assert_int_equal(f->err_code, 0);
	assert_null(f->err_text);
	assert_int_equal(f->err_text_len, 0);
	assert_false(f->status.created);
	assert_int_equal(f->status.msgs, 0);
	assert_int_equal(f->status.bytes, 0);
	assert_int_equal(f->status.onetime_prekeys, 0);
	assert_false(f->status.has_signed_prekey);
	assert_null(f->list.p);
	assert_int_equal(f->list.len, 0);
	assert_int_equal(f->list.pos, 0);
	assert_int_equal(f->list.err, 0);
}

/* Decode expecting rc; on failure the frame must be cleared. The struct is
 * filled with garbage first so that "cleared" means something. */
static void decode_expect(const uint8_t *buf, size_t len, bool from_relay,
			  int want)
{
	bc_frame f;
	uint8_t *c = exact(buf, len);
	memset(&f, 0xa5, sizeof(f));
	assert_int_equal(bc_proto_decode(c, len, from_relay, &f), want);
	if (want != BC_OK)
		assert_zeroed(&f);
	free(c);
}

/* Decode buf (which must stay alive as long as f is used). */
static void decode_ok(const uint8_t *buf, size_t len, bool from_relay,
		      bc_frame *f)
{
	memset(f, 0x5a, sizeof(*f));
	assert_int_equal(bc_proto_decode(buf, len, from_relay, f), BC_OK);
	/* Any frame is legal in one direction only. */
	decode_expect(buf, len, !from_relay, BC_ERR_PROTOCOL);
}

/* ---- encoders, written the way client.c and server.c write frames ------- */

static uint8_t *enc_ping(uint8_t type, uint32_t id, const uint8_t *p,
			 size_t n, size_t *len)
{
	bc_wr w;
	begin(&w, type, id);
	bc_wr_bytes(&w, p, n);
	return end(&w, len);
}

static uint8_t *enc_mailbox(uint8_t type, uint32_t id, const uint8_t *mb,
			    size_t *len)
{
	bc_wr w;
	begin(&w, type, id);
	bc_wr_raw(&w, mb, BC_MAILBOX_LEN);
	return end(&w, len);
}

static uint8_t *enc_cap(uint8_t type, uint32_t id, size_t *len)
{
	bc_wr w;
	begin(&w, type, id);
	bc_wr_raw(&w, MB, BC_MAILBOX_LEN);
	bc_wr_raw(&w, CAPH, BC_CAPHASH_LEN);
	return end(&w, len);
}

struct copy {
	const uint8_t *mailbox, *cap, *body;
	size_t body_len;
};

static uint8_t *enc_post(uint32_t id, const struct copy *c, uint16_t n,
			 uint16_t count, size_t *len)
{
	bc_wr w;
	begin(&w, BC_T_POST, id);
	bc_wr_raw(&w, MID, BC_MSGID_LEN);
	bc_wr_u16(&w, count);
	for (uint16_t i = 0; i < n; i++) {
		bc_wr_raw(&w, c[i].mailbox, BC_MAILBOX_LEN);
		bc_wr_raw(&w, c[i].cap, BC_CAP_LEN);
		bc_wr_bytes(&w, c[i].body, c[i].body_len);
	}
	return end(&w, len);
}

static uint8_t *enc_fetch(uint32_t id, uint64_t after, uint32_t max,
			  size_t *len)
{
	bc_wr w;
	begin(&w, BC_T_FETCH, id);
	bc_wr_raw(&w, MB, BC_MAILBOX_LEN);
	bc_wr_u64(&w, after);
	bc_wr_u32(&w, max);
	return end(&w, len);
}

static uint8_t *enc_ack(uint32_t id, uint16_t n, uint16_t count, size_t *len)
{
	bc_wr w;
	begin(&w, BC_T_ACK, id);
	bc_wr_raw(&w, MB, BC_MAILBOX_LEN);
	bc_wr_u16(&w, count);
	for (uint16_t i = 0; i < n; i++)
		bc_wr_raw(&w, IDS[i % 3], BC_MSGID_LEN);
	return end(&w, len);
}

static uint8_t *enc_prekey_put(uint32_t id, const uint8_t *blob,
			       size_t blob_len, const uint8_t *const *blobs,
			       const size_t *lens, uint16_t n, size_t *len)
{
	bc_wr w;
	begin(&w, BC_T_PREKEY_PUT, id);
	bc_wr_raw(&w, MB, BC_MAILBOX_LEN);
	bc_wr_bool(&w, blob != NULL);
	if (blob != NULL)
		bc_wr_bytes(&w, blob, blob_len);
	bc_wr_u16(&w, n);
	for (uint16_t i = 0; i < n; i++)
		bc_wr_bytes(&w, blobs[i], lens[i]);
	return end(&w, len);
}

static uint8_t *enc_prekey_get(uint32_t id, size_t *len)
{
	bc_wr w;
	begin(&w, BC_T_PREKEY_GET, id);
	bc_wr_raw(&w, MB, BC_MAILBOX_LEN);
	bc_wr_raw(&w, CAPT, BC_CAP_LEN);
	return end(&w, len);
}

static uint8_t *enc_open_resp(uint32_t id, const bc_mbox_status *s,
			      size_t *len)
{
	bc_wr w;
	begin(&w, BC_T_RESPONSE | BC_T_OPEN, id);
	bc_wr_bool(&w, s->created);
	bc_wr_u32(&w, s->msgs);
	bc_wr_u64(&w, s->bytes);
	bc_wr_u32(&w, s->onetime_prekeys);
	bc_wr_bool(&w, s->has_signed_prekey);
	return end(&w, len);
}

static uint8_t *enc_empty(uint8_t type, uint32_t id, size_t *len)
{
	bc_wr w;
	begin(&w, type, id);
	return end(&w, len);
}

static uint8_t *enc_post_resp(uint32_t id, bool dup, size_t *len)
{
	bc_wr w;
	begin(&w, BC_T_RESPONSE | BC_T_POST, id);
	bc_wr_bool(&w, dup);
	return end(&w, len);
}

struct msg {
	uint64_t seq;
	const uint8_t *id, *body;
	size_t body_len;
};

static uint8_t *enc_fetch_resp(uint32_t id, bool more, const struct msg *m,
			       uint16_t n, uint16_t count, size_t *len)
{
	bc_wr w;
	begin(&w, BC_T_RESPONSE | BC_T_FETCH, id);
	bc_wr_bool(&w, more);
	bc_wr_u16(&w, count);
	for (uint16_t i = 0; i < n; i++) {
		bc_wr_u64(&w, m[i].seq);
		bc_wr_raw(&w, m[i].id, BC_MSGID_LEN);
		bc_wr_bytes(&w, m[i].body, m[i].body_len);
	}
	return end(&w, len);
}

static uint8_t *enc_u16_resp(uint8_t type, uint32_t id, uint16_t v,
			     size_t *len)
{
	bc_wr w;
	begin(&w, type, id);
	bc_wr_u16(&w, v);
	return end(&w, len);
}

static uint8_t *enc_u32_resp(uint8_t type, uint32_t id, uint32_t v,
			     size_t *len)
{
	bc_wr w;
	begin(&w, type, id);
	bc_wr_u32(&w, v);
	return end(&w, len);
}

static uint8_t *enc_prekey_get_resp(uint32_t id, const uint8_t *sb, size_t sl,
				    const uint8_t *ob, size_t ol, size_t *len)
{
	bc_wr w;
	begin(&w, BC_T_RESPONSE | BC_T_PREKEY_GET, id);
	bc_wr_bytes(&w, sb, sl);
	bc_wr_bool(&w, ob != NULL);
	if (ob != NULL)
		bc_wr_bytes(&w, ob, ol);
	return end(&w, len);
}

static uint8_t *enc_push(uint32_t id, uint64_t seq, const uint8_t *body,
			 size_t blen, size_t *len)
{
	bc_wr w;
	begin(&w, BC_T_PUSH, id);
	bc_wr_raw(&w, MB, BC_MAILBOX_LEN);
	bc_wr_u64(&w, seq);
	bc_wr_raw(&w, MID, BC_MSGID_LEN);
	bc_wr_bytes(&w, body, blen);
	return end(&w, len);
}

static uint8_t *enc_error(uint32_t id, int err, const char *text, size_t *len)
{
	bc_wr w;
	uint8_t *out = NULL;
	bc_wr_init(&w, BC_CODEC_MAX);
	assert_int_equal(bc_proto_write_error(&w, id, err, text), BC_OK);
	assert_int_equal(bc_wr_finish(&w, &out, len), BC_OK);
	return out;
}

/* ---- every valid frame, for the generic rejection tests ----------------- */

struct sample {
	uint8_t *buf;
	size_t len;
	bool from_relay;
};

#define MAX_SAMPLES 64

static size_t make_samples(struct sample *s)
{
	static const uint8_t body1[] = "sealed body one";
	static const uint8_t body2[] = {0x00, 0xff, 0x01};
	static const uint8_t blob_a[] = "signed prekey";
	static const uint8_t blob_b[] = "one-time";
	const uint8_t *blobs[2] = {blob_a, blob_b};
	const size_t lens[2] = {sizeof(blob_a), sizeof(blob_b)};
	struct copy copies[2] = {{MB, CAPT, body1, sizeof(body1)},
				 {MB2, CAPT, body2, sizeof(body2)}};
	struct msg msgs[2] = {{7, IDS[0], body1, sizeof(body1)},
			      {8, IDS[1], NULL, 0}};
	bc_mbox_status st = {true, 3, 4096, 12, true};
	size_t n = 0;
	uint8_t t;

#define ADD(rel, expr)                                                        \
	do {                                                                  \
		assert_true(n < MAX_SAMPLES);                                 \
		s[n].from_relay = (rel);                                      \
		s[n].buf = (expr);                                            \
		n++;                                                          \
	} while (0)
	/* requests */
	ADD(false, enc_ping(BC_T_PING, 1, (const uint8_t *)"hello", 5, &s[n].len));
	ADD(false, enc_ping(BC_T_PING, 2, NULL, 0, &s[n].len));
	ADD(false, enc_mailbox(BC_T_OPEN, 3, MB, &s[n].len));
	ADD(false, enc_cap(BC_T_CAP_ADD, 4, &s[n].len));
	ADD(false, enc_cap(BC_T_CAP_REVOKE, 5, &s[n].len));
	ADD(false, enc_post(6, copies, 2, 2, &s[n].len));
	ADD(false, enc_post(7, copies + 1, 1, 1, &s[n].len));
	ADD(false, enc_fetch(8, 99, 10, &s[n].len));
	ADD(false, enc_mailbox(BC_T_SUBSCRIBE, 9, MB, &s[n].len));
	ADD(false, enc_mailbox(BC_T_UNSUBSCRIBE, 10, MB, &s[n].len));
	ADD(false, enc_ack(11, 3, 3, &s[n].len));
	ADD(false, enc_prekey_put(12, blob_a, sizeof(blob_a), blobs, lens, 2,
				  &s[n].len));
	ADD(false, enc_prekey_put(13, NULL, 0, NULL, NULL, 0, &s[n].len));
	ADD(false, enc_prekey_get(14, &s[n].len));
	/* responses, push, error */
	ADD(true, enc_ping(BC_T_RESPONSE | BC_T_PING, 1, (const uint8_t *)"hello",
			   5, &s[n].len));
	ADD(true, enc_open_resp(3, &st, &s[n].len));
	t = BC_T_RESPONSE | BC_T_CAP_ADD;
	ADD(true, enc_empty(t, 4, &s[n].len));
	t = BC_T_RESPONSE | BC_T_CAP_REVOKE;
	ADD(true, enc_empty(t, 5, &s[n].len));
	ADD(true, enc_post_resp(6, true, &s[n].len));
	ADD(true, enc_fetch_resp(8, true, msgs, 2, 2, &s[n].len));
	ADD(true, enc_fetch_resp(8, false, NULL, 0, 0, &s[n].len));
	t = BC_T_RESPONSE | BC_T_SUBSCRIBE;
	ADD(true, enc_empty(t, 9, &s[n].len));
	t = BC_T_RESPONSE | BC_T_UNSUBSCRIBE;
	ADD(true, enc_empty(t, 10, &s[n].len));
	ADD(true, enc_u16_resp(BC_T_RESPONSE | BC_T_ACK, 11, 3, &s[n].len));
	ADD(true, enc_u32_resp(BC_T_RESPONSE | BC_T_PREKEY_PUT, 12, 2,
			       &s[n].len));
	ADD(true, enc_prekey_get_resp(14, blob_a, sizeof(blob_a), blob_b,
				      sizeof(blob_b), &s[n].len));
	ADD(true, enc_prekey_get_resp(14, blob_a, sizeof(blob_a), NULL, 0,
				      &s[n].len));
	ADD(true, enc_push(0, 42, body1, sizeof(body1), &s[n].len));
	ADD(true, enc_error(6, BC_ERR_QUOTA, "mailbox full", &s[n].len));
	ADD(true, enc_error(0, BC_ERR_PROTOCOL, "", &s[n].len));
#undef ADD
	return n;
}

static void free_samples(struct sample *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bc_free(s[i].buf);
}

/* ---- round trips: requests ---------------------------------------------- */

static void test_ping(void **state)
{
	uint8_t payload[BC_PROTO_MAX_PING];
	uint8_t *b;
	size_t len;
	bc_frame f;
	(void)state;
	randombytes_buf(payload, sizeof(payload));

	b = enc_ping(BC_T_PING, 0xdeadbeef, payload, 5, &len);
	decode_ok(b, len, false, &f);
	assert_int_equal(f.type, BC_T_PING);
	assert_int_equal(f.req_id, 0xdeadbeef);
	assert_int_equal(f.data_len, 5);
	assert_memory_equal(f.data, payload, 5);
	assert_ptr_equal(f.data, b + 13); /* by reference into the buffer */
	assert_null(f.mailbox);
	bc_free(b);

	/* the largest payload */
	b = enc_ping(BC_T_PING, 1, payload, sizeof(payload), &len);
	decode_ok(b, len, false, &f);
	assert_int_equal(f.data_len, BC_PROTO_MAX_PING);
	assert_memory_equal(f.data, payload, sizeof(payload));
	bc_free(b);

	/* pong echoes it */
	b = enc_ping(BC_T_RESPONSE | BC_T_PING, 77, payload, 33, &len);
	decode_ok(b, len, true, &f);
	assert_int_equal(f.type, BC_T_RESPONSE | BC_T_PING);
	assert_int_equal(f.req_id, 77);
	assert_int_equal(f.data_len, 33);
	assert_memory_equal(f.data, payload, 33);
	bc_free(b);
}

static void test_mailbox_requests(void **state)
{
	static const uint8_t types[] = {BC_T_OPEN, BC_T_SUBSCRIBE,
					BC_T_UNSUBSCRIBE};
	(void)state;
	for (size_t i = 0; i < sizeof(types); i++) {
		size_t len;
		bc_frame f;
		uint8_t *b = enc_mailbox(types[i], (uint32_t)(100 + i), MB2,
					 &len);
		assert_int_equal(len, 9 + 32);
		decode_ok(b, len, false, &f);
		assert_int_equal(f.type, types[i]);
		assert_int_equal(f.req_id, 100 + i);
		assert_memory_equal(f.mailbox, MB2, BC_MAILBOX_LEN);
		assert_null(f.cap);
		assert_int_equal(f.count, 0);
		bc_free(b);
	}
}

static void test_cap_requests(void **state)
{
	static const uint8_t types[] = {BC_T_CAP_ADD, BC_T_CAP_REVOKE};
	(void)state;
	for (size_t i = 0; i < sizeof(types); i++) {
		size_t len;
		bc_frame f;
		uint8_t *b = enc_cap(types[i], UINT32_MAX, &len);
		decode_ok(b, len, false, &f);
		assert_int_equal(f.type, types[i]);
		assert_int_equal(f.req_id, UINT32_MAX);
		assert_memory_equal(f.mailbox, MB, BC_MAILBOX_LEN);
		assert_memory_equal(f.cap, CAPH, BC_CAPHASH_LEN);
		bc_free(b);
	}
}

static void test_post(void **state)
{
	static uint8_t bodies[BC_PROTO_MAX_COPIES][8];
	struct copy c[BC_PROTO_MAX_COPIES];
	bc_post_item it;
	size_t len;
	bc_frame f;
	uint8_t *b;
	(void)state;

	for (int i = 0; i < BC_PROTO_MAX_COPIES; i++) {
		memset(bodies[i], i, sizeof(bodies[i]));
		c[i].mailbox = i % 2 ? MB2 : MB;
		c[i].cap = CAPT;
		c[i].body = bodies[i];
		c[i].body_len = (size_t)i % 9; /* 0 .. 8 bytes */
	}
	for (uint16_t n = 1; n <= BC_PROTO_MAX_COPIES; n = (uint16_t)(n * 2)) {
		b = enc_post(n, c, n, n, &len);
		decode_ok(b, len, false, &f);
		assert_int_equal(f.type, BC_T_POST);
		assert_int_equal(f.req_id, n);
		assert_memory_equal(f.msg_id, MID, BC_MSGID_LEN);
		assert_int_equal(f.count, n);
		for (uint16_t i = 0; i < n; i++) {
			assert_int_equal(bc_proto_next_post(&f, &it), BC_OK);
			assert_memory_equal(it.mailbox, c[i].mailbox,
					    BC_MAILBOX_LEN);
			assert_memory_equal(it.cap, CAPT, BC_CAP_LEN);
			assert_int_equal(it.body_len, c[i].body_len);
			if (it.body_len)
				assert_memory_equal(it.body, c[i].body,
						    it.body_len);
		}
		/* The list is the last field: nothing more to walk. */
		assert_int_equal(f.list.pos, f.list.len);
		assert_int_not_equal(bc_proto_next_post(&f, &it), BC_OK);
		bc_free(b);
	}
}

static void test_fetch(void **state)
{
	static const uint32_t maxes[] = {1, 2, 512, BC_PROTO_MAX_FETCH};
	(void)state;
	for (size_t i = 0; i < 4; i++) {
		size_t len;
		bc_frame f;
		uint8_t *b = enc_fetch(9, UINT64_MAX - i, maxes[i], &len);
		decode_ok(b, len, false, &f);
		assert_int_equal(f.type, BC_T_FETCH);
		assert_memory_equal(f.mailbox, MB, BC_MAILBOX_LEN);
		assert_int_equal(f.seq, UINT64_MAX - i);
		assert_int_equal(f.n, maxes[i]);
		bc_free(b);
	}
}

static void test_ack(void **state)
{
	static const uint16_t ns[] = {1, 3, BC_PROTO_MAX_ACKS};
	(void)state;
	for (size_t k = 0; k < 3; k++) {
		size_t len;
		bc_frame f;
		uint8_t *b = enc_ack(5, ns[k], ns[k], &len);
		decode_ok(b, len, false, &f);
		assert_int_equal(f.type, BC_T_ACK);
		assert_memory_equal(f.mailbox, MB, BC_MAILBOX_LEN);
		assert_int_equal(f.count, ns[k]);
		for (uint16_t i = 0; i < ns[k]; i++) {
			const uint8_t *id;
			assert_int_equal(bc_proto_next_id(&f, &id), BC_OK);
			assert_memory_equal(id, IDS[i % 3], BC_MSGID_LEN);
		}
		assert_int_equal(f.list.pos, f.list.len);
		bc_free(b);
	}
}

static void test_prekey_put(void **state)
{
	static uint8_t big[BC_PROTO_MAX_PREKEY_BLOB];
	const uint8_t *blobs[BC_PROTO_MAX_PREKEYS];
	size_t lens[BC_PROTO_MAX_PREKEYS];
	size_t len;
	bc_frame f;
	uint8_t *b;
	(void)state;
	randombytes_buf(big, sizeof(big));
	for (int i = 0; i < BC_PROTO_MAX_PREKEYS; i++) {
		blobs[i] = big + i;
		lens[i] = (size_t)i * 7;
	}

	/* signed blob and the most one-time blobs */
	b = enc_prekey_put(21, big, sizeof(big), blobs, lens,
			   BC_PROTO_MAX_PREKEYS, &len);
	decode_ok(b, len, false, &f);
	assert_int_equal(f.type, BC_T_PREKEY_PUT);
	assert_int_equal(f.req_id, 21);
	assert_memory_equal(f.mailbox, MB, BC_MAILBOX_LEN);
	assert_true(f.flag);
	assert_int_equal(f.data_len, sizeof(big));
	assert_memory_equal(f.data, big, sizeof(big));
	assert_int_equal(f.count, BC_PROTO_MAX_PREKEYS);
	for (int i = 0; i < BC_PROTO_MAX_PREKEYS; i++) {
		const uint8_t *p;
		size_t n;
		assert_int_equal(bc_proto_next_blob(&f, &p, &n), BC_OK);
		assert_int_equal(n, lens[i]);
		if (n)
			assert_memory_equal(p, blobs[i], n);
	}
	assert_int_equal(f.list.pos, f.list.len);
	bc_free(b);

	/* neither */
	b = enc_prekey_put(22, NULL, 0, NULL, NULL, 0, &len);
	assert_int_equal(len, 9 + 32 + 1 + 2);
	decode_ok(b, len, false, &f);
	assert_false(f.flag);
	assert_null(f.data);
	assert_int_equal(f.count, 0);
	bc_free(b);
}

static void test_prekey_get(void **state)
{
	size_t len;
	bc_frame f;
	uint8_t *b;
	(void)state;
	b = enc_prekey_get(31, &len);
	decode_ok(b, len, false, &f);
	assert_int_equal(f.type, BC_T_PREKEY_GET);
	assert_int_equal(f.req_id, 31);
	assert_memory_equal(f.mailbox, MB, BC_MAILBOX_LEN);
	assert_memory_equal(f.cap, CAPT, BC_CAP_LEN);
	bc_free(b);
}

/* ---- round trips: responses, push, error -------------------------------- */

static void test_open_resp(void **state)
{
	bc_mbox_status st[2] = {{true, UINT32_MAX, UINT64_MAX, 0, false},
				{false, 0, 0, UINT32_MAX, true}};
	(void)state;
	for (int i = 0; i < 2; i++) {
		size_t len;
		bc_frame f;
		uint8_t *b = enc_open_resp(40, &st[i], &len);
		assert_int_equal(len, 9 + 1 + 4 + 8 + 4 + 1);
		decode_ok(b, len, true, &f);
		assert_int_equal(f.type, BC_T_RESPONSE | BC_T_OPEN);
		assert_int_equal(f.req_id, 40);
		assert_int_equal(f.status.created, st[i].created);
		assert_int_equal(f.status.msgs, st[i].msgs);
		assert_int_equal(f.status.bytes, st[i].bytes);
		assert_int_equal(f.status.onetime_prekeys,
				 st[i].onetime_prekeys);
		assert_int_equal(f.status.has_signed_prekey,
				 st[i].has_signed_prekey);
		bc_free(b);
	}
}

static void test_empty_resps(void **state)
{
	static const uint8_t types[] = {
		BC_T_RESPONSE | BC_T_CAP_ADD, BC_T_RESPONSE | BC_T_CAP_REVOKE,
		BC_T_RESPONSE | BC_T_SUBSCRIBE,
		BC_T_RESPONSE | BC_T_UNSUBSCRIBE};
	(void)state;
	for (size_t i = 0; i < sizeof(types); i++) {
		size_t len;
		bc_frame f;
		uint8_t *b = enc_empty(types[i], 50, &len);
		assert_int_equal(len, 9);
		decode_ok(b, len, true, &f);
		assert_int_equal(f.type, types[i]);
		assert_int_equal(f.req_id, 50);
		bc_free(b);
		/* A body is one byte too many. */
		b = raw_frame(types[i], 50, (const uint8_t *)"x", 1, &len);
		decode_expect(b, len, true, BC_ERR_MALFORMED);
		free(b);
	}
}

static void test_post_resp(void **state)
{
	(void)state;
	for (int dup = 0; dup < 2; dup++) {
		size_t len;
		bc_frame f;
		uint8_t *b = enc_post_resp(60, dup, &len);
		decode_ok(b, len, true, &f);
		assert_int_equal(f.type, BC_T_RESPONSE | BC_T_POST);
		assert_int_equal(f.flag, dup);
		bc_free(b);
	}
}

static void test_fetch_resp(void **state)
{
	static uint8_t body[300];
	struct msg m[3] = {{1, IDS[0], body, 300},
			   {2, IDS[1], NULL, 0},
			   {UINT64_MAX, IDS[2], body, 1}};
	size_t len;
	bc_frame f;
	uint8_t *b;
	(void)state;
	randombytes_buf(body, sizeof(body));

	b = enc_fetch_resp(70, true, m, 3, 3, &len);
	decode_ok(b, len, true, &f);
	assert_int_equal(f.type, BC_T_RESPONSE | BC_T_FETCH);
	assert_int_equal(f.req_id, 70);
	assert_true(f.flag);
	assert_int_equal(f.count, 3);
	for (int i = 0; i < 3; i++) {
		bc_msg_item it;
		assert_int_equal(bc_proto_next_msg(&f, &it), BC_OK);
		assert_int_equal(it.seq, m[i].seq);
		assert_memory_equal(it.msg_id, m[i].id, BC_MSGID_LEN);
		assert_int_equal(it.body_len, m[i].body_len);
		if (it.body_len)
			assert_memory_equal(it.body, m[i].body, it.body_len);
	}
	assert_int_equal(f.list.pos, f.list.len);
	bc_free(b);

	b = enc_fetch_resp(71, false, NULL, 0, 0, &len);
	decode_ok(b, len, true, &f);
	assert_false(f.flag);
	assert_int_equal(f.count, 0);
	bc_free(b);
}

static void test_counter_resps(void **state)
{
	size_t len;
	bc_frame f;
	uint8_t *b;
	(void)state;
	b = enc_u16_resp(BC_T_RESPONSE | BC_T_ACK, 80, 1024, &len);
	decode_ok(b, len, true, &f);
	assert_int_equal(f.type, BC_T_RESPONSE | BC_T_ACK);
	assert_int_equal(f.count, 1024);
	bc_free(b);
	b = enc_u32_resp(BC_T_RESPONSE | BC_T_PREKEY_PUT, 81, 0x01020304, &len);
	decode_ok(b, len, true, &f);
	assert_int_equal(f.type, BC_T_RESPONSE | BC_T_PREKEY_PUT);
	assert_int_equal(f.n, 0x01020304);
	bc_free(b);
}

static void test_prekey_get_resp(void **state)
{
	static uint8_t sb[BC_PROTO_MAX_PREKEY_BLOB], ob[100];
	size_t len;
	bc_frame f;
	uint8_t *b;
	(void)state;
	randombytes_buf(sb, sizeof(sb));
	randombytes_buf(ob, sizeof(ob));

	b = enc_prekey_get_resp(90, sb, sizeof(sb), ob, sizeof(ob), &len);
	decode_ok(b, len, true, &f);
	assert_int_equal(f.type, BC_T_RESPONSE | BC_T_PREKEY_GET);
	assert_int_equal(f.data_len, sizeof(sb));
	assert_memory_equal(f.data, sb, sizeof(sb));
	assert_true(f.flag);
	assert_int_equal(f.data2_len, sizeof(ob));
	assert_memory_equal(f.data2, ob, sizeof(ob));
	bc_free(b);

	b = enc_prekey_get_resp(91, sb, 0, NULL, 0, &len);
	decode_ok(b, len, true, &f);
	assert_int_equal(f.data_len, 0);
	assert_false(f.flag);
	assert_null(f.data2);
	assert_int_equal(f.data2_len, 0);
	bc_free(b);
}

static void test_push(void **state)
{
	static uint8_t body[5000];
	size_t len;
	bc_frame f;
	uint8_t *b;
	(void)state;
	randombytes_buf(body, sizeof(body));
	b = enc_push(0, 0x0102030405060708ull, body, sizeof(body), &len);
	decode_ok(b, len, true, &f);
	assert_int_equal(f.type, BC_T_PUSH);
	assert_int_equal(f.req_id, 0);
	assert_memory_equal(f.mailbox, MB, BC_MAILBOX_LEN);
	assert_int_equal(f.seq, 0x0102030405060708ull);
	assert_memory_equal(f.msg_id, MID, BC_MSGID_LEN);
	assert_int_equal(f.data_len, sizeof(body));
	assert_memory_equal(f.data, body, sizeof(body));
	bc_free(b);
}

static void test_error_frame(void **state)
{
	size_t len;
	bc_frame f;
	uint8_t *b;
	(void)state;
	b = enc_error(123, BC_ERR_CAPABILITY, "no such capability \xc3\xa9", &len);
	decode_ok(b, len, true, &f);
	assert_int_equal(f.type, BC_T_ERROR);
	assert_int_equal(f.req_id, 123);
	assert_int_equal(f.err_code, -BC_ERR_CAPABILITY);
	assert_int_equal(f.err_text_len, strlen("no such capability \xc3\xa9"));
	assert_memory_equal(f.err_text, "no such capability \xc3\xa9",
			    f.err_text_len);
	bc_free(b);

	/* A connection-level error carries request id 0; a positive code is
	 * sent as is. */
	b = enc_error(0, 19, "bye", &len);
	decode_ok(b, len, true, &f);
	assert_int_equal(f.req_id, 0);
	assert_int_equal(f.err_code, 19);
	bc_free(b);
}

/* ---- byte layout -------------------------------------------------------- */

static void test_layout_fetch(void **state)
{
	static const uint8_t want[] = {
		0x00, 0x00, 0x00, 0x31,         /* length of the rest: 49 */
		0x06,                           /* type: fetch */
		0x01, 0x02, 0x03, 0x04,         /* request id */
		0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, /* mailbox */
		0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
		0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
		0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* after */
		0x00, 0x00, 0x01, 0x00,         /* max: 256 */
	};
	size_t len;
	uint8_t *b;
	(void)state;
	b = enc_fetch(0x01020304, 0x1122334455667788ull, 256, &len);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(b, want, sizeof(want));
	bc_free(b);
}

static void test_layout_post(void **state)
{
	struct copy c = {MB, CAPT, (const uint8_t *)"hi", 2};
	uint8_t want[9 + 16 + 2 + 32 + 32 + 4 + 2], *p = want;
	size_t len;
	uint8_t *b;
	(void)state;
	memcpy(p, "\x00\x00\x00\x5d", 4), p += 4; /* 93 */
	*p++ = 0x05;
	memcpy(p, "\x0a\x0b\x0c\x0d", 4), p += 4;
	memcpy(p, MID, 16), p += 16;
	memcpy(p, "\x00\x01", 2), p += 2; /* one copy */
	memcpy(p, MB, 32), p += 32;
	memcpy(p, CAPT, 32), p += 32;
	memcpy(p, "\x00\x00\x00\x02hi", 6), p += 6;
	assert_int_equal((size_t)(p - want), sizeof(want));
	b = enc_post(0x0a0b0c0d, &c, 1, 1, &len);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(b, want, sizeof(want));
	bc_free(b);
}

static void test_layout_push_error(void **state)
{
	uint8_t want[9 + 32 + 8 + 16 + 4 + 3], *p = want;
	static const uint8_t want_err[] = {
		0x00, 0x00, 0x00, 0x0e, 0xff, 0x00, 0x00, 0x00, 0x07,
		0x00, 0x10,             /* code 16 (quota) */
		0x00, 0x00, 0x00, 0x03, 'f', 'u', 'l',
	};
	size_t len;
	uint8_t *b;
	(void)state;
	memcpy(p, "\x00\x00\x00\x44\x40\x00\x00\x00\x00", 9), p += 9;
	memcpy(p, MB, 32), p += 32;
	memcpy(p, "\x00\x00\x00\x00\x00\x00\x01\x00", 8), p += 8;
	memcpy(p, MID, 16), p += 16;
	memcpy(p, "\x00\x00\x00\x03" "abc", 7), p += 7;
	assert_int_equal((size_t)(p - want), sizeof(want));
	b = enc_push(0, 256, (const uint8_t *)"abc", 3, &len);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(b, want, sizeof(want));
	bc_free(b);

	b = enc_error(7, BC_ERR_QUOTA, "ful", &len);
	assert_int_equal(len, sizeof(want_err));
	assert_memory_equal(b, want_err, sizeof(want_err));
	bc_free(b);
}

/* ---- generic rejections ------------------------------------------------- */

static void test_truncated_every_offset(void **state)
{
	struct sample s[MAX_SAMPLES];
	size_t n = make_samples(s);
	(void)state;
	for (size_t i = 0; i < n; i++) {
		decode_expect(s[i].buf, s[i].len, s[i].from_relay, BC_OK);
		for (size_t k = 0; k < s[i].len; k++) {
			uint8_t *c = exact(s[i].buf, k);
			/* as cut: the length prefix no longer matches */
			decode_expect(c, k, s[i].from_relay, BC_ERR_MALFORMED);
			/* with the prefix patched: the body itself is short */
			if (k >= 4) {
				bc_store32(c, (uint32_t)(k - 4));
				decode_expect(c, k, s[i].from_relay,
					      BC_ERR_MALFORMED);
			}
			free(c);
		}
	}
	free_samples(s, n);
}

static void test_trailing_byte(void **state)
{
	struct sample s[MAX_SAMPLES];
	size_t n = make_samples(s);
	(void)state;
	for (size_t i = 0; i < n; i++) {
		uint8_t *c = malloc(s[i].len + 1);
		assert_non_null(c);
		memcpy(c, s[i].buf, s[i].len);
		c[s[i].len] = 0;
		/* length prefix covers the extra byte */
		bc_store32(c, (uint32_t)(s[i].len - 3));
		decode_expect(c, s[i].len + 1, s[i].from_relay,
			      BC_ERR_MALFORMED);
		/* length prefix does not */
		bc_store32(c, (uint32_t)(s[i].len - 4));
		decode_expect(c, s[i].len + 1, s[i].from_relay,
			      BC_ERR_MALFORMED);
		free(c);
	}
	free_samples(s, n);
}

static void test_wrong_length_prefix(void **state)
{
	static const int64_t deltas[] = {-5, -1, 1, 2, 1 << 20};
	struct sample s[MAX_SAMPLES];
	size_t n = make_samples(s);
	(void)state;
	for (size_t i = 0; i < n; i++) {
		uint8_t *c = exact(s[i].buf, s[i].len);
		uint32_t good = bc_load32(c);
		for (size_t d = 0; d < 5; d++) {
			bc_store32(c, (uint32_t)((int64_t)good + deltas[d]));
			decode_expect(c, s[i].len, s[i].from_relay,
				      BC_ERR_MALFORMED);
		}
		bc_store32(c, UINT32_MAX);
		decode_expect(c, s[i].len, s[i].from_relay, BC_ERR_MALFORMED);
		bc_store32(c, 0);
		decode_expect(c, s[i].len, s[i].from_relay, BC_ERR_MALFORMED);
		free(c);
	}
	free_samples(s, n);
	/* Nothing at all, and a NULL buffer. */
	{
		bc_frame f;
		memset(&f, 0x11, sizeof(f));
		assert_int_equal(bc_proto_decode(NULL, 0, false, &f),
				 BC_ERR_MALFORMED);
		assert_zeroed(&f);
	}
}

static void test_wrong_direction(void **state)
{
	struct sample s[MAX_SAMPLES];
	size_t n = make_samples(s);
	(void)state;
	for (size_t i = 0; i < n; i++) {
		decode_expect(s[i].buf, s[i].len, s[i].from_relay, BC_OK);
		decode_expect(s[i].buf, s[i].len, !s[i].from_relay,
			      BC_ERR_PROTOCOL);
	}
	free_samples(s, n);
}

static void test_unknown_types(void **state)
{
	uint8_t body[63] = {0};
	(void)state;
	for (unsigned t = 0; t < 256; t++) {
		bool req = t >= BC_T_PING && t <= BC_T_PREKEY_GET;
		bool rel = t == BC_T_PUSH || t == BC_T_ERROR ||
			   (t > BC_T_RESPONSE &&
			    t <= (BC_T_RESPONSE | BC_T_PREKEY_GET));
		size_t len;
		uint8_t *b = raw_frame((uint8_t)t, 1, body, sizeof(body), &len);
		/* 63 zero bytes are a body for no type, so a known type is
		 * MALFORMED, an unknown one PROTOCOL. */
		decode_expect(b, len, false,
			      req ? BC_ERR_MALFORMED : BC_ERR_PROTOCOL);
		decode_expect(b, len, true,
			      rel ? BC_ERR_MALFORMED : BC_ERR_PROTOCOL);
		free(b);
	}
}

static void test_request_ids(void **state)
{
	struct sample s[MAX_SAMPLES];
	size_t n = make_samples(s);
	(void)state;
	for (size_t i = 0; i < n; i++) {
		uint8_t *c = exact(s[i].buf, s[i].len);
		uint8_t type = c[4];
		/* id 0 is reserved for push (and connection-level errors) */
		bc_store32(c + 5, 0);
		decode_expect(c, s[i].len, s[i].from_relay,
			      type == BC_T_PUSH || type == BC_T_ERROR
				      ? BC_OK
				      : BC_ERR_MALFORMED);
		/* and push uses nothing else */
		bc_store32(c + 5, 1);
		decode_expect(c, s[i].len, s[i].from_relay,
			      type == BC_T_PUSH ? BC_ERR_MALFORMED : BC_OK);
		bc_store32(c + 5, UINT32_MAX);
		decode_expect(c, s[i].len, s[i].from_relay,
			      type == BC_T_PUSH ? BC_ERR_MALFORMED : BC_OK);
		free(c);
	}
	free_samples(s, n);
}

/* ---- type-specific rejections ------------------------------------------- */

static void test_post_copies(void **state)
{
	static const uint8_t body[4] = "body";
	struct copy c[BC_PROTO_MAX_COPIES + 1];
	size_t len;
	uint8_t *b;
	(void)state;
	for (int i = 0; i <= BC_PROTO_MAX_COPIES; i++)
		c[i] = (struct copy){MB, CAPT, body, sizeof(body)};
	b = enc_post(1, c, 0, 0, &len);
	decode_expect(b, len, false, BC_ERR_MALFORMED);
	bc_free(b);
	b = enc_post(1, c, BC_PROTO_MAX_COPIES, BC_PROTO_MAX_COPIES, &len);
	decode_expect(b, len, false, BC_OK);
	bc_free(b);
	b = enc_post(1, c, BC_PROTO_MAX_COPIES + 1, BC_PROTO_MAX_COPIES + 1,
		     &len);
	decode_expect(b, len, false, BC_ERR_TOOBIG);
	bc_free(b);
	b = enc_post(1, c, 0, UINT16_MAX, &len);
	decode_expect(b, len, false, BC_ERR_TOOBIG);
	bc_free(b);
	/* count above the elements present, and below */
	b = enc_post(1, c, 2, 3, &len);
	decode_expect(b, len, false, BC_ERR_MALFORMED);
	bc_free(b);
	b = enc_post(1, c, 3, 2, &len);
	decode_expect(b, len, false, BC_ERR_MALFORMED);
	bc_free(b);
}

static void test_post_body_caps(void **state)
{
	uint8_t body[16 + 2 + 32 + 32 + 4];
	size_t len;
	uint8_t *b;
	(void)state;
	memcpy(body, MID, 16);
	bc_store16(body + 16, 1);
	memcpy(body + 18, MB, 32);
	memcpy(body + 50, CAPT, 32);
	/* A declared body length over the hard cap is TOOBIG before any
	 * byte of it is looked for. */
	bc_store32(body + 82, BC_PROTO_HARD_MAX_FRAME + 1);
	b = raw_frame(BC_T_POST, 1, body, sizeof(body), &len);
	decode_expect(b, len, false, BC_ERR_TOOBIG);
	free(b);
	bc_store32(body + 82, UINT32_MAX);
	b = raw_frame(BC_T_POST, 1, body, sizeof(body), &len);
	decode_expect(b, len, false, BC_ERR_TOOBIG);
	free(b);
	/* within the cap but absent */
	bc_store32(body + 82, BC_PROTO_HARD_MAX_FRAME);
	b = raw_frame(BC_T_POST, 1, body, sizeof(body), &len);
	decode_expect(b, len, false, BC_ERR_MALFORMED);
	free(b);
}

static void test_fetch_max(void **state)
{
	static const struct {
		uint32_t max;
		int rc;
	} cases[] = {
		{0, BC_ERR_MALFORMED},
		{1, BC_OK},
		{BC_PROTO_MAX_FETCH, BC_OK},
		{BC_PROTO_MAX_FETCH + 1, BC_ERR_MALFORMED},
		{UINT32_MAX, BC_ERR_MALFORMED},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		uint8_t *b = enc_fetch(1, 0, cases[i].max, &len);
		decode_expect(b, len, false, cases[i].rc);
		bc_free(b);
	}
}

static void test_ack_ids(void **state)
{
	size_t len;
	uint8_t *b;
	(void)state;
	b = enc_ack(1, 0, 0, &len);
	decode_expect(b, len, false, BC_ERR_MALFORMED);
	bc_free(b);
	b = enc_ack(1, BC_PROTO_MAX_ACKS + 1, BC_PROTO_MAX_ACKS + 1, &len);
	decode_expect(b, len, false, BC_ERR_TOOBIG);
	bc_free(b);
	b = enc_ack(1, 2, 3, &len); /* count over the ids present */
	decode_expect(b, len, false, BC_ERR_MALFORMED);
	bc_free(b);
	b = enc_ack(1, 3, 2, &len); /* an id too many */
	decode_expect(b, len, false, BC_ERR_MALFORMED);
	bc_free(b);
}

static void test_prekey_put_bad(void **state)
{
	static uint8_t big[BC_PROTO_MAX_PREKEY_BLOB + 1];
	const uint8_t *blobs[BC_PROTO_MAX_PREKEYS + 1];
	size_t lens[BC_PROTO_MAX_PREKEYS + 1];
	size_t len;
	uint8_t *b;
	(void)state;
	for (int i = 0; i <= BC_PROTO_MAX_PREKEYS; i++) {
		blobs[i] = big;
		lens[i] = 1;
	}
	/* signed blob over the cap */
	b = enc_prekey_put(1, big, sizeof(big), NULL, NULL, 0, &len);
	decode_expect(b, len, false, BC_ERR_TOOBIG);
	bc_free(b);
	/* one-time blob over the cap */
	lens[0] = sizeof(big);
	b = enc_prekey_put(1, NULL, 0, blobs, lens, 1, &len);
	decode_expect(b, len, false, BC_ERR_TOOBIG);
	bc_free(b);
	lens[0] = 1;
	/* too many one-time blobs */
	b = enc_prekey_put(1, NULL, 0, blobs, lens, BC_PROTO_MAX_PREKEYS + 1,
			   &len);
	decode_expect(b, len, false, BC_ERR_TOOBIG);
	bc_free(b);
	/* a count above the blobs present */
	b = enc_prekey_put(1, NULL, 0, blobs, lens, 2, &len);
	bc_store16(b + 9 + 32 + 1, 3);
	decode_expect(b, len, false, BC_ERR_MALFORMED);
	bc_free(b);
	/* bool byte 2 */
	b = enc_prekey_put(1, NULL, 0, NULL, NULL, 0, &len);
	b[9 + 32] = 2;
	decode_expect(b, len, false, BC_ERR_MALFORMED);
	bc_free(b);
}

static void test_bool_two(void **state)
{
	static const uint8_t msgid[16];
	struct msg m = {1, msgid, NULL, 0};
	bc_mbox_status st = {true, 1, 2, 3, true};
	size_t len;
	uint8_t *b;
	(void)state;
	b = enc_post_resp(1, true, &len);
	b[9] = 2;
	decode_expect(b, len, true, BC_ERR_MALFORMED);
	b[9] = 0xff;
	decode_expect(b, len, true, BC_ERR_MALFORMED);
	bc_free(b);
	b = enc_fetch_resp(1, true, &m, 1, 1, &len);
	b[9] = 2;
	decode_expect(b, len, true, BC_ERR_MALFORMED);
	bc_free(b);
	b = enc_open_resp(1, &st, &len);
	b[9] = 2; /* created */
	decode_expect(b, len, true, BC_ERR_MALFORMED);
	b[9] = 1;
	b[len - 1] = 2; /* has_signed_prekey */
	decode_expect(b, len, true, BC_ERR_MALFORMED);
	bc_free(b);
	b = enc_prekey_get_resp(1, NULL, 0, NULL, 0, &len);
	b[len - 1] = 2;
	decode_expect(b, len, true, BC_ERR_MALFORMED);
	bc_free(b);
}

static void test_fetch_resp_bad(void **state)
{
	static const uint8_t msgid[16];
	struct msg m[2] = {{1, msgid, NULL, 0}, {2, msgid, NULL, 0}};
	size_t len;
	uint8_t *b;
	(void)state;
	b = enc_fetch_resp(1, false, m, 1, 2, &len);
	decode_expect(b, len, true, BC_ERR_MALFORMED);
	bc_free(b);
	b = enc_fetch_resp(1, false, m, 0, BC_PROTO_MAX_FETCH + 1, &len);
	decode_expect(b, len, true, BC_ERR_TOOBIG);
	bc_free(b);
	b = enc_fetch_resp(1, false, m, 2, 1, &len);
	decode_expect(b, len, true, BC_ERR_MALFORMED);
	bc_free(b);
}

static void test_error_text(void **state)
{
	static const char *const bad[] = {
		"\xff", "abc\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	};
	uint8_t body[2 + 4 + BC_PROTO_MAX_ERRTEXT + 1];
	size_t len;
	uint8_t *b;
	(void)state;
	bc_store16(body, 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);
		bc_store32(body + 2, (uint32_t)n);
		memcpy(body + 6, bad[i], n);
		b = raw_frame(BC_T_ERROR, 1, body, 6 + n, &len);
		decode_expect(b, len, true, BC_ERR_MALFORMED);
		free(b);
	}
	/* an embedded NUL */
	bc_store32(body + 2, 3);
	memcpy(body + 6, "a\0b", 3);
	b = raw_frame(BC_T_ERROR, 1, body, 9, &len);
	decode_expect(b, len, true, BC_ERR_MALFORMED);
	free(b);
	/* at the cap, and over it */
	memset(body + 6, 'x', BC_PROTO_MAX_ERRTEXT + 1);
	bc_store32(body + 2, BC_PROTO_MAX_ERRTEXT);
	b = raw_frame(BC_T_ERROR, 1, body, 6 + BC_PROTO_MAX_ERRTEXT, &len);
	decode_expect(b, len, true, BC_OK);
	free(b);
	bc_store32(body + 2, BC_PROTO_MAX_ERRTEXT + 1);
	b = raw_frame(BC_T_ERROR, 1, body, 6 + BC_PROTO_MAX_ERRTEXT + 1, &len);
	decode_expect(b, len, true, BC_ERR_TOOBIG);
	free(b);
}

static void test_ping_cap(void **state)
{
	static uint8_t p[BC_PROTO_MAX_PING + 1];
	size_t len;
	uint8_t *b;
	(void)state;
	b = enc_ping(BC_T_PING, 1, p, sizeof(p), &len);
	decode_expect(b, len, false, BC_ERR_TOOBIG);
	bc_free(b);
	b = enc_ping(BC_T_RESPONSE | BC_T_PING, 1, p, sizeof(p), &len);
	decode_expect(b, len, true, BC_ERR_TOOBIG);
	bc_free(b);
}

/* ---- preamble and hello ------------------------------------------------- */

static void test_preamble(void **state)
{
	uint8_t p[BC_PROTO_PREAMBLE_LEN];
	uint16_t v = 0;
	(void)state;
	bc_proto_preamble(p, BC_PROTO_VERSION);
	assert_memory_equal(p, "BCRL\x00\x01\x00\x00", 8);
	assert_int_equal(bc_proto_check_preamble(p, &v), BC_OK);
	assert_int_equal(v, 1);

	/* bad magic, every byte */
	for (int i = 0; i < 4; i++) {
		uint8_t q[8];
		memcpy(q, p, 8);
		q[i] ^= 0x20; /* "bCRL" etc.: case matters */
		assert_int_equal(bc_proto_check_preamble(q, &v),
				 BC_ERR_PROTOCOL);
	}
	/* non-zero flags */
	for (int i = 6; i < 8; i++) {
		uint8_t q[8];
		memcpy(q, p, 8);
		q[i] = 0x01;
		assert_int_equal(bc_proto_check_preamble(q, &v),
				 BC_ERR_PROTOCOL);
	}
	/* other versions are reported */
	bc_proto_preamble(p, 2);
	v = 0;
	assert_int_equal(bc_proto_check_preamble(p, &v), BC_ERR_VERSION);
	assert_int_equal(v, 2);
	bc_proto_preamble(p, 0);
	assert_int_equal(bc_proto_check_preamble(p, &v), BC_ERR_VERSION);
	assert_int_equal(v, 0);
	bc_proto_preamble(p, 0xffff);
	assert_int_equal(bc_proto_check_preamble(p, &v), BC_ERR_VERSION);
	assert_int_equal(v, 0xffff);
}

static void test_hello(void **state)
{
	static const uint8_t want[] = {0x00, 0x01, 0x00, 0x10, 0x00, 0x00,
				       0x00, 0x40, 0x00, 0x0f, 0xfc, 0x00};
	bc_server_hello h = {1, 1u << 20, 64, (1u << 20) - 1024}, g;
	uint8_t buf[32];
	size_t len = 0;
	(void)state;
	assert_int_equal(bc_proto_hello_encode(&h, buf, sizeof(buf), &len),
			 BC_OK);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	memset(&g, 0xee, sizeof(g));
	assert_int_equal(bc_proto_hello_decode(buf, len, &g), BC_OK);
	assert_int_equal(g.version, h.version);
	assert_int_equal(g.max_frame, h.max_frame);
	assert_int_equal(g.max_copies, h.max_copies);
	assert_int_equal(g.max_body, h.max_body);

	/* output buffer one byte short */
	assert_int_equal(bc_proto_hello_encode(&h, buf, 11, &len),
			 BC_ERR_TOOBIG);
	/* short, long */
	assert_int_equal(bc_proto_hello_decode(want, 11, &g), BC_ERR_MALFORMED);
	{
		uint8_t longer[13] = {0};
		memcpy(longer, want, 12);
		assert_int_equal(bc_proto_hello_decode(longer, 13, &g),
				 BC_ERR_MALFORMED);
	}
	assert_int_equal(bc_proto_hello_decode(NULL, 0, &g), BC_ERR_MALFORMED);
}

static void test_hello_bounds(void **state)
{
	static const struct {
		uint32_t max_frame;
		uint16_t max_copies;
		uint32_t max_body;
		int rc;
	} cases[] = {
		{BC_PROTO_MIN_MAX_FRAME, 1, 1, BC_OK},
		{BC_PROTO_HARD_MAX_FRAME, BC_PROTO_MAX_COPIES,
		 BC_PROTO_HARD_MAX_FRAME - BC_PROTO_HDR_LEN, BC_OK},
		/* a body that cannot fit in a frame */
		{BC_PROTO_HARD_MAX_FRAME, BC_PROTO_MAX_COPIES, UINT32_MAX,
		 BC_ERR_MALFORMED},
		{4096, 1, 4096 - BC_PROTO_HDR_LEN + 1, BC_ERR_MALFORMED},
		{BC_PROTO_MIN_MAX_FRAME - 1, 1, 1, BC_ERR_MALFORMED},
		{BC_PROTO_HARD_MAX_FRAME + 1, 1, 1, BC_ERR_MALFORMED},
		{0, 1, 1, BC_ERR_MALFORMED},
		{UINT32_MAX, 1, 1, BC_ERR_MALFORMED},
		{4096, 0, 1, BC_ERR_MALFORMED},
		{4096, BC_PROTO_MAX_COPIES + 1, 1, BC_ERR_MALFORMED},
		{4096, 1, 0, BC_ERR_MALFORMED},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bc_server_hello h = {1, cases[i].max_frame, cases[i].max_copies,
				     cases[i].max_body},
				g;
		uint8_t buf[12];
		size_t len;
		assert_int_equal(bc_proto_hello_encode(&h, buf, sizeof(buf),
						       &len),
				 BC_OK);
		assert_int_equal(bc_proto_hello_decode(buf, len, &g),
				 cases[i].rc);
	}
}

/* ---- capability hash ---------------------------------------------------- */

static void test_cap_hash(void **state)
{
	/* python3 -c 'import hashlib;print(hashlib.blake2b(b"backchannel cap v1"+bytes(range(32))+bytes(range(32,64)),digest_size=32).hexdigest())' */
	static const uint8_t want[32] = {
		0xff, 0x85, 0xfa, 0x52, 0x2b, 0xc8, 0xab, 0xdb,
		0x8f, 0x17, 0xa1, 0xf4, 0xff, 0x7b, 0xf6, 0x6c,
		0xb1, 0x4a, 0x5b, 0xea, 0x06, 0x1e, 0xc4, 0x22,
		0xe6, 0xf8, 0xc3, 0x0b, 0x88, 0x86, 0x9d, 0x4c,
	};
	/* python3 -c 'import hashlib;print(hashlib.blake2b(b"backchannel cap v1"+bytes(64),digest_size=32).hexdigest())' */
	static const uint8_t want0[32] = {
		0x72, 0x48, 0x90, 0xfa, 0x3d, 0x0e, 0x64, 0x41,
		0xf4, 0x4e, 0x81, 0x6c, 0xbb, 0x7b, 0x7f, 0x3c,
		0x6b, 0x11, 0x80, 0x09, 0xee, 0x76, 0xbd, 0x5f,
		0x1d, 0xd5, 0xe9, 0xcd, 0x46, 0x94, 0x5b, 0xc7,
	};
	uint8_t mb[32], tok[32], zero[32] = {0}, h[32], h2[32];
	(void)state;
	for (int i = 0; i < 32; i++) {
		mb[i] = (uint8_t)i;
		tok[i] = (uint8_t)(32 + i);
	}
	assert_int_equal(bc_proto_cap_hash(mb, tok, h), BC_OK);
	assert_memory_equal(h, want, 32);
	assert_int_equal(bc_proto_cap_hash(mb, tok, h2), BC_OK);
	assert_memory_equal(h2, want, 32); /* deterministic */
	assert_int_equal(bc_proto_cap_hash(zero, zero, h), BC_OK);
	assert_memory_equal(h, want0, 32);

	/* every bit of mailbox and token matters; the two do not commute */
	for (int i = 0; i < 32 * 8; i++) {
		mb[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(bc_proto_cap_hash(mb, tok, h), BC_OK);
		assert_memory_not_equal(h, want, 32);
		mb[i / 8] ^= (uint8_t)(1u << (i % 8));
		tok[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(bc_proto_cap_hash(mb, tok, h), BC_OK);
		assert_memory_not_equal(h, want, 32);
		tok[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	assert_int_equal(bc_proto_cap_hash(tok, mb, h), BC_OK);
	assert_memory_not_equal(h, want, 32);
}

/* ---- bc_proto_write_error ----------------------------------------------- */

/* Write an error frame with text, decode it, return the text length. */
static size_t error_text_len(const char *text, char *out)
{
	bc_wr w;
	uint8_t *b = NULL;
	size_t len;
	bc_frame f;
	bc_wr_init(&w, BC_CODEC_MAX);
	assert_int_equal(bc_proto_write_error(&w, 9, BC_ERR_MALFORMED, text),
			 BC_OK);
	assert_int_equal(bc_wr_finish(&w, &b, &len), BC_OK);
	decode_ok(b, len, true, &f);
	assert_int_equal(f.err_code, 2);
	assert_true(f.err_text_len <= BC_PROTO_MAX_ERRTEXT);
	assert_true(bc_utf8_valid((const uint8_t *)f.err_text,
				  f.err_text_len));
	memcpy(out, f.err_text, f.err_text_len);
	out[f.err_text_len] = '\0';
	bc_free(b);
	return strlen(out);
}

static void test_write_error_truncation(void **state)
{
	char text[600], out[BC_PROTO_MAX_ERRTEXT + 1];
	(void)state;

	/* exactly at the cap: kept whole */
	memset(text, 'a', 256);
	text[256] = '\0';
	assert_int_equal(error_text_len(text, out), 256);
	assert_string_equal(out, text);
	/* ASCII over the cap: cut at 256 */
	memset(text, 'b', 500);
	text[500] = '\0';
	assert_int_equal(error_text_len(text, out), 256);
	assert_memory_equal(out, text, 256);
	/* a 2-, 3- and 4-byte character across the cut, at every offset */
	{
		static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac",
						    "\xf0\x9f\x98\x80"};
		for (int c = 0; c < 3; c++) {
			size_t cl = strlen(chars[c]);
			for (size_t pre = 256 - cl; pre <= 256; pre++) {
				/* the character is kept iff it ends by 256 */
				size_t want = pre + cl == 256 ? 256 : pre;
				memset(text, 'x', pre);
				memcpy(text + pre, chars[c], cl);
				memset(text + pre + cl, 'y', 10);
				text[pre + cl + 10] = '\0';
				assert_int_equal(error_text_len(text, out),
						 want);
				assert_memory_equal(out, text, want);
			}
		}
	}
	/* all multibyte: 300 'é' = 600 bytes -> 128 characters */
	for (int i = 0; i < 299; i++)
		memcpy(text + 2 * i, "\xc3\xa9", 2);
	text[598] = '\0';
	assert_int_equal(error_text_len(text, out), 256);
	assert_memory_equal(out, text, 256);
	/* the empty text */
	assert_int_equal(error_text_len("", out), 0);
}

/* A text that is not UTF-8 is sent as no text: the error itself must
 * still go out, and the writer must stay usable (its error is sticky, so
 * a poisoned writer would silence the whole connection). */
static void test_write_error_bad_utf8(void **state)
{
	char out[BC_PROTO_MAX_ERRTEXT + 1];
	bc_wr w;
	uint8_t *b = NULL;
	size_t len;
	bc_frame f;
	(void)state;
	assert_int_equal(error_text_len("bad \xff byte", out), 0);
	assert_int_equal(error_text_len("\xc3", out), 0);

	/* a frame written after it in the same writer is intact */
	bc_wr_init(&w, BC_CODEC_MAX);
	assert_int_equal(bc_proto_write_error(&w, 3, BC_ERR_AUTH, "\xfe"),
			 BC_OK);
	{
		size_t start = w.len;
		assert_int_equal(bc_proto_begin(&w, BC_T_RESPONSE | BC_T_POST,
						4),
				 BC_OK);
		bc_wr_bool(&w, true);
		assert_int_equal(bc_proto_end(&w, start), BC_OK);
	}
	assert_int_equal(bc_wr_finish(&w, &b, &len), BC_OK);
	assert_int_equal(bc_load32(b), 5 + 2 + 4);
	decode_ok(b, 4 + 11, true, &f);
	assert_int_equal(f.err_code, 4);
	assert_int_equal(f.err_text_len, 0);
	decode_ok(b + 15, len - 15, true, &f);
	assert_int_equal(f.type, BC_T_RESPONSE | BC_T_POST);
	assert_true(f.flag);
	bc_free(b);
}

static void test_end_toobig(void **state)
{
	bc_wr w;
	(void)state;
	bc_wr_init(&w, BC_CODEC_MAX);
	assert_int_equal(bc_proto_begin(&w, BC_T_PUSH, 0), BC_OK);
	assert_non_null(bc_wr_reserve(&w, BC_PROTO_HARD_MAX_FRAME - 5));
	assert_int_equal(bc_proto_end(&w, 0), BC_OK); /* exactly the cap */
	assert_int_equal(bc_load32(w.buf), BC_PROTO_HARD_MAX_FRAME);
	assert_non_null(bc_wr_reserve(&w, 1));
	assert_int_equal(bc_proto_end(&w, 0), BC_ERR_TOOBIG);
	bc_wr_free(&w);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(bc_proto_type_name(BC_T_PING), "ping");
	assert_string_equal(bc_proto_type_name(BC_T_RESPONSE | BC_T_PING),
			    "pong");
	assert_string_equal(bc_proto_type_name(BC_T_POST), "post");
	assert_string_equal(bc_proto_type_name(BC_T_RESPONSE | BC_T_POST),
			    "post");
	assert_string_equal(bc_proto_type_name(BC_T_PUSH), "push");
	assert_string_equal(bc_proto_type_name(BC_T_ERROR), "error");
	assert_string_equal(bc_proto_type_name(0x00), "unknown");
	assert_string_equal(bc_proto_type_name(0x7f), "unknown");
	assert_string_equal(bc_proto_type_name(0x3f), "unknown");
	for (unsigned t = 0; t < 256; t++)
		assert_non_null(bc_proto_type_name((uint8_t)t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_mailbox_requests),
		cmocka_unit_test(test_cap_requests),
		cmocka_unit_test(test_post),
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_prekey_put),
		cmocka_unit_test(test_prekey_get),
		cmocka_unit_test(test_open_resp),
		cmocka_unit_test(test_empty_resps),
		cmocka_unit_test(test_post_resp),
		cmocka_unit_test(test_fetch_resp),
		cmocka_unit_test(test_counter_resps),
		cmocka_unit_test(test_prekey_get_resp),
		cmocka_unit_test(test_push),
		cmocka_unit_test(test_error_frame),
		cmocka_unit_test(test_layout_fetch),
		cmocka_unit_test(test_layout_post),
		cmocka_unit_test(test_layout_push_error),
		cmocka_unit_test(test_truncated_every_offset),
		cmocka_unit_test(test_trailing_byte),
		cmocka_unit_test(test_wrong_length_prefix),
		cmocka_unit_test(test_wrong_direction),
		cmocka_unit_test(test_unknown_types),
		cmocka_unit_test(test_request_ids),
		cmocka_unit_test(test_post_copies),
		cmocka_unit_test(test_post_body_caps),
		cmocka_unit_test(test_fetch_max),
		cmocka_unit_test(test_ack_ids),
		cmocka_unit_test(test_prekey_put_bad),
		cmocka_unit_test(test_bool_two),
		cmocka_unit_test(test_fetch_resp_bad),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_ping_cap),
		cmocka_unit_test(test_preamble),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_hello_bounds),
		cmocka_unit_test(test_cap_hash),
		cmocka_unit_test(test_write_error_truncation),
		cmocka_unit_test(test_write_error_bad_utf8),
		cmocka_unit_test(test_end_toobig),
		cmocka_unit_test(test_type_names),
	};

	if (sodium_init() < 0)
		return 1;
	fixtures();
	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
