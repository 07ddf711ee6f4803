/*
 * fuzz_stream.c - libFuzzer target for the record layer and frame stream
 * (lib/transport.c) feeding the frame parser (lib/proto.c).
 *
 * A transport pair is set up once by a Noise_XX_25519_ChaChaPoly_BLAKE2b
 * handshake in memory with fixed static and ephemeral keys
 * (bc_noise_hs_set_local_ephemeral), so every run starts from the same
 * cipher states (nonce 0) and the fuzzer is deterministic. Each run copies
 * the initiator's send state (the "peer") and the responder's receive
 * state (the "relay").
 *
 * Input layout:
 *   byte 0   bits 0-2: max_frame = 4096 << n (4 KiB .. 512 KiB)
 *            bit 3:    make an allocation fail; byte 1 says which
 *                      (1..256 allocations from the start of the run)
 *   ops      until the input ends; op byte o, parameter p = o >> 3:
 *     0  raw:     next byte n; the next n input bytes go on the wire as is
 *     1  sealed:  next 2 bytes n (mod 4096); the next n input bytes,
 *                 repeated p + 1 times, are sealed by the peer (records of
 *                 up to 65519 bytes) and go on the wire
 *     2  frame:   next byte t (type), next 4 bytes request id, next byte n;
 *                 a frame "u32 5+n | t | id | n input bytes" is sealed
 *     3  feed:    next 2 bytes n; the next n unfed wire bytes are fed
 *     4  feed all unfed wire bytes
 *     5  flip:    next 2 bytes k; bit p & 7 of unfed wire byte k (mod the
 *                 unfed length) is flipped
 *     6  empty:   an empty record (tag only) is sealed
 *     7  drop:    next byte n; n unfed wire bytes are lost
 * After the ops, the rest of the wire is fed. After every feed, complete
 * frames are taken with bc_rx_next and decoded with bc_proto_decode in
 * both directions; accepted lists are walked. Any error from the
 * transport ends the run (the connection is dead), as it does in the
 * relay.
 *
 * Checks (traps): frames handed out lie inside the receive buffer, have
 * 9 <= len <= max_frame and their own length prefix; errors are the
 * documented ones; a frame is never accepted in both directions; after a
 * clean end and bc_rx_compact, nothing pending means no buffer held.
 * ASan/UBSan/LeakSanitizer check memory.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "internal.h"
#include "noise.h"
#include "proto.h"
#include "transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

#define WIRE_MAX (4u << 20)

static bc_noise_cs g_send, g_recv; /* after the handshake, nonce 0 */
static bool g_ready;

static void setup(void)
{
	static const uint8_t keys[4][32] = {
		{0x01, 0x02, 0x03}, /* initiator static */
		{0x11, 0x12, 0x13}, /* initiator ephemeral */
		{0x21, 0x22, 0x23}, /* responder static */
		{0x31, 0x32, 0x33}, /* responder ephemeral */
	};
	bc_noise_hs *hs[2] = {NULL, NULL};
	bc_noise_cs unused;
	uint8_t msg[256], pl[16];
	for (int i = 0; i < 2; i++) {
		CHECK(bc_noise_hs_new(&hs[i], BC_PROTO_NOISE_NAME, i == 0) ==
		      BC_OK);
		CHECK(bc_noise_hs_set_prologue(
			      hs[i], (const uint8_t *)BC_PROTO_PROLOGUE,
			      sizeof(BC_PROTO_PROLOGUE) - 1) == BC_OK);
		CHECK(bc_noise_hs_set_local_static(hs[i], keys[2 * i]) ==
		      BC_OK);
		CHECK(bc_noise_hs_set_local_ephemeral(hs[i], keys[2 * i + 1]) ==
		      BC_OK);
		CHECK(bc_noise_hs_start(hs[i]) == BC_OK);
	}
	for (int turn = 0; turn < 3; turn++) {
		bc_noise_hs *w = hs[turn % 2], *r = hs[1 - turn % 2];
		size_t mlen, plen;
		CHECK(bc_noise_hs_write_message(w, NULL, 0, msg, sizeof(msg),
						&mlen) == BC_OK);
		CHECK(bc_noise_hs_read_message(r, msg, mlen, pl, sizeof(pl),
					       &plen) == BC_OK);
	}
	CHECK(bc_noise_hs_split(hs[0], &g_send, &unused) == BC_OK);
	CHECK(bc_noise_hs_split(hs[1], &unused, &g_recv) == BC_OK);
	bc_noise_cs_wipe(&unused);
	bc_noise_hs_free(hs[0]);
	bc_noise_hs_free(hs[1]);
	g_ready = true;
}

