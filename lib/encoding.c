/*
 * encoding.c - hex and b32c text encodings (see encoding.h and the exact
 * b32c specification in docs/PROTOCOL.md §9).
 *
 * Hex is a thin, strict layer over libsodium's constant-time
 * sodium_bin2hex / sodium_hex2bin.
 *
 * b32c. Invariants and choices:
 *   - The payload is data || check, check = BLAKE2b-256(checksum input)
 *     truncated to 5 bytes; the payload is never held in one buffer by the
 *     encoder (bytes are streamed from data, then from check).
 *   - Character <-> value conversion is arithmetic on the character code
 *     (no table lookup, no value-dependent branch), in the style of
 *     libsodium's hex code and wireguard-tools' encoding.c, because the
 *     data of an invite is secret. Branches depend only on public facts:
 *     positions, lengths, whether a character is a separator, and whether
 *     the input is valid at all (an invalid input is rejected outright).
 *   - The decoder makes one allocation-free pass to validate characters
 *     and count them against maxlen, then a second pass to unpack bits.
 *   - Everything that held payload bits is wiped before it is released.
 */
#include <sodium.h>

#include "encoding.h"
#include "internal.h"

/* ---- hex ---------------------------------------------------------------- */

int bc_hex_encode(const uint8_t *in, size_t len, char *out, size_t outcap)
{
	if (out == NULL || (in == NULL && len != 0))
		return BC_ERR_INVALID;
	if (len > (SIZE_MAX - 1) / 2 || outcap < 2 * len + 1)
		return BC_ERR_TOOBIG;
	/* Cannot fail: the size check above is exactly libsodium's. */
	(void)sodium_bin2hex(out, outcap, in, len);
	return BC_OK;
}

int bc_hex_decode(const char *hex, uint8_t *out, size_t outcap,
		  size_t *outlen)
{
	const char *end = NULL;
	size_t n, binlen = 0;

	if (outlen == NULL)
		return BC_ERR_INVALID;
	*outlen = 0;
	if (hex == NULL || (out == NULL && outcap != 0))
		return BC_ERR_INVALID;
	n = strlen(hex);
	if (n % 2 != 0)
		return BC_ERR_MALFORMED;
	if (n / 2 > outcap)
		return BC_ERR_TOOBIG;
	if (n == 0)
		return BC_OK;
	/* ignore = NULL: no separator is skipped. With hex_end given,
	 * libsodium stops at the first non-hex character and reports
	 * where; anything short of the full string is malformed. */
	if (sodium_hex2bin(out, outcap, hex, n, NULL, &binlen, &end) != 0 ||
	    end != hex + n || binlen != n / 2) {
		sodium_memzero(out, n / 2);
		return BC_ERR_MALFORMED;
	}
	*outlen = binlen;
	return BC_OK;
}

/* ---- b32c: constant-time character mapping ------------------------------ */

/* -1 (all ones) if lo <= c <= hi, else 0; c, lo, hi in 0..255. Both
 * differences are negative exactly when c is in range; the right shift
 * of a negative int is arithmetic on every compiler we support (gcc,
 * clang), as libsodium's and wireguard-tools' versions also assume. */
static int ct_in(int c, int lo, int hi)
{
	return ((lo - 1 - c) & (c - hi - 1)) >> 8;
}

/* -1 if c == x, else 0; c, x in 0..255. */
static int ct_eq(int c, int x)
{
	return ct_in(c, x, x);
}

/* The 5-bit value of a data character, or -1 if it is not one. Accepts
 * either case and the aliases o -> 0, i / l -> 1. */
static int b32c_val(unsigned char uc)
{
	int c = uc;
	int v = -1;

	c ^= ct_in(c, 'A', 'Z') & 0x20; /* fold to lower case */
	v += ct_in(c, '0', '9') & (c - '0' + 1);
	v += ct_in(c, 'a', 'h') & (c - 'a' + 10 + 1);
	v += ct_in(c, 'j', 'k') & (c - 'j' + 18 + 1);
	v += ct_in(c, 'm', 'n') & (c - 'm' + 20 + 1);
	v += ct_in(c, 'p', 't') & (c - 'p' + 22 + 1);
	v += ct_in(c, 'v', 'z') & (c - 'v' + 27 + 1);
	v += ct_eq(c, 'o') & (0 + 1);
	v += ct_eq(c, 'i') & (1 + 1);
	v += ct_eq(c, 'l') & (1 + 1);
	return v;
}

/* 1 if v > k, else 0; v, k in 0..255. */
static int ct_gt(int v, int k)
{
	return ((k - v) >> 8) & 1;
}

/* The lower-case character for a 5-bit value v: '0' + v, moved up past
 * the gap between '9' and 'a' and past each of the skipped letters
 * i, l, o and u. */
