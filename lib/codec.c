/*
 * codec.c - canonical bounds-checked reader and writer (see codec.h).
 *
 * Invariants: for a writer, len <= cap and len <= max; for a reader,
 * pos <= len. Every read checks n <= len - pos before touching memory
 * (written this way round so that it cannot overflow).
 */
#include <sodium.h>

#include "codec.h"
#include "internal.h"

/* ---- writer ------------------------------------------------------------- */

void bc_wr_init(bc_wr *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max < BC_CODEC_MAX ? max : BC_CODEC_MAX;
}

void bc_wr_init_fixed(bc_wr *w, uint8_t *buf, size_t size)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = size;
	w->max = size;
	w->fixed = true;
}

static int wr_fail(bc_wr *w, int err)
{
	if (w->err == BC_OK)
		w->err = err;
	return w->err;
}

/* Where a zero-byte reservation points when nothing is allocated yet: a
 * success is never reported as NULL. Nothing is ever written through it. */
static uint8_t empty_anchor;

uint8_t *bc_wr_reserve(bc_wr *w, size_t n)
{
	if (w->err != BC_OK)
		return NULL;
	if (n == 0)
		return w->buf ? w->buf + w->len : &empty_anchor;
	if (n > w->max - w->len) {
		wr_fail(w, BC_ERR_TOOBIG);
		return NULL;
	}
	if (n > w->cap - w->len) {
		size_t ncap, need = w->len + n;
		uint8_t *nb;
		if (w->fixed) {
			wr_fail(w, BC_ERR_TOOBIG);
			return NULL;
		}
		ncap = w->cap ? w->cap : 64;
		while (ncap < need)
			ncap = ncap > w->max / 2 ? w->max : ncap * 2;
		/* Allocate anew rather than realloc so the old copy can be
		 * wiped: encoded objects often hold secrets. */
		nb = bc_malloc(ncap);
		if (nb == NULL) {
			wr_fail(w, BC_ERR_NOMEM);
			return NULL;
		}
		if (w->len)
			memcpy(nb, w->buf, w->len);
		bc_free_secret(w->buf, w->cap);
		w->buf = nb;
		w->cap = ncap;
	}
	w->len += n;
	return w->buf + w->len - n;
}

int bc_wr_raw(bc_wr *w, const void *p, size_t n)
{
	uint8_t *d = bc_wr_reserve(w, n);
	if (d == NULL)
		return w->err;
	if (n)
		memcpy(d, p, n);
	return BC_OK;
}

int bc_wr_u8(bc_wr *w, uint8_t v)
{
	return bc_wr_raw(w, &v, 1);
}

int bc_wr_u16(bc_wr *w, uint16_t v)
{
	uint8_t b[2];
	bc_store16(b, v);
	return bc_wr_raw(w, b, 2);
}

int bc_wr_u32(bc_wr *w, uint32_t v)
{
	uint8_t b[4];
	bc_store32(b, v);
	return bc_wr_raw(w, b, 4);
}

int bc_wr_u64(bc_wr *w, uint64_t v)
{
	uint8_t b[8];
	bc_store64(b, v);
	return bc_wr_raw(w, b, 8);
}

int bc_wr_bool(bc_wr *w, bool v)
{
	return bc_wr_u8(w, v ? 1 : 0);
}

int bc_wr_bytes(bc_wr *w, const void *p, size_t n)
{
	if (n > UINT32_MAX)
		return wr_fail(w, BC_ERR_TOOBIG);
	if (bc_wr_u32(w, (uint32_t)n) != BC_OK)
		return w->err;
	return bc_wr_raw(w, p, n);
}

int bc_wr_str(bc_wr *w, const char *s)
{
	size_t n = strlen(s);
	if (!bc_utf8_valid((const uint8_t *)s, n))
		return wr_fail(w, BC_ERR_INVALID);
	return bc_wr_bytes(w, s, n);
}

int bc_wr_patch32(bc_wr *w, size_t off, uint32_t v)
{
	if (w->err != BC_OK)
		return w->err;
	if (off > w->len || w->len - off < 4)
		return wr_fail(w, BC_ERR_INVALID);
	bc_store32(w->buf + off, v);
	return BC_OK;
}

int bc_wr_finish(bc_wr *w, uint8_t **out, size_t *outlen)
{
	int err = w->err;
	if (err != BC_OK) {
		bc_wr_free(w);
		*out = NULL;
		*outlen = 0;
		return err;
	}
	if (w->buf == NULL && !w->fixed) { /* empty: still hand out a buffer */
		w->buf = bc_malloc(1);
		if (w->buf == NULL) {
			*out = NULL;
			*outlen = 0;
			return BC_ERR_NOMEM;
		}
		w->cap = 1;
	}
	*out = w->buf;
	*outlen = w->len;
	w->buf = NULL;
	w->len = w->cap = 0;
	return BC_OK;
}

