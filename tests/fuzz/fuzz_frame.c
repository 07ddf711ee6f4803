/*
 * fuzz_frame.c - libFuzzer target for relay frames (lib/proto.c).
 *
 * Input layout:
 *   byte 0   bit 0: from_relay for the first decode (the other direction
 *            is tried too)
 *   rest     one frame, including its u32 length prefix
 *
 * Checks (any failure traps):
 *   - a frame is never accepted in both directions;
 *   - an accepted frame: every pointer it holds lies inside the input;
 *     every list can be walked to its count with the bc_proto_next_*
 *     functions and ends exactly at the end of the frame, and one more
 *     step fails; error text is valid UTF-8 without NUL; counts respect
 *     their caps; and re-encoding the decoded fields with bc_proto_begin /
 *     bc_wr_* / bc_proto_end gives back exactly the input bytes
 *     (canonical: encode(decode(x)) == x for every frame type);
 *   - a rejected frame: one of BC_ERR_MALFORMED / TOOBIG / PROTOCOL, and
 *     nothing left in the frame but its type;
 *   - bc_proto_check_preamble on the first 8 bytes accepts exactly
 *     "BCRL" 0x0001 0x0000, and the version it reports is bytes 4-5;
 *   - bc_proto_hello_decode on the frame bytes: whatever it accepts
 *     re-encodes to the same bytes and is within the documented bounds.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "internal.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static const uint8_t *g_lo, *g_hi; /* the input frame */

static void check_in(const void *p, size_t n)
{
	const uint8_t *q = p;
	CHECK(q != NULL);
	CHECK(q >= g_lo && q <= g_hi && n <= (size_t)(g_hi - q));
}

static void check_rejected(const bc_frame *f, int rc)
{
	CHECK(rc == BC_ERR_MALFORMED || rc == BC_ERR_TOOBIG ||
	      rc == BC_ERR_PROTOCOL);
	CHECK(f->req_id == 0 && f->mailbox == NULL && f->cap == NULL &&
	      f->msg_id == NULL && f->data == NULL && f->data_len == 0 &&
	      f->data2 == NULL && f->data2_len == 0 && f->seq == 0 &&
	      f->n == 0 && f->count == 0 && !f->flag && f->err_code == 0 &&
	      f->err_text == NULL && f->err_text_len == 0);
	CHECK(!f->status.created && f->status.msgs == 0 &&
	      f->status.bytes == 0 && f->status.onetime_prekeys == 0 &&
	      !f->status.has_signed_prekey);
	CHECK(f->list.p == NULL && f->list.len == 0 && f->list.pos == 0 &&
	      f->list.err == 0);
}

/* Walk the list of f (a copy) writing its elements to w; the walk must
 * succeed for count elements and end at the end of the frame. */
static void walk_list(bc_frame f, bc_wr *w)
{
	for (uint16_t i = 0; i < f.count; i++) {
		switch (f.type) {
		case BC_T_POST: {
			bc_post_item it;
			CHECK(bc_proto_next_post(&f, &it) == BC_OK);
			check_in(it.mailbox, BC_MAILBOX_LEN);
			check_in(it.cap, BC_CAP_LEN);
			if (it.body_len)
				check_in(it.body, it.body_len);
			bc_wr_raw(w, it.mailbox, BC_MAILBOX_LEN);
			bc_wr_raw(w, it.cap, BC_CAP_LEN);
			bc_wr_bytes(w, it.body, it.body_len);
			break;
		}
		case BC_T_ACK: {
			const uint8_t *id;
			CHECK(bc_proto_next_id(&f, &id) == BC_OK);
			check_in(id, BC_MSGID_LEN);
			bc_wr_raw(w, id, BC_MSGID_LEN);
			break;
		}
		case BC_T_PREKEY_PUT: {
			const uint8_t *p;
			size_t n;
			CHECK(bc_proto_next_blob(&f, &p, &n) == BC_OK);
			CHECK(n <= BC_PROTO_MAX_PREKEY_BLOB);
			if (n)
				check_in(p, n);
			bc_wr_bytes(w, p, n);
			break;
		}
		case BC_T_RESPONSE | BC_T_FETCH: {
			bc_msg_item it;
			CHECK(bc_proto_next_msg(&f, &it) == BC_OK);
			check_in(it.msg_id, BC_MSGID_LEN);
			if (it.body_len)
				check_in(it.body, it.body_len);
			bc_wr_u64(w, it.seq);
			bc_wr_raw(w, it.msg_id, BC_MSGID_LEN);
			bc_wr_bytes(w, it.body, it.body_len);
			break;
		}
		default:
			__builtin_trap();
		}
	}
	/* the list is the last field of every frame that has one */
	CHECK(f.list.pos == f.list.len);
	{
		bc_post_item it;
		CHECK(bc_proto_next_post(&f, &it) != BC_OK);
	}
}

