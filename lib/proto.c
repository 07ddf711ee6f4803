/*
 * proto.c - relay protocol frames (see proto.h and docs/PROTOCOL.md §4-§5).
 *
 * Decoding is strict: every field is bounds-checked, every list is walked
 * once in full before bc_proto_decode returns BC_OK, and trailing bytes are
 * an error, so that a frame accepted here has exactly one encoding.
 */
#include <sodium.h>

#include "internal.h"
#include "proto.h"

static const char cap_label[] = "backchannel cap v1";

void bc_proto_preamble(uint8_t out[BC_PROTO_PREAMBLE_LEN], uint16_t version)
{
	memcpy(out, BC_PROTO_MAGIC, 4);
	bc_store16(out + 4, version);
	bc_store16(out + 6, 0);
}

int bc_proto_check_preamble(const uint8_t in[BC_PROTO_PREAMBLE_LEN],
			    uint16_t *version)
{
	*version = bc_load16(in + 4);
	if (memcmp(in, BC_PROTO_MAGIC, 4) != 0 || bc_load16(in + 6) != 0)
		return BC_ERR_PROTOCOL;
	if (*version != BC_PROTO_VERSION)
		return BC_ERR_VERSION;
	return BC_OK;
}

int bc_proto_hello_encode(const bc_server_hello *h, uint8_t *out, size_t cap,
			  size_t *len)
{
	bc_wr w;
	uint8_t *p;
	bc_wr_init_fixed(&w, out, cap);
	bc_wr_u16(&w, h->version);
	bc_wr_u32(&w, h->max_frame);
	bc_wr_u16(&w, h->max_copies);
	bc_wr_u32(&w, h->max_body);
	return bc_wr_finish(&w, &p, len);
}

int bc_proto_hello_decode(const uint8_t *in, size_t len, bc_server_hello *h)
{
	bc_rd r;
	bc_rd_init(&r, in, len);
	bc_rd_u16(&r, &h->version);
	bc_rd_u32(&r, &h->max_frame);
	bc_rd_u16(&r, &h->max_copies);
	bc_rd_u32(&r, &h->max_body);
	if (bc_rd_end(&r) != BC_OK)
		return BC_ERR_MALFORMED;
	if (h->version != BC_PROTO_VERSION ||
	    h->max_frame < BC_PROTO_MIN_MAX_FRAME ||
	    h->max_body > h->max_frame - BC_PROTO_HDR_LEN ||
	    h->max_frame > BC_PROTO_HARD_MAX_FRAME || h->max_copies == 0 ||
	    h->max_copies > BC_PROTO_MAX_COPIES || h->max_body == 0)
		return BC_ERR_MALFORMED;
	return BC_OK;
}

int bc_proto_begin(bc_wr *w, uint8_t type, uint32_t req_id)
{
	bc_wr_u32(w, 0);
	bc_wr_u8(w, type);
	return bc_wr_u32(w, req_id);
}

int bc_proto_end(bc_wr *w, size_t start)
{
	size_t n;
	if (w->err != BC_OK)
		return w->err;
	n = w->len - start - 4;
	if (n > BC_PROTO_HARD_MAX_FRAME)
		return BC_ERR_TOOBIG;
	return bc_wr_patch32(w, start, (uint32_t)n);
}

int bc_proto_write_error(bc_wr *w, uint32_t req_id, int err, const char *text)
{
	size_t start = w->len;
	char buf[BC_PROTO_MAX_ERRTEXT + 1];
	int code = err < 0 ? -err : err;
	size_t n = strlen(text);
	/* Cut the text to the cap on a UTF-8 boundary. */
	if (n > BC_PROTO_MAX_ERRTEXT) {
		n = BC_PROTO_MAX_ERRTEXT;
		while (n > 0 && ((uint8_t)text[n] & 0xC0) == 0x80)
			n--;
	}
	/* Invalid UTF-8: send no text (bc_wr_str would poison w). */
	if (!bc_utf8_valid((const uint8_t *)text, n))
		n = 0;
	memcpy(buf, text, n);
	buf[n] = '\0';
	bc_proto_begin(w, BC_T_ERROR, req_id);
	bc_wr_u16(w, (uint16_t)code);
	bc_wr_str(w, buf);
	return bc_proto_end(w, start);
}

