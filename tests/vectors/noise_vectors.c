/*
 * noise_vectors.c - run Noise test vectors in the cacophony JSON format.
 *
 *   noise-vectors FILE...
 *
 * Each FILE is {"vectors": [ {...}, ... ]} where a vector has the fields
 *   protocol_name                      (required)
 *   init_prologue, resp_prologue       hex
 *   init_static, resp_static           hex private keys
 *   init_ephemeral, resp_ephemeral     hex private keys (injected)
 *   init_remote_static, resp_remote_static   hex public keys
 *   init_psks, resp_psks               arrays of hex (or the older singular
 *                                      init_psk / resp_psk)
 *   handshake_hash                     hex (optional)
 *   fail                               true if the vector must fail
 *   messages                           [{"payload", "ciphertext"}, ...]
 * Absent fields are absent; unknown fields are ignored. Handshake messages
 * alternate initiator -> responder, responder -> initiator; after the
 * handshake the remaining messages are transport messages under the split
 * CipherStates, still alternating, except in one-way patterns where all go
 * initiator -> responder. For each message the writer's output must equal the
 * vector's ciphertext and the reader, fed the vector's ciphertext, must
 * recover the payload; both sides' handshake hashes must equal
 * handshake_hash.
 *
 * Output: one line per vector, "pass NAME", "FAIL NAME: reason" or
 * "skip NAME: reason" (unsupported protocols, e.g. BLAKE2s), then
 * "N passed, N failed, N skipped". Exit status 1 if anything failed or a
 * file could not be read or parsed, else 0.
 *
 * The JSON reader below is deliberately small and strict (RFC 8259): the
 * whole file must be valid UTF-8 without NUL; no trailing commas, comments,
 * leading zeros or duplicate keys; escapes are decoded (surrogate pairs
 * must pair up; \u0000 is refused); depth, file size and every read are
 * bounded.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "internal.h"
#include "noise.h"

#define JSON_MAX_FILE ((size_t)64 << 20)
#define JSON_MAX_DEPTH 64

/* ---- a small strict JSON reader ------------------------------------------ */

enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval;

struct jmember {
	char *key;
	size_t keylen;
	struct jval *val;
};

struct jval {
	enum jtype t;
	char *s;     /* J_STR: decoded, NUL-terminated; J_NUM: the raw text */
	size_t slen;
	struct jval **items; /* J_ARR */
	struct jmember *members; /* J_OBJ */
	size_t n, cap;
};

/* The capacity to grow an array of v->cap elements to (doubling). */
static size_t jnextcap(size_t cap)
{
	return cap ? cap * 2 : 8;
}

struct jparser {
	const char *p;
	size_t len, pos;
	int depth;
	const char *err;
};

static void jfree(struct jval *v)
{
	if (v == NULL)
		return;
	free(v->s);
	for (size_t i = 0; v->t == J_ARR && i < v->n; i++)
		jfree(v->items[i]);
	for (size_t i = 0; v->t == J_OBJ && i < v->n; i++) {
		free(v->members[i].key);
		jfree(v->members[i].val);
	}
	free(v->items);
	free(v->members);
	free(v);
}

static int jfail(struct jparser *jp, const char *msg)
{
	if (jp->err == NULL)
		jp->err = msg;
	return -1;
}