/* Re-encode an accepted frame the way client.c / server.c write it. */
static void reencode(const bc_frame *f, bc_wr *w)
{
	bc_proto_begin(w, f->type, f->req_id);
	switch (f->type) {
	case BC_T_PING:
	case BC_T_RESPONSE | BC_T_PING:
		CHECK(f->data_len <= BC_PROTO_MAX_PING);
		bc_wr_bytes(w, f->data, f->data_len);
		break;
	case BC_T_OPEN:
	case BC_T_SUBSCRIBE:
	case BC_T_UNSUBSCRIBE:
		check_in(f->mailbox, BC_MAILBOX_LEN);
		bc_wr_raw(w, f->mailbox, BC_MAILBOX_LEN);
		break;
	case BC_T_CAP_ADD:
	case BC_T_CAP_REVOKE:
	case BC_T_PREKEY_GET:
		check_in(f->mailbox, BC_MAILBOX_LEN);
		check_in(f->cap, 32);
		bc_wr_raw(w, f->mailbox, BC_MAILBOX_LEN);
		bc_wr_raw(w, f->cap, 32);
		break;
	case BC_T_POST:
		CHECK(f->count >= 1 && f->count <= BC_PROTO_MAX_COPIES);
		check_in(f->msg_id, BC_MSGID_LEN);
		bc_wr_raw(w, f->msg_id, BC_MSGID_LEN);
		bc_wr_u16(w, f->count);
		walk_list(*f, w);
		break;
	case BC_T_FETCH:
		CHECK(f->n >= 1 && f->n <= BC_PROTO_MAX_FETCH);
		check_in(f->mailbox, BC_MAILBOX_LEN);
		bc_wr_raw(w, f->mailbox, BC_MAILBOX_LEN);
		bc_wr_u64(w, f->seq);
		bc_wr_u32(w, f->n);
		break;
	case BC_T_ACK:
		CHECK(f->count >= 1 && f->count <= BC_PROTO_MAX_ACKS);
		check_in(f->mailbox, BC_MAILBOX_LEN);
		bc_wr_raw(w, f->mailbox, BC_MAILBOX_LEN);
		bc_wr_u16(w, f->count);
		walk_list(*f, w);
		break;
	case BC_T_PREKEY_PUT:
		CHECK(f->count <= BC_PROTO_MAX_PREKEYS);
		check_in(f->mailbox, BC_MAILBOX_LEN);
		bc_wr_raw(w, f->mailbox, BC_MAILBOX_LEN);
		bc_wr_bool(w, f->flag);
		if (f->flag)
			bc_wr_bytes(w, f->data, f->data_len);
		else
			CHECK(f->data == NULL && f->data_len == 0);
		bc_wr_u16(w, f->count);
		walk_list(*f, w);
		break;
	case BC_T_PUSH:
		CHECK(f->req_id == 0);
		check_in(f->mailbox, BC_MAILBOX_LEN);
		check_in(f->msg_id, BC_MSGID_LEN);
		bc_wr_raw(w, f->mailbox, BC_MAILBOX_LEN);
		bc_wr_u64(w, f->seq);
		bc_wr_raw(w, f->msg_id, BC_MSGID_LEN);
		bc_wr_bytes(w, f->data, f->data_len);
		break;
	case BC_T_ERROR:
		CHECK(f->err_text_len <= BC_PROTO_MAX_ERRTEXT);
		CHECK(bc_utf8_valid((const uint8_t *)f->err_text,
				    f->err_text_len));
		bc_wr_u16(w, f->err_code);
		bc_wr_bytes(w, f->err_text, f->err_text_len);
		break;
	case BC_T_RESPONSE | BC_T_OPEN:
		bc_wr_bool(w, f->status.created);
		bc_wr_u32(w, f->status.msgs);
		bc_wr_u64(w, f->status.bytes);
		bc_wr_u32(w, f->status.onetime_prekeys);
		bc_wr_bool(w, f->status.has_signed_prekey);
		break;
	case BC_T_RESPONSE | BC_T_CAP_ADD:
	case BC_T_RESPONSE | BC_T_CAP_REVOKE:
	case BC_T_RESPONSE | BC_T_SUBSCRIBE:
	case BC_T_RESPONSE | BC_T_UNSUBSCRIBE:
		break;
	case BC_T_RESPONSE | BC_T_POST:
		bc_wr_bool(w, f->flag);
		break;
	case BC_T_RESPONSE | BC_T_FETCH:
		CHECK(f->count <= BC_PROTO_MAX_FETCH);
		bc_wr_bool(w, f->flag);
		bc_wr_u16(w, f->count);
		walk_list(*f, w);
		break;
	case BC_T_RESPONSE | BC_T_ACK:
		bc_wr_u16(w, f->count);
		break;
	case BC_T_RESPONSE | BC_T_PREKEY_PUT:
		bc_wr_u32(w, f->n);
		break;
	case BC_T_RESPONSE | BC_T_PREKEY_GET:
		CHECK(f->data_len <= BC_PROTO_MAX_PREKEY_BLOB);
		bc_wr_bytes(w, f->data, f->data_len);
		bc_wr_bool(w, f->flag);
		if (f->flag)
			bc_wr_bytes(w, f->data2, f->data2_len);
		else
			CHECK(f->data2 == NULL && f->data2_len == 0);
		break;
	default:
		__builtin_trap(); /* an accepted type we do not know */
	}
	if (f->data_len)
		check_in(f->data, f->data_len);
	if (f->data2_len)
		check_in(f->data2, f->data2_len);
	if (f->err_text_len)
		check_in(f->err_text, f->err_text_len);
	CHECK(bc_proto_end(w, 0) == BC_OK);
}

