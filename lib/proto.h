/*
 * proto.h - the relay protocol: constants, frame encoding and decoding.
 *
 * Shared by the relay (relay/server.c), the client (lib/client.c), the load
 * generator and the fuzzers. docs/PROTOCOL.md §3-§5 is the normative text;
 * this file must match it byte for byte.
 *
 * A frame is the plaintext unit of the relay protocol once the Noise
 * handshake is done:
 *
 *   u32 length L (of what follows, 5 <= L and L + 4 <= max_frame)
 *   u8  type
 *   u32 request id  (chosen by the client; echoed by the relay's response;
 *                    0 in push frames)
 *   ... type-specific body (codec rules of codec.h) ...
 *
 * Decoded frames never own memory: byte strings point into the buffer the
 * frame was decoded from, which must outlive the decoded struct.
 */
#ifndef BC_PROTO_H
#define BC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"
#include "codec.h"

#define BC_PROTO_VERSION 1
#define BC_PROTO_MAGIC "BCRL"
#define BC_PROTO_PREAMBLE_LEN 8
#define BC_PROTO_PROLOGUE "backchannel relay v1"
#define BC_PROTO_NOISE_NAME "Noise_XX_25519_ChaChaPoly_BLAKE2b"
#define BC_PROTO_DEFAULT_PORT 7737

#define BC_KEY_LEN 32
#define BC_MAILBOX_LEN 32
#define BC_CAP_LEN 32
#define BC_CAPHASH_LEN 32
#define BC_MSGID_LEN 16

#define BC_PROTO_HDR_LEN 9             /* u32 len + u8 type + u32 req id */
#define BC_PROTO_MIN_MAX_FRAME 4096
#define BC_PROTO_DEFAULT_MAX_FRAME (1u << 20)
#define BC_PROTO_HARD_MAX_FRAME (16u << 20)
#define BC_PROTO_MAX_COPIES 64         /* copies in one post (hard cap) */
#define BC_PROTO_MAX_ACKS 1024         /* ids in one ack frame */
#define BC_PROTO_MAX_FETCH 1024        /* messages in one fetch response */
#define BC_PROTO_MAX_PING 1024         /* ping payload bytes */
#define BC_PROTO_MAX_ERRTEXT 256       /* error text bytes */
#define BC_PROTO_MAX_PREKEYS 100       /* one-time blobs in one upload */
#define BC_PROTO_MAX_PREKEY_BLOB 8192

enum bc_frame_type {
	/* requests, client -> relay */
	BC_T_PING = 0x01,
	BC_T_OPEN = 0x02,
	BC_T_CAP_ADD = 0x03,
	BC_T_CAP_REVOKE = 0x04,
	BC_T_POST = 0x05,
	BC_T_FETCH = 0x06,
	BC_T_SUBSCRIBE = 0x07,
	BC_T_UNSUBSCRIBE = 0x08,
	BC_T_ACK = 0x09,
	BC_T_PREKEY_PUT = 0x0A,
	BC_T_PREKEY_GET = 0x0B,
	/* relay -> client */
	BC_T_PUSH = 0x40,
	BC_T_RESPONSE = 0x80, /* response type = BC_T_RESPONSE | request */
	BC_T_ERROR = 0xFF,
};

/* The relay's parameters, sent in handshake message 2. */
typedef struct bc_server_hello {
	uint16_t version;
	uint32_t max_frame;
	uint16_t max_copies;
	uint32_t max_body;
} bc_server_hello;

typedef struct bc_post_item {
	const uint8_t *mailbox; /* BC_MAILBOX_LEN */
	const uint8_t *cap;     /* BC_CAP_LEN (the token, not its hash) */
	const uint8_t *body;
	size_t body_len;
} bc_post_item;

typedef struct bc_msg_item {
	uint64_t seq;
	const uint8_t *msg_id; /* BC_MSGID_LEN */
	const uint8_t *body;
	size_t body_len;
} bc_msg_item;

typedef struct bc_mbox_status {
	bool created;
	uint32_t msgs;
	uint64_t bytes;
	uint32_t onetime_prekeys;
	bool has_signed_prekey;
} bc_mbox_status;