static void jskip_ws(struct jparser *jp)
{
	while (jp->pos < jp->len) {
		char c = jp->p[jp->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		jp->pos++;
	}
}

static bool jpeek(struct jparser *jp, char c)
{
	return jp->pos < jp->len && jp->p[jp->pos] == c;
}

static int jhex4(struct jparser *jp, unsigned *out)
{
	unsigned v = 0;

	if (jp->len - jp->pos < 4)
		return jfail(jp, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = jp->p[jp->pos++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return jfail(jp, "bad hex digit in \\u escape");
	}
	*out = v;
	return 0;
}

static size_t utf8_put(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string starting at the opening quote; the decoded text is never longer
 * than the raw text, so one buffer of the raw length suffices (a 6-byte
 * \uXXXX yields at most 3 bytes, a 12-byte pair 4). */
static int jstring(struct jparser *jp, char **out, size_t *outlen)
{
	size_t start, end, o = 0;
	char *buf;

	jp->pos++; /* opening quote */
	start = jp->pos;
	for (end = start; end < jp->len && jp->p[end] != '"'; end++)
		if (jp->p[end] == '\\')
			end++; /* skip the escaped character */
	if (end >= jp->len)
		return jfail(jp, "unterminated string");
	if ((buf = malloc(end - start + 1)) == NULL)
		return jfail(jp, "out of memory");
	while (jp->pos < end) {
		unsigned char c = (unsigned char)jp->p[jp->pos++];
		unsigned cp, lo;

		if (c < 0x20) {
			free(buf);
			return jfail(jp, "control character in string");
		}
		if (c != '\\') {
			buf[o++] = (char)c;
			continue;
		}
		switch (jp->p[jp->pos++]) {
		case '"': buf[o++] = '"'; break;
		case '\\': buf[o++] = '\\'; break;
		case '/': buf[o++] = '/'; break;
		case 'b': buf[o++] = '\b'; break;
		case 'f': buf[o++] = '\f'; break;
		case 'n': buf[o++] = '\n'; break;
		case 'r': buf[o++] = '\r'; break;
		case 't': buf[o++] = '\t'; break;
		case 'u':
			if (jhex4(jp, &cp) != 0)
				goto bad;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				jfail(jp, "lone low surrogate");
				goto bad;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (jp->len - jp->pos < 2 || jp->p[jp->pos] != '\\' ||
				    jp->p[jp->pos + 1] != 'u') {
					jfail(jp, "lone high surrogate");
					goto bad;
				}
				jp->pos += 2;
				if (jhex4(jp, &lo) != 0)
					goto bad;
				if (lo < 0xdc00 || lo > 0xdfff) {
					jfail(jp, "bad surrogate pair");
					goto bad;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0) {
				jfail(jp, "\\u0000 in string");
				goto bad;
			}
			o += utf8_put(buf + o, cp);
			break;
		default:
			jfail(jp, "bad escape");
			goto bad;
		}
		if (jp->pos > end) { /* an escape ran past the closing quote */
			jfail(jp, "bad escape");
			goto bad;
		}
	}
	jp->pos = end + 1;
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return 0;
bad:
	free(buf);
	return -1;
}

static int jnumber(struct jparser *jp, struct jval *v)
{
	size_t start = jp->pos;
	const char *p = jp->p;

	if (jpeek(jp, '-'))
		jp->pos++;
	if (jpeek(jp, '0')) {
		jp->pos++;
	} else if (jp->pos < jp->len && p[jp->pos] >= '1' && p[jp->pos] <= '9') {
		while (jp->pos < jp->len && p[jp->pos] >= '0' && p[jp->pos] <= '9')
			jp->pos++;
	} else {
		return jfail(jp, "bad number");
	}
	if (jpeek(jp, '.')) {
		size_t d = ++jp->pos;

		while (jp->pos < jp->len && p[jp->pos] >= '0' && p[jp->pos] <= '9')
			jp->pos++;
		if (jp->pos == d)
			return jfail(jp, "bad number fraction");
	}
	if (jpeek(jp, 'e') || jpeek(jp, 'E')) {
		size_t d;

		jp->pos++;
		if (jpeek(jp, '+') || jpeek(jp, '-'))
			jp->pos++;
		d = jp->pos;
		while (jp->pos < jp->len && p[jp->pos] >= '0' && p[jp->pos] <= '9')
			jp->pos++;
		if (jp->pos == d)
			return jfail(jp, "bad number exponent");
	}
	v->t = J_NUM;
	v->slen = jp->pos - start;
	if ((v->s = malloc(v->slen + 1)) == NULL)
		return jfail(jp, "out of memory");
	memcpy(v->s, p + start, v->slen);
	v->s[v->slen] = '\0';
	return 0;
}

static int jvalue(struct jparser *jp, struct jval **out);

static int jarray(struct jparser *jp, struct jval *v)
{
	v->t = J_ARR;
	jp->pos++;
	jskip_ws(jp);
	if (jpeek(jp, ']')) {
		jp->pos++;
		return 0;
	}
	for (;;) {
		struct jval *item = NULL;

		if (jvalue(jp, &item) != 0)
			return -1;
		if (v->n == v->cap) {
			size_t ncap = jnextcap(v->cap);
			struct jval **grown = realloc(v->items, ncap * sizeof *grown);

			if (grown == NULL) {
				jfree(item);
				return jfail(jp, "out of memory");
			}
			v->items = grown;
			v->cap = ncap;
		}
		v->items[v->n++] = item;
		jskip_ws(jp);
		if (jpeek(jp, ',')) {
			jp->pos++;
			continue;
		}
		if (jpeek(jp, ']')) {
			jp->pos++;
			return 0;
		}
		return jfail(jp, "expected ',' or ']'");
	}
}

static int jobject(struct jparser *jp, struct jval *v)
{
	v->t = J_OBJ;
	jp->pos++;
	jskip_ws(jp);
	if (jpeek(jp, '}')) {
		jp->pos++;
		return 0;
	}
	for (;;) {
		struct jmember m = { NULL, 0, NULL };

		jskip_ws(jp);
		if (!jpeek(jp, '"'))
			return jfail(jp, "expected a member name");
		if (jstring(jp, &m.key, &m.keylen) != 0)
			return -1;
		for (size_t i = 0; i < v->n; i++) {
			if (v->members[i].keylen == m.keylen &&
			    memcmp(v->members[i].key, m.key, m.keylen) == 0) {
				free(m.key);
				return jfail(jp, "duplicate member name");
			}
		}
		jskip_ws(jp);
		if (!jpeek(jp, ':')) {
			free(m.key);
			return jfail(jp, "expected ':'");
		}
		jp->pos++;
		if (jvalue(jp, &m.val) != 0) {
			free(m.key);
			return -1;
		}
		if (v->n == v->cap) {
			size_t ncap = jnextcap(v->cap);
			struct jmember *grown = realloc(v->members, ncap * sizeof *grown);

			if (grown == NULL) {
				free(m.key);
				jfree(m.val);
				return jfail(jp, "out of memory");
			}
			v->members = grown;
			v->cap = ncap;
		}
		v->members[v->n++] = m;
		jskip_ws(jp);
		if (jpeek(jp, ',')) {
			jp->pos++;
			continue;
		}
		if (jpeek(jp, '}')) {
			jp->pos++;
			return 0;
		}
		return jfail(jp, "expected ',' or '}'");
	}
}

static bool jliteral(struct jparser *jp, const char *lit)
{
	size_t n = strlen(lit);

	if (jp->len - jp->pos < n || memcmp(jp->p + jp->pos, lit, n) != 0)
		return false;
	jp->pos += n;
	return true;
}

static int jvalue(struct jparser *jp, struct jval **out)
{
	struct jval *v;
	int rc = 0;

	*out = NULL;
	if (jp->depth >= JSON_MAX_DEPTH)
		return jfail(jp, "nesting too deep");
	jskip_ws(jp);
	if (jp->pos >= jp->len)
		return jfail(jp, "unexpected end of input");
	if ((v = calloc(1, sizeof *v)) == NULL)
		return jfail(jp, "out of memory");
	jp->depth++;
	switch (jp->p[jp->pos]) {
	case '{':
		rc = jobject(jp, v);
		break;
	case '[':
		rc = jarray(jp, v);
		break;
	case '"':
		v->t = J_STR;
		rc = jstring(jp, &v->s, &v->slen);
		break;
	case 't':
		v->t = J_TRUE;
		rc = jliteral(jp, "true") ? 0 : jfail(jp, "bad literal");
		break;
	case 'f':
		v->t = J_FALSE;
		rc = jliteral(jp, "false") ? 0 : jfail(jp, "bad literal");
		break;
	case 'n':
		v->t = J_NULL;
		rc = jliteral(jp, "null") ? 0 : jfail(jp, "bad literal");
		break;
	default:
		rc = jnumber(jp, v);
		break;
	}
	jp->depth--;
	if (rc != 0) {
		jfree(v);
		return -1;
	}
	*out = v;
	return 0;
}

/* Parse a whole document; on error returns NULL with *err and *at set. */
static struct jval *jparse(const char *text, size_t len, const char **err, size_t *at)
{
	struct jparser jp = { text, len, 0, 0, NULL };
	struct jval *v = NULL;

	if (!bc_utf8_valid((const uint8_t *)text, len)) {
		*err = "not valid UTF-8 (or contains NUL)";
		*at = 0;
		return NULL;
	}
	if (jvalue(&jp, &v) == 0) {
		jskip_ws(&jp);
		if (jp.pos == jp.len)
			return v;
		jfail(&jp, "trailing characters after the document");
		jfree(v);
	}
	*err = jp.err ? jp.err : "parse error";
	*at = jp.pos;
	return NULL;
}

static const struct jval *jget(const struct jval *obj, const char *key)
{
	size_t n = strlen(key);

	if (obj == NULL || obj->t != J_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (obj->members[i].keylen == n && memcmp(obj->members[i].key, key, n) == 0)
			return obj->members[i].val;
	return NULL;
}

/* ---- running one vector ---------------------------------------------------- */

enum { R_PASS, R_FAIL, R_SKIP };

#define MSGBUF (BC_NOISE_MAX_MSG + 1)

struct run {
	char reason[256];
	uint8_t *a, *b, *c; /* three MSGBUF scratch buffers */
};

static int why(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int why(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	return R_FAIL;
}

/* Decode the hex string f into buf: R_PASS, or R_FAIL with the reason set. */
static int hex_of(struct run *r, const struct jval *f, const char *what, uint8_t *buf, size_t cap,
		  size_t *len)
{
	if (f == NULL || f->t != J_STR || f->slen % 2 != 0 || f->slen / 2 > cap ||
	    sodium_hex2bin(buf, cap, f->s, f->slen, NULL, len, NULL) != 0 || *len * 2 != f->slen)
		return why(r, "%s is not a hex string of at most %zu bytes", what, cap);
	return R_PASS;
}

/* Decode the optional hex field `key` of v into buf. Returns 1 if present
 * (with *len set), 0 if absent, -1 if malformed (reason set). */
static int hex_field(struct run *r, const struct jval *v, const char *key, uint8_t *buf,
		     size_t cap, size_t *len)
{
	const struct jval *f = jget(v, key);

	if (f == NULL)
		return 0;
	return hex_of(r, f, key, buf, cap, len) == R_PASS ? 1 : -1;
}

/* Configure one side from the vector's fields with the given prefix and
 * start it: R_PASS, or R_FAIL with the reason set. */
static int configure(struct run *r, bc_noise_hs *hs, const struct jval *v, const char *side)
{
	static const char *keys[] = { "static", "ephemeral", "remote_static" };
	char key[64];
	uint8_t buf[1024];
	size_t len = 0;
	int have, rc;
	const struct jval *psks;

	snprintf(key, sizeof key, "%s_prologue", side);
	if ((have = hex_field(r, v, key, buf, sizeof buf, &len)) < 0)
		return R_FAIL;
	if (have && (rc = bc_noise_hs_set_prologue(hs, buf, len)) != BC_OK)
		return why(r, "%s: %s", key, bc_strerror(rc));

	for (size_t i = 0; i < BC_ARRAY_LEN(keys); i++) {
		snprintf(key, sizeof key, "%s_%s", side, keys[i]);
		if ((have = hex_field(r, v, key, buf, sizeof buf, &len)) < 0)
			return R_FAIL;
		if (!have)
			continue;
		if (len != BC_NOISE_DHLEN)
			return why(r, "%s is %zu bytes, not 32", key, len);
		rc = i == 0 ? bc_noise_hs_set_local_static(hs, buf)
		   : i == 1 ? bc_noise_hs_set_local_ephemeral(hs, buf)
			    : bc_noise_hs_set_remote_static(hs, buf);
		if (rc != BC_OK)
			return why(r, "%s: %s", key, bc_strerror(rc));
	}

	snprintf(key, sizeof key, "%s_psks", side);
	psks = jget(v, key);
	if (psks != NULL) {
		if (psks->t != J_ARR)
			return why(r, "%s is not an array", key);
		for (size_t i = 0; i < psks->n; i++) {
			if (hex_of(r, psks->items[i], key, buf, sizeof buf, &len) != R_PASS)
				return R_FAIL;
			if (len != BC_NOISE_KEYLEN)
				return why(r, "%s[%zu] is %zu bytes, not 32", key, i, len);
			if ((rc = bc_noise_hs_add_psk(hs, buf)) != BC_OK)
				return why(r, "%s[%zu]: %s", key, i, bc_strerror(rc));
		}
	} else {
		/* older files: a single "init_psk" / "resp_psk" */
		snprintf(key, sizeof key, "%s_psk", side);
		if ((have = hex_field(r, v, key, buf, sizeof buf, &len)) < 0)
			return R_FAIL;
		if (have) {
			if (len != BC_NOISE_KEYLEN)
				return why(r, "%s is %zu bytes, not 32", key, len);
			if ((rc = bc_noise_hs_add_psk(hs, buf)) != BC_OK)
				return why(r, "%s: %s", key, bc_strerror(rc));
		}
	}
	if ((rc = bc_noise_hs_start(hs)) != BC_OK)
		return why(r, "%s start: %s", side, bc_strerror(rc));
	return R_PASS;
}

static int check_hash(struct run *r, const bc_noise_hs *hs, const char *side,
		      const uint8_t *want, size_t wantlen)
{
	uint8_t h[BC_NOISE_HASHMAXLEN];
	size_t hlen = sizeof h;
	int rc;

	if ((rc = bc_noise_hs_get_handshake_hash(hs, h, &hlen)) != BC_OK)
		return why(r, "%s handshake hash: %s", side, bc_strerror(rc));
	if (hlen != wantlen || sodium_memcmp(h, want, hlen) != 0)
		return why(r, "%s handshake hash differs", side);
	return R_PASS;
}

/* Run the messages of vector v; returns R_PASS / R_FAIL with r->reason. */
static int run_messages(struct run *r, const struct jval *v, bc_noise_hs *init,
			bc_noise_hs *resp)
{
	const struct jval *msgs = jget(v, "messages");
	uint8_t want_h[BC_NOISE_HASHMAXLEN];
	size_t want_hlen = 0;
	int have_h;
	bc_noise_cs isend, irecv, rsend, rrecv;
	bool split = false, oneway = false;
	int res = R_PASS;

	memset(&isend, 0, sizeof isend);
	irecv = rsend = rrecv = isend;
	if ((have_h = hex_field(r, v, "handshake_hash", want_h, sizeof want_h, &want_hlen)) < 0)
		return R_FAIL;
	if (msgs == NULL || msgs->t != J_ARR)
		return why(r, "no messages array");

	for (size_t i = 0; i < msgs->n && res == R_PASS; i++) {
		const struct jval *m = msgs->items[i];
		size_t plen, clen, outlen = 0, gotlen = 0;
		bool from_init;
		int rc;

		if (m->t != J_OBJ)
			return why(r, "message %zu is not an object", i);
		if (hex_of(r, jget(m, "payload"), "payload", r->a, MSGBUF, &plen) != R_PASS ||
		    hex_of(r, jget(m, "ciphertext"), "ciphertext", r->b, MSGBUF, &clen) != R_PASS)
			return R_FAIL;
		from_init = oneway || i % 2 == 0;

		if (!split) {
			bc_noise_hs *w = from_init ? init : resp, *rd = from_init ? resp : init;

			if (bc_noise_hs_action(w) != BC_NOISE_ACTION_WRITE ||
			    bc_noise_hs_action(rd) != BC_NOISE_ACTION_READ)
				return why(r, "message %zu: the handshake is not expecting it", i);
			rc = bc_noise_hs_write_message(w, r->a, plen, r->c, MSGBUF, &outlen);
			if (rc != BC_OK)
				return why(r, "message %zu: write: %s", i, bc_strerror(rc));
			if (outlen != clen || memcmp(r->c, r->b, clen) != 0)
				return why(r, "message %zu: ciphertext differs", i);
			rc = bc_noise_hs_read_message(rd, r->b, clen, r->c, MSGBUF, &gotlen);
			if (rc != BC_OK)
				return why(r, "message %zu: read: %s", i, bc_strerror(rc));
			if (gotlen != plen || memcmp(r->c, r->a, plen) != 0)
				return why(r, "message %zu: payload differs", i);

			if (bc_noise_hs_action(init) == BC_NOISE_ACTION_SPLIT) {
				if (bc_noise_hs_action(resp) != BC_NOISE_ACTION_SPLIT)
					return why(r, "sides disagree on the end of the handshake");
				if (have_h && (check_hash(r, init, "initiator", want_h, want_hlen) != R_PASS ||
					       check_hash(r, resp, "responder", want_h, want_hlen) != R_PASS))
					return R_FAIL;
				if ((rc = bc_noise_hs_split(init, &isend, &irecv)) != BC_OK ||
				    (rc = bc_noise_hs_split(resp, &rsend, &rrecv)) != BC_OK) {
					res = why(r, "split: %s", bc_strerror(rc));
					break;
				}
				split = true;
				/* one-way: the responder has nothing to send with */
				oneway = rsend.cipher == BC_NOISE_CIPHER_NONE;
			}
			continue;
		}

		/* transport message */
		{
			bc_noise_cs *s = from_init ? &isend : &rsend, *d = from_init ? &rrecv : &irecv;

			if ((rc = bc_noise_cs_encrypt(s, NULL, 0, r->a, plen, r->c)) != BC_OK) {
				res = why(r, "message %zu: transport encrypt: %s", i, bc_strerror(rc));
				break;
			}
			if (clen != plen + BC_NOISE_TAGLEN || memcmp(r->c, r->b, clen) != 0) {
				res = why(r, "message %zu: transport ciphertext differs", i);
				break;
			}
			if ((rc = bc_noise_cs_decrypt(d, NULL, 0, r->b, clen, r->c)) != BC_OK) {
				res = why(r, "message %zu: transport decrypt: %s", i, bc_strerror(rc));
				break;
			}
			if (memcmp(r->c, r->a, plen) != 0) {
				res = why(r, "message %zu: transport payload differs", i);
				break;
			}
		}
	}
	if (res == R_PASS && !split && have_h)
		res = why(r, "the messages end before the handshake does");
	bc_noise_cs_wipe(&isend);
	bc_noise_cs_wipe(&irecv);
	bc_noise_cs_wipe(&rsend);
	bc_noise_cs_wipe(&rrecv);
	return res;
}

static int run_vector(struct run *r, const struct jval *v, const char *name)
{
	const struct jval *fail = jget(v, "fail");
	bool expect_fail = fail != NULL && fail->t == J_TRUE;
	bc_noise_hs *init = NULL, *resp = NULL;
	int rc, res;

	r->reason[0] = '\0';
	if ((rc = bc_noise_hs_new(&init, name, true)) != BC_OK ||
	    (rc = bc_noise_hs_new(&resp, name, false)) != BC_OK) {
		if (rc == BC_ERR_UNSUPPORTED) {
			snprintf(r->reason, sizeof r->reason, "%s",
				 strstr(name, "_BLAKE2s") ? "BLAKE2s is not available in libsodium"
							  : "protocol not supported");
			res = R_SKIP;
		} else {
			res = why(r, "protocol name: %s", bc_strerror(rc));
		}
		goto out;
	}
	if (configure(r, init, v, "init") != R_PASS || configure(r, resp, v, "resp") != R_PASS)
		res = R_FAIL;
	else
		res = run_messages(r, v, init, resp);
	if (expect_fail)
		res = res == R_FAIL ? R_PASS : why(r, "expected to fail, but succeeded");
out:
	bc_noise_hs_free(init);
	bc_noise_hs_free(resp);
	return res;
}

/* ---- files ------------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len, const char **err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL) {
		*err = strerror(errno);
		return NULL;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			char *grown;

			if (cap >= JSON_MAX_FILE) {
				*err = "file too large";
				goto bad;
			}
			cap = cap ? cap * 2 : 65536;
			if ((grown = realloc(buf, cap)) == NULL) {
				*err = "out of memory";
				goto bad;
			}
			buf = grown;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				*err = "read error";
				goto bad;
			}
			break;
		}
	}
	fclose(f);
	*len = n;
	return buf;
bad:
	fclose(f);
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long passed = 0, failed = 0, skipped = 0;
	struct run r;

	if (argc < 2) {
		fprintf(stderr, "usage: noise-vectors FILE...\n");
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "noise-vectors: sodium_init failed\n");
		return 1;
	}
	memset(&r, 0, sizeof r);
	r.a = malloc(MSGBUF);
	r.b = malloc(MSGBUF);
	r.c = malloc(MSGBUF);
	if (r.a == NULL || r.b == NULL || r.c == NULL) {
		fprintf(stderr, "noise-vectors: out of memory\n");
		return 1;
	}

	for (int fi = 1; fi < argc; fi++) {
		const char *err = NULL;
		size_t len = 0, at = 0;
		char *text = read_file(argv[fi], &len, &err);
		struct jval *doc = NULL;
		const struct jval *vecs;

		if (text == NULL) {
			printf("FAIL %s: cannot read: %s\n", argv[fi], err);
			failed++;
			continue;
		}
		doc = jparse(text, len, &err, &at);
		free(text);
		if (doc == NULL) {
			printf("FAIL %s: not valid JSON: %s at byte %zu\n", argv[fi], err, at);
			failed++;
			continue;
		}
		vecs = jget(doc, "vectors");
		if (vecs == NULL || vecs->t != J_ARR) {
			printf("FAIL %s: no \"vectors\" array\n", argv[fi]);
			failed++;
			jfree(doc);
			continue;
		}
		for (size_t i = 0; i < vecs->n; i++) {
			const struct jval *v = vecs->items[i];
			const struct jval *pn = jget(v, "protocol_name");
			char label[64];
			const char *name;
			int res;

			if (pn == NULL) /* some older files only have "name" */
				pn = jget(v, "name");
			if (pn == NULL || pn->t != J_STR) {
				snprintf(label, sizeof label, "%s#%zu", argv[fi], i);
				printf("FAIL %s: no protocol_name\n", label);
				failed++;
				continue;
			}
			name = pn->s;
			res = run_vector(&r, v, name);
			if (res == R_PASS) {
				printf("pass %s\n", name);
				passed++;
			} else if (res == R_SKIP) {
				printf("skip %s: %s\n", name, r.reason);
				skipped++;
			} else {
				printf("FAIL %s: %s\n", name, r.reason);
				failed++;
			}
		}
		jfree(doc);
	}
	printf("%lu passed, %lu failed, %lu skipped\n", passed, failed, skipped);
	free(r.a);
	free(r.b);
	free(r.c);
	return failed ? 1 : 0;
}