static int decode_one(const uint8_t *buf, size_t len, bool from_relay)
{
	bc_frame f;
	bc_wr w;
	int rc;
	memset(&f, 0xa5, sizeof(f));
	rc = bc_proto_decode(buf, len, from_relay, &f);
	if (rc != BC_OK) {
		check_rejected(&f, rc);
		return rc;
	}
	CHECK(len >= BC_PROTO_HDR_LEN && bc_load32(buf) == len - 4);
	CHECK(f.type == buf[4] && f.req_id == bc_load32(buf + 5));
	CHECK((f.type == BC_T_PUSH) == (f.req_id == 0) ||
	      f.type == BC_T_ERROR);
	bc_wr_init(&w, len);
	reencode(&f, &w);
	CHECK(w.err == BC_OK && w.len == len);
	CHECK(memcmp(w.buf, buf, len) == 0);
	bc_wr_free(&w);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *buf;
	size_t len;
	bool from_relay;
	int a, b;

	if (size < 1)
		return 0;
	from_relay = data[0] & 1;
	buf = data + 1;
	len = size - 1;
	g_lo = buf;
	g_hi = buf + len;

	a = decode_one(len ? buf : NULL, len, from_relay);
	b = decode_one(len ? buf : NULL, len, !from_relay);
	CHECK(a != BC_OK || b != BC_OK);

	if (len >= BC_PROTO_PREAMBLE_LEN) {
		static const uint8_t good[8] = {'B', 'C', 'R', 'L', 0, 1, 0, 0};
		uint16_t v = 0xbeef;
		int rc = bc_proto_check_preamble(buf, &v);
		CHECK(v == bc_load16(buf + 4));
		CHECK((rc == BC_OK) == (memcmp(buf, good, 8) == 0));
		if (rc == BC_ERR_VERSION)
			CHECK(memcmp(buf, "BCRL", 4) == 0 && buf[6] == 0 &&
			      buf[7] == 0 && v != BC_PROTO_VERSION);
		else if (rc != BC_OK)
			CHECK(rc == BC_ERR_PROTOCOL);
		if (rc == BC_OK) {
			uint8_t p[BC_PROTO_PREAMBLE_LEN];
			bc_proto_preamble(p, v);
			CHECK(memcmp(p, buf, 8) == 0);
		}
	}

	{
		bc_server_hello h;
		int rc = bc_proto_hello_decode(len ? buf : NULL, len, &h);
		if (rc == BC_OK) {
			uint8_t out[12];
			size_t n = 0;
			CHECK(len == 12);
			CHECK(h.max_frame >= BC_PROTO_MIN_MAX_FRAME &&
			      h.max_frame <= BC_PROTO_HARD_MAX_FRAME);
			CHECK(h.max_copies >= 1 &&
			      h.max_copies <= BC_PROTO_MAX_COPIES);
			CHECK(h.max_body >= 1);
			CHECK(bc_proto_hello_encode(&h, out, sizeof(out), &n) ==
			      BC_OK);
			CHECK(n == 12 && memcmp(out, buf, 12) == 0);
		} else {
			CHECK(rc == BC_ERR_MALFORMED);
		}
	}
	return 0;
}