struct run {
	const uint8_t *in;
	size_t len, pos;
	bc_noise_cs send, recv;
	bc_wr wire;  /* everything put on the wire */
	size_t fed;  /* wire bytes consumed so far */
	bc_rx rx;
	bool dead;
};

static bool take(struct run *r, size_t n, const uint8_t **p)
{
	if (r->len - r->pos < n)
		return false;
	*p = r->in + r->pos;
	r->pos += n;
	return true;
}

static size_t take_u8(struct run *r)
{
	const uint8_t *p;
	return take(r, 1, &p) ? p[0] : 0;
}

static size_t take_u16(struct run *r)
{
	const uint8_t *p;
	return take(r, 2, &p) ? bc_load16(p) : 0;
}

static void walk(bc_frame *f)
{
	for (uint16_t i = 0; i < f->count; i++) {
		int rc;
		switch (f->type) {
		case BC_T_POST: {
			bc_post_item it;
			rc = bc_proto_next_post(f, &it);
			break;
		}
		case BC_T_ACK: {
			const uint8_t *id;
			rc = bc_proto_next_id(f, &id);
			break;
		}
		case BC_T_PREKEY_PUT: {
			const uint8_t *p;
			size_t n;
			rc = bc_proto_next_blob(f, &p, &n);
			break;
		}
		case BC_T_RESPONSE | BC_T_FETCH: {
			bc_msg_item it;
			rc = bc_proto_next_msg(f, &it);
			break;
		}
		default:
			return; /* a count that is not a list (ack response) */
		}
		CHECK(rc == BC_OK);
	}
}

static void drain(struct run *r)
{
	while (!r->dead) {
		const uint8_t *fr;
		size_t len;
		int rc = bc_rx_next(&r->rx, &fr, &len), a, b;
		bc_frame f;
		if (rc == 0) {
			CHECK(fr == NULL && len == 0);
			return;
		}
		if (rc < 0) {
			CHECK(rc == BC_ERR_TOOBIG || rc == BC_ERR_MALFORMED);
			r->dead = true;
			return;
		}
		CHECK(rc == 1);
		CHECK(len >= BC_PROTO_HDR_LEN && len <= r->rx.max_frame);
		CHECK(bc_load32(fr) == len - 4);
		CHECK(fr >= r->rx.plain &&
		      fr + len <= r->rx.plain + r->rx.plain_len);
		a = bc_proto_decode(fr, len, false, &f);
		if (a == BC_OK)
			walk(&f);
		b = bc_proto_decode(fr, len, true, &f);
		if (b == BC_OK)
			walk(&f);
		CHECK(a != BC_OK || b != BC_OK);
	}
}

static void feed(struct run *r, size_t n)
{
	int rc;
	if (r->dead)
		return;
	if (n > r->wire.len - r->fed)
		n = r->wire.len - r->fed;
	rc = bc_rx_feed(&r->rx, &r->recv, n ? r->wire.buf + r->fed : NULL, n);
	r->fed += n;
	if (rc != BC_OK) {
		CHECK(rc == BC_ERR_AUTH || rc == BC_ERR_PROTOCOL ||
		      rc == BC_ERR_TOOBIG || rc == BC_ERR_NOMEM);
		r->dead = true;
		return;
	}
	CHECK(r->rx.raw_len <= BC_RECORD_MAX + 1);
	drain(r);
	if (!r->dead)
		bc_rx_compact(&r->rx);
}

