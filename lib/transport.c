/*
 * transport.c - record layer and frame stream (see transport.h).
 *
 * Invariants: raw holds fewer bytes than one whole record (complete records
 * are decrypted as soon as they are complete); plain[plain_off..plain_len)
 * is decrypted stream not yet handed out; both buffers are freed when
 * empty. Plaintext is wiped before a buffer is released.
 */
#include <sodium.h>

#include "internal.h"
#include "transport.h"

void bc_rx_init(bc_rx *rx, uint32_t max_frame)
{
	memset(rx, 0, sizeof(*rx));
	rx->max_frame = max_frame;
}

void bc_rx_free(bc_rx *rx)
{
	bc_free_secret(rx->raw, rx->raw_cap);
	bc_free_secret(rx->plain, rx->plain_cap);
	rx->raw = rx->plain = NULL;
	rx->raw_len = rx->raw_cap = 0;
	rx->plain_off = rx->plain_len = rx->plain_cap = 0;
}

size_t bc_rx_pending(const bc_rx *rx)
{
	return (size_t)rx->raw_len + (rx->plain_len - rx->plain_off);
}

void bc_rx_compact(bc_rx *rx)
{
	if (rx->raw_len == 0 && rx->raw != NULL) {
		bc_free_secret(rx->raw, rx->raw_cap);
		rx->raw = NULL;
		rx->raw_cap = 0;
	}
	if (rx->plain_off == rx->plain_len && rx->plain != NULL) {
		bc_free_secret(rx->plain, rx->plain_cap);
		rx->plain = NULL;
		rx->plain_off = rx->plain_len = rx->plain_cap = 0;
	}
}

/* Make room for n more plaintext bytes. */
static int plain_reserve(bc_rx *rx, size_t n)
{
	size_t live = rx->plain_len - rx->plain_off;
	size_t need = live + n, ncap;
	uint8_t *nb;
	if (need > (size_t)rx->max_frame + 2 * BC_RECORD_MAX + 8)
		return BC_ERR_TOOBIG;
	if (rx->plain_off > 0 && rx->plain_len + n > rx->plain_cap) {
		memmove(rx->plain, rx->plain + rx->plain_off, live);
		sodium_memzero(rx->plain + live, rx->plain_len - live);
		rx->plain_off = 0;
		rx->plain_len = (uint32_t)live;
	}
	if (rx->plain_len + n <= rx->plain_cap)
		return BC_OK;
	ncap = rx->plain_cap ? rx->plain_cap : 4096;
	while (ncap < need)
		ncap *= 2;
	nb = bc_malloc(ncap);
	if (nb == NULL)
		return BC_ERR_NOMEM;
	if (live)
		memcpy(nb, rx->plain, live);
	bc_free_secret(rx->plain, rx->plain_cap);
	rx->plain = nb;
	rx->plain_cap = (uint32_t)ncap;
	return BC_OK;
}

static int open_record(bc_rx *rx, bc_noise_cs *cs, const uint8_t *ct,
		       size_t ctlen)
{
	uint8_t none[1]; /* an empty record with no buffer: decrypt here */
	int rc;
	if (ctlen < BC_NOISE_TAGLEN)
		return BC_ERR_PROTOCOL;
	if ((rc = plain_reserve(rx, ctlen - BC_NOISE_TAGLEN)) != BC_OK)
		return rc;
	rc = bc_noise_cs_decrypt(cs, NULL, 0, ct, ctlen,
				 rx->plain != NULL ? rx->plain + rx->plain_len
						   : none);
	if (rc != BC_OK)
		return BC_ERR_AUTH;
	rx->plain_len += (uint32_t)(ctlen - BC_NOISE_TAGLEN);
	return BC_OK;
}

static int check_header(const bc_rx *rx)
{
	uint32_t flen;
	if (rx->plain_len - rx->plain_off < 4)
		return BC_OK;
	flen = bc_load32(rx->plain + rx->plain_off);
	if ((uint64_t)flen + 4 > rx->max_frame)
		return BC_ERR_TOOBIG;
	return BC_OK;
}