static char b32c_chr(unsigned v)
{
	int x = (int)(v & 31);
	int c = '0' + x;

	c += ct_gt(x, 9) * ('a' - '0' - 10);
	c += ct_gt(x, 17); /* skip i */
	c += ct_gt(x, 19); /* skip l */
	c += ct_gt(x, 21); /* skip o */
	c += ct_gt(x, 26); /* skip u */
	return (char)c;
}

/* Characters the decoder skips wherever they appear. */
static int b32c_ignorable(unsigned char c)
{
	return c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- b32c: lengths, prefix, checksum ------------------------------------ */

/* Base32 characters for nbytes bytes: ceil(8 * nbytes / 5). */
static size_t b32c_chars(size_t nbytes)
{
	return (8 * nbytes + 4) / 5;
}

/* The length of a valid prefix argument (1..16 of a-z), or 0. */
static size_t prefix_len(const char *prefix)
{
	size_t n = 0;

	if (prefix == NULL)
		return 0;
	while (prefix[n] != '\0') {
		if (prefix[n] < 'a' || prefix[n] > 'z' || n == BC_B32C_PREFIX_MAX)
			return 0;
		n++;
	}
	return n;
}

/* Read the prefix part of s (ignorable characters skipped, letters folded
 * to lower case) into got and point *rest just past the ':'. */
static int scan_prefix(const char *s, char got[BC_B32C_PREFIX_MAX + 1],
		       const char **rest)
{
	size_t n = 0;
	int c;

	got[0] = '\0';
	for (;; s++) {
		c = (unsigned char)*s;
		if (c == '\0')
			return BC_ERR_MALFORMED;
		if (b32c_ignorable((unsigned char)c))
			continue;
		if (c == ':')
			break;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c < 'a' || c > 'z' || n == BC_B32C_PREFIX_MAX)
			return BC_ERR_MALFORMED;
		got[n++] = (char)c;
	}
	if (n == 0)
		return BC_ERR_MALFORMED;
	got[n] = '\0';
	*rest = s + 1;
	return BC_OK;
}

/*
 * check = first 5 bytes of BLAKE2b-256(
 *     "backchannel b32c v1" || 0x00 || u8(plen) || prefix || ':' ||
 *     u32be(len) || data)
 * The label has a fixed length and every variable part is preceded by its
 * length, so distinct (prefix, data) pairs never give the same input.
 */
static int b32c_check(const char *prefix, size_t plen, const uint8_t *data,
		      size_t len, uint8_t check[BC_B32C_CHECK_LEN])
{
	crypto_generichash_state st;
	uint8_t hdr[sizeof(BC_B32C_LABEL) + 1 + BC_B32C_PREFIX_MAX + 1 + 4];
	uint8_t h[crypto_generichash_BYTES];
	size_t n = sizeof(BC_B32C_LABEL) - 1;
	int err = BC_ERR_CRYPTO;

	/* Callers guarantee plen <= 16 and len <= BC_B32C_DATA_MAX. */
	memcpy(hdr, BC_B32C_LABEL, n);
	hdr[n++] = 0x00;
	hdr[n++] = (uint8_t)plen;
	memcpy(hdr + n, prefix, plen);
	n += plen;
	hdr[n++] = ':';
	bc_store32(hdr + n, (uint32_t)len);
	n += 4;

	if (crypto_generichash_init(&st, NULL, 0, sizeof(h)) != 0)
		goto out;
	if (crypto_generichash_update(&st, hdr, n) != 0)
		goto out;
	if (len != 0 && crypto_generichash_update(&st, data, len) != 0)
		goto out;
	if (crypto_generichash_final(&st, h, sizeof(h)) != 0)
		goto out;
	memcpy(check, h, BC_B32C_CHECK_LEN);
	err = BC_OK;
out:
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(h, sizeof(h));
	return err;
}

/* ---- b32c: encode / decode ---------------------------------------------- */