static void seal(struct run *r, const uint8_t *p, size_t n)
{
	int rc = bc_tx_seal(&r->send, p, n, &r->wire);
	if (rc != BC_OK) {
		CHECK(rc == BC_ERR_NOMEM || rc == BC_ERR_TOOBIG);
		r->dead = true;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r;
	uint8_t *tmp = NULL;
	bool inject;

	if (!g_ready)
		setup();
	if (size < 1)
		return 0;
	memset(&r, 0, sizeof(r));
	r.in = data;
	r.len = size;
	r.pos = 1;
	r.send = g_send;
	r.recv = g_recv;
	bc_wr_init(&r.wire, WIRE_MAX);
	bc_rx_init(&r.rx, 4096u << (data[0] & 7));
	inject = data[0] & 8;
	if (inject)
		bc_alloc_fail_at(1 + take_u8(&r));

	while (!r.dead && r.pos < r.len) {
		size_t o = take_u8(&r), p = o >> 3, n;
		const uint8_t *q;
		switch (o & 7) {
		case 0: /* raw */
			n = take_u8(&r);
			if (n > r.len - r.pos)
				n = r.len - r.pos;
			(void)take(&r, n, &q);
			if (n)
				bc_wr_raw(&r.wire, q, n);
			if (r.wire.err != BC_OK)
				r.dead = true;
			break;
		case 1: /* sealed chunk, repeated */
			n = take_u16(&r) % 4096;
			if (n > r.len - r.pos)
				n = r.len - r.pos;
			(void)take(&r, n, &q);
			if (n == 0)
				break;
			tmp = realloc(tmp, n * (p + 1));
			CHECK(tmp != NULL);
			for (size_t i = 0; i <= p; i++)
				memcpy(tmp + i * n, q, n);
			seal(&r, tmp, n * (p + 1));
			break;
		case 2: { /* a sealed frame with a right length prefix */
			uint8_t h[9];
			size_t hi, lo;
			h[4] = (uint8_t)take_u8(&r);
			hi = take_u16(&r);
			lo = take_u16(&r);
			bc_store32(h + 5, (uint32_t)(hi << 16 | lo));
			n = take_u8(&r);
			if (n > r.len - r.pos)
				n = r.len - r.pos;
			(void)take(&r, n, &q);
			bc_store32(h, (uint32_t)(5 + n));
			tmp = realloc(tmp, 9 + n);
			CHECK(tmp != NULL);
			memcpy(tmp, h, 9);
			if (n)
				memcpy(tmp + 9, q, n);
			seal(&r, tmp, 9 + n);
			break;
		}
		case 3:
			feed(&r, take_u16(&r));
			break;
		case 4:
			feed(&r, SIZE_MAX);
			break;
		case 5: { /* flip a bit of the unfed wire */
			size_t left = r.wire.len - r.fed;
			n = take_u16(&r);
			if (left)
				r.wire.buf[r.fed + n % left] ^=
					(uint8_t)(1u << (p & 7));
			break;
		}
		case 6: { /* an empty record */
			uint8_t *rec = bc_wr_reserve(&r.wire,
						     2 + BC_NOISE_TAGLEN);
			uint8_t none = 0;
			if (rec == NULL) {
				r.dead = true;
				break;
			}
			bc_store16(rec, BC_NOISE_TAGLEN);
			CHECK(bc_noise_cs_encrypt(&r.send, NULL, 0, &none, 0,
						  rec + 2) == BC_OK);
			break;
		}
		default: /* drop */
			n = take_u8(&r);
			if (n > r.wire.len - r.fed)
				n = r.wire.len - r.fed;
			r.fed += n;
			break;
		}
	}
	feed(&r, SIZE_MAX);
	if (!r.dead) {
		bc_rx_compact(&r.rx);
		if (bc_rx_pending(&r.rx) == 0)
			CHECK(r.rx.raw == NULL && r.rx.plain == NULL);
		CHECK(r.rx.raw_len < 2 + BC_RECORD_MAX);
	}
	if (inject)
		bc_alloc_fail_at(0);
	bc_rx_free(&r.rx);
	bc_wr_free(&r.wire);
	bc_noise_cs_wipe(&r.send);
	bc_noise_cs_wipe(&r.recv);
	free(tmp);
	return 0;
}