int bc_proto_cap_hash(const uint8_t mailbox[BC_MAILBOX_LEN],
		      const uint8_t token[BC_CAP_LEN],
		      uint8_t out[BC_CAPHASH_LEN])
{
	crypto_generichash_state st;
	int rc = BC_ERR_CRYPTO;
	if (crypto_generichash_init(&st, NULL, 0, BC_CAPHASH_LEN) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)cap_label,
				      sizeof(cap_label) - 1) != 0 ||
	    crypto_generichash_update(&st, mailbox, BC_MAILBOX_LEN) != 0 ||
	    crypto_generichash_update(&st, token, BC_CAP_LEN) != 0 ||
	    crypto_generichash_final(&st, out, BC_CAPHASH_LEN) != 0)
		goto out;
	rc = BC_OK;
out:
	sodium_memzero(&st, sizeof(st));
	return rc;
}

/* ---- list walkers ------------------------------------------------------- */

int bc_proto_next_post(bc_frame *f, bc_post_item *it)
{
	bc_rd *r = &f->list;
	bc_rd_ref(r, BC_MAILBOX_LEN, &it->mailbox);
	bc_rd_ref(r, BC_CAP_LEN, &it->cap);
	return bc_rd_bytes(r, BC_PROTO_HARD_MAX_FRAME, &it->body,
			   &it->body_len);
}

int bc_proto_next_msg(bc_frame *f, bc_msg_item *it)
{
	bc_rd *r = &f->list;
	bc_rd_u64(r, &it->seq);
	bc_rd_ref(r, BC_MSGID_LEN, &it->msg_id);
	return bc_rd_bytes(r, BC_PROTO_HARD_MAX_FRAME, &it->body,
			   &it->body_len);
}

int bc_proto_next_id(bc_frame *f, const uint8_t **id)
{
	return bc_rd_ref(&f->list, BC_MSGID_LEN, id);
}

int bc_proto_next_blob(bc_frame *f, const uint8_t **p, size_t *len)
{
	return bc_rd_bytes(&f->list, BC_PROTO_MAX_PREKEY_BLOB, p, len);
}

/* Walk a list of count elements once (validating it), leaving f->list at
 * its start and r just after it. */
static int walk_list(bc_rd *r, bc_frame *f, int (*next)(bc_frame *, void *))
{
	union {
		bc_post_item post;
		bc_msg_item msg;
		const uint8_t *id;
		struct {
			const uint8_t *p;
			size_t n;
		} blob;
	} u;
	bc_rd start = *r;
	f->list = *r;
	for (uint16_t i = 0; i < f->count; i++) {
		int rc = next(f, &u);
		if (rc != BC_OK)
			return rc;
	}
	r->pos = f->list.pos;
	f->list = start;
	return BC_OK;
}

static int next_post_v(bc_frame *f, void *u)
{
	return bc_proto_next_post(f, u);
}
static int next_msg_v(bc_frame *f, void *u)
{
	return bc_proto_next_msg(f, u);
}
static int next_id_v(bc_frame *f, void *u)
{
	return bc_proto_next_id(f, u);
}
static int next_blob_v(bc_frame *f, void *u)
{
	struct {
		const uint8_t *p;
		size_t n;
	} *b = u;
	return bc_proto_next_blob(f, &b->p, &b->n);
}

/* ---- decoding ----------------------------------------------------------- */

