/*
 * fuzz_codec.c - libFuzzer target for the canonical codec (lib/codec.c).
 *
 * The input carries its own schema. Layout:
 *
 *   byte 0      flags: bits 0-3 = number of schema ops - 1,
 *                      bit 4    = re-encode into a fixed buffer
 *                                 (else a growable writer capped at the
 *                                 message length),
 *                      bit 5    = inject an allocation failure
 *   byte 1      with bit 5: fail the (byte 1)th allocation from now
 *   ops         one byte each: low nibble = type, high nibble = parameter
 *                 0 u8   1 u16   2 u32   3 u64   4 bool
 *                 5 bytes (cap = 17 * param)   6 str (cap = 17 * param)
 *                 7 list (count cap = param; the next op is the element
 *                   type, itself possibly a list, nested at most 3 deep)
 *                 8 raw[param] by copy   9 raw[param] by reference
 *                 10-15: u8
 *   message     everything after the ops
 *
 * The message is decoded field by field with bc_rd_*; each value read is
 * immediately written back with the matching bc_wr_* call. If the reader
 * accepts the whole message (bc_rd_end == BC_OK), the writer must have
 * produced exactly the input bytes: the codec promises that every field
 * has one encoding, so encode(decode(x)) == x. Any mismatch traps.
 * Other checks: a field the reader accepted is always accepted by the
 * writer; references point inside the input; strings the reader returns
 * are valid UTF-8 without NUL by an independent validator, which is also
 * compared with bc_utf8_valid on every byte string read; the reader's
 * error is sticky.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                           \
	do {                               \
		if (!(c))                  \
			__builtin_trap();  \
	} while (0)

#define MAX_DEPTH 3
#define MAX_FIELDS 100000

struct ctx {
	bc_rd r;
	bc_wr w;
	const uint8_t *msg;
	size_t msglen;
	const uint8_t *ops;
	size_t nops;
	unsigned long fields;
	int first_err; /* first reader error seen */
	bool nomem;    /* an injected allocation failure may have hit */
};

/* An independent UTF-8 oracle (Unicode Table 3-7, NUL refused) for a
 * differential check of bc_utf8_valid. */
static bool ref_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i], lo = 0x80, hi = 0xbf;
		size_t need;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
		if (n - i <= need || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= need; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += need + 1;
	}
	return true;
}

/* Record a reader result and check stickiness. Returns true on success. */
static bool rd_ok(struct ctx *c, int rc)
{
	if (c->first_err != BC_OK) {
		CHECK(rc == c->first_err);
		return false;
	}
	if (rc != BC_OK) {
		CHECK(rc == BC_ERR_MALFORMED || rc == BC_ERR_TOOBIG ||
		      rc == BC_ERR_NOMEM);
		if (rc == BC_ERR_NOMEM)
			CHECK(c->nomem);
		c->first_err = rc;
		return false;
	}
	return true;
}

/* A write of a value the reader accepted must succeed, unless an
 * injected allocation failure hit. */
static void wr_ok(struct ctx *c, int rc)
{
	if (rc != BC_OK)
		CHECK(c->nomem && rc == BC_ERR_NOMEM);
}