/* A decoded frame. Which fields are meaningful depends on type; lists
 * (post copies, fetched messages, ack ids, one-time prekeys) are left as a
 * reader positioned at their first element, with their count, and are
 * walked with the bc_proto_next_* functions. */
typedef struct bc_frame {
	uint8_t type;
	uint32_t req_id;
	const uint8_t *mailbox;  /* OPEN CAP_* FETCH (UN)SUBSCRIBE ACK PREKEY_* PUSH */
	const uint8_t *cap;      /* CAP_ADD/REVOKE: hash; PREKEY_GET: token */
	const uint8_t *msg_id;   /* POST, PUSH */
	const uint8_t *data;     /* PING/PONG payload, PUSH body, prekey blobs */
	size_t data_len;
	const uint8_t *data2;    /* PREKEY_GET response: one-time blob */
	size_t data2_len;
	uint64_t seq;            /* FETCH after_seq, PUSH seq */
	uint32_t n;              /* FETCH max; counts */
	uint16_t count;          /* elements in the list */
	bool flag;               /* POST resp: dup; FETCH resp: more;
				    PREKEY_PUT: has signed blob;
				    PREKEY_GET resp: has one-time blob */
	uint16_t err_code;       /* ERROR: absolute bc_err value */
	const char *err_text;    /* ERROR: NOT NUL-terminated, err_text_len */
	size_t err_text_len;
	bc_mbox_status status;   /* OPEN response */
	bc_rd list;              /* positioned at the first list element */
} bc_frame;

/* ---- preamble and hello ------------------------------------------------- */

void bc_proto_preamble(uint8_t out[BC_PROTO_PREAMBLE_LEN], uint16_t version);
/* BC_ERR_PROTOCOL on bad magic or non-zero flags, BC_ERR_VERSION when the
 * version is not BC_PROTO_VERSION (*version is set in both cases). */
int bc_proto_check_preamble(const uint8_t in[BC_PROTO_PREAMBLE_LEN],
			    uint16_t *version) BC_MUST_CHECK;
int bc_proto_hello_encode(const bc_server_hello *h, uint8_t *out,
			  size_t cap, size_t *len) BC_MUST_CHECK;
int bc_proto_hello_decode(const uint8_t *in, size_t len,
			  bc_server_hello *h) BC_MUST_CHECK;

/* ---- frames ------------------------------------------------------------- */

/* Start a frame of the given type in w (writes the length placeholder,
 * type and request id); append the body with bc_wr_*; then bc_proto_end. */
int bc_proto_begin(bc_wr *w, uint8_t type, uint32_t req_id);
/* Patch the length of the frame that began at offset start. */
int bc_proto_end(bc_wr *w, size_t start);

/* Decode one complete frame (including its u32 length prefix) of exactly
 * len bytes. from_relay selects which direction's types are legal.
 * Returns BC_ERR_MALFORMED / BC_ERR_TOOBIG / BC_ERR_PROTOCOL on bad input;
 * the whole body, including every list element, is validated before
 * BC_OK is returned. */
int bc_proto_decode(const uint8_t *buf, size_t len, bool from_relay,
		    bc_frame *f) BC_MUST_CHECK;

/* Walk the lists of a decoded frame. Each returns BC_OK and fills *out
 * while elements remain (the caller counts to f->count). */
int bc_proto_next_post(bc_frame *f, bc_post_item *out) BC_MUST_CHECK;
int bc_proto_next_msg(bc_frame *f, bc_msg_item *out) BC_MUST_CHECK;
int bc_proto_next_id(bc_frame *f, const uint8_t **id) BC_MUST_CHECK;
int bc_proto_next_blob(bc_frame *f, const uint8_t **p,
		       size_t *len) BC_MUST_CHECK;

/* The capability hash the relay stores for a token:
 * BLAKE2b-256("backchannel cap v1" || mailbox || token). */
int bc_proto_cap_hash(const uint8_t mailbox[BC_MAILBOX_LEN],
		      const uint8_t token[BC_CAP_LEN],
		      uint8_t out[BC_CAPHASH_LEN]) BC_MUST_CHECK;

/* Human name of a frame type, for logs ("post", "push", ...). */
const char *bc_proto_type_name(uint8_t type);

/* Convenience writers used by both sides. */
int bc_proto_write_error(bc_wr *w, uint32_t req_id, int err,
			 const char *text);

#endif