static int decode_request(bc_rd *r, bc_frame *f)
{
	int rc;
	switch (f->type) {
	case BC_T_PING:
		return bc_rd_bytes(r, BC_PROTO_MAX_PING, &f->data,
				   &f->data_len);
	case BC_T_OPEN:
	case BC_T_SUBSCRIBE:
	case BC_T_UNSUBSCRIBE:
		return bc_rd_ref(r, BC_MAILBOX_LEN, &f->mailbox);
	case BC_T_CAP_ADD:
	case BC_T_CAP_REVOKE:
		bc_rd_ref(r, BC_MAILBOX_LEN, &f->mailbox);
		return bc_rd_ref(r, BC_CAPHASH_LEN, &f->cap);
	case BC_T_POST:
		bc_rd_ref(r, BC_MSGID_LEN, &f->msg_id);
		if ((rc = bc_rd_count(r, BC_PROTO_MAX_COPIES, &f->count)) !=
		    BC_OK)
			return rc;
		if (f->count == 0)
			return BC_ERR_MALFORMED;
		return walk_list(r, f, next_post_v);
	case BC_T_FETCH:
		bc_rd_ref(r, BC_MAILBOX_LEN, &f->mailbox);
		bc_rd_u64(r, &f->seq);
		if ((rc = bc_rd_u32(r, &f->n)) != BC_OK)
			return rc;
		if (f->n == 0 || f->n > BC_PROTO_MAX_FETCH)
			return BC_ERR_MALFORMED;
		return BC_OK;
	case BC_T_ACK:
		bc_rd_ref(r, BC_MAILBOX_LEN, &f->mailbox);
		if ((rc = bc_rd_count(r, BC_PROTO_MAX_ACKS, &f->count)) !=
		    BC_OK)
			return rc;
		if (f->count == 0)
			return BC_ERR_MALFORMED;
		return walk_list(r, f, next_id_v);
	case BC_T_PREKEY_PUT:
		bc_rd_ref(r, BC_MAILBOX_LEN, &f->mailbox);
		if ((rc = bc_rd_bool(r, &f->flag)) != BC_OK)
			return rc;
		if (f->flag)
			bc_rd_bytes(r, BC_PROTO_MAX_PREKEY_BLOB, &f->data,
				    &f->data_len);
		if ((rc = bc_rd_count(r, BC_PROTO_MAX_PREKEYS, &f->count)) !=
		    BC_OK)
			return rc;
		return walk_list(r, f, next_blob_v);
	case BC_T_PREKEY_GET:
		bc_rd_ref(r, BC_MAILBOX_LEN, &f->mailbox);
		return bc_rd_ref(r, BC_CAP_LEN, &f->cap);
	default:
		return BC_ERR_PROTOCOL;
	}
}