int bc_b32c_encode(const char *prefix, const uint8_t *data, size_t len,
		   char **out)
{
	uint8_t check[BC_B32C_CHECK_LEN];
	size_t plen, nbytes, nchars, outlen, o, k = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	char *s;
	int err;

	if (out == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	plen = prefix_len(prefix);
	if (plen == 0 || (data == NULL && len != 0))
		return BC_ERR_INVALID;
	if (len > BC_B32C_DATA_MAX)
		return BC_ERR_TOOBIG;
	err = b32c_check(prefix, plen, data, len, check);
	if (err != BC_OK)
		return err;

	nbytes = len + BC_B32C_CHECK_LEN;
	nchars = b32c_chars(nbytes); /* >= 8 */
	outlen = plen + 1 + nchars + (nchars - 1) / 5;
	s = bc_malloc(outlen + 1);
	if (s == NULL) {
		err = BC_ERR_NOMEM;
		goto out;
	}
	memcpy(s, prefix, plen);
	s[plen] = ':';
	o = plen + 1;

	for (size_t i = 0; i <= nbytes; i++) {
		if (i < nbytes) {
			uint8_t b = i < len ? data[i] : check[i - len];
			acc = (acc << 8 | b) & 0xfffu;
			bits += 8;
		} else if (bits > 0) { /* final partial group, zero-padded */
			acc = (acc << (5 - bits)) & 0xfffu;
			bits = 5;
		}
		while (bits >= 5) {
			bits -= 5;
			if (k > 0 && k % 5 == 0)
				s[o++] = '-';
			s[o++] = b32c_chr((unsigned)(acc >> bits));
			k++;
		}
	}
	s[o] = '\0';
	if (o != outlen || k != nchars) { /* cannot happen */
		bc_free_secret(s, outlen + 1);
		err = BC_ERR_INTERNAL;
		goto out;
	}
	*out = s;
	err = BC_OK;
out:
	sodium_memzero(check, sizeof(check));
	sodium_memzero(&acc, sizeof(acc));
	return err;
}

int bc_b32c_decode(const char *prefix, const char *s, size_t maxlen,
		   uint8_t **data, size_t *len)
{
	char got[BC_B32C_PREFIX_MAX + 1];
	uint8_t check[BC_B32C_CHECK_LEN];
	const char *rest = NULL;
	size_t plen, maxchars, n = 0, nbytes = 0, dlen, o = 0;
	uint8_t *buf = NULL;
	uint32_t acc = 0;
	unsigned bits = 0;
	int err;

	if (data == NULL || len == NULL)
		return BC_ERR_INVALID;
	*data = NULL;
	*len = 0;
	plen = prefix_len(prefix);
	if (s == NULL || plen == 0)
		return BC_ERR_INVALID;

	err = scan_prefix(s, got, &rest);
	if (err != BC_OK)
		return err;
	if (strcmp(got, prefix) != 0)
		return BC_ERR_INVALID;

	/* Pass 1: validate and count the data characters, no allocation. */
	if (maxlen > BC_B32C_DATA_MAX)
		maxlen = BC_B32C_DATA_MAX;
	maxchars = b32c_chars(maxlen + BC_B32C_CHECK_LEN);
	for (const char *p = rest; *p != '\0'; p++) {
		if (b32c_ignorable((unsigned char)*p))
			continue;
		if (b32c_val((unsigned char)*p) < 0)
			return BC_ERR_MALFORMED;
		if (++n > maxchars)
			return BC_ERR_TOOBIG;
	}
	nbytes = 5 * n / 8;
	if (nbytes < BC_B32C_CHECK_LEN || b32c_chars(nbytes) != n)
		return BC_ERR_MALFORMED;
	dlen = nbytes - BC_B32C_CHECK_LEN;
	if (dlen > maxlen) /* excluded by maxchars; kept as a guard */
		return BC_ERR_TOOBIG;

	buf = bc_malloc(nbytes);
	if (buf == NULL)
		return BC_ERR_NOMEM;

	/* Pass 2: unpack. Every character is now known to be valid. */
	for (const char *p = rest; *p != '\0'; p++) {
		if (b32c_ignorable((unsigned char)*p))
			continue;
		acc = (acc << 5 | (uint32_t)b32c_val((unsigned char)*p)) &
		      0x1fffu;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Exactly bits (< 5) padding bits are left; they must be zero. */
	if (o != nbytes || bits >= 5) {
		err = BC_ERR_INTERNAL;
		goto out;
	}
	if ((acc & ((1u << bits) - 1)) != 0) {
		err = BC_ERR_MALFORMED;
		goto out;
	}

	err = b32c_check(prefix, plen, buf, dlen, check);
	if (err != BC_OK)
		goto out;
	if (sodium_memcmp(check, buf + dlen, BC_B32C_CHECK_LEN) != 0) {
		err = BC_ERR_CHECKSUM;
		goto out;
	}
	sodium_memzero(buf + dlen, BC_B32C_CHECK_LEN);
	*data = buf;
	*len = dlen;
	buf = NULL;
	err = BC_OK;
out:
	bc_free_secret(buf, nbytes);
	sodium_memzero(check, sizeof(check));
	sodium_memzero(&acc, sizeof(acc));
	return err;
}

int bc_b32c_prefix(const char *s, char out[BC_B32C_PREFIX_MAX + 1])
{
	const char *rest;
	int err;

	if (out == NULL)
		return BC_ERR_INVALID;
	out[0] = '\0';
	if (s == NULL)
		return BC_ERR_INVALID;
	err = scan_prefix(s, out, &rest);
	if (err != BC_OK)
		out[0] = '\0';
	return err;
}