int bc_rx_feed(bc_rx *rx, bc_noise_cs *cs, const uint8_t *data, size_t len)
{
	int rc;
	/* Complete a partial record first. */
	while (rx->raw_len > 0 && len > 0) {
		size_t want, take;
		if (rx->raw_len < 2)
			want = 2;
		else
			want = 2 + (size_t)bc_load16(rx->raw);
		take = want - rx->raw_len;
		if (take > len)
			take = len;
		if (rx->raw_cap < want) {
			uint8_t *nb = bc_malloc(BC_RECORD_MAX + 2);
			if (nb == NULL)
				return BC_ERR_NOMEM;
			memcpy(nb, rx->raw, rx->raw_len);
			bc_free_secret(rx->raw, rx->raw_cap);
			rx->raw = nb;
			rx->raw_cap = BC_RECORD_MAX + 2;
		}
		memcpy(rx->raw + rx->raw_len, data, take);
		rx->raw_len += (uint32_t)take;
		data += take;
		len -= take;
		if (rx->raw_len >= 2 && rx->raw_len == 2u + bc_load16(rx->raw)) {
			rc = open_record(rx, cs, rx->raw + 2, rx->raw_len - 2);
			sodium_memzero(rx->raw, rx->raw_len);
			rx->raw_len = 0;
			if (rc != BC_OK)
				return rc;
			if ((rc = check_header(rx)) != BC_OK)
				return rc;
		}
	}
	/* Whole records straight from the input. */
	while (len >= 2 && len >= 2 + (size_t)bc_load16(data)) {
		size_t rl = bc_load16(data);
		if ((rc = open_record(rx, cs, data + 2, rl)) != BC_OK)
			return rc;
		if ((rc = check_header(rx)) != BC_OK)
			return rc;
		data += 2 + rl;
		len -= 2 + rl;
	}
	/* Keep the tail. */
	if (len > 0) {
		if (rx->raw_cap < BC_RECORD_MAX + 2) {
			uint8_t *nb = bc_malloc(BC_RECORD_MAX + 2);
			if (nb == NULL)
				return BC_ERR_NOMEM;
			bc_free_secret(rx->raw, rx->raw_cap);
			rx->raw = nb;
			rx->raw_cap = BC_RECORD_MAX + 2;
		}
		memcpy(rx->raw, data, len);
		rx->raw_len = (uint32_t)len;
	}
	return BC_OK;
}

int bc_rx_next(bc_rx *rx, const uint8_t **frame, size_t *len)
{
	uint32_t flen;
	size_t live = rx->plain_len - rx->plain_off;
	*frame = NULL;
	*len = 0;
	if (live < 4)
		return 0;
	flen = bc_load32(rx->plain + rx->plain_off);
	if ((uint64_t)flen + 4 > rx->max_frame)
		return BC_ERR_TOOBIG;
	if (flen < 5) /* type + request id */
		return BC_ERR_MALFORMED;
	if (live < (size_t)flen + 4)
		return 0;
	*frame = rx->plain + rx->plain_off;
	*len = (size_t)flen + 4;
	rx->plain_off += flen + 4;
	return 1;
}

int bc_tx_seal(bc_noise_cs *cs, const uint8_t *plain, size_t len, bc_wr *out)
{
	while (len > 0) {
		size_t n = len > BC_RECORD_MAX_PLAIN ? BC_RECORD_MAX_PLAIN : len;
		uint8_t *p = bc_wr_reserve(out, 2 + n + BC_NOISE_TAGLEN);
		int rc;
		if (p == NULL)
			return out->err;
		bc_store16(p, (uint16_t)(n + BC_NOISE_TAGLEN));
		rc = bc_noise_cs_encrypt(cs, NULL, 0, plain, n, p + 2);
		if (rc != BC_OK)
			return rc;
		plain += n;
		len -= n;
	}
	return BC_OK;
}