static int decode_from_relay(bc_rd *r, bc_frame *f)
{
	int rc;
	switch (f->type) {
	case BC_T_PUSH:
		bc_rd_ref(r, BC_MAILBOX_LEN, &f->mailbox);
		bc_rd_u64(r, &f->seq);
		bc_rd_ref(r, BC_MSGID_LEN, &f->msg_id);
		return bc_rd_bytes(r, BC_PROTO_HARD_MAX_FRAME, &f->data,
				   &f->data_len);
	case BC_T_ERROR:
		bc_rd_u16(r, &f->err_code);
		rc = bc_rd_bytes(r, BC_PROTO_MAX_ERRTEXT,
				 (const uint8_t **)&f->err_text,
				 &f->err_text_len);
		if (rc == BC_OK &&
		    !bc_utf8_valid((const uint8_t *)f->err_text,
				   f->err_text_len))
			return BC_ERR_MALFORMED;
		return rc;
	case BC_T_RESPONSE | BC_T_PING:
		return bc_rd_bytes(r, BC_PROTO_MAX_PING, &f->data,
				   &f->data_len);
	case BC_T_RESPONSE | BC_T_OPEN:
		bc_rd_bool(r, &f->status.created);
		bc_rd_u32(r, &f->status.msgs);
		bc_rd_u64(r, &f->status.bytes);
		bc_rd_u32(r, &f->status.onetime_prekeys);
		return bc_rd_bool(r, &f->status.has_signed_prekey);
	case BC_T_RESPONSE | BC_T_CAP_ADD:
	case BC_T_RESPONSE | BC_T_CAP_REVOKE:
	case BC_T_RESPONSE | BC_T_SUBSCRIBE:
	case BC_T_RESPONSE | BC_T_UNSUBSCRIBE:
		return r->err;
	case BC_T_RESPONSE | BC_T_POST:
		return bc_rd_bool(r, &f->flag);
	case BC_T_RESPONSE | BC_T_FETCH:
		bc_rd_bool(r, &f->flag);
		if ((rc = bc_rd_count(r, BC_PROTO_MAX_FETCH, &f->count)) !=
		    BC_OK)
			return rc;
		return walk_list(r, f, next_msg_v);
	case BC_T_RESPONSE | BC_T_ACK:
		return bc_rd_u16(r, &f->count);
	case BC_T_RESPONSE | BC_T_PREKEY_PUT:
		return bc_rd_u32(r, &f->n);
	case BC_T_RESPONSE | BC_T_PREKEY_GET:
		bc_rd_bytes(r, BC_PROTO_MAX_PREKEY_BLOB, &f->data,
			    &f->data_len);
		if ((rc = bc_rd_bool(r, &f->flag)) != BC_OK)
			return rc;
		if (f->flag)
			return bc_rd_bytes(r, BC_PROTO_MAX_PREKEY_BLOB,
					   &f->data2, &f->data2_len);
		return BC_OK;
	default:
		return BC_ERR_PROTOCOL;
	}
}

int bc_proto_decode(const uint8_t *buf, size_t len, bool from_relay,
		    bc_frame *f)
{
	bc_rd r;
	uint32_t flen;
	int rc;

	memset(f, 0, sizeof(*f));
	bc_rd_init(&r, buf, len);
	bc_rd_u32(&r, &flen);
	bc_rd_u8(&r, &f->type);
	if (bc_rd_u32(&r, &f->req_id) != BC_OK || (size_t)flen != len - 4)
		rc = BC_ERR_MALFORMED;
	else
		rc = from_relay ? decode_from_relay(&r, f)
				: decode_request(&r, f);
	if (rc == BC_OK)
		rc = bc_rd_end(&r);
	if (rc == BC_OK && f->type != BC_T_ERROR &&
	    (f->type == BC_T_PUSH) != (f->req_id == 0))
		rc = BC_ERR_MALFORMED; /* push frames, and only they, use 0 */
	if (rc != BC_OK) {
		bc_rd list0 = {0};
		uint8_t type = f->type;
		memset(f, 0, sizeof(*f));
		f->type = type;
		f->list = list0;
		return rc == BC_ERR_TOOBIG || rc == BC_ERR_PROTOCOL
			       ? rc
			       : BC_ERR_MALFORMED;
	}
	return BC_OK;
}

const char *bc_proto_type_name(uint8_t type)
{
	switch (type & 0x7F) {
	case BC_T_PING: return type & BC_T_RESPONSE ? "pong" : "ping";
	case BC_T_OPEN: return "open";
	case BC_T_CAP_ADD: return "cap-add";
	case BC_T_CAP_REVOKE: return "cap-revoke";
	case BC_T_POST: return "post";
	case BC_T_FETCH: return "fetch";
	case BC_T_SUBSCRIBE: return "subscribe";
	case BC_T_UNSUBSCRIBE: return "unsubscribe";
	case BC_T_ACK: return "ack";
	case BC_T_PREKEY_PUT: return "prekey-put";
	case BC_T_PREKEY_GET: return "prekey-get";
	case BC_T_PUSH: return "push";
	case 0x7F: return type == BC_T_ERROR ? "error" : "unknown";
	default: return "unknown";
	}
}