static void field(struct ctx *c, size_t opi, int depth)
{
	uint8_t op = opi < c->nops ? c->ops[opi] : 0;
	unsigned type = op & 15u, param = op >> 4;

	if (++c->fields > MAX_FIELDS)
		return;
	switch (type) {
	case 1: {
		uint16_t v;
		if (rd_ok(c, bc_rd_u16(&c->r, &v)))
			wr_ok(c, bc_wr_u16(&c->w, v));
		break;
	}
	case 2: {
		uint32_t v;
		if (rd_ok(c, bc_rd_u32(&c->r, &v)))
			wr_ok(c, bc_wr_u32(&c->w, v));
		break;
	}
	case 3: {
		uint64_t v;
		if (rd_ok(c, bc_rd_u64(&c->r, &v)))
			wr_ok(c, bc_wr_u64(&c->w, v));
		break;
	}
	case 4: {
		bool v;
		if (rd_ok(c, bc_rd_bool(&c->r, &v)))
			wr_ok(c, bc_wr_bool(&c->w, v));
		break;
	}
	case 5: {
		const uint8_t *p;
		size_t n;
		int rc = bc_rd_bytes(&c->r, 17u * param, &p, &n);
		if (rd_ok(c, rc)) {
			CHECK(n <= 17u * param);
			CHECK(p >= c->msg && n <= c->msglen &&
			      (size_t)(p - c->msg) <= c->msglen - n);
			CHECK(bc_utf8_valid(p, n) == ref_utf8_valid(p, n));
			wr_ok(c, bc_wr_bytes(&c->w, p, n));
		} else {
			CHECK(p == NULL && n == 0);
		}
		break;
	}
	case 6: {
		char *s = NULL;
		int rc = bc_rd_str(&c->r, 17u * param, &s);
		if (rd_ok(c, rc)) {
			size_t n = strlen(s);
			CHECK(n <= 17u * param);
			CHECK(ref_utf8_valid((const uint8_t *)s, n));
			wr_ok(c, bc_wr_str(&c->w, s));
		} else {
			CHECK(s == NULL);
		}
		bc_free(s);
		break;
	}
	case 7: {
		uint16_t count;
		if (!rd_ok(c, bc_rd_count(&c->r, (uint16_t)param, &count)))
			return;
		CHECK(count <= param);
		wr_ok(c, bc_wr_u16(&c->w, count));
		/* elements: the next op, or u8 once too deep */
		for (uint16_t i = 0; i < count; i++)
			field(c, depth + 1 < MAX_DEPTH ? opi + 1 : SIZE_MAX,
			      depth + 1);
		break;
	}
	case 8: {
		uint8_t buf[15];
		if (rd_ok(c, bc_rd_raw(&c->r, buf, param)))
			wr_ok(c, bc_wr_raw(&c->w, buf, param));
		break;
	}
	case 9: {
		const uint8_t *p;
		if (rd_ok(c, bc_rd_ref(&c->r, param, &p))) {
			CHECK(p >= c->msg &&
			      (size_t)(p - c->msg) <= c->msglen - param);
			wr_ok(c, bc_wr_raw(&c->w, p, param));
		}
		break;
	}
	default: {
		uint8_t v;
		if (rd_ok(c, bc_rd_u8(&c->r, &v)))
			wr_ok(c, bc_wr_u8(&c->w, v));
		break;
	}
	}
}

/* The index of the op after op i (a list also consumes its element op,
 * recursively). */
static size_t next_op(const uint8_t *ops, size_t nops, size_t i, int depth)
{
	if (i < nops && (ops[i] & 15u) == 7 && depth + 1 < MAX_DEPTH)
		return next_op(ops, nops, i + 1, depth + 1);
	return i + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c;
	uint8_t *copy, *fixed = NULL, *out = NULL;
	size_t hdr, outlen = 0;
	unsigned fail_at = 0;
	int rc;

	if (size < 1)
		return 0;
	memset(&c, 0, sizeof(c));
	c.nops = (size_t)(data[0] & 15u) + 1;
	hdr = 1;
	if (data[0] & 0x20) {
		if (size < 2)
			return 0;
		fail_at = data[1];
		hdr = 2;
	}
	if (size < hdr + c.nops)
		return 0;
	c.ops = data + hdr;
	/* An exact-size copy of the message: ASan sees any overread. */
	c.msglen = size - hdr - c.nops;
	copy = bc_malloc(c.msglen);
	if (copy == NULL)
		return 0;
	if (c.msglen)
		memcpy(copy, data + hdr + c.nops, c.msglen);
	c.msg = copy;

	if (data[0] & 0x10) {
		fixed = bc_malloc(c.msglen);
		if (fixed == NULL) {
			bc_free(copy);
			return 0;
		}
		bc_wr_init_fixed(&c.w, fixed, c.msglen);
	} else {
		bc_wr_init(&c.w, c.msglen);
	}
	if (fail_at != 0) {
		bc_alloc_fail_at(fail_at);
		c.nomem = true;
	}

	bc_rd_init(&c.r, c.msg, c.msglen);
	for (size_t i = 0; i < c.nops && c.fields <= MAX_FIELDS;
	     i = next_op(c.ops, c.nops, i, 0))
		field(&c, i, 0);

	rc = bc_rd_end(&c.r);
	if (c.first_err != BC_OK)
		CHECK(rc == c.first_err);
	if (rc == BC_OK && c.fields <= MAX_FIELDS) {
		int wrc = bc_wr_finish(&c.w, &out, &outlen);
		if (wrc == BC_OK) {
			/* the canonical round trip */
			CHECK(outlen == c.msglen);
			CHECK(outlen == 0 || memcmp(out, c.msg, outlen) == 0);
			if (fixed != NULL)
				CHECK(out == fixed || outlen == 0);
			else
				bc_free(out);
		} else {
			CHECK(c.nomem && wrc == BC_ERR_NOMEM && out == NULL);
		}
	} else {
		bc_wr_free(&c.w);
	}
	bc_alloc_fail_at(0);
	bc_free(fixed);
	bc_free(copy);
	return 0;
}
