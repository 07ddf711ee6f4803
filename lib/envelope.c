/*
 * envelope.c - envelope and inner-plaintext encoding (see envelope.h).
 */
#include <sodium.h>

#include "codec.h"
#include "envelope.h"
#include "internal.h"

static const size_t buckets[] = {256, 1024, 4096, 16384, 65536};

size_t bc_env_bucket(size_t n)
{
	for (size_t i = 0; i < BC_ARRAY_LEN(buckets); i++)
		if (n <= buckets[i])
			return buckets[i];
	return (n + 65535) / 65536 * 65536;
}

/* version + meta prefix + content prefix + pad prefix */
#define INNER_FIXED (1 + 4 + 4 + 4)

int bc_env_inner_encode(const uint8_t *meta, size_t mlen,
			const uint8_t *content, size_t clen, uint8_t **out,
			size_t *outlen)
{
	size_t base, total;
	uint8_t *pad;
	bc_wr w;
	*out = NULL;
	*outlen = 0;
	if (mlen > BC_ENV_MAX_META || clen > BC_ENV_MAX_CONTENT)
		return BC_ERR_TOOBIG;
	base = INNER_FIXED + mlen + clen;
	total = bc_env_bucket(base);
	bc_wr_init(&w, total);
	bc_wr_u8(&w, BC_ENV_VERSION);
	bc_wr_bytes(&w, meta, mlen);
	bc_wr_bytes(&w, content, clen);
	bc_wr_u32(&w, (uint32_t)(total - base));
	pad = bc_wr_reserve(&w, total - base);
	if (pad != NULL)
		memset(pad, 0, total - base);
	return bc_wr_finish(&w, out, outlen);
}

int bc_env_inner_decode(const uint8_t *in, size_t len, const uint8_t **meta,
			size_t *mlen, const uint8_t **content, size_t *clen)
{
	bc_rd r;
	uint8_t ver;
	const uint8_t *pad;
	size_t plen;
	uint8_t acc = 0;
	*meta = *content = NULL;
	*mlen = *clen = 0;
	if (len != bc_env_bucket(len))
		return BC_ERR_MALFORMED;
	bc_rd_init(&r, in, len);
	if (bc_rd_u8(&r, &ver) != BC_OK)
		return BC_ERR_MALFORMED;
	if (ver != BC_ENV_VERSION)
		return BC_ERR_VERSION;
	bc_rd_bytes(&r, BC_ENV_MAX_META, meta, mlen);
	bc_rd_bytes(&r, BC_ENV_MAX_CONTENT, content, clen);
	bc_rd_bytes(&r, len, &pad, &plen);
	if (bc_rd_end(&r) != BC_OK)
		goto bad;
	/* The padding is all zeros; checked without an early exit. */
	for (size_t i = 0; i < plen; i++)
		acc |= pad[i];
	if (acc != 0)
		goto bad;
	/* And minimal: the bucket is the one the content needs. */
	if (bc_env_bucket(INNER_FIXED + *mlen + *clen) != len)
		goto bad;
	return BC_OK;
bad:
	*meta = *content = NULL;
	*mlen = *clen = 0;
	return BC_ERR_MALFORMED;
}

int bc_env_body_encode(uint8_t kind, const uint8_t *setup, size_t slen,
		       const uint8_t *rmsg, size_t rlen, uint8_t **out,
		       size_t *outlen)
{
	bc_wr w;
	*out = NULL;
	*outlen = 0;
	if ((kind != BC_ENV_KIND_SETUP && kind != BC_ENV_KIND_MSG) ||
	    (kind == BC_ENV_KIND_SETUP) != (setup != NULL))
		return BC_ERR_INVALID;
	if (slen > BC_ENV_MAX_SETUP || rlen > BC_ENV_MAX_BODY)
		return BC_ERR_TOOBIG;
	bc_wr_init(&w, BC_ENV_MAX_BODY + BC_ENV_MAX_SETUP + 16);
	bc_wr_u8(&w, BC_ENV_VERSION);
	bc_wr_u8(&w, kind);
	if (kind == BC_ENV_KIND_SETUP)
		bc_wr_bytes(&w, setup, slen);
	bc_wr_bytes(&w, rmsg, rlen);
	return bc_wr_finish(&w, out, outlen);
}

int bc_env_body_decode(const uint8_t *in, size_t len, uint8_t *kind,
		       const uint8_t **setup, size_t *slen,
		       const uint8_t **rmsg, size_t *rlen)
{
	bc_rd r;
	uint8_t ver = 0;
	*setup = *rmsg = NULL;
	*slen = *rlen = 0;
	*kind = 0;
	bc_rd_init(&r, in, len);
	bc_rd_u8(&r, &ver);
	bc_rd_u8(&r, kind);
	if (r.err != BC_OK)
		return BC_ERR_MALFORMED;
	if (ver != BC_ENV_VERSION) {
		*kind = 0;
		return BC_ERR_VERSION;
	}
	if (*kind == BC_ENV_KIND_SETUP) {
		bc_rd_bytes(&r, BC_ENV_MAX_SETUP, setup, slen);
	} else if (*kind != BC_ENV_KIND_MSG) {
		*kind = 0;
		return BC_ERR_MALFORMED;
	}
	bc_rd_bytes(&r, BC_ENV_MAX_BODY, rmsg, rlen);
	if (bc_rd_end(&r) != BC_OK) {
		*setup = *rmsg = NULL;
		*slen = *rlen = 0;
		*kind = 0;
		return BC_ERR_MALFORMED;
	}
	return BC_OK;
}