int bc_wr_finish_exact(bc_wr *w, size_t want)
{
	uint8_t *p;
	size_t n;
	int err = bc_wr_finish(w, &p, &n);
	if (err != BC_OK)
		return err;
	return n == want ? BC_OK : BC_ERR_INTERNAL;
}

void bc_wr_free(bc_wr *w)
{
	if (!w->fixed)
		bc_free_secret(w->buf, w->cap);
	w->buf = NULL;
	w->len = w->cap = 0;
}

/* ---- reader ------------------------------------------------------------- */

void bc_rd_init(bc_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p ? len : 0;
	r->pos = 0;
	r->err = BC_OK;
}

int bc_rd_fail(bc_rd *r, int err)
{
	if (r->err == BC_OK)
		r->err = err;
	return r->err;
}

int bc_rd_ref(bc_rd *r, size_t n, const uint8_t **out)
{
	*out = NULL;
	if (r->err != BC_OK)
		return r->err;
	if (n > r->len - r->pos)
		return bc_rd_fail(r, BC_ERR_MALFORMED);
	if (r->p == NULL) { /* empty input: n is 0; never NULL + 0 */
		*out = &empty_anchor;
		return BC_OK;
	}
	*out = r->p + r->pos;
	r->pos += n;
	return BC_OK;
}

int bc_rd_raw(bc_rd *r, void *out, size_t n)
{
	const uint8_t *p;
	if (bc_rd_ref(r, n, &p) != BC_OK)
		return r->err;
	if (n)
		memcpy(out, p, n);
	return BC_OK;
}

int bc_rd_u8(bc_rd *r, uint8_t *v)
{
	const uint8_t *p;
	*v = 0;
	if (bc_rd_ref(r, 1, &p) != BC_OK)
		return r->err;
	*v = p[0];
	return BC_OK;
}

int bc_rd_u16(bc_rd *r, uint16_t *v)
{
	const uint8_t *p;
	*v = 0;
	if (bc_rd_ref(r, 2, &p) != BC_OK)
		return r->err;
	*v = bc_load16(p);
	return BC_OK;
}

int bc_rd_u32(bc_rd *r, uint32_t *v)
{
	const uint8_t *p;
	*v = 0;
	if (bc_rd_ref(r, 4, &p) != BC_OK)
		return r->err;
	*v = bc_load32(p);
	return BC_OK;
}

int bc_rd_u64(bc_rd *r, uint64_t *v)
{
	const uint8_t *p;
	*v = 0;
	if (bc_rd_ref(r, 8, &p) != BC_OK)
		return r->err;
	*v = bc_load64(p);
	return BC_OK;
}

int bc_rd_bool(bc_rd *r, bool *v)
{
	uint8_t b;
	*v = false;
	if (bc_rd_u8(r, &b) != BC_OK)
		return r->err;
	if (b > 1)
		return bc_rd_fail(r, BC_ERR_MALFORMED);
	*v = b == 1;
	return BC_OK;
}

int bc_rd_bytes(bc_rd *r, size_t max, const uint8_t **out, size_t *outlen)
{
	uint32_t n;
	*out = NULL;
	*outlen = 0;
	if (bc_rd_u32(r, &n) != BC_OK)
		return r->err;
	if (n > max)
		return bc_rd_fail(r, BC_ERR_TOOBIG);
	if (bc_rd_ref(r, n, out) != BC_OK)
		return r->err;
	*outlen = n;
	return BC_OK;
}

int bc_rd_str(bc_rd *r, size_t max, char **out)
{
	const uint8_t *p;
	size_t n;
	char *s;
	*out = NULL;
	if (bc_rd_bytes(r, max, &p, &n) != BC_OK)
		return r->err;
	if (!bc_utf8_valid(p, n))
		return bc_rd_fail(r, BC_ERR_MALFORMED);
	s = bc_malloc(n + 1);
	if (s == NULL)
		return bc_rd_fail(r, BC_ERR_NOMEM);
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	*out = s;
	return BC_OK;
}

int bc_rd_count(bc_rd *r, uint16_t max, uint16_t *count)
{
	if (bc_rd_u16(r, count) != BC_OK)
		return r->err;
	if (*count > max) {
		*count = 0;
		return bc_rd_fail(r, BC_ERR_TOOBIG);
	}
	return BC_OK;
}

int bc_rd_end(bc_rd *r)
{
	if (r->err == BC_OK && r->pos != r->len)
		r->err = BC_ERR_MALFORMED;
	return r->err;
}

/* ---- UTF-8 -------------------------------------------------------------- */

bool bc_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t need;
		uint32_t cp, min;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			need = 1, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (need > n - i - 1)
			return false;
		for (size_t k = 1; k <= need; k++) {
			uint8_t cc = s[i + k];
			if ((cc & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (cc & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}
